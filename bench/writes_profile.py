"""Profile of the five writes of bench/writes.py (and two reads, GetUser and GetRole) in process (no
HTTP): per request, the SQL statements sent (BEGIN and COMMIT included; on PostgreSQL only those
through SQLAlchemy's execute path, not the prepared ones), the Python function calls
(deterministic: the steady measure on a shared machine) and the CPU time of the requesting thread;
optionally the same for an earlier checkout, run in a subprocess with its ``src`` first on the path.

Run by hand:  .venv/bin/python bench/writes_profile.py [--requests 100] [--before DIR/src]
              [--postgres postgresql://postgres@127.0.0.1:5432/postgres] [--log] [--trace]

``--trace`` (PostgreSQL): from libpq's trace of every connection (``bench/pgtrace.py``), per request
the round trips to the server (BEGIN and COMMIT included, prepared statements too), the
transactions begun, the wall time waiting for the server (all round trips; COMMITs; the account's
queue lock), and in the threads' run the serialization failures (SQLSTATE 40001) the server
answered, per request: figures that do not depend on the machine's load, but for the waits.
"""

from __future__ import annotations

import argparse
import configparser
import cProfile
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

# The repository's root, for tests.unit.signing (after any other checkout's src: see --before).
sys.path.append(str(Path(__file__).resolve().parents[1]))

OPERATIONS = (
    "CreateUser",
    "TagUser",
    "AttachUserPolicy",
    "PutRolePolicy",
    "AssumeRole",
    "TagUser new",
    "AttachUserPolicy new",
    "PutRolePolicy new",
    "GetUser",
    "GetRole",
)
"""The writes of bench/writes.py; the "new" ones change something each time (a new tag value, a
policy not yet attached, a new document), as CreateUser does: the others, sent again, change
nothing after the first. Then two reads of bench/api.py, for comparison (a read's round trips on
PostgreSQL are waits of the server's event loop)."""
ATTACHABLE = (
    "ReadOnlyAccess",
    "IAMReadOnlyAccess",
    "AmazonS3ReadOnlyAccess",
    "AmazonEC2ReadOnlyAccess",
    "AWSLambda_ReadOnlyAccess",
    "CloudWatchReadOnlyAccess",
    "AmazonDynamoDBReadOnlyAccess",
    "AmazonSQSReadOnlyAccess",
    "AmazonSNSReadOnlyAccess",
    "AmazonRDSReadOnlyAccess",
)
ATTACH_USERS = 40
"""Users made for "AttachUserPolicy new": 400 (user, policy) pairs by request number, each
attached once by the in-process figures (a run of the threads that outlasts them attaches again,
changing nothing)."""
ACCOUNT = "111122223333"
POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
)


