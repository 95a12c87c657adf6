"""Signature V4 verification, against requests signed by botocore itself."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta

import pytest

from iamd.wire import (
    ExpiredToken,
    HttpRequest,
    IncompleteSignature,
    InvalidClientTokenId,
    MissingAuthenticationToken,
    RequestExpired,
    SignatureDoesNotMatch,
    SigV4Verifier,
    VerifiedIdentity,
    check_scope,
    has_signature,
    parse_signature,
)
from iamd.wire.sigv4 import SigningKeyCache, derive_signing_key

from .helpers import ACCESS_KEY, FIXED_NOW, SECRET_KEY, aws_request, botocore_request, sign, to_http

AWS_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)


def lookup(key_id: str, token: str | None) -> str | None:
    return SECRET_KEY if key_id == ACCESS_KEY else None


def verify(request: HttpRequest, now: datetime = FIXED_NOW) -> VerifiedIdentity:
    return SigV4Verifier().verify(request, lookup, now=now)


def replace_header(request: HttpRequest, name: str, value: str) -> HttpRequest:
    headers = [(k, v) for k, v in request.headers.raw_items() if k != name.lower()] + [(name, value)]
    return HttpRequest.build(request.method, request.path, request.query_string, headers, request.body)


# --- round trips -----------------------------------------------------------------------------------


def test_header_signed_query_request_verifies() -> None:
    request = botocore_request("iam", "CreateUser", {"UserName": "bob", "Tags": [{"Key": "k", "Value": "v"}]})
    identity = SigV4Verifier().verify(request, lookup, now=FIXED_NOW)
    assert identity.access_key_id == ACCESS_KEY
    assert (identity.region, identity.service) == ("us-east-1", "iam")
    assert identity.signed_at == FIXED_NOW
    assert not identity.presigned
    assert identity.payload_signed
    assert identity.security_token is None


def test_header_signed_json_and_rest_json_requests_verify() -> None:
    verifier = SigV4Verifier()
    org = botocore_request("organizations", "DescribeOrganization")
    assert verifier.verify(org, lookup, now=FIXED_NOW).service == "organizations"
    analyzer = botocore_request("accessanalyzer", "ListAnalyzers", {"maxResults": 5, "type": "ACCOUNT"})
    assert verifier.verify(analyzer, lookup, now=FIXED_NOW).service == "access-analyzer"


def test_presigned_request_verifies() -> None:
    request = botocore_request("iam", "ListUsers", {"MaxItems": 5}, presign=True)
    assert "X-Amz-Signature=" in request.query_string
    identity = SigV4Verifier().verify(request, lookup, now=FIXED_NOW + timedelta(minutes=30))
    assert identity.presigned
    assert identity.service == "iam"


def test_session_token_is_passed_to_lookup_and_reported() -> None:
    seen: list[tuple[str, str | None]] = []

    def session_lookup(key_id: str, token: str | None) -> str | None:
        seen.append((key_id, token))
        return SECRET_KEY

    for presign in (False, True):
        request = botocore_request(
            "sts", "GetCallerIdentity", access_key="ASIAEXAMPLE", token="sealed-token/+=", presign=presign
        )
        identity = SigV4Verifier().verify(request, session_lookup, now=FIXED_NOW)
        assert identity.security_token == "sealed-token/+="
    assert seen == [("ASIAEXAMPLE", "sealed-token/+="), ("ASIAEXAMPLE", "sealed-token/+=")]


def test_aws_documented_example_iam_list_users_verifies() -> None:
    # The worked example of AWS's "Create a signed AWS API request" page.
    request = HttpRequest.build(
        "GET",
        "/",
        "Action=ListUsers&Version=2010-05-08",
        {
            "Host": "iam.amazonaws.com",
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "X-Amz-Date": "20150830T123600Z",
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date, "
            "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
        },
    )
    now = parse_signature(request).signed_at
    identity = SigV4Verifier().verify(
        request, lambda k, t: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", now=now
    )
    assert identity.access_key_id == "AKIDEXAMPLE"


def test_unicode_and_spaces_in_query_values_verify() -> None:
    arn = "arn:aws:access-analyzer:us-east-1:111122223333:analyzer/Zoë's analyzer+1 & co=ü"
    request = botocore_request("accessanalyzer", "ListAccessPreviews", {"analyzerArn": arn})
    assert "%20" in request.query_string
    assert verify(request)
    presigned = botocore_request("iam", "GetUser", {"UserName": "Zoë Smith+=,.@-"}, presign=True)
    assert verify(presigned)


def test_reserved_characters_in_path_labels_are_double_encoded() -> None:
    arn = "arn:aws:access-analyzer:us-east-1:111122223333:analyzer/a b~c"
    request = botocore_request("accessanalyzer", "ListTagsForResource", {"resourceArn": arn})
    assert "%3A" in request.path and "%2F" in request.path
    assert verify(request)


def test_empty_body_verifies() -> None:
    request = botocore_request("accessanalyzer", "GetAnalyzer", {"analyzerName": "a"})
    assert request.body == b""
    assert verify(request)


def test_date_header_may_replace_x_amz_date() -> None:
    request = aws_request("iam", "ListUsers", {})
    request.headers["Date"] = "placeholder"  # botocore then signs with an HTTP Date header
    sign(request, service="iam")
    http = to_http(request)
    assert "x-amz-date" not in http.headers
    assert verify(http)


def test_unsigned_payload_is_accepted_unless_disabled() -> None:
    request = aws_request("iam", "ListUsers", {})
    request.headers["X-Amz-Content-SHA256"] = "UNSIGNED-PAYLOAD"
    sign(request, service="iam")
    http = to_http(request)
    identity = SigV4Verifier().verify(http, lookup, now=FIXED_NOW)
    assert not identity.payload_signed
    with pytest.raises(SignatureDoesNotMatch):
        SigV4Verifier(allow_unsigned_payload=False).verify(http, lookup, now=FIXED_NOW)


def test_content_sha256_header_must_match_the_body() -> None:
    request = aws_request("iam", "ListUsers", {})
    request.headers["X-Amz-Content-SHA256"] = "0" * 64
    sign(request, service="iam")
    with pytest.raises(SignatureDoesNotMatch, match="x-amz-content-sha256"):
        verify(to_http(request))


# --- tampering -------------------------------------------------------------------------------------


def test_tampered_body_byte_does_not_match() -> None:
    request = botocore_request("iam", "CreateUser", {"UserName": "bob"})
    body = bytearray(request.body)
    body[-1] ^= 0x01
    tampered = dataclasses.replace(request, body=bytes(body))
    with pytest.raises(SignatureDoesNotMatch) as caught:
        verify(tampered)
    assert caught.value.message == AWS_SIGNATURE_MISMATCH
    assert caught.value.status == 403
    assert caught.value.debug is not None and "CanonicalRequest" in caught.value.debug


def test_tampered_signed_header_does_not_match() -> None:
    request = botocore_request("organizations", "DescribeOrganization")
    tampered = replace_header(request, "X-Amz-Target", "AWSOrganizationsV20161128.LeaveOrganization")
    with pytest.raises(SignatureDoesNotMatch):
        verify(tampered)


def test_unsigned_header_may_change() -> None:
    request = botocore_request("iam", "ListUsers")
    assert verify(replace_header(request, "User-Agent", "something else"))


def test_tampered_path_does_not_match() -> None:
    request = botocore_request("accessanalyzer", "GetAnalyzer", {"analyzerName": "alpha"})
    tampered = dataclasses.replace(request, path="/analyzer/alphb")
    with pytest.raises(SignatureDoesNotMatch):
        verify(tampered)


def test_tampered_presigned_query_does_not_match() -> None:
    request = botocore_request("iam", "GetUser", {"UserName": "alice"}, presign=True)
    tampered = dataclasses.replace(request, query_string=request.query_string.replace("alice", "admin"))
    with pytest.raises(SignatureDoesNotMatch):
        verify(tampered)


def test_wrong_secret_does_not_match() -> None:
    request = botocore_request("iam", "ListUsers", secret_key="not-the-secret")
    with pytest.raises(SignatureDoesNotMatch) as caught:
        verify(request)
    assert caught.value.code == "SignatureDoesNotMatch"
    assert caught.value.json_code == "InvalidSignatureException"


def test_unknown_access_key_is_invalid_client_token_id() -> None:
    request = botocore_request("iam", "ListUsers", access_key="AKIAUNKNOWNKEY000000")
    with pytest.raises(InvalidClientTokenId) as caught:
        verify(request)
    assert caught.value.message == "The security token included in the request is invalid."
    assert caught.value.status == 403


def test_lookup_may_raise_its_own_error() -> None:
    def expired(key_id: str, token: str | None) -> str | None:
        raise ExpiredToken()

    request = botocore_request("sts", "GetCallerIdentity", access_key="ASIAEXAMPLE", token="t")
    with pytest.raises(ExpiredToken, match="expired"):
        SigV4Verifier().verify(request, expired, now=FIXED_NOW)


# --- time ------------------------------------------------------------------------------------------


def test_request_older_than_fifteen_minutes_is_expired() -> None:
    request = botocore_request("iam", "ListUsers")
    with pytest.raises(SignatureDoesNotMatch) as caught:
        verify(request, now=FIXED_NOW + timedelta(minutes=35))
    assert caught.value.message == (
        "Signature expired: 20261128T120000Z is now earlier than 20261128T122000Z "
        "(20261128T123500Z - 15 min.)"
    )


def test_request_from_the_future_is_not_yet_current() -> None:
    request = botocore_request("iam", "ListUsers")
    with pytest.raises(SignatureDoesNotMatch) as caught:
        verify(request, now=FIXED_NOW - timedelta(minutes=20))
    assert caught.value.message == (
        "Signature not yet current: 20261128T120000Z is still later than 20261128T115500Z "
        "(20261128T114000Z + 15 min.)"
    )


def test_skew_within_fifteen_minutes_is_accepted() -> None:
    request = botocore_request("iam", "ListUsers")
    assert verify(request, now=FIXED_NOW + timedelta(minutes=14, seconds=59))
    assert verify(request, now=FIXED_NOW - timedelta(minutes=14, seconds=59))


def test_presigned_request_lives_until_x_amz_expires() -> None:
    request = botocore_request("iam", "ListUsers", presign=True, expires=3600)
    assert verify(request, now=FIXED_NOW + timedelta(seconds=3600))
    with pytest.raises(RequestExpired) as caught:
        verify(request, now=FIXED_NOW + timedelta(seconds=3601))
    assert caught.value.status == 400


@pytest.mark.parametrize("expires", ["0", "604801", "soon", "%EF%BC%93%EF%BC%96%EF%BC%90%EF%BC%90", "%D9%A3"])
def test_presigned_expires_must_be_between_one_second_and_a_week(expires: str) -> None:
    request = botocore_request("iam", "ListUsers", presign=True)
    broken = dataclasses.replace(
        request, query_string=request.query_string.replace("X-Amz-Expires=3600", f"X-Amz-Expires={expires}")
    )
    with pytest.raises(IncompleteSignature, match="X-Amz-Expires"):
        verify(broken)


def test_credential_scope_date_must_match_the_request_date() -> None:
    request = botocore_request("iam", "ListUsers")
    forged = replace_header(request, "X-Amz-Date", "20261129T120000Z")
    with pytest.raises(SignatureDoesNotMatch, match="Date in Credential scope does not match"):
        verify(forged, now=FIXED_NOW + timedelta(days=1))


def test_credential_scope_must_end_in_aws4_request() -> None:
    request = botocore_request("iam", "ListUsers")
    header = request.headers["authorization"].replace("/aws4_request", "/aws5_request")
    with pytest.raises(SignatureDoesNotMatch, match="valid terminator: 'aws4_request', not 'aws5_request'"):
        verify(replace_header(request, "Authorization", header))


# --- malformed or missing ----------------------------------------------------------------------------


def test_no_authentication_at_all() -> None:
    request = botocore_request("iam", "ListUsers", signed=False)
    assert not has_signature(request)
    with pytest.raises(MissingAuthenticationToken) as caught:
        verify(request)
    assert caught.value.status == 403
    assert caught.value.message == "Request is missing Authentication Token"


def test_authorization_header_missing_parts_is_incomplete_signature() -> None:
    request = HttpRequest.build(
        "POST", "/", "", {"Host": "iam.amazonaws.com", "Authorization": "AWS4-HMAC-SHA256 "}
    )
    with pytest.raises(IncompleteSignature) as caught:
        parse_signature(request)
    assert caught.value.status == 400
    assert caught.value.message == (
        "Authorization header requires 'Credential' parameter. "
        "Authorization header requires 'Signature' parameter. "
        "Authorization header requires 'SignedHeaders' parameter. "
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        "Authorization=AWS4-HMAC-SHA256 "
    )


def test_presigned_query_missing_parts_is_incomplete_signature() -> None:
    request = HttpRequest.build(
        "GET", "/", "Action=ListUsers&X-Amz-Algorithm=AWS4-HMAC-SHA256", {"Host": "h"}
    )
    with pytest.raises(
        IncompleteSignature, match="AWS query-string parameters must include 'X-Amz-Credential'"
    ):
        parse_signature(request)


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        ("AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=", "Unsupported AWS 'algorithm'"),
        (
            "AWS4-HMAC-SHA256 Credential=AKID/20261128/us-east-1, SignedHeaders=host;x-amz-date, "
            "Signature=ab",
            "Credential should be of the form",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKID/20261128/us-east-1/iam/aws4_request, SignedHeaders=x-amz-date, "
            "Signature=ab",
            "'Host' or ':authority' must be a 'SignedHeader'",
        ),
    ],
)
def test_malformed_authorization_is_incomplete_signature(header: str, fragment: str) -> None:
    request = HttpRequest.build(
        "POST", "/", "", {"Host": "h", "X-Amz-Date": "20261128T120000Z", "Authorization": header}
    )
    with pytest.raises(IncompleteSignature, match=fragment):
        parse_signature(request)


def test_malformed_x_amz_date_is_incomplete_signature() -> None:
    request = replace_header(botocore_request("iam", "ListUsers"), "X-Amz-Date", "2026-11-28T12:00:00Z")
    with pytest.raises(IncompleteSignature, match="ISO-8601 'basic format'"):
        parse_signature(request)


def test_x_amz_date_with_full_width_digits_is_incomplete_signature() -> None:
    """strptime reads any Unicode digit; AWS's ISO 8601 basic format is ASCII."""
    request = replace_header(
        botocore_request("iam", "ListUsers"), "X-Amz-Date", "２０２６１１２８Ｔ１２００００Ｚ"
    )
    with pytest.raises(IncompleteSignature, match="ISO-8601 'basic format'"):
        parse_signature(request)


