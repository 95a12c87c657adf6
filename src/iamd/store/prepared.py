"""Prepared reads: a Core ``SELECT`` compiled once per database dialect and run on the unit of
work's own driver connection, inside its transaction.

On every request's path (the caller's account generation, the user or role it names, their tags)
SQLAlchemy's statement machinery (execution context, events, result set-up, ``Row`` objects) cost
five to ten times the database's own work on SQLite. A prepared read keeps what SQLAlchemy
decides (the SQL text and its parameter order for the dialect, each column's result conversion,
such as SQLite's text dates), done once, and runs the rest itself. Driver errors leave as
SQLAlchemy's, with a lost connection invalidated (so the store retries the transaction on a new
one, as for any statement).

A prepared insert (:class:`PreparedInsert`) does the same for the rows the trail writer stores in
batches: the ``INSERT`` compiled once per dialect and column set, each value converted by its
column's type as SQLAlchemy would (UTC dates, booleans), then one ``executemany`` of the driver."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any, Final, TypeVar, cast

from sqlalchemy import CompoundSelect, Connection, Delete, Select, Table, Update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.orm import Session

__all__ = ["Prepared", "PreparedInsert", "PreparedWrite"]

_Statement = Select[*tuple[Any, ...]] | CompoundSelect[*tuple[Any, ...]]
_Write = Update | Delete
_R = TypeVar("_R")


def _arguments(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """What turns a statement's parameters by name into the driver's positional arguments."""
    if len(names) == 1:
        (name,) = names
        return lambda params: (params[name],)
    if not names:
        return lambda params: ()
    return cast(Callable[[Mapping[str, Any]], tuple[Any, ...]], itemgetter(*names))


def _as_is(params: Mapping[str, Any]) -> Mapping[str, Any]:
    return params


class _CompiledWrite:
    """A statement compiled for one dialect, its parameters passed unconverted: the SQL, its own
    values (a literal it binds, the 1 of ``generation + 1``) by the names the SQL gives them,
    and how the arguments are laid out."""

    __slots__ = ("arguments", "defaults", "names", "positional", "sql")

    KIND = "writes"

    def __init__(self, statement: _Statement | _Write, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        for name, bind in compiled.binds.items():
            if bind.type.dialect_impl(dialect).bind_processor(dialect) is not None:
                raise TypeError(
                    f"prepared {self.KIND} take parameters passed as they are ({name} is converted)"
                )
        self.sql = compiled.string
        self.defaults = {
            name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required
        }
        self.positional = bool(compiled.positional)
        self.names = tuple(compiled.positiontup or ())
        self.arguments: Callable[[Mapping[str, Any]], Any] = (
            _arguments(self.names) if self.positional else _as_is
        )


class _Compiled(_CompiledWrite):
    """A ``SELECT`` compiled: as a write, and how its result columns are converted."""

    __slots__ = ("processors",)

    KIND = "reads"

    def __init__(self, statement: _Statement, dialect: Dialect) -> None:
        super().__init__(statement, dialect)
        processors = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        ]
        # (column index, conversion) for the columns converted (dates on SQLite): the others
        # are taken as the driver gives them.
        self.processors: tuple[tuple[int, Callable[[Any], Any]], ...] = tuple(
            (index, processor) for index, processor in enumerate(processors) if processor is not None
        )


class Prepared:
    """A ``SELECT`` (or a ``UNION`` of them) whose parameters are bound by name (``bindparam``,
    or values of its own) and passed unconverted (text, numbers), run as :meth:`rows`."""

    def __init__(self, statement: _Statement) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}  # per dialect name (SQLite, PostgreSQL): two at most

    def prefetch(self, session: Session, params: Mapping[str, Any]) -> bool:
        """On PostgreSQL: have the statement go out, with ``params``, in the round trip of
        ``session``'s next statement, its result kept for :meth:`rows` with the same
        ``params`` (:meth:`iamd.store.pipelined.Connection.prefetch`). True if so; nothing
        happens otherwise (``rows`` then reads as usual)."""
        connection, driver = _begun(session)
        queue = getattr(driver, "prefetch", None)
        if queue is None:
            return False
        compiled, arguments = _bound(self._compiled, _Compiled, self.statement, connection.dialect, params)
        return bool(queue(compiled.sql, arguments))

    def taken(self, session: Session, params: Mapping[str, Any]) -> list[tuple[Any, ...]] | None:
        """:meth:`rows` if :meth:`prefetch` sent the statement ahead with ``params`` (and nothing
        was written since); None, with nothing run, otherwise."""
        connection, driver = _begun(session)
        taken = getattr(driver, "prefetched", None)
        if taken is None:
            return None
        compiled, arguments = _bound(self._compiled, _Compiled, self.statement, connection.dialect, params)
        cursor = taken(compiled.sql, arguments)
        if cursor is None:
            return None
        return _converted(compiled, _take(connection, driver, cursor, compiled.sql, arguments, _fetchall))

    def rows(self, session: Session, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every row, as tuples of the selected columns' values (converted as SQLAlchemy would),
        read in ``session``'s transaction (pending changes flushed first); a result sent ahead by
        :meth:`prefetch` is taken instead of reading again."""
        compiled, rows = _execute(self._compiled, _Compiled, self.statement, session, params, _fetchall)
        return _converted(compiled, rows)