def measure(
    database_url: str | None,
    requests: int,
    log_statements: bool,
    threads: int,
    seconds: float,
    traced: dict[str, dict[str, Any]] | None = None,
    pstats_of: str | None = None,
) -> dict[str, tuple[int, int, float, float, int]]:
    """{operation: (statements, calls, CPU µs, requests/s, retries)}: per request, in this process;
    then ``threads`` threads for ``seconds`` (0: not measured) and the transactions they ran again
    (``RetryableError``: lost races). ``traced``: filled with each operation's exchanges with
    PostgreSQL per request, alone and in the threads' run (see ``--trace``). ``pstats_of``: an
    operation whose profile's heaviest functions are printed (stderr)."""
    from sqlalchemy import event
    from tests.unit.signing import signed_query

    from iamd.catalog import rcp_services
    from iamd.clock import SystemClock
    from iamd.secrets.ids import RandomIds
    from iamd.secrets.kek import Kek
    from iamd.server.app import settle
    from iamd.server.authorizer import Authorizer
    from iamd.server.bootstrap import bootstrap, write_profile
    from iamd.server.pipeline import Connection, Pipeline
    from iamd.services.cloudtrail import Recorder
    from iamd.store.errors import RetryableError
    from iamd.store.store import open_store
    from iamd.trail.chain import load_signing_key
    from iamd.trail.writer import SPOOL_FILE_NAME, TrailWriter

    data = Path(tempfile.mkdtemp(prefix="iamd-bench-writes-profile-"))
    url = database_url or f"sqlite:///{data / 'iamd.db'}"
    store = open_store(url, kek=Kek.generate())
    clock = SystemClock()
    bootstrap(store, RandomIds(), clock.now(), ACCOUNT)
    write_profile(data, ACCOUNT, "http://127.0.0.1:8080")
    creds = configparser.ConfigParser()
    creds.read(data / "credentials")
    key, secret = creds["iamd"]["aws_access_key_id"], creds["iamd"]["aws_secret_access_key"]
    writer = TrailWriter(store, clock, signing_key=load_signing_key(data), spool=data / SPOOL_FILE_NAME)
    writer.start()
    pipeline = Pipeline(store, clock, RandomIds(), Authorizer(rcp_services()), trail=Recorder(writer, store))
    settle(pipeline)
    sent: list[str] = []
    main = threading.main_thread()

    def note(statement: str) -> None:
        if threading.current_thread() is main:  # not the trail writer's
            sent.append(statement)

    if store.engine.dialect.name == "sqlite":
        # At the driver (its trace callback): prepared statements bypass SQLAlchemy's events. Each
        # row of an executemany counts.
        event.listen(
            store.engine, "connect", lambda dbapi, _: dbapi.set_trace_callback(lambda q: note(q[:100]))
        )
        store.engine.dispose()
        # The writers' connection: a new one (under the writers' lock: the trail writer's thread
        # may be writing on it; closed under it, SQLite's connection crashed the process).
        with getattr(store, "_writers", nullcontext()):
            getattr(store, "_drop_kept_writer", lambda: None)()
    else:  # SQLAlchemy's statements only: prepared ones are not counted
        event.listen(store.engine, "before_cursor_execute", lambda *a: note(a[2].split("\n")[0][:100]))
        event.listen(store.engine, "begin", lambda *a: note("BEGIN"))
        event.listen(store.engine, "commit", lambda *a: note("COMMIT"))
    tracer = None
    if traced is not None and store.engine.dialect.name == "postgresql":
        from pgtrace import Tracer

        tracer = Tracer(store.engine)
        store.engine.dispose()

    def request(service: str, params: dict[str, str]) -> Any:
        return signed_query(key, secret, service, params)

    def send(prepared: Any) -> None:
        answer = pipeline.handle(prepared, Connection(source_ip="127.0.0.1", secure=False))
        assert answer.status == 200, answer.body[:300]

    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    send(request("iam", {"Action": "CreateUser", "UserName": "bench"}))
    send(
        request("iam", {"Action": "CreateRole", "RoleName": "bench-role", "AssumeRolePolicyDocument": trust})
    )
    run = uuid.uuid4().hex[:6]
    for n in range(ATTACH_USERS):
        send(request("iam", {"Action": "CreateUser", "UserName": f"a-{run}-{n}"}))
    makers: dict[str, Callable[[int], Any]] = {
        "CreateUser": lambda n: request("iam", {"Action": "CreateUser", "UserName": f"w-{run}-{n}"}),
        "TagUser": lambda n: request(
            "iam",
            {"Action": "TagUser", "UserName": "bench", "Tags.member.1.Key": "k", "Tags.member.1.Value": "v"},
        ),
        "AttachUserPolicy": lambda n: request(
            "iam",
            {
                "Action": "AttachUserPolicy",
                "UserName": "bench",
                "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
            },
        ),
        "PutRolePolicy": lambda n: request(
            "iam",
            {
                "Action": "PutRolePolicy",
                "RoleName": "bench-role",
                "PolicyName": "p",
                "PolicyDocument": POLICY,
            },
        ),
        "AssumeRole": lambda n: request(
            "sts",
            {
                "Action": "AssumeRole",
                "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/bench-role",
                "RoleSessionName": "bench",
            },
        ),
        "GetUser": lambda n: request("iam", {"Action": "GetUser", "UserName": "bench"}),
        "GetRole": lambda n: request("iam", {"Action": "GetRole", "RoleName": "bench-role"}),
        "TagUser new": lambda n: request(
            "iam",
            {
                "Action": "TagUser",
                "UserName": "bench",
                "Tags.member.1.Key": "k",
                "Tags.member.1.Value": f"v{n}",
            },
        ),
        "AttachUserPolicy new": lambda n: request(
            "iam",
            {
                "Action": "AttachUserPolicy",
                "UserName": f"a-{run}-{n % ATTACH_USERS}",
                "PolicyArn": f"arn:aws:iam::aws:policy/{ATTACHABLE[n // ATTACH_USERS % len(ATTACHABLE)]}",
            },
        ),
        "PutRolePolicy new": lambda n: request(
            "iam",
            {
                "Action": "PutRolePolicy",
                "RoleName": "bench-role",
                "PolicyName": "p",
                "PolicyDocument": POLICY.replace('"Effect"', f'"Sid": "S{n}", "Effect"', 1),
            },
        ),
    }
    counter = iter(range(10**9))
    retries = [0]
    original = type(store).transaction

    @contextmanager
    def counted(self: Any, **options: Any) -> Iterator[Any]:
        try:
            with original(self, **options) as uow:
                yield uow
        except RetryableError:
            retries[0] += 1
            raise

    type(store).transaction = counted  # type: ignore[assignment,method-assign]
    results: dict[str, tuple[int, int, float, float, int]] = {}

    def hammer(make: Callable[[int], Any], fresh: bool) -> float:
        """Requests per second from ``threads`` threads (a new request each when ``fresh``)."""
        lock = threading.Lock()
        done = [0]
        stop = time.monotonic() + seconds
        same = make(next(counter))

        def work() -> None:
            while time.monotonic() < stop:
                with lock:
                    n = next(counter)
                send(make(n) if fresh else same)
                with lock:
                    done[0] += 1

        workers = [threading.Thread(target=work, name=f"bench-{n}") for n in range(threads)]
        began = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        hammered[0] = done[0]
        return done[0] / (time.perf_counter() - began)

    hammered = [0]

    def per_request(exchanges: Any, requests: int) -> dict[str, Any]:
        n = max(requests, 1)
        return {
            "round_trips": exchanges.round_trips / n,
            "begins": exchanges.count["begin"] / n,
            "commits": exchanges.count["commit"] / n,
            "locks": exchanges.count["lock"] / n,
            "wait_ms": sum(exchanges.seconds.values()) / n * 1e3,
            "commit_ms": exchanges.seconds["commit"] / n * 1e3,
            "lock_ms": exchanges.seconds["lock"] / n * 1e3,
            "failures": sum(v for k, v in exchanges.failures.items() if k.startswith("40")) / n,
        }

    for operation in OPERATIONS:
        make = makers[operation]
        for _ in range(3):  # warm: caches, the key's last-use mark
            send(make(next(counter)))
        sent.clear()
        send(make(next(counter)))
        statements = len(sent)
        if log_statements:
            print(f"{operation}:", *sent, sep="\n    ", file=sys.stderr)
        prepared = [make(next(counter)) for _ in range(requests)]
        profile = cProfile.Profile()
        profile.enable()
        for each in prepared[: min(40, requests)]:
            send(each)
        profile.disable()
        calls = pstats.Stats(profile).total_calls // min(40, requests)  # type: ignore[attr-defined]
        if operation == pstats_of:
            stats = pstats.Stats(profile, stream=sys.stderr)
            stats.sort_stats("tottime").print_stats(40)
            stats.sort_stats("cumulative").print_stats(60)
        timed = [make(next(counter)) for _ in range(requests)]
        if tracer is not None:
            tracer.take()
        started = time.thread_time()
        for each in timed:
            send(each)
        cpu = (time.thread_time() - started) / requests * 1e6
        if tracer is not None and traced is not None:
            traced[operation] = {"alone": per_request(tracer.take({main.name}), requests)}
        rate = 0.0
        retries[0] = 0
        if threads and seconds:
            rate = hammer(make, operation == "CreateUser" or operation.endswith(" new"))
            if tracer is not None and traced is not None:
                names = {f"bench-{n}" for n in range(threads)}
                traced[operation]["threads"] = per_request(tracer.take(names), hammered[0])
        results[operation] = (statements, calls, cpu, rate, retries[0])
    type(store).transaction = original  # type: ignore[method-assign]
    writer.close()
    store.close()
    if tracer is not None:
        tracer.close()
    shutil.rmtree(data, ignore_errors=True)
    return results


