"""GetAccountAuthorizationDetails: every user (with its groups, inline and attached policies), group,
role (with its instance profiles) and managed policy (with its versions) of the account, in one
paginated listing. AWS managed policies are listed when something in the account uses them."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any

from iamd.services.framework import OperationContext, operation
from iamd.services.iam.common import encode_document, list_params, policy_arn
from iamd.services.iam.instance_profiles import render_profile
from iamd.services.iam.lookups import group_arn
from iamd.services.iam.policies import render_policy, render_version
from iamd.services.iam.roles import render_role
from iamd.services.iam.users import render_user
from iamd.store.records import GroupRecord, ManagedPolicyRecord, Page, PrincipalKind, RoleRecord, UserRecord
from iamd.wire import ValidationError

# The sections in the order AWS lists them, with the filter value naming each.
_SECTIONS = ("User", "Group", "Role", "LocalManagedPolicy", "AWSManagedPolicy")
_OUTPUT_KEY = {
    "User": "UserDetailList",
    "Group": "GroupDetailList",
    "Role": "RoleDetailList",
    "LocalManagedPolicy": "Policies",
    "AWSManagedPolicy": "Policies",
}


def _encode_marker(section: int, inner: str | None) -> str:
    raw = json.dumps(["g1", section, inner or ""], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode_marker(marker: str) -> tuple[int, str | None]:
    try:
        value = json.loads(base64.urlsafe_b64decode(marker + "=" * (-len(marker) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ValidationError("Invalid Marker.") from exc
    if not (
        isinstance(value, list)
        and len(value) == 3
        and value[0] == "g1"
        and isinstance(value[1], int)
        and 0 <= value[1] < len(_SECTIONS)
        and isinstance(value[2], str)
    ):
        raise ValidationError("Invalid Marker.")
    return value[1], value[2] or None


def _prefetch(ctx: OperationContext, kind: PrincipalKind, ids: Sequence[str]) -> None:
    """Read what the details of a page of principals need in a few queries, not several per
    principal (an account of 10,000 users is 10 pages of 1,000): their inline and attached
    policies, tags, (users) groups and (roles) instance profiles, kept in the request's memo
    where the renderers look."""
    if not ids:
        return
    for pid, inline in ctx.uow.inline_policies.list_many(kind, ids).items():
        ctx.memo[("inline", kind, pid)] = inline
    for pid, refs in ctx.uow.policies.attached_many(kind, ids).items():
        ctx.memo[("attached", kind, pid)] = refs
    if kind in ("user", "role"):
        for pid, tags in ctx.uow.tags.list_many(ctx.account_id, kind, ids).items():
            ctx.memo[(f"{kind}-tags", pid)] = tags
    if kind == "role":
        for pid, profiles in ctx.uow.instance_profiles.list_for_roles(ids).items():
            ctx.memo[("profiles", pid)] = profiles
    if kind == "user":
        for pid, names in ctx.uow.groups.names_for_users(ids).items():
            ctx.memo[("groups", pid)] = names


def _inline(ctx: OperationContext, kind: PrincipalKind, principal_id: str) -> list[dict[str, str]]:
    found = ctx.memo.get(("inline", kind, principal_id))
    if isinstance(found, tuple):
        return [{"PolicyName": p.name, "PolicyDocument": encode_document(p.document)} for p in found]
    out: list[dict[str, str]] = []
    for name in ctx.uow.inline_policies.list_names(kind, principal_id, max_items=1000).items:
        policy = ctx.uow.inline_policies.find(kind, principal_id, name)
        if policy is not None:
            out.append({"PolicyName": policy.name, "PolicyDocument": encode_document(policy.document)})
    return out


def _attached(ctx: OperationContext, kind: PrincipalKind, principal_id: str) -> list[dict[str, str]]:
    found = ctx.memo.get(("attached", kind, principal_id))
    refs = (
        found
        if isinstance(found, tuple)
        else ctx.uow.policies.attached(kind, principal_id, max_items=1000).items
    )
    return [{"PolicyName": ref.name, "PolicyArn": policy_arn(ref)} for ref in refs]


def user_detail(ctx: OperationContext, user: UserRecord) -> dict[str, Any]:
    """A UserDetail. AWS leaves UserPolicyList out when the user has no inline policy, while
    GroupList, AttachedManagedPolicies and Tags come as empty lists (recorded against AWS:
    LocalStack's tests/aws/services/iam/test_iam_account_authorization_details.snapshot.json,
    ``no-filter-result``)."""
    out = render_user(ctx, user, "detail")
    inline = _inline(ctx, "user", user.id)
    if inline:
        out["UserPolicyList"] = inline
    groups = ctx.memo.get(("groups", user.id))
    out["GroupList"] = (
        list(groups)
        if isinstance(groups, tuple)
        else [g.name for g in ctx.uow.groups.list_for_user(user.id, max_items=1000).items]
    )
    out["AttachedManagedPolicies"] = _attached(ctx, "user", user.id)
    return out


def group_detail(ctx: OperationContext, group: GroupRecord) -> dict[str, Any]:
    return {
        "Path": group.path,
        "GroupName": group.name,
        "GroupId": group.id,
        "Arn": group_arn(group),
        "CreateDate": group.created_at,
        "GroupPolicyList": _inline(ctx, "group", group.id),
        "AttachedManagedPolicies": _attached(ctx, "group", group.id),
    }


def role_detail(ctx: OperationContext, role: RoleRecord) -> dict[str, Any]:
    out = render_role(ctx, role, "detail")
    found = ctx.memo.get(("profiles", role.id))
    profiles = (
        found
        if isinstance(found, tuple)
        else ctx.uow.instance_profiles.list_for_role(role.id, max_items=1000).items
    )
    out["InstanceProfileList"] = [render_profile(ctx, p) for p in profiles]
    out["RolePolicyList"] = _inline(ctx, "role", role.id)
    out["AttachedManagedPolicies"] = _attached(ctx, "role", role.id)
    return out


def policy_detail(ctx: OperationContext, policy: ManagedPolicyRecord) -> dict[str, Any]:
    """A ManagedPolicyDetail: no Description, even for a policy that has one (recorded against
    AWS: the AmazonS3FullAccess entry of ``aws-managed-policy-result`` in the snapshot above)."""
    out = render_policy(ctx, policy)
    found = ctx.memo.get(("versions", policy.id))
    versions = found if isinstance(found, tuple) else ctx.uow.policies.list_versions(policy.id)
    out["PolicyVersionList"] = [render_version(v, with_document=True) for v in versions]
    return out


def _section_page(
    ctx: OperationContext, section: str, marker: str | None, max_items: int
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of one section, rendered."""
    account = ctx.account_id
    render: Callable[[Any], dict[str, Any]]
    page: Page[Any]
    if section == "User":
        page, render = (
            ctx.uow.users.list(account, marker=marker, max_items=max_items),
            lambda u: user_detail(ctx, u),
        )
    elif section == "Group":
        page, render = (
            ctx.uow.groups.list(account, marker=marker, max_items=max_items),
            lambda g: group_detail(ctx, g),
        )
    elif section == "Role":
        page, render = (
            ctx.uow.roles.list(account, marker=marker, max_items=max_items),
            lambda r: role_detail(ctx, r),
        )
    elif section == "LocalManagedPolicy":
        page = ctx.uow.policies.list(account, scope="Local", marker=marker, max_items=max_items)
        render = lambda p: policy_detail(ctx, p)  # noqa: E731
    else:
        page = ctx.uow.policies.list(
            account, scope="AWS", only_attached=True, marker=marker, max_items=max_items
        )
        render = lambda p: policy_detail(ctx, p)  # noqa: E731
    if section in ("User", "Group", "Role"):
        kind: PrincipalKind = "user" if section == "User" else "group" if section == "Group" else "role"
        _prefetch(ctx, kind, [item.id for item in page.items])
    else:
        policies = [p for p in page.items if isinstance(p, ManagedPolicyRecord)]
        for pid, versions in ctx.uow.policies.versions_many(policies).items():
            ctx.memo[("versions", pid)] = versions
    return [render(item) for item in page.items], page.marker


