"""The web console, served by ``iamd serve`` under ``/console``: sign-in (IAM users by account and
user name, the root user by email), the second factor (TOTP code, security key or passkey), the
password changes a sign-in may require, the root user's MFA registration, and the "My security
credentials" page (password, MFA devices, access keys).

Pages are rendered on the server (Jinja2, autoescaped); the only scripts are the WebAuthn glue
(``static/console.js``) and the policy editor's (``static/policy_editor.js``), and the
Content-Security-Policy allows nothing else. The Access Analyzer pages and the policy editor are
:mod:`iamd.console.analyzer`. Every change is a
POST carrying the session's CSRF token (forms: a hidden ``csrf`` field; JSON: the
``X-CSRF-Token`` header), from this origin. Every action is an IAM operation run as the signed-in
identity (:mod:`iamd.console.runner`), so the same policies decide it as over the API, with
aws:MultiFactorAuthPresent true only when the sign-in used a second factor.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from importlib import resources
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from iamd.console import identity, organization
from iamd.console.analyzer import analyzer_routes
from iamd.console.identity import Candidate, SessionEnded
from iamd.console.runner import ConsoleRunner, RequestFacts
from iamd.console.sessions import (
    COOKIE,
    ConsoleSession,
    Revocations,
    Stage,
    anonymous,
    open_session,
    promote,
    seal_session,
    signed_in,
)
from iamd.console.throttle import SignInThrottle
from iamd.secrets.compare import constant_time_equals
from iamd.secrets.passwords import PasswordHashing
from iamd.secrets.webauthn import b64url, from_b64url
from iamd.services.framework import OperationContext, handler_for
from iamd.services.iam import mfa
from iamd.services.iam.owners import Owner, credential_owner
from iamd.services.iam.passwords import (
    PasswordPolicyViolation,
    password_hashing,
    password_problems,
    policy_violation,
)
from iamd.store import errors as store_errors
from iamd.store.records import PasswordPolicyRecord
from iamd.store.unit import UnitOfWork
from iamd.wire import AccessDenied, AwsError, InvalidInput, jsontext

if TYPE_CHECKING:
    from iamd.server.pipeline import Pipeline

__all__ = ["PREFIX", "console_mount"]

log = logging.getLogger(__name__)

PREFIX: Final = "/console"
MAX_BODY: Final = 64 * 1024
NAME_CHARS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+=,.@_-")
BAD_SIGN_IN: Final = "Your authentication information is incorrect. Please try again."
BAD_CODE: Final = "The MFA code is not valid, or was already used. Wait for the next code and try again."
CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
MESSAGES: Final = {
    "password-changed": "Your password was changed.",
    "mfa-added": "The MFA device was assigned.",
    "passkey-added": "The passkey or security key was registered.",
    "mfa-removed": "The MFA device was removed.",
    "key-updated": "The access key was updated.",
    "key-deleted": "The access key was deleted.",
}
STAGE_PAGES: Final[dict[Stage, str]] = {
    "anonymous": "/signin",
    "mfa": "/mfa",
    "password": "/password",
    "register-mfa": "/register-mfa",
    "active": "/home",
}
STATIC: Final = {
    "console.css": "text/css; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "policy_editor.js": "text/javascript; charset=utf-8",
    "policy_builder.js": "text/javascript; charset=utf-8",
    "policies.css": "text/css; charset=utf-8",
}


class _Refused(Exception):
    """A request refused before any work (CSRF, origin, malformed body)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _valid_name(name: str) -> bool:
    return 0 < len(name) <= 64 and all(c in NAME_CHARS for c in name)


def _rules(policy: PasswordPolicyRecord | None) -> str:
    if policy is None:
        return "At least 8 characters, with three of: uppercase letters, lowercase letters, numbers, symbols."
    kinds = [
        kind
        for kind, needed in (
            ("an uppercase letter", policy.require_uppercase),
            ("a lowercase letter", policy.require_lowercase),
            ("a number", policy.require_numbers),
            ("a symbol", policy.require_symbols),
        )
        if needed
    ]
    rule = f"At least {policy.minimum_length} characters"
    return rule + (", with " + ", ".join(kinds) if kinds else "") + "."


