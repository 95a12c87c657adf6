"""SAML 2.0 federation from an external identity provider (Okta, Entra ID …) into the access
portal: iamd is the service provider.

As IAM Identity Center (user guide, other-idps and the SP metadata it shows): per identity store
an entity id ``{base}/platform/saml/<store id>`` and an assertion consumer service (HTTP-POST)
at ``{base}/platform/saml/acs/<store id>``; the SP metadata at
``{base}/platform/saml/metadata/<store id>``; SP-initiated sign-in at
``{base}/platform/saml/login/<store id>`` (an AuthnRequest, HTTP-Redirect binding). The IdP is
set by an administrator from its metadata (``iamd sso saml-idp --metadata FILE``).

An assertion is accepted when it is signed (the response or the assertion) with a certificate of
the IdP's metadata (verified by signxml, as STS's AssumeRoleWithSAML), issued by the IdP's entity
id, meant for this SP (``Audience``), sent to this ACS (``Recipient``), within its times
(``NotBefore``/``NotOnOrAfter``, five minutes of skew), never seen before (its ``ID`` is kept
until it expires), not encrypted, at most 50,000 characters. Its ``NameID`` must be the user
name of a user of the store (or, failing that, the user's primary email); Identity Center does
not create users at sign-in. The portal session then begins through
:func:`iamd.portal.sessions.sign_in_response`, capped by ``SessionNotOnOrAfter``.
"""

from __future__ import annotations

import base64
import binascii
import uuid
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import urlencode
from xml.sax.saxutils import escape, quoteattr

from lxml import etree  # type: ignore[import-untyped]

from iamd.services.sts.saml import MD, SAML, read_metadata, signed_assertion
from iamd.store.identity_store import IdsUserRecord
from iamd.store.unit import UnitOfWork
from iamd.wire import AwsError

__all__ = [
    "MAX_ASSERTION",
    "IdpMetadata",
    "MetadataError",
    "SamlRejected",
    "acs_path",
    "authn_request_url",
    "consume",
    "entity_id",
    "parse_idp_metadata",
    "sp_metadata",
]

PREFIX: Final = "/platform/saml"
MAX_ASSERTION: Final = 50_000
"""A SAML assertion may be at most 50,000 characters (IAM Identity Center quotas)."""
MAX_RESPONSE: Final = 100_000
"""The decoded SAMLResponse (the assertion and its envelope and signatures)."""
MAX_CERTIFICATE: Final = 2_500
SKEW: Final = timedelta(minutes=5)
EMAIL_FORMAT: Final = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
POST_BINDING: Final = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
REDIRECT_BINDING: Final = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
BEARER: Final = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class MetadataError(ValueError):
    """IdP metadata iamd cannot use; the message says why."""


class SamlRejected(ValueError):
    """An assertion the ACS refuses; the message (for the person and the trail) says why."""


def _q(namespace: str, tag: str) -> str:
    return f"{{{namespace}}}{tag}"


def entity_id(base: str, store_id: str) -> str:
    return f"{base}{PREFIX}/{store_id}"


def acs_path(store_id: str) -> str:
    return f"{PREFIX}/acs/{store_id}"


def sp_metadata(base: str, store_id: str) -> str:
    """iamd's SP metadata for the store's IdP to import."""
    acs = f"{base}{acs_path(store_id)}"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<md:EntityDescriptor xmlns:md="{MD}" entityID={quoteattr(entity_id(base, store_id))}>\n'
        '  <md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true" '
        'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">\n'
        f"    <md:NameIDFormat>{EMAIL_FORMAT}</md:NameIDFormat>\n"
        f"    <md:AssertionConsumerService Binding={quoteattr(POST_BINDING)} Location={quoteattr(acs)} "
        'index="0" isDefault="true"/>\n'
        "  </md:SPSSODescriptor>\n"
        "</md:EntityDescriptor>\n"
    )


@dataclass(frozen=True, slots=True)
class IdpMetadata:
    entity_id: str
    sso_url: str | None
    certificates: tuple[str, ...]
    xml: str


def parse_idp_metadata(document: str) -> IdpMetadata:
    """The entity id, SSO URL and signing certificates of an IdP's metadata (which must have an
    entity id and a certificate, as Identity Center requires)."""
    try:
        root = etree.fromstring(document.encode("utf-8"), _PARSER)
    except etree.XMLSyntaxError as exc:
        raise MetadataError(f"the metadata is not XML: {exc}") from None
    try:
        parsed = read_metadata(document)
    except AwsError as exc:
        raise MetadataError(exc.message) from None
    if not parsed.entity_id:
        raise MetadataError("the metadata has no EntityDescriptor entityID")
    if not parsed.certificates:
        raise MetadataError("the metadata has no signing X509Certificate in an IDPSSODescriptor")
    for certificate in parsed.certificates:
        if len(certificate) > MAX_CERTIFICATE + 100:
            raise MetadataError(f"a certificate is longer than {MAX_CERTIFICATE} characters")
    sso_url = None
    for service in root.iter(_q(MD, "SingleSignOnService")):
        if service.get("Binding") in (REDIRECT_BINDING, POST_BINDING) and service.get("Location"):
            sso_url = service.get("Location")
            if service.get("Binding") == REDIRECT_BINDING:
                break
    return IdpMetadata(parsed.entity_id, sso_url, parsed.certificates, document)


