"""Explaining a denial down to the condition (``iamd.authz.nearmiss``): the statements that nearly
applied, each with the first element that did not match (Action, Principal, Resource, or the
condition's operator, key, the request's value or its absence, and the policy's values).

The condition semantics the expectations rest on are AWS's (IAM User Guide, "IAM JSON policy
elements: Condition operators", https://docs.aws.amazon.com/IAM/latest/UserGuide/
reference_policies_elements_condition_operators.html: a key absent from the request makes a
condition false unless the operator ends in IfExists; "Single-valued vs. multivalued context
keys", .../reference_policies_condition-single-vs-multi-valued-context-keys.html: ForAllValues holds
when every request value matches one of the policy's)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from iamd.authz import (
    Decision,
    Element,
    Layer,
    NamedPolicy,
    PolicySet,
    Principal,
    PrincipalPolicies,
    Request,
    ResourcePolicies,
    compile_policies,
    evaluate,
    explain,
    normalize_context,
)
from iamd.authz.nearmiss import MAX_NEAR_MISSES
from iamd.policy import VERSION_2012, PolicyKind, parse_policy

A = "111111111111"
USER = f"arn:aws:iam::{A}:user/alice"
ROLE = f"arn:aws:iam::{A}:role/admin"
OBJECT = "arn:aws:s3:::bucket/key"
GET = "s3:GetObject"


def compiled(kind: PolicyKind, name: str, statements: Sequence[dict[str, Any]]) -> PolicySet:
    document = {"Version": VERSION_2012, "Statement": list(statements)}
    return compile_policies([NamedPolicy(name, parse_policy(document, kind, strict=False))])


def decide(
    *,
    identity: Sequence[dict[str, Any]] = (),
    boundary: Sequence[dict[str, Any]] | None = None,
    resource: Sequence[dict[str, Any]] | None = None,
    required: bool = False,
    scps: Sequence[tuple[str, Sequence[dict[str, Any]]]] = (),
    context: Mapping[str, object] | None = None,
    action: str = GET,
    target: str = OBJECT,
    caller: str = USER,
) -> tuple[Decision, Decision]:
    """(what ``evaluate`` returned, the same decision explained)."""
    principal_policies = PrincipalPolicies(
        identity=compiled(PolicyKind.IDENTITY, "user-policy", identity),
        boundary=None if boundary is None else compiled(PolicyKind.MANAGED, "cap", boundary),
        scps=tuple((level, compiled(PolicyKind.SCP, f"{level}-scp", s)) for level, s in scps),
    )
    resource_policies = ResourcePolicies(
        policy=None if resource is None else compiled(PolicyKind.TRUST, "trust-policy", resource),
        required=required,
    )
    request = Request(Principal.parse(caller), action, target, A, normalize_context(context or {}))
    decision = evaluate(request, principal_policies, resource_policies)
    return decision, explain(request, principal_policies, resource_policies, decision)


def allow(**extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": GET, "Resource": "*", **extra}


def only(decision: Decision) -> Element:
    """The failing element of the one near miss."""
    assert len(decision.near_misses) == 1, decision.near_misses
    return decision.near_misses[0].failed


def test_source_ip_denial_names_statement_key_request_value_and_policy_values() -> None:
    raw, explained = decide(
        identity=[
            allow(Sid="FromOffice", Condition={"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.0.2.0/24"]}})
        ],
        context={"aws:SourceIp": "203.0.113.9"},
    )
    assert raw.near_misses == ()  # evaluate alone never explains: the allow path pays nothing
    miss = explained.near_misses[0]
    assert (miss.layer, miss.statement.policy, miss.statement.sid) == (
        Layer.IDENTITY,
        "user-policy",
        "FromOffice",
    )
    assert miss.failed == Element(
        "Condition", ("203.0.113.9",), ("10.0.0.0/8", "192.0.2.0/24"), "IpAddress", "aws:SourceIp"
    )
    assert miss.describe() == (
        "identity-based policy statement user-policy:FromOffice: Condition IpAddress aws:SourceIp: "
        "request value 203.0.113.9; policy values 10.0.0.0/8, 192.0.2.0/24"
    )
    answer = explained.to_json()
    assert answer["nearMisses"] == [
        {
            "layer": "identity",
            "policy": "user-policy",
            "statement": 0,
            "sid": "FromOffice",
            "effect": "Allow",
            "failed": {
                "element": "Condition",
                "operator": "IpAddress",
                "key": "aws:SourceIp",
                "absent": False,
                "requestValues": ["203.0.113.9"],
                "policyValues": ["10.0.0.0/8", "192.0.2.0/24"],
            },
            "text": miss.describe(),
        }
    ]
    # AWS's sentence is unchanged by the explanation.
    assert explained.denial_message(USER, GET, OBJECT) == raw.denial_message(USER, GET, OBJECT)
    assert explained.summary == raw.summary


def test_request_tag_mismatch_and_absent_tag() -> None:
    tagged = allow(Action="ec2:CreateVolume", Condition={"StringEquals": {"aws:RequestTag/team": "blue"}})
    _, wrong = decide(identity=[tagged], action="ec2:CreateVolume", context={"aws:RequestTag/team": "red"})
    assert only(wrong) == Element("Condition", ("red",), ("blue",), "StringEquals", "aws:RequestTag/team")
    _, absent = decide(identity=[tagged], action="ec2:CreateVolume")
    failed = only(absent)
    assert failed.request is None and failed.to_json()["absent"] is True
    assert failed.to_json()["requestValues"] is None
    assert "request value absent; policy values blue" in absent.near_misses[0].describe()


def test_mfa_condition_in_a_trust_policy_is_named_on_the_resource_layer() -> None:
    """IAM User Guide, "Configuring MFA-protected API access": a trust policy that requires
    aws:MultiFactorAuthPresent refuses sessions without MFA."""
    trust = [
        {
            "Sid": "NeedsMfa",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        },
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
            "Action": "sts:AssumeRole",
        },
    ]
    for context, request_value in (({"aws:MultiFactorAuthPresent": False}, ("false",)), ({}, None)):
        raw, explained = decide(
            identity=[allow(Action="sts:AssumeRole")],
            resource=trust,
            required=True,
            action="sts:AssumeRole",
            target=ROLE,
            context=context,
        )
        assert raw.deciding is Layer.RESOURCE and not raw.allowed
        first, second = explained.near_misses
        assert (first.layer, first.statement.sid) == (Layer.RESOURCE, "NeedsMfa")
        assert first.failed == Element(
            "Condition", request_value, ("true",), "Bool", "aws:MultiFactorAuthPresent"
        )
        # The statement for another account failed earlier (its Principal), so it comes second.
        assert second.failed == Element("Principal", (USER,), ("arn:aws:iam::999999999999:root",))


def test_not_action_and_not_resource_exclusions() -> None:
    _, explained = decide(
        identity=[{"Effect": "Allow", "NotAction": ["s3:Get*", "iam:*"], "Resource": "*"}],
    )
    assert only(explained) == Element("NotAction", (GET,), ("s3:Get*", "iam:*"))
    assert "NotAction: s3:GetObject is excluded by s3:Get*, iam:*" in explained.near_misses[0].describe()
    _, explained = decide(
        identity=[{"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::bucket/*"}],
    )
    assert only(explained) == Element("NotResource", (OBJECT,), ("arn:aws:s3:::bucket/*",))


def test_if_exists_holds_when_absent_and_fails_on_a_present_wrong_value() -> None:
    statement = allow(
        Condition={
            "StringEqualsIfExists": {"s3:x-amz-acl": "private"},
            "StringEquals": {"aws:PrincipalTag/team": "blue"},
        }
    )
    # The IfExists clause holds with its key absent; the next clause is the one that failed.
    _, explained = decide(identity=[statement], context={"aws:PrincipalTag/team": "red"})
    assert only(explained) == Element(
        "Condition", ("red",), ("blue",), "StringEquals", "aws:PrincipalTag/team"
    )
    _, explained = decide(
        identity=[statement], context={"s3:x-amz-acl": "public-read", "aws:PrincipalTag/team": "blue"}
    )
    assert only(explained) == Element(
        "Condition", ("public-read",), ("private",), "StringEqualsIfExists", "s3:x-amz-acl"
    )


def test_for_all_values_lists_every_request_value() -> None:
    statement = allow(
        Action="s3:PutObjectTagging",
        Condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}},
    )
    _, explained = decide(
        identity=[statement], action="s3:PutObjectTagging", context={"aws:TagKeys": ["env", "cost"]}
    )
    assert only(explained) == Element(
        "Condition", ("env", "cost"), ("env", "team"), "ForAllValues:StringEquals", "aws:TagKeys"
    )
    # ForAnyValue with the key absent fails; the explanation says the key is absent.
    any_value = allow(Condition={"ForAnyValue:StringEquals": {"aws:TagKeys": "env"}})
    _, explained = decide(identity=[any_value])
    assert only(explained).request is None


def test_near_misses_are_ordered_nearest_first() -> None:
    _, explained = decide(
        identity=[
            allow(Sid="OtherAction", Action="s3:PutObject"),
            allow(Sid="OtherBucket", Resource="arn:aws:s3:::elsewhere/*"),
            allow(Sid="FirstClause", Condition={"StringEquals": {"aws:PrincipalTag/team": "blue"}}),
            allow(
                Sid="SecondClause",
                Condition={
                    "Bool": {"aws:SecureTransport": "true"},
                    "IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
                },
            ),
            {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"},
        ],
        context={"aws:SecureTransport": True, "aws:SourceIp": "198.51.100.1"},
    )
    # Conditions before resources; the statement that got further (one clause held) first; a
    # statement for another action is left out while any statement matched the action.
    assert [m.statement.sid for m in explained.near_misses] == ["SecondClause", "FirstClause", "OtherBucket"]
    assert [m.failed.element for m in explained.near_misses] == ["Condition", "Condition", "Resource"]


def test_statements_for_other_actions_are_listed_when_none_matched_the_action() -> None:
    queue = allow(Sid="Queue", Action="sqs:SendMessage")
    _, explained = decide(identity=[queue, allow(Sid="Put", Action="s3:PutObject")])
    # The same service's statement first, then the others, each naming the Action it allows.
    assert [m.statement.sid for m in explained.near_misses] == ["Put", "Queue"]
    assert explained.near_misses[0].failed == Element("Action", (GET,), ("s3:PutObject",))
    many = [allow(Sid=f"S{i}", Action=f"s3:PutObjectVersion{i}") for i in range(MAX_NEAR_MISSES + 3)]
    _, explained = decide(identity=[queue, *many])
    assert [m.statement.sid for m in explained.near_misses] == [f"S{i}" for i in range(MAX_NEAR_MISSES)]


def test_long_policy_value_lists_are_cut_in_the_answer() -> None:
    actions = [f"s3:Action{i}" for i in range(30)]
    _, explained = decide(identity=[allow(Action=actions)])
    failed = only(explained).to_json()
    assert failed["policyValues"] == actions[:20] and failed["policyValuesOmitted"] == 10
    assert "… (10 more)" in explained.near_misses[0].describe()


def test_boundary_and_scp_gaps_explain_their_own_statements() -> None:
    _, explained = decide(
        identity=[allow()],
        boundary=[allow(Resource="arn:aws:s3:::public/*")],
    )
    assert explained.deciding is Layer.BOUNDARY
    assert [(m.layer, m.failed.element) for m in explained.near_misses] == [(Layer.BOUNDARY, "Resource")]
    _, explained = decide(
        identity=[allow()],
        scps=[
            ("r-root", [allow()]),
            ("ou-eu", [allow(Condition={"StringEquals": {"aws:RequestedRegion": "eu-west-1"}})]),
        ],
        context={"aws:RequestedRegion": "us-east-1"},
    )
    assert explained.deciding is Layer.SCP
    (miss,) = explained.near_misses
    assert (miss.layer, miss.level, miss.failed.request) == (Layer.SCP, "ou-eu", ("us-east-1",))
    assert miss.to_json()["level"] == "ou-eu"


def test_explicit_deny_shows_the_conditions_that_held_with_the_request_values() -> None:
    raw, explained = decide(
        identity=[
            allow(Action="*"),
            {
                "Sid": "OutsideOffice",
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            },
        ],
        context={"aws:SourceIp": "203.0.113.9"},
    )
    assert raw.denied_by == () and explained.near_misses == ()
    (denied,) = explained.denied_by
    assert denied.statement.sid == "OutsideOffice"
    assert denied.conditions == (
        Element("Condition", ("203.0.113.9",), ("10.0.0.0/8",), "NotIpAddress", "aws:SourceIp"),
    )
    assert explained.to_json()["deniedBy"][0]["text"] == (
        "identity-based policy statement user-policy:OutsideOffice denies: Condition NotIpAddress "
        "aws:SourceIp: request value 203.0.113.9; policy values 10.0.0.0/8"
    )
    assert explained.explanation()[0] == raw.summary


def test_an_allowed_decision_is_returned_unchanged() -> None:
    raw, explained = decide(identity=[allow()])
    assert raw.allowed and explained is raw
    assert "nearMisses" not in explained.to_json() and "deniedBy" not in explained.to_json()
