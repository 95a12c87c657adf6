"""Users: CreateUser, DescribeUser, UpdateUser, DeleteUser, ListUsers, GetUserId."""

from __future__ import annotations

import json
from typing import Any

from iamd.services.framework import OperationContext, operation
from iamd.services.identitycenter.identitystore.attributes import (
    apply_user_operations,
    check_text,
    check_user_attributes,
    check_user_name,
    render_extensions,
)
from iamd.services.identitycenter.identitystore.common import (
    SERVICE,
    bad_token,
    caller_store,
    conflict,
    error,
    marker_of,
    not_found,
    page_size,
    paged,
    resource_arn,
    resource_id_of,
    taken,
    validation,
)
from iamd.store.errors import InvalidMarker
from iamd.store.identity_store import ExternalId, IdentityStoreRecord, IdsUserRecord, StaleRevision, Taken
from iamd.wire import AwsError

MAX_USERS = 50_000
"""Users per identity store (the 2022 quota page; the current page recommends the API past it)."""


def render_user(user: IdsUserRecord, extensions: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "IdentityStoreId": user.store_id,
        "UserId": user.id,
        "UserArn": resource_arn("user", user.id),
        "Revision": str(user.revision),
        "UserName": user.user_name,
        "UserStatus": user.status,
        "CreatedAt": user.created_at,
        "UpdatedAt": user.updated_at,
    }
    if user.created_by:
        out["CreatedBy"] = user.created_by
    if user.updated_by:
        out["UpdatedBy"] = user.updated_by
    if user.external_ids:
        out["ExternalIds"] = [{"Issuer": e.issuer, "Id": e.id} for e in user.external_ids]
    out.update({k: v for k, v in user.attributes.items() if k != "Extensions"})
    chosen = render_extensions(user.attributes, extensions)
    if chosen:
        out["Extensions"] = chosen
    return out


def user_of(ctx: OperationContext, store: IdentityStoreRecord, raw_id: str) -> IdsUserRecord:
    user_id = resource_id_of(raw_id, "user")
    user = ctx.uow.identity_store.find_user(store.id, user_id)
    if user is None:
        raise not_found("USER", user_id)
    return user


def revision_of(params: dict[str, Any]) -> int | None:
    raw = params.get("Revision")
    return None if raw is None else int(raw)


def stale(kind: str, exc: StaleRevision) -> AwsError:
    return conflict(f"The {kind} was modified concurrently: {exc}.", reason="CONCURRENT_MODIFICATION")


