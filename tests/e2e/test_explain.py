"""Denials explained down to the condition, end to end through boto3: the policy simulator's
results and the message DecodeAuthorizationMessage decodes name the statement that nearly allowed,
the condition operator and key, the request's value (or its absence) and the policy's values,
while AWS's AccessDenied sentence stays AWS's.

Where AWS documents the shapes: EvaluationResult (MatchedStatements, MissingContextValues,
EvalDecisionDetails: a map from a text to allowed/explicitDeny/implicitDeny),
https://docs.aws.amazon.com/IAM/latest/APIReference/API_EvaluationResult.html; the decoded
authorization message (allowed, explicitDeny, matchedStatements, failures, context),
https://docs.aws.amazon.com/IAM/latest/UserGuide/sts_example_sts_DecodeAuthorizationMessage_section.html.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.e2e.harness import ACCOUNT_ID, Server
from tests.e2e.policy_helpers import allow, deny, error_of, policy

OBJECT = "arn:aws:s3:::reports/2024.csv"
FROM_OFFICE = allow(
    "s3:GetObject",
    "arn:aws:s3:::reports/*",
    Sid="FromOffice",
    Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
)


def ip(address: str) -> dict[str, Any]:
    return {"ContextKeyName": "aws:SourceIp", "ContextKeyValues": [address], "ContextKeyType": "ip"}


def test_simulate_custom_policy_names_the_condition_that_failed(iam: Any) -> None:
    answer = iam.simulate_custom_policy(
        PolicyInputList=[policy(FROM_OFFICE)],
        ActionNames=["s3:GetObject"],
        ResourceArns=[OBJECT],
        ContextEntries=[ip("203.0.113.9")],
    )
    (result,) = answer["EvaluationResults"]
    assert result["EvalDecision"] == "implicitDeny"
    # AWS's fields keep AWS's meaning: an implicit deny matched no statement, and the key was given.
    assert result["MatchedStatements"] == [] and result["MissingContextValues"] == []
    assert result["EvalDecisionDetails"] == {
        "PolicyInputList.1 statement FromOffice: Condition IpAddress aws:SourceIp: "
        "request value 203.0.113.9; policy values 10.0.0.0/8": "implicitDeny"
    }

    # From inside the range the same policy allows, and no explanation is added.
    answer = iam.simulate_custom_policy(
        PolicyInputList=[policy(FROM_OFFICE)],
        ActionNames=["s3:GetObject"],
        ResourceArns=[OBJECT],
        ContextEntries=[ip("10.1.2.3")],
    )
    (result,) = answer["EvaluationResults"]
    assert result["EvalDecision"] == "allowed" and "EvalDecisionDetails" not in result


def test_simulate_absent_request_tag_and_explicit_deny(iam: Any) -> None:
    tagged = allow(
        "ec2:CreateVolume", Sid="TeamTag", Condition={"StringEquals": {"aws:RequestTag/team": "blue"}}
    )
    outside = deny("ec2:*", Sid="Outside", Condition={"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
    answer = iam.simulate_custom_policy(
        PolicyInputList=[policy(tagged), policy(outside)],
        ActionNames=["ec2:CreateVolume"],
    )
    (absent,) = answer["EvaluationResults"]
    # NotIpAddress with aws:SourceIp absent: a negated operator holds when its key is absent.
    assert absent["EvalDecision"] == "explicitDeny"
    assert absent["EvalDecisionDetails"] == {
        "PolicyInputList.2 statement Outside: denies (Condition NotIpAddress aws:SourceIp: "
        "request value absent; policy values 10.0.0.0/8)": "explicitDeny"
    }
    assert absent["MissingContextValues"] == ["aws:RequestTag/team", "aws:SourceIp"]

    answer = iam.simulate_custom_policy(
        PolicyInputList=[policy(tagged), policy(outside)],
        ActionNames=["ec2:CreateVolume"],
        ContextEntries=[ip("10.0.0.7")],
    )
    (result,) = answer["EvaluationResults"]
    assert result["EvalDecision"] == "implicitDeny"
    assert result["EvalDecisionDetails"] == {
        "PolicyInputList.1 statement TeamTag: Condition StringEquals aws:RequestTag/team: "
        "request value absent; policy values blue": "implicitDeny"
    }


def test_simulate_principal_policy_explains_too(iam: Any) -> None:
    iam.create_user(UserName="office-worker")
    iam.put_user_policy(UserName="office-worker", PolicyName="office", PolicyDocument=policy(FROM_OFFICE))
    answer = iam.simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT_ID}:user/office-worker",
        ActionNames=["s3:GetObject", "s3:PutObject"],
        ResourceArns=["arn:aws:s3:::elsewhere/x"],
        ContextEntries=[ip("10.1.2.3")],
    )
    found = {r["EvalActionName"]: r for r in answer["EvaluationResults"]}
    assert found["s3:GetObject"]["EvalDecisionDetails"] == {
        "office statement FromOffice: Resource: arn:aws:s3:::elsewhere/x does not match "
        "arn:aws:s3:::reports/*": "implicitDeny"
    }
    assert found["s3:PutObject"]["EvalDecisionDetails"] == {
        "office statement FromOffice: Action: s3:PutObject does not match s3:GetObject": "implicitDeny"
    }


def test_assume_role_denied_by_mfa_in_the_trust_policy_is_decoded_to_the_condition(
    server: Server, iam: Any
) -> None:
    """IAM User Guide, "Configuring MFA-protected API access": a trust policy can require
    aws:MultiFactorAuthPresent; a caller without MFA is refused, and DecodeAuthorizationMessage
    (https://docs.aws.amazon.com/STS/latest/APIReference/API_DecodeAuthorizationMessage.html)
    says why to a caller allowed sts:DecodeAuthorizationMessage."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlyWithMfa",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
            }
        ],
    }
    role = iam.create_role(RoleName="needs-mfa", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    iam.create_user(UserName="no-mfa")
    iam.put_user_policy(
        UserName="no-mfa", PolicyName="assume", PolicyDocument=policy(allow("sts:AssumeRole"))
    )
    key = iam.create_access_key(UserName="no-mfa")["AccessKey"]
    sts = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as denied:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1")
    status, code, message = error_of(denied)
    assert (status, code) == (403, "AccessDenied")
    user_arn = f"arn:aws:iam::{ACCOUNT_ID}:user/no-mfa"
    sentence, encoded = message.split(". Encoded authorization failure message: ", 1)
    # AWS's sentence, unchanged: the explanation is only in the encoded message.
    assert sentence == (
        f"User: {user_arn} is not authorized to perform: sts:AssumeRole on resource: {role['Arn']} "
        "because no resource-based policy allows the sts:AssumeRole action"
    )

    decoded = json.loads(
        server.client("sts").decode_authorization_message(EncodedMessage=encoded)["DecodedMessage"]
    )
    assert decoded["allowed"] is False and decoded["explicitDeny"] is False
    assert decoded["context"]["action"] == "sts:AssumeRole"
    (miss,) = decoded["iamd"]["nearMisses"]
    assert (miss["layer"], miss["policy"], miss["sid"], miss["statement"]) == (
        "resource",
        "trust-policy",
        "OnlyWithMfa",
        0,
    )
    failed = miss["failed"]
    assert (failed["element"], failed["operator"], failed["key"], failed["policyValues"]) == (
        "Condition",
        "Bool",
        "aws:MultiFactorAuthPresent",
        ["true"],
    )
    # A long-term access key carries no aws:MultiFactorAuthPresent at all (IAM User Guide, "AWS
    # global condition context keys": the key is not present for long-term credentials), so the
    # explanation says it is absent, and the request context lists no such key.
    assert failed["absent"] is True and failed["requestValues"] is None
    assert miss["text"] == (
        "resource-based policy statement trust-policy:OnlyWithMfa: Condition Bool "
        "aws:MultiFactorAuthPresent: request value absent; policy values true"
    )
    keys = {c["key"] for c in decoded["context"]["conditions"]["items"]}
    assert "aws:multifactorauthpresent" not in keys and "sts:rolesessionname" in keys
