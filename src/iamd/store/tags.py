"""Tags on any taggable resource: keys unique per resource, compared case-insensitively."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, bindparam, cast, delete, func, null, select, union_all, update

from iamd.store.base import Repository, batches
from iamd.store.errors import Conflict
from iamd.store.prepared import Prepared, PreparedInsert, PreparedWrite
from iamd.store.records import ResourceKind, Tag
from iamd.store.schema import Tag as TagRow

if TYPE_CHECKING:
    from iamd.store.unit import UnitOfWork

_ROWS = Prepared(
    select(TagRow.id, TagRow.key_lower, TagRow.key, TagRow.value).where(
        TagRow.account_id == bindparam("account_id"),
        TagRow.resource_kind == bindparam("kind"),
        TagRow.resource_id == bindparam("resource_id"),
    )
)
"""Every tag of a resource (at most 50: the quota), prebuilt, executed without the ORM: on the
request path (resource tags for conditions, :meth:`Tags.list`) and what :meth:`Tags.put` picks
those it names from (an expanding ``IN`` would be rendered again at every execution). Read once
per transaction and resource while nothing is written (:meth:`Tags._rows`)."""
_Row = tuple[int, str, str, str]
"""A tag as :data:`_ROWS` reads it: id, key_lower, key, value."""


class FindWithTags:
    """A user's or role's find by name (``found``: at most one row, its id first, under its
    account's and name's parameters) that also reads the resource's tags where that saves a
    round trip: on PostgreSQL one statement, a ``UNION ALL`` of the resource's row (its tag
    columns NULL) and a narrow row per tag (the resource's columns NULL; a join would repeat them
    beside each tag), the tags kept for the transaction (:meth:`Tags.split_found`). Every request
    that names a user or role reads its tags (the authorization's resource tags). On SQLite the
    find alone: two statements cost no more there for a few tags and less for many (a user with
    50 tags found and its tags listed: 78 µs as two statements, 111 µs as the union)."""

    def __init__(self, kind: ResourceKind, found: Select[*tuple[Any, ...]], resource_id: Any) -> None:
        self._kind: ResourceKind = kind
        self._width = len(found.selected_columns)
        self._alone = Prepared(found)
        resource_ids = found.with_only_columns(resource_id).scalar_subquery()
        tag_columns = (TagRow.id, TagRow.key_lower, TagRow.key, TagRow.value)
        tags = select(*(cast(null(), column.type) for column in found.selected_columns), *tag_columns).where(
            TagRow.account_id == bindparam("account_id"),
            TagRow.resource_kind == kind,
            TagRow.resource_id == resource_ids,
        )
        nothing = [cast(null(), column.type) for column in tag_columns]
        self._with_tags = Prepared(union_all(found.add_columns(*nothing), tags))

    def prefetch(self, uow: UnitOfWork, params: Mapping[str, Any]) -> None:
        """Have :meth:`row` with these ``params`` read ahead, in the round trip of the
        transaction's next statement, on PostgreSQL (:meth:`iamd.store.prepared.Prepared.prefetch`);
        nothing otherwise."""
        if not uow.database.startswith("sqlite"):
            self._with_tags.prefetch(uow.session, params)

    def row(self, uow: UnitOfWork, account_id: str, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The resource's row (``found``'s columns), or None."""
        if uow.database.startswith("sqlite"):
            rows = self._alone.rows(uow.session, params)
            return rows[0] if rows else None
        rows = self._with_tags.rows(uow.session, params)
        return uow.tags.split_found(account_id, self._kind, rows, self._width)


_REPLACE = PreparedWrite(
    update(TagRow)
    .where(TagRow.id == bindparam("row_id"))
    .values(key=bindparam("new_key"), value=bindparam("new_value"))
)
_INSERT = PreparedInsert(
    TagRow.__table__,  # type: ignore[arg-type]
    ("account_id", "resource_kind", "resource_id", "key", "key_lower", "value"),
)

# Tag keys of managed policies are case-sensitive in AWS: a policy can carry both "a" and "A",
# and UntagPolicy "a" leaves "A" (recorded against AWS: LocalStack's
# tests/aws/services/iam/test_iam_policies.snapshot.json, create-with-case-sensitive-tags and
# list-after-untag-lowercase). Every other IAM resource compares keys case-insensitively. For these
# kinds ``key_lower`` holds the key as written, so the unique constraint compares it exactly.
CASE_SENSITIVE_KINDS: frozenset[str] = frozenset({"policy"})


def _fold(kind: str, key: str) -> str:
    return key if kind in CASE_SENSITIVE_KINDS else key.lower()


def _seen_key(account_id: str, kind: ResourceKind, resource_id: str) -> tuple[str, ...]:
    """Where a resource's tag rows are kept in the transaction (``UnitOfWork.rows_seen``)."""
    return ("tags", account_id, kind, resource_id)


class Tags(Repository):
    def list(self, account_id: str, kind: ResourceKind, resource_id: str) -> tuple[Tag, ...]:
        # Sorted by key, code point by code point ("A" before "a"), as IAM's List*Tags return
        # them ("The returned list of tags is sorted by tag key", API reference; recorded against
        # AWS: LocalStack's tests/aws/services/iam/test_iam_policies.snapshot.json,
        # list-case-sensitive-tags). Sorted here, not by the database, whose collation may differ.
        rows = self._rows(account_id, kind, resource_id)
        return tuple(sorted((Tag(row[2], row[3]) for row in rows), key=lambda tag: tag.key))

    def list_many(
        self, account_id: str, kind: ResourceKind, resource_ids: Sequence[str]
    ) -> dict[str, tuple[Tag, ...]]:
        """:meth:`list` for many resources at once (a few queries for a page of a listing): every
        id of ``resource_ids`` is a key, with ``()`` when it has no tags."""
        self._session.flush()
        found: dict[str, list[Tag]] = {resource_id: [] for resource_id in resource_ids}
        for chunk in batches(resource_ids):
            rows = self._session.execute(
                select(TagRow.resource_id, TagRow.key, TagRow.value).where(
                    TagRow.account_id == account_id,
                    TagRow.resource_kind == kind,
                    TagRow.resource_id.in_(chunk),
                )
            )
            for resource_id, key, value in rows:
                found[resource_id].append(Tag(key, value))
        return {k: tuple(sorted(v, key=lambda tag: tag.key)) for k, v in found.items()}

    def count(self, account_id: str, kind: ResourceKind, resource_id: str) -> int:
        seen = self._uow.rows_seen.get(_seen_key(account_id, kind, resource_id))
        if seen is not None:
            return len(seen)
        return (
            self._session.scalar(
                select(func.count())
                .select_from(TagRow)
                .where(
                    TagRow.account_id == account_id,
                    TagRow.resource_kind == kind,
                    TagRow.resource_id == resource_id,
                )
            )
            or 0
        )

    def put(self, account_id: str, kind: ResourceKind, resource_id: str, tags: Mapping[str, str]) -> None:
        """Add tags, or replace the value (and the key's spelling) of those whose key exists.
        Prepared statements: no ORM objects to load, build or flush. The account's
        generation goes up only when a tag is added or changed: putting tags the resource already
        carries (a replayed TagUser) changes no decision, so it leaves every cache valid. The
        resource's tags are those read earlier in the transaction if nothing was written since
        (the authorization's aws:ResourceTag, the quota's count): one read per request."""
        wanted = {_fold(kind, key): (key, value) for key, value in tags.items()}
        if len(wanted) != len(tags):
            raise Conflict("duplicate tag keys")
        seen_key = _seen_key(account_id, kind, resource_id)
        rows: tuple[_Row, ...] | None = self._uow.writing(seen_key)
        if kind in CASE_SENSITIVE_KINDS:
            rows = self._heal(account_id, kind, resource_id, rows)
        where = {"account_id": account_id, "kind": kind, "resource_id": resource_id}
        if rows is None:
            rows = tuple(_ROWS.rows(self._session, where))
        existing = {row[1]: row for row in rows if row[1] in wanted}
        added: list[dict[str, object]] = []
        replaced: dict[int, _Row] = {}
        for key_lower, (key, value) in wanted.items():
            row = existing.get(key_lower)
            if row is None:
                added.append(
                    {
                        "account_id": account_id,
                        "resource_kind": kind,
                        "resource_id": resource_id,
                        "key": key,
                        "key_lower": key_lower,
                        "value": value,
                    }
                )
            elif (row[2], row[3]) != (key, value):
                self._uow.changed(account_id)
                # (its row read in this snapshot: a concurrent change to it fails the commit as a
                # race; on PostgreSQL it goes out with the next statement or the COMMIT)
                _REPLACE.run_deferred(self._session, {"row_id": row[0], "new_key": key, "new_value": value})
                replaced[row[0]] = (row[0], key_lower, key, value)
        if added:
            self._uow.changed(account_id)
            _INSERT.run(self._session, added)
            return  # the new rows' ids are not known: read again if asked
        self._uow.rows_seen[seen_key] = tuple(replaced.get(row[0], row) for row in rows) if replaced else rows

    def remove(self, account_id: str, kind: ResourceKind, resource_id: str, keys: Iterable[str]) -> None:
        """Remove the tags with these keys (case-insensitively, except for the case-sensitive
        kinds); absent keys are ignored, as in AWS."""
        seen_key = _seen_key(account_id, kind, resource_id)
        rows: tuple[_Row, ...] | None = self._uow.writing(seen_key)
        self._uow.changed(account_id)
        if kind in CASE_SENSITIVE_KINDS:
            rows = self._heal(account_id, kind, resource_id, rows)
        folded = [_fold(kind, k) for k in keys]
        self._session.execute(
            delete(TagRow).where(
                TagRow.account_id == account_id,
                TagRow.resource_kind == kind,
                TagRow.resource_id == resource_id,
                TagRow.key_lower.in_(folded),
            )
        )
        if rows is not None:
            gone = set(folded)
            self._uow.rows_seen[seen_key] = tuple(row for row in rows if row[1] not in gone)

    def _heal(
        self, account_id: str, kind: ResourceKind, resource_id: str, rows: tuple[_Row, ...] | None
    ) -> tuple[_Row, ...] | None:
        """Tags of a case-sensitive kind written before keys were compared exactly hold the
        lower-cased key in ``key_lower``: set it to the key (no clash is possible, since those
        keys were unique case-insensitively). `rows`: the resource's tags as read before, returned
        as the update leaves them; when they show none to heal, there is no update to run."""
        if rows is not None and all(row[1] == row[2] for row in rows):
            return rows
        self._session.execute(
            update(TagRow)
            .where(
                TagRow.account_id == account_id,
                TagRow.resource_kind == kind,
                TagRow.resource_id == resource_id,
                TagRow.key_lower != TagRow.key,
            )
            .values(key_lower=TagRow.key)
            .execution_options(synchronize_session=False)
        )
        if rows is None:
            return None
        return tuple(row if row[1] == row[2] else (row[0], row[2], row[2], row[3]) for row in rows)

    def delete_all(self, account_id: str, kind: ResourceKind, resource_id: str) -> None:
        """Remove every tag of a resource (when the resource is deleted)."""
        seen_key = _seen_key(account_id, kind, resource_id)
        self._uow.writing(seen_key)
        self._uow.changed(account_id)
        self._session.execute(
            delete(TagRow).where(
                TagRow.account_id == account_id,
                TagRow.resource_kind == kind,
                TagRow.resource_id == resource_id,
            )
        )
        self._uow.rows_seen[seen_key] = ()

    def split_found(
        self, account_id: str, kind: ResourceKind, rows: Sequence[tuple[Any, ...]], width: int
    ) -> tuple[Any, ...] | None:
        """The resource's row of a :class:`FindWithTags` read (its first ``width`` columns; None when
        there is none), its tags kept for this transaction as :meth:`_rows` keeps what it reads:
        the next :meth:`list` reads nothing. (Read in this transaction, after anything it wrote:
        they are what :data:`_ROWS` would read now.)"""
        found: tuple[Any, ...] | None = None
        tags: list[tuple[Any, ...]] = []
        for row in rows:
            if row[width] is None:
                found = row[:width]
            else:
                tags.append(row[width:])
        if found is not None:
            self._uow.rows_seen[_seen_key(account_id, kind, found[0])] = tuple(tags)
        return found

    def _rows(self, account_id: str, kind: ResourceKind, resource_id: str) -> tuple[_Row, ...]:
        """The resource's tags, read once per transaction while nothing is written
        (:attr:`iamd.store.unit.UnitOfWork.rows_seen`; this repository's writes keep them)."""
        seen = self._uow.rows_seen
        key = _seen_key(account_id, kind, resource_id)
        rows: tuple[_Row, ...] | None = seen.get(key)
        if rows is None:
            where = {"account_id": account_id, "kind": kind, "resource_id": resource_id}
            rows = seen[key] = tuple(_ROWS.rows(self._session, where))
        return rows
