"""Trusted access (Enable/DisableAWSServiceAccess, ListAWSServiceAccessForOrganization), delegated
administrators (Register/DeregisterDelegatedAdministrator, ListDelegatedAdministrators,
ListDelegatedServicesForAccount) and the organization's resource-based delegation policy
(Put/Describe/DeleteResourcePolicy).

A delegated administrator for ``organizations.amazonaws.com`` may call the read and policy
operations AWS opens to delegated administrators (common.manager)."""

from __future__ import annotations

import json
from typing import Any

from iamd.services.framework import OperationContext, operation
from iamd.services.organizations.accounts import member_of
from iamd.services.organizations.common import (
    POLICY_TYPES,
    SERVICE,
    authorize,
    caller_org,
    constraint,
    error,
    invalid,
    management,
    manager,
    new_id,
    paged,
    render_account,
)
from iamd.services.organizations.tags import apply_tags
from iamd.store.organizations import OrganizationRecord

MAX_RESOURCE_POLICY = 40000


def _principal(value: str) -> str:
    if not value.endswith(".amazonaws.com"):
        raise invalid("UNRECOGNIZED_SERVICE_PRINCIPAL", f"{value} is not an AWS service principal.")
    return value


@operation(SERVICE, "EnableAWSServiceAccess")
def enable_service_access(ctx: OperationContext, params: dict[str, Any]) -> None:
    authorize(ctx, "*", {"organizations:ServicePrincipal": params["ServicePrincipal"]})
    org = management(ctx)
    ctx.uow.organizations.set_service_access(org.id, _principal(params["ServicePrincipal"]), ctx.now)
    return None


@operation(SERVICE, "DisableAWSServiceAccess")
def disable_service_access(ctx: OperationContext, params: dict[str, Any]) -> None:
    authorize(ctx, "*", {"organizations:ServicePrincipal": params["ServicePrincipal"]})
    org = management(ctx)
    principal = _principal(params["ServicePrincipal"])
    types = ctx.uow.organizations.policy_types(org.id)
    for info in POLICY_TYPES.values():
        if info.service == principal and types.get(info.name) == "ENABLED":
            raise constraint(
                "POLICY_TYPE_ENABLED_FOR_THIS_SERVICE",
                f"Disable the policy type {info.name} before disabling trusted access for {principal}.",
            )
    ctx.uow.organizations.set_service_access(org.id, principal, None)
    return None


