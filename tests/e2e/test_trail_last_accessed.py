"""Last-accessed data end to end: GenerateServiceLastAccessedDetails for a user, a group, a role
and a managed policy, fed by the calls made (allowed ones only), listing every service the
policies allow (unused ones without LastAuthenticated), with action-level detail and the
per-entity view."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from tests.e2e.harness import ACCOUNT_ID, CLIENT_CONFIG, REGION, Server, start_server, stop_server

USER_ARN = f"arn:aws:iam::{ACCOUNT_ID}:user/la-user"


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("iamd-last-accessed") / "data")
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def iam(server: Server) -> Any:
    return server.client("iam")


def user_client(server: Server, iam: Any, name: str, policy: str | None = None) -> Any:
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=policy)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return server.client("iam", key["AccessKeyId"], key["SecretAccessKey"]), key


@pytest.fixture(scope="module")
def used(server: Server, iam: Any) -> dict[str, Any]:
    """la-user may GetUser, ListUsers, AssumeRole and s3:GetObject; it calls GetUser (allowed)
    and ListRoles (denied). A group of two (one calls GetUser), a role whose session calls
    ListUsers, and a managed policy attached to la-user."""
    policy = doc(allow(["iam:GetUser", "iam:ListUsers", "sts:AssumeRole", "s3:GetObject"]))
    client, key = user_client(server, iam, "la-user", policy)
    client.get_user()
    with pytest.raises(ClientError):
        client.list_roles()  # denied: not counted

    iam.create_group(GroupName="la-group")
    iam.put_group_policy(GroupName="la-group", PolicyName="g", PolicyDocument=doc(allow("iam:Get*")))
    member, _ = user_client(server, iam, "la-member")
    user_client(server, iam, "la-idle")
    iam.add_user_to_group(GroupName="la-group", UserName="la-member")
    iam.add_user_to_group(GroupName="la-group", UserName="la-idle")
    member.get_user()

    iam.create_role(
        RoleName="la-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": USER_ARN}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )
    iam.put_role_policy(RoleName="la-role", PolicyName="r", PolicyDocument=doc(allow("iam:List*")))
    sts = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/la-role", RoleSessionName="la")[
        "Credentials"
    ]
    boto3.client(
        "iam",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        config=CLIENT_CONFIG,
    ).list_users()

    managed = iam.create_policy(
        PolicyName="la-managed", PolicyDocument=doc(allow(["iam:GetUser", "ec2:Describe*"]))
    )
    iam.attach_user_policy(UserName="la-user", PolicyArn=managed["Policy"]["Arn"])
    return {"policy_arn": managed["Policy"]["Arn"]}


def details(iam: Any, arn: str, granularity: str = "SERVICE_LEVEL") -> dict[str, Any]:
    job = iam.generate_service_last_accessed_details(Arn=arn, Granularity=granularity)["JobId"]
    answer: dict[str, Any] = iam.get_service_last_accessed_details(JobId=job)
    answer["JobId"] = job
    return answer


def by_namespace(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["ServiceNamespace"]: s for s in answer["ServicesLastAccessed"]}


def recent(moment: datetime) -> bool:
    return abs(moment - datetime.now(UTC)) < timedelta(minutes=5)


def test_a_users_services(iam: Any, used: dict[str, Any]) -> None:
    answer = details(iam, USER_ARN)
    assert answer["JobStatus"] == "COMPLETED"  # at the first Get
    assert answer["JobType"] == "SERVICE_LEVEL"
    assert answer["IsTruncated"] is False
    assert recent(answer["JobCreationDate"]) and recent(answer["JobCompletionDate"])
    services = by_namespace(answer)
    # Every service the policies allow, by namespace (the managed policy adds ec2).
    assert [s["ServiceNamespace"] for s in answer["ServicesLastAccessed"]] == ["ec2", "iam", "s3", "sts"]
    iam_service = services["iam"]
    assert iam_service["ServiceName"] == "AWS Identity and Access Management"
    assert recent(iam_service["LastAuthenticated"])
    assert iam_service["LastAuthenticatedEntity"] == USER_ARN
    assert iam_service["LastAuthenticatedRegion"] == REGION
    assert iam_service["TotalAuthenticatedEntities"] == 1
    assert services["sts"]["LastAuthenticatedEntity"] == USER_ARN  # AssumeRole
    for unused in ("s3", "ec2"):
        assert services[unused]["TotalAuthenticatedEntities"] == 0
        assert "LastAuthenticated" not in services[unused]
        assert "LastAuthenticatedEntity" not in services[unused]
    assert services["s3"]["ServiceName"] == "Amazon Simple Storage Service"
    assert "TrackedActionsLastAccessed" not in iam_service


def test_action_level(iam: Any, used: dict[str, Any]) -> None:
    answer = details(iam, USER_ARN, "ACTION_LEVEL")
    assert answer["JobType"] == "ACTION_LEVEL"
    actions = {a["ActionName"]: a for a in by_namespace(answer)["iam"]["TrackedActionsLastAccessed"]}
    assert set(actions) == {"GetUser", "ListUsers"}  # what the policies allow
    assert actions["GetUser"]["LastAccessedEntity"] == USER_ARN
    assert recent(actions["GetUser"]["LastAccessedTime"])
    assert actions["GetUser"]["LastAccessedRegion"] == REGION
    assert "LastAccessedTime" not in actions["ListUsers"]  # the role used it, not the user
    s3_actions = by_namespace(answer)["s3"]["TrackedActionsLastAccessed"]
    assert [a["ActionName"] for a in s3_actions] == ["GetObject"]


def test_a_group_reports_its_members(iam: Any, used: dict[str, Any]) -> None:
    answer = details(iam, f"arn:aws:iam::{ACCOUNT_ID}:group/la-group")
    services = by_namespace(answer)
    assert list(services) == ["iam"]
    assert services["iam"]["LastAuthenticatedEntity"] == f"arn:aws:iam::{ACCOUNT_ID}:user/la-member"
    assert services["iam"]["TotalAuthenticatedEntities"] == 1
    entities = iam.get_service_last_accessed_details_with_entities(
        JobId=answer["JobId"], ServiceNamespace="iam"
    )
    assert entities["JobStatus"] == "COMPLETED"
    listed = entities["EntityDetailsList"]
    assert [e["EntityInfo"]["Name"] for e in listed] == ["la-member", "la-idle"]  # users first
    assert listed[0]["EntityInfo"]["Type"] == "USER"
    assert listed[0]["EntityInfo"]["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/la-member"
    assert listed[0]["EntityInfo"]["Path"] == "/"
    assert recent(listed[0]["LastAuthenticated"])
    assert "LastAuthenticated" not in listed[1]


def test_a_role(iam: Any, used: dict[str, Any]) -> None:
    services = by_namespace(details(iam, f"arn:aws:iam::{ACCOUNT_ID}:role/la-role"))
    assert list(services) == ["iam"]
    assert services["iam"]["LastAuthenticatedEntity"] == f"arn:aws:iam::{ACCOUNT_ID}:role/la-role"


def test_a_managed_policy(iam: Any, used: dict[str, Any]) -> None:
    answer = details(iam, used["policy_arn"])
    services = by_namespace(answer)
    assert list(services) == ["ec2", "iam"]
    assert services["iam"]["LastAuthenticatedEntity"] == USER_ARN
    assert "LastAuthenticated" not in services["ec2"]
    entities = iam.get_service_last_accessed_details_with_entities(
        JobId=answer["JobId"], ServiceNamespace="iam"
    )
    assert [e["EntityInfo"]["Name"] for e in entities["EntityDetailsList"]] == ["la-user"]


def test_paging_and_errors(server: Server, iam: Any, used: dict[str, Any]) -> None:
    job = iam.generate_service_last_accessed_details(Arn=USER_ARN)["JobId"]
    first = iam.get_service_last_accessed_details(JobId=job, MaxItems=3)
    assert first["IsTruncated"] is True and len(first["ServicesLastAccessed"]) == 3
    rest = iam.get_service_last_accessed_details(JobId=job, Marker=first["Marker"])
    assert [s["ServiceNamespace"] for s in rest["ServicesLastAccessed"]] == ["sts"]
    with pytest.raises(ClientError) as exc:
        iam.generate_service_last_accessed_details(Arn=f"arn:aws:iam::{ACCOUNT_ID}:user/la-nobody")
    assert exc.value.response["Error"]["Code"] == "NoSuchEntity"
    with pytest.raises(ClientError) as exc:
        iam.generate_service_last_accessed_details(Arn=f"arn:aws:s3:::{'x' * 20}")
    assert exc.value.response["Error"]["Code"] == "InvalidInput"
    with pytest.raises(ClientError) as exc:
        iam.get_service_last_accessed_details(JobId="00000000-0000-0000-0000-000000000000")
    assert exc.value.response["Error"]["Code"] == "NoSuchEntity"
    # Only the principal that started a job may read it.
    other, _ = user_client(server, iam, "la-other", doc(allow("iam:*")))
    with pytest.raises(ClientError) as exc:
        other.get_service_last_accessed_details(JobId=job)
    assert exc.value.response["Error"]["Code"] == "NoSuchEntity"
