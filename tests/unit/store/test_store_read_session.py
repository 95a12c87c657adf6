"""Read-only transactions without an ORM session until one is needed (iamd.store.store.ReadSession):
prepared reads and ORM reads in one read-only transaction share its one snapshot, in either
order; the transaction ends with the block; writes are still refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from iamd.secrets import SeededIds
from iamd.store import Store, StoreError, UnitOfWork
from iamd.store.prepared import Prepared
from iamd.store.schema import User
from iamd.store.store import ReadSession

ACCOUNT = "111122223333"  # created by the store fixture (conftest.py)
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

_NAMES = Prepared(select(User.name).where(User.account_id == bindparam("account_id")).order_by(User.name))


def _user(uow: UnitOfWork, name: str, ids: SeededIds) -> None:
    uow.users.create(ACCOUNT, user_id=ids.user_id(), name=name, path="/", created_at=NOW)


def _orm_names(uow: UnitOfWork) -> list[str]:
    query = select(User.name).where(User.account_id == ACCOUNT).order_by(User.name)
    return list(uow.session.scalars(query))


def _prepared_names(uow: UnitOfWork) -> list[str]:
    return [row[0] for row in _NAMES.rows(uow.session, {"account_id": ACCOUNT})]


@pytest.mark.parametrize("prepared_first", [True, False])
def test_prepared_and_orm_reads_share_one_snapshot(
    store: Store, ids: SeededIds, prepared_first: bool
) -> None:
    with store.transaction() as uow:
        _user(uow, "alice", ids)
    with store.transaction(readonly=True) as reader:
        assert isinstance(reader.session, ReadSession)
        first = _prepared_names(reader) if prepared_first else _orm_names(reader)
        # A write committed while the reader's transaction is open: neither kind of read sees it.
        with store.transaction() as writer:
            _user(writer, "bob", ids)
        second = _orm_names(reader) if prepared_first else _prepared_names(reader)
        assert first == second == ["alice"]
        assert reader.session.connection().in_transaction()
    with store.transaction(readonly=True) as reader:
        assert _prepared_names(reader) == _orm_names(reader) == ["alice", "bob"]


def test_the_transaction_ends_with_the_block(store: Store, ids: SeededIds) -> None:
    with store.transaction(readonly=True) as uow:
        assert _prepared_names(uow) == []
        connection = uow.session.connection()
    assert not connection.in_transaction()
    with store.transaction(readonly=True) as uow:
        _orm_names(uow)
        connection = uow.session.connection()
    assert not connection.in_transaction()
    with pytest.raises(RuntimeError), store.transaction(readonly=True) as uow:
        _prepared_names(uow)
        connection = uow.session.connection()
        raise RuntimeError("the work failed")
    assert not connection.in_transaction()


def test_no_orm_session_until_one_is_needed(store: Store) -> None:
    with store.transaction(readonly=True) as uow:
        read = uow.session
        assert isinstance(read, ReadSession)
        _prepared_names(uow)
        assert read._session is None
        _orm_names(uow)
        assert isinstance(read._session, Session)
    with store.transaction() as uow:  # writers too: prepared writes need no ORM session
        write = uow.session
        assert isinstance(write, ReadSession)
        uow.users.create(ACCOUNT, user_id="AIDAWRITERNOORM00001", name="w", path="/", created_at=NOW)
        assert write._session is None
        _orm_names(uow)
        assert isinstance(write._session, Session)
    with store.transaction(readonly=True) as uow:
        assert "w" in _orm_names(uow)


def test_read_only_transactions_still_refuse_writes(store: Store, ids: SeededIds) -> None:
    with pytest.raises(StoreError), store.transaction(readonly=True) as uow:
        _prepared_names(uow)
        _user(uow, "carol", ids)
    with store.transaction(readonly=True) as uow:
        assert _orm_names(uow) == []
