"""Tags on roots, OUs, accounts and policies: TagResource, UntagResource, ListTagsForResource."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from iamd.services.framework import OperationContext, operation
from iamd.services.organizations.common import (
    MANAGED,
    MAX_TAGS,
    SERVICE,
    authorize,
    caller_org,
    constraint,
    error,
    invalid,
    manager,
    paged,
    target_exists,
)
from iamd.store.organizations import OrganizationRecord


def _resource(ctx: OperationContext, org: OrganizationRecord, resource_id: str) -> None:
    if resource_id.startswith("p-"):
        policy = ctx.uow.organizations.policy(resource_id)
        if resource_id in MANAGED or (policy is not None and policy.organization_id == org.id):
            if resource_id in MANAGED:
                raise invalid("IMMUTABLE_POLICY", f"The AWS managed policy {resource_id} cannot be tagged.")
            return
    elif target_exists(ctx, org, resource_id):
        return
    raise error("TargetNotFoundException", f"Resource {resource_id} does not exist in organization {org.id}.")


def checked_tags(tags: Sequence[dict[str, Any]]) -> dict[str, str]:
    """The API's [{Key, Value}] as a map; any bad tag refuses them all."""
    wanted: dict[str, str] = {}
    for tag in tags:
        key, value = str(tag["Key"]), str(tag.get("Value") or "")
        if key in wanted:
            raise invalid("DUPLICATE_TAG_KEY", f"The tag key {key} appears more than once.")
        if key.lower().startswith("aws:"):
            raise invalid(
                "INVALID_SYSTEM_TAGS_PARAMETER", f"Tag keys starting with aws: are reserved ({key})."
            )
        wanted[key] = value
    if len(wanted) > MAX_TAGS:
        raise constraint("MAX_TAG_LIMIT_EXCEEDED", f"A resource can have at most {MAX_TAGS} tags.")
    return wanted


def apply_tags(
    ctx: OperationContext, org: OrganizationRecord, resource_id: str, tags: Sequence[dict[str, Any]]
) -> None:
    """Add ``tags`` (the API's [{Key, Value}]) to a resource; any bad tag refuses them all."""
    if not tags:
        return
    wanted = checked_tags(tags)
    current = ctx.uow.organizations.tags(org.id, resource_id)
    if len(set(current) | set(wanted)) > MAX_TAGS:
        raise constraint("MAX_TAG_LIMIT_EXCEEDED", f"A resource can have at most {MAX_TAGS} tags.")
    ctx.uow.organizations.put_tags(org.id, resource_id, wanted)


@operation(SERVICE, "TagResource")
def tag_resource(ctx: OperationContext, params: dict[str, Any]) -> None:
    authorize(ctx, "*", {"aws:TagKeys": [t["Key"] for t in params["Tags"]]})
    org = manager(ctx)
    _resource(ctx, org, params["ResourceId"])
    apply_tags(ctx, org, params["ResourceId"], params["Tags"])
    return None


@operation(SERVICE, "UntagResource")
def untag_resource(ctx: OperationContext, params: dict[str, Any]) -> None:
    authorize(ctx, "*", {"aws:TagKeys": list(params["TagKeys"])})
    org = manager(ctx)
    _resource(ctx, org, params["ResourceId"])
    ctx.uow.organizations.remove_tags(org.id, params["ResourceId"], params["TagKeys"])
    return None


@operation(SERVICE, "ListTagsForResource", readonly=True)
def list_tags_for_resource(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    authorize(ctx)
    org = manager(ctx)
    resource_id = params["ResourceId"]
    if resource_id not in MANAGED:
        _resource(ctx, org, resource_id)
    tags = sorted(ctx.uow.organizations.tags(org.id, resource_id).items())
    return paged("Tags", params, tags, lambda kv: {"Key": kv[0], "Value": kv[1]})


__all__ = ["apply_tags", "caller_org"]
