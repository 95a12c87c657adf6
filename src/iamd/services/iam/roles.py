"""IAM roles: CreateRole, GetRole, ListRoles, UpdateRole, UpdateRoleDescription,
UpdateAssumeRolePolicy, DeleteRole, tags, permissions boundaries, and service-linked roles
(path ``/aws-service-role/SERVICE/``, protected from customer changes)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from typing import Any, Literal

from iamd.policy import PolicyKind
from iamd.services.accessanalyzer.findings import role_trust_changed
from iamd.services.framework import OperationContext, operation
from iamd.services.iam.boundaries import resolve_boundary
from iamd.services.iam.common import (
    check_document,
    encode_document,
    entity_arn,
    list_params,
    no_such,
    page_output,
    policy_arn,
    request_tag_context,
    tags_from_params,
    tags_output,
)
from iamd.services.iam.lookups import (
    SERVICE_ROLE_PATH,
    find_role_authorized,
    is_service_linked,
    page_list,
    refuse_identity_center_role,
    refuse_service_linked,
    role_arn,
    role_named_ahead,
)
from iamd.services.iam.service_linked import service_linked_role
from iamd.store.records import RoleRecord, Tag
from iamd.store.schema import AWS_ACCOUNT
from iamd.wire import DeleteConflict, EntityAlreadyExists, InvalidInput, LimitExceeded

MAX_ROLES = 1000
MIN_SESSION, MAX_SESSION = 3600, 43200


RoleView = Literal["create", "get", "list", "nested", "detail", "description"]


def render_role(
    ctx: OperationContext,
    role: RoleRecord,
    view: RoleView,
    *,
    tags: Sequence[Tag] | None = None,
) -> dict[str, Any]:
    """A role as each operation returns it. AWS answers with a different set of members per
    operation (recorded against AWS in LocalStack's snapshot tests,
    tests/aws/services/iam/test_iam_roles.snapshot.json and
    test_iam_account_authorization_details.snapshot.json; the ListRoles omissions are also in the
    ListRoles API reference):

    - ``create`` (CreateRole): no Description, MaxSessionDuration or
      RoleLastUsed; PermissionsBoundary when set; Tags only when the request sent some, in the
      request's order (``tags``).
    - ``get`` (GetRole, CreateServiceLinkedRole): everything, RoleLastUsed ``{}`` for a role never
      used; Tags when set.
    - ``list`` (ListRoles): Description and MaxSessionDuration; never PermissionsBoundary, Tags
      or RoleLastUsed.
    - ``description`` (UpdateRoleDescription): Description, no MaxSessionDuration or
      RoleLastUsed.
    - ``nested`` (a role inside an instance profile): the six identifying members only.
    - ``detail`` (GetAccountAuthorizationDetails' RoleDetail): no Description or
      MaxSessionDuration; Tags always (``[]`` when none) and RoleLastUsed.
    """
    out: dict[str, Any] = {
        "Path": role.path,
        "RoleName": role.name,
        "RoleId": role.id,
        "Arn": role_arn(role),
        "CreateDate": role.created_at,
        "AssumeRolePolicyDocument": encode_document(role.trust_policy),
    }
    if view == "nested":
        return out
    if role.description and view in ("get", "list", "description"):
        out["Description"] = role.description
    if view in ("get", "list"):
        out["MaxSessionDuration"] = role.max_session_duration
    if view == "list":
        return out
    if role.permissions_boundary is not None:
        out["PermissionsBoundary"] = {
            "PermissionsBoundaryType": "Policy",
            "PermissionsBoundaryArn": policy_arn(role.permissions_boundary),
        }
    if view == "create":
        if tags:
            out["Tags"] = tags_output(tags)
        return out
    memo = ctx.memo.get(("role-tags", role.id))  # read for a whole page (authorization_details)
    stored = memo if isinstance(memo, tuple) else ctx.uow.tags.list(role.account_id, "role", role.id)
    if stored or view == "detail":
        out["Tags"] = tags_output(stored)
    if view in ("get", "detail"):
        last_used: dict[str, Any] = {}
        if role.last_used_at is not None:
            last_used["LastUsedDate"] = role.last_used_at
            if role.last_used_region:
                last_used["Region"] = role.last_used_region
        out["RoleLastUsed"] = last_used
    return out


def _session_duration(value: object) -> int | None:
    if value is None:
        return None
    duration = int(str(value))
    if not MIN_SESSION <= duration <= MAX_SESSION:
        raise InvalidInput(
            f"The requested MaxSessionDuration {duration} must be between {MIN_SESSION} and "
            f"{MAX_SESSION} seconds."
        )
    return duration


def _check_role_quota(ctx: OperationContext) -> None:
    if ctx.uow.accounts.summary(ctx.account_id).roles >= MAX_ROLES:
        raise LimitExceeded(f"Cannot exceed quota for RolesPerAccount: {MAX_ROLES}")


@operation("iam", "CreateRole")
def create_role(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    name, path = params["RoleName"], params.get("Path") or "/"
    trust = params["AssumeRolePolicyDocument"]
    tags = tags_from_params(params)
    arn = entity_arn(ctx.account_id, "role", path, name)
    extra = request_tag_context(tags)
    boundary = params.get("PermissionsBoundary")
    if boundary:
        extra["iam:PermissionsBoundary"] = boundary
    ctx.authorize("iam:CreateRole", arn, extra)
    if tags:
        ctx.authorize("iam:TagRole", arn, extra)
    if path.startswith(SERVICE_ROLE_PATH):
        raise InvalidInput(f"The path {SERVICE_ROLE_PATH} is reserved for service-linked roles.")
    duration = _session_duration(params.get("MaxSessionDuration")) or MIN_SESSION
    check_document(trust, PolicyKind.TRUST)
    if ctx.uow.roles.find(ctx.account_id, name) is not None:
        raise EntityAlreadyExists(f"Role with name {name} already exists.")
    _check_role_quota(ctx)
    boundary_policy = resolve_boundary(ctx, boundary) if boundary else None
    role_id = ctx.ids.role_id()
    # A new principal: nothing cached about any other caller names it (caches key on ids; a
    # trust policy naming its ARN is compiled per text and matched per request).
    with ctx.uow.principal_scoped(ctx.account_id, "role", role_id, new=True):
        role = ctx.uow.roles.create(
            ctx.account_id,
            role_id=role_id,
            name=name,
            path=path,
            trust_policy=trust,
            created_at=ctx.now,
            description=params.get("Description") or None,
            max_session_duration=duration,
        )
        if boundary_policy is not None:
            ctx.uow.roles.set_permissions_boundary(role.id, boundary_policy.id)
            role = ctx.uow.roles.get_by_id(role.id)
        if tags:
            ctx.uow.tags.put(ctx.account_id, "role", role.id, tags)
    role_trust_changed(ctx, ctx.account_id, arn, trust)
    return {"Role": render_role(ctx, role, "create", tags=[Tag(k, v) for k, v in tags.items()])}


@operation("iam", "GetRole", readonly=True, prefetch=role_named_ahead)
def get_role(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    role = find_role_authorized(ctx, "iam:GetRole", params["RoleName"])
    return {"Role": render_role(ctx, role, "get")}


@operation("iam", "ListRoles", readonly=True)
def list_roles(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("iam:ListRoles", "*")
    marker, max_items = list_params(params)
    page = ctx.uow.roles.list(
        ctx.account_id, path_prefix=params.get("PathPrefix") or "/", marker=marker, max_items=max_items
    )
    return page_output(page, "Roles", lambda r: render_role(ctx, r, "list"))


@operation("iam", "UpdateRole", prefetch=role_named_ahead)
def update_role(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    role = find_role_authorized(ctx, "iam:UpdateRole", params["RoleName"])
    refuse_identity_center_role(role)
    duration = _session_duration(params.get("MaxSessionDuration"))
    if duration is not None and duration != role.max_session_duration:
        refuse_service_linked(role)
    description = params.get("Description")
    ctx.uow.roles.update(role.id, description=description, max_session_duration=duration)
    return {}


@operation("iam", "UpdateRoleDescription", prefetch=role_named_ahead)
def update_role_description(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    role = find_role_authorized(ctx, "iam:UpdateRoleDescription", params["RoleName"])
    refuse_identity_center_role(role)
    role = ctx.uow.roles.update(role.id, description=params["Description"])
    return {"Role": render_role(ctx, role, "description")}


@operation("iam", "UpdateAssumeRolePolicy", prefetch=role_named_ahead)
def update_assume_role_policy(ctx: OperationContext, params: dict[str, Any]) -> None:
    role = find_role_authorized(ctx, "iam:UpdateAssumeRolePolicy", params["RoleName"])
    refuse_service_linked(role)
    document = params["PolicyDocument"]
    check_document(document, PolicyKind.TRUST)
    ctx.uow.roles.update(role.id, trust_policy=document)
    arn = entity_arn(ctx.account_id, "role", role.path, role.name)
    role_trust_changed(ctx, ctx.account_id, arn, document)  # its external access findings, at once


def _refuse_while_in_use(ctx: OperationContext, role: RoleRecord) -> None:
    """AWS's DeleteConflict messages, in AWS's order."""
    if ctx.uow.inline_policies.list_names("role", role.id, max_items=1).items:
        raise DeleteConflict("Cannot delete entity, must delete policies first.")
    if ctx.uow.policies.count_attached("role", role.id):
        raise DeleteConflict("Cannot delete entity, must detach all policies first.")
    if ctx.uow.instance_profiles.list_for_role(role.id, max_items=1).items:
        raise DeleteConflict("Cannot delete entity, must remove roles from instance profile first.")


@operation("iam", "DeleteRole")
def delete_role(ctx: OperationContext, params: dict[str, Any]) -> None:
    role = find_role_authorized(ctx, "iam:DeleteRole", params["RoleName"])
    refuse_service_linked(role)
    _refuse_while_in_use(ctx, role)
    ctx.uow.roles.delete(role.id)
    role_trust_changed(ctx, ctx.account_id, entity_arn(ctx.account_id, "role", role.path, role.name), None)


# -- tags -----------------------------------------------------------------------------------------


@operation("iam", "TagRole", prefetch=role_named_ahead)
def tag_role(ctx: OperationContext, params: dict[str, Any]) -> None:
    tags = tags_from_params(params)
    role = find_role_authorized(ctx, "iam:TagRole", params["RoleName"], request_tag_context(tags))
    refuse_identity_center_role(role)
    existing = {t.key.lower() for t in ctx.uow.tags.list(role.account_id, "role", role.id)}
    tags_from_params(params, len(existing - {k.lower() for k in tags}))
    with ctx.uow.principal_scoped(ctx.account_id, "role", role.id):
        ctx.uow.tags.put(ctx.account_id, "role", role.id, tags)


@operation("iam", "UntagRole", prefetch=role_named_ahead)
def untag_role(ctx: OperationContext, params: dict[str, Any]) -> None:
    keys = [str(k) for k in params.get("TagKeys") or []]
    role = find_role_authorized(ctx, "iam:UntagRole", params["RoleName"], {"aws:TagKeys": keys})
    refuse_identity_center_role(role)
    with ctx.uow.principal_scoped(ctx.account_id, "role", role.id):
        ctx.uow.tags.remove(ctx.account_id, "role", role.id, keys)


@operation("iam", "ListRoleTags", readonly=True, prefetch=role_named_ahead)
def list_role_tags(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    role = find_role_authorized(ctx, "iam:ListRoleTags", params["RoleName"])
    marker, max_items = list_params(params)
    page = page_list(ctx.uow.tags.list(ctx.account_id, "role", role.id), marker, max_items)
    return page_output(page, "Tags", lambda t: {"Key": t.key, "Value": t.value})


# -- permissions boundary ---------------------------------------------------------------------------


@operation("iam", "PutRolePermissionsBoundary")
def put_role_permissions_boundary(ctx: OperationContext, params: dict[str, Any]) -> None:
    arn = params["PermissionsBoundary"]
    role = find_role_authorized(
        ctx,
        "iam:PutRolePermissionsBoundary",
        params["RoleName"],
        {"iam:PermissionsBoundary": arn, "iam:PolicyARN": arn},
    )
    refuse_service_linked(role)
    ctx.uow.roles.set_permissions_boundary(role.id, resolve_boundary(ctx, arn).id)


@operation("iam", "DeleteRolePermissionsBoundary")
def delete_role_permissions_boundary(ctx: OperationContext, params: dict[str, Any]) -> None:
    name = params["RoleName"]
    found = ctx.uow.roles.find(ctx.account_id, name)
    extra: dict[str, object] = {}
    if found is not None and found.permissions_boundary is not None:
        current = policy_arn(found.permissions_boundary)
        extra = {"iam:PermissionsBoundary": current, "iam:PolicyARN": current}
    role = find_role_authorized(ctx, "iam:DeleteRolePermissionsBoundary", name, extra)
    refuse_service_linked(role)
    if role.permissions_boundary is not None:  # a role without one: nothing to do, no error
        ctx.uow.roles.set_permissions_boundary(role.id, None)


# -- service-linked roles ---------------------------------------------------------------------------

_SERVICE = re.compile(r"[a-z0-9][a-z0-9.-]*\.amazonaws\.com(\.cn)?")
_SUFFIX = re.compile(r"[\w+=,.@-]{1,64}")
_TASK = re.compile(r"task/aws-service-role/([a-z0-9.-]+)/([\w+=,.@-]+)/([0-9a-f-]{36})")
_TASKS = uuid.UUID("6f1b7c1e-2a4b-4f61-9c1d-6a1d3c0e9b57")


def _task_id(ctx: OperationContext, role: RoleRecord, service: str) -> str:
    token = uuid.uuid5(_TASKS, f"{ctx.account_id}/{role.id}")
    return f"task/aws-service-role/{service}/{role.name}/{token}"


@operation("iam", "CreateServiceLinkedRole")
def create_service_linked_role(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    service = params["AWSServiceName"]
    suffix = params.get("CustomSuffix")
    if not _SERVICE.fullmatch(service):
        raise InvalidInput(
            f"Invalid AWS service name {service}: expected a service principal "
            "such as autoscaling.amazonaws.com."
        )
    known = service_linked_role(service)
    if known is None:
        raise InvalidInput(
            f"Service {service} has no service-linked role that iamd knows of "
            "(the service-linked roles iamd can create are listed in iamd/data/service_linked_roles.json)."
        )
    if suffix is not None:
        if not known.custom_suffix:
            # AWS's text, without a final period (recorded: LocalStack's test_iam.snapshot.json,
            # TestIAMServiceRoles).
            raise InvalidInput(f"Custom suffix is not allowed for {service}")
        if not _SUFFIX.fullmatch(suffix):
            raise InvalidInput(f"Invalid custom suffix {suffix}.")
    name, path = known.name(suffix), f"{SERVICE_ROLE_PATH}{service}/"
    ctx.authorize(
        "iam:CreateServiceLinkedRole",
        entity_arn(ctx.account_id, "role", path, name),
        {"iam:AWSServiceName": service},
    )
    if ctx.uow.roles.find(ctx.account_id, name) is not None:
        raise InvalidInput(
            f"Service role name {name} has been taken in this account, please try a different suffix."
        )
    _check_role_quota(ctx)
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": [service]}, "Action": ["sts:AssumeRole"]}
            ],
        }
    )
    role = ctx.uow.roles.create(
        ctx.account_id,
        role_id=ctx.ids.role_id(),
        name=name,
        path=path,
        trust_policy=trust,
        created_at=ctx.now,
        description=params.get("Description") or None,
    )
    # AWS attaches the service's own policy (arn:aws:iam::aws:policy/aws-service-role/<name>).
    policy = ctx.uow.policies.find(AWS_ACCOUNT, known.policy_name)
    if policy is not None:
        ctx.uow.policies.attach(policy.id, "role", role.id, account_id=ctx.account_id)
    # AWS answers CreateServiceLinkedRole with the full role, MaxSessionDuration and an empty
    # RoleLastUsed included (recorded: TestIAMServiceRoles in LocalStack's test_iam.snapshot.json).
    return {"Role": render_role(ctx, role, "get")}


@operation("iam", "DeleteServiceLinkedRole")
def delete_service_linked_role(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    """Deletion is immediate here (no AWS resources depend on the role); the task id still lets
    GetServiceLinkedRoleDeletionStatus answer as AWS does."""
    role = find_role_authorized(ctx, "iam:DeleteServiceLinkedRole", params["RoleName"])
    if not is_service_linked(role):
        raise InvalidInput(f"Role {role.name} is not a service-linked role.")
    service = role.path[len(SERVICE_ROLE_PATH) :].strip("/")
    task = _task_id(ctx, role, service)
    for name in ctx.uow.inline_policies.list_names("role", role.id, max_items=1000).items:
        ctx.uow.inline_policies.delete("role", role.id, name)
    for ref in ctx.uow.policies.attached("role", role.id, max_items=1000).items:
        ctx.uow.policies.detach(ref.id, "role", role.id)
    for profile in ctx.uow.instance_profiles.list_for_role(role.id, max_items=1000).items:
        ctx.uow.instance_profiles.remove_role(profile.id, role.id)
    ctx.uow.roles.delete(role.id)
    return {"DeletionTaskId": task}


@operation("iam", "GetServiceLinkedRoleDeletionStatus", readonly=True)
def get_service_linked_role_deletion_status(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    task = params["DeletionTaskId"]
    match = _TASK.fullmatch(task)
    if match is None:
        raise InvalidInput(f"Invalid deletion task id {task}.")
    service, name, token = match.groups()
    path = f"{SERVICE_ROLE_PATH}{service}/"
    ctx.authorize("iam:GetServiceLinkedRoleDeletionStatus", entity_arn(ctx.account_id, "role", path, name))
    role = ctx.uow.roles.find(ctx.account_id, name)
    if role is not None and str(uuid.uuid5(_TASKS, f"{ctx.account_id}/{role.id}")) == token:
        # This very role is still there: the task was never run (deletions here are immediate).
        raise no_such("deletion task", task)
    return {"Status": "SUCCEEDED"}
