"""IAM Roles Anywhere end to end: trust anchors and profiles through boto3, and CreateSession
signed with an X.509 certificate (the test signs it itself: the X.509 variant of SigV4), whose
credentials then work like AssumeRole's."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from tests.e2e.harness import ACCOUNT_ID, REGION, Server

ROLE_NAME = "ra-workload"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/{ROLE_NAME}"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


# -- certificates ---------------------------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _name(cn: str, ou: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Corp")]
    if ou is not None:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attributes)


@dataclass
class Ca:
    key: PrivateKey
    certificate: x509.Certificate

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()


@dataclass
class Leaf:
    key: PrivateKey
    certificate: x509.Certificate
    chain: list[x509.Certificate] = field(default_factory=list)


def make_ca(cn: str, *, issuer: Ca | None = None, ec_key: bool = False) -> Ca:
    key: PrivateKey = (
        ec.generate_private_key(ec.SECP256R1()) if ec_key else rsa.generate_private_key(65537, 2048)
    )
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer.certificate.subject if issuer else _name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    )
    signer = issuer.key if issuer else key
    return Ca(key, builder.sign(signer, hashes.SHA256()))


def make_leaf(
    ca: Ca,
    cn: str = "workload-1",
    *,
    ec_key: bool = False,
    not_before: dt.timedelta = dt.timedelta(days=-1),
    not_after: dt.timedelta = dt.timedelta(days=30),
    chain: list[x509.Certificate] | None = None,
) -> Leaf:
    key: PrivateKey = (
        ec.generate_private_key(ec.SECP256R1()) if ec_key else rsa.generate_private_key(65537, 2048)
    )
    now = _now()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(cn, ou="payments"))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + not_before)
        .not_valid_after(now + not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(f"{cn}.example.com")]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return Leaf(key, certificate, chain or [])


# -- the X.509 signature (written here from AWS's description, independent of the server) --------


def _der64(certificate: x509.Certificate) -> str:
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


def signed_create_session(
    server: Server,
    leaf: Leaf,
    body: dict[str, Any],
    *,
    signing_key: PrivateKey | None = None,
    tamper: bool = False,
) -> tuple[int, dict[str, Any]]:
    """POST /sessions signed with ``leaf``'s key (or ``signing_key``); the status and JSON answer."""
    host = urlparse(server.endpoint).netloc
    payload = json.dumps(body).encode()
    amz_date = _now().strftime("%Y%m%dT%H%M%SZ")
    key = signing_key or leaf.key
    algorithm = (
        "AWS4-X509-ECDSA-SHA256" if isinstance(key, ec.EllipticCurvePrivateKey) else "AWS4-X509-RSA-SHA256"
    )
    headers = {
        "content-type": "application/json",
        "host": host,
        "x-amz-date": amz_date,
        "x-amz-x509": _der64(leaf.certificate),
    }
    if leaf.chain:
        headers["x-amz-x509-chain"] = ",".join(_der64(c) for c in leaf.chain)
    names = sorted(headers)
    canonical = "\n".join(
        [
            "POST",
            "/sessions",
            "",
            "".join(f"{n}:{headers[n].strip()}\n" for n in names),
            ";".join(names),
            hashlib.sha256(payload).hexdigest(),
        ]
    )
    scope = f"{amz_date[:8]}/{REGION}/rolesanywhere/aws4_request"
    to_sign = f"{algorithm}\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}".encode()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        signature = key.sign(to_sign, ec.ECDSA(hashes.SHA256()))
    else:
        signature = key.sign(to_sign, padding.PKCS1v15(), hashes.SHA256())
    if tamper:
        payload = json.dumps({**body, "durationSeconds": 900}).encode()
    serial = leaf.certificate.serial_number
    authorization = (
        f"{algorithm} Credential={serial}/{scope}, SignedHeaders={';'.join(names)}, "
        f"Signature={signature.hex()}"
    )
    request = urllib.request.Request(
        f"{server.endpoint}/sessions",
        data=payload,
        method="POST",
        headers={**{k: v for k, v in headers.items() if k != "host"}, "Authorization": authorization},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as failure:
        return failure.code, json.loads(failure.read() or b"{}")


# -- fixtures -------------------------------------------------------------------------------------


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


TRUST = doc(
    {
        "Effect": "Allow",
        "Principal": {"Service": "rolesanywhere.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
        "Condition": {
            "StringEquals": {"aws:PrincipalTag/x509Subject/OU": "payments"},
            "StringLike": {"aws:PrincipalTag/x509Subject/CN": "workload-*"},
        },
    }
)


@dataclass
class Setup:
    ca: Ca
    anchor_arn: str
    anchor_id: str
    profile_arn: str
    profile_id: str
    role_arn: str = ROLE_ARN

    def body(self, **extra: Any) -> dict[str, Any]:
        """CreateSession's parameters for this anchor, profile and role."""
        return {
            "profileArn": self.profile_arn,
            "roleArn": self.role_arn,
            "trustAnchorArn": self.anchor_arn,
            **extra,
        }


@pytest.fixture(scope="module")
def ra(server: Server) -> Any:
    return server.client("rolesanywhere")


@pytest.fixture(scope="module")
def setup(server: Server, iam: Any, ra: Any) -> Setup:
    iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=TRUST, MaxSessionDuration=43200)
    iam.put_role_policy(
        RoleName=ROLE_NAME,
        PolicyName="read",
        PolicyDocument=doc({"Effect": "Allow", "Action": ["iam:ListUsers", "iam:GetRole"], "Resource": "*"}),
    )
    iam.create_role(RoleName="not-in-profile", AssumeRolePolicyDocument=TRUST)
    ca = make_ca("Example Root CA")
    anchor = ra.create_trust_anchor(
        name="corp-ca",
        source={"sourceType": "CERTIFICATE_BUNDLE", "sourceData": {"x509CertificateData": ca.pem}},
        enabled=True,
    )["trustAnchor"]
    profile = ra.create_profile(name="workloads", roleArns=[ROLE_ARN], enabled=True, durationSeconds=7200)[
        "profile"
    ]
    return Setup(
        ca, anchor["trustAnchorArn"], anchor["trustAnchorId"], profile["profileArn"], profile["profileId"]
    )


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = exc.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


# -- trust anchors and profiles -------------------------------------------------------------------


def test_trust_anchor_lifecycle(ra: Any) -> None:
    ca = make_ca("Lifecycle CA", ec_key=True)
    created = ra.create_trust_anchor(
        name="lifecycle",
        source={"sourceType": "CERTIFICATE_BUNDLE", "sourceData": {"x509CertificateData": ca.pem}},
        tags=[{"key": "team", "value": "infra"}],
    )["trustAnchor"]
    anchor_id = created["trustAnchorId"]
    assert str(uuid.UUID(anchor_id)) == anchor_id
    assert (
        created["trustAnchorArn"] == f"arn:aws:rolesanywhere:{REGION}:{ACCOUNT_ID}:trust-anchor/{anchor_id}"
    )
    assert created["enabled"] is False
    assert created["source"]["sourceData"]["x509CertificateData"] == ca.pem
    assert isinstance(created["createdAt"], dt.datetime)

    got = ra.get_trust_anchor(trustAnchorId=anchor_id)["trustAnchor"]
    assert got["name"] == "lifecycle"
    assert anchor_id in [a["trustAnchorId"] for a in ra.list_trust_anchors()["trustAnchors"]]

    assert ra.enable_trust_anchor(trustAnchorId=anchor_id)["trustAnchor"]["enabled"] is True
    assert ra.disable_trust_anchor(trustAnchorId=anchor_id)["trustAnchor"]["enabled"] is False
    assert ra.update_trust_anchor(trustAnchorId=anchor_id, name="renamed")["trustAnchor"]["name"] == "renamed"

    arn = created["trustAnchorArn"]
    assert ra.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "team", "value": "infra"}]
    ra.tag_resource(resourceArn=arn, tags=[{"key": "env", "value": "prod"}])
    ra.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert ra.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "env", "value": "prod"}]

    ra.delete_trust_anchor(trustAnchorId=anchor_id)
    with pytest.raises(ClientError) as exc:
        ra.get_trust_anchor(trustAnchorId=anchor_id)
    assert error_of(exc) == (404, "ResourceNotFoundException")


