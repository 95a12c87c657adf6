"""Read-only transactions on the PostgreSQL connection kept for one thread (Store.keep_reads: the
server's event loop): the same transactions as on a pooled connection (repeatable read, read
only, one snapshot for prepared, ORM and Core reads in any order, the BEGIN sent with the first
statement; ended with the block, whatever happens in it; writes refused), a read inside another
or on another thread on a pooled connection, and a lost connection replaced, the read retried."""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from tests.unit.store.helpers import (
    BROKEN,
    READS,
    add_user,
    answered_after,
    prepared_names,
    round_trips,
)

from iamd.secrets import SeededIds
from iamd.store import Store, StoreError, UnitOfWork
from iamd.store.pipelined import Connection as PipelinedConnection
from iamd.store.records import Tag
from iamd.store.store import KeptPgReadSession, ReadSession

ACCOUNT = "111122223333"  # created by the store fixture (conftest.py)
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
IDLE, INTRANS = psycopg.pq.TransactionStatus.IDLE, psycopg.pq.TransactionStatus.INTRANS

_BEGIN = b"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"


@pytest.fixture
def kept(store: Store) -> Iterator[Store]:
    if store.backend != "postgresql":
        pytest.skip("SQLite's kept reads: test_store_kept_reads.py")
    store.keep_reads()
    yield store
    store.close()


def _driver(uow: UnitOfWork) -> PipelinedConnection:
    session = uow.session
    assert isinstance(session, KeptPgReadSession)
    return session._driver


@pytest.mark.parametrize("first", sorted(READS))
@pytest.mark.parametrize("second", sorted(READS))
def test_reads_of_every_kind_share_one_read_only_snapshot(
    kept: Store, ids: SeededIds, first: str, second: str
) -> None:
    with kept.transaction() as uow:
        add_user(uow, "alice", ids)
    with kept.transaction(readonly=True) as reader:
        driver = _driver(reader)
        assert driver.pending  # the BEGIN waits for the first statement
        before = READS[first](reader)
        assert not driver.pending and driver.info.transaction_status == INTRANS
        # A write committed while the reader's transaction is open (a pooled connection of its
        # own): no read of the reader's sees it.
        with kept.transaction() as writer:
            add_user(writer, "bob", ids)
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
            prepared_names(uow)
            drivers.add(id(_driver(uow)))
    assert len(drivers) == 1
    with kept.transaction() as uow:  # writers have a connection of their own
        driver = uow.session.connection().connection.driver_connection
        assert id(driver) not in drivers


def _left_open(store: Store) -> bool:
    return store._kept_left_open


@pytest.mark.parametrize("read", sorted(READS))
def test_a_transaction_ends_with_its_block_or_with_the_next_reads_first_round_trip(
    kept: Store, ids: SeededIds, read: str
) -> None:
    """An ORM or Core read commits at the end of its block. A read of prepared statements only
    leaves its transaction open (read-only: nothing to keep), and the next read's first round
    trip ends it: COMMIT, BEGIN and the first statement go out together; that read's snapshot
    sees every write committed before it."""
    with kept.transaction(readonly=True) as uow:
        READS[read](uow)
        driver = _driver(uow)
        assert driver.info.transaction_status == INTRANS
    prepared = read == "prepared"
    assert driver.info.transaction_status == (INTRANS if prepared else IDLE) and not driver.pending
    assert _left_open(kept) is prepared
    with kept.transaction() as writer:  # committed after the read, before the next
        add_user(writer, "carol", ids)
    fd, name = tempfile.mkstemp(prefix="iamd-test-pgtrace-")
    try:
        with kept.transaction(readonly=True) as uow:
            assert _driver(uow) is driver
            assert driver.pending[0] == (b"COMMIT" if prepared else _BEGIN)
            driver.pgconn.trace(fd)
            assert prepared_names(uow) == ["carol"]
            driver.pgconn.untrace()
            trace = Path(name).read_text()
            together = " ".join(answered_after(trace))
            assert _BEGIN.decode() in together and "users.name" in together
            assert ("COMMIT" in together) is prepared
            assert round_trips(trace) == 1
    finally:
        os.close(fd)
        os.unlink(name)
    assert _left_open(kept)


@pytest.mark.parametrize("read", sorted(READS))
def test_a_failed_block_leaves_nothing_open(kept: Store, read: str) -> None:
    """A block that raises after reading: a read transaction (left open, as after any prepared
    read); one whose statement failed: rolled back. Either way the next read begins afresh."""
    with pytest.raises(RuntimeError), kept.transaction(readonly=True) as uow:
        READS[read](uow)
        driver = _driver(uow)
        raise RuntimeError("the work failed")
    assert driver.info.transaction_status == (INTRANS if read == "prepared" else IDLE)
    assert not driver.pending
    with pytest.raises(StoreError), kept.transaction(readonly=True) as uow:
        BROKEN.rows(uow.session, {})
    assert driver.info.transaction_status == IDLE and not _left_open(kept)
    with kept.transaction(readonly=True) as uow:
        assert READS[read](uow) == []


