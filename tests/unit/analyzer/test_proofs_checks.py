"""The proven custom policy checks on the constructs that make policy comparison hard: NotResource,
IfExists, the ForAllValues trap, policy variables, Deny, principals of resource policies, public
trust policies, and the solver's time budget."""

from __future__ import annotations

import json
from typing import Any

import pytest

from iamd import catalog
from iamd.analyzer.proofs import (
    PolicyType,
    Undecided,
    check_access_not_granted,
    check_no_new_access,
    check_no_public_access,
)
from iamd.policy import Policy, PolicyKind, parse_policy

IDENTITY = PolicyType.IDENTITY


def policy(*statements: dict[str, Any], kind: PolicyKind = PolicyKind.IDENTITY) -> Policy:
    return parse_policy(
        json.dumps({"Version": "2012-10-17", "Statement": list(statements)}), kind, strict=False
    )


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def test_not_resource_is_narrower_than_everything() -> None:
    all_s3 = policy(allow("s3:*"))
    but_secrets = policy({"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::secrets/*"})
    assert check_no_new_access(but_secrets, all_s3, IDENTITY).passed
    wider = check_no_new_access(all_s3, but_secrets, IDENTITY, actions=catalog.actions)
    assert not wider.passed
    assert wider.counterexample is not None and wider.counterexample.confirmed
    assert wider.counterexample.resource.startswith("arn:aws:s3:::secrets/")
    assert wider.counterexample.action.startswith("s3:") and wider.counterexample.action[3:4].isupper()


def test_dropping_an_if_exists_condition_is_new_access() -> None:
    red = policy(allow("s3:GetObject", Condition={"StringEqualsIfExists": {"aws:PrincipalTag/team": "red"}}))
    anyone = policy(allow("s3:GetObject"))
    result = check_no_new_access(anyone, red, IDENTITY)
    assert not result.passed and result.counterexample is not None and result.counterexample.confirmed
    assert result.counterexample.context["aws:principaltag/team"] != "red"
    assert check_no_new_access(red, anyone, IDENTITY).passed


def test_for_all_values_grants_when_the_key_is_missing() -> None:
    """ForAllValues is true for a missing or empty key (evaluation.md, "a known trap")."""
    tagged = policy(
        allow("ec2:CreateTags", Condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}})
    )
    result = check_access_not_granted(tagged, IDENTITY, ["ec2:CreateTags"], [])
    assert not result.passed and result.counterexample is not None and result.counterexample.confirmed
    guarded = policy(
        allow(
            "ec2:CreateTags",
            Condition={
                "ForAllValues:StringEquals": {"aws:TagKeys": ["team"]},
                "Null": {"aws:TagKeys": "false"},
            },
        )
    )
    old = policy(allow("ec2:CreateTags", Condition={"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}}))
    # Every non-empty set of only "team" contains "team"; the empty set is the difference.
    result = check_no_new_access(guarded, old, IDENTITY)
    assert not result.passed
    assert result.counterexample is not None and result.counterexample.context["aws:tagkeys"] == ()


def test_policy_variables_narrow_the_resource() -> None:
    own = policy(allow("s3:GetObject", "arn:aws:s3:::home/${aws:username}/*"))
    every = policy(allow("s3:GetObject", "arn:aws:s3:::home/*"))
    assert check_no_new_access(own, every, IDENTITY).passed
    wider = check_no_new_access(every, own, IDENTITY)
    assert not wider.passed and wider.counterexample is not None and wider.counterexample.confirmed


def test_a_removed_deny_is_new_access_and_names_the_allow() -> None:
    guarded = policy(
        allow("s3:*", Sid="All"),
        {
            "Effect": "Deny",
            "Action": "s3:DeleteBucket",
            "Resource": "*",
            "Condition": {"NumericGreaterThan": {"s3:max-keys": "5"}},
        },
    )
    plain = policy(allow("s3:*", Sid="All"))
    result = check_no_new_access(plain, guarded, IDENTITY, actions=catalog.actions)
    assert not result.passed
    assert result.counterexample is not None and result.counterexample.action == "s3:DeleteBucket"
    assert float(str(result.counterexample.context["s3:max-keys"])) > 5
    assert [(r.statement_index, r.statement_id, r.description) for r in result.reasons] == [
        (0, "All", "New access in the statement with sid: All.")
    ]


def test_resource_policy_principals() -> None:
    mine = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
            "Action": "sqs:SendMessage",
            "Resource": "*",
        },
        kind=PolicyKind.RESOURCE,
    )
    theirs = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": ["111122223333", "999988887777"]},
            "Action": "sqs:SendMessage",
            "Resource": "*",
        },
        kind=PolicyKind.RESOURCE,
    )
    assert check_no_new_access(mine, theirs, PolicyType.RESOURCE).passed
    result = check_no_new_access(theirs, mine, PolicyType.RESOURCE)
    assert not result.passed and result.counterexample is not None and result.counterexample.confirmed
    assert ":999988887777:" in result.counterexample.principal


