"""Sign-in throttling: exponential delays, never a lockout.

Failures are counted three ways, each forgotten an hour after its last failure:

* per identity *and* source address: after a few free failures, that address must wait 1, 2, 4 …
  seconds (at most five minutes) before it may try that identity again; an attempt made earlier
  is refused without looking at the password (HTTP 429 with Retry-After);
* per source address, any identity (password spraying): the same, after more free failures, at
  most fifteen minutes;
* per identity, any address (a distributed guesser): answers for that identity are slowed down,
  at most a few seconds, and never refused, so the real user can always sign in from their own
  address, whatever others try.

A successful sign-in clears the counters of its identity-and-address pair. State is per node.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

__all__ = ["SignInThrottle"]

PAIR_FREE: Final = 3
PAIR_CAP: Final = 300.0
SOURCE_FREE: Final = 20
SOURCE_CAP: Final = 900.0
IDENTITY_FREE: Final = 10
IDENTITY_SLOWDOWN_CAP: Final = 4.0
FORGET_AFTER: Final = 3600.0
MAX_ENTRIES: Final = 200_000


@dataclass
class _Count:
    failures: int
    last: float


def _delay(failures: int, free: int, cap: float) -> float:
    if failures <= free:
        return 0.0
    return float(min(cap, 2.0 ** (failures - free - 1)))


class SignInThrottle:
    """Thread-safe; times are seconds on any monotonic-enough clock the caller passes in."""

    def __init__(self) -> None:
        self._counts: OrderedDict[tuple[str, ...], _Count] = OrderedDict()
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget every failure (``iamd serve --test-mode``'s reset)."""
        with self._lock:
            self._counts.clear()

    def _get(self, key: tuple[str, ...], now: float) -> _Count | None:
        found = self._counts.get(key)
        if found is not None and now - found.last > FORGET_AFTER:
            del self._counts[key]
            return None
        return found

    def wait_for(self, identity: str, source: str, now: float) -> float:
        """Seconds before an attempt on ``identity`` from ``source`` may be made (0: go ahead)."""
        with self._lock:
            wait = 0.0
            for key, free, cap in (
                (("pair", identity, source), PAIR_FREE, PAIR_CAP),
                (("source", source), SOURCE_FREE, SOURCE_CAP),
            ):
                count = self._get(key, now)
                if count is not None:
                    wait = max(wait, count.last + _delay(count.failures, free, cap) - now)
            return max(0.0, wait)

    def slowdown(self, identity: str, now: float) -> float:
        """Seconds to hold the answer for ``identity`` (failures from anywhere); never a refusal."""
        with self._lock:
            count = self._get(("identity", identity), now)
            if count is None:
                return 0.0
            return _delay(count.failures, IDENTITY_FREE, IDENTITY_SLOWDOWN_CAP)

    def failure(self, identity: str, source: str, now: float) -> None:
        with self._lock:
            for key in (("pair", identity, source), ("source", source), ("identity", identity)):
                count = self._get(key, now)
                if count is None:
                    self._counts[key] = _Count(1, now)
                else:
                    count.failures += 1
                    count.last = now
                    self._counts.move_to_end(key)
            while len(self._counts) > MAX_ENTRIES:
                self._counts.popitem(last=False)

    def success(self, identity: str, source: str) -> None:
        with self._lock:
            self._counts.pop(("pair", identity, source), None)
