"""The ASGI application: ``/iamd/health``, the console, the OpenID Connect discovery documents of
accounts' outbound federation issuers (``/oidc/{account_id}/.well-known/...``, public), and, for
everything else, the AWS request pipeline."""

from __future__ import annotations

import functools
import gc
import sys
from collections.abc import Sequence
from dataclasses import replace

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from iamd.console import PREFIX, console_mount
from iamd.server.limits import (
    ANONYMOUS_BODY_LIMIT,
    declared_length,
    read_capped,
    service_limit,
    too_large,
)
from iamd.server.pipeline import Connection, Pipeline
from iamd.services import oidc_issuer
from iamd.store.unit import UnitOfWork
from iamd.wire import DEFAULT_SERVICES, HttpRequest, RequestEntityTooLarge

__all__ = ["create_app", "settle"]

_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]

HEAVY_CONCURRENCY = 2
"""How many heavy operations (``Registration.heavy``: simulations, reports over the whole account)
run at once; the next ones wait their turn. Their work holds Python's interpreter lock, so more
threads would not finish them sooner, only slow everything else down."""


SWITCH_INTERVAL = 0.001
"""How long a thread may hold Python's interpreter lock while another waits for it (Python's default
is 5 ms). The event loop takes and gives back the lock several times per request; while a heavy
operation computes on a worker thread, each time costs up to this long. With 1 ms a health check
answered in about 20 ms beside a simulation on a busy two-core machine, against 50-100 ms."""


def settle(pipeline: Pipeline) -> None:
    """Before serving, keep the event loop responsive beside heavy operations: load the service
    models the first requests would load, then move everything loaded so far (models, catalogs,
    code) out of the garbage collector's way, and shorten the interpreter's switch interval
    (``SWITCH_INTERVAL``). A full collection stops every thread, the event loop included; over the
    130,000 objects a started server holds it took 80-400 ms on a busy machine, during which not
    even a health check was answered. Frozen objects are never traversed again."""
    for service in DEFAULT_SERVICES:
        pipeline.catalog.service(service)
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
        return RedirectResponse(PREFIX + "/", status_code=302)

    return Starlette(
        routes=[
            Route("/iamd/health", health, methods=["GET"]),
            Route(
                oidc_issuer.issuer_path("{account_id}") + "/.well-known/openid-configuration",
                openid_configuration,
                methods=["GET"],
            ),
            Route(oidc_issuer.issuer_path("{account_id}") + "/.well-known/jwks.json", jwks, methods=["GET"]),
            Route(PREFIX, console_entry, methods=["GET", "HEAD"]),
            console_mount(pipeline),
            *extra_routes,
            Route("/{path:path}", aws, methods=_METHODS),
        ]
    )
