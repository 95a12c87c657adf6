"""IAM Identity Center (``/console/identity-center``) for the signed-in account: its instance (or
a button to enable one), the identity store's users and groups, permission sets with their
managed policies and session duration, account assignments, and where people sign in (the access
portal's start URL) and where an IdP provisions them (the SCIM endpoint).

Every read and change is an ``sso-admin`` or ``identitystore`` operation run as the signed-in
principal (:mod:`iamd.console.runner`): the same policies decide it as over the API, and it is on
the trail. Deletions and removals ask first, saying what breaks.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response

from iamd.console.kit import REGISTRY, Kit, View, form_action, page
from iamd.wire import AwsError

__all__ = ["area"]

ADMIN: Final = "sso-admin"
STORE: Final = "identitystore"
PATH: Final = "/identity-center"
MAX_LISTED: Final = 500
"""Users, groups, permission sets read for the page at most (the API pages them by 100)."""
MAX_MEMBERSHIP_READS: Final = 50
"""Groups whose members are listed on the page."""
MAX_ASSIGNMENT_READS: Final = 200
"""(account, permission set) pairs whose assignments are read for the page."""

area = REGISTRY.area("identity-center")
area.add_nav("Identity Center", PATH, section="Organization", order=20)


def _base_url(kit: Kit, request: Request) -> str:
    public = kit.runner.pipeline.public_url
    if public:
        return public.rstrip("/")
    host = request.headers.get("host") or "127.0.0.1"
    return f"{request.url.scheme}://{host}"


async def _all(
    view: View, service: str, operation: str, params: dict[str, Any], key: str
) -> list[dict[str, Any]] | None:
    """Every item of a NextToken-paged list, up to MAX_LISTED; None when refused (noted once)."""
    items: list[dict[str, Any]] = []
    token: str | None = None
    while len(items) < MAX_LISTED:
        answer = await view.read(
            operation, {**params, **({"NextToken": token} if token else {})}, service=service
        )
        if answer is None:
            return items or None
        items.extend(answer.get(key, []))
        token = answer.get("NextToken")
        if not token:
            break
    return items[:MAX_LISTED]


async def _instance(view: View) -> dict[str, Any] | None:
    """The instance this account owns (the organization's, for its management account)."""
    instances = await _all(view, ADMIN, "ListInstances", {}, "Instances")
    owned = [i for i in instances or [] if i.get("OwnerAccountId") == view.session.account_id]
    if owned:
        return owned[0]
    return instances[0] if instances else None


def _user_label(user: dict[str, Any]) -> str:
    return str(user.get("UserName") or user.get("DisplayName") or user["UserId"])


@area.get(PATH)
async def identity_center_page(kit: Kit, request: Request) -> Response:
    async def build(view: View) -> Response:
        base_url = _base_url(kit, request)
        crumbs = [("Identity Center", "")]
        instance = await _instance(view)
        if instance is None:
            return view.render(
                "identity_center.html",
                title="IAM Identity Center",
                crumbs=crumbs,
                instance=None,
                account=view.session.account_id,
            )
        arn = instance["InstanceArn"]
        store_id = instance["IdentityStoreId"]
        users = await _all(view, STORE, "ListUsers", {"IdentityStoreId": store_id}, "Users") or []
        groups = await _all(view, STORE, "ListGroups", {"IdentityStoreId": store_id}, "Groups") or []
        users.sort(key=lambda u: _user_label(u).lower())
        groups.sort(key=lambda g: str(g.get("DisplayName", "")).lower())
        names = {u["UserId"]: _user_label(u) for u in users}
        group_names = {g["GroupId"]: str(g.get("DisplayName", g["GroupId"])) for g in groups}
        for group in groups[:MAX_MEMBERSHIP_READS]:
            members = await _all(
                view,
                STORE,
                "ListGroupMemberships",
                {"IdentityStoreId": store_id, "GroupId": group["GroupId"]},
                "GroupMemberships",
            )
            group["members"] = (
                None
                if members is None
                else sorted(names.get(m["MemberId"].get("UserId", ""), "?") for m in members)
            )
        sets: list[dict[str, Any]] = []
        set_arns = await _all(view, ADMIN, "ListPermissionSets", {"InstanceArn": arn}, "PermissionSets")
        for set_arn in set_arns or []:
            described = await view.read(
                "DescribePermissionSet", {"InstanceArn": arn, "PermissionSetArn": set_arn}, service=ADMIN
            )
            if described is None:
                continue
            policies = await _all(
                view,
                ADMIN,
                "ListManagedPoliciesInPermissionSet",
                {"InstanceArn": arn, "PermissionSetArn": set_arn},
                "AttachedManagedPolicies",
            )
            sets.append({**described.get("PermissionSet", {}), "policies": policies})
        sets.sort(key=lambda s: str(s.get("Name", "")).lower())
        set_names = {s["PermissionSetArn"]: s.get("Name", s["PermissionSetArn"]) for s in sets}
        assignments: list[dict[str, Any]] = []
        reads = 0
        for permission_set in sets:
            accounts = await _all(
                view,
                ADMIN,
                "ListAccountsForProvisionedPermissionSet",
                {"InstanceArn": arn, "PermissionSetArn": permission_set["PermissionSetArn"]},
                "AccountIds",
            )
            for account in accounts or []:
                reads += 1
                if reads > MAX_ASSIGNMENT_READS:
                    break
                found = await _all(
                    view,
                    ADMIN,
                    "ListAccountAssignments",
                    {
                        "InstanceArn": arn,
                        "AccountId": account,
                        "PermissionSetArn": permission_set["PermissionSetArn"],
                    },
                    "AccountAssignments",
                )
                for a in found or []:
                    who = (
                        names.get(a["PrincipalId"], a["PrincipalId"])
                        if a["PrincipalType"] == "USER"
                        else group_names.get(a["PrincipalId"], a["PrincipalId"])
                    )
                    assignments.append(
                        {**a, "who": who, "set_name": set_names.get(a["PermissionSetArn"], "")}
                    )
        accounts_listed = await view.read(
            "ListAccounts", {}, service="organizations", absent=("AWSOrganizationsNotInUseException",)
        )
        targets = sorted(
            {
                str(a["Id"]): str(a.get("Name", "")) for a in (accounts_listed or {}).get("Accounts", [])
            }.items()
        ) or [(str(view.session.account_id), "this account")]
        return view.render(
            "identity_center.html",
            title="IAM Identity Center",
            crumbs=crumbs,
            instance=instance,
            account=view.session.account_id,
            users=users,
            groups=groups,
            sets=sets,
            assignments=assignments,
            targets=targets,
            start_url=f"{base_url}/start",
            scim_url=f"{base_url}/scim/v2/",
        )

    return await page(kit, request, build)


async def _current(view: View) -> dict[str, Any]:
    instance = await _instance(view)
    if instance is None:
        raise AwsError(
            "This account has no IAM Identity Center instance: enable one first.",
            code="ValidationException",
            status=400,
            sender_fault=True,
        )
    return instance


@area.post(PATH + "/enable")
async def enable(kit: Kit, request: Request) -> Response:
    async def work(view: View, form: dict[str, str]) -> Response:
        await view.call("CreateInstance", {}, service=ADMIN)
        return view.redirect(PATH, flash="IAM Identity Center is enabled.")

    return await form_action(kit, request, work, back=PATH)


@area.post(PATH + "/users/create")
async def create_user(kit: Kit, request: Request) -> Response:
    async def work(view: View, form: dict[str, str]) -> Response:
        instance = await _current(view)
        name = form.get("username", "").strip()[:128]
        given, family = form.get("given", "").strip()[:256], form.get("family", "").strip()[:256]
        params: dict[str, Any] = {
            "IdentityStoreId": instance["IdentityStoreId"],
            "UserName": name,
            "DisplayName": f"{given} {family}".strip() or name,
            "Name": {"GivenName": given, "FamilyName": family},
        }
        email = form.get("email", "").strip()[:256]
        if email:
            params["Emails"] = [{"Value": email, "Type": "work", "Primary": True}]
        await view.call("CreateUser", params, service=STORE)
        return view.redirect(PATH, flash=f"User {name} created.")

    return await form_action(kit, request, work, back=PATH)


@area.post(PATH + "/users/delete")
async def delete_user(kit: Kit, request: Request) -> Response:
    async def work(view: View, form: dict[str, str]) -> Response:
        instance = await _current(view)
        name = form.get("name", "")[:128]
        if form.get("confirm", "") != name:
            return view.redirect(
                PATH, flash=f"Type the user name {name} to confirm the deletion.", kind="error"
            )
        await view.call(
            "DeleteUser",
            {"IdentityStoreId": instance["IdentityStoreId"], "UserId": form.get("id", "")[:64]},
            service=STORE,
        )
        return view.redirect(PATH, flash=f"User {name} deleted.")

    return await form_action(kit, request, work, back=PATH)


@area.post(PATH + "/groups/create")
async def create_group(kit: Kit, request: Request) -> Response:
    async def work(view: View, form: dict[str, str]) -> Response:
        instance = await _current(view)
        name = form.get("name", "").strip()[:1024]
        params: dict[str, Any] = {"IdentityStoreId": instance["IdentityStoreId"], "DisplayName": name}
        description = form.get("description", "").strip()[:1024]
        if description:
            params["Description"] = description
        await view.call("CreateGroup", params, service=STORE)
        return view.redirect(PATH, flash=f"Group {name} created.")

    return await form_action(kit, request, work, back=PATH)


@area.post(PATH + "/groups/delete")
async def delete_group(kit: Kit, request: Request) -> Response:
    async def work(view: View, form: dict[str, str]) -> Response:
        instance = await _current(view)
        name = form.get("name", "")[:1024]
        if form.get("confirm", "") != name:
            return view.redirect(
                PATH, flash=f"Type the group name {name} to confirm the deletion.", kind="error"
            )
        await view.call(
            "DeleteGroup",
            {"IdentityStoreId": instance["IdentityStoreId"], "GroupId": form.get("id", "")[:64]},
            service=STORE,
        )
        return view.redirect(PATH, flash=f"Group {name} deleted.")

    return await form_action(kit, request, work, back=PATH)


@area.post(PATH + "/groups/members/add")
async def add_member(kit: Kit, request: Request) -> Response:
    async def work(view: View, form: dict[str, str]) -> Response:
        instance = await _current(view)
        await view.call(
            "CreateGroupMembership",
            {
                "IdentityStoreId": instance["IdentityStoreId"],
                "GroupId": form.get("group", "")[:64],
                "MemberId": {"UserId": form.get("user", "")[:64]},
            },
            service=STORE,
        )
        return view.redirect(PATH, flash="The user was added to the group.")

    return await form_action(kit, request, work, back=PATH)


@area.post(PATH + "/permission-sets/create")
async def create_permission_set(kit: Kit, request: Request) -> Response:
    async def work(view: View, form: dict[str, str]) -> Response:
        instance = await _current(view)
        name = form.get("name", "").strip()[:32]
        hours = form.get("hours", "1").strip()
        if not hours.isascii() or not hours.isdigit() or not 1 <= int(hours) <= 12:
            return view.redirect(PATH, flash="The session duration is 1 to 12 hours.", kind="error")
        params: dict[str, Any] = {
            "InstanceArn": instance["InstanceArn"],
            "Name": name,
            "SessionDuration": f"PT{int(hours)}H",
        }
        description = form.get("description", "").strip()[:700]
        if description:
            params["Description"] = description
        created = await view.call("CreatePermissionSet", params, service=ADMIN)
        policy = form.get("policy", "").strip()[:2048]
        if policy:
            try:
                await view.call(
                    "AttachManagedPolicyToPermissionSet",
                    {
                        "InstanceArn": instance["InstanceArn"],
                        "PermissionSetArn": created["PermissionSet"]["PermissionSetArn"],
                        "ManagedPolicyArn": policy,
                    },
                    service=ADMIN,
                )
            except AwsError as error:
                return view.redirect(
                    PATH,
                    flash=f"Permission set {name} created, but the policy was not attached: {error.message}",
                    kind="error",
                )
        return view.redirect(PATH, flash=f"Permission set {name} created.")

    return await form_action(kit, request, work, back=PATH)


def _principal(value: str) -> tuple[str, str]:
    kind, _, principal = value.partition(":")
    if kind not in ("USER", "GROUP") or not principal:
        raise AwsError("Choose a user or a group.", code="ValidationException", status=400, sender_fault=True)
    return kind, principal[:64]


@area.post(PATH + "/assignments/create")
async def create_assignment(kit: Kit, request: Request) -> Response:
    async def work(view: View, form: dict[str, str]) -> Response:
        instance = await _current(view)
        kind, principal = _principal(form.get("principal", ""))
        await view.call(
            "CreateAccountAssignment",
            {
                "InstanceArn": instance["InstanceArn"],
                "TargetId": form.get("account", "")[:12],
                "TargetType": "AWS_ACCOUNT",
                "PermissionSetArn": form.get("permission_set", "")[:1224],
                "PrincipalType": kind,
                "PrincipalId": principal,
            },
            service=ADMIN,
        )
        return view.redirect(PATH, flash="The permission set is assigned.")

    return await form_action(kit, request, work, back=PATH)


@area.post(PATH + "/assignments/delete")
async def delete_assignment(kit: Kit, request: Request) -> Response:
    async def work(view: View, form: dict[str, str]) -> Response:
        instance = await _current(view)
        kind, principal = _principal(form.get("principal", ""))
        await view.call(
            "DeleteAccountAssignment",
            {
                "InstanceArn": instance["InstanceArn"],
                "TargetId": form.get("account", "")[:12],
                "TargetType": "AWS_ACCOUNT",
                "PermissionSetArn": form.get("permission_set", "")[:1224],
                "PrincipalType": kind,
                "PrincipalId": principal,
            },
            service=ADMIN,
        )
        return view.redirect(PATH, flash="The assignment was removed.")

    return await form_action(kit, request, work, back=PATH)
