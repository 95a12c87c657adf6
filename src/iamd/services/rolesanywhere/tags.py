"""TagResource, UntagResource, ListTagsForResource on trust anchors, profiles and CRLs."""

from __future__ import annotations

from typing import Any

from iamd.services.framework import OperationContext, operation
from iamd.services.rolesanywhere.common import error, not_found, parse_arn, tags_of, tags_output, validation
from iamd.store.rolesanywhere import CrlRecord, ProfileRecord, TrustAnchorRecord

Resource = TrustAnchorRecord | ProfileRecord | CrlRecord


def _resource(
    ctx: OperationContext, arn: str, action: str, context: dict[str, object] | None = None
) -> Resource:
    parsed = parse_arn(arn)
    if parsed is None or parsed[2] == "subject":
        raise validation(f"Invalid resource ARN: {arn}")
    region, account, kind, resource_id = parsed
    ctx.authorize(action, arn, context)
    if account != ctx.account_id or region != ctx.info.region:
        raise not_found("Resource")
    repo = ctx.uow.rolesanywhere
    found: Resource | None
    if kind == "trust-anchor":
        found = repo.find_trust_anchor(account, region, resource_id)
    elif kind == "profile":
        found = repo.find_profile(account, region, resource_id)
    else:
        found = repo.find_crl(account, region, resource_id)
    if found is None:
        raise not_found("Resource")
    return found


def _save(ctx: OperationContext, resource: Resource, tags: dict[str, str]) -> None:
    if len(tags) > 50:
        raise error("TooManyTagsException", "A resource can have at most 50 tags.")
    repo = ctx.uow.rolesanywhere
    if isinstance(resource, TrustAnchorRecord):
        repo.update_trust_anchor(resource.account_id, resource.region, resource.id, ctx.now, tags=tags)
    elif isinstance(resource, CrlRecord):
        repo.update_crl(resource.account_id, resource.region, resource.id, ctx.now, tags=tags)
    else:
        repo.update_profile(resource.account_id, resource.region, resource.id, ctx.now, tags=tags)


@operation("rolesanywhere", "ListTagsForResource", readonly=True)
def list_tags_for_resource(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    resource = _resource(ctx, str(params["resourceArn"]), "rolesanywhere:ListTagsForResource")
    return {"tags": tags_output(resource.tags)}


@operation("rolesanywhere", "TagResource")
def tag_resource(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    tags = tags_of(params["tags"])
    context: dict[str, object] = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    context["aws:TagKeys"] = list(tags)
    resource = _resource(ctx, str(params["resourceArn"]), "rolesanywhere:TagResource", context)
    merged = {k: v for k, v in resource.tags.items() if k.lower() not in {t.lower() for t in tags}}
    merged.update(tags)
    _save(ctx, resource, merged)
    return {}


@operation("rolesanywhere", "UntagResource")
def untag_resource(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    keys = [str(k) for k in params["tagKeys"]]
    context: dict[str, object] = {"aws:TagKeys": keys}
    resource = _resource(ctx, str(params["resourceArn"]), "rolesanywhere:UntagResource", context)
    drop = {k.lower() for k in keys}
    _save(ctx, resource, {k: v for k, v in resource.tags.items() if k.lower() not in drop})
    return {}
