"""Writes on the request path run as prepared statements on the driver (iamd.store.prepared:
PreparedInsert, PreparedWrite), and SQLite's writers share one kept connection (its transaction
begun IMMEDIATE and committed on the driver): the same answers, errors and generation bumps as
the ORM and Core statements they replace."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime

import pytest

from iamd.secrets import SeededIds
from iamd.store import AlreadyExists, Conflict, NotFound, RetryableError, Store, StoreError, UnitOfWork

ACCOUNT = "111122223333"  # created by the store fixture (conftest.py)
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _generation(store: Store) -> int:
    with store.transaction(readonly=True) as uow:
        return uow.accounts.generation(ACCOUNT)


def _user(uow: UnitOfWork, ids: SeededIds, name: str) -> str:
    return uow.users.create(ACCOUNT, user_id=ids.user_id(), name=name, path="/", created_at=NOW).id


def _policy(uow: UnitOfWork, ids: SeededIds, name: str) -> str:
    return uow.policies.create(
        ACCOUNT, policy_id=ids.policy_id(), name=name, path="/", document="{}", created_at=NOW
    ).id


def test_one_bump_per_transaction_however_many_writes(store: Store, ids: SeededIds) -> None:
    before = _generation(store)
    with store.transaction() as uow:
        _user(uow, ids, "a")
        _user(uow, ids, "b")
    assert _generation(store) == before + 1
    with pytest.raises(RuntimeError), store.transaction() as uow:
        _user(uow, ids, "c")
        raise RuntimeError("rolled back")
    assert _generation(store) == before + 1  # nor when the transaction rolls back
    with store.transaction(readonly=True) as uow:
        assert uow.users.find(ACCOUNT, "c") is None
        assert uow.users.count(ACCOUNT) == 2


def test_a_duplicate_row_is_already_exists_a_missing_reference_a_conflict(
    store: Store, ids: SeededIds
) -> None:
    with store.transaction() as uow:
        user_id = _user(uow, ids, "alice")
    with pytest.raises(AlreadyExists), store.transaction() as uow:  # the same id: the primary key
        uow.users.create(ACCOUNT, user_id=user_id, name="bob", path="/", created_at=NOW)
    with pytest.raises(AlreadyExists, match="already exists"), store.transaction() as uow:
        uow.users.create(ACCOUNT, user_id=ids.user_id(), name="ALICE", path="/", created_at=NOW)
    with pytest.raises(Conflict), store.transaction() as uow:  # no such policy: a foreign key
        uow.policies.attach("ANPANOSUCHPOLICY0001", "user", user_id, account_id=ACCOUNT)
    with pytest.raises(StoreError), store.transaction() as uow:  # a naive date is refused
        uow.users.create(
            ACCOUNT, user_id=ids.user_id(), name="carol", path="/", created_at=datetime(2026, 1, 1)
        )
    with store.transaction(readonly=True) as uow:
        assert uow.users.count(ACCOUNT) == 1
        assert uow.policies.count_attached("user", user_id) == 0


def test_attach_count_detach(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        user_id = _user(uow, ids, "alice")
        first, second = _policy(uow, ids, "one"), _policy(uow, ids, "two")
        role_id = uow.roles.create(
            ACCOUNT, role_id=ids.role_id(), name="r", path="/", trust_policy="{}", created_at=NOW
        ).id
    before = _generation(store)
    with store.transaction() as uow:
        assert uow.policies.attach(first, "user", user_id, account_id=ACCOUNT) is True
        assert uow.policies.count_attached("user", user_id) == 1
    assert _generation(store) == before + 1
    with store.transaction() as uow:  # attached already: no change, no bump
        assert uow.policies.attach(first, "user", user_id, account_id=ACCOUNT) is False
        assert uow.policies.count_attached("user", user_id) == 1
    assert _generation(store) == before + 1
    with store.transaction() as uow:
        assert uow.policies.attach(second, "user", user_id, account_id=ACCOUNT) is True
        assert uow.policies.attach(second, "role", role_id, account_id=ACCOUNT) is True
        assert uow.policies.count_attached("user", user_id) == 2
        assert uow.policies.count_attached("role", role_id) == 1
        assert uow.policies.count_attached("group", user_id) == 0
    with store.transaction() as uow:
        uow.policies.detach(first, "user", user_id)
        with pytest.raises(NotFound):
            uow.policies.detach(first, "role", role_id)
    with store.transaction(readonly=True) as uow:
        assert [p.name for p in uow.policies.attached("user", user_id).items] == ["two"]
        assert uow.policies.is_attached(second, "role", role_id)
    generation = _generation(store)
    with pytest.raises(NotFound), store.transaction() as uow:
        uow.policies.detach(first, "user", user_id)
    assert _generation(store) == generation


def test_tags_and_inline_policies_bump_only_on_change(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        user_id = _user(uow, ids, "alice")
        uow.tags.put(ACCOUNT, "user", user_id, {"team": "a", "env": "dev"})
        assert uow.inline_policies.put(ACCOUNT, "user", user_id, "p", "{}") is True
    generation = _generation(store)
    with store.transaction() as uow:  # the same again: nothing changes
        uow.tags.put(ACCOUNT, "user", user_id, {"team": "a"})
        assert uow.inline_policies.put(ACCOUNT, "user", user_id, "p", "{}") is False
    assert _generation(store) == generation
    with store.transaction() as uow:  # a new value, a new spelling, a new document
        uow.tags.put(ACCOUNT, "user", user_id, {"Team": "b"})
        assert uow.inline_policies.put(ACCOUNT, "user", user_id, "P", '{"a": 1}') is False
    assert _generation(store) == generation + 1
    with store.transaction(readonly=True) as uow:
        assert {(t.key, t.value) for t in uow.tags.list(ACCOUNT, "user", user_id)} == {
            ("Team", "b"),
            ("env", "dev"),
        }
        assert uow.inline_policies.documents("user", user_id) == [("P", '{"a": 1}')]


def test_sqlite_writers_share_one_kept_connection(store: Store, ids: SeededIds) -> None:
    if store.backend != "sqlite":
        pytest.skip("SQLite only")
    drivers = set()
    for name in ("a", "b", "c"):
        with store.transaction() as uow:
            _user(uow, ids, name)
            drivers.add(id(uow.session.connection().connection.driver_connection))
    assert len(drivers) == 1
    kept = store._kept_writer
    assert kept is not None
    driver = kept.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    assert not driver.in_transaction  # committed: nothing left open between writes
    with pytest.raises(AlreadyExists), store.transaction() as uow:
        _user(uow, ids, "a")
    assert not driver.in_transaction  # rolled back
    with store.transaction(readonly=True) as uow:
        assert uow.users.count(ACCOUNT) == 3


def test_sqlite_kept_writer_busy_database_is_retryable(store: Store, ids: SeededIds) -> None:
    """Another process holding SQLite's write lock past the busy timeout: the write fails as
    retryable (as a pooled connection's BEGIN IMMEDIATE did), and the next one works."""
    if store.backend != "sqlite":
        pytest.skip("SQLite only")
    with store.transaction() as uow:
        _user(uow, ids, "a")
    kept = store._kept_writer
    assert kept is not None
    driver = kept.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    driver.execute("PRAGMA busy_timeout=50")
    database = store.engine.url.database
    assert database is not None
    other = sqlite3.connect(database, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(RetryableError), store.transaction() as uow:
            _user(uow, ids, "b")
        other.rollback()
    finally:
        other.close()
    with store.transaction() as uow:
        _user(uow, ids, "b")
    with store.transaction(readonly=True) as uow:
        assert uow.users.count(ACCOUNT) == 2


def test_sqlite_concurrent_writers_all_take_the_kept_connection(store: Store, ids: SeededIds) -> None:
    """Writers of several threads take turns on the store's lock: each, once it has it, writes on
    the kept connection (none falls back to a pooled one for finding it busy)."""
    if store.backend != "sqlite":
        pytest.skip("SQLite only")
    drivers: list[int] = []
    names = iter(f"u{n}" for n in range(40))
    guard = threading.Lock()

    def work() -> None:
        for _ in range(10):
            with guard:
                name, user_id = next(names), ids.user_id()
            with store.transaction() as uow:
                uow.users.create(ACCOUNT, user_id=user_id, name=name, path="/", created_at=NOW)
                drivers.append(id(uow.session.connection().connection.driver_connection))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(drivers) == 40 and len(set(drivers)) == 1
    with store.transaction(readonly=True) as uow:
        assert uow.users.count(ACCOUNT) == 40


def test_a_batch_insert_stores_every_row_as_given(store: Store, ids: SeededIds) -> None:
    """75 rows: on SQLite in statements of 32 rows (32, 32, 11), elsewhere an executemany."""
    from iamd.store.prepared import ROWS_PER_INSERT, PreparedInsert
    from iamd.store.schema import User

    insert = PreparedInsert(
        User.__table__, ("id", "account_id", "name", "name_lower", "path", "created_at", "generation")
    )  # type: ignore[arg-type]
    rows = [
        {
            "id": ids.user_id(),
            "account_id": ACCOUNT,
            "name": f"User{n:03d}",
            "name_lower": f"user{n:03d}",
            "path": f"/p{n % 3}/",
            "created_at": NOW.replace(second=n % 60),
            "generation": 0,
        }
        for n in range(2 * ROWS_PER_INSERT + 11)
    ]
    with store.transaction() as uow:
        insert.run(uow.session, rows)
    with store.transaction(readonly=True) as uow:
        listed = uow.users.list(ACCOUNT, max_items=1000).items
    assert [(u.id, u.name, u.path, u.created_at) for u in listed] == [
        (r["id"], r["name"], r["path"], r["created_at"]) for r in rows
    ]
    with pytest.raises(AlreadyExists), store.transaction() as uow:  # one row taken: none stored
        insert.run(uow.session, [{**rows[0], "id": ids.user_id(), "name": "Other"}, {**rows[1]}])
    with store.transaction(readonly=True) as uow:
        assert len(uow.users.list(ACCOUNT, max_items=1000).items) == len(rows)
