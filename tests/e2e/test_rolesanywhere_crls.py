"""IAM Roles Anywhere end to end, beyond anchors and profiles: certificate revocation lists (and
CreateSession refusing a revoked certificate), subjects recorded by CreateSession, attribute
mappings deciding the session's principal tags, and trust anchor notification settings."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from tests.e2e.harness import ACCOUNT_ID, REGION, Server
from tests.e2e.test_rolesanywhere import (
    Ca,
    Leaf,
    Setup,
    doc,
    error_of,
    make_ca,
    make_leaf,
    signed_create_session,
)

ROLE_NAME = "ra-crl-workload"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/{ROLE_NAME}"
TRUST = doc(
    {
        "Effect": "Allow",
        "Principal": {"Service": "rolesanywhere.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
        "Condition": {"StringLike": {"aws:PrincipalTag/x509Subject/CN": "workload-*"}},
    }
)
# The session may list users only while its principal tags carry the certificate's OU.
PERMISSIONS = doc(
    {
        "Effect": "Allow",
        "Action": "iam:ListUsers",
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:PrincipalTag/x509Subject/OU": "payments"}},
    }
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_crl(issuer: Ca, *revoked: x509.Certificate, signer: Any = None) -> x509.CertificateRevocationList:
    now = _now()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.certificate.subject)
        .last_update(now - dt.timedelta(minutes=5))
        .next_update(now + dt.timedelta(days=7))
    )
    for certificate in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(certificate.serial_number)
            .revocation_date(now - dt.timedelta(minutes=1))
            .build()
        )
    return builder.sign(signer or issuer.key, hashes.SHA256())


def der(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(serialization.Encoding.DER)


def pem(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def ra(server: Server) -> Any:
    return server.client("rolesanywhere")


@pytest.fixture(scope="module")
def setup(iam: Any, ra: Any) -> Setup:
    iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(RoleName=ROLE_NAME, PolicyName="list", PolicyDocument=PERMISSIONS)
    ca = make_ca("CRL Test Root CA")
    anchor = ra.create_trust_anchor(
        name="crl-anchor",
        source={"sourceType": "CERTIFICATE_BUNDLE", "sourceData": {"x509CertificateData": ca.pem}},
        enabled=True,
    )["trustAnchor"]
    profile = ra.create_profile(name="crl-profile", roleArns=[ROLE_ARN], enabled=True)["profile"]
    return Setup(
        ca,
        anchor["trustAnchorArn"],
        anchor["trustAnchorId"],
        profile["profileArn"],
        profile["profileId"],
        role_arn=ROLE_ARN,
    )


def _session(server: Server, setup: Setup, leaf: Leaf, **extra: Any) -> tuple[int, dict[str, Any]]:
    return signed_create_session(server, leaf, setup.body(**extra))


# -- CRLs -----------------------------------------------------------------------------------------


def test_crl_lifecycle(ra: Any, setup: Setup) -> None:
    data = der(make_crl(setup.ca, make_leaf(setup.ca).certificate))
    created = ra.import_crl(
        name="corp crl", crlData=data, trustAnchorArn=setup.anchor_arn, tags=[{"key": "team", "value": "pki"}]
    )["crl"]
    crl_id = created["crlId"]
    assert str(uuid.UUID(crl_id)) == crl_id
    assert created["crlArn"] == f"arn:aws:rolesanywhere:{REGION}:{ACCOUNT_ID}:crl/{crl_id}"
    assert created["trustAnchorArn"] == setup.anchor_arn
    assert created["enabled"] is False  # AWS's default
    assert created["crlData"] == data
    assert isinstance(created["createdAt"], dt.datetime)

    assert ra.get_crl(crlId=crl_id)["crl"]["name"] == "corp crl"
    assert ra.get_crl(crlId=created["crlArn"])["crl"]["crlId"] == crl_id  # the ARN names it too
    assert ra.list_tags_for_resource(resourceArn=created["crlArn"])["tags"] == [
        {"key": "team", "value": "pki"}
    ]
    ra.tag_resource(resourceArn=created["crlArn"], tags=[{"key": "env", "value": "prod"}])
    assert {t["key"] for t in ra.list_tags_for_resource(resourceArn=created["crlArn"])["tags"]} == {
        "team",
        "env",
    }

    newer = der(make_crl(setup.ca))
    updated = ra.update_crl(crlId=crl_id, name="renamed", crlData=newer)["crl"]
    assert (updated["name"], updated["crlData"]) == ("renamed", newer)
    assert updated["updatedAt"] >= created["updatedAt"]
    assert ra.enable_crl(crlId=crl_id)["crl"]["enabled"] is True
    assert ra.disable_crl(crlId=crl_id)["crl"]["enabled"] is False

    assert ra.delete_crl(crlId=crl_id)["crl"]["crlId"] == crl_id
    with pytest.raises(ClientError) as exc:
        ra.get_crl(crlId=crl_id)
    assert error_of(exc) == (404, "ResourceNotFoundException")


def test_list_crls_pages(ra: Any, setup: Setup) -> None:
    ids = {
        ra.import_crl(name=f"page-{i}", crlData=der(make_crl(setup.ca)), trustAnchorArn=setup.anchor_arn)[
            "crl"
        ]["crlId"]
        for i in range(3)
    }
    first = ra.list_crls(pageSize=2)
    assert len(first["crls"]) == 2 and first["nextToken"]
    seen = [c["crlId"] for c in first["crls"]]
    token = first["nextToken"]
    while token:
        page = ra.list_crls(pageSize=2, nextToken=token)
        seen += [c["crlId"] for c in page["crls"]]
        token = page.get("nextToken")
    assert ids <= set(seen) and len(seen) == len(set(seen))
    paginated = [c["crlId"] for p in ra.get_paginator("list_crls").paginate() for c in p["crls"]]
    assert set(paginated) == set(seen)
    with pytest.raises(ClientError) as exc:
        ra.list_crls(nextToken="not-a-token")
    assert error_of(exc) == (400, "ValidationException")
    for crl_id in ids:
        ra.delete_crl(crlId=crl_id)


def test_import_crl_refuses_bad_input(ra: Any, setup: Setup) -> None:
    with pytest.raises(ClientError) as exc:
        ra.import_crl(name="junk", crlData=b"not a crl", trustAnchorArn=setup.anchor_arn)
    assert error_of(exc) == (400, "ValidationException")
    assert "revocation list" in exc.value.response["Error"]["Message"]

    # A CRL naming the anchor's CA as issuer but signed by another key.
    forged = make_crl(setup.ca, signer=make_ca("CRL Test Root CA").key)
    with pytest.raises(ClientError) as exc:
        ra.import_crl(name="forged", crlData=der(forged), trustAnchorArn=setup.anchor_arn)
    assert error_of(exc) == (400, "ValidationException")
    assert "not signed" in exc.value.response["Error"]["Message"]

    missing = f"arn:aws:rolesanywhere:{REGION}:{ACCOUNT_ID}:trust-anchor/{uuid.uuid4()}"
    with pytest.raises(ClientError) as exc:
        ra.import_crl(name="orphan", crlData=der(make_crl(setup.ca)), trustAnchorArn=missing)
    assert error_of(exc) == (404, "ResourceNotFoundException")

    for call in (ra.get_crl, ra.enable_crl, ra.disable_crl, ra.delete_crl):
        with pytest.raises(ClientError) as exc:
            call(crlId=str(uuid.uuid4()))
        assert error_of(exc) == (404, "ResourceNotFoundException")


def test_a_revoked_certificate_is_refused_while_its_crl_is_enabled(
    server: Server, ra: Any, setup: Setup
) -> None:
    revoked, kept = make_leaf(setup.ca, "workload-revoked"), make_leaf(setup.ca, "workload-kept")
    crl = ra.import_crl(
        name="revocations",
        crlData=pem(make_crl(setup.ca, revoked.certificate)),
        trustAnchorArn=setup.anchor_arn,
    )["crl"]
    assert _session(server, setup, revoked)[0] == 201  # imported disabled: not in force yet

    ra.enable_crl(crlId=crl["crlId"])
    status, answer = _session(server, setup, revoked)
    assert (status, answer.get("message")) == (403, "Certificate revoked"), answer
    assert _session(server, setup, kept)[0] == 201

    ra.disable_crl(crlId=crl["crlId"])
    assert _session(server, setup, revoked)[0] == 201
    ra.enable_crl(crlId=crl["crlId"])
    assert _session(server, setup, revoked)[0] == 403
    ra.delete_crl(crlId=crl["crlId"])
    assert _session(server, setup, revoked)[0] == 201


def test_an_intermediate_cas_crl_is_checked_with_its_signature(server: Server, ra: Any, setup: Setup) -> None:
    intermediate = make_ca("CRL Test Issuing CA", issuer=setup.ca)
    leaf = make_leaf(intermediate, "workload-int", chain=[intermediate.certificate])
    assert _session(server, setup, leaf)[0] == 201

    # Claims to come from the intermediate but is signed by a stranger: imported, never trusted.
    forged = make_crl(intermediate, leaf.certificate, signer=make_ca("Stranger").key)
    bogus = ra.import_crl(name="forged", crlData=der(forged), trustAnchorArn=setup.anchor_arn, enabled=True)[
        "crl"
    ]
    assert _session(server, setup, leaf)[0] == 201

    genuine = make_crl(intermediate, leaf.certificate)
    real = ra.import_crl(name="genuine", crlData=der(genuine), trustAnchorArn=setup.anchor_arn, enabled=True)[
        "crl"
    ]
    status, answer = _session(server, setup, leaf)
    assert status == 403 and answer["message"] == "Certificate revoked", answer

    # The root revoking the intermediate refuses every certificate below it.
    ra.delete_crl(crlId=real["crlId"])
    root_crl = ra.import_crl(
        name="root",
        crlData=der(make_crl(setup.ca, intermediate.certificate)),
        trustAnchorArn=setup.anchor_arn,
    )["crl"]
    ra.enable_crl(crlId=root_crl["crlId"])
    assert _session(server, setup, leaf)[0] == 403
    for crl_id in (bogus["crlId"], root_crl["crlId"]):
        ra.delete_crl(crlId=crl_id)
    assert _session(server, setup, leaf)[0] == 201


# -- subjects -------------------------------------------------------------------------------------


def test_create_session_records_its_subject(server: Server, ra: Any, setup: Setup) -> None:
    first = make_leaf(setup.ca, "workload-subject")
    status, answer = _session(server, setup, first, instanceProperties={"hostname": "build-7", "os": "linux"})
    assert status == 201, answer
    subject_arn = answer["subjectArn"]
    subject_id = subject_arn.rsplit("/", 1)[1]
    assert subject_arn == f"arn:aws:rolesanywhere:{REGION}:{ACCOUNT_ID}:subject/{subject_id}"

    subject = ra.get_subject(subjectId=subject_id)["subject"]
    assert subject["subjectArn"] == subject_arn and subject["enabled"] is True
    assert "CN=workload-subject" in subject["x509Subject"] and "OU=payments" in subject["x509Subject"]
    (credential,) = subject["credentials"]
    assert credential["serialNumber"] == str(first.certificate.serial_number)
    assert "CN=CRL Test Root CA" in credential["issuer"]
    assert credential["enabled"] is True and credential["failed"] is False
    assert (
        credential["x509CertificateData"]
        == first.certificate.public_bytes(serialization.Encoding.PEM).decode()
    )
    (properties,) = subject["instanceProperties"]
    assert properties["properties"] == {"hostname": "build-7", "os": "linux"}
    assert properties["failed"] is False
    assert subject["lastSeenAt"] >= subject["createdAt"]

    # The same subject with a renewed certificate: one subject, both certificates, newest first.
    second = make_leaf(setup.ca, "workload-subject")
    status, again = _session(server, setup, second)
    assert status == 201 and again["subjectArn"] == subject_arn
    later = ra.get_subject(subjectId=subject_id)["subject"]
    assert [c["serialNumber"] for c in later["credentials"]] == [
        str(second.certificate.serial_number),
        str(first.certificate.serial_number),
    ]
    assert later["lastSeenAt"] >= subject["lastSeenAt"]

    summaries = [s for p in ra.get_paginator("list_subjects").paginate(pageSize=1) for s in p["subjects"]]
    mine = [s for s in summaries if s["subjectId"] == subject_id]
    assert len(mine) == 1 and "credentials" not in mine[0]
    assert mine[0]["x509Subject"] == later["x509Subject"]

    with pytest.raises(ClientError) as exc:
        ra.get_subject(subjectId=str(uuid.uuid4()))
    assert error_of(exc) == (404, "ResourceNotFoundException")


def test_a_refused_session_records_no_subject(server: Server, ra: Any, setup: Setup) -> None:
    stranger = make_leaf(setup.ca, "batch-unmatched")  # the trust policy wants workload-*
    status, _ = _session(server, setup, stranger)
    assert status == 403
    subjects = [s["x509Subject"] for p in ra.get_paginator("list_subjects").paginate() for s in p["subjects"]]
    assert not any("batch-unmatched" in s for s in subjects)


# -- attribute mappings ---------------------------------------------------------------------------


def _mappings(profile: dict[str, Any]) -> dict[str, list[str]]:
    return {
        m["certificateField"]: [r["specifier"] for r in m["mappingRules"]]
        for m in profile["attributeMappings"]
    }


def test_a_profile_starts_with_aws_default_mappings(ra: Any, setup: Setup) -> None:
    profile = ra.get_profile(profileId=setup.profile_id)["profile"]
    assert _mappings(profile) == {
        "x509Issuer": ["*"],
        "x509SAN": ["DNS", "URI", "Name/*"],
        "x509Subject": ["*"],
    }


def test_attribute_mappings_decide_the_session_tags(server: Server, iam: Any, ra: Any) -> None:
    ca = make_ca("Mapping CA")
    anchor = ra.create_trust_anchor(
        name="mapping-anchor",
        source={"sourceType": "CERTIFICATE_BUNDLE", "sourceData": {"x509CertificateData": ca.pem}},
        enabled=True,
    )["trustAnchor"]
    profile_id = ra.create_profile(name="mapping", roleArns=[ROLE_ARN], enabled=True)["profile"]["profileId"]
    body = {
        "profileArn": f"arn:aws:rolesanywhere:{REGION}:{ACCOUNT_ID}:profile/{profile_id}",
        "roleArn": ROLE_ARN,
        "trustAnchorArn": anchor["trustAnchorArn"],
    }
    leaf = make_leaf(ca, "workload-mapped")

    def session() -> tuple[int, dict[str, Any]]:
        return signed_create_session(server, leaf, body)

    def can_list_users(answer: dict[str, Any]) -> bool:
        credentials = answer["credentialSet"][0]["credentials"]
        client = server.client(
            "iam", credentials["accessKeyId"], credentials["secretAccessKey"], credentials["sessionToken"]
        )
        try:
            client.list_users()
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "AccessDenied"
            return False
        return True

    status, answer = session()
    assert status == 201 and can_list_users(answer), answer  # defaults: CN and OU are tags

    # Only OU: the trust policy's condition on aws:PrincipalTag/x509Subject/CN no longer holds.
    put = ra.put_attribute_mapping(
        profileId=profile_id, certificateField="x509Subject", mappingRules=[{"specifier": "OU"}]
    )
    assert _mappings(put["profile"])["x509Subject"] == ["OU"]
    status, answer = session()
    assert status == 403 and "trust policy" in answer["message"], answer

    # CN and OU: the session is back, and its tags carry OU.
    ra.put_attribute_mapping(
        profileId=profile_id,
        certificateField="x509Subject",
        mappingRules=[{"specifier": "CN"}, {"specifier": "OU"}],
    )
    status, answer = session()
    assert status == 201 and can_list_users(answer), answer

    # Dropping OU: the session starts, but its tags no longer satisfy the permissions policy.
    deleted = ra.delete_attribute_mapping(
        profileId=profile_id, certificateField="x509Subject", specifiers=["OU"]
    )
    assert _mappings(deleted["profile"])["x509Subject"] == ["CN"]
    status, answer = session()
    assert status == 201 and not can_list_users(answer), answer
    assert answer["credentialSet"][0]["sourceIdentity"] == "CN=workload-mapped"

    # Dropping the whole field: no x509Subject tag at all.
    deleted = ra.delete_attribute_mapping(profileId=profile_id, certificateField="x509Subject")
    assert "x509Subject" not in _mappings(deleted["profile"])
    assert session()[0] == 403
    assert "x509Subject" not in _mappings(ra.get_profile(profileId=profile_id)["profile"])

    # "Name" is stored as "Name/*"; unknown specifiers and absent ones are refused.
    san = ra.put_attribute_mapping(
        profileId=profile_id,
        certificateField="x509SAN",
        mappingRules=[{"specifier": "DNS"}, {"specifier": "Name"}],
    )
    assert _mappings(san["profile"])["x509SAN"] == ["DNS", "Name/*"]
    with pytest.raises(ClientError) as exc:
        ra.put_attribute_mapping(
            profileId=profile_id, certificateField="x509Subject", mappingRules=[{"specifier": "XYZ"}]
        )
    assert error_of(exc) == (400, "ValidationException")
    assert "XYZ" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        ra.delete_attribute_mapping(profileId=profile_id, certificateField="x509Issuer", specifiers=["CN"])
    assert error_of(exc) == (400, "ValidationException")
    with pytest.raises(ClientError) as exc:
        ra.put_attribute_mapping(
            profileId=str(uuid.uuid4()), certificateField="x509Subject", mappingRules=[{"specifier": "CN"}]
        )
    assert error_of(exc) == (404, "ResourceNotFoundException")


# -- notification settings ------------------------------------------------------------------------


def _settings(anchor: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["event"]: n for n in anchor["notificationSettings"]}


def test_notification_settings(ra: Any) -> None:
    ca = make_ca("Notification CA")
    source = {"sourceType": "CERTIFICATE_BUNDLE", "sourceData": {"x509CertificateData": ca.pem}}
    anchor = ra.create_trust_anchor(name="notified", source=source)["trustAnchor"]
    defaults = _settings(anchor)
    assert set(defaults) == {"CA_CERTIFICATE_EXPIRY", "END_ENTITY_CERTIFICATE_EXPIRY"}
    for setting in defaults.values():
        assert setting["enabled"] is True and setting["threshold"] == 45 and setting["channel"] == "ALL"
        assert setting["configuredBy"] == "rolesanywhere.amazonaws.com"

    put = ra.put_notification_settings(
        trustAnchorId=anchor["trustAnchorId"],
        notificationSettings=[
            {"event": "CA_CERTIFICATE_EXPIRY", "enabled": True, "threshold": 90},
            {"event": "END_ENTITY_CERTIFICATE_EXPIRY", "enabled": False},
        ],
    )["trustAnchor"]
    custom = _settings(put)
    assert custom["CA_CERTIFICATE_EXPIRY"]["threshold"] == 90
    assert custom["CA_CERTIFICATE_EXPIRY"]["configuredBy"] == ACCOUNT_ID
    assert custom["END_ENTITY_CERTIFICATE_EXPIRY"]["enabled"] is False
    assert _settings(ra.get_trust_anchor(trustAnchorId=anchor["trustAnchorId"])["trustAnchor"]) == custom

    with pytest.raises(ClientError) as exc:
        ra.put_notification_settings(
            trustAnchorId=anchor["trustAnchorId"],
            notificationSettings=[{"event": "CA_CERTIFICATE_EXPIRY", "enabled": True}],
        )
    assert error_of(exc) == (400, "ValidationException")
    assert "threshold" in exc.value.response["Error"]["Message"]

    reset = ra.reset_notification_settings(
        trustAnchorId=anchor["trustAnchorId"], notificationSettingKeys=[{"event": "CA_CERTIFICATE_EXPIRY"}]
    )["trustAnchor"]
    after = _settings(reset)
    assert after["CA_CERTIFICATE_EXPIRY"] == defaults["CA_CERTIFICATE_EXPIRY"]
    assert after["END_ENTITY_CERTIFICATE_EXPIRY"]["enabled"] is False

    with pytest.raises(ClientError) as exc:
        ra.put_notification_settings(
            trustAnchorId=str(uuid.uuid4()),
            notificationSettings=[{"event": "CA_CERTIFICATE_EXPIRY", "enabled": True, "threshold": 10}],
        )
    assert error_of(exc) == (404, "ResourceNotFoundException")

    created = ra.create_trust_anchor(
        name="notified-at-birth",
        source=source,
        notificationSettings=[{"event": "END_ENTITY_CERTIFICATE_EXPIRY", "enabled": True, "threshold": 7}],
    )["trustAnchor"]
    assert _settings(created)["END_ENTITY_CERTIFICATE_EXPIRY"]["threshold"] == 7
    assert _settings(created)["CA_CERTIFICATE_EXPIRY"]["threshold"] == 45


# -- authorization --------------------------------------------------------------------------------


def test_the_new_operations_are_authorized(server: Server, iam: Any, setup: Setup) -> None:
    iam.create_user(UserName="crl-reader")
    allowed = {
        "Effect": "Allow",
        "Action": ["rolesanywhere:ListCrls", "rolesanywhere:ListSubjects"],
        "Resource": "*",
    }
    iam.put_user_policy(UserName="crl-reader", PolicyName="inline", PolicyDocument=doc(allowed))
    key = iam.create_access_key(UserName="crl-reader")["AccessKey"]
    client = server.client("rolesanywhere", key["AccessKeyId"], key["SecretAccessKey"])
    client.list_crls()
    client.list_subjects()
    for call in (
        lambda: client.import_crl(name="x", crlData=der(make_crl(setup.ca)), trustAnchorArn=setup.anchor_arn),
        lambda: client.get_subject(subjectId=str(uuid.uuid4())),
        lambda: client.put_attribute_mapping(
            profileId=setup.profile_id, certificateField="x509Subject", mappingRules=[{"specifier": "CN"}]
        ),
        lambda: client.put_notification_settings(
            trustAnchorId=setup.anchor_id,
            notificationSettings=[{"event": "CA_CERTIFICATE_EXPIRY", "enabled": True, "threshold": 5}],
        ),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_of(exc) == (403, "AccessDeniedException")
