"""The trail writer's ledger (``DATA_DIR/trail-ledger.json``): how many requests' events this run
accepted, how many it settled (stored, spooled or quarantined) and how many it lost, written
every second or so while they change and at shutdown.

A run that stops without settling what it accepted (killed, crashed, the machine gone) leaves
``accepted > settled`` behind: the next start counts the difference as lost (an ERROR, and
``/iamd/health`` says so) and keeps it under ``lostBefore``; ``iamd trail verify`` reports it,
and also the deficit of a run that is no longer running on this host.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

__all__ = ["LEDGER_FILE_NAME", "Ledger", "LedgerState", "read_ledger"]

log = logging.getLogger("iamd.trail")

LEDGER_FILE_NAME: Final = "trail-ledger.json"
SAVE_EVERY_SECONDS: Final = 1.0


@dataclass(frozen=True, slots=True)
class LedgerState:
    pid: int
    host: str
    started: str
    accepted: int
    settled: int
    lost: int
    lost_before: int

    @property
    def unsettled(self) -> int:
        return max(0, self.accepted - self.settled)

    def running_here(self) -> bool:
        """Whether the run that wrote this is still alive on this host."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def read_ledger(path: Path) -> LedgerState | None:
    """The ledger at ``path``; None when there is none. Raises ``ValueError`` if it is not one."""
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a trail ledger")
    try:
        return LedgerState(
            int(data["pid"]),
            str(data["host"]),
            str(data["started"]),
            int(data["accepted"]),
            int(data["settled"]),
            int(data.get("lost", 0)),
            int(data.get("lostBefore", 0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path} is not a trail ledger: {exc}") from None


class Ledger:
    """Thread-safe counters, saved to ``path`` (atomically: a temporary file renamed)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._accepted = 0
        self._settled = 0
        self._lost = 0
        self.lost_before = 0
        self._started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._saved_at = 0.0
        self._dirty = True

    def open(self) -> int:
        """Read what the previous run left, save this run's ledger; the number of requests whose
        events the previous run accepted and never settled (0 when it stopped cleanly)."""
        try:
            previous = read_ledger(self.path)
        except (OSError, ValueError) as exc:
            log.error("trail: the ledger %s cannot be read (%s); starting a new one", self.path, exc)
            previous = None
        deficit = 0
        if previous is not None:
            deficit = previous.unsettled
            self.lost_before = previous.lost_before + previous.lost + deficit
        self.save(force=True)
        return deficit

    def accept(self, count: int) -> None:
        with self._lock:
            self._accepted += count
            self._dirty = True

    def settle(self, count: int) -> None:
        with self._lock:
            self._settled += count
            self._dirty = True

    def lose(self, count: int) -> None:
        with self._lock:
            self._lost += count
            self._dirty = True

    @property
    def lost(self) -> int:
        return self._lost

    def save(self, *, force: bool = False, throttle: bool = True) -> None:
        """Write the ledger if it changed (at most once a second when ``throttle``); always
        when ``force``."""
        now = time.monotonic()
        with self._lock:
            recent = throttle and now - self._saved_at < SAVE_EVERY_SECONDS
            if not force and (not self._dirty or recent):
                return
            data: dict[str, Any] = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "started": self._started,
                "accepted": self._accepted,
                "settled": self._settled,
                "lost": self._lost,
                "lostBefore": self.lost_before,
            }
            self._dirty = False
            self._saved_at = now
        temporary = self.path.with_name(self.path.name + ".tmp")
        try:
            temporary.write_text(json.dumps(data), encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError:
            log.exception("trail: could not write the ledger %s", self.path)
