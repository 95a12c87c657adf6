"""Finding groups, roles and managed policies for an operation, authorized first; the errors IAM
declares that the wire layer has no class for; in-memory pagination for short listings."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from typing import Final, TypeVar

from iamd.services.framework import OperationContext
from iamd.services.iam.common import entity_arn, no_such, parse_policy_arn, policy_arn, resource_tag_context
from iamd.store.records import GroupRecord, ManagedPolicyRecord, Page, RoleRecord, UserRecord
from iamd.store.schema import AWS_ACCOUNT
from iamd.store.unit import UnitOfWork
from iamd.wire import AccessDenied, ClientError, NoSuchEntity, ValidationError

__all__ = [
    "SERVICE_ROLE_PATH",
    "KeyPairMismatch",
    "MalformedCertificate",
    "PolicyNotAttachable",
    "UnmodifiableEntity",
    "boundary_context",
    "find_group_authorized",
    "find_policy",
    "find_policy_authorized",
    "find_role_authorized",
    "group_arn",
    "is_service_linked",
    "page_list",
    "refuse_aws_managed",
    "refuse_identity_center_role",
    "refuse_service_linked",
    "role_arn",
]

T = TypeVar("T")

SERVICE_ROLE_PATH = "/aws-service-role/"
IDENTITY_CENTER_ROLE_PATH = "/aws-reserved/sso.amazonaws.com/"
"""Where IAM Identity Center provisions its permission sets' roles (``AWSReservedSSO_…``)."""


class UnmodifiableEntity(ClientError):
    code = "UnmodifiableEntity"
    json_code = "UnmodifiableEntityException"


class PolicyNotAttachable(ClientError):
    code = "PolicyNotAttachable"
    json_code = "PolicyNotAttachableException"


class MalformedCertificate(ClientError):
    code = "MalformedCertificate"
    json_code = "MalformedCertificateException"


class KeyPairMismatch(ClientError):
    code = "KeyPairMismatch"
    json_code = "KeyPairMismatchException"


# -- groups -----------------------------------------------------------------------------------------


def group_arn(group: GroupRecord) -> str:
    return entity_arn(group.account_id, "group", group.path, group.name)


def find_group_authorized(
    ctx: OperationContext, action: str, name: str, extra: dict[str, object] | None = None
) -> GroupRecord:
    """Authorize ``action`` on the named group, then return it (NoSuchEntity only when allowed)."""
    group = ctx.uow.groups.find(ctx.account_id, name)
    if group is None:
        ctx.authorize(action, entity_arn(ctx.account_id, "group", "/", name), extra)
        raise no_such("group", name)
    ctx.authorize(action, group_arn(group), extra)
    return group


# -- roles ------------------------------------------------------------------------------------------


def role_arn(role: RoleRecord) -> str:
    return entity_arn(role.account_id, "role", role.path, role.name)


def is_service_linked(role: RoleRecord) -> bool:
    return role.path.startswith(SERVICE_ROLE_PATH)


def is_identity_center_role(role: RoleRecord) -> bool:
    """A role IAM Identity Center provisioned for a permission set."""
    return role.path.startswith(IDENTITY_CENTER_ROLE_PATH)


def _protected(role: RoleRecord) -> UnmodifiableEntity:
    return UnmodifiableEntity(
        f"Cannot perform the operation on the protected role '{role.name}' - "
        "this role is only modifiable by AWS"
    )


def refuse_service_linked(role: RoleRecord) -> None:
    """Service-linked roles belong to their service, and IAM Identity Center's roles to Identity
    Center (changed only through their permission set): customers cannot change them."""
    if is_service_linked(role) or is_identity_center_role(role):
        raise _protected(role)


def refuse_identity_center_role(role: RoleRecord) -> None:
    """What a service-linked role allows but an Identity Center role does not (its description,
    its tags: every change goes through the permission set; re:Post, identity-center-aws-reserved-sso)."""
    if is_identity_center_role(role):
        raise _protected(role)


