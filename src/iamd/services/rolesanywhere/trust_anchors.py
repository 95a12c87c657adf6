"""Trust anchors: the CA certificates that end-entity certificates must chain to."""

from __future__ import annotations

import uuid
from typing import Any

from iamd.services.framework import OperationContext, operation
from iamd.services.rolesanywhere.common import (
    anchor_arn,
    anchor_output,
    check_ca_bundle,
    check_uuid,
    not_found,
    page_size,
    region,
    tags_of,
    validation,
)
from iamd.store.rolesanywhere import TrustAnchorRecord

_SOURCE_TYPES = ("CERTIFICATE_BUNDLE", "AWS_ACM_PCA", "SELF_SIGNED_REPOSITORY")


def _source(source: dict[str, Any]) -> tuple[str, str]:
    kind = str(source.get("sourceType") or "")
    data = source.get("sourceData") or {}
    if kind == "CERTIFICATE_BUNDLE":
        pem = data.get("x509CertificateData")
        if not pem:
            raise validation("A CERTIFICATE_BUNDLE trust anchor needs sourceData.x509CertificateData.")
        check_ca_bundle(str(pem))
        return kind, str(pem)
    if kind in _SOURCE_TYPES:
        raise validation(f"iamd supports only CERTIFICATE_BUNDLE trust anchors, not {kind}.")
    raise validation(f"Unknown sourceType {kind!r}.")


def _anchor(ctx: OperationContext, params: dict[str, Any], action: str) -> TrustAnchorRecord:
    anchor_id = check_uuid(str(params["trustAnchorId"]), "trustAnchorId")
    ctx.authorize(action, anchor_arn(region(ctx), ctx.account_id, anchor_id))
    found = ctx.uow.rolesanywhere.find_trust_anchor(ctx.account_id, region(ctx), anchor_id)
    if found is None:
        raise not_found("Trust anchor")
    return found


@operation("rolesanywhere", "CreateTrustAnchor")
def create_trust_anchor(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    tags = tags_of(params.get("tags"))
    context: dict[str, object] = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    if tags:
        context["aws:TagKeys"] = list(tags)
    ctx.authorize("rolesanywhere:CreateTrustAnchor", "*", context)
    if params.get("notificationSettings"):
        raise validation("iamd does not support notificationSettings.")
    kind, data = _source(params["source"])
    anchor = ctx.uow.rolesanywhere.create_trust_anchor(
        ctx.account_id,
        anchor_id=str(uuid.uuid4()),
        region=region(ctx),
        name=str(params["name"]),
        enabled=bool(params.get("enabled", False)),
        source_type=kind,
        source_data=data,
        tags=tags,
        created_at=ctx.now,
    )
    return {"trustAnchor": anchor_output(anchor)}


@operation("rolesanywhere", "GetTrustAnchor", readonly=True)
def get_trust_anchor(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    return {"trustAnchor": anchor_output(_anchor(ctx, params, "rolesanywhere:GetTrustAnchor"))}


@operation("rolesanywhere", "ListTrustAnchors", readonly=True)
def list_trust_anchors(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("rolesanywhere:ListTrustAnchors", "*")
    page = ctx.uow.rolesanywhere.list_trust_anchors(
        ctx.account_id, region(ctx), marker=params.get("nextToken"), max_items=page_size(params)
    )
    out: dict[str, Any] = {"trustAnchors": [anchor_output(a) for a in page.items]}
    if page.marker is not None:
        out["nextToken"] = page.marker
    return out


@operation("rolesanywhere", "UpdateTrustAnchor")
def update_trust_anchor(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    anchor = _anchor(ctx, params, "rolesanywhere:UpdateTrustAnchor")
    changes: dict[str, Any] = {}
    if params.get("name") is not None:
        changes["name"] = str(params["name"])
    if params.get("source") is not None:
        changes["source_type"], changes["source_data"] = _source(params["source"])
    updated = ctx.uow.rolesanywhere.update_trust_anchor(
        anchor.account_id, anchor.region, anchor.id, ctx.now, **changes
    )
    return {"trustAnchor": anchor_output(updated)}


def _set_enabled(ctx: OperationContext, params: dict[str, Any], action: str, enabled: bool) -> dict[str, Any]:
    anchor = _anchor(ctx, params, action)
    updated = ctx.uow.rolesanywhere.update_trust_anchor(
        anchor.account_id, anchor.region, anchor.id, ctx.now, enabled=enabled
    )
    return {"trustAnchor": anchor_output(updated)}


@operation("rolesanywhere", "EnableTrustAnchor")
def enable_trust_anchor(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    return _set_enabled(ctx, params, "rolesanywhere:EnableTrustAnchor", True)


@operation("rolesanywhere", "DisableTrustAnchor")
def disable_trust_anchor(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    return _set_enabled(ctx, params, "rolesanywhere:DisableTrustAnchor", False)


@operation("rolesanywhere", "DeleteTrustAnchor")
def delete_trust_anchor(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    anchor = _anchor(ctx, params, "rolesanywhere:DeleteTrustAnchor")
    deleted = ctx.uow.rolesanywhere.delete_trust_anchor(anchor.account_id, anchor.region, anchor.id)
    return {"trustAnchor": anchor_output(deleted)}
