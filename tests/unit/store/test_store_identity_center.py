"""The Identity Center repository: one instance per account, permission set names unique per
instance, assignments and provisioning records, request records, ABAC attributes, what a person
may use through the portal, and deleting an instance leaving nothing behind."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from iamd.store import AlreadyExists, Store
from iamd.store.errors import InvalidMarker
from iamd.store.identity_center import ASSIGNMENT_CREATION, PROVISIONING, AccessControlAttribute

ACCOUNT = "111122223333"  # created by the store fixture (conftest.py)
OTHER_ACCOUNT = "444455556666"
MEMBER = "555566667777"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
INSTANCE = "arn:aws:sso:::instance/ssoins-0123456789abcdef"
PS = "arn:aws:sso:::permissionSet/ssoins-0123456789abcdef/ps-{}"
USER = "9067729b3d-f987ac4d-0000-4000-8000-000000000001"
GROUP = "9067729b3d-f987ac4d-0000-4000-8000-000000000002"
OTHER_USER = "9067729b3d-f987ac4d-0000-4000-8000-000000000003"


def _instance(
    store: Store, *, arn: str = INSTANCE, owner: str = ACCOUNT, store_id: str = "d-0123456789"
) -> None:
    with store.transaction() as uow:
        uow.identity_center.create_instance(
            arn=arn,
            owner_account_id=owner,
            organization_id="o-abcdefghij",
            identity_store_id=store_id,
            name="main",
            region="us-east-1",
            provider_suffix="16bea4beac9024d7",
            client_token=None,
            request=None,
            tags={"team": "platform"},
            now=NOW,
        )


def _permission_set(store: Store, suffix: str, name: str, duration: str = "PT1H") -> str:
    arn = PS.format(suffix)
    with store.transaction() as uow:
        uow.identity_center.create_permission_set(
            arn=arn,
            instance_arn=INSTANCE,
            name=name,
            description=None,
            session_duration=duration,
            relay_state=None,
            tags={},
            now=NOW,
        )
    return arn


def test_an_account_holds_one_instance_and_lookups_find_it(store: Store) -> None:
    _instance(store)
    with pytest.raises(AlreadyExists):
        _instance(store, arn="arn:aws:sso:::instance/ssoins-1111111111111111", store_id="d-1111111111")
    with store.transaction(readonly=True) as uow:
        ic = uow.identity_center
        found = ic.instance_of_account(ACCOUNT)
        assert found is not None and found.id == "ssoins-0123456789abcdef" and found.status == "ACTIVE"
        assert found.is_organization_instance and found.tags == {"team": "platform"}
        assert ic.instance_by_identity_store("d-0123456789") == found
        assert ic.instance_of_organization("o-abcdefghij") == found
        assert ic.instance_of_account(OTHER_ACCOUNT) is None


def test_permission_set_names_are_unique_per_instance_and_changes_bump_the_revision(store: Store) -> None:
    _instance(store)
    arn = _permission_set(store, "0000000000000001", "ReadOnly")
    with pytest.raises(AlreadyExists):
        _permission_set(store, "0000000000000002", "ReadOnly")
    with store.transaction() as uow:
        changed = uow.identity_center.update_permission_set(
            arn,
            managed_policies=["arn:aws:iam::aws:policy/ReadOnlyAccess"],
            customer_policies=[("Audit", "/team/")],
            inline_policy='{"Version":"2012-10-17","Statement":[]}',
            boundary={"ManagedPolicyArn": "arn:aws:iam::aws:policy/PowerUserAccess"},
        )
        assert changed.revision == 2
        assert changed.customer_policies == (("Audit", "/team/"),)
        uow.identity_center.set_permission_set_tags(arn, {"k": "v"})
    with store.transaction(readonly=True) as uow:
        again = uow.identity_center.get_permission_set(arn)
        assert again.revision == 2 and again.tags == {"k": "v"}
        assert again.managed_policies == ("arn:aws:iam::aws:policy/ReadOnlyAccess",)


def test_permission_sets_page_with_markers(store: Store) -> None:
    _instance(store)
    arns = [_permission_set(store, f"{i:016x}", f"Set{i}") for i in range(5)]
    with store.transaction(readonly=True) as uow:
        first, marker = uow.identity_center.list_permission_sets(INSTANCE, max_items=3)
        assert marker is not None
        second, end = uow.identity_center.list_permission_sets(INSTANCE, marker=marker, max_items=3)
        assert end is None
        assert [p.arn for p in first + second] == sorted(arns)
        with pytest.raises(InvalidMarker):
            uow.identity_center.list_permission_sets(INSTANCE, marker="not-a-marker")


def test_access_for_a_user_counts_direct_and_group_assignments_that_are_provisioned(store: Store) -> None:
    _instance(store)
    admin = _permission_set(store, "00000000000000aa", "Admin", "PT8H")
    read = _permission_set(store, "00000000000000bb", "ReadOnly")
    with store.transaction() as uow:
        ic = uow.identity_center
        for ps, target, kind, principal in (
            (admin, MEMBER, "USER", USER),
            (read, MEMBER, "GROUP", GROUP),
            (read, OTHER_ACCOUNT, "USER", OTHER_USER),
        ):
            assert ic.add_assignment(
                instance_arn=INSTANCE,
                permission_set_arn=ps,
                target_id=target,
                principal_type=kind,
                principal_id=principal,
                now=NOW,
            )
        assert not ic.add_assignment(
            instance_arn=INSTANCE,
            permission_set_arn=admin,
            target_id=MEMBER,
            principal_type="USER",
            principal_id=USER,
            now=NOW,
        )
        for ps, target, name in (
            (admin, MEMBER, "AWSReservedSSO_Admin_1234567890abcdef"),
            (read, MEMBER, "AWSReservedSSO_ReadOnly_fedcba0987654321"),
            (read, OTHER_ACCOUNT, "AWSReservedSSO_ReadOnly_0000000000000000"),
        ):
            ic.set_provisioned(
                permission_set_arn=ps,
                target_id=target,
                instance_arn=INSTANCE,
                role_name=name,
                role_path="/aws-reserved/sso.amazonaws.com/",
                revision=1,
                now=NOW,
            )
    with store.transaction(readonly=True) as uow:
        ic = uow.identity_center
        direct_only = ic.access_for(INSTANCE, USER, [])
        assert [(a.account_id, a.permission_set_name, a.session_duration) for a in direct_only] == [
            (MEMBER, "Admin", "PT8H")
        ]
        assert direct_only[0].role_arn == (
            f"arn:aws:iam::{MEMBER}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_1234567890abcdef"
        )
        with_group = ic.access_for(INSTANCE, USER, [GROUP, GROUP])
        assert [(a.account_id, a.permission_set_name) for a in with_group] == [
            (MEMBER, "Admin"),
            (MEMBER, "ReadOnly"),
        ]
        assert ic.access_for(INSTANCE, "nobody", []) == ()
        assert ic.count_assignments(read) == 2 and ic.count_assignments(read, MEMBER) == 1
    with store.transaction() as uow:
        assert uow.identity_center.remove_assignment(admin, MEMBER, "USER", USER)
        assert not uow.identity_center.remove_assignment(admin, MEMBER, "USER", USER)
    with store.transaction(readonly=True) as uow:
        # Still provisioned, but no longer assigned to the user: not theirs to use.
        assert [a.permission_set_name for a in uow.identity_center.access_for(INSTANCE, USER, [])] == []


def test_access_control_attributes_are_none_until_configured(store: Store) -> None:
    _instance(store)
    with store.transaction() as uow:
        assert uow.identity_center.access_control_attributes(INSTANCE) is None
        uow.identity_center.set_access_control_attributes(
            INSTANCE, [{"Key": "CostCenter", "Value": {"Source": ["${path:enterprise.costCenter}"]}}]
        )
    with store.transaction(readonly=True) as uow:
        assert uow.identity_center.access_control_attributes(INSTANCE) == (
            AccessControlAttribute("CostCenter", "${path:enterprise.costCenter}"),
        )


def test_request_records_are_found_by_kind_and_listed_by_status(store: Store) -> None:
    _instance(store)
    with store.transaction() as uow:
        for i, status in enumerate(("SUCCEEDED", "FAILED", "SUCCEEDED")):
            uow.identity_center.add_request(
                request_id=f"00000000-0000-4000-8000-00000000000{i}",
                instance_arn=INSTANCE,
                kind=ASSIGNMENT_CREATION,
                status=status,
                failure_reason="nope" if status == "FAILED" else None,
                target_id=MEMBER,
                target_type="AWS_ACCOUNT",
                permission_set_arn=None,
                now=NOW,
            )
    with store.transaction(readonly=True) as uow:
        ic = uow.identity_center
        one = "00000000-0000-4000-8000-000000000001"
        assert ic.find_request(INSTANCE, ASSIGNMENT_CREATION, one) is not None
        assert ic.find_request(INSTANCE, PROVISIONING, one) is None
        failed, _ = ic.list_requests(INSTANCE, ASSIGNMENT_CREATION, status="FAILED")
        assert [(r.request_id, r.failure_reason) for r in failed] == [(one, "nope")]
        every, _ = ic.list_requests(INSTANCE, ASSIGNMENT_CREATION)
        assert len(every) == 3


def test_deleting_an_instance_removes_everything_under_it(store: Store) -> None:
    _instance(store)
    ps = _permission_set(store, "00000000000000cc", "Ops")
    with store.transaction() as uow:
        ic = uow.identity_center
        ic.add_assignment(
            instance_arn=INSTANCE,
            permission_set_arn=ps,
            target_id=MEMBER,
            principal_type="USER",
            principal_id=USER,
            now=NOW,
        )
        ic.set_provisioned(
            permission_set_arn=ps,
            target_id=MEMBER,
            instance_arn=INSTANCE,
            role_name="AWSReservedSSO_Ops_0000000000000001",
            role_path="/aws-reserved/sso.amazonaws.com/",
            revision=1,
            now=NOW,
        )
        ic.add_request(
            request_id="00000000-0000-4000-8000-0000000000ff",
            instance_arn=INSTANCE,
            kind=PROVISIONING,
            status="SUCCEEDED",
            failure_reason=None,
            target_id=MEMBER,
            target_type="AWS_ACCOUNT",
            permission_set_arn=ps,
            now=NOW,
        )
    with store.transaction() as uow:
        uow.identity_center.delete_instance(INSTANCE)
    with store.transaction(readonly=True) as uow:
        ic = uow.identity_center
        assert ic.find_instance(INSTANCE) is None and ic.find_permission_set(ps) is None
        assert ic.provisioned_in_account(INSTANCE, MEMBER) == ()
        assert ic.list_requests(INSTANCE, PROVISIONING)[0] == []
    _instance(store)  # the account may enable an instance again
