"""Tags on any taggable resource: keys unique per resource, compared case-insensitively."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import bindparam, delete, func, select, update

from iamd.store.base import Repository, batches
from iamd.store.errors import Conflict
from iamd.store.prepared import Prepared, PreparedInsert, PreparedWrite
from iamd.store.records import ResourceKind, Tag
from iamd.store.schema import Tag as TagRow

# On the request path (resource tags for conditions): prebuilt, executed without the ORM.
_LIST = Prepared(
    select(TagRow.key, TagRow.value).where(
        TagRow.account_id == bindparam("account_id"),
        TagRow.resource_kind == bindparam("kind"),
        TagRow.resource_id == bindparam("resource_id"),
    )
)

_EXISTING = Prepared(
    select(TagRow.id, TagRow.key_lower, TagRow.key, TagRow.value).where(
        TagRow.account_id == bindparam("account_id"),
        TagRow.resource_kind == bindparam("kind"),
        TagRow.resource_id == bindparam("resource_id"),
    )
)
"""Every tag of a resource (at most 50: the quota), prebuilt: :meth:`Tags.put` picks those it
names (an expanding ``IN`` would be rendered again at every execution)."""
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


class Tags(Repository):
    def list(self, account_id: str, kind: ResourceKind, resource_id: str) -> tuple[Tag, ...]:
        rows = _LIST.rows(self._session, {"account_id": account_id, "kind": kind, "resource_id": resource_id})
        # Sorted by key, code point by code point ("A" before "a"), as IAM's List*Tags return
        # them ("The returned list of tags is sorted by tag key", API reference; recorded against
        # AWS: LocalStack's tests/aws/services/iam/test_iam_policies.snapshot.json,
        # list-case-sensitive-tags). Sorted here, not by the database, whose collation may differ.
        return tuple(sorted((Tag(key, value) for key, value in rows), key=lambda tag: tag.key))

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
        carries (a replayed TagUser) changes no decision, so it leaves every cache valid."""
        wanted = {_fold(kind, key): (key, value) for key, value in tags.items()}
        if len(wanted) != len(tags):
            raise Conflict("duplicate tag keys")
        self._uow.writable()
        if kind in CASE_SENSITIVE_KINDS:
            self._heal(account_id, kind, resource_id)
        where = {"account_id": account_id, "kind": kind, "resource_id": resource_id}
        existing = {row[1]: row for row in _EXISTING.rows(self._session, where) if row[1] in wanted}
        added: list[dict[str, object]] = []
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
                _REPLACE.run(self._session, {"row_id": row[0], "new_key": key, "new_value": value})
        if added:
            self._uow.changed(account_id)
            _INSERT.run(self._session, added)

    def remove(self, account_id: str, kind: ResourceKind, resource_id: str, keys: Iterable[str]) -> None:
        """Remove the tags with these keys (case-insensitively, except for the case-sensitive
        kinds); absent keys are ignored, as in AWS."""
        self._uow.changed(account_id)
        if kind in CASE_SENSITIVE_KINDS:
            self._heal(account_id, kind, resource_id)
        self._session.execute(
            delete(TagRow).where(
                TagRow.account_id == account_id,
                TagRow.resource_kind == kind,
                TagRow.resource_id == resource_id,
                TagRow.key_lower.in_([_fold(kind, k) for k in keys]),
            )
        )

    def _heal(self, account_id: str, kind: ResourceKind, resource_id: str) -> None:
        """Tags of a case-sensitive kind written before keys were compared exactly hold the
        lower-cased key in ``key_lower``: set it to the key (no clash is possible, since those
        keys were unique case-insensitively)."""
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

    def delete_all(self, account_id: str, kind: ResourceKind, resource_id: str) -> None:
        """Remove every tag of a resource (when the resource is deleted)."""
        self._uow.changed(account_id)
        self._session.execute(
            delete(TagRow).where(
                TagRow.account_id == account_id,
                TagRow.resource_kind == kind,
                TagRow.resource_id == resource_id,
            )
        )
