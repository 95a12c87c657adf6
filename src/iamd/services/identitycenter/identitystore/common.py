"""What every ``identitystore`` operation shares: its errors, ids and ARNs, finding the caller's
identity store, authorization, the store's network controls, and paging.

Facts from /work/shared/spec/identity_center.md §2 and botocore's ``identitystore`` model
(2020-06-15, 22 operations in botocore 1.44.18).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any, Final

from iamd.services.framework import OperationContext
from iamd.store.identity_store import IdentityStoreRecord, Taken
from iamd.wire import AwsError, load_service_model, modeled_error

SERVICE: Final = "identitystore"
DEFAULT_PAGE: Final = 100
RESERVED_NAMES: Final = frozenset({"administrator", "awsadministrators"})
"""``Administrator`` and ``AWSAdministrators`` are reserved for users and groups (the model)."""

_STORE_ARN = re.compile(r"arn:aws[a-z-]*:identitystore::(\d{12}):identitystore/(.+)")
_RESOURCE_ARN = re.compile(r"arn:aws[a-z-]*:identitystore:::(user|group|membership)/(.+)")


def error(shape: str, message: str, **fields: Any) -> AwsError:
    return modeled_error(load_service_model(SERVICE), shape, message, **fields)


def validation(message: str) -> AwsError:
    return error("ValidationException", message)


def not_found(resource_type: str, resource_id: str, message: str | None = None) -> AwsError:
    """ResourceNotFoundException with its ResourceType (USER, GROUP, GROUP_MEMBERSHIP,
    IDENTITY_STORE) and ResourceId."""
    what = {"USER": "User", "GROUP": "Group", "GROUP_MEMBERSHIP": "GroupMembership"}.get(
        resource_type, "IdentityStore"
    )
    return error(
        "ResourceNotFoundException",
        message or f"{what} not found.",
        ResourceType=resource_type,
        ResourceId=resource_id,
    )


def conflict(message: str, reason: str = "UNIQUENESS_CONSTRAINT_VIOLATION") -> AwsError:
    return error("ConflictException", message, Reason=reason)


def taken(exc: Taken) -> AwsError:
    """A uniqueness clash, as AWS words it."""
    return conflict(
        f"Duplicate {exc.attribute} value: {exc.value!r} is already used by another {exc.kind} "
        "in the identity store."
    )


def bad_token() -> AwsError:
    return validation("The NextToken is not valid.")


# -- ids and ARNs ---------------------------------------------------------------------------------


def store_id_of(value: str) -> str:
    """``d-…`` (or a UUID) from an IdentityStoreId, which may also be the store's ARN."""
    match = _STORE_ARN.fullmatch(value)
    return match.group(2) if match else value


def resource_id_of(value: str, kind: str) -> str:
    """A user, group or membership id from a ResourceId, which may be its ARN; an ARN of another
    kind is refused."""
    match = _RESOURCE_ARN.fullmatch(value)
    if match is None:
        return value
    if match.group(1) != kind:
        raise validation(f"{value} is the ARN of a {match.group(1)}, not of a {kind}.")
    return match.group(2)


def resource_arn(kind: str, resource_id: str) -> str:
    """``arn:aws:identitystore:::user/<id>`` (and group, membership): no Region, no account."""
    return f"arn:aws:identitystore:::{kind}/{resource_id}"


def store_arn(account_id: str, store_id: str) -> str:
    return f"arn:aws:identitystore::{account_id}:identitystore/{store_id}"


# -- the caller's store ---------------------------------------------------------------------------


def caller_store(ctx: OperationContext, params: Mapping[str, Any], *extra: str) -> IdentityStoreRecord:
    """Authorize ``identitystore:<Operation>`` on the named store (and the ``extra`` resource
    ARNs), then return it: one of the caller's account, or the organization instance's store when
    the caller's account is a delegated administrator of IAM Identity Center; else
    ResourceNotFoundException (a store of another account is not revealed). The store's network
    controls apply."""
    raw = str(params["IdentityStoreId"])
    store_id = store_id_of(raw)
    arn_match = _STORE_ARN.fullmatch(raw)
    delegated = _delegated_store(ctx, store_id)
    owner = delegated.account_id if delegated is not None else ctx.account_id
    account = arn_match.group(1) if arn_match else owner
    # A delegated administrator acts on the management account's store by the service's grant:
    # its own account's policies (and SCPs) decide, as for any call in that account.
    judged_in = ctx.account_id if delegated is not None else account
    action = f"identitystore:{ctx.info.operation}"
    context = {"identitystore:IdentityStoreArn": store_arn(account, store_id)}
    ctx.authorize(action, store_arn(account, store_id), context, resource_account=judged_in)
    for arn in extra:
        ctx.authorize(action, arn, context, resource_account=judged_in)
    store = delegated or find_store(ctx, store_id)
    if store is None or store.account_id != owner or account != owner:
        raise not_found("IDENTITY_STORE", store_id, "Identity store not found.")
    check_network(store, ctx.info.source_ip, scim=False)
    return store


def _delegated_store(ctx: OperationContext, store_id: str) -> IdentityStoreRecord | None:
    """The store ``store_id`` when it is another account's organization instance store and the
    caller's account is a delegated administrator of that instance; else None."""
    from iamd.services.identitycenter.common import is_delegated_admin

    instance = ctx.uow.identity_center.instance_by_identity_store(store_id)
    if instance is None or instance.owner_account_id == ctx.account_id:
        return None
    if not is_delegated_admin(ctx, instance):
        return None
    return find_store(ctx, store_id)


def find_store(ctx: OperationContext, store_id: str) -> IdentityStoreRecord | None:
    """The identity store ``store_id``."""
    return ctx.uow.identity_store.find_store(store_id)


def ip_in(ip: str, cidrs: object) -> bool:
    if not isinstance(cidrs, list):
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for cidr in cidrs:
        try:
            if address in ipaddress.ip_network(str(cidr), strict=False):
                return True
        except ValueError:
            continue
    return False


def network_allows(store: IdentityStoreRecord, source_ip: str, *, scim: bool) -> bool:
    """Whether the store's NetworkConfiguration lets a request from ``source_ip`` in. iamd has no
    VPC endpoints: with ``VpceAccessRequired`` only ``ApiAllowSourceIps`` get to the API; SCIM
    requests must come from ``ScimAllowSourceIps`` when it is set."""
    config = store.network_configuration
    if not config:
        return True
    if scim:
        allowed = config.get("ScimAllowSourceIps")
        if allowed:
            return ip_in(source_ip, allowed)
        return not config.get("VpceAccessRequired")
    if ip_in(source_ip, config.get("ApiAllowSourceIps")):
        return True
    return not config.get("VpceAccessRequired") and not config.get("ApiRestrictSourceVpcs")


def check_network(store: IdentityStoreRecord, source_ip: str, *, scim: bool) -> None:
    if not network_allows(store, source_ip, scim=scim):
        raise error(
            "AccessDeniedException",
            f"Access to identity store {store.id} from {source_ip} is denied by its network configuration.",
        )


# -- paging ---------------------------------------------------------------------------------------


def page_size(params: Mapping[str, Any]) -> int:
    return int(params.get("MaxResults") or DEFAULT_PAGE)


def marker_of(params: Mapping[str, Any]) -> str | None:
    token = params.get("NextToken")
    return str(token) if token else None


def paged(key: str, items: list[dict[str, Any]], marker: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {key: items}
    if marker is not None:
        out["NextToken"] = marker
    return out
