"""The ASGI application: ``/iamd/health``, the console, the OpenID Connect discovery documents of
accounts' outbound federation issuers (``/oidc/{account_id}/.well-known/...``, public), and, for
everything else, the AWS request pipeline.

The console, the access portal, SCIM and the SAML service provider are built on first use
(``LazyRoutes``): the server listens without importing them, and ``iamd serve`` builds them in
the background once it listens (``warm``)."""

from __future__ import annotations

import functools
import gc
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import replace

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from iamd.server.lazy_routes import LazyRoutes
from iamd.server.limits import (
    ANONYMOUS_BODY_LIMIT,
    declared_length,
    read_capped,
    service_limit,
    too_large,
)
from iamd.server.pipeline import Connection, Pipeline
from iamd.services import oidc_issuer
from iamd.store.schema import AWS_ACCOUNT
from iamd.store.unit import UnitOfWork
from iamd.wire import DEFAULT_SERVICES, HttpRequest, RequestEntityTooLarge

__all__ = ["CONSOLE_PREFIX", "PORTAL_PATHS", "SAML_PREFIX", "SCIM_PREFIX", "create_app", "settle", "warm"]

log = logging.getLogger("iamd.server")

_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]

HEAVY_CONCURRENCY = 2
"""How many heavy operations (``Registration.heavy``: simulations, reports over the whole account)
run at once; the next ones wait their turn. Their work holds Python's interpreter lock, so more
threads would not finish them sooner, only slow everything else down."""


READY_TIMEOUT = 2.0
"""How long ``/iamd/ready`` waits for the database before it answers 503."""

READY_REUSE = 1.0
"""For how many seconds ``/iamd/ready`` answers what its last check found."""

SWITCH_INTERVAL = 0.001
"""How long a thread may hold Python's interpreter lock while another waits for it (Python's default
is 5 ms). The event loop takes and gives back the lock several times per request; while a heavy
operation computes on a worker thread, each time costs up to this long. With 1 ms a health check
answered in about 20 ms beside a simulation on a busy two-core machine, against 50-100 ms."""


CONSOLE_PREFIX = "/console"
"""``iamd.console.PREFIX``, here so that matching a request does not import the console (a unit
test keeps the copies equal; likewise below)."""
PORTAL_PATHS = ("/authorize", "/start")
"""The access portal's paths: ``/authorize`` and ``iamd.portal.app.PREFIX``."""
SCIM_PREFIX = "/scim/v2"
SAML_PREFIX = "/platform/saml"


def _console(pipeline: Pipeline) -> list[BaseRoute]:
    from iamd.console import console_mount

    return [console_mount(pipeline, CONSOLE_PREFIX)]


def _portal(pipeline: Pipeline) -> list[BaseRoute]:
    from iamd.portal.app import portal_routes

    return portal_routes(pipeline)


def _scim(pipeline: Pipeline) -> list[BaseRoute]:
    from iamd.scim.app import scim_mount

    return [scim_mount(pipeline)]


def _saml(pipeline: Pipeline) -> list[BaseRoute]:
    from iamd.portal.saml_app import saml_mount

    return [saml_mount(pipeline)]


def warm(app: Starlette) -> None:
    """What ``iamd serve`` does once it listens, on a thread of its own: build the routes left for
    first use (the console, the portal, SCIM, SAML), so that the first request to one of them does
    not build them on the event loop, then move the objects they made out of the garbage
    collector's way, as ``settle`` did for the rest before listening. ``gc.freeze()`` only: a full
    collection here would hold the interpreter lock throughout (80-400 ms on a busy machine), while
    the server answers its first requests."""
    for route in app.routes:
        if isinstance(route, LazyRoutes):
            route.routes  # noqa: B018  (builds them)
    gc.freeze()


def load_models(pipeline: Pipeline) -> None:
    """The service models the first requests would load."""
    for service in DEFAULT_SERVICES:
        pipeline.catalog.service(service)


def settle(pipeline: Pipeline) -> None:
    """Before serving, keep the event loop responsive beside heavy operations: load the service
    models the first requests would load, then move everything loaded so far (models, catalogs,
    code) out of the garbage collector's way, and shorten the interpreter's switch interval
    (``SWITCH_INTERVAL``). A full collection stops every thread, the event loop included; over the
    130,000 objects a started server holds it took 80-400 ms on a busy machine, during which not
    even a health check was answered. Frozen objects are never traversed again."""
    load_models(pipeline)
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(SWITCH_INTERVAL)


