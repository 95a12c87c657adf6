"""Which write operations queue for their account on PostgreSQL (see ``Pipeline._run``).

Writers that bump one account's generation conflict on its row: under SERIALIZABLE all but one of
a set of overlapping writers would fail and retry, again and again. An operation whose writer has
lost such a race queues for the caller's account (an advisory lock, see ``Store.transaction``).

A race once lost does not mark an operation for ever: the first burst of identical writes that
each change something (four clients tagging a user with a new tag at once) races, but their
replays change nothing, bump nothing and run side by side. So an operation queues for
:data:`QUEUED_FOR` requests after its last lost race, then tries without the queue again; one
that still conflicts (CreateUser: every call bumps the generation and counts the account's users)
is marked again by its next lost race, at the cost of a retry or so every :data:`QUEUED_FOR`
requests.

A queued write that committed without changing anything (a replayed tag, policy or attachment:
it bumps no generation, so it conflicts with no other writer of its kind) ends its operation's
queue at once (:meth:`Contention.changed_nothing`): its replays run side by side from the next
request on, instead of one at a time for :data:`QUEUED_FOR` requests. An operation whose writes
do change something is marked again by its next lost race. Only a hint: correctness never
depends on it.
"""

from __future__ import annotations

import threading

QUEUED_FOR = 200
"""Requests of an operation that queue after it lost a race."""


class Contention:
    """Operations (service, name) that lost a race lately. Thread-safe; bounded by the number of
    operations iamd serves."""

    def __init__(self, queued_for: int = QUEUED_FOR) -> None:
        self._queued_for = queued_for
        self._left: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def lost_race(self, operation: tuple[str, str]) -> None:
        """A writer of ``operation`` failed on a conflict: its next requests queue."""
        with self._lock:
            self._left[operation] = self._queued_for

    def changed_nothing(self, operation: tuple[str, str]) -> None:
        """A queued writer of ``operation`` committed without changing anything (no generation
        bumped): the queue is not needed, its next requests try without it."""
        with self._lock:
            self._left.pop(operation, None)

    def queues(self, operation: tuple[str, str]) -> bool:
        """Whether this request of ``operation`` queues for its account (and counts it)."""
        with self._lock:
            left = self._left.get(operation)
            if left is None:
                return False
            if left <= 1:
                del self._left[operation]
            else:
                self._left[operation] = left - 1
            return True