def _converted(compiled: _Compiled, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """``rows`` as read, their converted columns (dates on SQLite) converted."""
    processors = compiled.processors
    if not processors:
        return rows
    converted: list[tuple[Any, ...]] = []
    for row in rows:
        values = list(row)
        for index, convert in processors:
            value = values[index]
            if value is not None:
                values[index] = convert(value)
        converted.append(tuple(values))
    return converted


_C = TypeVar("_C", bound="_CompiledWrite")


def _fetchall(cursor: Any) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = cursor.fetchall()
    return rows


def _rowcount(cursor: Any) -> int:
    count: int = cursor.rowcount
    return count


def _execute(
    compiled_by_dialect: dict[str, _C],
    compile_for: Callable[[Any, Dialect], _C],
    statement: Any,
    session: Session,
    params: Mapping[str, Any],
    result: Callable[[Any], _R],
) -> tuple[_C, _R]:
    """Run ``statement`` (compiled once per dialect by ``compile_for``) in ``session``'s
    transaction on the driver, and take ``result`` of its cursor; a driver's error raised as
    SQLAlchemy raises it (:func:`driver_error`)."""
    connection, driver = _begun(session)
    compiled, arguments = _bound(compiled_by_dialect, compile_for, statement, connection.dialect, params)
    taken = getattr(driver, "prefetched", None)
    if taken is not None:
        cursor = taken(compiled.sql, arguments)
        if cursor is not None:
            return compiled, _take(connection, driver, cursor, compiled.sql, arguments, result)
    return compiled, _run_on(connection, driver, compiled.sql, arguments, result)


def _take(
    connection: Connection, driver: Any, cursor: Any, sql: str, arguments: Any, result: Callable[[Any], _R]
) -> _R:
    """``result`` of a cursor sent ahead (:meth:`Prepared.prefetch`), the cursor then closed; a
    driver's error raised as SQLAlchemy raises it (:func:`driver_error`)."""
    try:
        return result(cursor)
    except connection.dialect.loaded_dbapi.Error as error:
        raise driver_error(connection, driver, cursor, error, sql, arguments) from error
    finally:
        cursor.close()


def _run_on(connection: Connection, driver: Any, sql: str, arguments: Any, result: Callable[[Any], _R]) -> _R:
    """Run ``sql`` on ``driver`` (``connection``'s, its transaction begun) and take ``result`` of
    its cursor; a driver's error raised as SQLAlchemy raises it (:func:`driver_error`)."""
    cursor = driver.cursor()
    try:
        cursor.execute(sql, arguments)
        return result(cursor)
    except connection.dialect.loaded_dbapi.Error as error:
        raise driver_error(connection, driver, cursor, error, sql, arguments) from error
    finally:
        cursor.close()


def _bound(
    compiled_by_dialect: dict[str, _C],
    compile_for: Callable[[Any, Dialect], _C],
    statement: Any,
    dialect: Dialect,
    params: Mapping[str, Any],
) -> tuple[_C, Any]:
    """``statement`` compiled for ``dialect`` (once), and the driver's arguments for ``params``."""
    compiled = compiled_by_dialect.get(dialect.name)
    if compiled is None:
        compiled = compiled_by_dialect[dialect.name] = compile_for(statement, dialect)
    if compiled.defaults:
        params = {**compiled.defaults, **params}
    return compiled, compiled.arguments(params)


def _begun(session: Session) -> tuple[Connection, Any]:
    """``session``'s connection and its driver connection, the transaction begun on it and the
    session's pending changes flushed."""
    # A transaction on a connection kept for its thread (iamd.store.store.KeptReadSession)
    # hands over its driver, the transaction begun, at once.
    kept = getattr(session, "begun_driver", None)
    begun = kept() if kept is not None else None
    if begun is not None:
        return cast(tuple[Connection, Any], begun)
    session.flush()
    connection = session.connection()
    driver = connection.connection.driver_connection
    assert driver is not None
    return connection, driver


class PreparedWrite:
    """An ``UPDATE`` or ``DELETE`` whose parameters are bound by name (``bindparam``, or values
    of its own) and passed unconverted (text, numbers), compiled once per dialect and run as
    :meth:`run` on the unit of work's driver connection (no execution context, events or result
    set-up: on a write's path those cost several times SQLite's own work)."""

    def __init__(self, statement: _Write) -> None:
        self.statement = statement
        self._compiled: dict[str, _CompiledWrite] = {}  # per dialect name

    def run(self, session: Session, params: Mapping[str, Any]) -> int:
        """Run it in ``session``'s transaction (pending changes flushed first): the rows matched."""
        return _execute(self._compiled, _CompiledWrite, self.statement, session, params, _rowcount)[1]

    def run_deferred(self, session: Session, params: Mapping[str, Any]) -> None:
        """:meth:`run`, its row count not wanted: on PostgreSQL it goes out with the transaction's
        next statement, or its ``COMMIT``, in that one's round trip (``Connection.defer`` of
        :mod:`iamd.store.pipelined`); an error in it is raised by that statement."""
        connection, driver = _begun(session)
        compiled, arguments = _bound(
            self._compiled, _CompiledWrite, self.statement, connection.dialect, params
        )
        defer = getattr(driver, "defer", None)
        if defer is None or not defer(compiled.sql, arguments):
            _run_on(connection, driver, compiled.sql, arguments, _rowcount)


def driver_error(
    connection: Connection, driver: Any, cursor: Any, error: Any, sql: str, arguments: Any
) -> StatementError:
    """A driver's error as SQLAlchemy raises it, the connection invalidated if it is lost."""
    dialect = connection.dialect
    invalidated = dialect.is_disconnect(error, driver, cursor)
    if invalidated:
        connection.invalidate(error)
        # As SQLAlchemy does on a disconnect met by its own statements: the pool's other
        # connections are as old as this one and most likely as dead (a restart, a failover), so
        # they go too; otherwise each would fail one more request (or readiness probe) in turn.
        connection.engine.dispose(close=False)
    translated: StatementError = DBAPIError.instance(
        sql,
        arguments,
        error,
        dialect.loaded_dbapi.Error,
        connection_invalidated=invalidated,
        dialect=dialect,
    )
    return translated


ROWS_PER_INSERT: Final = 32
"""SQLite: rows per multi-row ``INSERT`` (17 columns of the trail's events: 544 parameters, under
the 999 of SQLite's older builds)."""


class _CompiledInsert:
    __slots__ = ("_multi", "converters", "names", "positional", "sql")

    def __init__(self, table: Table, columns: tuple[str, ...], dialect: Dialect) -> None:
        compiled = table.insert().compile(dialect=dialect, column_keys=list(columns))
        if set(compiled.binds) != set(columns):
            raise TypeError(f"a prepared insert binds exactly its columns, not {sorted(compiled.binds)}")
        self.sql = compiled.string
        self.positional = bool(compiled.positional)
        self.names = tuple(compiled.positiontup or ()) if self.positional else columns
        self.converters: tuple[Callable[[Any], Any] | None, ...] = tuple(
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in self.names
        )
        self._multi: dict[int, str] = {1: self.sql}

    def multi(self, rows: int) -> str:
        """The ``INSERT`` of ``rows`` rows in one statement (positional parameters, row after
        row): ``VALUES (?, ?), (?, ?), ...``."""
        sql = self._multi.get(rows)
        if sql is None:
            head, _, values = self.sql.partition(" VALUES ")
            if not values.startswith("(") or not values.endswith(")"):
                raise TypeError(f"not a one-row insert: {self.sql}")
            sql = self._multi[rows] = f"{head} VALUES " + ", ".join([values] * rows)
        return sql


class PreparedInsert:
    """An ``INSERT`` of ``columns`` into ``table`` (no other column has a default to compute),
    run as :meth:`run`."""

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        self.table = table
        self.columns = tuple(columns)
        self._compiled: dict[str, _CompiledInsert] = {}  # per dialect name

    def run(self, session: Session, rows: Sequence[Mapping[str, Any]], *, defer: bool = False) -> bool:
        """Insert ``rows`` (each holding every column) in ``session``'s transaction (pending
        changes flushed first), the values converted as SQLAlchemy would convert them.
        ``defer``: on PostgreSQL, send them with the transaction's next statement or its
        ``COMMIT`` (see :meth:`PreparedWrite.run_deferred`). True when deferred so."""
        if not rows:
            return False
        connection, driver = _begun(session)
        dialect = connection.dialect
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = _CompiledInsert(self.table, self.columns, dialect)
        pairs = tuple(zip(compiled.names, compiled.converters, strict=True))
        try:
            values = [
                tuple(row[name] if convert is None else convert(row[name]) for name, convert in pairs)
                for row in rows
            ]
        except Exception as error:  # a value its column's type refuses (a naive date): as SQLAlchemy
            raise StatementError(
                f"({type(error).__module__}.{type(error).__name__}) {error}", compiled.sql, rows, error
            ) from error
        names = compiled.names
        arguments: list[Any] = (
            values if compiled.positional else [dict(zip(names, v, strict=True)) for v in values]
        )
        if defer and (queue := getattr(driver, "defer", None)) is not None:
            many = len(arguments) > 1
            if queue(compiled.sql, arguments if many else arguments[0], many=many):
                return True
        cursor = driver.cursor()
        try:
            if len(arguments) == 1:
                cursor.execute(compiled.sql, arguments[0])
            elif dialect.name == "sqlite" and compiled.positional:
                # Several rows per statement: SQLite's driver gives Python's interpreter lock back
                # around each statement it runs (each row of an executemany), and a thread that
                # stores a batch (the trail's writer) then waits to take it again from the event
                # loop at every row: most of its cost, in system time and thread switches.
                for start in range(0, len(values), ROWS_PER_INSERT):
                    chunk = values[start : start + ROWS_PER_INSERT]
                    cursor.execute(compiled.multi(len(chunk)), [v for row in chunk for v in row])
            else:
                cursor.executemany(compiled.sql, arguments)
        except dialect.loaded_dbapi.Error as error:
            raise driver_error(connection, driver, cursor, error, compiled.sql, arguments) from error
        finally:
            cursor.close()
        return False
