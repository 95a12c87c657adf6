"""What every repository shares: the unit of work it runs in, and driver-error translation."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Exists, select
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from iamd.store.errors import AlreadyExists, Conflict, NotFound, RetryableError, StoreError

if TYPE_CHECKING:
    from iamd.store.unit import UnitOfWork

F = TypeVar("F", bound=Callable[..., Any])

_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01", "55P03"})  # serialization, deadlock, lock timeout
_RETRYABLE_SQLITE = frozenset({"SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_BUSY_SNAPSHOT"})


def translate(exc: SQLAlchemyError) -> StoreError:
    """The store error for a database driver (or SQLAlchemy) error."""
    if not isinstance(exc, DBAPIError):
        return StoreError(str(exc))  # e.g. a value a column type refused
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)
    sqlite_name = getattr(orig, "sqlite_errorname", None)
    message = str(orig)
    if exc.connection_invalidated:
        # The database closed the connection (restart, pg_terminate_backend): the transaction
        # did not commit, and the pool has been emptied, so running it again from the start on
        # a new connection is safe. (A loss during COMMIT is not retried: see Store.transaction.)
        return RetryableError(f"connection to the database lost: {message}")
    if (
        sqlstate in _RETRYABLE_SQLSTATES
        or sqlite_name in _RETRYABLE_SQLITE
        or "database is locked" in message
    ):
        return RetryableError(message)
    if isinstance(exc, IntegrityError):
        if sqlstate == "23505" or "UNIQUE constraint failed" in message:
            return AlreadyExists(message)
        return Conflict(message)  # foreign key, check or not-null: something still refers to it
    return StoreError(message)


def translating(fn: F) -> F:
    """Wrap `fn` so that driver errors leave it as store errors."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SQLAlchemyError as exc:
            raise translate(exc) from exc

    return wrapper  # type: ignore[return-value]


class Repository:
    """Base of the repositories. Public methods of subclasses translate driver errors."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._session = uow.session

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, attr in list(vars(cls).items()):
            if not name.startswith("_") and inspect.isfunction(attr):
                setattr(cls, name, translating(attr))


V = TypeVar("V")


def found(value: V | None, what: str) -> V:
    """`value`, or NotFound naming `what`."""
    if value is None:
        raise NotFound(f"{what} not found")
    return value


def refuse_if_any(session: Session, what: str, blockers: Mapping[str, Exists]) -> None:
    """Raise Conflict naming every blocker that exists (checked in one query), e.g. before a delete."""
    row = session.execute(select(*(check.label(f"b{i}") for i, check in enumerate(blockers.values())))).one()
    present = [name for name, exists in zip(blockers, row, strict=True) if exists]
    if present:
        raise Conflict(f"{what} still has {', '.join(present)}")


BATCH = 500
"""How many ids one ``IN (…)`` of a batch read names (well under every backend's limit)."""


def batches(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    """``ids`` in slices of at most ``BATCH``."""
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]
