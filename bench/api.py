"""Benchmark: API reads per second (GetUser, ListUsers of 100 users, GetRole,
SimulatePrincipalPolicy), iamd against moto's server, in the same run.

Run by hand:  .venv/bin/python bench/api.py [--seconds 10] [--threads 4] [--before DIR/src]
              [--postgres postgresql://postgres@127.0.0.1:5432/postgres [--pg-latency MS]]

``--before``: also measure another checkout's ``src`` (e.g. ``git archive main src | tar -x -C
DIR``), in the same run, for a before/after ratio. ``--postgres``: iamd (and the other checkout) on
new PostgreSQL databases made for the run (dropped after it) instead of SQLite files;
``--pg-latency MS`` puts PostgreSQL MS milliseconds away each way (bench/latency.py).

Both servers run on loopback as real processes. Both verify the SigV4 signature and enforce IAM
policies: moto with INITIAL_NO_AUTH_ACTION_COUNT (auth on after the set-up calls), iamd always.
Each server gets a user whose access key signs the GetUser calls; requests are signed with
botocore once per operation and sent again and again (within the signature's clock-skew window, as
AWS accepts them) over one keep-alive connection per thread, so the figure is the server's, not the
client's. The trail is on (iamd's default).

Each line also gives the server process's CPU time per request (user and system, read from
/proc around each turn): on a shared machine requests per second measure contention as much as
the server; CPU per request does not. In brackets, the part of it spent outside the main thread
(reads run on the event loop there; for iamd the rest is mostly the trail writer storing events,
for moto its request threads). ``bench/api_cpu.py`` measures iamd's pipeline alone.
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import boto3
from loopback import SignedRequest, figures, free_port, hammer, signed, wait_ready
from writes import add_database_arguments, delayed, fresh_database

ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"


OPERATIONS = ("GetUser", "ListUsers", "GetRole", "SimulatePrincipalPolicy")
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)

Targets = dict[str, tuple[int, SignedRequest]]
"""Per operation: the server's port and the signed request sent to it."""

PROCESSES: dict[int, int] = {}
"""Each server's process id by its port (for its CPU time)."""


def cpu_seconds(pid: int, task: int | None = None) -> float:
    """The CPU time (user and system) the process (all its threads), or one of its threads
    (``task``), has used so far (Linux)."""
    path = f"/proc/{pid}/stat" if task is None else f"/proc/{pid}/task/{task}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_iamd(src: str | None, stack: ExitStack, database_url: str | None = None) -> Targets:
    data = Path(tempfile.mkdtemp(prefix="iamd-bench-"))
    stack.callback(shutil.rmtree, data, ignore_errors=True)
    port = free_port()
    env = dict(os.environ, PYTHONPATH=src) if src else None
    command = [
        sys.executable,
        "-m",
        "iamd.cli.main",
        "serve",
        "--data-dir",
        str(data / "d"),
        "--port",
        str(port),
        *(["--database-url", database_url] if database_url else []),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    stack.callback(stop, process)
    PROCESSES[port] = process.pid
    endpoint = f"http://127.0.0.1:{port}"
    wait_ready(endpoint + "/iamd/health", process)
    creds = configparser.ConfigParser()
    creds.read(data / "d" / "credentials")
    admin = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=creds["iamd"]["aws_access_key_id"],
        aws_secret_access_key=creds["iamd"]["aws_secret_access_key"],
    )
    return prepare(admin, endpoint, port)


