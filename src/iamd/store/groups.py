"""IAM groups and their members."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, exists, func, select

from iamd.store.base import Repository, batches, found, refuse_if_any
from iamd.store.errors import AlreadyExists, NotFound
from iamd.store.paging import paginate, starts_with
from iamd.store.records import GroupRecord, Page, UserRecord
from iamd.store.schema import Group, GroupMember, InlinePolicy, PolicyAttachment, User
from iamd.store.users import user_records

_ORDER = (Group.name_lower,)


def _record(row: Group) -> GroupRecord:
    return GroupRecord(row.id, row.account_id, row.name, row.path, row.created_at)


class Groups(Repository):
    def create(
        self, account_id: str, *, group_id: str, name: str, path: str, created_at: datetime
    ) -> GroupRecord:
        self._uow.changed(account_id)
        if self._row(account_id, name) is not None:
            raise AlreadyExists(f"group {name} already exists")
        row = Group(
            id=group_id,
            account_id=account_id,
            name=name,
            name_lower=name.lower(),
            path=path,
            created_at=created_at,
        )
        self._session.add(row)
        self._session.flush()
        return _record(row)

    def find(self, account_id: str, name: str) -> GroupRecord | None:
        row = self._row(account_id, name)
        return None if row is None else _record(row)

    def get(self, account_id: str, name: str) -> GroupRecord:
        return found(self.find(account_id, name), f"group {name}")

    def get_by_id(self, group_id: str) -> GroupRecord:
        return _record(found(self._session.get(Group, group_id), f"group {group_id}"))

    def list(
        self, account_id: str, *, path_prefix: str = "/", marker: str | None = None, max_items: int = 100
    ) -> Page[GroupRecord]:
        stmt = select(Group).where(Group.account_id == account_id)
        if path_prefix != "/":
            stmt = stmt.where(starts_with(Group.path, path_prefix))
        rows, next_marker = paginate(self._session, stmt, _ORDER, marker, max_items)
        return Page(tuple(_record(r) for r in rows), next_marker)

    def list_for_user(
        self, user_id: str, *, marker: str | None = None, max_items: int = 100
    ) -> Page[GroupRecord]:
        """The groups a user belongs to (ListGroupsForUser)."""
        stmt = (
            select(Group)
            .join(GroupMember, GroupMember.group_id == Group.id)
            .where(GroupMember.user_id == user_id)
        )
        rows, next_marker = paginate(self._session, stmt, _ORDER, marker, max_items)
        return Page(tuple(_record(r) for r in rows), next_marker)

    def names_for_users(self, user_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """The names of the groups of many users at once, each user's in the order of
        :meth:`list_for_user`; every id is a key."""
        found: dict[str, list[str]] = {uid: [] for uid in user_ids}
        for chunk in batches(user_ids):
            rows = self._session.execute(
                select(GroupMember.user_id, Group.name)
                .join(Group, GroupMember.group_id == Group.id)
                .where(GroupMember.user_id.in_(chunk))
                .order_by(*_ORDER)  # the database's order, as list_for_user has it
            )
            for user_id, name in rows:
                found[user_id].append(name)
        return {uid: tuple(v) for uid, v in found.items()}

    def count_for_user(self, user_id: str) -> int:
        return (
            self._session.scalar(
                select(func.count()).select_from(GroupMember).where(GroupMember.user_id == user_id)
            )
            or 0
        )

    def members(self, group_id: str, *, marker: str | None = None, max_items: int = 100) -> Page[UserRecord]:
        """The users in a group (GetGroup)."""
        stmt = (
            select(User)
            .join(GroupMember, GroupMember.user_id == User.id)
            .where(GroupMember.group_id == group_id)
        )
        rows, next_marker = paginate(self._session, stmt, (User.name_lower,), marker, max_items)
        return Page(user_records(self._uow, rows), next_marker)

    def update(self, group_id: str, *, name: str | None = None, path: str | None = None) -> GroupRecord:
        row = found(self._session.get(Group, group_id), f"group {group_id}")
        self._uow.changed(row.account_id)
        if name is not None:
            other = self._row(row.account_id, name)
            if other is not None and other.id != group_id:
                raise AlreadyExists(f"group {name} already exists")
            row.name, row.name_lower = name, name.lower()
        if path is not None:
            row.path = path
        self._session.flush()
        return _record(row)

    def delete(self, group_id: str) -> None:
        """Delete a group; Conflict while it has members or policies."""
        row = found(self._session.get(Group, group_id), f"group {group_id}")
        self._uow.changed(row.account_id)
        refuse_if_any(
            self._session,
            f"group {row.name}",
            {
                "members": exists().where(GroupMember.group_id == group_id),
                "inline policies": exists().where(InlinePolicy.group_id == group_id),
                "attached policies": exists().where(PolicyAttachment.group_id == group_id),
            },
        )
        self._session.execute(delete(Group).where(Group.id == group_id))

    def add_member(self, group_id: str, user_id: str) -> bool:
        """Add a user to a group; False (and no change) if already a member."""
        row = found(self._session.get(Group, group_id), f"group {group_id}")
        self._uow.changed(row.account_id)
        if self._session.get(GroupMember, (group_id, user_id)) is not None:
            return False
        self._session.add(GroupMember(group_id=group_id, user_id=user_id, account_id=row.account_id))
        self._session.flush()
        return True

    def remove_member(self, group_id: str, user_id: str) -> None:
        member = self._session.get(GroupMember, (group_id, user_id))
        if member is None:
            raise NotFound(f"user {user_id} is not in group {group_id}")
        self._uow.changed(member.account_id)
        self._session.delete(member)
        self._session.flush()

    def _row(self, account_id: str, name: str) -> Group | None:
        return self._session.scalar(
            select(Group).where(Group.account_id == account_id, Group.name_lower == name.lower())
        )
