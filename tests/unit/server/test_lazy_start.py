"""The server starts without what only some requests need: the console, the access portal, SCIM,
SAML (and lxml, signxml), the solver (z3), passkeys and QR codes are imported on first use. Their
routes answer as before once a request reaches them."""

from __future__ import annotations

import subprocess
import sys

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.testclient import TestClient

from iamd.server import app as server_app
from iamd.server.lazy_routes import LazyRoutes


def test_the_server_imports_none_of_what_only_some_requests_need() -> None:
    heavy = (
        "('z3', 'webauthn', 'qrcode', 'jinja2', 'iamd.console', 'iamd.portal.app', "
        "'iamd.portal.saml_app', 'iamd.scim.app', 'rich', 'iamd.practices', 'lxml', 'signxml')"
    )
    probe = (
        "import sys, iamd.cli.main, iamd.server.app, iamd.server.pipeline, iamd.server.bootstrap\n"
        f"print(sorted(m for m in {heavy} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_paths_the_app_knows_are_those_of_the_modules_it_leaves_for_later() -> None:
    from iamd.console import PREFIX as console
    from iamd.portal.app import PREFIX as portal
    from iamd.portal.saml import PREFIX as saml
    from iamd.scim.app import PREFIX as scim

    assert console == server_app.CONSOLE_PREFIX
    assert ("/authorize", portal) == server_app.PORTAL_PATHS
    assert scim == server_app.SCIM_PREFIX
    assert saml == server_app.SAML_PREFIX


def _client(built: list[int]) -> TestClient:
    async def hello(request: Request) -> Response:
        return PlainTextResponse(f"lazy {request.url.path}")

    async def post_only(request: Request) -> Response:
        return PlainTextResponse("posted")

    async def other(request: Request) -> Response:
        return PlainTextResponse("other")

    def build() -> list[BaseRoute]:
        built.append(1)
        return [Route("/lazy/hello", hello), Route("/lazy/form", post_only, methods=["POST"])]

    routes: list[BaseRoute] = [LazyRoutes(["/lazy"], build), Route("/{path:path}", other)]
    return TestClient(Starlette(routes=routes))


def test_lazy_routes_are_built_by_the_first_request_to_their_paths_only() -> None:
    built: list[int] = []
    client = _client(built)
    assert client.get("/lazyish").text == "other"
    assert client.get("/elsewhere").text == "other"
    assert built == []
    assert client.get("/lazy/hello").text == "lazy /lazy/hello"
    assert client.get("/lazy/hello").text == "lazy /lazy/hello"
    assert built == [1]
    assert client.post("/lazy/form").text == "posted"
    # A path under the prefix that none of the built routes takes goes on to the next route.
    assert client.get("/lazy/nothing").text == "other"


def test_lazy_routes_answer_a_wrong_method_as_their_routes_do() -> None:
    client = _client([])
    answer = client.get("/lazy/form")
    assert answer.status_code == 200 and answer.text == "other"  # the catch-all takes any method
    only: list[BaseRoute] = [
        LazyRoutes(["/lazy"], lambda: [Route("/lazy/form", lambda r: None, methods=["POST"])])
    ]
    answer = TestClient(Starlette(routes=only)).get("/lazy/form")
    assert answer.status_code == 405
