"""SQLite's WAL checkpoints on the store's own thread (iamd.store.checkpoint): the log is copied
back into the database file while writes go on, writers' connections checkpoint only past the
backstop, a reader's open snapshot neither blocks nor is disturbed, and closing the store stops
the thread."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.unit.store.helpers import ACCOUNT, add_user, prepared_names

from iamd.secrets import SeededIds
from iamd.store import Store
from iamd.store.checkpoint import BACKSTOP_PAGES, INTERVAL


def _database(store: Store) -> Path:
    database = store.engine.url.database
    assert database
    return Path(database)


def _in_file(path: Path) -> int:
    """The users the database file itself holds, its log ignored (SQLite's ``immutable``: what
    checkpoints have copied so far), read without copying anything."""
    with sqlite3.connect(f"file:{path}?immutable=1", uri=True) as probe:
        return int(probe.execute("SELECT count(*) FROM users").fetchone()[0])


def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(INTERVAL)


def _checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "iamd-checkpoint"]


def test_writes_are_checkpointed_by_the_stores_thread(store: Store, ids: SeededIds) -> None:
    if store.backend != "sqlite":
        pytest.skip("PostgreSQL checkpoints on its own")
    checkpointer = store._checkpointer
    assert checkpointer is not None
    with store.engine.connect() as conn:  # a writer's connection: checkpoints only past the backstop
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == BACKSTOP_PAGES
    before = checkpointer.checkpoints
    for n in range(300):  # more than SQLite's default of 1,000 pages of log
        with store.transaction() as uow:
            add_user(uow, f"user-{n}", ids)
    # No writer copied the log (they stop at the backstop): the thread did, soon after.
    _until(lambda: _in_file(_database(store)) == 300, "the log was not checkpointed")
    assert checkpointer.checkpoints > before
    with store.transaction(readonly=True) as uow:
        assert len(prepared_names(uow)) == 300


def test_a_long_reader_is_not_disturbed_and_writes_go_on(store: Store, ids: SeededIds) -> None:
    if store.backend != "sqlite":
        pytest.skip("SQLite only")
    with store.transaction() as uow:
        add_user(uow, "first", ids)
    with store.transaction(readonly=True) as reader:
        assert prepared_names(reader) == ["first"]
        for n in range(50):  # while the reader's snapshot is open: checkpoints copy around it
            with store.transaction() as uow:
                add_user(uow, f"later-{n}", ids)
        time.sleep(3 * INTERVAL)
        assert prepared_names(reader) == ["first"]
        # What the reader may still need stays in the log meanwhile.
        assert _in_file(_database(store)) < 51
    with store.transaction() as uow:  # the next write's checkpoint copies it all
        add_user(uow, "after", ids)
    _until(lambda: _in_file(_database(store)) == 52, "the log was not checkpointed after the read")


def test_closing_the_store_stops_its_thread(tmp_path: Path, ids: SeededIds) -> None:
    from iamd.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'iamd.db'}")
    threads = set(_checkpoint_threads())
    with store.transaction(readonly=True) as uow:  # a read starts nothing
        uow.accounts.find(ACCOUNT)
    assert set(_checkpoint_threads()) == threads
    from datetime import UTC, datetime

    with store.transaction() as uow:
        uow.accounts.create(ACCOUNT, name="main", created_at=datetime.now(UTC))
    started = set(_checkpoint_threads()) - threads
    assert len(started) == 1
    store.close()
    assert not any(t.is_alive() for t in started)
    assert not (tmp_path / "iamd.db-wal").exists() or (tmp_path / "iamd.db-wal").stat().st_size == 0
