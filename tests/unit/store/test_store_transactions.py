"""Transactions: all or nothing, read-only, generations, retries, concurrent writers, errors."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import text
from tests.unit.store.helpers import queue_free

from iamd.secrets import SeededIds
from iamd.store import AlreadyExists, RetryableError, Store, StoreError, UnitOfWork

ACCOUNT = "111122223333"  # created by the store fixture (conftest.py)
OTHER_ACCOUNT = "444455556666"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _user(uow: UnitOfWork, name: str, ids: SeededIds, account: str = ACCOUNT) -> str:
    return uow.users.create(account, user_id=ids.user_id(), name=name, path="/", created_at=NOW).id


def test_a_rolled_back_transaction_leaves_nothing(store: Store, ids: SeededIds) -> None:
    with pytest.raises(RuntimeError), store.transaction() as uow:
        user_id = _user(uow, "alice", ids)
        uow.inline_policies.put(ACCOUNT, "user", user_id, "p", "{}")
        uow.tags.put(ACCOUNT, "user", user_id, {"team": "a"})
        raise RuntimeError("abort")
    with store.transaction(readonly=True) as uow:
        assert uow.users.find(ACCOUNT, "alice") is None
        assert uow.tags.list(ACCOUNT, "user", user_id) == ()
        assert uow.accounts.generation(ACCOUNT) == 0
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM inline_policies")).scalar_one() == 0


def test_a_committed_transaction_is_visible_to_the_next(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        _user(uow, "alice", ids)
    with store.transaction(readonly=True) as uow:
        assert uow.users.get(ACCOUNT, "alice").name == "alice"


def test_read_only_transactions_refuse_writes(store: Store, ids: SeededIds) -> None:
    with pytest.raises(StoreError, match="read-only"), store.transaction(readonly=True) as uow:
        _user(uow, "alice", ids)


def test_generation_bumps_once_per_writing_transaction(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        user_id = _user(uow, "alice", ids)
        uow.inline_policies.put(ACCOUNT, "user", user_id, "p", "{}")
        uow.tags.put(ACCOUNT, "user", user_id, {"k": "v"})
    with store.transaction() as uow:
        uow.users.update(user_id, path="/x/")
    with store.transaction(readonly=True) as uow:
        assert uow.accounts.generations([ACCOUNT, OTHER_ACCOUNT]) == {ACCOUNT: 2, OTHER_ACCOUNT: 0}


def test_generations_read_again_after_a_write_in_the_same_transaction(store: Store, ids: SeededIds) -> None:
    """A transaction reads its generations once (several steps of a request ask for them), and
    again after any write of its own: a bump, or an account created."""
    with store.transaction() as uow:
        before = uow.accounts.generations([ACCOUNT, OTHER_ACCOUNT])
        assert uow.accounts.generations([ACCOUNT]) == {ACCOUNT: before[ACCOUNT]}
        _user(uow, "alice", ids)  # bumps ACCOUNT's generation
        assert uow.accounts.generations([ACCOUNT, OTHER_ACCOUNT]) == {
            ACCOUNT: before[ACCOUNT] + 1,
            OTHER_ACCOUNT: before[OTHER_ACCOUNT],
        }
        assert uow.accounts.generations(["999988887777"]) == {}
        uow.accounts.create("999988887777", name="new", created_at=NOW)
        assert uow.accounts.generations(["999988887777"]) == {"999988887777": 0}


def test_usage_records_do_not_bump_the_generation(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        user_id = _user(uow, "alice", ids)
        key = uow.access_keys.create(
            ACCOUNT,
            key_id=ids.access_key_id(),
            user_id=user_id,
            secret_access_key=ids.secret_access_key(),
            created_at=NOW,
        )
    with store.transaction() as uow:
        uow.users.record_password_use(user_id, NOW)
        uow.access_keys.record_use(key.id, NOW, "iam", None)
    with store.transaction(readonly=True) as uow:
        assert uow.accounts.generation(ACCOUNT) == 1


def test_writes_that_change_nothing_do_not_bump_the_generation(store: Store, ids: SeededIds) -> None:
    """Putting the tags a resource carries, the inline policy it has, or attaching an attached
    policy changes no decision: the generation stays (every cache stays valid). Any change, even
    of one tag's value or of a policy name's case, bumps it."""
    with store.transaction() as uow:
        user_id = _user(uow, "alice", ids)
        uow.tags.put(ACCOUNT, "user", user_id, {"team": "a", "site": "x"})
        uow.inline_policies.put(ACCOUNT, "user", user_id, "p", "{}")
        policy_id = uow.policies.create(
            ACCOUNT, policy_id=ids.policy_id(), name="pol", path="/", document="{}", created_at=NOW
        ).id
        assert uow.policies.attach(policy_id, "user", user_id, account_id=ACCOUNT)

    def generation() -> int:
        with store.transaction(readonly=True) as uow:
            return uow.accounts.generation(ACCOUNT)

    start = generation()
    with store.transaction() as uow:
        uow.tags.put(ACCOUNT, "user", user_id, {"team": "a"})
        uow.tags.put(ACCOUNT, "user", user_id, {})
        uow.inline_policies.put(ACCOUNT, "user", user_id, "p", "{}")
        assert not uow.policies.attach(policy_id, "user", user_id, account_id=ACCOUNT)
    assert generation() == start
    for change in (
        lambda uow: uow.tags.put(ACCOUNT, "user", user_id, {"team": "b"}),
        lambda uow: uow.tags.put(ACCOUNT, "user", user_id, {"TEAM": "b"}),
        lambda uow: uow.tags.put(ACCOUNT, "user", user_id, {"new": "c"}),
        lambda uow: uow.inline_policies.put(ACCOUNT, "user", user_id, "p", '{"a": 1}'),
        lambda uow: uow.inline_policies.put(ACCOUNT, "user", user_id, "P", '{"a": 1}'),
        lambda uow: uow.inline_policies.put(ACCOUNT, "user", user_id, "q", "{}"),
    ):
        with store.transaction() as uow:
            change(uow)
        assert generation() == start + 1
        start += 1


def test_generation_does_not_bump_when_the_transaction_fails(store: Store, ids: SeededIds) -> None:
    with pytest.raises(AlreadyExists), store.transaction() as uow:
        _user(uow, "alice", ids)
        _user(uow, "ALICE", ids)
    with store.transaction(readonly=True) as uow:
        assert uow.accounts.generation(ACCOUNT) == 0


def test_run_retries_work_that_lost_a_race(store: Store, ids: SeededIds) -> None:
    attempts = []

    def work(uow: UnitOfWork) -> str:
        attempts.append(1)
        user_id = _user(uow, f"user{len(attempts)}", ids)
        if len(attempts) < 3:
            raise RetryableError("simulated serialization failure")
        return user_id

    store.run(work)
    assert len(attempts) == 3
    with store.transaction(readonly=True) as uow:
        assert [u.name for u in uow.users.list(ACCOUNT).items] == ["user3"]  # the failed tries left nothing


def test_run_gives_up_after_its_attempts(store: Store) -> None:
    def work(uow: UnitOfWork) -> None:
        raise RetryableError("always")

    with pytest.raises(RetryableError):
        store.run(work, attempts=2)


def test_concurrent_tag_writes_bump_the_generation_once_per_change(store: Store, ids: SeededIds) -> None:
    """6 threads put one tag on one user over and over, each with one of two values, so that
    about half the writes change it and half replay it. The generation rises by exactly the number
    of committed writes that found another value (each counted by the attempt that committed): no
    change without a bump (no lost invalidation), no bump without a change. On PostgreSQL these
    writers race (serialization failures, retried)."""
    with store.transaction() as uow:
        user_id = _user(uow, "alice", ids)
        uow.tags.put(ACCOUNT, "user", user_id, {"k": "a"})
    with store.transaction(readonly=True) as uow:
        start = uow.accounts.generation(ACCOUNT)
    changes: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def put(uow: UnitOfWork, value: str) -> int:
        (current,) = uow.tags.list(ACCOUNT, "user", user_id)
        uow.tags.put(ACCOUNT, "user", user_id, {"k": value})
        return int(current.value != value)

    def writer(n: int) -> None:
        try:
            for i in range(10):
                changed = store.run(lambda uow, value="ab"[(n + i) % 2]: put(uow, value))
                with lock:
                    changes.append(changed)
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert len(changes) == 60 and 0 < sum(changes) < 60
    with store.transaction(readonly=True) as uow:
        assert uow.accounts.generation(ACCOUNT) == start + sum(changes)


def test_a_transaction_tells_whether_it_queued_and_whether_it_changed_anything(
    store: Store, ids: SeededIds
) -> None:
    """What the pipeline reads after a write (iamd.server.contention): a writer named its account
    queues on PostgreSQL only; a write that bumps no generation changed nothing."""
    queues = store.backend == "postgresql"
    with store.transaction(account_id=ACCOUNT) as uow:
        assert uow.contended is queues
        assert not uow.changed_anything
        user_id = _user(uow, "alice", ids)
        assert uow.changed_anything
    with store.transaction() as uow:
        assert not uow.contended
        uow.tags.put(ACCOUNT, "user", user_id, {"k": "v"})
        assert uow.changed_anything
    with store.transaction(account_id=ACCOUNT) as uow:
        uow.tags.put(ACCOUNT, "user", user_id, {"k": "v"})  # a replay
        assert uow.contended is queues
        assert not uow.changed_anything
    with store.transaction(readonly=True, account_id=ACCOUNT) as uow:
        assert not uow.contended and not uow.changed_anything


def test_a_queued_writer_commits_and_gives_the_queue_back(store: Store, ids: SeededIds) -> None:
    """On PostgreSQL a queued writer holds its account's queue lock for its whole transaction and
    releases it with its COMMIT (one round trip): after the block the lock is free and the write
    is there; an empty transaction releases it too."""
    if store.backend != "postgresql":
        pytest.skip("the queue is PostgreSQL's advisory lock")
    with store.transaction(account_id=ACCOUNT) as uow:
        _user(uow, "alice", ids)
        assert not queue_free(store, ACCOUNT)
    assert queue_free(store, ACCOUNT)
    with store.transaction(account_id=ACCOUNT):
        pass
    assert queue_free(store, ACCOUNT)
    with store.transaction(account_id=ACCOUNT) as uow:
        uow.session.begin_nested()  # a savepoint still open at the end: committed with the rest
        _user(uow, "bob", ids)
    assert queue_free(store, ACCOUNT)
    with store.transaction(readonly=True) as uow:
        assert uow.users.get(ACCOUNT, "alice").name == "alice"
        assert uow.users.get(ACCOUNT, "bob").name == "bob"
        assert uow.accounts.generation(ACCOUNT) == 2


def test_a_queued_writer_whose_commit_fails_gives_the_queue_back(store: Store) -> None:
    """A queued writer and another serializable writer each count a table's rows and insert one
    (write skew): the other commits first, so the queued writer's COMMIT fails (PostgreSQL
    cancels it at commit) and must neither hold the queue nor leave its row; it is retryable."""
    if store.backend != "postgresql":
        pytest.skip("the queue is PostgreSQL's advisory lock")
    with store.engine.begin() as setup:
        setup.execute(text("CREATE TABLE skew (n integer)"))
    try:
        with pytest.raises(RetryableError), store.transaction(account_id=ACCOUNT) as uow:
            uow.session.execute(text("SELECT count(*) FROM skew")).scalar_one()
            with store.engine.connect().execution_options(isolation_level="SERIALIZABLE") as other:
                other.execute(text("SELECT count(*) FROM skew")).scalar_one()
                other.execute(text("INSERT INTO skew VALUES (2)"))
                uow.session.execute(text("INSERT INTO skew VALUES (1)"))
                other.commit()
        assert queue_free(store, ACCOUNT)
        with store.engine.connect() as check:
            assert check.execute(text("SELECT n FROM skew")).scalars().all() == [2]
            check.rollback()
    finally:
        with store.engine.begin() as cleanup:
            cleanup.execute(text("DROP TABLE skew"))


@pytest.mark.parametrize("queue", [False, True], ids=["retrying", "queued"])
def test_concurrent_writers_lose_nothing(store: Store, queue: bool) -> None:
    """8 threads create users and delete every other one; every commit is counted once.

    Without the account hint, PostgreSQL writers conflict and are retried; with it they queue.
    """
    hint = ACCOUNT if queue else None
    threads, per_thread = 8, 12
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        thread_ids = SeededIds(f"thread-{n}")
        try:
            for i in range(per_thread):
                name = f"t{n}-u{i:02d}"
                user_id = store.run(lambda uow, name=name: _user(uow, name, thread_ids), account_id=hint)
                if i % 2:
                    store.run(lambda uow, user_id=user_id: uow.users.delete(user_id), account_id=hint)
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    with store.transaction(readonly=True) as uow:
        names = []
        marker = None
        while True:
            page = uow.users.list(ACCOUNT, marker=marker, max_items=7)
            names += [u.name for u in page.items]
            if (marker := page.marker) is None:
                break
        assert sorted(names) == sorted(
            f"t{n}-u{i:02d}" for n in range(threads) for i in range(0, per_thread, 2)
        )
        assert uow.accounts.generation(ACCOUNT) == threads * (per_thread + per_thread // 2)


@pytest.mark.parametrize("queue", [False, True], ids=["unqueued", "queued"])
def test_a_connection_the_database_dropped_is_replaced_and_the_work_retried(
    store: Store, ids: SeededIds, queue: bool
) -> None:
    """PostgreSQL ends the pooled connections (a restart, pg_terminate_backend): the next
    transactions, read and write, run again on new connections; nothing is written twice."""
    if store.backend != "postgresql":
        pytest.skip("SQLite connections are files: nothing drops them")
    hint = ACCOUNT if queue else None
    with store.engine.connect() as one, store.engine.connect() as two:  # two pooled connections
        pids = {c.execute(text("SELECT pg_backend_pid()")).scalar_one() for c in (one, two)}
        one.rollback()
        two.rollback()
    plain = store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (list(pids),))
    attempts: list[int] = []

    def write(uow: UnitOfWork) -> str:
        attempts.append(uow.session.execute(text("SELECT pg_backend_pid()")).scalar_one())
        return _user(uow, "after-kill", ids)

    store.run(write, account_id=hint)
    assert store.run(lambda uow: uow.accounts.generation(ACCOUNT), readonly=True) == 1
    assert not pids & set(attempts[-1:])
    with store.transaction(readonly=True) as uow:
        assert [u.name for u in uow.users.list(ACCOUNT).items] == ["after-kill"]


def test_integrity_errors_become_store_errors(store: Store, ids: SeededIds) -> None:
    """A duplicate that slips past the repositories' checks still surfaces as AlreadyExists."""
    with store.transaction() as uow:
        user_id = _user(uow, "alice", ids)
    with pytest.raises(AlreadyExists), store.transaction() as uow:
        uow.access_keys.create(
            ACCOUNT, key_id="AKIADUPLICATEDUPLICA", user_id=user_id, secret_access_key="s", created_at=NOW
        )
        uow.access_keys.create(
            ACCOUNT, key_id="AKIADUPLICATEDUPLICA", user_id=user_id, secret_access_key="s", created_at=NOW
        )