@operation(SERVICE, "ListAWSServiceAccessForOrganization", readonly=True)
def list_service_access(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    authorize(ctx)
    org = manager(ctx)
    enabled = sorted(ctx.uow.organizations.service_access(org.id).items())
    return paged(
        "EnabledServicePrincipals",
        params,
        enabled,
        lambda kv: {"ServicePrincipal": kv[0], "DateEnabled": kv[1]},
    )


@operation(SERVICE, "RegisterDelegatedAdministrator")
def register_delegated_administrator(ctx: OperationContext, params: dict[str, Any]) -> None:
    authorize(ctx, "*", {"organizations:ServicePrincipal": params["ServicePrincipal"]})
    org = management(ctx)
    principal = _principal(params["ServicePrincipal"])
    member = member_of(ctx, org, params["AccountId"])
    if member.account_id == org.management_account_id:
        raise constraint(
            "CANNOT_REGISTER_MASTER_AS_DELEGATED_ADMINISTRATOR",
            "The management account cannot be a delegated administrator.",
        )
    if member.state != "ACTIVE":
        raise constraint(
            "CANNOT_REGISTER_SUSPENDED_ACCOUNT_AS_DELEGATED_ADMINISTRATOR",
            f"Account {member.account_id} is suspended.",
        )
    if principal not in ctx.uow.organizations.service_access(org.id):
        raise constraint("SERVICE_ACCESS_NOT_ENABLED", f"Enable trusted access for {principal} first.")
    if ctx.uow.organizations.delegated_admins(
        org.id, service_principal=principal, account_id=member.account_id
    ):
        raise error(
            "AccountAlreadyRegisteredException",
            f"Account {member.account_id} is already a delegated administrator for {principal}.",
        )
    ctx.uow.organizations.register_admin(org.id, member.account_id, principal, ctx.now)
    return None


@operation(SERVICE, "DeregisterDelegatedAdministrator")
def deregister_delegated_administrator(ctx: OperationContext, params: dict[str, Any]) -> None:
    authorize(ctx, "*", {"organizations:ServicePrincipal": params["ServicePrincipal"]})
    org = management(ctx)
    member = member_of(ctx, org, params["AccountId"])
    principal = params["ServicePrincipal"]
    if not ctx.uow.organizations.delegated_admins(
        org.id, service_principal=principal, account_id=member.account_id
    ):
        raise error(
            "AccountNotRegisteredException",
            f"Account {member.account_id} is not a delegated administrator for {principal}.",
        )
    ctx.uow.organizations.deregister_admin(org.id, member.account_id, principal)
    return None


@operation(SERVICE, "ListDelegatedAdministrators", readonly=True)
def list_delegated_administrators(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    authorize(ctx)
    org = manager(ctx)
    records = ctx.uow.organizations.delegated_admins(org.id, service_principal=params.get("ServicePrincipal"))
    first: dict[str, Any] = {}
    for record in records:
        first.setdefault(record.account_id, record.enabled_at)

    def render(account_id: str) -> dict[str, Any]:
        out = render_account(ctx, org, member_of(ctx, org, account_id))
        out.pop("Paths", None)
        out["DelegationEnabledDate"] = first[account_id]
        return out

    return paged("DelegatedAdministrators", params, sorted(first), render)


@operation(SERVICE, "ListDelegatedServicesForAccount", readonly=True)
def list_delegated_services(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    authorize(ctx)
    org = manager(ctx)
    member = member_of(ctx, org, params["AccountId"])
    records = ctx.uow.organizations.delegated_admins(org.id, account_id=member.account_id)
    if not records:
        raise error(
            "AccountNotRegisteredException", f"Account {member.account_id} is not a delegated administrator."
        )
    return paged(
        "DelegatedServices",
        params,
        records,
        lambda r: {"ServicePrincipal": r.service_principal, "DelegationEnabledDate": r.enabled_at},
    )


def _render_resource_policy(org: OrganizationRecord) -> dict[str, Any]:
    return {
        "ResourcePolicySummary": {
            "Id": org.resource_policy_id,
            "Arn": f"arn:aws:organizations::{org.management_account_id}:resourcepolicy/"
            f"{org.id}/{org.resource_policy_id}",
        },
        "Content": org.resource_policy,
    }


@operation(SERVICE, "PutResourcePolicy")
def put_resource_policy(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    authorize(ctx)
    org = management(ctx)
    content = params["Content"]
    if len(content) > MAX_RESOURCE_POLICY:
        raise constraint(
            "POLICY_CONTENT_LIMIT_EXCEEDED", f"The policy exceeds {MAX_RESOURCE_POLICY} characters."
        )
    try:
        doc = json.loads(content)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or "Statement" not in doc:
        raise invalid(
            "INVALID_RESOURCE_POLICY_JSON", "The resource policy must be a JSON policy with a Statement."
        )
    policy_id = org.resource_policy_id or new_id(ctx, "rp-", 8)
    ctx.uow.organizations.set_resource_policy(org.id, policy_id, content)
    apply_tags(ctx, org, policy_id, params.get("Tags") or [])
    updated = ctx.uow.organizations.find(org.id)
    assert updated is not None
    return {
        "ResourcePolicy": {"ResourcePolicySummary": _render_resource_policy(updated)["ResourcePolicySummary"]}
    }


@operation(SERVICE, "DescribeResourcePolicy", readonly=True)
def describe_resource_policy(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    authorize(ctx)
    org, _ = caller_org(ctx)
    if org.resource_policy is None:
        raise error("ResourcePolicyNotFoundException", f"Organization {org.id} has no resource policy.")
    return {"ResourcePolicy": _render_resource_policy(org)}


@operation(SERVICE, "DeleteResourcePolicy")
def delete_resource_policy(ctx: OperationContext, params: dict[str, Any]) -> None:
    authorize(ctx)
    org = management(ctx)
    if org.resource_policy is None:
        raise error("ResourcePolicyNotFoundException", f"Organization {org.id} has no resource policy.")
    ctx.uow.organizations.set_resource_policy(org.id, None, None)
    return None
