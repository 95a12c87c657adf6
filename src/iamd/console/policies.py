"""The console's Policies pages: the list of managed policies (AWS and customer managed, filtered
by type, by usage and by name), a policy's page (its summary, its versions with set-default and
delete, the entities it is attached to or bounds, its JSON), and deleting a policy after a
confirmation that names what loses its permissions.

Every read and change is the IAM call AWS's console makes (ListPolicies, GetPolicy,
ListPolicyVersions, GetPolicyVersion, ListEntitiesForPolicy, SetDefaultPolicyVersion,
DeletePolicyVersion, Detach*Policy, Delete*PermissionsBoundary, DeletePolicy), run as the
signed-in principal through the kit: one authorization path, every call on the trail.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, unquote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from iamd.console.kit import REGISTRY, View, form_action, page
from iamd.console.policy_tools import summary_of, when
from iamd.wire import AwsError

if TYPE_CHECKING:
    from iamd.console.kit import Kit

__all__ = ["area", "policy_filter"]

PAGE_SIZE: Final = 50
MAX_POLICIES: Final = 5000
TYPES: Final = {
    "all": ("All types", "All"),
    "aws": ("AWS managed", "AWS"),
    "customer": ("Customer managed", "Local"),
}
USAGES: Final = {
    "all": "Any use",
    "permissions": "Used as a permissions policy",
    "boundary": "Used as a permissions boundary",
    "unused": "Not used",
}

area = REGISTRY.area("policies")
area.add_nav("Policies", "/policies", section="Access management", order=40)


def _view_path(arn: str, **extra: str) -> str:
    return "/policies/view?" + urlencode({"arn": arn, **extra})


def policy_filter(policies: list[dict[str, Any]], usage: str, text: str) -> list[dict[str, Any]]:
    """The policies a list shows for a usage filter and a name search (case-insensitive)."""
    text = text.strip().lower()
    shown = []
    for p in policies:
        attached, bounds = p.get("AttachmentCount", 0), p.get("PermissionsBoundaryUsageCount", 0)
        if usage == "permissions" and not attached:
            continue
        if usage == "boundary" and not bounds:
            continue
        if usage == "unused" and (attached or bounds):
            continue
        if text and text not in p["PolicyName"].lower():
            continue
        shown.append(p)
    # The exact name first (searching "ReadOnlyAccess" finds it before its 200 namesakes).
    return sorted(shown, key=lambda p: (p["PolicyName"].lower() != text, p["PolicyName"].lower()))


def _used_as(p: dict[str, Any]) -> str:
    parts = []
    if p.get("AttachmentCount"):
        parts.append(f"Permissions policy ({p['AttachmentCount']})")
    if p.get("PermissionsBoundaryUsageCount"):
        parts.append(f"Permissions boundary ({p['PermissionsBoundaryUsageCount']})")
    return ", ".join(parts) or "Not used"


@area.get("/policies")
async def policies_page(kit: Kit, request: Request) -> Response:
    async def build(view: View) -> Response:
        query = request.query_params
        kind = query.get("type", "all") if query.get("type") in TYPES else "all"
        usage = query.get("usage", "all") if query.get("usage") in USAGES else "all"
        text = query.get("q", "")[:128]
        raw = query.get("page", "")
        number = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 6 else 1
        params: dict[str, Any] = {"Scope": TYPES[kind][1], "MaxItems": 1000}
        if usage == "boundary":
            params["PolicyUsageFilter"] = "PermissionsBoundary"
        listed = await view.paged("ListPolicies", params, "Policies", limit=MAX_POLICIES)
        shown = policy_filter(listed or [], usage, text)
        pages = max(1, -(-len(shown) // PAGE_SIZE))
        number = min(max(number, 1), pages)
        rows = [
            {
                "name": p["PolicyName"],
                "arn": p["Arn"],
                "type": "AWS managed" if p["Arn"].startswith("arn:aws:iam::aws:") else "Customer managed",
                "used": _used_as(p),
                "path": p.get("Path", "/"),
                "link": _view_path(p["Arn"]),
            }
            for p in shown[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
        ]
        keep = {"type": kind, "usage": usage, "q": text}
        return view.render(
            "policies/list.html",
            when=when,
            title="Policies",
            crumbs=[("IAM", "/dashboard"), ("Policies", "")],
            rows=rows,
            total=len(shown),
            listed=listed is not None,
            kind=kind,
            usage=usage,
            text=text,
            types=[(k, v[0]) for k, v in TYPES.items()],
            usages=list(USAGES.items()),
            number=number,
            pages=pages,
            previous=urlencode({**keep, "page": number - 1}) if number > 1 else None,
            following=urlencode({**keep, "page": number + 1}) if number < pages else None,
        )

    return await page(kit, request, build)


async def _policy(view: View, arn: str, version: str) -> dict[str, Any] | None:
    got = await view.read("GetPolicy", {"PolicyArn": arn})
    if got is None:
        return None
    policy = got["Policy"]
    versions = await view.read("ListPolicyVersions", {"PolicyArn": arn, "MaxItems": 100})
    shown_version = version or policy["DefaultVersionId"]
    document = await view.read("GetPolicyVersion", {"PolicyArn": arn, "VersionId": shown_version})
    entities: dict[str, list[tuple[str, str]]] = {}
    for usage, key in (("PermissionsPolicy", "permissions"), ("PermissionsBoundary", "boundary")):
        answer = await view.read(
            "ListEntitiesForPolicy", {"PolicyArn": arn, "PolicyUsageFilter": usage, "MaxItems": 1000}
        )
        found: list[tuple[str, str]] = []
        for kind, field, name in (
            ("Group", "PolicyGroups", "GroupName"),
            ("User", "PolicyUsers", "UserName"),
        ):
            found.extend((kind, e[name]) for e in (answer or {}).get(field, []))
        found.extend(("Role", e["RoleName"]) for e in (answer or {}).get("PolicyRoles", []))
        entities[key] = found
    text = ""
    if document is not None:
        raw = unquote(document["PolicyVersion"]["Document"])
        try:
            text = json.dumps(json.loads(raw), indent=2)
        except ValueError:
            text = raw
    return {
        "arn": arn,
        "name": policy["PolicyName"],
        "aws": arn.startswith("arn:aws:iam::aws:"),
        "description": policy.get("Description", ""),
        "path": policy.get("Path", "/"),
        "default": policy["DefaultVersionId"],
        "created": policy.get("CreateDate"),
        "updated": policy.get("UpdateDate"),
        "attachments": policy.get("AttachmentCount", 0),
        "boundaries": policy.get("PermissionsBoundaryUsageCount", 0),
        "versions": sorted(
            (versions or {}).get("Versions", []),
            key=lambda v: int(str(v["VersionId"]).lstrip("v") or 0),
            reverse=True,
        ),
        "version": shown_version,
        "document": text,
        "summary": await run_in_threadpool(summary_of, text) if text else None,
        "entities": entities,
    }


def _entity_link(kind: str, name: str) -> str:
    return {"User": "/users/", "Group": "/groups/", "Role": "/roles/"}[kind] + quote(name, safe="")


@area.get("/policies/view")
async def policy_page(kit: Kit, request: Request) -> Response:
    async def build(view: View) -> Response:
        arn = request.query_params.get("arn", "")[:2048]
        version = request.query_params.get("version", "")[:32]
        found = await _policy(view, arn, version) if arn else None
        created = request.query_params.get("created", "")[:32]
        message = None
        if created == "1":
            message = "The policy was created."
        elif created:
            message = f"Version {created} was saved."
        if found is None:
            return view.render(
                "policies/view.html",
                when=when,
                status=404 if not view.denied else 403,
                title="Policy",
                crumbs=[("IAM", "/dashboard"), ("Policies", "/policies"), ("Policy", "")],
                policy=None,
                error=None
                if view.denied
                else "There is no such policy (it may have been deleted). Open it from the Policies list.",
            )
        return view.render(
            "policies/view.html",
            when=when,
            title=found["name"],
            crumbs=[("IAM", "/dashboard"), ("Policies", "/policies"), (found["name"], "")],
            policy=found,
            message=message,
            here=_view_path(arn),
            entity_link=_entity_link,
            editor_link="/policy-editor?" + urlencode({"arn": arn, "version": found["version"]}),
            copy_link="/policy-editor?" + urlencode({"copy": arn, "version": found["version"]}),
            view_link=lambda v: _view_path(arn, version=v),
        )

    return await page(kit, request, build)


@area.post("/policies/set-default")
async def set_default(kit: Kit, request: Request) -> Response:
    async def work(view: View, form: dict[str, str]) -> Response:
        arn, version = form.get("arn", "")[:2048], form.get("version", "")[:32]
        await view.call("SetDefaultPolicyVersion", {"PolicyArn": arn, "VersionId": version})
        return view.redirect(_view_path(arn, version=version), flash=f"{version} is now the default version.")

    return await form_action(kit, request, work, back="/policies")


@area.post("/policies/delete-version")
async def delete_version(kit: Kit, request: Request) -> Response:
    async def work(view: View, form: dict[str, str]) -> Response:
        arn, version = form.get("arn", "")[:2048], form.get("version", "")[:32]
        await view.call("DeletePolicyVersion", {"PolicyArn": arn, "VersionId": version})
        return view.redirect(_view_path(arn), flash=f"Version {version} was deleted.")

    return await form_action(kit, request, work, back="/policies")


DETACH: Final = {
    ("permissions", "User"): ("DetachUserPolicy", "UserName"),
    ("permissions", "Group"): ("DetachGroupPolicy", "GroupName"),
    ("permissions", "Role"): ("DetachRolePolicy", "RoleName"),
    ("boundary", "User"): ("DeleteUserPermissionsBoundary", "UserName"),
    ("boundary", "Role"): ("DeleteRolePermissionsBoundary", "RoleName"),
}


@area.post("/policies/delete")
async def delete_policy(kit: Kit, request: Request) -> Response:
    """As AWS's console deletes a customer managed policy: detach it from every user, group and
    role, remove it as a permissions boundary, delete its other versions, then delete it. Each
    step is its own IAM call; a refusal stops there and says what was already done."""

    async def work(view: View, form: dict[str, str]) -> Response:
        arn = form.get("arn", "")[:2048]
        found = await _policy(view, arn, "")
        if found is None:
            return view.redirect("/policies", flash="There is no such policy any more.", kind="error")
        if form.get("confirm", "") != found["name"]:
            return view.redirect(
                _view_path(arn), flash=f"Type the policy's name, {found['name']}, to delete it.", kind="error"
            )
        done: list[str] = []
        try:
            for usage in ("permissions", "boundary"):
                for kind, name in found["entities"][usage]:
                    operation, key = DETACH[(usage, kind)]
                    params = {key: name} if usage == "boundary" else {key: name, "PolicyArn": arn}
                    await view.call(operation, params)
                    done.append(f"{operation} {name}")
            for version in found["versions"]:
                if not version.get("IsDefaultVersion"):
                    await view.call(
                        "DeletePolicyVersion", {"PolicyArn": arn, "VersionId": version["VersionId"]}
                    )
                    done.append(f"DeletePolicyVersion {version['VersionId']}")
            await view.call("DeletePolicy", {"PolicyArn": arn})
        except AwsError as error:
            if not done:
                raise
            from iamd.console.kit import explain

            problem = explain(error, [])
            return view.redirect(
                _view_path(arn),
                flash=f"{problem.text} Done before that: {'; '.join(done)}.",
                kind="error",
            )
        return view.redirect("/policies?type=customer", flash=f"The policy {found['name']} was deleted.")

    return await form_action(kit, request, work, back="/policies")
