"""The server on PostgreSQL: the same API, a real database server, concurrent writers.

Skipped (with the reason) only where no PostgreSQL server answers on 127.0.0.1:5432;
IAMD_TEST_POSTGRES_URL points at another one (an admin connection URL, psycopg form)."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from tests.e2e.harness import Server, start_server, stop_server

ADMIN_URL = os.environ.get("IAMD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="module")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server reachable at {ADMIN_URL}: {exc}")
    name = f"iamd_e2e_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    running = start_server(tmp_path_factory.mktemp("pg") / "data", "--database-url", f"{base}/{name}")
    try:
        yield running
    finally:
        stop_server(running)
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_users_round_trip_on_postgresql(pg_server: Server) -> None:
    iam = pg_server.client()
    iam.create_user(UserName="pg-user", Path="/pg/", Tags=[{"Key": "k", "Value": "v"}])
    assert iam.get_user(UserName="pg-user")["User"]["Tags"] == [{"Key": "k", "Value": "v"}]
    assert [u["UserName"] for u in iam.list_users(PathPrefix="/pg/")["Users"]] == ["pg-user"]
    iam.delete_user(UserName="pg-user")
    assert iam.list_users(PathPrefix="/pg/")["Users"] == []


def test_concurrent_writers_on_postgresql(pg_server: Server) -> None:
    failures: list[str] = []

    def work(n: int) -> None:
        iam = pg_server.client()
        try:
            for i in range(10):
                iam.create_user(UserName=f"pg{n}-{i}", Path="/conc/")
        except Exception as exc:  # collected and asserted below
            failures.append(repr(exc))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    listed = pg_server.client().list_users(PathPrefix="/conc/", MaxItems=1000)["Users"]
    assert sorted(u["UserName"] for u in listed) == sorted(f"pg{n}-{i}" for n in range(8) for i in range(10))
