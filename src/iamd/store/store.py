"""The store: an engine, migrations applied on open, and transactions."""

from __future__ import annotations

import hashlib
import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from iamd.secrets.kek import Kek
from iamd.store.base import translate
from iamd.store.checkpoint import Checkpointer
from iamd.store.engine import (
    BUSY_TIMEOUT_SECONDS,
    SQLITE_BEGIN,
    SQLITE_KEPT,
    SQLITE_KEPT_WRITER,
    create_store_engine,
    upgrade,
)
from iamd.store.errors import GroupAborted, RetryableError, StoreError, TrailEventRefused
from iamd.store.prepared import driver_error
from iamd.store.unit import UnitOfWork

if TYPE_CHECKING:  # psycopg is imported only by a store on PostgreSQL
    from iamd.store.group_commit import WriteGroups
    from iamd.store.pipelined import Connection as PipelinedConnection

T = TypeVar("T")

log = logging.getLogger("iamd.store")

_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE: no transaction open
_INTRANS = 2  # psycopg.pq.TransactionStatus.INTRANS: a transaction open, no error in it

DEFAULT_ATTEMPTS = 50
_BACKOFF_BASE = 0.002  # seconds
_BACKOFF_CAP = 0.1
BUSY_TIMEOUT_MS: Final = int(BUSY_TIMEOUT_SECONDS * 1000)
"""The kept writer's busy timeout, set back after :meth:`Store.begin_write_here`'s BEGIN."""


def _queue_key(account_id: str) -> int:
    """A signed 64-bit advisory-lock key for an account's write queue."""
    return int.from_bytes(
        hashlib.sha256(f"iamd-writers:{account_id}".encode()).digest()[:8], "big", signed=True
    )


_BEGIN: Final = {
    (True, True): b"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    (True, False): b"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    (False, True): b"BEGIN ISOLATION LEVEL SERIALIZABLE",
    (False, False): b"BEGIN ISOLATION LEVEL READ COMMITTED",
}
"""A PostgreSQL transaction's ``BEGIN`` by (read-only, serializable): see ``Store._begin_options``."""


def _commit_and_release(session: Session, conn: Connection, key: int) -> bool:
    """Commit a queued writer's transaction and release its account's queue in one round trip
    (``COMMIT; SELECT pg_advisory_unlock(...)`` as one simple query, or in one pipeline after the
    transaction's deferred statements: :mod:`iamd.store.pipelined`): the next writer of the
    account gets the lock as the commit ends on the server, not a round trip later (this thread
    woken, the unlock sent). True when released; False when the transaction was not plainly open
    or a savepoint is (nothing sent then: the caller commits and releases as before). A failed
    COMMIT skips the unlock (the server stops at the first error): raised as SQLAlchemy raises a
    driver's error, the lock still held for the caller's release."""
    if session.in_nested_transaction():  # a savepoint left open: the session's own commit ends it
        return False
    session.flush()
    driver = conn.connection.driver_connection
    assert driver is not None
    if driver.info.transaction_status != _INTRANS:
        return False
    unlock = f"SELECT pg_advisory_unlock({key})"
    cursor = driver.cursor()
    try:
        if getattr(driver, "deferred", None):
            driver.commit_deferred(unlock.encode())
        else:
            # no parameters: the simple query protocol, both statements at once
            cursor.execute(f"COMMIT; {unlock}")
    except conn.dialect.loaded_dbapi.Error as error:
        raise driver_error(conn, driver, cursor, error, f"COMMIT; {unlock}", ()) from error
    finally:
        cursor.close()
    session.commit()  # the driver's transaction is over: SQLAlchemy's ends, nothing is sent
    return True


def _open_pipelined(conn: Connection, begin: bytes, queue: int | None) -> PipelinedConnection | None:
    """A transaction on a PostgreSQL connection of :mod:`iamd.store.pipelined` whose opening
    goes out with its first statement, in its round trip: psycopg in autocommit mode (no
    ``BEGIN`` of its own), ``begin`` left waiting on the connection, and before it, for a writer
    queued for its account (``queue``), the queue's lock (rather than two round trips before the
    first statement, while the account's other writers wait). The lock is a session-level one,
    in a transaction of its own (committed at the ``Sync`` after it), so the transaction's
    snapshot is taken after it is granted. Used by queued writers and by reads (which run on the
    server's event loop: every round trip of theirs is a wait of the loop's). Returns the driver
    connection, or None on another kind of connection (the caller opens the transaction as
    before)."""
    from iamd.store.pipelined import Connection as PipelinedConnection

    driver = conn.connection.driver_connection
    if not isinstance(driver, PipelinedConnection):
        return None
    conn.execution_options(isolation_level="AUTOCOMMIT")
    driver.open_with(begin, None if queue is None else f"SELECT pg_advisory_lock({queue})".encode())
    return driver


