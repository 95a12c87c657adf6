"""CreateSession: role session credentials for a workload that proves it holds an X.509
certificate's private key.

The request (``POST /sessions``) is signed with the X.509 variant of Signature Version 4:

- ``Authorization: AWS4-X509-RSA-SHA256 Credential=<certificate serial (decimal)>/<date>/<region>/
  rolesanywhere/aws4_request, SignedHeaders=…, Signature=<hex>`` (``AWS4-X509-ECDSA-SHA256`` for
  EC keys); the signature is the certificate key's signature (RSA PKCS#1 v1.5 or DER ECDSA, SHA-256)
  over the SigV4 string to sign, whose canonical request is SigV4's;
- ``X-Amz-X509``: the end-entity certificate (base64 DER); ``X-Amz-X509-Chain``: intermediates
  (comma-separated base64 DER); both signed when present.

Then: the certificate chains to a CA of the enabled trust anchor (signatures, validity at
``now``), no enabled CRL of the anchor signed by an issuer on the path revokes a certificate of the
path ("Certificate revoked"), the profile is enabled and lists the role, and the role's trust
policy allows ``rolesanywhere.amazonaws.com`` ``sts:AssumeRole``, ``sts:TagSession`` and
``sts:SetSourceIdentity`` with the certificate's attributes that the profile's attribute mappings
select (:mod:`iamd.services.rolesanywhere.mappings`) as ``aws:PrincipalTag/x509Subject/CN`` …
condition keys; they become the session's principal tags. The credentials are sealed exactly as
AssumeRole's (:mod:`iamd.services.sts.tokens`). A successful call records its subject (the
certificate's subject name, the certificate, the instance properties sent) for ListSubjects and
GetSubject; refused calls are not recorded (their transaction is rolled back).

CreateSession is not in botocore's ``rolesanywhere`` model: :data:`SERVICE_MODEL` is that model
with the operation added, so the pipeline encodes its answer and errors like any other.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import hmac
import itertools
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from typing import Any, Final

from botocore.loaders import create_loader
from botocore.model import ServiceModel
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from iamd.authz import Principal, PrincipalKind, PrincipalPolicies
from iamd.services.framework import Caller, OperationContext, operation
from iamd.services.rolesanywhere.common import (
    MAX_DURATION,
    MIN_DURATION,
    SERVICE_PRINCIPAL,
    anchor_arn,
    error,
    is_ca,
    load_certificates,
    mappings_of,
    parse_arn,
    parse_crl,
    subject_arn,
    validation,
)
from iamd.services.rolesanywhere.mappings import certificate_attributes
from iamd.services.sts.common import (
    SessionPolicies,
    find_role,
    issue,
    parse_role_arn,
    role_arn,
)
from iamd.services.sts.evaluation import Trust, request_context
from iamd.services.sts.tokens import ROLE
from iamd.store.rolesanywhere import CredentialRecord, CrlRecord
from iamd.store.unit import UnitOfWork
from iamd.wire import AwsError, HttpRequest, OperationRef, SignedRequest, SigV4Verifier, jsontext
from iamd.wire.sigv4 import CredentialScope, canonical_request

__all__ = [
    "ALGORITHMS",
    "CertificateCaller",
    "authenticate_certificate",
    "certificate_credentials",
    "create_session",
    "is_x509_session",
    "service_model",
    "session_operation",
]

RSA_ALGORITHM: Final = "AWS4-X509-RSA-SHA256"
ECDSA_ALGORITHM: Final = "AWS4-X509-ECDSA-SHA256"
ALGORITHMS: Final = (RSA_ALGORITHM, ECDSA_ALGORITHM)
_AMZ_DATE: Final = "%Y%m%dT%H%M%SZ"
_HEX_SHA256: Final = re.compile(r"[0-9a-f]{64}")
_MAX_CHAIN: Final = 5


# -- the operation's model -------------------------------------------------------------------------

_SHAPES: Final[dict[str, Any]] = {
    "CreateSessionRequest": {
        "type": "structure",
        "members": {
            "profileArn": {"shape": "String"},
            "roleArn": {"shape": "String"},
            "trustAnchorArn": {"shape": "String"},
            "durationSeconds": {"shape": "Integer"},
            "roleSessionName": {"shape": "String"},
            "sessionName": {"shape": "String"},
            "instanceProperties": {"shape": "CreateSessionInstanceProperties"},
        },
    },
    "CreateSessionInstanceProperties": {
        "type": "map",
        "key": {"shape": "String"},
        "value": {"shape": "String"},
    },
    "CreateSessionResponse": {
        "type": "structure",
        "members": {
            "credentialSet": {"shape": "CreateSessionCredentialSet"},
            "subjectArn": {"shape": "String"},
        },
    },
    "CreateSessionCredentialSet": {"type": "list", "member": {"shape": "CreateSessionCredentialSetItem"}},
    "CreateSessionCredentialSetItem": {
        "type": "structure",
        "members": {
            "assumedRoleUser": {"shape": "CreateSessionAssumedRoleUser"},
            "credentials": {"shape": "CreateSessionCredentials"},
            "packedPolicySize": {"shape": "Integer"},
            "roleArn": {"shape": "String"},
            "sourceIdentity": {"shape": "String"},
        },
    },
    "CreateSessionAssumedRoleUser": {
        "type": "structure",
        "members": {"arn": {"shape": "String"}, "assumedRoleId": {"shape": "String"}},
    },
    "CreateSessionCredentials": {
        "type": "structure",
        "members": {
            "accessKeyId": {"shape": "String"},
            "expiration": {"shape": "CreateSessionTimestamp"},
            "secretAccessKey": {"shape": "String"},
            "sessionToken": {"shape": "String"},
        },
    },
    "CreateSessionTimestamp": {"type": "timestamp", "timestampFormat": "iso8601"},
}


@cache
def service_model() -> ServiceModel:
    """botocore's ``rolesanywhere`` model with CreateSession added (unsigned by SigV4: the
    pipeline authenticates it by its certificate)."""
    data = copy.deepcopy(create_loader().load_service_model("rolesanywhere", "service-2"))
    data["operations"]["CreateSession"] = {
        "name": "CreateSession",
        "http": {"method": "POST", "requestUri": "/sessions", "responseCode": 201},
        "input": {"shape": "CreateSessionRequest"},
        "output": {"shape": "CreateSessionResponse"},
        "errors": [{"shape": "AccessDeniedException"}, {"shape": "ValidationException"}],
        "authtype": "none",
    }
    data["shapes"].update(copy.deepcopy(_SHAPES))
    return ServiceModel(data, service_name="rolesanywhere")


def session_operation() -> OperationRef:
    model = service_model()
    return OperationRef("rolesanywhere", model, model.operation_model("CreateSession"))


def is_x509_session(request: HttpRequest) -> bool:
    """Whether ``request`` is a CreateSession call signed with an X.509 certificate."""
    if request.method.upper() != "POST" or request.path.rstrip("/") != "/sessions":
        return False
    algorithm = (request.headers.get("authorization") or "").strip().partition(" ")[0]
    return algorithm in ALGORITHMS


# -- the signature ---------------------------------------------------------------------------------


def _denied(message: str) -> AwsError:
    return error("AccessDeniedException", message)


def _parse_authorization(request: HttpRequest) -> tuple[str, SignedRequest]:
    header = (request.headers.get("authorization") or "").strip()
    algorithm, _, rest = header.partition(" ")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            fields[key.strip()] = value.strip()
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if not fields.get(name)]
    if missing:
        raise validation(f"The Authorization header lacks {', '.join(missing)}.")
    parts = fields["Credential"].split("/")
    if len(parts) != 5 or not all(parts):
        raise validation(
            "Credential should be of the form '<serial number>/<date>/<region>/rolesanywhere/aws4_request'."
        )
    serial, date, region, service, terminator = parts
    if service != "rolesanywhere" or terminator != "aws4_request":
        raise _denied("Credential should be scoped to the service 'rolesanywhere' with 'aws4_request'.")
    names = tuple(n.strip().lower() for n in fields["SignedHeaders"].split(";") if n.strip())
    for required in ("host", "x-amz-date", "x-amz-x509"):
        if required not in names:
            raise _denied(f"The header {required} must be signed.")
    if request.headers.get("x-amz-x509-chain") is not None and "x-amz-x509-chain" not in names:
        raise _denied("The header x-amz-x509-chain must be signed.")
    amz_date = request.headers.get("x-amz-date") or ""
    try:
        signed_at = datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        raise validation(f"X-Amz-Date must be in ISO-8601 basic format, not '{amz_date}'.") from None
    if date != amz_date[:8]:
        raise _denied("The date of the credential scope does not match X-Amz-Date.")
    signed = SignedRequest(
        scope=CredentialScope(serial, date, region, service, terminator),
        signed_headers=names,
        signature=fields["Signature"],
        amz_date=amz_date,
        signed_at=signed_at,
        security_token=None,
        presigned=False,
        expires=None,
    )
    return algorithm, signed


def _payload_hash(request: HttpRequest) -> str:
    actual = hashlib.sha256(request.body).hexdigest()
    claimed = request.headers.get("x-amz-content-sha256")
    if claimed is not None and (
        not _HEX_SHA256.fullmatch(claimed) or not hmac.compare_digest(claimed, actual)
    ):
        raise _denied("The provided 'x-amz-content-sha256' header does not match what was computed.")
    return actual


def string_to_sign(algorithm: str, request: HttpRequest, signed: SignedRequest) -> str:
    canonical = canonical_request(request, signed, _payload_hash(request))
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{algorithm}\n{signed.amz_date}\n{signed.scope.scope}\n{digest}"


def _der_certificate(text: str, what: str) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(base64.b64decode(text.strip(), validate=True))
    except (ValueError, binascii.Error) as exc:
        raise validation(f"{what} is not a base64 DER certificate.") from exc


def _verify_signature(algorithm: str, certificate: x509.Certificate, signature: str, message: str) -> None:
    try:
        raw = bytes.fromhex(signature)
    except ValueError:
        raise _denied("The request signature is not hexadecimal.") from None
    key = certificate.public_key()
    data = message.encode("utf-8")
    try:
        if algorithm == RSA_ALGORITHM and isinstance(key, rsa.RSAPublicKey):
            key.verify(raw, data, padding.PKCS1v15(), hashes.SHA256())
        elif algorithm == ECDSA_ALGORITHM and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(raw, data, ec.ECDSA(hashes.SHA256()))
        else:
            raise _denied(f"The signing algorithm {algorithm} does not match the certificate's key.")
    except InvalidSignature:
        raise _denied(
            "The request signature we calculated does not match the signature you provided."
        ) from None


# -- the certificate chain -------------------------------------------------------------------------


def _current(certificate: x509.Certificate, now: datetime, what: str) -> None:
    if now < certificate.not_valid_before_utc:
        raise _denied(f"The {what} is not yet valid.")
    if now > certificate.not_valid_after_utc:
        raise _denied(f"The {what} has expired.")


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    if certificate.issuer != issuer.subject:
        return False
    try:
        certificate.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def verify_chain(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    anchors: list[x509.Certificate],
    now: datetime,
) -> list[x509.Certificate]:
    """The leaf must chain, through CA intermediates, to one of the anchors; every certificate on
    the path (the anchor too) must be valid at ``now``. Returns the path, leaf first and anchor
    last. Raises AccessDeniedException."""
    _current(leaf, now, "certificate")
    if is_ca(leaf):
        raise _denied("The end-entity certificate must not be a CA certificate.")
    path = [leaf]
    current = leaf
    for _ in range(_MAX_CHAIN + 1):
        for anchor in anchors:
            if _issued_by(current, anchor):
                _current(anchor, now, "trust anchor certificate")
                return [*path, anchor]
        step = next((c for c in intermediates if c is not current and _issued_by(current, c)), None)
        if step is None:
            break
        if not is_ca(step):
            raise _denied("An intermediate certificate is not a CA certificate.")
        _current(step, now, "intermediate certificate")
        path.append(step)
        current = step
    raise _denied("Untrusted signing certificate: it does not chain to the trust anchor.")


# -- revocation ------------------------------------------------------------------------------------


def check_revocation(path: list[x509.Certificate], crls: Iterable[CrlRecord]) -> None:
    """AccessDeniedException "Certificate revoked" when an enabled CRL of the trust anchor, signed
    by the issuer of a certificate on the path, lists that certificate's serial number. A CRL
    whose signature does not verify against the issuer is ignored."""
    for record in crls:
        crl = parse_crl(record.crl_data)
        if crl is None:
            continue
        for certificate, issuer in itertools.pairwise(path):
            if crl.issuer != issuer.subject:
                continue
            try:
                signed = crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
            except (TypeError, ValueError, UnsupportedAlgorithm):
                signed = False
            if signed and crl.get_revoked_certificate_by_serial_number(certificate.serial_number):
                raise _denied("Certificate revoked")


# -- CreateSession ---------------------------------------------------------------------------------


def _params(request: HttpRequest) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, value in request.query_params:
        params[name] = value
    if request.body.strip():
        try:
            body = jsontext.loads(request.body)
        except jsontext.JsonTextError as exc:
            raise validation(f"The request body is not valid JSON: {exc}.") from exc
        if not isinstance(body, dict):
            raise validation("The request body must be a JSON object.")
        params.update(body)
    for name in ("profileArn", "roleArn", "trustAnchorArn"):
        if not isinstance(params.get(name), str) or not params[name]:
            raise validation(
                f"1 validation error detected: Value null at '{name}' failed to satisfy constraint"
            )
    return params


def _instance_properties(raw: object) -> dict[str, str] | None:
    """CreateSession's ``instanceProperties``: at most 50 string pairs of 1 to 200 characters."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise validation("instanceProperties must be an object of string keys and values.")
    if len(raw) > 50:
        raise validation("instanceProperties may hold at most 50 properties.")
    for key, value in raw.items():
        if not isinstance(value, str) or not 1 <= len(key) <= 200 or not 1 <= len(value) <= 200:
            raise validation(
                f"The instance property '{str(key)[:200]}' must be a string of 1 to 200 characters "
                "with a key of 1 to 200 characters."
            )
    return {str(k): str(v) for k, v in raw.items()}


