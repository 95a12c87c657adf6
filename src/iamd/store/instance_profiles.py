"""Instance profiles and the roles in them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, exists, func, select

from iamd.store.base import Repository, batches, found, refuse_if_any
from iamd.store.errors import AlreadyExists, NotFound
from iamd.store.paging import paginate, starts_with
from iamd.store.records import InstanceProfileRecord, Page, RoleRecord
from iamd.store.roles import role_records
from iamd.store.schema import InstanceProfile, InstanceProfileRole, Role

_ORDER = (InstanceProfile.name_lower,)


class InstanceProfiles(Repository):
    def create(
        self, account_id: str, *, profile_id: str, name: str, path: str, created_at: datetime
    ) -> InstanceProfileRecord:
        self._uow.changed(account_id)
        if self._row(account_id, name) is not None:
            raise AlreadyExists(f"instance profile {name} already exists")
        row = InstanceProfile(
            id=profile_id,
            account_id=account_id,
            name=name,
            name_lower=name.lower(),
            path=path,
            created_at=created_at,
        )
        self._session.add(row)
        self._session.flush()
        return self._records([row])[0]

    def find(self, account_id: str, name: str) -> InstanceProfileRecord | None:
        row = self._row(account_id, name)
        return None if row is None else self._records([row])[0]

    def get(self, account_id: str, name: str) -> InstanceProfileRecord:
        return found(self.find(account_id, name), f"instance profile {name}")

    def list(
        self, account_id: str, *, path_prefix: str = "/", marker: str | None = None, max_items: int = 100
    ) -> Page[InstanceProfileRecord]:
        stmt = select(InstanceProfile).where(InstanceProfile.account_id == account_id)
        if path_prefix != "/":
            stmt = stmt.where(starts_with(InstanceProfile.path, path_prefix))
        rows, next_marker = paginate(self._session, stmt, _ORDER, marker, max_items)
        return Page(self._records(rows), next_marker)

    def list_for_role(
        self, role_id: str, *, marker: str | None = None, max_items: int = 100
    ) -> Page[InstanceProfileRecord]:
        stmt = (
            select(InstanceProfile)
            .join(InstanceProfileRole, InstanceProfileRole.instance_profile_id == InstanceProfile.id)
            .where(InstanceProfileRole.role_id == role_id)
        )
        rows, next_marker = paginate(self._session, stmt, _ORDER, marker, max_items)
        return Page(self._records(rows), next_marker)

    def list_for_roles(self, role_ids: Sequence[str]) -> dict[str, tuple[InstanceProfileRecord, ...]]:
        """:meth:`list_for_role` for many roles at once (all of each one's profiles, in the same
        order); every id is a key. Most roles have none: one query finds which do."""
        found: dict[str, list[str]] = {rid: [] for rid in role_ids}
        for chunk in batches(role_ids):
            links = self._session.execute(
                select(InstanceProfileRole.role_id, InstanceProfileRole.instance_profile_id).where(
                    InstanceProfileRole.role_id.in_(chunk)
                )
            )
            for role_id, profile_id in links:
                found[role_id].append(profile_id)
        out: dict[str, tuple[InstanceProfileRecord, ...]] = dict.fromkeys(role_ids, ())
        for role_id, profile_ids in found.items():
            if profile_ids:
                out[role_id] = self.list_for_role(role_id, max_items=1000).items
        return out

    def count_roles(self, profile_id: str) -> int:
        return (
            self._session.scalar(
                select(func.count()).where(InstanceProfileRole.instance_profile_id == profile_id)
            )
            or 0
        )

    def add_role(self, profile_id: str, role_id: str) -> None:
        """Put a role in the profile (AWS allows one: the limit is the service's); AlreadyExists if there."""
        row = self._writable_row(profile_id)
        if self._session.get(InstanceProfileRole, (profile_id, role_id)) is not None:
            raise AlreadyExists("the role is already in the instance profile")
        self._session.add(
            InstanceProfileRole(instance_profile_id=profile_id, role_id=role_id, account_id=row.account_id)
        )
        self._session.flush()

    def remove_role(self, profile_id: str, role_id: str) -> None:
        self._writable_row(profile_id)
        link = self._session.get(InstanceProfileRole, (profile_id, role_id))
        if link is None:
            raise NotFound("the role is not in the instance profile")
        self._session.delete(link)
        self._session.flush()

    def delete(self, profile_id: str) -> None:
        """Delete a profile; Conflict while it holds a role."""
        row = self._writable_row(profile_id)
        refuse_if_any(
            self._session,
            f"instance profile {row.name}",
            {
                "a role": exists().where(InstanceProfileRole.instance_profile_id == profile_id),
            },
        )
        self._uow.tags.delete_all(row.account_id, "instance-profile", profile_id)
        self._session.execute(delete(InstanceProfile).where(InstanceProfile.id == profile_id))

    def _writable_row(self, profile_id: str) -> InstanceProfile:
        row = found(self._session.get(InstanceProfile, profile_id), f"instance profile {profile_id}")
        self._uow.changed(row.account_id)
        return row

    def _row(self, account_id: str, name: str) -> InstanceProfile | None:
        return self._session.scalar(
            select(InstanceProfile).where(
                InstanceProfile.account_id == account_id, InstanceProfile.name_lower == name.lower()
            )
        )

    def _records(self, rows: Sequence[InstanceProfile]) -> tuple[InstanceProfileRecord, ...]:
        """Records with their roles, loaded for all the profiles in one query."""
        links = self._session.execute(
            select(InstanceProfileRole.instance_profile_id, Role)
            .join(Role, Role.id == InstanceProfileRole.role_id)
            .where(InstanceProfileRole.instance_profile_id.in_([r.id for r in rows]))
            .order_by(Role.name_lower)
        ).all()
        roles: dict[str, list[RoleRecord]] = {}
        for (profile_id, _), role in zip(
            links, role_records(self._uow, [role for _, role in links]), strict=True
        ):
            roles.setdefault(profile_id, []).append(role)
        return tuple(
            InstanceProfileRecord(
                r.id, r.account_id, r.name, r.path, r.created_at, tuple(roles.get(r.id, ()))
            )
            for r in rows
        )
