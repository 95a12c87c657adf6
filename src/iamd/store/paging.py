"""Listings: path-prefix filters and keyset pagination behind opaque markers."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Row, Select, and_, func, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from iamd.store.errors import InvalidMarker

M = TypeVar("M")

MAX_ITEMS_LIMIT = 1000


def encode_marker(key: Sequence[str]) -> str:
    """An opaque marker for the position after the row whose sort key is `key`."""
    raw = json.dumps(["m1", *key], separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_marker(marker: str, width: int) -> tuple[str, ...]:
    try:
        raw = base64.urlsafe_b64decode(marker + "=" * (-len(marker) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidMarker("invalid marker") from exc
    if (
        not isinstance(value, list)
        or len(value) != width + 1
        or value[0] != "m1"
        or not all(isinstance(v, str) for v in value[1:])
    ):
        raise InvalidMarker("invalid marker")
    return tuple(value[1:])


def starts_with(column: InstrumentedAttribute[str], prefix: str) -> ColumnElement[bool]:
    """Case-sensitive "starts with" on every backend (SQLite's LIKE ignores case)."""
    return func.substr(column, 1, len(prefix)) == prefix


def _after(columns: Sequence[InstrumentedAttribute[str]], values: Sequence[str]) -> ColumnElement[bool]:
    """Rows whose (columns) sort strictly after (values), as a portable row-value comparison."""
    head, value = columns[0], values[0]
    if len(columns) == 1:
        return head > value
    return or_(head > value, and_(head == value, _after(columns[1:], values[1:])))


def paginate(
    session: Session,
    stmt: Select[M],
    order: Sequence[InstrumentedAttribute[str]],
    marker: str | None,
    max_items: int,
) -> tuple[list[M], str | None]:
    """Run `stmt` (selecting one ORM entity) from `marker` on, ordered by `order` (unique)."""
    if not 1 <= max_items <= MAX_ITEMS_LIMIT:
        raise ValueError(f"max_items must be between 1 and {MAX_ITEMS_LIMIT}")
    if marker is not None:
        stmt = stmt.where(_after(order, decode_marker(marker, len(order))))
    rows = list(session.scalars(stmt.order_by(*order).limit(max_items + 1)))
    if len(rows) <= max_items:
        return rows, None
    rows = rows[:max_items]
    last: Any = rows[-1]
    return rows, encode_marker([getattr(last, col.key) for col in order])


def paginate_rows(
    session: Session,
    stmt: Select[*tuple[Any, ...]],
    order: Sequence[InstrumentedAttribute[str]],
    marker: str | None,
    max_items: int,
) -> tuple[list[Row[Any]], str | None]:
    """:func:`paginate` for a statement that selects columns (among them those of `order`): plain
    rows named by column, no ORM objects to build (the listings of large accounts)."""
    if not 1 <= max_items <= MAX_ITEMS_LIMIT:
        raise ValueError(f"max_items must be between 1 and {MAX_ITEMS_LIMIT}")
    if marker is not None:
        stmt = stmt.where(_after(order, decode_marker(marker, len(order))))
    # Core rows straight from the connection (pending changes flushed first): the ORM's loading
    # machinery only wraps them again.
    session.flush()
    rows: list[Row[Any]] = list(session.connection().execute(stmt.order_by(*order).limit(max_items + 1)))
    if len(rows) <= max_items:
        return rows, None
    rows = rows[:max_items]
    return rows, encode_marker([getattr(rows[-1], col.key) for col in order])