def _committed(commit: Callable[[], T], uow: UnitOfWork) -> T:
    """``commit()``; a connection lost meanwhile raised as a :class:`StoreError` (it may or may not
    have committed: not retryable). When the transaction's trail events went out with the
    ``COMMIT`` (:attr:`UnitOfWork.trail_deferred`), a failure that is not a race is theirs, as
    far as can be told (the ``COMMIT`` of a transaction whose statements all ran has nothing
    else to refuse): raised as :class:`TrailEventRefused`, for ``Store.run`` to run the write again
    with them in a savepoint (where a failure of the ``COMMIT`` itself would show again)."""
    try:
        return commit()
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise StoreError(f"connection to the database lost while committing: {exc.orig}") from exc
        if uow.trail_deferred and not isinstance(translate(exc), RetryableError):
            log.warning(
                "could not add trail event(s) at the commit of the request's transaction (%s): "
                "running it again with them in a savepoint",
                type(exc.orig).__name__,
            )
            raise TrailEventRefused(f"trail event refused: {type(exc.orig).__name__}") from exc
        raise


def _release(conn: Connection, key: int) -> None:
    try:
        conn.rollback()
        conn.execution_options(isolation_level="AUTOCOMMIT")  # one round trip: no BEGIN/COMMIT
        conn.exec_driver_sql(f"SELECT pg_advisory_unlock({key})")
        conn.commit()
    except SQLAlchemyError:
        conn.invalidate()  # closing the session releases the lock on the server


class ReadSession:
    """What a transaction's unit of work holds in place of an ORM ``Session`` (a read-only one's,
    and a writer's too): most reads and writes on a request's path are prepared
    (:mod:`iamd.store.prepared`), which need only the transaction's connection; the ORM
    ``Session`` (its creation, its own transaction, its commit and close: 40-50 µs of Python per
    request, more than the reads) is made on the first use of anything else, bound to the same
    connection, and is then what every call goes to.

    ``connection()`` begins the connection's transaction as the session would (the begin event
    issues SQLite's ``BEGIN DEFERRED``; PostgreSQL's isolation and read-only options are already
    set on the connection). A session made after that joins the transaction; :meth:`commit`
    ends it either way."""

    __slots__ = ("_connection", "_session")

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._session: Session | None = None

    def _real(self) -> Session:
        session = self._session
        if session is None:
            session = self._session = Session(bind=self._connection, expire_on_commit=False)
        return session

    def flush(self) -> None:
        if self._session is not None:
            self._session.flush()

    def begun_driver(self) -> tuple[Connection, Any] | None:
        """See :meth:`KeptReadSession.begun_driver`: None here (prepared reads take the usual way)."""
        return None

    def in_nested_transaction(self) -> bool:
        """Whether a savepoint is open (only an ORM session opens one)."""
        return self._session is not None and self._session.in_nested_transaction()

    def connection(self) -> Connection:
        if self._session is not None:
            return self._session.connection()
        connection = self._connection
        if not connection.in_transaction():
            connection.begin()
        return connection

    def commit(self) -> None:
        if self._session is not None:
            self._session.commit()
        if self._connection.in_transaction():
            self._connection.commit()

    def close(self) -> None:
        if self._session is not None:
            self._session.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)


