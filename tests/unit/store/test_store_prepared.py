"""Prepared reads and inserts (iamd.store.prepared): the rows SQLAlchemy would give (or store), in
the unit of work's transaction, and driver errors that the store translates (a dropped connection retried)."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import DateTime, bindparam, insert, literal_column, select, table, text

from iamd.secrets import SeededIds
from iamd.store import Store, StoreError, UnitOfWork
from iamd.store.audit import TrailChainRow
from iamd.store.prepared import Prepared, PreparedInsert
from iamd.store.schema import User

ACCOUNT = "111122223333"  # created by the store fixture (conftest.py)
NOW = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)

_USERS = select(User.id, User.name, User.created_at, User.password_last_used).where(
    User.account_id == bindparam("account_id")
)


def _user(uow: UnitOfWork, name: str, ids: SeededIds) -> str:
    return uow.users.create(ACCOUNT, user_id=ids.user_id(), name=name, path="/", created_at=NOW).id


def test_rows_are_those_sqlalchemy_reads_converted_alike(store: Store, ids: SeededIds) -> None:
    prepared = Prepared(_USERS.order_by(User.name))
    with store.transaction() as uow:
        _user(uow, "alice", ids)
        _user(uow, "bob", ids)
        # Inside the writing transaction: its own pending (unflushed) work is seen.
        assert [row[1] for row in prepared.rows(uow.session, {"account_id": ACCOUNT})] == ["alice", "bob"]
    with store.transaction(readonly=True) as uow:
        ours = prepared.rows(uow.session, {"account_id": ACCOUNT})
        theirs = [tuple(row) for row in uow.session.execute(prepared.statement, {"account_id": ACCOUNT})]
        assert ours == theirs
        assert ours[0][2] == NOW and ours[0][2].tzinfo is not None  # dates converted, aware
        assert ours[0][3] is None
        assert prepared.rows(uow.session, {"account_id": "999999999999"}) == []


def test_a_parameter_the_dialect_would_convert_is_refused(store: Store) -> None:
    prepared = Prepared(select(User.id).where(User.created_at == bindparam("when", type_=DateTime())))
    with store.transaction(readonly=True) as uow:
        if store.backend == "postgresql":
            assert prepared.rows(uow.session, {"when": NOW}) == []  # psycopg takes datetimes as they are
        else:
            with pytest.raises(TypeError):
                prepared.rows(uow.session, {"when": NOW})


def test_a_driver_error_arrives_as_a_store_error(store: Store) -> None:
    refused = Prepared(select(literal_column("missing")).select_from(table("nowhere")))
    with pytest.raises(StoreError, match="nowhere"), store.transaction(readonly=True) as uow:
        refused.rows(uow.session, {})
    with store.transaction(readonly=True) as uow:  # the next transaction is sound
        assert uow.users.find(ACCOUNT, "alice") is None


def test_a_dropped_connection_is_replaced_and_the_read_retried(store: Store, ids: SeededIds) -> None:
    """The first statement of a read is a prepared one (the caller's account generation): a
    connection PostgreSQL ended fails it as a disconnect, and the store runs the read again on a
    new connection."""
    if store.backend != "postgresql":
        pytest.skip("SQLite connections are files: nothing drops them")
    with store.transaction() as uow:
        _user(uow, "alice", ids)
    store.engine.dispose()  # the pool's one connection from here on: the one ended below
    with store.engine.connect() as one:
        pid = one.execute(text("SELECT pg_backend_pid()")).scalar_one()
        one.rollback()
    plain = store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    attempts: list[int] = []

    def read(uow: UnitOfWork) -> str | None:
        attempts.append(1)
        generations = uow.accounts.generations([ACCOUNT])
        user = uow.users.find(ACCOUNT, "alice")
        assert generations[ACCOUNT] == 1
        return None if user is None else user.name

    assert store.run(read, readonly=True) == "alice"
    assert len(attempts) == 2


def test_a_dropped_connection_discards_the_whole_pool(store: Store) -> None:
    """When PostgreSQL ended every connection (a restart, a failover), the first read to meet a
    dead one fails, as SQLAlchemy's own statements do, and the whole pool goes with it: the next
    read, even with one attempt (the readiness probe's), gets a new connection, not the next dead
    one of the pool."""
    if store.backend != "postgresql":
        pytest.skip("SQLite connections are files: nothing drops them")
    store.engine.dispose()
    held = [store.engine.connect() for _ in range(3)]  # three connections in the pool
    pids = []
    for connection in held:
        pids.append(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())
        connection.rollback()
    for connection in held:
        connection.close()
    plain = store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

    def probe(uow: UnitOfWork) -> int:
        return uow.accounts.generations([ACCOUNT])[ACCOUNT]

    with pytest.raises(StoreError):
        store.run(probe, readonly=True, attempts=1)
    assert store.run(probe, readonly=True, attempts=1) >= 0


def test_a_prepared_insert_stores_what_sqlalchemy_stores(store: Store) -> None:
    columns = ["id", "seq", "hash", "digested_seq", "digested_at"]
    prepared = PreparedInsert(TrailChainRow.__table__, columns)  # type: ignore[arg-type]
    with store.transaction() as uow:
        prepared.run(uow.session, [{"id": 7, "seq": 1, "hash": "a", "digested_seq": 0, "digested_at": NOW}])
        prepared.run(uow.session, [])
        prepared.run(
            uow.session,
            [{"id": n, "seq": n, "hash": "b", "digested_seq": n, "digested_at": None} for n in (8, 9)],
        )
        uow.session.execute(
            insert(TrailChainRow), [{"id": 10, "seq": 1, "hash": "a", "digested_seq": 0, "digested_at": NOW}]
        )
    with store.transaction(readonly=True) as uow:
        rows = {
            r.id: (r.seq, r.hash, r.digested_seq, r.digested_at)
            for r in uow.session.scalars(select(TrailChainRow))
        }
    assert rows[7] == rows[10] == (1, "a", 0, NOW)  # the date converted alike (aware, UTC)
    assert rows[8] == (8, "b", 8, None) and rows[9] == (9, "b", 9, None)
    # A row the database refuses (a duplicate key): SQLAlchemy's error, translated by the store.
    with pytest.raises(StoreError), store.transaction() as uow:
        prepared.run(uow.session, [{"id": 7, "seq": 2, "hash": "c", "digested_seq": 0, "digested_at": None}])
    with store.transaction(readonly=True) as uow:  # the next transaction is sound
        assert uow.session.get(TrailChainRow, 7) is not None
