"""The "My security credentials" page (``/home``): the signed-in identity's own password, MFA
devices (authenticator apps, security keys and passkeys) and access keys, each change an IAM call
of that identity (ChangePassword, EnableMFADevice, CreateAccessKey, …).
"""

from __future__ import annotations

import base64
import contextlib
import secrets
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from iamd.console import identity
from iamd.console.identity import SessionEnded
from iamd.console.kit import REGISTRY, STAGE_PAGES, Kit, Refused, password_rules, valid_name
from iamd.console.runner import RequestFacts
from iamd.console.sessions import ConsoleSession, anonymous, promote
from iamd.secrets.webauthn import b64url, from_b64url
from iamd.services.framework import OperationContext
from iamd.services.iam import mfa
from iamd.services.iam.owners import credential_owner
from iamd.store.unit import UnitOfWork
from iamd.wire import AccessDenied, AwsError, InvalidInput

__all__ = ["area"]

MESSAGES: Final = {
    "password-changed": "Your password was changed.",
    "mfa-added": "The MFA device was assigned.",
    "passkey-added": "The passkey or security key was registered.",
    "mfa-removed": "The MFA device was removed.",
    "key-updated": "The access key was updated.",
    "key-deleted": "The access key was deleted.",
}

area = REGISTRY.area("credentials")
area.add_nav("My security credentials", "/home", section="Your account", order=10)


def _on_error(kit: Kit, request: Request) -> Any:
    """An AWS error of a form on this page: the page again, with it."""

    async def failed(session: ConsoleSession, error: AwsError, why: list[str]) -> Response:
        if session.stage == "active":
            return await _home_page(kit, request, session, error=error.message, status=error.status, why=why)
        return kit._render(
            request, session, "message.html", status=error.status, title="Error", error=error.message, why=why
        )

    return failed


@area.get("/home")
async def home(kit: Kit, request: Request) -> Response:
    session = kit._session(request)
    guarded = kit._guard(request, session, "active")
    if guarded is not None:
        return guarded
    if session.role is not None:
        # As AWS's: a role has no password, MFA devices or access keys of its own to manage here.
        return kit._render(
            request,
            session,
            "in_role.html",
            title="My security credentials",
            role=session.role.get("role", ""),
            user=session.label,
        )
    message = MESSAGES.get(request.query_params.get("msg", ""))
    try:
        return await _home_page(kit, request, session, message=message)
    except SessionEnded:
        return kit._signed_out(request, session)


