"""AssumeRoleWithSAML: a role session for the subject of a SAML 2.0 assertion.

The assertion (base64, as a browser posts it to https://signin.aws.amazon.com/saml) must be signed
— the Response or the Assertion, XML Signature with SHA-256 or better — by a certificate of the
SAML provider's metadata (IDPSSODescriptor signing keys), come from the metadata's entityID, be
meant for AWS (AudienceRestriction), be current (Conditions, SubjectConfirmationData), and name the
role with the provider in its ``https://aws.amazon.com/SAML/Attributes/Role`` attribute. Only what
the signature covers is read. The role's trust policy then decides, with the principal
``{"Federated": "arn:aws:iam::ACCOUNT:saml-provider/NAME"}`` and the keys ``SAML:aud``,
``SAML:sub``, ``SAML:sub_type``, ``SAML:iss``, ``SAML:namequalifier`` and ``SAML:doc``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from iamd.authz import Principal, PrincipalKind, PrincipalPolicies
from iamd.services.framework import OperationContext, operation
from iamd.services.sts.assume_role import tag_context
from iamd.services.sts.common import (
    assumed_role_output,
    check_session_name,
    find_role,
    issue,
    parse_role_arn,
    role_arn,
    role_duration,
    session_policies,
    session_tags,
    sts_error,
)
from iamd.services.sts.evaluation import Trust, deny, request_context
from iamd.services.sts.tokens import ROLE
from iamd.wire import AccessDenied, AwsError, ValidationError

SAMLP: Final = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML: Final = "urn:oasis:names:tc:SAML:2.0:assertion"
MD: Final = "urn:oasis:names:tc:SAML:2.0:metadata"
DS: Final = "http://www.w3.org/2000/09/xmldsig#"
ATTRIBUTES: Final = "https://aws.amazon.com/SAML/Attributes/"
ROLE_ATTRIBUTE: Final = ATTRIBUTES + "Role"
SESSION_NAME_ATTRIBUTE: Final = ATTRIBUTES + "RoleSessionName"
SESSION_DURATION_ATTRIBUTE: Final = ATTRIBUTES + "SessionDuration"
PRINCIPAL_TAG_PREFIX: Final = ATTRIBUTES + "PrincipalTag:"
TRANSITIVE_ATTRIBUTE: Final = ATTRIBUTES + "TransitiveTagKeys"
SOURCE_IDENTITY_ATTRIBUTE: Final = ATTRIBUTES + "SourceIdentity"
AUDIENCES: Final = frozenset({"https://signin.aws.amazon.com/saml", "urn:amazon:webservices"})
_REGIONAL_AUDIENCE = re.compile(r"https://[a-z0-9-]+\.signin\.aws\.amazon\.com/saml")
BEARER: Final = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
SUCCESS: Final = "urn:oasis:names:tc:SAML:2.0:status:Success"
NAMEID_FORMAT: Final = "urn:oasis:names:tc:SAML:2.0:nameid-format:"
SKEW: Final = timedelta(minutes=5)
_PROVIDER_ARN = re.compile(r"arn:aws:iam::(\d{12}):saml-provider/([\w+=,.@-]{1,128})")


@functools.cache
def _xml() -> tuple[Any, Any]:
    """lxml's ``etree`` and the parser every document here is read with, imported by the first
    SAML request (lxml and signxml cost every server start 15-20 ms of imports otherwise)."""
    from lxml import etree  # type: ignore[import-untyped]

    return etree, etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=False
    )


def _invalid(message: str) -> AwsError:
    return sts_error("InvalidIdentityTokenException", message)


def _q(namespace: str, tag: str) -> str:
    return f"{{{namespace}}}{tag}"


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise _invalid(f"The SAML assertion has a malformed time {text!r}.") from exc


@dataclass(frozen=True, slots=True)
class Metadata:
    entity_id: str | None
    certificates: tuple[str, ...]


def read_metadata(document: str) -> Metadata:
    """The IdP's entityID and signing certificates (PEM) from its SAML metadata."""
    etree, parser = _xml()
    try:
        root = etree.fromstring(document.encode("utf-8"), parser)
    except etree.XMLSyntaxError as exc:
        raise _invalid("The SAML provider's metadata document is not XML.") from exc
    descriptor = (
        root if root.tag == _q(MD, "EntityDescriptor") else root.find(f".//{_q(MD, 'EntityDescriptor')}")
    )
    entity_id = descriptor.get("entityID") if descriptor is not None else None
    certificates: list[str] = []
    for key in root.iter(_q(MD, "KeyDescriptor")):
        if key.get("use") not in (None, "signing"):
            continue
        parent = key.getparent()
        if parent is None or parent.tag != _q(MD, "IDPSSODescriptor"):
            continue
        for cert in key.iter(_q(DS, "X509Certificate")):
            body = "".join((cert.text or "").split())
            if body:
                lines = [body[i : i + 64] for i in range(0, len(body), 64)]
                certificates.append(
                    "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"
                )
    return Metadata(entity_id, tuple(certificates))


