"""Groups and memberships, roles, instance profiles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from iamd.secrets import SeededIds
from iamd.store import AlreadyExists, Conflict, NotFound, Store, UnitOfWork

ACCOUNT = "111122223333"  # created by the store fixture (conftest.py)
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
TRUST = '{"Version":"2012-10-17","Statement":[]}'


def _user(uow: UnitOfWork, ids: SeededIds, name: str) -> str:
    return uow.users.create(ACCOUNT, user_id=ids.user_id(), name=name, path="/", created_at=NOW).id


def _group(uow: UnitOfWork, ids: SeededIds, name: str, path: str = "/") -> str:
    return uow.groups.create(ACCOUNT, group_id=ids.group_id(), name=name, path=path, created_at=NOW).id


def _role(uow: UnitOfWork, ids: SeededIds, name: str, path: str = "/") -> str:
    return uow.roles.create(
        ACCOUNT, role_id=ids.role_id(), name=name, path=path, trust_policy=TRUST, created_at=NOW
    ).id


# -- groups ---------------------------------------------------------------------------------------


def test_group_crud_and_case_insensitive_names(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        group_id = _group(uow, ids, "Admins", "/a/")
        assert uow.groups.get(ACCOUNT, "admins").id == group_id
        assert uow.groups.get_by_id(group_id).path == "/a/"
        with pytest.raises(AlreadyExists):
            _group(uow, ids, "ADMINS")
    with store.transaction() as uow:
        assert uow.groups.update(group_id, name="Ops", path="/o/").name == "Ops"
        uow.groups.delete(group_id)
    with store.transaction(readonly=True) as uow:
        assert uow.groups.find(ACCOUNT, "ops") is None


def test_memberships(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        alice, bob = _user(uow, ids, "alice"), _user(uow, ids, "bob")
        groups = [_group(uow, ids, name) for name in ("c", "a", "b")]
        for group_id in groups:
            assert uow.groups.add_member(group_id, alice) is True
        assert uow.groups.add_member(groups[0], alice) is False  # already in: no change
        uow.groups.add_member(groups[0], bob)
    with store.transaction() as uow:
        page = uow.groups.list_for_user(alice, max_items=2)
        assert [g.name for g in page.items] == ["a", "b"]
        assert [g.name for g in uow.groups.list_for_user(alice, marker=page.marker).items] == ["c"]
        assert uow.groups.count_for_user(alice) == 3
        assert [u.name for u in uow.groups.members(groups[0]).items] == ["alice", "bob"]
        uow.groups.remove_member(groups[0], bob)
        assert [u.name for u in uow.groups.members(groups[0]).items] == ["alice"]
        with pytest.raises(NotFound):
            uow.groups.remove_member(groups[0], bob)


def test_group_delete_refuses_with_members_or_policies(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        group_id = _group(uow, ids, "g")
        user_id = _user(uow, ids, "alice")
        uow.groups.add_member(group_id, user_id)
    with pytest.raises(Conflict, match="members"), store.transaction() as uow:
        uow.groups.delete(group_id)
    with store.transaction() as uow:
        uow.groups.remove_member(group_id, user_id)
        uow.inline_policies.put(ACCOUNT, "group", group_id, "p", "{}")
    with pytest.raises(Conflict, match="inline policies"), store.transaction() as uow:
        uow.groups.delete(group_id)


# -- roles ----------------------------------------------------------------------------------------


def test_role_crud(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        created = uow.roles.create(
            ACCOUNT,
            role_id=ids.role_id(),
            name="Deployer",
            path="/ci/",
            trust_policy=TRUST,
            created_at=NOW,
            description="deploys",
            max_session_duration=7200,
        )
        assert uow.roles.get(ACCOUNT, "deployer") == created
        assert (created.description, created.max_session_duration, created.trust_policy) == (
            "deploys",
            7200,
            TRUST,
        )
        with pytest.raises(AlreadyExists):
            _role(uow, ids, "DEPLOYER")
    with store.transaction() as uow:
        updated = uow.roles.update(created.id, description="", max_session_duration=3600, trust_policy="{}")
        assert (updated.description, updated.max_session_duration, updated.trust_policy) == (None, 3600, "{}")
        uow.roles.delete(created.id)
    with store.transaction(readonly=True) as uow:
        assert uow.roles.find(ACCOUNT, "Deployer") is None


def test_role_listing_and_path_prefix(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        for name, path in (("b", "/x/"), ("a", "/x/y/"), ("c", "/z/")):
            _role(uow, ids, name, path)
    with store.transaction(readonly=True) as uow:
        assert [r.name for r in uow.roles.list(ACCOUNT, path_prefix="/x/").items] == ["a", "b"]
        first = uow.roles.list(ACCOUNT, max_items=2)
        assert [r.name for r in first.items] == ["a", "b"]
        assert [r.name for r in uow.roles.list(ACCOUNT, marker=first.marker).items] == ["c"]


def test_role_last_used_respects_its_resolution(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        role_id = _role(uow, ids, "r")
        uow.roles.record_use(role_id, NOW, "us-east-1")
        uow.roles.record_use(
            role_id, NOW + timedelta(minutes=1), "eu-west-1", resolution=timedelta(minutes=5)
        )
    with store.transaction() as uow:
        role = uow.roles.get_by_id(role_id)
        assert (role.last_used_at, role.last_used_region) == (NOW, "us-east-1")
        uow.roles.record_use(
            role_id, NOW + timedelta(minutes=6), "eu-west-1", resolution=timedelta(minutes=5)
        )
        assert uow.roles.get_by_id(role_id).last_used_region == "eu-west-1"


def test_role_permissions_boundary(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        role_id = _role(uow, ids, "r")
        policy = uow.policies.create(
            ACCOUNT, policy_id=ids.policy_id(), name="B", path="/", document="{}", created_at=NOW
        )
        uow.roles.set_permissions_boundary(role_id, policy.id)
        assert uow.roles.get_by_id(role_id).permissions_boundary == policy.ref


# -- instance profiles ----------------------------------------------------------------------------


def test_instance_profiles_and_their_roles(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        role_id = _role(uow, ids, "web")
        profile = uow.instance_profiles.create(
            ACCOUNT, profile_id=ids.instance_profile_id(), name="WebProfile", path="/", created_at=NOW
        )
        uow.instance_profiles.create(
            ACCOUNT, profile_id=ids.instance_profile_id(), name="Empty", path="/e/", created_at=NOW
        )
        uow.instance_profiles.add_role(profile.id, role_id)
        with pytest.raises(AlreadyExists):
            uow.instance_profiles.add_role(profile.id, role_id)
        with pytest.raises(AlreadyExists):
            uow.instance_profiles.create(
                ACCOUNT, profile_id=ids.instance_profile_id(), name="webprofile", path="/", created_at=NOW
            )
    with store.transaction() as uow:
        got = uow.instance_profiles.get(ACCOUNT, "webprofile")
        assert [r.name for r in got.roles] == ["web"]
        assert uow.instance_profiles.count_roles(profile.id) == 1
        assert [p.name for p in uow.instance_profiles.list(ACCOUNT).items] == ["Empty", "WebProfile"]
        assert [p.name for p in uow.instance_profiles.list(ACCOUNT, path_prefix="/e/").items] == ["Empty"]
        assert [p.name for p in uow.instance_profiles.list_for_role(role_id).items] == ["WebProfile"]
        with pytest.raises(Conflict):
            uow.roles.delete(role_id)  # still in a profile
    with pytest.raises(Conflict), store.transaction() as uow:
        uow.instance_profiles.delete(profile.id)  # still holds a role
    with store.transaction() as uow:
        uow.instance_profiles.remove_role(profile.id, role_id)
        uow.instance_profiles.delete(profile.id)
        uow.roles.delete(role_id)
    with store.transaction(readonly=True) as uow:
        assert uow.instance_profiles.find(ACCOUNT, "WebProfile") is None
