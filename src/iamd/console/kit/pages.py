"""The page registry: a feature adds its routes and its navigation entry in one place.

An :class:`Area` is one page group (users, groups, roles, the Organization page, …). Its routes
are plain async functions given the :class:`~iamd.console.kit.core.Kit` and the request; its
``nav`` entry (if any) joins the navigation that stays on every signed-in page, in its section at
its ``order``. Areas register themselves in :data:`REGISTRY` when their module is imported; the
console imports the modules listed in :data:`iamd.console.app.AREAS`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

if TYPE_CHECKING:
    from iamd.console.kit.core import Kit

__all__ = ["REGISTRY", "SECTIONS", "Area", "Handler", "NavEntry", "Registry"]

Handler = Callable[["Kit", Request], Awaitable[Response]]

SECTIONS: Final = ("Access management", "Access reports", "Organization", "Your account")
"""The navigation's sections, in order (AWS's IAM console groups its pages so)."""


@dataclass(frozen=True)
class NavEntry:
    label: str
    path: str
    """The page's path under the console's prefix (``/users``)."""
    section: str = "Access management"
    order: int = 100
    """Place within the section: lower first."""
    match: tuple[str, ...] = ()
    """Path prefixes that also make this entry the current one (default: ``path`` itself)."""

    @property
    def id(self) -> str:
        return "nav-" + self.path.strip("/").replace("/", "-")

    def current(self, path: str) -> bool:
        prefixes = self.match or (self.path,)
        return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


@dataclass
class Area:
    """A page group: its routes and its navigation entries."""

    name: str
    nav: list[NavEntry] = field(default_factory=list)
    _routes: list[tuple[str, str, Handler]] = field(default_factory=list)

    def get(self, path: str) -> Callable[[Handler], Handler]:
        return self.route(path, "GET")

    def post(self, path: str) -> Callable[[Handler], Handler]:
        return self.route(path, "POST")

    def route(self, path: str, method: str) -> Callable[[Handler], Handler]:
        def add(handler: Handler) -> Handler:
            self._routes.append((path, method, handler))
            return handler

        return add

    def add_nav(self, label: str, path: str, *, section: str = "Access management", order: int = 100) -> None:
        self.nav.append(NavEntry(label, path, section, order))

    def routes(self, kit: Kit) -> list[BaseRoute]:
        made: list[BaseRoute] = []
        for path, method, handler in self._routes:
            made.append(Route(path, _bind(kit, handler), methods=[method]))
        return made


def _bind(kit: Kit, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await handler(kit, request)

    endpoint.__name__ = getattr(handler, "__name__", "endpoint")
    return endpoint


@dataclass
class NavSection:
    title: str
    entries: list[tuple[NavEntry, bool]]


class Registry:
    def __init__(self) -> None:
        self.areas: dict[str, Area] = {}

    def area(self, name: str) -> Area:
        """The area called ``name`` (made on first use; a module calls it once at import)."""
        if name not in self.areas:
            self.areas[name] = Area(name)
        return self.areas[name]

    def routes(self, kit: Kit) -> list[BaseRoute]:
        return [route for area in self.areas.values() for route in area.routes(kit)]

    def navigation(self, path: str) -> list[NavSection]:
        """The navigation for a page at ``path``: sections in order, each entry with whether it is
        the current page's (the longest matching entry wins)."""
        entries = [entry for area in self.areas.values() for entry in area.nav]
        best = max(
            (e for e in entries if e.current(path)),
            key=lambda e: max(len(p) for p in (e.match or (e.path,))),
            default=None,
        )
        order = {title: index for index, title in enumerate(SECTIONS)}
        titles = sorted({e.section for e in entries}, key=lambda t: (order.get(t, len(order)), t))
        return [
            NavSection(
                title,
                [
                    (e, e is best)
                    for e in sorted((e for e in entries if e.section == title), key=lambda e: e.order)
                ],
            )
            for title in titles
        ]


REGISTRY: Final = Registry()
