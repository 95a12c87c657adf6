"""Benchmark: the CPU time of one API read through the request pipeline in process (no HTTP): SigV4
verified, policies enforced, the trail on, as ``iamd serve`` runs them; GetUser, ListUsers (100
users), GetRole, SimulatePrincipalPolicy, as ``bench/api.py`` sends them.

Run by hand:  .venv/bin/python bench/api_cpu.py [--requests 300] [--turns 3] [--before DIR/src]
              [--postgres postgresql://postgres@127.0.0.1:5432/postgres]

``--before``: also measure another checkout's ``src`` (e.g. ``git archive perf17-base src | tar -x
-C DIR``); the two take turns, each in a fresh process, and each figure is the best of its turns
(CPU time of this process, ``time.process_time``, the trail writer's thread storing the timed
requests' events included: steadier than requests per second on a shared machine).
``--profile OPERATION``: print cProfile's top functions for that operation instead (``SORT=tottime``
to sort them by their own time).
``--instructions OPERATION``: instructions per request of that operation under valgrind's callgrind
(the trail writer's thread included, its events stored in one cycle as in a busy server: keep
``--requests`` below 1,000; repeatable on a loaded machine), counted from the first timed request
to the last one's event stored; with ``--before`` the other checkout is counted the same way.
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from writes import fresh_database

OPERATIONS = ("GetUser", "ListUsers", "GetRole", "SimulatePrincipalPolicy")
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def measure(
    requests: int,
    profile: str | None,
    asgi: bool = False,
    only: str | None = None,
    database: str | None = None,
) -> dict[str, float]:
    """In this process: set up as bench/api.py does, then CPU microseconds per request.
    ``asgi``: each timed request goes through the ASGI application (``create_app``) as uvicorn
    hands it over (a scope, the body from ``receive``, the answer to ``send``), not straight to
    the pipeline. ``database``: the store's URL (a new, empty PostgreSQL database) instead of a
    SQLite file."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from iamd.catalog import rcp_services
    from iamd.clock import SystemClock
    from iamd.secrets.ids import RandomIds
    from iamd.secrets.kek import Kek
    from iamd.server.app import create_app, settle
    from iamd.server.authorizer import Authorizer
    from iamd.server.bootstrap import bootstrap, write_profile
    from iamd.server.pipeline import Connection, Pipeline
    from iamd.services.cloudtrail import Recorder
    from iamd.store.store import open_store
    from iamd.trail.chain import load_signing_key
    from iamd.trail.writer import SPOOL_FILE_NAME, TrailWriter
    from iamd.wire import HttpRequest

    loopback = Connection(source_ip="127.0.0.1", secure=False)
    data = Path(tempfile.mkdtemp(prefix="iamd-bench-cpu-"))
    store = open_store(database or f"sqlite:///{data / 'iamd.db'}", kek=Kek.generate())
    clock = SystemClock()
    account = bootstrap(store, RandomIds(), clock.now(), None).account_id
    write_profile(data, account, "http://127.0.0.1:8080")
    creds = configparser.ConfigParser()
    creds.read(data / "credentials")
    # Under callgrind the writer would store a handful of events per cycle (everything runs ~50
    # times slower, its linger does not): it lets the timed requests' events build up instead,
    # and stores them in one cycle at the end, as the server does at ~1,000 requests per second.
    linger = 3600.0 if os.environ.get("IAMD_BENCH_CALLGRIND") else 0.25
    writer = TrailWriter(
        store, clock, signing_key=load_signing_key(data), spool=data / SPOOL_FILE_NAME, linger=linger
    )
    writer.start()
    pipeline = Pipeline(store, clock, RandomIds(), Authorizer(rcp_services()), trail=Recorder(writer, store))
    settle(pipeline)
    keep_reads = getattr(store, "keep_reads", None)  # as `iamd serve` does on its event loop
    if keep_reads is not None:
        keep_reads()

    def signed(params: dict[str, str], key: str, secret: str) -> tuple[list[tuple[str, str]], bytes]:
        body = urllib.parse.urlencode({"Version": "2010-05-08", **params}).encode()
        request = AWSRequest(
            "POST",
            "http://127.0.0.1:8080/",
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
        SigV4Auth(Credentials(key, secret), "iam", "us-east-1").add_auth(request)
        return [("host", "127.0.0.1:8080"), *request.headers.items()], body

    def arrived(parts: tuple[list[tuple[str, str]], bytes]) -> Any:
        """A new request each time, as the server makes one per request (nothing parsed yet)."""
        return HttpRequest.build("POST", "/", "", parts[0], parts[1])

    def call(params: dict[str, str], key: str, secret: str) -> str:
        answer = pipeline.handle(arrived(signed(params, key, secret)), loopback)
        assert answer.status == 200, answer.body[:300]
        return answer.body.decode()

    def element(text: str, name: str) -> str:
        return text.split(f"<{name}>", 1)[1].split("<", 1)[0]

    admin = (creds["iamd"]["aws_access_key_id"], creds["iamd"]["aws_secret_access_key"])
    call({"Action": "CreateUser", "UserName": "bench"}, *admin)
    policy = "arn:aws:iam::aws:policy/AdministratorAccess"
    call({"Action": "AttachUserPolicy", "UserName": "bench", "PolicyArn": policy}, *admin)
    created = call({"Action": "CreateAccessKey", "UserName": "bench"}, *admin)
    bench = (element(created, "AccessKeyId"), element(created, "SecretAccessKey"))
    arn = element(call({"Action": "GetUser", "UserName": "bench"}, *bench), "Arn")
    present = call({"Action": "ListUsers"}, *bench).count("<member>")
    for n in range(100 - present):
        call({"Action": "CreateUser", "UserName": f"user-{n:03d}", "Path": "/bench/"}, *bench)
    call({"Action": "CreateRole", "RoleName": "bench-role", "AssumeRolePolicyDocument": TRUST}, *bench)
    bodies = {
        "GetUser": {"Action": "GetUser", "UserName": "bench"},
        "ListUsers": {"Action": "ListUsers"},
        "GetRole": {"Action": "GetRole", "RoleName": "bench-role"},
        "SimulatePrincipalPolicy": {
            "Action": "SimulatePrincipalPolicy",
            "PolicySourceArn": arn,
            "ActionNames.member.1": "iam:GetUser",
            "ActionNames.member.2": "s3:GetObject",
        },
    }
    prepared = {name: signed(params, *bench) for name, params in bodies.items()}
    for request in prepared.values():  # warm-up (caches, the compiled policies)
        for _ in range(20):
            assert pipeline.handle(arrived(request), loopback).status == 200
    writer.flush()  # the set-up's trail events stored before timing

    def direct(parts: tuple[list[tuple[str, str]], bytes]) -> object:
        return pipeline.handle(arrived(parts), loopback)

    handle = direct
    if asgi:
        handle = through_asgi(create_app(pipeline))
        for request in prepared.values():
            for _ in range(20):
                handle(request)
    if profile:
        import cProfile
        import pstats

        profiler = (
            cProfile.Profile(time.thread_time_ns, 1e-9)
            if os.environ.get("THREAD_TIME")
            else cProfile.Profile()
        )
        profiler.enable()
        for _ in range(requests):
            handle(prepared[profile])
        profiler.disable()
        if os.environ.get("PROFILE_OUT"):
            profiler.dump_stats(os.environ["PROFILE_OUT"])
        pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(50)
        writer.close()
        return {}
    figures: dict[str, float] = {}
    marks = callgrind_marks()
    for name, request in prepared.items():
        if only is not None and name != only:
            continue
        if marks:
            marks[0]()
        began = time.process_time()
        for _ in range(requests):
            handle(request)
        writer.flush()  # these requests' trail events stored (the writer's thread: same process)
        if marks:
            marks[1]()
        figures[name] = (time.process_time() - began) / requests * 1e6
    writer.close()
    return figures


def through_asgi(app: Any) -> Callable[[tuple[list[tuple[str, str]], bytes]], object]:
    """A function that sends one request through ``app`` as uvicorn would (a fresh scope, the
    body in one message) on an event loop of its own, and returns the status."""
    import asyncio

    loop = asyncio.new_event_loop()

    def handle(parts: tuple[list[tuple[str, str]], bytes]) -> object:
        headers, body = parts
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "server": ("127.0.0.1", 8080),
            "client": ("127.0.0.1", 50000),
            "scheme": "http",
            "method": "POST",
            "root_path": "",
            "path": "/",
            "raw_path": b"/",
            "query_string": b"",
            "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
            + [(b"content-length", str(len(body)).encode())],
            "state": {},
        }
        sent: list[Any] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        loop.run_until_complete(app(scope, receive, send))
        assert sent[0]["status"] == 200, sent
        return sent[0]["status"]

    return handle


