"""IAM roles."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, bindparam, delete, exists, or_, select, update

from iamd.store.base import Repository, found, refuse_if_any
from iamd.store.errors import AlreadyExists
from iamd.store.paging import paginate_rows, starts_with
from iamd.store.records import Page, RoleRecord
from iamd.store.schema import InlinePolicy, InstanceProfileRole, PolicyAttachment, Role
from iamd.store.tags import FindWithTags

if TYPE_CHECKING:
    from iamd.store.unit import UnitOfWork

_ORDER = (Role.name_lower,)

_COLUMNS = (
    Role.id,
    Role.account_id,
    Role.name,
    Role.path,
    Role.created_at,
    Role.trust_policy,
    Role.description,
    Role.max_session_duration,
    Role.permissions_boundary_id,
    Role.last_used_at,
    Role.last_used_region,
    Role.name_lower,
)
"""A role's record's columns (and its sort key), read as plain rows for listings."""

_BY_NAME = select(*_COLUMNS).where(
    Role.account_id == bindparam("account_id"), Role.name_lower == bindparam("name")
)
_FIND = FindWithTags("role", _BY_NAME, Role.id)
"""A role by its name (and on PostgreSQL its tags: :class:`iamd.store.tags.FindWithTags`)."""


class Roles(Repository):
    def create(
        self,
        account_id: str,
        *,
        role_id: str,
        name: str,
        path: str,
        trust_policy: str,
        created_at: datetime,
        description: str | None = None,
        max_session_duration: int = 3600,
    ) -> RoleRecord:
        self._uow.changed(account_id)
        if self._row(account_id, name) is not None:
            raise AlreadyExists(f"role {name} already exists")
        row = Role(
            id=role_id,
            account_id=account_id,
            name=name,
            name_lower=name.lower(),
            path=path,
            created_at=created_at,
            trust_policy=trust_policy,
            description=description,
            max_session_duration=max_session_duration,
        )
        self._session.add(row)
        self._session.flush()
        return self._records([row])[0]

    def find(self, account_id: str, name: str) -> RoleRecord | None:
        """The role named `name` (case-insensitively). On the request path of most role
        operations: a prepared read, no ORM loading."""
        row = _FIND.row(self._uow, account_id, {"account_id": account_id, "name": name.lower()})
        if row is None:
            return None
        # _COLUMNS: the record's first eight fields, the boundary's id, the last use, a sort key.
        boundary = row[8]
        refs = self._uow.policies.refs([boundary]) if boundary else {}
        return RoleRecord(
            row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7],
            refs[boundary] if boundary else None, row[9], row[10],
        )  # fmt: skip

    def prefetch(self, account_id: str, name: str) -> None:
        """:meth:`find` of this role read ahead, in the round trip of the transaction's next
        statement, on PostgreSQL (AssumeRole: the role its request names, read with the caller's
        key); nothing otherwise. Never raises for a name that is not a role's."""
        _FIND.prefetch(self._uow, {"account_id": account_id, "name": name.lower()})

    def get(self, account_id: str, name: str) -> RoleRecord:
        return found(self.find(account_id, name), f"role {name}")

    def get_by_id(self, role_id: str) -> RoleRecord:
        return self._records([found(self._session.get(Role, role_id), f"role {role_id}")])[0]

    def list(
        self, account_id: str, *, path_prefix: str = "/", marker: str | None = None, max_items: int = 100
    ) -> Page[RoleRecord]:
        stmt = select(*_COLUMNS).where(Role.account_id == account_id)
        if path_prefix != "/":
            stmt = stmt.where(starts_with(Role.path, path_prefix))
        rows, next_marker = paginate_rows(self._session, stmt, _ORDER, marker, max_items)
        return Page(role_records(self._uow, rows), next_marker)

    def update(
        self,
        role_id: str,
        *,
        description: str | None = None,
        max_session_duration: int | None = None,
        trust_policy: str | None = None,
    ) -> RoleRecord:
        """Change what is given (UpdateRole, UpdateRoleDescription, UpdateAssumeRolePolicy).

        An empty `description` clears it.
        """
        row = self._writable_row(role_id)
        if description is not None:
            row.description = description or None
        if max_session_duration is not None:
            row.max_session_duration = max_session_duration
        if trust_policy is not None:
            row.trust_policy = trust_policy
        self._session.flush()
        return self._records([row])[0]

    def set_permissions_boundary(self, role_id: str, policy_id: str | None) -> None:
        self._writable_row(role_id).permissions_boundary_id = policy_id
        self._session.flush()

    def delete(self, role_id: str) -> None:
        """Delete a role; Conflict while it has policies or is in an instance profile."""
        row = self._writable_row(role_id)
        refuse_if_any(
            self._session,
            f"role {row.name}",
            {
                "inline policies": exists().where(InlinePolicy.role_id == role_id),
                "attached policies": exists().where(PolicyAttachment.role_id == role_id),
                "instance profiles": exists().where(InstanceProfileRole.role_id == role_id),
            },
        )
        self._uow.tags.delete_all(row.account_id, "role", role_id)
        self._session.execute(delete(Role).where(Role.id == role_id))

    def record_use(
        self, role_id: str, when: datetime, region: str, *, resolution: timedelta = timedelta(0)
    ) -> None:
        """Note that the role was assumed (RoleLastUsed). Skipped when the stored time is less than
        `resolution` older, to spare writes; no generation bump."""
        self._uow.writable()
        self._session.execute(
            update(Role)
            .where(
                Role.id == role_id, or_(Role.last_used_at.is_(None), Role.last_used_at <= when - resolution)
            )
            .values(last_used_at=when, last_used_region=region)
        )

    def _writable_row(self, role_id: str) -> Role:
        row = found(self._session.get(Role, role_id), f"role {role_id}")
        self._uow.changed(row.account_id)
        return row

    def _row(self, account_id: str, name: str) -> Role | None:
        return self._session.scalar(
            select(Role).where(Role.account_id == account_id, Role.name_lower == name.lower())
        )

    def _records(self, rows: Sequence[Role]) -> tuple[RoleRecord, ...]:
        return role_records(self._uow, rows)


def role_records(uow: UnitOfWork, rows: Sequence[Role] | Sequence[Row[Any]]) -> tuple[RoleRecord, ...]:
    """Records for role rows (ORM objects, or rows of ``_COLUMNS``), with their permissions
    boundaries named (one query for all)."""
    refs = uow.policies.refs(r.permissions_boundary_id for r in rows if r.permissions_boundary_id)
    return tuple(
        RoleRecord(
            r.id,
            r.account_id,
            r.name,
            r.path,
            r.created_at,
            r.trust_policy,
            r.description,
            r.max_session_duration,
            refs[r.permissions_boundary_id] if r.permissions_boundary_id else None,
            r.last_used_at,
            r.last_used_region,
        )
        for r in rows
    )