@dataclass(frozen=True, slots=True)
class CertificateCaller(Caller):
    """A request signed with an X.509 certificate that chains to an enabled trust anchor and is not
    revoked: the Roles Anywhere service principal acting for the certificate's subject. Its ARN is
    the trust anchor's until CreateSession records the subject."""

    certificate: x509.Certificate | None = None
    anchor_id: str = ""
    region: str = ""


def certificate_credentials(request: HttpRequest) -> tuple[str, SignedRequest]:
    """The algorithm and the SigV4 parts of an X.509-signed request (nothing verified); raises
    AWS's error when the Authorization header is malformed."""
    return _parse_authorization(request)


def authenticate_certificate(
    uow: UnitOfWork, request: HttpRequest, verifier: SigV4Verifier, now: datetime
) -> CertificateCaller:
    """Verify an X.509-signed request: its time, its signature by the certificate's key, the chain
    to the enabled trust anchor the request names (``trustAnchorArn``), and that no enabled CRL of
    the anchor revokes a certificate of the chain."""
    algorithm, signed = _parse_authorization(request)
    verifier.check_time(signed, now)
    leaf = _der_certificate(request.headers.get("x-amz-x509") or "", "X-Amz-X509")
    chain_header = request.headers.get("x-amz-x509-chain")
    intermediates = (
        [_der_certificate(p, "X-Amz-X509-Chain") for p in chain_header.split(",") if p.strip()]
        if chain_header
        else []
    )
    if len(intermediates) > _MAX_CHAIN:
        raise validation(f"X-Amz-X509-Chain may hold at most {_MAX_CHAIN} certificates.")
    if signed.scope.access_key_id != str(leaf.serial_number):
        raise _denied("The credential's serial number does not match the certificate's.")
    _verify_signature(algorithm, leaf, signed.signature, string_to_sign(algorithm, request, signed))

    params = _params(request)
    region = signed.scope.region
    anchor_parts = parse_arn(str(params["trustAnchorArn"]))
    profile_parts = parse_arn(str(params["profileArn"]))
    if anchor_parts is None or anchor_parts[2] != "trust-anchor":
        raise validation(f"Invalid trust anchor ARN: {params['trustAnchorArn']}")
    if profile_parts is None or profile_parts[2] != "profile":
        raise validation(f"Invalid profile ARN: {params['profileArn']}")
    role_account, _, _ = parse_role_arn(str(params["roleArn"]))
    account = anchor_parts[1]
    if anchor_parts[0] != region or profile_parts[0] != region:
        raise _denied("The trust anchor and the profile must be in the region the request is signed for.")
    if profile_parts[1] != account or role_account != account:
        raise _denied("The trust anchor, the profile and the role must be in one account.")

    repo = uow.rolesanywhere
    anchor = repo.find_trust_anchor(account, region, anchor_parts[3])
    if anchor is None or not anchor.enabled:
        raise _denied("The trust anchor does not exist or is disabled.")
    # The chain first: a stranger's certificate learns nothing about profiles and roles.
    path = verify_chain(leaf, intermediates, load_certificates(anchor.source_data), now)
    check_revocation(path, repo.enabled_crls(account, region, anchor.id))
    # The source identity is the subject's CN whatever the profile maps into tags.
    cn = certificate_attributes(leaf, {"x509Subject": ("CN",)}).get("x509Subject/CN")
    return CertificateCaller(
        principal=Principal(PrincipalKind.SERVICE, SERVICE_PRINCIPAL, None),
        account_id=account,
        principal_type="AWSService",
        unique_id=SERVICE_PRINCIPAL,
        arn=anchor_arn(region, account, anchor.id),
        source_identity=f"CN={cn}" if cn else None,
        certificate=leaf,
        anchor_id=anchor.id,
        region=region,
    )


