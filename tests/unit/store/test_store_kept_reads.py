"""Read-only transactions on a connection kept for one thread (Store.keep_reads, SQLite; the
server's event loop): the same transactions as on a pooled connection (one snapshot for prepared,
ORM and Core reads in any order; ended with the block, whatever happens in it; writes refused),
a read inside another or on another thread on a pooled connection, and a lost or failing
connection replaced."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.unit.store.helpers import BROKEN, READS, add_user, orm_names, prepared_names

from iamd.secrets import SeededIds
from iamd.store import Store, StoreError, UnitOfWork, open_store
from iamd.store.schema import Account
from iamd.store.store import KeptReadSession, ReadSession

ACCOUNT = "111122223333"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(f"sqlite:///{tmp_path / 'iamd.db'}")
    with store.transaction() as uow:
        uow.session.add(Account(id=ACCOUNT, name="test", email="test@example.com", created_at=NOW))
    store.keep_reads()
    yield store
    store.close()


def _driver(uow: UnitOfWork) -> sqlite3.Connection:
    session = uow.session
    assert isinstance(session, KeptReadSession)
    return session._driver


@pytest.mark.parametrize("first", sorted(READS))
@pytest.mark.parametrize("second", sorted(READS))
def test_reads_of_every_kind_share_one_snapshot(
    store: Store, ids: SeededIds, first: str, second: str
) -> None:
    with store.transaction() as uow:
        add_user(uow, "alice", ids)
    with store.transaction(readonly=True) as reader:
        assert isinstance(reader.session, KeptReadSession)
        before = READS[first](reader)
        # A write committed while the reader's transaction is open (a pooled connection of its
        # own): no read of the reader's sees it.
        with store.transaction() as writer:
            add_user(writer, "bob", ids)
        assert before == READS[second](reader) == READS[first](reader) == ["alice"]
    with store.transaction(readonly=True) as reader:
        assert READS[first](reader) == READS[second](reader) == ["alice", "bob"]


def test_one_connection_for_the_threads_reads(store: Store) -> None:
    drivers = set()
    for _ in range(3):
        with store.transaction(readonly=True) as uow:
            prepared_names(uow)
            drivers.add(id(_driver(uow)))
    assert len(drivers) == 1
    with store.transaction() as uow:  # writers have a connection of their own
        assert id(_driver(uow)) not in drivers


@pytest.mark.parametrize("read", sorted(READS))
def test_the_transaction_ends_with_the_block(store: Store, ids: SeededIds, read: str) -> None:
    with store.transaction(readonly=True) as uow:
        READS[read](uow)
        driver = _driver(uow)
        assert driver.in_transaction
    assert not driver.in_transaction
    with pytest.raises(RuntimeError), store.transaction(readonly=True) as uow:
        READS[read](uow)
        raise RuntimeError("the work failed")
    assert not driver.in_transaction
    with store.transaction(readonly=True) as uow:  # nothing read: nothing begun
        pass
    assert not driver.in_transaction
    # The next read sees a write committed since (no snapshot left open).
    with store.transaction() as writer:
        add_user(writer, "carol", ids)
    with store.transaction(readonly=True) as uow:
        assert READS[read](uow) == ["carol"]


def test_a_read_inside_a_read_takes_a_pooled_connection(store: Store, ids: SeededIds) -> None:
    with store.transaction(readonly=True) as outer:
        assert prepared_names(outer) == []
        with store.transaction() as writer:
            add_user(writer, "alice", ids)
        with store.transaction(readonly=True) as inner:
            assert type(inner.session) is ReadSession
            assert prepared_names(inner) == ["alice"]
        assert prepared_names(outer) == []
    with store.transaction(readonly=True) as again:
        assert isinstance(again.session, KeptReadSession)


def test_other_threads_take_pooled_connections(store: Store) -> None:
    kinds: list[type] = []

    def read() -> None:
        with store.transaction(readonly=True) as uow:
            prepared_names(uow)
            kinds.append(type(uow.session))

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    assert kinds == [ReadSession]


def test_writes_are_still_refused(store: Store, ids: SeededIds) -> None:
    with pytest.raises(StoreError), store.transaction(readonly=True) as uow:
        prepared_names(uow)
        add_user(uow, "carol", ids)
    with store.transaction(readonly=True) as uow:
        assert orm_names(uow) == []
        assert not uow.session.new


def test_a_failing_statement_leaves_the_connection_usable(store: Store) -> None:
    with pytest.raises(StoreError), store.transaction(readonly=True) as uow:
        prepared_names(uow)
        driver = _driver(uow)
        BROKEN.rows(uow.session, {})
    assert not driver.in_transaction
    with store.transaction(readonly=True) as uow:
        assert prepared_names(uow) == []


def test_a_lost_connection_is_replaced_and_the_read_retried(store: Store) -> None:
    with store.transaction(readonly=True) as uow:
        prepared_names(uow)
        lost = _driver(uow)
    lost.close()  # as if the database had gone away under the kept connection
    attempts: list[sqlite3.Connection] = []

    def work(uow: UnitOfWork) -> list[str]:
        attempts.append(_driver(uow))
        return prepared_names(uow)

    assert store.run(work, readonly=True) == []
    assert attempts[0] is lost and attempts[-1] is not lost
    with store.transaction(readonly=True) as uow:
        assert _driver(uow) is attempts[-1]


def test_no_kept_connection_in_memory() -> None:
    store = open_store("sqlite:///:memory:")
    store.keep_reads()
    with store.transaction(readonly=True) as uow:
        assert type(uow.session) is ReadSession
    store.close()


def test_close_closes_the_kept_connection(store: Store) -> None:
    with store.transaction(readonly=True) as uow:
        prepared_names(uow)
        driver = _driver(uow)
    store.close()
    with pytest.raises(sqlite3.ProgrammingError):
        driver.execute("SELECT 1")
