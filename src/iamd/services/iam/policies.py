"""Managed policies: CreatePolicy, GetPolicy, ListPolicies, DeletePolicy, their versions, their
tags, and ListEntitiesForPolicy. AWS managed policies (``arn:aws:iam::aws:policy/…``) can be read
and attached, not changed."""

from __future__ import annotations

from typing import Any, Literal

from iamd.policy import PolicyKind
from iamd.services.framework import OperationContext, operation
from iamd.services.iam.common import (
    check_document,
    encode_document,
    entity_arn,
    list_params,
    page_output,
    policy_arn,
    request_tag_context,
    tags_from_params,
    tags_output,
)
from iamd.services.iam.lookups import find_policy_authorized, page_list, refuse_aws_managed
from iamd.store.records import ManagedPolicyRecord, PolicyVersionRecord
from iamd.store.schema import AWS_ACCOUNT
from iamd.wire import DeleteConflict, EntityAlreadyExists, LimitExceeded, NoSuchEntity

MAX_POLICIES = 1500
MAX_VERSIONS = 5


def render_policy(
    ctx: OperationContext, policy: ManagedPolicyRecord, *, detail: bool = False
) -> dict[str, Any]:
    """A managed policy; with ``detail`` (GetPolicy) also its Description when it has one and its
    Tags, always (``[]`` when none, AWS managed policies included). ListPolicies and
    CreatePolicy carry neither (recorded against AWS: LocalStack's
    tests/aws/services/iam/test_iam_policies.snapshot.json and
    test_iam_managed_policies.snapshot.json)."""
    out: dict[str, Any] = {
        "PolicyName": policy.name,
        "PolicyId": policy.id,
        "Arn": policy_arn(policy.ref),
        "Path": policy.path,
        "DefaultVersionId": policy.default_version_id,
        "AttachmentCount": policy.attachment_count,
        "PermissionsBoundaryUsageCount": policy.permissions_boundary_usage_count,
        "IsAttachable": policy.is_attachable,
        "CreateDate": policy.created_at,
        "UpdateDate": policy.updated_at,
    }
    if detail:
        if policy.description:
            out["Description"] = policy.description
        tags = (
            ctx.uow.tags.list(policy.account_id, "policy", policy.id)
            if policy.account_id != AWS_ACCOUNT
            else ()
        )
        out["Tags"] = tags_output(tags)
    return out


def render_version(version: PolicyVersionRecord, *, with_document: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "VersionId": version.version_id,
        "IsDefaultVersion": version.is_default,
        "CreateDate": version.created_at,
    }
    if with_document:
        out["Document"] = encode_document(version.document)
    return out


