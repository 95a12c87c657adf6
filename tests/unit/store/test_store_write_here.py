"""Store.begin_write_here: a write begun on the calling thread only when nothing makes it wait
(SQLite, a database file); the next write of that thread takes the begun transaction."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime

import pytest

from iamd.store import Store

ACCOUNT = "111122223333"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _sqlite_only(store: Store) -> None:
    if store.backend != "sqlite":
        assert not store.writes_here
        assert not store.begin_write_here()  # PostgreSQL's writers overlap: nothing to take
        pytest.skip("SQLite's kept writer only")


def _user(store: Store, n: int) -> None:
    with store.transaction() as uow:
        uow.users.create(ACCOUNT, user_id=f"AIDA{n:017d}", name=f"u{n}", path="/", created_at=NOW)


def _names(store: Store) -> list[str]:
    with store.transaction(readonly=True) as uow:
        return [u.name for u in uow.users.list(ACCOUNT).items]


def test_a_write_takes_the_transaction_begun_here(store: Store) -> None:
    _sqlite_only(store)
    assert store.writes_here
    assert store.begin_write_here()
    try:
        _user(store, 1)
        _user(store, 2)  # the next one begins its own, as ever
    finally:
        store.end_write_here()
    assert _names(store) == ["u1", "u2"]
    _user(store, 3)  # the lock was given back
    assert _names(store) == ["u1", "u2", "u3"]


def test_a_transaction_begun_and_not_taken_is_rolled_back(store: Store) -> None:
    _sqlite_only(store)
    assert store.begin_write_here()
    store.end_write_here()
    _user(store, 1)
    assert _names(store) == ["u1"]


def test_nothing_is_begun_while_another_thread_writes(store: Store) -> None:
    _sqlite_only(store)
    inside, release = threading.Event(), threading.Event()

    def long_write() -> None:
        with store.transaction() as uow:
            uow.users.create(ACCOUNT, user_id="AIDA00000000000000009", name="u9", path="/", created_at=NOW)
            inside.set()
            release.wait(10)

    writer = threading.Thread(target=long_write)
    writer.start()
    try:
        assert inside.wait(10)
        began = time.monotonic()
        assert not store.begin_write_here()
        assert time.monotonic() - began < 0.5  # it did not wait for the other write
    finally:
        release.set()
        writer.join(10)
    assert store.begin_write_here()  # free again
    store.end_write_here()


def test_nothing_is_begun_while_another_process_holds_the_database(store: Store) -> None:
    _sqlite_only(store)
    database = store.engine.url.database
    assert database
    other = sqlite3.connect(database, timeout=0, isolation_level=None, check_same_thread=False)
    try:
        other.execute("BEGIN IMMEDIATE")
        began = time.monotonic()
        assert not store.begin_write_here()  # the busy handler would have waited 30 s
        assert time.monotonic() - began < 0.5
        other.execute("ROLLBACK")
        # Nothing was left held: a write waits no longer, and its busy timeout is back.
        _user(store, 1)
        other.execute("BEGIN IMMEDIATE")
        release = threading.Timer(0.3, lambda: other.execute("ROLLBACK"))
        release.start()
        began = time.monotonic()
        _user(store, 2)  # waits for the other process, as writes on threads do
        assert time.monotonic() - began >= 0.2
        release.join()
    finally:
        other.close()
    assert _names(store) == ["u1", "u2"]
