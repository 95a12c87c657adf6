"""ValidatePolicy end to end: boto3's ``accessanalyzer`` client against a real ``iamd serve``.

Request and answer shapes are botocore's model (REST-JSON, POST /policy/validation); the issue
codes and finding types are AWS's (IAM User Guide, "IAM policy validation check reference")."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError
from tests.e2e.harness import Server
from tests.e2e.policy_helpers import unvalidated_client

IDENTITY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObjekt", "iam:PassRole", "ec2:RunInstance"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceIp": "203.0.113.0/24"}},
            }
        ],
    },
    indent=2,
)


@pytest.fixture(scope="module")
def analyzer(server: Server) -> Any:
    return server.client("accessanalyzer")


def _codes(answer: dict[str, Any]) -> list[str]:
    return [f["issueCode"] for f in answer["findings"]]


def test_identity_policy_findings_have_codes_links_and_spans(analyzer: Any) -> None:
    answer = analyzer.validate_policy(policyDocument=IDENTITY, policyType="IDENTITY_POLICY")
    codes = _codes(answer)
    assert codes.count("INVALID_ACTION") == 2
    assert "PASS_ROLE_WITH_STAR_IN_RESOURCE" in codes
    assert "TYPE_MISMATCH" in codes
    first = answer["findings"][0]
    assert first["findingType"] == "ERROR"
    assert "s3:GetObject" in first["findingDetails"]  # says what to write instead
    assert first["learnMoreLink"].endswith("#access-analyzer-reference-policy-checks-error-invalid-action")
    location = first["locations"][0]
    assert location["path"] == [{"value": "Statement"}, {"index": 0}, {"value": "Action"}, {"index": 0}]
    span = location["span"]
    assert IDENTITY[span["start"]["offset"] : span["end"]["offset"]] == '"s3:GetObjekt"'


def test_resource_policy_for_a_bucket(analyzer: Any) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                "Action": ["s3:GetObject", "kms:Decrypt"],
                "Resource": "arn:aws:s3:::example-bucket/*",
            }
        ],
    }
    answer = analyzer.validate_policy(
        policyDocument=json.dumps(policy),
        policyType="RESOURCE_POLICY",
        validatePolicyResourceType="AWS::S3::Bucket",
    )
    assert _codes(answer) == ["UNSUPPORTED_ACTION_IN_POLICY"]


def test_role_trust_policy(analyzer: Any) -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {
                    "Federated": "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"
                },
                "Action": "sts:AssumeRoleWithWebIdentity",
            }
        ],
    }
    answer = analyzer.validate_policy(
        policyDocument=json.dumps(trust),
        policyType="RESOURCE_POLICY",
        validatePolicyResourceType="AWS::IAM::AssumeRolePolicyDocument",
    )
    assert _codes(answer) == ["MISSING_GITHUB_REPO_CONDITION_KEY"]
    assert answer["findings"][0]["findingType"] == "SECURITY_WARNING"


def test_service_and_resource_control_policies(analyzer: Any) -> None:
    scp = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "s3:*Object", "Resource": "*"}],
    }
    answer = analyzer.validate_policy(policyDocument=json.dumps(scp), policyType="SERVICE_CONTROL_POLICY")
    assert _codes(answer) == ["SCP_SYNTAX_ERROR_ACTION_WILDCARD"]
    rcp = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "ec2:RunInstances",
                "Resource": "*",
            }
        ],
    }
    answer = analyzer.validate_policy(policyDocument=json.dumps(rcp), policyType="RESOURCE_CONTROL_POLICY")
    assert _codes(answer) == ["RCP_SYNTAX_ERROR_ACTION"]


def test_clean_policy_has_no_findings(analyzer: Any) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"}],
    }
    answer = analyzer.validate_policy(
        policyDocument=json.dumps(policy), policyType="IDENTITY_POLICY", locale="JA"
    )
    assert answer["findings"] == []


def test_paging_with_max_results_and_next_token(analyzer: Any) -> None:
    everything = analyzer.validate_policy(policyDocument=IDENTITY, policyType="IDENTITY_POLICY")["findings"]
    assert len(everything) >= 4
    pages, token = [], None
    while True:
        kwargs: dict[str, Any] = {"maxResults": 1}
        if token:
            kwargs["nextToken"] = token
        page = analyzer.validate_policy(policyDocument=IDENTITY, policyType="IDENTITY_POLICY", **kwargs)
        assert len(page["findings"]) <= 1
        pages.extend(page["findings"])
        token = page.get("nextToken")
        if not token:
            break
    assert pages == everything
    paginated = analyzer.get_paginator("validate_policy").paginate(
        policyDocument=IDENTITY, policyType="IDENTITY_POLICY", PaginationConfig={"PageSize": 2}
    )
    assert [f for p in paginated for f in p["findings"]] == everything


def test_a_token_from_another_policy_is_refused(analyzer: Any) -> None:
    token = analyzer.validate_policy(policyDocument=IDENTITY, policyType="IDENTITY_POLICY", maxResults=1)[
        "nextToken"
    ]
    with pytest.raises(ClientError) as err:
        analyzer.validate_policy(
            policyDocument=IDENTITY, policyType="SERVICE_CONTROL_POLICY", nextToken=token
        )
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert err.value.response["fieldList"][0]["name"] == "nextToken"
    with pytest.raises(ClientError) as err:
        analyzer.validate_policy(policyDocument=IDENTITY, policyType="IDENTITY_POLICY", nextToken="garbage!")
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_bad_requests_are_validation_exceptions(server: Server, analyzer: Any) -> None:
    with pytest.raises(ParamValidationError):
        analyzer.validate_policy(policyDocument=IDENTITY)
    unchecked = unvalidated_client(server, "accessanalyzer")
    with pytest.raises(ClientError) as err:
        unchecked.validate_policy(policyDocument=IDENTITY, policyType="SESSION_POLICY")
    error = err.value.response
    assert error["Error"]["Code"] == "ValidationException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["fieldList"][0]["name"] == "policyType"
    assert "IDENTITY_POLICY" in error["fieldList"][0]["message"]
    with pytest.raises(ClientError) as err:
        unchecked.validate_policy(
            policyDocument=IDENTITY,
            policyType="IDENTITY_POLICY",
            validatePolicyResourceType="AWS::S3::Bucket",
        )
    assert err.value.response["fieldList"][0]["name"] == "validatePolicyResourceType"
    with pytest.raises(ClientError) as err:
        unchecked.validate_policy(policyDocument=IDENTITY, policyType="IDENTITY_POLICY", maxResults=0)
    assert err.value.response["fieldList"][0]["name"] == "maxResults"
    with pytest.raises(ClientError) as err:
        unchecked.validate_policy(policyDocument=IDENTITY, policyType="IDENTITY_POLICY", locale="XX")
    assert err.value.response["fieldList"][0]["name"] == "locale"
    with pytest.raises(ClientError) as err:
        unchecked.validate_policy(policyType="IDENTITY_POLICY")
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert err.value.response["fieldList"][0]["name"] == "policyDocument"
    with pytest.raises(ClientError) as err:
        unchecked.validate_policy(policyDocument="  ", policyType="IDENTITY_POLICY")
    assert err.value.response["fieldList"][0]["name"] == "policyDocument"


def test_malformed_document_is_a_finding_not_an_error(analyzer: Any) -> None:
    answer = analyzer.validate_policy(
        policyDocument='{"Version": "2012-10-17", ', policyType="IDENTITY_POLICY"
    )
    assert _codes(answer) == ["JSON_SYNTAX_ERROR"]
    assert answer["findings"][0]["locations"][0]["span"]["start"]["line"] == 1


def test_validate_policy_is_authorized(server: Server, iam: Any) -> None:
    iam.create_user(UserName="aa-nobody")
    key = iam.create_access_key(UserName="aa-nobody")["AccessKey"]
    analyzer = server.client("accessanalyzer", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as err:
        analyzer.validate_policy(policyDocument=IDENTITY, policyType="IDENTITY_POLICY")
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "access-analyzer:ValidatePolicy" in err.value.response["Error"]["Message"]
