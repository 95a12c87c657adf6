"""A queued PostgreSQL writer's queue lock and BEGIN go out with its first statement, in one
round trip (iamd.store.pipelined): the lock is held, the transaction serializable, its snapshot
taken after the lock is granted; a block that runs no statement takes no lock."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from tests.unit.store.helpers import answered_after, pg_driver, queue_free, round_trips

from iamd.secrets import SeededIds
from iamd.store import RetryableError, Store, StoreError, UnitOfWork

ACCOUNT = "111122223333"  # created by the store fixture (conftest.py)
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def pg_store(store: Store) -> Store:
    if store.backend != "postgresql":
        pytest.skip("the queue is PostgreSQL's advisory lock")
    return store


def test_the_lock_begin_and_first_statement_take_one_round_trip(pg_store: Store) -> None:
    """The first statement of a queued writer is one round trip; after it the queue's lock is held
    and the transaction is serializable, with no warning from the server; the commit gives the
    lock back.

    The trace counts bursts of client messages answered by the server; on a loaded machine the
    server can answer the lock's part before this thread gets to flush the rest (libpq flushes
    at each Sync, and psycopg reads what has arrived while it sends, without waiting for it),
    which the trace shows as two bursts. So: up to three transactions, until one shows a single
    burst; on a machine too loaded for that, two bursts at most (the lock and BEGIN each sent
    and waited for on their own, as before the pipeline, make three)."""
    trips: list[int] = []
    for attempt in range(3):
        fd, name = tempfile.mkstemp(prefix="iamd-test-pgtrace-")
        try:
            with pg_store.transaction(account_id=ACCOUNT) as uow:
                driver = pg_driver(uow)
                notices: list[str] = []
                driver.add_notice_handler(
                    lambda notice, seen=notices: seen.append(str(notice.message_primary))
                )
                assert driver.pending  # nothing sent yet
                driver.pgconn.trace(fd)
                assert uow.accounts.generation(ACCOUNT) == attempt
                driver.pgconn.untrace()
                trace = Path(name).read_text()
                trips.append(round_trips(trace))
                assert "pg_advisory_lock" in trace and "BEGIN ISOLATION LEVEL SERIALIZABLE" in trace
                assert not queue_free(pg_store, ACCOUNT)
                level = uow.session.execute(text("SHOW transaction_isolation")).scalar_one()
                assert level == "serializable"
                uow.changed(ACCOUNT)
            assert notices == []
            assert queue_free(pg_store, ACCOUNT)
        finally:
            os.close(fd)
            os.unlink(name)
        if trips[-1] == 1:
            break
    assert min(trips) <= 2, trips
    with pg_store.transaction(readonly=True) as uow:
        assert uow.accounts.generation(ACCOUNT) == len(trips)


def test_a_block_that_runs_no_statement_takes_no_lock_and_leaves_nothing_pending(pg_store: Store) -> None:
    with pg_store.transaction(account_id=ACCOUNT) as uow:
        driver = pg_driver(uow)
        assert driver.pending
    assert not driver.pending
    assert queue_free(pg_store, ACCOUNT)
    with pytest.raises(RuntimeError), pg_store.transaction(account_id=ACCOUNT) as uow:
        driver = pg_driver(uow)
        raise RuntimeError("no statement ran")
    assert not driver.pending
    assert queue_free(pg_store, ACCOUNT)


def test_a_queued_writer_waits_for_the_queue_and_then_sees_what_its_holder_committed(
    pg_store: Store,
) -> None:
    """Two queued writers bump the account's generation: the second waits for the first's lock
    (inside its first statement) and, its snapshot taken after the lock, neither fails with a
    serialization error nor misses the first's bump."""
    holding = threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with pg_store.transaction(account_id=ACCOUNT) as uow:
                uow.changed(ACCOUNT)
                holding.set()
                time.sleep(0.3)
        except BaseException as exc:
            errors.append(exc)
            holding.set()

    thread = threading.Thread(target=first)
    thread.start()
    assert holding.wait(10)
    try:
        with pg_store.transaction(account_id=ACCOUNT) as uow:
            seen = uow.accounts.generation(ACCOUNT)  # waits for the lock, then reads
            uow.changed(ACCOUNT)
    except RetryableError as exc:  # pragma: no cover - the failure this guards against
        pytest.fail(f"the queued writer failed: {exc}")
    finally:
        thread.join()
    assert errors == []
    assert seen == 1
    with pg_store.transaction(readonly=True) as uow:
        assert uow.accounts.generation(ACCOUNT) == 2


