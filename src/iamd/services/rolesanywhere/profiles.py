"""Profiles: which roles a Roles Anywhere session may take, with its session policies, duration and
certificate attribute mappings (:mod:`iamd.services.rolesanywhere.mappings`)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from iamd.policy import PolicyKind, check_policy
from iamd.services.framework import OperationContext, operation
from iamd.services.rolesanywhere.common import (
    DEFAULT_DURATION,
    MAX_DURATION,
    MIN_DURATION,
    mappings_of,
    not_found,
    page_size,
    profile_arn,
    profile_output,
    region,
    resource_id,
    tags_of,
    validation,
)
from iamd.services.rolesanywhere.mappings import specifiers_of
from iamd.store.rolesanywhere import ProfileRecord

_ROLE_ARN = re.compile(r"arn:aws:iam::\d{12}:role/(?:[\x21-\x7e]*/)?[\w+=,.@-]{1,64}")
_POLICY_ARN = re.compile(r"arn:aws:iam::(?:\d{12}|aws):policy/(?:[\x21-\x7e]*/)?[\w+=,.@-]{1,128}")


def _role_arns(ctx: OperationContext, arns: list[Any]) -> list[str]:
    if len(arns) > 250:
        raise validation("A profile can name at most 250 roles.")
    for arn in arns:
        if not _ROLE_ARN.fullmatch(str(arn)):
            raise validation(f"Invalid role ARN: {arn}")
        if str(arn).split(":")[4] != ctx.account_id:
            raise validation(f"The role {arn} must be in the profile's account.")
    return [str(a) for a in arns]


def _policy_arns(arns: list[Any]) -> list[str]:
    if len(arns) > 50:
        raise validation("A profile can name at most 50 managed policies.")
    for arn in arns:
        if not _POLICY_ARN.fullmatch(str(arn)):
            raise validation(f"Invalid managed policy ARN: {arn}")
    return [str(a) for a in arns]


def _session_policy(text: str) -> str:
    result = check_policy(text, PolicyKind.SESSION)
    if result.errors or result.policy is None:
        details = "; ".join(f.message for f in result.errors[:3]) or "the policy does not parse"
        raise validation(f"The session policy is not valid: {details}")
    return text


def _duration(value: Any) -> int:
    duration = int(value)
    if not MIN_DURATION <= duration <= MAX_DURATION:
        raise validation(f"durationSeconds must be between {MIN_DURATION} and {MAX_DURATION}.")
    return duration


def _profile(ctx: OperationContext, params: dict[str, Any], action: str) -> ProfileRecord:
    profile_id = resource_id(ctx, str(params["profileId"]), "profile", "profile")
    ctx.authorize(action, profile_arn(region(ctx), ctx.account_id, profile_id))
    found = ctx.uow.rolesanywhere.find_profile(ctx.account_id, region(ctx), profile_id)
    if found is None:
        raise not_found("Profile")
    return found


@operation("rolesanywhere", "CreateProfile")
def create_profile(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    tags = tags_of(params.get("tags"))
    context: dict[str, object] = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    if tags:
        context["aws:TagKeys"] = list(tags)
    ctx.authorize("rolesanywhere:CreateProfile", "*", context)
    if params.get("requireInstanceProperties"):
        raise validation("iamd does not support requireInstanceProperties.")
    session_policy = params.get("sessionPolicy")
    profile = ctx.uow.rolesanywhere.create_profile(
        ctx.account_id,
        profile_id=str(uuid.uuid4()),
        region=region(ctx),
        name=str(params["name"]),
        enabled=bool(params.get("enabled", False)),
        role_arns=_role_arns(ctx, list(params["roleArns"])),
        managed_policy_arns=_policy_arns(list(params.get("managedPolicyArns") or [])),
        session_policy=_session_policy(str(session_policy)) if session_policy is not None else None,
        duration_seconds=_duration(params.get("durationSeconds", DEFAULT_DURATION)),
        require_instance_properties=False,
        accept_role_session_name=bool(params.get("acceptRoleSessionName", False)),
        created_by=ctx.caller.arn,
        tags=tags,
        created_at=ctx.now,
    )
    return {"profile": profile_output(profile)}


@operation("rolesanywhere", "GetProfile", readonly=True)
def get_profile(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    return {"profile": profile_output(_profile(ctx, params, "rolesanywhere:GetProfile"))}


@operation("rolesanywhere", "ListProfiles", readonly=True)
def list_profiles(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("rolesanywhere:ListProfiles", "*")
    page = ctx.uow.rolesanywhere.list_profiles(
        ctx.account_id, region(ctx), marker=params.get("nextToken"), max_items=page_size(params)
    )
    out: dict[str, Any] = {"profiles": [profile_output(p) for p in page.items]}
    if page.marker is not None:
        out["nextToken"] = page.marker
    return out


@operation("rolesanywhere", "UpdateProfile")
def update_profile(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    profile = _profile(ctx, params, "rolesanywhere:UpdateProfile")
    changes: dict[str, Any] = {}
    if params.get("name") is not None:
        changes["name"] = str(params["name"])
    if params.get("roleArns") is not None:
        changes["role_arns"] = _role_arns(ctx, list(params["roleArns"]))
    if params.get("managedPolicyArns") is not None:
        changes["managed_policy_arns"] = _policy_arns(list(params["managedPolicyArns"]))
    if params.get("sessionPolicy") is not None:
        text = str(params["sessionPolicy"])
        changes["session_policy"] = _session_policy(text) if text else None
    if params.get("durationSeconds") is not None:
        changes["duration_seconds"] = _duration(params["durationSeconds"])
    if params.get("acceptRoleSessionName") is not None:
        changes["accept_role_session_name"] = bool(params["acceptRoleSessionName"])
    updated = ctx.uow.rolesanywhere.update_profile(
        profile.account_id, profile.region, profile.id, ctx.now, **changes
    )
    return {"profile": profile_output(updated)}


def _set_enabled(ctx: OperationContext, params: dict[str, Any], action: str, enabled: bool) -> dict[str, Any]:
    profile = _profile(ctx, params, action)
    updated = ctx.uow.rolesanywhere.update_profile(
        profile.account_id, profile.region, profile.id, ctx.now, enabled=enabled
    )
    return {"profile": profile_output(updated)}


@operation("rolesanywhere", "EnableProfile")
def enable_profile(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    return _set_enabled(ctx, params, "rolesanywhere:EnableProfile", True)


@operation("rolesanywhere", "DisableProfile")
def disable_profile(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    return _set_enabled(ctx, params, "rolesanywhere:DisableProfile", False)


@operation("rolesanywhere", "DeleteProfile")
def delete_profile(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    profile = _profile(ctx, params, "rolesanywhere:DeleteProfile")
    deleted = ctx.uow.rolesanywhere.delete_profile(profile.account_id, profile.region, profile.id)
    return {"profile": profile_output(deleted)}


@operation("rolesanywhere", "PutAttributeMapping")
def put_attribute_mapping(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    """Replace the mapping rules of one certificate field (no rules: the field maps nothing)."""
    profile = _profile(ctx, params, "rolesanywhere:PutAttributeMapping")
    field = str(params["certificateField"])
    rules = [r.get("specifier", "") if isinstance(r, dict) else r for r in params["mappingRules"]]
    specifiers = specifiers_of(field, [str(r) for r in rules])
    mappings = dict(mappings_of(profile))
    mappings[field] = specifiers
    updated = ctx.uow.rolesanywhere.update_profile(
        profile.account_id, profile.region, profile.id, ctx.now, attribute_mappings=mappings
    )
    return {"profile": profile_output(updated)}


@operation("rolesanywhere", "DeleteAttributeMapping")
def delete_attribute_mapping(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    """Remove the given specifiers from a certificate field's rules, or the whole field when none
    are given. A specifier the field does not map is a ValidationException."""
    profile = _profile(ctx, params, "rolesanywhere:DeleteAttributeMapping")
    field = str(params["certificateField"])
    mappings = dict(mappings_of(profile))
    current = mappings.get(field, ())
    if params.get("specifiers"):
        drop = specifiers_of(field, [str(s) for s in params["specifiers"]])
        missing = [s for s in drop if s not in current]
        if missing:
            raise validation(f"The profile does not map {', '.join(missing)} of {field}.")
        mappings[field] = tuple(s for s in current if s not in drop)
    else:
        specifiers_of(field, ())  # checks the field
        mappings[field] = ()
    updated = ctx.uow.rolesanywhere.update_profile(
        profile.account_id, profile.region, profile.id, ctx.now, attribute_mappings=mappings
    )
    return {"profile": profile_output(updated)}
