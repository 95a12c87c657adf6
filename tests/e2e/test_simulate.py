"""The policy simulator end to end: SimulatePrincipalPolicy and SimulateCustomPolicy decide with the
server's own evaluator; GetContextKeysFor*Policy list the keys the policies read."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.e2e.harness import ACCOUNT_ID, Server, new_user_client
from tests.e2e.policy_helpers import allow, deny, error_of, policy, trust

BUCKET = "arn:aws:s3:::reports"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def results(answer: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["EvalActionName"], r["EvalResourceName"]): r for r in answer["EvaluationResults"]}


@pytest.fixture(scope="module")
def analyst(iam: Any) -> str:
    iam.create_user(UserName="analyst")
    iam.put_user_policy(
        UserName="analyst",
        PolicyName="reports",
        PolicyDocument=policy(allow("s3:GetObject", f"{BUCKET}/*"), deny("s3:DeleteObject", f"{BUCKET}/*")),
    )
    iam.attach_user_policy(UserName="analyst", PolicyArn=READ_ONLY)
    return f"arn:aws:iam::{ACCOUNT_ID}:user/analyst"


def test_simulate_principal_policy_decisions(iam: Any, analyst: str) -> None:
    answer = iam.simulate_principal_policy(
        PolicySourceArn=analyst,
        ActionNames=["s3:GetObject", "s3:DeleteObject", "s3:PutObject"],
        ResourceArns=[f"{BUCKET}/2024.csv"],
    )
    found = results(answer)
    get = found[("s3:GetObject", f"{BUCKET}/2024.csv")]
    assert get["EvalDecision"] == "allowed"
    sources = {(m["SourcePolicyId"], m["SourcePolicyType"]) for m in get["MatchedStatements"]}
    assert ("reports", "user") in sources or ("ReadOnlyAccess", "aws-managed") in sources
    delete = found[("s3:DeleteObject", f"{BUCKET}/2024.csv")]
    assert delete["EvalDecision"] == "explicitDeny"
    assert delete["MatchedStatements"][0]["SourcePolicyId"] == "reports"
    assert delete["MatchedStatements"][0]["StartPosition"]["Line"] == 1
    put = found[("s3:PutObject", f"{BUCKET}/2024.csv")]
    assert put["EvalDecision"] == "implicitDeny" and put["MatchedStatements"] == []

    # Managed policies are simulated too: ReadOnlyAccess allows iam:ListUsers, not iam:CreateUser.
    answer = iam.simulate_principal_policy(
        PolicySourceArn=analyst, ActionNames=["iam:ListUsers", "iam:CreateUser"]
    )
    decisions = {r["EvalActionName"]: r for r in answer["EvaluationResults"]}
    assert decisions["iam:ListUsers"]["EvalDecision"] == "allowed"
    assert decisions["iam:ListUsers"]["EvalResourceName"] == "*"
    assert decisions["iam:ListUsers"]["MatchedStatements"][0] == {
        **decisions["iam:ListUsers"]["MatchedStatements"][0],
        "SourcePolicyId": "ReadOnlyAccess",
        "SourcePolicyType": "aws-managed",
    }
    assert decisions["iam:CreateUser"]["EvalDecision"] == "implicitDeny"


def test_simulate_with_added_policies_boundary_and_exclusions(iam: Any, analyst: str) -> None:
    answer = iam.simulate_principal_policy(
        PolicySourceArn=analyst,
        PolicyInputList=[policy(allow("sqs:SendMessage"))],
        PermissionsBoundaryPolicyInputList=[policy(allow("s3:*"))],
        ActionNames=["sqs:SendMessage", "s3:GetObject"],
        ResourceArns=[f"{BUCKET}/x"],
    )
    found = {r["EvalActionName"]: r for r in answer["EvaluationResults"]}
    assert found["sqs:SendMessage"]["EvalDecision"] == "implicitDeny"
    assert found["sqs:SendMessage"]["PermissionsBoundaryDecisionDetail"] == {
        "AllowedByPermissionsBoundary": False
    }
    assert found["s3:GetObject"]["EvalDecision"] == "allowed"
    assert found["s3:GetObject"]["PermissionsBoundaryDecisionDetail"] == {
        "AllowedByPermissionsBoundary": True
    }

    # Leaving the user's inline policy out lifts its deny.
    answer = iam.simulate_principal_policy(
        PolicySourceArn=analyst,
        PolicyInputList=[policy(allow("s3:DeleteObject"))],
        PolicyExclusionList=[
            {
                "InlinePolicyIdentifier": {
                    "PolicyName": "reports",
                    "AttachmentType": "user",
                    "AttachmentName": "analyst",
                }
            }
        ],
        ActionNames=["s3:DeleteObject"],
        ResourceArns=[f"{BUCKET}/x"],
    )
    only = answer["EvaluationResults"][0]
    assert only["EvalDecision"] == "allowed"
    assert only["MatchedStatements"][0]["SourcePolicyId"] == "PolicyInputList.1"

    # Leaving out the managed policy by ARN, or every inline policy by type, takes their grants away.
    answer = iam.simulate_principal_policy(
        PolicySourceArn=analyst,
        PolicyExclusionList=[{"PolicyArn": READ_ONLY}, {"PolicyType": "inline"}],
        ActionNames=["iam:ListUsers", "s3:GetObject"],
        ResourceArns=[f"{BUCKET}/x"],
    )
    assert {r["EvalDecision"] for r in answer["EvaluationResults"]} == {"implicitDeny"}


def test_simulate_context_entries_and_missing_values(iam: Any) -> None:
    conditional = policy(
        allow(
            "ec2:RunInstances",
            Condition={
                "StringEquals": {"aws:RequestedRegion": "eu-west-1"},
                "Bool": {"aws:SecureTransport": "true"},
            },
        )
    )
    answer = iam.simulate_custom_policy(PolicyInputList=[conditional], ActionNames=["ec2:RunInstances"])
    only = answer["EvaluationResults"][0]
    assert only["EvalDecision"] == "implicitDeny"
    assert only["MissingContextValues"] == ["aws:RequestedRegion", "aws:SecureTransport"]
    answer = iam.simulate_custom_policy(
        PolicyInputList=[conditional],
        ActionNames=["ec2:RunInstances"],
        ContextEntries=[
            {
                "ContextKeyName": "aws:RequestedRegion",
                "ContextKeyValues": ["eu-west-1"],
                "ContextKeyType": "string",
            },
            {
                "ContextKeyName": "aws:SecureTransport",
                "ContextKeyValues": ["true"],
                "ContextKeyType": "boolean",
            },
        ],
    )
    only = answer["EvaluationResults"][0]
    assert only["EvalDecision"] == "allowed" and only["MissingContextValues"] == []


def test_simulate_statement_positions(iam: Any) -> None:
    text = json.dumps(
        {"Version": "2012-10-17", "Statement": [allow("s3:ListBucket"), allow("s3:GetObject")]}, indent=2
    )
    answer = iam.simulate_custom_policy(PolicyInputList=[text], ActionNames=["s3:GetObject"])
    statement = answer["EvaluationResults"][0]["MatchedStatements"][0]
    lines = text.splitlines()
    start, end = statement["StartPosition"], statement["EndPosition"]
    assert lines[start["Line"] - 1][start["Column"] - 1] == "{"
    assert lines[end["Line"] - 1][end["Column"] - 2] == "}"
    assert "s3:GetObject" in "\n".join(lines[start["Line"] - 1 : end["Line"]])


def test_simulate_custom_policy_with_resource_policy_and_scps(iam: Any) -> None:
    caller = f"arn:aws:iam::{ACCOUNT_ID}:user/analyst"
    resource_policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": caller}, "Action": "s3:GetObject", "Resource": "*"}
            ],
        }
    )
    answer = iam.simulate_custom_policy(
        PolicyInputList=[policy(allow("sqs:*"))],
        ResourcePolicy=resource_policy,
        CallerArn=caller,
        ActionNames=["s3:GetObject"],
        ResourceArns=[f"{BUCKET}/x"],
    )
    only = answer["EvaluationResults"][0]
    assert only["EvalDecision"] == "allowed"
    assert only["MatchedStatements"][0]["SourcePolicyType"] == "resource"
    assert only["EvalDecisionDetails"] == {"IAM Policy": "implicitDeny", "Resource Policy": "allowed"}

    answer = iam.simulate_custom_policy(
        PolicyInputList=[policy(allow("*"))],
        OrderedOrganizationPolicyInputList=[
            {"ServiceControlPolicyInputList": [policy(allow("*"))]},
            {"ServiceControlPolicyInputList": [policy(allow("s3:*"))]},
        ],
        ActionNames=["s3:GetObject", "ec2:RunInstances"],
    )
    found = {r["EvalActionName"]: r for r in answer["EvaluationResults"]}
    assert found["s3:GetObject"]["EvalDecision"] == "allowed"
    assert found["s3:GetObject"]["OrganizationsDecisionDetail"] == {"AllowedByOrganizations": True}
    assert found["ec2:RunInstances"]["EvalDecision"] == "implicitDeny"
    assert found["ec2:RunInstances"]["OrganizationsDecisionDetail"] == {"AllowedByOrganizations": False}


def test_simulate_roles_and_groups(iam: Any) -> None:
    iam.create_role(RoleName="sim-role", AssumeRolePolicyDocument=trust())
    iam.put_role_policy(
        RoleName="sim-role", PolicyName="dynamo", PolicyDocument=policy(allow("dynamodb:Query"))
    )
    answer = iam.simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT_ID}:role/sim-role",
        ActionNames=["dynamodb:Query", "dynamodb:Scan"],
    )
    found = {r["EvalActionName"]: r["EvalDecision"] for r in answer["EvaluationResults"]}
    assert found == {"dynamodb:Query": "allowed", "dynamodb:Scan": "implicitDeny"}

    iam.create_group(GroupName="sim-group")
    iam.put_group_policy(GroupName="sim-group", PolicyName="logs", PolicyDocument=policy(allow("logs:*")))
    answer = iam.simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT_ID}:group/sim-group", ActionNames=["logs:PutLogEvents"]
    )
    only = answer["EvaluationResults"][0]
    assert only["EvalDecision"] == "allowed"
    assert only["MatchedStatements"][0]["SourcePolicyType"] == "group"

    # A user's group policies count for the user.
    iam.create_user(UserName="sim-member")
    iam.add_user_to_group(GroupName="sim-group", UserName="sim-member")
    answer = iam.simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT_ID}:user/sim-member", ActionNames=["logs:PutLogEvents"]
    )
    assert answer["EvaluationResults"][0]["EvalDecision"] == "allowed"


def test_simulate_errors_and_pagination(iam: Any) -> None:
    with pytest.raises(ClientError) as exc:
        iam.simulate_principal_policy(
            PolicySourceArn=f"arn:aws:iam::{ACCOUNT_ID}:user/nobody-here", ActionNames=["s3:GetObject"]
        )
    assert error_of(exc)[:2] == (404, "NoSuchEntity")
    with pytest.raises(ClientError) as exc:
        iam.simulate_custom_policy(PolicyInputList=['{"Statement": 5}'], ActionNames=["s3:GetObject"])
    status, code, message = error_of(exc)
    assert (status, code) == (400, "MalformedPolicyDocument")
    assert "PolicyInputList.1" in message
    actions = [f"s3:Get{n}" for n in range(5)]
    first = iam.simulate_custom_policy(
        PolicyInputList=[policy(allow("s3:*"))], ActionNames=actions, MaxItems=3
    )
    assert len(first["EvaluationResults"]) == 3 and first["IsTruncated"]
    rest = iam.simulate_custom_policy(
        PolicyInputList=[policy(allow("s3:*"))], ActionNames=actions, MaxItems=3, Marker=first["Marker"]
    )
    assert [r["EvalActionName"] for r in first["EvaluationResults"] + rest["EvaluationResults"]] == actions


def test_context_keys(iam: Any) -> None:
    document = policy(
        allow(
            "s3:GetObject",
            "arn:aws:s3:::home/${aws:username}/*",
            Condition={
                "StringEquals": {"aws:PrincipalTag/team": "blue", "s3:ExistingObjectTag/kind": "report"},
                "IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
            },
        )
    )
    keys = iam.get_context_keys_for_custom_policy(PolicyInputList=[document])["ContextKeyNames"]
    assert keys == ["aws:PrincipalTag/team", "aws:SourceIp", "aws:username", "s3:ExistingObjectTag/kind"]

    iam.create_user(UserName="keyed-user")
    iam.put_user_policy(
        UserName="keyed-user",
        PolicyName="mfa",
        PolicyDocument=policy(allow("ec2:*", Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})),
    )
    keys = iam.get_context_keys_for_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT_ID}:user/keyed-user", PolicyInputList=[document]
    )["ContextKeyNames"]
    assert "aws:MultiFactorAuthPresent" in keys and "aws:SourceIp" in keys


def test_simulation_is_authorized(server: Server, iam: Any, analyst: str) -> None:
    client = new_user_client(server, iam, "sim-outsider", policy(allow("iam:SimulateCustomPolicy")))
    answer = client.simulate_custom_policy(
        PolicyInputList=[policy(allow("s3:*"))], ActionNames=["s3:GetObject"]
    )
    assert answer["EvaluationResults"][0]["EvalDecision"] == "allowed"
    with pytest.raises(ClientError) as exc:
        client.simulate_principal_policy(PolicySourceArn=analyst, ActionNames=["s3:GetObject"])
    status, code, message = error_of(exc)
    assert (status, code) == (403, "AccessDenied")
    assert f"iam:SimulatePrincipalPolicy on resource: {analyst}" in message


def test_aws_cli_simulates(server: Server, analyst: str) -> None:
    done = server.cli(
        "iam",
        "simulate-principal-policy",
        "--policy-source-arn",
        analyst,
        "--action-names",
        "s3:GetObject",
        "s3:DeleteObject",
        "--resource-arns",
        f"{BUCKET}/a",
    )
    assert done.returncode == 0, done.stderr
    decisions = {r["EvalActionName"]: r["EvalDecision"] for r in json.loads(done.stdout)["EvaluationResults"]}
    assert decisions == {"s3:GetObject": "allowed", "s3:DeleteObject": "explicitDeny"}