class KeptReadSession(ReadSession):
    """A :class:`ReadSession` on the SQLite connection kept for one thread's reads
    (:meth:`Store.keep_reads`): the transaction begins and ends on the driver (``BEGIN DEFERRED``,
    ``COMMIT``), without SQLAlchemy's connection checkout, begin and commit machinery (events,
    transaction objects, the pool's return and reset: ~190 Python calls per request).

    Whatever else asks for the connection's transaction (an ORM ``Session``, a Core statement
    run on the connection) joins the one begun on the driver: the connection's begin hook sees
    it open (``SQLITE_KEPT``) and issues no second ``BEGIN``; :meth:`commit` then ends it through
    SQLAlchemy. :meth:`close` rolls back whatever is still open, so the kept connection never
    leaves a block with a transaction (and its read snapshot) open."""

    __slots__ = ("_driver", "_lent")

    BEGIN = "BEGIN DEFERRED"

    def __init__(self, connection: Connection, driver: sqlite3.Connection) -> None:
        super().__init__(connection)
        self._driver = driver
        self._lent = False  # the connection handed out: SQLAlchemy may hold the transaction

    def begun_driver(self) -> tuple[Connection, sqlite3.Connection] | None:
        """For a prepared read: the connection and its driver, the transaction begun on it; None
        when the read should take the usual way (an ORM session or the connection handed out
        already, or a driver that fails to begin: SQLAlchemy then raises its error)."""
        if self._lent or self._session is not None:
            return None
        driver = self._driver
        try:
            if not driver.in_transaction:
                driver.execute(self.BEGIN)
        except sqlite3.Error:
            return None
        return self._connection, driver

    def _real(self) -> Session:
        session = self._session
        if session is None:
            connection = self.connection()
            if not connection.in_transaction():
                connection.begin()  # joins the driver's transaction (the begin hook)
            session = self._session = Session(bind=connection, expire_on_commit=False)
        return session

    def connection(self) -> Connection:
        if self._session is not None:
            return self._session.connection()
        self._lent = True
        driver = self._driver
        try:
            if not driver.in_transaction:
                driver.execute(self.BEGIN)
        except sqlite3.Error:
            self._connection.begin()  # raises it as SQLAlchemy's error (a lost one invalidated)
        return self._connection

    def commit(self) -> None:
        if self._session is not None:
            self._session.commit()
        if self._lent and self._connection.in_transaction():
            self._connection.commit()
            return
        try:
            if self._driver.in_transaction:
                self._driver.commit()
        except sqlite3.Error as error:
            raise DBAPIError.instance(
                "COMMIT", None, error, sqlite3.Error, dialect=self._connection.dialect
            ) from error

    def close(self) -> None:
        try:
            if self._session is not None:
                self._session.close()
        finally:
            if self._connection.invalidated:
                pass  # lost: nothing left to end (the store drops it)
            elif self._lent and self._connection.in_transaction():
                self._connection.rollback()
            elif self._driver.in_transaction:
                self._driver.rollback()


class KeptPgReadSession(ReadSession):
    """A :class:`ReadSession` on the PostgreSQL connection kept for one thread's reads
    (:meth:`Store.keep_reads`: the server's event loop, which waits for each of their round
    trips). The connection stays in autocommit mode (psycopg sends no ``BEGIN`` of its own).
    Each transaction is opened by ``BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`` sent with
    its first statement (as a pooled read's is: :func:`_open_pipelined`). What that spares each
    read (measured: 409 against 306 µs of CPU for a read of one prepared statement): the pool's
    checkout and check-in, SQLAlchemy's isolation options set and reset on the connection, and
    its begin and commit machinery.

    A read whose statements were all prepared (nearly every read on a request's path) is not
    committed in a round trip of its own: its transaction is *left open*
    (:attr:`left_open`), read-only with nothing to keep, and ended by a ``COMMIT`` that goes
    out with the next read's ``BEGIN`` and first statement, in their round trip, so a read
    takes one round trip fewer. The next read's snapshot is taken by its own first statement,
    after that ``COMMIT``: it sees every write committed before it, as before. When no read
    follows, :meth:`Store.end_idle_read` ends it (the server calls it on its loop every
    :data:`iamd.server.app.IDLE_READ_END` seconds), so a snapshot is never held for long.

    Whatever asks for the connection itself (an ORM ``Session``, a Core statement) gets it as a
    pooled read does: SQLAlchemy's transaction begun on it (nothing sent in autocommit mode), the
    same server transaction, ended by :meth:`commit` in a round trip of its own. :meth:`close`
    rolls back a transaction that failed."""

    __slots__ = ("_driver", "_lent", "left_open")

    def __init__(self, connection: Connection, driver: PipelinedConnection, *, left_open: bool) -> None:
        super().__init__(connection)
        self._driver = driver
        self._lent = False  # the connection handed out: SQLAlchemy may hold the transaction
        self.left_open = left_open
        """Whether the connection's server transaction is a read's left open (to be ended by a
        ``COMMIT`` before the next ``BEGIN``): the last read's when the block began, this one's
        once it has ended."""

    def begun_driver(self) -> tuple[Connection, Any] | None:
        """For a prepared read: the connection and its driver (the ``BEGIN`` waits on it, sent
        with the statement); None once an ORM session or the connection was handed out."""
        if self._lent or self._session is not None:
            return None
        return self._connection, self._driver

    def connection(self) -> Connection:
        self._lent = True
        return super().connection()

    def close(self) -> None:
        # (``commit`` is ReadSession's: it ends an ORM session's or SQLAlchemy's transaction by the
        # driver's COMMIT, and nothing else; a prepared read's is left open here.)
        try:
            if self._session is not None:
                self._session.close()
        finally:
            connection, driver = self._connection, self._driver
            if not connection.invalidated:
                if self._lent and connection.in_transaction():
                    connection.rollback()
                if not driver.unsent():  # (else nothing went out: all is as it was)
                    # What waited went out: the last read's transaction, if any, is over.
                    status = driver.info.transaction_status
                    if status not in (_IDLE, _INTRANS):
                        driver.rollback()  # failed: ended now
                    self.left_open = status == _INTRANS  # read-only, nothing to keep: left open


