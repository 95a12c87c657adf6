"""The kit's core: one :class:`Kit` per console (sessions in sealed cookies, CSP and the other
response headers, templates, forms with CSRF, JSON with the ``X-CSRF-Token`` header, flash
messages, stage guards, and the runner that calls the API's own handlers as the signed-in
principal), and :class:`View`, what a page handler is given. See :mod:`iamd.console.kit`."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from iamd.console.identity import SessionEnded
from iamd.console.kit.pages import REGISTRY, Registry
from iamd.console.kit.problems import Problem, explain
from iamd.console.runner import ConsoleRunner, RequestFacts
from iamd.console.sessions import (
    COOKIE,
    ConsoleSession,
    Revocations,
    Stage,
    anonymous,
    open_session,
    seal_session,
)
from iamd.console.throttle import SignInThrottle
from iamd.secrets.compare import constant_time_equals
from iamd.wire import AwsError, jsontext

if TYPE_CHECKING:
    from iamd.server.pipeline import Pipeline

__all__ = ["CSP", "MAX_BODY", "PREFIX", "STAGE_PAGES", "Kit", "Refused", "View"]

PREFIX: Final = "/console"
MAX_BODY: Final = 64 * 1024
CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
STAGE_PAGES: Final[dict[Stage, str]] = {
    "anonymous": "/signin",
    "mfa": "/mfa",
    "password": "/password",
    "register-mfa": "/register-mfa",
    "active": "/home",
}
STATIC: Final = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
MAX_FLASH: Final = 600
"""Characters of a flash message kept in the cookie (an AWS message is far shorter)."""


def when(value: Any) -> str:
    """A time as the console shows it (``2026-12-07 09:30 UTC``); ``-`` for none."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "-" if value in (None, "") else str(value)


def days_since(value: Any, now: datetime) -> str:
    """An age as AWS's lists show it: ``Today``, ``1 day``, ``12 days``; ``-`` for none."""
    if not isinstance(value, datetime):
        return "-"
    count = max(0, (now - value).days)
    return "Today" if count == 0 else f"{count} day" + ("" if count == 1 else "s")


