"""Benchmark: what SCPs cost a request. GetUser per second by a user of a member account under
SCPs at four levels (the root, an OU, a nested OU and the account itself: FullAWSAccess plus a
conditional Deny at each), against a user of a standalone account with no SCPs, on the same
server in the same run; then the authorization step alone, in process, for both.

Run by hand:  .venv/bin/python bench/organizations.py [--seconds 10] [--threads 4] [--rounds 2]

The standalone account is made with ``iamd account create``; the member with Organizations'
CreateAccount and set up through its OrganizationAccountAccessRole. Requests are signed once per
thread and replayed over keep-alive connections (bench/loopback.py), so the figure is the
server's. The two are measured alternately, ``--rounds`` times each, to spread machine noise.
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
from pathlib import Path
from typing import Any

import boto3
from loopback import figures, free_port, hammer, signed, wait_ready

ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"


def client(endpoint: str, service: str, key: str, secret: str, token: str | None = None) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
    )


def bench_user(iam: Any) -> tuple[str, str]:
    iam.create_user(UserName="bench")
    iam.attach_user_policy(UserName="bench", PolicyArn=ADMIN_POLICY)
    key = iam.create_access_key(UserName="bench")["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def deny_scp(orgs: Any, level: str) -> str:
    content = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": ["ec2:*", "s3:DeleteBucket", "iam:DeleteAccountPasswordPolicy"],
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}},
            },
            {
                "Effect": "Deny",
                "Action": "iam:CreateUser",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalTag/blocked": "true"}},
            },
        ],
    }
    return str(
        orgs.create_policy(
            Name=f"guard-{level}", Description="", Type="SERVICE_CONTROL_POLICY", Content=json.dumps(content)
        )["Policy"]["PolicySummary"]["Id"]
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="iamd-bench-")) / "d"
    port = free_port()
    serve = [sys.executable, "-m", "iamd.cli.main", "serve", "--data-dir", str(data), "--port", str(port)]
    process = subprocess.Popen(serve, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        wait_ready(endpoint + "/iamd/health", process)
        created = subprocess.run(
            [
                sys.executable,
                "-m",
                "iamd.cli.main",
                "account",
                "create",
                "--data-dir",
                str(data),
                "--name",
                "solo",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        solo_id = created.stdout.split("created account ")[1].split(";")[0]
        creds = configparser.ConfigParser()
        creds.read(data / "credentials")
        mgmt = creds["iamd"]["aws_access_key_id"], creds["iamd"]["aws_secret_access_key"]
        solo = (
            creds[f"iamd-{solo_id}"]["aws_access_key_id"],
            creds[f"iamd-{solo_id}"]["aws_secret_access_key"],
        )

        orgs = client(endpoint, "organizations", *mgmt)
        orgs.create_organization()
        root = orgs.list_roots()["Roots"][0]["Id"]
        outer = orgs.create_organizational_unit(ParentId=root, Name="outer")["OrganizationalUnit"]["Id"]
        inner = orgs.create_organizational_unit(ParentId=outer, Name="inner")["OrganizationalUnit"]["Id"]
        status = orgs.create_account(AccountName="member", Email="member@example.com")["CreateAccountStatus"]
        member = orgs.describe_create_account_status(CreateAccountRequestId=status["Id"])[
            "CreateAccountStatus"
        ]["AccountId"]
        orgs.move_account(AccountId=member, SourceParentId=root, DestinationParentId=inner)
        for level, target in (("root", root), ("outer", outer), ("inner", inner), ("account", member)):
            orgs.attach_policy(PolicyId=deny_scp(orgs, level), TargetId=target)
        role = client(endpoint, "sts", *mgmt).assume_role(
            RoleArn=f"arn:aws:iam::{member}:role/OrganizationAccountAccessRole", RoleSessionName="bench"
        )["Credentials"]
        member_iam = client(
            endpoint, "iam", role["AccessKeyId"], role["SecretAccessKey"], role["SessionToken"]
        )
        member_key = bench_user(member_iam)
        solo_key = bench_user(client(endpoint, "iam", *solo))

        body = "Action=GetUser&Version=2010-05-08&UserName=bench"
        requests = {
            "member (SCPs at root, 2 OUs, account)": signed(endpoint, "iam", body, *member_key),
            "standalone (no SCPs)": signed(endpoint, "iam", body, *solo_key),
        }
        results: dict[str, tuple[int, float, list[float]]] = {name: (0, 0.0, []) for name in requests}
        for request in requests.values():
            hammer(port, request, 1.0, args.threads)  # warm-up: caches filled
        for _ in range(args.rounds):
            for name, request in requests.items():
                rate, latencies = hammer(port, request, args.seconds, args.threads)
                count, rates, merged = results[name]
                results[name] = (count + 1, rates + rate, sorted(merged + latencies))
        print(f"{args.threads} client threads, {args.rounds} x {args.seconds:.0f} s each, one server process")
        rates = {}
        for name, (count, total, latencies) in results.items():
            rates[name] = total / count
            print(f"{name:>45}: {rates[name]:8.1f} GetUser/s   {figures(latencies)}")
        member_rate, solo_rate = rates.values()
        print(f"member / standalone throughput: {member_rate / solo_rate:.3f}")
    finally:
        process.terminate()
        process.wait()
    try:
        in_process(data, {"member": member_key[0], "standalone": solo_key[0]})
    finally:
        shutil.rmtree(data.parent, ignore_errors=True)


def in_process(data: Path, keys: dict[str, str], iterations: int = 20000) -> None:
    """The authorization step alone (``Authorizer.decide``: organization keys, cached SCP levels,
    evaluation), in this process on the server's database: less noisy than the loopback figure
    on a shared machine."""
    import time
    from datetime import UTC, datetime

    from iamd.catalog import rcp_services
    from iamd.secrets.kek import load_kek
    from iamd.server.authorizer import Authorizer
    from iamd.server.caller import caller_for_key
    from iamd.services.framework import RequestInfo
    from iamd.store.engine import default_url
    from iamd.store.store import open_store

    store = open_store(default_url(data), kek=load_kek(data), migrate=False)
    authorizer = Authorizer(rcp_services())
    now = datetime.now(UTC)
    info = RequestInfo("bench", "iam", "GetUser", "us-east-1", "127.0.0.1", "bench", False, now)
    try:
        with store.transaction(readonly=True) as uow:
            for name, key_id in keys.items():
                signing = uow.access_keys.signing_key(key_id)
                assert signing is not None
                caller = caller_for_key(uow, signing.key)
                generations = uow.accounts.generations([caller.account_id, "aws"])
                resource = f"arn:aws:iam::{caller.account_id}:user/bench"
                decide = authorizer.decide
                decide(uow, caller, info, now, "iam:GetUser", resource, generations=generations)
                started = time.perf_counter()
                for _ in range(iterations):
                    decide(uow, caller, info, now, "iam:GetUser", resource, generations=generations)
                each = (time.perf_counter() - started) / iterations
                if os.environ.get("BENCH_PROFILE"):
                    import cProfile
                    import pstats

                    profile = cProfile.Profile()
                    profile.enable()
                    for _ in range(iterations):
                        decide(uow, caller, info, now, "iam:GetUser", resource, generations=generations)
                    profile.disable()
                    pstats.Stats(profile).sort_stats("tottime").print_stats(12)
                print(f"{name:>12}: Authorizer.decide {each * 1e6:7.1f} µs per request (in process)")
    finally:
        store.close()


if __name__ == "__main__":
    main()
