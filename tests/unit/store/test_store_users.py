"""Users: CRUD, case-insensitive names, listings with path prefixes and markers, delete rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from iamd.secrets import SeededIds
from iamd.store import AlreadyExists, Conflict, InvalidMarker, NotFound, Store, UnitOfWork

ACCOUNT = "111122223333"  # created by the store fixture (conftest.py)
OTHER_ACCOUNT = "444455556666"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _create(uow: UnitOfWork, ids: SeededIds, name: str, path: str = "/", account: str = ACCOUNT) -> str:
    return uow.users.create(account, user_id=ids.user_id(), name=name, path=path, created_at=NOW).id


def test_create_get_find(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        created = uow.users.create(ACCOUNT, user_id=ids.user_id(), name="Alice", path="/dev/", created_at=NOW)
    with store.transaction(readonly=True) as uow:
        assert uow.users.get(ACCOUNT, "Alice") == created
        assert uow.users.get(ACCOUNT, "alice") == created  # names are case-insensitive
        assert uow.users.get_by_id(created.id) == created
        assert uow.users.find(OTHER_ACCOUNT, "alice") is None
    assert (created.name, created.path, created.account_id, created.created_at) == (
        "Alice",
        "/dev/",
        ACCOUNT,
        NOW,
    )
    assert created.permissions_boundary is None and created.password_last_used is None


def test_taken_tells_whether_a_name_is_used_and_how_many_users_the_account_has(
    store: Store, ids: SeededIds
) -> None:
    """CreateUser's two checks (the name free, the quota) in one statement."""
    with store.transaction(readonly=True) as uow:
        assert uow.users.taken(ACCOUNT, "alice") == (False, 0)
    with store.transaction() as uow:
        _create(uow, ids, "Alice")
        _create(uow, ids, "bob")
        _create(uow, ids, "carol", account=OTHER_ACCOUNT)
        assert uow.users.taken(ACCOUNT, "ALICE") == (True, 2)  # in the writer's own transaction
    with store.transaction(readonly=True) as uow:
        assert uow.users.taken(ACCOUNT, "alice") == (True, 2)
        assert uow.users.taken(ACCOUNT, "dave") == (False, 2)
        assert uow.users.taken(ACCOUNT, "carol") == (False, 2)  # another account's
        assert uow.users.taken(OTHER_ACCOUNT, "Carol") == (True, 1)
        assert uow.users.taken(ACCOUNT, "alice")[1] == uow.users.count(ACCOUNT)


def test_missing_users_raise_not_found(store: Store) -> None:
    with store.transaction(readonly=True) as uow:
        with pytest.raises(NotFound):
            uow.users.get(ACCOUNT, "nobody")
        with pytest.raises(NotFound):
            uow.users.get_by_id("AIDANOPENOPENOPENOPEN")


