"""The JSON 1.1 protocol (Organizations, CloudTrail) against botocore's serializer and parser."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from iamd.wire import AccessDenied, AwsError, SerializationError, ValidationError, modeled_error, protocol_for
from iamd.wire.json import JsonProtocol

from .helpers import CATALOG, botocore_request, parse

JSON = JsonProtocol()
WHEN = datetime(2026, 11, 28, 12, 0, 0, 250000, tzinfo=UTC)


def decode(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    request = botocore_request(service, operation, params)
    ref = CATALOG.resolve(request)
    assert (ref.service_name, ref.name) == (service, operation)
    return protocol_for(ref.service_model).decode_request(ref, request)


def round_trip(service: str, operation: str, output: dict[str, Any]) -> dict[str, Any]:
    model = CATALOG.operation(service, operation)
    response = JSON.encode_response(model, output, "req-1")
    assert response.status == 200
    assert response.header("Content-Type") == "application/x-amz-json-1.1"
    parsed = parse("json", model, response)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "req-1"
    return parsed


def test_lookup_events_decodes_to_the_input() -> None:
    params = {
        "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "CreateUser"}],
        "StartTime": datetime(2026, 11, 1, tzinfo=UTC),
        "EndTime": WHEN,
        "MaxResults": 50,
        "NextToken": "tok",
    }
    assert decode("cloudtrail", "LookupEvents", params) == params


def test_organizations_create_account_decodes() -> None:
    params = {
        "Email": "dev@example.com",
        "AccountName": "dev",
        "IamUserAccessToBilling": "DENY",
        "Tags": [{"Key": "env", "Value": "dev"}],
    }
    assert decode("organizations", "CreateAccount", params) == params


def test_empty_input_decodes_to_empty_dict() -> None:
    assert decode("organizations", "DescribeOrganization", {}) == {}


def test_describe_organization_round_trips_through_botocore() -> None:
    organization = {
        "Id": "o-exampleorgid",
        "Arn": "arn:aws:organizations::111122223333:organization/o-exampleorgid",
        "FeatureSet": "ALL",
        "MasterAccountArn": "arn:aws:organizations::111122223333:account/o-exampleorgid/111122223333",
        "MasterAccountId": "111122223333",
        "MasterAccountEmail": "root@example.com",
        "AvailablePolicyTypes": [{"Type": "SERVICE_CONTROL_POLICY", "Status": "ENABLED"}],
    }
    assert round_trip("organizations", "DescribeOrganization", {"Organization": organization}) == {
        "Organization": organization
    }


def test_lookup_events_output_round_trips_with_epoch_timestamps() -> None:
    output = {
        "Events": [
            {
                "EventId": "e1",
                "EventName": "CreateUser",
                "ReadOnly": "false",
                "AccessKeyId": "AKIAIOSFODNN7EXAMPLE",
                "EventTime": WHEN,
                "EventSource": "iam.amazonaws.com",
                "Username": "bob",
                "Resources": [{"ResourceType": "AWS::IAM::User", "ResourceName": "alice"}],
                "CloudTrailEvent": json.dumps({"eventVersion": "1.08"}),
            }
        ],
        "NextToken": "n",
    }
    model = CATALOG.operation("cloudtrail", "LookupEvents")
    body = json.loads(JSON.encode_response(model, output, "r").body)
    assert body["Events"][0]["EventTime"] == 1795867200.25
    assert round_trip("cloudtrail", "LookupEvents", output) == output


def test_operation_without_output_answers_empty_object() -> None:
    model = CATALOG.operation("organizations", "LeaveOrganization")
    response = JSON.encode_response(model, None, "r")
    assert response.body == b"{}"


def test_wrong_json_type_is_a_serialization_exception() -> None:
    request = botocore_request("cloudtrail", "LookupEvents", {"MaxResults": 5})
    broken = dataclasses.replace(request, body=b'{"MaxResults": "five"}')
    with pytest.raises(SerializationError) as caught:
        JSON.decode_request(CATALOG.operation_ref("cloudtrail", "LookupEvents"), broken)
    assert caught.value.code == "SerializationException"
    assert "maxResults" in caught.value.message


def test_malformed_json_is_a_serialization_exception() -> None:
    request = botocore_request("organizations", "DescribeOrganization")
    with pytest.raises(SerializationError):
        JSON.decode_request(
            CATALOG.operation_ref("organizations", "DescribeOrganization"),
            dataclasses.replace(request, body=b"{"),
        )


def test_unknown_members_are_ignored() -> None:
    request = botocore_request("cloudtrail", "LookupEvents")
    extra = dataclasses.replace(request, body=b'{"MaxResults": 5, "Bogus": [1, 2]}')
    assert JSON.decode_request(CATALOG.operation_ref("cloudtrail", "LookupEvents"), extra) == {
        "MaxResults": 5
    }


def test_validation_uses_the_same_rules_as_query() -> None:
    with pytest.raises(ValidationError) as caught:
        decode("organizations", "CreateAccount", {"Email": "x", "AccountName": ""})
    message = caught.value.message
    assert message.startswith("4 validation errors detected: ")
    # Email and AccountName are sensitive in the Organizations model: their values are not echoed.
    assert (
        "Value at 'email' failed to satisfy constraint: Member must have length greater than or equal to 6"
        in (message)
    )
    assert (
        "at 'accountName' failed to satisfy constraint: Member must have length greater than or equal to 1"
        in (message)
    )


# --- errors --------------------------------------------------------------------------------------------


def error_round_trip(
    service: str, operation: str, error: AwsError
) -> tuple[int, dict[str, Any], dict[str, Any]]:
    model = CATALOG.operation(service, operation)
    response = JSON.encode_error(model.service_model, error, "req-e")
    parsed = parse("json", model, response)
    assert parsed["ResponseMetadata"]["RequestId"] == "req-e"
    body = json.loads(response.body)
    assert response.header("x-amzn-ErrorType") == body["__type"]
    return response.status, parsed["Error"], body


def test_modeled_organizations_error_round_trips() -> None:
    org = CATALOG.service("organizations")
    error = modeled_error(
        org, "AWSOrganizationsNotInUseException", "Your account is not a member of an organization."
    )
    status, parsed, body = error_round_trip("organizations", "DescribeOrganization", error)
    assert status == 400
    assert parsed == {"Code": "AWSOrganizationsNotInUseException", "Message": error.message}
    assert body == {"__type": "AWSOrganizationsNotInUseException", "Message": error.message}


def test_common_errors_use_their_json_names() -> None:
    status, parsed, body = error_round_trip("organizations", "DescribeOrganization", AccessDenied("no"))
    assert (parsed["Code"], body["Message"]) == ("AccessDeniedException", "no")
    status, parsed, _ = error_round_trip(
        "cloudtrail", "LookupEvents", ValidationError("1 validation error detected: x")
    )
    assert (status, parsed["Code"]) == (400, "ValidationException")


def test_modeled_error_extra_fields_are_encoded_when_the_shape_declares_them() -> None:
    org = CATALOG.service("organizations")
    error = modeled_error(org, "InvalidInputException", "bad", Reason="INVALID_PATTERN", Unknown="dropped")
    _, _, body = error_round_trip("organizations", "CreateAccount", error)
    assert body == {"__type": "InvalidInputException", "Message": "bad", "Reason": "INVALID_PATTERN"}
