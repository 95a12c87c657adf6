"""The access portal's web pages, served by ``iamd serve`` at ``{base}/start`` (the start URL) and
``{base}/authorize`` (the OAuth authorization endpoint the AWS CLI opens for its PKCE flow).

Sign-in is an identity-store user's name and password, then a second factor, as Identity Center's
default MFA settings ask: every sign-in, and a person without an MFA device registers one before
going further (an authenticator app, its secret shown as text and as a QR code, or a passkey /
security key). Signed in, the person sees the accounts and roles assigned, gets temporary
credentials to copy, changes their password, manages their MFA devices, approves a device
authorization (RFC 8628: the code shown in the terminal) or an authorization-code request, and
signs out.

Pieces of the IAM console are used as they are, by import: the sign-in throttle, its WebAuthn
script and style sheet (served from :mod:`iamd.console`'s package), its Content-Security-Policy
and headers, and the same CSRF discipline (a token in every form, checked in constant time, and
Origin / Sec-Fetch-Site checked). Sign-ins go on the trail as Identity Center's do
(``signin.amazonaws.com`` ``UserAuthentication``, success or failure).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from importlib import resources
from typing import TYPE_CHECKING, Any, Final, TypeVar
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from iamd.console.kit.core import CSP, protect
from iamd.console.throttle import SignInThrottle
from iamd.portal.saml import PREFIX as SAML_PREFIX
from iamd.portal.sessions import (
    COOKIE,
    SIGNIN_COOKIE,
    SignIn,
    csrf_of,
    current_session,
    new_signin,
    open_signin,
    seal_signin,
    set_session_cookie,
    start_session,
)
from iamd.secrets import totp
from iamd.secrets import webauthn as wa
from iamd.secrets.compare import constant_time_equals
from iamd.services.cloudtrail.recording import identity_center_user
from iamd.services.framework import RequestInfo
from iamd.services.iam.passwords import password_hashing
from iamd.services.identitycenter import oidc
from iamd.services.identitycenter.identitystore.signin import (
    PasswordRejected,
    set_password,
    verify_password,
    verify_totp,
)
from iamd.services.identitycenter.portal import issue_role_session, person_access
from iamd.store import errors as store_errors
from iamd.store.audit import AuditEvent
from iamd.store.identity_center import InstanceRecord
from iamd.store.identity_store import IdsUserRecord
from iamd.store.sso_portal import PortalSessionRecord
from iamd.store.unit import UnitOfWork
from iamd.trail.records import Identity, cloudtrail_time, record_json
from iamd.wire import AwsError, jsontext

if TYPE_CHECKING:
    from iamd.server.pipeline import Pipeline

__all__ = ["PREFIX", "portal_routes"]

log = logging.getLogger(__name__)

PREFIX: Final = "/start"
MAX_BODY: Final = 64 * 1024
BAD_SIGN_IN: Final = "Your user name or password is incorrect. Please try again."
BAD_CODE: Final = "The MFA code is not valid, or was already used. Wait for the next code and try again."
STATIC: Final = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8"}
T = TypeVar("T")


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _local_next(target: str) -> str:
    """``target`` when it is a page of the portal (where to go after signing in), else ""."""
    if target.startswith((PREFIX + "/", "/authorize?")) and "\\" not in target and len(target) <= 4096:
        return target
    return ""


def _user_code(text: str) -> str:
    code = "".join(c for c in text.upper() if c.isalpha())[:8]
    return f"{code[:4]}-{code[4:]}" if len(code) == 8 else ""


class Portal:
    def __init__(self, pipeline: Pipeline) -> None:
        if pipeline.store.kek is None:
            raise RuntimeError("the access portal needs the store's key-encryption key")
        self.pipeline = pipeline
        self.store = pipeline.store
        self.kek = pipeline.store.kek
        self.throttle = SignInThrottle()
        pipeline.on_reset.append(self.throttle.clear)
        pipeline.on_reset.append(oidc.polls.clear)
        pipeline.on_reset.append(oidc.registrations.clear)
        self.hashing = password_hashing()
        self.templates = jinja2.Environment(
            loader=jinja2.PackageLoader("iamd.portal", "templates"),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def routes(self) -> list[BaseRoute]:
        get, post = ["GET"], ["POST"]
        return [
            Route("/", self.index, methods=get),
            Route("/signin", self.signin, methods=post),
            Route("/signout", self.signout, methods=post),
            Route("/mfa", self.mfa_page, methods=get),
            Route("/mfa", self.mfa_code, methods=post),
            Route("/mfa/webauthn/options", self.mfa_webauthn_options, methods=post),
            Route("/mfa/webauthn/verify", self.mfa_webauthn_verify, methods=post),
            Route("/register-mfa", self.register_page, methods=get),
            Route("/register-mfa/totp", self.register_totp, methods=post),
            Route("/register-mfa/webauthn/options", self.register_webauthn_options, methods=post),
            Route("/register-mfa/webauthn/verify", self.register_webauthn_verify, methods=post),
            Route("/credentials", self.credentials, methods=post),
            Route("/settings", self.settings_page, methods=get),
            Route("/settings/password", self.change_password, methods=post),
            Route("/settings/mfa/remove", self.remove_device, methods=post),
            Route("/settings/mfa/totp", self.add_totp, methods=post),
            Route("/settings/mfa/webauthn/options", self.add_webauthn_options, methods=post),
            Route("/settings/mfa/webauthn/verify", self.add_webauthn_verify, methods=post),
            Route("/device", self.device_page, methods=get),
            Route("/device", self.device_decide, methods=post),
            Route("/static/{name}", self.static, methods=get),
        ]

    # -- plumbing ---------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self.pipeline.clock.now()

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

    @staticmethod
    def _source(request: Request) -> str:
        return request.client.host if request.client else "127.0.0.1"

    async def _run(self, work: Callable[[UnitOfWork], T], *, readonly: bool = False) -> T:
        return await run_in_threadpool(self.store.run, work, readonly=readonly)

    def _signin_state(self, request: Request) -> SignIn:
        found = open_signin(self.kek, request.cookies.get(SIGNIN_COOKIE), self._epoch())
        return found or new_signin(self._epoch())

    async def _portal_session(self, request: Request) -> tuple[str, PortalSessionRecord] | None:
        secret = request.cookies.get(COOKIE)
        if not secret:
            return None
        now = self._now()
        record = await self._run(lambda uow: current_session(uow, secret, now), readonly=True)
        return (secret, record) if record is not None else None

    def _finish(
        self, request: Request, response: Response, signin: SignIn | None = None, *, csp: str = CSP
    ) -> Response:
        if signin is not None:
            response.set_cookie(
                SIGNIN_COOKIE,
                seal_signin(self.kek, signin),
                max_age=max(60, signin.expires_at - self._epoch()),
                path="/",
                secure=self._secure(request),
                httponly=True,
                samesite="lax",
            )
        return protect(response, csp)

    def _render(
        self,
        request: Request,
        template: str,
        *,
        csrf: str,
        signin: SignIn | None = None,
        status: int = 200,
        who: str | None = None,
        headers: dict[str, str] | None = None,
        csp: str = CSP,
        **context: Any,
    ) -> Response:
        context.setdefault("title", "AWS access portal")
        html = self.templates.get_template(template).render(base=PREFIX, csrf=csrf, who=who, **context)
        response = HTMLResponse(html, status_code=status, headers=headers)
        return self._finish(request, response, signin, csp=csp)

    def _redirect(self, request: Request, target: str, signin: SignIn | None = None) -> Response:
        return self._finish(request, RedirectResponse(target, status_code=303), signin)

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
            raise _Refused(413, "The request is too large.")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise _Refused(413, "The request is too large.")
        return body

    async def _form(self, request: Request, csrf: str) -> dict[str, str]:
        body = await self._body(request, "application/x-www-form-urlencoded")
        try:
            parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=32)
        except (UnicodeDecodeError, ValueError) as exc:
            raise _Refused(400, "The form could not be read.") from exc
        form = {key: values[0] for key, values in parsed.items()}
        if not constant_time_equals(form.get("csrf", ""), csrf):
            raise _Refused(
                403, "The form expired or did not come from this portal. Reload the page and try again."
            )
        return form

    async def _json(self, request: Request, csrf: str) -> dict[str, Any]:
        body = await self._body(request, "application/json")
        if not constant_time_equals(request.headers.get("x-csrf-token", ""), csrf):
            raise _Refused(403, "The request did not come from this portal. Reload the page and try again.")
        try:
            data = jsontext.loads(body or b"{}")
        except jsontext.JsonTextError as exc:
            raise _Refused(400, f"The request is not JSON: {exc}.") from exc
        if not isinstance(data, dict):
            raise _Refused(400, "The request is not a JSON object.")
        return data

    def _refused(
        self, request: Request, refused: _Refused, csrf: str = "", *, json_answer: bool = False
    ) -> Response:
        if json_answer:
            return self._finish(request, JSONResponse({"error": refused.message}, status_code=refused.status))
        return self._render(
            request,
            "message.html",
            csrf=csrf,
            status=refused.status,
            title="Request refused",
            error=refused.message,
        )

    def _instance(self, uow: UnitOfWork) -> InstanceRecord | None:
        """The instance this portal signs in to: the organization instance, else the only one."""
        instances = uow.identity_center.list_instances()
        organization = [i for i in instances if i.is_organization_instance]
        if organization:
            return organization[0]
        return instances[0] if len(instances) == 1 else None

    def _record(
        self,
        request: Request,
        *,
        account_id: str,
        user_id: str | None,
        user_name: str,
        success: bool,
        detail: str,
        session: PortalSessionRecord | None = None,
    ) -> None:
        """A sign-in event on the trail (``signin.amazonaws.com`` ``UserAuthentication``)."""
        trail = self.pipeline.trail
        if trail is None:
            return
        now = self._now()
        event_id = str(uuid.uuid4())
        identity = Identity("Unknown", principal_id=user_id, account_id=account_id, user_name=user_name)
        if success and session is not None:
            identity = identity_center_user(
                account_id=account_id,
                user_id=session.user_id,
                user_name=user_name,
                store_id=session.store_id,
                credential_id=session.id,
            )
        record: dict[str, Any] = {
            "eventVersion": "1.08",
            "userIdentity": identity.to_json(),
            "eventTime": cloudtrail_time(now),
            "eventSource": "signin.amazonaws.com",
            "eventName": "UserAuthentication",
            "awsRegion": "us-east-1",
            "sourceIPAddress": self._source(request),
            "userAgent": request.headers.get("user-agent", "")[:512],
        }
        if not success:
            record["errorMessage"] = "Failed authentication"
        record.update(
            {
                "requestParameters": None,
                "responseElements": None,
                "additionalEventData": {
                    "AuthWorkflowID": event_id,
                    "LoginTo": f"{self._origin(request)}{PREFIX}/",
                    "CredentialType": detail,
                },
                "eventID": event_id,
                "readOnly": False,
                "eventType": "AwsServiceEvent",
                "managementEvent": True,
                "recipientAccountId": account_id,
                "eventCategory": "Management",
            }
        )
        event = AuditEvent(
            event_id=event_id,
            account_id=account_id,
            event_time=now,
            event_name="UserAuthentication",
            event_source="signin.amazonaws.com",
            username=user_name,
            access_key_id=None,
            entity_id=None,
            entity_arn=None,
            service="signin",
            region="us-east-1",
            read_only=False,
            error_code=None if success else "Failed authentication",
            counts_as_access=False,
            record=record_json(record),
        )
        try:
            trail.writer.submit([event])
        except Exception:
            log.exception("trail: could not queue a portal sign-in event")

    # -- pages ------------------------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        found = await self._portal_session(request)
        if found is not None:
            return await self._home(request, *found)
        signin = self._signin_state(request)
        if request.query_params.get("restart"):
            signin = new_signin(self._epoch())
        target = _local_next(request.query_params.get("next", ""))
        if target:
            signin = signin.with_changes(next=target)
        if signin.stage == "mfa":
            return self._redirect(request, f"{PREFIX}/mfa", signin)
        if signin.stage == "register-mfa":
            return self._redirect(request, f"{PREFIX}/register-mfa", signin)
        instance, external = await self._run(self._identity_source, readonly=True)
        if instance is not None and external:
            # The identity source is an external IdP: people sign in there (SP-initiated SAML), and
            # the relay state brings them back to the page they asked for (a device approval, a
            # PKCE authorization) once the assertion consumer has started their session.
            relay = target or _local_next(signin.next) or f"{PREFIX}/"
            login = f"{SAML_PREFIX}/login/{instance.identity_store_id}?next={quote(relay, safe='')}"
            return self._redirect(request, login)
        return self._render(
            request, "signin.html", csrf=signin.csrf, signin=signin, enabled=instance is not None, username=""
        )

    def _identity_source(self, uow: UnitOfWork) -> tuple[InstanceRecord | None, bool]:
        """The portal's instance and whether its identity store signs in at an external IdP."""
        instance = self._instance(uow)
        if instance is None:
            return None, False
        idp = uow.identity_credentials.saml_idp(instance.identity_store_id)
        return instance, idp is not None and bool(idp.sso_url)

    async def _home(
        self, request: Request, secret: str, session: PortalSessionRecord, **extra: Any
    ) -> Response:
        def read(uow: UnitOfWork) -> list[dict[str, Any]]:
            accounts: dict[str, dict[str, Any]] = {}
            for access in person_access(uow, session):
                entry = accounts.get(access.account_id)
                if entry is None:
                    record = uow.accounts.find(access.account_id)
                    entry = accounts[access.account_id] = {
                        "id": access.account_id,
                        "name": record.name if record else access.account_id,
                        "email": record.email if record else None,
                        "roles": [],
                    }
                entry["roles"].append(access.permission_set_name)
            return list(accounts.values())

        accounts = await self._run(read, readonly=True)
        return self._render(
            request, "home.html", csrf=csrf_of(secret), who=session.user_name, accounts=accounts, **extra
        )

    async def signin(self, request: Request) -> Response:
        signin = self._signin_state(request)
        try:
            form = await self._form(request, signin.csrf)
        except _Refused as refused:
            return self._refused(request, refused, signin.csrf)
        user_name = form.get("username", "").strip()[:128]
        password = form.get("password", "")[:256]
        instance, external = await self._run(self._identity_source, readonly=True)
        if instance is None:
            return self._render(
                request, "signin.html", csrf=signin.csrf, signin=signin, enabled=False, username=""
            )
        if external:  # no identity-store passwords when the identity source is an external IdP
            relay = _local_next(signin.next) or f"{PREFIX}/"
            login = f"{SAML_PREFIX}/login/{instance.identity_store_id}?next={quote(relay, safe='')}"
            return self._redirect(request, login)

        def again(error: str, status: int, headers: dict[str, str] | None = None) -> Response:
            return self._render(
                request,
                "signin.html",
                csrf=signin.csrf,
                signin=signin,
                status=status,
                headers=headers,
                enabled=True,
                username=user_name,
                error=error,
            )

        key = f"portal:{instance.identity_store_id}:{user_name.lower()}"
        source = self._source(request)
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

        def check(uow: UnitOfWork) -> tuple[IdsUserRecord | None, int]:
            user = verify_password(uow, self.hashing, instance.identity_store_id, user_name, password)
            devices = uow.identity_credentials.mfa_devices(user.store_id, user.id) if user is not None else ()
            return user, len(devices)

        user, devices = await self._run(check, readonly=True)
        if user is None:
            self.throttle.failure(key, source, time.monotonic())
            self._record(
                request,
                account_id=instance.owner_account_id,
                user_id=None,
                user_name=user_name or "HIDDEN_DUE_TO_SECURITY_REASONS",
                success=False,
                detail="PASSWORD",
            )
            return again(BAD_SIGN_IN, 401)
        self.throttle.success(key, source)
        stage = "mfa" if devices else "register-mfa"
        pending = new_signin(self._epoch(), signin.next).with_changes(
            stage=stage,
            instance_arn=instance.arn,
            store_id=user.store_id,
            user_id=user.id,
            user_name=user.user_name,
        )
        return self._redirect(request, f"{PREFIX}/{stage}", pending)

    async def _pending_user(self, signin: SignIn) -> tuple[InstanceRecord, IdsUserRecord] | None:
        if signin.user_id is None or signin.store_id is None or signin.instance_arn is None:
            return None
        store_id, user_id, instance_arn = signin.store_id, signin.user_id, signin.instance_arn

        def read(uow: UnitOfWork) -> tuple[InstanceRecord, IdsUserRecord] | None:
            instance = uow.identity_center.find_instance(instance_arn)
            user = uow.identity_store.find_user(store_id, user_id)
            if instance is None or user is None or not user.enabled:
                return None
            return instance, user

        return await self._run(read, readonly=True)

    async def _signed_in(
        self,
        request: Request,
        signin: SignIn,
        instance: InstanceRecord,
        user: IdsUserRecord,
        *,
        json_answer: bool,
    ) -> Response:
        """Every factor verified: begin the portal session, go where the person was going."""
        now = self._now()
        source = self._source(request)

        def begin(uow: UnitOfWork) -> tuple[str, PortalSessionRecord]:
            return start_session(
                uow, instance_arn=instance.arn, user=user, via="password", mfa=True, now=now, source_ip=source
            )

        secret, record = await self._run(begin)
        self._record(
            request,
            account_id=instance.owner_account_id,
            user_id=user.id,
            user_name=user.user_name,
            success=True,
            detail="PASSWORD+MFA",
            session=record,
        )
        target = _local_next(signin.next) or f"{PREFIX}/"
        response: Response = (
            JSONResponse({"next": target}) if json_answer else RedirectResponse(target, status_code=303)
        )
        set_session_cookie(
            response,
            secret,
            secure=self._secure(request),
            max_age=int((record.expires_at - now).total_seconds()),
        )
        return self._finish(request, response)

    # -- the second factor ------------------------------------------------------------------------

    async def mfa_page(self, request: Request) -> Response:
        signin = self._signin_state(request)
        if signin.stage != "mfa":
            return self._redirect(request, f"{PREFIX}/")
        found = await self._pending_user(signin)
        if found is None:
            return self._redirect(request, f"{PREFIX}/", new_signin(self._epoch()))
        _, user = found
        kinds = await self._run(
            lambda uow: {d.kind for d in uow.identity_credentials.mfa_devices(user.store_id, user.id)},
            readonly=True,
        )
        return self._render(
            request,
            "mfa.html",
            csrf=signin.csrf,
            signin=signin,
            totp="totp" in kinds,
            webauthn="webauthn" in kinds,
        )

    async def mfa_code(self, request: Request) -> Response:
        signin = self._signin_state(request)
        try:
            form = await self._form(request, signin.csrf)
        except _Refused as refused:
            return self._refused(request, refused, signin.csrf)
        found = await self._pending_user(signin) if signin.stage == "mfa" else None
        if found is None:
            return self._redirect(request, f"{PREFIX}/", new_signin(self._epoch()))
        instance, user = found
        code = form.get("code", "").strip()[:16]
        key = f"portal-mfa:{user.id}"
        source = self._source(request)
        wait = self.throttle.wait_for(key, source, time.monotonic())
        now = self._now()
        device = None
        if wait <= 0:
            device = await self._run(lambda uow: verify_totp(uow, user, code, now=now))
        if device is None:
            if wait <= 0:
                self.throttle.failure(key, source, time.monotonic())
            self._record(
                request,
                account_id=instance.owner_account_id,
                user_id=user.id,
                user_name=user.user_name,
                success=False,
                detail="TOTP",
            )
            kinds = await self._run(
                lambda uow: {d.kind for d in uow.identity_credentials.mfa_devices(user.store_id, user.id)},
                readonly=True,
            )
            return self._render(
                request,
                "mfa.html",
                csrf=signin.csrf,
                signin=signin,
                status=401,
                error=BAD_CODE,
                totp="totp" in kinds,
                webauthn="webauthn" in kinds,
            )
        self.throttle.success(key, source)
        return await self._signed_in(request, signin, instance, user, json_answer=False)

    async def mfa_webauthn_options(self, request: Request) -> Response:
        signin = self._signin_state(request)
        try:
            await self._json(request, signin.csrf)
        except _Refused as refused:
            return self._refused(request, refused, json_answer=True)
        found = await self._pending_user(signin) if signin.stage == "mfa" else None
        if found is None:
            return self._finish(request, JSONResponse({"error": "Sign in again."}, status_code=401))
        _, user = found
        ids = await self._run(
            lambda uow: [
                d.credential_id
                for d in uow.identity_credentials.mfa_devices(user.store_id, user.id)
                if d.kind == "webauthn" and d.credential_id
            ],
            readonly=True,
        )
        options, challenge = wa.authentication_options(rp_id=self._rp_id(request), allow=ids)
        signin = signin.with_changes(challenge=wa.b64url(challenge), challenge_kind="authenticate")
        return self._finish(request, Response(options, media_type="application/json"), signin)

    async def _pending_challenge(
        self, request: Request, *, stage: str, kind: str
    ) -> Response | tuple[SignIn, dict[str, Any], InstanceRecord, IdsUserRecord, bytes]:
        """The WebAuthn answer of a sign-in at ``stage`` whose challenge is of ``kind``: the
        sign-in, the posted JSON, the instance, the person and the challenge; or the response refusing it (bad
        CSRF or body, or no such challenge pending: "Sign in again.")."""
        signin = self._signin_state(request)
        try:
            data = await self._json(request, signin.csrf)
        except _Refused as refused:
            return self._refused(request, refused, json_answer=True)
        found = await self._pending_user(signin) if signin.stage == stage else None
        if found is None or signin.challenge is None or signin.challenge_kind != kind:
            return self._finish(request, JSONResponse({"error": "Sign in again."}, status_code=401))
        instance, user = found
        return signin, data, instance, user, wa.from_b64url(signin.challenge)

    async def mfa_webauthn_verify(self, request: Request) -> Response:
        pending = await self._pending_challenge(request, stage="mfa", kind="authenticate")
        if isinstance(pending, Response):
            return pending
        signin, data, instance, user, challenge = pending
        credential = data.get("credential")
        cleared = signin.with_changes(challenge=None, challenge_kind=None)
        now = self._now()
        origin = self._origin(request)
        rp_id = self._rp_id(request)

        def check(uow: UnitOfWork) -> bool:
            if not isinstance(credential, dict):
                return False
            device = uow.identity_credentials.find_webauthn_device(
                user.store_id, wa.credential_id_of(credential)
            )
            if device is None or device.user_id != user.id or device.public_key is None:
                return False
            record = wa.CredentialRecord(
                public_key=device.public_key, rp_id=rp_id, backup_eligible=False, backed_up=False, aaguid=""
            )
            count, _ = wa.verify_authentication(
                credential,
                challenge=challenge,
                origin=origin,
                record=record,
                sign_count=device.sign_count or 0,
            )
            uow.identity_credentials.record_webauthn_use(device.id, count, used_at=now)
            return True

        try:
            verified = await self._run(check)
        except (wa.WebAuthnError, ValueError, binascii.Error):
            verified = False
        if not verified:
            self._record(
                request,
                account_id=instance.owner_account_id,
                user_id=user.id,
                user_name=user.user_name,
                success=False,
                detail="WEBAUTHN",
            )
            return self._finish(
                request,
                JSONResponse({"error": "The security key was not accepted."}, status_code=401),
                cleared,
            )
        return await self._signed_in(request, cleared, instance, user, json_answer=True)

    # -- registering a first device at sign-in ------------------------------------------------------

    async def register_page(self, request: Request) -> Response:
        signin = self._signin_state(request)
        if signin.stage != "register-mfa":
            return self._redirect(request, f"{PREFIX}/")
        found = await self._pending_user(signin)
        if found is None:
            return self._redirect(request, f"{PREFIX}/", new_signin(self._epoch()))
        _, user = found
        if signin.seed is None:
            signin = signin.with_changes(seed=totp.base32_seed(totp.new_seed()))
        return self._register_render(request, signin, user)

    def _register_render(
        self,
        request: Request,
        signin: SignIn,
        user: IdsUserRecord,
        *,
        status: int = 200,
        error: str | None = None,
    ) -> Response:
        assert signin.seed is not None
        seed = base64.b32decode(signin.seed + "=" * (-len(signin.seed) % 8))
        uri = totp.provisioning_uri(seed, account_label=user.user_name, issuer="iamd access portal")
        qr = base64.b64encode(totp.qr_png(uri)).decode("ascii")
        return self._render(
            request,
            "register_mfa.html",
            csrf=signin.csrf,
            signin=signin,
            status=status,
            error=error,
            seed=signin.seed,
            qr=qr,
            user_name=user.user_name,
            next_url=_local_next(signin.next) or f"{PREFIX}/",
        )

    async def register_totp(self, request: Request) -> Response:
        signin = self._signin_state(request)
        try:
            form = await self._form(request, signin.csrf)
        except _Refused as refused:
            return self._refused(request, refused, signin.csrf)
        found = await self._pending_user(signin) if signin.stage == "register-mfa" else None
        if found is None or signin.seed is None:
            return self._redirect(request, f"{PREFIX}/", new_signin(self._epoch()))
        instance, user = found
        seed = base64.b32decode(signin.seed + "=" * (-len(signin.seed) % 8))
        name = (form.get("name", "").strip() or "Authenticator app")[:64]
        now = self._now()
        counter = totp.match(seed, form.get("code", "").strip()[:16], now)
        if counter is None:
            return self._register_render(request, signin, user, status=400, error=BAD_CODE)

        def add(uow: UnitOfWork) -> None:
            device = uow.identity_credentials.add_totp_device(
                user.store_id, user.id, device_id=str(uuid.uuid4()), name=name, seed=seed, created_at=now
            )
            uow.identity_credentials.accept_totp_counter(device.id, counter, used_at=now)

        try:
            await self._run(add)
        except store_errors.StoreError as exc:
            return self._register_render(request, signin, user, status=409, error=str(exc))
        return await self._signed_in(
            request, signin.with_changes(seed=None), instance, user, json_answer=False
        )

    async def register_webauthn_options(self, request: Request) -> Response:
        signin = self._signin_state(request)
        try:
            await self._json(request, signin.csrf)
        except _Refused as refused:
            return self._refused(request, refused, json_answer=True)
        found = await self._pending_user(signin) if signin.stage == "register-mfa" else None
        if found is None:
            return self._finish(request, JSONResponse({"error": "Sign in again."}, status_code=401))
        _, user = found
        options, challenge = wa.registration_options(
            rp_id=self._rp_id(request),
            rp_name="iamd access portal",
            user_name=user.user_name,
            user_handle=user.id.encode("utf-8")[:64],
            display_name=user.display_name or user.user_name,
            exclude=[],
        )
        signin = signin.with_changes(challenge=wa.b64url(challenge), challenge_kind="register")
        return self._finish(request, Response(options, media_type="application/json"), signin)

    async def register_webauthn_verify(self, request: Request) -> Response:
        pending = await self._pending_challenge(request, stage="register-mfa", kind="register")
        if isinstance(pending, Response):
            return pending
        signin, data, instance, user, challenge = pending
        error = await self._add_passkey(request, user, data, challenge)
        cleared = signin.with_changes(challenge=None, challenge_kind=None)
        if error is not None:
            return self._finish(request, JSONResponse({"error": error}, status_code=400), cleared)
        return await self._signed_in(request, cleared, instance, user, json_answer=True)

    async def _add_passkey(
        self, request: Request, user: IdsUserRecord, data: dict[str, Any], challenge: bytes
    ) -> str | None:
        credential = data.get("credential")
        name = (str(data.get("name") or "").strip() or "Passkey")[:64]
        if not isinstance(credential, dict):
            return "The answer names no credential."
        try:
            registered = wa.verify_registration(
                credential, challenge=challenge, rp_id=self._rp_id(request), origin=self._origin(request)
            )
        except wa.WebAuthnError as exc:
            return f"The passkey or security key was not accepted: {exc}"
        now = self._now()
        transports = tuple(str(t) for t in (credential.get("response") or {}).get("transports") or ())[:8]

        def add(uow: UnitOfWork) -> None:
            uow.identity_credentials.add_webauthn_device(
                user.store_id,
                user.id,
                device_id=str(uuid.uuid4()),
                name=name,
                credential_id=registered.credential_id,
                public_key=registered.record.public_key,
                sign_count=registered.sign_count,
                created_at=now,
                transports=transports,
            )

        try:
            await self._run(add)
        except store_errors.StoreError as exc:
            return str(exc)
        return None

    # -- signed in --------------------------------------------------------------------------------

    async def _signed_in_action(
        self, request: Request
    ) -> tuple[str, PortalSessionRecord, dict[str, str]] | Response:
        found = await self._portal_session(request)
        if found is None:
            return self._redirect(request, f"{PREFIX}/")
        secret, session = found
        try:
            form = await self._form(request, csrf_of(secret))
        except _Refused as refused:
            return self._refused(request, refused, csrf_of(secret))
        return secret, session, form

    async def signout(self, request: Request) -> Response:
        got = await self._signed_in_action(request)
        if isinstance(got, Response):
            return got
        _, session, _ = got
        now = self._now()
        await self._run(lambda uow: uow.sso_portal.revoke_session(session.id, now))
        response = self._redirect(request, f"{PREFIX}/", new_signin(self._epoch()))
        response.delete_cookie(COOKIE, path="/")
        return response

    async def credentials(self, request: Request) -> Response:
        got = await self._signed_in_action(request)
        if isinstance(got, Response):
            return got
        secret, session, form = got
        account_id = form.get("account_id", "")[:12]
        role_name = form.get("role_name", "")[:32]
        now = self._now()
        info = RequestInfo(
            request_id=str(uuid.uuid4()),
            service="sso",
            operation="GetRoleCredentials",
            region="us-east-1",
            source_ip=self._source(request),
            user_agent=request.headers.get("user-agent", "")[:512],
            secure_transport=self._secure(request),
            received_at=now,
            base_url=self._origin(request),
        )

        def issue(uow: UnitOfWork) -> dict[str, Any]:
            issued = issue_role_session(
                uow,
                session=session,
                account_id=account_id,
                role_name=role_name,
                ids=self.pipeline.ids,
                info=info,
                now=now,
            )
            return {
                "access_key_id": issued.session.access_key_id,
                "secret_access_key": issued.session.secret_access_key,
                "session_token": issued.token,
                "expiration": issued.expiration,
            }

        try:
            creds = await self._run(issue, readonly=True)
        except AwsError as error:
            return await self._home(request, secret, session, error=f"{error.code}: {error.message}")
        return self._render(
            request,
            "credentials.html",
            csrf=csrf_of(secret),
            who=session.user_name,
            account_id=account_id,
            role_name=role_name,
            creds=creds,
        )

    async def settings_page(self, request: Request) -> Response:
        found = await self._portal_session(request)
        if found is None:
            return self._redirect(request, f"{PREFIX}/")
        return await self._settings(request, *found)

    async def _settings(
        self,
        request: Request,
        secret: str,
        session: PortalSessionRecord,
        *,
        status: int = 200,
        fresh: bool = False,
        **extra: Any,
    ) -> Response:
        """``fresh``: offer a new authenticator app secret (the last one was just registered)."""
        devices = await self._run(
            lambda uow: uow.identity_credentials.mfa_devices(session.store_id, session.user_id), readonly=True
        )
        # A new authenticator app's secret waits in the sealed sign-in cookie until a code proves it.
        pending = self._signin_state(request)
        if fresh or pending.seed is None or pending.user_id != session.user_id:
            pending = pending.with_changes(seed=totp.base32_seed(totp.new_seed()), user_id=session.user_id)
        assert pending.seed is not None
        seed = base64.b32decode(pending.seed + "=" * (-len(pending.seed) % 8))
        uri = totp.provisioning_uri(seed, account_label=session.user_name, issuer="iamd access portal")
        qr = base64.b64encode(totp.qr_png(uri)).decode("ascii")
        return self._render(
            request,
            "settings.html",
            csrf=csrf_of(secret),
            signin=pending,
            who=session.user_name,
            devices=devices,
            status=status,
            seed=pending.seed,
            qr=qr,
            **extra,
        )

    async def add_totp(self, request: Request) -> Response:
        got = await self._signed_in_action(request)
        if isinstance(got, Response):
            return got
        secret, session, form = got
        pending = self._signin_state(request)
        if pending.seed is None or pending.user_id != session.user_id:
            return await self._settings(
                request, secret, session, status=400, error="Scan the new QR code first."
            )
        seed = base64.b32decode(pending.seed + "=" * (-len(pending.seed) % 8))
        now = self._now()
        counter = totp.match(seed, form.get("code", "").strip()[:16], now)
        if counter is None:
            return await self._settings(request, secret, session, status=400, error=BAD_CODE)
        name = (form.get("name", "").strip() or "Authenticator app")[:64]

        def add(uow: UnitOfWork) -> None:
            device = uow.identity_credentials.add_totp_device(
                session.store_id,
                session.user_id,
                device_id=str(uuid.uuid4()),
                name=name,
                seed=seed,
                created_at=now,
            )
            uow.identity_credentials.accept_totp_counter(device.id, counter, used_at=now)

        try:
            await self._run(add)
        except store_errors.StoreError as exc:
            return await self._settings(request, secret, session, status=409, error=str(exc))
        return await self._settings(
            request, secret, session, fresh=True, message="The authenticator app was registered."
        )

    async def _signed_in_json(
        self, request: Request
    ) -> tuple[PortalSessionRecord, dict[str, Any]] | Response:
        found = await self._portal_session(request)
        if found is None:
            return self._finish(request, JSONResponse({"error": "Sign in again."}, status_code=401))
        secret, session = found
        try:
            return session, await self._json(request, csrf_of(secret))
        except _Refused as refused:
            return self._refused(request, refused, json_answer=True)

    async def add_webauthn_options(self, request: Request) -> Response:
        got = await self._signed_in_json(request)
        if isinstance(got, Response):
            return got
        session, _ = got

        def read(uow: UnitOfWork) -> tuple[IdsUserRecord | None, list[bytes]]:
            user = uow.identity_store.find_user(session.store_id, session.user_id)
            devices = uow.identity_credentials.mfa_devices(session.store_id, session.user_id)
            return user, [d.credential_id for d in devices if d.credential_id]

        user, existing = await self._run(read, readonly=True)
        if user is None:
            return self._finish(request, JSONResponse({"error": "Sign in again."}, status_code=401))
        options, challenge = wa.registration_options(
            rp_id=self._rp_id(request),
            rp_name="iamd access portal",
            user_name=user.user_name,
            user_handle=user.id.encode("utf-8")[:64],
            display_name=user.display_name or user.user_name,
            exclude=existing,
        )
        pending = self._signin_state(request).with_changes(
            challenge=wa.b64url(challenge), challenge_kind="add", user_id=session.user_id
        )
        return self._finish(request, Response(options, media_type="application/json"), pending)

    async def add_webauthn_verify(self, request: Request) -> Response:
        got = await self._signed_in_json(request)
        if isinstance(got, Response):
            return got
        session, data = got
        pending = self._signin_state(request)
        if pending.challenge is None or pending.challenge_kind != "add" or pending.user_id != session.user_id:
            return self._finish(request, JSONResponse({"error": "Start again."}, status_code=400))
        user = await self._run(
            lambda uow: uow.identity_store.find_user(session.store_id, session.user_id), readonly=True
        )
        if user is None:
            return self._finish(request, JSONResponse({"error": "Sign in again."}, status_code=401))
        error = await self._add_passkey(request, user, data, wa.from_b64url(pending.challenge))
        cleared = pending.with_changes(challenge=None, challenge_kind=None)
        if error is not None:
            return self._finish(request, JSONResponse({"error": error}, status_code=400), cleared)
        return self._finish(request, JSONResponse({"next": f"{PREFIX}/settings"}), cleared)

    async def change_password(self, request: Request) -> Response:
        got = await self._signed_in_action(request)
        if isinstance(got, Response):
            return got
        secret, session, form = got
        current = form.get("current", "")[:256]
        new = form.get("new", "")[:256]
        if new != form.get("confirm", "")[:256]:
            return await self._settings(
                request, secret, session, status=400, error="The new passwords do not match."
            )
        now = self._now()

        def change(uow: UnitOfWork) -> str | None:
            user = verify_password(uow, self.hashing, session.store_id, session.user_name, current)
            if user is None or user.id != session.user_id:
                return "The current password is incorrect."
            try:
                set_password(uow, self.hashing, user, new, now=now)
            except PasswordRejected as rejected:
                return str(rejected)
            return None

        problem = await self._run(change)
        if problem is not None:
            return await self._settings(request, secret, session, status=400, error=problem)
        return await self._settings(request, secret, session, message="Your password was changed.")

    async def remove_device(self, request: Request) -> Response:
        got = await self._signed_in_action(request)
        if isinstance(got, Response):
            return got
        secret, session, form = got
        device_id = form.get("device_id", "")[:64]
        try:
            await self._run(
                lambda uow: uow.identity_credentials.remove_mfa_device(
                    session.store_id, session.user_id, device_id
                )
            )
        except store_errors.NotFound:
            return await self._settings(request, secret, session, status=404, error="No such MFA device.")
        return await self._settings(request, secret, session, message="The MFA device was removed.")

    # -- device authorization ---------------------------------------------------------------------

    async def device_page(self, request: Request) -> Response:
        code = _user_code(request.query_params.get("user_code", ""))
        found = await self._portal_session(request)
        if found is None:
            target = f"{PREFIX}/device" + (f"?user_code={code}" if code else "")
            return self._redirect(request, f"{PREFIX}/?next={quote(target, safe='')}")
        secret, session = found
        return await self._device(request, secret, session, code)

    async def _device(
        self,
        request: Request,
        secret: str,
        session: PortalSessionRecord,
        code: str,
        *,
        status: int = 200,
        error: str | None = None,
    ) -> Response:
        now = self._now()

        def read(uow: UnitOfWork) -> str | None:
            if not code:
                return None
            found = uow.sso_portal.authorization_by_user_code(code)
            if found is None or found.status != "pending" or found.expires_at <= now:
                return None
            client = uow.sso_portal.find_client(found.client_id)
            return client.client_name if client is not None else None

        client_name = await self._run(read, readonly=True)
        if code and client_name is None and error is None:
            error, status = (
                "This code is not valid, or it expired or was used. Start again in the terminal.",
                404,
            )
        return self._render(
            request,
            "device.html",
            csrf=csrf_of(secret),
            who=session.user_name,
            code=code if client_name else "",
            client_name=client_name,
            status=status,
            error=error,
        )

    async def device_decide(self, request: Request) -> Response:
        got = await self._signed_in_action(request)
        if isinstance(got, Response):
            return got
        secret, session, form = got
        code = _user_code(form.get("user_code", ""))
        approve = form.get("decision") == "approve"
        now = self._now()

        def decide(uow: UnitOfWork) -> bool:
            found = uow.sso_portal.authorization_by_user_code(code) if code else None
            if found is None or found.kind != "device" or found.expires_at <= now:
                return False
            return uow.sso_portal.decide(
                found.id, approved=approve, instance_arn=session.instance_arn, portal_session_id=session.id
            )

        if not await self._run(decide):
            return await self._device(
                request,
                secret,
                session,
                "",
                status=404,
                error="This code is not valid, or it expired or was used. Start again in the terminal.",
            )
        return self._render(
            request, "device_done.html", csrf=csrf_of(secret), who=session.user_name, approved=approve
        )

    # -- static -----------------------------------------------------------------------------------

    async def static(self, request: Request) -> Response:
        name = str(request.path_params["name"])
        media = STATIC.get(name)
        if media is None:
            return Response("Not found", status_code=404, media_type="text/plain")
        body = resources.files("iamd.console").joinpath("static", name).read_bytes()
        return Response(
            body,
            media_type=media,
            headers={"Cache-Control": "max-age=300", "X-Content-Type-Options": "nosniff"},
        )

    # -- the authorization endpoint (PKCE) ----------------------------------------------------------

    def _authorization_request(
        self, uow: UnitOfWork, query: dict[str, str]
    ) -> tuple[Any, dict[str, str]] | str:
        """The client and the checked parameters of an authorization request, or what is wrong."""
        client = uow.sso_portal.find_client(query.get("client_id", "")[:128])
        if client is None or client.expires_at <= self._now():
            return "The application is not registered, or its registration expired."
        if oidc.AUTHORIZATION_CODE not in client.grant_types:
            return "The application did not register for the authorization-code grant."
        redirect_uri = query.get("redirect_uri", "")[:1024]
        if not oidc.check_redirect(client, redirect_uri):
            return "The redirect URI is not one the application registered."
        challenge = query.get("code_challenge", "")
        if (
            query.get("response_type") != "code"
            or query.get("code_challenge_method", "S256") != "S256"
            or not 43 <= len(challenge) <= 128
        ):
            return "The request must ask for a code with an S256 code challenge (PKCE)."
        return client, {
            "client_id": client.client_id,
            "redirect_uri": redirect_uri,
            "state": query.get("state", "")[:512],
            "code_challenge": challenge,
            "scopes": query.get("scopes", query.get("scope", ""))[:1024],
        }

    async def authorize_page(self, request: Request) -> Response:
        query = {k: v for k, v in request.query_params.items()}
        checked = await self._run(lambda uow: self._authorization_request(uow, query), readonly=True)
        found = await self._portal_session(request)
        if isinstance(checked, str):
            return self._render(
                request, "message.html", csrf="", status=400, title="Request refused", error=checked
            )
        if found is None:
            target = "/authorize?" + urlencode(query)
            return self._redirect(request, f"{PREFIX}/?next={quote(target, safe='')}")
        secret, session = found
        client, fields = checked
        return self._render(
            request,
            "authorize.html",
            csrf=csrf_of(secret),
            who=session.user_name,
            client_name=client.client_name,
            fields=fields,
            csp=self._csp_to(fields["redirect_uri"]),
        )

    @staticmethod
    def _csp_to(redirect_uri: str) -> str:
        """The portal's policy, letting the consent form's answer redirect to the application."""
        parts = urlsplit(redirect_uri)
        return CSP.replace("form-action 'self'", f"form-action 'self' {parts.scheme}://{parts.netloc}")

    async def authorize(self, request: Request) -> Response:
        got = await self._signed_in_action(request)
        if isinstance(got, Response):
            return got
        _, session, form = got
        now = self._now()

        def decide(uow: UnitOfWork) -> tuple[str, dict[str, str]] | str:
            checked = self._authorization_request(uow, {**form, "response_type": "code"})
            if isinstance(checked, str):
                return checked
            client, fields = checked
            answer: dict[str, str] = {}
            if form.get("decision") == "approve":
                answer["code"] = oidc.approve_code(
                    uow,
                    client,
                    redirect_uri=fields["redirect_uri"],
                    code_challenge=fields["code_challenge"],
                    scopes=[s for s in fields["scopes"].split() if s][:20] or list(client.scopes),
                    state=fields["state"] or None,
                    instance_arn=session.instance_arn,
                    portal_session_id=session.id,
                    now=now,
                )
            else:
                answer["error"] = "access_denied"
            if fields["state"]:
                answer["state"] = fields["state"]
            return fields["redirect_uri"], answer

        result = await self._run(decide)
        if isinstance(result, str):
            return self._render(
                request, "message.html", csrf="", status=400, title="Request refused", error=result
            )
        redirect_uri, answer = result
        target = redirect_uri + ("&" if "?" in redirect_uri else "?") + urlencode(answer)
        return self._finish(
            request, RedirectResponse(target, status_code=303), csp=self._csp_to(redirect_uri)
        )


def portal_routes(pipeline: Pipeline) -> list[BaseRoute]:
    """The portal's routes, to add to the server's application before the AWS pipeline's."""
    portal = Portal(pipeline)
    return [
        Route("/authorize", portal.authorize_page, methods=["GET"]),
        Route("/authorize", portal.authorize, methods=["POST"]),
        Mount(PREFIX, routes=portal.routes()),
    ]
