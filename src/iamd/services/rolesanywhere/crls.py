"""Certificate revocation lists: imported for a trust anchor, they make CreateSession refuse the
certificates they revoke while they are enabled (:func:`iamd.services.rolesanywhere.sessions.
check_revocation`).

``crlData`` is an X.509 v2 CRL in DER or PEM, kept as imported. A CRL whose issuer is one of the
anchor's CA certificates must carry that CA's signature; one issued by an intermediate CA is
accepted as it is and checked, like every CRL, when a certificate is presented. Aliases are not
supported.
"""

from __future__ import annotations

import uuid
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm

from iamd.services.framework import OperationContext, operation
from iamd.services.rolesanywhere.common import (
    anchor_arn,
    crl_arn,
    load_certificates,
    not_found,
    page_of,
    page_size,
    parse_arn,
    parse_crl,
    region,
    resource_id,
    tags_of,
    validation,
)
from iamd.store.rolesanywhere import CrlRecord, TrustAnchorRecord

_MAX_CRL_BYTES = 300000


def crl_output(crl: CrlRecord) -> dict[str, Any]:
    return {
        "crlId": crl.id,
        "crlArn": crl_arn(crl.region, crl.account_id, crl.id),
        "name": crl.name,
        "enabled": crl.enabled,
        "crlData": crl.crl_data,
        "trustAnchorArn": anchor_arn(crl.region, crl.account_id, crl.trust_anchor_id),
        "createdAt": crl.created_at,
        "updatedAt": crl.updated_at,
    }


def _no_alias(params: dict[str, Any]) -> None:
    if params.get("aliasName"):
        raise validation("iamd does not support aliases: aliasName must be omitted or empty.")


def _crl_data(raw: Any, anchor: TrustAnchorRecord) -> bytes:
    data = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
    if not 1 <= len(data) <= _MAX_CRL_BYTES:
        raise validation(f"crlData must hold 1 to {_MAX_CRL_BYTES} bytes.")
    crl = parse_crl(data)
    if crl is None:
        raise validation("crlData is not an X.509 certificate revocation list (DER or PEM).")
    for ca in load_certificates(anchor.source_data):
        if ca.subject == crl.issuer:
            try:
                signed = crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
            except (TypeError, ValueError, UnsupportedAlgorithm):
                signed = False
            if not signed:
                raise validation("The CRL names the trust anchor's CA as its issuer but is not signed by it.")
    return data


def _anchor_of(ctx: OperationContext, arn: str) -> TrustAnchorRecord:
    parsed = parse_arn(arn)
    if parsed is None or parsed[2] != "trust-anchor":
        if ":alias/trust-anchor/" in arn:
            raise not_found("Trust anchor")
        raise validation(f"Invalid trust anchor ARN: {arn}")
    region_name, account, _, anchor_id = parsed
    if account != ctx.account_id or region_name != region(ctx):
        raise not_found("Trust anchor")
    anchor = ctx.uow.rolesanywhere.find_trust_anchor(account, region_name, anchor_id)
    if anchor is None:
        raise not_found("Trust anchor")
    return anchor


def _crl(ctx: OperationContext, params: dict[str, Any], action: str) -> CrlRecord:
    crl_id = resource_id(ctx, str(params["crlId"]), "crl", "CRL")
    ctx.authorize(action, crl_arn(region(ctx), ctx.account_id, crl_id))
    found = ctx.uow.rolesanywhere.find_crl(ctx.account_id, region(ctx), crl_id)
    if found is None:
        raise not_found("CRL")
    return found


@operation("rolesanywhere", "ImportCrl")
def import_crl(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    tags = tags_of(params.get("tags"))
    context: dict[str, object] = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    if tags:
        context["aws:TagKeys"] = list(tags)
    ctx.authorize("rolesanywhere:ImportCrl", "*", context)
    _no_alias(params)
    anchor = _anchor_of(ctx, str(params["trustAnchorArn"]))
    crl = ctx.uow.rolesanywhere.create_crl(
        ctx.account_id,
        crl_id=str(uuid.uuid4()),
        region=region(ctx),
        trust_anchor_id=anchor.id,
        name=str(params["name"]),
        enabled=bool(params.get("enabled", False)),
        crl_data=_crl_data(params["crlData"], anchor),
        tags=tags,
        created_at=ctx.now,
    )
    return {"crl": crl_output(crl)}


@operation("rolesanywhere", "GetCrl", readonly=True)
def get_crl(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    return {"crl": crl_output(_crl(ctx, params, "rolesanywhere:GetCrl"))}


@operation("rolesanywhere", "ListCrls", readonly=True)
def list_crls(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("rolesanywhere:ListCrls", "*")
    size = page_size(params)
    page = page_of(
        lambda: ctx.uow.rolesanywhere.list_crls(
            ctx.account_id, region(ctx), marker=params.get("nextToken"), max_items=size
        )
    )
    out: dict[str, Any] = {"crls": [crl_output(c) for c in page.items]}
    if page.marker is not None:
        out["nextToken"] = page.marker
    return out


@operation("rolesanywhere", "UpdateCrl")
def update_crl(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    crl = _crl(ctx, params, "rolesanywhere:UpdateCrl")
    _no_alias(params)
    changes: dict[str, Any] = {}
    if params.get("name") is not None:
        changes["name"] = str(params["name"])
    if params.get("crlData") is not None:
        anchor = ctx.uow.rolesanywhere.find_trust_anchor(crl.account_id, crl.region, crl.trust_anchor_id)
        if anchor is None:  # deleting an anchor deletes its CRLs
            raise not_found("Trust anchor")
        changes["crl_data"] = _crl_data(params["crlData"], anchor)
    updated = ctx.uow.rolesanywhere.update_crl(crl.account_id, crl.region, crl.id, ctx.now, **changes)
    return {"crl": crl_output(updated)}


def _set_enabled(ctx: OperationContext, params: dict[str, Any], action: str, enabled: bool) -> dict[str, Any]:
    crl = _crl(ctx, params, action)
    updated = ctx.uow.rolesanywhere.update_crl(crl.account_id, crl.region, crl.id, ctx.now, enabled=enabled)
    return {"crl": crl_output(updated)}


@operation("rolesanywhere", "EnableCrl")
def enable_crl(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    return _set_enabled(ctx, params, "rolesanywhere:EnableCrl", True)


@operation("rolesanywhere", "DisableCrl")
def disable_crl(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    return _set_enabled(ctx, params, "rolesanywhere:DisableCrl", False)


@operation("rolesanywhere", "DeleteCrl")
def delete_crl(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    crl = _crl(ctx, params, "rolesanywhere:DeleteCrl")
    deleted = ctx.uow.rolesanywhere.delete_crl(crl.account_id, crl.region, crl.id)
    return {"crl": crl_output(deleted)}
