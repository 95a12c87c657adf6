"""IAM users."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, bindparam, delete, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from iamd.store.base import Repository, found, refuse_if_any, translate
from iamd.store.errors import AlreadyExists
from iamd.store.paging import MAX_ITEMS_LIMIT, decode_marker, encode_marker
from iamd.store.prepared import Prepared, PreparedInsert
from iamd.store.records import Page, UserRecord
from iamd.store.schema import (
    AccessKey,
    GroupMember,
    InlinePolicy,
    LoginProfile,
    MfaDevice,
    PolicyAttachment,
    ServiceCredential,
    SigningCertificate,
    SshPublicKey,
    User,
)
from iamd.store.tags import FindWithTags

if TYPE_CHECKING:
    from iamd.store.unit import UnitOfWork

_ORDER = (User.name_lower,)


_COLUMNS = (
    User.id,
    User.account_id,
    User.name,
    User.path,
    User.created_at,
    User.password_last_used,
    User.permissions_boundary_id,
    User.name_lower,
)
"""A user's record's columns (and its sort key), read as plain rows: no ORM objects to build."""

_BY_NAME = select(*_COLUMNS).where(
    User.account_id == bindparam("account_id"), User.name_lower == bindparam("name")
)
_FIND = FindWithTags("user", _BY_NAME, User.id)
"""A user by its name (and on PostgreSQL its tags: :class:`iamd.store.tags.FindWithTags`)."""
_BY_ID = Prepared(select(*_COLUMNS).where(User.id == bindparam("user_id")))
_INSERT = PreparedInsert(
    User.__table__,  # type: ignore[arg-type]
    ("id", "account_id", "name", "name_lower", "path", "created_at", "generation"),
)
"""A new user's row (its own generation starts at 0: nothing is cached about a new id)."""
_COUNT_OF = select(func.count()).select_from(User).where(User.account_id == bindparam("account_id"))
_COUNT = Prepared(_COUNT_OF)
_TAKEN = Prepared(
    select(
        select(User.id)
        .where(User.account_id == bindparam("account_id"), User.name_lower == bindparam("name"))
        .scalar_subquery(),
        _COUNT_OF.scalar_subquery(),
    )
)
"""The id of the user of a name (NULL for none) and the account's count of users: one row."""


def _listing(prefixed: bool, after: bool) -> Prepared:
    """A page of an account's users by name (ListUsers), from a marker or not, under a path
    prefix (compared case-sensitively on every backend, as ``paging.starts_with``) or not."""
    statement = select(*_COLUMNS).where(User.account_id == bindparam("account_id"))
    if prefixed:
        statement = statement.where(
            func.substr(User.path, 1, bindparam("prefix_length")) == bindparam("prefix")
        )
    if after:
        statement = statement.where(User.name_lower > bindparam("after"))
    return Prepared(statement.order_by(*_ORDER).limit(bindparam("limit")))


_LISTINGS = {
    (prefixed, after): _listing(prefixed, after) for prefixed in (False, True) for after in (False, True)
}


