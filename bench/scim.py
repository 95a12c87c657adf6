"""Benchmark: SCIM provisioning against a large identity store, through the real server.

Builds, directly through the store (one transaction, as SCIM's CreateUser would store them), an
identity store of ``--users`` users (default 10,000) and ``--groups`` groups (default 100), the
first group holding ``--members`` of the users (default 1,000); then starts ``iamd serve`` on it
and times what an identity provider (Okta, Entra ID) sends while it syncs: pages of users and
groups with ``startIndex``/``count``, ``userName`` filters, and one group with its members. With
``--before SRC`` the same data is served by that source tree too (e.g. a ``git archive`` of an
earlier commit, compiled), in the same run.

Run by hand:  .venv/bin/python bench/scim.py [--users 10000] [--before /tmp/base/src]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import boto3
import httpx
from loopback import free_port, wait_ready

from iamd.scim.resources import user_from_scim
from iamd.secrets.kek import load_kek
from iamd.store.engine import default_url
from iamd.store.store import open_store

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"


@contextmanager
def serving(data: Path, src: str | None) -> Iterator[str]:
    """``iamd serve`` on ``data`` (from ``src`` when given): its endpoint, until the block ends."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=src) if src else None
    process = subprocess.Popen(
        [sys.executable, "-m", "iamd.cli.main", "serve", "--data-dir", str(data), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        wait_ready(endpoint + "/iamd/health", process)
        yield endpoint
    finally:
        process.terminate()
        process.wait()


def identity_store(data: Path, endpoint: str) -> tuple[str, str]:
    """An Identity Center instance made through sso-admin, and a SCIM token: (store id, token)."""
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(data / "credentials")
    os.environ["AWS_CONFIG_FILE"] = str(data / "config")
    sso = boto3.Session(profile_name="iamd").client("sso-admin", endpoint_url=endpoint)
    arn = sso.create_instance(Name="bench")["InstanceArn"]
    store_id = sso.describe_instance(InstanceArn=arn)["IdentityStoreId"]
    made = subprocess.run(
        [sys.executable, "-m", "iamd.cli.main", "sso", "scim-token", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        check=True,
    )
    return store_id, json.loads(made.stdout)["token"]


def build(data: Path, store_id: str, users: int, groups: int, members: int) -> None:
    store = open_store(default_url(data), kek=load_kek(data))
    now = datetime.now(UTC)
    with store.transaction() as uow:
        repo = uow.identity_store
        user_ids = []
        for n in range(users):
            name, attributes, _, _ = user_from_scim(
                {
                    "schemas": [USER_URN],
                    "userName": f"user{n:06d}@example.com",
                    "displayName": f"User {n}",
                    "name": {"givenName": "User", "familyName": str(n)},
                    "emails": [{"value": f"user{n:06d}@example.com", "primary": True}],
                }
            )
            made = repo.create_user(
                store_id, user_name=name, attributes=attributes, created_at=now, created_by="bench"
            )
            user_ids.append(made.id)
        group_ids = [
            repo.create_group(
                store_id, display_name=f"group-{g:04d}", description=None, created_at=now, created_by="bench"
            ).id
            for g in range(groups)
        ]
        for user_id in user_ids[:members]:
            repo.add_member(store_id, group_ids[0], user_id, created_at=now, created_by="bench")
    store.engine.dispose()


def timings(endpoint: str, token: str, users: int, rounds: int) -> dict[str, float]:
    """Median milliseconds of each request over ``rounds`` turns."""
    http = httpx.Client(
        base_url=endpoint + "/scim/v2/", headers={"Authorization": f"Bearer {token}"}, timeout=300
    )
    first_group = http.get("Groups", params={"filter": 'displayName eq "group-0000"'}).json()
    group_id = first_group["Resources"][0]["id"]
    requests = {
        "Users page 1 (100)": ("Users", {"count": "100"}),
        "Users middle page": ("Users", {"startIndex": str(users // 2), "count": "100"}),
        "Users last page": ("Users", {"startIndex": str(users - 99), "count": "100"}),
        "userName eq": ("Users", {"filter": f'userName eq "user{users // 3:06d}@example.com"'}),
        "userName sw (100 match)": ("Users", {"filter": 'userName sw "user0001"'}),
        "Groups page 1 (100)": ("Groups", {"count": "100", "excludedAttributes": "members"}),
        "group with its members": (f"Groups/{group_id}", {}),
    }
    out: dict[str, float] = {}
    for label, (path, params) in requests.items():
        spent = []
        for _ in range(rounds):
            started = time.perf_counter()
            answer = http.get(path, params=params)
            spent.append((time.perf_counter() - started) * 1000)
            if answer.status_code != 200:
                raise RuntimeError(f"{label}: {answer.status_code} {answer.text[:200]}")
        out[label] = statistics.median(spent)
    http.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--members", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--before", help="another source tree's src directory, served in the same run")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="iamd-scim-bench-"))
    data = work / "d"
    try:
        with serving(data, None) as endpoint:
            store_id, token = identity_store(data, endpoint)
        started = time.perf_counter()
        build(data, store_id, args.users, args.groups, min(args.members, args.users))
        print(f"built {args.users:,} users, {args.groups} groups in {time.perf_counter() - started:.1f} s")
        sides = {"iamd": None} | ({"before": args.before} if args.before else {})
        results = {}
        for side, src in sides.items():
            with serving(data, src) as endpoint:
                results[side] = timings(endpoint, token, args.users, args.rounds)
        print(f"{'median ms':<28}" + "".join(f"{side:>12}" for side in results))
        for label in results["iamd"]:
            line = f"{label:<28}" + "".join(f"{results[side][label]:>12.1f}" for side in results)
            if "before" in results:
                line += f"   before/iamd {results['before'][label] / results['iamd'][label]:.1f}x"
            print(line)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
