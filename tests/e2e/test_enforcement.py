"""Authorization end to end: every request is decided by the caller's policies, with AWS's denial
sentences, as soon as the policies change."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.e2e.harness import ACCOUNT_ID, Server, new_user_client
from tests.e2e.policy_helpers import allow, deny, error_of, policy, trust

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def user_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT_ID}:user/{name}"


def denied(call: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as exc:
        call()
    return error_of(exc)


def client_for(server: Server, iam: Any, name: str) -> Any:
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])


def test_a_new_user_can_do_nothing(server: Server, iam: Any) -> None:
    newbie = new_user_client(server, iam, "newbie")
    status, code, message = denied(newbie.list_users)
    assert (status, code) == (403, "AccessDenied")
    assert message.startswith(f"User: {user_arn('newbie')} is not authorized to perform: iam:ListUsers")
    assert message.endswith("because no identity-based policy allows the iam:ListUsers action")

    status, code, message = denied(lambda: newbie.get_role(RoleName="anything"))
    assert (status, code) == (403, "AccessDenied")
    assert message == (
        f"User: {user_arn('newbie')} is not authorized to perform: iam:GetRole on resource: "
        f"arn:aws:iam::{ACCOUNT_ID}:role/anything "
        "because no identity-based policy allows the iam:GetRole action"
    )
    # Denied callers learn nothing about what exists: AccessDenied, not NoSuchEntity.
    assert (
        denied(lambda: newbie.get_policy(PolicyArn=f"arn:aws:iam::{ACCOUNT_ID}:policy/nope"))[1]
        == "AccessDenied"
    )
    assert denied(lambda: newbie.create_policy(PolicyName="x", PolicyDocument=policy(allow("*"))))[1] == (
        "AccessDenied"
    )


def test_group_grants_work(server: Server, iam: Any) -> None:
    member = new_user_client(server, iam, "member")
    iam.create_group(GroupName="role-readers")
    iam.put_group_policy(
        GroupName="role-readers", PolicyName="read", PolicyDocument=policy(allow("iam:ListRoles"))
    )
    assert denied(member.list_roles)[1] == "AccessDenied"
    iam.add_user_to_group(GroupName="role-readers", UserName="member")
    assert "Roles" in member.list_roles()
    # A managed policy attached to the group grants as well.
    assert denied(member.list_policies)[1] == "AccessDenied"
    iam.attach_group_policy(GroupName="role-readers", PolicyArn=READ_ONLY)
    assert "Policies" in member.list_policies(MaxItems=1)
    iam.remove_user_from_group(GroupName="role-readers", UserName="member")
    assert denied(member.list_roles)[1] == "AccessDenied"


def test_an_explicit_deny_wins(server: Server, iam: Any) -> None:
    client = new_user_client(
        server,
        iam,
        "denied-one",
        policy(allow("iam:*"), deny("iam:CreateRole", "arn:aws:iam::*:role/locked-*")),
    )
    client.create_role(RoleName="open-role", AssumeRolePolicyDocument=trust())
    status, code, message = denied(
        lambda: client.create_role(RoleName="locked-role", AssumeRolePolicyDocument=trust())
    )
    assert (status, code) == (403, "AccessDenied")
    assert message == (
        f"User: {user_arn('denied-one')} is not authorized to perform: iam:CreateRole on resource: "
        f"arn:aws:iam::{ACCOUNT_ID}:role/locked-role with an explicit deny in an identity-based policy"
    )
    # A deny in a group policy wins over the user's own allow.
    iam.create_group(GroupName="no-roles")
    iam.put_group_policy(GroupName="no-roles", PolicyName="deny", PolicyDocument=policy(deny("iam:*Role*")))
    iam.add_user_to_group(GroupName="no-roles", UserName="denied-one")
    assert "explicit deny" in denied(lambda: client.get_role(RoleName="open-role"))[2]
    iam.remove_user_from_group(GroupName="no-roles", UserName="denied-one")
    iam.delete_role(RoleName="open-role")


def test_a_permissions_boundary_caps_an_administrator(server: Server, iam: Any) -> None:
    boundary = iam.create_policy(
        PolicyName="ListOnlyBoundary", PolicyDocument=policy(allow(["iam:List*", "iam:Get*"]))
    )["Policy"]["Arn"]
    iam.create_user(UserName="capped-admin", PermissionsBoundary=boundary)
    iam.attach_user_policy(UserName="capped-admin", PolicyArn=ADMIN)
    capped = client_for(server, iam, "capped-admin")
    assert "Users" in capped.list_users()
    status, code, message = denied(lambda: capped.create_role(RoleName="r", AssumeRolePolicyDocument=trust()))
    assert (status, code) == (403, "AccessDenied")
    assert message == (
        f"User: {user_arn('capped-admin')} is not authorized to perform: iam:CreateRole on resource: "
        f"arn:aws:iam::{ACCOUNT_ID}:role/r because no permissions boundary allows the iam:CreateRole action"
    )


def test_resource_tag_conditions_on_users_and_roles(server: Server, iam: Any) -> None:
    iam.create_user(UserName="blue-user", Tags=[{"Key": "team", "Value": "blue"}])
    iam.create_user(UserName="red-user", Tags=[{"Key": "team", "Value": "red"}])
    iam.create_role(
        RoleName="dev-role", AssumeRolePolicyDocument=trust(), Tags=[{"Key": "env", "Value": "dev"}]
    )
    iam.create_role(
        RoleName="prod-role", AssumeRolePolicyDocument=trust(), Tags=[{"Key": "env", "Value": "prod"}]
    )
    client = new_user_client(
        server,
        iam,
        "tag-reader",
        policy(
            allow("iam:GetUser", Condition={"StringEquals": {"aws:ResourceTag/team": "blue"}}),
            allow(
                ["iam:GetRole", "iam:UpdateRoleDescription"],
                "arn:aws:iam::*:role/*",
                Condition={"StringEquals": {"aws:ResourceTag/env": "dev"}},
            ),
        ),
    )
    assert client.get_user(UserName="blue-user")["User"]["UserName"] == "blue-user"
    assert denied(lambda: client.get_user(UserName="red-user"))[1] == "AccessDenied"
    client.update_role_description(RoleName="dev-role", Description="changed by tag")
    assert (
        denied(lambda: client.update_role_description(RoleName="prod-role", Description="x"))[1]
        == "AccessDenied"
    )
    # Retagging the role changes what the same policy allows, on the next request.
    iam.tag_role(RoleName="prod-role", Tags=[{"Key": "env", "Value": "dev"}])
    assert client.get_role(RoleName="prod-role")["Role"]["RoleName"] == "prod-role"


def test_request_tag_conditions_on_create(server: Server, iam: Any) -> None:
    client = new_user_client(
        server,
        iam,
        "tagging-creator",
        policy(
            allow(
                ["iam:CreateRole", "iam:TagRole"],
                Condition={
                    "StringEquals": {"aws:RequestTag/owner": "${aws:username}"},
                    "ForAllValues:StringEquals": {"aws:TagKeys": ["owner"]},
                },
            )
        ),
    )
    created = client.create_role(
        RoleName="owned-role",
        AssumeRolePolicyDocument=trust(),
        Tags=[{"Key": "owner", "Value": "tagging-creator"}],
    )
    assert created["Role"]["Tags"] == [{"Key": "owner", "Value": "tagging-creator"}]
    for tags in (
        [{"Key": "owner", "Value": "someone-else"}],
        [],
        [{"Key": "owner", "Value": "tagging-creator"}, {"Key": "cost", "Value": "1"}],
    ):
        status, code, _ = denied(
            lambda tags=tags: client.create_role(
                RoleName="stolen-role", AssumeRolePolicyDocument=trust(), Tags=tags
            )
        )
        assert (status, code) == (403, "AccessDenied")


def test_policy_changes_take_effect_on_the_next_request(server: Server, iam: Any) -> None:
    client = new_user_client(server, iam, "changing", policy(allow("iam:ListRoles")))
    assert "Roles" in client.list_roles()
    iam.delete_user_policy(UserName="changing", PolicyName="inline")
    assert denied(client.list_roles)[1] == "AccessDenied"
    iam.put_user_policy(UserName="changing", PolicyName="inline", PolicyDocument=policy(allow("iam:List*")))
    assert "Roles" in client.list_roles()

    # A new default version of an attached managed policy applies at once.
    arn = iam.create_policy(PolicyName="Switchable", PolicyDocument=policy(allow("iam:ListPolicies")))[
        "Policy"
    ]["Arn"]
    iam.delete_user_policy(UserName="changing", PolicyName="inline")
    iam.attach_user_policy(UserName="changing", PolicyArn=arn)
    assert "Policies" in client.list_policies(MaxItems=1)
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=policy(allow("iam:ListRoles")), SetAsDefault=True)
    assert denied(lambda: client.list_policies(MaxItems=1))[1] == "AccessDenied"
    assert "Roles" in client.list_roles()
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    assert "Policies" in client.list_policies(MaxItems=1)
    iam.detach_user_policy(UserName="changing", PolicyArn=arn)
    assert denied(lambda: client.list_policies(MaxItems=1))[1] == "AccessDenied"


def test_read_only_access_lets_a_user_list_but_not_create(server: Server, iam: Any) -> None:
    iam.create_user(UserName="auditor")
    iam.attach_user_policy(UserName="auditor", PolicyArn=READ_ONLY)
    auditor = client_for(server, iam, "auditor")
    assert "auditor" in [u["UserName"] for u in auditor.list_users()["Users"]]
    assert "Roles" in auditor.list_roles()
    assert auditor.get_policy(PolicyArn=READ_ONLY)["Policy"]["PolicyName"] == "ReadOnlyAccess"
    assert (
        auditor.list_attached_user_policies(UserName="auditor")["AttachedPolicies"][0]["PolicyArn"]
        == READ_ONLY
    )
    for call in (
        lambda: auditor.create_user(UserName="sneaky"),
        lambda: auditor.create_role(RoleName="sneaky", AssumeRolePolicyDocument=trust()),
        lambda: auditor.attach_user_policy(UserName="auditor", PolicyArn=ADMIN),
        lambda: auditor.put_user_policy(
            UserName="auditor", PolicyName="p", PolicyDocument=policy(allow("*"))
        ),
    ):
        status, code, message = denied(call)
        assert (status, code) == (403, "AccessDenied")
        assert "because no identity-based policy allows" in message


def test_policy_arn_and_permissions_boundary_condition_keys(server: Server, iam: Any) -> None:
    boundary = iam.create_policy(PolicyName="DelegatedBoundary", PolicyDocument=policy(allow("s3:*")))[
        "Policy"
    ]["Arn"]
    client = new_user_client(
        server,
        iam,
        "delegated-admin",
        policy(
            allow("iam:AttachRolePolicy", Condition={"ArnEquals": {"iam:PolicyARN": READ_ONLY}}),
            allow("iam:CreateRole", Condition={"StringEquals": {"iam:PermissionsBoundary": boundary}}),
        ),
    )
    status, code, _ = denied(
        lambda: client.create_role(RoleName="unbounded", AssumeRolePolicyDocument=trust())
    )
    assert (status, code) == (403, "AccessDenied")
    client.create_role(RoleName="bounded", AssumeRolePolicyDocument=trust(), PermissionsBoundary=boundary)
    client.attach_role_policy(RoleName="bounded", PolicyArn=READ_ONLY)
    assert denied(lambda: client.attach_role_policy(RoleName="bounded", PolicyArn=ADMIN))[1] == "AccessDenied"
    assert iam.list_attached_role_policies(RoleName="bounded")["AttachedPolicies"] == [
        {"PolicyName": "ReadOnlyAccess", "PolicyArn": READ_ONLY}
    ]


def test_aws_cli_shows_the_denial(server: Server, iam: Any) -> None:
    iam.create_user(UserName="cli-nobody")
    key = iam.create_access_key(UserName="cli-nobody")["AccessKey"]
    done = server.cli("iam", "list-roles", key_id=key["AccessKeyId"], secret=key["SecretAccessKey"])
    assert done.returncode != 0
    assert "AccessDenied" in done.stderr
    assert f"{user_arn('cli-nobody')} is not authorized to perform: iam:ListRoles" in done.stderr
    allowed = server.cli(
        "iam",
        "put-user-policy",
        "--user-name",
        "cli-nobody",
        "--policy-name",
        "p",
        "--policy-document",
        policy(allow("iam:ListRoles")),
    )
    assert allowed.returncode == 0, allowed.stderr
    done = server.cli("iam", "list-roles", key_id=key["AccessKeyId"], secret=key["SecretAccessKey"])
    assert done.returncode == 0, done.stderr
    assert "Roles" in json.loads(done.stdout)
