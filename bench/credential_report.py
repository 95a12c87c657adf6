"""Benchmark: the credential report of an account with 100,000 IAM users.

Run by hand:  .venv/bin/python bench/credential_report.py [--users 100000]

The users are created directly through the store (the API's quota is 5,000 users): a third with a
console password, half with an access key (some used, some inactive), a tenth with two keys. Then
the report is timed twice: built in-process from the store (the set-based reads and the CSV), and
end to end through a real ``iamd serve`` (GenerateCredentialReport, then GetCredentialReport and
parsing the CSV with Python's csv module, as Prowler does).
"""

from __future__ import annotations

import argparse
import csv
import io
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from loopback import free_port

from iamd.secrets.ids import RandomIds
from iamd.secrets.kek import load_kek
from iamd.server.bootstrap import bootstrap, write_profile
from iamd.services.iam.credential_report import build_report
from iamd.store.engine import default_url
from iamd.store.store import open_store
from iamd.store.unit import UnitOfWork

ACCOUNT = "123456789012"
CHUNK = 5000


def populate(data: Path, users: int) -> None:
    kek = load_kek(data)
    store = open_store(default_url(data), kek=kek)
    ids = RandomIds()
    now = datetime.now(UTC)
    bootstrap(store, ids, now, ACCOUNT)
    write_profile(data, ACCOUNT, "http://127.0.0.1")  # the administrator's key, for the API part
    started = time.perf_counter()
    for first in range(0, users, CHUNK):

        def work(uow: UnitOfWork, first: int = first) -> None:
            for n in range(first, min(first + CHUNK, users)):
                created = now - timedelta(days=n % 700)
                user = uow.users.create(
                    ACCOUNT, user_id=ids.user_id(), name=f"user-{n:06d}", path="/", created_at=created
                )
                if n % 3 == 0:
                    uow.login_profiles.create(
                        user.id, password_hash="$argon2id$bench", reset_required=False, created_at=created
                    )
                keys = 2 if n % 10 == 0 else 1 if n % 2 == 0 else 0
                for k in range(keys):
                    key_id = ids.access_key_id()
                    uow.access_keys.create(
                        ACCOUNT,
                        key_id=key_id,
                        user_id=user.id,
                        secret_access_key=ids.secret_access_key(),
                        created_at=created,
                        status="Inactive" if k == 1 else "Active",
                    )
                    if n % 4 == 0 and k == 0:
                        uow.access_keys.record_use(key_id, now - timedelta(hours=n % 48), "iam", "us-east-1")

        store.run(work)
        done = min(first + CHUNK, users)
        print(f"\r  {done:,} users ({time.perf_counter() - started:.0f} s)", end="", flush=True)
    print()
    store.close()


def build_in_process(data: Path) -> tuple[float, bytes]:
    store = open_store(default_url(data))
    try:
        started = time.perf_counter()
        content = store.run(
            lambda uow: build_report(uow.audit.credential_data(ACCOUNT), ACCOUNT), readonly=True
        )
        return time.perf_counter() - started, content
    finally:
        store.close()


def through_the_server(data: Path) -> tuple[float, float, int]:
    # An expired report, if a previous run left one: GenerateCredentialReport must build anew.
    store = open_store(default_url(data))
    stale = datetime.now(UTC) - timedelta(hours=5)
    store.run(lambda uow: uow.accounts.put_credential_report(ACCOUNT, stale, b""))
    store.close()
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "iamd.cli.main", "serve", "--data-dir", str(data), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(endpoint + "/iamd/health", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("iamd serve did not start") from None
                time.sleep(0.1)
        import configparser

        creds = configparser.ConfigParser()
        creds.read(data / "credentials")
        iam: Any = boto3.client(
            "iam",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=creds["iamd"]["aws_access_key_id"],
            aws_secret_access_key=creds["iamd"]["aws_secret_access_key"],
            config=boto3.session.Config(read_timeout=300),
        )
        started = time.perf_counter()
        state = iam.generate_credential_report()["State"]
        generated = time.perf_counter() - started
        assert state == "STARTED", state
        started = time.perf_counter()
        content = iam.get_credential_report()["Content"]
        rows = list(csv.DictReader(io.StringIO(content.decode("utf-8"))))
        fetched = time.perf_counter() - started
        return generated, fetched, len(rows)
    finally:
        process.terminate()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--keep", metavar="DIR", help="use (and keep) this data directory")
    args = parser.parse_args()
    data = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="iamd-bench-report-")) / "d"
    try:
        if not (data / "iamd.db").exists():
            print(f"creating {args.users:,} users through the store in {data} …")
            populate(data, args.users)
        seconds, content = build_in_process(data)
        lines = content.count(b"\n")
        print(
            f"in-process build: {seconds:.2f} s for {lines - 1:,} rows ({len(content) / 1e6:.1f} MB of CSV)"
        )
        generated, fetched, rows = through_the_server(data)
        print(
            f"through iamd serve: GenerateCredentialReport {generated:.2f} s; "
            f"GetCredentialReport + csv parse {fetched:.2f} s ({rows:,} rows)"
        )
    finally:
        if not args.keep:
            shutil.rmtree(data.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
