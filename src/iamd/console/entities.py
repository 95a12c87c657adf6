"""What users, groups and roles pages share: their permissions (managed policies attached, inline
policies, the permissions boundary), tags, Access Advisor (last accessed per service and action),
and the forms that change them. Each is the IAM operation of the kind (AttachUserPolicy,
AttachGroupPolicy, AttachRolePolicy, …) run as the signed-in principal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, unquote

from starlette.requests import Request
from starlette.responses import Response

from iamd.console.kit import Area, Kit, View, form_action, valid_name

__all__ = ["KINDS", "Kind", "access_advisor", "add_entity_forms", "entity_path", "permissions", "tags_of"]

MAX_TAGS: Final = 50
JOB_FUNCTIONS: Final = (
    "arn:aws:iam::aws:policy/AdministratorAccess",
    "arn:aws:iam::aws:policy/PowerUserAccess",
    "arn:aws:iam::aws:policy/ReadOnlyAccess",
    "arn:aws:iam::aws:policy/IAMFullAccess",
    "arn:aws:iam::aws:policy/IAMReadOnlyAccess",
    "arn:aws:iam::aws:policy/IAMUserChangePassword",
    "arn:aws:iam::aws:policy/job-function/Billing",
    "arn:aws:iam::aws:policy/job-function/DatabaseAdministrator",
    "arn:aws:iam::aws:policy/job-function/DataScientist",
    "arn:aws:iam::aws:policy/job-function/NetworkAdministrator",
    "arn:aws:iam::aws:policy/job-function/SecurityAudit",
    "arn:aws:iam::aws:policy/job-function/SupportUser",
    "arn:aws:iam::aws:policy/job-function/SystemAdministrator",
    "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
)
"""Suggested in the "attach a policy" fields (a datalist: any ARN may be typed)."""


@dataclass(frozen=True)
class Kind:
    """users, groups or roles: the names of their IAM operations."""

    noun: str  # User, Group, Role
    plural: str  # users, groups, roles
    tags: bool
    boundary: bool

    @property
    def param(self) -> str:
        return f"{self.noun}Name"


KINDS: Final = {
    "users": Kind("User", "users", tags=True, boundary=True),
    "groups": Kind("Group", "groups", tags=False, boundary=False),
    "roles": Kind("Role", "roles", tags=True, boundary=True),
}


def entity_path(kind: Kind, name: str, tab: str = "") -> str:
    return f"/{kind.plural}/{quote(name, safe='')}" + (f"?tab={tab}" if tab else "")


def name_of(request: Request) -> str:
    return unquote(str(request.path_params.get("name", "")))[:128]


async def permissions(view: View, kind: Kind, name: str, boundary_arn: str | None) -> dict[str, Any]:
    """The Permissions tab: managed policies attached, inline policies (with their documents), the
    permissions boundary."""
    attached = await view.paged(f"ListAttached{kind.noun}Policies", {kind.param: name}, "AttachedPolicies")
    names = await view.paged(f"List{kind.noun}Policies", {kind.param: name}, "PolicyNames")
    inline: list[dict[str, Any]] = []
    for policy_name in (names or [])[:50]:
        got = await view.read(f"Get{kind.noun}Policy", {kind.param: name, "PolicyName": policy_name})
        document = (got or {}).get("PolicyDocument")
        inline.append({"name": policy_name, "document": _pretty(document) if document else None})
    return {
        "attached": attached,
        "inline": inline if names is not None else None,
        "boundary": boundary_arn,
        "suggested": JOB_FUNCTIONS,
    }


def _pretty(document: Any) -> str:
    if isinstance(document, str):
        text = unquote(document) if document.lstrip().startswith("%") else document
        try:
            return json.dumps(json.loads(text), indent=2)
        except ValueError:
            return text
    return json.dumps(document, indent=2)


async def tags_of(view: View, kind: Kind, name: str) -> list[dict[str, str]] | None:
    answer = await view.read(f"List{kind.noun}Tags", {kind.param: name})
    return None if answer is None else list(answer.get("Tags", []))


async def access_advisor(view: View, arn: str) -> list[dict[str, Any]] | None:
    """Last accessed per service (and per action where AWS tracks it), most recent first."""
    job = await view.read("GenerateServiceLastAccessedDetails", {"Arn": arn, "Granularity": "ACTION_LEVEL"})
    if not job:
        return None
    services = await view.paged(
        "GetServiceLastAccessedDetails", {"JobId": job["JobId"]}, "ServicesLastAccessed", limit=500
    )
    if services is None:
        return None

    def key(s: dict[str, Any]) -> tuple[int, float, str]:
        at = s.get("LastAuthenticated")
        return (0 if at else 1, -at.timestamp() if at else 0.0, s.get("ServiceName", ""))

    return sorted(services, key=key)


def add_entity_forms(area: Area, kind: Kind) -> None:
    """The forms every page of ``kind`` has: attach and detach a managed policy, delete an inline
    policy, put an inline policy, set and remove the boundary, add and remove tags."""
    base = f"/{kind.plural}/{{name}}"

    @area.post(base + "/attach")
    async def attach(kit: Kit, request: Request) -> Response:
        name = name_of(request)

        async def work(view: View, form: dict[str, str]) -> Response:
            arn = form.get("arn", "").strip()
            await view.call(f"Attach{kind.noun}Policy", {kind.param: name, "PolicyArn": arn})
            return view.redirect(entity_path(kind, name, "permissions"), flash=f"Policy {arn} attached.")

        return await form_action(kit, request, work, back=entity_path(kind, name, "permissions"))

    @area.post(base + "/detach")
    async def detach(kit: Kit, request: Request) -> Response:
        name = name_of(request)

        async def work(view: View, form: dict[str, str]) -> Response:
            arn = form.get("arn", "")
            await view.call(f"Detach{kind.noun}Policy", {kind.param: name, "PolicyArn": arn})
            return view.redirect(entity_path(kind, name, "permissions"), flash=f"Policy {arn} detached.")

        return await form_action(kit, request, work, back=entity_path(kind, name, "permissions"))

    @area.post(base + "/inline/put")
    async def put_inline(kit: Kit, request: Request) -> Response:
        name = name_of(request)

        async def work(view: View, form: dict[str, str]) -> Response:
            policy = form.get("policy", "").strip()
            params = {kind.param: name, "PolicyName": policy, "PolicyDocument": form.get("document", "")}
            await view.call(f"Put{kind.noun}Policy", params)
            return view.redirect(
                entity_path(kind, name, "permissions"), flash=f"Inline policy {policy} saved."
            )

        return await form_action(kit, request, work, back=entity_path(kind, name, "permissions"))

    @area.post(base + "/inline/delete")
    async def delete_inline(kit: Kit, request: Request) -> Response:
        name = name_of(request)

        async def work(view: View, form: dict[str, str]) -> Response:
            policy = form.get("policy", "")
            await view.call(f"Delete{kind.noun}Policy", {kind.param: name, "PolicyName": policy})
            return view.redirect(
                entity_path(kind, name, "permissions"), flash=f"Inline policy {policy} deleted."
            )

        return await form_action(kit, request, work, back=entity_path(kind, name, "permissions"))

    if kind.boundary:

        @area.post(base + "/boundary")
        async def set_boundary(kit: Kit, request: Request) -> Response:
            name = name_of(request)

            async def work(view: View, form: dict[str, str]) -> Response:
                arn = form.get("arn", "").strip()
                params = {kind.param: name, "PermissionsBoundary": arn}
                await view.call(f"Put{kind.noun}PermissionsBoundary", params)
                return view.redirect(
                    entity_path(kind, name, "permissions"), flash=f"Permissions boundary set to {arn}."
                )

            return await form_action(kit, request, work, back=entity_path(kind, name, "permissions"))

        @area.post(base + "/boundary/delete")
        async def delete_boundary(kit: Kit, request: Request) -> Response:
            name = name_of(request)

            async def work(view: View, form: dict[str, str]) -> Response:
                await view.call(f"Delete{kind.noun}PermissionsBoundary", {kind.param: name})
                return view.redirect(
                    entity_path(kind, name, "permissions"), flash="Permissions boundary removed."
                )

            return await form_action(kit, request, work, back=entity_path(kind, name, "permissions"))

    if kind.tags:

        @area.post(base + "/tags/add")
        async def add_tag(kit: Kit, request: Request) -> Response:
            name = name_of(request)

            async def work(view: View, form: dict[str, str]) -> Response:
                key, value = form.get("key", "").strip(), form.get("value", "")
                await view.call(f"Tag{kind.noun}", {kind.param: name, "Tags": [{"Key": key, "Value": value}]})
                return view.redirect(entity_path(kind, name, "tags"), flash=f"Tag {key} saved.")

            return await form_action(kit, request, work, back=entity_path(kind, name, "tags"))

        @area.post(base + "/tags/remove")
        async def remove_tag(kit: Kit, request: Request) -> Response:
            name = name_of(request)

            async def work(view: View, form: dict[str, str]) -> Response:
                key = form.get("key", "")
                await view.call(f"Untag{kind.noun}", {kind.param: name, "TagKeys": [key]})
                return view.redirect(entity_path(kind, name, "tags"), flash=f"Tag {key} removed.")

            return await form_action(kit, request, work, back=entity_path(kind, name, "tags"))


def parse_tags(text: str) -> list[dict[str, str]]:
    """``key=value`` lines (a create form's tags), at most 50."""
    tags: list[dict[str, str]] = []
    for line in text.splitlines()[:MAX_TAGS]:
        if not line.strip():
            continue
        key, _, value = line.partition("=")
        tags.append({"Key": key.strip(), "Value": value.strip()})
    return tags


def checked_name(name: str) -> bool:
    return valid_name(name)
