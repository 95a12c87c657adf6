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

Reads open their transactions the same way (``BEGIN ... READ ONLY``, no lock): they run on the
server's event loop, which waits for each of their round trips, with every other request behind it.

A pipeline costs more Python than psycopg's own ``BEGIN`` (some 60,000 instructions more per
transaction than a plain ``BEGIN``, its round trip included; measured with callgrind): worth it
only where the round trips are what others wait for, so only queued writers and reads use it.
Other writers run on threads of their own, where that Python counts for more than a round trip
on loopback (replayed writes lost 10-16% of their requests/s with it).

A script of several commands (no parameters) cannot go in a pipeline (it takes the extended query
protocol, one command per statement): what waits goes first, in a round trip of its own.

A transaction that knows, before its next statement, a statement it will run later (the user or
role a request names: AssumeRole's role, TagUser's user) sends that one too in the next round
trip (:meth:`Connection.prefetch`), and takes its result when it runs it
(:meth:`Connection.prefetched`): a round trip fewer, on the event loop for a read, in the
account's queue for a write. It is sent after that statement, in the same transaction and
snapshot, so it reads what it would have read later, as long as nothing was written in between
(a write forgets it); the transaction's end forgets it too.

Statements whose results nobody reads wait too (:meth:`Connection.defer`): a write's generation
bump goes out with the statement after it, and the trail's inserts with the ``COMMIT``
(:meth:`Connection.commit_deferred`), each in that statement's round trip. An error in a deferred
statement is raised by the statement it went out with (the server skips what follows it up to the
``Sync``: that statement does not run, and neither does a ``COMMIT``); a rollback forgets them.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from contextlib import suppress
from typing import Any, Final, Self

import psycopg
from psycopg.abc import Params, Query

__all__ = ["Connection", "Cursor"]

_INTRANS: Final = 2  # psycopg.pq.TransactionStatus.INTRANS: a transaction open, no error in it
_INERROR: Final = 3  # psycopg.pq.TransactionStatus.INERROR: a transaction open, failed

_SYNC: Final = b""
"""In :attr:`Connection.pending`: a ``Sync`` (what precedes it commits, outside a block)."""