def _discard(connection: Connection | None) -> None:
    """A kept connection given up: invalidated (its driver connection closed, never pooled
    again) and closed, whatever state it is in."""
    if connection is not None:
        try:
            connection.invalidate()
            connection.close()
        except SQLAlchemyError:
            pass


def _close_kept(
    uow: UnitOfWork, end: Callable[[], None], kind: type[BaseException] | None, error: BaseException | None
) -> None:
    """The end of a block on a kept connection (a read's or a writer's): commit when it ended
    normally, then ``end`` (the connection put back in order, the block's lock released) in any
    case; a store error, from the commit or from the block, raised as the store's own."""
    try:
        if kind is None:
            _committed(uow.commit, uow)
    except SQLAlchemyError as exc:
        end()
        raise translate(exc) from exc
    except BaseException:
        end()
        raise
    end()
    if isinstance(error, SQLAlchemyError):
        raise translate(error) from error


class KeptWriteSession(KeptReadSession):
    """A :class:`KeptReadSession` on the SQLite connection kept for the store's writers
    (:class:`_KeptWrite`): the same, but its transaction is begun ``IMMEDIATE`` (by
    :class:`_KeptWrite`, before the unit of work is handed out)."""

    __slots__ = ()

    BEGIN = "BEGIN IMMEDIATE"


class _KeptWrite:
    """:meth:`Store.transaction` for a writer on SQLite (a database file), on the connection
    kept for the store's writers: they take turns on the store's writers' lock, so one
    connection serves them all. Its transaction begins (``BEGIN IMMEDIATE``) and commits on the
    driver: no pool checkout and return, no SQLAlchemy begin and commit machinery (~190 Python
    calls per write). A write begun inside another on the same thread (the lock is re-entrant:
    the kept connection is busy then) takes a pooled connection as before (``pooled``)."""

    __slots__ = ("_pooled", "_pooled_block", "_session", "_store", "_uow")

    def __init__(self, store: Store, pooled: Callable[[], AbstractContextManager[UnitOfWork]]) -> None:
        self._store = store
        self._pooled = pooled
        self._pooled_block: AbstractContextManager[UnitOfWork] | None = None

    def __enter__(self) -> UnitOfWork:
        store = self._store
        lock = store._writers
        lock.__enter__()
        try:
            if store._kept_writer_busy:  # a write inside a write, on this thread
                block = self._pooled_block = self._pooled()
                return block.__enter__()
            connection = store._kept_writer = store._usable(store._kept_writer, SQLITE_KEPT_WRITER)
            driver = connection.connection.driver_connection
            assert isinstance(driver, sqlite3.Connection)
            begun, store._write_begun = store._write_begun, False
            try:
                if not begun:  # (else begun by Store.begin_write_here on this thread, for this write)
                    if driver.in_transaction:  # left open by a failure: never carried over
                        driver.rollback()
                    driver.execute(KeptWriteSession.BEGIN)
            except sqlite3.Error as error:
                if "locked" not in str(error) and "busy" not in str(error):
                    store._drop_kept_writer()  # anything but the lock's wait: start afresh
                raise translate(
                    DBAPIError.instance(
                        KeptWriteSession.BEGIN, None, error, sqlite3.Error, dialect=connection.dialect
                    )
                ) from error
        except BaseException:
            lock.__exit__(None, None, None)
            raise
        store._kept_writer_busy = True
        session = self._session = KeptWriteSession(connection, driver)
        uow = self._uow = UnitOfWork(
            cast(Session, session), store.kek, readonly=False, database=store._database
        )
        uow.count_writes(lambda: driver.total_changes)
        return uow

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: Any) -> bool | None:
        block = self._pooled_block
        if block is not None:
            try:
                return block.__exit__(kind, error, tb)
            finally:
                self._store._writers.__exit__(None, None, None)
        _close_kept(self._uow, self._end, kind, error)
        return None

    def _end(self) -> None:
        """Close the session (its transaction rolled back if still open: the connection never
        leaves a write with one open); a connection that fails to, or was lost meanwhile, is
        dropped (the next write opens another). Then the writers' lock goes."""
        store = self._store
        try:
            try:
                self._session.close()
            except (SQLAlchemyError, sqlite3.Error):
                store._drop_kept_writer()
            kept = store._kept_writer
            if kept is not None and kept.invalidated:
                store._drop_kept_writer()
        finally:
            store._kept_writer_busy = False
            self._store._writers.__exit__(None, None, None)


