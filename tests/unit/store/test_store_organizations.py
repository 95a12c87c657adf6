"""The Organizations repository: membership mirrored on the account, generation bumps for every
account of an organization, and removals that leave nothing behind."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from iamd.store import AlreadyExists, Store
from iamd.store.organizations import OrgPolicyRecord

ACCOUNT = "111122223333"  # created by the store fixture (conftest.py)
OTHER_ACCOUNT = "444455556666"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ORG = "o-abcdefghij"
ROOT = "r-ab12"


def _org(store: Store) -> None:
    with store.transaction() as uow:
        uow.organizations.create(
            ORG,
            management_account_id=ACCOUNT,
            feature_set="ALL",
            root_id=ROOT,
            root_name="Root",
            created_at=NOW,
        )
        uow.organizations.add_member(ORG, OTHER_ACCOUNT, ROOT, "CREATED", NOW)


def test_membership_is_mirrored_on_the_account(store: Store) -> None:
    _org(store)
    with store.transaction() as uow:
        main, other = uow.accounts.get(ACCOUNT), uow.accounts.get(OTHER_ACCOUNT)
        assert (main.organization_id, main.organization_role) == (ORG, "management")
        assert (other.organization_id, other.organization_role, other.joined_method) == (
            ORG,
            "member",
            "CREATED",
        )
        assert uow.organizations.of_account(OTHER_ACCOUNT) is not None
        with pytest.raises(AlreadyExists):
            uow.organizations.add_member(ORG, OTHER_ACCOUNT, ROOT, "INVITED", NOW)


def test_a_change_bumps_every_account_of_the_organization(store: Store) -> None:
    _org(store)
    with store.transaction(readonly=True) as uow:
        before = uow.accounts.generations([ACCOUNT, OTHER_ACCOUNT])
    with store.transaction() as uow:
        uow.organizations.changed(ORG)
    with store.transaction(readonly=True) as uow:
        after = uow.accounts.generations([ACCOUNT, OTHER_ACCOUNT])
    assert all(after[a] == before[a] + 1 for a in before)


def test_removing_a_member_and_deleting_the_organization_leave_nothing(store: Store) -> None:
    _org(store)
    with store.transaction() as uow:
        repo = uow.organizations
        repo.set_policy_type(ORG, "SERVICE_CONTROL_POLICY", "ENABLED")
        repo.create_policy(
            OrgPolicyRecord("p-0123456789", ORG, "SERVICE_CONTROL_POLICY", "deny", "", "{}", NOW, NOW)
        )
        repo.attach(ORG, "p-0123456789", OTHER_ACCOUNT, "SERVICE_CONTROL_POLICY")
        repo.put_tags(ORG, OTHER_ACCOUNT, {"team": "a"})
        repo.create_ou(ORG, "ou-ab12-abcdefgh", ROOT, "dev", NOW)
        with pytest.raises(AlreadyExists):
            repo.create_ou(ORG, "ou-ab12-zzzzzzzz", ROOT, "dev", NOW)
    with store.transaction() as uow:
        uow.organizations.remove_member(OTHER_ACCOUNT)
    with store.transaction(readonly=True) as uow:
        repo = uow.organizations
        assert repo.attached(ORG, [OTHER_ACCOUNT]) == [] and repo.tags(ORG, OTHER_ACCOUNT) == {}
        assert uow.accounts.get(OTHER_ACCOUNT).organization_id is None
        assert repo.targets(ORG, "p-0123456789") == []
    with store.transaction() as uow:
        uow.organizations.delete(ORG)
    with store.transaction(readonly=True) as uow:
        assert uow.organizations.find(ORG) is None and uow.organizations.member(ACCOUNT) is None
        assert uow.organizations.ous(ORG) == [] and uow.organizations.policies(ORG) == []
        assert uow.accounts.get(ACCOUNT).organization_id is None
