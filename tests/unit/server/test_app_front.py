"""AWS requests to ``/`` skip Starlette (iamd.server.app.IamdApp): the same answer, byte for byte
(request ids aside), as Starlette's routing to the catch-all gives; only requests Starlette would
route there go that way; errors, oversized bodies and disconnects are handled as before."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from iamd.server.app import IamdApp, create_app
from iamd.wire import HttpRequest

_IDS = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _scope(request: HttpRequest, method: str | None = None) -> dict[str, Any]:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in request.headers.raw_items()]
    if request.body and "content-length" not in request.headers:
        headers.append((b"content-length", str(len(request.body)).encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8080),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": method or request.method,
        "root_path": "",
        "path": request.path,
        "raw_path": request.path.encode(),
        "query_string": request.query_string.encode(),
        "headers": headers,
        "state": {},
    }


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run ``coroutine`` to its end on a loop of its own, in a thread of its own: this test's
    thread may already run a loop (Playwright's sync API, in the same worker, keeps one)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coroutine).result()


def _call(app: Any, scope: dict[str, Any], messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    pending = list(messages)

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    _run(app(scope, receive, send))
    return sent


def _body(request: HttpRequest) -> list[dict[str, Any]]:
    return [{"type": "http.request", "body": request.body, "more_body": False}]


def _both(app: IamdApp, request: HttpRequest, method: str | None = None) -> tuple[Any, Any]:
    """(straight, through Starlette's routing), request ids masked."""

    def masked(sent: list[dict[str, Any]]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        start, body = sent
        headers = [(k, _IDS.sub(b"ID", v)) for k, v in start["headers"]]
        return start["status"], headers, _IDS.sub(b"ID", body["body"])

    straight = masked(_call(app, _scope(request, method), _body(request)))
    routed = masked(_call(lambda *a: Starlette.__call__(app, *a), _scope(request, method), _body(request)))
    return straight, routed


FORM = [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")]


def test_answers_are_those_of_starlettes_route(live: Any) -> None:
    app = create_app(live.pipeline)
    assert app.front == frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"})
    signed = live.request("iam", "POST", "/", b"Action=GetUser&Version=2010-05-08", FORM)
    cases = [
        signed,  # 200
        live.request("iam", "POST", "/", b"Action=GetUser&UserName=nobody&Version=2010-05-08", FORM),  # 404
        live.request("iam", "POST", "/", b"Action=NoSuchThing&Version=2010-05-08", FORM),
        live.request("iam", "GET", "/", query="Action=ListUsers&Version=2010-05-08"),
        HttpRequest.build(
            "POST", "/", "", [("content-type", FORM[0][1])], b"Action=GetUser&Version=2010-05-08"
        ),
        live.request(
            "organizations",
            "POST",
            "/",
            b"{}",
            [
                ("Content-Type", "application/x-amz-json-1.1"),
                ("X-Amz-Target", "AWSOrganizationsV20161128.DescribeOrganization"),
            ],
        ),
        live.request("sts", "POST", "/", b"Action=GetCallerIdentity&Version=2011-06-15", FORM),
    ]
    for request in cases:
        straight, routed = _both(app, request)
        assert straight == routed
    assert _both(app, signed)[0][0] == 200


def test_an_oversized_body_is_refused_alike(live: Any) -> None:
    app = create_app(live.pipeline)
    request = HttpRequest.build("POST", "/", "", [("content-length", str(300 * 1024)), *FORM], b"")
    straight, routed = _both(app, request)
    assert straight == routed
    assert straight[0] == 413 and (b"connection", b"close") in straight[1]


def test_other_requests_go_through_starlette(live: Any) -> None:
    app = create_app(live.pipeline)
    request = HttpRequest.build("OPTIONS", "/", "", [], b"")
    start = _call(app, _scope(request), _body(request))[0]
    assert start["status"] == 405
    health = _call(app, _scope(HttpRequest.build("GET", "/iamd/health")), [])[0]
    assert health["status"] == 200


def test_only_what_the_catch_all_would_take(live: Any) -> None:
    async def mine(request: Any) -> PlainTextResponse:
        return PlainTextResponse("mine")

    app = create_app(live.pipeline, extra_routes=[Route("/", mine, methods=["GET"])])
    # GET is that route's (and POST would be its 405): neither goes straight to the pipeline.
    assert app.front == frozenset()
    answer = _call(app, _scope(HttpRequest.build("GET", "/")), _body(HttpRequest.build("GET", "/")))
    assert answer[1]["body"] == b"mine"


def test_an_exception_is_a_plain_500_raised_again(live: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(live.pipeline)

    def broken(request: HttpRequest) -> None:
        raise RuntimeError("broken")

    monkeypatch.setattr(live.pipeline, "route", broken)
    request = live.request("iam", "POST", "/", b"Action=GetUser&Version=2010-05-08", FORM)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return _body(request)[0]

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with pytest.raises(RuntimeError, match="broken"):
        _run(app(_scope(request), receive, send))
    assert sent[0]["status"] == 500 and sent[1]["body"] == b"Internal Server Error"


def test_a_client_gone_before_its_body_raises_as_starlette_does(live: Any) -> None:
    app = create_app(live.pipeline)
    request = live.request("iam", "POST", "/", b"Action=GetUser&Version=2010-05-08", FORM)
    with pytest.raises(ClientDisconnect):
        _call(app, _scope(request), [])


def test_a_body_in_chunks(live: Any) -> None:
    app = create_app(live.pipeline)
    request = live.request("iam", "POST", "/", b"Action=GetUser&Version=2010-05-08", FORM)
    body = request.body
    chunks = [
        {"type": "http.request", "body": body[:5], "more_body": True},
        {"type": "http.request", "body": b"", "more_body": True},
        {"type": "http.request", "body": body[5:], "more_body": False},
    ]
    start, answer = _call(app, _scope(request), chunks)
    assert start["status"] == 200, answer
