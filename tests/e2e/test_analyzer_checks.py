"""Access Analyzer's custom policy checks end to end, through boto3's ``accessanalyzer`` client
against a real ``iamd serve``: CheckNoNewAccess, CheckAccessNotGranted, CheckNoPublicAccess, and
their errors (access_analyzer_api.md §5, §7.5; messages as in AWS's CLI and SDK examples)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.e2e.harness import Server


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


READ = _doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/*"})
READ_WRITE = _doc(
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/*"},
    {"Sid": "Writes", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::reports/*"},
)


@pytest.fixture(scope="module")
def analyzer(server: Server) -> Any:
    return server.client("accessanalyzer")


def test_no_new_access_fails_with_the_statement_and_a_counterexample(analyzer: Any) -> None:
    """AWS CLI check-no-new-access.rst: FAIL, 'The modified permissions grant new access compared
    to your existing policy.', a reason naming the statement."""
    out = analyzer.check_no_new_access(
        newPolicyDocument=READ_WRITE, existingPolicyDocument=READ, policyType="IDENTITY_POLICY"
    )
    assert out["result"] == "FAIL"
    assert out["message"].startswith(
        "The modified permissions grant new access compared to your existing policy."
    )
    assert "s3:PutObject" in out["message"] and "confirmed by iamd's evaluator" in out["message"]
    assert out["reasons"] == [
        {
            "description": "New access in the statement with sid: Writes.",
            "statementIndex": 1,
            "statementId": "Writes",
        }
    ]


def test_no_new_access_passes_when_the_new_policy_is_narrower(analyzer: Any) -> None:
    out = analyzer.check_no_new_access(
        newPolicyDocument=READ, existingPolicyDocument=READ_WRITE, policyType="IDENTITY_POLICY"
    )
    assert out["result"] == "PASS"
    assert "reasons" not in out or out["reasons"] == []


def test_no_new_access_sees_a_removed_deny(analyzer: Any) -> None:
    guarded = _doc(
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {
            "Effect": "Deny",
            "Action": "s3:DeleteObject",
            "Resource": "*",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}},
        },
    )
    loose = _doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    out = analyzer.check_no_new_access(
        newPolicyDocument=loose, existingPolicyDocument=guarded, policyType="IDENTITY_POLICY"
    )
    assert out["result"] == "FAIL"
    assert "s3:DeleteObject" in out["message"]


def test_access_not_granted_actions(analyzer: Any) -> None:
    failed = analyzer.check_access_not_granted(
        policyDocument=READ_WRITE, access=[{"actions": ["s3:PutObject"]}], policyType="IDENTITY_POLICY"
    )
    assert failed["result"] == "FAIL"
    assert failed["message"].startswith(
        "The policy document grants access to perform one or more of the listed actions."
    )
    assert failed["reasons"][0]["statementId"] == "Writes"
    passed = analyzer.check_access_not_granted(
        policyDocument=READ_WRITE, access=[{"actions": ["s3:DeleteObject"]}], policyType="IDENTITY_POLICY"
    )
    assert passed == {
        **passed,
        "result": "PASS",
        "message": "The policy document does not grant access to perform the listed actions.",
    }


def test_access_not_granted_resources(analyzer: Any) -> None:
    failed = analyzer.check_access_not_granted(
        policyDocument=READ,
        access=[{"resources": ["arn:aws:s3:::reports/2024/*"]}],
        policyType="IDENTITY_POLICY",
    )
    assert failed["result"] == "FAIL"
    passed = analyzer.check_access_not_granted(
        policyDocument=READ,
        access=[{"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::secrets/*"]}],
        policyType="IDENTITY_POLICY",
    )
    assert passed["result"] == "PASS"
    assert (
        passed["message"]
        == "The policy document does not grant access to perform the listed actions or resources."
    )


def test_no_public_access(analyzer: Any) -> None:
    """S3 Block Public Access's examples: Principal "*" limited by a wildcard VPC is public; pinned
    to one VPC it is not."""
    public = _doc(
        {
            "Sid": "Bob",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/*",
            "Condition": {"StringLike": {"aws:SourceVpc": "vpc-*"}},
        }
    )
    out = analyzer.check_no_public_access(policyDocument=public, resourceType="AWS::S3::Bucket")
    assert out["result"] == "FAIL"
    assert out["message"].startswith("The resource policy grants public access for the given resource type.")
    assert (
        out["reasons"][0]["description"] == "Public access granted in the following statement with sid: Bob."
    )
    pinned = public.replace('"StringLike"', '"StringEquals"').replace("vpc-*", "vpc-91237329")
    out = analyzer.check_no_public_access(policyDocument=pinned, resourceType="AWS::S3::Bucket")
    assert out["result"] == "PASS"
    trust = _doc(
        {
            "Effect": "Allow",
            "Principal": {"Federated": "accounts.google.com"},
            "Action": "sts:AssumeRoleWithWebIdentity",
        }
    )
    out = analyzer.check_no_public_access(
        policyDocument=trust, resourceType="AWS::IAM::AssumeRolePolicyDocument"
    )
    assert out["result"] == "FAIL"


def test_errors(analyzer: Any) -> None:
    with pytest.raises(ClientError) as bad_json:
        analyzer.check_no_new_access(
            newPolicyDocument="{", existingPolicyDocument=READ, policyType="IDENTITY_POLICY"
        )
    assert bad_json.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "newPolicyDocument" in bad_json.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as wildcard_action:
        analyzer.check_access_not_granted(
            policyDocument=READ, access=[{"actions": ["s3:Get*"]}], policyType="IDENTITY_POLICY"
        )
    assert wildcard_action.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as wildcard_account:
        analyzer.check_access_not_granted(
            policyDocument=READ, access=[{"resources": ["arn:aws:s3:*::b"]}], policyType="IDENTITY_POLICY"
        )
    assert wildcard_account.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as empty:
        analyzer.check_access_not_granted(policyDocument=READ, access=[{}], policyType="IDENTITY_POLICY")
    assert empty.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as bad_type:
        analyzer.check_no_public_access(policyDocument=READ, resourceType="AWS::EC2::Instance")
    assert bad_type.value.response["Error"]["Code"] == "ValidationException"
    assert bad_type.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_the_caller_needs_the_access_analyzer_permission(server: Server, iam: Any) -> None:
    """The operations authorize access-analyzer:CheckNoNewAccess (etc.) on "*"."""
    iam.create_user(UserName="no-analyzer")
    iam.put_user_policy(
        UserName="no-analyzer",
        PolicyName="inline",
        PolicyDocument=_doc(
            {"Effect": "Allow", "Action": "access-analyzer:CheckAccessNotGranted", "Resource": "*"}
        ),
    )
    key = iam.create_access_key(UserName="no-analyzer")["AccessKey"]
    client = server.client("accessanalyzer", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as denied:
        client.check_no_new_access(
            newPolicyDocument=READ, existingPolicyDocument=READ, policyType="IDENTITY_POLICY"
        )
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    allowed = client.check_access_not_granted(
        policyDocument=READ, access=[{"actions": ["s3:PutObject"]}], policyType="IDENTITY_POLICY"
    )
    assert allowed["result"] == "PASS"