def start_moto(stack: ExitStack) -> Targets:
    port = free_port()
    env = dict(
        os.environ,
        INITIAL_NO_AUTH_ACTION_COUNT="3",
        MOTO_IAM_LOAD_MANAGED_POLICIES="true",
        MOTO_ALLOW_NONEXISTENT_REGION="true",
    )
    moto = Path(sys.executable).parent / "moto_server"
    process = subprocess.Popen(
        [str(moto), "-p", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    stack.callback(stop, process)
    PROCESSES[port] = process.pid
    endpoint = f"http://127.0.0.1:{port}"
    wait_ready(endpoint + "/moto-api/", process)
    admin = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIAEXAMPLEEXAMPLE00",
        aws_secret_access_key="x" * 40,
    )
    return prepare(admin, endpoint, port)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait()


def prepare(admin: Any, endpoint: str, port: int) -> Targets:
    """100 users, a role, and a signed request per operation that the server answers."""
    # Three set-up calls (moto lets exactly these through unauthenticated), then the rest signed
    # by the administrator "bench" they make.
    admin.create_user(UserName="bench")
    admin.attach_user_policy(UserName="bench", PolicyArn=ADMIN_POLICY)
    key = admin.create_access_key(UserName="bench")["AccessKey"]
    bench = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    arn = bench.get_user(UserName="bench")["User"]["Arn"]
    present = len(bench.list_users()["Users"])
    for n in range(100 - present):
        bench.create_user(UserName=f"user-{n:03d}", Path="/bench/")
    bench.create_role(RoleName="bench-role", AssumeRolePolicyDocument=TRUST)
    bodies = {
        "GetUser": {"UserName": "bench"},
        "ListUsers": {},
        "GetRole": {"RoleName": "bench-role"},
        "SimulatePrincipalPolicy": {
            "PolicySourceArn": arn,
            "ActionNames.member.1": "iam:GetUser",
            "ActionNames.member.2": "s3:GetObject",
        },
    }
    targets: Targets = {}
    for operation in OPERATIONS:
        body = urllib.parse.urlencode({"Action": operation, "Version": "2010-05-08", **bodies[operation]})
        request = signed(endpoint, "iam", body, key["AccessKeyId"], key["SecretAccessKey"])
        try:
            hammer(port, request, 0.3, 1)  # warm-up
        except RuntimeError as failed:  # moto has no SimulatePrincipalPolicy: an HTML 500
            print(f"{endpoint} {operation}: {str(failed)[:100]!r}", file=sys.stderr)
            continue
        targets[operation] = (port, request)
    return targets


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="per operation and server")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3, help="the servers take turns this many times")
    parser.add_argument("--before", metavar="SRC", help="another checkout's src directory to measure too")
    add_database_arguments(parser)
    args = parser.parse_args()
    with ExitStack() as stack:

        def database() -> str | None:
            url = fresh_database(args.postgres, stack) if args.postgres else None
            return delayed(url, args.pg_latency, stack) if url and args.pg_latency else url

        servers: dict[str, Targets] = {
            "iamd": start_iamd(None, stack, database()),
            "moto": start_moto(stack),
        }
        if args.before:
            servers["before"] = start_iamd(args.before, stack, database())
        print(
            f"{args.threads} client threads, {args.seconds:g} s per operation and server in "
            f"{args.rounds} turns (the servers alternate: a busy moment hits all), one process each"
        )
        for operation in OPERATIONS:
            served = {name: targets[operation] for name, targets in servers.items() if operation in targets}
            counts = dict.fromkeys(served, 0.0)
            cpu = dict.fromkeys(served, 0.0)
            main_cpu = dict.fromkeys(served, 0.0)  # the main thread (the event loop: reads run there)
            latencies: dict[str, list[float]] = {name: [] for name in served}
            for _ in range(args.rounds):
                for name, (port, request) in served.items():
                    pid = PROCESSES[port]
                    used, used_main = cpu_seconds(pid), cpu_seconds(pid, pid)
                    rate, lat = hammer(port, request, args.seconds / args.rounds, args.threads)
                    cpu[name] += cpu_seconds(pid) - used
                    main_cpu[name] += cpu_seconds(pid, pid) - used_main
                    counts[name] += rate / args.rounds
                    latencies[name] += lat
            for name in servers:
                if name not in served:
                    print(f"{operation:>24} {name:>6}: not served")
                    continue
                lat = sorted(latencies[name])
                per = cpu[name] / len(lat) * 1000
                others = (cpu[name] - main_cpu[name]) / len(lat) * 1000
                print(
                    f"{operation:>24} {name:>6}: {counts[name]:8.1f}/s   {figures(lat)}   "
                    f"server CPU {per:6.2f} ms/request (other threads {others:4.2f})   ({len(lat)})"
                )
            line = f"{'':>24}"
            if "moto" in served:
                line += f" iamd/moto {counts['iamd'] / counts['moto']:.2f}x"
                cpu_ratio = (cpu["moto"] / len(latencies["moto"])) / (cpu["iamd"] / len(latencies["iamd"]))
                line += f" (CPU per request: moto/iamd {cpu_ratio:.2f}x)"
                if "before" in served:
                    line += f"   before/moto {counts['before'] / counts['moto']:.2f}x"
            if "before" in served:
                line += f"   after/before {counts['iamd'] / counts['before']:.2f}x"
            print(line)


if __name__ == "__main__":
    main()
