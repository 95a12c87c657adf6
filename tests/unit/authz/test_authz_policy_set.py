"""PolicySet: the per-action index of compiled statements."""

from __future__ import annotations

import random
from typing import Any

import pytest

from iamd.authz import CompiledStatement, NamedPolicy, PolicySet, compile_policies
from iamd.policy import VERSION_2012, PolicyKind, parse_policy


def named(name: str, *statements: dict[str, Any], kind: PolicyKind = PolicyKind.IDENTITY) -> NamedPolicy:
    document = {"Version": VERSION_2012, "Statement": list(statements)}
    return NamedPolicy(name, parse_policy(document, kind, strict=False))


def stmt(effect: str, action: str | list[str], sid: str, key: str = "Action") -> dict[str, Any]:
    return {"Sid": sid, "Effect": effect, key: action, "Resource": "*"}


def labels(statements: tuple[CompiledStatement, ...]) -> list[str]:
    return [s.ref.label for s in statements]


@pytest.fixture
def policy_set() -> PolicySet:
    return compile_policies(
        [
            named(
                "a",
                stmt("Allow", "s3:GetObject", "S3Get"),
                stmt("Deny", "iam:*", "NoIam"),
                stmt("Allow", "*", "Everything"),
                stmt("Deny", "s3:Put*", "NoPut"),
            ),
            named(
                "b",
                stmt("Allow", "s?:Get*", "WildPrefix"),
                stmt("Deny", "sqs:*", "NotAnySqs", key="NotAction"),
                stmt("Allow", ["sqs:SendMessage", "s3:getobject"], "Mixed"),
                stmt("Allow", "S3:*", "UpperPrefix"),
            ),
        ]
    )


def test_for_action_returns_only_matching_statements_in_document_order(policy_set: PolicySet) -> None:
    assert labels(policy_set.for_action("s3:getobject")) == [
        "a:S3Get",
        "a:Everything",
        "b:WildPrefix",
        "b:NotAnySqs",
        "b:Mixed",
        "b:UpperPrefix",
    ]
    assert labels(policy_set.for_action("iam:listusers")) == ["a:NoIam", "a:Everything", "b:NotAnySqs"]
    assert labels(policy_set.for_action("sqs:sendmessage")) == ["a:Everything", "b:Mixed"]
    assert labels(policy_set.for_action("s3:putobject")) == [
        "a:Everything",
        "a:NoPut",
        "b:NotAnySqs",
        "b:UpperPrefix",
    ]


def test_split_for_action_separates_denies_and_allows(policy_set: PolicySet) -> None:
    denies, allows = policy_set.split_for_action("s3:putobject")
    assert labels(denies) == ["a:NoPut", "b:NotAnySqs"]
    assert labels(allows) == ["a:Everything", "b:UpperPrefix"]


def test_for_action_with_unknown_service_returns_only_wildcard_statements(policy_set: PolicySet) -> None:
    assert labels(policy_set.for_action("ec2:runinstances")) == ["a:Everything", "b:NotAnySqs"]


def test_split_for_action_is_remembered(policy_set: PolicySet) -> None:
    first = policy_set.split_for_action("s3:getobject")
    assert policy_set.split_for_action("s3:getobject") is first
    merged = labels(policy_set.for_action("s3:getobject"))
    assert sorted(merged) == sorted(labels(first[0]) + labels(first[1]))


def test_answers_stay_right_when_the_cache_is_emptied(
    policy_set: PolicySet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(PolicySet, "_CACHE_LIMIT", 2)
    expected = {
        a: labels(policy_set.for_action(a)) for a in ("s3:getobject", "iam:listusers", "sqs:sendmessage")
    }
    for _ in range(3):
        for action, wanted in expected.items():
            assert labels(policy_set.for_action(action)) == wanted


def test_policy_set_metadata() -> None:
    resource = named(
        "bucket",
        {"Effect": "Deny", "NotPrincipal": {"AWS": "111111111111"}, "Action": "s3:*", "Resource": "*"},
        kind=PolicyKind.RESOURCE,
    )
    plain = named("p", stmt("Allow", "s3:*", "A"), stmt("Allow", "iam:*", "B"))
    assert len(compile_policies([plain])) == 2
    assert compile_policies([plain, resource]).names == ("p", "bucket")
    assert compile_policies([resource]).has_not_principal
    assert not compile_policies([plain]).has_not_principal
    assert len(PolicySet(())) == 0
    assert PolicySet(()).for_action("s3:getobject") == ()


def test_compiled_statement_records_its_services() -> None:
    compiled = compile_policies(
        [
            named(
                "p",
                stmt("Allow", ["s3:Get*", "SQS:Send*"], "A"),
                stmt("Allow", "*", "B"),
                stmt("Allow", "s3:*", "C", key="NotAction"),
            )
        ]
    ).statements
    assert compiled[0].services == ("s3", "sqs")
    assert compiled[1].services is None
    assert compiled[2].services is None


ACTION_PATTERNS = [
    "s3:GetObject",
    "s3:Get*",
    "iam:*",
    "*",
    "s?:Get*",
    "sqs:*",
    "S3:PutObject",
    "ec2:*Instances",
    "*:Get*",
]
ACTIONS = [
    "s3:getobject",
    "s3:putobject",
    "iam:createuser",
    "sqs:sendmessage",
    "sts:getcalleridentity",
    "ec2:runinstances",
]


@pytest.mark.parametrize("size", [1, 2, 7, 8, 9, 12, 30])
def test_a_scanned_set_answers_as_the_index(size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # Sets up to PolicySet._SCAN_LIMIT statements are scanned in order for an action, larger ones
    # indexed by service: both give the same statements, in the same order, whatever the size.
    rng = random.Random(size)
    for _ in range(20):
        statements = [
            stmt(
                rng.choice(["Allow", "Deny"]),
                rng.sample(ACTION_PATTERNS, rng.randint(1, 3)),
                f"S{i}",
                key=rng.choice(["Action", "Action", "NotAction"]),
            )
            for i in range(size)
        ]
        policies = [named("a", *statements[: size // 2]), named("b", *statements[size // 2 :])]
        policies = [p for p in policies if p.policy.statements]
        answers = {}
        for limit in (0, 1000):
            monkeypatch.setattr(PolicySet, "_SCAN_LIMIT", limit)
            compiled = compile_policies(policies)
            answers[limit] = [
                (labels(denies), labels(allows))
                for denies, allows in (compiled.split_for_action(action) for action in ACTIONS)
            ]
        assert answers[0] == answers[1000]
