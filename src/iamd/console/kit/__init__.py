"""The console kit: what every console page is built on. Read this to add a page.

A feature is one module with one :class:`Area` (its routes and navigation entries, registered in
one place), listed in ``AREAS`` in :mod:`iamd.console.app`::

    from starlette.requests import Request
    from starlette.responses import Response

    from iamd.console.kit import REGISTRY, Kit, View, form_action, page

    area = REGISTRY.area("review")
    area.add_nav("Security review", "/review", section="Access reports", order=50)

    @area.get("/review")
    async def review_page(kit: Kit, request: Request) -> Response:
        async def build(view: View) -> Response:          # only for a signed-in session
            users = await view.paged("ListUsers", {}, "Users")   # None if refused (noted once)
            return view.render("review/page.html", title="Security review",
                               crumbs=[("IAM", "/dashboard"), ("Security review", "")],
                               users=users)
        return await page(kit, request, build)

    @area.post("/review/dismiss")
    async def dismiss(kit: Kit, request: Request) -> Response:
        async def work(view: View, form: dict[str, str]) -> Response:
            await view.call("UntagUser", {"UserName": form["user"], "TagKeys": ["review"]})
            return view.redirect("/review", flash="Dismissed.")   # post/redirect/get
        return await form_action(kit, request, work, back="/review")

What the kit does for it:

- Routes are mounted under ``/console``; ``page`` sends a visitor who is not signed in (or is
  between password and MFA) where their session stands, and signs out a session whose identity is
  gone. ``form_action`` checks the CSRF token and the origin, bounds the body, and turns an
  ``AwsError`` raised by ``work`` into a flash message on ``back`` (the form's ``back`` field wins)
  saying what the person can do next (:func:`explain`), with the per-layer reasons of a denial for
  a principal allowed to read them.
- Calls run the API's own handler as the signed-in principal — or as the role it switched into —
  with the same authorization, on the trail: ``view.call(op, params, service="iam")`` raises
  AwsError; ``view.read(...)`` answers None when refused and names the operation once in the
  page's "you don't have permission to see all of this page" notice (``{}`` when the thing does
  not exist: NoSuchEntity); ``view.paged(op, params, key)`` follows Marker/IsTruncated.
- Navigation: ``area.add_nav(label, path, section=..., order=...)``; sections are
  :data:`~iamd.console.kit.pages.SECTIONS` ("Access management", "Access reports",
  "Organization", "Your account"); the entry's id is ``nav-`` + its path (``#nav-review``); the
  current one gets ``aria-current="page"``. Existing orders in "Access management": Dashboard 0,
  User groups 10, Users 20, Roles 30, Policy editor 45 (Policies, Identity providers, Account
  settings: pick 40, 50, 60).
- Templates (Jinja2, autoescaped) live in ``templates/``; a page extends ``base.html`` and fills
  ``{% block content %}``. The layout shows the navigation, ``crumbs`` ((label, path) pairs; the
  last is the current page), the account and principal (and a switched-into role with "Back"),
  flash messages, ``error``/``message``/``why`` and the denied notice. Filters: ``when`` (a
  datetime as ``2026-12-07 09:30 UTC``) and ``days(now)`` (an age: ``Today``, ``12 days``).
- ``templates/kit.html`` macros — import them ``with context``::

      {% from "kit.html" import form_fields, confirm, empty with context %}
      <form method="post" action="{{ base }}/review/dismiss">{{ form_fields("/review") }} …</form>
      {{ confirm("/users/bob/delete", "Delete user", "What breaks: …", "delete-user",
                 {"extra": "field"}, back="/users/bob", typed="bob") }}

  ``confirm`` is a script-free confirmation (``<details>``) that states what breaks; ``typed``
  makes the person type the name. Every destructive action uses it.
- Shared IAM pieces for users, groups and roles (permissions, tags, Access Advisor and their
  forms) are in :mod:`iamd.console.entities`.
- Scripts: only files under ``static/`` (CSP ``script-src 'self'``, no inline script or style);
  JSON endpoints read the ``X-CSRF-Token`` header (``kit._json``).
- Another console (the Identity Center portal) may make its own :class:`Registry` and
  ``Kit(pipeline, prefix, registry)``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from iamd.console.identity import SessionEnded
from iamd.console.kit.core import CSP, MAX_BODY, PREFIX, STAGE_PAGES, Kit, Refused, View, safe_back
from iamd.console.kit.pages import REGISTRY, Area, NavEntry, Registry
from iamd.console.kit.problems import Problem, explain
from iamd.console.sessions import ConsoleSession
from iamd.store.records import PasswordPolicyRecord

__all__ = [
    "CSP",
    "MAX_BODY",
    "PREFIX",
    "REGISTRY",
    "STAGE_PAGES",
    "Area",
    "Kit",
    "NavEntry",
    "Problem",
    "Refused",
    "Registry",
    "View",
    "explain",
    "form_action",
    "page",
    "password_rules",
    "safe_back",
    "signed_in_view",
    "valid_name",
]

NAME_CHARS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+=,.@_-")


def valid_name(name: str) -> bool:
    return 0 < len(name) <= 64 and all(c in NAME_CHARS for c in name)


def password_rules(policy: PasswordPolicyRecord | None) -> str:
    """The account's password policy in one sentence, for a password field's hint."""
    if policy is None:
        return "At least 8 characters, with three of: uppercase letters, lowercase letters, numbers, symbols."
    kinds = [
        kind
        for kind, needed in (
            ("an uppercase letter", policy.require_uppercase),
            ("a lowercase letter", policy.require_lowercase),
            ("a number", policy.require_numbers),
            ("a symbol", policy.require_symbols),
        )
        if needed
    ]
    rule = f"At least {policy.minimum_length} characters"
    return rule + (", with " + ", ".join(kinds) if kinds else "") + "."


async def signed_in_view(kit: Kit, request: Request) -> View | Response:
    """The view of a signed-in page, or the response that sends the visitor where their session
    stands (the sign-in, the second factor, …)."""
    session = kit._session(request)
    guarded = kit._guard(request, session, "active")
    if guarded is not None:
        return guarded
    return kit.view(request, session)


async def page(kit: Kit, request: Request, build: Callable[[View], Awaitable[Response]]) -> Response:
    """A signed-in GET page: ``build`` given the view; a session whose identity is gone is signed
    out."""
    view = await signed_in_view(kit, request)
    if isinstance(view, Response):
        return view
    try:
        return await build(view)
    except SessionEnded:
        return kit._signed_out(request, view.session)


async def form_action(
    kit: Kit,
    request: Request,
    work: Callable[[View, dict[str, str]], Awaitable[Response]],
    *,
    back: str = "/home",
) -> Response:
    """A signed-in form POST: CSRF checked, then ``work``; an AWS error goes back to the form's
    ``back`` field (or ``back``) as a flash message saying what to do next."""

    async def run(session: ConsoleSession, form: dict[str, str]) -> Response:
        return await work(kit.view(request, session), form)

    return await kit._action(request, ("active",), run, back=back)
