"""Long-term access keys: CreateAccessKey, ListAccessKeys, UpdateAccessKey, DeleteAccessKey and
GetAccessKeyLastUsed.

The secret access key is returned once, by CreateAccessKey; the store keeps it encrypted under the
key-encryption key and no other operation reveals it.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from iamd.services.framework import OperationContext, operation
from iamd.services.iam.common import entity_arn, list_params, page_output
from iamd.services.iam.owners import ROOT_USER_NAME, Owner, credential_owner, page_of
from iamd.services.iam.users import authorize_user
from iamd.store.records import AccessKeyRecord
from iamd.wire import AccessDenied, InvalidInput, LimitExceeded, NoSuchEntity

MAX_KEYS_PER_USER = 2
STATUSES = ("Active", "Inactive")
NOT_USED = "N/A"


def render_key(owner_name: str, key: AccessKeyRecord) -> dict[str, Any]:
    return {
        "UserName": owner_name,
        "AccessKeyId": key.id,
        "Status": key.status,
        "CreateDate": key.created_at,
    }


def no_such_key(key_id: str) -> NoSuchEntity:
    return NoSuchEntity(f"The Access Key with id {key_id} cannot be found.")


def owned_key(ctx: OperationContext, owner: Owner, key_id: str) -> AccessKeyRecord:
    """The owner's key ``key_id``; NoSuchEntity for any other key (also another account's)."""
    key = ctx.uow.access_keys.find(key_id)
    if key is None or key.account_id != ctx.account_id or key.user_id != owner.user_id:
        raise no_such_key(key_id)
    return key


def check_status(status: str) -> str:
    if status not in STATUSES:
        raise InvalidInput(f"Status must be one of {', '.join(STATUSES)}; got {status}.")
    return status


def _scoped(ctx: OperationContext, owner: Owner) -> AbstractContextManager[None]:
    """A user's keys authenticate that user alone (its entries in the key cache): a change to
    them is scoped to it. The root user's stay shared."""
    return ctx.uow.principal_scoped(ctx.account_id, "user" if owner.user_id else "root", owner.user_id or "")


@operation("iam", "CreateAccessKey")
def create_access_key(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    owner = credential_owner(ctx, "iam:CreateAccessKey", params)
    existing = ctx.uow.access_keys.list_for(ctx.account_id, owner.user_id)
    if len(existing) >= MAX_KEYS_PER_USER:
        raise LimitExceeded(f"Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS_PER_USER}")
    secret = ctx.ids.secret_access_key()
    with _scoped(ctx, owner):
        key = ctx.uow.access_keys.create(
            ctx.account_id,
            key_id=ctx.ids.access_key_id(),
            user_id=owner.user_id,
            secret_access_key=secret,
            created_at=ctx.now,
        )
    out = render_key(owner.name, key)
    out["SecretAccessKey"] = secret
    return {"AccessKey": out}


@operation("iam", "ListAccessKeys", readonly=True)
def list_access_keys(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    owner = credential_owner(ctx, "iam:ListAccessKeys", params)
    marker, max_items = list_params(params)
    page = page_of(ctx.uow.access_keys.list_for(ctx.account_id, owner.user_id), marker, max_items)
    return page_output(page, "AccessKeyMetadata", lambda k: render_key(owner.name, k))


@operation("iam", "UpdateAccessKey")
def update_access_key(ctx: OperationContext, params: dict[str, Any]) -> None:
    status = check_status(params["Status"])
    owner = credential_owner(ctx, "iam:UpdateAccessKey", params)
    key = owned_key(ctx, owner, params["AccessKeyId"])
    if key.status != status:
        with _scoped(ctx, owner):
            ctx.uow.access_keys.set_status(key.id, status)


@operation("iam", "DeleteAccessKey")
def delete_access_key(ctx: OperationContext, params: dict[str, Any]) -> None:
    owner = credential_owner(ctx, "iam:DeleteAccessKey", params)
    key = owned_key(ctx, owner, params["AccessKeyId"])
    with _scoped(ctx, owner):
        ctx.uow.access_keys.delete(key.id)


@operation("iam", "GetAccessKeyLastUsed", readonly=True)
def get_access_key_last_used(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    key_id = params["AccessKeyId"]
    action = "iam:GetAccessKeyLastUsed"
    key = ctx.uow.access_keys.find(key_id)
    if key is None or key.account_id != ctx.account_id:
        # Whose key it would be is unknown. AWS answers an unknown key with AccessDenied, in these
        # words (no colon after "perform"), even to an administrator (recorded against AWS:
        # LocalStack's tests/aws/services/iam/test_iam_users.snapshot.json,
        # get-last-used-nonexistent-key-error).
        ctx.authorize(action, entity_arn(ctx.account_id, "user", "/", "*"))
        raise AccessDenied(
            f"User: {ctx.caller.arn} is not authorized to perform {action} on resource: access key {key_id}"
        )
    if key.user_id is None:
        ctx.authorize(action, f"arn:aws:iam::{ctx.account_id}:root")
        user_name = ROOT_USER_NAME
    else:
        user = ctx.uow.users.get_by_id(key.user_id)
        authorize_user(ctx, action, user)
        user_name = user.name
    last_used: dict[str, Any] = {
        "ServiceName": key.last_used_service or NOT_USED,
        "Region": key.last_used_region or NOT_USED,
    }
    if key.last_used_at is not None:
        last_used["LastUsedDate"] = key.last_used_at
    return {"UserName": user_name, "AccessKeyLastUsed": last_used}
