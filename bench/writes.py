"""Benchmark: API writes per second at 4 clients (CreateUser, TagUser, AttachUserPolicy,
PutRolePolicy, AssumeRole), iamd on SQLite or PostgreSQL, optionally against an earlier checkout
in the same run (the two take turns per operation).

Run by hand:  .venv/bin/python bench/writes.py [--seconds 5] [--threads 4] [--before DIR/src]
              [--postgres postgresql://postgres@127.0.0.1:5432/postgres [--pg-latency MS]]

Requests are signed before the clock starts: the idempotent writes (TagUser with the same tag,
AttachUserPolicy of an attached policy, PutRolePolicy of the same document, AssumeRole) are sent
again and again within the signature's clock-skew window, as AWS accepts them; CreateUser gets a
new user name per request, each signed in advance. A write that changes nothing may cost less
than one that does (iamd leaves the caches valid after it), so the three idempotent writes are
also measured as writes that each change something ("new"): TagUser with a new value each time,
AttachUserPolicy of a policy not yet attached (one of ten AWS managed policies to one of many
users made for it), PutRolePolicy of a new document each time; each signed in advance.
"""

from __future__ import annotations

import argparse
import configparser
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from contextlib import ExitStack
from pathlib import Path

import boto3
from loopback import SignedRequest, free_port, signed, wait_ready

OPERATIONS = (
    "CreateUser",
    "TagUser",
    "TagUser new",
    "AttachUserPolicy",
    "AttachUserPolicy new",
    "PutRolePolicy",
    "PutRolePolicy new",
    "AssumeRole",
)
ATTACHABLE = (
    "ReadOnlyAccess",
    "IAMReadOnlyAccess",
    "AmazonS3ReadOnlyAccess",
    "AmazonEC2ReadOnlyAccess",
    "AmazonSQSReadOnlyAccess",
    "AmazonSNSReadOnlyAccess",
    "AWSLambda_ReadOnlyAccess",
    "CloudWatchReadOnlyAccess",
    "AmazonDynamoDBReadOnlyAccess",
    "AmazonRDSReadOnlyAccess",
)
"""Ten AWS managed policies, as many as a user may have attached."""
POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
)


