"""Fixtures: every store test runs on SQLite (a temp file) and on PostgreSQL.

PostgreSQL: 127.0.0.1:5432, user ``postgres`` (or ``root``), trust auth, maintenance database
``test`` (override with IAMD_TEST_PG=postgresql://user@host:port/db). One database
``iamd_test_<random>`` is created per test session and dropped at its end. In it, the migration
tests get a new empty schema each (`db_url`); the other tests share one migrated schema that the
`store` fixture empties before each test. When the server is not
reachable, the PostgreSQL variants are skipped with the reason.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from iamd.secrets import Kek, SeededIds
from iamd.store import AWS_ACCOUNT, Store, open_store
from iamd.store.engine import create_store_engine
from iamd.store.schema import Base

# The test modules repeat these (pytest runs with --import-mode=importlib: no shared imports).
ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

RawColumn = Callable[..., object]


@dataclass(frozen=True)
class PgServer:
    url: str | None  # base URL of the per-session database, or None
    reason: str


def _maintenance_urls() -> list[str]:
    if "IAMD_TEST_PG" in os.environ:
        return [os.environ["IAMD_TEST_PG"]]
    return [f"postgresql://{user}@127.0.0.1:5432/test" for user in ("postgres", "root")]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    errors = []
    for maintenance in _maintenance_urls():
        try:
            conn = psycopg.connect(maintenance, autocommit=True, connect_timeout=3)
        except psycopg.Error as exc:
            errors.append(f"{maintenance}: {exc}".strip())
            continue
        name = f"iamd_test_{secrets.token_hex(6)}"
        with conn:
            conn.execute(f"CREATE DATABASE {name}")
        url = make_url(maintenance).set(drivername="postgresql+psycopg", database=name)
        try:
            yield PgServer(url.render_as_string(hide_password=False), "")
        finally:
            with psycopg.connect(maintenance, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        return
    yield PgServer(None, "PostgreSQL unreachable: " + "; ".join(errors))


@contextmanager
def _pg_schema(server: PgServer) -> Iterator[str]:
    """A new empty schema in the session database; yields a URL whose search_path is it."""
    if server.url is None:
        pytest.skip(server.reason)
    schema = f"t_{secrets.token_hex(6)}"
    plain = make_url(server.url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield (
            make_url(server.url)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path, pg_server: PgServer) -> Iterator[str]:
    """An empty database of each backend (migrations not applied)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'iamd.db'}"
    else:
        with _pg_schema(pg_server) as url:
            yield url


@pytest.fixture(scope="session")
def pg_migrated(pg_server: PgServer) -> Iterator[str]:
    """One migrated PostgreSQL schema for the session (migrating takes about a second there);
    :func:`store` empties it before each test."""
    with _pg_schema(pg_server) as url:
        open_store(url).close()
        yield url


def _empty(url: str) -> None:
    """Back to the state right after the migrations: no rows but the "aws" pseudo-account.
    (DELETE, children first: TRUNCATE takes half a second here.)"""
    engine = create_store_engine(url)
    try:
        with engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                if table.name != "accounts":
                    conn.execute(table.delete())
            conn.execute(text("DELETE FROM accounts WHERE id <> :aws"), {"aws": AWS_ACCOUNT})
            conn.execute(text("UPDATE accounts SET generation = 0"))
    finally:
        engine.dispose()


@pytest.fixture
def kek() -> Kek:
    return Kek.generate()


@pytest.fixture(scope="session")
def sqlite_migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database file that :func:`store` copies for each test."""
    path = tmp_path_factory.mktemp("template") / "iamd.db"
    open_store(f"sqlite:///{path}").close()  # closing the last connection checkpoints the WAL
    return path


@pytest.fixture
def store(backend: str, tmp_path: Path, kek: Kek, request: pytest.FixtureRequest) -> Iterator[Store]:
    """A migrated store with two accounts."""
    if backend == "sqlite":
        path = tmp_path / "data" / "iamd.db"
        path.parent.mkdir()
        shutil.copyfile(request.getfixturevalue("sqlite_migrated"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("pg_migrated")
        _empty(url)
    opened = open_store(url, kek=kek)
    with opened.transaction() as uow:
        uow.accounts.create(ACCOUNT, name="main", created_at=NOW, email="root@example.com")
        uow.accounts.create(OTHER_ACCOUNT, name="other", created_at=NOW)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def ids() -> SeededIds:
    return SeededIds(7)


@pytest.fixture
def raw(store: Store) -> RawColumn:
    """raw(table, column, where, **params): a value as the database holds it, past the repositories."""

    def read(table: str, column: str, where: str, **params: object) -> object:
        with store.engine.connect() as conn:
            return conn.execute(text(f"SELECT {column} FROM {table} WHERE {where}"), params).scalar_one()

    return read
