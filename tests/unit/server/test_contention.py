"""Which write operations queue for their account on PostgreSQL: those that lost a race lately."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from iamd.server.contention import QUEUED_FOR, Contention
from iamd.server.pipeline import Connection, Pipeline
from iamd.wire import HttpRequest

ACCOUNT = "111122223333"

TAG = ("iam", "TagUser")
CREATE = ("iam", "CreateUser")


def test_an_operation_queues_only_after_a_lost_race() -> None:
    contention = Contention()
    assert not contention.queues(TAG)
    contention.lost_race(TAG)
    assert contention.queues(TAG)
    assert not contention.queues(CREATE)


def test_a_lost_race_queues_the_next_requests_then_they_try_without_the_queue() -> None:
    """A first burst of identical writes races once; their replays need not queue for ever."""
    contention = Contention(queued_for=3)
    contention.lost_race(TAG)
    assert [contention.queues(TAG) for _ in range(5)] == [True, True, True, False, False]
    contention.lost_race(TAG)  # still conflicting: queued again
    assert contention.queues(TAG)


def test_each_lost_race_starts_the_count_again() -> None:
    contention = Contention(queued_for=2)
    contention.lost_race(CREATE)
    assert contention.queues(CREATE)
    contention.lost_race(CREATE)
    assert [contention.queues(CREATE) for _ in range(3)] == [True, True, False]


def test_threads_count_each_request_once() -> None:
    contention = Contention()
    contention.lost_race(TAG)
    queued: list[bool] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(QUEUED_FOR):
            answer = contention.queues(TAG)
            with lock:
                queued.append(answer)

    workers = [threading.Thread(target=work) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert queued.count(True) == QUEUED_FOR


def test_a_queued_write_that_changed_nothing_ends_the_queue() -> None:
    contention = Contention()
    contention.lost_race(TAG)
    assert contention.queues(TAG)
    contention.changed_nothing(TAG)
    assert not contention.queues(TAG)
    contention.changed_nothing(CREATE)  # never queued: nothing to end
    assert not contention.queues(CREATE)
    contention.lost_race(TAG)  # a later lost race queues it again
    assert contention.queues(TAG)


# -- the pipeline on PostgreSQL: which writes keep their operation's queue ---------------------


def test_on_postgresql_a_queued_replay_ends_its_operations_queue(
    pg_pipeline: tuple[Pipeline, Callable[[dict[str, str]], HttpRequest]],
) -> None:
    """A queued TagUser that puts a new value keeps TagUser queued (it bumped the generation);
    a queued replay of it (the tag already there, nothing bumped) ends the queue: the next
    replays run side by side. Both still answer and are recorded as before."""
    pipeline, request = pg_pipeline
    contention = pipeline._contended
    tag = ("iam", "TagUser")
    store = pipeline.store

    def send(params: dict[str, str]) -> None:
        answer = pipeline.handle(request(params), Connection(source_ip="127.0.0.1", secure=False))
        assert answer.status == 200, answer.body[:300]

    def generation() -> int:
        return store.run(lambda uow: uow.accounts.generation(ACCOUNT), readonly=True)

    send({"Action": "CreateUser", "UserName": "queued"})  # the key is now known (the hint)

    def tag_user(value: str) -> dict[str, str]:
        return {
            "Action": "TagUser",
            "UserName": "queued",
            "Tags.member.1.Key": "k",
            "Tags.member.1.Value": value,
        }

    send(tag_user("a"))
    contention.lost_race(tag)
    before = generation()
    send(tag_user("b"))  # queued, a change: the queue stays
    assert generation() == before + 1
    assert contention.queues(tag)  # (this counts one request)
    send(tag_user("b"))  # queued, a replay: the queue ends
    assert generation() == before + 1
    assert not contention.queues(tag)
    send(tag_user("b"))  # not queued
    assert not contention.queues(tag)
    users = store.run(lambda uow: uow.users.get(ACCOUNT, "queued"), readonly=True)
    tags = store.run(lambda uow: uow.tags.list(ACCOUNT, "user", users.id), readonly=True)
    assert [(t.key, t.value) for t in tags] == [("k", "b")]


@pytest.mark.parametrize("queued", [False, True], ids=["racing", "queued"])
def test_on_postgresql_concurrent_create_users_never_pass_the_quota(
    pg_pipeline: tuple[Pipeline, Callable[[dict[str, str]], HttpRequest]],
    monkeypatch: pytest.MonkeyPatch,
    queued: bool,
) -> None:
    """Eight CreateUsers at once, three places left under the users quota: exactly three are
    created, the others refused with LimitExceeded, whether they race (serialization failures,
    retried) or queue for the account (the queue's lock sent with BEGIN and the first statement,
    iamd.store.pipelined)."""
    from iamd.services.iam import users

    pipeline, request = pg_pipeline
    store = pipeline.store

    def send(params: dict[str, str]) -> tuple[int, bytes]:
        answer = pipeline.handle(request(params), Connection(source_ip="127.0.0.1", secure=False))
        return answer.status, answer.body

    side = "queued" if queued else "racing"
    assert send({"Action": "CreateUser", "UserName": f"{side}-first"})[0] == 200  # the key is known
    count = store.run(lambda uow: uow.users.count(ACCOUNT), readonly=True)
    monkeypatch.setattr(users, "MAX_USERS", count + 3)
    if queued:
        pipeline._contended.lost_race(CREATE)
    prepared = [request({"Action": "CreateUser", "UserName": f"{side}-{n}"}) for n in range(8)]
    answers: list[tuple[int, bytes]] = []
    start = threading.Barrier(len(prepared))

    def create(signed: HttpRequest) -> None:
        start.wait()
        answer = pipeline.handle(signed, Connection(source_ip="127.0.0.1", secure=False))
        answers.append((answer.status, answer.body))

    threads = [threading.Thread(target=create, args=(each,)) for each in prepared]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(status for status, _ in answers) == [200] * 3 + [409] * 5
    assert all(b"LimitExceeded" in body for status, body in answers if status == 409)
    assert store.run(lambda uow: uow.users.count(ACCOUNT), readonly=True) == count + 3