def test_a_trust_anchor_needs_a_ca_certificate(ra: Any) -> None:
    ca = make_ca("Some CA")
    leaf = make_leaf(ca)
    not_ca = leaf.certificate.public_bytes(serialization.Encoding.PEM).decode()
    for data in (not_ca, "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n"):
        with pytest.raises(ClientError) as exc:
            ra.create_trust_anchor(
                name="bad",
                source={"sourceType": "CERTIFICATE_BUNDLE", "sourceData": {"x509CertificateData": data}},
            )
        assert error_of(exc) == (400, "ValidationException")


def test_profile_lifecycle(ra: Any) -> None:
    policy = doc({"Effect": "Allow", "Action": "iam:Get*", "Resource": "*"})
    created = ra.create_profile(
        name="p1",
        roleArns=[ROLE_ARN],
        sessionPolicy=policy,
        managedPolicyArns=["arn:aws:iam::aws:policy/ReadOnlyAccess"],
        durationSeconds=43200,
    )["profile"]
    profile_id = created["profileId"]
    assert created["profileArn"] == f"arn:aws:rolesanywhere:{REGION}:{ACCOUNT_ID}:profile/{profile_id}"
    assert created["enabled"] is False and created["durationSeconds"] == 43200
    assert created["sessionPolicy"] == policy
    assert created["createdBy"].endswith(":user/iamd-admin") or created["createdBy"].startswith(
        "arn:aws:iam::"
    )

    assert ra.get_profile(profileId=profile_id)["profile"]["roleArns"] == [ROLE_ARN]
    assert profile_id in [p["profileId"] for p in ra.list_profiles()["profiles"]]
    updated = ra.update_profile(profileId=profile_id, name="p2", durationSeconds=900)["profile"]
    assert (updated["name"], updated["durationSeconds"]) == ("p2", 900)
    assert ra.enable_profile(profileId=profile_id)["profile"]["enabled"] is True
    assert ra.disable_profile(profileId=profile_id)["profile"]["enabled"] is False

    with pytest.raises(ClientError) as exc:
        ra.create_profile(name="too-long", roleArns=[ROLE_ARN], durationSeconds=43201)
    assert error_of(exc)[0] == 400

    ra.delete_profile(profileId=profile_id)
    with pytest.raises(ClientError) as exc:
        ra.get_profile(profileId=profile_id)
    assert error_of(exc) == (404, "ResourceNotFoundException")