@pytest.mark.parametrize(
    "name", ["Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256"]
)
def test_a_signing_header_sent_twice_is_incomplete_signature(name: str) -> None:
    """Which of two Authorization headers counts would be the server's guess: refused."""
    request = botocore_request("iam", "ListUsers", token="token")
    value = request.headers.get(name) or "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    doubled = HttpRequest.build(
        request.method,
        request.path,
        request.query_string,
        [*request.headers.raw_items(), *[(name, value)] * (1 if name in request.headers else 2)],
        request.body,
    )
    with pytest.raises(IncompleteSignature, match="more than once"):
        parse_signature(doubled)


def test_a_presign_parameter_sent_twice_is_incomplete_signature() -> None:
    request = botocore_request("iam", "ListUsers", presign=True)
    doubled = dataclasses.replace(
        request, query_string=request.query_string + "&X-Amz-Credential=AKIAOTHER%2Fx"
    )
    with pytest.raises(IncompleteSignature, match="X-Amz-Credential more than once"):
        parse_signature(doubled)


def test_header_and_query_signatures_together_are_rejected() -> None:
    request = botocore_request("iam", "ListUsers", presign=True)
    both = replace_header(request, "Authorization", "AWS4-HMAC-SHA256 Credential=x")
    with pytest.raises(IncompleteSignature, match="Only one auth mechanism"):
        parse_signature(both)


