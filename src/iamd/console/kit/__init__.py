"""The console kit: what every console page is built on.

How to add a page (a feature module, e.g. ``iamd/console/review.py``)::

    from iamd.console.kit import REGISTRY, Kit, signed_in_view

    area = REGISTRY.area("review")                       # one area per module
    area.add_nav("Security review", "/review", section="Access reports", order=50)

    @area.get("/review")
    async def review_page(kit: Kit, request: Request) -> Response:
        view = await signed_in_view(kit, request)          # None: it answered (sign-in, …)
        if isinstance(view, Response):
            return view
        users = await view.paged("ListUsers", {}, "Users")  # None when refused: noted once
        return view.render("review.html", title="Security review",
                           crumbs=[("IAM", "/dashboard"), ("Security review", "")], users=users)

    @area.post("/review/dismiss")
    async def dismiss(kit: Kit, request: Request) -> Response:
        async def work(view: View, form: dict[str, str]) -> Response:
            await view.call("UntagUser", {...})              # AwsError: flashed on ``back``
            return view.redirect("/review", flash="Dismissed.")
        return await form_action(kit, request, work, back="/review")

then add the module's name to ``AREAS`` in :mod:`iamd.console.app`. That is all: the route is
mounted under ``/console``, the navigation entry shows on every signed-in page (current page
marked ``aria-current``), CSRF is checked on every POST.

- Templates: ``templates/<area>/…html`` extending ``base.html`` (``{% block content %}``); the
  layout shows the navigation, breadcrumbs (``crumbs``: (label, path) pairs, the last one the
  current page), the account and principal (and a switched-into role), flash messages, ``error``
  / ``message`` and, once per page, the operations the principal may not read (``view.read``,
  ``view.paged`` collect them). Forms carry ``{{ form_fields() }}`` (``{% from "kit.html" import
  form_fields, confirm %}``): the CSRF token and where to come back to.
- Destructive actions: ``{{ confirm(...) }}`` in ``kit.html`` renders a ``<details>`` confirmation
  that says what breaks, with no script.
- Calls: ``view.call(op, params, service="iam")`` runs the API's own handler as the signed-in
  principal (the same authorization, on the trail); AwsError propagates. ``view.read`` answers
  None on a refusal (and notes it once). ``view.run(op, body)`` runs console work authorized as
  ``op`` inside one transaction.
- Errors: :func:`~iamd.console.kit.problems.explain` turns an AwsError into what the person can
  do next; the form helpers use it.
- Flash: ``view.redirect(path, flash="…", kind="ok"|"error")``, or ``Kit.flash(session, …)``.
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