def _verify(root: Any, location: str, certificates: tuple[str, ...], now: datetime) -> Any:
    from signxml import SignatureConfiguration, XMLVerifier  # type: ignore[attr-defined]
    from signxml.exceptions import InvalidInput, InvalidSignature

    _, parser = _xml()
    config = SignatureConfiguration(
        location=location,
        expect_references=1,
        verification_time=now,
    )
    last: Exception | None = None
    for certificate in certificates:
        try:
            result = XMLVerifier().verify(root, x509_cert=certificate, expect_config=config, parser=parser)
        except (InvalidSignature, InvalidInput) as exc:
            last = exc
            continue
        return result.signed_xml  # type: ignore[union-attr]
    raise _invalid(
        "The SAML assertion's signature does not verify with the provider's certificates."
    ) from last


def signed_assertion(xml: bytes, certificates: tuple[str, ...], now: datetime) -> Any:
    """The assertion, as covered by a valid signature; InvalidIdentityToken otherwise."""
    etree, parser = _xml()
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as exc:
        raise _invalid("The SAML response is not XML.") from exc
    if root.tag == _q(SAML, "Assertion"):
        if root.find(_q(DS, "Signature")) is None:
            raise _invalid("The SAML assertion is not signed.")
        return _verify(root, "./", certificates, now)
    if root.tag != _q(SAMLP, "Response"):
        raise _invalid("The SAML response is neither a samlp:Response nor a saml:Assertion.")
    if root.find(_q(SAML, "EncryptedAssertion")) is not None:
        raise _invalid("Encrypted SAML assertions are not supported by iamd.")
    assertions = root.findall(_q(SAML, "Assertion"))
    if len(assertions) != 1:
        raise _invalid("The SAML response must hold exactly one assertion.")
    status = root.find(f"{_q(SAMLP, 'Status')}/{_q(SAMLP, 'StatusCode')}")
    if status is None or status.get("Value") != SUCCESS:
        raise _invalid("The SAML response does not report success.")
    if root.find(_q(DS, "Signature")) is not None:
        signed = _verify(root, "./", certificates, now)
        if signed is None or signed.tag != _q(SAMLP, "Response"):
            raise _invalid("The SAML response's signature does not cover the response.")
        found = signed.findall(_q(SAML, "Assertion"))
        if len(found) != 1:
            raise _invalid("The SAML response must hold exactly one assertion.")
        return found[0]
    if assertions[0].find(_q(DS, "Signature")) is None:
        raise _invalid("Neither the SAML response nor its assertion is signed.")
    return _verify(root, f"./{_q(SAML, 'Assertion')}/", certificates, now)


@dataclass
class Claims:
    issuer: str
    subject: str
    subject_type: str
    recipient: str
    attributes: dict[str, list[str]] = field(default_factory=dict)
    session_not_on_or_after: datetime | None = None


