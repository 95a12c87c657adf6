"""SQLite's WAL checkpoints, off the writers' path.

In WAL mode a commit appends the pages it changed to the write-ahead log, and by default the
commit that takes the log past 1,000 pages also copies the log back into the database file and
syncs both (a checkpoint): while it does, every other writer of the process waits for the write
lock. Measured here, one-event transactions as the trail writes them: 211-241 µs each with
those checkpoints, 120-133 µs without (wall time, the checkpoints' syncs included).

Here a thread of the store's does the checkpoints instead (:class:`Checkpointer`), every
:data:`INTERVAL` seconds while something was written, in SQLite's ``PASSIVE`` mode: it copies
what no reader still needs and never waits for, or blocks, a reader or a writer. A writer still
checkpoints itself should the log grow past :data:`BACKSTOP_PAGES` (the thread stalled or kept
from copying by a long reader), so the log stays bounded as before, only later.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import Final

__all__ = ["BACKSTOP_PAGES", "INTERVAL", "Checkpointer"]

log = logging.getLogger("iamd.store")

INTERVAL: Final = 0.1
"""Seconds between two checkpoints while the database is written."""
BACKSTOP_PAGES: Final = 16_000
"""``wal_autocheckpoint`` of the store's connections: the log's size (pages of 4 KiB: 64 MiB)
past which a committing writer checkpoints itself."""


class Checkpointer:
    """Checkpoints one SQLite database's write-ahead log from a thread of its own, once
    :meth:`wrote` has said something was written since the last one. Started on the first
    :meth:`wrote`, stopped by :meth:`close`."""

    def __init__(self, database: Path, *, interval: float = INTERVAL) -> None:
        self._database = database
        self._interval = interval
        self._written = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.checkpoints = 0
        """Checkpoints run (for tests and diagnostics)."""

    def wrote(self) -> None:
        """Something was committed (or is about to be): the next checkpoint has work."""
        self._written.set()
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._closed.is_set():
                    thread = threading.Thread(target=self._run, name="iamd-checkpoint", daemon=True)
                    thread.start()
                    self._thread = thread

    def close(self) -> None:
        """Stop the thread (after a last checkpoint if something was written)."""
        self._closed.set()
        self._written.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)

    def _run(self) -> None:
        try:
            connection = sqlite3.connect(
                self._database, timeout=0, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as error:
            log.warning("store: no checkpoint thread for %s (%s); writers checkpoint", self._database, error)
            return
        try:
            while True:
                self._written.wait()  # something to copy, or closing
                closing = self._closed.wait(self._interval)  # (the writes of an interval at once)
                self._written.clear()
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                except sqlite3.Error as error:  # (busy: another checkpoint runs; tried again later)
                    log.debug("store: checkpoint of %s skipped: %s", self._database, error)
                    self._written.set()
                if closing or self._closed.is_set():
                    return
        finally:
            connection.close()
