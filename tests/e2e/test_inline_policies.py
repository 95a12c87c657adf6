"""Inline policies of users, groups and roles end to end: lifecycle, URL-encoded documents decoded by
boto3 and the AWS CLI, the aggregate size quotas, and errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.e2e.harness import Server
from tests.e2e.policy_helpers import allow, deny, error_of, policy, trust

# Characters that URL-encoding changes: the document must come back exactly as it went in.
TRICKY = policy(
    allow(
        "s3:GetObject",
        "arn:aws:s3:::bucket/a b+c&d=e%f/ü/*",
        Condition={"StringLike": {"s3:prefix": ["home/${aws:username}/*", "100%"]}},
    )
)


@pytest.fixture(scope="module")
def holders(iam: Any) -> None:
    iam.create_user(UserName="inline-user")
    iam.create_group(GroupName="inline-group")
    iam.create_role(RoleName="inline-role", AssumeRolePolicyDocument=trust())


@pytest.mark.parametrize(
    ("kind", "name"), [("user", "inline-user"), ("group", "inline-group"), ("role", "inline-role")]
)
def test_inline_policy_lifecycle(iam: Any, holders: None, kind: str, name: str) -> None:
    title = kind.capitalize()
    key = {f"{title}Name": name}
    put = getattr(iam, f"put_{kind}_policy")
    get = getattr(iam, f"get_{kind}_policy")
    listed = getattr(iam, f"list_{kind}_policies")
    delete = getattr(iam, f"delete_{kind}_policy")

    put(**key, PolicyName="first", PolicyDocument=TRICKY)
    put(**key, PolicyName="second", PolicyDocument=policy(deny("iam:*")))
    got = get(**key, PolicyName="first")
    assert got[f"{title}Name"] == name and got["PolicyName"] == "first"
    assert got["PolicyDocument"] == json.loads(TRICKY)
    assert listed(**key)["PolicyNames"] == ["first", "second"]

    # Put replaces a policy of the same name (names compare without case).
    put(**key, PolicyName="FIRST", PolicyDocument=policy(allow("sqs:*")))
    assert get(**key, PolicyName="first")["PolicyDocument"]["Statement"][0]["Action"] == "sqs:*"
    page = listed(**key, MaxItems=1)
    assert len(page["PolicyNames"]) == 1 and page["IsTruncated"]
    assert listed(**key, Marker=page["Marker"])["PolicyNames"] == ["second"]

    delete(**key, PolicyName="first")
    delete(**key, PolicyName="second")
    with pytest.raises(ClientError) as exc:
        get(**key, PolicyName="first")
    assert error_of(exc) == (404, "NoSuchEntity", f"The {kind} policy with name first cannot be found.")
    with pytest.raises(ClientError) as exc:
        delete(**key, PolicyName="first")
    assert error_of(exc)[:2] == (404, "NoSuchEntity")
    assert listed(**key)["PolicyNames"] == []


@pytest.mark.parametrize(
    ("kind", "name", "quota"),
    [("user", "inline-user", 2048), ("group", "inline-group", 5120), ("role", "inline-role", 10240)],
)
def test_aggregate_inline_quota(iam: Any, holders: None, kind: str, name: str, quota: int) -> None:
    """All of an entity's inline policies together (white space not counted) stay under the quota."""
    key = {f"{kind.capitalize()}Name": name}
    put = getattr(iam, f"put_{kind}_policy")

    def sized(size: int, tag: str) -> str:
        base = policy(allow("s3:GetObject", f"arn:aws:s3:::{tag}/"))
        padding = size - len(base)
        return policy(allow("s3:GetObject", f"arn:aws:s3:::{tag}/{'x' * padding}"))

    half = quota // 2
    put(**key, PolicyName="a", PolicyDocument=sized(half, "a"))
    put(**key, PolicyName="b", PolicyDocument=sized(quota - half - 10, "b"))
    # White space is free.
    put(**key, PolicyName="a", PolicyDocument=json.dumps(json.loads(sized(half, "a")), indent=8))
    with pytest.raises(ClientError) as exc:
        put(**key, PolicyName="c", PolicyDocument=sized(100, "c"))
    assert error_of(exc) == (
        409,
        "LimitExceeded",
        f"Maximum policy size of {quota} bytes exceeded for {kind} {name}",
    )
    # Replacing a policy counts its new size, not both.
    put(**key, PolicyName="b", PolicyDocument=sized(100, "b"))
    put(**key, PolicyName="c", PolicyDocument=sized(100, "c"))
    for policy_name in ("a", "b", "c"):
        getattr(iam, f"delete_{kind}_policy")(**key, PolicyName=policy_name)


