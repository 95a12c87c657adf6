"""PostgreSQL connections that can send a transaction's opening commands in the round trip of its
first statement.

A writer queued for its account (:meth:`iamd.store.Store.transaction`) took the queue's advisory
lock in a round trip of its own, then psycopg sent ``BEGIN`` in another, and only then the first
statement: while the account's other writers waited for the queue, two round trips (each the
database's latency and, under load, the wait for Python's interpreter lock to come back to the
thread) on the path of every queued write.

Here the store leaves psycopg in autocommit mode (psycopg sends no ``BEGIN``) and hands the
connection what opens the transaction (:meth:`Connection.open_with`): the lock's statement, then
``BEGIN ISOLATION LEVEL ...``. They wait on the connection and go out with its first statement,
in one pipeline: one round trip for the three. The lock and the ``BEGIN`` are separated by a
``Sync``: the lock's statement runs in a transaction of its own, committed there (the session
lock outlives it), and the transaction's snapshot is taken by its first statement, once the lock
is granted, as when the lock was taken in a round trip of its own. The server runs them in
order. An error ends the pipeline's part in which it happens and is raised (the statement after
an error in the lock's part still runs; the transaction then fails and is rolled back, the lock
given back, as before).

A transaction whose block runs no statement sends nothing: :meth:`Connection.unsent` tells the
store so (then there is no transaction to commit, and no lock to give back).

A pipeline costs more Python than psycopg's own ``BEGIN`` (some 60,000 instructions more per
transaction than a plain ``BEGIN``, its round trip included; measured with callgrind): worth it
only where the round trips are what others wait for, so only queued writers use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final, Self

import psycopg
from psycopg.abc import Params, Query

__all__ = ["Connection", "Cursor"]

_SYNC: Final = b""
"""In :attr:`Connection.pending`: a ``Sync`` (what precedes it commits, outside a block)."""


class Connection(psycopg.Connection[Any]):
    """A psycopg connection whose cursors (:class:`Cursor`) first send :attr:`pending`."""

    pending: list[bytes]
    """Commands (text, no parameters) to send before the next statement, in its round trip;
    an empty one: a ``Sync`` between two of them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pending = []
        self.cursor_factory = Cursor

    def open_with(self, begin: bytes, lock: bytes) -> None:
        """Open the next transaction with ``begin`` (``BEGIN ISOLATION LEVEL ...``) after ``lock``
        (a statement taking a session-level lock, in a transaction of its own), both sent with
        the next statement. The connection must be in autocommit mode (psycopg sends no
        ``BEGIN`` of its own)."""
        self.pending = [lock, _SYNC, begin]

    def unsent(self) -> bool:
        """Whether the transaction's opening commands are still waiting (no statement ran: no
        transaction, no lock). Forgets them either way: call once, when the transaction ends."""
        waiting = bool(self.pending)
        if waiting:
            self.pending = []
        return waiting

    def send_pending(self, pipeline: psycopg.Pipeline) -> None:
        """Queue the pending commands in ``pipeline`` (forgotten here first: never sent twice).

        psycopg's own ways for its own commands (as it queues a ``BEGIN`` or a ``Sync`` in a
        pipeline): a cursor's ``execute`` costs twice the Python, and ``Pipeline.sync`` waits
        for the results (a round trip). Held by tests/unit/store/test_store_pipelined.py."""
        pending, self.pending = self.pending, []
        for command in pending:
            if command == _SYNC:
                pipeline._enqueue_sync()
            else:
                self.wait(self._exec_command(command))


class Cursor(psycopg.Cursor[Any]):
    """A cursor whose connection's pending commands go out with its statement, in one round trip
    (a pipeline); without pending commands, psycopg's own."""

    def execute(
        self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: bool | None = None
    ) -> Self:
        conn: Connection = self._conn  # type: ignore[assignment]  # (a cast is a call: every statement)
        if not conn.pending:
            return super().execute(query, params, prepare=prepare, binary=binary)
        with conn.pipeline() as pipeline:
            conn.send_pending(pipeline)
            super().execute(query, params, prepare=prepare, binary=binary)
        return self

    def executemany(self, query: Query, params_seq: Iterable[Params], *, returning: bool = False) -> None:
        conn: Connection = self._conn  # type: ignore[assignment]
        if not conn.pending:
            super().executemany(query, params_seq, returning=returning)
            return
        with conn.pipeline() as pipeline:  # psycopg's executemany rides it (no Sync of its own)
            conn.send_pending(pipeline)
            super().executemany(query, params_seq, returning=returning)