# --- scope and keys ------------------------------------------------------------------------------------


def test_credential_scope_is_available_before_verification() -> None:
    request = botocore_request("accessanalyzer", "ListAnalyzers", region="eu-west-1")
    signed = parse_signature(request)
    assert signed.scope.access_key_id == ACCESS_KEY
    assert signed.scope.date == "20261128"
    assert (signed.scope.region, signed.scope.service) == ("eu-west-1", "access-analyzer")
    assert signed.signed_headers == ("host", "x-amz-date")
    identity = SigV4Verifier().verify(request, lookup, now=FIXED_NOW, signed=signed)
    assert identity.region == "eu-west-1"


def test_check_scope_names_the_expected_service_and_region() -> None:
    signed = parse_signature(botocore_request("sts", "GetCallerIdentity"))
    check_scope(signed, service="sts", regions=frozenset({"us-east-1"}))
    with pytest.raises(
        SignatureDoesNotMatch, match=re.escape("Credential should be scoped to correct service: 'iam'. ")
    ):
        check_scope(signed, service="iam")
    with pytest.raises(SignatureDoesNotMatch, match="valid region, not 'us-east-1'"):
        check_scope(signed, service="sts", regions=frozenset({"eu-west-1"}))


def test_signing_key_cache_reuses_keys_and_stays_bounded() -> None:
    cache = SigningKeyCache(max_entries=3)
    first = cache.get("secret", "20261128", "us-east-1", "iam")
    assert first == derive_signing_key("secret", "20261128", "us-east-1", "iam")
    assert cache.get("secret", "20261128", "us-east-1", "iam") is first
    for i in range(10):
        cache.get(f"secret{i}", "20261128", "us-east-1", "iam")
    assert len(cache) == 3


def test_verifier_reuses_the_signing_key_across_requests() -> None:
    verifier = SigV4Verifier()
    for name in ("a", "b", "c"):
        verifier.verify(botocore_request("iam", "GetUser", {"UserName": name}), lookup, now=FIXED_NOW)
    assert len(verifier.keys) == 1
