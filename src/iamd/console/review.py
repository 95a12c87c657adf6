"""The Security review page (``/review``): ``iamd review`` of the signed-in account, run live as
the signed-in principal. The practices' live reader makes the same read calls it makes over the
API, here through the console runner (each one authorized for this principal and on the trail); a
call the principal may not make leaves its checks "not evaluated", as on the command line. The
page shows the same report as ``iamd review --format html`` (scores, charts, escalation graphs,
every finding with its fix), its style sheet linked (the console's CSP allows no inline style).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from botocore import xform_name
from botocore.exceptions import ClientError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from iamd.console.kit import REGISTRY, Kit, View, page
from iamd.practices import review
from iamd.practices.html import REVIEW_CSS, report_fragment
from iamd.practices.live import load_live
from iamd.wire import AwsError, load_service_model

__all__ = ["area"]

area = REGISTRY.area("review")
area.add_nav("Security review", "/review", section="Access reports", order=50)

_MARKERS: Final = (
    ("Marker", "Marker", "IsTruncated"),
    ("NextToken", "NextToken", None),
    ("nextToken", "nextToken", None),
)


class _Client:
    """The boto3 client methods the practices' reader calls, run by the console runner as the
    signed-in principal; an AwsError becomes botocore's ClientError, as over the wire."""

    def __init__(self, view: View, service: str) -> None:
        self._invoke: Callable[[str, dict[str, Any]], dict[str, Any] | None] = lambda operation, params: (
            view.kit.runner.invoke(view.session, view.facts, operation, params, service=service)
        )
        self._names = {xform_name(name): name for name in load_service_model(service).operation_names}

    def _call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        operation = self._names[method]
        try:
            return self._invoke(operation, params) or {}
        except AwsError as exc:
            error = {
                "Error": {"Code": exc.code, "Message": str(exc)},
                "ResponseMetadata": {"HTTPStatusCode": exc.status},
            }
            raise ClientError(error, operation) from exc

    def __getattr__(self, method: str) -> Callable[..., dict[str, Any]]:
        if method not in self._names:
            raise AttributeError(method)
        return lambda **params: self._call(method, params)

    def get_paginator(self, method: str) -> _Paginator:
        return _Paginator(self, method)


class _Paginator:
    def __init__(self, client: _Client, method: str) -> None:
        self.client, self.method = client, method

    def paginate(self, **params: Any) -> Any:
        while True:
            answer = self.client._call(self.method, params)
            yield answer
            for request_key, answer_key, truncated in _MARKERS:
                token = answer.get(answer_key)
                if token and (truncated is None or answer.get(truncated)):
                    params = {**params, request_key: token}
                    break
            else:
                return


@area.get("/review")
async def review_page(kit: Kit, request: Request) -> Response:
    async def build(view: View) -> Response:
        def run() -> str:
            snapshot = load_live(lambda service: _Client(view, service))
            return report_fragment(review(snapshot), style=False)

        fragment = await run_in_threadpool(run)
        return view.render(
            "review.html",
            title="Security review",
            crumbs=[("IAM", "/dashboard"), ("Security review", "")],
            fragment=fragment,
        )

    return await page(kit, request, build)


@area.get("/review/report.css")
async def review_css(kit: Kit, request: Request) -> Response:
    return Response(REVIEW_CSS, media_type="text/css", headers={"Cache-Control": "no-cache"})
