"""Fixtures: a migrated store on SQLite (a temp file) and, when a server is reachable, on
PostgreSQL (a fresh schema; 127.0.0.1:5432, user postgres or root, database ``test``, or
IAMD_TEST_PG), with one account."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from iamd.secrets import Kek
from iamd.store import Store, open_store

ACCOUNT = "111122223333"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _pg_base() -> str | None:
    candidates = (
        [os.environ["IAMD_TEST_PG"]]
        if "IAMD_TEST_PG" in os.environ
        else [f"postgresql://{user}@127.0.0.1:5432/test" for user in ("postgres", "root")]
    )
    for url in candidates:
        try:
            psycopg.connect(url, connect_timeout=3).close()
            return url
        except psycopg.Error:
            continue
    return None


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        opened = open_store(f"sqlite:///{tmp_path / 'iamd.db'}", kek=Kek.generate())
        try:
            yield opened
        finally:
            opened.close()
        return
    base = _pg_base()
    if base is None:
        pytest.skip("PostgreSQL unreachable")
    schema = f"trail_{secrets.token_hex(6)}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = (
        make_url(base)
        .set(drivername="postgresql+psycopg")
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    opened = open_store(url, kek=Kek.generate())
    try:
        yield opened
    finally:
        opened.close()
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def account(store: Store) -> str:
    store.run(lambda uow: uow.accounts.create(ACCOUNT, name="main", created_at=NOW))
    return ACCOUNT