class Refused(Exception):
    """A request refused before any work (CSRF, origin, malformed body)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def safe_back(path: str | None, default: str) -> str:
    """A console path to return to (from a form's ``back`` field): only a path of this console,
    never another site."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path or len(path) > 512:
        return default
    return path


class Kit:
    """What every console page shares. Pages are not methods of it: they are registered in a
    :class:`~iamd.console.kit.pages.Registry` (by default the module-level ``REGISTRY``)."""

    def __init__(self, pipeline: Pipeline, prefix: str = PREFIX, registry: Registry = REGISTRY) -> None:
        if pipeline.store.kek is None:
            raise RuntimeError("the console needs the store's key-encryption key")
        self.runner = ConsoleRunner(pipeline)
        self.kek = pipeline.store.kek
        self.prefix = prefix
        self.registry = registry
        self.throttle = SignInThrottle()
        pipeline.on_reset.append(self.throttle.clear)
        self.revocations = Revocations()
        self.templates = jinja2.Environment(
            loader=jinja2.PackageLoader("iamd.console", "templates"),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.filters["when"] = when
        self.templates.filters["days"] = days_since

    def routes(self) -> list[BaseRoute]:
        return [*self.registry.routes(self), Route("/static/{name:path}", self.static, methods=["GET"])]

    async def static(self, request: Request) -> Response:
        name = str(request.path_params["name"])
        parts = name.split("/")
        media = next((m for ext, m in STATIC.items() if name.endswith(ext)), None)
        if media is None or any(p in ("", ".", "..") or p.startswith(".") for p in parts) or len(parts) > 3:
            return self._finish(request, Response("Not found", status_code=404), None)
        target = resources.files("iamd.console").joinpath("static", *parts)
        if not target.is_file():
            return self._finish(request, Response("Not found", status_code=404), None)
        response = Response(
            target.read_bytes(), media_type=media, headers={"Cache-Control": "public, max-age=300"}
        )
        return self._finish(request, response, None)

    def _now(self) -> datetime:
        return self.runner.now()

    def _epoch(self) -> int:
        return int(self._now().timestamp())

    @staticmethod
    def _secure(request: Request) -> bool:
        return request.url.scheme == "https"

    @staticmethod
    def _origin(request: Request) -> str:
        return f"{request.url.scheme}://{request.url.netloc}"

    @staticmethod
    def _rp_id(request: Request) -> str:
        return request.url.hostname or "localhost"

    def _facts(self, request: Request) -> RequestFacts:
        client = request.client
        return RequestFacts(
            source_ip=client.host if client else "127.0.0.1",
            user_agent=request.headers.get("user-agent", "")[:512],
            secure=self._secure(request),
            request_id=str(uuid.uuid4()),
        )

    def _session(self, request: Request) -> ConsoleSession:
        now = self._epoch()
        found = open_session(self.kek, request.cookies.get(COOKIE), now, self.revocations)
        if found is not None and found.role is not None and int(found.role.get("expires", "0")) <= now:
            found = self.flash(
                found.with_changes(role=None),
                f"Your session in role {found.role.get('role', '')} expired; you are back as {found.label}.",
            )
        return found or anonymous(now)

    def _finish(self, request: Request, response: Response, session: ConsoleSession | None) -> Response:
        if session is not None:
            response.set_cookie(
                COOKIE,
                seal_session(self.kek, session),
                max_age=max(60, session.expires_at - self._epoch()),
                path=self.prefix,
                secure=self._secure(request),
                httponly=True,
                samesite="strict",
            )
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    def _render(
        self,
        request: Request,
        session: ConsoleSession,
        template: str,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> Response:
        context.setdefault("title", "iamd")
        context.setdefault("who", session.label if session.signed_in else None)
        context.setdefault("crumbs", [])
        context.setdefault("denied", [])
        context.setdefault("problems", [])
        if session.flash:
            kind, text, *why = session.flash
            key = "error" if kind == "error" else "message"
            if not context.get(key):
                context[key] = text
                if why and not context.get("why"):
                    context["why"] = why
            session = session.with_changes(flash=())
        active = session.stage == "active"
        html = self.templates.get_template(template).render(
            base=self.prefix,
            csrf=session.csrf,
            notices=session.notices,
            nav=self.registry.navigation(request.url.path[len(self.prefix) :]) if active else [],
            shown_account=session.account_id if active else None,
            now=self._now(),
            role_session=session.role if active else None,
            **context,
        )
        return self._finish(request, HTMLResponse(html, status_code=status, headers=headers), session)

    def _redirect(self, request: Request, session: ConsoleSession | None, path: str) -> Response:
        return self._finish(request, RedirectResponse(self.prefix + path, status_code=303), session)

    def _replace(self, old: ConsoleSession, new: ConsoleSession) -> ConsoleSession:
        """Forget ``old`` on this node (its cookie no longer opens a session here)."""
        if old.sid != new.sid:
            self.revocations.revoke(old.sid, old.expires_at)
        return new

    def _signed_out(self, request: Request, session: ConsoleSession) -> Response:
        if session.role is not None and session.stage == "active":
            # The role's session ended (expired, revoked, the role deleted): back to the identity
            # that switched, which still holds (else SessionEnded would come without a role).
            back = self.flash(
                session.with_changes(role=None),
                f"The session of role {session.role.get('role', '')} ended; you are back as {session.label}.",
                kind="error",
            )
            return self._redirect(request, back, "/home")
        self.revocations.revoke(session.sid, session.expires_at)
        return self._redirect(request, anonymous(self._epoch()), "/signin")

    def _check_origin(self, request: Request) -> None:
        origin = request.headers.get("origin")
        if origin is not None and origin != "null" and origin != self._origin(request):
            raise Refused(403, "Cross-origin requests are refused.")
        if request.headers.get("sec-fetch-site") == "cross-site":
            raise Refused(403, "Cross-site requests are refused.")

    async def _body(self, request: Request, content_type: str) -> bytes:
        self._check_origin(request)
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != content_type:
            raise Refused(415, f"Expected {content_type}.")
        declared = request.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY:
            raise Refused(413, "The request is too large.")  # before reading any of it
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise Refused(413, "The request is too large.")
        return body

    async def _form(self, request: Request, session: ConsoleSession) -> dict[str, str]:
        body = await self._body(request, "application/x-www-form-urlencoded")
        try:
            parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=128)
        except (UnicodeDecodeError, ValueError) as exc:
            raise Refused(400, "The form could not be read.") from exc
        form = {key: values[0] for key, values in parsed.items()}
        if not constant_time_equals(form.get("csrf", ""), session.csrf):
            raise Refused(
                403, "The form expired or did not come from this console. Reload the page and try again."
            )
        return form

    async def _json(self, request: Request, session: ConsoleSession) -> dict[str, Any]:
        body = await self._body(request, "application/json")
        if not constant_time_equals(request.headers.get("x-csrf-token", ""), session.csrf):
            raise Refused(403, "The request did not come from this console. Reload the page and try again.")
        try:
            data = jsontext.loads(body or b"{}")
        except jsontext.JsonTextError as exc:
            raise Refused(400, f"The request is not JSON: {exc}.") from exc
        if not isinstance(data, dict):
            raise Refused(400, "The request is not a JSON object.")
        return data

    def _refused(
        self, request: Request, session: ConsoleSession, refused: Refused, *, json_answer: bool
    ) -> Response:
        if json_answer:
            return self._finish(
                request, JSONResponse({"error": refused.message}, status_code=refused.status), None
            )
        return self._render(
            request,
            session,
            "message.html",
            status=refused.status,
            title="Request refused",
            error=refused.message,
        )

    def _guard(self, request: Request, session: ConsoleSession, *stages: Stage) -> Response | None:
        if session.stage in stages:
            return None
        return self._redirect(request, session, STAGE_PAGES[session.stage])

    async def _run(
        self, session: ConsoleSession, request: Request, operation: str, body: Callable[..., Any]
    ) -> Any:
        return await run_in_threadpool(self.runner.run, session, self._facts(request), operation, body)

    async def _invoke(
        self, session: ConsoleSession, request: Request, operation: str, params: dict[str, Any]
    ) -> dict[str, Any] | None:
        return await run_in_threadpool(self.runner.invoke, session, self._facts(request), operation, params)

    async def _action(
        self,
        request: Request,
        stages: tuple[Stage, ...],
        work: Callable[[ConsoleSession, dict[str, str]], Awaitable[Response]],
        *,
        failed: Callable[[ConsoleSession, AwsError, list[str]], Awaitable[Response]] | None = None,
        back: str = "/home",
    ) -> Response:
        """A form POST: stage guard, CSRF, then ``work``; a session whose identity no longer holds
        is signed out. An AWS error goes to ``failed`` (the page re-rendered with it); without
        one, back to the form's ``back`` field (or ``back``) with the error as a flash message
        saying what the person can do next."""
        session = self._session(request)
        guarded = self._guard(request, session, *stages)
        if guarded is not None:
            return guarded
        form: dict[str, str] = {}
        try:
            form = await self._form(request, session)
            return await work(session, form)
        except Refused as refused:
            return self._refused(request, session, refused, json_answer=False)
        except SessionEnded:
            return self._signed_out(request, session)
        except AwsError as error:
            why = await run_in_threadpool(self.runner.reasons, session, self._facts(request), error)
            if failed is not None:
                return await failed(session, error, why)
            problem = explain(error, why)
            if session.stage == "active":
                flashed = self.flash(session, problem.text, kind="error", why=problem.why)
                return self._redirect(request, flashed, safe_back(form.get("back"), back))
            return self._render(
                request,
                session,
                "message.html",
                status=error.status,
                title="Error",
                error=problem.text,
                why=problem.why,
            )

    # -- flash messages ---------------------------------------------------------------------------

    @staticmethod
    def flash(
        session: ConsoleSession, text: str, *, kind: str = "ok", why: list[str] | tuple[str, ...] = ()
    ) -> ConsoleSession:
        """``session`` carrying a message for the next page it renders (post/redirect/get)."""
        lines = tuple(line[:MAX_FLASH] for line in why[:8])
        return session.with_changes(flash=(kind, text[:MAX_FLASH], *lines))

    # -- views ------------------------------------------------------------------------------------

    def view(self, request: Request, session: ConsoleSession) -> View:
        return View(self, request, session)


class View:
    """One request of a signed-in page: calls run as the session's principal, the denials met
    along the way (shown once, at the top of the page), and rendering with the layout."""

    def __init__(self, kit: Kit, request: Request, session: ConsoleSession) -> None:
        self.kit = kit
        self.request = request
        self.session = session
        self.facts = kit._facts(request)
        self.denied: list[str] = []
        self.problems: list[Problem] = []

    @property
    def query(self) -> dict[str, str]:
        return {k: v[:512] for k, v in self.request.query_params.items()}

    async def call(self, operation: str, params: dict[str, Any], *, service: str = "iam") -> dict[str, Any]:
        """The operation as the API runs it for the signed-in principal; AwsError as it answers."""
        answer = await run_in_threadpool(
            self.kit.runner.invoke, self.session, self.facts, operation, params, service=service
        )
        return answer or {}

    async def read(
        self,
        operation: str,
        params: dict[str, Any],
        *,
        service: str = "iam",
        absent: tuple[str, ...] = ("NoSuchEntity",),
    ) -> dict[str, Any] | None:
        """A read whose refusal is not an error of the page: None, and the operation is named
        once in the page's "you may not read" notice (other errors are shown as problems). An
        error in ``absent`` (the thing does not exist: a user without a console password) is an
        empty answer."""
        try:
            return await self.call(operation, params, service=service)
        except AwsError as error:
            if error.code in absent:
                return {}
            self.note(error, f"{service}:{operation}")
            return None

    def note(self, error: AwsError, action: str) -> None:
        if error.code in ("AccessDenied", "AccessDeniedException", "AccessDeniedError"):
            if action not in self.denied:
                self.denied.append(action)
        else:
            self.problems.append(explain(error, []))

    async def run(self, operation: str, body: Callable[..., Any], *, readonly: bool = False) -> Any:
        return await run_in_threadpool(
            self.kit.runner.run, self.session, self.facts, operation, body, readonly=readonly
        )

    async def paged(
        self,
        operation: str,
        params: dict[str, Any],
        key: str,
        *,
        limit: int = 1000,
        service: str = "iam",
    ) -> list[dict[str, Any]] | None:
        """Every item of a paginated IAM list (Marker/IsTruncated), up to ``limit``; None when
        refused (noted once)."""
        items: list[dict[str, Any]] = []
        marker: str | None = None
        while len(items) < limit:
            answer = await self.read(
                operation, {**params, **({"Marker": marker} if marker else {})}, service=service
            )
            if answer is None:
                return items or None
            items.extend(answer.get(key, []))
            marker = answer.get("Marker")
            if not answer.get("IsTruncated") or not marker:
                break
        return items[:limit]

    def render(
        self,
        template: str,
        *,
        status: int = 200,
        crumbs: list[tuple[str, str]] | None = None,
        **context: Any,
    ) -> Response:
        return self.kit._render(
            self.request,
            self.session,
            template,
            status=status,
            crumbs=crumbs or [],
            denied=self.denied,
            problems=self.problems,
            **context,
        )

    def redirect(self, path: str, *, flash: str | None = None, kind: str = "ok") -> Response:
        session = self.session if flash is None else self.kit.flash(self.session, flash, kind=kind)
        return self.kit._redirect(self.request, session, path)