@operation("iam", "CreatePolicy")
def create_policy(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    name, path = params["PolicyName"], params.get("Path") or "/"
    document = params["PolicyDocument"]
    tags = tags_from_params(params, case_sensitive=True)
    arn = entity_arn(ctx.account_id, "policy", path, name)
    extra = request_tag_context(tags)
    ctx.authorize("iam:CreatePolicy", arn, extra)
    if tags:
        ctx.authorize("iam:TagPolicy", arn, extra)
    check_document(document, PolicyKind.MANAGED)
    if ctx.uow.policies.find(ctx.account_id, name) is not None:
        raise EntityAlreadyExists(f"A policy called {name} already exists. Duplicate names are not allowed.")
    if ctx.uow.accounts.summary(ctx.account_id).policies >= MAX_POLICIES:
        raise LimitExceeded(f"Cannot exceed quota for PoliciesPerAccount: {MAX_POLICIES}")
    policy = ctx.uow.policies.create(
        ctx.account_id,
        policy_id=ctx.ids.policy_id(),
        name=name,
        path=path,
        document=document,
        created_at=ctx.now,
        description=params.get("Description") or None,
    )
    if tags:
        ctx.uow.tags.put(ctx.account_id, "policy", policy.id, tags)
    # CreatePolicy answers without Description, and with Tags only when the request sent some, in
    # the request's order (recorded: test_iam_policies.snapshot.json, create-with-tags and
    # create-with-case-sensitive-tags).
    out = render_policy(ctx, policy)
    if tags:
        out["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    return {"Policy": out}


@operation("iam", "GetPolicy", readonly=True)
def get_policy(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    policy = find_policy_authorized(ctx, "iam:GetPolicy", params["PolicyArn"])
    return {"Policy": render_policy(ctx, policy, detail=True)}


@operation("iam", "ListPolicies", readonly=True)
def list_policies(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("iam:ListPolicies", "*")
    marker, max_items = list_params(params)
    scope: Literal["All", "AWS", "Local"] = params.get("Scope") or "All"
    usage: Literal["PermissionsPolicy", "PermissionsBoundary"] | None = params.get("PolicyUsageFilter")
    page = ctx.uow.policies.list(
        ctx.account_id,
        scope=scope,
        only_attached=bool(params.get("OnlyAttached")),
        usage=usage,
        path_prefix=params.get("PathPrefix") or "/",
        marker=marker,
        max_items=max_items,
    )
    return page_output(page, "Policies", lambda p: render_policy(ctx, p))


@operation("iam", "DeletePolicy")
def delete_policy(ctx: OperationContext, params: dict[str, Any]) -> None:
    policy = find_policy_authorized(ctx, "iam:DeletePolicy", params["PolicyArn"])
    refuse_aws_managed(ctx, "iam:DeletePolicy", policy)
    if policy.attachment_count or policy.permissions_boundary_usage_count:
        raise DeleteConflict("Cannot delete a policy attached to entities.")
    if ctx.uow.policies.count_versions(policy.id) > 1:
        raise DeleteConflict(
            "This policy has more than one version. Before you delete a policy, you must delete the "
            "policy's versions. The default version is deleted with the policy."
        )
    ctx.uow.policies.delete(policy.id)


# -- versions -------------------------------------------------------------------------------------


def _find_version(ctx: OperationContext, policy: ManagedPolicyRecord, version_id: str) -> PolicyVersionRecord:
    for version in ctx.uow.policies.list_versions(policy.id):
        if version.version_id == version_id:
            return version
    raise NoSuchEntity(
        f"Policy {policy_arn(policy.ref)} version {version_id} does not exist or is not attachable."
    )


@operation("iam", "CreatePolicyVersion")
def create_policy_version(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    policy = find_policy_authorized(ctx, "iam:CreatePolicyVersion", params["PolicyArn"])
    refuse_aws_managed(ctx, "iam:CreatePolicyVersion", policy)
    document = params["PolicyDocument"]
    check_document(document, PolicyKind.MANAGED)
    if ctx.uow.policies.count_versions(policy.id) >= MAX_VERSIONS:
        raise LimitExceeded(
            f"A managed policy can have up to {MAX_VERSIONS} versions. Before you create a new version, "
            "you must delete an existing version."
        )
    version = ctx.uow.policies.create_version(
        policy.id, document=document, created_at=ctx.now, set_as_default=bool(params.get("SetAsDefault"))
    )
    return {"PolicyVersion": render_version(version, with_document=False)}


def _find_policy_of_version(
    ctx: OperationContext, action: str, params: dict[str, Any]
) -> ManagedPolicyRecord:
    """The policy a GetPolicyVersion or SetDefaultPolicyVersion names. For a policy that is not
    there AWS answers with the version text, "Policy <arn> version <id> does not exist or is not
    attachable." (recorded against AWS: LocalStack's
    tests/aws/services/iam/test_iam_policies.snapshot.json, err-get-version-nonexistent-policy,
    err-set-default-nonexistent-policy)."""
    try:
        return find_policy_authorized(ctx, action, params["PolicyArn"])
    except NoSuchEntity:
        raise NoSuchEntity(
            f"Policy {params['PolicyArn']} version {params['VersionId']} does not exist or is not attachable."
        ) from None


@operation("iam", "GetPolicyVersion", readonly=True)
def get_policy_version(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    policy = _find_policy_of_version(ctx, "iam:GetPolicyVersion", params)
    version = _find_version(ctx, policy, params["VersionId"])
    return {"PolicyVersion": render_version(version, with_document=True)}


@operation("iam", "ListPolicyVersions", readonly=True)
def list_policy_versions(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    policy = find_policy_authorized(ctx, "iam:ListPolicyVersions", params["PolicyArn"])
    marker, max_items = list_params(params)
    page = page_list(ctx.uow.policies.list_versions(policy.id), marker, max_items)
    return page_output(page, "Versions", lambda v: render_version(v, with_document=False))


@operation("iam", "DeletePolicyVersion")
def delete_policy_version(ctx: OperationContext, params: dict[str, Any]) -> None:
    policy = find_policy_authorized(ctx, "iam:DeletePolicyVersion", params["PolicyArn"])
    refuse_aws_managed(ctx, "iam:DeletePolicyVersion", policy)
    version = _find_version(ctx, policy, params["VersionId"])
    if version.is_default:
        raise DeleteConflict("Cannot delete the default version of a policy.")
    ctx.uow.policies.delete_version(policy.id, version.version_id)


@operation("iam", "SetDefaultPolicyVersion")
def set_default_policy_version(ctx: OperationContext, params: dict[str, Any]) -> None:
    policy = _find_policy_of_version(ctx, "iam:SetDefaultPolicyVersion", params)
    refuse_aws_managed(ctx, "iam:SetDefaultPolicyVersion", policy)
    version = _find_version(ctx, policy, params["VersionId"])
    if not version.is_default:
        ctx.uow.policies.set_default_version(policy.id, version.version_id)


# -- tags -----------------------------------------------------------------------------------------


@operation("iam", "TagPolicy")
def tag_policy(ctx: OperationContext, params: dict[str, Any]) -> None:
    tags = tags_from_params(params, case_sensitive=True)
    policy = find_policy_authorized(ctx, "iam:TagPolicy", params["PolicyArn"], request_tag_context(tags))
    refuse_aws_managed(ctx, "iam:TagPolicy", policy)
    existing = {t.key for t in ctx.uow.tags.list(policy.account_id, "policy", policy.id)}
    tags_from_params(params, len(existing - set(tags)), case_sensitive=True)
    ctx.uow.tags.put(policy.account_id, "policy", policy.id, tags)


@operation("iam", "UntagPolicy")
def untag_policy(ctx: OperationContext, params: dict[str, Any]) -> None:
    keys = [str(k) for k in params.get("TagKeys") or []]
    policy = find_policy_authorized(ctx, "iam:UntagPolicy", params["PolicyArn"], {"aws:TagKeys": keys})
    refuse_aws_managed(ctx, "iam:UntagPolicy", policy)
    ctx.uow.tags.remove(policy.account_id, "policy", policy.id, keys)


@operation("iam", "ListPolicyTags", readonly=True)
def list_policy_tags(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    policy = find_policy_authorized(ctx, "iam:ListPolicyTags", params["PolicyArn"])
    tags = (
        ctx.uow.tags.list(policy.account_id, "policy", policy.id) if policy.account_id != AWS_ACCOUNT else ()
    )
    marker, max_items = list_params(params)
    page = page_list(tags, marker, max_items)
    return page_output(page, "Tags", lambda t: {"Key": t.key, "Value": t.value})


# -- who uses a policy ------------------------------------------------------------------------------

_ENTITY_FILTERS = {"User": "user", "Group": "group", "Role": "role"}


@operation("iam", "ListEntitiesForPolicy", readonly=True)
def list_entities_for_policy(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    policy = find_policy_authorized(ctx, "iam:ListEntitiesForPolicy", params["PolicyArn"])
    marker, max_items = list_params(params)
    entity_filter = params.get("EntityFilter")
    kind: Literal["user", "group", "role"] | None = None
    if entity_filter in _ENTITY_FILTERS:
        kind = "user" if entity_filter == "User" else "group" if entity_filter == "Group" else "role"
    elif entity_filter in ("LocalManagedPolicy", "AWSManagedPolicy") and (
        (entity_filter == "AWSManagedPolicy") != (policy.account_id == AWS_ACCOUNT)
    ):
        # The filter names the other kind of policy: nobody is listed.
        return {"PolicyGroups": [], "PolicyUsers": [], "PolicyRoles": [], "IsTruncated": False}
    usage: Literal["PermissionsPolicy", "PermissionsBoundary"] = (
        params.get("PolicyUsageFilter") or "PermissionsPolicy"
    )
    entities = ctx.uow.policies.entities(
        policy.id, ctx.account_id, kind=kind, path_prefix=params.get("PathPrefix") or "/", usage=usage
    )
    rows: list[tuple[str, str, str]] = [
        *(("group", e.name, e.id) for e in entities.groups),
        *(("user", e.name, e.id) for e in entities.users),
        *(("role", e.name, e.id) for e in entities.roles),
    ]
    page = page_list(rows, marker, max_items)
    out: dict[str, Any] = {
        "PolicyGroups": [{"GroupName": n, "GroupId": i} for k, n, i in page.items if k == "group"],
        "PolicyUsers": [{"UserName": n, "UserId": i} for k, n, i in page.items if k == "user"],
        "PolicyRoles": [{"RoleName": n, "RoleId": i} for k, n, i in page.items if k == "role"],
        "IsTruncated": page.marker is not None,
    }
    if page.marker is not None:
        out["Marker"] = page.marker
    return out