def read_claims(assertion: Any, metadata: Metadata, now: datetime) -> Claims:
    """Check the signed assertion's issuer, audience and times; return what STS uses of it."""
    if assertion is None or assertion.tag != _q(SAML, "Assertion"):
        raise _invalid("The signature does not cover a SAML assertion.")
    issuer = (assertion.findtext(_q(SAML, "Issuer")) or "").strip()
    if metadata.entity_id is not None and issuer != metadata.entity_id:
        raise _invalid("The SAML assertion's issuer is not the provider's entity id.")
    conditions = assertion.find(_q(SAML, "Conditions"))
    if conditions is None:
        raise _invalid("The SAML assertion has no Conditions.")
    not_before = _parse_time(conditions.get("NotBefore"))
    not_after = _parse_time(conditions.get("NotOnOrAfter"))
    if not_before is not None and now + SKEW < not_before:
        raise _invalid("The SAML assertion is not valid yet.")
    if not_after is not None and now >= not_after + SKEW:
        raise sts_error("ExpiredTokenException", "The SAML assertion has expired (Conditions NotOnOrAfter).")
    audiences = [
        (a.text or "").strip()
        for a in conditions.iter(_q(SAML, "Audience"))
        if a.getparent() is not None and a.getparent().tag == _q(SAML, "AudienceRestriction")
    ]
    if not any(a in AUDIENCES or _REGIONAL_AUDIENCE.fullmatch(a) for a in audiences):
        raise _invalid("The SAML assertion's audience is not AWS (https://signin.aws.amazon.com/saml).")
    subject = assertion.find(_q(SAML, "Subject"))
    name_id = subject.find(_q(SAML, "NameID")) if subject is not None else None
    if name_id is None or not (name_id.text or "").strip():
        raise _invalid("The SAML assertion has no subject NameID.")
    subject_format = name_id.get("Format") or f"{NAMEID_FORMAT}unspecified"
    short = (
        subject_format[len(NAMEID_FORMAT) :] if subject_format.startswith(NAMEID_FORMAT) else subject_format
    )
    recipient = ""
    bearer = False
    for confirmation in subject.iter(_q(SAML, "SubjectConfirmation")):
        if confirmation.get("Method") != BEARER:
            continue
        data = confirmation.find(_q(SAML, "SubjectConfirmationData"))
        if data is None:
            continue
        expiry = _parse_time(data.get("NotOnOrAfter"))
        if expiry is not None and now >= expiry + SKEW:
            raise sts_error(
                "ExpiredTokenException", "The SAML assertion has expired (SubjectConfirmationData)."
            )
        recipient = data.get("Recipient") or recipient
        bearer = True
    if not bearer:
        raise _invalid("The SAML assertion has no bearer subject confirmation.")
    attributes: dict[str, list[str]] = {}
    for attribute in assertion.iter(_q(SAML, "Attribute")):
        name = attribute.get("Name") or ""
        values = [(v.text or "").strip() for v in attribute.iter(_q(SAML, "AttributeValue"))]
        attributes.setdefault(name, []).extend(values)
    session_end: datetime | None = None
    for statement in assertion.iter(_q(SAML, "AuthnStatement")):
        session_end = _parse_time(statement.get("SessionNotOnOrAfter")) or session_end
    return Claims(issuer, name_id.text.strip(), short, recipient, attributes, session_end)


