"""SAML 2.0 federation from an external IdP into the access portal, end to end.

The IdP here acts as Okta does: its own self-signed certificate (made with ``cryptography``), its
metadata given to ``iamd sso saml-idp``, and a browser's HTTP-POST of a ``samlp:Response`` whose
assertion is signed (RSA-SHA256, exclusive C14N, with signxml) to iamd's assertion consumer.
Forged, unsigned, tampered, expired, wrong-audience, wrong-recipient and replayed assertions are
refused; an accepted one begins a portal session (sso-portal's session store)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3
import httpx
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree  # type: ignore[import-untyped]
from signxml import XMLSigner, methods  # type: ignore[attr-defined]
from tests.e2e.harness import Server, open_data_store

from iamd.portal.sessions import COOKIE, digest

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
IDP_ENTITY = "http://www.okta.com/exk-iamd-test"
IDP_SSO = "https://iamd-test.okta.example/app/amazon_aws_sso/exk-iamd-test/sso/saml"


def iamd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "iamd.cli.main", *args], capture_output=True, text=True, timeout=120
    )


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Idp:
    key_pem: bytes
    cert_pem: bytes


def make_idp(name: str) -> Idp:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return Idp(key_pem, cert.public_bytes(serialization.Encoding.PEM))


def idp_metadata(idp: Idp) -> str:
    body = "".join(idp.cert_pem.decode().strip().splitlines()[1:-1])
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{IDP_ENTITY}">'
        '<md:IDPSSODescriptor WantAuthnRequestsSigned="false" '
        'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        '<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
        f"<ds:X509Data><ds:X509Certificate>{body}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
        "</md:KeyDescriptor>"
        "<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>"
        '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        f'Location="{IDP_SSO}"/>'
        '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
        f'Location="{IDP_SSO}"/>'
        "</md:IDPSSODescriptor></md:EntityDescriptor>"
    )


@dataclass
class Sp:
    base: str
    store_id: str
    instance_arn: str

    @property
    def acs(self) -> str:
        return f"{self.base}/platform/saml/acs/{self.store_id}"

    @property
    def entity_id(self) -> str:
        return f"{self.base}/platform/saml/{self.store_id}"


def assertion(
    sp: Sp,
    *,
    subject: str = "jane@example.com",
    audience: str | None = None,
    recipient: str | None = None,
    valid_for: timedelta = timedelta(minutes=5),
    issuer: str = IDP_ENTITY,
    session_hours: int | None = None,
) -> Any:
    now = datetime.now(UTC)
    session = (
        f' SessionNotOnOrAfter="{_stamp(now + timedelta(hours=session_hours))}"' if session_hours else ""
    )
    text = (
        f'<saml2:Assertion xmlns:saml2="{SAML}" ID="id{uuid.uuid4().hex}" Version="2.0" '
        f'IssueInstant="{_stamp(now)}">'
        f'<saml2:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">{issuer}</saml2:Issuer>'
        "<saml2:Subject>"
        '<saml2:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">'
        f"{subject}</saml2:NameID>"
        '<saml2:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
        f'<saml2:SubjectConfirmationData NotOnOrAfter="{_stamp(now + valid_for)}" '
        f'Recipient="{recipient or sp.acs}"/>'
        "</saml2:SubjectConfirmation></saml2:Subject>"
        f'<saml2:Conditions NotBefore="{_stamp(now - timedelta(minutes=1))}" '
        f'NotOnOrAfter="{_stamp(now + valid_for)}">'
        f"<saml2:AudienceRestriction><saml2:Audience>{audience or sp.entity_id}</saml2:Audience>"
        "</saml2:AudienceRestriction></saml2:Conditions>"
        f'<saml2:AuthnStatement AuthnInstant="{_stamp(now)}" SessionIndex="id{uuid.uuid4().hex}"{session}>'
        "<saml2:AuthnContext><saml2:AuthnContextClassRef>"
        "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
        "</saml2:AuthnContextClassRef></saml2:AuthnContext></saml2:AuthnStatement>"
        "</saml2:Assertion>"
    )
    return etree.fromstring(text.encode())


def sign(element: Any, idp: Idp) -> Any:
    signer = XMLSigner(
        method=methods.enveloped,
        signature_algorithm="rsa-sha256",
        digest_algorithm="sha256",
        c14n_algorithm="http://www.w3.org/2001/10/xml-exc-c14n#",
    )
    return signer.sign(element, key=idp.key_pem, cert=idp.cert_pem)


def response(sp: Sp, signed_assertion: Any) -> str:
    now = datetime.now(UTC)
    envelope = etree.fromstring(
        (
            f'<saml2p:Response xmlns:saml2p="{SAMLP}" xmlns:saml2="{SAML}" ID="id{uuid.uuid4().hex}" '
            f'Version="2.0" IssueInstant="{_stamp(now)}" Destination="{sp.acs}">'
            f"<saml2:Issuer>{IDP_ENTITY}</saml2:Issuer>"
            '<saml2p:Status><saml2p:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>'
            "</saml2p:Status></saml2p:Response>"
        ).encode()
    )
    envelope.append(signed_assertion)
    return base64.b64encode(etree.tostring(envelope)).decode()


@pytest.fixture(scope="module")
def okta() -> Idp:
    return make_idp("okta-iamd-test")


@pytest.fixture(scope="module")
def sp(server: Server, okta: Idp, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sp]:
    sso = server.client("sso-admin")
    arn = sso.create_instance(Name="saml")["InstanceArn"]
    store_id = sso.describe_instance(InstanceArn=arn)["IdentityStoreId"]
    ids = server.client("identitystore")
    for name in ("jane@example.com", "off@example.com"):
        user = ids.create_user(
            IdentityStoreId=store_id,
            UserName=name,
            DisplayName=name,
            Name={"GivenName": "Jane", "FamilyName": "Doe"},
            Emails=[{"Value": name, "Primary": True}],
        )
        if name.startswith("off"):
            store = open_data_store(server)
            try:
                with store.transaction() as uow:
                    uow.identity_store.update_user(
                        store_id,
                        user["UserId"],
                        status="DISABLED",
                        updated_at=datetime.now(UTC),
                        updated_by="test",
                    )
            finally:
                store.close()
    metadata = tmp_path_factory.mktemp("idp") / "okta-metadata.xml"
    metadata.write_text(idp_metadata(okta))
    configured = iamd(
        "sso",
        "saml-idp",
        "--data-dir",
        str(server.data_dir),
        "--metadata",
        str(metadata),
        "--public-url",
        server.endpoint,
    )
    assert configured.returncode == 0, configured.stderr
    assert f"{server.endpoint}/platform/saml/acs/{store_id}" in configured.stdout
    yield Sp(server.endpoint, store_id, arn)


def post(sp: Sp, saml_response: str, relay: str = "") -> httpx.Response:
    form = {"SAMLResponse": saml_response}
    if relay:
        form["RelayState"] = relay
    return httpx.post(sp.acs, data=form, follow_redirects=False, timeout=30)


def _session_of(server: Server, secret: str) -> Any:
    store = open_data_store(server)
    try:
        with store.transaction(readonly=True) as uow:
            return uow.sso_portal.session_by_secret(digest(secret))
    finally:
        store.close()


def test_sp_metadata_is_published(sp: Sp, server: Server) -> None:
    answer = httpx.get(f"{sp.base}/platform/saml/metadata/{sp.store_id}", timeout=10)
    assert answer.status_code == 200
    root = etree.fromstring(answer.content)
    assert root.get("entityID") == sp.entity_id
    acs = root.find(".//{urn:oasis:names:tc:SAML:2.0:metadata}AssertionConsumerService")
    assert acs.get("Location") == sp.acs
    shown = iamd(
        "sso", "saml-idp", "--data-dir", str(server.data_dir), "--show-sp-metadata", "--public-url", sp.base
    )
    assert shown.returncode == 0 and sp.acs in shown.stdout
    assert httpx.get(f"{sp.base}/platform/saml/metadata/d-0000000000", timeout=10).status_code == 404


def test_sp_initiated_sign_in_redirects_to_the_idp(sp: Sp) -> None:
    answer = httpx.get(f"{sp.base}/platform/saml/login/{sp.store_id}", follow_redirects=False, timeout=10)
    assert answer.status_code == 303
    location = urlparse(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == IDP_SSO
    request = parse_qs(location.query)["SAMLRequest"][0]
    xml = zlib.decompress(base64.b64decode(request), -15)
    root = etree.fromstring(xml)
    assert root.get("AssertionConsumerServiceURL") == sp.acs
    assert root.findtext(f"{{{SAML}}}Issuer") == sp.entity_id


def test_a_signed_assertion_starts_a_portal_session(sp: Sp, okta: Idp, server: Server) -> None:
    answer = post(sp, response(sp, sign(assertion(sp, session_hours=2), okta)), relay="/start/#/")
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/start/#/"
    secret = answer.cookies.get(COOKIE)
    assert secret
    session = _session_of(server, secret)
    assert session is not None and session.user_name == "jane@example.com" and session.via == "saml"
    assert session.instance_arn == sp.instance_arn
    remaining = session.expires_at - datetime.now(UTC)
    assert timedelta(hours=1, minutes=50) < remaining <= timedelta(hours=2)  # SessionNotOnOrAfter caps it
    # The access portal knows the person: its page is theirs, not the sign-in form.
    page = httpx.get(f"{sp.base}/start/", cookies={COOKIE: secret}, follow_redirects=True, timeout=30)
    assert page.status_code == 200 and "jane@example.com" in page.text


def test_a_signed_response_is_accepted_too(sp: Sp, okta: Idp) -> None:
    envelope = etree.fromstring(base64.b64decode(response(sp, assertion(sp))))
    signed = sign(envelope, okta)
    answer = post(sp, base64.b64encode(etree.tostring(signed)).decode())
    assert answer.status_code == 303, answer.text


def _refused(answer: httpx.Response, words: str) -> None:
    assert answer.status_code == 403, answer.text
    assert COOKIE not in answer.cookies
    assert words in answer.text, answer.text


def test_forged_unsigned_and_tampered_assertions_are_refused(sp: Sp, okta: Idp) -> None:
    mallory = make_idp("mallory")
    _refused(post(sp, response(sp, sign(assertion(sp), mallory))), "signature")
    _refused(post(sp, response(sp, assertion(sp))), "signed")
    signed = sign(assertion(sp, subject="off@example.com"), okta)
    name_id = signed.find(f".//{{{SAML}}}NameID")
    name_id.text = "jane@example.com"  # changed after signing
    _refused(post(sp, response(sp, signed)), "signature")


def test_expired_wrong_audience_wrong_recipient_and_unknown_users_are_refused(sp: Sp, okta: Idp) -> None:
    _refused(post(sp, response(sp, sign(assertion(sp, valid_for=timedelta(minutes=-10)), okta))), "expired")
    _refused(
        post(sp, response(sp, sign(assertion(sp, audience="https://other.example/sp"), okta))), "audience"
    )
    _refused(
        post(sp, response(sp, sign(assertion(sp, recipient="https://other.example/acs"), okta))),
        "not to this ACS",
    )
    _refused(post(sp, response(sp, sign(assertion(sp, issuer="http://evil.example"), okta))), "issuer")
    _refused(post(sp, response(sp, sign(assertion(sp, subject="nobody@example.com"), okta))), "provisioned")
    _refused(post(sp, response(sp, sign(assertion(sp, subject="off@example.com"), okta))), "disabled")
    _refused(post(sp, "not base64!"), "base64")
    _refused(
        httpx.post(sp.acs, content="&".join(f"f{n}=1" for n in range(50)).encode(), timeout=30), "fields"
    )
    _refused(httpx.post(sp.acs, data={"RelayState": "/start/"}, timeout=30), "no SAMLResponse")
    _refused(httpx.post(sp.acs, data={"SAMLResponse": "A" * 300_000}, timeout=30), "too large")


def test_a_replayed_assertion_is_refused(sp: Sp, okta: Idp) -> None:
    once = response(sp, sign(assertion(sp), okta))
    assert post(sp, once).status_code == 303
    _refused(post(sp, once), "replay")


def test_sign_ins_are_on_the_trail(sp: Sp, server: Server) -> None:
    trail = server.client("cloudtrail")
    events = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "ExternalIdPDirectoryLogin"}],
        MaxResults=50,
    )["Events"]
    records = [json.loads(e["CloudTrailEvent"]) for e in events]
    results = {r["additionalEventData"]["Result"] for r in records}
    assert results == {"Success", "Failure"}
    assert any(r.get("errorMessage", "").endswith("(a replay).") for r in records)


def _through_the_idp(sp: Sp, okta: Idp, start: str) -> tuple[str, str]:
    """Open ``start`` in the portal without a session, follow it to the IdP as a browser would,
    and post the IdP's signed answer with the relay state the IdP was given: the session's secret
    and where the assertion consumer sends the browser."""
    answer = httpx.get(f"{sp.base}{start}", follow_redirects=False, timeout=10)
    hops = 0
    while answer.status_code == 303 and not answer.headers["location"].startswith(IDP_SSO) and hops < 5:
        answer = httpx.get(
            httpx.URL(f"{sp.base}/").join(answer.headers["location"]), follow_redirects=False, timeout=10
        )
        hops += 1
    assert answer.status_code == 303, answer.text
    at_idp = urlparse(answer.headers["location"])
    assert f"{at_idp.scheme}://{at_idp.netloc}{at_idp.path}" == IDP_SSO
    relay = parse_qs(at_idp.query)["RelayState"][0]
    back = post(sp, response(sp, sign(assertion(sp), okta)), relay=relay)
    assert back.status_code == 303, back.text
    secret = back.cookies.get(COOKIE)
    assert secret
    return secret, back.headers["location"]


def test_the_portal_signs_in_at_the_external_idp_and_returns_to_the_device_approval(
    sp: Sp, okta: Idp
) -> None:
    # No password form: the sign-in page sends the browser to the IdP (SP-initiated SAML).
    page = httpx.get(f"{sp.base}/start/", follow_redirects=False, timeout=10)
    assert page.status_code == 303
    assert page.headers["location"] == f"/platform/saml/login/{sp.store_id}?next=%2Fstart%2F"
    # A device approval: after the IdP, the person is back at the approval page, signed in.
    oidc = boto3.client(
        "sso-oidc",
        endpoint_url=sp.base,
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
    )
    client = oidc.register_client(clientName="saml-cli", clientType="public")
    device = oidc.start_device_authorization(
        clientId=client["clientId"], clientSecret=client["clientSecret"], startUrl=f"{sp.base}/start"
    )
    code = device["userCode"]
    secret, target = _through_the_idp(sp, okta, f"/start/device?user_code={code}")
    assert target == f"/start/device?user_code={code}"
    approval = httpx.get(f"{sp.base}{target}", cookies={COOKIE: secret}, timeout=10)
    assert approval.status_code == 200 and code in approval.text and "jane@example.com" in approval.text


def test_a_pkce_authorization_returns_to_its_consent_page_after_the_idp(sp: Sp, okta: Idp) -> None:
    oidc = boto3.client(
        "sso-oidc",
        endpoint_url=sp.base,
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
    )
    client = oidc.register_client(
        clientName="saml-pkce",
        clientType="public",
        grantTypes=["authorization_code", "refresh_token"],
        redirectUris=["http://127.0.0.1/oauth/callback"],
        issuerUrl=f"{sp.base}/start",
        scopes=["sso:account:access"],
    )
    query = (
        f"response_type=code&client_id={client['clientId']}"
        "&redirect_uri=http%3A%2F%2F127.0.0.1%3A51234%2Foauth%2Fcallback&state=s-1"
        "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
        "&scopes=sso%3Aaccount%3Aaccess"
    )
    secret, target = _through_the_idp(sp, okta, f"/authorize?{query}")
    assert target.startswith("/authorize?") and client["clientId"] in target and "s-1" in target
    consent = httpx.get(f"{sp.base}{target}", cookies={COOKIE: secret}, timeout=10)
    assert consent.status_code == 200 and 'id="authorize-form"' in consent.text
    # A relay state that leaves the server is never followed.
    _, elsewhere = _through_the_idp(sp, okta, "/start/")
    assert elsewhere == "/start/"
    outside = post(sp, response(sp, sign(assertion(sp), okta)), relay="/\\evil.example/")
    assert outside.headers["location"] == "/start/"


def test_the_idp_can_be_removed(sp: Sp, okta: Idp, server: Server, tmp_path: Path) -> None:
    removed = iamd("sso", "saml-idp", "--data-dir", str(server.data_dir), "--remove")
    assert removed.returncode == 0, removed.stderr
    _refused(post(sp, response(sp, sign(assertion(sp), okta))), "no external identity provider")
    bad = tmp_path / "bad.xml"
    bad.write_text("<md:EntityDescriptor xmlns:md='urn:oasis:names:tc:SAML:2.0:metadata' entityID='x'/>")
    refused = iamd("sso", "saml-idp", "--data-dir", str(server.data_dir), "--metadata", str(bad))
    assert refused.returncode == 1 and "X509Certificate" in refused.stderr
