"""Credentials: access keys, passwords, MFA devices, certificates, SSH keys, service credentials.

Every secret the store keeps must be encrypted at rest: the tests read the raw columns.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from iamd.secrets import DecryptionError, Kek, SeededIds
from iamd.store import AlreadyExists, Conflict, NotFound, Store, StoreError, UnitOfWork, open_store

ACCOUNT = "111122223333"  # created by the store fixture (conftest.py)
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
Raw = Callable[..., object]


def _user(uow: UnitOfWork, ids: SeededIds, name: str = "alice") -> str:
    return uow.users.create(ACCOUNT, user_id=ids.user_id(), name=name, path="/", created_at=NOW).id


def _assert_encrypted(raw: object, secret: str) -> None:
    assert isinstance(raw, bytes | memoryview)
    blob = bytes(raw)
    assert secret.encode() not in blob
    assert blob[0] == 1  # the KEK's format version


# -- access keys ----------------------------------------------------------------------------------


def test_access_key_secret_is_encrypted_at_rest(store: Store, ids: SeededIds, raw: Raw) -> None:
    secret = ids.secret_access_key()
    with store.transaction() as uow:
        key = uow.access_keys.create(
            ACCOUNT,
            key_id=ids.access_key_id(),
            user_id=_user(uow, ids),
            secret_access_key=secret,
            created_at=NOW,
        )
    _assert_encrypted(raw("access_keys", "secret_ciphertext", "id = :id", id=key.id), secret)
    with store.transaction(readonly=True) as uow:
        signing = uow.access_keys.signing_key(key.id)
        assert signing is not None
        assert signing.secret_access_key == secret
        assert signing.key == key
        assert uow.access_keys.signing_key("AKIANOSUCHKEYNOSUCHK") is None


def test_a_secret_moved_to_another_row_does_not_decrypt(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        user_id = _user(uow, ids)
        one = uow.access_keys.create(
            ACCOUNT, key_id=ids.access_key_id(), user_id=user_id, secret_access_key="one", created_at=NOW
        )
        two = uow.access_keys.create(
            ACCOUNT, key_id=ids.access_key_id(), user_id=user_id, secret_access_key="two", created_at=NOW
        )
    with pytest.raises(DecryptionError), store.transaction() as uow:
        uow.session.execute(
            text(
                "UPDATE access_keys SET secret_ciphertext = "
                "(SELECT secret_ciphertext FROM access_keys WHERE id = :one) WHERE id = :two"
            ),
            {"one": one.id, "two": two.id},
        )
        uow.access_keys.signing_key(two.id)


def test_access_keys_listing_status_use_and_delete(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        user_id = _user(uow, ids)
        first = uow.access_keys.create(
            ACCOUNT, key_id=ids.access_key_id(), user_id=user_id, secret_access_key="a", created_at=NOW
        )
        second = uow.access_keys.create(
            ACCOUNT,
            key_id=ids.access_key_id(),
            user_id=user_id,
            secret_access_key="b",
            created_at=NOW + timedelta(seconds=1),
        )
        root = uow.access_keys.create(
            ACCOUNT, key_id=ids.access_key_id(), user_id=None, secret_access_key="r", created_at=NOW
        )
    with store.transaction() as uow:
        assert [k.id for k in uow.access_keys.list_for(ACCOUNT, user_id)] == [first.id, second.id]
        assert [k.id for k in uow.access_keys.list_for(ACCOUNT, None)] == [root.id]
        assert (first.user_name, root.user_name) == ("alice", None)
        uow.access_keys.set_status(first.id, "Inactive")
        uow.access_keys.record_use(first.id, NOW, "s3", None)
        uow.access_keys.record_use(
            first.id, NOW + timedelta(minutes=5), "iam", "us-east-1", resolution=timedelta(minutes=15)
        )
        got = uow.access_keys.get(first.id)
        assert (got.status, got.last_used_at, got.last_used_service, got.last_used_region) == (
            "Inactive",
            NOW,
            "s3",
            None,
        )
        uow.access_keys.delete(second.id)
        with pytest.raises(NotFound):
            uow.access_keys.get(second.id)
        with pytest.raises(NotFound):
            uow.access_keys.delete(second.id)


def test_a_store_without_a_kek_refuses_secret_operations(db_url: str, ids: SeededIds) -> None:
    store = open_store(db_url)
    try:
        with pytest.raises(StoreError, match="key-encryption key"), store.transaction() as uow:
            uow.accounts.create(ACCOUNT, name="x", created_at=NOW)
            uow.access_keys.create(
                ACCOUNT, key_id=ids.access_key_id(), user_id=None, secret_access_key="s", created_at=NOW
            )
    finally:
        store.close()


# -- login profiles -------------------------------------------------------------------------------


def test_login_profile_lifecycle_and_password_history(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        user_id = _user(uow, ids)
        created = uow.login_profiles.create(user_id, password_hash="h0", reset_required=True, created_at=NOW)
        assert (created.password_hash, created.password_reset_required, created.password_changed_at) == (
            "h0",
            True,
            NOW,
        )
        with pytest.raises(AlreadyExists):
            uow.login_profiles.create(user_id, password_hash="x", reset_required=False, created_at=NOW)
    with store.transaction() as uow:
        for i in range(1, 30):
            uow.login_profiles.update(user_id, password_hash=f"h{i}", changed_at=NOW + timedelta(days=i))
        updated = uow.login_profiles.update(user_id, reset_required=False)
        assert (updated.password_hash, updated.password_reset_required) == ("h29", False)
        assert updated.password_changed_at == NOW + timedelta(days=29)
        assert uow.login_profiles.previous_hashes(user_id, 3) == ("h28", "h27", "h26")
        assert len(uow.login_profiles.previous_hashes(user_id, 100)) == 24  # trimmed to AWS's maximum
        with pytest.raises(ValueError):
            uow.login_profiles.update(user_id, password_hash="no date")
    with store.transaction() as uow:
        uow.login_profiles.delete(user_id)
        assert uow.login_profiles.find(user_id) is None
        uow.users.delete(user_id)  # the password history goes with the user


# -- MFA ------------------------------------------------------------------------------------------


def test_virtual_mfa_seed_is_encrypted_and_devices_are_assigned(
    store: Store, ids: SeededIds, raw: Raw
) -> None:
    seed = secrets.token_bytes(20)
    serial = f"arn:aws:iam::{ACCOUNT}:mfa/alice"
    with store.transaction() as uow:
        user_id = _user(uow, ids)
        device = uow.mfa.create(ACCOUNT, serial=serial, kind="virtual", created_at=NOW, seed=seed)
        with pytest.raises(AlreadyExists):
            uow.mfa.create(ACCOUNT, serial=serial, kind="virtual", created_at=NOW, seed=seed)
    stored = raw("mfa_devices", "seed_ciphertext", "id = :id", id=device.id)
    assert isinstance(stored, bytes) and seed not in stored
    with store.transaction() as uow:
        assert uow.mfa.totp_seed(device.id) == seed
        assert [d.serial for d in uow.mfa.list_virtual(ACCOUNT, assignment="Unassigned").items] == [serial]
        uow.mfa.enable(device.id, user_id=user_id, enabled_at=NOW)
        with pytest.raises(Conflict):
            uow.mfa.enable(device.id, user_id=None, enabled_at=NOW)
        with pytest.raises(Conflict):
            uow.mfa.delete(device.id)  # in use
    with store.transaction() as uow:
        got = uow.mfa.get(ACCOUNT, serial)
        assert (got.user_name, got.enabled_at, got.is_assigned, got.is_root) == ("alice", NOW, True, False)
        assert [d.serial for d in uow.mfa.list_for(ACCOUNT, user_id)] == [serial]
        assert uow.mfa.list_virtual(ACCOUNT, assignment="Unassigned").items == ()
        assert uow.mfa.accept_totp_counter(device.id, 100) is True
        assert uow.mfa.accept_totp_counter(device.id, 100) is False  # a replayed code
        assert uow.mfa.accept_totp_counter(device.id, 99) is False
        assert uow.mfa.accept_totp_counter(device.id, 101) is True
        uow.mfa.deactivate(device.id)
        assert uow.mfa.get(ACCOUNT, serial).user_id is None
        uow.mfa.delete(device.id)
        assert uow.mfa.find(ACCOUNT, serial) is None


def test_root_mfa_and_webauthn(store: Store) -> None:
    with store.transaction() as uow:
        key = uow.mfa.create(
            ACCOUNT,
            serial="arn:aws:iam::111122223333:u2f/root/key",
            kind="webauthn",
            created_at=NOW,
            credential_id=b"cred",
            public_key=b"cose",
            sign_count=0,
        )
        uow.mfa.enable(key.id, user_id=None, enabled_at=NOW)
        uow.mfa.update_sign_count(key.id, 7)
    with store.transaction() as uow:
        (device,) = uow.mfa.list_for(ACCOUNT, None)
        assert (device.is_root, device.kind, device.credential_id, device.sign_count) == (
            True,
            "webauthn",
            b"cred",
            7,
        )
        assert uow.accounts.summary(ACCOUNT).account_mfa_enabled is True
        with pytest.raises(Conflict):
            uow.mfa.totp_seed(key.id)
        uow.mfa.deactivate(key.id)  # a non-virtual device is removed
        assert uow.mfa.list_for(ACCOUNT, None) == ()


# -- certificates, SSH keys, service credentials --------------------------------------------------


def test_signing_certificates(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        user_id = _user(uow, ids)
        cert = uow.signing_certificates.upload(
            ACCOUNT, certificate_id=ids.signing_certificate_id(), user_id=user_id, body="PEM", uploaded_at=NOW
        )
        root = uow.signing_certificates.upload(
            ACCOUNT, certificate_id=ids.signing_certificate_id(), user_id=None, body="ROOT", uploaded_at=NOW
        )
        uow.signing_certificates.set_status(cert.id, "Inactive")
    with store.transaction() as uow:
        assert [(c.body, c.status) for c in uow.signing_certificates.list_for(ACCOUNT, user_id)] == [
            ("PEM", "Inactive")
        ]
        assert [c.id for c in uow.signing_certificates.list_for(ACCOUNT, None)] == [root.id]
        assert uow.accounts.summary(ACCOUNT).account_signing_certificates_present is True
        uow.signing_certificates.delete(cert.id)
        with pytest.raises(NotFound):
            uow.signing_certificates.get(cert.id)


def test_ssh_public_keys(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        user_id = _user(uow, ids)
        key = uow.ssh_public_keys.upload(
            ACCOUNT,
            key_id=ids.ssh_public_key_id(),
            user_id=user_id,
            body="ssh-rsa AAA",
            fingerprint="aa:bb",
            uploaded_at=NOW,
        )
        uow.ssh_public_keys.set_status(key.id, "Inactive")
    with store.transaction() as uow:
        assert [(k.fingerprint, k.status) for k in uow.ssh_public_keys.list_for_user(user_id)] == [
            ("aa:bb", "Inactive")
        ]
        uow.ssh_public_keys.delete(key.id)
        assert uow.ssh_public_keys.list_for_user(user_id) == ()


def test_service_credentials_password_is_encrypted(store: Store, ids: SeededIds, raw: Raw) -> None:
    password = ids.service_password()
    with store.transaction() as uow:
        user_id = _user(uow, ids)
        cred = uow.service_credentials.create(
            ACCOUNT,
            credential_id=ids.service_credential_id(),
            user_id=user_id,
            service_name="codecommit.amazonaws.com",
            service_user_name="alice-at-111122223333",
            password=password,
            created_at=NOW,
        )
    _assert_encrypted(raw("service_credentials", "password_ciphertext", "id = :id", id=cred.id), password)
    with store.transaction() as uow:
        assert uow.service_credentials.password(cred.id) == password
        uow.service_credentials.reset_password(cred.id, "new password")
        uow.service_credentials.set_status(cred.id, "Inactive")
        assert uow.service_credentials.password(cred.id) == "new password"
        assert [
            c.status for c in uow.service_credentials.list_for_user(user_id, "codecommit.amazonaws.com")
        ] == ["Inactive"]
        assert uow.service_credentials.list_for_user(user_id, "cassandra.amazonaws.com") == ()
        uow.service_credentials.delete(cred.id)
        assert uow.service_credentials.list_for_user(user_id) == ()


def test_server_certificates_private_key_is_encrypted(store: Store, ids: SeededIds, raw: Raw) -> None:
    private_key = "-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----"
    with store.transaction() as uow:
        cert = uow.server_certificates.upload(
            ACCOUNT,
            certificate_id=ids.server_certificate_id(),
            name="Web",
            path="/",
            body="CERT",
            chain=None,
            private_key=private_key,
            uploaded_at=NOW,
        )
        with pytest.raises(AlreadyExists):
            uow.server_certificates.upload(
                ACCOUNT,
                certificate_id=ids.server_certificate_id(),
                name="WEB",
                path="/",
                body="C",
                chain=None,
                private_key="k",
                uploaded_at=NOW,
            )
    _assert_encrypted(
        raw("server_certificates", "private_key_ciphertext", "id = :id", id=cert.id), private_key
    )
    with store.transaction() as uow:
        assert uow.server_certificates.private_key(cert.id) == private_key
        renamed = uow.server_certificates.update(cert.id, name="Web2", path="/p/")
        assert (renamed.name, renamed.path) == ("Web2", "/p/")
        assert [c.name for c in uow.server_certificates.list(ACCOUNT, path_prefix="/p/").items] == ["Web2"]
        assert uow.accounts.summary(ACCOUNT).server_certificates == 1
        uow.server_certificates.delete(cert.id)
        assert uow.server_certificates.find(ACCOUNT, "web2") is None


# -- key rotation ---------------------------------------------------------------------------------


def test_reencrypting_after_a_key_rotation(store: Store, ids: SeededIds) -> None:
    old, new = secrets.token_bytes(32), secrets.token_bytes(32)
    store.kek = Kek([old])
    with store.transaction() as uow:
        user_id = _user(uow, ids)
        key = uow.access_keys.create(
            ACCOUNT, key_id=ids.access_key_id(), user_id=user_id, secret_access_key="secret", created_at=NOW
        )
        device = uow.mfa.create(ACCOUNT, serial="s", kind="virtual", created_at=NOW, seed=b"seed")
        cred = uow.service_credentials.create(
            ACCOUNT,
            credential_id=ids.service_credential_id(),
            user_id=user_id,
            service_name="s",
            service_user_name="u",
            password="pw",
            created_at=NOW,
        )
        uow.server_certificates.upload(
            ACCOUNT,
            certificate_id=ids.server_certificate_id(),
            name="c",
            path="/",
            body="b",
            chain=None,
            private_key="pk",
            uploaded_at=NOW,
        )
    store.kek = Kek([new, old])
    with store.transaction() as uow:
        assert uow.rekey.reencrypt_all() == 4
        assert uow.rekey.reencrypt_all() == 0
    store.kek = Kek([new])  # the old key is gone
    with store.transaction(readonly=True) as uow:
        signing = uow.access_keys.signing_key(key.id)
        assert signing is not None and signing.secret_access_key == "secret"
        assert uow.mfa.totp_seed(device.id) == b"seed"
        assert uow.service_credentials.password(cred.id) == "pw"
        assert uow.server_certificates.private_key(uow.server_certificates.get(ACCOUNT, "c").id) == "pk"
