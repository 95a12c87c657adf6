"""Identity providers (OpenID Connect and SAML) and server certificates end to end."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tests.e2e.harness import ACCOUNT_ID, Server
from tests.e2e.policy_helpers import error_of, unvalidated_client

THUMBPRINT = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"
OTHER_THUMBPRINT = "a" * 40

SAML_METADATA = """<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"
    entityID="https://idp.example.com/metadata" validUntil="2049-01-01T00:00:00Z">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
        Location="https://idp.example.com/sso"/>
  </md:IDPSSODescriptor>
  <!-- padding so the document is as long as IAM requires (1,000 characters at least) ....... -->
  <!-- ....................................................................................... -->
  <!-- ....................................................................................... -->
  <!-- ....................................................................................... -->
  <!-- ....................................................................................... -->
  <!-- ....................................................................................... -->
</md:EntityDescriptor>
"""


def test_oidc_provider_lifecycle(iam: Any) -> None:
    created = iam.create_open_id_connect_provider(
        Url="https://token.example.com/issuer",
        ClientIDList=["app-one"],
        ThumbprintList=[THUMBPRINT],
        Tags=[{"Key": "idp", "Value": "example"}],
    )
    arn = created["OpenIDConnectProviderArn"]
    assert arn == f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/token.example.com/issuer"
    assert created["Tags"] == [{"Key": "idp", "Value": "example"}]
    with pytest.raises(ClientError) as exc:
        iam.create_open_id_connect_provider(
            Url="https://token.example.com/issuer", ThumbprintList=[THUMBPRINT]
        )
    assert error_of(exc)[:2] == (409, "EntityAlreadyExists")

    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["Url"] == "token.example.com/issuer"
    assert got["ClientIDList"] == ["app-one"] and got["ThumbprintList"] == [THUMBPRINT]
    assert got["Tags"] == [{"Key": "idp", "Value": "example"}]
    assert arn in [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]

    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="app-two")
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="app-two")
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="app-one")
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="never-there")
    iam.update_open_id_connect_provider_thumbprint(
        OpenIDConnectProviderArn=arn, ThumbprintList=[OTHER_THUMBPRINT, THUMBPRINT]
    )
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["ClientIDList"] == ["app-two"]
    assert got["ThumbprintList"] == [OTHER_THUMBPRINT, THUMBPRINT]

    iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=arn, Tags=[{"Key": "env", "Value": "prod"}])
    iam.untag_open_id_connect_provider(OpenIDConnectProviderArn=arn, TagKeys=["idp"])
    assert iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)["Tags"] == [
        {"Key": "env", "Value": "prod"}
    ]

    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    with pytest.raises(ClientError) as exc:
        iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert error_of(exc)[:2] == (404, "NoSuchEntity")


def test_oidc_provider_input_errors(server: Server, iam: Any) -> None:
    with pytest.raises(ClientError) as exc:
        iam.create_open_id_connect_provider(Url="http://insecure.example.com", ThumbprintList=[THUMBPRINT])
    assert error_of(exc) == (400, "ValidationError", "Invalid Open ID Connect Provider URL")
    with pytest.raises(ClientError) as exc:
        unvalidated_client(server).create_open_id_connect_provider(
            Url="https://many.example.com", ThumbprintList=[f"{i:040x}" for i in range(6)]
        )
    assert error_of(exc) == (400, "InvalidInput", "Thumbprint list must contain fewer than 5 entries.")
    with pytest.raises(ClientError) as exc:
        iam.get_open_id_connect_provider(
            OpenIDConnectProviderArn=f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/nowhere.example.com"
        )
    assert error_of(exc)[:2] == (404, "NoSuchEntity")
    with pytest.raises(ClientError) as exc:
        iam.get_open_id_connect_provider(OpenIDConnectProviderArn="arn:aws:iam::123:user/not-a-provider")
    assert error_of(exc)[:2] == (400, "InvalidInput")


def test_saml_provider_lifecycle(iam: Any) -> None:
    created = iam.create_saml_provider(
        Name="Corporate", SAMLMetadataDocument=SAML_METADATA, Tags=[{"Key": "idp", "Value": "corp"}]
    )
    arn = created["SAMLProviderArn"]
    assert arn == f"arn:aws:iam::{ACCOUNT_ID}:saml-provider/Corporate"
    with pytest.raises(ClientError) as exc:
        iam.create_saml_provider(Name="Corporate", SAMLMetadataDocument=SAML_METADATA)
    assert error_of(exc)[:2] == (409, "EntityAlreadyExists")

    got = iam.get_saml_provider(SAMLProviderArn=arn)
    assert got["SAMLMetadataDocument"] == SAML_METADATA
    assert got["ValidUntil"] == dt.datetime(2049, 1, 1, tzinfo=dt.UTC)
    assert got["Tags"] == [{"Key": "idp", "Value": "corp"}]
    listed = iam.list_saml_providers()["SAMLProviderList"]
    assert [p["Arn"] for p in listed] == [arn]

    updated = SAML_METADATA.replace("2049-01-01", "2050-06-01")
    assert (
        iam.update_saml_provider(SAMLProviderArn=arn, SAMLMetadataDocument=updated)["SAMLProviderArn"] == arn
    )
    assert iam.get_saml_provider(SAMLProviderArn=arn)["ValidUntil"].year == 2050

    iam.tag_saml_provider(SAMLProviderArn=arn, Tags=[{"Key": "env", "Value": "prod"}])
    iam.untag_saml_provider(SAMLProviderArn=arn, TagKeys=["idp"])
    assert iam.list_saml_provider_tags(SAMLProviderArn=arn)["Tags"] == [{"Key": "env", "Value": "prod"}]

    iam.delete_saml_provider(SAMLProviderArn=arn)
    with pytest.raises(ClientError) as exc:
        iam.get_saml_provider(SAMLProviderArn=arn)
    assert error_of(exc)[:2] == (404, "NoSuchEntity")


@pytest.mark.parametrize(
    ("document", "why"),
    [
        ("<html>" + "x" * 1000 + "</html>", "EntityDescriptor"),
        ("<unclosed " + "x" * 1000, "parse"),
        (
            '<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol">]>'
            + SAML_METADATA.split("?>", 1)[1].replace("validUntil", "x-lol='&lol;' validUntil"),
            "DTD",
        ),
        (SAML_METADATA.replace("IDPSSODescriptor", "SPSSODescriptor"), "identity provider"),
    ],
)
def test_saml_metadata_must_be_idp_metadata(iam: Any, document: str, why: str) -> None:
    with pytest.raises(ClientError) as exc:
        iam.create_saml_provider(Name="Rejected", SAMLMetadataDocument=document)
    status, code, message = error_of(exc)
    assert (status, code) == (400, "InvalidInput")
    assert why in message


def make_certificate(common_name: str) -> tuple[str, str, dt.datetime]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    not_after = dt.datetime(2040, 1, 1, tzinfo=dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    body = certificate.public_bytes(serialization.Encoding.PEM).decode()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return body, private, not_after


def test_server_certificate_lifecycle(iam: Any) -> None:
    body, key, expires = make_certificate("www.example.com")
    uploaded = iam.upload_server_certificate(
        ServerCertificateName="www",
        Path="/cloudfront/",
        CertificateBody=body,
        PrivateKey=key,
        Tags=[{"Key": "site", "Value": "www"}],
    )
    meta = uploaded["ServerCertificateMetadata"]
    assert meta["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:server-certificate/cloudfront/www"
    assert meta["ServerCertificateId"].startswith("ASCA")
    assert meta["Expiration"] == expires
    with pytest.raises(ClientError) as exc:
        iam.upload_server_certificate(ServerCertificateName="www", CertificateBody=body, PrivateKey=key)
    assert error_of(exc)[:2] == (409, "EntityAlreadyExists")

    got = iam.get_server_certificate(ServerCertificateName="www")["ServerCertificate"]
    assert got["CertificateBody"] == body and "PrivateKey" not in got
    assert got["Tags"] == [{"Key": "site", "Value": "www"}]
    assert [
        c["ServerCertificateName"] for c in iam.list_server_certificates()["ServerCertificateMetadataList"]
    ] == ["www"]
    iam.update_server_certificate(
        ServerCertificateName="www", NewServerCertificateName="web", NewPath="/elb/"
    )
    assert (
        iam.get_server_certificate(ServerCertificateName="web")["ServerCertificate"][
            "ServerCertificateMetadata"
        ]["Path"]
        == "/elb/"
    )
    iam.tag_server_certificate(ServerCertificateName="web", Tags=[{"Key": "env", "Value": "prod"}])
    iam.untag_server_certificate(ServerCertificateName="web", TagKeys=["site"])
    assert iam.list_server_certificate_tags(ServerCertificateName="web")["Tags"] == [
        {"Key": "env", "Value": "prod"}
    ]
    iam.delete_server_certificate(ServerCertificateName="web")
    with pytest.raises(ClientError) as exc:
        iam.get_server_certificate(ServerCertificateName="web")
    assert error_of(exc)[:2] == (404, "NoSuchEntity")


def test_server_certificate_errors(iam: Any) -> None:
    body, _, _ = make_certificate("a.example.com")
    _, other_key, _ = make_certificate("b.example.com")
    with pytest.raises(ClientError) as exc:
        iam.upload_server_certificate(
            ServerCertificateName="mismatch", CertificateBody=body, PrivateKey=other_key
        )
    assert error_of(exc)[:2] == (400, "KeyPairMismatch")
    with pytest.raises(ClientError) as exc:
        iam.upload_server_certificate(
            ServerCertificateName="garbage",
            CertificateBody="-----BEGIN CERTIFICATE-----\nAAAA",
            PrivateKey=other_key,
        )
    assert error_of(exc)[:2] == (400, "MalformedCertificate")
