"""User groups (``/groups``): the list (users, permissions, creation time), create a group with a
policy (a job-function policy, say), and a group's page with its members and permissions; delete
after a confirmation that says what its members lose.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response

from iamd.console.entities import JOB_FUNCTIONS, KINDS, add_entity_forms, entity_path, name_of, permissions
from iamd.console.kit import REGISTRY, Kit, View, explain, form_action, page
from iamd.wire import AwsError

__all__ = ["area"]

KIND: Final = KINDS["groups"]
TABS: Final = (("users", "Users"), ("permissions", "Permissions"))

area = REGISTRY.area("groups")
area.add_nav("User groups", "/groups", order=10)
add_entity_forms(area, KIND)


@area.get("/groups")
async def groups_page(kit: Kit, request: Request) -> Response:
    async def build(view: View) -> Response:
        search = view.query.get("q", "").strip()[:128]
        listed = await view.paged("ListGroups", {}, "Groups", limit=1000)
        rows: list[dict[str, Any]] = []
        for group in [g for g in listed or [] if search.lower() in g["GroupName"].lower()][:100]:
            name = group["GroupName"]
            members = await view.read("GetGroup", {"GroupName": name})
            attached = await view.read("ListAttachedGroupPolicies", {"GroupName": name})
            inline = await view.read("ListGroupPolicies", {"GroupName": name})
            rows.append(
                {
                    **group,
                    "users": None if members is None else len(members.get("Users", [])),
                    "policies": None
                    if attached is None or inline is None
                    else len(attached.get("AttachedPolicies", [])) + len(inline.get("PolicyNames", [])),
                }
            )
        return view.render(
            "iam/groups.html",
            title="User groups",
            crumbs=[("IAM", "/dashboard"), ("User groups", "")],
            groups=rows,
            listed=listed is not None,
            search=search,
            suggested=JOB_FUNCTIONS,
        )

    return await page(kit, request, build)


@area.post("/groups/create")
async def create_group(kit: Kit, request: Request) -> Response:
    async def work(view: View, form: dict[str, str]) -> Response:
        name = form.get("name", "").strip()
        params: dict[str, Any] = {"GroupName": name}
        if form.get("path", "").strip():
            params["Path"] = form["path"].strip()
        await view.call("CreateGroup", params)
        policy = form.get("policy", "").strip()
        if policy:
            try:
                await view.call("AttachGroupPolicy", {"GroupName": name, "PolicyArn": policy})
            except AwsError as error:
                return view.redirect(
                    entity_path(KIND, name, "permissions"),
                    flash=f"Group {name} was created, but the policy was not attached: "
                    f"{explain(error, []).text}",
                    kind="error",
                )
        done = f"Group {name} created" + (f" with {policy}." if policy else ".")
        return view.redirect(entity_path(KIND, name), flash=done)

    return await form_action(kit, request, work, back="/groups")


@area.get("/groups/{name}")
async def group_page(kit: Kit, request: Request) -> Response:
    name = name_of(request)

    async def build(view: View) -> Response:
        tab = view.query.get("tab", "users")
        if tab not in dict(TABS):
            tab = "users"
        got = await view.read("GetGroup", {"GroupName": name})
        if got == {}:
            return view.redirect(
                "/groups", flash=f"There is no group {name}: it may have been deleted.", kind="error"
            )
        group = (got or {}).get("Group", {"GroupName": name})
        context: dict[str, Any] = {"members": None if got is None else got.get("Users", [])}
        if tab == "users":
            users = await view.paged("ListUsers", {}, "Users")
            inside = {u["UserName"] for u in context["members"] or []}
            context["others"] = [u for u in users or [] if u["UserName"] not in inside]
        else:
            context.update(await permissions(view, KIND, name, None))
        return view.render(
            "iam/group.html",
            title=f"Group {name}",
            crumbs=[("IAM", "/dashboard"), ("User groups", "/groups"), (name, "")],
            group=group,
            name=name,
            tab=tab,
            tabs=TABS,
            path=entity_path(KIND, name),
            **context,
        )

    return await page(kit, request, build)


@area.post("/groups/{name}/users/add")
async def add_user(kit: Kit, request: Request) -> Response:
    name = name_of(request)

    async def work(view: View, form: dict[str, str]) -> Response:
        user = form.get("user", "")
        await view.call("AddUserToGroup", {"GroupName": name, "UserName": user})
        return view.redirect(entity_path(KIND, name), flash=f"{user} added to {name}.")

    return await form_action(kit, request, work, back=entity_path(KIND, name))


@area.post("/groups/{name}/users/remove")
async def remove_user(kit: Kit, request: Request) -> Response:
    name = name_of(request)

    async def work(view: View, form: dict[str, str]) -> Response:
        user = form.get("user", "")
        await view.call("RemoveUserFromGroup", {"GroupName": name, "UserName": user})
        return view.redirect(entity_path(KIND, name), flash=f"{user} removed from {name}.")

    return await form_action(kit, request, work, back=entity_path(KIND, name))


@area.post("/groups/{name}/delete")
async def delete_group(kit: Kit, request: Request) -> Response:
    """As AWS's console: members removed, policies detached and inline ones deleted, then the
    group."""
    name = name_of(request)

    async def work(view: View, form: dict[str, str]) -> Response:
        if form.get("confirm", "") != name:
            return view.redirect(
                entity_path(KIND, name),
                flash=f"Type the group name {name} to confirm the deletion.",
                kind="error",
            )
        group = {"GroupName": name}
        for user in (await view.call("GetGroup", group)).get("Users", []):
            await view.call("RemoveUserFromGroup", {**group, "UserName": user["UserName"]})
        for policy in (await view.call("ListAttachedGroupPolicies", group)).get("AttachedPolicies", []):
            await view.call("DetachGroupPolicy", {**group, "PolicyArn": policy["PolicyArn"]})
        for policy_name in (await view.call("ListGroupPolicies", group)).get("PolicyNames", []):
            await view.call("DeleteGroupPolicy", {**group, "PolicyName": policy_name})
        await view.call("DeleteGroup", group)
        return view.redirect("/groups", flash=f"Group {name} deleted.")

    return await form_action(kit, request, work, back=entity_path(KIND, name))
