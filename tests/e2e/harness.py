"""End-to-end harness: a real ``iamd serve`` on loopback, one per test module, driven by boto3
and the AWS CLI. Each module gets its own data directory (a real SQLite file) and port."""

from __future__ import annotations

import configparser
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from iamd.secrets import RandomIds
from iamd.secrets.kek import load_kek
from iamd.store import Store
from iamd.store.engine import default_url
from iamd.store.schema import AWS_ACCOUNT
from iamd.store.store import open_store

ACCOUNT_ID = "111111111111"
REGION = "us-east-1"
CLIENT_CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    endpoint: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    access_key_id: str
    secret_access_key: str
    log: Path

    def client(
        self,
        service: str = "iam",
        key_id: str | None = None,
        secret: str | None = None,
        token: str | None = None,
    ) -> Any:
        """A boto3 client signed with the given key (default: the bootstrap administrator)."""
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=key_id or self.access_key_id,
            aws_secret_access_key=secret or self.secret_access_key,
            aws_session_token=token,
            config=CLIENT_CONFIG,
        )

    def cli(
        self, *args: str, key_id: str | None = None, secret: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the AWS CLI (from this venv) against the server; output as JSON."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ACCESS_KEY_ID=key_id or self.access_key_id,
            AWS_SECRET_ACCESS_KEY=secret or self.secret_access_key,
            AWS_DEFAULT_REGION=REGION,
            AWS_EC2_METADATA_DISABLED="true",
        )
        aws = Path(sys.executable).parent / "aws"
        return subprocess.run(
            [str(aws), "--endpoint-url", self.endpoint, "--output", "json", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )


def start_server(data_dir: Path, *extra: str, port: int | None = None) -> Server:
    port = port or free_port()
    log = data_dir.parent / f"{data_dir.name}.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "iamd.cli.main",
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
            "--account-id",
            ACCOUNT_ID,
            *extra,
        ],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"iamd serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{endpoint}/iamd/health", timeout=1) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"iamd serve did not become ready:\n{log.read_text()}")
        time.sleep(0.1)
    credentials = configparser.ConfigParser()
    credentials.read(data_dir / "credentials")
    return Server(
        endpoint,
        data_dir,
        process,
        credentials["iamd"]["aws_access_key_id"],
        credentials["iamd"]["aws_secret_access_key"],
        log,
    )


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def new_user_client(server: Server, iam: Any, name: str, policy: str | None = None) -> Any:
    """Create a user (optionally with an inline policy) and return an IAM client signed as it."""
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=policy)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])


def open_data_store(server: Server) -> Store:
    """The server's own database (SQLite in the data directory), for what the API cannot do:
    creating another account, reading a signing key."""
    return open_store(default_url(server.data_dir), kek=load_kek(server.data_dir), migrate=False)


def add_account(server: Server, account_id: str, name: str, admin: str = "b-admin") -> tuple[str, str]:
    """A second account in the server's database, with an IAM user ``admin`` holding
    AdministratorAccess: that user's (access key id, secret access key)."""
    ids = RandomIds()
    now = datetime.now(UTC)
    key_id, secret = ids.access_key_id(), ids.secret_access_key()
    store = open_data_store(server)
    try:
        with store.transaction() as uow:
            uow.accounts.create(account_id, name=name, created_at=now)
            user = uow.users.create(account_id, user_id=ids.user_id(), name=admin, path="/", created_at=now)
            admin_policy = uow.policies.get(AWS_ACCOUNT, "AdministratorAccess")
            uow.policies.attach(admin_policy.id, "user", user.id, account_id=account_id)
            uow.access_keys.create(
                account_id, key_id=key_id, user_id=user.id, secret_access_key=secret, created_at=now
            )
    finally:
        store.close()
    return key_id, secret