def authn_request_url(sso_url: str, base: str, store_id: str, relay_state: str, now: datetime) -> str:
    """Where to send the browser for SP-initiated sign-in (HTTP-Redirect binding, unsigned)."""
    request = (
        f'<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        f'xmlns:saml="{SAML}" ID="_{uuid.uuid4().hex}" Version="2.0" '
        f'IssueInstant="{now.strftime("%Y-%m-%dT%H:%M:%SZ")}" '
        f"Destination={quoteattr(sso_url)} "
        f'ProtocolBinding="{POST_BINDING}" '
        f"AssertionConsumerServiceURL={quoteattr(base + acs_path(store_id))}>"
        f"<saml:Issuer>{escape(entity_id(base, store_id))}</saml:Issuer>"
        f'<samlp:NameIDPolicy Format="{EMAIL_FORMAT}" AllowCreate="false"/>'
        "</samlp:AuthnRequest>"
    )
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = compressor.compress(request.encode("utf-8")) + compressor.flush()
    query = {"SAMLRequest": base64.b64encode(deflated).decode("ascii")}
    if relay_state:
        query["RelayState"] = relay_state
    return f"{sso_url}{'&' if '?' in sso_url else '?'}{urlencode(query)}"


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise SamlRejected(f"The assertion has a malformed time {text!r}.") from None


@dataclass(frozen=True, slots=True)
class Accepted:
    user: IdsUserRecord
    instance_arn: str | None
    assertion_id: str
    session_not_on_or_after: datetime | None


def decode_response(form_value: str) -> bytes:
    """The XML of a posted SAMLResponse (base64), bounded."""
    if len(form_value) > MAX_RESPONSE * 2:
        raise SamlRejected("The SAML response is too large.")
    try:
        xml = base64.b64decode("".join(form_value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise SamlRejected("The SAML response is not base64.") from None
    if len(xml) > MAX_RESPONSE:
        raise SamlRejected("The SAML response is too large.")
    return xml


def consume(uow: UnitOfWork, store_id: str, xml: bytes, *, base: str, now: datetime) -> Accepted:
    """Check a SAML response posted to the store's ACS and find its user (see the module's
    docstring); records the assertion's id so it cannot be used again."""
    store = uow.identity_store.find_store(store_id)
    idp = uow.identity_credentials.saml_idp(store_id) if store is not None else None
    if store is None or idp is None:
        raise SamlRejected("This identity store has no external identity provider.")
    if b"EncryptedAssertion" in xml:
        raise SamlRejected("Encrypted assertions are not supported, as in IAM Identity Center.")
    try:
        assertion = signed_assertion(xml, idp.certificates, now)
    except AwsError as exc:
        raise SamlRejected(exc.message) from None
    if assertion is None or assertion.tag != _q(SAML, "Assertion"):
        raise SamlRejected("The signature does not cover a SAML assertion.")
    if len(etree.tostring(assertion)) > MAX_ASSERTION:
        raise SamlRejected(f"The assertion is longer than {MAX_ASSERTION} characters.")
    issuer = (assertion.findtext(_q(SAML, "Issuer")) or "").strip()
    if issuer != idp.entity_id:
        raise SamlRejected("The assertion's issuer is not the identity provider's entity id.")
    sp_base = idp.sp_base_url or base
    conditions = assertion.find(_q(SAML, "Conditions"))
    if conditions is None:
        raise SamlRejected("The assertion has no Conditions.")
    not_before, not_after = _time(conditions.get("NotBefore")), _time(conditions.get("NotOnOrAfter"))
    if not_before is not None and now + SKEW < not_before:
        raise SamlRejected("The assertion is not valid yet (NotBefore).")
    if not_after is None or now >= not_after + SKEW:
        raise SamlRejected("The assertion has expired (NotOnOrAfter).")
    audiences = [(a.text or "").strip() for a in conditions.iter(_q(SAML, "Audience"))]
    if entity_id(sp_base, store_id) not in audiences:
        raise SamlRejected(
            f"The assertion's audience is not this service provider ({entity_id(sp_base, store_id)})."
        )
    subject = assertion.find(_q(SAML, "Subject"))
    name_id = subject.find(_q(SAML, "NameID")) if subject is not None else None
    if name_id is None or not (name_id.text or "").strip():
        raise SamlRejected("The assertion has no subject NameID.")
    acs = sp_base + acs_path(store_id)
    confirmed = False
    for confirmation in subject.iter(_q(SAML, "SubjectConfirmation")):
        data = confirmation.find(_q(SAML, "SubjectConfirmationData"))
        if confirmation.get("Method") != BEARER or data is None:
            continue
        if data.get("Recipient") != acs:
            raise SamlRejected(
                f"The assertion was sent to {data.get('Recipient')!r}, not to this ACS ({acs})."
            )
        expiry = _time(data.get("NotOnOrAfter"))
        if expiry is None or now >= expiry + SKEW:
            raise SamlRejected("The assertion has expired (SubjectConfirmationData NotOnOrAfter).")
        confirmed = True
    if not confirmed:
        raise SamlRejected("The assertion has no bearer SubjectConfirmation for this ACS.")
    assertion_id = assertion.get("ID") or ""
    if not assertion_id or len(assertion_id) > 256:
        raise SamlRejected("The assertion has no ID.")
    session_end = None
    for statement in assertion.iter(_q(SAML, "AuthnStatement")):
        session_end = _time(statement.get("SessionNotOnOrAfter")) or session_end
    name = name_id.text.strip()
    user = uow.identity_store.find_user_by_name(store_id, name) or uow.identity_store.find_user_by_email(
        store_id, name
    )
    if user is None:
        raise SamlRejected(
            f"No user {name!r} in the identity store: users must be provisioned (SCIM or the API) before "
            "they sign in."
        )
    if not user.enabled:
        raise SamlRejected(f"User {user.user_name} is disabled.")
    remember = max(not_after, now) + SKEW
    if not uow.identity_credentials.use_assertion_id(store_id, assertion_id, expires_at=remember, now=now):
        raise SamlRejected("This assertion was used already (a replay).")
    return Accepted(user, store.instance_arn, assertion_id, session_end)
