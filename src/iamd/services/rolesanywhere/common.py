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
from iamd.store.errors import InvalidMarker
from iamd.store.records import Page
from iamd.store.rolesanywhere import ProfileRecord, TrustAnchorRecord
from iamd.wire import AwsError, modeled_error
from iamd.wire.models import load_service_model

__all__ = [
    "DEFAULT_MAPPINGS",
    "NOTIFICATION_EVENTS",
    "SERVICE_PRINCIPAL",
    "anchor_arn",
    "anchor_output",
    "crl_arn",
    "error",
    "load_certificates",
    "not_found",
    "page_of",
    "parse_arn",
    "parse_crl",
    "profile_arn",
    "profile_output",
    "resource_id",
    "subject_arn",
    "tags_of",
    "tags_output",
    "validation",
]

SERVICE_PRINCIPAL: Final = "rolesanywhere.amazonaws.com"
MAX_DURATION: Final = 43200
MIN_DURATION: Final = 900
DEFAULT_DURATION: Final = 3600
_ARN: Final = re.compile(
    r"arn:aws:rolesanywhere:([a-z0-9-]+):(\d{12}):(trust-anchor|profile|subject|crl)/([0-9a-f-]{36})"
)
#: A profile's attribute mappings until PutAttributeMapping / DeleteAttributeMapping change them
#: (AWS's documented defaults: every supported RDN of the subject and the issuer, and the first
#: DNS name, URI and directory name of the subject alternative name).
DEFAULT_MAPPINGS: Final[Mapping[str, tuple[str, ...]]] = {
    "x509Issuer": ("*",),
    "x509SAN": ("DNS", "URI", "Name/*"),
    "x509Subject": ("*",),
}
_ID_PARAMETERS: Final = {
    "trust-anchor": "trustAnchorId",
    "profile": "profileId",
    "crl": "crlId",
    "subject": "subjectId",
}
NOTIFICATION_EVENTS: Final = ("CA_CERTIFICATE_EXPIRY", "END_ENTITY_CERTIFICATE_EXPIRY")
#: AWS's default notification settings: both events, all channels, 45 days before expiry.
DEFAULT_THRESHOLD: Final = 45


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


def crl_arn(region: str, account: str, crl_id: str) -> str:
    return f"arn:aws:rolesanywhere:{region}:{account}:crl/{crl_id}"


def subject_arn(region: str, account: str, subject_id: str) -> str:
    return f"arn:aws:rolesanywhere:{region}:{account}:subject/{subject_id}"


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


def resource_id(ctx: OperationContext, value: str, kind: str, what: str) -> str:
    """The UUID of a resource named by its id or by its ARN (which must be of ``kind`` and in the
    caller's account and region: another's is not found). Alias ARNs are not supported."""
    if value.startswith("arn:"):
        parsed = parse_arn(value)
        if parsed is None or parsed[2] != kind:
            if f":alias/{kind}/" in value:
                raise not_found(what.capitalize())
            raise validation(f"Invalid {what} ARN: {value}")
        region_name, account, _, found = parsed
        if account != ctx.account_id or region_name != ctx.info.region:
            raise not_found(what.capitalize())
        return found
    return check_uuid(value, _ID_PARAMETERS[kind])


def page_of(list_page: Any) -> Page[Any]:
    """Call a store listing, answering a bad nextToken with ValidationException."""
    try:
        page: Page[Any] = list_page()
    except InvalidMarker:
        raise validation("Invalid nextToken: it is not one this service returned.") from None
    return page


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


def parse_crl(data: bytes) -> x509.CertificateRevocationList | None:
    """A CRL in PEM or DER, or None when ``data`` is neither."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data.strip())
        return x509.load_der_x509_crl(data)
    except ValueError:
        return None


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
        "notificationSettings": notification_output(anchor),
    }


def notification_output(anchor: TrustAnchorRecord) -> list[dict[str, Any]]:
    """The anchor's notification settings: its custom ones, and AWS's defaults for the events (on
    channel ALL) it has not customized."""
    out: list[dict[str, Any]] = []
    custom = {(n.event, n.channel or "ALL") for n in anchor.notification_settings}
    for event in NOTIFICATION_EVENTS:
        if (event, "ALL") not in custom:
            out.append(
                {
                    "event": event,
                    "channel": "ALL",
                    "enabled": True,
                    "threshold": DEFAULT_THRESHOLD,
                    "configuredBy": SERVICE_PRINCIPAL,
                }
            )
    for setting in anchor.notification_settings:
        item: dict[str, Any] = {
            "event": setting.event,
            "channel": setting.channel or "ALL",
            "enabled": setting.enabled,
            "configuredBy": setting.configured_by,
        }
        if setting.threshold is not None:
            item["threshold"] = setting.threshold
        out.append(item)
    return sorted(out, key=lambda n: (str(n["event"]), str(n["channel"])))


def mappings_of(profile: ProfileRecord) -> Mapping[str, tuple[str, ...]]:
    """The profile's attribute mappings (AWS's defaults until they were changed)."""
    return DEFAULT_MAPPINGS if profile.attribute_mappings is None else profile.attribute_mappings


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
        "attributeMappings": [
            {"certificateField": field, "mappingRules": [{"specifier": s} for s in specifiers]}
            for field, specifiers in sorted(mappings_of(profile).items())
            if specifiers
        ],
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
