"""REST-JSON (Access Analyzer, Roles Anywhere, and a synthetic model for the corners) against
botocore's serializer and parser."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.awsrequest import create_request_object, prepare_request_dict
from botocore.serialize import create_serializer

from iamd.wire import (
    AwsError,
    HttpRequest,
    InvalidAction,
    ServiceCatalog,
    ValidationError,
    modeled_error,
    protocol_for,
)
from iamd.wire.restjson import RestJsonProtocol

from .helpers import CATALOG, botocore_request, parse, to_http

REST = RestJsonProtocol()
WHEN = datetime(2026, 11, 28, 12, 0, 0, 250000, tzinfo=UTC)
ANALYZER_ARN = "arn:aws:access-analyzer:us-east-1:111122223333:analyzer/my-analyzer"


def decode(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    request = botocore_request(service, operation, params)
    ref = CATALOG.resolve(request, signing_service=CATALOG.service(service).signing_name)
    assert (ref.service_name, ref.name) == (service, operation)
    return protocol_for(ref.service_model).decode_request(ref, request)


def round_trip(
    service: str, operation: str, output: dict[str, Any], catalog: ServiceCatalog = CATALOG
) -> tuple[int, dict[str, Any]]:
    model = catalog.operation(service, operation)
    response = REST.encode_response(model, output, "req-1")
    parsed = parse("rest-json", model, response)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "req-1"
    return response.status, parsed


# --- decoding real services -----------------------------------------------------------------------------


def test_validate_policy_decodes_body_and_query_members() -> None:
    params = {
        "policyDocument": json.dumps({"Version": "2012-10-17", "Statement": []}),
        "policyType": "IDENTITY_POLICY",
        "locale": "EN",
        "maxResults": 10,
        "nextToken": "page 2/ü",
    }
    assert decode("accessanalyzer", "ValidatePolicy", params) == params


def test_list_analyzers_decodes_query_string() -> None:
    params = {"maxResults": 5, "nextToken": "t", "type": "ACCOUNT"}
    assert decode("accessanalyzer", "ListAnalyzers", params) == params


def test_path_labels_decode_percent_decoded() -> None:
    rule = {"analyzerName": "my.analyzer", "ruleName": "rule_1", "clientToken": "c t"}
    assert decode("accessanalyzer", "DeleteArchiveRule", rule) == rule
    untag = {"resourceArn": ANALYZER_ARN, "tagKeys": ["env", "team name"]}
    assert decode("accessanalyzer", "UntagResource", untag) == untag


def test_roles_anywhere_create_profile_decodes() -> None:
    params = {
        "name": "profile",
        "roleArns": ["arn:aws:iam::111122223333:role/r"],
        "durationSeconds": 3600,
        "enabled": True,
        "tags": [{"key": "k", "value": "v"}],
    }
    assert decode("rolesanywhere", "CreateProfile", params) == params


def test_rest_json_validation_reports_path_and_body_members() -> None:
    with pytest.raises(ValidationError) as caught:
        decode(
            "accessanalyzer",
            "ValidatePolicy",
            {"policyDocument": "{}", "policyType": "NOT_A_TYPE", "locale": "XX"},
        )
    assert [v.path for v in caught.value.violations] == ["locale", "policyType"]
    assert caught.value.message.startswith("2 validation errors detected: ")


def test_malformed_query_integer_is_a_validation_error() -> None:
    request = botocore_request("accessanalyzer", "ListAnalyzers", {"maxResults": 5})
    broken = HttpRequest.build(request.method, request.path, "maxResults=lots", request.headers.raw_items())
    ref = CATALOG.resolve(broken)
    with pytest.raises(ValidationError, match="Value 'lots' at 'maxResults'"):
        REST.decode_request(ref, broken)


# --- encoding real services -------------------------------------------------------------------------


def test_list_analyzers_output_round_trips() -> None:
    analyzer = {
        "arn": ANALYZER_ARN,
        "name": "my-analyzer",
        "type": "ACCOUNT",
        "createdAt": WHEN,
        "status": "ACTIVE",
        "tags": {"env": "prod"},
    }
    output = {"analyzers": [analyzer], "nextToken": "n"}
    status, parsed = round_trip("accessanalyzer", "ListAnalyzers", output)
    assert (status, parsed) == (200, output)
    body = json.loads(
        REST.encode_response(CATALOG.operation("accessanalyzer", "ListAnalyzers"), output, "r").body
    )
    assert body["analyzers"][0]["createdAt"] == "2026-11-28T12:00:00.250Z"


def test_validate_policy_findings_round_trip() -> None:
    finding = {
        "findingDetails": "Add a value to the empty string array.",
        "findingType": "SUGGESTION",
        "issueCode": "EMPTY_ARRAY_ACTION",
        "learnMoreLink": "https://docs.aws.amazon.com/",
        "locations": [
            {
                "path": [{"value": "Statement"}, {"index": 0}, {"key": "Action"}],
                "span": {
                    "start": {"line": 3, "column": 4, "offset": 30},
                    "end": {"line": 3, "column": 9, "offset": 35},
                },
            }
        ],
    }
    output = {"findings": [finding]}
    assert round_trip("accessanalyzer", "ValidatePolicy", output) == (200, output)


def test_response_code_comes_from_the_operation() -> None:
    profile = {
        "profileId": "p-1",
        "name": "profile",
        "enabled": True,
        "roleArns": ["arn:aws:iam::111122223333:role/r"],
        "createdAt": WHEN,
        "durationSeconds": 3600,
    }
    assert round_trip("rolesanywhere", "CreateProfile", {"profile": profile}) == (201, {"profile": profile})


# --- errors --------------------------------------------------------------------------------------------


def error_response(
    error: AwsError, service: str = "accessanalyzer"
) -> tuple[int, dict[str, str], dict[str, Any]]:
    model = CATALOG.operation(service, "GetAnalyzer" if service == "accessanalyzer" else "GetProfile")
    response = REST.encode_error(model.service_model, error, "req-e")
    parsed = parse("rest-json", model, response)
    assert parsed["ResponseMetadata"]["RequestId"] == "req-e"
    headers = {k.lower(): v for k, v in response.headers}
    assert headers["x-amzn-errortype"] == parsed["Error"]["Code"]
    return response.status, parsed["Error"], json.loads(response.body)


def test_modeled_not_found_error_carries_its_members() -> None:
    error = modeled_error(
        CATALOG.service("accessanalyzer"),
        "ResourceNotFoundException",
        "Analyzer my-analyzer not found",
        resourceId="my-analyzer",
        resourceType="AWS::AccessAnalyzer::Analyzer",
    )
    status, parsed, body = error_response(error)
    assert status == 404
    assert parsed == {"Code": "ResourceNotFoundException", "Message": "Analyzer my-analyzer not found"}
    assert body == {
        "message": "Analyzer my-analyzer not found",
        "resourceId": "my-analyzer",
        "resourceType": "AWS::AccessAnalyzer::Analyzer",
    }


def test_validation_error_uses_the_service_shape() -> None:
    with pytest.raises(ValidationError) as caught:
        decode("accessanalyzer", "ValidatePolicy", {"policyDocument": "{}", "policyType": "NOPE"})
    status, parsed, body = error_response(caught.value)
    assert (status, parsed["Code"]) == (400, "ValidationException")
    assert body["reason"] == "fieldValidationFailed"
    assert body["fieldList"] == [{"name": "policyType", "message": caught.value.violations[0].message}]


def test_throttling_header_members_go_to_headers() -> None:
    error = modeled_error(
        CATALOG.service("accessanalyzer"), "ThrottlingException", "slow down", retryAfterSeconds=5
    )
    model = CATALOG.operation("accessanalyzer", "GetAnalyzer")
    response = REST.encode_error(model.service_model, error, "r")
    assert response.status == 429
    assert response.header("Retry-After") == "5"
    assert json.loads(response.body) == {"message": "slow down"}


def test_unknown_route_is_unknown_operation() -> None:
    request = botocore_request("accessanalyzer", "ListAnalyzers")
    bogus = HttpRequest.build("GET", "/no/such/thing", "", request.headers.raw_items())
    with pytest.raises(InvalidAction) as caught:
        CATALOG.resolve(bogus, signing_service="access-analyzer")
    status, parsed, _ = error_response(caught.value)
    assert (status, parsed["Code"]) == (404, "UnknownOperationException")


# --- a synthetic model: greedy labels, literal query parts, headers, payloads --------------------------

SYNTHETIC: dict[str, Any] = {
    "version": "2.0",
    "metadata": {
        "apiVersion": "2020-01-01",
        "endpointPrefix": "synth",
        "protocol": "rest-json",
        "protocols": ["rest-json"],
        "serviceId": "Synth",
        "signatureVersion": "v4",
        "signingName": "synth",
        "uid": "synth-2020-01-01",
    },
    "operations": {
        "GetObject": {
            "name": "GetObject",
            "http": {"method": "GET", "requestUri": "/buckets/{Bucket}/{Key+}"},
            "input": {"shape": "ObjectRequest"},
            "output": {"shape": "GetObjectOutput"},
        },
        "GetObjectTagging": {
            "name": "GetObjectTagging",
            "http": {"method": "GET", "requestUri": "/buckets/{Bucket}/{Key+}?tagging"},
            "input": {"shape": "ObjectRequest"},
        },
        "GetThing": {
            "name": "GetThing",
            "http": {"method": "GET", "requestUri": "/things/{ThingId}"},
            "input": {"shape": "GetThingInput"},
        },
        "CountThings": {"name": "CountThings", "http": {"method": "GET", "requestUri": "/things/count"}},
        "PutThing": {
            "name": "PutThing",
            "http": {"method": "PUT", "requestUri": "/things", "responseCode": 202},
            "input": {"shape": "PutThingInput"},
            "output": {"shape": "PutThingOutput"},
        },
    },
    "shapes": {
        "String": {"type": "string"},
        "Integer": {"type": "integer"},
        "Boolean": {"type": "boolean"},
        "Blob": {"type": "blob"},
        "Timestamp": {"type": "timestamp"},
        "StringList": {"type": "list", "member": {"shape": "String"}},
        "StringMap": {"type": "map", "key": {"shape": "String"}, "value": {"shape": "String"}},
        "JsonString": {"type": "string", "jsonvalue": True},
        "ObjectRequest": {
            "type": "structure",
            "required": ["Bucket", "Key"],
            "members": {
                "Bucket": {"shape": "String", "location": "uri", "locationName": "Bucket"},
                "Key": {"shape": "String", "location": "uri", "locationName": "Key"},
            },
        },
        "GetObjectOutput": {
            "type": "structure",
            "members": {
                "Body": {"shape": "Blob"},
                "ContentType": {"shape": "String", "location": "header", "locationName": "Content-Type"},
                "Modified": {"shape": "Timestamp", "location": "header", "locationName": "Last-Modified"},
            },
            "payload": "Body",
        },
        "GetThingInput": {
            "type": "structure",
            "required": ["ThingId"],
            "members": {"ThingId": {"shape": "String", "location": "uri", "locationName": "ThingId"}},
        },
        "Thing": {
            "type": "structure",
            "members": {"Name": {"shape": "String"}, "Size": {"shape": "Integer"}},
        },
        "PutThingInput": {
            "type": "structure",
            "members": {
                "Thing": {"shape": "Thing"},
                "Labels": {"shape": "StringList", "location": "header", "locationName": "X-Labels"},
                "Since": {"shape": "Timestamp", "location": "header", "locationName": "X-Since"},
                "Meta": {"shape": "StringMap", "location": "headers", "locationName": "x-meta-"},
                "Context": {"shape": "JsonString", "location": "header", "locationName": "X-Context"},
                "DryRun": {"shape": "Boolean", "location": "querystring", "locationName": "dryRun"},
                "Extra": {"shape": "StringMap", "location": "querystring"},
            },
            "payload": "Thing",
        },
        "PutThingOutput": {
            "type": "structure",
            "members": {
                "Status": {"shape": "Integer", "location": "statusCode"},
                "Etag": {"shape": "String", "location": "header", "locationName": "ETag"},
                "Labels": {"shape": "StringList", "location": "header", "locationName": "X-Labels"},
                "Thing": {"shape": "Thing"},
            },
            "payload": "Thing",
        },
    },
}


class _Loader:
    def load_service_model(self, name: str, type_name: str, api_version: str | None = None) -> dict[str, Any]:
        assert (name, type_name) == ("synth", "service-2")
        return SYNTHETIC


SYNTH = ServiceCatalog(["synth"], loader=_Loader())


def synthetic_request(operation: str, params: dict[str, Any]) -> HttpRequest:
    model = SYNTH.operation("synth", operation)
    request_dict = create_serializer("rest-json").serialize_to_request(params, model)
    prepare_request_dict(request_dict, "https://synth.example.com")
    return to_http(create_request_object(request_dict))


def decode_synthetic(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    request = synthetic_request(operation, params)
    ref = SYNTH.resolve(request, signing_service="synth")
    assert ref.name == operation
    return REST.decode_request(ref, request)


def test_greedy_label_takes_the_rest_of_the_path() -> None:
    params = {"Bucket": "b", "Key": "dir/sub dir/file.txt"}
    assert decode_synthetic("GetObject", params) == params


def test_literal_query_part_selects_the_more_specific_operation() -> None:
    params = {"Bucket": "b", "Key": "a/b"}
    assert decode_synthetic("GetObjectTagging", params) == params


def test_literal_segment_beats_a_label() -> None:
    assert decode_synthetic("CountThings", {}) == {}
    assert decode_synthetic("GetThing", {"ThingId": "t-1"}) == {"ThingId": "t-1"}


def test_method_must_match() -> None:
    request = synthetic_request("GetThing", {"ThingId": "x"})
    with pytest.raises(InvalidAction):
        SYNTH.resolve(HttpRequest.build("DELETE", request.path, "", request.headers.raw_items()))


def test_headers_query_maps_and_structure_payload_decode() -> None:
    params = {
        "Thing": {"Name": "n", "Size": 3},
        "Labels": ["a", "b,c", 'say "hi"'],
        "Since": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "Meta": {"owner": "bob"},
        "Context": {"nested": [1, 2]},
        "DryRun": True,
        "Extra": {"x": "1", "y": "2"},
    }
    assert decode_synthetic("PutThing", params) == params


def test_presign_parameters_are_not_operation_input() -> None:
    request = synthetic_request("PutThing", {"Extra": {"x": "1"}})
    presigned = HttpRequest.build(
        request.method,
        request.path,
        request.query_string + "&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc",
        request.headers.raw_items(),
        request.body,
    )
    ref = SYNTH.resolve(presigned)
    assert REST.decode_request(ref, presigned)["Extra"] == {"x": "1"}


def test_header_status_and_payload_outputs_round_trip() -> None:
    output = {"Status": 200, "Etag": '"abc"', "Labels": ["x", "y"], "Thing": {"Name": "n", "Size": 1}}
    assert round_trip("synth", "PutThing", output, SYNTH) == (200, output)
    status, parsed = round_trip("synth", "PutThing", {"Thing": {"Name": "n"}}, SYNTH)
    assert (status, parsed) == (202, {"Status": 202, "Thing": {"Name": "n"}})


def test_blob_payload_is_the_raw_body() -> None:
    model = SYNTH.operation("synth", "GetObject")
    output = {
        "Body": b"\x00binary",
        "ContentType": "application/x-thing",
        "Modified": datetime(2026, 1, 1, tzinfo=UTC),
    }
    response = REST.encode_response(model, output, "r")
    assert response.body == b"\x00binary"
    assert response.header("Last-Modified") == "Thu, 01 Jan 2026 00:00:00 GMT"
    assert response.header("Content-Type") == "application/x-thing"
