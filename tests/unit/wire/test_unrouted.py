"""Errors for requests that reach no served operation, read back with botocore's own parsers (the
code a client sees must be the one iamd meant). Envelopes: the Smithy AWS protocols,
https://smithy.io/2.0/aws/protocols/ (awsQuery, awsJson1_0/1_1, restJson1, restXml, ec2Query)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.awsrequest import HeadersDict
from botocore.parsers import create_parser

from iamd.wire import HttpRequest, InvalidAction, load_service_model
from iamd.wire.models import NotServed
from iamd.wire.unrouted import encode_unrouted_error

IAM = load_service_model("iam")


def parsed(protocol: str, response: Any) -> dict[str, Any]:
    """What botocore's parser for ``protocol`` reads from the response (status >= 400: the error)."""
    answer: dict[str, Any] = create_parser(protocol).parse(
        {
            "status_code": response.status,
            "headers": HeadersDict(list(response.headers)),
            "body": response.body,
        },
        None,
    )
    return answer


def request(headers: dict[str, str] | None = None, body: bytes = b"") -> HttpRequest:
    return HttpRequest.build("POST", "/", "", {"Host": "h", **(headers or {})}, body)


@pytest.mark.parametrize(
    ("service", "protocol", "code"),
    [
        ("dynamodb", "json", "UnsupportedOperationException"),
        ("lambda", "rest-json", "UnsupportedOperationException"),
        ("s3", "rest-xml", "UnsupportedOperation"),
        ("ec2", "ec2", "UnsupportedOperation"),
        ("sns", "query", "UnsupportedOperation"),
        ("cloudwatchomni", "smithy-rpc-v2-cbor", "UnsupportedOperationException"),  # CBOR only
        ("codebuild", "json", "UnsupportedOperationException"),  # CBOR or JSON: botocore takes JSON
    ],
)
def test_a_service_botocore_knows_is_answered_in_its_protocol(service: str, protocol: str, code: str) -> None:
    error = NotServed(service, ["iam", "sts"], load_service_model(service))
    answer = parsed(protocol, encode_unrouted_error(error, request(), "req-1", IAM))
    assert answer["Error"]["Code"] == code
    assert answer["Error"]["Message"].startswith("iamd does not serve ")
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize(
    ("headers", "body", "protocol", "code"),
    [
        ({"X-Amz-Target": "Foo_2020.ListThings"}, b"{}", "json", "UnsupportedOperationException"),
        ({}, b"", "rest-json", "UnsupportedOperationException"),
        (
            {"Content-Type": "application/x-www-form-urlencoded"},
            b"Action=ListThings",
            "query",
            "UnsupportedOperation",
        ),
    ],
)
def test_a_service_botocore_does_not_know_is_answered_by_the_requests_shape(
    headers: dict[str, str], body: bytes, protocol: str, code: str
) -> None:
    error = NotServed("foo", ["iam"], None)
    answer = parsed(protocol, encode_unrouted_error(error, request(headers, body), "req-2", IAM))
    assert answer["Error"]["Code"] == code
    assert "iamd does not serve service 'foo'" in answer["Error"]["Message"]


def test_an_unknown_target_is_answered_in_json_and_anything_else_as_iam() -> None:
    error = InvalidAction("Unknown operation Foo.Bar", json_code="UnknownOperationException")
    target = request({"X-Amz-Target": "Foo.Bar"}, b"{}")
    assert parsed("json", encode_unrouted_error(error, target, "r", IAM))["Error"]["Code"] == (
        "UnknownOperationException"
    )
    plain = encode_unrouted_error(InvalidAction("x"), request(), "r", IAM)
    assert b'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">' in plain.body
    assert parsed("query", plain)["Error"]["Code"] == "InvalidAction"
