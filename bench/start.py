"""Benchmark: how long ``iamd serve`` takes to answer its health check, on a new data directory
(first start: schema, the AWS managed policies, the bootstrap administrator) and on the same data
directory again (a later start), against moto's server in the same run.

Run by hand:  .venv/bin/python bench/start.py [--runs 3] [--database-url postgresql+psycopg://…]

Each figure is the median of ``--runs`` starts, from the process's launch to the first 200 of
``/iamd/health`` (moto: ``/moto-api/``), polled every 10 ms. ``IAMD_BENCH_SRC`` runs another
checkout's ``src`` (e.g. an unpacked ``git archive`` of main) for a before/after comparison.
"""

from __future__ import annotations

import argparse
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

from loopback import free_port


def until_ready(url: str, process: subprocess.Popen[bytes], started: float) -> float:
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early ({process.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return time.perf_counter() - started
        except OSError:
            time.sleep(0.01)


def start_iamd(data: Path, database_url: str | None) -> float:
    port = free_port()
    env = dict(os.environ)
    if os.environ.get("IAMD_BENCH_SRC"):
        env["PYTHONPATH"] = os.environ["IAMD_BENCH_SRC"]
    command = [sys.executable, "-m", "iamd.cli.main", "serve", "--data-dir", str(data), "--port", str(port)]
    if database_url:
        command += ["--database-url", database_url]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return until_ready(f"http://127.0.0.1:{port}/iamd/health", process, started)
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
    parser.add_argument(
        "--postgres",
        metavar="ADMIN_URL",
        help="also start on a new PostgreSQL database per run (e.g. postgresql://postgres@127.0.0.1/postgres)",
    )
    args = parser.parse_args()
    first: list[float] = []
    later: list[float] = []
    first_pg: list[float] = []
    moto: list[float] = []
    for _ in range(args.runs):
        data = Path(tempfile.mkdtemp(prefix="iamd-bench-start-"))
        try:
            first.append(start_iamd(data / "d", None))
            later.append(start_iamd(data / "d", None))
            if args.postgres:
                url, name = fresh_database(args.postgres)
                try:
                    first_pg.append(start_iamd(data / "pg", url))
                finally:
                    drop_database(args.postgres, name)
        finally:
            shutil.rmtree(data, ignore_errors=True)
        moto.append(start_moto())
    print(f"median of {args.runs} starts, launch to first health answer")
    print(f"  iamd first start (SQLite)      {statistics.median(first):6.2f} s")
    print(f"  iamd later start (SQLite)      {statistics.median(later):6.2f} s")
    if first_pg:
        print(f"  iamd first start (PostgreSQL)  {statistics.median(first_pg):6.2f} s")
    print(f"  moto_server start              {statistics.median(moto):6.2f} s")


if __name__ == "__main__":
    main()
