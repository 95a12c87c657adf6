"""Policy generation end to end: CloudTrail's ``cloudtrail`` client shows iamd's trail (named
``iamd``); a user and a role session make real calls; StartPolicyGeneration over that trail's ARN
and GetGeneratedPolicy list exactly the actions they made (denied calls and iam:PassRole left
out); ListPolicyGenerations, CancelPolicyGeneration, the 90-day window, and a job over an unknown
trail failing with RESOURCE_NOT_FOUND_ERROR.

Facts: shared/spec/access_analyzer_api.md §4 (AWS CLI get-generated-policy example: Sid
``SupportedServiceSid0``, sorted actions, Resource ``*``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.e2e.harness import ACCOUNT_ID, Server, start_server, stop_server
from tests.e2e.policy_helpers import error_of


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("iamd-generation") / "data")
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def aa(server: Server) -> Any:
    return server.client("accessanalyzer")


@pytest.fixture(scope="module")
def trail_arn(server: Server) -> str:
    cloudtrail = server.client("cloudtrail")
    [trail] = cloudtrail.describe_trails()["trailList"]
    assert trail["Name"] == "iamd"
    assert trail["IsMultiRegionTrail"] is True
    assert cloudtrail.get_trail(Name="iamd")["Trail"]["TrailARN"] == trail["TrailARN"]
    assert cloudtrail.get_trail(Name=trail["TrailARN"])["Trail"]["Name"] == "iamd"
    assert cloudtrail.get_trail_status(Name=trail["TrailARN"])["IsLogging"] is True
    with pytest.raises(ClientError) as exc:
        cloudtrail.get_trail(Name="other")
    assert error_of(exc)[1] == "TrailNotFoundException"
    arn: str = trail["TrailARN"]
    assert arn == f"arn:aws:cloudtrail:us-east-1:{ACCOUNT_ID}:trail/iamd"
    return arn


@pytest.fixture(scope="module")
def access_role(server: Server) -> str:
    iam = server.client("iam")
    trusted = doc(
        {
            "Effect": "Allow",
            "Principal": {"Service": "access-analyzer.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    )
    arn: str = iam.create_role(
        RoleName="AccessAnalyzerMonitorServiceRole", Path="/service-role/", AssumeRolePolicyDocument=trusted
    )["Role"]["Arn"]
    return arn


def details(trail_arn: str, access_role: str, start: datetime, end: datetime | None = None) -> dict[str, Any]:
    cloudtrail: dict[str, Any] = {
        "trails": [{"cloudTrailArn": trail_arn, "allRegions": True}],
        "accessRole": access_role,
        "startTime": start,
    }
    if end is not None:
        cloudtrail["endTime"] = end
    return cloudtrail


def generated(aa: Any, job_id: str, **flags: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    got = aa.get_generated_policy(jobId=job_id, **flags)
    assert got["jobDetails"]["status"] == "SUCCEEDED"
    result = got["generatedPolicyResult"]
    statements = [s for p in result["generatedPolicies"] for s in json.loads(p["policy"])["Statement"]]
    return result, statements


def test_a_users_calls_become_its_policy(server: Server, aa: Any, trail_arn: str, access_role: str) -> None:
    iam = server.client("iam")
    start = datetime.now(UTC) - timedelta(minutes=5)
    iam.create_user(UserName="gen-user")
    iam.put_user_policy(
        UserName="gen-user",
        PolicyName="p",
        PolicyDocument=doc(
            {
                "Effect": "Allow",
                "Action": ["iam:Get*", "iam:ListRoles", "iam:ListAccessKeys", "sts:*"],
                "Resource": "*",
            }
        ),
    )
    key = iam.create_access_key(UserName="gen-user")["AccessKey"]
    user_iam = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    user_sts = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    user_iam.get_user()
    user_iam.list_roles()
    user_iam.list_access_keys()  # its own keys: no UserName, so the trail names no resource
    user_sts.get_caller_identity()
    with pytest.raises(ClientError):
        user_iam.list_users()  # denied: not in the generated policy

    user_arn = f"arn:aws:iam::{ACCOUNT_ID}:user/gen-user"
    job = aa.start_policy_generation(
        policyGenerationDetails={"principalArn": user_arn},
        cloudTrailDetails=details(trail_arn, access_role, start),
    )["jobId"]
    result, statements = generated(aa, job)
    assert result["properties"]["principalArn"] == user_arn
    assert result["properties"]["isComplete"] is True
    assert result["properties"]["cloudTrailProperties"]["trailProperties"][0]["cloudTrailArn"] == trail_arn
    actions = sorted(a for s in statements for a in s["Action"])
    assert actions == ["iam:GetUser", "iam:ListAccessKeys", "iam:ListRoles", "sts:GetCallerIdentity"]
    by_action = {a: s["Resource"] for s in statements for a in s["Action"]}
    assert by_action["iam:GetUser"] == [user_arn]  # the trail names the user it read
    assert by_action["iam:ListAccessKeys"] == by_action["iam:ListRoles"] == "*"
    assert statements[0]["Sid"] == "SupportedServiceSid0"
    assert all(s["Effect"] == "Allow" for s in statements)

    # With placeholders, actions that take a resource name its ARN template instead of "*".
    _, placed = generated(aa, job, includeResourcePlaceholders=True)
    by_action = {a: s["Resource"] for s in placed for a in s["Action"]}
    assert by_action["iam:ListAccessKeys"] == [f"arn:aws:iam::{ACCOUNT_ID}:user/${{UserNameWithPath}}"]
    assert by_action["iam:ListRoles"] == "*"  # takes no resource
    assert by_action["iam:GetUser"] == [user_arn]

    listed = aa.list_policy_generations(principalArn=user_arn)["policyGenerations"]
    assert [(g["jobId"], g["status"]) for g in listed] == [(job, "SUCCEEDED")]
    aa.cancel_policy_generation(jobId=job)  # finished already: stays as it finished
    assert aa.get_generated_policy(jobId=job)["jobDetails"]["status"] == "SUCCEEDED"


def test_a_role_sessions_calls_become_the_roles_policy(
    server: Server, aa: Any, trail_arn: str, access_role: str
) -> None:
    iam = server.client("iam")
    start = datetime.now(UTC) - timedelta(minutes=5)
    role = iam.create_role(
        RoleName="gen-role",
        AssumeRolePolicyDocument=doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                "Action": "sts:AssumeRole",
            }
        ),
    )["Role"]
    iam.put_role_policy(
        RoleName="gen-role",
        PolicyName="p",
        PolicyDocument=doc({"Effect": "Allow", "Action": "iam:*", "Resource": "*"}),
    )
    credentials = server.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="gen-session")[
        "Credentials"
    ]
    session = server.client(
        "iam", credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"]
    )
    session.list_users()
    session.get_role(RoleName="gen-role")

    job = aa.start_policy_generation(
        policyGenerationDetails={"principalArn": role["Arn"]},
        cloudTrailDetails=details(trail_arn, access_role, start),
    )["jobId"]
    _, statements = generated(aa, job)
    assert sorted(a for s in statements for a in s["Action"]) == ["iam:GetRole", "iam:ListUsers"]
    # Narrowed where the trail names the resource: GetRole named the role; ListUsers names none.
    by_action = {a: s["Resource"] for s in statements for a in s["Action"]}
    assert by_action == {"iam:GetRole": [role["Arn"]], "iam:ListUsers": "*"}


def test_bad_requests(aa: Any, trail_arn: str, access_role: str) -> None:
    user_arn = f"arn:aws:iam::{ACCOUNT_ID}:user/gen-user"
    now = datetime.now(UTC)
    with pytest.raises(ClientError) as exc:
        aa.start_policy_generation(
            policyGenerationDetails={"principalArn": user_arn},
            cloudTrailDetails=details(trail_arn, access_role, now - timedelta(days=100), now),
        )
    assert error_of(exc)[:2] == (400, "ValidationException")
    with pytest.raises(ClientError) as exc:
        aa.start_policy_generation(
            policyGenerationDetails={"principalArn": f"arn:aws:iam::{ACCOUNT_ID}:role/missing"},
            cloudTrailDetails=details(trail_arn, access_role, now - timedelta(days=1)),
        )
    assert error_of(exc)[:2] == (400, "ValidationException")
    other_trail = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT_ID}:trail/elsewhere"
    job = aa.start_policy_generation(
        policyGenerationDetails={"principalArn": user_arn},
        cloudTrailDetails=details(other_trail, access_role, now - timedelta(days=1)),
    )["jobId"]
    failed = aa.get_generated_policy(jobId=job)
    assert failed["jobDetails"]["status"] == "FAILED"
    assert failed["jobDetails"]["jobError"]["code"] == "RESOURCE_NOT_FOUND_ERROR"
    assert "generatedPolicyResult" not in failed
    with pytest.raises(ClientError) as exc:
        aa.get_generated_policy(jobId="00000000-0000-0000-0000-000000000000")
    assert error_of(exc)[:2] == (400, "ValidationException")
    # The same client token: the same job.
    again = aa.start_policy_generation(
        policyGenerationDetails={"principalArn": user_arn},
        cloudTrailDetails=details(trail_arn, access_role, now - timedelta(days=1)),
        clientToken="same-token",
    )["jobId"]
    assert (
        aa.start_policy_generation(
            policyGenerationDetails={"principalArn": user_arn},
            cloudTrailDetails=details(trail_arn, access_role, now - timedelta(days=1)),
            clientToken="same-token",
        )["jobId"]
        == again
    )
