"""On PostgreSQL, statements whose results nobody reads wait for the next one (iamd.store.pipelined):
a write's generation bump goes out with the statement after it, its trail events with the COMMIT
(and a queued writer's unlock), each in that statement's round trip. What goes out later must
behave as if sent at once: later reads see it, its error fails the transaction (nothing of it
commits), a rollback forgets it, and a lost race logs no driver warning."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import pytest
from tests.unit.store.helpers import audit_event, pg_driver, queue_free, round_trips

from iamd.store import RetryableError, Store, StoreError, UnitOfWork
from iamd.store.audit import AuditEvent
from iamd.store.pipelined import Connection as PipelinedConnection

ACCOUNT = "111122223333"  # created by the store fixture (conftest.py)


@pytest.fixture
def pg_store(store: Store) -> Store:
    if store.backend != "postgresql":
        pytest.skip("SQLite has no round trips: nothing waits")
    return store


def _event(event_id: str, name: str = "TagUser") -> AuditEvent:
    return audit_event(event_id, name, (("AWS::IAM::User", "alice"), ("AWS::IAM::Policy", "p")))


class _Trace:
    """libpq's trace of a connection from :meth:`start`; :meth:`round_trips` stops it and counts
    the bursts of client messages that the server then answered."""

    def __init__(self, driver: PipelinedConnection) -> None:
        self.driver = driver
        self.fd, self.name = tempfile.mkstemp(prefix="iamd-test-pgtrace-")

    def start(self) -> _Trace:
        self.driver.pgconn.trace(self.fd)
        return self

    def round_trips(self) -> int:
        try:
            self.driver.pgconn.untrace()
            return round_trips(Path(self.name).read_text())
        finally:
            os.close(self.fd)
            os.unlink(self.name)


def _generation(store: Store) -> int:
    return store.run(lambda uow: uow.accounts.generation(ACCOUNT), readonly=True)


def test_a_bump_goes_out_with_the_next_statement_which_sees_it(pg_store: Store) -> None:
    before = _generation(pg_store)
    with pg_store.transaction() as uow:
        uow.accounts.generation(ACCOUNT)  # the transaction is open
        driver = pg_driver(uow)
        uow.changed(ACCOUNT)
        assert driver.deferred  # not sent yet
        trace = _Trace(driver).start()
        assert uow.accounts.generation(ACCOUNT) == before + 1
        trips = trace.round_trips()
        assert not driver.deferred
    # Up to two bursts on a loaded machine (libpq flushes at each Sync; psycopg reads what has
    # arrived while it sends); sent on its own, the bump would make two at least, always.
    assert trips <= 2
    assert _generation(pg_store) == before + 1


def test_a_writes_trail_events_go_out_with_its_commit(pg_store: Store) -> None:
    """The events and the COMMIT: one round trip (two at most on a loaded machine, as above; sent
    on their own, the two inserts and the COMMIT make three)."""
    before = _generation(pg_store)
    trips: list[int] = []
    for attempt in range(3):
        with pg_store.transaction() as uow:
            uow.changed(ACCOUNT)
            uow.accounts.generation(ACCOUNT)  # the bump sent
            trace = _Trace(pg_driver(uow)).start()
            assert uow.audit.try_add_events([_event(f"deferred-{attempt}")])
            assert uow.trail_deferred and pg_driver(uow).deferred  # nothing sent yet
        trips.append(trace.round_trips())
        if trips[-1] == 1:
            break
    assert min(trips) <= 2, trips
    assert _generation(pg_store) == before + attempt + 1
    stored = pg_store.run(lambda uow: uow.audit.events(), readonly=True)
    assert [e.event_id for e in stored] == [f"deferred-{n}" for n in range(attempt + 1)]


def test_a_queued_writer_commits_its_events_and_gives_the_queue_back(pg_store: Store) -> None:
    with pg_store.transaction(account_id=ACCOUNT) as uow:
        uow.changed(ACCOUNT)
        uow.accounts.generation(ACCOUNT)
        assert uow.audit.try_add_events([_event("queued")])
        assert pg_driver(uow).deferred
        assert not queue_free(pg_store, ACCOUNT)
    assert queue_free(pg_store, ACCOUNT)
    assert [e.event_id for e in pg_store.run(lambda uow: uow.audit.events(), readonly=True)] == ["queued"]


def test_a_failing_deferred_statement_fails_the_next_one_and_nothing_commits(pg_store: Store) -> None:
    before = _generation(pg_store)
    with pytest.raises(StoreError) as raised, pg_store.transaction() as uow:
        uow.changed(ACCOUNT)
        uow.accounts.generation(ACCOUNT)
        driver = pg_driver(uow)
        assert driver.defer("SELECT 1 / %s", (0,))
        uow.users.find(ACCOUNT, "nobody")
    assert "division by zero" in str(raised.value)
    assert not isinstance(raised.value, RetryableError)
    assert _generation(pg_store) == before
    # The pool's connection is clean: the next transaction commits normally.
    pg_store.run(lambda uow: uow.changed(ACCOUNT))
    assert _generation(pg_store) == before + 1


def test_a_rollback_forgets_what_was_deferred(pg_store: Store) -> None:
    before = _generation(pg_store)
    with pytest.raises(RuntimeError), pg_store.transaction() as uow:
        uow.accounts.generation(ACCOUNT)
        uow.changed(ACCOUNT)
        driver = pg_driver(uow)
        assert driver.deferred
        raise RuntimeError("the request failed")
    assert not driver.deferred
    assert _generation(pg_store) == before
    for _ in range(3):  # whichever pooled connection it gets, no forgotten bump comes out
        pg_store.run(lambda uow: uow.users.find(ACCOUNT, "nobody"))
    assert _generation(pg_store) == before


def test_an_event_refused_at_commit_runs_the_write_again_with_a_savepoint(pg_store: Store) -> None:
    """The event's id is taken: the COMMIT it went out with fails. Not a race: the write runs again
    with its events in a savepoint, and commits once, without the event (the caller hands it to
    the trail writer)."""
    pg_store.run(lambda uow: uow.audit.add_events([_event("taken", "CreateUser")]))
    before = _generation(pg_store)
    attempts: list[bool] = []

    def work(uow: UnitOfWork) -> bool:
        attempts.append(uow.trail_savepoint)
        uow.changed(ACCOUNT)
        return uow.audit.try_add_events([_event("taken", "Again")])

    assert pg_store.run(work) is False
    assert attempts == [False, True]
    assert _generation(pg_store) == before + 1
    names = [e.event_name for e in pg_store.run(lambda uow: uow.audit.events(), readonly=True)]
    assert names == ["CreateUser"]


def test_an_error_raised_early_in_a_pipeline_logs_no_driver_warning(
    pg_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """psycopg raises a deferred statement's error as soon as it reads its result, within the
    pipeline; then, as the pipeline ends, "pipeline aborted", which it logs as a warning when the
    block already raised (on every lost race, under load). Neither warning nor the wrong error
    comes out: the statement's own error does."""
    caplog.set_level(logging.WARNING, logger="psycopg")
    for _ in range(30):
        with pytest.raises(StoreError, match="division by zero"), pg_store.transaction() as uow:
            uow.accounts.generation(ACCOUNT)
            driver = pg_driver(uow)
            driver.defer("SELECT 1 / %s", (0,))
            driver.defer("SELECT 1 / %s", (1,))
            uow.users.find(ACCOUNT, "nobody")
    assert [r.getMessage() for r in caplog.records if r.name.startswith("psycopg")] == []
