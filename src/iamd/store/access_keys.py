"""Long-term access keys. The secret is stored encrypted under the KEK, bound to the key's id."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import bindparam, or_, select, update

from iamd.store.base import Repository, found
from iamd.store.prepared import Prepared
from iamd.store.records import AccessKeyRecord, SigningKey
from iamd.store.schema import AccessKey, User

PURPOSE = "access-key-secret"


_WITH_USER = Prepared(
    select(
        AccessKey.id,
        AccessKey.account_id,
        AccessKey.user_id,
        AccessKey.secret_ciphertext,
        AccessKey.status,
        AccessKey.created_at,
        AccessKey.last_used_at,
        AccessKey.last_used_service,
        AccessKey.last_used_region,
        User.name.label("user_name"),
    )
    .outerjoin(User, User.id == AccessKey.user_id)
    .where(AccessKey.id == bindparam("key_id"))
)
"""A key and its user's name, as a plain row: on the path of every request signed with a key the
process has not verified since its account last changed (a prepared read, no ORM)."""


class _KeyRow(NamedTuple):
    """A row of ``_WITH_USER``, by the names of its columns."""

    id: str
    account_id: str
    user_id: str | None
    secret_ciphertext: bytes
    status: str
    created_at: datetime
    last_used_at: datetime | None
    last_used_service: str | None
    last_used_region: str | None
    user_name: str | None


def _record(row: AccessKey | _KeyRow, user_name: str | None) -> AccessKeyRecord:
    return AccessKeyRecord(
        row.id,
        row.account_id,
        row.user_id,
        user_name,
        row.status,
        row.created_at,
        row.last_used_at,
        row.last_used_service,
        row.last_used_region,
    )


class AccessKeys(Repository):
    def create(
        self,
        account_id: str,
        *,
        key_id: str,
        user_id: str | None,
        secret_access_key: str,
        created_at: datetime,
        status: str = "Active",
    ) -> AccessKeyRecord:
        """Store a new key for a user (None: the account's root user); the 2-key limit is the service's."""
        self._uow.changed(account_id)
        ciphertext = self._uow.kek.encrypt(secret_access_key.encode("utf-8"), purpose=PURPOSE, row_id=key_id)
        row = AccessKey(
            id=key_id,
            account_id=account_id,
            user_id=user_id,
            secret_ciphertext=ciphertext,
            status=status,
            created_at=created_at,
        )
        self._session.add(row)
        self._session.flush()
        return self._one(key_id)

    def find(self, key_id: str) -> AccessKeyRecord | None:
        row = self._with_user(key_id)
        return None if row is None else _record(row, row.user_name)

    def get(self, key_id: str) -> AccessKeyRecord:
        return self._one(key_id)

    def list_for(self, account_id: str, user_id: str | None) -> tuple[AccessKeyRecord, ...]:
        """A user's keys (None: the root user's), oldest first."""
        owner = AccessKey.user_id.is_(None) if user_id is None else AccessKey.user_id == user_id
        rows = self._session.execute(
            select(AccessKey, User.name)
            .outerjoin(User, User.id == AccessKey.user_id)
            .where(AccessKey.account_id == account_id, owner)
            .order_by(AccessKey.created_at, AccessKey.id)
        )
        return tuple(_record(row, name) for row, name in rows)

    def signing_key(self, key_id: str) -> SigningKey | None:
        """The key and its decrypted secret, for SigV4 verification; None if there is no such key."""
        row = self._with_user(key_id)
        if row is None:
            return None
        secret = self._uow.kek.decrypt(row.secret_ciphertext, purpose=PURPOSE, row_id=row.id)
        return SigningKey(_record(row, row.user_name), secret.decode("utf-8"))

    def set_status(self, key_id: str, status: str) -> None:
        row = self._row(key_id)
        self._uow.changed(row.account_id)
        row.status = status
        self._session.flush()

    def delete(self, key_id: str) -> None:
        row = self._row(key_id)
        self._uow.changed(row.account_id)
        self._session.delete(row)
        self._session.flush()

    def record_use(
        self,
        key_id: str,
        when: datetime,
        service: str,
        region: str | None,
        *,
        resolution: timedelta = timedelta(0),
    ) -> None:
        """Note a use of the key (GetAccessKeyLastUsed). Skipped when the stored time is less than
        `resolution` older, to spare writes; no generation bump."""
        self._uow.writable()
        self._session.execute(
            update(AccessKey)
            .where(
                AccessKey.id == key_id,
                or_(AccessKey.last_used_at.is_(None), AccessKey.last_used_at <= when - resolution),
            )
            .values(last_used_at=when, last_used_service=service, last_used_region=region)
        )

    def _with_user(self, key_id: str) -> _KeyRow | None:
        rows = _WITH_USER.rows(self._session, {"key_id": key_id})
        return _KeyRow._make(rows[0]) if rows else None

    def _row(self, key_id: str) -> AccessKey:
        return found(self._session.get(AccessKey, key_id), f"access key {key_id}")

    def _one(self, key_id: str) -> AccessKeyRecord:
        return found(self.find(key_id), f"access key {key_id}")
