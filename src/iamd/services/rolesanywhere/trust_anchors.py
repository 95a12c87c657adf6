"""Trust anchors: the CA certificates that end-entity certificates must chain to, and their
notification settings.

Notification settings (PutNotificationSettings, ResetNotificationSettings, CreateTrustAnchor's
``notificationSettings``) are validated, stored and returned with AWS's defaults for the events
not customized (enabled, 45 days, channel ALL, configured by ``rolesanywhere.amazonaws.com``);
iamd sends no notification (no CloudWatch metric, EventBridge event or Health event).
"""

from __future__ import annotations

import uuid
from typing import Any

from iamd.services.framework import OperationContext, operation
from iamd.services.rolesanywhere.common import (
    NOTIFICATION_EVENTS,
    anchor_arn,
    anchor_output,
    check_ca_bundle,
    not_found,
    page_size,
    region,
    resource_id,
    tags_of,
    validation,
)
from iamd.store.rolesanywhere import NotificationSettingRecord, TrustAnchorRecord

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


def _event(raw: Any) -> tuple[str, str]:
    event = str(raw.get("event") or "")
    if event not in NOTIFICATION_EVENTS:
        events = ", ".join(NOTIFICATION_EVENTS)
        raise validation(f"Unknown notification event '{event}': it must be one of {events}.")
    channel = str(raw.get("channel") or "ALL")
    if channel != "ALL":
        raise validation(f"Unknown notification channel '{channel}': it must be ALL.")
    return event, channel


def _settings(
    ctx: OperationContext, current: tuple[NotificationSettingRecord, ...], raw: list[Any]
) -> tuple[NotificationSettingRecord, ...]:
    """``current`` with the settings of ``raw`` put in (one per event and channel)."""
    if len(raw) > 50:
        raise validation("notificationSettings may hold at most 50 settings.")
    merged = {(n.event, n.channel or "ALL"): n for n in current}
    seen: set[tuple[str, str]] = set()
    for item in raw:
        key = _event(item)
        if key in seen:
            raise validation(f"The notification setting for {key[0]} on channel {key[1]} is given twice.")
        seen.add(key)
        if item.get("enabled") is None:
            raise validation(f"The notification setting for {key[0]} needs 'enabled'.")
        enabled = bool(item["enabled"])
        threshold = item.get("threshold")
        if threshold is not None and not 1 <= int(threshold) <= 360:
            raise validation(f"The threshold of {key[0]} must be between 1 and 360 days.")
        if enabled and threshold is None:
            raise validation(f"The enabled notification setting for {key[0]} needs a threshold.")
        merged[key] = NotificationSettingRecord(
            key[0], key[1], enabled, None if threshold is None else int(threshold), ctx.account_id
        )
    return tuple(merged[k] for k in sorted(merged))


def _anchor(ctx: OperationContext, params: dict[str, Any], action: str) -> TrustAnchorRecord:
    anchor_id = resource_id(ctx, str(params["trustAnchorId"]), "trust-anchor", "trust anchor")
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
    kind, data = _source(params["source"])
    settings = _settings(ctx, (), params.get("notificationSettings") or [])
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
    if settings:
        anchor = ctx.uow.rolesanywhere.update_trust_anchor(
            anchor.account_id, anchor.region, anchor.id, ctx.now, notification_settings=settings
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


@operation("rolesanywhere", "PutNotificationSettings")
def put_notification_settings(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    """Customize notification settings of a trust anchor (stored only: iamd sends none)."""
    anchor = _anchor(ctx, params, "rolesanywhere:PutNotificationSettings")
    settings = _settings(ctx, anchor.notification_settings, list(params["notificationSettings"]))
    updated = ctx.uow.rolesanywhere.update_trust_anchor(
        anchor.account_id, anchor.region, anchor.id, ctx.now, notification_settings=settings
    )
    return {"trustAnchor": anchor_output(updated)}


@operation("rolesanywhere", "ResetNotificationSettings")
def reset_notification_settings(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    """Drop the custom settings of the given events and channels: AWS's defaults apply again."""
    anchor = _anchor(ctx, params, "rolesanywhere:ResetNotificationSettings")
    keys = list(params["notificationSettingKeys"])
    if len(keys) > 50:
        raise validation("notificationSettingKeys may hold at most 50 keys.")
    reset = {_event(k) for k in keys}
    settings = tuple(n for n in anchor.notification_settings if (n.event, n.channel or "ALL") not in reset)
    updated = ctx.uow.rolesanywhere.update_trust_anchor(
        anchor.account_id, anchor.region, anchor.id, ctx.now, notification_settings=settings
    )
    return {"trustAnchor": anchor_output(updated)}