@operation("iam", "GetAccountAuthorizationDetails", readonly=True, heavy=True)
def get_account_authorization_details(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("iam:GetAccountAuthorizationDetails", "*")
    marker, max_items = list_params(params)
    wanted = set(params.get("Filter") or _SECTIONS)
    section, inner = _decode_marker(marker) if marker else (0, None)
    # All four lists on every page, empty for the sections not asked for: AWS answers a
    # Filter=["Role"] request with UserDetailList, GroupDetailList and Policies as [] (recorded:
    # LocalStack's test_iam_account_authorization_details.snapshot.json, role-filter-result), and
    # clients such as cloudsplaining index page["Policies"] after a Role-only filter.
    out: dict[str, Any] = {key: [] for key in dict.fromkeys(_OUTPUT_KEY.values())}
    remaining = max_items
    next_marker: str | None = None
    while section < len(_SECTIONS):
        name = _SECTIONS[section]
        if name not in wanted:
            section, inner = section + 1, None
            continue
        if remaining == 0:
            # A full page: truncated when this section goes on (the store issued a marker only
            # because more rows exist) or a wanted section from here on holds anything.
            if inner is not None or _any_from(ctx, section, wanted):
                next_marker = _encode_marker(section, inner)
            break
        items, inner = _section_page(ctx, name, inner, remaining)
        out[_OUTPUT_KEY[name]].extend(items)
        remaining -= len(items)
        if inner is None:
            section += 1
    out["IsTruncated"] = next_marker is not None
    if next_marker is not None:
        out["Marker"] = next_marker
    return out


def _any_from(ctx: OperationContext, section: int, wanted: set[str]) -> bool:
    """Whether the wanted sections from ``section`` on hold anything."""
    return any(name in wanted and _section_page(ctx, name, None, 1)[0] for name in _SECTIONS[section:])