def create_app(
    pipeline: Pipeline,
    heavy_concurrency: int = HEAVY_CONCURRENCY,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """``extra_routes``: served before the AWS pipeline's catch-all (test mode's reset paths)."""
    heavy = anyio.CapacityLimiter(heavy_concurrency)

    async def health(request: Request) -> Response:
        """200 once the server answers. ``trail``: the trail writer's state; an alarm (a spool
        that could not be stored, events that were not) makes the status ``degraded``."""
        body: dict[str, object] = {"status": "ok"}
        if pipeline.trail is not None:
            trail = pipeline.trail.writer.health()
            body["trail"] = trail
            if trail["status"] != "ok":
                body["status"] = "degraded"
        return JSONResponse(body)

    def database_answers() -> None:
        def probe(uow: UnitOfWork) -> None:
            uow.accounts.generations([AWS_ACCOUNT])

        pipeline.store.run(probe, readonly=True, attempts=1)

    checked: list[tuple[float, int, dict[str, object]]] = []
    checking = anyio.Lock()

    async def ready(request: Request) -> Response:
        """200 when this node can serve requests: its database answers a read within
        ``READY_TIMEOUT`` seconds; 503 otherwise, for a load balancer to send traffic elsewhere
        (``/iamd/health`` only says that the process answers). Unauthenticated, so one check at
        a time, its answer reused for ``READY_REUSE`` seconds: a flood of checks costs the
        database one read a second."""
        async with checking:
            if not checked or time.monotonic() - checked[0][0] > READY_REUSE:
                status = 200
                body: dict[str, object] = {"status": "ready", "database": pipeline.store.backend}
                try:
                    with anyio.fail_after(READY_TIMEOUT):
                        await anyio.to_thread.run_sync(database_answers, abandon_on_cancel=True)
                except TimeoutError:
                    status = 503
                    body = {"status": "unavailable", "database": f"no answer within {READY_TIMEOUT:g} s"}
                except Exception as error:  # whatever the driver raised: this node cannot serve
                    log.warning("readiness check: the database does not answer: %s", error)
                    status, body = 503, {"status": "unavailable", "database": type(error).__name__}
                checked[:] = [(time.monotonic(), status, body)]
            _, status, body = checked[0]
        return JSONResponse(body, status_code=status)

    def issuer_of(request: Request) -> oidc_issuer.Issuer | None:
        account_id = str(request.path_params["account_id"])
        if not (len(account_id) == 12 and account_id.isdigit()):
            return None

        def read(uow: UnitOfWork) -> oidc_issuer.Issuer | None:
            return oidc_issuer.find_issuer(uow, account_id)

        return pipeline.store.run(read, readonly=True)

    def not_found() -> Response:
        return JSONResponse({"error": "no outbound web identity federation issuer here"}, status_code=404)

    async def openid_configuration(request: Request) -> Response:
        issuer = await run_in_threadpool(issuer_of, request)
        if issuer is None:
            return not_found()
        return JSONResponse(oidc_issuer.discovery_document(issuer), headers={"Cache-Control": "max-age=300"})

    async def jwks(request: Request) -> Response:
        issuer = await run_in_threadpool(issuer_of, request)
        if issuer is None:
            return not_found()
        return JSONResponse(issuer.jwks, headers={"Cache-Control": "max-age=300"})

    async def aws(request: Request) -> Response:
        scope = request.scope
        raw_path = scope.get("raw_path") or scope["path"].encode()
        head = HttpRequest.build(
            request.method,
            raw_path.decode("latin-1"),
            scope.get("query_string", b"").decode("latin-1"),
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
        )
        # The headers first: how much body this caller may send (limits.py), refused before
        # reading past it.
        declared = declared_length(scope["headers"])
        limit = ANONYMOUS_BODY_LIMIT
        if declared is None or declared > limit:
            limit = service_limit(await run_in_threadpool(pipeline.known_signer, head))
        try:
            if declared is not None and declared > limit:
                raise too_large(limit, declared)
            body = await read_capped(request.stream(), limit)
        except RequestEntityTooLarge as error:
            refused = pipeline.refuse(head, error)
            headers = {**dict(refused.headers), "Connection": "close"}
            return Response(refused.body, status_code=refused.status, headers=headers)
        http_request = replace(head, body=body)
        client = request.client
        connection = Connection(
            source_ip=client.host if client else "127.0.0.1",
            secure=scope.get("scheme") == "https",
        )
        # Reads take about a millisecond: run them here. Writes may take longer (password
        # hashing, SQLite's write lock), and some reads wait on the network (an OpenID Connect
        # provider's keys, possibly served by this very server): run those off the event loop.
        # Heavy operations (cost set by the caller's input or the account's size) run on worker
        # threads of their own, a few at a time, so they hold up neither the loop nor the
        # threads that writes use.
        routed = pipeline.route(http_request)
        if routed.heavy:
            work = functools.partial(pipeline.handle, http_request, connection, routed)
            answer = await anyio.to_thread.run_sync(work, limiter=heavy)
        elif routed.readonly and not routed.waits:
            answer = pipeline.handle(http_request, connection, routed)
        else:
            answer = await run_in_threadpool(pipeline.handle, http_request, connection, routed)
        # Header values must be Latin-1 on the wire; a character beyond it never fails the answer.
        headers = {k: v.encode("latin-1", "replace").decode("latin-1") for k, v in answer.headers}
        return Response(answer.body, status_code=answer.status, headers=headers)

    async def console_entry(request: Request) -> Response:
        # ``/console`` (the README's link): the console's entry, which sends a visitor to sign in.
        return RedirectResponse(CONSOLE_PREFIX + "/", status_code=302)

    return Starlette(
        routes=[
            Route("/iamd/health", health, methods=["GET"]),
            Route("/iamd/ready", ready, methods=["GET"]),
            Route(
                oidc_issuer.issuer_path("{account_id}") + "/.well-known/openid-configuration",
                openid_configuration,
                methods=["GET"],
            ),
            Route(oidc_issuer.issuer_path("{account_id}") + "/.well-known/jwks.json", jwks, methods=["GET"]),
            Route(CONSOLE_PREFIX, console_entry, methods=["GET", "HEAD"]),
            LazyRoutes([CONSOLE_PREFIX], functools.partial(_console, pipeline)),
            LazyRoutes(PORTAL_PATHS, functools.partial(_portal, pipeline)),
            LazyRoutes([SCIM_PREFIX], functools.partial(_scim, pipeline)),
            LazyRoutes([SAML_PREFIX], functools.partial(_saml, pipeline)),
            *extra_routes,
            Route("/{path:path}", aws, methods=_METHODS),
        ]
    )