async def _home_page(
    kit: Kit,
    request: Request,
    session: ConsoleSession,
    *,
    status: int = 200,
    error: str | None = None,
    message: str | None = None,
    new_key: dict[str, Any] | None = None,
    why: list[str] | None = None,
) -> Response:
    data = await run_in_threadpool(_home_data, kit, session, kit._facts(request))
    return kit._render(
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


def _home_data(kit: Kit, session: ConsoleSession, facts: RequestFacts) -> dict[str, Any]:
    now = kit._now()
    assert session.account_id is not None
    account_id = session.account_id

    def read(uow: UnitOfWork) -> dict[str, Any]:
        caller = identity.session_caller(uow, session, now, kit.runner.resolver)
        account = uow.accounts.get(account_id)
        first = identity.root_first_sign_in(uow, account_id) if session.is_root else None
        return {
            "arn": caller.arn,
            "who": caller.user_name or (account.email or "root user"),
            "account_alias": account.alias,
            "rules": password_rules(uow.accounts.password_policy(account_id)),
            "first": first,
        }

    data = kit.runner.transaction(read, readonly=True)
    first = data.pop("first")
    devices: list[mfa.DeviceView] = []
    mfa_why: list[str] = []
    try:
        devices = kit.runner.run(session, facts, "ListMFADevices", mfa.describe_own_devices, readonly=True)
        mfa_error = None
    except AwsError as error:
        mfa_error = error.message
        mfa_why = kit.runner.reasons(session, facts, error)
    keys: list[dict[str, Any]] = []
    keys_why: list[str] = []
    try:
        listed = kit.runner.invoke(session, facts, "ListAccessKeys", {}) or {}
        keys = list(listed.get("AccessKeyMetadata", []))
        keys_error = None
    except AwsError as error:
        keys_error = error.message
        keys_why = kit.runner.reasons(session, facts, error)
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


@area.post("/keys/create")
async def create_key(kit: Kit, request: Request) -> Response:
    async def work(session: ConsoleSession, form: dict[str, str]) -> Response:
        created = await kit._invoke(session, request, "CreateAccessKey", {}) or {}
        return await _home_page(kit, request, session, new_key=created.get("AccessKey"))

    return await kit._action(request, ("active",), work, failed=_on_error(kit, request))


@area.post("/keys/rotate")
async def rotate_key(kit: Kit, request: Request) -> Response:
    async def work(session: ConsoleSession, form: dict[str, str]) -> Response:
        old = form.get("id", "")
        created = await kit._invoke(session, request, "CreateAccessKey", {}) or {}
        await kit._invoke(session, request, "UpdateAccessKey", {"AccessKeyId": old, "Status": "Inactive"})
        return await _home_page(
            kit,
            request,
            session,
            new_key=created.get("AccessKey"),
            message=f"Access key {old} is now inactive: delete it once nothing uses it any more.",
        )

    return await kit._action(request, ("active",), work, failed=_on_error(kit, request))


@area.post("/keys/status")
async def key_status(kit: Kit, request: Request) -> Response:
    async def work(session: ConsoleSession, form: dict[str, str]) -> Response:
        params = {"AccessKeyId": form.get("id", ""), "Status": form.get("status", "")}
        await kit._invoke(session, request, "UpdateAccessKey", params)
        return kit._redirect(request, session, "/home?msg=key-updated")

    return await kit._action(request, ("active",), work, failed=_on_error(kit, request))


@area.post("/keys/delete")
async def delete_key(kit: Kit, request: Request) -> Response:
    async def work(session: ConsoleSession, form: dict[str, str]) -> Response:
        await kit._invoke(session, request, "DeleteAccessKey", {"AccessKeyId": form.get("id", "")})
        return kit._redirect(request, session, "/home?msg=key-deleted")

    return await kit._action(request, ("active",), work, failed=_on_error(kit, request))


@area.post("/mfa/virtual/create")
async def create_virtual(kit: Kit, request: Request) -> Response:
    async def work(session: ConsoleSession, form: dict[str, str]) -> Response:
        name = form.get("name", "").strip()
        if not valid_name(name):
            raise InvalidInput("A device name is 1 to 64 letters, digits and +=,.@_- characters.")
        created = await kit._invoke(
            session, request, "CreateVirtualMFADevice", {"VirtualMFADeviceName": name}
        )
        device = (created or {})["VirtualMFADevice"]
        return kit._render(
            request,
            session,
            "mfa_setup.html",
            title="Set up your authenticator app",
            serial=device["SerialNumber"],
            seed=device["Base32StringSeed"].decode("ascii"),
            qr=base64.b64encode(device["QRCodePNG"]).decode("ascii"),
        )

    return await kit._action(request, ("active", "register-mfa"), work, failed=_on_error(kit, request))


@area.post("/mfa/virtual/enable")
async def enable_virtual(kit: Kit, request: Request) -> Response:
    async def work(session: ConsoleSession, form: dict[str, str]) -> Response:
        serial = form.get("serial", "")
        code1, code2 = form.get("code1", "").strip(), form.get("code2", "").strip()

        def enable(ctx: OperationContext) -> None:
            owner = credential_owner(ctx, "iam:EnableMFADevice", {})
            mfa.enable_virtual_device(ctx, owner, serial, code1, code2)

        try:
            await kit._run(session, request, "EnableMFADevice", enable)
        except AwsError as error:
            return kit._render(
                request,
                session,
                "mfa_setup.html",
                status=error.status,
                title="Set up your authenticator app",
                serial=serial,
                error=error.message,
            )
        return _device_added(kit, request, session, "mfa-added")

    return await kit._action(request, ("active", "register-mfa"), work, failed=_on_error(kit, request))


def _device_added(kit: Kit, request: Request, session: ConsoleSession, msg: str) -> Response:
    if session.stage == "register-mfa":
        now = kit._epoch()
        session = kit._replace(session, promote(session, "active", now, mfa_at=now))
    return kit._redirect(request, session, f"/home?msg={msg}")


@area.post("/mfa/virtual/cancel")
async def cancel_virtual(kit: Kit, request: Request) -> Response:
    async def work(session: ConsoleSession, form: dict[str, str]) -> Response:
        # An unassigned device left behind harms nobody; an administrator may delete it.
        with contextlib.suppress(AwsError):
            await kit._invoke(
                session, request, "DeleteVirtualMFADevice", {"SerialNumber": form.get("serial", "")}
            )
        return kit._redirect(request, session, STAGE_PAGES[session.stage])

    return await kit._action(request, ("active", "register-mfa"), work, failed=_on_error(kit, request))


@area.post("/mfa/remove")
async def remove_device(kit: Kit, request: Request) -> Response:
    async def work(session: ConsoleSession, form: dict[str, str]) -> Response:
        serial = form.get("serial", "")
        await kit._invoke(session, request, "DeactivateMFADevice", {"SerialNumber": serial})
        if ":mfa/" in serial:
            # Deactivated; deleting it is left to whoever may.
            with contextlib.suppress(AccessDenied):
                await kit._invoke(session, request, "DeleteVirtualMFADevice", {"SerialNumber": serial})
        return kit._redirect(request, session, "/home?msg=mfa-removed")

    return await kit._action(request, ("active",), work, failed=_on_error(kit, request))


@area.post("/webauthn/register/options")
async def register_options(kit: Kit, request: Request) -> Response:
    session = kit._session(request)
    if session.stage not in ("active", "register-mfa"):
        return kit._finish(request, JSONResponse({"error": "Sign in first."}, 401), None)
    try:
        data = await kit._json(request, session)
        if not valid_name(str(data.get("name", ""))):
            raise Refused(400, "A name is 1 to 64 letters, digits and +=,.@_- characters.")
        rp_id = kit._rp_id(request)
        text, challenge = await kit._run(
            session,
            request,
            "EnableMFADevice",
            lambda ctx: mfa.security_key_registration_options(ctx, rp_id=rp_id),
        )
    except Refused as refused:
        return kit._refused(request, session, refused, json_answer=True)
    except SessionEnded:
        return kit._finish(request, JSONResponse({"error": "Signed out."}, 401), anonymous(kit._epoch()))
    except AwsError as error:
        return kit._finish(request, JSONResponse({"error": error.message}, error.status), None)
    new = session.with_changes(challenge=b64url(challenge), challenge_kind="register")
    return kit._finish(request, Response(text, media_type="application/json"), new)


@area.post("/webauthn/register/verify")
async def register_verify(kit: Kit, request: Request) -> Response:
    session = kit._session(request)
    if session.stage not in ("active", "register-mfa"):
        return kit._finish(request, JSONResponse({"error": "Sign in first."}, 401), None)
    if session.challenge_kind != "register" or session.challenge is None:
        return kit._finish(request, JSONResponse({"error": "Start the registration again."}, 409), None)
    cleared = session.with_changes(challenge=None, challenge_kind=None)
    try:
        data = await kit._json(request, session)
        name, credential = str(data.get("name", "")), data.get("credential")
        if not valid_name(name) or not isinstance(credential, dict):
            raise Refused(400, "A name and a credential are needed.")
        challenge, origin, rp_id = (
            from_b64url(session.challenge),
            kit._origin(request),
            kit._rp_id(request),
        )
        suffix = secrets.token_hex(8).upper()
        await kit._run(
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
    except Refused as refused:
        return kit._refused(request, cleared, refused, json_answer=True)
    except SessionEnded:
        return kit._finish(request, JSONResponse({"error": "Signed out."}, 401), anonymous(kit._epoch()))
    except AwsError as error:
        return kit._finish(request, JSONResponse({"error": error.message}, error.status), cleared)
    if cleared.stage == "register-mfa":
        now = kit._epoch()
        cleared = kit._replace(cleared, promote(cleared, "active", now, mfa_at=now))
    return kit._finish(request, JSONResponse({"next": kit.prefix + "/home?msg=passkey-added"}), cleared)
