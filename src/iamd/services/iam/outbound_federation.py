"""Outbound web identity federation: EnableOutboundWebIdentityFederation,
DisableOutboundWebIdentityFederation and GetOutboundWebIdentityFederationInfo (the issuer and its
keys: :mod:`iamd.services.oidc_issuer`; the tokens: STS GetWebIdentityToken)."""

from __future__ import annotations

from typing import Any

from iamd.services import oidc_issuer
from iamd.services.framework import OperationContext, operation
from iamd.wire import ClientError


class FeatureEnabled(ClientError):
    code = "FeatureEnabled"
    status = 409


class FeatureDisabled(ClientError):
    code = "FeatureDisabled"
    status = 404


@operation("iam", "EnableOutboundWebIdentityFederation")
def enable_outbound_web_identity_federation(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("iam:EnableOutboundWebIdentityFederation", "*")
    issuer = oidc_issuer.find_issuer(ctx.uow, ctx.account_id)
    if issuer is not None and issuer.enabled:
        raise FeatureEnabled(
            f"Outbound web identity federation is already enabled for account {ctx.account_id} "
            f"(issuer {issuer.url}); use GetOutboundWebIdentityFederationInfo to read its configuration."
        )
    issuer = oidc_issuer.enable(ctx.uow, ctx.account_id, ctx.info.base_url, ctx.now)
    return {"IssuerIdentifier": issuer.url}


@operation("iam", "DisableOutboundWebIdentityFederation")
def disable_outbound_web_identity_federation(ctx: OperationContext, params: dict[str, Any]) -> None:
    ctx.authorize("iam:DisableOutboundWebIdentityFederation", "*")
    issuer = oidc_issuer.find_issuer(ctx.uow, ctx.account_id)
    if issuer is None or not issuer.enabled:
        raise FeatureDisabled(
            f"Outbound web identity federation is not enabled for account {ctx.account_id}."
        )
    oidc_issuer.disable(ctx.uow, ctx.account_id, ctx.now)


@operation("iam", "GetOutboundWebIdentityFederationInfo", readonly=True)
def get_outbound_web_identity_federation_info(
    ctx: OperationContext, params: dict[str, Any]
) -> dict[str, Any]:
    ctx.authorize("iam:GetOutboundWebIdentityFederationInfo", "*")
    issuer = oidc_issuer.find_issuer(ctx.uow, ctx.account_id)
    if issuer is None or not issuer.enabled:
        raise FeatureDisabled(
            f"Outbound web identity federation is not enabled for account {ctx.account_id}; "
            "enable it with EnableOutboundWebIdentityFederation."
        )
    return {"IssuerIdentifier": issuer.url, "JwtVendingEnabled": True}
