"""Instance profiles: Create/Get/List/DeleteInstanceProfile, Add/RemoveRoleFromInstanceProfile (one
role per profile, as in AWS), ListInstanceProfilesForRole, and their tags."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from iamd.services.framework import OperationContext, operation
from iamd.services.iam.common import (
    entity_arn,
    list_params,
    page_output,
    request_tag_context,
    resource_tag_context,
    tags_from_params,
    tags_output,
)
from iamd.services.iam.lookups import find_role_authorized, page_list
from iamd.services.iam.roles import render_role
from iamd.store.records import InstanceProfileRecord, Tag
from iamd.wire import DeleteConflict, EntityAlreadyExists, LimitExceeded, NoSuchEntity

MAX_PROFILES = 1000
MAX_ROLES_PER_PROFILE = 1


def profile_arn(profile: InstanceProfileRecord) -> str:
    return entity_arn(profile.account_id, "instance-profile", profile.path, profile.name)


def render_profile(
    ctx: OperationContext, profile: InstanceProfileRecord, *, tags: Sequence[Tag] | None = None
) -> dict[str, Any]:
    """An instance profile with its role (the role's six identifying members only), and ``tags``
    as ``Tags`` when given. GetInstanceProfile always answers with ``Tags`` (``[]`` when none);
    CreateInstanceProfile only when the request sent some; the lists never (recorded against AWS:
    LocalStack's tests/aws/services/iam/test_iam_instance_profiles.snapshot.json)."""
    out: dict[str, Any] = {
        "Path": profile.path,
        "InstanceProfileName": profile.name,
        "InstanceProfileId": profile.id,
        "Arn": profile_arn(profile),
        "CreateDate": profile.created_at,
        "Roles": [render_role(ctx, role, "nested") for role in profile.roles],
    }
    if tags is not None:
        out["Tags"] = tags_output(tags)
    return out


def no_such_profile(name: str) -> NoSuchEntity:
    return NoSuchEntity(f"Instance Profile {name} cannot be found.")


def find_profile_authorized(
    ctx: OperationContext, action: str, name: str, extra: dict[str, object] | None = None
) -> InstanceProfileRecord:
    """Authorize ``action`` on the named instance profile (with its tags), then return it."""
    profile = ctx.uow.instance_profiles.find(ctx.account_id, name)
    if profile is None:
        ctx.authorize(action, entity_arn(ctx.account_id, "instance-profile", "/", name), extra)
        raise no_such_profile(name)
    context = resource_tag_context(ctx.uow.tags.list(profile.account_id, "instance-profile", profile.id))
    if extra:
        context.update(extra)
    ctx.authorize(action, profile_arn(profile), context)
    return profile


@operation("iam", "CreateInstanceProfile")
def create_instance_profile(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    name, path = params["InstanceProfileName"], params.get("Path") or "/"
    tags = tags_from_params(params)
    arn = entity_arn(ctx.account_id, "instance-profile", path, name)
    extra = request_tag_context(tags)
    ctx.authorize("iam:CreateInstanceProfile", arn, extra)
    if tags:
        ctx.authorize("iam:TagInstanceProfile", arn, extra)
    if ctx.uow.instance_profiles.find(ctx.account_id, name) is not None:
        raise EntityAlreadyExists(f"Instance Profile {name} already exists.")
    if ctx.uow.accounts.summary(ctx.account_id).instance_profiles >= MAX_PROFILES:
        raise LimitExceeded(f"Cannot exceed quota for InstanceProfilesPerAccount: {MAX_PROFILES}")
    profile = ctx.uow.instance_profiles.create(
        ctx.account_id, profile_id=ctx.ids.instance_profile_id(), name=name, path=path, created_at=ctx.now
    )
    if tags:
        ctx.uow.tags.put(ctx.account_id, "instance-profile", profile.id, tags)
    sent = [Tag(k, v) for k, v in tags.items()]
    return {"InstanceProfile": render_profile(ctx, profile, tags=sent or None)}


@operation("iam", "GetInstanceProfile", readonly=True)
def get_instance_profile(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    profile = find_profile_authorized(ctx, "iam:GetInstanceProfile", params["InstanceProfileName"])
    tags = ctx.uow.tags.list(profile.account_id, "instance-profile", profile.id)
    return {"InstanceProfile": render_profile(ctx, profile, tags=tags)}


@operation("iam", "ListInstanceProfiles", readonly=True)
def list_instance_profiles(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("iam:ListInstanceProfiles", "*")
    marker, max_items = list_params(params)
    page = ctx.uow.instance_profiles.list(
        ctx.account_id, path_prefix=params.get("PathPrefix") or "/", marker=marker, max_items=max_items
    )
    return page_output(page, "InstanceProfiles", lambda p: render_profile(ctx, p))


@operation("iam", "DeleteInstanceProfile")
def delete_instance_profile(ctx: OperationContext, params: dict[str, Any]) -> None:
    profile = find_profile_authorized(ctx, "iam:DeleteInstanceProfile", params["InstanceProfileName"])
    if profile.roles:
        raise DeleteConflict("Cannot delete entity, must remove roles from instance profile first.")
    ctx.uow.instance_profiles.delete(profile.id)


@operation("iam", "AddRoleToInstanceProfile")
def add_role_to_instance_profile(ctx: OperationContext, params: dict[str, Any]) -> None:
    profile = find_profile_authorized(ctx, "iam:AddRoleToInstanceProfile", params["InstanceProfileName"])
    # Putting a role in a profile hands it to EC2: AWS asks for iam:PassRole on the role as well.
    role = find_role_authorized(
        ctx, "iam:PassRole", params["RoleName"], {"iam:PassedToService": "ec2.amazonaws.com"}
    )
    if any(r.id == role.id for r in profile.roles):
        raise EntityAlreadyExists(f"Role {role.name} is already in instance profile {profile.name}.")
    if len(profile.roles) >= MAX_ROLES_PER_PROFILE:
        raise LimitExceeded(
            f"Cannot exceed quota for InstanceSessionsPerInstanceProfile: {MAX_ROLES_PER_PROFILE}"
        )
    ctx.uow.instance_profiles.add_role(profile.id, role.id)


@operation("iam", "RemoveRoleFromInstanceProfile")
def remove_role_from_instance_profile(ctx: OperationContext, params: dict[str, Any]) -> None:
    profile = find_profile_authorized(ctx, "iam:RemoveRoleFromInstanceProfile", params["InstanceProfileName"])
    name = params["RoleName"]
    role = next((r for r in profile.roles if r.name.lower() == name.lower()), None)
    if role is None:
        if ctx.uow.roles.find(ctx.account_id, name) is None:
            raise NoSuchEntity(f"The role with name {name} cannot be found.")
        # AWS's text (recorded against AWS: LocalStack's
        # tests/aws/services/iam/test_iam_instance_profiles.snapshot.json, remove-unattached-role-error).
        raise NoSuchEntity(f"Role {name} in Instance Profile {profile.name} cannot be found.")
    ctx.uow.instance_profiles.remove_role(profile.id, role.id)


@operation("iam", "ListInstanceProfilesForRole", readonly=True)
def list_instance_profiles_for_role(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    role = find_role_authorized(ctx, "iam:ListInstanceProfilesForRole", params["RoleName"])
    marker, max_items = list_params(params)
    page = ctx.uow.instance_profiles.list_for_role(role.id, marker=marker, max_items=max_items)
    return page_output(page, "InstanceProfiles", lambda p: render_profile(ctx, p))


@operation("iam", "TagInstanceProfile")
def tag_instance_profile(ctx: OperationContext, params: dict[str, Any]) -> None:
    tags = tags_from_params(params)
    profile = find_profile_authorized(
        ctx, "iam:TagInstanceProfile", params["InstanceProfileName"], request_tag_context(tags)
    )
    existing = {t.key.lower() for t in ctx.uow.tags.list(profile.account_id, "instance-profile", profile.id)}
    tags_from_params(params, len(existing - {k.lower() for k in tags}))
    ctx.uow.tags.put(ctx.account_id, "instance-profile", profile.id, tags)


@operation("iam", "UntagInstanceProfile")
def untag_instance_profile(ctx: OperationContext, params: dict[str, Any]) -> None:
    keys = [str(k) for k in params.get("TagKeys") or []]
    profile = find_profile_authorized(
        ctx, "iam:UntagInstanceProfile", params["InstanceProfileName"], {"aws:TagKeys": keys}
    )
    ctx.uow.tags.remove(ctx.account_id, "instance-profile", profile.id, keys)


@operation("iam", "ListInstanceProfileTags", readonly=True)
def list_instance_profile_tags(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    profile = find_profile_authorized(ctx, "iam:ListInstanceProfileTags", params["InstanceProfileName"])
    marker, max_items = list_params(params)
    page = page_list(ctx.uow.tags.list(ctx.account_id, "instance-profile", profile.id), marker, max_items)
    return page_output(page, "Tags", lambda t: {"Key": t.key, "Value": t.value})