def test_roles_anywhere_calls_are_authorized(server: Server, iam: Any, setup: Setup) -> None:
    iam.create_user(UserName="ra-reader")
    reads = {
        "Effect": "Allow",
        "Action": ["rolesanywhere:ListProfiles", "rolesanywhere:GetProfile"],
        "Resource": "*",
    }
    iam.put_user_policy(UserName="ra-reader", PolicyName="inline", PolicyDocument=doc(reads))
    key = iam.create_access_key(UserName="ra-reader")["AccessKey"]
    client = server.client("rolesanywhere", key["AccessKeyId"], key["SecretAccessKey"])
    assert client.get_profile(profileId=setup.profile_id)["profile"]["name"] == "workloads"
    assert client.list_profiles()["profiles"]
    for call in (
        lambda: client.list_trust_anchors(),
        lambda: client.get_trust_anchor(trustAnchorId=setup.anchor_id),
        lambda: client.disable_profile(profileId=setup.profile_id),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_of(exc) == (403, "AccessDeniedException")


# -- CreateSession --------------------------------------------------------------------------------


def _session_client(server: Server, credentials: dict[str, Any], service: str) -> Any:
    return server.client(
        service, credentials["accessKeyId"], credentials["secretAccessKey"], credentials["sessionToken"]
    )


@pytest.mark.parametrize("ec_key", [False, True], ids=["rsa", "ecdsa"])
def test_create_session_gives_role_credentials_that_work(server: Server, setup: Setup, ec_key: bool) -> None:
    leaf = make_leaf(setup.ca, ec_key=ec_key)
    status, answer = signed_create_session(server, leaf, setup.body())
    assert status == 201, answer
    (item,) = answer["credentialSet"]
    serial = format(leaf.certificate.serial_number, "x")
    assert item["roleArn"] == ROLE_ARN
    assert item["assumedRoleUser"]["arn"] == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{ROLE_NAME}/{serial}"
    assert item["sourceIdentity"] == "CN=workload-1"
    assert answer["subjectArn"].startswith(f"arn:aws:rolesanywhere:{REGION}:{ACCOUNT_ID}:subject/")
    credentials = item["credentials"]
    assert credentials["accessKeyId"].startswith("ASIA")
    expiration = dt.datetime.fromisoformat(credentials["expiration"].replace("Z", "+00:00"))
    assert abs((expiration - _now()).total_seconds() - 7200) < 120  # the profile's duration

    sts = _session_client(server, credentials, "sts")
    assert sts.get_caller_identity()["Arn"] == item["assumedRoleUser"]["arn"]
    iam = _session_client(server, credentials, "iam")
    iam.list_users()
    iam.get_role(RoleName=ROLE_NAME)
    with pytest.raises(ClientError) as exc:
        iam.create_user(UserName="not-allowed")
    assert error_of(exc) == (403, "AccessDenied")


def test_a_shorter_duration_may_be_asked_for(server: Server, setup: Setup) -> None:
    status, answer = signed_create_session(server, make_leaf(setup.ca), setup.body(durationSeconds=900))
    assert status == 201, answer
    expiration = dt.datetime.fromisoformat(
        answer["credentialSet"][0]["credentials"]["expiration"].replace("Z", "+00:00")
    )
    assert abs((expiration - _now()).total_seconds() - 900) < 120


def test_an_intermediate_ca_in_the_chain_is_followed(server: Server, setup: Setup) -> None:
    intermediate = make_ca("Example Issuing CA", issuer=setup.ca)
    leaf = make_leaf(intermediate, chain=[intermediate.certificate])
    status, answer = signed_create_session(server, leaf, setup.body())
    assert status == 201, answer
    without_chain = make_leaf(intermediate)
    status, answer = signed_create_session(server, without_chain, setup.body())
    assert status == 403, answer


def test_a_certificate_from_another_ca_is_refused(server: Server, setup: Setup) -> None:
    stranger = make_ca("Example Root CA")  # same name, different key
    status, answer = signed_create_session(server, make_leaf(stranger), setup.body())
    assert status == 403 and "chain" in answer["message"], answer


def test_an_expired_or_future_certificate_is_refused(server: Server, setup: Setup) -> None:
    expired = make_leaf(setup.ca, not_before=dt.timedelta(days=-10), not_after=dt.timedelta(days=-1))
    status, answer = signed_create_session(server, expired, setup.body())
    assert status == 403 and "expired" in answer["message"], answer
    future = make_leaf(setup.ca, not_before=dt.timedelta(days=1), not_after=dt.timedelta(days=10))
    status, answer = signed_create_session(server, future, setup.body())
    assert status == 403 and "not yet valid" in answer["message"], answer


def test_a_bad_signature_is_refused(server: Server, setup: Setup) -> None:
    leaf = make_leaf(setup.ca)
    status, answer = signed_create_session(server, leaf, setup.body(), tamper=True)
    assert status == 403 and "signature" in answer["message"], answer
    other_key = rsa.generate_private_key(65537, 2048)
    status, answer = signed_create_session(server, leaf, setup.body(), signing_key=other_key)
    assert status == 403 and "signature" in answer["message"], answer


def test_disabled_trust_anchor_or_profile_is_refused(server: Server, ra: Any, setup: Setup) -> None:
    leaf = make_leaf(setup.ca)
    ra.disable_trust_anchor(trustAnchorId=setup.anchor_id)
    try:
        status, answer = signed_create_session(server, leaf, setup.body())
        assert status == 403 and "trust anchor" in answer["message"], answer
    finally:
        ra.enable_trust_anchor(trustAnchorId=setup.anchor_id)
    ra.disable_profile(profileId=setup.profile_id)
    try:
        status, answer = signed_create_session(server, leaf, setup.body())
        assert status == 403 and "profile" in answer["message"], answer
    finally:
        ra.enable_profile(profileId=setup.profile_id)
    status, answer = signed_create_session(server, leaf, setup.body())
    assert status == 201, answer


def test_a_role_not_in_the_profile_is_refused(server: Server, setup: Setup) -> None:
    body = setup.body(roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/not-in-profile")
    status, answer = signed_create_session(server, make_leaf(setup.ca), body)
    assert status == 403 and "not in the profile" in answer["message"], answer


def test_the_trust_policy_sees_the_certificate_attributes(server: Server, setup: Setup) -> None:
    status, answer = signed_create_session(server, make_leaf(setup.ca, cn="batch-7"), setup.body())
    assert status == 403 and "trust policy" in answer["message"], answer