class _KeptRead:
    """:meth:`Store.transaction` for a read-only transaction on the kept connection."""

    __slots__ = ("_session", "_store", "_uow")

    _session: ReadSession

    def __init__(self, store: Store) -> None:
        self._store = store

    def __enter__(self) -> UnitOfWork:
        store = self._store
        connection = store._kept = store._usable(store._kept, SQLITE_KEPT)
        driver = connection.connection.driver_connection
        session: ReadSession
        if isinstance(driver, sqlite3.Connection):
            session = self._session = KeptReadSession(connection, driver)
        else:
            pipelined = cast("PipelinedConnection", driver)
            status = pipelined.info.transaction_status
            left_open = store._kept_left_open and status == _INTRANS
            if status != _IDLE and not left_open:  # never carried over (a failed end)
                try:
                    pipelined.rollback()
                except store.engine.dialect.loaded_dbapi.Error:  # closed or lost: another one
                    store._drop_kept()
                    return self.__enter__()
            # The last read's transaction, left open, ends in the first round trip of this one.
            pipelined.open_with(_BEGIN[True, True], commit_first=left_open)
            session = self._session = KeptPgReadSession(connection, pipelined, left_open=left_open)
        store._kept_reads += 1
        store._kept_busy = True
        uow = self._uow = UnitOfWork(
            cast(Session, session), store.kek, readonly=True, database=store._database
        )
        return uow

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _tb: Any) -> None:
        _close_kept(self._uow, self._end, kind, error)

    def _end(self) -> None:
        """Close the session (its transaction rolled back if still open); a connection that fails
        to, or was lost meanwhile, is dropped (the next read opens another)."""
        store = self._store
        session = self._session
        try:
            session.close()
            store._kept_left_open = isinstance(session, KeptPgReadSession) and session.left_open
        except (SQLAlchemyError, sqlite3.Error, store.engine.dialect.loaded_dbapi.Error):
            store._drop_kept()
        finally:
            store._kept_busy = False
        kept = store._kept
        if kept is not None and kept.invalidated:
            store._drop_kept()


