"""The web console, served by ``iamd serve`` under ``/console``.

The console is a :class:`~iamd.console.kit.Kit` (sessions, layout and navigation, forms with
CSRF, flash messages, error presentation, the runner that calls the API's own handlers as the
signed-in principal) and the page areas registered on it, one module each (listed in
:data:`AREAS`): sign-in (:mod:`iamd.console.signin`), "My security credentials"
(:mod:`iamd.console.credentials`), Organization, Access Analyzer, the policy editor, …

Pages are rendered on the server (Jinja2, autoescaped); the Content-Security-Policy allows only
the console's own scripts. Every change is a POST carrying the session's CSRF token (forms: a
hidden ``csrf`` field; JSON: the ``X-CSRF-Token`` header), from this origin. Every action is an
IAM operation run as the signed-in identity (:mod:`iamd.console.runner`), so the same policies
decide it as over the API, with aws:MultiFactorAuthPresent true only when the sign-in used a
second factor.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Final

from starlette.routing import Mount

from iamd.console.kit import PREFIX, Kit

if TYPE_CHECKING:
    from iamd.server.pipeline import Pipeline

__all__ = ["AREAS", "PREFIX", "Console", "console_mount"]

AREAS: Final = (
    "iamd.console.signin",
    "iamd.console.credentials",
    "iamd.console.dashboard",
    "iamd.console.users",
    "iamd.console.groups",
    "iamd.console.roles",
    "iamd.console.organization",
    "iamd.console.identity_center",
    "iamd.console.analyzer",
    "iamd.console.policy_editor",
    "iamd.console.policies",
    "iamd.console.providers",
    "iamd.console.settings",
    "iamd.console.reports",
    "iamd.console.review",
)
"""The modules whose areas (routes and navigation entries) make up the console; a feature adds
its module here."""

Console = Kit


def console_mount(pipeline: Pipeline, prefix: str = PREFIX) -> Mount:
    """The console's routes, to mount in the server's application."""
    for module in AREAS:
        importlib.import_module(module)
    return Mount(prefix, routes=Kit(pipeline, prefix).routes())
