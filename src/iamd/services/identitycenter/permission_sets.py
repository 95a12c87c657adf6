"""Permission sets: Create/Describe/Update/Delete/List, their AWS managed policies, customer managed
policy references, inline policy and permissions boundary (spec §3.1).

A change to a set changes no role already provisioned: its revision goes up, the accounts show as
``LATEST_PERMISSION_SET_NOT_PROVISIONED``, and ``ProvisionPermissionSet`` brings them up to date.
"""

from __future__ import annotations

from typing import Any, Final

from iamd.policy import PolicyKind
from iamd.policy.acceptance import first_refusal
from iamd.services.framework import OperationContext, operation
from iamd.services.identitycenter.common import (
    access_denied,
    authorize,
    check_session_duration,
    conflict,
    hex_id,
    instance_for,
    management_account,
    multi_account,
    not_found,
    page,
    page_list,
    permission_set_arn,
    permission_set_for,
    quota,
    request_tags,
    tag_map,
    validation,
)
from iamd.services.identitycenter.provisioning import aws_managed_policy, deprovision
from iamd.store.errors import AlreadyExists
from iamd.store.identity_center import InstanceRecord, PermissionSetRecord

SERVICE: Final = "sso-admin"
MAX_PERMISSION_SETS: Final = 2000
"""Permission sets per instance (the Identity Center quotas page)."""
MAX_POLICIES: Final = 20
"""AWS managed and customer managed policies together, per permission set."""
DEFAULT_SESSION: Final = "PT1H"


def render(permission_set: PermissionSetRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Name": permission_set.name,
        "PermissionSetArn": permission_set.arn,
        "CreatedDate": permission_set.created_at,
        "SessionDuration": permission_set.session_duration,
    }
    if permission_set.description is not None:
        out["Description"] = permission_set.description
    if permission_set.relay_state is not None:
        out["RelayState"] = permission_set.relay_state
    return out


def _set(
    ctx: OperationContext, params: dict[str, Any], context: dict[str, object] | None = None
) -> tuple[InstanceRecord, PermissionSetRecord]:
    instance = instance_for(ctx, params["InstanceArn"])
    multi_account(instance)
    return instance, permission_set_for(ctx, instance, params["PermissionSetArn"], context)


def _changing(ctx: OperationContext, params: dict[str, Any]) -> tuple[InstanceRecord, PermissionSetRecord]:
    """The set a write names. A delegated administrator may not change a set provisioned to the
    management account (User Guide, troubleshooting: "You can't delete/modify/remove/assign access
    to permission sets provisioned in the management account")."""
    instance, permission_set = _set(ctx, params)
    if ctx.account_id != instance.owner_account_id:
        managed = management_account(ctx, instance)
        if ctx.uow.identity_center.find_provisioned(permission_set.arn, managed or "") is not None:
            raise access_denied(
                f"Account {ctx.account_id} is a delegated administrator: it cannot change PermissionSet "
                f"{permission_set.arn}, which is provisioned to the management account {managed}."
            )
    return instance, permission_set


