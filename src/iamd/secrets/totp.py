"""TOTP (RFC 6238) for virtual MFA devices: seeds, codes, matching, and the QR code to scan.

Codes are HMAC-SHA1, six digits, 30-second time steps, as every authenticator app (and AWS's
virtual MFA devices) use. A seed is 40 random bytes; it is shown once, as base32 (64 characters,
AWS's ``Base32StringSeed``) and as an ``otpauth://`` URI in a QR code, and stored only encrypted
(the store's MFA repository encrypts it under the key-encryption key).

Matching never reads the clock (the time comes in) and compares every candidate code in constant
time; which time step matched is returned so the caller can refuse to accept it twice.
"""

from __future__ import annotations

import base64
import io
import secrets
from datetime import datetime
from typing import Final
from urllib.parse import quote, urlencode

import pyotp

from iamd.secrets.compare import constant_time_equals

__all__ = [
    "DIGITS",
    "SEED_BYTES",
    "STEP",
    "base32_seed",
    "code_at",
    "counter_at",
    "match",
    "match_consecutive",
    "new_seed",
    "provisioning_uri",
    "qr_png",
]

STEP: Final = 30
DIGITS: Final = 6
SEED_BYTES: Final = 40
WINDOW: Final = 1
"""Steps accepted either side of the current one at sign-in (clock drift, typing time)."""


def new_seed() -> bytes:
    return secrets.token_bytes(SEED_BYTES)


def base32_seed(seed: bytes) -> str:
    """The seed as authenticator apps take it typed in: RFC 4648 base32 without padding."""
    return base64.b32encode(seed).decode("ascii").rstrip("=")


def counter_at(moment: datetime) -> int:
    """The TOTP time step of ``moment``."""
    return int(moment.timestamp()) // STEP


def code_at(seed: bytes, counter: int) -> str:
    """The code for time step ``counter``."""
    return pyotp.HOTP(base32_seed(seed), digits=DIGITS).at(counter)


def _is_code(code: str) -> bool:
    return len(code) == DIGITS and code.isascii() and code.isdigit()


def match(seed: bytes, code: str, moment: datetime, window: int = WINDOW) -> int | None:
    """The time step within ``window`` steps of ``moment`` whose code is ``code``, or None.
    Every candidate is computed and compared, in constant time."""
    if not _is_code(code):
        return None
    current = counter_at(moment)
    found: int | None = None
    for counter in range(current - window, current + window + 1):
        if constant_time_equals(code_at(seed, counter), code) and found is None:
            found = counter
    return found


def match_consecutive(
    seed: bytes, first: str, second: str, moment: datetime, *, behind: int = 2, ahead: int = 1
) -> int | None:
    """The time step of ``second`` when ``first`` and ``second`` are the codes of two consecutive
    steps, ``second``'s between ``behind`` steps before ``moment`` and ``ahead`` after; else None.
    (Enabling and resynchronizing a device take two consecutive codes, as AWS's do.)"""
    if not (_is_code(first) and _is_code(second)):
        return None
    current = counter_at(moment)
    found: int | None = None
    for counter in range(current - behind, current + ahead + 1):
        ok_first = constant_time_equals(code_at(seed, counter - 1), first)
        ok_second = constant_time_equals(code_at(seed, counter), second)
        if ok_first and ok_second and found is None:
            found = counter
    return found


def provisioning_uri(seed: bytes, *, account_label: str, issuer: str) -> str:
    """The ``otpauth://totp/ISSUER:LABEL?secret=…&issuer=…`` URI authenticator apps scan."""
    label = quote(f"{issuer}:{account_label}", safe="@:")
    query = urlencode(
        {
            "secret": base32_seed(seed),
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": STEP,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"


def qr_png(text: str) -> bytes:
    """A PNG image of a QR code holding ``text`` (pure Python: qrcode with pypng, imported on first
    use)."""
    import qrcode
    from qrcode.image.pure import PyPNGImage

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=6, border=4)
    code.add_data(text)
    code.make(fit=True)
    image = code.make_image(image_factory=PyPNGImage)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()