def _decode(assertion: str) -> bytes:
    try:
        return base64.b64decode("".join(assertion.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _invalid("The SAML assertion is not base64.") from exc


@operation("sts", "AssumeRoleWithSAML", readonly=True, heavy=True)
def assume_role_with_saml(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    arn, provider_arn = params["RoleArn"], params["PrincipalArn"]
    account, _, role_name = parse_role_arn(arn)
    if role_name.startswith("AWSReservedSSO_"):
        # STS API Reference: "AssumeRoleWithSAML will not work on IAM Identity Center managed roles.
        # These roles' names start with AWSReservedSSO_." Their sessions come from the access portal.
        ctx.authorized = True
        raise AccessDenied(
            "Not authorized to perform sts:AssumeRoleWithSAML: IAM Identity Center's roles "
            f"({role_name}) are used through the AWS access portal only"
        )
    found = _PROVIDER_ARN.fullmatch(provider_arn)
    if found is None:
        raise ValidationError(f"{provider_arn} is not a SAML provider ARN.")
    if found.group(1) != account:
        raise _invalid("The SAML provider must be in the role's account.")
    provider = ctx.uow.saml_providers.find(account, found.group(2))
    if provider is None:
        raise _invalid(f"Specified provider doesn't exist: {provider_arn}")
    if provider.valid_until is not None and ctx.now >= provider.valid_until:
        raise _invalid("The SAML provider's metadata is no longer valid (ValidUntil has passed).")
    metadata = read_metadata(provider.metadata_document)
    if not metadata.certificates:
        raise _invalid("The SAML provider's metadata holds no signing certificate.")
    claims = read_claims(
        signed_assertion(_decode(params["SAMLAssertion"]), metadata.certificates, ctx.now), metadata, ctx.now
    )
    principal = Principal(PrincipalKind.SAML_USER, provider_arn, account)

    pairs = {
        frozenset(p.strip() for p in value.split(",")) for value in claims.attributes.get(ROLE_ATTRIBUTE, [])
    }
    if frozenset({arn, provider_arn}) not in pairs:
        ctx.authorized = True
        raise AccessDenied("Not authorized to perform sts:AssumeRoleWithSAML")
    names = claims.attributes.get(SESSION_NAME_ATTRIBUTE, [])
    if not names:
        raise _invalid(f"The SAML assertion has no {SESSION_NAME_ATTRIBUTE} attribute.")
    name = names[0]
    try:
        check_session_name(name)
    except ValidationError as exc:
        raise _invalid(f"The RoleSessionName attribute {name!r} is not valid.") from exc
    token_tags = [
        {"Key": key[len(PRINCIPAL_TAG_PREFIX) :], "Value": values[0] if values else ""}
        for key, values in claims.attributes.items()
        if key.startswith(PRINCIPAL_TAG_PREFIX)
    ]
    tags, transitive = session_tags(token_tags, claims.attributes.get(TRANSITIVE_ATTRIBUTE), {})
    identities = claims.attributes.get(SOURCE_IDENTITY_ATTRIBUTE, [])
    source_identity = identities[0] if identities else None

    qualifier = base64.b64encode(
        hashlib.sha1(f"{claims.issuer}{account}/{found.group(2)}".encode()).digest()
    ).decode("ascii")
    context: dict[str, object] = dict(request_context(ctx.info, ctx.now))
    context.update(
        {
            "aws:FederatedProvider": provider_arn,
            "sts:RoleSessionName": name,
            "saml:aud": claims.recipient,
            "saml:sub": claims.subject,
            "saml:sub_type": claims.subject_type,
            "saml:iss": claims.issuer,
            "saml:namequalifier": qualifier,
            "saml:doc": f"{account}/{found.group(2)}",
        }
    )
    if source_identity is not None:
        context["sts:SourceIdentity"] = source_identity
    context.update(tag_context(tags, transitive))

    role = find_role(ctx, arn)
    if role is None:
        ctx.authorized = True
        raise deny(ctx, principal, "sts:AssumeRoleWithSAML", arn, None, {}, account)
    trust = Trust(principal, PrincipalPolicies(), role_arn(role), role.account_id, role.trust_policy, context)
    trust.check(ctx, "sts:AssumeRoleWithSAML")
    if tags:
        trust.check(ctx, "sts:TagSession")
    if source_identity is not None:
        trust.check(ctx, "sts:SetSourceIdentity")

    requested = params.get("DurationSeconds")
    durations = claims.attributes.get(SESSION_DURATION_ATTRIBUTE, [])
    if requested is None and durations and durations[0].isdigit():
        requested = max(900, min(43200, int(durations[0])))
    duration = role_duration(requested, role, chained=False)
    if claims.session_not_on_or_after is not None:
        remaining = int((claims.session_not_on_or_after - ctx.now).total_seconds())
        duration = max(1, min(duration, remaining))
    chosen = session_policies(ctx, params, role.account_id)
    issued = issue(
        ctx,
        kind=ROLE,
        account_id=role.account_id,
        duration=duration,
        params=params,
        policies=chosen,
        tags=tags,
        role_id=role.id,
        role_name=role.name,
        role_path=role.path,
        session_name=name,
        transitive_tag_keys=transitive,
        source_identity=source_identity,
        source_arn=provider_arn,
        federated_provider=provider_arn,
    )
    out = assumed_role_output(issued)
    out.update(
        {
            "Subject": claims.subject,
            "SubjectType": claims.subject_type,
            "Issuer": claims.issuer,
            "Audience": claims.recipient,
            "NameQualifier": qualifier,
        }
    )
    return out