def find_role_authorized(
    ctx: OperationContext, action: str, name: str, extra: dict[str, object] | None = None
) -> RoleRecord:
    """Authorize ``action`` on the named role (with its aws:ResourceTag keys), then return it."""
    role = find_role(ctx, name)
    if role is None:
        ctx.authorize(action, entity_arn(ctx.account_id, "role", "/", name), extra)
        raise no_such("role", name)
    tags = ctx.uow.tags.list(role.account_id, "role", role.id)
    ctx.memo[("role-tags", role.id)] = tags  # read once per request (render_role reads it again)
    context = resource_tag_context(tags)
    if extra:
        context.update(extra)
    ctx.authorize(action, role_arn(role), context)
    return role


def boundary_context(ctx: OperationContext, kind: str, name: str) -> dict[str, object]:
    """iam:PermissionsBoundary of the user or role named (its current boundary), for the actions
    whose condition keys include it (attaching and embedding policies)."""
    record: UserRecord | RoleRecord | None = None
    if kind == "user":
        record = ctx.uow.users.find(ctx.account_id, name)
    elif kind == "role":
        record = ctx.uow.roles.find(ctx.account_id, name)
    if kind in ("user", "role"):
        ctx.memo[(_JUST_FOUND, kind, name)] = record
    if record is None or record.permissions_boundary is None:
        return {}
    return {"iam:PermissionsBoundary": policy_arn(record.permissions_boundary)}


_JUST_FOUND = "just-found"


def _just_found(ctx: OperationContext, kind: str, name: str) -> tuple[bool, UserRecord | RoleRecord | None]:
    """The user or role :func:`boundary_context` has just read for ``name`` (None: no such
    entity), taken once, so the lookup that follows it does not read it again; (False, None) when
    there is none to take. Its callers write nothing between the two."""
    key = (_JUST_FOUND, kind, name)
    if key not in ctx.memo:
        return False, None
    record = ctx.memo.pop(key)
    assert record is None or isinstance(record, UserRecord | RoleRecord)
    return True, record


_LONGEST_NAME: Final = 128
"""A name read ahead is at most this long (users' and roles' names are 64 at most, managed
policies' 128): a longer one is refused by the handler, not read."""
_LONGEST_ARN: Final = 2048


def _named(form: Mapping[str, str], key: str, account: str | None) -> tuple[str, str] | None:
    """(the caller's account, the name ``form[key]``) when both are there to read ahead by."""
    name = form.get(key)
    if account is None or not name or len(name) > _LONGEST_NAME:
        return None
    return account, name


def user_named_ahead(uow: UnitOfWork, form: Mapping[str, str], account: str | None) -> None:
    """``Registration.prefetch`` of an operation on the user its ``UserName`` names, in the
    caller's account: the user and its tags read in the round trip of the caller's key."""
    if (named := _named(form, "UserName", account)) is not None:
        uow.users.prefetch(*named)


def role_named_ahead(uow: UnitOfWork, form: Mapping[str, str], account: str | None) -> None:
    """As :func:`user_named_ahead`, for the role its ``RoleName`` names."""
    if (named := _named(form, "RoleName", account)) is not None:
        uow.roles.prefetch(*named)


def user_and_inline_ahead(uow: UnitOfWork, form: Mapping[str, str], account: str | None) -> None:
    """:func:`user_named_ahead`, and the user's inline policies (PutUserPolicy's size check)."""
    if (named := _named(form, "UserName", account)) is not None:
        uow.users.prefetch(*named)
        uow.inline_policies.prefetch("user", *named)


def role_and_inline_ahead(uow: UnitOfWork, form: Mapping[str, str], account: str | None) -> None:
    """:func:`role_named_ahead`, and the role's inline policies (PutRolePolicy's size check)."""
    if (named := _named(form, "RoleName", account)) is not None:
        uow.roles.prefetch(*named)
        uow.inline_policies.prefetch("role", *named)


def _policy_named_ahead(uow: UnitOfWork, form: Mapping[str, str], account: str | None) -> None:
    """The managed policy its ``PolicyArn`` names, as :func:`find_policy` with ``counts=False``
    reads it: the caller's own or an AWS managed one."""
    arn = form.get("PolicyArn", "")
    if account is None or len(arn) > _LONGEST_ARN:
        return
    try:
        owner, name = parse_policy_arn(arn)
    except ClientError:
        return
    owner = AWS_ACCOUNT if owner == "aws" else owner
    if owner in (AWS_ACCOUNT, account) and len(name) <= _LONGEST_NAME:
        uow.policies.prefetch(owner, name)


