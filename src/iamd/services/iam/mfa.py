"""MFA devices: CreateVirtualMFADevice, EnableMFADevice, ResyncMFADevice, DeactivateMFADevice,
DeleteVirtualMFADevice, GetMFADevice, ListMFADevices, ListVirtualMFADevices, TagMFADevice,
UntagMFADevice, ListMFADeviceTags; and :func:`verify_totp`, the one check of a TOTP code that STS
and the console share.

A virtual device's seed is made here, returned once by CreateVirtualMFADevice (as base32 and as a
QR code PNG) and stored only encrypted (``uow.mfa``). Enabling and resynchronizing take two
consecutive codes; every accepted code's time step is remembered per device, so no code is
accepted twice. An IAM user and the root user each have at most eight MFA devices, of any kind.

Authorization follows the Service Authorization Reference: CreateVirtualMFADevice,
DeleteVirtualMFADevice and the tag operations act on the device (``arn:aws:iam::ACCOUNT:mfa/NAME``),
EnableMFADevice, ResyncMFADevice, DeactivateMFADevice, GetMFADevice and ListMFADevices on the user
(or, without UserName, on the caller itself), ListVirtualMFADevices on ``*``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from iamd.secrets import totp
from iamd.services.framework import OperationContext, operation
from iamd.services.iam.common import (
    list_params,
    page_output,
    request_tag_context,
    resource_tag_context,
    tags_from_params,
    tags_output,
)
from iamd.services.iam.owners import Owner, credential_owner, page_of
from iamd.services.iam.users import render_user
from iamd.store.mfa import Assignment
from iamd.store.records import MfaDeviceRecord, Tag
from iamd.store.unit import UnitOfWork
from iamd.wire import (
    AwsError,
    DeleteConflict,
    EntityAlreadyExists,
    InvalidInput,
    LimitExceeded,
    NoSuchEntity,
    load_service_model,
    modeled_error,
)

__all__ = [
    "ISSUER",
    "MAX_DEVICES",
    "device_arn",
    "enable_virtual_device",
    "owner_devices",
    "verify_totp",
    "virtual_serial",
]

MAX_DEVICES: Final = 8
"""MFA devices per IAM user and per root user, of any kind (AWS's quota)."""
ISSUER: Final = "iamd"
"""The issuer authenticator apps show next to a virtual device's codes."""
RESYNC_WINDOW: Final = 10
"""Time steps either side of now that ResyncMFADevice searches (five minutes of clock drift)."""
ASSIGNMENTS: Final = ("Assigned", "Unassigned", "Any")


def virtual_serial(account_id: str, path: str, name: str) -> str:
    """A virtual device's serial number, which is its ARN."""
    return f"arn:aws:iam::{account_id}:mfa{path}{name}"


def device_arn(account_id: str, serial: str) -> str:
    """The resource a device is authorized as: its serial when that is an ARN (virtual devices,
    security keys), else ``arn:aws:iam::ACCOUNT:mfa/SERIAL`` (hardware tokens)."""
    return serial if serial.startswith("arn:") else f"arn:aws:iam::{account_id}:mfa/{serial}"


def _account_of(serial: str) -> str | None:
    parts = serial.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and parts[2] == "iam" and parts[4].isdigit():
        return parts[4]
    return None


def invalid_code() -> AwsError:
    return modeled_error(
        load_service_model("iam"),
        "InvalidAuthenticationCodeException",
        "Authentication code for device is not valid.",
    )


def no_such_device(serial: str) -> NoSuchEntity:
    # AWS's texts for MFA devices, here and below (recorded against AWS: LocalStack's
    # tests/aws/services/iam/test_iam_mfa.snapshot.json, deactivate-nonexistent-mfa-error,
    # delete-nonexistent-error, create-duplicate-error, enable-mfa-already-attached-error).
    return NoSuchEntity(f"MFA Device with serial number {serial} does not exist.")


def _find(ctx: OperationContext, serial: str) -> MfaDeviceRecord | None:
    return ctx.uow.mfa.find(ctx.account_id, serial)


def _owns(owner: Owner, device: MfaDeviceRecord) -> bool:
    if not device.is_assigned:
        return False
    return device.is_root if owner.is_root else device.user_id == owner.user_id


def owner_devices(uow: UnitOfWork, account_id: str, owner: Owner) -> tuple[MfaDeviceRecord, ...]:
    return uow.mfa.list_for(account_id, owner.user_id)


def check_device_quota(ctx: OperationContext, owner: Owner) -> None:
    if len(owner_devices(ctx.uow, ctx.account_id, owner)) >= MAX_DEVICES:
        raise LimitExceeded(f"Cannot exceed quota for MFADevicesPerUser: {MAX_DEVICES}")


def render_device(owner_name: str, device: MfaDeviceRecord) -> dict[str, Any]:
    return {"UserName": owner_name, "SerialNumber": device.serial, "EnableDate": device.enabled_at}


# -- checking codes -----------------------------------------------------------------------------


def verify_totp(
    uow: UnitOfWork,
    serial_number: str,
    code: str,
    now: datetime,
    *,
    account_id: str | None = None,
    user_id: str | None = None,
    root: bool = False,
) -> bool:
    """True when ``code`` is the current TOTP code (one step either side accepted) of the enabled
    virtual MFA device ``serial_number``, and that time step was not accepted before for this
    device: the step is then recorded, so the same code never passes twice. False otherwise:
    unknown or unassigned device, not a virtual device, wrong code, or a replay.

    ``account_id`` defaults to the account in the serial number (an ARN). With ``user_id`` the
    device must be enabled for that IAM user; with ``root`` for the account's root user. Writes
    (the accepted step): call it in a writable unit of work, never on a read-only one.
    """
    account = account_id or _account_of(serial_number)
    if account is None:
        return False
    device = uow.mfa.find(account, serial_number)
    if device is None or device.kind != "virtual" or not device.is_assigned:
        return False
    if user_id is not None and device.user_id != user_id:
        return False
    if root and not device.is_root:
        return False
    counter = totp.match(uow.mfa.totp_seed(device.id), code, now)
    return counter is not None and uow.mfa.accept_totp_counter(device.id, counter)


def enable_virtual_device(ctx: OperationContext, owner: Owner, serial: str, code1: str, code2: str) -> None:
    """Enable the unassigned virtual device ``serial`` for ``owner`` (already authorized), given
    two consecutive codes; the second code's time step counts as used."""
    device = _find(ctx, serial)
    if device is None or device.kind != "virtual":
        raise no_such_device(serial)
    if device.is_assigned:
        raise EntityAlreadyExists("MFA Device is already in use.")
    check_device_quota(ctx, owner)
    counter = totp.match_consecutive(ctx.uow.mfa.totp_seed(device.id), code1, code2, ctx.now)
    if counter is None:
        raise invalid_code()
    ctx.uow.mfa.enable(device.id, user_id=owner.user_id, enabled_at=ctx.now)
    if not ctx.uow.mfa.accept_totp_counter(device.id, counter):
        raise invalid_code()


# -- virtual devices ----------------------------------------------------------------------------


@operation("iam", "CreateVirtualMFADevice")
def create_virtual_mfa_device(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    name, path = params["VirtualMFADeviceName"], params.get("Path") or "/"
    serial = virtual_serial(ctx.account_id, path, name)
    tags = tags_from_params(params)
    extra = request_tag_context(tags)
    ctx.authorize("iam:CreateVirtualMFADevice", serial, extra)
    if tags:
        ctx.authorize("iam:TagMFADevice", serial, extra)
    if _find(ctx, serial) is not None:
        raise EntityAlreadyExists("MFA device already exists.")
    seed = totp.new_seed()
    device = ctx.uow.mfa.create(ctx.account_id, serial=serial, kind="virtual", created_at=ctx.now, seed=seed)
    if tags:
        ctx.uow.tags.put(ctx.account_id, "mfa", str(device.id), tags)
    account = ctx.uow.accounts.get(ctx.account_id)
    uri = totp.provisioning_uri(seed, account_label=f"{name}@{account.alias or account.id}", issuer=ISSUER)
    out: dict[str, Any] = {
        "SerialNumber": serial,
        "Base32StringSeed": totp.base32_seed(seed).encode("ascii"),
        "QRCodePNG": totp.qr_png(uri),
    }
    if tags:
        out["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    return {"VirtualMFADevice": out}


@operation("iam", "DeleteVirtualMFADevice")
def delete_virtual_mfa_device(ctx: OperationContext, params: dict[str, Any]) -> None:
    serial = params["SerialNumber"]
    device = _find(ctx, serial)
    context = resource_tag_context(_tags(ctx, device)) if device is not None else {}
    ctx.authorize("iam:DeleteVirtualMFADevice", device_arn(ctx.account_id, serial), context)
    if device is None or device.kind != "virtual":
        raise no_such_device(serial)
    if device.is_assigned:
        raise DeleteConflict("MFA device is in use: deactivate it before deleting it.")
    ctx.uow.mfa.delete(device.id)


@operation("iam", "ListVirtualMFADevices", readonly=True)
def list_virtual_mfa_devices(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("iam:ListVirtualMFADevices", "*")
    assignment: Assignment
    match params.get("AssignmentStatus") or "Any":
        case "Assigned":
            assignment = "Assigned"
        case "Unassigned":
            assignment = "Unassigned"
        case "Any":
            assignment = "Any"
        case _:
            raise InvalidInput(f"AssignmentStatus must be one of {', '.join(ASSIGNMENTS)}.")
    marker, max_items = list_params(params)
    page = ctx.uow.mfa.list_virtual(ctx.account_id, assignment=assignment, marker=marker, max_items=max_items)

    def render(device: MfaDeviceRecord) -> dict[str, Any]:
        out: dict[str, Any] = {"SerialNumber": device.serial}
        if device.is_assigned:
            out["EnableDate"] = device.enabled_at
            if device.user_id is not None:
                out["User"] = render_user(ctx, ctx.uow.users.get_by_id(device.user_id), "list")
            elif device.is_root:
                account = ctx.uow.accounts.get(ctx.account_id)
                out["User"] = {
                    "Path": "/",
                    "UserName": "",
                    "UserId": ctx.account_id,
                    "Arn": f"arn:aws:iam::{ctx.account_id}:root",
                    "CreateDate": account.created_at,
                }
        return out

    return page_output(page, "VirtualMFADevices", render)


# -- a user's devices ---------------------------------------------------------------------------


@operation("iam", "EnableMFADevice")
def enable_mfa_device(ctx: OperationContext, params: dict[str, Any]) -> None:
    owner = credential_owner(ctx, "iam:EnableMFADevice", params)
    enable_virtual_device(
        ctx, owner, params["SerialNumber"], params["AuthenticationCode1"], params["AuthenticationCode2"]
    )


@operation("iam", "ResyncMFADevice")
def resync_mfa_device(ctx: OperationContext, params: dict[str, Any]) -> None:
    owner = credential_owner(ctx, "iam:ResyncMFADevice", params)
    serial = params["SerialNumber"]
    device = _find(ctx, serial)
    if device is None or not _owns(owner, device):
        raise no_such_device(serial)
    if device.kind != "virtual":
        raise InvalidInput("Only virtual MFA devices can be resynchronized.")
    counter = totp.match_consecutive(
        ctx.uow.mfa.totp_seed(device.id),
        params["AuthenticationCode1"],
        params["AuthenticationCode2"],
        ctx.now,
        behind=RESYNC_WINDOW,
        ahead=RESYNC_WINDOW,
    )
    if counter is None or not ctx.uow.mfa.accept_totp_counter(device.id, counter):
        raise invalid_code()


@operation("iam", "DeactivateMFADevice")
def deactivate_mfa_device(ctx: OperationContext, params: dict[str, Any]) -> None:
    owner = credential_owner(ctx, "iam:DeactivateMFADevice", params)
    serial = params["SerialNumber"]
    device = _find(ctx, serial)
    if device is None or not _owns(owner, device):
        raise no_such_device(serial)
    ctx.uow.mfa.deactivate(device.id)


@operation("iam", "GetMFADevice", readonly=True)
def get_mfa_device(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    owner = credential_owner(ctx, "iam:GetMFADevice", params)
    serial = params["SerialNumber"]
    device = _find(ctx, serial)
    if device is None or not _owns(owner, device):
        raise no_such_device(serial)
    return render_device(owner.name, device)


@operation("iam", "ListMFADevices", readonly=True)
def list_mfa_devices(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    owner = credential_owner(ctx, "iam:ListMFADevices", params)
    marker, max_items = list_params(params)
    page = page_of(owner_devices(ctx.uow, ctx.account_id, owner), marker, max_items)
    return page_output(page, "MFADevices", lambda d: render_device(owner.name, d))


# -- tags -----------------------------------------------------------------------------------------


def _tags(ctx: OperationContext, device: MfaDeviceRecord) -> tuple[Tag, ...]:
    return ctx.uow.tags.list(ctx.account_id, "mfa", str(device.id))


def _tagged_device(
    ctx: OperationContext, action: str, serial: str, extra: dict[str, object] | None = None
) -> MfaDeviceRecord:
    """Authorize ``action`` on the device (with its tags as aws:ResourceTag), then return it."""
    device = _find(ctx, serial)
    context = resource_tag_context(_tags(ctx, device)) if device is not None else {}
    context.update(extra or {})
    ctx.authorize(action, device_arn(ctx.account_id, serial), context)
    if device is None:
        raise no_such_device(serial)
    return device


@operation("iam", "TagMFADevice")
def tag_mfa_device(ctx: OperationContext, params: dict[str, Any]) -> None:
    serial = params["SerialNumber"]
    found = _find(ctx, serial)
    existing = ctx.uow.tags.count(ctx.account_id, "mfa", str(found.id)) if found is not None else 0
    tags = tags_from_params(params, existing)
    device = _tagged_device(ctx, "iam:TagMFADevice", serial, request_tag_context(tags))
    ctx.uow.tags.put(ctx.account_id, "mfa", str(device.id), tags)


@operation("iam", "UntagMFADevice")
def untag_mfa_device(ctx: OperationContext, params: dict[str, Any]) -> None:
    keys = [str(k) for k in params.get("TagKeys") or []]
    device = _tagged_device(ctx, "iam:UntagMFADevice", params["SerialNumber"], {"aws:TagKeys": keys})
    ctx.uow.tags.remove(ctx.account_id, "mfa", str(device.id), keys)


@operation("iam", "ListMFADeviceTags", readonly=True)
def list_mfa_device_tags(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    device = _tagged_device(ctx, "iam:ListMFADeviceTags", params["SerialNumber"])
    marker, max_items = list_params(params)
    page = page_of(_tags(ctx, device), marker, max_items)
    out: dict[str, Any] = {"Tags": tags_output(page.items), "IsTruncated": page.marker is not None}
    if page.marker is not None:
        out["Marker"] = page.marker
    return out


# -- the console: own devices, FIDO2 security keys and passkeys -----------------------------------


@dataclass(frozen=True, slots=True)
class DeviceView:
    """An MFA device as the console's credentials page shows it."""

    serial: str
    kind: str
    enabled_at: datetime | None
    backup_eligible: bool = False
    backed_up: bool = False

    @property
    def label(self) -> str:
        if self.kind == "virtual":
            return "Authenticator app (virtual MFA device)"
        if self.kind == "webauthn":
            return "Passkey (synced)" if self.backup_eligible else "Security key or device-bound passkey"
        return "Hardware TOTP token"


def _view(device: MfaDeviceRecord) -> DeviceView:
    eligible = backed_up = False
    if device.kind == "webauthn" and device.public_key is not None:
        from iamd.secrets import webauthn  # (on first use: the passkey library is large)

        try:
            record = webauthn.CredentialRecord.decode(device.public_key)
            eligible, backed_up = record.backup_eligible, record.backed_up
        except webauthn.WebAuthnError:
            pass
    return DeviceView(device.serial, device.kind, device.enabled_at, eligible, backed_up)


def describe_own_devices(ctx: OperationContext) -> list[DeviceView]:
    """The caller's MFA devices, authorized as ListMFADevices on itself."""
    owner = credential_owner(ctx, "iam:ListMFADevices", {})
    return [_view(d) for d in owner_devices(ctx.uow, ctx.account_id, owner)]


def security_key_serial(account_id: str, owner: Owner, name: str, suffix: str) -> str:
    """AWS's form of a FIDO device's serial number (``u2f/user/NAME/…``, ``u2f/root/…``)."""
    where = "root" if owner.is_root else f"user/{owner.name}"
    return f"arn:aws:iam::{account_id}:u2f/{where}/{name}-{suffix}"


def _security_keys(ctx_uow: UnitOfWork, account_id: str, owner: Owner) -> list[MfaDeviceRecord]:
    return [
        d
        for d in owner_devices(ctx_uow, account_id, owner)
        if d.kind == "webauthn" and d.credential_id is not None and d.public_key is not None
    ]


def user_handle(account_id: str, owner: Owner) -> bytes:
    return (owner.user_id or f"root-{account_id}").encode("ascii")


def security_key_registration_options(ctx: OperationContext, *, rp_id: str) -> tuple[str, bytes]:
    """Start registering a security key or passkey for the caller (iam:EnableMFADevice with
    iam:RegisterSecurityKey = Create): (options JSON, challenge)."""
    from iamd.secrets import webauthn  # (on first use: the passkey library is large)

    owner = credential_owner(ctx, "iam:EnableMFADevice", {}, {"iam:RegisterSecurityKey": "Create"})
    check_device_quota(ctx, owner)
    account = ctx.uow.accounts.get(ctx.account_id)
    existing = [d.credential_id for d in _security_keys(ctx.uow, ctx.account_id, owner) if d.credential_id]
    label = f"{owner.name}@{account.alias or account.id}"
    return webauthn.registration_options(
        rp_id=rp_id,
        rp_name=f"iamd {account.alias or account.id}",
        user_name=label,
        user_handle=user_handle(ctx.account_id, owner),
        display_name=label,
        exclude=existing,
    )


def register_security_key(
    ctx: OperationContext,
    *,
    name: str,
    credential: dict[str, Any],
    challenge: bytes,
    rp_id: str,
    origin: str,
    suffix: str,
) -> DeviceView:
    """Finish a registration (iam:EnableMFADevice with iam:RegisterSecurityKey = Activate): the
    device is created enabled for the caller. InvalidAuthenticationCode if the browser's answer
    does not verify."""
    from iamd.secrets import webauthn  # (on first use: the passkey library is large)

    owner = credential_owner(ctx, "iam:EnableMFADevice", {}, {"iam:RegisterSecurityKey": "Activate"})
    check_device_quota(ctx, owner)
    try:
        registered = webauthn.verify_registration(credential, challenge=challenge, rp_id=rp_id, origin=origin)
    except webauthn.WebAuthnError as exc:
        raise modeled_error(
            load_service_model("iam"),
            "InvalidAuthenticationCodeException",
            "The security key's registration could not be verified.",
        ) from exc
    for device in _security_keys(ctx.uow, ctx.account_id, owner):
        if device.credential_id == registered.credential_id:
            raise EntityAlreadyExists("This security key is already registered.")
    serial = security_key_serial(ctx.account_id, owner, name, suffix)
    device = ctx.uow.mfa.create(
        ctx.account_id,
        serial=serial,
        kind="webauthn",
        created_at=ctx.now,
        credential_id=registered.credential_id,
        public_key=registered.record.encode(),
        sign_count=registered.sign_count,
    )
    ctx.uow.mfa.enable(device.id, user_id=owner.user_id, enabled_at=ctx.now)
    return _view(ctx.uow.mfa.get(ctx.account_id, serial))


def security_key_authentication_options(
    uow: UnitOfWork, account_id: str, owner: Owner, *, rp_id: str
) -> tuple[str, bytes] | None:
    """Options for a sign-in's second factor by security key or passkey; None without any."""
    keys = [d.credential_id for d in _security_keys(uow, account_id, owner) if d.credential_id]
    if not keys:
        return None
    from iamd.secrets import webauthn  # (on first use: the passkey library is large)

    return webauthn.authentication_options(rp_id=rp_id, allow=keys)


def verify_security_key(
    uow: UnitOfWork,
    account_id: str,
    owner: Owner,
    credential: dict[str, Any],
    *,
    challenge: bytes,
    origin: str,
) -> bool:
    """True when ``credential`` is a valid assertion, for ``challenge``, by one of the owner's
    security keys; its signature counter is then stored."""
    from iamd.secrets import webauthn  # (on first use: the passkey library is large)

    try:
        wanted = webauthn.credential_id_of(credential)
    except webauthn.WebAuthnError:
        return False
    for device in _security_keys(uow, account_id, owner):
        if device.credential_id != wanted or device.public_key is None:
            continue
        try:
            record = webauthn.CredentialRecord.decode(device.public_key)
            new_count, _ = webauthn.verify_authentication(
                credential,
                challenge=challenge,
                origin=origin,
                record=record,
                sign_count=device.sign_count or 0,
            )
        except webauthn.WebAuthnError:
            return False
        uow.mfa.update_sign_count(device.id, new_count)
        return True
    return False