def test_timestamps_come_back_aware_utc_and_naive_ones_are_refused(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        _user(uow, "alice", ids)
    with store.transaction(readonly=True) as uow:
        created = uow.users.get(ACCOUNT, "alice").created_at
    assert created == NOW
    assert created.utcoffset() is not None and created.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    with pytest.raises(StoreError), store.transaction() as uow:
        uow.users.create(
            ACCOUNT, user_id=ids.user_id(), name="bob", path="/", created_at=datetime(2026, 1, 1)
        )


def test_a_write_scoped_to_a_principal_moves_its_generation_not_the_shared_one(
    store: Store, ids: SeededIds
) -> None:
    with store.transaction() as uow:
        alice, bob = _user(uow, "alice", ids), _user(uow, "bob", ids)
        role = uow.roles.create(
            ACCOUNT,
            role_id=ids.role_id(),
            name="r",
            path="/",
            trust_policy="{}",
            created_at=NOW,
            max_session_duration=3600,
        ).id
    with store.transaction(readonly=True) as uow:
        shared = uow.accounts.generations([ACCOUNT])[ACCOUNT]
        full = uow.accounts.generation(ACCOUNT)
        assert uow.accounts.generations([ACCOUNT], ("user", alice)) == {ACCOUNT: shared, alice: 0}
    with store.transaction() as uow, uow.principal_scoped(ACCOUNT, "user", alice):
        uow.inline_policies.put(ACCOUNT, "user", alice, "p", "{}")
        uow.tags.put(ACCOUNT, "user", alice, {"k": "v"})  # once per transaction
    with store.transaction() as uow, uow.principal_scoped(ACCOUNT, "role", role):
        uow.tags.put(ACCOUNT, "role", role, {"k": "v"})
    with store.transaction(readonly=True) as uow:
        # Every change still moves the account's generation (and takes its row lock).
        assert uow.accounts.generation(ACCOUNT) == full + 2
        assert uow.accounts.generations([ACCOUNT, "aws"], ("user", alice))[alice] == 1
        assert uow.accounts.generations([ACCOUNT], ("user", bob)) == {ACCOUNT: shared, bob: 0}
        assert uow.accounts.generations([ACCOUNT], ("role", role)) == {ACCOUNT: shared, role: 1}
        assert uow.accounts.generations([ACCOUNT], ("user", "AIDANOSUCHUSER")) == {
            ACCOUNT: shared,
            "AIDANOSUCHUSER": -1,
        }
    # A transaction with a scoped change and a shared one moves both, each once.
    with store.transaction() as uow:
        with uow.principal_scoped(ACCOUNT, "user", bob):
            uow.tags.put(ACCOUNT, "user", bob, {"k": "v"})
        uow.users.update(alice, path="/x/")
        with uow.principal_scoped(ACCOUNT, "user", bob):
            uow.tags.put(ACCOUNT, "user", bob, {"k": "w"})
    with store.transaction(readonly=True) as uow:
        assert uow.accounts.generation(ACCOUNT) == full + 3
        assert uow.accounts.generations([ACCOUNT], ("user", bob)) == {ACCOUNT: shared + 1, bob: 1}
    # The shared change first: the scoped one after it moves only the principal's.
    with store.transaction() as uow:
        uow.users.update(alice, path="/y/")
        with uow.principal_scoped(ACCOUNT, "user", bob):
            uow.tags.put(ACCOUNT, "user", bob, {"k": "x"})
    with store.transaction(readonly=True) as uow:
        assert uow.accounts.generation(ACCOUNT) == full + 4
        assert uow.accounts.generations([ACCOUNT], ("user", bob)) == {ACCOUNT: shared + 2, bob: 2}


def test_a_group_scope_and_a_rolled_back_scope_stay_shared(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        alice = _user(uow, "alice", ids)
        group = uow.groups.create(ACCOUNT, group_id=ids.group_id(), name="g", path="/", created_at=NOW).id
    with store.transaction(readonly=True) as uow:
        shared = uow.accounts.generations([ACCOUNT])[ACCOUNT]
    # A group's policies reach its members: shared.
    with store.transaction() as uow, uow.principal_scoped(ACCOUNT, "group", group):
        uow.inline_policies.put(ACCOUNT, "group", group, "p", "{}")
    with pytest.raises(ValueError), store.transaction() as uow, uow.principal_scoped(ACCOUNT, "user", alice):
        uow.tags.put(ACCOUNT, "user", alice, {"k": "v"})
        raise ValueError("rolled back")
    with store.transaction() as uow:
        outer = uow.principal_scoped(ACCOUNT, "user", alice)
        with outer, pytest.raises(StoreError), uow.principal_scoped(ACCOUNT, "user", alice):
            pass
        uow.tags.put(ACCOUNT, "user", alice, {"k": "v"})  # after the block: shared again
    with store.transaction(readonly=True) as uow:
        assert uow.accounts.generations([ACCOUNT], ("user", alice)) == {ACCOUNT: shared + 2, alice: 0}


def test_a_principal_created_in_its_scope_starts_at_generation_zero(store: Store, ids: SeededIds) -> None:
    with store.transaction(readonly=True) as uow:
        shared = uow.accounts.generations([ACCOUNT])[ACCOUNT]
        full = uow.accounts.generation(ACCOUNT)
    user_id = ids.user_id()
    with store.transaction() as uow, uow.principal_scoped(ACCOUNT, "user", user_id, new=True):
        uow.users.create(ACCOUNT, user_id=user_id, name="new", path="/", created_at=NOW)
        uow.tags.put(ACCOUNT, "user", user_id, {"k": "v"})
    with store.transaction(readonly=True) as uow:
        assert uow.accounts.generation(ACCOUNT) == full + 1
        assert uow.accounts.generations([ACCOUNT], ("user", user_id)) == {ACCOUNT: shared, user_id: 0}
