"""Benchmark: STS sessions.

1. In process: what verifying a session token costs per request — opening the sealed token
   (AES-GCM, zlib, JSON), with and without the resolver's token cache, and building the session's
   ``Caller`` (one read of the account generations, the role's existence and tags from the cache).
2. Against a real ``iamd serve`` on loopback: AssumeRole calls per second, and requests per second
   signed with the resulting session credentials (GetCallerIdentity, which also verifies the token).

Run by hand:  .venv/bin/python bench/sts.py [--seconds 5] [--threads 4] [--no-trail]

Requests are signed with botocore once per thread and sent again and again over one keep-alive
connection per thread, so the figures are the server's, not the client's.
"""

from __future__ import annotations

import argparse
import configparser
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from loopback import SignedRequest, figures, free_port, hammer, signed, wait_ready

from iamd.secrets import Kek, SeededIds
from iamd.server.sessions import SessionResolver
from iamd.services.sts.tokens import ROLE, Session, seal_session, session_access_key_id, unseal_session
from iamd.store import open_store

ACCOUNT = "111122223333"
ROLE_ID = "AROAAAAAAAAAAAAAAAAAA"


def per_call(label: str, count: int, call: Any) -> None:
    call()
    started = time.perf_counter()
    for _ in range(count):
        call()
    elapsed = time.perf_counter() - started
    print(f"  {label:<58} {elapsed / count * 1e6:8.1f} µs")


def in_process(count: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="iamd-bench-sts-"))
    kek = Kek.generate()
    store = open_store(f"sqlite:///{folder / 'iamd.db'}", kek=kek)
    now = datetime.now(UTC)
    try:
        with store.transaction() as uow:
            uow.accounts.create(ACCOUNT, name="bench", created_at=now)
            uow.roles.create(
                ACCOUNT, role_id=ROLE_ID, name="bench", path="/", trust_policy="{}", created_at=now
            )
            uow.tags.put(ACCOUNT, "role", ROLE_ID, {"team": "bench"})
        ids = SeededIds(1)
        policy = json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        )
        session = Session(
            kind=ROLE,
            account_id=ACCOUNT,
            access_key_id=session_access_key_id(ids, ACCOUNT),
            secret_access_key=ids.secret_access_key(),
            issued_at=int(now.timestamp()),
            expires_at=int(now.timestamp()) + 3600,
            role_id=ROLE_ID,
            role_name="bench",
            role_path="/",
            session_name="bench-session",
            policy=policy,
            tags=(("project", "x"),),
            transitive_tag_keys=("project",),
            source_identity="someone",
        )
        token = seal_session(kek, session)
        print(f"in process ({count} calls each; token of {len(token)} characters):")
        per_call("seal a session token", count, lambda: seal_session(kek, session))
        per_call("unseal a session token (no cache)", count, lambda: unseal_session(kek, token))
        resolver = SessionResolver(kek)
        per_call(
            "open: token cache hit + key id, expiry checks",
            count,
            lambda: resolver.open(token, session.access_key_id, now),
        )

        def cold_open() -> None:
            SessionResolver(kek).open(token, session.access_key_id, now)

        per_call("open without the token cache (unseal + checks)", count, cold_open)
        with store.transaction(readonly=True) as uow:
            per_call(
                "build the Caller (generations read + cached role)",
                count,
                lambda: resolver.caller(uow, session, now),
            )
            per_call(
                "  of which: the generations read alone",
                count,
                lambda: uow.accounts.generations([ACCOUNT, "aws"]),
            )

            def whole() -> None:
                SessionResolver(kek).caller(
                    uow, SessionResolver(kek).open(token, session.access_key_id, now), now
                )

            per_call("cold: unseal + checks + Caller (role and tags read)", max(1, count // 10), whole)
    finally:
        store.close()
        shutil.rmtree(folder, ignore_errors=True)


# -- against a server ---------------------------------------------------------------------------------


def report(name: str, rate: float, latencies: list[float]) -> None:
    print(f"  {name:<36} {rate:8.1f}/s   {figures(latencies)}   ({len(latencies)} requests)")


def sts_call(
    endpoint: str, params: dict[str, str], key: str, secret: str, token: str | None = None
) -> SignedRequest:
    body = urllib.parse.urlencode({**params, "Version": "2011-06-15"})
    return signed(endpoint, "sts", body, key, secret, token)


def against_server(seconds: float, threads: int, flags: list[str]) -> None:
    data = Path(tempfile.mkdtemp(prefix="iamd-bench-sts-"))
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "iamd.cli.main",
        "serve",
        "--data-dir",
        str(data / "d"),
        "--port",
        str(port),
        *flags,
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        wait_ready(endpoint + "/iamd/health", process)
        creds = configparser.ConfigParser()
        creds.read(data / "d" / "credentials")
        key, secret = creds["iamd"]["aws_access_key_id"], creds["iamd"]["aws_secret_access_key"]
        iam = boto3.client(
            "iam",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=key,
            aws_secret_access_key=secret,
        )
        account = boto3.client(
            "sts",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=key,
            aws_secret_access_key=secret,
        ).get_caller_identity()["Account"]
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        role = iam.create_role(RoleName="bench", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
        iam.put_role_policy(
            RoleName="bench",
            PolicyName="inline",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "sts:*", "Resource": "*"}],
                }
            ),
        )
        assume = sts_call(
            endpoint,
            {"Action": "AssumeRole", "RoleArn": role["Arn"], "RoleSessionName": "bench"},
            key,
            secret,
        )
        hammer(port, assume, 1.0, threads)  # warm-up
        rate, latencies = hammer(port, assume, seconds, threads)
        setting = " ".join(flags) or "trail on"
        print(f"against iamd serve ({setting}, {threads} client threads, {seconds:.0f} s each):")
        report("AssumeRole", rate, latencies)

        answer = boto3.client(
            "sts",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=key,
            aws_secret_access_key=secret,
        ).assume_role(RoleArn=role["Arn"], RoleSessionName="bench")["Credentials"]
        with_session = sts_call(
            endpoint,
            {"Action": "GetCallerIdentity"},
            answer["AccessKeyId"],
            answer["SecretAccessKey"],
            answer["SessionToken"],
        )
        with_key = sts_call(endpoint, {"Action": "GetCallerIdentity"}, key, secret)
        hammer(port, with_session, 1.0, threads)
        report("GetCallerIdentity, session creds", *hammer(port, with_session, seconds, threads))
        hammer(port, with_key, 1.0, threads)
        report("GetCallerIdentity, long-term key", *hammer(port, with_key, seconds, threads))
    finally:
        process.terminate()
        process.wait()
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument(
        "--no-trail", action="store_true", help="run the server without its audit trail (for comparison)"
    )
    parser.add_argument("--calls", type=int, default=20000, help="in-process calls per measurement")
    args = parser.parse_args()
    in_process(args.calls)
    against_server(args.seconds, args.threads, ["--no-trail"] if args.no_trail else [])


if __name__ == "__main__":
    main()
