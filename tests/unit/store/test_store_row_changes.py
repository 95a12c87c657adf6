"""A writer's transaction tells whether it has written anything yet (``UnitOfWork.wrote_nothing``):
a write sent again that changes nothing then records its trail events as a read does, outside
the transaction. SQLite counts the rows changed on the connection; on PostgreSQL the connection
counts the statements sent that may write (all but SELECTs, deferred ones included)."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.unit.store.helpers import audit_event

from iamd.store import Store
from iamd.store.records import PasswordPolicyRecord

ACCOUNT = "111122223333"  # created by the store fixture (conftest.py)
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_reads_write_nothing_and_any_write_counts(store: Store) -> None:
    with store.transaction() as uow:
        assert uow.wrote_nothing()
        uow.users.find(ACCOUNT, "nobody")
        uow.accounts.generations([ACCOUNT])
        uow.tags.list(ACCOUNT, "user", "AIDANOBODY")
        assert uow.wrote_nothing()
        uow.writable()  # a write path's check alone writes nothing
        assert uow.wrote_nothing()
        uow.users.create(ACCOUNT, user_id="AIDAROWCHANGES", name="counted", path="/", created_at=NOW)
        assert not uow.wrote_nothing()
    with store.transaction() as uow:  # counted afresh per transaction
        assert uow.wrote_nothing()


def test_a_bump_alone_counts(store: Store) -> None:
    """On PostgreSQL the generation bump waits for the next statement (deferred): still a write."""
    with store.transaction() as uow:
        uow.accounts.generations([ACCOUNT])
        uow.changed(ACCOUNT)
        assert not uow.wrote_nothing()


def test_a_pending_orm_change_counts(store: Store) -> None:
    with store.transaction() as uow:
        uow.accounts.put_password_policy(ACCOUNT, PasswordPolicyRecord(minimum_length=12))
        assert uow.wrote_nothing() is False
    with store.transaction(readonly=True) as uow:
        policy = uow.accounts.password_policy(ACCOUNT)
        assert policy is not None and policy.minimum_length == 12


def test_a_trail_event_counts(store: Store) -> None:
    with store.transaction() as uow:
        assert uow.audit.try_add_events([audit_event("row-changes", "TagUser")])
        assert uow.wrote_nothing() is False
