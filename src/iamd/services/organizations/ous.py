"""Organizational units and the tree: Create/Describe/Update/DeleteOrganizationalUnit,
ListOrganizationalUnitsForParent, ListChildren, ListParents."""

from __future__ import annotations

from typing import Any

from iamd.services.framework import OperationContext, operation
from iamd.services.organizations.common import (
    MAX_OU_DEPTH,
    MAX_OUS,
    SERVICE,
    ancestors,
    attach_defaults,
    authorize,
    caller_org,
    constraint,
    error,
    management,
    manager,
    ou_arn,
    paged,
    parent_exists,
    path_of,
)
from iamd.services.organizations.tags import apply_tags
from iamd.store.errors import AlreadyExists
from iamd.store.organizations import OrganizationRecord, OuRecord


def render_ou(ctx: OperationContext, org: OrganizationRecord, ou: OuRecord) -> dict[str, Any]:
    return {
        "Id": ou.id,
        "Arn": ou_arn(org, ou.id),
        "Name": ou.name,
        "Path": path_of(org, ancestors(ctx, org, ou.id)),
    }


def _ou(ctx: OperationContext, org: OrganizationRecord, ou_id: str) -> OuRecord:
    ou = ctx.uow.organizations.ou(ou_id)
    if ou is None or ou.organization_id != org.id:
        raise error("OrganizationalUnitNotFoundException", f"Organizational unit {ou_id} does not exist.")
    return ou


def _parent(ctx: OperationContext, org: OrganizationRecord, parent_id: str) -> None:
    if not parent_exists(ctx, org, parent_id):
        raise error("ParentNotFoundException", f"Parent {parent_id} does not exist in organization {org.id}.")


@operation(SERVICE, "CreateOrganizationalUnit")
def create_organizational_unit(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    authorize(ctx)
    org = management(ctx)
    parent_id, name = params["ParentId"], params["Name"]
    _parent(ctx, org, parent_id)
    # ancestors() counts the root: five OUs below it at most (OU_DEPTH_LIMIT_EXCEEDED).
    if len(ancestors(ctx, org, parent_id)) > MAX_OU_DEPTH:
        raise constraint(
            "OU_DEPTH_LIMIT_EXCEEDED", f"OUs can be nested at most {MAX_OU_DEPTH} levels under the root."
        )
    if len(ctx.uow.organizations.ous(org.id)) >= MAX_OUS:
        raise constraint("OU_NUMBER_LIMIT_EXCEEDED", f"An organization can have at most {MAX_OUS} OUs.")
    ou_id = f"ou-{org.root_id.removeprefix('r-')}-{ctx.ids.lowercase_token(8)}"
    try:
        ou = ctx.uow.organizations.create_ou(org.id, ou_id, parent_id, name, ctx.now)
    except AlreadyExists:
        raise error(
            "DuplicateOrganizationalUnitException", f"An OU named {name} already exists in {parent_id}."
        ) from None
    attach_defaults(ctx, org, ou.id)
    apply_tags(ctx, org, ou.id, params.get("Tags") or [])
    return {"OrganizationalUnit": render_ou(ctx, org, ou)}


@operation(SERVICE, "DescribeOrganizationalUnit", readonly=True)
def describe_organizational_unit(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    org, _ = caller_org(ctx)
    authorize(ctx, ou_arn(org, params["OrganizationalUnitId"]))
    org = manager(ctx)
    return {"OrganizationalUnit": render_ou(ctx, org, _ou(ctx, org, params["OrganizationalUnitId"]))}


@operation(SERVICE, "UpdateOrganizationalUnit")
def update_organizational_unit(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    org, _ = caller_org(ctx)
    authorize(ctx, ou_arn(org, params["OrganizationalUnitId"]))
    org = management(ctx)
    ou = _ou(ctx, org, params["OrganizationalUnitId"])
    if params.get("Name"):
        try:
            ou = ctx.uow.organizations.rename_ou(ou.id, params["Name"])
        except AlreadyExists:
            raise error(
                "DuplicateOrganizationalUnitException",
                f"An OU named {params['Name']} already exists in {ou.parent_id}.",
            ) from None
    return {"OrganizationalUnit": render_ou(ctx, org, ou)}


@operation(SERVICE, "DeleteOrganizationalUnit")
def delete_organizational_unit(ctx: OperationContext, params: dict[str, Any]) -> None:
    org, _ = caller_org(ctx)
    authorize(ctx, ou_arn(org, params["OrganizationalUnitId"]))
    org = management(ctx)
    ou = _ou(ctx, org, params["OrganizationalUnitId"])
    repo = ctx.uow.organizations
    if repo.ous(org.id, ou.id) or repo.members(org.id, ou.id):
        raise error(
            "OrganizationalUnitNotEmptyException",
            f"Organizational unit {ou.id} still contains accounts or OUs; move or delete them first.",
        )
    repo.delete_ou(ou.id)
    return None


@operation(SERVICE, "ListOrganizationalUnitsForParent", readonly=True)
def list_ous_for_parent(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    authorize(ctx)
    org = manager(ctx)
    _parent(ctx, org, params["ParentId"])
    ous = ctx.uow.organizations.ous(org.id, params["ParentId"])
    return paged("OrganizationalUnits", params, ous, lambda ou: render_ou(ctx, org, ou))


@operation(SERVICE, "ListChildren", readonly=True)
def list_children(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    authorize(ctx)
    org = manager(ctx)
    parent_id = params["ParentId"]
    _parent(ctx, org, parent_id)
    repo = ctx.uow.organizations
    if params["ChildType"] == "ACCOUNT":
        ids = [m.account_id for m in repo.members(org.id, parent_id)]
    else:
        ids = [ou.id for ou in repo.ous(org.id, parent_id)]
    return paged("Children", params, ids, lambda i: {"Id": i, "Type": params["ChildType"]})


@operation(SERVICE, "ListParents", readonly=True)
def list_parents(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    authorize(ctx)
    org = manager(ctx)
    child = params["ChildId"]
    parent_id: str | None = None
    if child.isdigit():
        member = ctx.uow.organizations.member(child)
        if member is not None and member.organization_id == org.id:
            parent_id = member.parent_id
    else:
        ou = ctx.uow.organizations.ou(child)
        if ou is not None and ou.organization_id == org.id:
            parent_id = ou.parent_id
    if parent_id is None:
        raise error("ChildNotFoundException", f"Child {child} does not exist in organization {org.id}.")
    kind = "ROOT" if parent_id.startswith("r-") else "ORGANIZATIONAL_UNIT"
    return paged("Parents", params, [parent_id], lambda i: {"Id": i, "Type": kind})