@operation("rolesanywhere", "CreateSession")
def create_session(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    """Issue the role session for the certificate :func:`authenticate_certificate` verified (the
    caller), when the profile is enabled and lists the role, and the role's trust policy allows
    the session. The caller recorded becomes the certificate's subject."""
    caller = ctx.caller
    if not isinstance(caller, CertificateCaller) or caller.certificate is None:
        raise _denied("CreateSession must be signed with an X.509 certificate.")
    ctx.authorized = True  # authenticated by its certificate, authorized by the trust policy
    now = ctx.now
    leaf = caller.certificate
    region, account = caller.region, caller.account_id
    profile_parts = parse_arn(str(params.get("profileArn") or ""))
    if profile_parts is None:
        raise validation(f"Invalid profile ARN: {params.get('profileArn')}")
    repo = ctx.uow.rolesanywhere
    profile = repo.find_profile(account, region, profile_parts[3])
    if profile is None or not profile.enabled:
        raise _denied("The profile does not exist or is disabled.")
    if str(params.get("roleArn")) not in profile.role_arns:
        raise _denied("The role is not in the profile.")

    instance_properties = _instance_properties(params.get("instanceProperties"))
    attributes = certificate_attributes(leaf, mappings_of(profile))
    source_arn = anchor_arn(region, account, caller.anchor_id)
    principal = caller.principal
    context: dict[str, object] = dict(request_context(ctx.info, now))
    context.update({f"aws:PrincipalTag/{k}": v for k, v in attributes.items()})
    context.update({f"aws:RequestTag/{k}": v for k, v in attributes.items()})
    if attributes:
        context["aws:TagKeys"] = list(attributes)
    context["aws:SourceArn"] = source_arn
    context["aws:SourceAccount"] = account
    source_identity = caller.source_identity
    if source_identity is not None:
        context["sts:SourceIdentity"] = source_identity
    serial_hex = format(leaf.serial_number, "x")
    session_name = serial_hex
    requested_name = params.get("roleSessionName")
    if requested_name:
        if not profile.accept_role_session_name:
            raise validation("The profile does not accept a role session name.")
        session_name = str(requested_name)
    context["sts:RoleSessionName"] = session_name

    role = find_role(ctx, str(params["roleArn"]))
    if role is None:
        raise _denied(f"The role {params['roleArn']} does not exist.")
    trust = Trust(principal, PrincipalPolicies(), role_arn(role), role.account_id, role.trust_policy, context)
    try:
        trust.check(ctx, "sts:AssumeRole")
        trust.check(ctx, "sts:TagSession")
        if source_identity is not None:
            trust.check(ctx, "sts:SetSourceIdentity")
    except AwsError as exc:
        raise _denied(f"The role's trust policy does not allow this session: {exc.message}") from exc

    duration = profile.duration_seconds
    if params.get("durationSeconds") is not None:
        try:
            requested = int(params["durationSeconds"])
        except (TypeError, ValueError):
            raise validation("durationSeconds must be a number.") from None
        if not MIN_DURATION <= requested <= MAX_DURATION:
            raise validation(f"durationSeconds must be between {MIN_DURATION} and {MAX_DURATION}.")
        duration = min(duration, requested)
    until_expiry = int((leaf.not_valid_after_utc - now).total_seconds())
    duration = max(1, min(duration, until_expiry))

    issued = issue(
        ctx,
        kind=ROLE,
        account_id=role.account_id,
        duration=duration,
        params={},
        policies=SessionPolicies(profile.session_policy, profile.managed_policy_arns),
        tags=attributes,
        role_id=role.id,
        role_name=role.name,
        role_path=role.path,
        session_name=session_name,
        source_identity=source_identity,
        source_arn=source_arn,
    )
    subject = repo.record_subject(
        account,
        region,
        leaf.subject.rfc4514_string(),
        new_id=str(uuid.uuid4()),
        credential=CredentialRecord(
            serial_number=str(leaf.serial_number),
            issuer=leaf.issuer.rfc4514_string(),
            seen_at=now,
            enabled=True,
            certificate_pem=leaf.public_bytes(serialization.Encoding.PEM).decode("ascii"),
            failed=False,
        ),
        instance_properties=instance_properties,
        seen_at=now,
    )
    subject_resource = subject_arn(region, account, subject.id)
    item: dict[str, Any] = {
        "assumedRoleUser": {"arn": issued.session.arn, "assumedRoleId": issued.session.unique_id},
        "credentials": {
            "accessKeyId": issued.session.access_key_id,
            "secretAccessKey": issued.session.secret_access_key,
            "sessionToken": issued.token,
            "expiration": issued.expiration,
        },
        "packedPolicySize": issued.packed,
        "roleArn": role_arn(role),
    }
    if source_identity is not None:
        item["sourceIdentity"] = source_identity
    ctx.caller = replace(caller, arn=subject_resource)  # the trail names the subject recorded
    return {"credentialSet": [item], "subjectArn": subject_resource}
