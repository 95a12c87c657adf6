"""Inline policies of users, groups and roles: Put/Get/Delete/List{User,Group,Role}Policy(ies).

AWS's aggregate quotas: all the inline policies of a user may hold 2,048 characters (not counting
white space), of a group 5,120, of a role 10,240.
"""

from __future__ import annotations

from typing import Any

from iamd.policy import PolicyKind, policy_size
from iamd.services.framework import OperationContext, operation
from iamd.services.iam.common import check_document, encode_document, list_params, page_output
from iamd.services.iam.lookups import (
    boundary_context,
    find_group_authorized,
    find_role_authorized,
    refuse_service_linked,
    role_and_inline_ahead,
    role_named_ahead,
    user_and_inline_ahead,
    user_named_ahead,
)
from iamd.services.iam.users import find_user_authorized
from iamd.store.records import PrincipalKind
from iamd.wire import LimitExceeded, NoSuchEntity

_KINDS = {"user": PolicyKind.INLINE_USER, "group": PolicyKind.INLINE_GROUP, "role": PolicyKind.INLINE_ROLE}
_NAME_KEY = {"user": "UserName", "group": "GroupName", "role": "RoleName"}


def _principal(
    ctx: OperationContext, kind: PrincipalKind, action: str, name: str, *, changes: bool
) -> tuple[str, str]:
    """Authorize ``action`` on the user, group or role; its (id, name). Changes carry the entity's
    permissions boundary as iam:PermissionsBoundary."""
    extra = boundary_context(ctx, kind, name) if changes else {}
    if kind == "user":
        user = find_user_authorized(ctx, action, name, extra)
        return user.id, user.name
    if kind == "group":
        group = find_group_authorized(ctx, action, name)
        return group.id, group.name
    role = find_role_authorized(ctx, action, name, extra)
    if changes:
        refuse_service_linked(role)
    return role.id, role.name


def inline_size(
    ctx: OperationContext, kind: PrincipalKind, principal_id: str, *, except_name: str | None = None
) -> int:
    """Characters (without white space) in a principal's inline policies, leaving one out (read
    in one query)."""
    leave_out = except_name.lower() if except_name is not None else None
    return sum(
        policy_size(document)
        for found_name, document in ctx.uow.inline_policies.documents(kind, principal_id)
        if found_name.lower() != leave_out
    )


def put(ctx: OperationContext, kind: PrincipalKind, params: dict[str, Any]) -> None:
    action = f"iam:Put{kind.capitalize()}Policy"
    principal_id, name = _principal(ctx, kind, action, params[_NAME_KEY[kind]], changes=True)
    policy_name, document = params["PolicyName"], params["PolicyDocument"]
    policy_kind = _KINDS[kind]
    total = inline_size(ctx, kind, principal_id, except_name=policy_name) + policy_size(document)
    if total > policy_kind.max_size:
        raise LimitExceeded(f"Maximum policy size of {policy_kind.max_size} bytes exceeded for {kind} {name}")
    check_document(document, policy_kind)
    # A user's or role's policies are its own (a group's reach its members: shared).
    with ctx.uow.principal_scoped(ctx.account_id, kind, principal_id):
        ctx.uow.inline_policies.put(ctx.account_id, kind, principal_id, policy_name, document)


def get(ctx: OperationContext, kind: PrincipalKind, params: dict[str, Any]) -> dict[str, Any]:
    action = f"iam:Get{kind.capitalize()}Policy"
    principal_id, name = _principal(ctx, kind, action, params[_NAME_KEY[kind]], changes=False)
    found = ctx.uow.inline_policies.find(kind, principal_id, params["PolicyName"])
    if found is None:
        raise NoSuchEntity(f"The {kind} policy with name {params['PolicyName']} cannot be found.")
    return {
        _NAME_KEY[kind]: name,
        "PolicyName": found.name,
        "PolicyDocument": encode_document(found.document),
    }


def delete(ctx: OperationContext, kind: PrincipalKind, params: dict[str, Any]) -> None:
    action = f"iam:Delete{kind.capitalize()}Policy"
    principal_id, _ = _principal(ctx, kind, action, params[_NAME_KEY[kind]], changes=True)
    if ctx.uow.inline_policies.find(kind, principal_id, params["PolicyName"]) is None:
        raise NoSuchEntity(f"The {kind} policy with name {params['PolicyName']} cannot be found.")
    with ctx.uow.principal_scoped(ctx.account_id, kind, principal_id):
        ctx.uow.inline_policies.delete(kind, principal_id, params["PolicyName"])


def list_names(ctx: OperationContext, kind: PrincipalKind, params: dict[str, Any]) -> dict[str, Any]:
    action = f"iam:List{kind.capitalize()}Policies"
    principal_id, _ = _principal(ctx, kind, action, params[_NAME_KEY[kind]], changes=False)
    marker, max_items = list_params(params)
    page = ctx.uow.inline_policies.list_names(kind, principal_id, marker=marker, max_items=max_items)
    return page_output(page, "PolicyNames", lambda name: name)


@operation("iam", "PutUserPolicy", prefetch=user_and_inline_ahead)
def put_user_policy(ctx: OperationContext, params: dict[str, Any]) -> None:
    put(ctx, "user", params)


@operation("iam", "PutGroupPolicy")
def put_group_policy(ctx: OperationContext, params: dict[str, Any]) -> None:
    put(ctx, "group", params)


@operation("iam", "PutRolePolicy", prefetch=role_and_inline_ahead)
def put_role_policy(ctx: OperationContext, params: dict[str, Any]) -> None:
    put(ctx, "role", params)


@operation("iam", "GetUserPolicy", readonly=True, prefetch=user_named_ahead)
def get_user_policy(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    return get(ctx, "user", params)


@operation("iam", "GetGroupPolicy", readonly=True)
def get_group_policy(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    return get(ctx, "group", params)


@operation("iam", "GetRolePolicy", readonly=True, prefetch=role_named_ahead)
def get_role_policy(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    return get(ctx, "role", params)


@operation("iam", "DeleteUserPolicy", prefetch=user_named_ahead)
def delete_user_policy(ctx: OperationContext, params: dict[str, Any]) -> None:
    delete(ctx, "user", params)


@operation("iam", "DeleteGroupPolicy")
def delete_group_policy(ctx: OperationContext, params: dict[str, Any]) -> None:
    delete(ctx, "group", params)


@operation("iam", "DeleteRolePolicy", prefetch=role_named_ahead)
def delete_role_policy(ctx: OperationContext, params: dict[str, Any]) -> None:
    delete(ctx, "role", params)


@operation("iam", "ListUserPolicies", readonly=True, prefetch=user_named_ahead)
def list_user_policies(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    return list_names(ctx, "user", params)


@operation("iam", "ListGroupPolicies", readonly=True)
def list_group_policies(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    return list_names(ctx, "group", params)


@operation("iam", "ListRolePolicies", readonly=True, prefetch=role_named_ahead)
def list_role_policies(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    return list_names(ctx, "role", params)
