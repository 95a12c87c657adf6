"""Fuzzing the wire decoders and error encoders of every protocol (issue 10): query (IAM, STS),
JSON (CloudTrail, Organizations) and REST-JSON (Roles Anywhere, Access Analyzer).

Whatever arrives, a decoder either returns the operation's input, every text in it valid Unicode
(text is checked once, where it enters), or raises an :class:`AwsError` of the caller's fault
(HTTP 4xx) — never anything else. Whatever an error's message holds (lone surrogates, NUL), its
encoding is valid UTF-8 in the protocol's envelope, which botocore's own parser reads."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.unit.fuzzing import (
    FUZZ,
    SEED_BODIES,
    SEED_TEXTS,
    escaped_json,
    json_values,
    nasty_text,
    wrong_types,
)

from iamd.wire import AwsError, HttpRequest, OperationRef, modeled_error, protocol_for
from iamd.wire.jsontext import find_surrogate

from .helpers import CATALOG, botocore_request, parse

JSON_TARGETS = {
    "cloudtrail": ("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents", "LookupEvents"),
    "organizations": ("AWSOrganizationsV20161128.CreateAccount", "CreateAccount"),
}
REST_TARGETS = [
    ("rolesanywhere", "POST", "/trustanchors", "CreateTrustAnchor"),
    ("rolesanywhere", "POST", "/profiles", "CreateProfile"),
    ("accessanalyzer", "POST", "/policy/validation", "ValidatePolicy"),
]
QUERY_TARGETS = [
    ("iam", "PutUserPolicy", ["UserName", "PolicyName", "PolicyDocument"]),
    ("iam", "TagUser", ["UserName", "Tags.member.1.Key", "Tags.member.1.Value"]),
    ("sts", "AssumeRole", ["RoleArn", "RoleSessionName", "DurationSeconds", "Policy"]),
]


def all_texts(value: Any) -> list[str]:
    """Every string in a decoded input (keys included), bytes aside."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            found.extend(k for k in item if isinstance(k, str))
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return found


def decoded_or_client_error(ref: OperationRef, request: HttpRequest) -> dict[str, Any] | AwsError:
    protocol = protocol_for(ref.service_model)
    try:
        params = protocol.decode_request(ref, request)
    except AwsError as error:
        assert 400 <= error.status < 500, repr(error)
        assert find_surrogate(error.message) is None, repr(error)
        encoded = protocol.encode_error(ref.service_model, error, "req-1")
        encoded.body.decode("utf-8")
        return error
    for text in all_texts(params):
        assert find_surrogate(text) is None, f"{ref.name}: decoded text is not Unicode: {text!r}"
    return params


# -- JSON -----------------------------------------------------------------------------------------


def json_request(service: str, body: bytes) -> tuple[OperationRef, HttpRequest]:
    target, operation = JSON_TARGETS[service]
    request = HttpRequest.build(
        "POST",
        "/",
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target},
        body=body,
    )
    ref = CATALOG.resolve(request, signing_service=CATALOG.service(service).signing_name)
    assert ref.name == operation
    return ref, request


@pytest.mark.parametrize("service", sorted(JSON_TARGETS))
@pytest.mark.parametrize("body", SEED_BODIES + wrong_types(["MaxResults", "LookupAttributes", "Tags"]))
def test_json_seed_bodies_decode_or_are_refused(service: str, body: bytes) -> None:
    decoded_or_client_error(*json_request(service, body))


@pytest.mark.parametrize("body", [b'{"\\ud800": 1}', b'{"NextToken": "\\udc00"}', b"[" * 1000 + b"]" * 1000])
def test_json_surrogates_and_deep_nesting_are_serialization_exceptions(body: bytes) -> None:
    """AWS's JSON services answer a body they cannot read with 400 SerializationException."""
    result = decoded_or_client_error(*json_request("cloudtrail", body))
    assert isinstance(result, AwsError)
    assert (result.status, result.wire_json_code) == (400, "SerializationException")


@FUZZ
@given(service=st.sampled_from(sorted(JSON_TARGETS)), value=json_values())
def test_fuzz_json_bodies(service: str, value: Any) -> None:
    decoded_or_client_error(*json_request(service, escaped_json(value)))


@FUZZ
@given(service=st.sampled_from(sorted(JSON_TARGETS)), body=st.binary(max_size=64))
def test_fuzz_json_raw_bytes(service: str, body: bytes) -> None:
    decoded_or_client_error(*json_request(service, body))


# -- REST-JSON ------------------------------------------------------------------------------------


def rest_request(
    index: int, body: bytes, query: str = "", headers: dict[str, str] | None = None
) -> tuple[OperationRef, HttpRequest]:
    service, method, path, operation = REST_TARGETS[index]
    request = HttpRequest.build(
        method, path, query, {"Content-Type": "application/json", **(headers or {})}, body
    )
    ref = CATALOG.resolve(request, signing_service=CATALOG.service(service).signing_name)
    assert ref.name == operation
    return ref, request


@pytest.mark.parametrize("index", range(len(REST_TARGETS)))
@pytest.mark.parametrize("body", SEED_BODIES + wrong_types(["name", "source", "roleArns", "policyDocument"]))
def test_rest_json_seed_bodies_decode_or_are_refused(index: int, body: bytes) -> None:
    decoded_or_client_error(*rest_request(index, body))


