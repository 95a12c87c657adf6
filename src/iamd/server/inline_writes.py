"""Which writes the event loop runs itself on SQLite, rather than on a write thread.

SQLite has one writer at a time: a write on a thread waits for no other work of the process, yet
costs the loop and the thread a hand-over each way and, while it runs, a contention for Python's
interpreter lock at each of its SQLite calls (each releases the lock; the loop takes it; the
write waits to get it back): some 13 context switches and 300 µs of system time per write, a
third of the server's whole cost for a light write (``bench/server_cpu.py``). A light write run
by the loop itself costs it little more than a read does, and reads run there already.

So the loop runs a write itself when all of these hold:

- the operation is light: each time it ran, on a thread or here, its CPU time is measured, and
  it is light while its recent cost (a moving average that takes any slower run at once and
  forgets it over a few light ones) is at most :data:`LIGHT_NS`. An operation not yet measured
  runs on a thread first: a password's hashing (argon2id, tens of milliseconds) is never taken
  for light;
- its request's body is at most :data:`BODY_LIMIT` bytes (what bounds a light operation's work:
  the policies it parses, the documents it checks);
- nothing makes it wait: no other write of the process is under way and the database's write
  lock is free (:meth:`iamd.store.Store.begin_write_here`; else it queues for a thread as
  before).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Final, TypeVar

T = TypeVar("T")

LIGHT_NS: Final = 2_000_000
"""A write whose recent CPU cost is at most this (2 ms, as much as a heavy read's) is light."""
BODY_LIMIT: Final = 8192
"""Requests with larger bodies always run on a thread."""
_FORGET: Final = 4
"""A light run moves the cost a quarter of the way to it (a slow one sets it at once)."""


class InlineWrites:
    """The measured costs of the write operations (by key), and the decision. Thread-safe: the
    threads and the loop measure, the loop decides."""

    def __init__(self) -> None:
        self._cost: dict[Hashable, int] = {}
        self._lock = threading.Lock()

    def light(self, key: Hashable, body_size: int) -> bool:
        """Whether the operation may run on the loop (if nothing makes it wait)."""
        if body_size > BODY_LIMIT:
            return False
        cost = self._cost.get(key)
        return cost is not None and cost <= LIGHT_NS

    def measure(self, key: Hashable, run: Callable[[], T]) -> T:
        """``run()``, its CPU time on this thread counted for the operation ``key``."""
        began = time.thread_time_ns()
        try:
            return run()
        finally:
            self._count(key, time.thread_time_ns() - began)

    def _count(self, key: Hashable, spent: int) -> None:
        with self._lock:
            cost = self._cost.get(key)
            self._cost[key] = spent if cost is None or spent >= cost else cost - (cost - spent) // _FORGET