@operation(SERVICE, "CreateUser")
def create_user(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    store = caller_store(ctx, params)
    if params.get("UserName") is None:
        raise validation("UserName is required: IAM Identity Center users sign in with it.")
    user_name = check_user_name(params["UserName"])
    attributes = check_user_attributes(params)
    if ctx.uow.identity_store.count_users(store.id) >= MAX_USERS:
        raise error("ServiceQuotaExceededException", f"The identity store has {MAX_USERS} users, its limit.")
    try:
        user = ctx.uow.identity_store.create_user(
            store.id,
            user_name=user_name,
            attributes=attributes,
            created_at=ctx.now,
            created_by=ctx.caller.arn,
        )
    except Taken as exc:
        raise taken(exc) from None
    return {
        "IdentityStoreId": store.id,
        "UserId": user.id,
        "UserArn": resource_arn("user", user.id),
        "Revision": str(user.revision),
    }


@operation(SERVICE, "DescribeUser", readonly=True)
def describe_user(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    user_id = resource_id_of(str(params["UserId"]), "user")
    store = caller_store(ctx, params, resource_arn("user", user_id))
    return render_user(user_of(ctx, store, user_id), params.get("Extensions"))


@operation(SERVICE, "UpdateUser")
def update_user(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    user_id = resource_id_of(str(params["UserId"]), "user")
    store = caller_store(ctx, params, resource_arn("user", user_id))
    user = user_of(ctx, store, user_id)
    user_name, attributes = apply_user_operations(user.user_name, user.attributes, params["Operations"])
    try:
        updated = ctx.uow.identity_store.update_user(
            store.id,
            user.id,
            user_name=user_name,
            attributes=attributes,
            updated_at=ctx.now,
            updated_by=ctx.caller.arn,
            expected_revision=revision_of(params),
        )
    except Taken as exc:
        raise taken(exc) from None
    except StaleRevision as exc:
        raise stale("user", exc) from None
    return {
        "IdentityStoreId": store.id,
        "UserId": updated.id,
        "UserArn": resource_arn("user", updated.id),
        "Revision": str(updated.revision),
    }


@operation(SERVICE, "DeleteUser")
def delete_user(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    user_id = resource_id_of(str(params["UserId"]), "user")
    store = caller_store(ctx, params, resource_arn("user", user_id))
    user = user_of(ctx, store, user_id)
    try:
        ctx.uow.identity_store.delete_user(store.id, user.id, expected_revision=revision_of(params))
    except StaleRevision as exc:
        raise stale("user", exc) from None
    return {}


@operation(SERVICE, "ListUsers", readonly=True)
def list_users(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    store = caller_store(ctx, params, resource_arn("user", "*"))
    user_name = None
    for item in params.get("Filters") or []:
        if str(item["AttributePath"]).lower() == "username":
            user_name = str(item["AttributeValue"])
        else:
            raise validation(
                f"Filtering users by {item['AttributePath']} is not supported: use UserName (deprecated: "
                "use GetUserId instead)."
            )
    try:
        page = ctx.uow.identity_store.list_users(
            store.id,
            user_name=user_name,
            marker=marker_of(params),
            max_items=page_size(params),
        )
    except InvalidMarker:
        raise bad_token() from None
    extensions = params.get("Extensions")
    return paged("Users", [render_user(u, extensions) for u in page.items], page.marker)


def unique_value(raw: Any, path: str) -> str:
    """The ``AttributeValue`` of a UniqueAttribute: a JSON document holding a string."""
    value = raw
    if isinstance(raw, str):
        try:
            value = json.loads(raw) if raw[:1] in ('"', "{", "[") else raw
        except ValueError:
            value = raw
    if not isinstance(value, str):
        raise validation(f"The AttributeValue for {path} must be a string.")
    return check_text(value, f"AttributeValue of {path}")


def external_id_of(raw: dict[str, Any]) -> ExternalId:
    return ExternalId(str(raw["Issuer"]), str(raw["Id"]))


def alternate(params: dict[str, Any]) -> tuple[str | None, str | None, ExternalId | None]:
    """(attribute path, value) of a UniqueAttribute, or the ExternalId, of AlternateIdentifier."""
    identifier = params["AlternateIdentifier"] or {}
    unique = identifier.get("UniqueAttribute")
    external = identifier.get("ExternalId")
    if (unique is None) == (external is None):
        raise validation("AlternateIdentifier must have exactly one of ExternalId and UniqueAttribute.")
    if external is not None:
        return None, None, external_id_of(external)
    assert unique is not None
    path = str(unique["AttributePath"])
    return path, unique_value(unique.get("AttributeValue"), path), None


@operation(SERVICE, "GetUserId", readonly=True)
def get_user_id(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    store = caller_store(ctx, params, resource_arn("user", "*"))
    path, value, external = alternate(params)
    repo = ctx.uow.identity_store
    user_id: str | None
    if external is not None:
        user_id = repo.find_by_external_id(store.id, "user", external)
    elif path is not None and path.lower() == "username" and value is not None:
        found = repo.find_user_by_name(store.id, value)
        user_id = found.id if found else None
    elif path is not None and path.lower() == "emails.value" and value is not None:
        found = repo.find_user_by_email(store.id, value)
        user_id = found.id if found else None
    else:
        raise validation(f"{path} is not a unique attribute of users: use userName or emails.value.")
    if user_id is None:
        raise not_found("USER", "", "USER not found.")
    return {"IdentityStoreId": store.id, "UserId": user_id, "UserArn": resource_arn("user", user_id)}
