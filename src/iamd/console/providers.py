"""The console's Identity providers pages: the account's OpenID Connect and SAML providers, adding
one (OIDC: its URL, audiences and optional thumbprints; SAML: a name and the IdP's metadata
document), a provider's page, and deleting one after a confirmation that names the roles whose
trust policy names it (their federated users can no longer assume them).

Every read and change is the IAM call (List/Get/Create/Delete OpenIDConnectProvider and
SAMLProvider, ListRoles to find the roles that trust a provider) as the signed-in principal.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from iamd.console.kit import REGISTRY, View, form_action, page
from iamd.console.policy_tools import when

if TYPE_CHECKING:
    from iamd.console.kit import Kit

__all__ = ["area", "split_list"]

MAX_ROLES: Final = 5000
_THUMBPRINT: Final = re.compile(r"[0-9a-fA-F]{40}")

area = REGISTRY.area("providers")
area.add_nav("Identity providers", "/identity-providers", section="Access management", order=50)

CRUMBS: Final = [("IAM", "/dashboard"), ("Identity providers", "/identity-providers")]


def split_list(text: str, limit: int = 100) -> list[str]:
    """Values typed one per line or separated by commas, blanks dropped, at most ``limit``."""
    return [v.strip() for v in re.split(r"[\n,]", text) if v.strip()][:limit]


def _kind(arn: str) -> str:
    return "OIDC" if ":oidc-provider/" in arn else "SAML"


def _name(arn: str) -> str:
    return (
        arn.split(":oidc-provider/", 1)[-1] if _kind(arn) == "OIDC" else arn.split(":saml-provider/", 1)[-1]
    )


def _link(arn: str) -> str:
    return "/identity-providers/view?" + urlencode({"arn": arn})


@area.get("/identity-providers")
async def providers_page(kit: Kit, request: Request) -> Response:
    async def build(view: View) -> Response:
        oidc = await view.read("ListOpenIDConnectProviders", {})
        saml = await view.read("ListSAMLProviders", {})
        rows = [
            {
                "arn": p["Arn"],
                "name": _name(p["Arn"]),
                "kind": "OpenID Connect",
                "created": "",
                "link": _link(p["Arn"]),
            }
            for p in (oidc or {}).get("OpenIDConnectProviderList", [])
        ]
        rows += [
            {
                "arn": p["Arn"],
                "name": _name(p["Arn"]),
                "kind": "SAML",
                "created": p.get("CreateDate", ""),
                "link": _link(p["Arn"]),
            }
            for p in (saml or {}).get("SAMLProviderList", [])
        ]
        return view.render(
            "providers/list.html",
            when=when,
            title="Identity providers",
            crumbs=[CRUMBS[0], ("Identity providers", "")],
            rows=sorted(rows, key=lambda r: (r["kind"], r["name"].lower())),
            listed=oidc is not None or saml is not None,
        )

    return await page(kit, request, build)


def _add_page(view: View, form: dict[str, str] | None = None, status: int = 200, **extra: Any) -> Response:
    return view.render(
        "providers/add.html",
        when=when,
        status=status,
        title="Add an identity provider",
        crumbs=[*CRUMBS, ("Add provider", "")],
        form=form or {"kind": "oidc"},
        **extra,
    )


@area.get("/identity-providers/add")
async def add_page(kit: Kit, request: Request) -> Response:
    async def build(view: View) -> Response:
        kind = "saml" if request.query_params.get("kind") == "saml" else "oidc"
        return _add_page(view, {"kind": kind})

    return await page(kit, request, build)


@area.post("/identity-providers/add")
async def add(kit: Kit, request: Request) -> Response:
    async def work(view: View, form: dict[str, str]) -> Response:
        kind = form.get("kind", "oidc")
        shown = {
            k: form.get(k, "")[:70000]
            for k in ("kind", "url", "audiences", "thumbprints", "name", "metadata")
        }
        problems: list[str] = []
        if kind == "saml":
            name, metadata = form.get("name", "").strip(), form.get("metadata", "").strip()
            if not re.fullmatch(r"[\w.-]{1,128}", name):
                problems.append("Give the provider a name: up to 128 letters, digits, '.', '_' or '-'.")
            if not metadata.startswith("<"):
                problems.append(
                    "Paste the metadata XML your identity provider publishes (it starts with '<'; "
                    "your IdP's admin page offers it as a download)."
                )
            if problems:
                return _add_page(view, shown, status=400, problems_list=problems)
            answer = await view.call("CreateSAMLProvider", {"Name": name, "SAMLMetadataDocument": metadata})
            arn = answer["SAMLProviderArn"]
        else:
            url = form.get("url", "").strip()
            audiences = split_list(form.get("audiences", ""))
            thumbprints = split_list(form.get("thumbprints", ""), limit=5)
            if not url.startswith("https://"):
                problems.append(
                    "The provider URL starts with https:// (for example https://token.actions.githubusercontent.com)."
                )
            if not audiences:
                problems.append(
                    "Give at least one audience (the client ID your applications use with this provider)."
                )
            bad = [t for t in thumbprints if not _THUMBPRINT.fullmatch(t)]
            if bad:
                problems.append(
                    "A thumbprint is the 40 hexadecimal characters of the certificate's SHA-1 fingerprint: "
                    + ", ".join(bad[:3])
                )
            if problems:
                return _add_page(view, shown, status=400, problems_list=problems)
            params: dict[str, Any] = {"Url": url, "ClientIDList": audiences}
            if thumbprints:
                params["ThumbprintList"] = thumbprints
            answer = await view.call("CreateOpenIDConnectProvider", params)
            arn = answer["OpenIDConnectProviderArn"]
        return view.redirect(_link(arn), flash="The identity provider was added.")

    return await form_action(kit, request, work, back="/identity-providers/add")


async def _trusting_roles(view: View, arn: str) -> list[str] | None:
    """The roles whose trust policy names the provider (None when roles may not be listed)."""
    roles = await view.paged("ListRoles", {"MaxItems": 1000}, "Roles", limit=MAX_ROLES)
    if roles is None:
        return None
    return sorted(r["RoleName"] for r in roles if arn in unquote(str(r.get("AssumeRolePolicyDocument", ""))))


@area.get("/identity-providers/view")
async def provider_page(kit: Kit, request: Request) -> Response:
    async def build(view: View) -> Response:
        arn = request.query_params.get("arn", "")[:2048]
        kind = _kind(arn)
        if kind == "OIDC":
            got = await view.read("GetOpenIDConnectProvider", {"OpenIDConnectProviderArn": arn})
        else:
            got = await view.read("GetSAMLProvider", {"SAMLProviderArn": arn})
        if got is None:
            return view.render(
                "providers/view.html",
                when=when,
                status=403 if view.denied else 404,
                title="Identity provider",
                crumbs=[*CRUMBS, ("Provider", "")],
                provider=None,
                error=None
                if view.denied
                else "There is no such identity provider (it may have been deleted).",
            )
        roles = await _trusting_roles(view, arn)
        return view.render(
            "providers/view.html",
            when=when,
            title=_name(arn),
            crumbs=[*CRUMBS, (_name(arn), "")],
            provider={"arn": arn, "kind": kind, "name": _name(arn), **got},
            roles=roles,
            here=_link(arn),
        )

    return await page(kit, request, build)


@area.post("/identity-providers/delete")
async def delete(kit: Kit, request: Request) -> Response:
    async def work(view: View, form: dict[str, str]) -> Response:
        arn = form.get("arn", "")[:2048]
        if _kind(arn) == "OIDC":
            await view.call("DeleteOpenIDConnectProvider", {"OpenIDConnectProviderArn": arn})
        else:
            await view.call("DeleteSAMLProvider", {"SAMLProviderArn": arn})
        return view.redirect("/identity-providers", flash=f"The identity provider {_name(arn)} was deleted.")

    return await form_action(kit, request, work, back="/identity-providers")


@area.post("/identity-providers/audience/add")
async def add_audience(kit: Kit, request: Request) -> Response:
    async def work(view: View, form: dict[str, str]) -> Response:
        arn, audience = form.get("arn", "")[:2048], form.get("audience", "").strip()[:255]
        if not audience:
            return view.redirect(_link(arn), flash="Type the audience (client ID) to add.", kind="error")
        await view.call(
            "AddClientIDToOpenIDConnectProvider", {"OpenIDConnectProviderArn": arn, "ClientID": audience}
        )
        return view.redirect(_link(arn), flash=f"The audience {audience} was added.")

    return await form_action(kit, request, work, back="/identity-providers")


@area.post("/identity-providers/audience/remove")
async def remove_audience(kit: Kit, request: Request) -> Response:
    async def work(view: View, form: dict[str, str]) -> Response:
        arn, audience = form.get("arn", "")[:2048], form.get("audience", "")[:255]
        await view.call(
            "RemoveClientIDFromOpenIDConnectProvider", {"OpenIDConnectProviderArn": arn, "ClientID": audience}
        )
        return view.redirect(_link(arn), flash=f"The audience {audience} was removed.")

    return await form_action(kit, request, work, back="/identity-providers")


@area.post("/identity-providers/thumbprints")
async def update_thumbprints(kit: Kit, request: Request) -> Response:
    async def work(view: View, form: dict[str, str]) -> Response:
        arn = form.get("arn", "")[:2048]
        thumbprints = split_list(form.get("thumbprints", ""), limit=6)
        bad = [t for t in thumbprints if not _THUMBPRINT.fullmatch(t)]
        if bad or len(thumbprints) > 5:
            return view.redirect(
                _link(arn),
                flash="Give up to five thumbprints, each the 40 hexadecimal characters of a certificate's "
                "SHA-1 fingerprint" + (f" (not {bad[0][:60]})." if bad else "."),
                kind="error",
            )
        await view.call(
            "UpdateOpenIDConnectProviderThumbprint",
            {"OpenIDConnectProviderArn": arn, "ThumbprintList": thumbprints},
        )
        return view.redirect(_link(arn), flash="The thumbprints were saved.")

    return await form_action(kit, request, work, back="/identity-providers")