@operation(SERVICE, "CreatePermissionSet")
def create_permission_set(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    tags = tag_map(params.get("Tags"))
    instance = instance_for(ctx, params["InstanceArn"], request_tags(tags))
    arn = permission_set_arn(instance, f"ps-{hex_id(ctx, 16)}")
    authorize(ctx, arn, request_tags(tags))  # the action's other resource type: the new set
    multi_account(instance)
    duration = params.get("SessionDuration") or DEFAULT_SESSION
    check_session_duration(duration)
    ic = ctx.uow.identity_center
    name = params["Name"]
    if ic.find_permission_set_by_name(instance.arn, name) is not None:
        raise conflict(f"PermissionSet with name {name} already exists.")
    if ic.count_permission_sets(instance.arn) >= MAX_PERMISSION_SETS:
        raise quota(
            f"The instance {instance.arn} already has {MAX_PERMISSION_SETS} permission sets, its quota."
        )
    try:
        permission_set = ic.create_permission_set(
            arn=arn,
            instance_arn=instance.arn,
            name=name,
            description=params.get("Description"),
            session_duration=duration,
            relay_state=params.get("RelayState"),
            tags=tags,
            now=ctx.now,
        )
    except AlreadyExists:
        raise conflict(f"PermissionSet with name {name} already exists.") from None
    return {"PermissionSet": render(permission_set)}


@operation(SERVICE, "DescribePermissionSet", readonly=True)
def describe_permission_set(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    _, permission_set = _set(ctx, params)
    return {"PermissionSet": render(permission_set)}


@operation(SERVICE, "ListPermissionSets", readonly=True)
def list_permission_sets(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    instance = instance_for(ctx, params["InstanceArn"])
    multi_account(instance)
    return page(
        params,
        "PermissionSets",
        lambda marker, size: ctx.uow.identity_center.list_permission_sets(
            instance.arn, marker=marker, max_items=size
        ),
        lambda p: p.arn,
    )


@operation(SERVICE, "UpdatePermissionSet")
def update_permission_set(ctx: OperationContext, params: dict[str, Any]) -> None:
    _, permission_set = _changing(ctx, params)
    changes: dict[str, Any] = {}
    if "SessionDuration" in params:
        check_session_duration(params["SessionDuration"])
        changes["session_duration"] = params["SessionDuration"]
    if "Description" in params:
        changes["description"] = params["Description"]
    if "RelayState" in params:
        changes["relay_state"] = params["RelayState"]
    if changes:
        ctx.uow.identity_center.update_permission_set(permission_set.arn, **changes)


@operation(SERVICE, "DeletePermissionSet")
def delete_permission_set(ctx: OperationContext, params: dict[str, Any]) -> None:
    instance, permission_set = _changing(ctx, params)
    ic = ctx.uow.identity_center
    if ic.count_assignments(permission_set.arn):
        raise conflict(
            f"Could not delete because PermissionSet {permission_set.arn} has account assignments: "
            "delete them first."
        )
    for provisioned in ic.provisioned_for_permission_set(permission_set.arn):
        deprovision(ctx, instance, permission_set.arn, provisioned.target_id)
    ic.delete_permission_set(permission_set.arn)


# -- AWS managed policies --------------------------------------------------------------------------


def _policy_count(permission_set: PermissionSetRecord) -> int:
    return len(permission_set.managed_policies) + len(permission_set.customer_policies)


def _room_for_one(permission_set: PermissionSetRecord) -> None:
    if _policy_count(permission_set) >= MAX_POLICIES:
        raise quota(
            f"PermissionSet {permission_set.arn} already has {MAX_POLICIES} managed policies (AWS managed "
            "and customer managed together), its quota."
        )


@operation(SERVICE, "AttachManagedPolicyToPermissionSet")
def attach_managed_policy(ctx: OperationContext, params: dict[str, Any]) -> None:
    _, permission_set = _changing(ctx, params)
    arn = params["ManagedPolicyArn"]
    if aws_managed_policy(ctx, arn) is None:
        raise validation(f"Policy {arn} does not exist: ManagedPolicyArn names an AWS managed policy.")
    if arn in permission_set.managed_policies:
        raise conflict(f"Managed policy {arn} is already attached to PermissionSet {permission_set.arn}.")
    _room_for_one(permission_set)
    ctx.uow.identity_center.update_permission_set(
        permission_set.arn, managed_policies=[*permission_set.managed_policies, arn]
    )


@operation(SERVICE, "DetachManagedPolicyFromPermissionSet")
def detach_managed_policy(ctx: OperationContext, params: dict[str, Any]) -> None:
    _, permission_set = _changing(ctx, params)
    arn = params["ManagedPolicyArn"]
    if arn not in permission_set.managed_policies:
        raise not_found(f"Managed policy {arn} is not attached to PermissionSet {permission_set.arn}.")
    ctx.uow.identity_center.update_permission_set(
        permission_set.arn, managed_policies=[p for p in permission_set.managed_policies if p != arn]
    )


@operation(SERVICE, "ListManagedPoliciesInPermissionSet", readonly=True)
def list_managed_policies(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    _, permission_set = _set(ctx, params)
    return page_list(
        params,
        "AttachedManagedPolicies",
        list(permission_set.managed_policies),
        lambda arn: {"Name": arn.rsplit("/", 1)[1], "Arn": arn},
    )


# -- customer managed policy references ------------------------------------------------------------


def _reference(params: dict[str, Any]) -> tuple[str, str]:
    ref = params["CustomerManagedPolicyReference"]
    return ref["Name"], ref.get("Path") or "/"


@operation(SERVICE, "AttachCustomerManagedPolicyReferenceToPermissionSet")
def attach_customer_policy(ctx: OperationContext, params: dict[str, Any]) -> None:
    _, permission_set = _changing(ctx, params)
    name, path = _reference(params)
    if any(n == name and p == path for n, p in permission_set.customer_policies):
        raise conflict(
            f"Customer managed policy {path}{name} is already attached to PermissionSet {permission_set.arn}."
        )
    _room_for_one(permission_set)
    ctx.uow.identity_center.update_permission_set(
        permission_set.arn, customer_policies=[*permission_set.customer_policies, (name, path)]
    )


@operation(SERVICE, "DetachCustomerManagedPolicyReferenceFromPermissionSet")
def detach_customer_policy(ctx: OperationContext, params: dict[str, Any]) -> None:
    _, permission_set = _changing(ctx, params)
    name, path = _reference(params)
    if (name, path) not in permission_set.customer_policies:
        raise not_found(
            f"Customer managed policy {path}{name} is not attached to PermissionSet {permission_set.arn}."
        )
    ctx.uow.identity_center.update_permission_set(
        permission_set.arn,
        customer_policies=[r for r in permission_set.customer_policies if r != (name, path)],
    )


@operation(SERVICE, "ListCustomerManagedPolicyReferencesInPermissionSet", readonly=True)
def list_customer_policies(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    _, permission_set = _set(ctx, params)
    return page_list(
        params,
        "CustomerManagedPolicyReferences",
        list(permission_set.customer_policies),
        lambda ref: {"Name": ref[0], "Path": ref[1]},
    )


# -- the inline policy -----------------------------------------------------------------------------


@operation(SERVICE, "PutInlinePolicyToPermissionSet")
def put_inline_policy(ctx: OperationContext, params: dict[str, Any]) -> None:
    _, permission_set = _changing(ctx, params)
    document = params["InlinePolicy"]
    refusal = first_refusal(document, PolicyKind.INLINE_ROLE)
    if refusal is not None:
        if refusal.code == "LimitExceeded":
            raise quota(f"The inline policy is too large: {refusal.message}")
        raise validation(f"The inline policy is not a valid IAM policy: {refusal.message}")
    ctx.uow.identity_center.update_permission_set(permission_set.arn, inline_policy=document)


@operation(SERVICE, "GetInlinePolicyForPermissionSet", readonly=True)
def get_inline_policy(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    _, permission_set = _set(ctx, params)
    return {"InlinePolicy": permission_set.inline_policy} if permission_set.inline_policy is not None else {}


@operation(SERVICE, "DeleteInlinePolicyFromPermissionSet")
def delete_inline_policy(ctx: OperationContext, params: dict[str, Any]) -> None:
    _, permission_set = _changing(ctx, params)
    if permission_set.inline_policy is not None:
        ctx.uow.identity_center.update_permission_set(permission_set.arn, inline_policy=None)


# -- the permissions boundary ----------------------------------------------------------------------


@operation(SERVICE, "PutPermissionsBoundaryToPermissionSet")
def put_boundary(ctx: OperationContext, params: dict[str, Any]) -> None:
    _, permission_set = _changing(ctx, params)
    boundary = params["PermissionsBoundary"]
    managed, reference = boundary.get("ManagedPolicyArn"), boundary.get("CustomerManagedPolicyReference")
    if (managed is None) == (reference is None):
        raise validation(
            "PermissionsBoundary takes exactly one of ManagedPolicyArn or CustomerManagedPolicyReference."
        )
    value: dict[str, Any]
    if managed is not None:
        if aws_managed_policy(ctx, managed) is None:
            raise validation(
                f"Policy {managed} does not exist: ManagedPolicyArn names an AWS managed policy."
            )
        value = {"ManagedPolicyArn": managed}
    else:
        value = {
            "CustomerManagedPolicyReference": {
                "Name": reference["Name"],
                "Path": reference.get("Path") or "/",
            }
        }
    ctx.uow.identity_center.update_permission_set(permission_set.arn, boundary=value)


@operation(SERVICE, "GetPermissionsBoundaryForPermissionSet", readonly=True)
def get_boundary(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    _, permission_set = _set(ctx, params)
    if permission_set.boundary is None:
        raise not_found(f"PermissionSet {permission_set.arn} has no permissions boundary.")
    return {"PermissionsBoundary": permission_set.boundary}


@operation(SERVICE, "DeletePermissionsBoundaryFromPermissionSet")
def delete_boundary(ctx: OperationContext, params: dict[str, Any]) -> None:
    _, permission_set = _changing(ctx, params)
    if permission_set.boundary is None:
        raise not_found(f"PermissionSet {permission_set.arn} has no permissions boundary.")
    ctx.uow.identity_center.update_permission_set(permission_set.arn, boundary=None)
