"""The pipeline's authentication seam: which scheme a request's credentials choose (nothing
verified yet), what each scheme lets routing know, and that a malformed signature is answered as
the error of the scheme it claims, after routing."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

import pytest

from iamd.secrets.kek import Kek
from iamd.server.authenticators import (
    AccessKey,
    Authenticators,
    BearerToken,
    Credentials,
    SessionToken,
    Unsigned,
    X509Signature,
)
from iamd.store import Store
from iamd.store.store import open_store
from iamd.wire import HttpRequest, SigV4Verifier

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SCOPE = (
    "Credential={key}/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=ab"
)


@pytest.fixture
def schemes(tmp_path: Path) -> Authenticators:
    store: Store = open_store(f"sqlite:///{tmp_path / 'iamd.db'}", kek=Kek.generate())
    return Authenticators(store, SigV4Verifier())


def _request(headers: dict[str, str], path: str = "/") -> HttpRequest:
    return HttpRequest.build(
        "POST", path, "", {"host": "localhost", "x-amz-date": "20260101T000000Z", **headers}
    )


def test_each_kind_of_credentials_chooses_its_scheme(schemes: Authenticators) -> None:
    key = schemes.credentials(
        _request({"authorization": "AWS4-HMAC-SHA256 " + SCOPE.format(key="AKIAEXAMPLE", service="iam")})
    )
    assert isinstance(key.scheme, AccessKey) and key.signing_service == "iam" and key.region == "us-east-1"
    session = schemes.credentials(
        _request(
            {
                "authorization": "AWS4-HMAC-SHA256 " + SCOPE.format(key="ASIAEXAMPLE", service="sts"),
                "x-amz-security-token": "sealed",
            }
        )
    )
    assert isinstance(session.scheme, SessionToken) and session.signing_service == "sts"
    bearer = schemes.credentials(_request({"x-amz-sso_bearer_token": "aoa-token"}, "/assignment/accounts"))
    assert isinstance(bearer.scheme, BearerToken) and bearer.signing_service is None
    unsigned = schemes.credentials(_request({}, "/token"))
    assert isinstance(unsigned.scheme, Unsigned) and unsigned.error is None and unsigned.region is None


def test_an_x509_signature_routes_to_create_session_and_names_no_signing_service(
    schemes: Authenticators,
) -> None:
    header = "AWS4-X509-RSA-SHA256 " + SCOPE.format(key="1234", service="rolesanywhere").replace(
        "host;x-amz-date", "content-type;host;x-amz-date;x-amz-x509"
    )
    request = _request({"authorization": header, "x-amz-x509": "MIIB"}, "/sessions")
    credentials = schemes.credentials(request)
    assert isinstance(credentials.scheme, X509Signature)
    assert credentials.signing_service is None and credentials.sigv4 is None  # (no access key to claim)
    assert credentials.region == "us-east-1"
    routed = credentials.scheme.route(request)
    assert routed is not None and routed.name == "CreateSession"


def test_a_malformed_signature_is_kept_for_after_routing(schemes: Authenticators) -> None:
    credentials = schemes.credentials(_request({"authorization": "AWS4-HMAC-SHA256 Credential=broken"}))
    assert isinstance(credentials.scheme, AccessKey) and credentials.signed is None
    assert credentials.error is not None and credentials.error.code == "IncompleteSignature"
    assert (
        schemes.known_signer(_request({"authorization": "AWS4-HMAC-SHA256 Credential=broken"}), NOW) is None
    )


def test_access_key_credentials_keep_every_part_of_what_was_parsed(schemes: Authenticators) -> None:
    # SessionToken.present hands a non-session signature to the access-key scheme by making new
    # Credentials field by field: every field must be carried over (a new one would be lost).
    assert [f.name for f in fields(Credentials)] == ["scheme", "signed", "error", "region"]
    parsed = schemes.credentials(
        _request({"authorization": "AWS4-HMAC-SHA256 " + SCOPE.format(key="AKIAEXAMPLE", service="iam")})
    )
    assert parsed.signed is not None and parsed.error is None
    malformed = schemes.credentials(_request({"authorization": "AWS4-HMAC-SHA256 Credential=broken"}))
    assert (
        isinstance(malformed.scheme, AccessKey) and malformed.error is not None and malformed.signed is None
    )
