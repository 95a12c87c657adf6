"""Benchmark: reading IAM Access Analyzer findings, which iamd brings up to date on every read.

Run by hand:  .venv/bin/python bench/access_analyzer.py [--roles 300] [--users 150] [--reads 5]

An account gets ``--roles`` roles (a third trusting another account: an external access finding
each) and ``--users`` users with an inline policy. The server is then restarted with its clock two
days ahead (clients sign as of that clock), and ListFindingsV2 is timed over an ACCOUNT analyzer
and an ACCOUNT_UNUSED_ACCESS analyzer with ``unusedAccessAge`` 1 (every principal is old enough:
each read rebuilds every finding from the policies and the trail).
"""

from __future__ import annotations

import argparse
import configparser
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import botocore.auth
from botocore.utils import get_current_datetime
from loopback import free_port, wait_ready

AHEAD = timedelta(days=2)


def serve(data: Path, *flags: str) -> tuple[subprocess.Popen[bytes], str]:
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
            *flags,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    wait_ready(endpoint + "/iamd/health", process)
    return process, endpoint


def client(service: str, endpoint: str, data: Path) -> Any:
    creds = configparser.ConfigParser()
    creds.read(data / "credentials")
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=creds["iamd"]["aws_access_key_id"],
        aws_secret_access_key=creds["iamd"]["aws_secret_access_key"],
    )


def trust(principal: dict[str, str]) -> str:
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--roles", type=int, default=300)
    parser.add_argument("--users", type=int, default=150)
    parser.add_argument("--reads", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="iamd-bench-aa-"))
    data = root / "d"
    process, endpoint = serve(data)
    try:
        iam = client("iam", endpoint, data)
        policy = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": ["iam:Get*", "s3:*"], "Resource": "*"}],
            }
        )
        for i in range(args.roles):
            principal = {"AWS": "444455556666"} if i % 3 == 0 else {"Service": "ec2.amazonaws.com"}
            iam.create_role(RoleName=f"r{i}", AssumeRolePolicyDocument=trust(principal))
        for i in range(args.users):
            iam.create_user(UserName=f"u{i}")
            iam.put_user_policy(UserName=f"u{i}", PolicyName="p", PolicyDocument=policy)
    finally:
        process.terminate()
        process.wait()
    process, endpoint = serve(data, "--clock-offset", str(AHEAD.total_seconds()))
    clock = mock.patch.object(
        botocore.auth, "get_current_datetime", lambda **kw: get_current_datetime(**kw) + AHEAD
    )
    clock.start()
    try:
        aa = client("accessanalyzer", endpoint, data)
        analyzers = {
            "external (ACCOUNT)": aa.create_analyzer(analyzerName="external", type="ACCOUNT")["arn"],
            "unused (ACCOUNT_UNUSED_ACCESS)": aa.create_analyzer(
                analyzerName="unused",
                type="ACCOUNT_UNUSED_ACCESS",
                configuration={"unusedAccess": {"unusedAccessAge": 1}},
            )["arn"],
        }
        print(f"{args.roles} roles, {args.users} users; ListFindingsV2 (maxResults 1000), {args.reads} reads")
        for name, arn in analyzers.items():
            times, count = [], 0
            for _ in range(args.reads):
                started = time.perf_counter()
                count = len(aa.list_findings_v2(analyzerArn=arn, maxResults=1000)["findings"])
                times.append(time.perf_counter() - started)
            print(
                f"  {name:32s} {count:5d} findings  first {times[0] * 1000:6.0f} ms  "
                f"median {statistics.median(times) * 1000:6.0f} ms"
            )
    finally:
        clock.stop()
        process.terminate()
        process.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
