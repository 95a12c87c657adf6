"""Account settings by name: plain values, secrets encrypted under the KEK, re-keying."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from iamd.secrets import Kek
from iamd.secrets.kek import DecryptionError
from iamd.store import Store
from iamd.store.schema import AccountSetting

ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_values_by_name_and_prefix(store: Store) -> None:
    with store.transaction() as uow:
        settings = uow.account_settings
        assert settings.get(ACCOUNT, "property:A/b") is None
        settings.put(ACCOUNT, "property:A/b", "1", now=NOW)
        settings.put_many(ACCOUNT, {"property:A/b": "2", "property:C_d/e": "3", "other": "x"}, now=NOW)
        settings.put(OTHER_ACCOUNT, "property:A/b", "elsewhere", now=NOW)
    with store.transaction(readonly=True) as uow:
        assert uow.account_settings.get(ACCOUNT, "property:A/b") == "2"
        assert uow.account_settings.list(ACCOUNT, "property:") == {"property:A/b": "2", "property:C_d/e": "3"}
        assert uow.account_settings.list(ACCOUNT, "property%") == {}  # the prefix is literal
    with store.transaction() as uow:
        uow.account_settings.delete(ACCOUNT, "other")
        assert uow.account_settings.get(ACCOUNT, "other") is None


def test_secrets_are_stored_encrypted_and_rekeyed(store: Store) -> None:
    old, new = secrets.token_bytes(32), secrets.token_bytes(32)
    store.kek = Kek([old])
    with store.transaction() as uow:
        uow.account_settings.put_secret(ACCOUNT, "secret:key", b"private bytes", now=NOW)
        with pytest.raises(ValueError):
            uow.account_settings.put_secret(ACCOUNT, "not-secret", b"x", now=NOW)
        stored = uow.session.scalar(select(AccountSetting.value).where(AccountSetting.name == "secret:key"))
        assert stored is not None and b"private" not in stored.encode()
        # Bound to its account and name: copied elsewhere, it does not decrypt.
        uow.account_settings.put(OTHER_ACCOUNT, "secret:key", stored, now=NOW)
        with pytest.raises(DecryptionError):
            uow.account_settings.get_secret(OTHER_ACCOUNT, "secret:key")
        uow.account_settings.delete(OTHER_ACCOUNT, "secret:key")
    store.kek = Kek([new, old])
    with store.transaction() as uow:
        assert uow.rekey.reencrypt_all() == 1
        assert uow.rekey.reencrypt_all() == 0
    store.kek = Kek([new])
    with store.transaction(readonly=True) as uow:
        assert uow.account_settings.get_secret(ACCOUNT, "secret:key") == b"private bytes"
        assert uow.account_settings.get_secret(ACCOUNT, "secret:none") is None
