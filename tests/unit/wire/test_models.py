"""Loading service models and routing a request to its operation."""

from __future__ import annotations

import dataclasses

import pytest

from iamd.wire import (
    HttpRequest,
    InvalidAction,
    MissingAction,
    ServiceCatalog,
    load_service_model,
    parse_signature,
    protocol_for,
    requires_auth,
)
from iamd.wire.json import JsonProtocol
from iamd.wire.models import NotServed
from iamd.wire.query import QueryProtocol
from iamd.wire.restjson import RestJsonProtocol

from .helpers import CATALOG, botocore_request


def test_models_are_loaded_once() -> None:
    assert load_service_model("iam") is load_service_model("iam")
    assert CATALOG.service("iam") is CATALOG.service("iam")


def test_each_service_gets_its_protocol() -> None:
    assert isinstance(protocol_for(CATALOG.service("iam")), QueryProtocol)
    assert isinstance(protocol_for(CATALOG.service("sts")), QueryProtocol)
    assert isinstance(protocol_for(CATALOG.service("organizations")), JsonProtocol)
    assert isinstance(protocol_for(CATALOG.service("cloudtrail")), JsonProtocol)
    assert isinstance(protocol_for(CATALOG.service("accessanalyzer")), RestJsonProtocol)
    assert isinstance(protocol_for(CATALOG.service("rolesanywhere")), RestJsonProtocol)


def test_signing_names_map_to_services() -> None:
    assert CATALOG.services_for_signing_name("access-analyzer") == ["accessanalyzer"]
    assert CATALOG.services_for_signing_name("iam") == ["iam"]
    assert CATALOG.services_for_signing_name("s3") == []


def test_query_request_routes_by_action_and_credential_scope() -> None:
    request = botocore_request("iam", "ListUsers")
    ref = CATALOG.resolve(request, signing_service=parse_signature(request).scope.service)
    assert (ref.service_name, ref.name, ref.protocol) == ("iam", "ListUsers", "query")


def test_presigned_query_request_routes_by_action_in_the_query_string() -> None:
    request = botocore_request("sts", "GetCallerIdentity", presign=True)
    assert request.body == b""
    assert CATALOG.resolve(request, signing_service="sts").name == "GetCallerIdentity"


def test_unsigned_sts_call_routes_by_its_unique_action() -> None:
    request = botocore_request(
        "sts",
        "AssumeRoleWithWebIdentity",
        {
            "RoleArn": "arn:aws:iam::111122223333:role/r",
            "RoleSessionName": "s",
            "WebIdentityToken": "header.payload.signature",
        },
        signed=False,
    )
    ref = CATALOG.resolve(request)
    assert (ref.service_name, ref.name) == ("sts", "AssumeRoleWithWebIdentity")
    assert not requires_auth(ref.operation_model)
    assert requires_auth(CATALOG.operation("sts", "AssumeRole"))
    assert requires_auth(CATALOG.operation("iam", "ListUsers"))


def test_ambiguous_action_without_a_signature_routes_by_host() -> None:
    catalog = ServiceCatalog(["sns", "elasticache"])
    request = HttpRequest.build(
        "POST",
        "/",
        "",
        {"Host": "elasticache.us-east-1.amazonaws.com", "Content-Type": "application/x-www-form-urlencoded"},
        b"Action=ListTagsForResource&Version=2015-02-02&ResourceName=x",
    )
    assert catalog.resolve(request).service_name == "elasticache"


def test_action_of_another_service_than_the_scope_is_invalid() -> None:
    request = botocore_request("iam", "ListUsers")
    with pytest.raises(InvalidAction, match="Could not find operation ListUsers for version 2010-05-08"):
        CATALOG.resolve(request, signing_service="sts")


def test_action_of_a_newer_model_resolves_to_an_unknown_operation() -> None:
    """A newer SDK's operation (the name of an operation, not in the pinned model) is routed to the
    service, marked unknown, so the pipeline can answer UnsupportedOperation naming it."""
    request = botocore_request("iam", "ListUsers")
    newer = dataclasses.replace(request, body=b"Action=CreateWorkloadIdentityFuture&Version=2010-05-08")
    ref = CATALOG.resolve(newer, signing_service="iam")
    assert (ref.service_name, ref.name, ref.known, ref.protocol) == (
        "iam",
        "CreateWorkloadIdentityFuture",
        False,
        "query",
    )
    assert CATALOG.resolve(request, signing_service="iam").known