def test_queued_writers_of_an_account_lose_nothing(pg_store: Store) -> None:
    """Six threads each create users as queued writers: every user is there and the generation
    went up once per transaction, with no transaction run again."""
    threads, per_thread = 6, 8
    errors: list[BaseException] = []
    retried: list[int] = []

    def writer(n: int) -> None:
        ids = SeededIds(f"pipelined-{n}")
        try:
            for i in range(per_thread):
                attempts = [0]

                def work(uow: UnitOfWork, i: int = i, attempts: list[int] = attempts) -> None:
                    attempts[0] += 1
                    uow.users.create(
                        ACCOUNT, user_id=ids.user_id(), name=f"p{n}-{i}", path="/", created_at=NOW
                    )

                pg_store.run(work, account_id=ACCOUNT)
                retried.append(attempts[0] - 1)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert sum(retried) == 0
    with pg_store.transaction(readonly=True) as uow:
        assert uow.users.count(ACCOUNT) == threads * per_thread
        assert uow.accounts.generation(ACCOUNT) == threads * per_thread
    assert queue_free(pg_store, ACCOUNT)


def test_an_executemany_as_the_first_statement_takes_the_lock_and_begins(pg_store: Store) -> None:
    with pg_store.transaction(account_id=ACCOUNT) as uow:
        driver = pg_driver(uow)
        cursor = driver.cursor()
        cursor.executemany("SELECT %s::int", [(1,), (2,)])
        assert not driver.pending
        assert not queue_free(pg_store, ACCOUNT)
        level = uow.session.execute(text("SHOW transaction_isolation")).scalar_one()
        assert level == "serializable"
    assert queue_free(pg_store, ACCOUNT)


def test_a_read_only_transactions_begin_goes_out_with_its_first_statement(pg_store: Store) -> None:
    """A read (on the server's event loop, which waits for each round trip) sends its BEGIN with
    its first statement: the server answers nothing before both are sent. The transaction is the
    same: repeatable read, read only, one snapshot, ended with the block."""
    fd, name = tempfile.mkstemp(prefix="iamd-test-pgtrace-")
    try:
        with pg_store.transaction(readonly=True) as uow:
            driver = pg_driver(uow)
            assert driver.pending  # nothing sent yet
            driver.pgconn.trace(fd)
            first = uow.accounts.generation(ACCOUNT)
            driver.pgconn.untrace()
            together = " ".join(answered_after(Path(name).read_text()))
            assert "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" in together
            assert "accounts.generation" in together
            with pg_store.transaction() as writer:  # committed while the read is open
                writer.changed(ACCOUNT)
            assert uow.accounts.generation(ACCOUNT) == first  # its snapshot
            assert uow.session.execute(text("SHOW transaction_read_only")).scalar_one() == "on"
            level = uow.session.execute(text("SHOW transaction_isolation")).scalar_one()
            assert level == "repeatable read"
            connection = uow.session.connection()
        assert not connection.in_transaction()
    finally:
        os.close(fd)
        os.unlink(name)
    with pg_store.transaction(readonly=True) as uow:
        assert uow.accounts.generation(ACCOUNT) == first + 1


def test_a_read_that_runs_no_statement_or_fails_leaves_its_connection_clean(pg_store: Store) -> None:
    """Nothing waits on the connection once a read's block ends, whether it ran no statement or
    its first statement failed; the next transaction on it begins afresh."""
    with pg_store.transaction(readonly=True) as uow:
        driver = pg_driver(uow)
    assert not driver.pending
    with pytest.raises(StoreError), pg_store.transaction(readonly=True) as uow:
        driver = pg_driver(uow)
        uow.session.execute(text("SELECT no_such_column FROM accounts"))
    assert not driver.pending
    assert driver.info.transaction_status == 0  # idle: rolled back
    for _ in range(3):  # whichever pooled connection comes next
        with pg_store.transaction(readonly=True) as uow:
            assert uow.accounts.generation(ACCOUNT) == 0
            assert uow.session.execute(text("SHOW transaction_read_only")).scalar_one() == "on"


def test_a_script_of_several_commands_as_the_first_statement_still_runs(pg_store: Store) -> None:
    """A pipeline takes no script of several commands (the extended protocol): the waiting BEGIN
    goes first in a round trip of its own, then the script as psycopg sends it."""
    with pg_store.transaction(readonly=True) as uow:
        driver = pg_driver(uow)
        cursor = driver.cursor()
        cursor.execute("SELECT 1; SELECT 2")
        assert cursor.fetchall() == [(1,)]  # (psycopg: the first result; nextset() the next)
        assert not driver.pending
        assert uow.session.execute(text("SHOW transaction_read_only")).scalar_one() == "on"
    with pg_store.transaction(account_id=ACCOUNT) as uow:  # a queued writer's lock and BEGIN
        driver = pg_driver(uow)
        driver.cursor().execute("SELECT 1; SELECT 2")
        assert not queue_free(pg_store, ACCOUNT)
        level = uow.session.execute(text("SHOW transaction_isolation")).scalar_one()
        assert level == "serializable"
    assert queue_free(pg_store, ACCOUNT)
