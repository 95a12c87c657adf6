"""Prepared reads: a Core ``SELECT`` compiled once per database dialect and run on the unit of
work's own driver connection, inside its transaction.

On every request's path (the caller's account generation, the user or role it names, their tags)
SQLAlchemy's statement machinery (execution context, events, result set-up, ``Row`` objects) cost
five to ten times the database's own work on SQLite. A prepared read keeps what SQLAlchemy
decides (the SQL text and its parameter order for the dialect, each column's result conversion,
such as SQLite's text dates), done once, and runs the rest itself. Driver errors leave as
SQLAlchemy's, with a lost connection invalidated (so the store retries the transaction on a new
one, as for any statement)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import CompoundSelect, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

__all__ = ["Prepared"]

_Statement = Select[*tuple[Any, ...]] | CompoundSelect[*tuple[Any, ...]]


class _Compiled:
    __slots__ = ("defaults", "names", "positional", "processors", "sql")

    def __init__(self, statement: _Statement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        for name, bind in compiled.binds.items():
            if bind.type.dialect_impl(dialect).bind_processor(dialect) is not None:
                raise TypeError(f"prepared reads take parameters passed as they are ({name} is converted)")
        self.sql = compiled.string
        # The statement's own values (a literal it binds), by the names the SQL gives them.
        self.defaults = {
            name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required
        }
        self.positional = bool(compiled.positional)
        self.names = tuple(compiled.positiontup or ())
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

    def rows(self, session: Session, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every row, as tuples of the selected columns' values (converted as SQLAlchemy would),
        read in ``session``'s transaction (pending changes flushed first)."""
        session.flush()
        connection = session.connection()
        dialect = connection.dialect
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = _Compiled(self.statement, dialect)
        if compiled.defaults:
            params = {**compiled.defaults, **params}
        arguments: Any = tuple(params[name] for name in compiled.names) if compiled.positional else params
        driver = connection.connection.driver_connection
        assert driver is not None
        cursor = driver.cursor()
        try:
            cursor.execute(compiled.sql, arguments)
            rows: list[tuple[Any, ...]] = cursor.fetchall()
        except dialect.loaded_dbapi.Error as error:
            invalidated = dialect.is_disconnect(error, driver, cursor)
            if invalidated:
                connection.invalidate(error)
            raise DBAPIError.instance(
                compiled.sql,
                arguments,
                error,
                dialect.loaded_dbapi.Error,
                connection_invalidated=invalidated,
                dialect=dialect,
            ) from error
        finally:
            cursor.close()
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
