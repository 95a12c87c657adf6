"""MFA for STS: SerialNumber and TokenCode, checked against the caller's virtual MFA device.

Codes are TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps); the current step and one step
either side are accepted, and a step is accepted once per device (``accept_totp_counter``), so a
code cannot be replayed. Devices of other kinds (WebAuthn, hardware) cannot answer a TokenCode.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from datetime import datetime
from typing import Final

from iamd.services.framework import OperationContext
from iamd.store.records import MfaDeviceRecord
from iamd.wire import AccessDenied

__all__ = ["STEP", "totp", "verify_mfa"]

STEP: Final = 30
DIGITS: Final = 6
WINDOW: Final = 1

INVALID_CODE: Final = "MultiFactorAuthentication failed with invalid MFA one time pass code."
INCOMPLETE: Final = (
    "MultiFactorAuthentication failed, must provide both MFA serial number and one time pass code."
)


def totp(seed: bytes, counter: int, digits: int = DIGITS) -> str:
    digest = hmac.new(seed, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def _device(ctx: OperationContext, account_id: str, serial: str) -> MfaDeviceRecord | None:
    device = ctx.uow.mfa.find(account_id, serial)
    if device is None and serial.startswith("arn:"):
        device = ctx.uow.mfa.find(account_id, serial.rsplit("/", 1)[-1])
    return device


def verify_mfa(
    ctx: OperationContext,
    serial: str | None,
    code: str | None,
    *,
    account_id: str,
    user_id: str | None,
    now: datetime,
) -> bool:
    """False when neither is given; True when the code is right for a virtual device enabled for the
    user (``user_id``, or the account's root user when None); AccessDenied otherwise."""
    if serial is None and code is None:
        return False
    if serial is None or code is None:
        raise AccessDenied(INCOMPLETE)
    device = _device(ctx, account_id, serial)
    if (
        device is None
        or device.kind != "virtual"
        or not device.is_assigned
        or (device.user_id != user_id if user_id is not None else not device.is_root)
    ):
        raise AccessDenied(INVALID_CODE)
    seed = ctx.uow.mfa.totp_seed(device.id)
    current = int(now.timestamp()) // STEP
    for counter in range(current - WINDOW, current + WINDOW + 1):
        if hmac.compare_digest(totp(seed, counter), code):
            if ctx.uow.mfa.accept_totp_counter(device.id, counter):
                return True
            break  # a replayed code
    raise AccessDenied(INVALID_CODE)
