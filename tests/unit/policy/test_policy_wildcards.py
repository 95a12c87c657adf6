"""Action and resource matching with ``*`` and ``?``, through the evaluator."""

from __future__ import annotations

from typing import Any

import pytest

from iamd.authz import NamedPolicy, Principal, PrincipalPolicies, Request, compile_policies, evaluate
from iamd.policy import VERSION_2012, parse_policy

ACCOUNT = "111111111111"
ALICE = Principal.parse(f"arn:aws:iam::{ACCOUNT}:user/alice")


def allows(statement: dict[str, Any], action: str, resource: str) -> bool:
    """Whether an identity policy holding ``statement`` (an Allow) allows the request."""
    policy = parse_policy({"Version": VERSION_2012, "Statement": [statement]}, strict=False)
    identity = compile_policies([NamedPolicy("p", policy)])
    request = Request(ALICE, action, resource, ACCOUNT)
    return evaluate(request, PrincipalPolicies(identity=identity)).allowed


def action_allows(pattern: str | list[str], action: str) -> bool:
    return allows({"Effect": "Allow", "Action": pattern, "Resource": "*"}, action, "arn:aws:s3:::b/k")


def resource_allows(pattern: str | list[str], resource: str, action: str = "s3:GetObject") -> bool:
    return allows({"Effect": "Allow", "Action": "*", "Resource": pattern}, action, resource)


@pytest.mark.parametrize(
    ("pattern", "action", "expected"),
    [
        ("*", "s3:GetObject", True),
        ("*", "iam:ListUsers", True),
        ("s3:*", "s3:GetObject", True),
        ("s3:*", "iam:ListUsers", False),
        ("s3:Get*", "s3:GetObject", True),
        ("s3:Get*", "s3:GetBucketPolicy", True),
        ("s3:Get*", "s3:PutObject", False),
        ("s3:?etObject", "s3:GetObject", True),
        ("s3:?Object", "s3:GetObject", False),
        ("s3:*Object", "s3:GetObject", True),
        ("s?:GetObject", "s3:GetObject", True),
        ("s3:GetObject", "s3:GetObjectAcl", False),
        (["iam:ListUsers", "s3:GetObject"], "s3:GetObject", True),
    ],
)
def test_action_wildcards(pattern: str | list[str], action: str, expected: bool) -> None:
    assert action_allows(pattern, action) is expected


@pytest.mark.parametrize(
    ("pattern", "action"),
    [("S3:getobject", "s3:GetObject"), ("s3:GetObject", "S3:GETOBJECT"), ("IAM:List*", "iam:listusers")],
)
def test_actions_match_case_insensitively(pattern: str, action: str) -> None:
    assert action_allows(pattern, action)


@pytest.mark.parametrize("pattern", ["s3:GetObject,PutObject", "s3:GetObject ", " s3:GetObject"])
def test_comma_or_white_space_in_an_action_matches_nothing(pattern: str) -> None:
    assert not action_allows(pattern, "s3:GetObject")


def test_not_action_matches_every_action_not_listed() -> None:
    statement = {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
    assert allows(statement, "s3:GetObject", "arn:aws:s3:::b/k")
    assert allows(statement, "sqs:SendMessage", "arn:aws:s3:::b/k")
    assert not allows(statement, "IAM:CreateUser", "arn:aws:s3:::b/k")


def test_not_action_with_an_unmatchable_pattern_matches_every_action() -> None:
    statement = {"Effect": "Allow", "NotAction": "s3:", "Resource": "*"}
    assert allows(statement, "s3:GetObject", "arn:aws:s3:::b/k")


@pytest.mark.parametrize(
    ("pattern", "resource", "expected"),
    [
        ("*", "arn:aws:s3:::b/k", True),
        ("arn:aws:s3:::b/*", "arn:aws:s3:::b/a/b/c", True),
        ("arn:aws:s3:::b/*", "arn:aws:s3:::b", False),
        ("arn:aws:s3:::b*", "arn:aws:s3:::b", True),
        ("arn:aws:s3:::b/?", "arn:aws:s3:::b/k", True),
        ("arn:aws:s3:::b/?", "arn:aws:s3:::b/kk", False),
        ("arn:aws:s3:::*/report.csv", "arn:aws:s3:::b/2026/report.csv", True),
        ("arn:aws:s3:::b/k", "arn:aws:s3:::b/k", True),
        ("arn:aws:s3:::B/k", "arn:aws:s3:::b/k", False),
        ("arn:aws:s3:::b/K*", "arn:aws:s3:::b/k1", False),
        ("arn:aws:iam::111111111111:user/Bob", "arn:aws:iam::111111111111:user/bob", False),
        (["arn:aws:s3:::x/*", "arn:aws:s3:::b/*"], "arn:aws:s3:::b/k", True),
    ],
)
def test_resource_wildcards_are_case_sensitive(
    pattern: str | list[str], resource: str, expected: bool
) -> None:
    assert resource_allows(pattern, resource) is expected


def test_resource_part_wildcard_spans_colons() -> None:
    pattern = "arn:aws:logs:eu-west-1:111111111111:log-group:*"
    assert resource_allows(pattern, "arn:aws:logs:eu-west-1:111111111111:log-group:app:log-stream:x/y")


def test_star_in_region_or_account_stays_inside_its_segment() -> None:
    assert resource_allows("arn:aws:sqs:*:111111111111:queue1", "arn:aws:sqs:eu-west-1:111111111111:queue1")
    assert resource_allows("arn:aws:sqs:*:*:queue1", "arn:aws:sqs:eu-west-1:111111111111:queue1")
    assert not resource_allows("arn:aws:iam::*:user/bob", "arn:aws:iam::111111111111:extra:user/bob")
    assert not resource_allows("arn:aws:sqs:*:queue1", "arn:aws:sqs:eu-west-1:111111111111:queue1")
    assert not resource_allows("arn:aws:sqs:eu-?:*:q", "arn:aws:sqs:eu-:x:111111111111:q")


def test_star_in_region_or_account_spans_colons_only_in_a_list_too() -> None:
    patterns = ["arn:aws:s3:::other/*", "arn:aws:iam::*:user/bob"]
    assert not resource_allows(patterns, "arn:aws:iam::111111111111:extra:user/bob")
    assert resource_allows(patterns, "arn:aws:iam::111111111111:user/bob")


@pytest.mark.parametrize("pattern", ["arn:aws:s3:::*", "arn:*", "arn:aws:iam::111111111111:*"])
def test_request_resource_star_is_matched_only_by_resource_star(pattern: str) -> None:
    assert not resource_allows(pattern, "*", "s3:ListAllMyBuckets")
    assert resource_allows("*", "*", "s3:ListAllMyBuckets")


def test_not_resource_matches_every_resource_not_listed() -> None:
    statement = {"Effect": "Allow", "Action": "s3:*", "NotResource": ["arn:aws:s3:::secret/*"]}
    assert allows(statement, "s3:GetObject", "arn:aws:s3:::public/k")
    assert not allows(statement, "s3:GetObject", "arn:aws:s3:::secret/k")
    assert allows(statement, "s3:ListAllMyBuckets", "*")


def test_not_resource_star_never_matches() -> None:
    statement = {"Effect": "Allow", "Action": "s3:*", "NotResource": "*"}
    assert not allows(statement, "s3:GetObject", "arn:aws:s3:::b/k")
    assert not allows(statement, "s3:ListAllMyBuckets", "*")