class Console:
    def __init__(self, pipeline: Pipeline, prefix: str = PREFIX) -> None:
        if pipeline.store.kek is None:
            raise RuntimeError("the console needs the store's key-encryption key")
        self.runner = ConsoleRunner(pipeline)
        self.kek = pipeline.store.kek
        self.prefix = prefix
        self.throttle = SignInThrottle()
        pipeline.on_reset.append(self.throttle.clear)
        self.revocations = Revocations()
        self.templates = jinja2.Environment(
            loader=jinja2.PackageLoader("iamd.console", "templates"),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    # -- plumbing ---------------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        get, post = ["GET"], ["POST"]
        return [
            Route("/", self.index, methods=get),
            Route("/signin", self.signin_page, methods=get),
            Route("/signin", self.signin, methods=post),
            Route("/signout", self.signout, methods=post),
            Route("/mfa", self.mfa_page, methods=get),
            Route("/mfa", self.mfa_code, methods=post),
            Route("/mfa/webauthn/options", self.mfa_webauthn_options, methods=post),
            Route("/mfa/webauthn/verify", self.mfa_webauthn_verify, methods=post),
            Route("/password", self.password_page, methods=get),
            Route("/password", self.change_password, methods=post),
            Route("/register-mfa", self.register_mfa_page, methods=get),
            Route("/home", self.home, methods=get),
            Route("/keys/create", self.create_key, methods=post),
            Route("/keys/rotate", self.rotate_key, methods=post),
            Route("/keys/status", self.key_status, methods=post),
            Route("/keys/delete", self.delete_key, methods=post),
            Route("/mfa/virtual/create", self.create_virtual, methods=post),
            Route("/mfa/virtual/enable", self.enable_virtual, methods=post),
            Route("/mfa/virtual/cancel", self.cancel_virtual, methods=post),
            Route("/mfa/remove", self.remove_device, methods=post),
            Route("/webauthn/register/options", self.register_options, methods=post),
            Route("/webauthn/register/verify", self.register_verify, methods=post),
            *analyzer_routes(self),
            Route("/static/{name}", self.static, methods=get),
            *organization.routes(self),
        ]

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
        html = self.templates.get_template(template).render(
            base=self.prefix,
            csrf=session.csrf,
            notices=session.notices,
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
        self.revocations.revoke(session.sid, session.expires_at)
        return self._redirect(request, anonymous(self._epoch()), "/signin")

    def _check_origin(self, request: Request) -> None:
        origin = request.headers.get("origin")
        if origin is not None and origin != "null" and origin != self._origin(request):
            raise _Refused(403, "Cross-origin requests are refused.")
        if request.headers.get("sec-fetch-site") == "cross-site":
            raise _Refused(403, "Cross-site requests are refused.")

    async def _body(self, request: Request, content_type: str) -> bytes:
        self._check_origin(request)
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != content_type:
            raise _Refused(415, f"Expected {content_type}.")
        declared = request.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY:
            raise _Refused(413, "The request is too large.")  # before reading any of it
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise _Refused(413, "The request is too large.")
        return body

    async def _form(self, request: Request, session: ConsoleSession) -> dict[str, str]:
        body = await self._body(request, "application/x-www-form-urlencoded")
        try:
            parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=32)
        except (UnicodeDecodeError, ValueError) as exc:
            raise _Refused(400, "The form could not be read.") from exc
        form = {key: values[0] for key, values in parsed.items()}
        if not constant_time_equals(form.get("csrf", ""), session.csrf):
            raise _Refused(
                403, "The form expired or did not come from this console. Reload the page and try again."
            )
        return form

    async def _json(self, request: Request, session: ConsoleSession) -> dict[str, Any]:
        body = await self._body(request, "application/json")
        if not constant_time_equals(request.headers.get("x-csrf-token", ""), session.csrf):
            raise _Refused(403, "The request did not come from this console. Reload the page and try again.")
        try:
            data = jsontext.loads(body or b"{}")
        except jsontext.JsonTextError as exc:
            raise _Refused(400, f"The request is not JSON: {exc}.") from exc
        if not isinstance(data, dict):
            raise _Refused(400, "The request is not a JSON object.")
        return data

    def _refused(
        self, request: Request, session: ConsoleSession, refused: _Refused, *, json_answer: bool
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
    ) -> Response:
        """A form POST: stage guard, CSRF, then ``work``; a session whose identity no longer holds
        is signed out, an AWS error is shown on the credentials page."""
        session = self._session(request)
        guarded = self._guard(request, session, *stages)
        if guarded is not None:
            return guarded
        try:
            form = await self._form(request, session)
            return await work(session, form)
        except _Refused as refused:
            return self._refused(request, session, refused, json_answer=False)
        except SessionEnded:
            return self._signed_out(request, session)
        except AwsError as error:
            why = await run_in_threadpool(self.runner.reasons, session, self._facts(request), error)
            if session.stage == "active":
                return await self._home_page(
                    request, session, error=error.message, status=error.status, why=why
                )
            return self._render(
                request,
                session,
                "message.html",
                status=error.status,
                title="Error",
                error=error.message,
                why=why,
            )

    # -- sign-in ----------------------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        session = self._session(request)
        return self._redirect(request, session, STAGE_PAGES[session.stage])

    async def signin_page(self, request: Request) -> Response:
        session = self._session(request)
        if session.signed_in:
            return self._redirect(request, session, STAGE_PAGES[session.stage])
        return self._render(
            request,
            session,
            "signin.html",
            title="Sign in",
            root=request.query_params.get("root") == "1",
            account=request.query_params.get("account", "")[:64],
            username="",
            email="",
        )

    async def signin(self, request: Request) -> Response:
        session = self._session(request)
        try:
            form = await self._form(request, session)
        except _Refused as refused:
            return self._refused(request, session, refused, json_answer=False)
        root = form.get("kind") == "root"
        password = form.get("password", "")[:512]
        account_ref = form.get("account", "").strip()[:64]
        user_name = form.get("username", "").strip()[:64]
        email = form.get("email", "").strip()[:320]

        def again(error: str, status: int, headers: dict[str, str] | None = None) -> Response:
            return self._render(
                request,
                session,
                "signin.html",
                status=status,
                headers=headers,
                title="Sign in",
                root=root,
                account=account_ref,
                username=user_name,
                email=email,
                error=error,
            )

        now = self._now()

        def read(uow: UnitOfWork) -> Candidate:
            if root:
                return identity.find_root_candidate(uow, email)
            return identity.find_user_candidate(uow, account_ref, user_name, now)

        candidate: Candidate = await run_in_threadpool(self.runner.transaction, read, readonly=True)
        if root:
            key = f"root:{email.lower()}"
        else:
            key = f"user:{candidate.account_id or account_ref.lower()}:{user_name.lower()}"
        source = self._facts(request).source_ip
        wait = self.throttle.wait_for(key, source, time.monotonic())
        if wait > 0:
            seconds = int(wait) + 1
            return again(
                f"Too many failed sign-in attempts. Try again in {seconds} seconds.",
                429,
                {"Retry-After": str(seconds)},
            )
        slowdown = self.throttle.slowdown(key, time.monotonic())
        if slowdown:
            await asyncio.sleep(slowdown)
        verified = await run_in_threadpool(candidate.verify, password)
        if not (verified and candidate.exists):
            self.throttle.failure(key, source, time.monotonic())
            self._record_sign_in(
                request, candidate.account_id, candidate.user_id, success=False, mfa_used=False, root=root
            )
            return again(BAD_SIGN_IN, 401)
        self.throttle.success(key, source)
        if candidate.expired and candidate.hard_expiry:
            return again("Your password has expired. Ask your administrator to set a new one.", 403)
        new = await run_in_threadpool(self.runner.transaction, lambda uow: self._start(uow, candidate))
        new = self._replace(session, new)
        if new.stage != "mfa":
            self._record_sign_in(
                request, new.account_id, new.user_id, success=True, mfa_used=False, root=root
            )
        return self._redirect(request, new, STAGE_PAGES[new.stage])

    def _record_sign_in(
        self,
        request: Request,
        account_id: str | None,
        user_id: str | None,
        *,
        success: bool,
        mfa_used: bool,
        root: bool = False,
    ) -> None:
        """A ``ConsoleLogin`` event on the trail. A sign-in that needs a second factor is recorded
        once that factor is given (or refused). A name that is no user of an existing account is
        recorded as AWS does (``HIDDEN_DUE_TO_SECURITY_REASONS``); a sign-in naming no account
        has no account's trail to go on and is not recorded (the server log keeps nothing either)."""
        trail = self.runner.pipeline.trail
        if trail is None or account_id is None:
            return
        facts = self._facts(request)
        user_name: str | None = None
        user_arn: str | None = None
        if user_id is not None:
            known_id = user_id

            def read(uow: UnitOfWork) -> tuple[str, str] | None:
                try:
                    user = uow.users.get_by_id(known_id)
                except store_errors.NotFound:
                    return None
                return user.name, f"arn:aws:iam::{account_id}:user{user.path}{user.name}"

            found = self.runner.transaction(read, readonly=True)
            if found is not None:
                user_name, user_arn = found
        elif not root:
            user_name = "HIDDEN_DUE_TO_SECURITY_REASONS"
        try:
            trail.sign_in(
                account_id=account_id,
                at=self._now(),
                source_ip=facts.source_ip,
                user_agent=facts.user_agent,
                success=success,
                user_id=user_id,
                user_name=user_name,
                user_arn=user_arn,
                root=root,
                mfa_used=mfa_used,
                login_to=f"{self._origin(request)}{self.prefix}/",
            )
        except Exception:
            log.exception("trail: could not record a console sign-in")

    def _start(self, uow: UnitOfWork, candidate: Candidate) -> ConsoleSession:
        """The session a verified password opens (one write transaction)."""
        now = self._now()
        epoch = int(now.timestamp())
        account_id = candidate.account_id
        assert account_id is not None
        devices = uow.mfa.list_for(account_id, candidate.user_id)
        must_change = candidate.reset_required or candidate.expired
        stage: Stage
        if candidate.user_id is not None:
            uow.users.record_password_use(candidate.user_id, now)
            stage = "mfa" if devices else ("password" if must_change else "active")
        else:
            uow.accounts.record_root_password_use(account_id, now)
            if devices:
                stage = "mfa"
            else:
                first = identity.first_root_sign_in(uow, account_id, now)
                stage = "register-mfa" if now >= first + identity.ROOT_MFA_GRACE else "active"
        return signed_in(
            account_id=account_id,
            user_id=candidate.user_id,
            stage=stage,
            now=epoch,
            credential_mark=candidate.mark,
            must_change_password=must_change,
            label=candidate.label,
        )

    async def signout(self, request: Request) -> Response:
        session = self._session(request)
        try:
            await self._form(request, session)
        except _Refused as refused:
            return self._refused(request, session, refused, json_answer=False)
        return self._signed_out(request, session)

    # -- the second factor ------------------------------------------------------------------------

    def _owner_of(self, session: ConsoleSession, uow: UnitOfWork) -> Owner:
        assert session.account_id is not None
        if session.user_id is None:
            return Owner(None, f"arn:aws:iam::{session.account_id}:root")
        user = uow.users.get_by_id(session.user_id)
        return Owner(user, f"arn:aws:iam::{session.account_id}:user{user.path}{user.name}")

    def _second_factor_refused(
        self, request: Request, session: ConsoleSession, key: str, source: str
    ) -> None:
        """A wrong code or security key: slows the next attempts, and is a failed sign-in."""
        self.throttle.failure(key, source, time.monotonic())
        self._record_sign_in(
            request, session.account_id, session.user_id, success=False, mfa_used=True, root=session.is_root
        )

    def _after_mfa(self, request: Request, session: ConsoleSession) -> ConsoleSession:
        self._record_sign_in(
            request, session.account_id, session.user_id, success=True, mfa_used=True, root=session.is_root
        )
        now = self._epoch()
        stage: Stage = "password" if session.must_change_password else "active"
        return self._replace(session, promote(session, stage, now, mfa_at=now))

    async def mfa_page(self, request: Request) -> Response:
        session = self._session(request)
        guarded = self._guard(request, session, "mfa")
        if guarded is not None:
            return guarded

        def kinds(uow: UnitOfWork) -> set[str]:
            assert session.account_id is not None
            return {d.kind for d in uow.mfa.list_for(session.account_id, session.user_id)}

        found = await run_in_threadpool(self.runner.transaction, kinds, readonly=True)
        return self._render(
            request,
            session,
            "mfa.html",
            title="Multi-factor authentication",
            has_totp="virtual" in found,
            has_keys="webauthn" in found,
        )

    def _mfa_key(self, session: ConsoleSession) -> str:
        return f"mfa:{session.account_id}:{session.user_id or 'root'}"

    async def mfa_code(self, request: Request) -> Response:
        session = self._session(request)
        guarded = self._guard(request, session, "mfa")
        if guarded is not None:
            return guarded
        try:
            form = await self._form(request, session)
        except _Refused as refused:
            return self._refused(request, session, refused, json_answer=False)
        code = form.get("code", "").strip()
        key, source = self._mfa_key(session), self._facts(request).source_ip
        wait = self.throttle.wait_for(key, source, time.monotonic())
        if wait > 0:
            seconds = int(wait) + 1
            return self._render(
                request,
                session,
                "mfa.html",
                status=429,
                headers={"Retry-After": str(seconds)},
                title="Multi-factor authentication",
                has_totp=True,
                error=f"Too many failed attempts. Try again in {seconds} seconds.",
            )
        now = self._now()

        def check(uow: UnitOfWork) -> bool:
            assert session.account_id is not None
            for device in uow.mfa.list_for(session.account_id, session.user_id):
                if device.kind == "virtual" and mfa.verify_totp(
                    uow,
                    device.serial,
                    code,
                    now,
                    account_id=session.account_id,
                    user_id=session.user_id,
                    root=session.is_root,
                ):
                    return True
            return False

        if not await run_in_threadpool(self.runner.transaction, check):
            self._second_factor_refused(request, session, key, source)
            return self._render(
                request,
                session,
                "mfa.html",
                status=401,
                title="Multi-factor authentication",
                has_totp=True,
                error=BAD_CODE,
            )
        self.throttle.success(key, source)
        new = self._after_mfa(request, session)
        return self._redirect(request, new, STAGE_PAGES[new.stage])

    async def mfa_webauthn_options(self, request: Request) -> Response:
        session = self._session(request)
        if session.stage != "mfa":
            return self._finish(request, JSONResponse({"error": "Not expecting a second factor."}, 409), None)
        try:
            await self._json(request, session)
        except _Refused as refused:
            return self._refused(request, session, refused, json_answer=True)
        rp_id = self._rp_id(request)

        def options(uow: UnitOfWork) -> tuple[str, bytes] | None:
            assert session.account_id is not None
            return mfa.security_key_authentication_options(
                uow, session.account_id, self._owner_of(session, uow), rp_id=rp_id
            )

        found = await run_in_threadpool(self.runner.transaction, options, readonly=True)
        if found is None:
            return self._finish(request, JSONResponse({"error": "No security key is registered."}, 404), None)
        text, challenge = found
        new = session.with_changes(challenge=b64url(challenge), challenge_kind="authenticate")
        return self._finish(request, Response(text, media_type="application/json"), new)

    async def mfa_webauthn_verify(self, request: Request) -> Response:
        session = self._session(request)
        if session.stage != "mfa" or session.challenge_kind != "authenticate" or session.challenge is None:
            return self._finish(
                request, JSONResponse({"error": "Start again: no sign-in is pending."}, 409), None
            )
        try:
            data = await self._json(request, session)
        except _Refused as refused:
            return self._refused(request, session, refused, json_answer=True)
        credential = data.get("credential")
        key, source = self._mfa_key(session), self._facts(request).source_ip
        if self.throttle.wait_for(key, source, time.monotonic()) > 0:
            return self._finish(request, JSONResponse({"error": "Too many failed attempts."}, 429), None)
        challenge, origin = from_b64url(session.challenge), self._origin(request)

        def check(uow: UnitOfWork) -> bool:
            assert session.account_id is not None
            if not isinstance(credential, dict):
                return False
            return mfa.verify_security_key(
                uow,
                session.account_id,
                self._owner_of(session, uow),
                credential,
                challenge=challenge,
                origin=origin,
            )

        cleared = session.with_changes(challenge=None, challenge_kind=None)
        if not await run_in_threadpool(self.runner.transaction, check):
            self._second_factor_refused(request, session, key, source)
            return self._finish(
                request, JSONResponse({"error": "The security key could not be verified."}, 401), cleared
            )
        self.throttle.success(key, source)
        new = self._after_mfa(request, cleared)
        return self._finish(request, JSONResponse({"next": self.prefix + STAGE_PAGES[new.stage]}), new)

    # -- passwords --------------------------------------------------------------------------------

    async def password_page(self, request: Request) -> Response:
        session = self._session(request)
        guarded = self._guard(request, session, "password")
        if guarded is not None:
            return guarded
        return await self._password_form(request, session)

    async def _password_form(
        self, request: Request, session: ConsoleSession, *, error: str | None = None, status: int = 200
    ) -> Response:
        def policy(uow: UnitOfWork) -> PasswordPolicyRecord | None:
            assert session.account_id is not None
            return uow.accounts.password_policy(session.account_id)

        found = await run_in_threadpool(self.runner.transaction, policy, readonly=True)
        return self._render(
            request,
            session,
            "password.html",
            status=status,
            title="Change password",
            heading="Change your password",
            reason="Your password must be changed before you continue: it was reset by an administrator "
            "or it has expired.",
            rules=_rules(found),
            error=error,
        )

    async def change_password(self, request: Request) -> Response:
        session = self._session(request)
        guarded = self._guard(request, session, "password", "active")
        if guarded is not None:
            return guarded
        try:
            form = await self._form(request, session)
        except _Refused as refused:
            return self._refused(request, session, refused, json_answer=False)
        old, new_password, confirm = form.get("old", ""), form.get("new", ""), form.get("confirm", "")

        async def failed(message: str, status: int) -> Response:
            if session.stage == "password":
                return await self._password_form(request, session, error=message, status=status)
            return await self._home_page(request, session, error=message, status=status)

        if new_password != confirm:
            return await failed("The new passwords do not match.", 400)
        params = {"OldPassword": old[:512], "NewPassword": new_password[:512]}
        try:
            if session.is_root:
                mark = await self._run(
                    session, request, "ChangePassword", lambda ctx: _change_root_password(ctx, params)
                )
            else:
                mark = await self._run(
                    session, request, "ChangePassword", lambda ctx: _change_user_password(ctx, params)
                )
        except SessionEnded:
            return self._signed_out(request, session)
        except PasswordPolicyViolation as violation:
            # The API keeps AWS's one sentence; a person is told which rule the password breaks.
            return await failed(violation.explained, violation.status)
        except AwsError as error:
            return await failed(error.message, error.status)
        now = self._epoch()
        stage: Stage = "active"
        new = self._replace(
            session,
            promote(session, stage, now, credential_mark=mark, must_change_password=False, notices=()),
        )
        return self._redirect(request, new, "/home?msg=password-changed")

    # -- the root user's MFA registration ---------------------------------------------------------

    async def register_mfa_page(self, request: Request) -> Response:
        session = self._session(request)
        guarded = self._guard(request, session, "register-mfa")
        if guarded is not None:
            return guarded
        deadline = await run_in_threadpool(self._root_deadline, session)
        return self._render(
            request,
            session,
            "register_mfa.html",
            title="Register MFA",
            deadline=deadline.strftime("%Y-%m-%d") if deadline else "",
        )

    def _root_deadline(self, session: ConsoleSession) -> datetime | None:
        def read(uow: UnitOfWork) -> datetime | None:
            assert session.account_id is not None
            first = identity.root_first_sign_in(uow, session.account_id)
            return None if first is None else first + identity.ROOT_MFA_GRACE

        result: datetime | None = self.runner.transaction(read, readonly=True)
        return result

    # -- my security credentials ------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        session = self._session(request)
        guarded = self._guard(request, session, "active")
        if guarded is not None:
            return guarded
        message = MESSAGES.get(request.query_params.get("msg", ""))
        try:
            return await self._home_page(request, session, message=message)
        except SessionEnded:
            return self._signed_out(request, session)

    async def _home_page(
        self,
        request: Request,
        session: ConsoleSession,
        *,
        status: int = 200,
        error: str | None = None,
        message: str | None = None,
        new_key: dict[str, Any] | None = None,
        why: list[str] | None = None,
    ) -> Response:
        data = await run_in_threadpool(self._home_data, session, self._facts(request))
        return self._render(
            request,
            session,
            "credentials.html",
            status=status,
            title="My security credentials",
            error=error,
            why=why,
            message=message,
            new_key=new_key,
            **data,
        )

    def _home_data(self, session: ConsoleSession, facts: RequestFacts) -> dict[str, Any]:
        now = self._now()
        assert session.account_id is not None
        account_id = session.account_id

        def read(uow: UnitOfWork) -> dict[str, Any]:
            caller = identity.session_caller(uow, session, now)
            account = uow.accounts.get(account_id)
            first = identity.root_first_sign_in(uow, account_id) if session.is_root else None
            return {
                "arn": caller.arn,
                "who": caller.user_name or (account.email or "root user"),
                "account_alias": account.alias,
                "rules": _rules(uow.accounts.password_policy(account_id)),
                "first": first,
            }

        data = self.runner.transaction(read, readonly=True)
        first = data.pop("first")
        devices: list[mfa.DeviceView] = []
        mfa_why: list[str] = []
        try:
            devices = self.runner.run(
                session, facts, "ListMFADevices", mfa.describe_own_devices, readonly=True
            )
            mfa_error = None
        except AwsError as error:
            mfa_error = error.message
            mfa_why = self.runner.reasons(session, facts, error)
        keys: list[dict[str, Any]] = []
        keys_why: list[str] = []
        try:
            listed = self.runner.invoke(session, facts, "ListAccessKeys", {}) or {}
            keys = list(listed.get("AccessKeyMetadata", []))
            keys_error = None
        except AwsError as error:
            keys_error = error.message
            keys_why = self.runner.reasons(session, facts, error)
        deadline = None
        if session.is_root and not devices and first is not None:
            deadline = (first + identity.ROOT_MFA_GRACE).strftime("%Y-%m-%d %H:%M UTC")
        return {
            **data,
            "account_id": account_id,
            "is_root": session.is_root,
            "mfa": session.mfa_at is not None,
            "devices": devices,
            "mfa_error": mfa_error,
            "mfa_why": mfa_why,
            "keys": keys,
            "keys_error": keys_error,
            "keys_why": keys_why,
            "root_deadline": deadline,
            "can_add_mfa": len(devices) < mfa.MAX_DEVICES,
        }

    # -- access keys ------------------------------------------------------------------------------

    async def create_key(self, request: Request) -> Response:
        async def work(session: ConsoleSession, form: dict[str, str]) -> Response:
            created = await self._invoke(session, request, "CreateAccessKey", {}) or {}
            return await self._home_page(request, session, new_key=created.get("AccessKey"))

        return await self._action(request, ("active",), work)

    async def rotate_key(self, request: Request) -> Response:
        async def work(session: ConsoleSession, form: dict[str, str]) -> Response:
            old = form.get("id", "")
            created = await self._invoke(session, request, "CreateAccessKey", {}) or {}
            await self._invoke(
                session, request, "UpdateAccessKey", {"AccessKeyId": old, "Status": "Inactive"}
            )
            return await self._home_page(
                request,
                session,
                new_key=created.get("AccessKey"),
                message=f"Access key {old} is now inactive: delete it once nothing uses it any more.",
            )

        return await self._action(request, ("active",), work)

    async def key_status(self, request: Request) -> Response:
        async def work(session: ConsoleSession, form: dict[str, str]) -> Response:
            params = {"AccessKeyId": form.get("id", ""), "Status": form.get("status", "")}
            await self._invoke(session, request, "UpdateAccessKey", params)
            return self._redirect(request, session, "/home?msg=key-updated")

        return await self._action(request, ("active",), work)

    async def delete_key(self, request: Request) -> Response:
        async def work(session: ConsoleSession, form: dict[str, str]) -> Response:
            await self._invoke(session, request, "DeleteAccessKey", {"AccessKeyId": form.get("id", "")})
            return self._redirect(request, session, "/home?msg=key-deleted")

        return await self._action(request, ("active",), work)

    # -- MFA devices ------------------------------------------------------------------------------

    async def create_virtual(self, request: Request) -> Response:
        async def work(session: ConsoleSession, form: dict[str, str]) -> Response:
            name = form.get("name", "").strip()
            if not _valid_name(name):
                raise InvalidInput("A device name is 1 to 64 letters, digits and +=,.@_- characters.")
            created = await self._invoke(
                session, request, "CreateVirtualMFADevice", {"VirtualMFADeviceName": name}
            )
            device = (created or {})["VirtualMFADevice"]
            return self._render(
                request,
                session,
                "mfa_setup.html",
                title="Set up your authenticator app",
                serial=device["SerialNumber"],
                seed=device["Base32StringSeed"].decode("ascii"),
                qr=base64.b64encode(device["QRCodePNG"]).decode("ascii"),
            )

        return await self._action(request, ("active", "register-mfa"), work)

    async def enable_virtual(self, request: Request) -> Response:
        async def work(session: ConsoleSession, form: dict[str, str]) -> Response:
            serial = form.get("serial", "")
            code1, code2 = form.get("code1", "").strip(), form.get("code2", "").strip()

            def enable(ctx: OperationContext) -> None:
                owner = credential_owner(ctx, "iam:EnableMFADevice", {})
                mfa.enable_virtual_device(ctx, owner, serial, code1, code2)

            try:
                await self._run(session, request, "EnableMFADevice", enable)
            except AwsError as error:
                return self._render(
                    request,
                    session,
                    "mfa_setup.html",
                    status=error.status,
                    title="Set up your authenticator app",
                    serial=serial,
                    error=error.message,
                )
            return self._device_added(request, session, "mfa-added")

        return await self._action(request, ("active", "register-mfa"), work)

    def _device_added(self, request: Request, session: ConsoleSession, msg: str) -> Response:
        if session.stage == "register-mfa":
            now = self._epoch()
            session = self._replace(session, promote(session, "active", now, mfa_at=now))
        return self._redirect(request, session, f"/home?msg={msg}")

    async def cancel_virtual(self, request: Request) -> Response:
        async def work(session: ConsoleSession, form: dict[str, str]) -> Response:
            # An unassigned device left behind harms nobody; an administrator may delete it.
            with contextlib.suppress(AwsError):
                await self._invoke(
                    session, request, "DeleteVirtualMFADevice", {"SerialNumber": form.get("serial", "")}
                )
            return self._redirect(request, session, STAGE_PAGES[session.stage])

        return await self._action(request, ("active", "register-mfa"), work)

    async def remove_device(self, request: Request) -> Response:
        async def work(session: ConsoleSession, form: dict[str, str]) -> Response:
            serial = form.get("serial", "")
            await self._invoke(session, request, "DeactivateMFADevice", {"SerialNumber": serial})
            if ":mfa/" in serial:
                # Deactivated; deleting it is left to whoever may.
                with contextlib.suppress(AccessDenied):
                    await self._invoke(session, request, "DeleteVirtualMFADevice", {"SerialNumber": serial})
            return self._redirect(request, session, "/home?msg=mfa-removed")

        return await self._action(request, ("active",), work)

    async def register_options(self, request: Request) -> Response:
        session = self._session(request)
        if session.stage not in ("active", "register-mfa"):
            return self._finish(request, JSONResponse({"error": "Sign in first."}, 401), None)
        try:
            data = await self._json(request, session)
            if not _valid_name(str(data.get("name", ""))):
                raise _Refused(400, "A name is 1 to 64 letters, digits and +=,.@_- characters.")
            rp_id = self._rp_id(request)
            text, challenge = await self._run(
                session,
                request,
                "EnableMFADevice",
                lambda ctx: mfa.security_key_registration_options(ctx, rp_id=rp_id),
            )
        except _Refused as refused:
            return self._refused(request, session, refused, json_answer=True)
        except SessionEnded:
            return self._finish(
                request, JSONResponse({"error": "Signed out."}, 401), anonymous(self._epoch())
            )
        except AwsError as error:
            return self._finish(request, JSONResponse({"error": error.message}, error.status), None)
        new = session.with_changes(challenge=b64url(challenge), challenge_kind="register")
        return self._finish(request, Response(text, media_type="application/json"), new)

    async def register_verify(self, request: Request) -> Response:
        session = self._session(request)
        if session.stage not in ("active", "register-mfa"):
            return self._finish(request, JSONResponse({"error": "Sign in first."}, 401), None)
        if session.challenge_kind != "register" or session.challenge is None:
            return self._finish(request, JSONResponse({"error": "Start the registration again."}, 409), None)
        cleared = session.with_changes(challenge=None, challenge_kind=None)
        try:
            data = await self._json(request, session)
            name, credential = str(data.get("name", "")), data.get("credential")
            if not _valid_name(name) or not isinstance(credential, dict):
                raise _Refused(400, "A name and a credential are needed.")
            challenge, origin, rp_id = (
                from_b64url(session.challenge),
                self._origin(request),
                self._rp_id(request),
            )
            suffix = secrets.token_hex(8).upper()
            await self._run(
                session,
                request,
                "EnableMFADevice",
                lambda ctx: mfa.register_security_key(
                    ctx,
                    name=name,
                    credential=credential,
                    challenge=challenge,
                    rp_id=rp_id,
                    origin=origin,
                    suffix=suffix,
                ),
            )
        except _Refused as refused:
            return self._refused(request, cleared, refused, json_answer=True)
        except SessionEnded:
            return self._finish(
                request, JSONResponse({"error": "Signed out."}, 401), anonymous(self._epoch())
            )
        except AwsError as error:
            return self._finish(request, JSONResponse({"error": error.message}, error.status), cleared)
        if cleared.stage == "register-mfa":
            now = self._epoch()
            cleared = self._replace(cleared, promote(cleared, "active", now, mfa_at=now))
        return self._finish(request, JSONResponse({"next": self.prefix + "/home?msg=passkey-added"}), cleared)

    # -- static files -----------------------------------------------------------------------------

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        media = STATIC.get(name)
        if media is None:
            return self._finish(request, Response("Not found", status_code=404), None)
        content = resources.files("iamd.console").joinpath("static", name).read_bytes()
        response = Response(content, media_type=media, headers={"Cache-Control": "public, max-age=300"})
        return self._finish(request, response, None)


def _change_user_password(ctx: OperationContext, params: dict[str, Any]) -> str | None:
    """ChangePassword as the API runs it; returns the new password's mark for the session."""
    registration = handler_for("iam", "ChangePassword")
    assert registration is not None
    registration.handler(ctx, params)
    assert ctx.caller.user_id is not None
    return identity.credential_mark(ctx.uow.login_profiles.get(ctx.caller.user_id).password_changed_at)


def _change_root_password(ctx: OperationContext, params: dict[str, Any]) -> str | None:
    """The root user changes its own password (no IAM action governs it: only the root user
    itself, proving the old password, may). AWS's default password rules apply."""
    ctx.authorized = True
    account = ctx.uow.accounts.get(ctx.account_id)
    hashing: PasswordHashing = password_hashing()
    if account.root_password_hash is None or not hashing.verify(
        account.root_password_hash, params["OldPassword"]
    ):
        raise AccessDenied("The old password is incorrect.")
    new_password = params["NewPassword"]
    problems = password_problems(new_password, None, account)
    if constant_time_equals(new_password, params["OldPassword"]):
        problems.append("the same text as the current password")
    if problems:
        raise policy_violation(problems)
    now = ctx.now
    ctx.uow.accounts.set_root_password(ctx.account_id, hashing.hash(new_password), now)
    return identity.credential_mark(now)


def console_mount(pipeline: Pipeline, prefix: str = PREFIX) -> Mount:
    """The console's routes, to mount in the server's application."""
    return Mount(prefix, routes=Console(pipeline, prefix).routes())
