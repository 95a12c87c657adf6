"""IAM users: CreateUser, GetUser, ListUsers, UpdateUser, DeleteUser, and their tags."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from iamd.services.framework import OperationContext, operation
from iamd.services.iam.boundaries import resolve_boundary
from iamd.services.iam.common import (
    entity_arn,
    list_params,
    no_such,
    page_output,
    policy_arn,
    request_tag_context,
    resource_tag_context,
    tags_from_params,
    tags_output,
)
from iamd.services.iam.lookups import find_user_record, user_named_ahead
from iamd.store.records import Tag, UserRecord
from iamd.wire import DeleteConflict, EntityAlreadyExists, LimitExceeded, ValidationError

MAX_USERS = 5000


UserView = Literal["create", "get", "list", "detail"]


def render_user(
    ctx: OperationContext, user: UserRecord, view: UserView, *, tags: Sequence[Tag] | None = None
) -> dict[str, Any]:
    """A user as each operation returns it. ListUsers (and the users GetGroup lists) leave out
    PermissionsBoundary and Tags ("This operation does not return the following attributes, even
    though they are an attribute of the returned object": the ListUsers API reference);
    CreateUser echoes the tags the request sent, in the request's order; GetUser shows the
    boundary only while one is set and Tags only when there are some; the UserDetail of
    GetAccountAuthorizationDetails has no PasswordLastUsed and always a Tags list (recorded against
    AWS: LocalStack's tests/aws/services/iam/test_iam_users.snapshot.json and
    test_iam_account_authorization_details.snapshot.json)."""
    out: dict[str, Any] = {
        "Path": user.path,
        "UserName": user.name,
        "UserId": user.id,
        "Arn": entity_arn(user.account_id, "user", user.path, user.name),
        "CreateDate": user.created_at,
    }
    if user.password_last_used is not None and view in ("get", "list"):
        out["PasswordLastUsed"] = user.password_last_used
    if view == "list":
        return out
    if user.permissions_boundary is not None:
        out["PermissionsBoundary"] = {
            "PermissionsBoundaryType": "Policy",
            "PermissionsBoundaryArn": policy_arn(user.permissions_boundary),
        }
    if view == "create":
        if tags:
            out["Tags"] = tags_output(tags)
        return out
    stored = user_tags(ctx, user)
    if stored or view == "detail":
        out["Tags"] = tags_output(stored)
    return out


def user_tags(ctx: OperationContext, user: UserRecord) -> tuple[Tag, ...]:
    """The user's tags, read once per request."""
    key = ("user-tags", user.id)
    found = ctx.memo.get(key)
    if found is None:
        found = ctx.memo[key] = ctx.uow.tags.list(user.account_id, "user", user.id)
    assert isinstance(found, tuple)
    return found


def find_user(ctx: OperationContext, name: str) -> UserRecord:
    user = ctx.uow.users.find(ctx.account_id, name)
    if user is None:
        raise no_such("user", name)
    return user


def authorize_user(
    ctx: OperationContext, action: str, user: UserRecord, extra: dict[str, object] | None = None
) -> None:
    context = resource_tag_context(user_tags(ctx, user))
    if extra:
        context.update(extra)
    ctx.authorize(action, entity_arn(user.account_id, "user", user.path, user.name), context)


@operation("iam", "CreateUser")
def create_user(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    name, path = params["UserName"], params.get("Path") or "/"
    tags = tags_from_params(params)
    extra = request_tag_context(tags)
    boundary = params.get("PermissionsBoundary")
    if boundary:
        extra["iam:PermissionsBoundary"] = boundary
    ctx.authorize("iam:CreateUser", entity_arn(ctx.account_id, "user", path, name), extra)
    if tags:
        ctx.authorize("iam:TagUser", entity_arn(ctx.account_id, "user", path, name), extra)
    exists, count = ctx.uow.users.taken(ctx.account_id, name)
    if exists:
        raise EntityAlreadyExists(f"User with name {name} already exists.")
    if count >= MAX_USERS:
        raise LimitExceeded(f"Cannot exceed quota for UsersPerAccount: {MAX_USERS}")
    user_id = ctx.ids.user_id()
    # A new principal: nothing cached about any other caller names it (caches key on ids).
    with ctx.uow.principal_scoped(ctx.account_id, "user", user_id, new=True):
        user = ctx.uow.users.create(ctx.account_id, user_id=user_id, name=name, path=path, created_at=ctx.now)
        if boundary:
            ctx.uow.users.set_permissions_boundary(user.id, resolve_boundary(ctx, boundary).id)
            user = ctx.uow.users.get_by_id(user.id)
        if tags:
            ctx.uow.tags.put(ctx.account_id, "user", user.id, tags)
    return {"User": render_user(ctx, user, "create", tags=[Tag(k, v) for k, v in tags.items()])}


@operation("iam", "GetUser", readonly=True, prefetch=user_named_ahead)
def get_user(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    name = params.get("UserName")
    if name is None:
        caller = ctx.caller
        ctx.authorize("iam:GetUser", caller.arn)
        if not caller.is_root and caller.user_id is None:
            raise ValidationError("Must specify userName when calling with non-User credentials")
        if caller.user_id is None:
            # The root user: AWS answers with the account's root identity.
            account = ctx.uow.accounts.get(ctx.account_id)
            return {
                "User": {
                    "UserId": ctx.account_id,
                    "Arn": caller.arn,
                    "CreateDate": account.created_at,
                    "Path": "/",
                    "UserName": "",
                }
            }
        user = ctx.uow.users.get_by_id(caller.user_id)
    else:
        user = find_user_authorized(ctx, "iam:GetUser", name)
    return {"User": render_user(ctx, user, "get")}


def find_user_authorized(
    ctx: OperationContext, action: str, name: str, extra: dict[str, object] | None = None
) -> UserRecord:
    """Authorize ``action`` on the named user, then return it (NoSuchEntity only to an allowed
    caller, so a denied caller learns nothing about which users exist)."""
    user = find_user_record(ctx, name)
    if user is None:
        ctx.authorize(action, entity_arn(ctx.account_id, "user", "/", name), extra)
        raise no_such("user", name)
    authorize_user(ctx, action, user, extra)
    return user


@operation("iam", "ListUsers", readonly=True)
def list_users(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("iam:ListUsers", "*")
    marker, max_items = list_params(params)
    page = ctx.uow.users.list(
        ctx.account_id, path_prefix=params.get("PathPrefix") or "/", marker=marker, max_items=max_items
    )
    return page_output(page, "Users", lambda u: render_user(ctx, u, "list"))


@operation("iam", "UpdateUser")
def update_user(ctx: OperationContext, params: dict[str, Any]) -> None:
    user = find_user_authorized(ctx, "iam:UpdateUser", params["UserName"])
    new_name, new_path = params.get("NewUserName"), params.get("NewPath")
    if new_name:
        # Renaming needs permission on the new name too.
        ctx.authorize("iam:UpdateUser", entity_arn(ctx.account_id, "user", new_path or user.path, new_name))
        other = ctx.uow.users.find(ctx.account_id, new_name)
        if other is not None and other.id != user.id:
            raise EntityAlreadyExists(f"User with name {new_name} already exists.")
    ctx.uow.users.update(user.id, name=new_name, path=new_path)


@operation("iam", "DeleteUser")
def delete_user(ctx: OperationContext, params: dict[str, Any]) -> None:
    user = find_user_authorized(ctx, "iam:DeleteUser", params["UserName"])
    _refuse_while_in_use(ctx, user)
    ctx.uow.users.delete(user.id)


def _refuse_while_in_use(ctx: OperationContext, user: UserRecord) -> None:
    """AWS's DeleteConflict texts for what keeps a user from being deleted, where AWS's text is
    known: a login profile ("must delete login profile first.", quoted from AWS in
    https://github.com/cloud-custodian/cloud-custodian/issues/1663), an MFA device ("must delete
    MFA device first.", https://github.com/rebuy-de/aws-nuke/issues/281), service-specific
    credentials ("must remove referenced objects first.", recorded: LocalStack's
    test_iam.snapshot.json, test_delete_user_after_service_credential_created), inline and
    attached policies (recorded: test_iam_users.snapshot.json,
    delete-user-with-inline-policy-error, delete-user-with-attached-policy-error). The rest
    (access keys, signing certificates, SSH keys, groups) is refused by the store, naming what is
    left."""
    if ctx.uow.login_profiles.find(user.id) is not None:
        raise DeleteConflict("Cannot delete entity, must delete login profile first.")
    if ctx.uow.mfa.list_for(user.account_id, user.id):
        raise DeleteConflict("Cannot delete entity, must delete MFA device first.")
    if ctx.uow.service_credentials.list_for_user(user.id):
        raise DeleteConflict("Cannot delete entity, must remove referenced objects first.")
    if ctx.uow.inline_policies.list_names("user", user.id, max_items=1).items:
        raise DeleteConflict("Cannot delete entity, must delete policies first.")
    if ctx.uow.policies.count_attached("user", user.id):
        raise DeleteConflict("Cannot delete entity, must detach all policies first.")


@operation("iam", "TagUser", prefetch=user_named_ahead)
def tag_user(ctx: OperationContext, params: dict[str, Any]) -> None:
    name = params["UserName"]
    user = ctx.uow.users.find(ctx.account_id, name)
    # The user's tags, read once: their number for the quota, their keys for the authorization.
    tags = tags_from_params(params, len(user_tags(ctx, user)) if user else 0)
    extra = request_tag_context(tags)
    if user is None:
        ctx.authorize("iam:TagUser", entity_arn(ctx.account_id, "user", "/", name), extra)
        raise no_such("user", name)
    authorize_user(ctx, "iam:TagUser", user, extra)
    with ctx.uow.principal_scoped(ctx.account_id, "user", user.id):
        ctx.uow.tags.put(ctx.account_id, "user", user.id, tags)


@operation("iam", "UntagUser", prefetch=user_named_ahead)
def untag_user(ctx: OperationContext, params: dict[str, Any]) -> None:
    keys = [str(k) for k in params.get("TagKeys") or []]
    user = find_user_authorized(ctx, "iam:UntagUser", params["UserName"], {"aws:TagKeys": keys})
    with ctx.uow.principal_scoped(ctx.account_id, "user", user.id):
        ctx.uow.tags.remove(ctx.account_id, "user", user.id, keys)


@operation("iam", "ListUserTags", readonly=True, prefetch=user_named_ahead)
def list_user_tags(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    user = find_user_authorized(ctx, "iam:ListUserTags", params["UserName"])
    tags = ctx.uow.tags.list(ctx.account_id, "user", user.id)
    return {"Tags": tags_output(tags), "IsTruncated": False}
