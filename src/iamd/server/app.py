"""The ASGI application: ``/iamd/health``, the console, the OpenID Connect discovery documents of
accounts' outbound federation issuers (``/oidc/{account_id}/.well-known/...``, public), and, for
everything else, the AWS request pipeline."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from iamd.console import console_mount
from iamd.server.pipeline import Connection, Pipeline
from iamd.services import oidc_issuer
from iamd.store.unit import UnitOfWork
from iamd.wire import HttpRequest

__all__ = ["create_app"]

_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]


def create_app(pipeline: Pipeline, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """``extra_routes``: served before the AWS pipeline's catch-all (test mode's reset paths)."""

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

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
        body = await request.body()
        scope = request.scope
        raw_path = scope.get("raw_path") or scope["path"].encode()
        http_request = HttpRequest.build(
            request.method,
            raw_path.decode("latin-1"),
            scope.get("query_string", b"").decode("latin-1"),
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
            body,
        )
        client = request.client
        connection = Connection(
            source_ip=client.host if client else "127.0.0.1",
            secure=scope.get("scheme") == "https",
        )
        # Reads take about a millisecond: run them here. Writes may take longer (password
        # hashing, SQLite's write lock), and some reads wait on the network (an OpenID Connect
        # provider's keys, possibly served by this very server): run those off the event loop.
        routed = pipeline.route(http_request)
        if routed.readonly and not routed.waits:
            answer = pipeline.handle(http_request, connection, routed)
        else:
            answer = await run_in_threadpool(pipeline.handle, http_request, connection, routed)
        return Response(answer.body, status_code=answer.status, headers=dict(answer.headers))

    return Starlette(
        routes=[
            Route("/iamd/health", health, methods=["GET"]),
            Route(
                oidc_issuer.issuer_path("{account_id}") + "/.well-known/openid-configuration",
                openid_configuration,
                methods=["GET"],
            ),
            Route(oidc_issuer.issuer_path("{account_id}") + "/.well-known/jwks.json", jwks, methods=["GET"]),
            console_mount(pipeline),
            *extra_routes,
            Route("/{path:path}", aws, methods=_METHODS),
        ]
    )