def fresh_database(admin_url: str) -> tuple[str, Callable[[], None]]:
    import psycopg

    name = f"iamd_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    url = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    return url, drop


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--before", metavar="SRC", help="another checkout's src directory to measure too")
    parser.add_argument(
        "--postgres", metavar="ADMIN_URL", help="on a new PostgreSQL database instead of SQLite"
    )
    parser.add_argument("--log", action="store_true", help="print each operation's statements (stderr)")
    parser.add_argument("--threads", type=int, default=4, help="then this many threads at once")
    parser.add_argument("--seconds", type=float, default=0.0, help="for this long (0: not measured)")
    parser.add_argument(
        "--trace", action="store_true", help="PostgreSQL: round trips, commits and waits per request"
    )
    parser.add_argument(
        "--pstats", metavar="OPERATION", help="print the operation's heaviest functions (stderr)"
    )
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # one side, for --before
    args = parser.parse_args()
    url, drop = fresh_database(args.postgres) if args.postgres else (None, lambda: None)
    traced: dict[str, dict[str, Any]] | None = {} if args.trace and args.postgres else None
    try:
        mine = measure(url, args.requests, args.log, args.threads, args.seconds, traced, args.pstats)
    finally:
        drop()
    if args.json:
        print(json.dumps({"results": mine, "traced": traced}))
        return
    before: dict[str, list[float]] = {}
    before_traced: dict[str, dict[str, Any]] | None = None
    if args.before:
        command = [sys.executable, __file__, "--json", "--requests", str(args.requests)]
        command += ["--threads", str(args.threads), "--seconds", str(args.seconds)]
        if args.postgres:
            command += ["--postgres", args.postgres]
        if args.trace:
            command += ["--trace"]
        env = dict(os.environ, PYTHONPATH=args.before)
        answer = json.loads(
            subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
        )
        before, before_traced = answer["results"], answer["traced"]
    print(
        f"per request, in process, on {'PostgreSQL' if args.postgres else 'SQLite'}:",
        "statements / Python calls / CPU µs",
        f"(then {args.threads} threads: requests/s, transactions run again)" if args.seconds else "",
    )
    for operation in OPERATIONS:
        statements, calls, cpu, rate, retried = mine[operation]
        line = f"{operation:>18}: iamd {statements:3d} / {calls:5d} / {cpu:6.0f}"
        if args.seconds:
            line += f" ({rate:6.1f}/s, {retried:3d})"
        if operation in before:
            b_statements, b_calls, b_cpu, b_rate, b_retried = before[operation]
            line += f"   before {int(b_statements):3d} / {int(b_calls):5d} / {b_cpu:6.0f}"
            if args.seconds:
                line += f" ({b_rate:6.1f}/s, {int(b_retried):3d})"
            line += f"   calls before/after {b_calls / calls:.2f}x   CPU {b_cpu / cpu:.2f}x"
            if args.seconds and b_rate:
                line += f"   threads {rate / b_rate:.2f}x"
        print(line)
    if traced:
        print(
            "per request, from libpq's trace: round trips / transactions begun / commits / queue locks;",
            "ms waiting for the server (all, COMMIT, queue lock); serialization failures",
        )
        sides = [("iamd", traced), *([("before", before_traced)] if before_traced else [])]
        for operation in OPERATIONS:
            for side, figures in sides:
                for phase, f in figures.get(operation, {}).items():
                    counts = f"{f['round_trips']:5.1f} / {f['begins']:4.2f} / {f['commits']:4.2f}"
                    waits = f"{f['wait_ms']:6.2f} {f['commit_ms']:6.2f} {f['lock_ms']:6.2f} ms"
                    print(
                        f"{operation:>18} {side:>6} {phase:>7}: {counts} / {f['locks']:4.2f};"
                        f"  {waits};  {f['failures']:.3f}"
                    )


if __name__ == "__main__":
    main()
