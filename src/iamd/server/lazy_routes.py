"""Routes built on first use. The console, the access portal, SCIM and the SAML service provider
import a good part of the server's modules (templates, forms, passkeys, XML signatures); the
server starts without them and builds their routes when a request first reaches their paths, or
when ``iamd serve`` warms them up once it listens (``iamd.server.app.warm``)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from starlette._utils import get_route_path
from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

__all__ = ["LazyRoutes"]

_ROUTE = "iamd.lazy_route"
"""The scope key naming which of the built routes matched, from ``matches`` to ``handle``."""


class LazyRoutes(BaseRoute):
    """``build()``'s routes, built the first time a request's path is one of ``prefixes`` or
    below one (``/start`` covers ``/start`` and ``/start/…``); requests elsewhere pass without
    building anything. Once built, matching is the routes' own. Thread-safe."""

    def __init__(self, prefixes: Sequence[str], build: Callable[[], Sequence[BaseRoute]]) -> None:
        self.prefixes = tuple(prefixes)
        self._build = build
        self._routes: tuple[BaseRoute, ...] | None = None
        self._lock = threading.Lock()

    @property
    def built(self) -> bool:
        return self._routes is not None

    @property
    def routes(self) -> tuple[BaseRoute, ...]:
        """The routes, built now if they were not yet."""
        routes = self._routes
        if routes is None:
            with self._lock:
                if self._routes is None:
                    self._routes = tuple(self._build())
                routes = self._routes
        return routes

    def covers(self, path: str) -> bool:
        return any(path == prefix or path.startswith(prefix + "/") for prefix in self.prefixes)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or not self.covers(get_route_path(scope)):
            return Match.NONE, {}
        partial: tuple[Match, Scope] | None = None
        for route in self.routes:
            match, child = route.matches(scope)
            if match == Match.FULL:
                return Match.FULL, {**child, _ROUTE: route}
            if match == Match.PARTIAL and partial is None:
                partial = (Match.PARTIAL, {**child, _ROUTE: route})
        return partial or (Match.NONE, {})

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        route: BaseRoute = scope.pop(_ROUTE)
        await route.handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        for route in self.routes:
            try:
                return route.url_path_for(name, **path_params)
            except NoMatchFound:
                continue
        raise NoMatchFound(name, path_params)
