"""Roles (``/roles``) and switch role (``/switch-role``).

The list shows each role's trusted entities and last activity; a role's page has the tabs
Permissions, Trust relationships (the trust policy, editable), Tags, Access Advisor and Revoke
sessions (AWS's ``AWSRevokeOlderSessions`` inline policy), and a "switch role" link.

Switch role works as AWS's: the signed-in identity calls ``sts:AssumeRole`` (same account or
another), and the console then acts with that role session's credentials — every page and action
is the role's — with the role shown in the header and a way back to the identity that switched.
The session's token stays in the sealed console cookie; it is never shown.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any, Final
from urllib.parse import quote, unquote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from iamd.console.entities import (
    KINDS,
    access_advisor,
    add_entity_forms,
    entity_path,
    name_of,
    permissions,
    tags_of,
)
from iamd.console.kit import REGISTRY, Kit, View, form_action, page
from iamd.console.sessions import ConsoleSession

__all__ = ["area", "trusted_entities"]

KIND: Final = KINDS["roles"]
TABS: Final = (
    ("permissions", "Permissions"),
    ("trust", "Trust relationships"),
    ("tags", "Tags"),
    ("advisor", "Access Advisor"),
    ("sessions", "Revoke sessions"),
)
REVOKE_POLICY: Final = "AWSRevokeOlderSessions"
SWITCH_SECONDS: Final = 3600
"""A switched-into role's session: one hour, as AWS's console."""
MAX_DISPLAY: Final = 64

area = REGISTRY.area("roles")
area.add_nav("Roles", "/roles", order=30)
area.add_nav("Switch role", "/switch-role", section="Your account", order=20)
add_entity_forms(area, KIND)


def _document(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str):
        text = unquote(raw) if raw.lstrip().startswith("%") else raw
        try:
            parsed = json.loads(text)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def trusted_entities(raw: Any) -> list[str]:
    """Who the trust policy lets assume the role, as AWS's list shows it ("AWS account: 1234…",
    "AWS service: ec2", "Identity provider: …")."""
    found: list[str] = []
    statements = _document(raw).get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal", {})
        if principal == "*":
            found.append("Anyone (*)")
            continue
        for kind, values in principal.items() if isinstance(principal, dict) else []:
            for value in values if isinstance(values, list) else [values]:
                label = {"AWS": "AWS", "Service": "AWS service", "Federated": "Identity provider"}.get(
                    kind, kind
                )
                text = str(value)
                if kind == "AWS" and text.endswith(":root"):
                    text = "account " + text.split(":")[4]
                found.append(f"{label}: {text}")
    return sorted(set(found))


@area.get("/roles")
async def roles_page(kit: Kit, request: Request) -> Response:
    async def build(view: View) -> Response:
        search = view.query.get("q", "").strip()[:128]
        listed = await view.paged("ListRoles", {}, "Roles", limit=2000)
        rows: list[dict[str, Any]] = []
        for role in [r for r in listed or [] if search.lower() in r["RoleName"].lower()][:100]:
            got = await view.read("GetRole", {"RoleName": role["RoleName"]})
            last = ((got or {}).get("Role") or {}).get("RoleLastUsed") or {}
            rows.append(
                {
                    **role,
                    "trusted": trusted_entities(role.get("AssumeRolePolicyDocument")),
                    "last_used": last.get("LastUsedDate"),
                }
            )
        return view.render(
            "iam/roles.html",
            title="Roles",
            crumbs=[("IAM", "/dashboard"), ("Roles", "")],
            roles=rows,
            listed=listed is not None,
            search=search,
        )

    return await page(kit, request, build)


@area.post("/roles/create")
async def create_role(kit: Kit, request: Request) -> Response:
    async def work(view: View, form: dict[str, str]) -> Response:
        name = form.get("name", "").strip()
        trust = form.get("trust", "").strip()
        if not trust:
            account = form.get("account", "").strip() or view.session.account_id or ""
            trust = json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            )
        params: dict[str, Any] = {"RoleName": name, "AssumeRolePolicyDocument": trust}
        if form.get("description", "").strip():
            params["Description"] = form["description"].strip()
        await view.call("CreateRole", params)
        policy = form.get("policy", "").strip()
        if policy:
            await view.call("AttachRolePolicy", {"RoleName": name, "PolicyArn": policy})
        return view.redirect(entity_path(KIND, name), flash=f"Role {name} created.")

    return await form_action(kit, request, work, back="/roles")


@area.get("/roles/{name}")
async def role_page(kit: Kit, request: Request) -> Response:
    name = name_of(request)

    async def build(view: View) -> Response:
        tab = view.query.get("tab", "permissions")
        if tab not in dict(TABS):
            tab = "permissions"
        got = await view.read("GetRole", {"RoleName": name})
        if got == {}:
            return view.redirect(
                "/roles", flash=f"There is no role {name}: it may have been deleted.", kind="error"
            )
        role = (got or {}).get("Role", {"RoleName": name})
        context: dict[str, Any] = {}
        if tab == "permissions":
            boundary = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
            context = await permissions(view, KIND, name, boundary)
        elif tab == "trust":
            document = role.get("AssumeRolePolicyDocument")
            context = {
                "trust": json.dumps(_document(document), indent=2) if document is not None else None,
                "trusted": trusted_entities(document),
            }
        elif tab == "tags":
            context = {"tags": await tags_of(view, KIND, name)}
        elif tab == "advisor":
            context = {"advisor": await access_advisor(view, role["Arn"]) if role.get("Arn") else None}
        account = (role.get("Arn") or "::::").split(":")[4] or view.session.account_id or ""
        switch = "/switch-role?" + urlencode({"account": account, "role": name})
        return view.render(
            "iam/role.html",
            title=f"Role {name}",
            crumbs=[("IAM", "/dashboard"), ("Roles", "/roles"), (name, "")],
            role=role,
            name=name,
            tab=tab,
            tabs=TABS,
            path=entity_path(KIND, name),
            switch=switch,
            **context,
        )

    return await page(kit, request, build)


@area.post("/roles/{name}/trust")
async def update_trust(kit: Kit, request: Request) -> Response:
    name = name_of(request)

    async def work(view: View, form: dict[str, str]) -> Response:
        await view.call(
            "UpdateAssumeRolePolicy", {"RoleName": name, "PolicyDocument": form.get("document", "")}
        )
        return view.redirect(entity_path(KIND, name, "trust"), flash="The trust policy was updated.")

    return await form_action(kit, request, work, back=entity_path(KIND, name, "trust"))


@area.post("/roles/{name}/revoke")
async def revoke_sessions(kit: Kit, request: Request) -> Response:
    """AWS's "Revoke active sessions": an inline policy denying everything to sessions issued
    before now."""
    name = name_of(request)

    async def work(view: View, form: dict[str, str]) -> Response:
        now = kit._now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        document = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Action": ["*"],
                    "Resource": ["*"],
                    "Condition": {"DateLessThan": {"aws:TokenIssueTime": now}},
                }
            ],
        }
        params = {"RoleName": name, "PolicyName": REVOKE_POLICY, "PolicyDocument": json.dumps(document)}
        await view.call("PutRolePolicy", params)
        return view.redirect(
            entity_path(KIND, name, "sessions"), flash=f"Sessions of {name} issued before {now} are revoked."
        )

    return await form_action(kit, request, work, back=entity_path(KIND, name, "sessions"))


@area.post("/roles/{name}/delete")
async def delete_role(kit: Kit, request: Request) -> Response:
    name = name_of(request)

    async def work(view: View, form: dict[str, str]) -> Response:
        if form.get("confirm", "") != name:
            return view.redirect(
                entity_path(KIND, name),
                flash=f"Type the role name {name} to confirm the deletion.",
                kind="error",
            )
        role = {"RoleName": name}
        for profile in (await view.call("ListInstanceProfilesForRole", role)).get("InstanceProfiles", []):
            await view.call(
                "RemoveRoleFromInstanceProfile",
                {**role, "InstanceProfileName": profile["InstanceProfileName"]},
            )
        for policy in (await view.call("ListAttachedRolePolicies", role)).get("AttachedPolicies", []):
            await view.call("DetachRolePolicy", {**role, "PolicyArn": policy["PolicyArn"]})
        for policy_name in (await view.call("ListRolePolicies", role)).get("PolicyNames", []):
            await view.call("DeleteRolePolicy", {**role, "PolicyName": policy_name})
        await view.call("DeleteRole", role)
        return view.redirect("/roles", flash=f"Role {name} deleted.")

    return await form_action(kit, request, work, back=entity_path(KIND, name))


# -- switch role ----------------------------------------------------------------------------------


@area.get("/switch-role")
async def switch_page(kit: Kit, request: Request) -> Response:
    async def build(view: View) -> Response:
        query = view.query
        return view.render(
            "iam/switch_role.html",
            title="Switch role",
            crumbs=[("IAM", "/dashboard"), ("Switch role", "")],
            account=query.get("account", view.session.account_id or "")[:64],
            role_name=query.get("role", "")[:64],
            display=query.get("display", "")[:MAX_DISPLAY],
        )

    return await page(kit, request, build)


@area.post("/switch-role")
async def switch_role(kit: Kit, request: Request) -> Response:
    async def work(view: View, form: dict[str, str]) -> Response:
        account = form.get("account", "").strip()[:64]
        role_name = form.get("role", "").strip()[:64]
        display = form.get("display", "").strip()[:MAX_DISPLAY] or f"{role_name} @ {account}"
        if not (account.isdigit() and len(account) == 12) or not role_name:
            query = urlencode({"account": account, "role": role_name, "display": display})
            return view.redirect(
                f"/switch-role?{query}",
                flash="Enter the 12-digit account ID and the role's name (the part after role/ in its ARN).",
                kind="error",
            )
        session_name = _session_name(view.session)
        answer = await view.call(
            "AssumeRole",
            {
                "RoleArn": f"arn:aws:iam::{account}:role/{role_name}",
                "RoleSessionName": session_name,
                "DurationSeconds": SWITCH_SECONDS,
            },
            service="sts",
        )
        credentials = answer["Credentials"]
        role = {
            "arn": answer["AssumedRoleUser"]["Arn"],
            "role": role_name,
            "account": account,
            "display": display,
            "key": credentials["AccessKeyId"],
            "token": credentials["SessionToken"],
            "expires": str(int(credentials["Expiration"].timestamp())),
        }
        switched = kit.flash(
            view.session.with_changes(role=role),
            f"You are now acting as role {role_name} in account {account}.",
        )
        return kit._redirect(request, switched, "/dashboard")

    return await form_action(kit, request, work, back="/switch-role")


@area.post("/switch-role/back")
async def switch_back(kit: Kit, request: Request) -> Response:
    async def work(view: View, form: dict[str, str]) -> Response:
        back = kit.flash(view.session.with_changes(role=None), f"You are back as {view.session.label}.")
        return kit._redirect(request, back, "/home")

    return await form_action(kit, request, work)


def _session_name(session: ConsoleSession) -> str:
    """The role session's name: the signed-in identity's name, as AWS's console uses."""
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+=,.@_-")
    name = "".join(c if c in allowed else "-" for c in (session.label or "console"))
    return (name or "console")[:64].ljust(2, "-")


def role_link(name: str) -> str:
    return f"/roles/{quote(name, safe='')}"
