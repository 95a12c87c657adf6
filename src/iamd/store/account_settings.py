"""Account-wide settings by name (table ``account_settings``): the STS global endpoint token
version, account properties (``RoleManager/...``), outbound web identity federation and its signing
keys. A value is text; a secret value (a private key) is stored encrypted under the KEK, bound to
its account and name."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Final

from sqlalchemy import delete, select

from iamd.store.base import Repository
from iamd.store.schema import AccountSetting

PURPOSE: Final = "account-setting"
SECRET_PREFIX: Final = "secret:"
"""Names of encrypted settings start with this (so that re-keying finds them)."""


def _row_id(account_id: str, name: str) -> str:
    return f"{account_id}/{name}"


class AccountSettings(Repository):
    def get(self, account_id: str, name: str) -> str | None:
        row = self._session.get(AccountSetting, (account_id, name))
        return None if row is None else row.value

    def list(self, account_id: str, prefix: str = "") -> dict[str, str]:
        """The account's settings whose name starts with ``prefix``, by name."""
        query = select(AccountSetting.name, AccountSetting.value).where(
            AccountSetting.account_id == account_id
        )
        if prefix:
            query = query.where(AccountSetting.name.startswith(prefix, autoescape=True))
        return {name: value for name, value in self._session.execute(query.order_by(AccountSetting.name))}

    def put(self, account_id: str, name: str, value: str, *, now: datetime) -> None:
        self._uow.writable()
        row = self._session.get(AccountSetting, (account_id, name))
        if row is None:
            self._session.add(AccountSetting(account_id=account_id, name=name, value=value, updated_at=now))
        else:
            row.value, row.updated_at = value, now
        self._session.flush()

    def put_many(self, account_id: str, values: dict[str, str], *, now: datetime) -> None:
        for name, value in values.items():
            self.put(account_id, name, value, now=now)

    def delete(self, account_id: str, name: str) -> None:
        self._uow.writable()
        self._session.execute(
            delete(AccountSetting).where(AccountSetting.account_id == account_id, AccountSetting.name == name)
        )

    def put_secret(self, account_id: str, name: str, secret: bytes, *, now: datetime) -> None:
        """Store ``secret`` encrypted under the KEK (bound to this account and name, which must
        start with ``secret:``)."""
        if not name.startswith(SECRET_PREFIX):
            raise ValueError(f"a secret setting's name starts with {SECRET_PREFIX!r}: {name!r}")
        ciphertext = self._uow.kek.encrypt(secret, purpose=PURPOSE, row_id=_row_id(account_id, name))
        self.put(account_id, name, base64.b64encode(ciphertext).decode("ascii"), now=now)

    def get_secret(self, account_id: str, name: str) -> bytes | None:
        """The secret stored by :meth:`put_secret`, decrypted; None if there is none."""
        value = self.get(account_id, name)
        if value is None:
            return None
        return self._uow.kek.decrypt(
            base64.b64decode(value), purpose=PURPOSE, row_id=_row_id(account_id, name)
        )

    def reencrypt_secrets(self) -> int:
        """Re-encrypt the secret settings that are not under the KEK's current key; how many were."""
        self._uow.writable()
        kek, count = self._uow.kek, 0
        query = select(AccountSetting).where(AccountSetting.name.startswith(SECRET_PREFIX, autoescape=True))
        for row in self._session.scalars(query).all():
            blob = base64.b64decode(row.value)
            if kek.needs_reencrypt(blob):
                row_id = _row_id(row.account_id, row.name)
                plaintext = kek.decrypt(blob, purpose=PURPOSE, row_id=row_id)
                row.value = base64.b64encode(kek.encrypt(plaintext, purpose=PURPOSE, row_id=row_id)).decode()
                count += 1
        self._session.flush()
        return count
