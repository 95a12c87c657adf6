"""Groups and memberships: Create/Describe/Update/Delete/ListGroups, GetGroupId; Create/Describe/
DeleteGroupMembership, GetGroupMembershipId, ListGroupMemberships(ForMember), IsMemberInGroups.

A membership's member is a user (``MemberId.UserId``): groups do not nest."""

from __future__ import annotations

from typing import Any

from iamd.services.framework import OperationContext, operation
from iamd.services.identitycenter.identitystore.attributes import (
    apply_group_operations,
    check_display_name,
    check_text,
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
from iamd.services.identitycenter.identitystore.users import alternate, revision_of, stale, user_of
from iamd.store.errors import AlreadyExists, InvalidMarker, NotFound
from iamd.store.identity_store import (
    IdentityStoreRecord,
    IdsGroupRecord,
    IdsMembershipRecord,
    StaleRevision,
    Taken,
)

MAX_GROUPS = 10_000


def render_group(group: IdsGroupRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "IdentityStoreId": group.store_id,
        "GroupId": group.id,
        "GroupArn": resource_arn("group", group.id),
        "Revision": str(group.revision),
        "CreatedAt": group.created_at,
        "UpdatedAt": group.updated_at,
    }
    if group.display_name is not None:
        out["DisplayName"] = group.display_name
    if group.description is not None:
        out["Description"] = group.description
    if group.external_ids:
        out["ExternalIds"] = [{"Issuer": e.issuer, "Id": e.id} for e in group.external_ids]
    if group.created_by:
        out["CreatedBy"] = group.created_by
    if group.updated_by:
        out["UpdatedBy"] = group.updated_by
    return out


def render_membership(membership: IdsMembershipRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "IdentityStoreId": membership.store_id,
        "MembershipId": membership.id,
        "MembershipArn": resource_arn("membership", membership.id),
        "GroupId": membership.group_id,
        "MemberId": {"UserId": membership.user_id},
        "CreatedAt": membership.created_at,
        "UpdatedAt": membership.updated_at,
    }
    if membership.created_by:
        out["CreatedBy"] = membership.created_by
    if membership.updated_by:
        out["UpdatedBy"] = membership.updated_by
    return out


def group_of(ctx: OperationContext, store: IdentityStoreRecord, raw_id: str) -> IdsGroupRecord:
    group_id = resource_id_of(raw_id, "group")
    group = ctx.uow.identity_store.find_group(store.id, group_id)
    if group is None:
        raise not_found("GROUP", group_id)
    return group


def member_id(params: dict[str, Any]) -> str:
    member = params["MemberId"] or {}
    if not member.get("UserId"):
        raise validation("MemberId must name a UserId: group members are users.")
    return resource_id_of(str(member["UserId"]), "user")


# -- groups ---------------------------------------------------------------------------------------


@operation(SERVICE, "CreateGroup")
def create_group(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    store = caller_store(ctx, params)
    if params.get("DisplayName") is None:
        raise validation("DisplayName is required: IAM Identity Center groups need a display name.")
    display_name = check_display_name(params["DisplayName"])
    description = (
        None if params.get("Description") is None else check_text(params["Description"], "Description")
    )
    if ctx.uow.identity_store.count_groups(store.id) >= MAX_GROUPS:
        raise error(
            "ServiceQuotaExceededException", f"The identity store has {MAX_GROUPS} groups, its limit."
        )
    try:
        group = ctx.uow.identity_store.create_group(
            store.id,
            display_name=display_name,
            description=description,
            created_at=ctx.now,
            created_by=ctx.caller.arn,
        )
    except Taken as exc:
        raise taken(exc) from None
    return {
        "IdentityStoreId": store.id,
        "GroupId": group.id,
        "GroupArn": resource_arn("group", group.id),
        "Revision": str(group.revision),
    }


@operation(SERVICE, "DescribeGroup", readonly=True)
def describe_group(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    group_id = resource_id_of(str(params["GroupId"]), "group")
    store = caller_store(ctx, params, resource_arn("group", group_id))
    return render_group(group_of(ctx, store, group_id))


@operation(SERVICE, "UpdateGroup")
def update_group(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    group_id = resource_id_of(str(params["GroupId"]), "group")
    store = caller_store(ctx, params, resource_arn("group", group_id))
    group = group_of(ctx, store, group_id)
    display_name, description = apply_group_operations(
        group.display_name, group.description, params["Operations"]
    )
    try:
        updated = ctx.uow.identity_store.update_group(
            store.id,
            group.id,
            display_name=display_name,
            description=description,
            clear_description=description is None,
            updated_at=ctx.now,
            updated_by=ctx.caller.arn,
            expected_revision=revision_of(params),
        )
    except Taken as exc:
        raise taken(exc) from None
    except StaleRevision as exc:
        raise stale("group", exc) from None
    return {
        "IdentityStoreId": store.id,
        "GroupId": updated.id,
        "GroupArn": resource_arn("group", updated.id),
        "Revision": str(updated.revision),
    }


@operation(SERVICE, "DeleteGroup")
def delete_group(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    group_id = resource_id_of(str(params["GroupId"]), "group")
    store = caller_store(ctx, params, resource_arn("group", group_id))
    group = group_of(ctx, store, group_id)
    ctx.uow.identity_store.delete_group(store.id, group.id)
    return {}


@operation(SERVICE, "ListGroups", readonly=True)
def list_groups(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    store = caller_store(ctx, params, resource_arn("group", "*"))
    display_name = None
    for item in params.get("Filters") or []:
        if str(item["AttributePath"]).lower() != "displayname":
            raise validation(
                f"Filtering groups by {item['AttributePath']} is not supported: use DisplayName (deprecated: "
                "use GetGroupId instead)."
            )
        display_name = str(item["AttributeValue"])
    try:
        page = ctx.uow.identity_store.list_groups(
            store.id, display_name=display_name, marker=marker_of(params), max_items=page_size(params)
        )
    except InvalidMarker:
        raise bad_token() from None
    return paged("Groups", [render_group(g) for g in page.items], page.marker)


@operation(SERVICE, "GetGroupId", readonly=True)
def get_group_id(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    store = caller_store(ctx, params, resource_arn("group", "*"))
    path, value, external = alternate(params)
    group_id: str | None
    if external is not None:
        group_id = ctx.uow.identity_store.find_by_external_id(store.id, "group", external)
    elif path is not None and path.lower() == "displayname" and value is not None:
        found = ctx.uow.identity_store.find_group_by_name(store.id, value)
        group_id = found.id if found else None
    else:
        raise validation(f"{path} is not a unique attribute of groups: use displayName.")
    if group_id is None:
        raise not_found("GROUP", "", "GROUP not found.")
    return {"IdentityStoreId": store.id, "GroupId": group_id, "GroupArn": resource_arn("group", group_id)}


# -- memberships ----------------------------------------------------------------------------------


@operation(SERVICE, "CreateGroupMembership")
def create_group_membership(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    group_id = resource_id_of(str(params["GroupId"]), "group")
    user_id = member_id(params)
    store = caller_store(ctx, params, resource_arn("group", group_id), resource_arn("user", user_id))
    group = group_of(ctx, store, group_id)
    user = user_of(ctx, store, user_id)
    try:
        membership = ctx.uow.identity_store.add_member(
            store.id, group.id, user.id, created_at=ctx.now, created_by=ctx.caller.arn
        )
    except AlreadyExists:
        raise conflict(f"Member {user.id} already exists in group {group.id}.") from None
    return {
        "IdentityStoreId": store.id,
        "MembershipId": membership.id,
        "MembershipArn": resource_arn("membership", membership.id),
    }


@operation(SERVICE, "DescribeGroupMembership", readonly=True)
def describe_group_membership(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    membership_id = resource_id_of(str(params["MembershipId"]), "membership")
    store = caller_store(ctx, params, resource_arn("membership", membership_id))
    membership = _membership(ctx, store, membership_id)
    return render_membership(membership)


def _membership(ctx: OperationContext, store: IdentityStoreRecord, membership_id: str) -> IdsMembershipRecord:
    try:
        return ctx.uow.identity_store.get_membership(store.id, membership_id)
    except NotFound:
        raise not_found("GROUP_MEMBERSHIP", membership_id) from None


@operation(SERVICE, "DeleteGroupMembership")
def delete_group_membership(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    membership_id = resource_id_of(str(params["MembershipId"]), "membership")
    store = caller_store(ctx, params, resource_arn("membership", membership_id))
    membership = _membership(ctx, store, membership_id)
    ctx.uow.identity_store.remove_membership(store.id, membership.id)
    return {}


@operation(SERVICE, "GetGroupMembershipId", readonly=True)
def get_group_membership_id(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    group_id = resource_id_of(str(params["GroupId"]), "group")
    user_id = member_id(params)
    store = caller_store(ctx, params, resource_arn("group", group_id), resource_arn("user", user_id))
    membership = ctx.uow.identity_store.find_membership(store.id, group_id, user_id)
    if membership is None:
        raise not_found("GROUP_MEMBERSHIP", "", "GROUP_MEMBERSHIP not found.")
    return {
        "IdentityStoreId": store.id,
        "MembershipId": membership.id,
        "MembershipArn": resource_arn("membership", membership.id),
    }


@operation(SERVICE, "ListGroupMemberships", readonly=True)
def list_group_memberships(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    group_id = resource_id_of(str(params["GroupId"]), "group")
    store = caller_store(ctx, params, resource_arn("group", group_id), resource_arn("membership", "*"))
    group = group_of(ctx, store, group_id)
    try:
        page = ctx.uow.identity_store.memberships_of_group(
            store.id, group.id, marker=marker_of(params), max_items=page_size(params)
        )
    except InvalidMarker:
        raise bad_token() from None
    return paged("GroupMemberships", [render_membership(m) for m in page.items], page.marker)


@operation(SERVICE, "ListGroupMembershipsForMember", readonly=True)
def list_group_memberships_for_member(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    user_id = member_id(params)
    store = caller_store(ctx, params, resource_arn("user", user_id), resource_arn("membership", "*"))
    user = user_of(ctx, store, user_id)
    try:
        page = ctx.uow.identity_store.memberships_of_user(
            store.id, user.id, marker=marker_of(params), max_items=page_size(params)
        )
    except InvalidMarker:
        raise bad_token() from None
    return paged("GroupMemberships", [render_membership(m) for m in page.items], page.marker)


@operation(SERVICE, "IsMemberInGroups", readonly=True)
def is_member_in_groups(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    user_id = member_id(params)
    group_ids = [resource_id_of(str(g), "group") for g in params["GroupIds"]]
    store = caller_store(
        ctx,
        params,
        resource_arn("user", user_id),
        resource_arn("membership", "*"),
        *(resource_arn("group", g) for g in dict.fromkeys(group_ids)),
    )
    user = user_of(ctx, store, user_id)
    results = []
    for group_id in group_ids:
        group_of(ctx, store, group_id)
        exists = ctx.uow.identity_store.find_membership(store.id, group_id, user.id) is not None
        results.append({"GroupId": group_id, "MemberId": {"UserId": user.id}, "MembershipExists": exists})
    return {"Results": results}
