"""The wire half of a server's request pipeline, end to end, for each protocol: route, verify,
decode, answer; a botocore client reads the answer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from botocore.parsers import create_parser

from iamd.wire import (
    AwsError,
    HttpRequest,
    HttpResponse,
    NoSuchEntity,
    SigV4Verifier,
    check_scope,
    has_signature,
    parse_signature,
    protocol_for,
    requires_auth,
)

from .helpers import ACCESS_KEY, CATALOG, FIXED_NOW, SECRET_KEY, botocore_request

Handler = Callable[[Mapping[str, Any]], Mapping[str, Any] | None]


def serve(request: HttpRequest, handlers: Mapping[str, Handler]) -> HttpResponse:
    """What ``iamd.server`` does with the wire layer, minus authorization and storage."""
    signed, auth_error = None, None
    if has_signature(request):
        try:
            signed = parse_signature(request)  # the scope, before any verification
        except AwsError as error:
            auth_error = error  # still answered in the protocol of the service asked for
    ref = CATALOG.resolve(request, signing_service=signed.scope.service if signed else None)
    protocol = protocol_for(ref.service_model)
    try:
        if auth_error is not None:
            raise auth_error
        if signed is not None:
            check_scope(signed, service=ref.service_model.signing_name)
            SigV4Verifier().verify(
                request, lambda k, t: SECRET_KEY if k == ACCESS_KEY else None, now=FIXED_NOW, signed=signed
            )
        elif requires_auth(ref.operation_model):
            parse_signature(request)  # raises MissingAuthenticationToken
        params = protocol.decode_request(ref, request)
        output = handlers[ref.name](params)
        return protocol.encode_response(ref.operation_model, output, "req-42")
    except AwsError as error:
        return protocol.encode_error(ref.service_model, error, "req-42")


def client_view(service: str, operation: str, response: HttpResponse) -> dict[str, Any]:
    model = CATALOG.operation(service, operation)
    parser = create_parser(model.metadata["protocol"])
    headers = {k.lower(): v for k, v in response.headers}
    parsed: dict[str, Any] = parser.parse(
        {"status_code": response.status, "headers": headers, "body": response.body}, model.output_shape
    )
    return parsed


def get_user(params: Mapping[str, Any]) -> Mapping[str, Any]:
    if params["UserName"] != "bob":
        raise NoSuchEntity(f"The user with name {params['UserName']} cannot be found.")
    return {
        "User": {
            "Path": "/",
            "UserName": "bob",
            "UserId": "AIDA1",
            "Arn": "arn:aws:iam::1:user/bob",
            "CreateDate": FIXED_NOW,
        }
    }


def test_iam_call_succeeds() -> None:
    response = serve(botocore_request("iam", "GetUser", {"UserName": "bob"}), {"GetUser": get_user})
    assert client_view("iam", "GetUser", response)["User"]["UserName"] == "bob"


def test_iam_handler_error_reaches_the_client() -> None:
    response = serve(botocore_request("iam", "GetUser", {"UserName": "eve"}), {"GetUser": get_user})
    error = client_view("iam", "GetUser", response)["Error"]
    assert (response.status, error["Code"]) == (404, "NoSuchEntity")


@pytest.mark.parametrize(
    ("options", "status", "code"),
    [
        ({"secret_key": "wrong"}, 403, "SignatureDoesNotMatch"),
        ({"access_key": "AKIAUNKNOWN000000000"}, 403, "InvalidClientTokenId"),
        ({"signed": False}, 403, "MissingAuthenticationToken"),
    ],
)
def test_authentication_failures_are_answered_in_the_services_protocol(
    options: dict[str, Any], status: int, code: str
) -> None:
    for service, operation, params in (
        ("iam", "GetUser", {"UserName": "bob"}),
        ("organizations", "DescribeOrganization", {}),
        ("accessanalyzer", "ListAnalyzers", {}),
    ):
        response = serve(botocore_request(service, operation, params, **options), {})
        error = client_view(service, operation, response)["Error"]
        expected = code
        if service != "iam":
            expected = {
                "SignatureDoesNotMatch": "InvalidSignatureException",
                "InvalidClientTokenId": "UnrecognizedClientException",
                "MissingAuthenticationToken": "MissingAuthenticationTokenException",
            }[code]
        assert (response.status, error["Code"]) == (status, expected), service


def test_malformed_signature_is_answered_by_the_routed_service() -> None:
    request = botocore_request("organizations", "DescribeOrganization")
    broken = HttpRequest.build(
        request.method,
        request.path,
        request.query_string,
        [
            (k, "AWS4-HMAC-SHA256 Credential=x") if k == "authorization" else (k, v)
            for k, v in request.headers.raw_items()
        ],
        request.body,
    )
    response = serve(broken, {})
    error = client_view("organizations", "DescribeOrganization", response)["Error"]
    assert (response.status, error["Code"]) == (400, "IncompleteSignatureException")


def test_unsigned_sts_web_identity_call_is_served() -> None:
    request = botocore_request(
        "sts",
        "AssumeRoleWithWebIdentity",
        {
            "RoleArn": "arn:aws:iam::111122223333:role/r",
            "RoleSessionName": "app",
            "WebIdentityToken": "header.payload.signature",
        },
        signed=False,
    )
    handlers: dict[str, Handler] = {
        "AssumeRoleWithWebIdentity": lambda p: {"SubjectFromWebIdentityToken": "sub"}
    }
    response = serve(request, handlers)
    assert client_view("sts", "AssumeRoleWithWebIdentity", response)["SubjectFromWebIdentityToken"] == "sub"


def test_rest_json_call_with_validation_error() -> None:
    request = botocore_request(
        "accessanalyzer", "ValidatePolicy", {"policyDocument": "{}", "policyType": "BAD"}
    )
    response = serve(request, {})
    error = client_view("accessanalyzer", "ValidatePolicy", response)["Error"]
    assert (response.status, error["Code"]) == (400, "ValidationException")
    assert error["Message"].startswith("1 validation error detected: Value 'BAD' at 'policyType'")