def user_and_policy_ahead(uow: UnitOfWork, form: Mapping[str, str], account: str | None) -> None:
    """AttachUserPolicy's: the user and the managed policy it names."""
    user_named_ahead(uow, form, account)
    _policy_named_ahead(uow, form, account)


def role_and_policy_ahead(uow: UnitOfWork, form: Mapping[str, str], account: str | None) -> None:
    """AttachRolePolicy's: the role and the managed policy it names."""
    role_named_ahead(uow, form, account)
    _policy_named_ahead(uow, form, account)


def find_user_record(ctx: OperationContext, name: str) -> UserRecord | None:
    """The user named ``name`` (the one :func:`boundary_context` has just read, if it has)."""
    seen, record = _just_found(ctx, "user", name)
    if not seen:
        return ctx.uow.users.find(ctx.account_id, name)
    assert record is None or isinstance(record, UserRecord)
    return record


def find_role(ctx: OperationContext, name: str) -> RoleRecord | None:
    """The role named ``name`` (the one :func:`boundary_context` has just read, if it has)."""
    seen, record = _just_found(ctx, "role", name)
    if not seen:
        return ctx.uow.roles.find(ctx.account_id, name)
    assert record is None or isinstance(record, RoleRecord)
    return record


# -- managed policies -------------------------------------------------------------------------------


def find_policy(ctx: OperationContext, arn: str, *, counts: bool = True) -> ManagedPolicyRecord | None:
    """The managed policy this ARN names (path included), as seen from the caller's account: one of
    its own policies or an AWS managed one. InvalidInput for a malformed ARN. ``counts=False``:
    without its attachment and boundary counts (left 0)."""
    owner, name = parse_policy_arn(arn)
    account = AWS_ACCOUNT if owner == "aws" else owner
    if account not in (AWS_ACCOUNT, ctx.account_id):
        return None
    policy = ctx.uow.policies.find(account, name, counts_for=ctx.account_id, counts=counts)
    if policy is None or policy_arn(policy.ref) != arn:
        return None
    return policy


def find_policy_authorized(
    ctx: OperationContext, action: str, arn: str, extra: dict[str, object] | None = None
) -> ManagedPolicyRecord:
    """Authorize ``action`` on the policy ARN (with the policy's tags), then return the policy."""
    policy = find_policy(ctx, arn)
    context: dict[str, object] = {}
    if policy is not None and policy.account_id != AWS_ACCOUNT:
        context = resource_tag_context(ctx.uow.tags.list(policy.account_id, "policy", policy.id))
    if extra:
        context.update(extra)
    ctx.authorize(action, arn, context)
    if policy is None:
        raise NoSuchEntity(f"Policy {arn} was not found.")
    return policy


def refuse_aws_managed(ctx: OperationContext, action: str, policy: ManagedPolicyRecord) -> None:
    """AWS managed policies can be read and attached, never changed by a customer."""
    if policy.account_id == AWS_ACCOUNT:
        raise AccessDenied(
            f"User: {ctx.caller.arn} is not authorized to perform: {action} on resource: policy "
            f"{policy_arn(policy.ref)} because AWS managed policies can be changed only by AWS"
        )


# -- pagination of short listings -------------------------------------------------------------------


def page_list(items: Sequence[T], marker: str | None, max_items: int) -> Page[T]:
    """A page of a listing held in memory (a few hundred items at most), with an opaque marker."""
    start = 0
    if marker is not None:
        try:
            value = json.loads(base64.urlsafe_b64decode(marker + "=" * (-len(marker) % 4)))
        except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
            raise ValidationError("Invalid Marker.") from exc
        if not (
            isinstance(value, list) and len(value) == 2 and value[0] == "l1" and isinstance(value[1], int)
        ):
            raise ValidationError("Invalid Marker.")
        start = max(0, value[1])
    end = start + max_items
    next_marker = None
    if end < len(items):
        raw = json.dumps(["l1", end], separators=(",", ":")).encode()
        next_marker = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
    return Page(tuple(items[start:end]), next_marker)
