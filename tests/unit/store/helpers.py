"""Helpers shared by the store's tests."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import bindparam, select, text

from iamd.secrets import SeededIds
from iamd.store import Store, UnitOfWork
from iamd.store.audit import AuditEvent
from iamd.store.pipelined import Connection as PipelinedConnection
from iamd.store.prepared import Prepared
from iamd.store.schema import User
from iamd.store.store import _queue_key

ACCOUNT = "111122223333"  # created by the store fixture (conftest.py)
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def queue_free(store: Store, account_id: str) -> bool:
    """Whether another session can take the account's queue lock (PostgreSQL's advisory lock)
    right now (it gives it back)."""
    key = _queue_key(account_id)
    with store.engine.connect() as other:
        free = bool(other.execute(text(f"SELECT pg_try_advisory_lock({key})")).scalar_one())
        if free:
            other.execute(text(f"SELECT pg_advisory_unlock({key})"))
        other.commit()
    return free


def audit_event(
    event_id: str, name: str = "CreateUser", resources: tuple[tuple[str, str], ...] = ()
) -> AuditEvent:
    """A write's trail event by the account's administrator (its record a stand-in)."""
    return AuditEvent(
        event_id=event_id,
        account_id=ACCOUNT,
        event_time=NOW,
        event_name=name,
        event_source="iam.amazonaws.com",
        username="admin",
        access_key_id=None,
        entity_id=None,
        entity_arn=None,
        service="iam",
        region="us-east-1",
        read_only=False,
        error_code=None,
        counts_as_access=False,
        record="{}",
        resources=resources,
    )


def pg_driver(uow: UnitOfWork) -> PipelinedConnection:
    """The unit of work's psycopg connection (PostgreSQL)."""
    driver = uow.session.connection().connection.driver_connection
    assert isinstance(driver, PipelinedConnection)
    return driver


def round_trips(trace: str) -> int:
    """Bursts of client messages the server then answered, in a libpq trace."""
    trips, last = 0, "B"
    for line in trace.splitlines():
        parts = line.split("\t")
        if len(parts) < 4:
            continue
        if parts[1] == "F":
            last = "F"
        elif parts[1] == "B" and last == "F":
            trips, last = trips + 1, "B"
    return trips


def answered_after(trace: str) -> list[str]:
    """The client's messages sent before the server's first answer, in a libpq trace (the
    server answers nothing before a Sync or a Flush: what is listed went out together)."""
    sent: list[str] = []
    for line in trace.splitlines():
        parts = line.split("\t")
        if len(parts) < 4:
            continue
        if parts[1] == "B":
            break
        sent.append(parts[4] if len(parts) > 4 else parts[3])
    return sent


# The reads of the kept-connection tests (test_store_kept_reads*.py): the account's user names, read
# by a prepared statement, through the ORM and through Core; and a prepared read that fails.
_NAMES = Prepared(select(User.name).where(User.account_id == bindparam("account_id")).order_by(User.name))
BROKEN = Prepared(select(text("name")).select_from(text("no_such_table")))


def add_user(uow: UnitOfWork, name: str, ids: SeededIds) -> None:
    uow.users.create(ACCOUNT, user_id=ids.user_id(), name=name, path="/", created_at=NOW)


def orm_names(uow: UnitOfWork) -> list[str]:
    return list(uow.session.scalars(select(User.name).where(User.account_id == ACCOUNT).order_by(User.name)))


def core_names(uow: UnitOfWork) -> list[str]:
    query = text("SELECT name FROM users WHERE account_id = :a ORDER BY name")
    return [row[0] for row in uow.session.connection().execute(query, {"a": ACCOUNT})]


def prepared_names(uow: UnitOfWork) -> list[str]:
    return [row[0] for row in _NAMES.rows(uow.session, {"account_id": ACCOUNT})]


READS = {"prepared": prepared_names, "orm": orm_names, "core": core_names}