def child_options(asgi: bool, admin_url: str | None, stack: ExitStack) -> list[str]:
    """The child's options for ``--asgi`` and ``--postgres`` (a new database for each child)."""
    options = ["--asgi"] if asgi else []
    if admin_url:
        options += ["--database", fresh_database(admin_url, stack)]
    return options


def run(src: str | None, requests: int, asgi: bool = False, admin_url: str | None = None) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=src) if src else None
    with ExitStack() as stack:
        command = [sys.executable, __file__, "--child", "--requests", str(requests)]
        command += child_options(asgi, admin_url, stack)
        out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
        figures: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return figures


_CALLGRIND_C = """
#include <valgrind/callgrind.h>
void iamd_bench_start(void) { CALLGRIND_START_INSTRUMENTATION; CALLGRIND_ZERO_STATS; }
void iamd_bench_dump(void) { CALLGRIND_DUMP_STATS; }
"""


def callgrind_marks() -> tuple[Callable[[], None], Callable[[], None]] | None:
    """Under ``--instructions``: functions that start callgrind's count and dump it (valgrind's
    client requests, from a small library compiled by the parent); None otherwise."""
    library = os.environ.get("IAMD_BENCH_CALLGRIND")
    if not library:
        return None
    import ctypes

    marks = ctypes.CDLL(library)
    return marks.iamd_bench_start, marks.iamd_bench_dump


