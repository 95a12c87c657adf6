"""Benchmark: how long ``iamd serve --test-mode``'s ``POST /iamd/reset`` takes, as a test suite sees
it (the HTTP round trip) and as the server measures it (flush the trail, restore in one
transaction, drop the caches), after each test-sized batch of writes.

Run by hand:  .venv/bin/python bench/reset.py [--rounds 50] [--writes 20] [--database-url URL]

One fresh ``iamd serve --test-mode`` on a fresh data directory (SQLite unless --database-url).
Each round makes ``--writes`` objects (users with a tag and an inline policy, a role, a managed
policy), then resets; the figures are per reset.
"""

from __future__ import annotations

import argparse
import configparser
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
from loopback import free_port, wait_ready

POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]}
)
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def reset(endpoint: str) -> tuple[float, float]:
    """(round trip, the server's own figure), in seconds."""
    started = time.perf_counter()
    with urllib.request.urlopen(
        urllib.request.Request(f"{endpoint}/iamd/reset", data=b"", method="POST")
    ) as answer:
        body = json.loads(answer.read())
    return time.perf_counter() - started, float(body["ms"]) / 1000


def writes(iam: Any, round_no: int, count: int) -> None:
    for i in range(count):
        kind = i % 3
        if kind == 0:
            iam.create_user(UserName=f"u{round_no}-{i}", Tags=[{"Key": "k", "Value": "v"}])
            iam.put_user_policy(UserName=f"u{round_no}-{i}", PolicyName="p", PolicyDocument=POLICY)
        elif kind == 1:
            iam.create_role(RoleName=f"r{round_no}-{i}", AssumeRolePolicyDocument=TRUST)
        else:
            iam.create_policy(PolicyName=f"p{round_no}-{i}", PolicyDocument=POLICY)


def line(name: str, values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return f"{name:<22} median {statistics.median(ms):6.1f} ms   p95 {p95:6.1f} ms   max {ms[-1]:6.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--writes", type=int, default=20, help="objects made before each reset")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="iamd-bench-reset-"))
    port = free_port()
    extra = ["--database-url", args.database_url] if args.database_url else []
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "iamd.cli.main",
            "serve",
            "--data-dir",
            str(data),
            "--port",
            str(port),
            "--test-mode",
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_ready(endpoint + "/iamd/health", process)
        creds = configparser.ConfigParser()
        creds.read(data / "credentials")
        iam: Any = boto3.client(
            "iam",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=creds["iamd"]["aws_access_key_id"],
            aws_secret_access_key=creds["iamd"]["aws_secret_access_key"],
        )
        trips, server = [], []
        for round_no in range(args.rounds):
            writes(iam, round_no, args.writes)
            trip, own = reset(endpoint)
            trips.append(trip)
            server.append(own)
        assert [u["UserName"] for u in iam.list_users()["Users"]] == ["iamd-admin"]
        backend = "PostgreSQL" if args.database_url else "SQLite"
        print(f"iamd serve --test-mode on {backend}: {args.rounds} resets, each after {args.writes} writes")
        print(line("POST /iamd/reset", trips))
        print(line("  of which the server", server))
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
