"""Benchmark: one iamd process against two on one PostgreSQL database (docs/deployment.md), GetUser
requests per second with the same number of client threads, split evenly between the nodes.

Run by hand:  .venv/bin/python bench/nodes.py [--seconds 5] [--threads 4]
              [--postgres postgresql://postgres@127.0.0.1:5432/postgres]

The second node gets the first's key-encryption key and trail signing key, as a deployment shares
them. Requests are signed once per thread and sent again and again over keep-alive connections.
"""

from __future__ import annotations

import argparse
import configparser
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.parse
import uuid
from pathlib import Path

import boto3
import psycopg
from loopback import figures, free_port, hammer, signed, wait_ready

from iamd.trail.writer import SPOOL_FILE_NAME


def start(data: Path, url: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
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
            *("--database-url", url),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_ready(f"http://127.0.0.1:{port}/iamd/ready", process)
    return process, port


def load(
    ports: list[int], body: str, key: str, secret: str, seconds: float, threads: int
) -> tuple[float, list[float]]:
    """``threads`` client threads split between ``ports``, all at once: (total rate, latencies)."""
    share = [threads // len(ports) + (1 if i < threads % len(ports) else 0) for i in range(len(ports))]
    results: list[tuple[float, list[float]]] = []

    def one(port: int, count: int) -> None:
        request = signed(f"http://127.0.0.1:{port}", "iam", body, key, secret)
        results.append(hammer(port, request, seconds, count))

    workers = [threading.Thread(target=one, args=(p, n)) for p, n in zip(ports, share, strict=True) if n]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(rate for rate, _ in results), sorted(x for _, lat in results for x in lat)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    name = f"iamd_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(args.postgres, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = args.postgres.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    root = Path(tempfile.mkdtemp(prefix="iamd-bench-nodes-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        first, port_a = start(root / "a", url)
        processes.append(first)
        (root / "b").mkdir(mode=0o700)
        for shared in (root / "a").iterdir():
            if shared.is_file() and shared.name != SPOOL_FILE_NAME:
                shutil.copy2(shared, root / "b" / shared.name)
        second, port_b = start(root / "b", url)
        processes.append(second)
        creds = configparser.ConfigParser()
        creds.read(root / "a" / "credentials")
        key, secret = creds["iamd"]["aws_access_key_id"], creds["iamd"]["aws_secret_access_key"]
        iam = boto3.client(
            "iam",
            endpoint_url=f"http://127.0.0.1:{port_a}",
            region_name="us-east-1",
            aws_access_key_id=key,
            aws_secret_access_key=secret,
        )
        iam.create_user(UserName="bench")
        body = urllib.parse.urlencode({"Action": "GetUser", "Version": "2010-05-08", "UserName": "bench"})
        load([port_a, port_b], body, key, secret, 1.0, args.threads)  # warm-up
        one_rate, one_lat = load([port_a], body, key, secret, args.seconds, args.threads)
        two_rate, two_lat = load([port_a, port_b], body, key, secret, args.seconds, args.threads)
        print(f"GetUser on PostgreSQL, {args.threads} client threads, {args.seconds:g} s each")
        print(f"  1 process : {one_rate:8.1f}/s   {figures(one_lat)}")
        print(f"  2 processes: {two_rate:8.1f}/s   {figures(two_lat)}")
        print(f"  scaling 2/1: {two_rate / one_rate:.2f}x")
    finally:
        for process in processes:
            process.terminate()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)
        with psycopg.connect(args.postgres, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