def test_action_that_is_no_operation_name_is_invalid_action() -> None:
    request = botocore_request("iam", "ListUsers")
    bogus = dataclasses.replace(request, body=b"Action=list_users&Version=2010-05-08")
    with pytest.raises(InvalidAction) as caught:
        CATALOG.resolve(bogus, signing_service="iam")
    assert caught.value.message == "Could not find operation list_users for version 2010-05-08"
    assert (caught.value.status, caught.value.code) == (400, "InvalidAction")


def test_request_signed_for_a_service_iamd_does_not_serve_is_not_served() -> None:
    request = HttpRequest.build(
        "POST", "/", "", {"X-Amz-Target": "DynamoDB_20120810.ListTables", "Host": "h"}, b"{}"
    )
    with pytest.raises(NotServed) as caught:
        CATALOG.resolve(request, signing_service="dynamodb")
    assert caught.value.model is not None and caught.value.model.service_name == "dynamodb"
    assert caught.value.code == "UnsupportedOperation"
    assert "iamd does not serve Amazon DynamoDB (dynamodb)" in caught.value.message
    with pytest.raises(NotServed) as unknown:
        CATALOG.resolve(request, signing_service="no-such-service")
    assert unknown.value.model is None


def test_wrong_api_version_is_invalid_action() -> None:
    request = botocore_request("iam", "ListUsers")
    old = dataclasses.replace(request, body=b"Action=ListUsers&Version=2009-01-01")
    with pytest.raises(InvalidAction, match="for version 2009-01-01"):
        CATALOG.resolve(old, signing_service="iam")


def test_missing_action() -> None:
    request = botocore_request("iam", "ListUsers")
    with pytest.raises(MissingAction):
        CATALOG.resolve(dataclasses.replace(request, body=b"Version=2010-05-08"), signing_service="iam")


def test_json_request_routes_by_target() -> None:
    for service, operation in (("organizations", "ListAccounts"), ("cloudtrail", "LookupEvents")):
        ref = CATALOG.resolve(botocore_request(service, operation))
        assert (ref.service_name, ref.name, ref.protocol) == (service, operation, "json")


def test_unknown_target_is_unknown_operation() -> None:
    request = HttpRequest.build(
        "POST", "/", "", {"X-Amz-Target": "AWSOrganizationsV20991231.ListAccounts", "Host": "h"}, b"{}"
    )
    with pytest.raises(InvalidAction) as caught:
        CATALOG.resolve(request, signing_service="organizations")
    assert caught.value.wire_json_code == "UnknownOperationException"


def test_target_of_a_newer_model_resolves_to_an_unknown_operation() -> None:
    request = HttpRequest.build(
        "POST", "/", "", {"X-Amz-Target": "AWSOrganizationsV20161128.Explode", "Host": "h"}, b"{}"
    )
    ref = CATALOG.resolve(request, signing_service="organizations")
    assert (ref.service_name, ref.name, ref.known, ref.protocol) == (
        "organizations",
        "Explode",
        False,
        "json",
    )


def test_rest_request_routes_by_method_and_path() -> None:
    request = botocore_request("accessanalyzer", "GetArchiveRule", {"analyzerName": "a", "ruleName": "r"})
    ref = CATALOG.resolve(request, signing_service="access-analyzer")
    assert ref.name == "GetArchiveRule"
    assert dict(ref.path_params) == {"analyzerName": "a", "ruleName": "r"}
    delete = dataclasses.replace(request, method="DELETE")
    assert CATALOG.resolve(delete, signing_service="access-analyzer").name == "DeleteArchiveRule"


def test_rest_routes_of_several_services_do_not_collide() -> None:
    profiles = botocore_request("rolesanywhere", "ListProfiles")
    assert CATALOG.resolve(profiles).service_name == "rolesanywhere"
    analyzers = botocore_request("accessanalyzer", "ListAnalyzers")
    assert CATALOG.resolve(analyzers).service_name == "accessanalyzer"


def test_operation_ref_for_tests_and_tools() -> None:
    ref = CATALOG.operation_ref("accessanalyzer", "GetAnalyzer", {"analyzerName": "x"})
    assert ref.name == "GetAnalyzer"
    assert ref.path_params["analyzerName"] == "x"