class Users(Repository):
    def create(
        self, account_id: str, *, user_id: str, name: str, path: str, created_at: datetime
    ) -> UserRecord:
        """CreateUser's row: a prepared insert (no ORM object to build and flush). A user of that
        name (any case) already there is refused by the table's unique constraint, as
        :class:`AlreadyExists` (the transaction is then unusable: CreateUser looks first)."""
        self._uow.changed(account_id)
        try:
            _INSERT.run(
                self._session,
                [
                    {
                        "id": user_id,
                        "account_id": account_id,
                        "name": name,
                        "name_lower": name.lower(),
                        "path": path,
                        "created_at": created_at,
                        "generation": 0,
                    }
                ],
            )
        except IntegrityError as exc:
            if isinstance(translate(exc), AlreadyExists):
                raise AlreadyExists(f"user {name} already exists") from exc
            raise
        return UserRecord(user_id, account_id, name, path, created_at, None, None)

    def count(self, account_id: str) -> int:
        """How many users the account has (CreateUser's quota)."""
        return int(_COUNT.rows(self._session, {"account_id": account_id})[0][0])

    def taken(self, account_id: str, name: str) -> tuple[bool, int]:
        """Whether a user of this name (case-insensitively) exists, and how many users the account
        has: CreateUser's two checks in one statement (on PostgreSQL, one round trip: a writer
        that queues for its account holds the queue through each)."""
        ((user_id, count),) = _TAKEN.rows(self._session, {"account_id": account_id, "name": name.lower()})
        return user_id is not None, int(count)

    def prefetch(self, account_id: str, name: str) -> None:
        """:meth:`find` of this user read ahead, in the round trip of the transaction's next
        statement, on PostgreSQL (:meth:`iamd.store.tags.FindWithTags.prefetch`); nothing
        otherwise. Never raises for a name that is not a user's."""
        _FIND.prefetch(self._uow, {"account_id": account_id, "name": name.lower()})

    def find(self, account_id: str, name: str) -> UserRecord | None:
        """The user named `name` (case-insensitively). On the request path of most user
        operations: a prepared read, no ORM loading."""
        found = _FIND.row(self._uow, account_id, {"account_id": account_id, "name": name.lower()})
        return self._record(found) if found is not None else None

    def _record(self, row: tuple[Any, ...]) -> UserRecord:
        """The record of a row of ``_COLUMNS``, its permissions boundary named."""
        user_id, account, user_name, path, created_at, password_last_used, boundary, _ = row
        refs = self._uow.policies.refs([boundary]) if boundary else {}
        return UserRecord(
            user_id,
            account,
            user_name,
            path,
            created_at,
            password_last_used,
            refs[boundary] if boundary else None,
        )

    def get(self, account_id: str, name: str) -> UserRecord:
        return found(self.find(account_id, name), f"user {name}")

    def get_by_id(self, user_id: str) -> UserRecord:
        rows = _BY_ID.rows(self._session, {"user_id": user_id})
        return self._record(found(rows[0] if rows else None, f"user {user_id}"))

    def list(
        self, account_id: str, *, path_prefix: str = "/", marker: str | None = None, max_items: int = 100
    ) -> Page[UserRecord]:
        """A page of the account's users, sorted by name (case-insensitively), after ``marker``.
        A prepared read (keyset pagination, as ``paging.paginate_rows``): ListUsers pages are on
        the request path of tools that list users again and again."""
        if not 1 <= max_items <= MAX_ITEMS_LIMIT:
            raise ValueError(f"max_items must be between 1 and {MAX_ITEMS_LIMIT}")
        params: dict[str, object] = {"account_id": account_id, "limit": max_items + 1}
        if path_prefix != "/":
            params["prefix"], params["prefix_length"] = path_prefix, len(path_prefix)
        if marker is not None:
            params["after"] = decode_marker(marker, len(_ORDER))[0]
        rows = _LISTINGS[path_prefix != "/", marker is not None].rows(self._session, params)
        next_marker = None
        if len(rows) > max_items:
            rows = rows[:max_items]
            next_marker = encode_marker([rows[-1][-1]])  # (name_lower: the last column)
        refs = self._uow.policies.refs(row[6] for row in rows if row[6])
        return Page(
            tuple(
                UserRecord(
                    user_id, account, name, path, created, password_used, refs[boundary] if boundary else None
                )
                for user_id, account, name, path, created, password_used, boundary, _ in rows
            ),
            next_marker,
        )

    def update(self, user_id: str, *, name: str | None = None, path: str | None = None) -> UserRecord:
        """Rename and/or move a user (UpdateUser). Its id, and so its tags and keys, stay."""
        row = found(self._session.get(User, user_id), f"user {user_id}")
        self._uow.changed(row.account_id)
        if name is not None:
            other = self._row(row.account_id, name)
            if other is not None and other.id != user_id:
                raise AlreadyExists(f"user {name} already exists")
            row.name, row.name_lower = name, name.lower()
        if path is not None:
            row.path = path
        self._session.flush()
        return self._records([row])[0]

    def delete(self, user_id: str) -> None:
        """Delete a user; Conflict while it still has credentials, policies or group memberships."""
        row = found(self._session.get(User, user_id), f"user {user_id}")
        self._uow.changed(row.account_id)
        refuse_if_any(
            self._session,
            f"user {row.name}",
            {
                "a login profile": exists().where(LoginProfile.user_id == user_id),
                "access keys": exists().where(AccessKey.user_id == user_id),
                "signing certificates": exists().where(SigningCertificate.user_id == user_id),
                "SSH public keys": exists().where(SshPublicKey.user_id == user_id),
                "service-specific credentials": exists().where(ServiceCredential.user_id == user_id),
                "MFA devices": exists().where(MfaDevice.user_id == user_id),
                "inline policies": exists().where(InlinePolicy.user_id == user_id),
                "attached policies": exists().where(PolicyAttachment.user_id == user_id),
                "group memberships": exists().where(GroupMember.user_id == user_id),
            },
        )
        self._uow.tags.delete_all(row.account_id, "user", user_id)
        self._session.execute(delete(User).where(User.id == user_id))

    def set_permissions_boundary(self, user_id: str, policy_id: str | None) -> None:
        row = found(self._session.get(User, user_id), f"user {user_id}")
        self._uow.changed(row.account_id)
        row.permissions_boundary_id = policy_id
        self._session.flush()

    def record_password_use(self, user_id: str, when: datetime) -> None:
        """Note a sign-in (PasswordLastUsed); not an authorization change, so no generation bump."""
        self._uow.writable()
        self._session.execute(
            update(User)
            .where(User.id == user_id, or_(User.password_last_used.is_(None), User.password_last_used < when))
            .values(password_last_used=when)
        )

    def _row(self, account_id: str, name: str) -> User | None:
        return self._session.scalar(
            select(User).where(User.account_id == account_id, User.name_lower == name.lower())
        )

    def _records(self, rows: Sequence[User]) -> tuple[UserRecord, ...]:
        return user_records(self._uow, rows)


def user_records(uow: UnitOfWork, rows: Sequence[User] | Sequence[Row[Any]]) -> tuple[UserRecord, ...]:
    """Records for user rows (ORM objects, or rows of ``_COLUMNS``), with their permissions
    boundaries named (one query for all)."""
    refs = uow.policies.refs(r.permissions_boundary_id for r in rows if r.permissions_boundary_id)
    return tuple(
        UserRecord(
            r.id,
            r.account_id,
            r.name,
            r.path,
            r.created_at,
            r.password_last_used,
            refs[r.permissions_boundary_id] if r.permissions_boundary_id else None,
        )
        for r in rows
    )