def test_public_trust_policies() -> None:
    google = {
        "Effect": "Allow",
        "Principal": {"Federated": "accounts.google.com"},
        "Action": "sts:AssumeRoleWithWebIdentity",
    }
    open_trust = policy(google, kind=PolicyKind.TRUST)
    pinned = policy(
        {**google, "Condition": {"StringEquals": {"accounts.google.com:aud": "my-app"}}},
        kind=PolicyKind.TRUST,
    )
    assert not check_no_public_access(open_trust, "AWS::IAM::AssumeRolePolicyDocument").passed
    assert check_no_public_access(pinned, "AWS::IAM::AssumeRolePolicyDocument").passed
    account = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
            "Action": "sts:AssumeRole",
        },
        kind=PolicyKind.TRUST,
    )
    assert check_no_public_access(account, "AWS::IAM::AssumeRolePolicyDocument").passed


def test_public_ip_ranges_wider_than_slash_8_fix_nothing() -> None:
    """S3 Block Public Access: aws:SourceIp ranges broader than /8 (IPv4) are public."""

    def bucket(cidr: str) -> Policy:
        return policy(
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::b/*",
                "Condition": {"IpAddress": {"aws:SourceIp": cidr}},
            },
            kind=PolicyKind.RESOURCE,
        )

    assert check_no_public_access(bucket("203.0.113.0/24"), "AWS::S3::Bucket").passed
    wide = check_no_public_access(bucket("0.0.0.0/1"), "AWS::S3::Bucket")
    assert not wide.passed and wide.counterexample is not None and wide.counterexample.confirmed


def test_a_check_out_of_time_is_undecided_never_a_pass() -> None:
    patterns = [f"arn:aws:s3:::b/{'*a' * 6}{i}?*" for i in range(40)]
    new = policy(allow("s3:GetObject", patterns))
    old = policy(allow("s3:GetObject", [p.replace("?", "x") for p in patterns]))
    with pytest.raises(Undecided, match="time budget"):
        check_no_new_access(new, old, IDENTITY, timeout_ms=1)


def test_not_action_grants_the_listed_actions_of_other_services() -> None:
    """Found by the property test: an Allow with NotAction s3:GetObject grants ec2 actions, though
    no pattern of the policy names ec2."""
    everything_but = policy({"Effect": "Allow", "NotAction": "s3:GetObject", "Resource": "*"})
    result = check_access_not_granted(everything_but, IDENTITY, ["s3:GetObject", "ec2:DescribeInstances"], [])
    assert not result.passed
    assert result.counterexample is not None and result.counterexample.action == "ec2:DescribeInstances"
    assert check_access_not_granted(everything_but, IDENTITY, ["s3:GetObject"], []).passed


def test_a_variable_after_wildcard_account_segments_is_exact() -> None:
    """AWS's IAMUserSSHKeys names arn:aws:iam::*:user/${aws:username}: the wildcard sits in the
    fixed segments, the variable in the resource part; both directions are decided exactly."""
    own = policy(allow("iam:DeleteSSHPublicKey", "arn:aws:iam::*:user/${aws:username}"))
    every = policy(allow("iam:DeleteSSHPublicKey", "arn:aws:iam::*:user/*"))
    assert check_no_new_access(own, every, IDENTITY).passed
    wider = check_no_new_access(every, own, IDENTITY)
    assert not wider.passed and wider.counterexample is not None
    assert wider.counterexample.confirmed and not wider.notes
