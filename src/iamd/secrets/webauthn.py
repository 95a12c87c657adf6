"""WebAuthn (FIDO2 security keys and passkeys) for MFA, with py_webauthn.

Registration and authentication ceremonies: options for the browser (JSON, base64url), and the
verification of its answer against the challenge, the relying party id and the page's origin.
Attestation is not required (``none``): any authenticator may be registered, including synced
passkeys, whose backup-eligible flag is recorded and shown.

What the store keeps of a credential (its ``public_key`` column) is a :class:`CredentialRecord`:
the COSE public key and the facts learned at registration (relying party id, backup eligibility
and state, AAGUID), serialized as versioned JSON.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, replace
from typing import Any, Final

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

__all__ = [
    "CredentialRecord",
    "Registered",
    "WebAuthnError",
    "authentication_options",
    "b64url",
    "credential_id_of",
    "from_b64url",
    "registration_options",
    "verify_authentication",
    "verify_registration",
]

RECORD_VERSION: Final = 1
TIMEOUT_MS: Final = 120_000


class WebAuthnError(Exception):
    """The browser's answer does not verify (wrong challenge, origin, signature, malformed…)."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def from_b64url(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise WebAuthnError("malformed base64url") from exc


@dataclass(frozen=True, slots=True)
class CredentialRecord:
    public_key: bytes
    rp_id: str
    backup_eligible: bool
    backed_up: bool
    aaguid: str

    def encode(self) -> bytes:
        return json.dumps(
            {
                "v": RECORD_VERSION,
                "pk": b64url(self.public_key),
                "rp": self.rp_id,
                "be": self.backup_eligible,
                "bs": self.backed_up,
                "aaguid": self.aaguid,
            },
            separators=(",", ":"),
        ).encode("utf-8")

    @classmethod
    def decode(cls, raw: bytes) -> CredentialRecord:
        try:
            data = json.loads(raw)
            if data.get("v") != RECORD_VERSION:
                raise WebAuthnError("unknown credential record version")
            return cls(
                from_b64url(str(data["pk"])),
                str(data["rp"]),
                bool(data["be"]),
                bool(data["bs"]),
                str(data.get("aaguid", "")),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise WebAuthnError("malformed credential record") from exc


@dataclass(frozen=True, slots=True)
class Registered:
    credential_id: bytes
    record: CredentialRecord
    sign_count: int


def registration_options(
    *,
    rp_id: str,
    rp_name: str,
    user_name: str,
    user_handle: bytes,
    display_name: str,
    exclude: list[bytes],
) -> tuple[str, bytes]:
    """(options JSON for ``navigator.credentials.create``, the challenge to remember)."""
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name=rp_name,
        user_name=user_name,
        user_id=user_handle,
        user_display_name=display_name,
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=c) for c in exclude],
    )
    return options_to_json(options), options.challenge


def verify_registration(
    credential: dict[str, Any], *, challenge: bytes, rp_id: str, origin: str
) -> Registered:
    try:
        verified = verify_registration_response(
            credential=credential, expected_challenge=challenge, expected_rp_id=rp_id, expected_origin=origin
        )
    except (InvalidRegistrationResponse, ValueError, KeyError, TypeError) as exc:
        raise WebAuthnError(str(exc) or "the registration does not verify") from exc
    record = CredentialRecord(
        public_key=verified.credential_public_key,
        rp_id=rp_id,
        backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
        backed_up=verified.credential_backed_up,
        aaguid=verified.aaguid,
    )
    return Registered(verified.credential_id, record, verified.sign_count)


def authentication_options(*, rp_id: str, allow: list[bytes]) -> tuple[str, bytes]:
    """(options JSON for ``navigator.credentials.get``, the challenge to remember)."""
    options = generate_authentication_options(
        rp_id=rp_id,
        timeout=TIMEOUT_MS,
        allow_credentials=[PublicKeyCredentialDescriptor(id=c) for c in allow],
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return options_to_json(options), options.challenge


def credential_id_of(credential: dict[str, Any]) -> bytes:
    """The credential id the browser's answer names (its ``rawId``)."""
    raw = credential.get("rawId") or credential.get("id")
    if not isinstance(raw, str):
        raise WebAuthnError("the answer names no credential")
    return from_b64url(raw)


def verify_authentication(
    credential: dict[str, Any],
    *,
    challenge: bytes,
    origin: str,
    record: CredentialRecord,
    sign_count: int,
) -> tuple[int, CredentialRecord]:
    """(the authenticator's new signature counter, the record with its current backup state)."""
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=record.rp_id,
            expected_origin=origin,
            credential_public_key=record.public_key,
            credential_current_sign_count=sign_count,
        )
    except (InvalidAuthenticationResponse, ValueError, KeyError, TypeError) as exc:
        raise WebAuthnError(str(exc) or "the assertion does not verify") from exc
    return verified.new_sign_count, replace(record, backed_up=verified.credential_backed_up)