class Connection(psycopg.Connection[Any]):
    """A psycopg connection whose cursors (:class:`Cursor`) first send :attr:`pending`."""

    pending: list[bytes]
    """Commands (text, no parameters) to send before the next statement, in its round trip;
    an empty one: a ``Sync`` between two of them."""
    writes: int
    """Statements sent (or deferred) that may write: all but those that begin with ``SELECT``
    (what a transaction wrote is told by this count moving: ``UnitOfWork.wrote_nothing``)."""
    deferred: list[tuple[str, Any, bool]]
    """Statements of the open transaction whose results nobody reads (SQL, its parameters, and
    whether they are a sequence of parameter sets for ``executemany``), sent after
    :attr:`pending`, before the next statement or the ``COMMIT``."""

    prefetching: list[tuple[str, Any]]
    """Statements to send after the next one, in its round trip, their results kept
    (:meth:`prefetch`)."""
    _prefetched: dict[Hashable, tuple[psycopg.Cursor[Any], int]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pending = []
        self.deferred = []
        self.prefetching = []
        self._prefetched = {}
        self.writes = 0
        self.cursor_factory = Cursor

    def prefetch(self, sql: str, params: Any) -> bool:
        """Send ``sql`` (a ``SELECT``) after the next statement, in its round trip, and keep its
        result for :meth:`prefetched`: where that statement opens the transaction (what opens
        it waits: :meth:`open_with`) or runs in an open one. False (nothing queued) otherwise
        (no transaction to read it in)."""
        if not self.pending and self.info.transaction_status != _INTRANS:
            return False
        self.prefetching.append((sql, params))
        return True

    def prefetched(self, sql: str, params: Any) -> psycopg.Cursor[Any] | None:
        """The cursor holding the result of ``sql`` run with ``params``, sent earlier by
        :meth:`prefetch` in this transaction with nothing written since; None otherwise. Each
        result is taken once."""
        if not self._prefetched:
            return None
        found = self._prefetched.pop(_hashable(sql, params), None)
        if found is None or found[1] != self.writes:
            return None
        return found[0]

    def _send_prefetching(self) -> None:
        waiting, self.prefetching = self.prefetching, []
        for sql, params in waiting:
            cursor = psycopg.Cursor(self)  # psycopg's own: nothing of ours to send first
            cursor.execute(sql, params)
            self._prefetched[_hashable(sql, params)] = (cursor, self.writes)

    def _forget_prefetched(self) -> None:
        self.prefetching = []
        if self._prefetched:
            self._prefetched = {}

    def defer(self, sql: str, params: Any, *, many: bool = False) -> bool:
        """Send ``sql`` with the next statement (or the ``COMMIT``) rather than now, when a
        transaction is open and nothing else waits to open it; False (nothing queued: run it
        now) otherwise."""
        if self.pending or self.info.transaction_status != _INTRANS:
            return False
        self.writes += 1
        self.deferred.append((sql, params, many))
        return True

    def commit_deferred(self, after: bytes | None = None) -> None:
        """Send the deferred statements, ``COMMIT``, then ``after`` (a command, such as releasing
        a session lock; skipped by the server if the ``COMMIT`` fails) in one round trip. The
        transaction must be open (:meth:`defer` checked it)."""

        def commit() -> None:
            self.wait(self._exec_command(b"COMMIT"))
            if after is not None:
                self.wait(self._exec_command(after))

        try:
            self.after_pending(commit)
        except psycopg.Error:
            # A deferred statement failed: the server skipped the COMMIT, and the transaction is
            # left failed, open. End it, as a failed COMMIT would have (the caller, SQLAlchemy
            # included, takes a failed commit for a transaction over).
            if self.info.transaction_status == _INERROR:
                with suppress(psycopg.Error):
                    super().rollback()
            raise

    def after_pending(self, send: Callable[[], object]) -> None:
        """Send the pending commands, then what ``send`` sends, in one pipeline: one round trip.
        The first error the server answers is raised. (psycopg raises it within the pipeline
        when it reads that result early, then, as the pipeline ends, a "pipeline aborted" that it
        logs as a warning: on every lost race. The pipeline's own end raises it here instead.)"""
        failed: psycopg.Error | None = None
        try:
            with self.pipeline() as pipeline:
                try:
                    self.send_pending(pipeline)
                    send()
                except psycopg.Error as error:
                    failed = error
        except psycopg.Error as error:
            if failed is None:
                # Raised as the pipeline ended: the server's error, or "pipeline aborted" for
                # what it skipped after it, raised while the error was (its context).
                failed = error
                while isinstance(failed, psycopg.errors.PipelineAborted) and isinstance(
                    failed.__context__, psycopg.Error
                ):
                    failed = failed.__context__
        if failed is not None:
            raise failed

    def commit(self) -> None:
        """psycopg's ``commit``, the deferred statements sent with it."""
        self._forget_prefetched()
        if self.deferred:
            self.commit_deferred()
        else:
            super().commit()

    def rollback(self) -> None:
        self.deferred = []
        self._forget_prefetched()
        super().rollback()

    def close(self) -> None:
        self.deferred = []
        self._forget_prefetched()
        super().close()

    def open_with(self, begin: bytes, lock: bytes | None = None, *, commit_first: bool = False) -> None:
        """Open the next transaction with ``begin`` (``BEGIN ISOLATION LEVEL ...``), after
        ``lock`` if given (a statement taking a session-level lock, in a transaction of its own),
        sent with the next statement. ``commit_first``: a ``COMMIT`` first, ending the
        transaction left open on the connection (a read's: see
        ``iamd.store.store.KeptPgReadSession``; the server runs it, then the rest, in the same
        part of the pipeline). The connection must be in autocommit mode (psycopg sends no
        ``BEGIN`` of its own)."""
        pending = [begin] if lock is None else [lock, _SYNC, begin]
        self.pending = [b"COMMIT", *pending] if commit_first else pending
        self._forget_prefetched()

    def unsent(self) -> bool:
        """Whether the transaction's opening commands are still waiting (no statement ran: no
        transaction, no lock). Forgets them either way: call once, when the transaction ends."""
        waiting = bool(self.pending)
        if waiting:
            self.pending = []
            self.prefetching = []
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
        if self.deferred:
            deferred, self.deferred = self.deferred, []
            cursor = psycopg.Cursor(self)  # psycopg's own: nothing of ours to send first
            for sql, params, many in deferred:
                if many:
                    cursor.executemany(sql, params)
                else:
                    cursor.execute(sql, params)


class Cursor(psycopg.Cursor[Any]):
    """A cursor whose connection's pending commands go out with its statement, in one round trip
    (a pipeline); without pending commands, psycopg's own."""

    def execute(
        self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: bool | None = None
    ) -> Self:
        conn: Connection = self._conn  # type: ignore[assignment]  # (a cast is a call: every statement)
        if not (query.__class__ is str and query.startswith("SELECT")):
            conn.writes += 1
        if not conn.pending and not conn.deferred and not conn.prefetching:
            return super().execute(query, params, prepare=prepare, binary=binary)
        if not params and ";" in str(query):
            # A script of several commands: only the simple query protocol takes one, and a
            # pipeline does not use it. What waits goes first, in a round trip of its own.
            conn.after_pending(lambda: None)
            return super().execute(query, params, prepare=prepare, binary=binary)

        def send() -> None:
            super(Cursor, self).execute(query, params, prepare=prepare, binary=binary)
            if conn.prefetching:
                conn._send_prefetching()

        conn.after_pending(send)
        return self

    def executemany(self, query: Query, params_seq: Iterable[Params], *, returning: bool = False) -> None:
        conn: Connection = self._conn  # type: ignore[assignment]
        conn.writes += 1
        if not conn.pending and not conn.deferred:
            super().executemany(query, params_seq, returning=returning)
            return
        # (psycopg's executemany rides the pipeline: no Sync of its own)
        conn.after_pending(lambda: super(Cursor, self).executemany(query, params_seq, returning=returning))


def _hashable(sql: str, params: Any) -> Hashable:
    """A statement and its parameters (a mapping or a sequence of plain values) as a key."""
    if isinstance(params, Mapping):
        return sql, tuple(sorted(params.items()))
    return sql, tuple(params or ())