class Store:
    """The database. Thread-safe: each transaction takes its own pooled connection."""

    def __init__(self, engine: Engine, *, kek: Kek | None = None) -> None:
        self.engine = engine
        self.kek = kek
        self._database = engine.url.render_as_string(hide_password=True)
        # SQLite has one writer at a time. Writers of this process take turns on this lock rather
        # than in SQLite's busy handler, which polls with sleeps of up to 100 ms and so gave
        # concurrent writes a tail of hundreds of milliseconds. (Other processes on the same
        # file, such as `iamd root set-password`, still meet the busy handler.)
        self._writer_lock = threading.RLock() if engine.dialect.name == "sqlite" else None
        self._writers: AbstractContextManager[Any] = self._writer_lock or nullcontext()
        # Store.keep_reads: the thread whose read-only transactions use one connection kept for
        # it, the connection, and whether one of them is open (a read begun inside another read
        # takes a pooled connection of its own).
        self._kept_thread: int | None = None
        self._kept: Connection | None = None
        self._kept_busy = False
        # PostgreSQL: whether the kept connection's transaction is a read's left open (see
        # KeptPgReadSession), the reads begun on it, and their count at end_idle_read's last call.
        self._kept_left_open = False
        self._kept_reads = 0
        self._kept_reads_seen = 0
        # The connection kept for the writers (SQLite, a database file: see _KeptWrite), and
        # whether a write is open on it (then a write begun inside it takes a pooled one).
        database = engine.url.database
        self._keep_writer = engine.dialect.name == "sqlite" and database not in (None, "", ":memory:")
        self._kept_writer: Connection | None = None
        self._kept_writer_busy = False
        # Whether the kept writer's transaction was begun by begin_write_here for the next write
        # of the thread that holds the writers' lock.
        self._write_begun = False
        # SQLite, a database file: its WAL checkpoints, on a thread of their own.
        self._checkpointer = Checkpointer(Path(database)) if self._keep_writer and database else None
        # PostgreSQL through psycopg: the queued writers of an account share transactions
        # (iamd.store.group_commit), made on the first queued write.
        self._grouping = self.backend == "postgresql" and engine.dialect.driver == "psycopg"
        self._groups: WriteGroups | None = None

    def keep_reads(self) -> None:
        """Keep one connection for the calling thread's read-only transactions: the server's
        event loop, where every read runs. Its transactions then begin and commit on the driver,
        without checking a connection out of the pool and back for each (see
        :class:`KeptReadSession` for SQLite, :class:`KeptPgReadSession` for PostgreSQL); they
        are the same transactions (one snapshot from the first read on). A read begun inside
        another read on the same thread, and every read of other threads, take a pooled
        connection as before. A connection lost or failing is closed and replaced on the next
        read (a read that lost it is retried by :meth:`run`). No effect on an in-memory database
        (its one connection is everyone's) or on PostgreSQL through another driver than
        psycopg."""
        database = self.engine.url.database
        file = self.backend == "sqlite" and database not in (None, "", ":memory:")
        if file or (self.backend == "postgresql" and self.engine.dialect.driver == "psycopg"):
            self._kept_thread = threading.get_ident()

    def _usable(self, kept: Connection | None, mode: str) -> Connection:
        """``kept`` (a kept connection) if it can still serve, else (it discarded) a new one
        begun in ``mode`` (on PostgreSQL: in autocommit mode, its transactions opened by the
        store)."""
        if kept is None or kept.invalidated or kept.closed:
            _discard(kept)
            kept = self.engine.connect()
            if self.backend == "sqlite":
                kept.execution_options(**{SQLITE_BEGIN: mode})
            else:
                kept.execution_options(isolation_level="AUTOCOMMIT")
        return kept

    def _drop_kept_writer(self) -> None:
        connection, self._kept_writer = self._kept_writer, None
        _discard(connection)

    def _drop_kept(self) -> None:
        connection, self._kept = self._kept, None
        self._kept_left_open = False
        _discard(connection)

    def end_idle_read(self) -> bool:
        """End the kept connection's last read transaction if it was left open (PostgreSQL: see
        :class:`KeptPgReadSession`) and no read has begun on it since this method's last call;
        True if it did. For the kept connection's thread (the server's event loop) to call now
        and then: a snapshot is then held for two such intervals at most while the server is
        idle, and never holds back PostgreSQL's vacuum for long. No effect elsewhere."""
        if self._kept_thread != threading.get_ident():
            return False
        seen, self._kept_reads_seen = self._kept_reads_seen, self._kept_reads
        if seen != self._kept_reads or not self._kept_left_open or self._kept_busy or self._kept is None:
            return False
        self._kept_left_open = False
        driver = cast("PipelinedConnection", self._kept.connection.driver_connection)
        try:
            driver.commit()
        except self.engine.dialect.loaded_dbapi.Error:
            self._drop_kept()
        return True

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    def _begin_options(self, readonly: bool, serializable: bool = True) -> dict[str, Any]:
        if self.backend == "sqlite":
            return {SQLITE_BEGIN: "DEFERRED" if readonly else "IMMEDIATE"}
        if readonly:  # a consistent snapshot, never a serialization failure
            return {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        return {"isolation_level": "SERIALIZABLE" if serializable else "READ COMMITTED"}

    def transaction(
        self,
        *,
        readonly: bool = False,
        account_id: str | None = None,
        trail_savepoint: bool = False,
        serializable: bool = True,
    ) -> AbstractContextManager[UnitOfWork]:
        """One transaction, committed when the block ends normally, rolled back otherwise.

        Writers are serializable: SERIALIZABLE on PostgreSQL, BEGIN IMMEDIATE on SQLite (where
        writers take turns, those of this process on a lock of the store's). Readers see a
        consistent snapshot and never block writers.

        On PostgreSQL, overlapping writers to one account conflict (both bump its generation) and
        all but one fail with :class:`RetryableError`; :meth:`run` retries for you. Naming the
        account the transaction writes to (`account_id`) makes such writers queue for it instead
        (an advisory lock held around the transaction), so they rarely need a retry. It is only a
        hint: correctness never depends on it.

        After a store error from a write the unit of work is unusable: let the exception end the
        block. ``trail_savepoint``: see :attr:`UnitOfWork.trail_savepoint`.

        ``serializable=False``: a writer at READ COMMITTED on PostgreSQL (each statement sees what
        was committed before it), for work that orders itself with explicit row locks and reads
        nothing it must not see change: the trail's sealer, which otherwise forms read/write
        cycles with every request that inserts an event (it reads the unsealed events and updates
        them) and fails those requests with serialization errors. SQLite ignores it (writers take
        turns there).
        """
        if readonly and not self._kept_busy and self._kept_thread == threading.get_ident():
            return _KeptRead(self)
        if not readonly and self._checkpointer is not None:
            self._checkpointer.wrote()
        if not readonly and self._keep_writer:
            return _KeptWrite(
                self,
                lambda: self._transaction(
                    readonly=False,
                    account_id=account_id,
                    trail_savepoint=trail_savepoint,
                    serializable=serializable,
                ),
            )
        return self._transaction(
            readonly=readonly,
            account_id=account_id,
            trail_savepoint=trail_savepoint,
            serializable=serializable,
        )

    @contextmanager
    def _transaction(
        self, *, readonly: bool, account_id: str | None, trail_savepoint: bool, serializable: bool
    ) -> Iterator[UnitOfWork]:
        queue = (
            _queue_key(account_id) if account_id and not readonly and self.backend == "postgresql" else None
        )
        with nullcontext() if readonly else self._writers, self.engine.connect() as conn:
            released = False
            opened: PipelinedConnection | None = None
            try:
                opened = (
                    _open_pipelined(conn, _BEGIN[readonly, serializable], queue)
                    if queue is not None or (readonly and self.backend == "postgresql")
                    else None
                )
                if queue is not None and opened is None:
                    # A session-level lock, taken outside any transaction (autocommit: one round
                    # trip, no BEGIN/COMMIT), so the snapshot below is taken after it.
                    conn.execution_options(isolation_level="AUTOCOMMIT")
                    conn.exec_driver_sql(f"SELECT pg_advisory_lock({queue})")
                    conn.commit()
                if opened is None:  # (else the lock, if any, and BEGIN go out with the first statement)
                    conn.execution_options(**self._begin_options(readonly, serializable))
                session = cast(Session, ReadSession(conn))
                try:
                    uow = UnitOfWork(
                        session,
                        self.kek,
                        readonly=readonly,
                        database=self._database,
                        trail_savepoint=trail_savepoint,
                        contended=queue is not None,
                    )
                    driver = conn.connection.driver_connection
                    if not readonly and hasattr(driver, "writes"):  # iamd.store.pipelined's
                        uow.count_writes(lambda: driver.writes)  # type: ignore[union-attr]
                    yield uow
                    if queue is not None:
                        released = _committed(lambda: _commit_and_release(session, conn, queue), uow)
                    if not released:
                        _committed(uow.commit, uow)
                finally:
                    session.close()
            except SQLAlchemyError as exc:
                raise translate(exc) from exc
            finally:
                if opened is not None and opened.unsent():
                    released = True  # no statement ran: no transaction, no lock taken
                if queue is not None and not released:
                    _release(conn, queue)

    def run(
        self,
        work: Callable[[UnitOfWork], T],
        *,
        readonly: bool = False,
        account_id: str | Callable[[], str | None] | None = None,
        attempts: int = DEFAULT_ATTEMPTS,
        serializable: bool = True,
    ) -> T:
        """Run `work` in a transaction, retrying it from the start when it loses a race.

        See :meth:`transaction` for `readonly`, `serializable` and `account_id`; `account_id` may also be a
        function asked before each attempt (a caller that learns the account during a first
        attempt queues its retry). The wait before each retry is
        random ("full jitter"), growing exponentially up to 0.1 s. `work` must have no effects
        outside the unit of work, since it may run more than once.

        On PostgreSQL, a serializable writer queued for its account runs in a group with the
        account's other queued writers of this process: one transaction, committed together
        (:mod:`iamd.store.group_commit`). `work` may then run on another thread (while this one
        waits for its outcome); a write it starts runs alone.
        """
        trail_savepoint = False
        alone = False
        for attempt in range(attempts):
            try:
                queue = account_id() if callable(account_id) else account_id
                if queue and self._grouping and serializable and not (readonly or trail_savepoint or alone):
                    groups = self.write_groups()
                    if not groups.leading():
                        return groups.run(queue, work)
                with self.transaction(
                    readonly=readonly,
                    account_id=queue,
                    trail_savepoint=trail_savepoint,
                    serializable=serializable,
                ) as uow:
                    return work(uow)
            except GroupAborted:
                # Not a race of its own: run it again at once, alone (as without groups).
                if attempt == attempts - 1 or alone:
                    raise
                alone = True
            except TrailEventRefused:
                # Not a race: run it again at once, the trail's events in a savepoint this time.
                if attempt == attempts - 1 or trail_savepoint:
                    raise
                trail_savepoint = True
            except RetryableError:
                if attempt == attempts - 1:
                    raise
                time.sleep(random.uniform(0, min(_BACKOFF_CAP, _BACKOFF_BASE * 2**attempt)))
        raise AssertionError("unreachable")

    @property
    def writes_here(self) -> bool:
        """Whether :meth:`begin_write_here` may begin writes (SQLite, a database file)."""
        return self._keep_writer

    def begin_write_here(self) -> bool:
        """SQLite (a database file): begin a write's transaction for the calling thread if nothing
        makes it wait: the store's writers' lock is free, and so is the database's write lock
        (``BEGIN IMMEDIATE`` without the busy handler: another process may hold it). True: both
        are now held, the thread's next write (:meth:`transaction`, :meth:`run`) takes the begun
        transaction, and :meth:`end_write_here` must follow. False: nothing is held (another
        write is under way, here or in another process; or another backend).

        The server's event loop runs a light write itself this way rather than on a write thread
        when no other write runs: no thread hand-over, and no contention for Python's interpreter
        lock between the loop and the write thread at each SQLite call."""
        lock = self._writer_lock
        if lock is None or not self._keep_writer or not lock.acquire(blocking=False):
            return False
        begun = False
        driver: sqlite3.Connection | None = None
        try:
            if self._kept_writer_busy:  # this thread is inside a write already
                return False
            connection = self._kept_writer = self._usable(self._kept_writer, SQLITE_KEPT_WRITER)
            driver = cast(sqlite3.Connection, connection.connection.driver_connection)
            assert isinstance(driver, sqlite3.Connection)
            if driver.in_transaction:  # left open by a failure: never carried over
                driver.rollback()
            driver.execute("PRAGMA busy_timeout=0")
            try:
                driver.execute(KeptWriteSession.BEGIN)
                begun = True
            except sqlite3.Error:  # busy: another process writes; the caller waits elsewhere
                return False
            finally:
                driver.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            self._write_begun = True
            return True
        except (SQLAlchemyError, sqlite3.Error):
            if begun and driver is not None:
                with suppress(sqlite3.Error):
                    driver.rollback()
            self._drop_kept_writer()
            return False
        finally:
            if not self._write_begun:
                lock.release()

    def end_write_here(self) -> None:
        """After :meth:`begin_write_here` returned True: give the writers' lock back, the begun
        transaction rolled back if no write took it (a request refused before its write)."""
        lock = self._writer_lock
        assert lock is not None
        try:
            if self._write_begun:
                self._write_begun = False
                kept = self._kept_writer
                driver = None if kept is None else kept.connection.driver_connection
                if isinstance(driver, sqlite3.Connection) and driver.in_transaction:
                    try:
                        driver.rollback()
                    except sqlite3.Error:
                        self._drop_kept_writer()
        finally:
            lock.release()

    def write_groups(self) -> WriteGroups:
        """The groups of queued writers (PostgreSQL through psycopg: see :meth:`run`)."""
        groups = self._groups
        if groups is None:
            from iamd.store.group_commit import WriteGroups  # (it builds on this module)

            groups = self._groups = WriteGroups(self, self._database)
        return groups

    def migrate(self) -> None:
        """Apply pending migrations (done by :func:`open_store`)."""
        upgrade(self.engine)

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
        self._kept_thread = None
        connection, self._kept = self._kept, None
        if connection is not None:
            with suppress(SQLAlchemyError):
                connection.close()
        with self._writers:
            writer, self._kept_writer = self._kept_writer, None
            if writer is not None:
                with suppress(SQLAlchemyError):
                    writer.close()
        self.engine.dispose()


def open_store(url: str, *, kek: Kek | None = None, migrate: bool = True) -> Store:
    """Open the database at `url` and bring its schema up to date.

    `url` is ``sqlite:///DIR/iamd.db`` (see :func:`iamd.store.engine.default_url`) or
    ``postgresql+psycopg://user@host/db``. `kek` encrypts the secrets the store keeps (access key
    secrets, TOTP seeds, service passwords, private keys); without it those operations fail.
    """
    store = Store(create_store_engine(url), kek=kek)
    if migrate:
        store.migrate()
    return store