def test_inline_errors(iam: Any, holders: None) -> None:
    with pytest.raises(ClientError) as exc:
        iam.put_user_policy(UserName="no-such-user", PolicyName="p", PolicyDocument=policy(allow("s3:*")))
    assert error_of(exc) == (404, "NoSuchEntity", "The user with name no-such-user cannot be found.")
    with pytest.raises(ClientError) as exc:
        iam.put_group_policy(GroupName="no-such-group", PolicyName="p", PolicyDocument=policy(allow("s3:*")))
    assert error_of(exc) == (404, "NoSuchEntity", "The group with name no-such-group cannot be found.")
    with pytest.raises(ClientError) as exc:
        iam.put_role_policy(
            RoleName="inline-role",
            PolicyName="p",
            PolicyDocument=policy(allow("s3:*", "arn:aws:iam:us-east-1::role/x")),
        )
    # https://github.com/cloud-gov/terraform-provision/pull/1838
    assert error_of(exc) == (
        400,
        "MalformedPolicyDocument",
        "IAM resource arn:aws:iam:us-east-1::role/x cannot contain region information.",
    )
    with pytest.raises(ClientError) as exc:
        iam.put_user_policy(
            UserName="inline-user",
            PolicyName="p",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{**allow("s3:*"), "Principal": "*"}]}
            ),
        )
    # https://github.com/hashicorp/terraform-provider-aws/issues/10419
    assert error_of(exc) == (
        400,
        "MalformedPolicyDocument",
        "Policy document should not specify a principal.",
    )
    with pytest.raises(ClientError) as exc:
        iam.put_user_policy(UserName="inline-user", PolicyName="p", PolicyDocument="not json")
    assert error_of(exc) == (400, "MalformedPolicyDocument", "Syntax errors in policy.")


def test_user_with_inline_policy_cannot_be_deleted(iam: Any) -> None:
    iam.create_user(UserName="sticky-user")
    iam.put_user_policy(UserName="sticky-user", PolicyName="p", PolicyDocument=policy(allow("s3:*")))
    with pytest.raises(ClientError) as exc:
        iam.delete_user(UserName="sticky-user")
    assert error_of(exc)[:2] == (409, "DeleteConflict")
    iam.delete_user_policy(UserName="sticky-user", PolicyName="p")
    iam.delete_user(UserName="sticky-user")


def test_aws_cli_inline_policy_round_trip(server: Server, holders: None) -> None:
    done = server.cli(
        "iam",
        "put-user-policy",
        "--user-name",
        "inline-user",
        "--policy-name",
        "cli",
        "--policy-document",
        TRICKY,
    )
    assert done.returncode == 0, done.stderr
    got = server.cli("iam", "get-user-policy", "--user-name", "inline-user", "--policy-name", "cli")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["PolicyDocument"] == json.loads(TRICKY)
    listed = server.cli("iam", "list-user-policies", "--user-name", "inline-user")
    assert json.loads(listed.stdout)["PolicyNames"] == ["cli"]
    bad = server.cli(
        "iam",
        "put-user-policy",
        "--user-name",
        "inline-user",
        "--policy-name",
        "bad",
        "--policy-document",
        "{",
    )
    assert bad.returncode != 0 and "MalformedPolicyDocument" in bad.stderr
    assert (
        server.cli(
            "iam", "delete-user-policy", "--user-name", "inline-user", "--policy-name", "cli"
        ).returncode
        == 0
    )
