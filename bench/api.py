"""Benchmark: GetUser requests per second, iamd against moto's server, in the same run.

Run by hand:  .venv/bin/python bench/api.py [--seconds 10] [--threads 4]

Both servers run on loopback as real processes. Both verify the SigV4 signature and enforce IAM
policies: moto with INITIAL_NO_AUTH_ACTION_COUNT (auth on after the set-up calls), iamd always.
Each server gets a user whose access key signs the GetUser calls; requests are signed with
botocore once per thread and sent again and again over one keep-alive connection per thread, so
the figure is the server's, not the client's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import boto3
from loopback import figures, free_port, hammer, signed, wait_ready

ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"


def run_iamd(seconds: float, threads: int) -> tuple[float, list[float]]:
    data = Path(tempfile.mkdtemp(prefix="iamd-bench-"))
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "iamd.cli.main",
            "serve",
            "--data-dir",
            str(data / "d"),
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        wait_ready(endpoint + "/iamd/health", process)
        import configparser

        creds = configparser.ConfigParser()
        creds.read(data / "d" / "credentials")
        admin = boto3.client(
            "iam",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=creds["iamd"]["aws_access_key_id"],
            aws_secret_access_key=creds["iamd"]["aws_secret_access_key"],
        )
        return measure(admin, endpoint, port, seconds, threads)
    finally:
        process.terminate()
        process.wait()
        shutil.rmtree(data, ignore_errors=True)


def run_moto(seconds: float, threads: int) -> tuple[float, list[float]]:
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
    try:
        endpoint = f"http://127.0.0.1:{port}"
        wait_ready(endpoint + "/moto-api/", process)
        admin = boto3.client(
            "iam",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="AKIAEXAMPLEEXAMPLE00",
            aws_secret_access_key="x" * 40,
        )
        return measure(admin, endpoint, port, seconds, threads)
    finally:
        process.terminate()
        process.wait()


def measure(
    admin: object, endpoint: str, port: int, seconds: float, threads: int
) -> tuple[float, list[float]]:
    # Three set-up calls (moto lets exactly these through unauthenticated).
    admin.create_user(UserName="bench")  # type: ignore[attr-defined]
    admin.attach_user_policy(UserName="bench", PolicyArn=ADMIN_POLICY)  # type: ignore[attr-defined]
    key = admin.create_access_key(UserName="bench")["AccessKey"]  # type: ignore[attr-defined]
    body = "Action=GetUser&Version=2010-05-08&UserName=bench"
    request = signed(endpoint, "iam", body, key["AccessKeyId"], key["SecretAccessKey"])
    hammer(port, request, 1.0, threads)  # warm-up
    return hammer(port, request, seconds, threads)


def report(name: str, rate: float, latencies: list[float]) -> None:
    print(f"{name:>5}: {rate:8.1f} GetUser/s   {figures(latencies)}   ({len(latencies)} requests)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    iamd_rate, iamd_lat = run_iamd(args.seconds, args.threads)
    moto_rate, moto_lat = run_moto(args.seconds, args.threads)
    print(f"{args.threads} client threads, {args.seconds:.0f} s each, one server process each")
    report("iamd", iamd_rate, iamd_lat)
    report("moto", moto_rate, moto_lat)
    print(f"ratio iamd/moto: {iamd_rate / moto_rate:.2f}x")


if __name__ == "__main__":
    main()
