"""The organization itself: CreateOrganization, DescribeOrganization, DeleteOrganization, its root
(ListRoots) and the policy types enabled in it (EnablePolicyType, DisablePolicyType)."""

from __future__ import annotations

from typing import Any

from iamd.services.framework import OperationContext, operation
from iamd.services.organizations.accounts import SLR_NAME, SLR_PATH, ensure_service_linked_role
from iamd.services.organizations.common import (
    FULL_ACCESS_FOR,
    ORGANIZATIONS_PRINCIPAL,
    POLICY_TYPES,
    SCP,
    SERVICE,
    account_arn,
    authorize,
    caller_org,
    constraint,
    enabled_types,
    error,
    management,
    manager,
    new_id,
    org_arn,
    paged,
    render_root,
    root_arn,
)
from iamd.store.organizations import OrganizationRecord
from iamd.wire import AccessDenied

__all__ = ["render_organization"]


def render_organization(ctx: OperationContext, org: OrganizationRecord) -> dict[str, Any]:
    manager_account = ctx.uow.accounts.get(org.management_account_id)
    types = enabled_types(ctx, org)
    return {
        "Id": org.id,
        "Arn": org_arn(org),
        "FeatureSet": org.feature_set,
        "MasterAccountArn": account_arn(org, org.management_account_id),
        "MasterAccountId": org.management_account_id,
        "MasterAccountEmail": manager_account.email or f"root@{org.management_account_id}.iamd.local",
        # Deprecated by AWS ("use ListRoots"), still filled as AWS's example shows it.
        "AvailablePolicyTypes": [{"Type": t, "Status": s} for t, s in sorted(types.items()) if t == SCP],
    }


@operation(SERVICE, "CreateOrganization")
def create_organization(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    authorize(ctx)
    if ctx.uow.organizations.member(ctx.account_id) is not None:
        raise error(
            "AlreadyInOrganizationException",
            f"Account {ctx.account_id} is already a member of an organization.",
        )
    feature_set = params.get("FeatureSet") or "ALL"
    # The caller must be able to create Organizations' service-linked role in its account.
    try:
        ctx.authorize(
            "iam:CreateServiceLinkedRole",
            f"arn:aws:iam::{ctx.account_id}:role{SLR_PATH}{SLR_NAME}",
            {"iam:AWSServiceName": ORGANIZATIONS_PRINCIPAL},
        )
    except AccessDenied:
        raise error(
            "AccessDeniedForDependencyException",
            "CreateOrganization needs iam:CreateServiceLinkedRole to create AWSServiceRoleForOrganizations.",
            "ACCESS_DENIED_DURING_CREATE_SERVICE_LINKED_ROLE",
        ) from None
    org = ctx.uow.organizations.create(
        new_id(ctx, "o-", 10),
        management_account_id=ctx.account_id,
        feature_set=feature_set,
        root_id=new_id(ctx, "r-", 4),
        root_name="Root",
        created_at=ctx.now,
    )
    ensure_service_linked_role(ctx, ctx.account_id)
    if feature_set == "ALL":
        # SCPs are enabled on the new root with FullAWSAccess attached (CreateOrganization's docs).
        _enable(ctx, org, SCP)
    return {"Organization": render_organization(ctx, org)}


@operation(SERVICE, "DescribeOrganization", readonly=True)
def describe_organization(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    authorize(ctx)
    org, _ = caller_org(ctx)
    return {"Organization": render_organization(ctx, org)}


@operation(SERVICE, "DeleteOrganization")
def delete_organization(ctx: OperationContext, params: dict[str, Any]) -> None:
    authorize(ctx)
    org = management(ctx)
    others = [m for m in ctx.uow.organizations.members(org.id) if m.account_id != org.management_account_id]
    if others:
        raise error(
            "OrganizationNotEmptyException",
            f"Organization {org.id} still has {len(others)} member account(s); remove them before "
            "deleting the organization.",
        )
    ctx.uow.organizations.delete(org.id)
    return None


@operation(SERVICE, "ListRoots", readonly=True)
def list_roots(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    authorize(ctx)
    org = manager(ctx)
    return paged("Roots", params, [org], lambda o: render_root(ctx, o))


def _root(ctx: OperationContext, org: OrganizationRecord, root_id: str) -> None:
    if root_id != org.root_id:
        raise error("RootNotFoundException", f"Root {root_id} does not exist in organization {org.id}.")


def _enable(ctx: OperationContext, org: OrganizationRecord, policy_type: str) -> None:
    """Enable ``policy_type`` on the root; an authorization type's full-access policy goes on the
    root, every OU and every account."""
    repo = ctx.uow.organizations
    repo.set_policy_type(org.id, policy_type, "ENABLED")
    managed = FULL_ACCESS_FOR.get(policy_type)
    if managed is not None:
        targets = [
            org.root_id,
            *(ou.id for ou in repo.ous(org.id)),
            *(m.account_id for m in repo.members(org.id)),
        ]
        for target in targets:
            repo.attach(org.id, managed.id, target, policy_type)
        repo.changed(org.id)


@operation(SERVICE, "EnablePolicyType")
def enable_policy_type(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    org, _ = caller_org(ctx)
    authorize(ctx, root_arn(org), {"organizations:PolicyType": params["PolicyType"]})
    org = manager(ctx)
    _root(ctx, org, params["RootId"])
    policy_type = params["PolicyType"]
    if org.feature_set != "ALL":
        raise error(
            "PolicyTypeNotAvailableForOrganizationException",
            "Policy types are available only in an organization with all features enabled.",
        )
    info = POLICY_TYPES[policy_type]
    if enabled_types(ctx, org).get(policy_type) == "ENABLED":
        raise error("PolicyTypeAlreadyEnabledException", f"The policy type {policy_type} is already enabled.")
    if info.service is not None and info.service not in ctx.uow.organizations.service_access(org.id):
        raise constraint(
            "SERVICE_ACCESS_NOT_ENABLED",
            f"Enable trusted access for {info.service} before enabling {policy_type}.",
        )
    _enable(ctx, org, policy_type)
    return {"Root": render_root(ctx, org)}


@operation(SERVICE, "DisablePolicyType")
def disable_policy_type(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    org, _ = caller_org(ctx)
    authorize(ctx, root_arn(org), {"organizations:PolicyType": params["PolicyType"]})
    org = manager(ctx)
    _root(ctx, org, params["RootId"])
    policy_type = params["PolicyType"]
    if enabled_types(ctx, org).get(policy_type) != "ENABLED":
        raise error(
            "PolicyTypeNotEnabledException", f"The policy type {policy_type} is not enabled in {org.root_id}."
        )
    # Disabling detaches every policy of the type everywhere; enabling again restores only the
    # full-access policy (orgs_manage_policies_scps.html, 2022 text).
    repo = ctx.uow.organizations
    repo.detach_type(org.id, policy_type)
    repo.set_policy_type(org.id, policy_type, None)
    repo.changed(org.id)
    return {"Root": render_root(ctx, org)}


@operation(SERVICE, "EnableAllFeatures")
def enable_all_features(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    authorize(ctx)
    org = management(ctx)
    if org.feature_set == "ALL":
        raise error(
            "HandshakeConstraintViolationException",
            f"Organization {org.id} already has all features enabled.",
            "ORGANIZATION_ALREADY_HAS_ALL_FEATURES",
        )
    raise constraint(
        "ORGANIZATION_NOT_IN_ALL_FEATURES_MODE",
        "iamd does not run the all-features migration (ENABLE_ALL_FEATURES handshakes); create the "
        "organization with FeatureSet ALL instead.",
    )
