"""Sign-in and what it may require before the console opens: the password (IAM users by account
and user name, the root user by email), the second factor (TOTP code, security key or passkey),
the password change an administrator or an expiry asks for, and the root user's MFA registration
after its grace period. Every sign-in is a ``ConsoleLogin`` event on the trail.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from iamd.console import identity
from iamd.console.credentials import _home_page
from iamd.console.identity import Candidate, SessionEnded
from iamd.console.kit import REGISTRY, STAGE_PAGES, Kit, Refused, password_rules
from iamd.console.sessions import ConsoleSession, Stage, promote, signed_in
from iamd.secrets.compare import constant_time_equals
from iamd.secrets.passwords import PasswordHashing
from iamd.secrets.webauthn import b64url, from_b64url
from iamd.services.framework import OperationContext, handler_for
from iamd.services.iam import mfa
from iamd.services.iam.owners import Owner
from iamd.services.iam.passwords import (
    PasswordPolicyViolation,
    password_hashing,
    password_problems,
    policy_violation,
)
from iamd.store import errors as store_errors
from iamd.store.records import PasswordPolicyRecord
from iamd.store.unit import UnitOfWork
from iamd.wire import AccessDenied, AwsError

__all__ = ["area"]

log = logging.getLogger(__name__)

BAD_SIGN_IN: Final = "Your authentication information is incorrect. Please try again."
BAD_CODE: Final = "The MFA code is not valid, or was already used. Wait for the next code and try again."

area = REGISTRY.area("signin")


@area.get("/")
async def index(kit: Kit, request: Request) -> Response:
    session = kit._session(request)
    return kit._redirect(request, session, STAGE_PAGES[session.stage])


@area.get("/signin")
async def signin_page(kit: Kit, request: Request) -> Response:
    session = kit._session(request)
    if session.signed_in:
        return kit._redirect(request, session, STAGE_PAGES[session.stage])
    return kit._render(
        request,
        session,
        "signin.html",
        title="Sign in",
        root=request.query_params.get("root") == "1",
        account=request.query_params.get("account", "")[:64],
        username="",
        email="",
    )


@area.post("/signin")
async def signin(kit: Kit, request: Request) -> Response:
    session = kit._session(request)
    try:
        form = await kit._form(request, session)
    except Refused as refused:
        return kit._refused(request, session, refused, json_answer=False)
    root = form.get("kind") == "root"
    password = form.get("password", "")[:512]
    account_ref = form.get("account", "").strip()[:64]
    user_name = form.get("username", "").strip()[:64]
    email = form.get("email", "").strip()[:320]

    def again(error: str, status: int, headers: dict[str, str] | None = None) -> Response:
        return kit._render(
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

    now = kit._now()

    def read(uow: UnitOfWork) -> Candidate:
        if root:
            return identity.find_root_candidate(uow, email)
        return identity.find_user_candidate(uow, account_ref, user_name, now)

    candidate: Candidate = await run_in_threadpool(kit.runner.transaction, read, readonly=True)
    if root:
        key = f"root:{email.lower()}"
    else:
        key = f"user:{candidate.account_id or account_ref.lower()}:{user_name.lower()}"
    source = kit._facts(request).source_ip
    wait = kit.throttle.wait_for(key, source, time.monotonic())
    if wait > 0:
        seconds = int(wait) + 1
        return again(
            f"Too many failed sign-in attempts. Try again in {seconds} seconds.",
            429,
            {"Retry-After": str(seconds)},
        )
    slowdown = kit.throttle.slowdown(key, time.monotonic())
    if slowdown:
        await asyncio.sleep(slowdown)
    verified = await run_in_threadpool(candidate.verify, password)
    if not (verified and candidate.exists):
        kit.throttle.failure(key, source, time.monotonic())
        _record_sign_in(
            kit, request, candidate.account_id, candidate.user_id, success=False, mfa_used=False, root=root
        )
        return again(BAD_SIGN_IN, 401)
    kit.throttle.success(key, source)
    if candidate.expired and candidate.hard_expiry:
        return again("Your password has expired. Ask your administrator to set a new one.", 403)
    new = await run_in_threadpool(kit.runner.transaction, lambda uow: _start(kit, uow, candidate))
    new = kit._replace(session, new)
    if new.stage != "mfa":
        _record_sign_in(kit, request, new.account_id, new.user_id, success=True, mfa_used=False, root=root)
    return kit._redirect(request, new, STAGE_PAGES[new.stage])


def _record_sign_in(
    kit: Kit,
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
    trail = kit.runner.pipeline.trail
    if trail is None or account_id is None:
        return
    facts = kit._facts(request)
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

        found = kit.runner.transaction(read, readonly=True)
        if found is not None:
            user_name, user_arn = found
    elif not root:
        user_name = "HIDDEN_DUE_TO_SECURITY_REASONS"
    try:
        trail.sign_in(
            account_id=account_id,
            at=kit._now(),
            source_ip=facts.source_ip,
            user_agent=facts.user_agent,
            success=success,
            user_id=user_id,
            user_name=user_name,
            user_arn=user_arn,
            root=root,
            mfa_used=mfa_used,
            login_to=f"{kit._origin(request)}{kit.prefix}/",
        )
    except Exception:
        log.exception("trail: could not record a console sign-in")


def _start(kit: Kit, uow: UnitOfWork, candidate: Candidate) -> ConsoleSession:
    """The session a verified password opens (one write transaction)."""
    now = kit._now()
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


@area.post("/signout")
async def signout(kit: Kit, request: Request) -> Response:
    session = kit._session(request)
    try:
        await kit._form(request, session)
    except Refused as refused:
        return kit._refused(request, session, refused, json_answer=False)
    return kit._signed_out(request, session)


def _owner_of(kit: Kit, session: ConsoleSession, uow: UnitOfWork) -> Owner:
    assert session.account_id is not None
    if session.user_id is None:
        return Owner(None, f"arn:aws:iam::{session.account_id}:root")
    user = uow.users.get_by_id(session.user_id)
    return Owner(user, f"arn:aws:iam::{session.account_id}:user{user.path}{user.name}")


def _second_factor_refused(
    kit: Kit, request: Request, session: ConsoleSession, key: str, source: str
) -> None:
    """A wrong code or security key: slows the next attempts, and is a failed sign-in."""
    kit.throttle.failure(key, source, time.monotonic())
    _record_sign_in(
        kit, request, session.account_id, session.user_id, success=False, mfa_used=True, root=session.is_root
    )


def _after_mfa(kit: Kit, request: Request, session: ConsoleSession) -> ConsoleSession:
    _record_sign_in(
        kit, request, session.account_id, session.user_id, success=True, mfa_used=True, root=session.is_root
    )
    now = kit._epoch()
    stage: Stage = "password" if session.must_change_password else "active"
    return kit._replace(session, promote(session, stage, now, mfa_at=now))


@area.get("/mfa")
async def mfa_page(kit: Kit, request: Request) -> Response:
    session = kit._session(request)
    guarded = kit._guard(request, session, "mfa")
    if guarded is not None:
        return guarded

    def kinds(uow: UnitOfWork) -> set[str]:
        assert session.account_id is not None
        return {d.kind for d in uow.mfa.list_for(session.account_id, session.user_id)}

    found = await run_in_threadpool(kit.runner.transaction, kinds, readonly=True)
    return kit._render(
        request,
        session,
        "mfa.html",
        title="Multi-factor authentication",
        has_totp="virtual" in found,
        has_keys="webauthn" in found,
    )


def _mfa_key(kit: Kit, session: ConsoleSession) -> str:
    return f"mfa:{session.account_id}:{session.user_id or 'root'}"


@area.post("/mfa")
async def mfa_code(kit: Kit, request: Request) -> Response:
    session = kit._session(request)
    guarded = kit._guard(request, session, "mfa")
    if guarded is not None:
        return guarded
    try:
        form = await kit._form(request, session)
    except Refused as refused:
        return kit._refused(request, session, refused, json_answer=False)
    code = form.get("code", "").strip()
    key, source = _mfa_key(kit, session), kit._facts(request).source_ip
    wait = kit.throttle.wait_for(key, source, time.monotonic())
    if wait > 0:
        seconds = int(wait) + 1
        return kit._render(
            request,
            session,
            "mfa.html",
            status=429,
            headers={"Retry-After": str(seconds)},
            title="Multi-factor authentication",
            has_totp=True,
            error=f"Too many failed attempts. Try again in {seconds} seconds.",
        )
    now = kit._now()

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

    if not await run_in_threadpool(kit.runner.transaction, check):
        _second_factor_refused(kit, request, session, key, source)
        return kit._render(
            request,
            session,
            "mfa.html",
            status=401,
            title="Multi-factor authentication",
            has_totp=True,
            error=BAD_CODE,
        )
    kit.throttle.success(key, source)
    new = _after_mfa(kit, request, session)
    return kit._redirect(request, new, STAGE_PAGES[new.stage])


@area.post("/mfa/webauthn/options")
async def mfa_webauthn_options(kit: Kit, request: Request) -> Response:
    session = kit._session(request)
    if session.stage != "mfa":
        return kit._finish(request, JSONResponse({"error": "Not expecting a second factor."}, 409), None)
    try:
        await kit._json(request, session)
    except Refused as refused:
        return kit._refused(request, session, refused, json_answer=True)
    rp_id = kit._rp_id(request)

    def options(uow: UnitOfWork) -> tuple[str, bytes] | None:
        assert session.account_id is not None
        return mfa.security_key_authentication_options(
            uow, session.account_id, _owner_of(kit, session, uow), rp_id=rp_id
        )

    found = await run_in_threadpool(kit.runner.transaction, options, readonly=True)
    if found is None:
        return kit._finish(request, JSONResponse({"error": "No security key is registered."}, 404), None)
    text, challenge = found
    new = session.with_changes(challenge=b64url(challenge), challenge_kind="authenticate")
    return kit._finish(request, Response(text, media_type="application/json"), new)


@area.post("/mfa/webauthn/verify")
async def mfa_webauthn_verify(kit: Kit, request: Request) -> Response:
    session = kit._session(request)
    if session.stage != "mfa" or session.challenge_kind != "authenticate" or session.challenge is None:
        return kit._finish(request, JSONResponse({"error": "Start again: no sign-in is pending."}, 409), None)
    try:
        data = await kit._json(request, session)
    except Refused as refused:
        return kit._refused(request, session, refused, json_answer=True)
    credential = data.get("credential")
    key, source = _mfa_key(kit, session), kit._facts(request).source_ip
    if kit.throttle.wait_for(key, source, time.monotonic()) > 0:
        return kit._finish(request, JSONResponse({"error": "Too many failed attempts."}, 429), None)
    challenge, origin = from_b64url(session.challenge), kit._origin(request)

    def check(uow: UnitOfWork) -> bool:
        assert session.account_id is not None
        if not isinstance(credential, dict):
            return False
        return mfa.verify_security_key(
            uow,
            session.account_id,
            _owner_of(kit, session, uow),
            credential,
            challenge=challenge,
            origin=origin,
        )

    cleared = session.with_changes(challenge=None, challenge_kind=None)
    if not await run_in_threadpool(kit.runner.transaction, check):
        _second_factor_refused(kit, request, session, key, source)
        return kit._finish(
            request, JSONResponse({"error": "The security key could not be verified."}, 401), cleared
        )
    kit.throttle.success(key, source)
    new = _after_mfa(kit, request, cleared)
    return kit._finish(request, JSONResponse({"next": kit.prefix + STAGE_PAGES[new.stage]}), new)


@area.get("/password")
async def password_page(kit: Kit, request: Request) -> Response:
    session = kit._session(request)
    guarded = kit._guard(request, session, "password")
    if guarded is not None:
        return guarded
    return await _password_form(kit, request, session)


async def _password_form(
    kit: Kit, request: Request, session: ConsoleSession, *, error: str | None = None, status: int = 200
) -> Response:
    def policy(uow: UnitOfWork) -> PasswordPolicyRecord | None:
        assert session.account_id is not None
        return uow.accounts.password_policy(session.account_id)

    found = await run_in_threadpool(kit.runner.transaction, policy, readonly=True)
    return kit._render(
        request,
        session,
        "password.html",
        status=status,
        title="Change password",
        heading="Change your password",
        reason="Your password must be changed before you continue: it was reset by an administrator "
        "or it has expired.",
        rules=password_rules(found),
        error=error,
    )


@area.post("/password")
async def change_password(kit: Kit, request: Request) -> Response:
    session = kit._session(request)
    guarded = kit._guard(request, session, "password", "active")
    if guarded is not None:
        return guarded
    try:
        form = await kit._form(request, session)
    except Refused as refused:
        return kit._refused(request, session, refused, json_answer=False)
    old, new_password, confirm = form.get("old", ""), form.get("new", ""), form.get("confirm", "")

    async def failed(message: str, status: int) -> Response:
        if session.stage == "password":
            return await _password_form(kit, request, session, error=message, status=status)
        return await _home_page(kit, request, session, error=message, status=status)

    if new_password != confirm:
        return await failed("The new passwords do not match.", 400)
    params = {"OldPassword": old[:512], "NewPassword": new_password[:512]}
    try:
        if session.is_root:
            mark = await kit._run(
                session, request, "ChangePassword", lambda ctx: _change_root_password(ctx, params)
            )
        else:
            mark = await kit._run(
                session, request, "ChangePassword", lambda ctx: _change_user_password(ctx, params)
            )
    except SessionEnded:
        return kit._signed_out(request, session)
    except PasswordPolicyViolation as violation:
        # The API keeps AWS's one sentence; a person is told which rule the password breaks.
        return await failed(violation.explained, violation.status)
    except AwsError as error:
        return await failed(error.message, error.status)
    now = kit._epoch()
    stage: Stage = "active"
    new = kit._replace(
        session,
        promote(session, stage, now, credential_mark=mark, must_change_password=False, notices=()),
    )
    return kit._redirect(request, new, "/home?msg=password-changed")


@area.get("/register-mfa")
async def register_mfa_page(kit: Kit, request: Request) -> Response:
    session = kit._session(request)
    guarded = kit._guard(request, session, "register-mfa")
    if guarded is not None:
        return guarded
    deadline = await run_in_threadpool(_root_deadline, kit, session)
    return kit._render(
        request,
        session,
        "register_mfa.html",
        title="Register MFA",
        deadline=deadline.strftime("%Y-%m-%d") if deadline else "",
    )


def _root_deadline(kit: Kit, session: ConsoleSession) -> datetime | None:
    def read(uow: UnitOfWork) -> datetime | None:
        assert session.account_id is not None
        first = identity.root_first_sign_in(uow, session.account_id)
        return None if first is None else first + identity.ROOT_MFA_GRACE

    result: datetime | None = kit.runner.transaction(read, readonly=True)
    return result


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