def test_a_block_that_reads_nothing_changes_nothing(kept: Store) -> None:
    """Nothing read: nothing sent; a transaction left open by the read before stays so, for the
    next read that runs a statement to end."""
    with kept.transaction(readonly=True) as uow:
        driver = _driver(uow)
    assert driver.info.transaction_status == IDLE and not driver.pending and not _left_open(kept)
    with kept.transaction(readonly=True) as uow:
        prepared_names(uow)
    with kept.transaction(readonly=True) as uow:
        assert driver.pending[0] == b"COMMIT"
    assert driver.info.transaction_status == INTRANS and not driver.pending and _left_open(kept)
    with kept.transaction(readonly=True) as uow:
        prepared_names(uow)
    assert driver.info.transaction_status == INTRANS and _left_open(kept)


def test_end_idle_read_ends_a_transaction_no_read_followed(kept: Store) -> None:
    """``end_idle_read`` (the server calls it on its loop every tenth of a second) ends the
    transaction left open, once a call finds that no read began since the call before: a
    snapshot is not held while the server is idle."""
    with kept.transaction(readonly=True) as uow:
        prepared_names(uow)
        driver = _driver(uow)
    assert not kept.end_idle_read()  # a read began since the last call
    assert driver.info.transaction_status == INTRANS
    assert kept.end_idle_read()
    assert driver.info.transaction_status == IDLE and not _left_open(kept)
    assert not kept.end_idle_read()  # nothing left open
    with kept.transaction(readonly=True) as uow:  # then begins afresh
        assert driver.pending == [_BEGIN]
        assert prepared_names(uow) == []
    # Not from another thread (the kept connection is its thread's), nor during a read.
    assert not kept.end_idle_read()
    ended: list[bool] = []
    thread = threading.Thread(target=lambda: ended.append(kept.end_idle_read()))
    thread.start()
    thread.join()
    assert ended == [False] and driver.info.transaction_status == INTRANS
    with kept.transaction(readonly=True) as uow:
        prepared_names(uow)
        kept.end_idle_read()
        assert not kept.end_idle_read()
        assert driver.info.transaction_status == INTRANS
    assert kept.end_idle_read()
    assert driver.info.transaction_status == IDLE


def test_writes_are_still_refused(kept: Store, ids: SeededIds) -> None:
    with pytest.raises(StoreError), kept.transaction(readonly=True) as uow:
        prepared_names(uow)
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
        assert prepared_names(uow) == []


def test_a_failing_statement_leaves_the_connection_usable(kept: Store) -> None:
    for first in (True, False):  # the failure in the BEGIN's round trip, or after it
        with pytest.raises(StoreError), kept.transaction(readonly=True) as uow:
            driver = _driver(uow)
            if not first:
                prepared_names(uow)
            BROKEN.rows(uow.session, {})
        assert driver.info.transaction_status == IDLE and not driver.pending
        with kept.transaction(readonly=True) as uow:
            assert _driver(uow) is driver
            assert prepared_names(uow) == []


def test_a_read_inside_a_read_and_other_threads_take_pooled_connections(kept: Store, ids: SeededIds) -> None:
    with kept.transaction(readonly=True) as outer:
        assert prepared_names(outer) == []
        with kept.transaction() as writer:
            add_user(writer, "alice", ids)
        with kept.transaction(readonly=True) as inner:
            assert type(inner.session) is ReadSession
            assert prepared_names(inner) == ["alice"]
        assert prepared_names(outer) == []
    kinds: list[type] = []

    def read() -> None:
        with kept.transaction(readonly=True) as uow:
            prepared_names(uow)
            kinds.append(type(uow.session))

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    assert kinds == [ReadSession]
    with kept.transaction(readonly=True) as again:
        assert isinstance(again.session, KeptPgReadSession)


def test_a_connection_the_server_dropped_is_replaced_and_the_read_retried(kept: Store) -> None:
    with kept.transaction(readonly=True) as uow:
        prepared_names(uow)
        lost = _driver(uow)
    with kept.engine.connect() as admin:  # as a restart or an idle timeout would
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": lost.info.backend_pid})
        admin.commit()
    attempts: list[PipelinedConnection] = []

    def work(uow: UnitOfWork) -> list[str]:
        attempts.append(_driver(uow))
        return prepared_names(uow)

    assert kept.run(work, readonly=True) == []
    assert attempts[0] is lost and attempts[-1] is not lost
    assert lost.closed or lost.broken
    with kept.transaction(readonly=True) as uow:
        assert _driver(uow) is attempts[-1]


def test_a_connection_closed_under_the_store_is_replaced(kept: Store) -> None:
    """The kept connection closed on this side (as a failed end would leave it): the next read
    takes a new one, whether or not a read's transaction was left open on it."""
    for left_open in (True, False):
        with kept.transaction(readonly=True) as uow:
            READS["prepared" if left_open else "core"](uow)
            closed = _driver(uow)
        assert kept._kept_left_open is left_open
        closed.close()
        with kept.transaction(readonly=True) as uow:
            assert prepared_names(uow) == []
            assert _driver(uow) is not closed


