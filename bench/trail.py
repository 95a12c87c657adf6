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
import http.client
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
CONFIGURATIONS = {"trail off": ["--no-trail"], "trail on": [], "trail sync": ["--trail-sync"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early ({process.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} not ready")


def signed(endpoint: str, key: str, secret: str, body: str) -> tuple[dict[str, str], bytes]:
    raw = body.encode()
    request = AWSRequest(
        "POST",
        endpoint + "/",
        data=raw,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials(key, secret), "iam", "us-east-1").add_auth(request)
    return dict(request.headers.items()), raw


def hammer(port: int, request: tuple[dict[str, str], bytes], seconds: float, threads: int) -> list[float]:
    stop = time.monotonic() + seconds
    latencies: list[list[float]] = [[] for _ in range(threads)]
    failures: list[str] = []

    def worker(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.connect()
        assert conn.sock is not None
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        headers, body = request
        while time.monotonic() < stop:
            started = time.perf_counter()
            conn.request("POST", "/", body=body, headers=headers)
            answer = conn.getresponse()
            data = answer.read()
            if answer.status != 200:
                failures.append(data.decode(errors="replace")[:300])
                return
            latencies[n].append(time.perf_counter() - started)
        conn.close()

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if failures:
        raise RuntimeError(f"request failed: {failures[0]}")
    return [x for part in latencies for x in part]


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
            name: signed(endpoint, key["AccessKeyId"], key["SecretAccessKey"], body)
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
    median = statistics.median(latencies) * 1000
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000
    return f"median {median:6.2f} ms  p99 {p99:6.2f} ms  {len(latencies) / seconds:7.1f}/s"


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
                    results[name][operation] += hammer(
                        server.port, server.requests[operation], share, args.threads
                    )
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