def test_names_are_unique_case_insensitively_per_account(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        _create(uow, ids, "Alice")
        _create(uow, ids, "ALICE", account=OTHER_ACCOUNT)  # another account: fine
    with pytest.raises(AlreadyExists), store.transaction() as uow:
        _create(uow, ids, "aLiCe")


def test_the_unique_constraint_holds_even_past_the_repository(store: Store, ids: SeededIds) -> None:
    """The database enforces it too, and the transaction translates the driver's error."""
    with store.transaction() as uow:
        _create(uow, ids, "alice")
    with pytest.raises(AlreadyExists), store.transaction() as uow:
        uow.session.execute(
            text(
                "INSERT INTO users (id, account_id, name, name_lower, path, created_at) "
                "VALUES ('AIDAXXXXXXXXXXXXXXXXX', :a, 'ALICE', 'alice', '/', :now)"
            ),
            {"a": ACCOUNT, "now": NOW},
        )


def test_update_renames_and_moves(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        user_id = _create(uow, ids, "alice")
        _create(uow, ids, "bob")
        uow.tags.put(ACCOUNT, "user", user_id, {"team": "red"})
    with store.transaction() as uow:
        renamed = uow.users.update(user_id, name="Alicia", path="/ops/")
        assert (renamed.name, renamed.path, renamed.id) == ("Alicia", "/ops/", user_id)
        assert uow.users.update(user_id, name="ALICIA").name == "ALICIA"  # a new spelling of its own name
    with store.transaction(readonly=True) as uow:
        assert uow.users.find(ACCOUNT, "alice") is None
        assert [t.key for t in uow.tags.list(ACCOUNT, "user", user_id)] == ["team"]  # tags follow the id
    with pytest.raises(AlreadyExists), store.transaction() as uow:
        uow.users.update(user_id, name="BOB")


def test_listing_is_ordered_by_name_and_paginated(store: Store, ids: SeededIds) -> None:
    names = [f"user{i:02d}" for i in range(25)]
    with store.transaction() as uow:
        for name in reversed(names):
            _create(uow, ids, name)
        _create(uow, ids, "zed", account=OTHER_ACCOUNT)
    seen: list[str] = []
    marker = None
    pages = 0
    with store.transaction(readonly=True) as uow:
        while True:
            page = uow.users.list(ACCOUNT, marker=marker, max_items=10)
            seen += [u.name for u in page.items]
            pages += 1
            assert page.is_truncated == (page.marker is not None)
            if (marker := page.marker) is None:
                break
    assert seen == names
    assert pages == 3


def test_a_full_last_page_has_no_marker(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        for name in ("a", "b"):
            _create(uow, ids, name)
    with store.transaction(readonly=True) as uow:
        page = uow.users.list(ACCOUNT, max_items=2)
    assert [u.name for u in page.items] == ["a", "b"] and page.marker is None


def test_markers_are_opaque_and_checked(store: Store) -> None:
    with store.transaction(readonly=True) as uow:
        for bad in ("not-a-marker", "e30", "WyJ4Il0"):  # garbage, {}, ["x"]
            with pytest.raises(InvalidMarker):
                uow.users.list(ACCOUNT, marker=bad)
        with pytest.raises(ValueError):
            uow.users.list(ACCOUNT, max_items=0)


def test_path_prefix_filters_case_sensitively(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        _create(uow, ids, "a", "/eng/")
        _create(uow, ids, "b", "/eng/backend/")
        _create(uow, ids, "c", "/Eng/")
        _create(uow, ids, "d", "/ops/")
        _create(uow, ids, "e", "/eng_x/")  # "_" is not a wildcard
    with store.transaction(readonly=True) as uow:
        assert [u.name for u in uow.users.list(ACCOUNT, path_prefix="/eng/").items] == ["a", "b"]
        assert [u.name for u in uow.users.list(ACCOUNT, path_prefix="/").items] == ["a", "b", "c", "d", "e"]
        assert [u.name for u in uow.users.list(ACCOUNT, path_prefix="/eng_").items] == ["e"]


def test_permissions_boundary_is_named_on_the_record(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        user_id = _create(uow, ids, "alice")
        policy = uow.policies.create(
            ACCOUNT, policy_id=ids.policy_id(), name="Boundary", path="/b/", document="{}", created_at=NOW
        )
        uow.users.set_permissions_boundary(user_id, policy.id)
    with store.transaction() as uow:
        user = uow.users.get(ACCOUNT, "alice")
        assert user.permissions_boundary == policy.ref
        uow.users.set_permissions_boundary(user_id, None)
        assert uow.users.get(ACCOUNT, "alice").permissions_boundary is None


def test_password_use_only_moves_forward(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        user_id = _create(uow, ids, "alice")
        uow.users.record_password_use(user_id, NOW)
        uow.users.record_password_use(user_id, NOW - timedelta(days=1))
    with store.transaction(readonly=True) as uow:
        assert uow.users.get_by_id(user_id).password_last_used == NOW


def test_delete_removes_the_user_and_its_tags(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        user_id = _create(uow, ids, "alice")
        uow.tags.put(ACCOUNT, "user", user_id, {"k": "v"})
    with store.transaction() as uow:
        uow.users.delete(user_id)
    with store.transaction(readonly=True) as uow:
        assert uow.users.find(ACCOUNT, "alice") is None
        assert uow.tags.list(ACCOUNT, "user", user_id) == ()
    with pytest.raises(NotFound), store.transaction() as uow:
        uow.users.delete(user_id)


@pytest.mark.parametrize(
    "attach",
    [
        "access key",
        "login profile",
        "inline policy",
        "managed policy",
        "group",
        "mfa",
        "signing certificate",
        "ssh key",
        "service credential",
    ],
)
def test_delete_refuses_while_the_user_has_dependents(store: Store, ids: SeededIds, attach: str) -> None:
    with store.transaction() as uow:
        user_id = _create(uow, ids, "alice")
        if attach == "access key":
            uow.access_keys.create(
                ACCOUNT, key_id=ids.access_key_id(), user_id=user_id, secret_access_key="s", created_at=NOW
            )
        elif attach == "login profile":
            uow.login_profiles.create(
                user_id, password_hash="$argon2id$x", reset_required=False, created_at=NOW
            )
        elif attach == "inline policy":
            uow.inline_policies.put(ACCOUNT, "user", user_id, "p", "{}")
        elif attach == "managed policy":
            policy = uow.policies.create(
                ACCOUNT, policy_id=ids.policy_id(), name="P", path="/", document="{}", created_at=NOW
            )
            uow.policies.attach(policy.id, "user", user_id, account_id=ACCOUNT)
        elif attach == "group":
            group = uow.groups.create(ACCOUNT, group_id=ids.group_id(), name="g", path="/", created_at=NOW)
            uow.groups.add_member(group.id, user_id)
        elif attach == "mfa":
            device = uow.mfa.create(
                ACCOUNT,
                serial="arn:aws:iam::111122223333:mfa/a",
                kind="virtual",
                created_at=NOW,
                seed=b"seed",
            )
            uow.mfa.enable(device.id, user_id=user_id, enabled_at=NOW)
        elif attach == "signing certificate":
            uow.signing_certificates.upload(
                ACCOUNT,
                certificate_id=ids.signing_certificate_id(),
                user_id=user_id,
                body="PEM",
                uploaded_at=NOW,
            )
        elif attach == "ssh key":
            uow.ssh_public_keys.upload(
                ACCOUNT,
                key_id=ids.ssh_public_key_id(),
                user_id=user_id,
                body="ssh-rsa",
                fingerprint="fp",
                uploaded_at=NOW,
            )
        else:
            uow.service_credentials.create(
                ACCOUNT,
                credential_id=ids.service_credential_id(),
                user_id=user_id,
                service_name="codecommit.amazonaws.com",
                service_user_name="alice-at-1",
                password="pw",
                created_at=NOW,
            )
    with pytest.raises(Conflict), store.transaction() as uow:
        uow.users.delete(user_id)
    with store.transaction(readonly=True) as uow:
        assert uow.users.find(ACCOUNT, "alice") is not None
