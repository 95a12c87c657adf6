"""Benchmark: ``iamd review`` of an account with 10,000 IAM users and 2,000 roles.

Run by hand:  .venv/bin/python bench/review.py [--users 10000] [--roles 2000]

The account is made directly through the store (the API's quotas are 5,000 users and 1,000 roles):
50 groups with a managed policy each, users in one or two groups, a tenth with an inline policy of
their own, a third with a console password, half with an access key; roles trusting EC2, Lambda or
another account, each with an inline policy, a tenth with an AWS managed policy; a few
administrators and a few principals that can escalate. Then a real ``iamd serve`` exports it the way
docs/review.md says (GetAccountAuthorizationDetails and the credential report, through the API;
last-accessed data is written from the principals' policies, one file per principal, since
12,000 jobs through the API would time the server, not the review), and the review of that export
is timed: loading, every check, and the HTML page.
"""

from __future__ import annotations

import argparse
import configparser
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from loopback import free_port, wait_ready

from iamd.practices import review
from iamd.practices.export import load_export
from iamd.practices.html import render_html
from iamd.secrets.ids import RandomIds
from iamd.secrets.kek import load_kek
from iamd.server.bootstrap import bootstrap, write_profile
from iamd.store.engine import default_url
from iamd.store.schema import AWS_ACCOUNT
from iamd.store.store import open_store
from iamd.store.unit import UnitOfWork

ACCOUNT = "123456789012"
CHUNK = 2000
SERVICES = ("s3", "ec2", "dynamodb", "sqs", "sns", "lambda", "logs", "cloudwatch", "kms", "secretsmanager")


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def populate(data: Path, users: int, roles: int) -> None:
    store = open_store(default_url(data), kek=load_kek(data))
    ids = RandomIds()
    now = datetime.now(UTC)
    rng = random.Random(7)
    bootstrap(store, ids, now, ACCOUNT)
    write_profile(data, ACCOUNT, "http://127.0.0.1")
    started = time.perf_counter()

    def setup(uow: UnitOfWork) -> tuple[list[str], str, str]:
        groups = []
        for g in range(50):
            service = SERVICES[g % len(SERVICES)]
            actions = [f"{service}:Get*", f"{service}:List*"] if g % 5 else [f"{service}:*"]
            policy = uow.policies.create(
                ACCOUNT,
                policy_id=ids.policy_id(),
                name=f"team-{g:02d}",
                path="/",
                document=doc({"Effect": "Allow", "Action": actions, "Resource": "*"}),
                created_at=now,
            )
            group = uow.groups.create(
                ACCOUNT, group_id=ids.group_id(), name=f"team-{g:02d}", path="/", created_at=now
            )
            uow.policies.attach(policy.id, "group", group.id, account_id=ACCOUNT)
            groups.append(group.id)
        admin = uow.policies.get(AWS_ACCOUNT, "AdministratorAccess").id
        readonly = uow.policies.get(AWS_ACCOUNT, "ReadOnlyAccess").id
        return groups, admin, readonly

    groups, admin, readonly = store.run(setup)
    for first in range(0, users, CHUNK):

        def add_users(uow: UnitOfWork, first: int = first) -> None:
            for n in range(first, min(first + CHUNK, users)):
                created = now - timedelta(days=n % 500)
                user = uow.users.create(
                    ACCOUNT, user_id=ids.user_id(), name=f"user-{n:05d}", path="/", created_at=created
                )
                uow.groups.add_member(groups[n % 50], user.id)
                if n % 7 == 0:
                    uow.groups.add_member(groups[(n * 3 + 1) % 50], user.id)
                if n % 10 == 0:
                    actions = ["iam:AttachUserPolicy"] if n % 1000 == 0 else ["s3:GetObject", "s3:PutObject"]
                    uow.inline_policies.put(
                        ACCOUNT,
                        "user",
                        user.id,
                        "own",
                        doc({"Effect": "Allow", "Action": actions, "Resource": "*"}),
                    )
                if n % 2500 == 0:
                    uow.policies.attach(admin, "user", user.id, account_id=ACCOUNT)
                if n % 3 == 0:
                    uow.login_profiles.create(
                        user.id, password_hash="$argon2id$bench", reset_required=False, created_at=created
                    )
                if n % 2 == 0:
                    key_id = ids.access_key_id()
                    uow.access_keys.create(
                        ACCOUNT,
                        key_id=key_id,
                        user_id=user.id,
                        secret_access_key=ids.secret_access_key(),
                        created_at=created,
                    )
                    if n % 4 == 0:
                        uow.access_keys.record_use(key_id, now - timedelta(days=n % 120), "s3", "us-east-1")

        store.run(add_users)
        print(
            f"\r  {min(first + CHUNK, users):,} users ({time.perf_counter() - started:.0f} s)",
            end="",
            flush=True,
        )
    print()
    trusts = (
        doc({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}),
        doc(
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ),
        doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                "Action": "sts:AssumeRole",
            }
        ),
    )
    for first in range(0, roles, CHUNK):

        def add_roles(uow: UnitOfWork, first: int = first) -> None:
            for n in range(first, min(first + CHUNK, roles)):
                role = uow.roles.create(
                    ACCOUNT,
                    role_id=ids.role_id(),
                    name=f"role-{n:05d}",
                    path="/",
                    trust_policy=trusts[n % 3],
                    created_at=now - timedelta(days=n % 300),
                )
                service = SERVICES[rng.randrange(len(SERVICES))]
                actions = (
                    ["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"]
                    if n % 400 == 0
                    else [
                        f"{service}:Get*",
                        f"{service}:Put*",
                    ]
                )
                uow.inline_policies.put(
                    ACCOUNT,
                    "role",
                    role.id,
                    "work",
                    doc({"Effect": "Allow", "Action": actions, "Resource": "*"}),
                )
                if n % 10 == 0:
                    uow.policies.attach(readonly, "role", role.id, account_id=ACCOUNT)
                if n % 500 == 1:
                    uow.policies.attach(admin, "role", role.id, account_id=ACCOUNT)

        store.run(add_roles)
    print(f"  {roles:,} roles ({time.perf_counter() - started:.0f} s)")
    store.close()


