"""Benchmark: what the audit trail costs a request, GetUser (a read) and TagUser (a write) through
the real server, in three configurations:

- trail off (``iamd serve --no-trail``);
- trail on (the default): a read's event goes to the writer's queue and is stored in batches, a
  write's event is one more INSERT in the write's own transaction;
- trail sync (``--trail-sync``): every event is stored in a small transaction of its own before
  the answer (for a write: after the write's transaction committed).

Run by hand:  .venv/bin/python bench/trail.py [--seconds 10] [--threads 1]

Each configuration is a fresh ``iamd serve`` on a fresh SQLite data directory. Requests are signed
once and sent again and again over keep-alive connections (the server's figure, not botocore's).
"""

from __future__ import annotations

import argparse
import configparser
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import boto3
from loopback import figures, free_port, hammer, signed, wait_ready

ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
CONFIGURATIONS = {"trail off": ["--no-trail"], "trail on": [], "trail sync": ["--trail-sync"]}


class Running:
    """One ``iamd serve`` with a user whose signed GetUser and TagUser requests are ready."""

    def __init__(self, flags: list[str]) -> None:
        self.data = Path(tempfile.mkdtemp(prefix="iamd-bench-trail-"))
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "iamd.cli.main",
                "serve",
                "--data-dir",
                str(self.data / "d"),
                "--port",
                str(self.port),
                *flags,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        endpoint = f"http://127.0.0.1:{self.port}"
        wait_ready(endpoint + "/iamd/health", self.process)
        creds = configparser.ConfigParser()
        creds.read(self.data / "d" / "credentials")
        admin: Any = boto3.client(
            "iam",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=creds["iamd"]["aws_access_key_id"],
            aws_secret_access_key=creds["iamd"]["aws_secret_access_key"],
        )
        admin.create_user(UserName="bench")
        admin.attach_user_policy(UserName="bench", PolicyArn=ADMIN_POLICY)
        key = admin.create_access_key(UserName="bench")["AccessKey"]
        self.requests = {
            name: signed(endpoint, "iam", body, key["AccessKeyId"], key["SecretAccessKey"])
            for name, body in (
                ("GetUser", "Action=GetUser&Version=2010-05-08&UserName=bench"),
                (
                    "TagUser",
                    "Action=TagUser&Version=2010-05-08&UserName=bench"
                    "&Tags.member.1.Key=k&Tags.member.1.Value=v",
                ),
            )
        }

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()
        shutil.rmtree(self.data, ignore_errors=True)


def summary(latencies: list[float], seconds: float) -> str:
    latencies = sorted(latencies)
    return f"{figures(latencies)}  {len(latencies) / seconds:7.1f}/s"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="per figure, over all rounds")
    parser.add_argument("--rounds", type=int, default=5, help="the configurations take turns this often")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    servers = {name: Running(flags) for name, flags in CONFIGURATIONS.items()}
    results: dict[str, dict[str, list[float]]] = {name: {"GetUser": [], "TagUser": []} for name in servers}
    try:
        for server in servers.values():
            for request in server.requests.values():
                hammer(server.port, request, 1.0, args.threads)  # warm-up
        # Interleaved, so a busy moment on the machine weighs on every configuration alike.
        share = args.seconds / args.rounds
        for round_number in range(args.rounds):
            order = list(servers.items())
            order = order[round_number % len(order) :] + order[: round_number % len(order)]
            for operation in ("GetUser", "TagUser"):
                for name, server in order:
                    _rate, latencies = hammer(server.port, server.requests[operation], share, args.threads)
                    results[name][operation] += latencies
    finally:
        for server in servers.values():
            server.stop()
    print(
        f"{args.threads} client thread(s), {args.seconds:.0f} s per figure in {args.rounds} interleaved "
        "rounds, SQLite, one server process each"
    )
    for operation in ("GetUser", "TagUser"):
        for name, result in results.items():
            print(f"{operation:8} {name:11} {summary(result[operation], args.seconds)}")
    for operation in ("GetUser", "TagUser"):
        off = statistics.median(results["trail off"][operation])
        for name in ("trail on", "trail sync"):
            value = statistics.median(results[name][operation])
            added = f"{(value - off) * 1000:+.3f} ms"
            print(f"{operation} {name}: {added} on the median ({(value / off - 1) * 100:+.1f}%)")


if __name__ == "__main__":
    main()
