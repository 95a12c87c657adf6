"""Roles end to end: lifecycle, trust policies, session duration, tags, permissions boundaries,
DeleteConflict, service-linked roles, and instance profiles."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.e2e.harness import ACCOUNT_ID, Server
from tests.e2e.policy_helpers import allow, error_of, policy, trust, unvalidated_client

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def test_role_lifecycle(iam: Any) -> None:
    created = iam.create_role(
        RoleName="app-role",
        Path="/apps/",
        AssumeRolePolicyDocument=trust("lambda.amazonaws.com"),
        Description="runs the app",
        MaxSessionDuration=7200,
        Tags=[{"Key": "env", "Value": "prod"}],
    )["Role"]
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/apps/app-role"
    assert created["RoleId"].startswith("AROA") and len(created["RoleId"]) == 21
    # CreateRole answers without MaxSessionDuration or Description (see test_aws_shapes.py).
    assert "MaxSessionDuration" not in created and "Description" not in created
    assert created["AssumeRolePolicyDocument"] == json.loads(trust("lambda.amazonaws.com"))

    got = iam.get_role(RoleName="APP-ROLE")["Role"]  # names are case-insensitive
    assert got["RoleName"] == "app-role" and got["Description"] == "runs the app"
    assert got["MaxSessionDuration"] == 7200
    assert got["Tags"] == [{"Key": "env", "Value": "prod"}]
    assert got["RoleLastUsed"] == {}

    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName="App-Role", AssumeRolePolicyDocument=trust())
    assert error_of(exc) == (409, "EntityAlreadyExists", "Role with name App-Role already exists.")
    assert [r["RoleName"] for r in iam.list_roles(PathPrefix="/apps/")["Roles"]] == ["app-role"]

    iam.update_role(RoleName="app-role", Description="runs it better", MaxSessionDuration=43200)
    updated = iam.update_role_description(RoleName="app-role", Description="final words")["Role"]
    assert updated["Description"] == "final words" and "MaxSessionDuration" not in updated
    assert iam.get_role(RoleName="app-role")["Role"]["MaxSessionDuration"] == 43200

    iam.update_assume_role_policy(RoleName="app-role", PolicyDocument=trust("ecs-tasks.amazonaws.com"))
    got = iam.get_role(RoleName="app-role")["Role"]
    assert got["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "ecs-tasks.amazonaws.com"
    }

    iam.tag_role(RoleName="app-role", Tags=[{"Key": "team", "Value": "blue"}])
    iam.untag_role(RoleName="app-role", TagKeys=["env"])
    assert iam.list_role_tags(RoleName="app-role")["Tags"] == [{"Key": "team", "Value": "blue"}]

    iam.delete_role(RoleName="app-role")
    with pytest.raises(ClientError) as exc:
        iam.get_role(RoleName="app-role")
    assert error_of(exc) == (404, "NoSuchEntity", "The role with name app-role cannot be found.")


def test_role_input_errors(server: Server, iam: Any) -> None:
    with pytest.raises(ClientError) as exc:
        unvalidated_client(server).create_role(
            RoleName="short-session", AssumeRolePolicyDocument=trust(), MaxSessionDuration=600
        )
    status, code, message = error_of(exc)
    assert (status, code) == (400, "ValidationError")
    assert "maxSessionDuration" in message

    # An identity policy is not a trust policy: https://github.com/devopsacademyau/academy/pull/1368
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName="bad-trust", AssumeRolePolicyDocument=policy(allow("s3:*")))
    assert error_of(exc) == (400, "MalformedPolicyDocument", "Has prohibited field Resource")

    # AWS-recorded (LocalStack snapshot test_create_role_with_malformed_assume_role_policy_document)
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName="not-json", AssumeRolePolicyDocument="{nope")
    assert error_of(exc) == (400, "MalformedPolicyDocument", "This policy contains invalid Json")

    iam.create_role(RoleName="trust-target", AssumeRolePolicyDocument=trust())
    with pytest.raises(ClientError) as exc:
        iam.update_assume_role_policy(RoleName="trust-target", PolicyDocument=policy(allow("s3:*")))
    assert error_of(exc) == (400, "MalformedPolicyDocument", "Has prohibited field Resource")
    iam.delete_role(RoleName="trust-target")


def test_role_delete_conflicts(iam: Any) -> None:
    iam.create_role(RoleName="busy-role", AssumeRolePolicyDocument=trust())
    iam.put_role_policy(RoleName="busy-role", PolicyName="inline", PolicyDocument=policy(allow("s3:*")))
    with pytest.raises(ClientError) as exc:
        iam.delete_role(RoleName="busy-role")
    assert error_of(exc) == (409, "DeleteConflict", "Cannot delete entity, must delete policies first.")
    iam.delete_role_policy(RoleName="busy-role", PolicyName="inline")

    iam.create_instance_profile(InstanceProfileName="busy-profile")
    iam.add_role_to_instance_profile(InstanceProfileName="busy-profile", RoleName="busy-role")
    with pytest.raises(ClientError) as exc:
        iam.delete_role(RoleName="busy-role")
    assert error_of(exc) == (
        409,
        "DeleteConflict",
        "Cannot delete entity, must remove roles from instance profile first.",
    )
    iam.remove_role_from_instance_profile(InstanceProfileName="busy-profile", RoleName="busy-role")
    iam.delete_instance_profile(InstanceProfileName="busy-profile")
    iam.delete_role(RoleName="busy-role")


def test_role_permissions_boundary(iam: Any) -> None:
    created = iam.create_role(
        RoleName="bounded-role", AssumeRolePolicyDocument=trust(), PermissionsBoundary=READ_ONLY
    )["Role"]
    assert created["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "Policy",
        "PermissionsBoundaryArn": READ_ONLY,
    }
    assert iam.get_policy(PolicyArn=READ_ONLY)["Policy"]["PermissionsBoundaryUsageCount"] >= 1
    roles = iam.list_entities_for_policy(PolicyArn=READ_ONLY, PolicyUsageFilter="PermissionsBoundary")
    assert "bounded-role" in [r["RoleName"] for r in roles["PolicyRoles"]]

    boundary = iam.create_policy(PolicyName="RoleBoundary", PolicyDocument=policy(allow("s3:*")))["Policy"][
        "Arn"
    ]
    iam.put_role_permissions_boundary(RoleName="bounded-role", PermissionsBoundary=boundary)
    got = iam.get_role(RoleName="bounded-role")["Role"]
    assert got["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
    with pytest.raises(ClientError) as exc:
        iam.delete_policy(PolicyArn=boundary)
    assert error_of(exc)[:2] == (409, "DeleteConflict")

    iam.delete_role_permissions_boundary(RoleName="bounded-role")
    assert "PermissionsBoundary" not in iam.get_role(RoleName="bounded-role")["Role"]
    iam.delete_role_permissions_boundary(RoleName="bounded-role")  # none left: still no error
    missing = f"arn:aws:iam::{ACCOUNT_ID}:policy/NoSuchBoundary"
    with pytest.raises(ClientError) as exc:
        iam.put_role_permissions_boundary(RoleName="bounded-role", PermissionsBoundary=missing)
    assert error_of(exc)[:2] == (404, "NoSuchEntity")
    iam.delete_policy(PolicyArn=boundary)
    iam.delete_role(RoleName="bounded-role")


def test_roles_paginate(iam: Any) -> None:
    for n in range(5):
        iam.create_role(RoleName=f"page-role-{n}", Path="/paging/", AssumeRolePolicyDocument=trust())
    seen: list[str] = []
    kwargs: dict[str, Any] = {"PathPrefix": "/paging/", "MaxItems": 2}
    while True:
        page = iam.list_roles(**kwargs)
        seen += [r["RoleName"] for r in page["Roles"]]
        if not page["IsTruncated"]:
            break
        kwargs["Marker"] = page["Marker"]
    assert seen == [f"page-role-{n}" for n in range(5)]
    for n in range(5):
        iam.delete_role(RoleName=f"page-role-{n}")


def test_service_linked_roles(iam: Any) -> None:
    role = iam.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com", Description="scaling")[
        "Role"
    ]
    assert role["RoleName"] == "AWSServiceRoleForAutoScaling"
    assert role["Path"] == "/aws-service-role/autoscaling.amazonaws.com/"
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": ["autoscaling.amazonaws.com"]
    }
    custom = iam.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com", CustomSuffix="fleet")[
        "Role"
    ]
    assert custom["RoleName"] == "AWSServiceRoleForAutoScaling_fleet"
    with pytest.raises(ClientError) as exc:
        iam.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com")
    assert error_of(exc)[:2] == (400, "InvalidInput")

    # Protected: only the service may change it.
    name = role["RoleName"]
    for call in (
        lambda: iam.delete_role(RoleName=name),
        lambda: iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust()),
        lambda: iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=policy(allow("s3:*"))),
        lambda: iam.attach_role_policy(RoleName=name, PolicyArn=READ_ONLY),
        lambda: iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=READ_ONLY),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        status, code, message = error_of(exc)
        assert (status, code) == (400, "UnmodifiableEntity")
        assert f"protected role '{name}'" in message
    # Its description can be edited, as in AWS.
    iam.update_role_description(RoleName=name, Description="scales the fleet")

    # An ordinary role is not service-linked, and /aws-service-role/ is reserved.
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName="sneaky", Path="/aws-service-role/x/", AssumeRolePolicyDocument=trust())
    assert error_of(exc)[:2] == (400, "InvalidInput")

    task = iam.delete_service_linked_role(RoleName=name)["DeletionTaskId"]
    assert task.startswith(f"task/aws-service-role/autoscaling.amazonaws.com/{name}/")
    assert iam.get_service_linked_role_deletion_status(DeletionTaskId=task)["Status"] == "SUCCEEDED"
    with pytest.raises(ClientError) as exc:
        iam.get_role(RoleName=name)
    assert error_of(exc)[:2] == (404, "NoSuchEntity")
    iam.delete_service_linked_role(RoleName=custom["RoleName"])


def test_instance_profiles(iam: Any) -> None:
    iam.create_role(RoleName="web-role", AssumeRolePolicyDocument=trust())
    iam.create_role(RoleName="other-role", AssumeRolePolicyDocument=trust())
    created = iam.create_instance_profile(
        InstanceProfileName="web", Path="/web/", Tags=[{"Key": "tier", "Value": "front"}]
    )["InstanceProfile"]
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:instance-profile/web/web"
    assert created["InstanceProfileId"].startswith("AIPA") and created["Roles"] == []
    with pytest.raises(ClientError) as exc:
        iam.create_instance_profile(InstanceProfileName="WEB")
    assert error_of(exc)[:2] == (409, "EntityAlreadyExists")

    iam.add_role_to_instance_profile(InstanceProfileName="web", RoleName="web-role")
    with pytest.raises(ClientError) as exc:
        iam.add_role_to_instance_profile(InstanceProfileName="web", RoleName="other-role")
    assert error_of(exc) == (
        409,
        "LimitExceeded",
        "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1",
    )
    got = iam.get_instance_profile(InstanceProfileName="web")["InstanceProfile"]
    assert [r["RoleName"] for r in got["Roles"]] == ["web-role"]
    assert got["Tags"] == [{"Key": "tier", "Value": "front"}]
    for_role = iam.list_instance_profiles_for_role(RoleName="web-role")["InstanceProfiles"]
    assert [p["InstanceProfileName"] for p in for_role] == ["web"]
    assert "web" in [p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"]]

    iam.tag_instance_profile(InstanceProfileName="web", Tags=[{"Key": "owner", "Value": "ops"}])
    iam.untag_instance_profile(InstanceProfileName="web", TagKeys=["tier"])
    assert iam.list_instance_profile_tags(InstanceProfileName="web")["Tags"] == [
        {"Key": "owner", "Value": "ops"}
    ]

    with pytest.raises(ClientError) as exc:
        iam.delete_instance_profile(InstanceProfileName="web")
    assert error_of(exc)[:2] == (409, "DeleteConflict")
    iam.remove_role_from_instance_profile(InstanceProfileName="web", RoleName="web-role")
    with pytest.raises(ClientError) as exc:
        iam.remove_role_from_instance_profile(InstanceProfileName="web", RoleName="web-role")
    assert error_of(exc)[:2] == (404, "NoSuchEntity")
    iam.delete_instance_profile(InstanceProfileName="web")
    with pytest.raises(ClientError) as exc:
        iam.get_instance_profile(InstanceProfileName="web")
    assert error_of(exc) == (404, "NoSuchEntity", "Instance Profile web cannot be found.")
    iam.delete_role(RoleName="web-role")
    iam.delete_role(RoleName="other-role")


def test_aws_cli_creates_a_role(server: Server) -> None:
    done = server.cli(
        "iam", "create-role", "--role-name", "cli-role", "--assume-role-policy-document", trust()
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Role"]["RoleName"] == "cli-role"
    got = server.cli("iam", "get-role", "--role-name", "cli-role")
    assert json.loads(got.stdout)["Role"]["AssumeRolePolicyDocument"] == json.loads(trust())
    assert server.cli("iam", "delete-role", "--role-name", "cli-role").returncode == 0
