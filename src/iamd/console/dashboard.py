"""The IAM dashboard (``/dashboard``): the account's resource counts (GetAccountSummary), the
account's sign-in URL for IAM users, and the security recommendations AWS's dashboard shows —
root user MFA, root user access keys, users without MFA, active access keys older than 90 days —
each with a link to the page that fixes it.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, Final
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from iamd.console.kit import REGISTRY, Kit, View, page

__all__ = ["area"]

KEY_AGE_DAYS: Final = 90
READERS: Final = 4
"""Users checked at the same time (threads of the pool, not the event loop)."""
CHECKED_USERS: Final = 200
"""Users whose MFA and keys the recommendations check (the first ones listed); beyond, the page
says so."""

area = REGISTRY.area("dashboard")
area.add_nav("Dashboard", "/dashboard", order=0)


@area.get("/dashboard")
async def dashboard(kit: Kit, request: Request) -> Response:
    async def build(view: View) -> Response:
        summary = await view.read("GetAccountSummary", {})
        counts = (summary or {}).get("SummaryMap") if summary is not None else None
        aliases = await view.read("ListAccountAliases", {})
        alias = ((aliases or {}).get("AccountAliases") or [None])[0]
        checks = await _recommendations(view, counts)
        account = (view.session.role or {}).get("account") or view.session.account_id or ""
        origin = f"{request.url.scheme}://{request.url.netloc}"
        return view.render(
            "iam/dashboard.html",
            title="IAM dashboard",
            crumbs=[("IAM", "/dashboard"), ("Dashboard", "")],
            counts=counts,
            alias=alias,
            account=account,
            sign_in_url=f"{origin}{kit.prefix}/signin?account={quote(alias or account)}",
            checks=checks,
        )

    return await page(kit, request, build)


async def _recommendations(view: View, counts: dict[str, Any] | None) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = []
    if counts is not None:
        root_mfa = bool(counts.get("AccountMFAEnabled"))
        checks.append(
            {
                "id": "root-mfa",
                "ok": root_mfa,
                "text": "The root user has MFA." if root_mfa else "Add MFA for the root user.",
                "fix": None
                if root_mfa
                else "Sign in as the root user, open My security credentials, and assign an MFA device.",
                "link": None if root_mfa or not view.session.is_root else "/home",
            }
        )
        root_keys = bool(counts.get("AccountAccessKeysPresent"))
        checks.append(
            {
                "id": "root-keys",
                "ok": not root_keys,
                "text": "The root user has access keys: delete them."
                if root_keys
                else "The root user has no active access keys.",
                "fix": "Sign in as the root user and delete its keys under My security credentials; "
                "use IAM users or roles instead."
                if root_keys
                else None,
                "link": "/home" if root_keys and view.session.is_root else None,
            }
        )
    users = await view.paged("ListUsers", {}, "Users", limit=CHECKED_USERS)
    if users is None:
        return checks
    now = view.kit._now()
    gate = asyncio.Semaphore(READERS)

    async def check(user: dict[str, Any]) -> tuple[str | None, list[tuple[str, str, int]]]:
        async with gate:
            name = user["UserName"]
            missing: str | None = None
            devices = await view.read("ListMFADevices", {"UserName": name})
            if devices is not None and not devices.get("MFADevices"):
                profile = await view.read("GetLoginProfile", {"UserName": name})
                if profile:  # a console user: AWS recommends MFA for those who sign in
                    missing = name
            keys = await view.read("ListAccessKeys", {"UserName": name})
            old = [
                (name, key["AccessKeyId"], (now - key["CreateDate"]).days)
                for key in (keys or {}).get("AccessKeyMetadata", [])
                if key.get("Status") == "Active" and now - key["CreateDate"] > timedelta(days=KEY_AGE_DAYS)
            ]
            return missing, old

    found = await asyncio.gather(*(check(u) for u in users))
    no_mfa = [name for name, _ in found if name is not None]
    old_keys = [key for _, keys in found for key in keys]
    checks.append(
        {
            "id": "users-mfa",
            "ok": not no_mfa,
            "text": "Every user who signs in to the console has MFA."
            if not no_mfa
            else f"{len(no_mfa)} console user{'s' if len(no_mfa) != 1 else ''} without MFA.",
            "fix": "Assign an MFA device on each user's Security credentials tab." if no_mfa else None,
            "items": [(n, f"/users/{quote(n, safe='')}?tab=security") for n in no_mfa[:20]],
            "link": "/users?filter=no-mfa" if no_mfa else None,
        }
    )
    checks.append(
        {
            "id": "old-keys",
            "ok": not old_keys,
            "text": f"No active access key is older than {KEY_AGE_DAYS} days."
            if not old_keys
            else f"{len(old_keys)} active access key{'s' if len(old_keys) != 1 else ''} older than "
            f"{KEY_AGE_DAYS} days.",
            "fix": "Rotate each: create a new key, move its users to it, then deactivate and delete the "
            "old one."
            if old_keys
            else None,
            "items": [
                (f"{n}: {key} ({age} days)", f"/users/{quote(n, safe='')}?tab=security")
                for n, key, age in old_keys[:20]
            ],
            "link": "/users?filter=old-keys" if old_keys else None,
        }
    )
    if len(users) >= CHECKED_USERS:
        checks.append(
            {
                "id": "truncated",
                "ok": True,
                "text": f"Only the first {CHECKED_USERS} users were checked.",
                "fix": None,
                "link": "/users",
            }
        )
    return checks
