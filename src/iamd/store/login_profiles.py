"""Console passwords of IAM users (argon2id hashes, made by iamd.secrets.passwords).

Password changes do not change authorization decisions: they do not bump the generation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import delete, select

from iamd.store.base import Repository, found
from iamd.store.errors import AlreadyExists
from iamd.store.records import LoginProfileRecord
from iamd.store.schema import LoginProfile, PasswordHistory, User

HISTORY_LIMIT: Final = 24  # the largest PasswordReusePrevention AWS allows


def _record(row: LoginProfile) -> LoginProfileRecord:
    return LoginProfileRecord(
        row.user_id, row.password_hash, row.password_reset_required, row.created_at, row.password_changed_at
    )


class LoginProfiles(Repository):
    def create(
        self, user_id: str, *, password_hash: str, reset_required: bool, created_at: datetime
    ) -> LoginProfileRecord:
        self._uow.writable()
        user = found(self._session.get(User, user_id), f"user {user_id}")
        if self._session.get(LoginProfile, user_id) is not None:
            raise AlreadyExists(f"user {user.name} already has a login profile")
        row = LoginProfile(
            user_id=user_id,
            account_id=user.account_id,
            password_hash=password_hash,
            password_reset_required=reset_required,
            created_at=created_at,
            password_changed_at=created_at,
        )
        self._session.add(row)
        self._session.flush()
        return _record(row)

    def find(self, user_id: str) -> LoginProfileRecord | None:
        row = self._session.get(LoginProfile, user_id)
        return None if row is None else _record(row)

    def get(self, user_id: str) -> LoginProfileRecord:
        return found(self.find(user_id), f"login profile of {user_id}")

    def update(
        self,
        user_id: str,
        *,
        password_hash: str | None = None,
        reset_required: bool | None = None,
        changed_at: datetime | None = None,
    ) -> LoginProfileRecord:
        """Change the password (the old hash goes to the history) and/or the reset flag."""
        self._uow.writable()
        row = found(self._session.get(LoginProfile, user_id), f"login profile of {user_id}")
        if password_hash is not None:
            if changed_at is None:
                raise ValueError("changed_at is required with a new password")
            self._session.add(
                PasswordHistory(
                    account_id=row.account_id,
                    user_id=user_id,
                    password_hash=row.password_hash,
                    created_at=row.password_changed_at,
                )
            )
            row.password_hash, row.password_changed_at = password_hash, changed_at
            self._session.flush()
            self._trim_history(user_id)
        if reset_required is not None:
            row.password_reset_required = reset_required
        self._session.flush()
        return _record(row)

    def delete(self, user_id: str) -> None:
        self._uow.writable()
        row = found(self._session.get(LoginProfile, user_id), f"login profile of {user_id}")
        self._session.delete(row)
        self._session.flush()

    def previous_hashes(self, user_id: str, limit: int) -> tuple[str, ...]:
        """Hashes of the user's earlier passwords, newest first (the current one is not included)."""
        return tuple(
            self._session.scalars(
                select(PasswordHistory.password_hash)
                .where(PasswordHistory.user_id == user_id)
                .order_by(PasswordHistory.created_at.desc(), PasswordHistory.id.desc())
                .limit(limit)
            )
        )

    def _trim_history(self, user_id: str) -> None:
        keep = (
            select(PasswordHistory.id)
            .where(PasswordHistory.user_id == user_id)
            .order_by(PasswordHistory.created_at.desc(), PasswordHistory.id.desc())
            .limit(HISTORY_LIMIT)
        )
        self._session.execute(
            delete(PasswordHistory).where(PasswordHistory.user_id == user_id, PasswordHistory.id.not_in(keep))
        )
