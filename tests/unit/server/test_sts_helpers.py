"""The small pieces of STS: TOTP, authorization messages, issuer names, SAML metadata, tags."""

from __future__ import annotations

import pytest

from iamd.authz import Decision, Layer, LayerResult, Outcome, Reason, StatementRef
from iamd.secrets import Kek
from iamd.services.sts.common import InvalidParameterValue, session_tags
from iamd.services.sts.messages import (
    InvalidAuthorizationMessage,
    decode_authorization_message,
    encode_authorization_message,
)
from iamd.services.sts.mfa import totp
from iamd.services.sts.saml import read_metadata
from iamd.services.sts.web_identity import url_key


def test_totp_matches_rfc_6238() -> None:
    seed = b"12345678901234567890"
    assert totp(seed, 59 // 30, digits=8) == "94287082"
    assert totp(seed, 1111111109 // 30, digits=8) == "07081804"
    assert totp(seed, 1234567890 // 30) == "005924"


def test_authorization_messages_round_trip_and_are_sealed() -> None:
    kek = Kek.generate()
    deny = StatementRef("inline", 0, "NoS3", "Deny")
    decision = Decision(
        "ExplicitlyDenied",
        Reason.EXPLICIT_DENY,
        Layer.IDENTITY,
        (LayerResult(Layer.IDENTITY, Outcome.DENY, (), (deny,)),),
        "Explicitly denied",
    )
    encoded = encode_authorization_message(
        kek,
        account="111122223333",
        principal_arn="arn:aws:iam::111122223333:user/alice",
        principal_id="AIDAAAAAAAAAAAAAAAAAA",
        action="s3:GetObject",
        resource="arn:aws:s3:::b/k",
        decision=decision,
        context={"aws:sourceip": "10.0.0.1", "aws:tagkeys": ("a", "b")},
    )
    assert "alice" not in encoded
    account, message = decode_authorization_message(kek, encoded)
    assert account == "111122223333"
    assert message["allowed"] is False and message["explicitDeny"] is True
    assert message["matchedStatements"]["items"][0]["statementId"] == "NoS3"
    assert message["context"]["principal"] == {
        "id": "AIDAAAAAAAAAAAAAAAAAA",
        "arn": "arn:aws:iam::111122223333:user/alice",
    }
    assert {"key": "aws:tagkeys", "values": {"items": [{"value": "a"}, {"value": "b"}]}} in message[
        "context"
    ]["conditions"]["items"]
    with pytest.raises(InvalidAuthorizationMessage):
        decode_authorization_message(Kek.generate(), encoded)
    with pytest.raises(InvalidAuthorizationMessage):
        decode_authorization_message(kek, "garbage")


def test_issuer_names() -> None:
    assert url_key("https://Accounts.Example.COM/realm/") == "accounts.example.com/realm"
    assert url_key("https://127.0.0.1:8443") == "127.0.0.1:8443"


def test_saml_metadata_signing_certificates() -> None:
    document = (
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp">'
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        '<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
        "<ds:X509Data><ds:X509Certificate>QUJD\nREVG</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
        "</md:KeyDescriptor>"
        '<md:KeyDescriptor use="encryption"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
        "<ds:X509Data><ds:X509Certificate>WFla</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
        "</md:KeyDescriptor>"
        "</md:IDPSSODescriptor></md:EntityDescriptor>"
    )
    found = read_metadata(document)
    assert found.entity_id == "https://idp"
    assert found.certificates == ("-----BEGIN CERTIFICATE-----\nQUJDREVG\n-----END CERTIFICATE-----\n",)


def test_session_tags_rules() -> None:
    tags, transitive = session_tags(
        [{"Key": "Team", "Value": "blue"}, {"Key": "cost", "Value": "1"}], ["team"], {"project": "x"}
    )
    assert tags == {"project": "x", "Team": "blue", "cost": "1"}
    assert transitive == ("project", "team")
    with pytest.raises(InvalidParameterValue):
        session_tags([{"Key": "Project", "Value": "y"}], None, {"project": "x"})  # overrides an inherited tag
    with pytest.raises(InvalidParameterValue):
        session_tags([{"Key": "a", "Value": "1"}], ["b"], {})  # transitive key of no tag
    with pytest.raises(InvalidParameterValue):
        session_tags([{"Key": "aws:x", "Value": "1"}], None, {})
