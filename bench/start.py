"""Benchmark: how long ``iamd serve`` takes to answer, on a new data directory (first start:
schema, the AWS managed policies, the bootstrap administrator) and on the same data directory
again (a later start), against moto's server in the same run.

Run by hand:  .venv/bin/python bench/start.py [--runs 3] [--before SRC] [--postgres ADMIN_URL]

For each start, from the process's launch: the first 200 of ``/iamd/health`` (moto:
``/moto-api/``), polled every 10 ms, then the first answer to a signed GetUser by the bootstrap
administrator (what a client waits for), and the CPU time the server process had used at each
(from ``/proc``; steadier than the wall clock on a busy machine). Medians of ``--runs``.
``--before SRC`` also starts another checkout's ``src`` (e.g. an unpacked ``git archive`` of
main), alternating with this one; ``IAMD_BENCH_SRC`` runs only that one.
"""

from __future__ import annotations

import argparse
import configparser
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import NamedTuple

from loopback import free_port, signed

_TICKS = os.sysconf("SC_CLK_TCK")


class Start(NamedTuple):
    health: float
    health_cpu: float
    api: float
    api_cpu: float


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def until_ready(url: str, process: subprocess.Popen[bytes], started: float) -> float:
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early ({process.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return time.perf_counter() - started
        except OSError:
            time.sleep(0.01)


def get_user(endpoint: str, data: Path) -> None:
    profile = configparser.RawConfigParser()
    profile.read(data / "credentials")
    headers, body = signed(
        endpoint,
        "iam",
        "Action=GetUser&Version=2010-05-08",
        profile["iamd"]["aws_access_key_id"],
        profile["iamd"]["aws_secret_access_key"],
    )
    request = urllib.request.Request(endpoint + "/", data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200


def start_iamd(data: Path, database_url: str | None, src: str | None) -> Start:
    port = free_port()
    env = dict(os.environ)
    src = src or os.environ.get("IAMD_BENCH_SRC")
    if src:
        env["PYTHONPATH"] = src
    command = [sys.executable, "-m", "iamd.cli.main", "serve", "--data-dir", str(data), "--port", str(port)]
    if database_url:
        command += ["--database-url", database_url]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        health = until_ready(f"http://127.0.0.1:{port}/iamd/health", process, started)
        health_cpu = cpu_seconds(process.pid)
        get_user(f"http://127.0.0.1:{port}", data)
        api = time.perf_counter() - started
        return Start(health, health_cpu, api, cpu_seconds(process.pid))
    finally:
        process.terminate()
        process.wait()


def start_moto() -> float:
    port = free_port()
    moto = Path(sys.executable).parent / "moto_server"
    env = dict(os.environ, MOTO_IAM_LOAD_MANAGED_POLICIES="true")
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(moto), "-p", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        return until_ready(f"http://127.0.0.1:{port}/moto-api/", process, started)
    finally:
        process.terminate()
        process.wait()


def fresh_database(admin_url: str) -> tuple[str, str]:
    """A new PostgreSQL database: (its SQLAlchemy URL, its name)."""
    import psycopg

    name = f"iamd_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{name}", name


def drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--before", metavar="SRC", help="also start this checkout's src, alternating")
    parser.add_argument(
        "--postgres",
        metavar="ADMIN_URL",
        help="also start on a new PostgreSQL database per run (e.g. postgresql://postgres@127.0.0.1/postgres)",
    )
    args = parser.parse_args()
    sides: list[tuple[str, str | None]] = [("iamd", None)]
    if args.before:
        sides = [("before", args.before), ("after", None)]
    figures: dict[str, list[Start]] = {}
    moto: list[float] = []
    for run in range(args.runs):
        for label, src in sides if run % 2 == 0 else sides[::-1]:
            data = Path(tempfile.mkdtemp(prefix="iamd-bench-start-"))
            try:
                figures.setdefault(f"{label} first start (SQLite)", []).append(
                    start_iamd(data / "d", None, src)
                )
                figures.setdefault(f"{label} later start (SQLite)", []).append(
                    start_iamd(data / "d", None, src)
                )
                if args.postgres:
                    url, name = fresh_database(args.postgres)
                    try:
                        figures.setdefault(f"{label} first start (PostgreSQL)", []).append(
                            start_iamd(data / "pg", url, src)
                        )
                    finally:
                        drop_database(args.postgres, name)
            finally:
                shutil.rmtree(data, ignore_errors=True)
        moto.append(start_moto())
    print(f"median of {args.runs} starts, from launch:   health (CPU)   |   first GetUser answered (CPU)")
    for name, starts in figures.items():
        health, health_cpu, api, api_cpu = (statistics.median(column) for column in zip(*starts, strict=True))
        print(f"  {name:<34} {health:5.2f} s ({health_cpu:4.2f} s)  |  {api:5.2f} s ({api_cpu:4.2f} s)")
    print(f"  {'moto_server start':<34} {statistics.median(moto):5.2f} s")


if __name__ == "__main__":
    main()