def instructions(
    src: str | None, operation: str, requests: int, asgi: bool, admin_url: str | None = None
) -> float:
    """Instructions per ``operation`` request under callgrind (see ``--instructions``)."""
    with tempfile.TemporaryDirectory() as out, ExitStack() as stack:
        Path(out, "marks.c").write_text(_CALLGRIND_C)
        library = str(Path(out, "marks.so"))
        subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", library, f"{out}/marks.c"], check=True)
        env = dict(os.environ, IAMD_BENCH_CALLGRIND=library, PYTHONHASHSEED="0")
        if src:
            env["PYTHONPATH"] = src
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out}/callgrind.out",
            sys.executable,
            __file__,
            "--child",
            "--only",
            operation,
            "--requests",
            str(requests),
            *child_options(asgi, admin_url, stack),
        ]
        subprocess.run(command, env=env, check=True, capture_output=True)
        dumps = sorted(Path(out).glob("callgrind.out.*"), key=lambda p: int(p.name.rsplit(".", 1)[1]))
        text = dumps[0].read_text()
    summary = next(line for line in text.splitlines() if line.startswith(("summary:", "totals:")))
    return int(summary.split()[1]) / requests


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=300, help="per operation and turn")
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--before", metavar="SRC", help="another checkout's src directory to measure too")
    parser.add_argument("--profile", choices=OPERATIONS)
    parser.add_argument(
        "--asgi", action="store_true", help="through the ASGI application, as uvicorn calls it (no sockets)"
    )
    parser.add_argument("--instructions", choices=OPERATIONS, metavar="OPERATION")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=OPERATIONS, help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument(
        "--postgres",
        metavar="ADMIN_URL",
        help="on new PostgreSQL databases (one per process) instead of SQLite files; the CPU counted "
        "is iamd's process's, not the database server's",
    )
    args = parser.parse_args()
    if args.child or args.profile:
        with ExitStack() as stack:
            database = args.database or (fresh_database(args.postgres, stack) if args.postgres else None)
            print(json.dumps(measure(args.requests, args.profile, args.asgi, args.only, database)))
        return
    if args.instructions:
        way = "through the ASGI application" if args.asgi else "through the pipeline"
        for side, src in {"after": None, "before": args.before}.items():
            if side == "after" or src:
                count = instructions(src, args.instructions, args.requests, args.asgi, args.postgres)
                print(f"{args.instructions} {way}, {side}: {count / 1e6:.3f} M instructions per request")
        return
    sides: dict[str, str | None] = {"after": None}
    if args.before:
        sides["before"] = args.before
    best: dict[str, dict[str, float]] = {side: {} for side in sides}
    for _ in range(args.turns):
        for side, src in sides.items():
            for name, value in run(src, args.requests, args.asgi, args.postgres).items():
                best[side][name] = min(best[side].get(name, value), value)
    way = "through the ASGI application" if args.asgi else "through the pipeline"
    way += ", on PostgreSQL" if args.postgres else ""
    print(f"CPU microseconds per request in process ({way}), best of {args.turns} turns of {args.requests}")
    for name in OPERATIONS:
        after = best["after"][name]
        line = f"{name:>24}: after {after:8.0f}"
        if "before" in best:
            before = best["before"][name]
            line += f"   before {before:8.0f}   after/before {after / before:.2f}"
        print(line)


if __name__ == "__main__":
    main()