def start(src: str | None, database_url: str | None, stack: ExitStack) -> tuple[int, str, str, str, int]:
    """A server: (port, endpoint, bootstrap key id, secret, process id)."""
    data = Path(tempfile.mkdtemp(prefix="iamd-bench-writes-"))
    stack.callback(shutil.rmtree, data, ignore_errors=True)
    port = free_port()
    env = dict(os.environ, PYTHONPATH=src) if src else None
    command = [sys.executable, "-m", "iamd.cli.main", "serve", "--data-dir", str(data), "--port", str(port)]
    if database_url:
        command += ["--database-url", database_url]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)

    def stop() -> None:
        process.terminate()
        process.wait()

    stack.callback(stop)
    endpoint = f"http://127.0.0.1:{port}"
    wait_ready(endpoint + "/iamd/health", process)
    creds = configparser.ConfigParser()
    creds.read(data / "credentials")
    key, secret = creds["iamd"]["aws_access_key_id"], creds["iamd"]["aws_secret_access_key"]
    return port, endpoint, key, secret, process.pid


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux's /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def prepare(endpoint: str, key: str, secret: str, count: int) -> dict[str, list[SignedRequest]]:
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )
    iam.create_user(UserName="bench")
    account = iam.get_user(UserName="bench")["User"]["Arn"].split(":")[4]
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    role = iam.create_role(RoleName="bench-role", AssumeRolePolicyDocument=trust)["Role"]["Arn"]

    def query(service: str, params: dict[str, str]) -> SignedRequest:
        body = urllib.parse.urlencode(
            {"Version": "2011-06-15" if service == "sts" else "2010-05-08", **params}
        )
        return signed(endpoint, service, body, key, secret)

    run = uuid.uuid4().hex[:6]
    attach_users = [f"a-{run}-{n}" for n in range(-(-count // len(ATTACHABLE)))]
    for name in attach_users:
        iam.create_user(UserName=name)
    return {
        "CreateUser": [
            query("iam", {"Action": "CreateUser", "UserName": f"w-{run}-{n}"}) for n in range(count)
        ],
        "TagUser": [
            query(
                "iam",
                {
                    "Action": "TagUser",
                    "UserName": "bench",
                    "Tags.member.1.Key": "k",
                    "Tags.member.1.Value": "v",
                },
            )
        ],
        "AttachUserPolicy": [
            query(
                "iam",
                {
                    "Action": "AttachUserPolicy",
                    "UserName": "bench",
                    "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
                },
            )
        ],
        "PutRolePolicy": [
            query(
                "iam",
                {
                    "Action": "PutRolePolicy",
                    "RoleName": "bench-role",
                    "PolicyName": "p",
                    "PolicyDocument": POLICY,
                },
            )
        ],
        "AssumeRole": [query("sts", {"Action": "AssumeRole", "RoleArn": role, "RoleSessionName": "bench"})],
        "TagUser new": [
            query(
                "iam",
                {
                    "Action": "TagUser",
                    "UserName": "bench",
                    "Tags.member.1.Key": "k",
                    "Tags.member.1.Value": f"v{n}",
                },
            )
            for n in range(count)
        ],
        "AttachUserPolicy new": [
            query(
                "iam",
                {
                    "Action": "AttachUserPolicy",
                    "UserName": user,
                    "PolicyArn": f"arn:aws:iam::aws:policy/{policy}",
                },
            )
            for policy in ATTACHABLE
            for user in attach_users
        ][:count],
        "PutRolePolicy new": [
            query(
                "iam",
                {
                    "Action": "PutRolePolicy",
                    "RoleName": "bench-role",
                    "PolicyName": "p",
                    "PolicyDocument": POLICY.replace('"Effect"', f'"Sid": "S{n}", "Effect"', 1),
                },
            )
            for n in range(count)
        ],
    }


def hammer(port: int, requests: list[SignedRequest], seconds: float, threads: int) -> tuple[float, int]:
    """Requests per second from ``threads`` threads for ``seconds`` (cycling through
    ``requests``, each sent once when there are enough), and how many were sent."""
    stop = time.monotonic() + seconds
    done = [0] * threads
    failures: list[str] = []
    lock = threading.Lock()
    cursor = [0]

    def worker(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.connect()
        assert conn.sock is not None
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while time.monotonic() < stop:
            with lock:
                if len(requests) > 1 and cursor[0] >= len(requests):
                    return
                headers, body = requests[cursor[0] % len(requests)]
                cursor[0] += 1
            conn.request("POST", "/", body=body, headers=headers)
            answer = conn.getresponse()
            data = answer.read()
            if answer.status != 200:
                failures.append(data.decode(errors="replace")[:300])
                return
            done[n] += 1
        conn.close()

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if failures:
        raise RuntimeError(f"request failed: {failures[0]}")
    return sum(done) / (time.perf_counter() - started), sum(done)


def fresh_database(admin_url: str, stack: ExitStack) -> str:
    import psycopg

    name = f"iamd_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    stack.callback(drop)
    return admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    """``--postgres ADMIN_URL`` and ``--pg-latency MS`` (see :func:`fresh_database`, :func:`delayed`)."""
    parser.add_argument(
        "--postgres", metavar="ADMIN_URL", help="iamd on new PostgreSQL databases instead of SQLite"
    )
    parser.add_argument(
        "--pg-latency",
        type=float,
        metavar="MS",
        help="with --postgres: iamd reaches PostgreSQL through a relay adding MS each way (bench/latency.py)",
    )


def delayed(url: str, delay_ms: float, stack: ExitStack) -> str:
    """``url`` (a database's) through a relay that adds ``delay_ms`` each way (bench/latency.py,
    a process of its own, stopped with ``stack``): the database as if over a network."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    port = free_port()
    relay = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("latency.py")),
            "--listen",
            str(port),
            "--to",
            f"{parsed.host or '127.0.0.1'}:{parsed.port or 5432}",
            "--delay-ms",
            str(delay_ms),
        ]
    )
    stack.callback(relay.wait)
    stack.callback(relay.terminate)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    relayed = parsed.set(host="127.0.0.1", port=port)
    import psycopg

    plain = relayed.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as probe:
        for _ in range(20):
            probe.execute("SELECT 1")
        began = time.perf_counter()
        for _ in range(200):
            probe.execute("SELECT 1")
        rtt = (time.perf_counter() - began) / 200 * 1e3
    print(f"PostgreSQL through the relay: {rtt:.2f} ms per round trip (SELECT 1)", file=sys.stderr)
    return relayed.render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--before", metavar="SRC", help="another checkout's src directory to measure too")
    add_database_arguments(parser)
    args = parser.parse_args()
    with ExitStack() as stack:
        servers: dict[str, tuple[int, int, dict[str, list[SignedRequest]]]] = {}
        for name, src in [("iamd", None), *([("before", args.before)] if args.before else [])]:
            url = fresh_database(args.postgres, stack) if args.postgres else None
            if url is not None and args.pg_latency:
                url = delayed(url, args.pg_latency, stack)
            port, endpoint, key, secret, pid = start(src, url, stack)
            servers[name] = (port, pid, prepare(endpoint, key, secret, int(args.seconds * 400)))
        backend = "PostgreSQL" if args.postgres else "SQLite"
        if args.postgres and args.pg_latency:
            backend += f" {args.pg_latency:g} ms away each way (bench/latency.py)"
        print(f"{args.threads} client threads, {args.seconds:g} s per operation and server, on {backend}")
        print("requests/s, and the server process's CPU per request (PostgreSQL's own processes not counted)")
        for operation in OPERATIONS:
            rates: dict[str, tuple[float, float]] = {}
            for name, (port, pid, requests) in servers.items():
                cpu = cpu_seconds(pid)
                rate, count = hammer(port, requests[operation], args.seconds, args.threads)
                rates[name] = (rate, (cpu_seconds(pid) - cpu) / max(count, 1) * 1e6)
            line = "   ".join(f"{name} {rate:7.1f}/s {cpu:6.0f} µs" for name, (rate, cpu) in rates.items())
            if "before" in rates:
                mine, before = rates["iamd"], rates["before"]
                ratio, less = mine[0] / before[0], before[1] / max(mine[1], 1)
                line += f"   after/before {ratio:.2f}x, CPU {less:.2f}x less"
            print(f"{operation:>18}: {line}")


if __name__ == "__main__":
    main()
