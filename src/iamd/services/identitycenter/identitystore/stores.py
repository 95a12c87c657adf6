"""The identity stores themselves: DescribeIdentityStore, ListIdentityStores, UpdateIdentityStore
(its NetworkConfiguration: which source addresses reach the API and SCIM)."""

from __future__ import annotations

from typing import Any

from iamd.services.framework import OperationContext, operation
from iamd.services.identitycenter.identitystore.common import (
    SERVICE,
    bad_token,
    caller_store,
    ip_in,
    marker_of,
    page_size,
    paged,
    store_arn,
    validation,
)
from iamd.store.errors import InvalidMarker
from iamd.store.identity_store import IdentityStoreRecord


def _ids(store: IdentityStoreRecord) -> dict[str, Any]:
    return {"IdentityStoreId": store.id, "IdentityStoreArn": store_arn(store.account_id, store.id)}


@operation(SERVICE, "DescribeIdentityStore", readonly=True)
def describe_identity_store(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    store = caller_store(ctx, params)
    out = _ids(store)
    if store.network_configuration:
        out["NetworkConfiguration"] = store.network_configuration
    return out


@operation(SERVICE, "ListIdentityStores", readonly=True)
def list_identity_stores(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("identitystore:ListIdentityStores", "*", resource_account=ctx.account_id)
    try:
        page = ctx.uow.identity_store.list_stores(
            ctx.account_id, marker=marker_of(params), max_items=page_size(params)
        )
    except InvalidMarker:
        raise bad_token() from None
    return paged("IdentityStores", [_ids(s) for s in page.items], page.marker)


@operation(SERVICE, "UpdateIdentityStore")
def update_identity_store(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    config = params.get("NetworkConfiguration")
    store = caller_store(ctx, params)
    if config is not None:
        if "VpceAccessRequired" not in config:
            raise validation("NetworkConfiguration.VpceAccessRequired must be true or false.")
        cleaned = {k: v for k, v in config.items() if v is not None}
        allowed = cleaned.get("ApiAllowSourceIps") or []
        if cleaned.get("VpceAccessRequired") and not ip_in(ctx.info.source_ip, allowed):
            raise validation(
                "This NetworkConfiguration would lock this caller out: iamd has no VPC endpoints, so with "
                "VpceAccessRequired the caller's address must be in ApiAllowSourceIps."
            )
        store = ctx.uow.identity_store.set_network_configuration(store.id, cleaned)
    return _ids(store)
