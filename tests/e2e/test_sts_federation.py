"""STS federation end to end: AssumeRoleWithWebIdentity against a real OpenID Connect issuer that
the test runs on loopback (HTTPS with a self-signed certificate, trusted through the provider's
thumbprint; RSA key and JWKS made here), and AssumeRoleWithSAML with assertions the test signs
with its own certificate (signxml).

Both operations are unsigned in AWS (botocore sends them without a signature). Most tests sign them
anyway (iamd ignores who signed); one test per operation sends them unsigned, as botocore does.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree  # type: ignore[import-untyped]
from signxml import XMLSigner, methods  # type: ignore[attr-defined]
from tests.e2e.harness import ACCOUNT_ID, Server

CLIENT_ID = "iamd-test-app"
SAML_AUDIENCE = "https://signin.aws.amazon.com/saml"


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response = exc.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def signed_sts(server: Server) -> Any:
    """An STS client that signs even the operations botocore sends unsigned."""
    client = server.client("sts")
    for name in ("AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"):
        client.meta.events.register_first(f"choose-signer.sts.{name}", lambda **kwargs: "v4")
    return client


def unsigned(call: Any) -> Any:
    """Run a call that botocore sends unsigned, as it does for these two operations."""
    return call()


def key_pair() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key, pem


def self_signed(key: rsa.RSAPrivateKey, name: str, ip: str | None = None) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    if ip is not None:
        import ipaddress

        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False
        )
    return builder.sign(key, hashes.SHA256())


def session_client(server: Server, service: str, answer: dict[str, Any]) -> Any:
    creds = answer["Credentials"]
    return server.client(service, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])


# -- the OpenID Connect issuer ----------------------------------------------------------------------


@dataclass
class Issuer:
    url: str
    key: rsa.RSAPrivateKey
    kid: str
    thumbprint: str
    provider_arn: str = ""

    @property
    def host_key(self) -> str:
        return self.url.removeprefix("https://")

    def token(self, key: rsa.RSAPrivateKey | None = None, kid: str | None = None, **claims: Any) -> str:
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": self.url,
            "sub": "user-123",
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 600,
        }
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        signing = key or self.key
        pem = signing.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return jwt.encode(body, pem, algorithm="RS256", headers={"kid": kid or self.kid})


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Issuer]:
    key, _ = key_pair()
    tls_key, tls_pem = key_pair()
    cert = self_signed(tls_key, "127.0.0.1", ip="127.0.0.1")
    folder = tmp_path_factory.mktemp("oidc")
    (folder / "key.pem").write_bytes(tls_pem)
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "key-1", "use": "sig", "alg": "RS256"})
    documents: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = documents.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body or b"{}")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    url = f"https://127.0.0.1:{httpd.server_address[1]}"
    documents["/.well-known/openid-configuration"] = json.dumps(
        {"issuer": url, "jwks_uri": url + "/keys"}
    ).encode()
    documents["/keys"] = json.dumps({"keys": [jwk]}).encode()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    thumbprint = hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    try:
        yield Issuer(url, key, "key-1", thumbprint)
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def web_role(server: Server, iam: Any, issuer: Issuer) -> str:
    issuer.provider_arn = iam.create_open_id_connect_provider(
        Url=issuer.url, ClientIDList=[CLIENT_ID], ThumbprintList=[issuer.thumbprint]
    )["OpenIDConnectProviderArn"]
    assert issuer.provider_arn == f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{issuer.host_key}"
    trust = doc(
        {
            "Effect": "Allow",
            "Principal": {"Federated": issuer.provider_arn},
            "Action": ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"],
            "Condition": {
                "StringEquals": {f"{issuer.host_key}:aud": CLIENT_ID, f"{issuer.host_key}:sub": "user-123"}
            },
        }
    )
    role = iam.create_role(RoleName="web-role", AssumeRolePolicyDocument=trust)["Role"]
    iam.put_role_policy(
        RoleName="web-role",
        PolicyName="inline",
        PolicyDocument=doc(
            {"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": "iam:ListRoles",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalTag/dept": "research"}},
            },
        ),
    )
    return str(role["Arn"])


def test_web_identity_gives_a_role_session(server: Server, issuer: Issuer, web_role: str) -> None:
    answer = signed_sts(server).assume_role_with_web_identity(
        RoleArn=web_role, RoleSessionName="web-session", WebIdentityToken=issuer.token(), DurationSeconds=900
    )
    assert answer["SubjectFromWebIdentityToken"] == "user-123"
    assert answer["Provider"] == issuer.url
    assert answer["Audience"] == CLIENT_ID
    assert answer["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/web-role/web-session"
    identity = session_client(server, "sts", answer).get_caller_identity()
    assert identity["Arn"] == answer["AssumedRoleUser"]["Arn"]
    session_iam = session_client(server, "iam", answer)
    session_iam.list_users()
    with pytest.raises(ClientError):
        session_iam.list_roles()  # no dept tag


def test_web_identity_session_tags_from_the_token(server: Server, issuer: Issuer, web_role: str) -> None:
    tags = {"principal_tags": {"dept": ["research"]}, "transitive_tag_keys": ["dept"]}
    token = issuer.token(**{"https://aws.amazon.com/tags": tags})
    answer = signed_sts(server).assume_role_with_web_identity(
        RoleArn=web_role, RoleSessionName="tagged", WebIdentityToken=token
    )
    session_client(server, "iam", answer).list_roles()


@pytest.mark.parametrize(
    ("case", "status", "code", "text"),
    [
        ("wrong-key", 400, "InvalidIdentityToken", "signature"),
        ("wrong-audience", 400, "InvalidIdentityToken", "Incorrect token audience"),
        ("expired", 400, "ExpiredTokenException", "Token expired"),
        ("unknown-issuer", 400, "InvalidIdentityToken", "No OpenIDConnect provider found"),
        ("other-subject", 403, "AccessDenied", "sts:AssumeRoleWithWebIdentity"),
        ("not-a-jwt", 400, "InvalidIdentityToken", "JWT"),
    ],
)
def test_web_identity_refusals(
    server: Server, issuer: Issuer, web_role: str, case: str, status: int, code: str, text: str
) -> None:
    now = int(time.time())
    tokens = {
        "wrong-key": lambda: issuer.token(key=key_pair()[0]),
        "wrong-audience": lambda: issuer.token(aud="someone-else"),
        "expired": lambda: issuer.token(iat=now - 1200, exp=now - 600),
        "unknown-issuer": lambda: issuer.token(iss="https://elsewhere.example.com"),
        "other-subject": lambda: issuer.token(sub="intruder"),
        "not-a-jwt": lambda: "not.a.jwt",
    }
    with pytest.raises(ClientError) as refused:
        signed_sts(server).assume_role_with_web_identity(
            RoleArn=web_role, RoleSessionName="refused", WebIdentityToken=tokens[case]()
        )
    got_status, got_code, message = error_of(refused)
    assert (got_status, got_code) == (status, code)
    assert text in message


def test_web_identity_unsigned_as_botocore_sends_it(server: Server, issuer: Issuer, web_role: str) -> None:
    sts = server.client("sts")
    answer = unsigned(
        lambda: sts.assume_role_with_web_identity(
            RoleArn=web_role, RoleSessionName="unsigned", WebIdentityToken=issuer.token()
        )
    )
    assert answer["AssumedRoleUser"]["Arn"].endswith("/web-role/unsigned")


# -- SAML ---------------------------------------------------------------------------------------------

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
ENTITY_ID = "https://idp.iamd.test/metadata"


@dataclass
class Idp:
    key_pem: bytes
    cert_pem: bytes
    provider_arn: str
    role_arn: str


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def metadata(cert: x509.Certificate) -> str:
    der = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    return (
        f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{ENTITY_ID}">'
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        '<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
        f"<ds:X509Data><ds:X509Certificate>{der}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
        "</md:KeyDescriptor>"
        '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        'Location="https://idp.iamd.test/sso"/>'
        "</md:IDPSSODescriptor></md:EntityDescriptor>"
    )


def assertion_xml(
    idp: Idp,
    *,
    subject: str = "jane@example.com",
    audience: str = "urn:amazon:webservices",
    valid_for: timedelta = timedelta(minutes=5),
    roles: list[str] | None = None,
    session_name: str = "jane",
    extra_attributes: dict[str, str] | None = None,
) -> Any:
    now = datetime.now(UTC)
    roles = roles if roles is not None else [f"{idp.role_arn},{idp.provider_arn}"]
    attributes = {"https://aws.amazon.com/SAML/Attributes/RoleSessionName": [session_name]}
    attributes["https://aws.amazon.com/SAML/Attributes/Role"] = roles
    for key, value in (extra_attributes or {}).items():
        attributes[key] = [value]
    attribute_xml = "".join(
        f'<saml:Attribute Name="{name}">'
        + "".join(f"<saml:AttributeValue>{v}</saml:AttributeValue>" for v in values)
        + "</saml:Attribute>"
        for name, values in attributes.items()
    )
    text = (
        f'<saml:Assertion xmlns:saml="{SAML}" ID="_{uuid.uuid4().hex}" Version="2.0" '
        f'IssueInstant="{_stamp(now)}">'
        f"<saml:Issuer>{ENTITY_ID}</saml:Issuer>"
        "<saml:Subject>"
        f'<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">{subject}</saml:NameID>'
        '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
        f'<saml:SubjectConfirmationData NotOnOrAfter="{_stamp(now + valid_for)}" '
        f'Recipient="{SAML_AUDIENCE}"/>'
        "</saml:SubjectConfirmation></saml:Subject>"
        f'<saml:Conditions NotBefore="{_stamp(now - timedelta(minutes=1))}" '
        f'NotOnOrAfter="{_stamp(now + valid_for)}">'
        f"<saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction>"
        "</saml:Conditions>"
        f'<saml:AuthnStatement AuthnInstant="{_stamp(now)}" SessionIndex="_s1">'
        "<saml:AuthnContext><saml:AuthnContextClassRef>"
        "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
        "</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"
        f"<saml:AttributeStatement>{attribute_xml}</saml:AttributeStatement>"
        "</saml:Assertion>"
    )
    return etree.fromstring(text.encode())


def sign(element: Any, key_pem: bytes, cert_pem: bytes) -> Any:
    signer = XMLSigner(
        method=methods.enveloped,
        signature_algorithm="rsa-sha256",
        digest_algorithm="sha256",
        c14n_algorithm="http://www.w3.org/2001/10/xml-exc-c14n#",
    )
    return signer.sign(element, key=key_pem, cert=cert_pem)


def response_b64(assertion: Any, *, sign_response_with: tuple[bytes, bytes] | None = None) -> str:
    now = datetime.now(UTC)
    response = etree.fromstring(
        (
            f'<samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="_{uuid.uuid4().hex}" '
            f'Version="2.0" IssueInstant="{_stamp(now)}" Destination="{SAML_AUDIENCE}">'
            f"<saml:Issuer>{ENTITY_ID}</saml:Issuer>"
            '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>'
            "</samlp:Status>"
            "</samlp:Response>"
        ).encode()
    )
    response.append(assertion)
    if sign_response_with is not None:
        response = sign(response, *sign_response_with)
    return base64.b64encode(etree.tostring(response)).decode()


@pytest.fixture(scope="module")
def idp(server: Server, iam: Any) -> Idp:
    key, key_pem = key_pair()
    cert = self_signed(key, "idp.iamd.test")
    provider_arn = iam.create_saml_provider(Name="test-idp", SAMLMetadataDocument=metadata(cert))[
        "SAMLProviderArn"
    ]
    assert provider_arn == f"arn:aws:iam::{ACCOUNT_ID}:saml-provider/test-idp"
    trust = doc(
        {
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"],
            "Condition": {"StringEquals": {"SAML:aud": SAML_AUDIENCE, "SAML:sub_type": "persistent"}},
        }
    )
    role = iam.create_role(RoleName="saml-role", AssumeRolePolicyDocument=trust)["Role"]
    iam.put_role_policy(
        RoleName="saml-role",
        PolicyName="inline",
        PolicyDocument=doc(
            {"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": "iam:ListRoles",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalTag/dept": "finance"}},
            },
        ),
    )
    return Idp(key_pem, cert.public_bytes(serialization.Encoding.PEM), provider_arn, role["Arn"])


def saml_call(server: Server, idp: Idp, assertion: str, *, signed: bool = True) -> dict[str, Any]:
    sts = signed_sts(server) if signed else server.client("sts")
    answer: dict[str, Any] = sts.assume_role_with_saml(
        RoleArn=idp.role_arn, PrincipalArn=idp.provider_arn, SAMLAssertion=assertion
    )
    return answer


def test_saml_signed_assertion_gives_a_role_session(server: Server, idp: Idp) -> None:
    assertion = sign(
        assertion_xml(
            idp, extra_attributes={"https://aws.amazon.com/SAML/Attributes/PrincipalTag:dept": "finance"}
        ),
        idp.key_pem,
        idp.cert_pem,
    )
    answer = saml_call(server, idp, response_b64(assertion))
    assert answer["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/saml-role/jane"
    assert (answer["Subject"], answer["SubjectType"], answer["Issuer"], answer["Audience"]) == (
        "jane@example.com",
        "persistent",
        ENTITY_ID,
        SAML_AUDIENCE,
    )
    expected = base64.b64encode(hashlib.sha1(f"{ENTITY_ID}{ACCOUNT_ID}/test-idp".encode()).digest()).decode()
    assert answer["NameQualifier"] == expected
    session_iam = session_client(server, "iam", answer)
    session_iam.list_users()
    session_iam.list_roles()  # the PrincipalTag attribute became a session tag


def test_saml_signed_response_is_accepted_too(server: Server, idp: Idp) -> None:
    assertion = assertion_xml(idp, session_name="whole-response")
    answer = saml_call(server, idp, response_b64(assertion, sign_response_with=(idp.key_pem, idp.cert_pem)))
    assert answer["AssumedRoleUser"]["Arn"].endswith("/saml-role/whole-response")


def _altered(idp: Idp) -> str:
    signed = sign(assertion_xml(idp), idp.key_pem, idp.cert_pem)
    name_id = signed.find(f".//{{{SAML}}}NameID")
    name_id.text = "mallory@example.com"
    return response_b64(signed)


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("unsigned", 400, "InvalidIdentityToken"),
        ("altered", 400, "InvalidIdentityToken"),
        ("other-key", 400, "InvalidIdentityToken"),
        ("wrong-audience", 400, "InvalidIdentityToken"),
        ("expired", 400, "ExpiredTokenException"),
        ("role-not-granted", 403, "AccessDenied"),
        ("not-base64", 400, "InvalidIdentityToken"),
    ],
)
def test_saml_refusals(server: Server, idp: Idp, case: str, status: int, code: str) -> None:
    other_key, other_pem = key_pair()
    other_cert = self_signed(other_key, "intruder").public_bytes(serialization.Encoding.PEM)
    past = assertion_xml(idp, valid_for=timedelta(minutes=-30))
    assertions = {
        "unsigned": lambda: response_b64(assertion_xml(idp)),
        "altered": lambda: _altered(idp),
        "other-key": lambda: response_b64(sign(assertion_xml(idp), other_pem, other_cert)),
        "wrong-audience": lambda: response_b64(
            sign(assertion_xml(idp, audience="https://example.com"), idp.key_pem, idp.cert_pem)
        ),
        "expired": lambda: response_b64(sign(past, idp.key_pem, idp.cert_pem)),
        "role-not-granted": lambda: response_b64(
            sign(
                assertion_xml(idp, roles=[f"arn:aws:iam::{ACCOUNT_ID}:role/other,{idp.provider_arn}"]),
                idp.key_pem,
                idp.cert_pem,
            )
        ),
        "not-base64": lambda: "%%% not base64 %%%",
    }
    with pytest.raises(ClientError) as refused:
        saml_call(server, idp, assertions[case]())
    assert error_of(refused)[:2] == (status, code), error_of(refused)[2]


def test_saml_trust_conditions_decide(server: Server, idp: Idp, iam: Any) -> None:
    transient = assertion_xml(idp)
    transient.find(f".//{{{SAML}}}NameID").set(
        "Format", "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
    )
    with pytest.raises(ClientError) as refused:
        saml_call(server, idp, response_b64(sign(transient, idp.key_pem, idp.cert_pem)))
    status, code, message = error_of(refused)
    assert (status, code) == (403, "AccessDenied") and "sts:AssumeRoleWithSAML" in message


def test_saml_unsigned_request_as_botocore_sends_it(server: Server, idp: Idp) -> None:
    assertion = response_b64(sign(assertion_xml(idp, session_name="unsigned"), idp.key_pem, idp.cert_pem))
    answer = unsigned(lambda: saml_call(server, idp, assertion, signed=False))
    assert answer["AssumedRoleUser"]["Arn"].endswith("/saml-role/unsigned")
