"""A user's other credentials end to end: X.509 signing certificates, SSH public keys and
service-specific credentials: lifecycles, quotas, malformed input, secrets shown once, and who may
manage them."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from tests.e2e.harness import ACCOUNT_ID, Server, new_user_client


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response = exc.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def rsa_key(n: int, bits: int = 2048) -> rsa.RSAPrivateKey:
    """Key number ``n`` (the same key for the same n and size, within this module)."""
    return _rsa_key(n, bits)


@cache
def _rsa_key(n: int, bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def certificate(n: int) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"signer-{n}")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def ssh_body(n: int, bits: int = 2048) -> str:
    public = rsa_key(n, bits).public_key()
    return public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def md5_fingerprint(openssh: str) -> str:
    digest = hashlib.md5(base64.b64decode(openssh.split()[1]), usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


# -- signing certificates -----------------------------------------------------------------------


def test_signing_certificate_lifecycle_and_quota(iam: Any) -> None:
    iam.create_user(UserName="c-signer")
    body = certificate(1)
    uploaded = iam.upload_signing_certificate(UserName="c-signer", CertificateBody=body)["Certificate"]
    assert uploaded["UserName"] == "c-signer" and uploaded["Status"] == "Active"
    assert uploaded["CertificateBody"] == body and len(uploaded["CertificateId"]) >= 24
    cert_id = uploaded["CertificateId"]

    listed = iam.list_signing_certificates(UserName="c-signer")
    assert listed["Certificates"] == [uploaded] and listed["IsTruncated"] is False

    iam.update_signing_certificate(UserName="c-signer", CertificateId=cert_id, Status="Inactive")
    assert iam.list_signing_certificates(UserName="c-signer")["Certificates"][0]["Status"] == "Inactive"

    with pytest.raises(ClientError) as exc:
        iam.upload_signing_certificate(UserName="c-signer", CertificateBody=body)
    assert error_of(exc)[:2] == (409, "DuplicateCertificate")
    iam.upload_signing_certificate(UserName="c-signer", CertificateBody=certificate(2))
    with pytest.raises(ClientError) as exc:
        iam.upload_signing_certificate(UserName="c-signer", CertificateBody=certificate(3))
    assert error_of(exc) == (409, "LimitExceeded", "Cannot exceed quota for CertificatesPerUser: 2")

    with pytest.raises(ClientError) as exc:
        iam.delete_user(UserName="c-signer")
    assert error_of(exc)[:2] == (409, "DeleteConflict")
    for cert in iam.list_signing_certificates(UserName="c-signer")["Certificates"]:
        iam.delete_signing_certificate(UserName="c-signer", CertificateId=cert["CertificateId"])
    with pytest.raises(ClientError) as exc:
        iam.delete_signing_certificate(UserName="c-signer", CertificateId=cert_id)
    assert error_of(exc) == (404, "NoSuchEntity", f"The Certificate with id {cert_id} cannot be found.")
    iam.delete_user(UserName="c-signer")
    # A user's certificates are not the root user's.
    assert iam.get_account_summary()["SummaryMap"]["AccountSigningCertificatesPresent"] == 0


def test_malformed_certificates_are_refused(iam: Any) -> None:
    iam.create_user(UserName="c-malformed")
    for body in ("not a certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"):
        with pytest.raises(ClientError) as exc:
            iam.upload_signing_certificate(UserName="c-malformed", CertificateBody=body)
        assert error_of(exc)[:2] == (400, "MalformedCertificate")
    assert iam.list_signing_certificates(UserName="c-malformed")["Certificates"] == []


# -- SSH public keys ----------------------------------------------------------------------------


def test_ssh_public_key_lifecycle(iam: Any) -> None:
    iam.create_user(UserName="c-ssh")
    body = ssh_body(1)
    uploaded = iam.upload_ssh_public_key(UserName="c-ssh", SSHPublicKeyBody=body + " someone@example")[
        "SSHPublicKey"
    ]
    assert uploaded["UserName"] == "c-ssh" and uploaded["Status"] == "Active"
    assert uploaded["SSHPublicKeyId"].startswith("APKA")
    assert uploaded["Fingerprint"] == md5_fingerprint(body)
    key_id = uploaded["SSHPublicKeyId"]

    as_ssh = iam.get_ssh_public_key(UserName="c-ssh", SSHPublicKeyId=key_id, Encoding="SSH")["SSHPublicKey"]
    assert as_ssh["SSHPublicKeyBody"].split()[:2] == body.split()[:2]
    as_pem = iam.get_ssh_public_key(UserName="c-ssh", SSHPublicKeyId=key_id, Encoding="PEM")["SSHPublicKey"]
    assert as_pem["SSHPublicKeyBody"].startswith("-----BEGIN PUBLIC KEY-----")
    loaded = serialization.load_pem_public_key(as_pem["SSHPublicKeyBody"].encode())
    assert isinstance(loaded, rsa.RSAPublicKey)
    assert loaded.public_numbers() == rsa_key(1).public_key().public_numbers()

    listed = iam.list_ssh_public_keys(UserName="c-ssh")["SSHPublicKeys"]
    assert [(k["SSHPublicKeyId"], k["Status"]) for k in listed] == [(key_id, "Active")]
    assert "SSHPublicKeyBody" not in listed[0]

    iam.update_ssh_public_key(UserName="c-ssh", SSHPublicKeyId=key_id, Status="Inactive")
    assert iam.list_ssh_public_keys(UserName="c-ssh")["SSHPublicKeys"][0]["Status"] == "Inactive"
    iam.delete_ssh_public_key(UserName="c-ssh", SSHPublicKeyId=key_id)
    assert iam.list_ssh_public_keys(UserName="c-ssh")["SSHPublicKeys"] == []
    with pytest.raises(ClientError) as exc:
        iam.get_ssh_public_key(UserName="c-ssh", SSHPublicKeyId=key_id, Encoding="SSH")
    assert error_of(exc) == (404, "NoSuchEntity", f"The Public Key with id {key_id} cannot be found.")

    # A PEM upload works too.
    pem = (
        rsa_key(2)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    uploaded = iam.upload_ssh_public_key(UserName="c-ssh", SSHPublicKeyBody=pem.decode())["SSHPublicKey"]
    assert uploaded["Fingerprint"] == md5_fingerprint(ssh_body(2))


def test_ssh_public_key_errors_and_quota(iam: Any) -> None:
    iam.create_user(UserName="c-ssh-quota")
    for n in range(5):
        iam.upload_ssh_public_key(UserName="c-ssh-quota", SSHPublicKeyBody=ssh_body(10 + n))
    with pytest.raises(ClientError) as exc:
        iam.upload_ssh_public_key(UserName="c-ssh-quota", SSHPublicKeyBody=ssh_body(10))
    assert error_of(exc)[:2] == (400, "DuplicateSSHPublicKey")
    with pytest.raises(ClientError) as exc:
        iam.upload_ssh_public_key(UserName="c-ssh-quota", SSHPublicKeyBody=ssh_body(20))
    assert error_of(exc) == (409, "LimitExceeded", "Cannot exceed quota for PublicKeysPerUser: 5")

    iam.create_user(UserName="c-ssh-bad")
    with pytest.raises(ClientError) as exc:
        iam.upload_ssh_public_key(UserName="c-ssh-bad", SSHPublicKeyBody=ssh_body(30, bits=1024))
    assert error_of(exc)[:2] == (400, "InvalidPublicKey")
    with pytest.raises(ClientError) as exc:
        iam.upload_ssh_public_key(UserName="c-ssh-bad", SSHPublicKeyBody="ssh-rsa AAAAnot-base64-at-all")
    assert error_of(exc)[:2] == (400, "InvalidPublicKey")
    with pytest.raises(ClientError) as exc:
        iam.upload_ssh_public_key(UserName="c-ssh-bad", SSHPublicKeyBody="what is this")
    assert error_of(exc)[:2] == (400, "UnrecognizedPublicKeyEncoding")
    with pytest.raises(ClientError) as exc:
        iam.upload_ssh_public_key(UserName="c-no-such-user", SSHPublicKeyBody=ssh_body(1))
    assert error_of(exc)[:2] == (404, "NoSuchEntity")


# -- service-specific credentials ---------------------------------------------------------------


def test_service_specific_credential_lifecycle(server: Server, iam: Any) -> None:
    iam.create_user(UserName="c-git")
    created = iam.create_service_specific_credential(UserName="c-git", ServiceName="codecommit.amazonaws.com")
    cred = created["ServiceSpecificCredential"]
    assert cred["UserName"] == "c-git" and cred["Status"] == "Active"
    assert cred["ServiceName"] == "codecommit.amazonaws.com"
    assert cred["ServiceUserName"] == f"c-git-at-{ACCOUNT_ID}"
    assert cred["ServiceSpecificCredentialId"].startswith("ACCA")
    password = cred["ServicePassword"]
    assert len(password) >= 20
    cred_id = cred["ServiceSpecificCredentialId"]

    listed = iam.list_service_specific_credentials(UserName="c-git")["ServiceSpecificCredentials"]
    assert [c["ServiceSpecificCredentialId"] for c in listed] == [cred_id]
    assert "ServicePassword" not in listed[0] and password not in json.dumps(listed, default=str)

    # A second credential for the same service gets a user name of its own; a third is refused.
    second = iam.create_service_specific_credential(UserName="c-git", ServiceName="codecommit.amazonaws.com")
    assert second["ServiceSpecificCredential"]["ServiceUserName"] == f"c-git+1-at-{ACCOUNT_ID}"
    with pytest.raises(ClientError) as exc:
        iam.create_service_specific_credential(UserName="c-git", ServiceName="codecommit.amazonaws.com")
    assert error_of(exc) == (
        409,
        "LimitExceeded",
        "Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: 2",
    )
    # The quota is per service.
    keyspaces = iam.create_service_specific_credential(
        UserName="c-git", ServiceName="cassandra.amazonaws.com"
    )
    assert keyspaces["ServiceSpecificCredential"]["ServiceName"] == "cassandra.amazonaws.com"
    only = iam.list_service_specific_credentials(UserName="c-git", ServiceName="cassandra.amazonaws.com")
    assert len(only["ServiceSpecificCredentials"]) == 1

    reset = iam.reset_service_specific_credential(UserName="c-git", ServiceSpecificCredentialId=cred_id)
    new_password = reset["ServiceSpecificCredential"]["ServicePassword"]
    assert new_password != password
    assert reset["ServiceSpecificCredential"]["ServiceUserName"] == f"c-git-at-{ACCOUNT_ID}"

    iam.update_service_specific_credential(
        UserName="c-git", ServiceSpecificCredentialId=cred_id, Status="Inactive"
    )
    statuses = {
        c["ServiceSpecificCredentialId"]: c["Status"]
        for c in iam.list_service_specific_credentials(UserName="c-git")["ServiceSpecificCredentials"]
    }
    assert statuses[cred_id] == "Inactive"

    with pytest.raises(ClientError) as exc:
        iam.delete_user(UserName="c-git")
    assert error_of(exc)[:2] == (409, "DeleteConflict")
    iam.delete_service_specific_credential(UserName="c-git", ServiceSpecificCredentialId=cred_id)
    with pytest.raises(ClientError) as exc:
        iam.delete_service_specific_credential(UserName="c-git", ServiceSpecificCredentialId=cred_id)
    assert error_of(exc)[:2] == (404, "NoSuchEntity")
    with pytest.raises(ClientError) as exc:
        iam.reset_service_specific_credential(UserName="c-git", ServiceSpecificCredentialId=cred_id)
    assert error_of(exc)[:2] == (404, "NoSuchEntity")

    # Secrets never reach the database in plain text or the log.
    stored = b"".join(f.read_bytes() for f in server.data_dir.glob("iamd.db*"))
    for secret in (password, new_password):
        assert secret.encode() not in stored
        assert secret not in server.log.read_text()


def test_service_specific_credential_errors_and_api_keys(iam: Any) -> None:
    iam.create_user(UserName="c-svc")
    with pytest.raises(ClientError) as exc:
        iam.create_service_specific_credential(UserName="c-svc", ServiceName="s3.amazonaws.com")
    assert error_of(exc)[:2] == (404, "NotSupportedService")
    with pytest.raises(ClientError) as exc:
        iam.create_service_specific_credential(UserName="c-nobody", ServiceName="codecommit.amazonaws.com")
    assert error_of(exc)[:2] == (404, "NoSuchEntity")
    with pytest.raises(ClientError) as exc:
        iam.create_service_specific_credential(
            UserName="c-svc", ServiceName="codecommit.amazonaws.com", CredentialAgeDays=30
        )
    assert error_of(exc)[:2] == (400, "InvalidInput")

    # Long-term API keys: an alias and a secret, optionally expiring.
    api_key = iam.create_service_specific_credential(
        UserName="c-svc", ServiceName="bedrock.amazonaws.com", CredentialAgeDays=30
    )["ServiceSpecificCredential"]
    assert api_key["ServiceCredentialAlias"].startswith("c-svc") and api_key["ServiceCredentialSecret"]
    assert "ServicePassword" not in api_key
    assert api_key["ExpirationDate"] - api_key["CreateDate"] == timedelta(days=30)
    listed = iam.list_service_specific_credentials(UserName="c-svc")["ServiceSpecificCredentials"][0]
    assert listed["ServiceCredentialAlias"] == api_key["ServiceCredentialAlias"]
    assert "ServiceCredentialSecret" not in listed

    iam.create_user(UserName="c-svc-2")
    iam.create_service_specific_credential(UserName="c-svc-2", ServiceName="bedrock.amazonaws.com")
    everyone = iam.list_service_specific_credentials(AllUsers=True, ServiceName="bedrock.amazonaws.com")
    assert {c["UserName"] for c in everyone["ServiceSpecificCredentials"]} == {"c-svc", "c-svc-2"}
    page = iam.list_service_specific_credentials(
        AllUsers=True, ServiceName="bedrock.amazonaws.com", MaxItems=1
    )
    assert page["IsTruncated"] is True and len(page["ServiceSpecificCredentials"]) == 1


# -- who may manage them ------------------------------------------------------------------------


def test_a_new_user_can_do_nothing_with_credentials(server: Server, iam: Any) -> None:
    nobody = new_user_client(server, iam, "c-nobody-user")
    for call in (
        lambda: nobody.upload_signing_certificate(CertificateBody=certificate(40)),
        lambda: nobody.list_signing_certificates(UserName="iamd-admin"),
        lambda: nobody.upload_ssh_public_key(UserName="c-nobody-user", SSHPublicKeyBody=ssh_body(40)),
        lambda: nobody.list_ssh_public_keys(),
        lambda: nobody.create_service_specific_credential(
            UserName="c-nobody-user", ServiceName="codecommit.amazonaws.com"
        ),
        lambda: nobody.list_service_specific_credentials(AllUsers=True),
        lambda: nobody.list_ssh_public_keys(UserName="c-no-such-user"),  # denied before NoSuchEntity
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_of(exc)[:2] == (403, "AccessDenied")


def test_a_user_manages_only_its_own_credentials(server: Server, iam: Any) -> None:
    own = "arn:aws:iam::*:user/${aws:username}"
    me = new_user_client(
        server,
        iam,
        "c-self",
        policy(
            {
                "Effect": "Allow",
                "Action": [
                    "iam:*SigningCertificate*",
                    "iam:*SSHPublicKey*",
                    "iam:*ServiceSpecificCredential*",
                ],
                "Resource": own,
            },
            # Git credentials for CodeCommit only.
            {
                "Effect": "Deny",
                "Action": "iam:CreateServiceSpecificCredential",
                "Resource": "*",
                "Condition": {
                    "StringNotEquals": {
                        "iam:ServiceSpecificCredentialServiceName": "codecommit.amazonaws.com"
                    }
                },
            },
        ),
    )
    iam.create_user(UserName="c-other")

    cert = me.upload_signing_certificate(CertificateBody=certificate(50))["Certificate"]
    assert cert["UserName"] == "c-self"
    assert [c["CertificateId"] for c in me.list_signing_certificates()["Certificates"]] == [
        cert["CertificateId"]
    ]
    me.update_signing_certificate(CertificateId=cert["CertificateId"], Status="Inactive")
    me.delete_signing_certificate(CertificateId=cert["CertificateId"])

    key = me.upload_ssh_public_key(UserName="c-self", SSHPublicKeyBody=ssh_body(50))["SSHPublicKey"]
    assert [k["SSHPublicKeyId"] for k in me.list_ssh_public_keys()["SSHPublicKeys"]] == [
        key["SSHPublicKeyId"]
    ]

    git = me.create_service_specific_credential(UserName="c-self", ServiceName="codecommit.amazonaws.com")
    git_id = git["ServiceSpecificCredential"]["ServiceSpecificCredentialId"]
    assert len(me.list_service_specific_credentials()["ServiceSpecificCredentials"]) == 1
    me.reset_service_specific_credential(ServiceSpecificCredentialId=git_id)
    with pytest.raises(ClientError) as exc:
        me.create_service_specific_credential(UserName="c-self", ServiceName="cassandra.amazonaws.com")
    status, code, message = error_of(exc)
    assert (status, code) == (403, "AccessDenied") and "explicit deny" in message

    for call in (
        lambda: me.upload_signing_certificate(UserName="c-other", CertificateBody=certificate(51)),
        lambda: me.list_signing_certificates(UserName="c-other"),
        lambda: me.upload_ssh_public_key(UserName="c-other", SSHPublicKeyBody=ssh_body(51)),
        lambda: me.list_ssh_public_keys(UserName="c-other"),
        lambda: me.create_service_specific_credential(
            UserName="c-other", ServiceName="codecommit.amazonaws.com"
        ),
        lambda: me.list_service_specific_credentials(UserName="c-other"),
        lambda: me.list_service_specific_credentials(AllUsers=True),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_of(exc)[:2] == (403, "AccessDenied")


def test_credentials_with_the_aws_cli(server: Server, iam: Any) -> None:
    iam.create_user(UserName="c-cli")
    done = server.cli(
        "iam", "upload-ssh-public-key", "--user-name", "c-cli", "--ssh-public-key-body", ssh_body(60)
    )
    assert done.returncode == 0, done.stderr
    key = json.loads(done.stdout)["SSHPublicKey"]
    assert key["Fingerprint"] == md5_fingerprint(ssh_body(60))
    done = server.cli("iam", "list-service-specific-credentials", "--user-name", "c-cli")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ServiceSpecificCredentials"] == []
