"""Read-only transactions on the PostgreSQL connection kept for one thread (Store.keep_reads: the
server's event loop): the same transactions as on a pooled connection (repeatable read, read
only, one snapshot for prepared, ORM and Core reads in any order, the BEGIN sent with the first
statement; ended with the block, whatever happens in it; writes refused), a read inside another
or on another thread on a pooled connection, and a lost connection replaced, the read retried."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import bindparam, select, text

from iamd.secrets import SeededIds
from iamd.store import Store, StoreError, UnitOfWork
from iamd.store.pipelined import Connection as PipelinedConnection
from iamd.store.prepared import Prepared
from iamd.store.schema import User
from iamd.store.store import KeptPgReadSession, ReadSession

ACCOUNT = "111122223333"  # created by the store fixture (conftest.py)
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
IDLE, INTRANS = psycopg.pq.TransactionStatus.IDLE, psycopg.pq.TransactionStatus.INTRANS

_NAMES = Prepared(select(User.name).where(User.account_id == bindparam("account_id")).order_by(User.name))
_BROKEN = Prepared(select(text("name")).select_from(text("no_such_table")))


@pytest.fixture
def kept(store: Store) -> Iterator[Store]:
    if store.backend != "postgresql":
        pytest.skip("SQLite's kept reads: test_store_kept_reads.py")
    store.keep_reads()
    yield store
    store.close()


def _user(uow: UnitOfWork, name: str, ids: SeededIds) -> None:
    uow.users.create(ACCOUNT, user_id=ids.user_id(), name=name, path="/", created_at=NOW)


def _orm_names(uow: UnitOfWork) -> list[str]:
    return list(uow.session.scalars(select(User.name).where(User.account_id == ACCOUNT).order_by(User.name)))


def _core_names(uow: UnitOfWork) -> list[str]:
    query = text("SELECT name FROM users WHERE account_id = :a ORDER BY name")
    return [row[0] for row in uow.session.connection().execute(query, {"a": ACCOUNT})]


def _prepared_names(uow: UnitOfWork) -> list[str]:
    return [row[0] for row in _NAMES.rows(uow.session, {"account_id": ACCOUNT})]


def _driver(uow: UnitOfWork) -> PipelinedConnection:
    session = uow.session
    assert isinstance(session, KeptPgReadSession)
    return session._driver


READS = {"prepared": _prepared_names, "orm": _orm_names, "core": _core_names}


@pytest.mark.parametrize("first", sorted(READS))
@pytest.mark.parametrize("second", sorted(READS))
def test_reads_of_every_kind_share_one_read_only_snapshot(
    kept: Store, ids: SeededIds, first: str, second: str
) -> None:
    with kept.transaction() as uow:
        _user(uow, "alice", ids)
    with kept.transaction(readonly=True) as reader:
        driver = _driver(reader)
        assert driver.pending  # the BEGIN waits for the first statement
        before = READS[first](reader)
        assert not driver.pending and driver.info.transaction_status == INTRANS
        # A write committed while the reader's transaction is open (a pooled connection of its
        # own): no read of the reader's sees it.
        with kept.transaction() as writer:
            _user(writer, "bob", ids)
        assert before == READS[second](reader) == READS[first](reader) == ["alice"]
        connection = reader.session.connection()
        assert connection.execute(text("SHOW transaction_read_only")).scalar_one() == "on"
        assert connection.execute(text("SHOW transaction_isolation")).scalar_one() == "repeatable read"
    assert driver.info.transaction_status == IDLE
    with kept.transaction(readonly=True) as reader:
        assert READS[first](reader) == READS[second](reader) == ["alice", "bob"]


def test_one_connection_for_the_threads_reads(kept: Store) -> None:
    drivers = set()
    for _ in range(3):
        with kept.transaction(readonly=True) as uow:
            _prepared_names(uow)
            drivers.add(id(_driver(uow)))
    assert len(drivers) == 1
    with kept.transaction() as uow:  # writers have a connection of their own
        driver = uow.session.connection().connection.driver_connection
        assert id(driver) not in drivers


@pytest.mark.parametrize("read", sorted(READS))
def test_the_transaction_ends_with_the_block(kept: Store, ids: SeededIds, read: str) -> None:
    with kept.transaction(readonly=True) as uow:
        READS[read](uow)
        driver = _driver(uow)
        assert driver.info.transaction_status == INTRANS
    assert driver.info.transaction_status == IDLE and not driver.pending
    with pytest.raises(RuntimeError), kept.transaction(readonly=True) as uow:
        READS[read](uow)
        raise RuntimeError("the work failed")
    assert driver.info.transaction_status == IDLE and not driver.pending
    with kept.transaction(readonly=True) as uow:  # nothing read: nothing sent, nothing left
        assert _driver(uow) is driver
    assert driver.info.transaction_status == IDLE and not driver.pending
    # The next read sees a write committed since (no snapshot left open).
    with kept.transaction() as writer:
        _user(writer, "carol", ids)
    with kept.transaction(readonly=True) as uow:
        assert READS[read](uow) == ["carol"]


def test_writes_are_still_refused(kept: Store, ids: SeededIds) -> None:
    with pytest.raises(StoreError), kept.transaction(readonly=True) as uow:
        _prepared_names(uow)
        driver = _driver(uow)
        uow.session.connection().execute(
            text(
                "INSERT INTO users (id, account_id, name, name_lower, path, created_at)"
                " VALUES ('x', :a, 'x', 'x', '/', now())"
            ),
            {"a": ACCOUNT},
        )
    assert driver.info.transaction_status == IDLE
    with kept.transaction(readonly=True) as uow:
        assert _prepared_names(uow) == []


def test_a_failing_statement_leaves_the_connection_usable(kept: Store) -> None:
    for first in (True, False):  # the failure in the BEGIN's round trip, or after it
        with pytest.raises(StoreError), kept.transaction(readonly=True) as uow:
            driver = _driver(uow)
            if not first:
                _prepared_names(uow)
            _BROKEN.rows(uow.session, {})
        assert driver.info.transaction_status == IDLE and not driver.pending
        with kept.transaction(readonly=True) as uow:
            assert _driver(uow) is driver
            assert _prepared_names(uow) == []


def test_a_read_inside_a_read_and_other_threads_take_pooled_connections(kept: Store, ids: SeededIds) -> None:
    with kept.transaction(readonly=True) as outer:
        assert _prepared_names(outer) == []
        with kept.transaction() as writer:
            _user(writer, "alice", ids)
        with kept.transaction(readonly=True) as inner:
            assert type(inner.session) is ReadSession
            assert _prepared_names(inner) == ["alice"]
        assert _prepared_names(outer) == []
    kinds: list[type] = []

    def read() -> None:
        with kept.transaction(readonly=True) as uow:
            _prepared_names(uow)
            kinds.append(type(uow.session))

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    assert kinds == [ReadSession]
    with kept.transaction(readonly=True) as again:
        assert isinstance(again.session, KeptPgReadSession)


def test_a_connection_the_server_dropped_is_replaced_and_the_read_retried(kept: Store) -> None:
    with kept.transaction(readonly=True) as uow:
        _prepared_names(uow)
        lost = _driver(uow)
    with kept.engine.connect() as admin:  # as a restart or an idle timeout would
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": lost.info.backend_pid})
        admin.commit()
    attempts: list[PipelinedConnection] = []

    def work(uow: UnitOfWork) -> list[str]:
        attempts.append(_driver(uow))
        return _prepared_names(uow)

    assert kept.run(work, readonly=True) == []
    assert attempts[0] is lost and attempts[-1] is not lost
    assert lost.closed or lost.broken
    with kept.transaction(readonly=True) as uow:
        assert _driver(uow) is attempts[-1]


def test_close_closes_the_kept_connection(kept: Store) -> None:
    with kept.transaction(readonly=True) as uow:
        _prepared_names(uow)
        driver = _driver(uow)
    kept.close()
    assert driver.closed
