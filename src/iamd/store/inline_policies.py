"""Inline policies embedded in users, groups and roles (names unique per principal, any case)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import InstrumentedAttribute

from iamd.store.base import Repository, batches, found
from iamd.store.paging import paginate
from iamd.store.prepared import Prepared, PreparedInsert, PreparedWrite
from iamd.store.records import InlinePolicyRecord, Page, PrincipalKind
from iamd.store.schema import InlinePolicy, Role, User

if TYPE_CHECKING:
    from iamd.store.unit import UnitOfWork

_ORDER = (InlinePolicy.name_lower,)


def _column(kind: PrincipalKind) -> InstrumentedAttribute[str | None]:
    return {"user": InlinePolicy.user_id, "group": InlinePolicy.group_id, "role": InlinePolicy.role_id}[kind]


_FIND = {
    kind: Prepared(
        select(InlinePolicy.id, InlinePolicy.name, InlinePolicy.document).where(
            _column(kind) == bindparam("principal_id"), InlinePolicy.name_lower == bindparam("name_lower")
        )
    )
    for kind in ("user", "group", "role")
}
_DOCUMENTS = {
    kind: Prepared(
        select(InlinePolicy.id, InlinePolicy.name_lower, InlinePolicy.name, InlinePolicy.document).where(
            _column(kind) == bindparam("principal_id")
        )
    )
    for kind in ("user", "group", "role")
}
"""Every inline policy of a principal (Put*Policy's size check, on its path, prebuilt): read once
per transaction and principal while nothing is written (:meth:`InlinePolicies._rows`), and what
:meth:`InlinePolicies.put` then finds the one it replaces in."""
_Row = tuple[int, str, str, str]
"""An inline policy as :data:`_DOCUMENTS` reads it: id, name_lower, name, document."""


def _documents_named(kind: PrincipalKind, table: type[User] | type[Role]) -> Prepared:
    principal = select(table.id).where(
        table.account_id == bindparam("account_id"), table.name_lower == bindparam("name")
    )
    columns = (InlinePolicy.id, InlinePolicy.name_lower, InlinePolicy.name, InlinePolicy.document)
    return Prepared(select(*columns, _column(kind)).where(_column(kind) == principal.scalar_subquery()))


_DOCUMENTS_NAMED: dict[str, Prepared] = {
    "user": _documents_named("user", User),
    "role": _documents_named("role", Role),
}
""":data:`_DOCUMENTS` of the user or role of a name (and each row's principal id): what
:meth:`InlinePolicies.prefetch` reads ahead, before the principal's id is known."""
_UPDATE = PreparedWrite(
    update(InlinePolicy)
    .where(InlinePolicy.id == bindparam("row_id"))
    .values(name=bindparam("new_name"), document=bindparam("new_document"))
)
_INSERT = {
    kind: PreparedInsert(
        InlinePolicy.__table__,  # type: ignore[arg-type]
        ("account_id", "name", "name_lower", "document", _column(kind).key),
    )
    for kind in ("user", "group", "role")
}


def _seen_key(kind: PrincipalKind, principal_id: str) -> tuple[str, ...]:
    """Where a principal's inline policies are kept in the transaction (``UnitOfWork.rows_seen``)."""
    return ("inline", kind, principal_id)


class InlinePolicies(Repository):
    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow)
        self._named_ahead: dict[str, dict[str, str]] = {}
        """By kind: the parameters of the principal's inline policies read ahead by name."""

    def put(self, account_id: str, kind: PrincipalKind, principal_id: str, name: str, document: str) -> bool:
        """Create or replace (Put{User,Group,Role}Policy). True when created. Prepared
        statements: no ORM object to load, build or flush. The account's generation goes up only
        when something changes: the same document under the same name (a replayed Put*Policy)
        changes no decision, so it leaves every cache valid. The principal's policies are those
        read earlier in the transaction if nothing was written since (the size check's
        :meth:`documents`): one read per request."""
        seen_key = _seen_key(kind, principal_id)
        rows: tuple[_Row, ...] | None = self._uow.writing(seen_key)
        name_lower = name.lower()
        if rows is None:
            found = _FIND[kind].rows(self._session, {"principal_id": principal_id, "name_lower": name_lower})
        else:
            found = [(row[0], row[2], row[3]) for row in rows if row[1] == name_lower]
        if found:
            row_id, found_name, found_document = found[0]
            if (found_name, found_document) != (name, document):
                self._uow.changed(account_id)
                # (its row read in this snapshot: see Tags.put)
                _UPDATE.run_deferred(
                    self._session, {"row_id": row_id, "new_name": name, "new_document": document}
                )
                if rows is not None:
                    rows = tuple(
                        (row_id, name_lower, name, document) if row[0] == row_id else row for row in rows
                    )
            if rows is not None:
                self._uow.rows_seen[seen_key] = rows
            return False
        self._uow.changed(account_id)
        _INSERT[kind].run(
            self._session,
            [
                {
                    "account_id": account_id,
                    "name": name,
                    "name_lower": name_lower,
                    "document": document,
                    _column(kind).key: principal_id,
                }
            ],
        )
        return True  # the new row's id is not known: the principal's policies are read again if asked

    def find(self, kind: PrincipalKind, principal_id: str, name: str) -> InlinePolicyRecord | None:
        row = self._row(kind, principal_id, name)
        return None if row is None else InlinePolicyRecord(kind, principal_id, row.name, row.document)

    def get(self, kind: PrincipalKind, principal_id: str, name: str) -> InlinePolicyRecord:
        return found(self.find(kind, principal_id, name), f"policy {name}")

    def list_names(
        self, kind: PrincipalKind, principal_id: str, *, marker: str | None = None, max_items: int = 100
    ) -> Page[str]:
        stmt = select(InlinePolicy).where(_column(kind) == principal_id)
        rows, next_marker = paginate(self._session, stmt, _ORDER, marker, max_items)
        return Page(tuple(r.name for r in rows), next_marker)

    def list_many(
        self, kind: PrincipalKind, principal_ids: Sequence[str]
    ) -> dict[str, tuple[InlinePolicyRecord, ...]]:
        """Every inline policy of many principals at once, each principal's in the order of
        :meth:`list_names`; every id is a key."""
        column = _column(kind)
        found: dict[str, list[InlinePolicyRecord]] = {pid: [] for pid in principal_ids}
        for chunk in batches(principal_ids):
            rows = self._session.execute(
                select(column, InlinePolicy.name, InlinePolicy.document)
                .where(column.in_(chunk))
                .order_by(*_ORDER)  # the database's order, as list_names has it
            )
            for principal_id, name, document in rows:
                assert principal_id is not None
                found[principal_id].append(InlinePolicyRecord(kind, principal_id, name, document))
        return {pid: tuple(v) for pid, v in found.items()}

    def documents(self, kind: PrincipalKind, principal_id: str) -> list[tuple[str, str]]:
        """(name, document) of each of a principal's inline policies, in no particular order:
        Put*Policy's size check, on its path, prebuilt."""
        return [(row[2], row[3]) for row in self._rows(kind, principal_id)]

    def total_size(self, kind: PrincipalKind, principal_id: str) -> int:
        """Characters in all of a principal's inline policies (for the aggregate size quotas)."""
        return (
            self._session.scalar(
                select(func.coalesce(func.sum(func.length(InlinePolicy.document)), 0)).where(
                    _column(kind) == principal_id
                )
            )
            or 0
        )

    def delete(self, kind: PrincipalKind, principal_id: str, name: str) -> None:
        row = found(self._row(kind, principal_id, name), f"policy {name}")
        self._uow.changed(row.account_id)
        self._session.delete(row)
        self._session.flush()

    def prefetch(self, kind: PrincipalKind, account_id: str, name: str) -> None:
        """The inline policies of the user or role of this name read ahead, in the round trip of
        the transaction's next statement, on PostgreSQL (Put{User,Role}Policy's size check: the
        principal its request names); nothing otherwise."""
        if kind in _DOCUMENTS_NAMED and not self._uow.database.startswith("sqlite"):
            params = {"account_id": account_id, "name": name.lower()}
            if _DOCUMENTS_NAMED[kind].prefetch(self._session, params):
                self._named_ahead[kind] = params

    def _rows(self, kind: PrincipalKind, principal_id: str) -> tuple[_Row, ...]:
        """The principal's inline policies, read once per transaction while nothing is written
        (:attr:`iamd.store.unit.UnitOfWork.rows_seen`; :meth:`put` keeps them), or taken from
        those read ahead by its name (:meth:`prefetch`) when they are this principal's."""
        seen = self._uow.rows_seen
        key = _seen_key(kind, principal_id)
        rows: tuple[_Row, ...] | None = seen.get(key)
        if rows is None:
            ahead = self._named_ahead.pop(kind, None)
            taken = None if ahead is None else _DOCUMENTS_NAMED[kind].taken(self._session, ahead)
            if taken is not None and all(row[4] == principal_id for row in taken):
                # (none at all: the name's principal has none, or is another; it is this one,
                # found by that name in this transaction, names being unique in an account)
                rows = tuple((row[0], row[1], row[2], row[3]) for row in taken)
            else:
                rows = tuple(_DOCUMENTS[kind].rows(self._session, {"principal_id": principal_id}))
            seen[key] = rows
        return rows

    def _row(self, kind: PrincipalKind, principal_id: str, name: str) -> InlinePolicy | None:
        return self._session.scalar(
            select(InlinePolicy).where(_column(kind) == principal_id, InlinePolicy.name_lower == name.lower())
        )
