"""Groups end to end: lifecycle, membership, pagination, quotas, errors, and what a group's
policies let its members do."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.e2e.harness import ACCOUNT_ID, Server, new_user_client


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response = exc.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str | list[str] = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def deny(action: str | list[str], resource: str | list[str] = "*") -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource}


def test_group_lifecycle(iam: Any) -> None:
    created = iam.create_group(GroupName="lifecycle", Path="/teams/")["Group"]
    assert created["GroupName"] == "lifecycle"
    assert created["Path"] == "/teams/"
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:group/teams/lifecycle"
    assert created["GroupId"].startswith("AGPA")

    got = iam.get_group(GroupName="lifecycle")
    assert got["Group"] == created
    assert got["Users"] == [] and got["IsTruncated"] is False

    listed = iam.list_groups(PathPrefix="/teams/")["Groups"]
    assert [g["GroupName"] for g in listed] == ["lifecycle"]
    assert iam.list_groups(PathPrefix="/nobody/")["Groups"] == []

    iam.update_group(GroupName="lifecycle", NewGroupName="renamed", NewPath="/moved/")
    renamed = iam.get_group(GroupName="renamed")["Group"]
    assert renamed["GroupId"] == created["GroupId"]
    assert renamed["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:group/moved/renamed"
    with pytest.raises(ClientError) as exc:
        iam.get_group(GroupName="lifecycle")
    assert error_of(exc) == (404, "NoSuchEntity", "The group with name lifecycle cannot be found.")

    iam.delete_group(GroupName="renamed")
    with pytest.raises(ClientError) as exc:
        iam.delete_group(GroupName="renamed")
    assert error_of(exc)[:2] == (404, "NoSuchEntity")


def test_duplicate_names_and_invalid_names_are_refused(iam: Any) -> None:
    iam.create_group(GroupName="dupes")
    with pytest.raises(ClientError) as exc:
        iam.create_group(GroupName="DUPES")  # names are case-insensitive
    assert error_of(exc)[:2] == (409, "EntityAlreadyExists")
    iam.create_group(GroupName="other")
    with pytest.raises(ClientError) as exc:
        iam.update_group(GroupName="other", NewGroupName="Dupes")
    assert error_of(exc)[:2] == (409, "EntityAlreadyExists")
    with pytest.raises(ClientError) as exc:
        iam.create_group(GroupName="not a valid name!")
    status, code, _ = error_of(exc)
    assert (status, code) == (400, "ValidationError")
    for name in ("dupes", "other"):
        iam.delete_group(GroupName=name)


def test_membership_and_paginated_members(iam: Any) -> None:
    iam.create_group(GroupName="crew")
    names = ["m-carol", "m-alice", "m-bob"]
    for name in names:
        iam.create_user(UserName=name)
        iam.add_user_to_group(GroupName="crew", UserName=name)
    iam.add_user_to_group(GroupName="crew", UserName="m-alice")  # again: no change, no error

    first = iam.get_group(GroupName="crew", MaxItems=2)
    assert first["IsTruncated"] is True and first["Marker"]
    second = iam.get_group(GroupName="crew", MaxItems=2, Marker=first["Marker"])
    assert second["IsTruncated"] is False and "Marker" not in second
    members = [u["UserName"] for u in first["Users"] + second["Users"]]
    assert members == sorted(names)
    assert second["Group"]["GroupName"] == "crew"
    # The paginator that boto3 users rely on walks the same pages.
    pages = iam.get_paginator("get_group").paginate(GroupName="crew", PaginationConfig={"PageSize": 1})
    assert [u["UserName"] for page in pages for u in page["Users"]] == sorted(names)

    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName="m-bob")["Groups"]] == ["crew"]
    iam.remove_user_from_group(GroupName="crew", UserName="m-bob")
    assert iam.list_groups_for_user(UserName="m-bob")["Groups"] == []
    # Removing a user who is no longer a member succeeds, as in AWS (recorded: LocalStack's
    # tests/aws/services/iam/test_iam_users.snapshot.json, remove-nonmember-user-from-group).
    iam.remove_user_from_group(GroupName="crew", UserName="m-bob")
    with pytest.raises(ClientError) as exc:
        iam.add_user_to_group(GroupName="crew", UserName="m-nobody")
    assert error_of(exc) == (404, "NoSuchEntity", "The user with name m-nobody cannot be found.")
    with pytest.raises(ClientError) as exc:
        iam.add_user_to_group(GroupName="no-such-group", UserName="m-bob")
    assert error_of(exc)[:2] == (404, "NoSuchEntity")
    with pytest.raises(ClientError) as exc:
        iam.list_groups_for_user(UserName="m-nobody")
    assert error_of(exc)[:2] == (404, "NoSuchEntity")

    with pytest.raises(ClientError) as exc:
        iam.get_group(GroupName="crew", Marker="not-a-marker")
    assert error_of(exc)[:2] == (400, "ValidationError")


def test_delete_group_conflicts_while_it_has_members_or_policies(iam: Any) -> None:
    iam.create_group(GroupName="sticky")
    iam.create_user(UserName="sticky-user")
    iam.add_user_to_group(GroupName="sticky", UserName="sticky-user")
    with pytest.raises(ClientError) as exc:
        iam.delete_group(GroupName="sticky")
    assert error_of(exc) == (
        409,
        "DeleteConflict",
        "Cannot delete entity, must remove users from group first.",
    )
    iam.remove_user_from_group(GroupName="sticky", UserName="sticky-user")

    iam.put_group_policy(GroupName="sticky", PolicyName="p", PolicyDocument=policy(allow("iam:ListGroups")))
    with pytest.raises(ClientError) as exc:
        iam.delete_group(GroupName="sticky")
    assert error_of(exc) == (409, "DeleteConflict", "Cannot delete entity, must delete policies first.")
    iam.delete_group_policy(GroupName="sticky", PolicyName="p")

    iam.attach_group_policy(GroupName="sticky", PolicyArn="arn:aws:iam::aws:policy/IAMReadOnlyAccess")
    with pytest.raises(ClientError) as exc:
        iam.delete_group(GroupName="sticky")
    assert error_of(exc)[:2] == (409, "DeleteConflict")
    iam.detach_group_policy(GroupName="sticky", PolicyArn="arn:aws:iam::aws:policy/IAMReadOnlyAccess")
    iam.delete_group(GroupName="sticky")


def test_a_user_belongs_to_at_most_ten_groups(iam: Any) -> None:
    iam.create_user(UserName="joiner")
    for i in range(10):
        iam.create_group(GroupName=f"quota-{i}")
        iam.add_user_to_group(GroupName=f"quota-{i}", UserName="joiner")
    iam.create_group(GroupName="quota-10")
    with pytest.raises(ClientError) as exc:
        iam.add_user_to_group(GroupName="quota-10", UserName="joiner")
    assert error_of(exc) == (409, "LimitExceeded", "Cannot exceed quota for GroupsPerUser: 10")
    assert len(iam.list_groups_for_user(UserName="joiner")["Groups"]) == 10
    summary = iam.get_account_summary()["SummaryMap"]
    assert summary["GroupsPerUserQuota"] == 10 and summary["Groups"] >= 11


def test_a_new_user_can_do_nothing(server: Server, iam: Any) -> None:
    nobody = new_user_client(server, iam, "g-nobody")
    calls = [
        lambda: nobody.create_group(GroupName="g-nobody-group"),
        lambda: nobody.list_groups(),
        lambda: nobody.get_group(GroupName="crew"),
        lambda: nobody.add_user_to_group(GroupName="crew", UserName="g-nobody"),
        lambda: nobody.list_groups_for_user(UserName="g-nobody"),
    ]
    for call in calls:
        with pytest.raises(ClientError) as exc:
            call()
        status, code, message = error_of(exc)
        assert (status, code) == (403, "AccessDenied")
        assert f"arn:aws:iam::{ACCOUNT_ID}:user/g-nobody is not authorized to perform: iam:" in message
    # Denied before NoSuchEntity: a denied caller learns nothing about which groups exist.
    with pytest.raises(ClientError) as exc:
        nobody.get_group(GroupName="no-such-group")
    assert error_of(exc)[:2] == (403, "AccessDenied")


def test_a_group_grant_lets_members_act_and_an_explicit_deny_wins(server: Server, iam: Any) -> None:
    member = new_user_client(server, iam, "g-member")
    with pytest.raises(ClientError):
        member.list_groups()

    iam.create_group(GroupName="readers")
    iam.put_group_policy(
        GroupName="readers",
        PolicyName="read-groups",
        PolicyDocument=policy(
            allow(["iam:ListGroups", "iam:GetGroup", "iam:CreateGroup", "iam:DeleteGroup"])
        ),
    )
    iam.add_user_to_group(GroupName="readers", UserName="g-member")
    assert "readers" in [g["GroupName"] for g in member.list_groups()["Groups"]]
    assert member.get_group(GroupName="readers")["Users"][0]["UserName"] == "g-member"
    member.create_group(GroupName="made-by-member")
    member.delete_group(GroupName="made-by-member")
    with pytest.raises(ClientError) as exc:
        member.get_group(GroupName="no-such-group")
    assert error_of(exc)[:2] == (404, "NoSuchEntity")

    # The member's own explicit deny beats the group's allow, and comes before NoSuchEntity.
    iam.put_user_policy(
        UserName="g-member",
        PolicyName="no-get",
        PolicyDocument=policy(deny("iam:GetGroup", f"arn:aws:iam::{ACCOUNT_ID}:group/*")),
    )
    with pytest.raises(ClientError) as exc:
        member.get_group(GroupName="readers")
    status, code, message = error_of(exc)
    assert (status, code) == (403, "AccessDenied") and "explicit deny" in message
    with pytest.raises(ClientError) as exc:
        member.get_group(GroupName="no-such-group")
    assert error_of(exc)[:2] == (403, "AccessDenied")
    member.list_groups()  # still allowed

    # Leaving the group takes the grant away.
    iam.remove_user_from_group(GroupName="readers", UserName="g-member")
    with pytest.raises(ClientError):
        member.list_groups()


def test_renaming_a_group_needs_permission_on_the_new_name(server: Server, iam: Any) -> None:
    iam.create_group(GroupName="rn-src")
    renamer = new_user_client(
        server,
        iam,
        "g-renamer",
        policy(allow("iam:UpdateGroup", f"arn:aws:iam::{ACCOUNT_ID}:group/rn-*")),
    )
    with pytest.raises(ClientError) as exc:
        renamer.update_group(GroupName="rn-src", NewGroupName="elsewhere")
    assert error_of(exc)[:2] == (403, "AccessDenied")
    renamer.update_group(GroupName="rn-src", NewGroupName="rn-dst")
    assert iam.get_group(GroupName="rn-dst")["Group"]["GroupName"] == "rn-dst"


def test_groups_with_the_aws_cli(server: Server) -> None:
    done = server.cli("iam", "create-group", "--group-name", "cli-group", "--path", "/cli/")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Group"]["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:group/cli/cli-group"
    done = server.cli("iam", "list-groups", "--path-prefix", "/cli/")
    assert done.returncode == 0, done.stderr
    assert [g["GroupName"] for g in json.loads(done.stdout)["Groups"]] == ["cli-group"]
    done = server.cli("iam", "get-group", "--group-name", "no-such-cli-group")
    assert done.returncode != 0
    assert "NoSuchEntity" in done.stderr
    done = server.cli("iam", "delete-group", "--group-name", "cli-group")
    assert done.returncode == 0, done.stderr
