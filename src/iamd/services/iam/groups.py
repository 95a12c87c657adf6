"""IAM groups: CreateGroup, GetGroup, ListGroups, UpdateGroup, DeleteGroup, and membership
(AddUserToGroup, RemoveUserFromGroup, ListGroupsForUser)."""

from __future__ import annotations

from typing import Any

from iamd.services.framework import OperationContext, operation
from iamd.services.iam.common import entity_arn, list_params, no_such, page_output
from iamd.services.iam.users import find_user_authorized, render_user
from iamd.store.records import GroupRecord
from iamd.wire import DeleteConflict, EntityAlreadyExists, LimitExceeded

MAX_GROUPS = 300
MAX_GROUPS_PER_USER = 10


def group_arn(group: GroupRecord) -> str:
    return entity_arn(group.account_id, "group", group.path, group.name)


def render_group(group: GroupRecord) -> dict[str, Any]:
    return {
        "Path": group.path,
        "GroupName": group.name,
        "GroupId": group.id,
        "Arn": group_arn(group),
        "CreateDate": group.created_at,
    }


def find_group_authorized(ctx: OperationContext, action: str, name: str) -> GroupRecord:
    """Authorize ``action`` on the named group, then return it (NoSuchEntity only to a caller who
    is allowed, so a denied caller learns nothing about which groups exist)."""
    group = ctx.uow.groups.find(ctx.account_id, name)
    if group is None:
        ctx.authorize(action, entity_arn(ctx.account_id, "group", "/", name))
        raise no_such("group", name)
    ctx.authorize(action, group_arn(group))
    return group


@operation("iam", "CreateGroup")
def create_group(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    name, path = params["GroupName"], params.get("Path") or "/"
    ctx.authorize("iam:CreateGroup", entity_arn(ctx.account_id, "group", path, name))
    if ctx.uow.groups.find(ctx.account_id, name) is not None:
        raise EntityAlreadyExists(f"Group with name {name} already exists.")
    if ctx.uow.accounts.summary(ctx.account_id).groups >= MAX_GROUPS:
        raise LimitExceeded(f"Cannot exceed quota for GroupsPerAccount: {MAX_GROUPS}")
    group = ctx.uow.groups.create(
        ctx.account_id, group_id=ctx.ids.group_id(), name=name, path=path, created_at=ctx.now
    )
    return {"Group": render_group(group)}


@operation("iam", "GetGroup", readonly=True)
def get_group(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    group = find_group_authorized(ctx, "iam:GetGroup", params["GroupName"])
    marker, max_items = list_params(params)
    page = ctx.uow.groups.members(group.id, marker=marker, max_items=max_items)
    out = page_output(page, "Users", lambda u: render_user(ctx, u, "list"))
    out["Group"] = render_group(group)
    return out


@operation("iam", "ListGroups", readonly=True)
def list_groups(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("iam:ListGroups", "*")
    marker, max_items = list_params(params)
    page = ctx.uow.groups.list(
        ctx.account_id, path_prefix=params.get("PathPrefix") or "/", marker=marker, max_items=max_items
    )
    return page_output(page, "Groups", render_group)


@operation("iam", "UpdateGroup")
def update_group(ctx: OperationContext, params: dict[str, Any]) -> None:
    group = find_group_authorized(ctx, "iam:UpdateGroup", params["GroupName"])
    new_name, new_path = params.get("NewGroupName"), params.get("NewPath")
    if new_name or new_path:
        # AWS requires permission on the group under its new name (and path) too.
        target = entity_arn(ctx.account_id, "group", new_path or group.path, new_name or group.name)
        if target != group_arn(group):
            ctx.authorize("iam:UpdateGroup", target)
    if new_name:
        other = ctx.uow.groups.find(ctx.account_id, new_name)
        if other is not None and other.id != group.id:
            raise EntityAlreadyExists(f"Group with name {new_name} already exists.")
    ctx.uow.groups.update(group.id, name=new_name, path=new_path)


@operation("iam", "DeleteGroup")
def delete_group(ctx: OperationContext, params: dict[str, Any]) -> None:
    group = find_group_authorized(ctx, "iam:DeleteGroup", params["GroupName"])
    if ctx.uow.groups.members(group.id, max_items=1).items:
        raise DeleteConflict("Cannot delete entity, must remove users from group first.")
    if ctx.uow.inline_policies.list_names("group", group.id, max_items=1).items:
        raise DeleteConflict("Cannot delete entity, must delete policies first.")
    if ctx.uow.policies.count_attached("group", group.id):
        # AWS's text for attached managed policies (quoted from AWS in
        # https://github.com/cloud-custodian/cloud-custodian/issues/7484).
        raise DeleteConflict("Cannot delete entity, must detach all policies first.")
    ctx.uow.groups.delete(group.id)


@operation("iam", "AddUserToGroup")
def add_user_to_group(ctx: OperationContext, params: dict[str, Any]) -> None:
    group = find_group_authorized(ctx, "iam:AddUserToGroup", params["GroupName"])
    name = params["UserName"]
    user = ctx.uow.users.find(ctx.account_id, name)
    if user is None:
        raise no_such("user", name)
    in_groups = ctx.uow.groups.list_for_user(user.id, max_items=MAX_GROUPS_PER_USER + 1).items
    if any(g.id == group.id for g in in_groups):
        return  # already a member: AWS answers success and changes nothing
    if len(in_groups) >= MAX_GROUPS_PER_USER:
        raise LimitExceeded(f"Cannot exceed quota for GroupsPerUser: {MAX_GROUPS_PER_USER}")
    ctx.uow.groups.add_member(group.id, user.id)


@operation("iam", "RemoveUserFromGroup")
def remove_user_from_group(ctx: OperationContext, params: dict[str, Any]) -> None:
    """Removing a user who is not a member succeeds and changes nothing, and an unknown user is
    reported before an unknown group (recorded against AWS: LocalStack's
    tests/aws/services/iam/test_iam_users.snapshot.json, remove-nonmember-user-from-group, and
    test_iam_groups.snapshot.json, remove-from-unknown-group)."""
    group_name, name = params["GroupName"], params["UserName"]
    group = ctx.uow.groups.find(ctx.account_id, group_name)
    target = group_arn(group) if group else entity_arn(ctx.account_id, "group", "/", group_name)
    ctx.authorize("iam:RemoveUserFromGroup", target)
    user = ctx.uow.users.find(ctx.account_id, name)
    if user is None:
        raise no_such("user", name)
    if group is None:
        raise no_such("group", group_name)
    members = ctx.uow.groups.list_for_user(user.id, max_items=1000).items
    if any(g.id == group.id for g in members):
        ctx.uow.groups.remove_member(group.id, user.id)


@operation("iam", "ListGroupsForUser", readonly=True)
def list_groups_for_user(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    user = find_user_authorized(ctx, "iam:ListGroupsForUser", params["UserName"])
    marker, max_items = list_params(params)
    page = ctx.uow.groups.list_for_user(user.id, marker=marker, max_items=max_items)
    return page_output(page, "Groups", render_group)
