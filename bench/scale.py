"""Benchmark: a large account. Builds, directly through the store (bulk inserts, seconds), an
account with 10,000 users, 5,000 roles, 20,000 customer managed policies, and a principal in 10
groups with 10 attached policies each; then, through the request pipeline in this process (SigV4,
authorization and the trail as ``iamd serve`` runs them, without the socket), measures:

- every List* page (the default 100 items) of the large listings, first and a middle page;
- the principal's authorization: compiled policies cached, and the first after a policy change;
- GetAccountAuthorizationDetails paged to the end (MaxItems 1000);
- the process's peak resident memory (the store, the pipeline and its caches live here).

Run by hand:  .venv/bin/python bench/scale.py [--users 10000] [--database-url postgresql+psycopg://…]

Targets (issue 17): pages < 50 ms, authorization < 1 ms cached and < 50 ms after a change, the
full GetAccountAuthorizationDetails < 10 s, RSS < 1 GiB.
"""

from __future__ import annotations

import argparse
import configparser
import json
import resource
import shutil
import statistics
import tempfile
import time
import urllib.parse
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from sqlalchemy import insert

from iamd.catalog import rcp_services
from iamd.clock import SystemClock
from iamd.secrets.ids import RandomIds
from iamd.secrets.kek import Kek
from iamd.server.app import settle
from iamd.server.authorizer import Authorizer
from iamd.server.bootstrap import bootstrap, document_text, managed_policy_data, write_profile
from iamd.server.caller import caller_for_key
from iamd.server.pipeline import Connection, Pipeline
from iamd.services.cloudtrail import Recorder
from iamd.services.framework import RequestInfo
from iamd.services.policies import compile_documents
from iamd.store.records import PolicyDocument
from iamd.store.schema import Group, GroupMember, ManagedPolicy, PolicyAttachment, PolicyVersion, Role, User
from iamd.store.store import open_store
from iamd.trail.chain import load_signing_key
from iamd.trail.writer import SPOOL_FILE_NAME, TrailWriter
from iamd.wire import HttpRequest

ACCOUNT = "111122223333"
LOOPBACK = Connection(source_ip="127.0.0.1", secure=False)
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def document(n: int) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [f"s3:Get{n % 7}*", "s3:List*"],
                    "Resource": f"arn:aws:s3:::b{n}/*",
                },
                {
                    "Effect": "Deny",
                    "Action": "ec2:TerminateInstances",
                    "Resource": "*",
                    "Condition": {"StringNotEquals": {"aws:PrincipalTag/team": f"t{n % 13}"}},
                },
            ],
        },
        indent=4,
    )


def recompiled_after_a_change() -> float:
    """CPU seconds to compile a principal's 100 policies of AWS managed size (~3,600 characters)
    after one of them changed, the others compiled before (median of 15): what a policy change
    costs the next authorization, without the database's part."""
    texts = [document_text(entry) for entry in list(managed_policy_data().values())[:120]]

    def docs(changed: int) -> list[PolicyDocument]:
        return [
            PolicyDocument(
                layer="identity",
                source="managed",
                name=f"p{n}",
                document=texts[100 + changed] if n == 11 else text,
                via_group=f"g{n // 10}",
            )
            for n, text in enumerate(texts[:100])
        ]

    compile_documents(docs(0))
    spent: list[float] = []
    for changed in range(1, 16):
        began = time.thread_time()
        compile_documents(docs(changed))
        spent.append(time.thread_time() - began)
    return statistics.median(spent)


