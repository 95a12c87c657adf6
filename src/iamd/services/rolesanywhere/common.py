"""What the Roles Anywhere operations share: ARNs, errors, certificates, output shapes."""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final

from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from iamd.services.framework import OperationContext
from iamd.store.rolesanywhere import ProfileRecord, TrustAnchorRecord
from iamd.wire import AwsError, modeled_error
from iamd.wire.models import load_service_model

__all__ = [
    "SERVICE_PRINCIPAL",
    "anchor_arn",
    "anchor_output",
    "error",
    "load_certificates",
    "not_found",
    "parse_arn",
    "profile_arn",
    "profile_output",
    "tags_of",
    "tags_output",
    "validation",
]

SERVICE_PRINCIPAL: Final = "rolesanywhere.amazonaws.com"
MAX_DURATION: Final = 43200
MIN_DURATION: Final = 900
DEFAULT_DURATION: Final = 3600
_ARN: Final = re.compile(
    r"arn:aws:rolesanywhere:([a-z0-9-]+):(\d{12}):(trust-anchor|profile|subject)/([0-9a-f-]{36})"
)


def error(shape: str, message: str) -> AwsError:
    return modeled_error(load_service_model("rolesanywhere"), shape, message)


def validation(message: str) -> AwsError:
    return error("ValidationException", message)


def not_found(what: str) -> AwsError:
    return error("ResourceNotFoundException", f"{what} not found")


def anchor_arn(region: str, account: str, anchor_id: str) -> str:
    return f"arn:aws:rolesanywhere:{region}:{account}:trust-anchor/{anchor_id}"


def profile_arn(region: str, account: str, profile_id: str) -> str:
    return f"arn:aws:rolesanywhere:{region}:{account}:profile/{profile_id}"


def parse_arn(arn: str) -> tuple[str, str, str, str] | None:
    """(region, account, kind, id) of a Roles Anywhere ARN, or None."""
    found = _ARN.fullmatch(arn)
    if found is None:
        return None
    return found.group(1), found.group(2), found.group(3), found.group(4)


def check_uuid(value: str, what: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise validation(
            f"1 validation error detected: Value '{value}' at '{what}' is not a valid UUID"
        ) from None


def tags_of(raw: Sequence[Mapping[str, Any]] | None) -> dict[str, str]:
    tags: dict[str, str] = {}
    for tag in raw or ():
        key, value = str(tag["key"]), str(tag["value"])
        if key.lower().startswith("aws:"):
            raise validation(f"Tag keys may not start with 'aws:': {key}")
        tags[key] = value
    if len(tags) > 50:
        raise error("TooManyTagsException", "A resource can have at most 50 tags.")
    return tags


def tags_output(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in tags.items()]


def load_certificates(text: str) -> list[x509.Certificate]:
    """The certificates of a PEM bundle (or one base64 DER certificate); ValidationException when
    there are none or one does not parse."""
    data = text.strip().encode("ascii", "replace")
    try:
        if b"-----BEGIN" in data:
            certificates = x509.load_pem_x509_certificates(data)
        else:
            certificates = [x509.load_der_x509_certificate(base64.b64decode(data, validate=True))]
    except (ValueError, binascii.Error) as exc:
        raise validation(f"The x509CertificateData is not a valid certificate: {exc}") from exc
    if not certificates:
        raise validation("The x509CertificateData holds no certificate.")
    return certificates


def is_ca(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value
    except x509.ExtensionNotFound:
        return False
    return isinstance(constraints, x509.BasicConstraints) and constraints.ca


def check_ca_bundle(text: str) -> None:
    for certificate in load_certificates(text):
        if certificate.version != x509.Version.v3 or not is_ca(certificate):
            raise validation(
                "The trust anchor certificate must be an X.509 v3 CA certificate "
                "(basicConstraints with CA:TRUE)."
            )


def anchor_output(anchor: TrustAnchorRecord) -> dict[str, Any]:
    source_data = (
        {"x509CertificateData": anchor.source_data}
        if anchor.source_type == "CERTIFICATE_BUNDLE"
        else {"acmPcaArn": anchor.source_data}
    )
    return {
        "trustAnchorId": anchor.id,
        "trustAnchorArn": anchor_arn(anchor.region, anchor.account_id, anchor.id),
        "name": anchor.name,
        "source": {"sourceType": anchor.source_type, "sourceData": source_data},
        "enabled": anchor.enabled,
        "createdAt": anchor.created_at,
        "updatedAt": anchor.updated_at,
        "notificationSettings": [],
    }


def profile_output(profile: ProfileRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "profileId": profile.id,
        "profileArn": profile_arn(profile.region, profile.account_id, profile.id),
        "name": profile.name,
        "requireInstanceProperties": profile.require_instance_properties,
        "enabled": profile.enabled,
        "createdBy": profile.created_by,
        "roleArns": list(profile.role_arns),
        "managedPolicyArns": list(profile.managed_policy_arns),
        "createdAt": profile.created_at,
        "updatedAt": profile.updated_at,
        "durationSeconds": profile.duration_seconds,
        "acceptRoleSessionName": profile.accept_role_session_name,
        "attributeMappings": [],
    }
    if profile.session_policy is not None:
        out["sessionPolicy"] = profile.session_policy
    return out


def region(ctx: OperationContext) -> str:
    return ctx.info.region


def page_size(params: Mapping[str, Any]) -> int:
    size = params.get("pageSize")
    if size is None:
        return 50
    if not 1 <= int(size) <= 1000:
        raise validation("pageSize must be between 1 and 1000.")
    return int(size)
