"""Managed policies attached to users, groups and roles: Attach/Detach{User,Group,Role}Policy and
ListAttached{User,Group,Role}Policies. At most 10 managed policies per entity (AWS's default)."""

from __future__ import annotations

from typing import Any

from iamd.services.framework import OperationContext, operation
from iamd.services.iam.common import list_params, page_output, policy_arn
from iamd.services.iam.lookups import (
    PolicyNotAttachable,
    boundary_context,
    find_group_authorized,
    find_policy,
    find_role_authorized,
    refuse_service_linked,
    role_and_policy_ahead,
    role_named_ahead,
    user_and_policy_ahead,
    user_named_ahead,
)
from iamd.services.iam.users import find_user_authorized
from iamd.store.errors import NotFound
from iamd.store.records import ManagedPolicyRecord, PrincipalKind
from iamd.wire import InvalidInput, LimitExceeded, NoSuchEntity, ValidationError

MAX_ATTACHED = 10

_QUOTA_NAME = {"user": "PoliciesPerUser", "group": "PoliciesPerGroup", "role": "PoliciesPerRole"}


def _principal(
    ctx: OperationContext, kind: PrincipalKind, action: str, name: str, extra: dict[str, object]
) -> str:
    """Authorize ``action`` on the user, group or role; its id."""
    if kind == "user":
        return find_user_authorized(ctx, action, name, extra).id
    if kind == "group":
        return find_group_authorized(ctx, action, name, extra).id
    role = find_role_authorized(ctx, action, name, extra)
    if action != "iam:ListAttachedRolePolicies":
        refuse_service_linked(role)
    return role.id


def _find(ctx: OperationContext, arn: str) -> ManagedPolicyRecord | None:
    """The policy a PolicyArn parameter names. A value that is not a policy ARN is a
    ValidationError ``ARN <value> is not valid.`` here (recorded against AWS: LocalStack's
    tests/aws/services/iam/test_iam_roles.snapshot.json, non-existent-malformed-policy-arn and
    existing-policy-name-provided, recorded 2026-02-11; a 2023 recording in test_iam.snapshot.json
    still had InvalidInput, so AWS changed it), where PutRolePermissionsBoundary says InvalidInput."""
    try:
        return find_policy(ctx, arn, counts=False)  # its counts are not used here
    except InvalidInput as exc:
        raise ValidationError(exc.message) from None


def _attachable(ctx: OperationContext, arn: str) -> ManagedPolicyRecord:
    policy = _find(ctx, arn)
    if policy is None:
        raise NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")
    if not policy.is_attachable:
        raise PolicyNotAttachable(f"Policy {arn} is not attachable.")
    return policy


def attach(ctx: OperationContext, kind: PrincipalKind, params: dict[str, Any], name_key: str) -> None:
    arn = params["PolicyArn"]
    action = f"iam:Attach{kind.capitalize()}Policy"
    extra = {"iam:PolicyARN": arn, **boundary_context(ctx, kind, params[name_key])}
    principal_id = _principal(ctx, kind, action, params[name_key], extra)
    policy = _attachable(ctx, arn)
    attached = ctx.uow.policies.attached_ids(kind, principal_id)  # one read: the attach reuses it
    if policy.id in attached:
        return  # attaching again changes nothing, as in AWS
    if len(attached) >= MAX_ATTACHED:
        raise LimitExceeded(f"Cannot exceed quota for {_QUOTA_NAME[kind]}: {MAX_ATTACHED}")
    # A user's or role's policies are its own (a group's reach its members: shared).
    with ctx.uow.principal_scoped(ctx.account_id, kind, principal_id):
        ctx.uow.policies.attach(policy.id, kind, principal_id, account_id=ctx.account_id)


def detach(ctx: OperationContext, kind: PrincipalKind, params: dict[str, Any], name_key: str) -> None:
    arn = params["PolicyArn"]
    action = f"iam:Detach{kind.capitalize()}Policy"
    extra = {"iam:PolicyARN": arn, **boundary_context(ctx, kind, params[name_key])}
    principal_id = _principal(ctx, kind, action, params[name_key], extra)
    policy = _find(ctx, arn)
    if policy is None:
        raise NoSuchEntity(f"Policy {arn} was not found.")
    with ctx.uow.principal_scoped(ctx.account_id, kind, principal_id):
        try:  # one read: the attachment's row, or none (then nothing is written)
            ctx.uow.policies.detach(policy.id, kind, principal_id)
        except NotFound:
            raise NoSuchEntity(f"Policy {arn} was not found.") from None


def list_attached(
    ctx: OperationContext, kind: PrincipalKind, params: dict[str, Any], name_key: str
) -> dict[str, Any]:
    action = f"iam:ListAttached{kind.capitalize()}Policies"
    principal_id = _principal(ctx, kind, action, params[name_key], {})
    marker, max_items = list_params(params)
    page = ctx.uow.policies.attached(
        kind, principal_id, path_prefix=params.get("PathPrefix") or "/", marker=marker, max_items=max_items
    )
    return page_output(
        page, "AttachedPolicies", lambda ref: {"PolicyName": ref.name, "PolicyArn": policy_arn(ref)}
    )


@operation("iam", "AttachUserPolicy", prefetch=user_and_policy_ahead)
def attach_user_policy(ctx: OperationContext, params: dict[str, Any]) -> None:
    attach(ctx, "user", params, "UserName")


@operation("iam", "AttachGroupPolicy")
def attach_group_policy(ctx: OperationContext, params: dict[str, Any]) -> None:
    attach(ctx, "group", params, "GroupName")


@operation("iam", "AttachRolePolicy", prefetch=role_and_policy_ahead)
def attach_role_policy(ctx: OperationContext, params: dict[str, Any]) -> None:
    attach(ctx, "role", params, "RoleName")


@operation("iam", "DetachUserPolicy", prefetch=user_named_ahead)
def detach_user_policy(ctx: OperationContext, params: dict[str, Any]) -> None:
    detach(ctx, "user", params, "UserName")


@operation("iam", "DetachGroupPolicy")
def detach_group_policy(ctx: OperationContext, params: dict[str, Any]) -> None:
    detach(ctx, "group", params, "GroupName")


@operation("iam", "DetachRolePolicy", prefetch=role_named_ahead)
def detach_role_policy(ctx: OperationContext, params: dict[str, Any]) -> None:
    detach(ctx, "role", params, "RoleName")


@operation("iam", "ListAttachedUserPolicies", readonly=True, prefetch=user_named_ahead)
def list_attached_user_policies(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    return list_attached(ctx, "user", params, "UserName")


@operation("iam", "ListAttachedGroupPolicies", readonly=True)
def list_attached_group_policies(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    return list_attached(ctx, "group", params, "GroupName")


@operation("iam", "ListAttachedRolePolicies", readonly=True, prefetch=role_named_ahead)
def list_attached_role_policies(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    return list_attached(ctx, "role", params, "RoleName")