def export(data: Path, out: Path) -> float:
    """The export through a real ``iamd serve``: authorization details, credential report, password
    policy, account summary; then last-accessed files written from each principal's policies."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "iamd.cli.main", "serve", "--data-dir", str(data), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        wait_ready(endpoint + "/iamd/health", process)
        creds = configparser.ConfigParser()
        creds.read(data / "credentials")
        iam: Any = boto3.client(
            "iam",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=creds["iamd"]["aws_access_key_id"],
            aws_secret_access_key=creds["iamd"]["aws_secret_access_key"],
            config=boto3.session.Config(read_timeout=600),
        )
        started = time.perf_counter()
        merged: dict[str, list[Any]] = {
            "UserDetailList": [],
            "GroupDetailList": [],
            "RoleDetailList": [],
            "Policies": [],
        }
        for page in iam.get_paginator("get_account_authorization_details").paginate():
            for key in merged:
                merged[key].extend(page.get(key, []))
        out.mkdir(parents=True)
        (out / "authorization-details.json").write_text(json.dumps(merged, default=str))
        while iam.generate_credential_report()["State"] != "COMPLETE":
            time.sleep(0.5)
        (out / "credential-report.csv").write_bytes(iam.get_credential_report()["Content"])
        (out / "password-policy.json").write_text("")
        (out / "account-summary.json").write_text(json.dumps(iam.get_account_summary(), default=str))
        seconds = time.perf_counter() - started
    finally:
        process.terminate()
        process.wait()
    rng = random.Random(11)
    now = datetime.now(UTC)
    for kind, key, name_key in (
        ("user", "UserDetailList", "UserName"),
        ("role", "RoleDetailList", "RoleName"),
    ):
        folder = out / "last-accessed" / kind
        folder.mkdir(parents=True)
        for entry in merged[key]:
            services = sorted(
                {
                    a.split(":")[0]
                    for p in entry.get("UserPolicyList", entry.get("RolePolicyList", []))
                    for s in p["PolicyDocument"]["Statement"]
                    for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
                }
                | {rng.choice(SERVICES)}
            )
            answer = {
                "JobStatus": "COMPLETED",
                "ServicesLastAccessed": [
                    {
                        "ServiceNamespace": s,
                        "ServiceName": s,
                        "TotalAuthenticatedEntities": 1,
                        **(
                            {"LastAuthenticated": (now - timedelta(days=rng.randrange(200))).isoformat()}
                            if rng.random() < 0.6
                            else {}
                        ),
                    }
                    for s in services
                ],
            }
            (folder / f"{entry[name_key]}.json").write_text(json.dumps(answer))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--roles", type=int, default=2_000)
    parser.add_argument("--keep", metavar="DIR", help="use (and keep) this directory")
    args = parser.parse_args()
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="iamd-bench-review-"))
    data, out = base / "data", base / "export"
    try:
        if not (data / "iamd.db").exists():
            print(f"creating {args.users:,} users and {args.roles:,} roles through the store in {data} …")
            populate(data, args.users, args.roles)
        if not out.exists():
            seconds = export(data, out)
            print(f"export through iamd serve: {seconds:.1f} s")
        started = time.perf_counter()
        snapshot = load_export(out)
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        report = review(snapshot)
        checked = time.perf_counter() - started
        started = time.perf_counter()
        page = render_html(report)
        rendered = time.perf_counter() - started
        print(
            f"review of {len(snapshot.users):,} users, {len(snapshot.roles):,} roles: load {loaded:.1f} s, "
            f"checks {checked:.1f} s, HTML {rendered:.1f} s ({len(page) / 1e6:.1f} MB); "
            f"total {loaded + checked + rendered:.1f} s; {len(report.findings):,} findings"
        )
        slowest = sorted(
            ((r.check.id, len(r.findings)) for r in report.results if r.findings), key=lambda x: -x[1]
        )
        print("findings per check:", ", ".join(f"{c} {n}" for c, n in slowest))
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
