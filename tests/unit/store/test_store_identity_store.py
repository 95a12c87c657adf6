"""Identity stores: users, groups, memberships, uniqueness; passwords, MFA devices, SCIM tokens,
the SAML IdP and replayed assertions (store layer, on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from iamd.secrets import TEST_PARAMS, PasswordHashing, totp
from iamd.services.identitycenter.identitystore.signin import (
    PasswordRejected,
    password_problems,
    set_password,
    verify_password,
    verify_totp,
)
from iamd.store import AlreadyExists, NotFound, Store, UnitOfWork
from iamd.store.errors import InvalidMarker
from iamd.store.identity_credentials import TooMany
from iamd.store.identity_store import ExternalId, IdsUserRecord, Taken, abac_value

ACCOUNT = "111122223333"  # created by the store fixture (conftest.py)
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
STORE = "d-1234567890"
OTHER = "d-0987654321"
Raw = Callable[..., object]
HASHING = PasswordHashing(TEST_PARAMS)


def _stores(uow: UnitOfWork) -> None:
    uow.identity_store.create_store(STORE, account_id=ACCOUNT, created_at=NOW)
    uow.identity_store.create_store(OTHER, account_id=ACCOUNT, created_at=NOW)


def _alice(uow: UnitOfWork, store: str = STORE, **attrs: object) -> IdsUserRecord:
    attributes = {
        "DisplayName": "Alice Liddell",
        "Name": {"GivenName": "Alice", "FamilyName": "Liddell"},
        "Emails": [{"Value": "alice@example.com", "Type": "work", "Primary": True}],
        **attrs,
    }
    return uow.identity_store.create_user(
        store,
        user_name="alice",
        attributes=attributes,
        created_at=NOW,
        created_by="arn:aws:iam::111122223333:root",
    )


def test_user_keeps_every_attribute_and_gets_an_aws_shaped_id(store: Store) -> None:
    with store.transaction() as uow:
        _stores(uow)
        user = _alice(
            uow,
            Title="Explorer",
            Addresses=[{"Locality": "Oxford", "Country": "GB", "Type": "work", "Primary": True}],
            Extensions={
                "aws:identitystore:enterprise": {"department": "Wonder", "manager": {"value": "m-1"}}
            },
        )
    with store.transaction(readonly=True) as uow:
        again = uow.identity_store.get_user(STORE, user.id)
    assert again.user_name == "alice"
    assert again.id.startswith("1234567890-") and len(again.id) == 47
    assert again.attributes["Title"] == "Explorer"
    assert again.primary_email == "alice@example.com"
    assert again.display_name == "Alice Liddell"
    assert again.status == "ENABLED" and not again.has_password


def test_user_name_and_primary_email_are_unique_per_store_ignoring_case(store: Store) -> None:
    with store.transaction() as uow:
        _stores(uow)
        _alice(uow)
        _alice(uow, store=OTHER)  # another store: no clash
    with pytest.raises(Taken) as name_clash, store.transaction() as uow:
        uow.identity_store.create_user(
            STORE, user_name="ALICE", attributes={}, created_at=NOW, created_by=None
        )
    assert name_clash.value.attribute == "UserName"
    with pytest.raises(Taken) as email_clash, store.transaction() as uow:
        uow.identity_store.create_user(
            STORE,
            user_name="bob",
            attributes={"Emails": [{"Value": "Alice@Example.com", "Primary": True}]},
            created_at=NOW,
            created_by=None,
        )
    assert email_clash.value.attribute == "Emails.Value"


def test_external_ids_are_unique_and_find_their_owner(store: Store) -> None:
    ext = ExternalId("https://okta.example.com", "00u1")
    with store.transaction() as uow:
        _stores(uow)
        alice = uow.identity_store.create_user(
            STORE, user_name="alice", attributes={}, created_at=NOW, created_by=None, external_ids=[ext]
        )
        assert uow.identity_store.find_by_external_id(STORE, "user", ext) == alice.id
        assert uow.identity_store.find_by_external_id(STORE, "group", ext) is None
    with pytest.raises(Taken), store.transaction() as uow:
        uow.identity_store.create_user(
            STORE, user_name="bob", attributes={}, created_at=NOW, created_by=None, external_ids=[ext]
        )


def test_update_user_replaces_attributes_and_refuses_a_taken_name_without_changing(store: Store) -> None:
    with store.transaction() as uow:
        _stores(uow)
        alice = _alice(uow)
        uow.identity_store.create_user(STORE, user_name="bob", attributes={}, created_at=NOW, created_by=None)
    later = NOW + timedelta(hours=1)
    with pytest.raises(Taken), store.transaction() as uow:
        uow.identity_store.update_user(STORE, alice.id, user_name="Bob", updated_at=later, updated_by=None)
    with store.transaction() as uow:
        updated = uow.identity_store.update_user(
            STORE, alice.id, attributes={"DisplayName": "Al"}, updated_at=later, updated_by="someone"
        )
    assert updated.user_name == "alice" and updated.attributes == {"DisplayName": "Al"}
    assert updated.updated_at == later and updated.created_at == NOW


def test_listing_users_pages_and_filters(store: Store) -> None:
    with store.transaction() as uow:
        _stores(uow)
        for name in ("carol", "alice", "Bob", "dave"):
            uow.identity_store.create_user(
                STORE,
                user_name=name,
                attributes={"DisplayName": name.upper()},
                created_at=NOW,
                created_by=None,
            )
    with store.transaction(readonly=True) as uow:
        first = uow.identity_store.list_users(STORE, max_items=3)
        assert [u.user_name for u in first.items] == ["alice", "Bob", "carol"]
        rest = uow.identity_store.list_users(STORE, max_items=3, marker=first.marker)
        assert [u.user_name for u in rest.items] == ["dave"] and rest.marker is None
        assert [u.user_name for u in uow.identity_store.list_users(STORE, user_name="BOB").items] == ["Bob"]
        assert [u.user_name for u in uow.identity_store.list_users(STORE, display_name="dave").items] == [
            "dave"
        ]
        assert uow.identity_store.list_users(OTHER).items == ()
        with pytest.raises(InvalidMarker):
            uow.identity_store.list_users(STORE, marker="not-a-marker")


def test_groups_and_memberships(store: Store) -> None:
    with store.transaction() as uow:
        _stores(uow)
        alice = _alice(uow)
        admins = uow.identity_store.create_group(
            STORE, display_name="Admins", description="People", created_at=NOW, created_by=None
        )
        ops = uow.identity_store.create_group(
            STORE, display_name="Ops", description=None, created_at=NOW, created_by=None
        )
        membership = uow.identity_store.add_member(
            STORE, admins.id, alice.id, created_at=NOW, created_by=None
        )
        uow.identity_store.add_member(STORE, ops.id, alice.id, created_at=NOW, created_by=None)
    with pytest.raises(Taken), store.transaction() as uow:
        uow.identity_store.create_group(
            STORE, display_name="admins", description=None, created_at=NOW, created_by=None
        )
    with pytest.raises(AlreadyExists), store.transaction() as uow:
        uow.identity_store.add_member(STORE, admins.id, alice.id, created_at=NOW, created_by=None)
    with pytest.raises(NotFound), store.transaction() as uow:  # a group of another store
        uow.identity_store.add_member(OTHER, admins.id, alice.id, created_at=NOW, created_by=None)
    with store.transaction() as uow:
        assert [g.display_name for g in uow.identity_store.groups_of_user(STORE, alice.id)] == [
            "Admins",
            "Ops",
        ]
        assert uow.identity_store.find_membership(STORE, admins.id, alice.id) == membership
        assert uow.identity_store.member_ids(STORE, admins.id) == (alice.id,)
        uow.identity_store.delete_group(STORE, ops.id)
        assert [m.group_id for m in uow.identity_store.memberships_of_user(STORE, alice.id).items] == [
            admins.id
        ]
        uow.identity_store.delete_user(STORE, alice.id)  # takes its memberships along
        assert uow.identity_store.memberships_of_group(STORE, admins.id).items == ()


def test_windows_and_batches_agree_with_the_one_at_a_time_reads(store: Store) -> None:
    names = ["carol", "alice", "Bob", "dave", "50%_off", "50x_off", "Straße"]
    with store.transaction() as uow:
        _stores(uow)
        users = {
            name: uow.identity_store.create_user(
                STORE, user_name=name, attributes={}, created_at=NOW, created_by=None
            )
            for name in names
        }
        groups = [
            uow.identity_store.create_group(
                STORE,
                display_name=name,
                description=None,
                created_at=NOW,
                created_by=None,
                external_ids=[ExternalId("https://idp.example", f"x-{name}")],
            )
            for name in ("Zeta", "alpha", "Mid")
        ]
        for group in groups[:2]:
            for name in ("dave", "alice"):
                uow.identity_store.add_member(
                    STORE, group.id, users[name].id, created_at=NOW, created_by=None
                )
    with store.transaction(readonly=True) as uow:
        repo = uow.identity_store
        listed = repo.list_users(STORE, max_items=100).items
        assert repo.users_window(STORE, offset=0, limit=100) == listed
        assert repo.users_window(STORE, offset=2, limit=3) == listed[2:5]
        assert repo.users_window(STORE, offset=len(names), limit=5) == ()
        assert repo.users_window(STORE, offset=0, limit=0) == ()
        assert repo.count_users(STORE) == len(names) and repo.count_users(OTHER) == 0
        # Name tests ignore case as SCIM does (case folding), and LIKE's wildcards are plain text.
        for test, wanted in [
            (("sw", "50%"), ["50%_off"]),
            (("co", "%_"), ["50%_off"]),
            (("ew", "_OFF"), ["50%_off", "50x_off"]),
            (("co", "SS"), ["Straße"]),
            (("eq", "BOB"), ["Bob"]),
        ]:
            found = repo.users_window(STORE, user_name=test, offset=0, limit=100)  # type: ignore[arg-type]
            assert [u.user_name for u in found] == wanted, test
            assert repo.count_users(STORE, user_name=test) == len(wanted)  # type: ignore[arg-type]
        every_group = repo.list_groups(STORE, max_items=100).items
        assert repo.groups_window(STORE, offset=0, limit=100) == every_group
        assert [g.external_ids for g in every_group] == [
            (ExternalId("https://idp.example", f"x-{g.display_name}"),) for g in every_group
        ]
        assert [
            g.display_name for g in repo.groups_window(STORE, display_name=("sw", "AL"), offset=0, limit=9)
        ] == ["alpha"]
        assert repo.count_groups(STORE, display_name=("co", "t")) == 1
        ids = [u.id for u in listed]
        assert repo.groups_of_users(STORE, ids) == {i: repo.groups_of_user(STORE, i) for i in ids}
        for group in groups:
            members = repo.member_names(STORE, group.id)
            assert [user_id for user_id, _ in members] == list(repo.member_ids(STORE, group.id))
            assert [name for _, name in members] == [repo.get_user(STORE, i).user_name for i, _ in members]


def test_passwords_are_hashed_checked_and_not_reused(store: Store, raw: Raw) -> None:
    with store.transaction() as uow:
        _stores(uow)
        alice = _alice(uow)
        set_password(uow, HASHING, alice, "Correct-Horse-1", now=NOW)
    stored = raw("ids_users", "password_hash", "id = :id", id=alice.id)
    assert isinstance(stored, str) and stored.startswith("$argon2id$") and "Correct" not in stored
    with store.transaction() as uow:
        assert verify_password(uow, HASHING, STORE, "ALICE", "Correct-Horse-1") is not None
        assert verify_password(uow, HASHING, STORE, "alice", "wrong-Horse-1") is None
        assert verify_password(uow, HASHING, STORE, "nobody", "Correct-Horse-1") is None
        assert verify_password(uow, HASHING, OTHER, "alice", "Correct-Horse-1") is None
        for second in ("Second-Pass-2", "Third-Pass-3"):
            set_password(uow, HASHING, alice, second, now=NOW)
        with pytest.raises(PasswordRejected, match="last 3"):
            set_password(uow, HASHING, alice, "Correct-Horse-1", now=NOW)
        set_password(uow, HASHING, alice, "Fourth-Pass-4", now=NOW)
        set_password(uow, HASHING, alice, "Correct-Horse-1", now=NOW)  # four changes ago: allowed
        uow.identity_store.update_user(STORE, alice.id, status="DISABLED", updated_at=NOW, updated_by=None)
        assert verify_password(uow, HASHING, STORE, "alice", "Correct-Horse-1") is None


def test_password_rules() -> None:
    assert password_problems("Aa1!aaaa") == []
    assert "be 8 to 64 characters long" in password_problems("Aa1!")
    assert password_problems("alllowercase1!") == ["contain an upper-case letter"]
    assert password_problems("NoSymbols123") == ["contain a non-alphanumeric character such as ! or #"]


def test_totp_seed_is_encrypted_and_a_code_works_once(store: Store, raw: Raw) -> None:
    seed = totp.new_seed()
    with store.transaction() as uow:
        _stores(uow)
        alice = _alice(uow)
        device = uow.identity_credentials.add_totp_device(
            STORE, alice.id, device_id="dev-1", name="phone", seed=seed, created_at=NOW
        )
    blob = raw("ids_mfa_devices", "seed_ciphertext", "id = :id", id="dev-1")
    assert isinstance(blob, bytes | memoryview) and seed not in bytes(blob)
    code = totp.code_at(seed, totp.counter_at(NOW))
    with store.transaction() as uow:
        used = verify_totp(uow, alice, code, now=NOW)
        assert used is not None and used.id == device.id
        assert uow.identity_credentials.get_mfa_device(STORE, alice.id, device.id).last_used_at == NOW
    with store.transaction() as uow:
        assert verify_totp(uow, alice, code, now=NOW) is None  # replayed
        assert verify_totp(uow, alice, "000000" if code != "000000" else "111111", now=NOW) is None


def test_mfa_device_limits_and_removal(store: Store) -> None:
    with store.transaction() as uow:
        _stores(uow)
        alice = _alice(uow)
        creds = uow.identity_credentials
        for n in range(2):
            creds.add_totp_device(
                STORE, alice.id, device_id=f"t{n}", name="app", seed=b"s" * 20, created_at=NOW
            )
        with pytest.raises(TooMany):
            creds.add_totp_device(STORE, alice.id, device_id="t9", name="app", seed=b"s" * 20, created_at=NOW)
        for n in range(6):
            creds.add_webauthn_device(
                STORE,
                alice.id,
                device_id=f"w{n}",
                name="key",
                credential_id=bytes([n]) * 16,
                public_key=b"pk",
                sign_count=0,
                created_at=NOW,
            )
        with pytest.raises(TooMany):
            creds.add_webauthn_device(
                STORE,
                alice.id,
                device_id="w9",
                name="k",
                credential_id=b"x",
                public_key=b"pk",
                sign_count=0,
                created_at=NOW,
            )
        found = creds.find_webauthn_device(STORE, bytes([3]) * 16)
        assert found is not None and found.id == "w3"
        creds.record_webauthn_use("w3", 7, used_at=NOW)
        assert creds.get_mfa_device(STORE, alice.id, "w3").sign_count == 7
        creds.remove_mfa_device(STORE, alice.id, "t0")
        with pytest.raises(NotFound):
            creds.remove_mfa_device(STORE, alice.id, "t0")
        assert len(creds.mfa_devices(STORE, alice.id)) == 7
        uow.identity_store.delete_user(STORE, alice.id)
        assert creds.mfa_devices(STORE, alice.id) == ()


def test_scim_tokens_at_most_two(store: Store) -> None:
    with store.transaction() as uow:
        _stores(uow)
        creds = uow.identity_credentials
        for n in range(2):
            creds.add_scim_token(
                STORE,
                token_id=f"tok{n}",
                token_digest="ab" * 32,
                created_at=NOW,
                expires_at=NOW + timedelta(days=365),
            )
        with pytest.raises(TooMany):
            creds.add_scim_token(
                STORE, token_id="tok3", token_digest="cd" * 32, created_at=NOW, expires_at=NOW
            )
        creds.delete_scim_token(STORE, "tok0")
        assert [t.id for t in creds.scim_tokens(STORE)] == ["tok1"]


def test_saml_assertion_ids_are_used_once_until_they_expire(store: Store) -> None:
    with store.transaction() as uow:
        _stores(uow)
        creds = uow.identity_credentials
        creds.set_saml_idp(
            STORE,
            entity_id="http://idp",
            sso_url=None,
            certificates=("PEM",),
            metadata_xml="<x/>",
            configured_at=NOW,
        )
        soon = NOW + timedelta(minutes=5)
        assert creds.use_assertion_id(STORE, "_a1", expires_at=soon, now=NOW)
        assert not creds.use_assertion_id(STORE, "_a1", expires_at=soon, now=NOW)
        assert creds.use_assertion_id(OTHER, "_a1", expires_at=soon, now=NOW)
        assert creds.use_assertion_id(STORE, "_a1", expires_at=soon, now=soon + timedelta(seconds=1))
        idp = creds.saml_idp(STORE)
        assert idp is not None and idp.certificates == ("PEM",)


def test_delete_store_removes_everything(store: Store) -> None:
    with store.transaction() as uow:
        _stores(uow)
        alice = _alice(uow)
        group = uow.identity_store.create_group(
            STORE, display_name="G", description=None, created_at=NOW, created_by=None
        )
        uow.identity_store.add_member(STORE, group.id, alice.id, created_at=NOW, created_by=None)
        set_password(uow, HASHING, alice, "Correct-Horse-1", now=NOW)
        uow.identity_credentials.add_scim_token(
            STORE, token_id="t", token_digest="0" * 64, created_at=NOW, expires_at=NOW
        )
        uow.identity_store.delete_store(STORE)
        assert uow.identity_store.find_store(STORE) is None
        assert uow.identity_store.find_user(STORE, alice.id) is None
        assert uow.identity_store.find_store(OTHER) is not None


def test_abac_values_follow_identity_center_paths() -> None:
    user = IdsUserRecord(
        STORE,
        "u",
        "alice",
        {
            "Name": {"GivenName": "Alice"},
            "Emails": [{"Value": "a@x", "Primary": False}, {"Value": "p@x", "Primary": True}],
            "Addresses": [{"Type": "work", "Locality": "Oxford"}],
            "Extensions": {"aws:identitystore:enterprise": {"costCenter": "CC1", "manager": {"value": "m"}}},
        },
        (),
        "ENABLED",
        NOW,
        None,
        NOW,
        None,
        None,
    )
    assert abac_value(user, "${path:userName}") == "alice"
    assert abac_value(user, "name.givenName") == "Alice"
    assert abac_value(user, "emails[primary eq true].value") == "p@x"
    assert abac_value(user, 'addresses[type eq "work"].locality') == "Oxford"
    assert abac_value(user, "enterprise.costCenter") == "CC1"
    assert abac_value(user, "enterprise.manager.value") == "m"
    assert abac_value(user, "title") is None
    assert abac_value(user, "no.such.path") is None
