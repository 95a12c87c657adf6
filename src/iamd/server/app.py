"""The ASGI application: ``/iamd/health`` and, for everything else, the AWS request pipeline."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from iamd.console import console_mount
from iamd.server.pipeline import Connection, Pipeline
from iamd.wire import HttpRequest

__all__ = ["create_app"]

_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]


def create_app(pipeline: Pipeline) -> Starlette:
    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

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
        # hashing, SQLite's write lock): run them off the event loop.
        routed = pipeline.route(http_request)
        if routed.readonly:
            answer = pipeline.handle(http_request, connection, routed)
        else:
            answer = await run_in_threadpool(pipeline.handle, http_request, connection, routed)
        return Response(answer.body, status_code=answer.status, headers=dict(answer.headers))

    return Starlette(
        routes=[
            Route("/iamd/health", health, methods=["GET"]),
            console_mount(pipeline),
            Route("/{path:path}", aws, methods=_METHODS),
        ]
    )