@FUZZ
@given(index=st.integers(0, len(REST_TARGETS) - 1), value=json_values(), query=nasty_text)
def test_fuzz_rest_json_bodies_and_query(index: int, value: Any, query: str) -> None:
    encoded = "locale=" + quote(query.encode("utf-8", "surrogatepass"), safe="")
    decoded_or_client_error(*rest_request(index, escaped_json(value), encoded))


@FUZZ
@given(value=st.sampled_from(SEED_TEXTS) | nasty_text)
def test_fuzz_rest_json_path_labels(value: str) -> None:
    """A URI label: percent-encoded bytes of any text (surrogates as their CESU-8 bytes)."""
    label = quote(value.encode("utf-8", "surrogatepass"), safe="")
    request = HttpRequest.build("GET", f"/trustanchor/{label}", headers={"Content-Type": "application/json"})
    try:
        ref = CATALOG.resolve(request, signing_service="rolesanywhere")
    except AwsError as error:  # no label at all: no such route
        assert error.status == 404 and value == ""
        return
    decoded_or_client_error(ref, request)


# -- query ----------------------------------------------------------------------------------------


def query_request(service: str, operation: str, params: dict[str, str]) -> tuple[OperationRef, HttpRequest]:
    version = CATALOG.service(service).api_version
    pairs = {"Action": operation, "Version": version, **params}
    body = "&".join(
        f"{quote(k.encode('utf-8', 'surrogatepass'))}={quote(v.encode('utf-8', 'surrogatepass'))}"
        for k, v in pairs.items()
    ).encode("ascii")
    request = HttpRequest.build(
        "POST", "/", headers={"Content-Type": "application/x-www-form-urlencoded"}, body=body
    )
    ref = CATALOG.resolve(request, signing_service=CATALOG.service(service).signing_name)
    assert ref.name == operation
    return ref, request


@pytest.mark.parametrize(("service", "operation", "members"), QUERY_TARGETS)
@pytest.mark.parametrize("text", SEED_TEXTS)
def test_query_seed_values_decode_or_are_refused(
    service: str, operation: str, members: list[str], text: str
) -> None:
    decoded_or_client_error(*query_request(service, operation, dict.fromkeys(members, text)))


@FUZZ
@given(target=st.sampled_from(QUERY_TARGETS), values=st.lists(nasty_text, min_size=3, max_size=3))
def test_fuzz_query_parameters(target: tuple[str, str, list[str]], values: list[str]) -> None:
    service, operation, members = target
    decoded_or_client_error(*query_request(service, operation, dict(zip(members, values, strict=False))))


@FUZZ
@given(body=st.binary(max_size=64))
def test_fuzz_query_raw_bodies(body: bytes) -> None:
    request = HttpRequest.build(
        "POST",
        "/",
        "Action=GetUser&Version=2010-05-08",
        {"Content-Type": "application/x-www-form-urlencoded"},
        b"UserName=" + body,
    )
    decoded_or_client_error(CATALOG.resolve(request, signing_service="iam"), request)


# -- error encoders -------------------------------------------------------------------------------


ERROR_CASES = [
    ("iam", "GetUser", "query"),
    ("sts", "GetCallerIdentity", "query"),
    ("cloudtrail", "LookupEvents", "json"),
    ("organizations", "DescribeOrganization", "json"),
    ("rolesanywhere", "ListTrustAnchors", "rest-json"),
    ("accessanalyzer", "ListAnalyzers", "rest-json"),
]


def check_error_envelope(service: str, operation: str, protocol: str, error: AwsError) -> None:
    model = CATALOG.operation(service, operation)
    response = protocol_for(model.service_model).encode_error(model.service_model, error, "req-1")
    response.body.decode("utf-8")  # valid UTF-8, whatever the message held
    parsed = parse(protocol, model, response)
    assert parsed["Error"]["Code"], parsed
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == error.status
    if protocol != "query":
        json.loads(response.body)


@pytest.mark.parametrize(("service", "operation", "protocol"), ERROR_CASES)
@pytest.mark.parametrize("message", SEED_TEXTS)
def test_errors_with_any_message_stay_in_the_envelope(
    service: str, operation: str, protocol: str, message: str
) -> None:
    check_error_envelope(service, operation, protocol, AwsError(message, code="InvalidInput", status=400))


@FUZZ
@given(case=st.sampled_from(ERROR_CASES), message=nasty_text, field=nasty_text)
def test_fuzz_error_messages_and_fields(case: tuple[str, str, str], message: str, field: str) -> None:
    service, operation, protocol = case
    error = AwsError(message, code="ValidationError", status=400, fields={"reason": field, "message": field})
    check_error_envelope(service, operation, protocol, error)
    if service == "rolesanywhere":
        modeled = modeled_error(CATALOG.service(service), "ResourceNotFoundException", message)
        check_error_envelope(service, operation, protocol, modeled)


def test_a_botocore_request_still_decodes() -> None:
    """The decoders refuse what is malformed, not what a client sends: a control case."""
    request = botocore_request("cloudtrail", "LookupEvents", {"MaxResults": 5, "NextToken": "page ü 😀"})
    ref = CATALOG.resolve(request, signing_service="cloudtrail")
    assert decoded_or_client_error(ref, request) == {"MaxResults": 5, "NextToken": "page ü 😀"}