def build(store: Any, users: int, roles: int, policies: int, now: datetime) -> None:
    def ident(prefix: str, n: int) -> str:
        return f"{prefix}{n:017d}"

    with store.transaction() as uow:
        s = uow.session
        for start in range(0, users, 5000):
            s.execute(
                insert(User),
                [
                    {
                        "id": ident("AIDA", n),
                        "account_id": ACCOUNT,
                        "name": f"user-{n:05d}",
                        "name_lower": f"user-{n:05d}",
                        "path": "/scale/",
                        "created_at": now,
                    }
                    for n in range(start, min(users, start + 5000))
                ],
            )
        s.execute(
            insert(Role),
            [
                {
                    "id": ident("AROA", n),
                    "account_id": ACCOUNT,
                    "name": f"role-{n:05d}",
                    "name_lower": f"role-{n:05d}",
                    "path": "/scale/",
                    "created_at": now,
                    "trust_policy": TRUST,
                    "max_session_duration": 3600,
                }
                for n in range(roles)
            ],
        )
        for start in range(0, policies, 5000):
            chunk = range(start, min(policies, start + 5000))
            s.execute(
                insert(ManagedPolicy),
                [
                    {
                        "id": ident("ANPA", n),
                        "account_id": ACCOUNT,
                        "name": f"policy-{n:05d}",
                        "name_lower": f"policy-{n:05d}",
                        "path": "/scale/",
                        "default_version_id": "v1",
                        "next_version": 2,
                        "is_attachable": True,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n in chunk
                ],
            )
            s.execute(
                insert(PolicyVersion),
                [
                    {
                        "policy_id": ident("ANPA", n),
                        "version_id": "v1",
                        "document": document(n),
                        "created_at": now,
                    }
                    for n in chunk
                ],
            )
        s.execute(
            insert(Group),
            [
                {
                    "id": ident("AGPA", g),
                    "account_id": ACCOUNT,
                    "name": f"group-{g}",
                    "name_lower": f"group-{g}",
                    "path": "/",
                    "created_at": now,
                }
                for g in range(10)
            ],
        )
        s.execute(
            insert(GroupMember),
            [
                {"group_id": ident("AGPA", g), "user_id": ident("AIDA", 0), "account_id": ACCOUNT}
                for g in range(10)
            ],
        )
        s.execute(
            insert(PolicyAttachment),
            [
                {"account_id": ACCOUNT, "policy_id": ident("ANPA", g * 10 + p), "group_id": ident("AGPA", g)}
                for g in range(10)
                for p in range(10)
            ],
        )
        uow.changed(ACCOUNT)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--roles", type=int, default=5_000)
    parser.add_argument("--policies", type=int, default=20_000)
    parser.add_argument("--database-url", help="default: SQLite in a temporary directory")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="iamd-bench-scale-"))
    store = open_store(args.database_url or f"sqlite:///{data / 'iamd.db'}", kek=Kek.generate())
    clock = SystemClock()
    bootstrap(store, RandomIds(), clock.now(), ACCOUNT)
    write_profile(data, ACCOUNT, "http://127.0.0.1:8080")
    creds = configparser.ConfigParser()
    creds.read(data / "credentials")
    key, secret = creds["iamd"]["aws_access_key_id"], creds["iamd"]["aws_secret_access_key"]
    started = time.perf_counter()
    build(store, args.users, args.roles, args.policies, clock.now())
    print(
        f"built {args.users:,} users, {args.roles:,} roles, {args.policies:,} policies, a user in 10 "
        f"groups x 10 policies on {store.backend} in {time.perf_counter() - started:.1f} s"
    )
    writer = TrailWriter(store, clock, signing_key=load_signing_key(data), spool=data / SPOOL_FILE_NAME)
    writer.start()
    pipeline = Pipeline(store, clock, RandomIds(), Authorizer(rcp_services()), trail=Recorder(writer, store))
    settle(pipeline)  # as iamd serve does before serving (models loaded, the heap frozen)

    cpu_spent: list[float] = []
    """CPU time of this thread in each request (steadier than the clock on a busy machine)."""

    def send(params: dict[str, str]) -> tuple[float, bytes]:
        body = urllib.parse.urlencode({"Version": "2010-05-08", **params}).encode()
        signing = AWSRequest(
            "POST",
            "http://127.0.0.1:8080/",
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
        SigV4Auth(Credentials(key, secret), "iam", "us-east-1").add_auth(signing)
        request = HttpRequest.build(
            "POST", "/", "", [("host", "127.0.0.1:8080"), *signing.headers.items()], body
        )
        began, cpu = time.perf_counter(), time.thread_time()
        answer = pipeline.handle(request, LOOPBACK)
        elapsed = time.perf_counter() - began
        cpu_spent.append(time.thread_time() - cpu)
        assert answer.status == 200, answer.body[:300]
        return elapsed, answer.body

    def marker(body: bytes) -> str | None:
        text = body.decode()
        if "<Marker>" not in text:
            return None
        return text.split("<Marker>", 1)[1].split("</Marker>", 1)[0]

    try:
        send({"Action": "GetUser"})  # warm-up: the administrator's key and policies, the models
        print("List* pages (100 items), through the pipeline:  first page / a middle page / slowest of 5")
        for action, extra in [
            ("ListUsers", {}),
            ("ListRoles", {}),
            ("ListPolicies", {"Scope": "Local"}),
            ("ListGroups", {}),
            ("ListGroupsForUser", {"UserName": "user-00000"}),
            ("ListAttachedGroupPolicies", {"GroupName": "group-0"}),
        ]:
            times: list[float] = []
            cpu_spent.clear()
            next_marker: str | None = None
            for _ in range(5):
                params = {"Action": action, **extra, **({"Marker": next_marker} if next_marker else {})}
                elapsed, body = send(params)
                times.append(elapsed)
                next_marker = marker(body)
                if next_marker is None:
                    break
            middle = times[len(times) // 2]
            print(
                f"  {action:<27} {times[0] * 1000:7.1f} / {middle * 1000:7.1f} / {max(times) * 1000:7.1f} ms"
                f"   (CPU: slowest {max(cpu_spent) * 1000:5.1f} ms)"
            )

        with store.transaction(account_id=ACCOUNT) as uow:
            principal_key = f"AKIA{uuid.uuid4().hex[:16].upper()}"
            uow.access_keys.create(
                ACCOUNT,
                key_id=principal_key,
                user_id="AIDA00000000000000000",
                secret_access_key="x" * 40,
                created_at=clock.now(),
            )

        def decide() -> tuple[float, float]:
            with store.transaction(readonly=True) as uow:
                signing = uow.access_keys.signing_key(principal_key)
                assert signing is not None
                caller = caller_for_key(uow, signing.key)
                info = RequestInfo(
                    str(uuid.uuid4()), "s3", "GetObject", "us-east-1", "127.0.0.1", "bench", True, clock.now()
                )
                began, cpu = time.perf_counter(), time.thread_time()
                decision = pipeline.authorizer.decide(
                    uow, caller, info, clock.now(), "s3:ListBucket", "arn:aws:s3:::b3/key"
                )
                elapsed = time.perf_counter() - began
                assert decision.allowed
                return elapsed, time.thread_time() - cpu

        decide()
        cached = statistics.median(decide()[0] for _ in range(200))
        after: list[tuple[float, float]] = []
        for n in range(5):
            # A new default version of one of the principal's policies (through the API).
            arn = f"arn:aws:iam::{ACCOUNT}:policy/scale/policy-{n + 11:05d}"
            send(
                {
                    "Action": "CreatePolicyVersion",
                    "PolicyArn": arn,
                    "PolicyDocument": document(n + 100),
                    "SetAsDefault": "true",
                }
            )
            after.append(decide())
        print("authorization of the user in 10 groups x 10 policies (s3:ListBucket, evaluate + cache):")
        print(f"  cached: {cached * 1000:.3f} ms (median of 200)")
        print(
            f"  after a policy change: {statistics.median(a[0] for a in after) * 1000:.1f} ms "
            f"(CPU {statistics.median(a[1] for a in after) * 1000:.1f} ms; median of 5)"
        )
        print(
            "  100 policies of AWS managed size, one changed, recompiled: "
            f"{recompiled_after_a_change() * 1000:.2f} ms CPU (median of 15)"
        )

        began = time.perf_counter()
        cpu_spent.clear()
        pages = 0
        next_marker = None
        while True:
            params = {"Action": "GetAccountAuthorizationDetails", "MaxItems": "1000"}
            if next_marker:
                params["Marker"] = next_marker
            _, body = send(params)
            pages += 1
            next_marker = marker(body)
            if next_marker is None:
                break
        print(
            f"GetAccountAuthorizationDetails, all {pages} pages of 1000: {time.perf_counter() - began:.1f} s "
            f"(CPU {sum(cpu_spent):.1f} s)"
        )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak resident memory of this process (store, pipeline, caches): {peak:.0f} MiB")
    finally:
        writer.close()
        store.close()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