def test_close_closes_the_kept_connection(kept: Store) -> None:
    with kept.transaction(readonly=True) as uow:
        prepared_names(uow)
        driver = _driver(uow)
    kept.close()
    assert driver.closed


def _add_role(uow: UnitOfWork, ids: SeededIds, name: str, tags: dict[str, str]) -> str:
    role_id = ids.role_id()
    uow.roles.create(ACCOUNT, role_id=role_id, name=name, path="/", trust_policy="{}", created_at=NOW)
    uow.tags.put(ACCOUNT, "role", role_id, tags)
    return role_id


def test_a_role_read_ahead_goes_out_with_the_first_statement(kept: Store, ids: SeededIds) -> None:
    """AssumeRole's read ahead: the role (and its tags) named before the transaction's first
    statement go out with it, one round trip for both, and the find takes that result; the
    same record as a find that reads it then. A role that does not exist reads as None."""
    with kept.transaction() as writer:
        _add_role(writer, ids, "Deployer", {"team": "blue"})
    with kept.transaction(readonly=True) as uow:
        plain = uow.roles.find(ACCOUNT, "deployer")
        plain_tags = uow.tags.list(ACCOUNT, "role", plain.id) if plain else None
    assert plain is not None and plain_tags == (Tag("team", "blue"),)
    for name, expected in (("DEPLOYER", plain), ("nobody", None)):
        fd, trace_file = tempfile.mkstemp(prefix="iamd-test-pgtrace-")
        try:
            with kept.transaction(readonly=True) as uow:
                driver = _driver(uow)
                uow.roles.prefetch(ACCOUNT, name)
                assert driver.prefetching
                driver.pgconn.trace(fd)
                assert prepared_names(uow) == []  # the first statement
                assert uow.roles.find(ACCOUNT, name) == expected
                if expected is not None:
                    assert uow.tags.list(ACCOUNT, "role", expected.id) == plain_tags
                driver.pgconn.untrace()
                trace = Path(trace_file).read_text()
                assert round_trips(trace) == 1  # the find and the tags read nothing more
                assert "roles" in " ".join(answered_after(trace))
        finally:
            os.close(fd)
            os.unlink(trace_file)


def test_what_was_read_ahead_serves_its_own_transaction_only(kept: Store, ids: SeededIds) -> None:
    """A result read ahead and not taken is forgotten when its transaction ends: the next read
    finds the role as it is then (here: gone). In a transaction already begun, a read ahead goes
    out with the next statement, in its round trip."""
    with kept.transaction() as writer:
        role_id = _add_role(writer, ids, "Ephemeral", {})
    with kept.transaction(readonly=True) as uow:
        driver = _driver(uow)
        uow.roles.prefetch(ACCOUNT, "ephemeral")
        prepared_names(uow)
        assert driver._prefetched  # sent, kept, not taken
    with kept.transaction() as writer:
        writer.roles.delete(role_id)
    with kept.transaction(readonly=True) as uow:
        assert not _driver(uow)._prefetched
        assert uow.roles.find(ACCOUNT, "ephemeral") is None
    with kept.transaction() as writer:
        _add_role(writer, ids, "Ephemeral", {"k": "v"})
    fd, trace_file = tempfile.mkstemp(prefix="iamd-test-pgtrace-")
    try:
        with kept.transaction(readonly=True) as uow:
            driver = _driver(uow)
            prepared_names(uow)  # begun
            uow.roles.prefetch(ACCOUNT, "ephemeral")
            assert driver.prefetching
            driver.pgconn.trace(fd)
            assert prepared_names(uow) == []
            found = uow.roles.find(ACCOUNT, "ephemeral")
            assert found is not None and uow.tags.list(ACCOUNT, "role", found.id) == (Tag("k", "v"),)
            driver.pgconn.untrace()
            assert round_trips(Path(trace_file).read_text()) == 1
    finally:
        os.close(fd)
        os.unlink(trace_file)


def test_a_write_forgets_what_was_read_ahead(store: Store, ids: SeededIds) -> None:
    """In a writer's transaction (queued for its account, as a write that lost a race is), a
    result read ahead and not yet taken when the transaction writes is not used: the find reads
    again, and sees the write."""
    if store.backend != "postgresql":
        pytest.skip("reads ahead only on PostgreSQL")
    with store.transaction() as writer:
        role_id = _add_role(writer, ids, "Renamed", {})
    with store.transaction(account_id=ACCOUNT) as uow:
        driver = uow.session.connection().connection.driver_connection
        assert isinstance(driver, PipelinedConnection)
        uow.roles.prefetch(ACCOUNT, "renamed")
        assert driver.prefetching
        prepared_names(uow)  # the lock, BEGIN, this statement and the read ahead: one round trip
        assert driver._prefetched
        uow.tags.put(ACCOUNT, "role", role_id, {"after": "write"})
        found = uow.roles.find(ACCOUNT, "renamed")
        assert found is not None
        assert uow.tags.list(ACCOUNT, "role", found.id) == (Tag("after", "write"),)
