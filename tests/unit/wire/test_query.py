"""The query protocol against botocore's own serializer and parser."""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from iamd.wire import (
    AwsError,
    EntityAlreadyExists,
    InternalFailure,
    NoSuchEntity,
    ValidationError,
    modeled_error,
    protocol_for,
)
from iamd.wire.query import QueryProtocol
from iamd.wire.values import parse_float

from .helpers import CATALOG, botocore_request, parse

QUERY = QueryProtocol()
CREATED = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


def decode(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    request = botocore_request(service, operation, params)
    ref = CATALOG.resolve(request, signing_service=CATALOG.service(service).signing_name)
    assert ref.name == operation
    return protocol_for(ref.service_model).decode_request(ref, request)


def round_trip(service: str, operation: str, output: dict[str, Any] | None) -> dict[str, Any]:
    model = CATALOG.operation(service, operation)
    response = QUERY.encode_response(model, output, "req-1")
    assert response.status == 200
    assert response.header("Content-Type") == "text/xml"
    parsed = parse("query", model, response)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "req-1"
    return parsed


# --- decoding ------------------------------------------------------------------------------------------


def test_create_user_with_tags_decodes_to_the_input() -> None:
    params = {
        "Path": "/engineering/",
        "UserName": "bob",
        "PermissionsBoundary": "arn:aws:iam::111122223333:policy/Boundary",
        "Tags": [{"Key": "team", "Value": "blue green"}, {"Key": "cost-center", "Value": "12+34=46"}],
    }
    assert decode("iam", "CreateUser", params) == params


def test_put_user_policy_json_document_survives_form_encoding() -> None:
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::bucket/*",
                    "Condition": {"StringLike": {"s3:prefix": ["a&b=c+d %20 é"]}},
                }
            ],
        },
        indent=2,
    )
    params = {"UserName": "bob", "PolicyName": "read", "PolicyDocument": document}
    assert decode("iam", "PutUserPolicy", params) == params


def test_list_users_max_items_decodes_as_an_integer() -> None:
    assert decode("iam", "ListUsers", {"MaxItems": 100, "Marker": "abc"}) == {
        "MaxItems": 100,
        "Marker": "abc",
    }


def test_booleans_and_integers_decode_by_shape() -> None:
    params = {
        "MinimumPasswordLength": 14,
        "RequireSymbols": True,
        "RequireNumbers": False,
        "MaxPasswordAge": 90,
    }
    assert decode("iam", "UpdateAccountPasswordPolicy", params) == params


def test_empty_list_decodes_as_empty_list() -> None:
    params = {"RoleName": "r", "AssumeRolePolicyDocument": "{}", "Tags": []}
    assert decode("iam", "CreateRole", params) == params


def test_maps_decode_from_entry_key_value_pairs() -> None:
    params = {"Properties": {"alpha": "1", "beta/x": "two words"}}
    assert decode("iam", "PutAccountProperties", params) == params


def test_string_lists_decode() -> None:
    params = {"UserName": "bob", "TagKeys": ["a", "b", "c"]}
    assert decode("iam", "UntagUser", params) == params


def test_sts_assume_role_with_nested_structures_decodes() -> None:
    params = {
        "RoleArn": "arn:aws:iam::111122223333:role/r",
        "RoleSessionName": "session",
        "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
        "DurationSeconds": 3600,
        "Tags": [{"Key": "k", "Value": "v"}],
        "TransitiveTagKeys": ["k"],
    }
    assert decode("sts", "AssumeRole", params) == params


def test_maps_blobs_and_timestamps_decode_for_any_query_service() -> None:
    catalog_params = {
        "TopicArn": "arn:aws:sns:us-east-1:111122223333:t",
        "Message": "hello",
        "MessageAttributes": {
            "text": {"DataType": "String", "StringValue": "v"},
            "bin": {"DataType": "Binary", "BinaryValue": b"\x00\xffdata"},
        },
    }
    request = botocore_request("sns", "Publish", catalog_params)
    model = CATALOG.service("sns")
    ref = CATALOG.operation_ref("sns", "Publish")
    assert protocol_for(model).decode_request(ref, request) == catalog_params

    when = datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)
    scheduled = {
        "AutoScalingGroupName": "g",
        "ScheduledActionName": "a",
        "StartTime": when,
        "DesiredCapacity": 2,
    }
    request = botocore_request("autoscaling", "PutScheduledUpdateGroupAction", scheduled)
    ref = CATALOG.operation_ref("autoscaling", "PutScheduledUpdateGroupAction")
    assert QUERY.decode_request(ref, request) == scheduled


def test_unknown_parameters_are_ignored() -> None:
    request = botocore_request("iam", "GetUser", {"UserName": "bob"})
    extra = request.body + b"&Bogus=1&UserName.member.1=x"
    ref = CATALOG.operation_ref("iam", "GetUser")
    assert QUERY.decode_request(ref, dataclasses.replace(request, body=extra)) == {"UserName": "bob"}


def test_malformed_integer_is_a_validation_error() -> None:
    request = botocore_request("iam", "ListUsers", {"MaxItems": 5})
    broken = dataclasses.replace(request, body=request.body.replace(b"MaxItems=5", b"MaxItems=five"))
    with pytest.raises(ValidationError, match="Value 'five' at 'maxItems' failed to satisfy constraint"):
        QUERY.decode_request(CATALOG.operation_ref("iam", "ListUsers"), broken)


def test_a_long_malformed_number_is_refused_in_linear_time() -> None:
    """Issue 10: ``\\d+\\.?\\d*`` read digits in as many ways as there were, so 8,000 digits then
    a letter took seconds to refuse; well-formed numbers still parse."""
    start = time.perf_counter()
    with pytest.raises(ValueError, match="not a number"):
        parse_float("1" * 8_000 + "x")
    assert time.perf_counter() - start < 0.25
    assert [parse_float(t) for t in ("1", "-1.", ".5", "+2.5e3", "7E-1")] == [1.0, -1.0, 0.5, 2500.0, 0.7]
    for bad in (".", "1e", "e3", "1.2.3"):
        with pytest.raises(ValueError):
            parse_float(bad)


# --- validation ----------------------------------------------------------------------------------------


def invalid(service: str, operation: str, params: dict[str, Any]) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        decode(service, operation, params)
    assert caught.value.status == 400
    assert caught.value.code == "ValidationError"
    return caught.value


def test_missing_required_member_is_reported_as_null() -> None:
    error = invalid("iam", "CreateUser", {})
    assert error.message == (
        "1 validation error detected: Value null at 'userName' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_pattern_violation_quotes_the_model_pattern() -> None:
    """IAM no longer quotes the offending value ("Value at 'tags'", recorded against AWS in 2026:
    LocalStack's tests/aws/services/iam/test_iam_roles.snapshot.json, create-role-too-many-tags);
    STS still does ("Value 'Session1:2' at 'roleSessionName'", test_sts.snapshot.json)."""
    error = invalid("iam", "GetUser", {"UserName": "bob smith"})
    assert error.message == (
        "1 validation error detected: Value at 'userName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w+=,.@-]+"
    )
    error = invalid(
        "sts", "AssumeRole", {"RoleArn": "arn:aws:iam::111122223333:role/r", "RoleSessionName": "Session1:2"}
    )
    assert error.message == (
        "1 validation error detected: Value 'Session1:2' at 'roleSessionName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w+=,.@-]*"
    )


def test_length_violation() -> None:
    error = invalid("iam", "CreateUser", {"UserName": "u" * 65})
    assert "Member must have length less than or equal to 64" in error.message


def test_enum_violation_in_iams_words() -> None:
    """IAM's text ends at "enum value set", without the values (recorded against AWS: LocalStack's
    tests/aws/services/iam/test_iam.snapshot.json, ``Value at 'status' ... enum value set``)."""
    error = invalid("iam", "UpdateAccessKey", {"AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "Status": "Paused"})
    assert error.message == (
        "1 validation error detected: Value at 'status' failed to satisfy constraint: "
        "Member must satisfy enum value set"
    )


def test_integer_range_violation() -> None:
    error = invalid("iam", "ListUsers", {"MaxItems": 0})
    assert error.message == (
        "1 validation error detected: Value at 'maxItems' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    )


def test_several_violations_are_collected_in_one_message() -> None:
    error = invalid(
        "iam", "CreateUser", {"UserName": "bad name!", "Path": "no-slashes", "Tags": [{"Key": ""}]}
    )
    assert error.message.startswith("5 validation errors detected: Value at 'path' failed")
    # In the order of their paths, as IAM lists them (recorded against AWS: LocalStack's
    # tests/aws/services/iam/test_iam_oidc.snapshot.json, multiple-validation-errors).
    assert [(v.path, v.constraint.split(":")[0]) for v in error.violations] == [
        ("path", "Member must satisfy regular expression pattern"),
        ("tags.1.member.key", "Member must have length greater than or equal to 1"),
        ("tags.1.member.key", "Member must satisfy regular expression pattern"),
        ("tags.1.member.value", "Member must not be null"),
        ("userName", "Member must satisfy regular expression pattern"),
    ]
    assert error.message.count("; ") == 4


def test_list_element_constraints_are_reported_on_the_list() -> None:
    error = invalid("iam", "UntagUser", {"UserName": "bob", "TagKeys": ["ok", "x" * 200]})
    assert "at 'tagKeys' failed to satisfy constraint: Member must satisfy constraint: [" in error.message
    assert "Member must have length less than or equal to 128" in error.message


def test_sensitive_values_are_not_echoed() -> None:
    error = invalid("iam", "CreateLoginProfile", {"UserName": "bob", "Password": ""})
    assert "Value at 'password' failed to satisfy constraint" in error.message


def test_tag_values_accept_unicode_letters_via_translated_java_pattern() -> None:
    params = {"UserName": "bob", "Tags": [{"Key": "Größe", "Value": "Straße 1 東京"}]}
    assert decode("iam", "TagUser", params) == params
    error = invalid("iam", "TagUser", {"UserName": "bob", "Tags": [{"Key": "a*b", "Value": "v"}]})
    assert "tags.1.member.key" in error.message


# --- encoding ------------------------------------------------------------------------------------------


def test_get_user_round_trips_through_botocore() -> None:
    user = {
        "Path": "/",
        "UserName": "bob & <co>",
        "UserId": "AIDAEXAMPLE",
        "Arn": "arn:aws:iam::111122223333:user/bob",
        "CreateDate": CREATED,
        "PermissionsBoundary": {
            "PermissionsBoundaryType": "Policy",
            "PermissionsBoundaryArn": "arn:aws:iam::111122223333:policy/b",
        },
        "Tags": [{"Key": "k", "Value": "v"}],
    }
    assert round_trip("iam", "GetUser", {"User": user}) == {"User": user}


def test_list_users_with_truncation_round_trips() -> None:
    users = [
        {
            "Path": "/",
            "UserName": f"u{i}",
            "UserId": f"AIDA{i}",
            "Arn": f"arn:aws:iam::1:user/u{i}",
            "CreateDate": CREATED,
        }
        for i in range(3)
    ]
    output = {"Users": users, "IsTruncated": True, "Marker": "next-page"}
    assert round_trip("iam", "ListUsers", output) == output
    empty = round_trip("iam", "ListUsers", {"Users": [], "IsTruncated": False})
    assert empty == {"Users": [], "IsTruncated": False}


def test_create_access_key_round_trips() -> None:
    key = {
        "UserName": "bob",
        "AccessKeyId": "AKIAIOSFODNN7EXAMPLE",
        "Status": "Active",
        "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "CreateDate": CREATED,
    }
    assert round_trip("iam", "CreateAccessKey", {"AccessKey": key}) == {"AccessKey": key}


def test_get_account_summary_map_round_trips() -> None:
    summary = {"Users": 4, "UsersQuota": 5000, "AccountMFAEnabled": 1, "Policies": 0}
    assert round_trip("iam", "GetAccountSummary", {"SummaryMap": summary}) == {"SummaryMap": summary}


def test_sts_get_caller_identity_uses_the_sts_namespace() -> None:
    model = CATALOG.operation("sts", "GetCallerIdentity")
    output = {"UserId": "AIDA", "Account": "111122223333", "Arn": "arn:aws:iam::111122223333:user/bob"}
    response = QUERY.encode_response(model, output, "r")
    assert response.body.startswith(
        b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
    )
    parsed = parse("query", model, response)
    parsed.pop("ResponseMetadata")
    assert parsed == output


def test_operation_without_output_answers_response_metadata_only() -> None:
    model = CATALOG.operation("iam", "DeleteUser")
    response = QUERY.encode_response(model, None, "req-9")
    assert response.body == (
        b'<DeleteUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
        b"<ResponseMetadata><RequestId>req-9</RequestId></ResponseMetadata></DeleteUserResponse>"
    )
    assert parse("query", model, response)["ResponseMetadata"]["RequestId"] == "req-9"


def test_timestamps_are_iso8601_in_utc_and_booleans_lowercase() -> None:
    model = CATALOG.operation("iam", "ListUsers")
    user = {"Path": "/", "UserName": "u", "UserId": "i", "Arn": "a", "CreateDate": CREATED}
    body = QUERY.encode_response(model, {"Users": [user], "IsTruncated": False}, "r").body
    assert b"<CreateDate>2026-11-28T12:00:00Z</CreateDate>" in body
    assert b"<IsTruncated>false</IsTruncated>" in body
    assert b"<Users><member>" in body


def test_unknown_output_member_is_a_bug() -> None:
    with pytest.raises(ValueError, match="no member"):
        QUERY.encode_response(CATALOG.operation("iam", "GetUser"), {"Usr": {}}, "r")


# --- errors --------------------------------------------------------------------------------------------


def error_round_trip(service: str, operation: str, error: AwsError) -> tuple[int, dict[str, Any], bytes]:
    model = CATALOG.operation(service, operation)
    response = QUERY.encode_error(model.service_model, error, "req-e")
    parsed = parse("query", model, response)
    assert parsed["ResponseMetadata"]["RequestId"] == "req-e"
    return response.status, parsed["Error"], response.body


def test_no_such_entity_error_round_trips() -> None:
    status, error, body = error_round_trip(
        "iam", "GetUser", NoSuchEntity("The user with name bob cannot be found.")
    )
    assert status == 404
    assert error["Code"] == "NoSuchEntity"
    assert error["Message"] == "The user with name bob cannot be found."
    assert error["Type"] == "Sender"
    assert body.startswith(b'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error>')


def test_validation_error_round_trips() -> None:
    status, error, _ = error_round_trip(
        "iam", "CreateUser", ValidationError("1 validation error detected: x")
    )
    assert (status, error["Code"], error["Message"]) == (
        400,
        "ValidationError",
        "1 validation error detected: x",
    )


def test_service_failure_is_a_receiver_fault() -> None:
    status, error, _ = error_round_trip("iam", "GetUser", InternalFailure())
    assert (status, error["Code"], error["Type"]) == (500, "InternalFailure", "Receiver")


def test_model_error_metadata_decides_code_and_status() -> None:
    status, error, _ = error_round_trip(
        "iam", "CreateUser", EntityAlreadyExists("User with name bob already exists.")
    )
    assert (status, error["Code"]) == (409, "EntityAlreadyExists")
    status, error, _ = error_round_trip(
        "iam", "GetUser", modeled_error(CATALOG.service("iam"), "ServiceFailureException")
    )
    assert (status, error["Code"], error["Type"]) == (500, "ServiceFailure", "Receiver")
    sts = modeled_error(
        CATALOG.service("sts"), "RegionDisabledException", "STS is not activated in this region"
    )
    status, error, _ = error_round_trip("sts", "AssumeRole", sts)
    assert (status, error["Code"]) == (403, "RegionDisabledException")


def test_error_messages_are_xml_escaped() -> None:
    _, error, body = error_round_trip("iam", "GetUser", NoSuchEntity("name <a&b> cannot be found"))
    assert error["Message"] == "name <a&b> cannot be found"
    assert b"&lt;a&amp;b&gt;" in body
