"""Group commit on PostgreSQL (iamd.store.group_commit): writers queued for one account while one of
them holds its queue run in that one's transaction, one after another, and commit together. Each
is answered as if it had run alone: what it wrote is committed when it is told so, a refusal of
its own takes back only its work, a race lost runs every member again, and what a later member
reads of generations an earlier one moved is never a committed value."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from tests.unit.store.helpers import ACCOUNT, add_user, pg_driver, prepared_names, queue_free

from iamd.secrets import SeededIds
from iamd.store import Conflict, NotFound, RetryableError, Store, UnitOfWork

OTHER_ACCOUNT = "444455556666"  # created by the store fixture (conftest.py)
Work = Callable[[UnitOfWork], Any]


@pytest.fixture
def pg_store(store: Store) -> Store:
    if store.backend != "postgresql":
        pytest.skip("SQLite's writers take turns on a lock: no queue, no groups")
    return store


def _txid(uow: UnitOfWork) -> int:
    return int(uow.session.connection().exec_driver_sql("SELECT txid_current()").scalar_one())


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def _in_one_group(store: Store, works: list[Work]) -> list[tuple[str, Any]]:
    """Run ``works`` queued for the account from a thread each: the first leads a group and waits
    (before its work) until all the others have joined it. Each one's ("ok", result) or
    ("error", exception)."""
    gate = threading.Event()
    first = works[0]

    def leader(uow: UnitOfWork) -> Any:
        gate.wait(10)
        return first(uow)

    outcomes: list[tuple[str, Any]] = [("none", None)] * len(works)

    def call(index: int, work: Work) -> None:
        try:
            outcomes[index] = ("ok", store.run(work, account_id=ACCOUNT))
        except Exception as error:  # the outcome under test
            outcomes[index] = ("error", error)

    groups = store.write_groups()
    threads = []
    for index, work in enumerate([leader, *works[1:]]):
        thread = threading.Thread(target=call, args=(index, work))
        thread.start()
        threads.append(thread)
        _until(lambda n=index + 1: groups.members(ACCOUNT) == n)
    gate.set()
    for thread in threads:
        thread.join(30)
    assert groups.members(ACCOUNT) == 0
    assert queue_free(store, ACCOUNT)
    return outcomes


def _adding(name: str, ids: SeededIds, then: Callable[[UnitOfWork], Any] | None = None) -> Work:
    def work(uow: UnitOfWork) -> Any:
        add_user(uow, name, ids)
        return (name, _txid(uow)) if then is None else then(uow)

    return work


def _names(store: Store) -> list[str]:
    return store.run(prepared_names, readonly=True)


def test_writers_queued_together_commit_in_one_transaction(pg_store: Store) -> None:
    ids = SeededIds(1)
    outcomes = _in_one_group(pg_store, [_adding(f"u{n}", ids) for n in range(4)])
    assert [kind for kind, _ in outcomes] == ["ok"] * 4
    assert [name for _, (name, _) in outcomes] == ["u0", "u1", "u2", "u3"]  # each its own answer
    assert len({txid for _, (_, txid) in outcomes}) == 1
    assert [n for n in _names(pg_store) if n.startswith("u")] == ["u0", "u1", "u2", "u3"]


def test_a_member_refused_is_taken_back_alone(pg_store: Store) -> None:
    ids = SeededIds(2)

    def refuse(uow: UnitOfWork) -> Any:
        raise NotFound("no such thing")

    outcomes = _in_one_group(pg_store, [_adding("u0", ids), _adding("u1", ids, refuse), _adding("u2", ids)])
    assert outcomes[0][0] == outcomes[2][0] == "ok"
    assert outcomes[0][1][1] == outcomes[2][1][1]  # one transaction
    assert outcomes[1][0] == "error" and isinstance(outcomes[1][1], NotFound)
    names = _names(pg_store)
    assert "u0" in names and "u2" in names and "u1" not in names


def test_the_first_member_refused_leaves_the_others_a_transaction(pg_store: Store) -> None:
    ids = SeededIds(3)

    def refuse(uow: UnitOfWork) -> Any:
        raise Conflict("in use")

    outcomes = _in_one_group(pg_store, [_adding("u0", ids, refuse), _adding("u1", ids), _adding("u2", ids)])
    assert outcomes[0][0] == "error" and isinstance(outcomes[0][1], Conflict)
    assert outcomes[1][0] == outcomes[2][0] == "ok"
    assert outcomes[1][1][1] == outcomes[2][1][1]
    names = _names(pg_store)
    assert "u1" in names and "u2" in names and "u0" not in names


def test_a_race_lost_runs_every_member_again(pg_store: Store) -> None:
    ids = SeededIds(4)
    attempts = {"u0": 0, "u1": 0, "u2": 0}

    def counted(name: str, lose: bool = False) -> Work:
        def work(uow: UnitOfWork) -> Any:
            attempts[name] += 1
            add_user(uow, name, ids)
            if lose and attempts[name] == 1:
                raise RetryableError("lost a race")
            return name

        return work

    outcomes = _in_one_group(pg_store, [counted("u0"), counted("u1", lose=True), counted("u2")])
    assert outcomes == [("ok", "u0"), ("ok", "u1"), ("ok", "u2")]
    # the member before it ran again too (its work was in the failed transaction); each user once
    assert attempts["u0"] == 2 and attempts["u1"] == 2
    assert [n for n in _names(pg_store) if n.startswith("u")] == ["u0", "u1", "u2"]


def test_a_group_failed_by_another_runs_its_members_again_alone(pg_store: Store) -> None:
    ids = SeededIds(5)

    def defer_a_failure(uow: UnitOfWork) -> Any:
        # a statement whose result nobody reads, failing when it goes out: with the next member's
        # first statement (so not that member's fault), or alone with the COMMIT
        assert pg_driver(uow).defer("SELECT 1 / 0", None)
        return "u0"

    outcomes = _in_one_group(pg_store, [_adding("u0", ids, defer_a_failure), _adding("u1", ids)])
    assert outcomes[0][0] == "error"  # its own failure, once run alone
    assert outcomes[1][0] == "ok"  # run again alone: committed
    names = _names(pg_store)
    assert "u1" in names and "u0" not in names


def test_generations_an_earlier_member_moved_are_not_seen(pg_store: Store) -> None:
    seen: dict[str, int] = {}
    before = pg_store.run(lambda uow: uow.accounts.generations([ACCOUNT, OTHER_ACCOUNT]), readonly=True)

    def bump(uow: UnitOfWork) -> Any:
        uow.changed(ACCOUNT)
        return uow.accounts.generations([ACCOUNT])  # its own move: seen as any write sees it

    def read(uow: UnitOfWork) -> Any:
        seen.update(uow.accounts.generations([ACCOUNT, OTHER_ACCOUNT]))
        return uow.provisional_mark

    outcomes = _in_one_group(pg_store, [bump, read])
    assert outcomes[0] == ("ok", {ACCOUNT: before[ACCOUNT] + 1})
    mark = outcomes[1][1]
    assert mark < -1  # not a committed generation, nor a principal's that does not exist
    assert seen == {ACCOUNT: mark, OTHER_ACCOUNT: before[OTHER_ACCOUNT]}
    after = pg_store.run(lambda uow: uow.accounts.generations([ACCOUNT]), readonly=True)
    assert after == {ACCOUNT: before[ACCOUNT] + 1}


def test_a_write_alone_is_no_group(pg_store: Store) -> None:
    ids = SeededIds(6)
    assert pg_store.run(_adding("solo", ids), account_id=ACCOUNT)[0] == "solo"
    assert pg_store.write_groups().members(ACCOUNT) == 0
    assert queue_free(pg_store, ACCOUNT)
    assert "solo" in _names(pg_store)


@pytest.mark.parametrize("position", [0, 1])
def test_a_member_refused_after_reading_only_leaves_the_transaction_to_the_others(
    pg_store: Store, position: int
) -> None:
    """A refusal that wrote nothing (AccessDenied, NoSuchEntity after the reads) has nothing to
    take back: the others' work stands, committed together (no rollback spent on it)."""
    ids = SeededIds(7 + position)

    def read_then_refuse(uow: UnitOfWork) -> Any:
        prepared_names(uow)
        raise NotFound("no such user")

    works = [_adding("u0", ids), _adding("u1", ids)]
    works.insert(position, read_then_refuse)
    outcomes = _in_one_group(pg_store, works)
    refused = outcomes.pop(position)
    assert refused[0] == "error" and isinstance(refused[1], NotFound)
    assert [kind for kind, _ in outcomes] == ["ok", "ok"]
    assert outcomes[0][1][1] == outcomes[1][1][1]
    assert [n for n in _names(pg_store) if n.startswith("u")] == ["u0", "u1"]
