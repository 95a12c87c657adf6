"""The console's Account settings page: the password policy (edit, or revert to IAM's default),
the session tokens the global STS endpoint issues (GlobalEndpointTokenVersion), and the account
alias (the sign-in URL's name).

Each is the IAM call AWS's console makes (GetAccountPasswordPolicy, UpdateAccountPasswordPolicy,
DeleteAccountPasswordPolicy, GetAccountSummary, SetSecurityTokenServicePreferences,
ListAccountAliases, CreateAccountAlias, DeleteAccountAlias) as the signed-in principal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from iamd.console.kit import REGISTRY, View, form_action, page

if TYPE_CHECKING:
    from iamd.console.kit import Kit

__all__ = ["area", "password_policy_params"]

area = REGISTRY.area("settings")
area.add_nav("Account settings", "/account-settings", section="Access management", order=60)

REQUIREMENTS: Final = (
    ("RequireUppercaseCharacters", "At least one uppercase letter (A–Z)"),
    ("RequireLowercaseCharacters", "At least one lowercase letter (a–z)"),
    ("RequireNumbers", "At least one number"),
    ("RequireSymbols", "At least one symbol: ! @ # $ % ^ & * ( ) _ + - = [ ] { } | '"),
    ("AllowUsersToChangePassword", "Let users change their own password"),
    ("HardExpiry", "Expired passwords need an administrator to reset them (users cannot choose a new one)"),
)
BACK: Final = "/account-settings"


def _number(
    form: dict[str, str], name: str, low: int, high: int, label: str, problems: list[str]
) -> int | None:
    text = form.get(name, "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 6) or not low <= int(text) <= high:
        problems.append(f"{label} is a whole number from {low} to {high} (or empty).")
        return None
    return int(text)


def password_policy_params(form: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """UpdateAccountPasswordPolicy's parameters from the form, and what to fix (IAM's limits)."""
    problems: list[str] = []
    params: dict[str, Any] = {key: form.get(key) == "1" for key, _ in REQUIREMENTS}
    length = _number(form, "MinimumPasswordLength", 6, 128, "The minimum length", problems)
    params["MinimumPasswordLength"] = length if length is not None else 8
    age = _number(form, "MaxPasswordAge", 1, 1095, "The password lifetime in days", problems)
    if age is not None:
        params["MaxPasswordAge"] = age
    reuse = _number(form, "PasswordReusePrevention", 1, 24, "The number of remembered passwords", problems)
    if reuse is not None:
        params["PasswordReusePrevention"] = reuse
    return params, problems


async def _render(view: View, *, status: int = 200, **extra: Any) -> Response:
    got = await view.read("GetAccountPasswordPolicy", {})
    policy = (got or {}).get("PasswordPolicy")
    summary = await view.read("GetAccountSummary", {})
    version = ((summary or {}).get("SummaryMap") or {}).get("GlobalEndpointTokenVersion")
    aliases = await view.read("ListAccountAliases", {})
    return view.render(
        "settings/settings.html",
        status=status,
        title="Account settings",
        crumbs=[("IAM", "/dashboard"), ("Account settings", "")],
        policy=policy,
        policy_known=got is not None or "iam:GetAccountPasswordPolicy" not in view.denied,
        requirements=REQUIREMENTS,
        token_version=version,
        alias=((aliases or {}).get("AccountAliases") or [None])[0],
        aliases_known=aliases is not None,
        account_id=view.session.account_id,
        **extra,
    )


@area.get("/account-settings")
async def settings_page(kit: Kit, request: Request) -> Response:
    async def build(view: View) -> Response:
        return await _render(view)

    return await page(kit, request, build)


@area.post("/account-settings/password-policy")
async def update_password_policy(kit: Kit, request: Request) -> Response:
    async def work(view: View, form: dict[str, str]) -> Response:
        params, problems = password_policy_params(form)
        if problems:
            return await _render(view, status=400, policy_problems=problems)
        await view.call("UpdateAccountPasswordPolicy", params)
        return view.redirect(
            BACK, flash="The password policy was saved. It applies at each user's next password change."
        )

    return await form_action(kit, request, work, back=BACK)


@area.post("/account-settings/password-policy/delete")
async def delete_password_policy(kit: Kit, request: Request) -> Response:
    async def work(view: View, form: dict[str, str]) -> Response:
        await view.call("DeleteAccountPasswordPolicy", {})
        return view.redirect(BACK, flash="The password policy was removed: IAM's default rules apply.")

    return await form_action(kit, request, work, back=BACK)


@area.post("/account-settings/sts")
async def set_token_version(kit: Kit, request: Request) -> Response:
    async def work(view: View, form: dict[str, str]) -> Response:
        version = form.get("version", "")
        if version not in ("v1Token", "v2Token"):
            return view.redirect(
                BACK, flash="Choose which session tokens the global endpoint issues.", kind="error"
            )
        await view.call("SetSecurityTokenServicePreferences", {"GlobalEndpointTokenVersion": version})
        shown = "valid in all Regions" if version == "v2Token" else "valid only in Regions enabled by default"
        return view.redirect(BACK, flash=f"The global STS endpoint now issues session tokens {shown}.")

    return await form_action(kit, request, work, back=BACK)


@area.post("/account-settings/alias")
async def create_alias(kit: Kit, request: Request) -> Response:
    async def work(view: View, form: dict[str, str]) -> Response:
        alias = form.get("alias", "").strip().lower()[:63]
        if not alias:
            return view.redirect(BACK, flash="Type the alias to use.", kind="error")
        current = form.get("current", "")[:63]
        if current and current != alias and form.get("understood") != "1":
            return view.redirect(
                BACK,
                flash=f"Changing the alias makes sign-in links that use {current} stop working: tick the box "
                "to confirm.",
                kind="error",
            )
        await view.call("CreateAccountAlias", {"AccountAlias": alias})
        return view.redirect(BACK, flash=f"The account alias is now {alias}.")

    return await form_action(kit, request, work, back=BACK)


@area.post("/account-settings/alias/delete")
async def delete_alias(kit: Kit, request: Request) -> Response:
    async def work(view: View, form: dict[str, str]) -> Response:
        alias = form.get("alias", "")[:63]
        await view.call("DeleteAccountAlias", {"AccountAlias": alias})
        return view.redirect(BACK, flash=f"The alias {alias} was deleted; sign in with the account ID.")

    return await form_action(kit, request, work, back=BACK)
