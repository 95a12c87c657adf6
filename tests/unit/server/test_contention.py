"""Which write operations queue for their account on PostgreSQL: those that lost a race lately."""

from __future__ import annotations

import threading

from iamd.server.contention import QUEUED_FOR, Contention

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
