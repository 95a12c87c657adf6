"""Property tests: a proven PASS never meets a counterexample among random requests run through
iamd's evaluator, and every FAIL's counterexample is one the evaluator confirms.

Policies and requests are drawn from one small vocabulary (wildcards, NotAction/NotResource,
Deny, IfExists, Null, set operators, numbers, dates, addresses, policy variables), so random
requests often land on the edges the encoding must get right."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iamd.analyzer.proofs import PolicyType, Undecided, check_access_not_granted, check_no_new_access
from iamd.authz import NamedPolicy, Principal, PrincipalPolicies, Request, compile_policies, evaluate
from iamd.policy import Policy, PolicyKind, parse_policy

ACCOUNT = "111122223333"
CALLER = Principal.parse(f"arn:aws:iam::{ACCOUNT}:user/iamd-analyzer")
ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "sqs:SendMessage", "ec2:DescribeInstances"]
ACTION_PATTERNS = [*ACTIONS, "s3:Get*", "s3:*", "*", "s3:?etObject", "ec2:Describe*", "*:Get*"]
RESOURCES = [
    "arn:aws:s3:::b/x",
    "arn:aws:s3:::b/bob/k",
    "arn:aws:s3:::c",
    "arn:aws:sqs:us-east-1:111122223333:q",
    "*",
]
RESOURCE_PATTERNS = [
    "*",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::b/x",
    "arn:aws:s3:::*",
    "arn:aws:sqs:*:111122223333:q",
    "arn:aws:s3:::b/${aws:username}/*",
    "arn:aws:iam::*:user/${aws:username}",
]
CONDITIONS: list[tuple[str, str, list[str]]] = [
    ("StringEquals", "aws:username", ["bob"]),
    ("StringNotEquals", "aws:username", ["bob", "eve"]),
    ("StringLike", "aws:username", ["b*"]),
    ("StringEqualsIgnoreCase", "aws:username", ["BOB"]),
    ("StringEqualsIfExists", "aws:PrincipalTag/team", ["red"]),
    ("Null", "aws:PrincipalTag/team", ["true"]),
    ("Null", "aws:PrincipalTag/team", ["false"]),
    ("ForAnyValue:StringEquals", "aws:TagKeys", ["a", "b"]),
    ("ForAllValues:StringLike", "aws:TagKeys", ["a*"]),
    ("NumericLessThan", "s3:max-keys", ["10"]),
    ("NumericGreaterThanEquals", "s3:max-keys", ["2.5"]),
    ("IpAddress", "aws:SourceIp", ["10.0.0.0/8"]),
    ("NotIpAddress", "aws:SourceIp", ["10.1.0.0/16"]),
    ("Bool", "aws:SecureTransport", ["true"]),
    ("DateLessThan", "aws:CurrentTime", ["2030-01-01T00:00:00Z"]),
    ("ArnLike", "aws:SourceArn", ["arn:aws:sqs:*:111122223333:*"]),
    ("StringEquals", "aws:PrincipalTag/team", ["${aws:username}"]),
]
CONTEXT_VALUES: dict[str, list[Any]] = {
    "aws:username": ["bob", "BOB", "eve", "b"],
    "aws:principaltag/team": ["red", "bob", "blue"],
    "aws:tagkeys": [[], ["a"], ["a", "c"], ["b"], "a"],
    "s3:max-keys": ["1", "2.5", "10", "x"],
    "aws:sourceip": ["10.1.2.3", "10.2.0.1", "192.0.2.1", "::1"],
    "aws:securetransport": ["true", "false", "TRUE"],
    "aws:currenttime": ["2029-12-31T23:59:59Z", "2031-01-01T00:00:00Z"],
    "aws:sourcearn": ["arn:aws:sqs:us-east-1:111122223333:q", "arn:aws:sqs:us-east-1:999999999999:q"],
}


@st.composite
def statements(draw: st.DrawFn, index: int) -> dict[str, Any]:
    stmt: dict[str, Any] = {"Effect": draw(st.sampled_from(["Allow", "Allow", "Deny"]))}
    stmt["NotAction" if draw(st.integers(0, 5)) == 0 else "Action"] = draw(
        st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=3, unique=True)
    )
    stmt["NotResource" if draw(st.integers(0, 5)) == 0 else "Resource"] = draw(
        st.lists(st.sampled_from(RESOURCE_PATTERNS), min_size=1, max_size=2, unique=True)
    )
    condition: dict[str, dict[str, list[str]]] = {}
    for op, key, values in draw(st.lists(st.sampled_from(CONDITIONS), max_size=2)):
        condition.setdefault(op, {})[key] = values
    if condition:
        stmt["Condition"] = condition
    if draw(st.booleans()):
        stmt["Sid"] = f"S{index}"
    return stmt


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    count = draw(st.integers(1, 3))
    document = {"Version": "2012-10-17", "Statement": [draw(statements(i)) for i in range(count)]}
    return parse_policy(json.dumps(document), PolicyKind.IDENTITY, strict=False)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    context: dict[str, Any] = {}
    for key, values in CONTEXT_VALUES.items():
        if draw(st.booleans()):
            value = draw(st.sampled_from(values))
            context[key] = tuple(value) if isinstance(value, list) else value
    return Request(CALLER, draw(st.sampled_from(ACTIONS)), draw(st.sampled_from(RESOURCES)), ACCOUNT, context)


def allowed(policy: Policy, request: Request) -> bool:
    compiled = compile_policies([NamedPolicy("p", policy)])
    return evaluate(request, PrincipalPolicies(identity=compiled)).decision == "Allowed"


def confirm(result: Any, new: Policy, old: Policy | None) -> None:
    example = result.counterexample
    assert example is not None
    if result.notes:
        return  # an over-approximated FAIL says so; it need not be a real request
    assert example.confirmed
    request = Request(CALLER, example.action, example.resource, ACCOUNT, example.context)
    assert allowed(new, request)
    if old is not None:
        assert not allowed(old, request)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies(), policies(), st.lists(requests(), min_size=30, max_size=30))
def test_no_new_access_pass_is_never_contradicted_and_fail_is_confirmed(
    new: Policy, old: Policy, probes: list[Request]
) -> None:
    try:
        result = check_no_new_access(new, old, PolicyType.IDENTITY, timeout_ms=3000)
    except Undecided:
        return  # no answer is allowed (never a wrong PASS); the server answers 422
    if result.passed:
        for request in probes:
            assert not (allowed(new, request) and not allowed(old, request)), request
    else:
        confirm(result, new, old)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    policies(),
    st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=2, unique=True),
    st.lists(requests(), min_size=30, max_size=30),
)
def test_access_not_granted_pass_is_never_contradicted(
    policy: Policy, listed: list[str], probes: list[Request]
) -> None:
    try:
        result = check_access_not_granted(policy, PolicyType.IDENTITY, listed, [], timeout_ms=3000)
    except Undecided:
        return
    if result.passed:
        for request in probes:
            if request.action in listed:
                assert not allowed(policy, request), request
    else:
        confirm(result, policy, None)
        assert result.counterexample is not None and result.counterexample.action in listed
