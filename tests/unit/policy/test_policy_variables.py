"""Policy variables in Resource, NotResource and condition values, through the evaluator."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pytest

from iamd.authz import (
    NamedPolicy,
    Principal,
    PrincipalPolicies,
    Request,
    compile_policies,
    evaluate,
    normalize_context,
)
from iamd.policy import VERSION_2008, VERSION_2012, parse_policy

ACCOUNT = "111111111111"
ALICE = Principal.parse(f"arn:aws:iam::{ACCOUNT}:user/alice")
_DEFAULT_VERSION = object()


def decide(
    statements: list[dict[str, Any]],
    resource: str = "arn:aws:s3:::b/k",
    context: Mapping[str, object] | None = None,
    version: object = _DEFAULT_VERSION,
) -> str:
    document: dict[str, Any] = {"Statement": statements}
    if version is _DEFAULT_VERSION:
        document["Version"] = VERSION_2012
    elif version is not None:
        document["Version"] = version
    identity = compile_policies([NamedPolicy("p", parse_policy(document, strict=False))])
    request = Request(ALICE, "s3:GetObject", resource, ACCOUNT, normalize_context(context or {}))
    return evaluate(request, PrincipalPolicies(identity=identity)).decision


def allow_resource(pattern: str | list[str]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": "s3:*", "Resource": pattern}


def allow_if(operator: str, key: str, value: object) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {operator: {key: value}}}


HOME = "arn:aws:s3:::home/${aws:username}/*"


def test_username_variable_in_resource() -> None:
    assert (
        decide([allow_resource(HOME)], "arn:aws:s3:::home/alice/a.txt", {"aws:username": "alice"})
        == "Allowed"
    )
    assert (
        decide([allow_resource(HOME)], "arn:aws:s3:::home/bob/a.txt", {"aws:username": "alice"}) != "Allowed"
    )


def test_principal_tag_variable_key_is_case_insensitive() -> None:
    pattern = "arn:aws:s3:::teams/${aws:PrincipalTag/team}/*"
    context = {"aws:principaltag/TEAM": "blue"}
    assert decide([allow_resource(pattern)], "arn:aws:s3:::teams/blue/x", context) == "Allowed"
    assert decide([allow_resource(pattern)], "arn:aws:s3:::teams/red/x", context) != "Allowed"


def test_variable_value_is_case_sensitive_in_resource() -> None:
    assert decide([allow_resource(HOME)], "arn:aws:s3:::home/alice/a", {"aws:username": "Alice"}) != "Allowed"


def test_default_value_is_used_when_key_is_absent() -> None:
    pattern = "arn:aws:s3:::teams/${aws:PrincipalTag/team, 'shared'}/*"
    assert decide([allow_resource(pattern)], "arn:aws:s3:::teams/shared/x") == "Allowed"
    assert decide([allow_resource(pattern)], "arn:aws:s3:::teams/blue/x") != "Allowed"
    assert decide(
        [allow_resource(pattern)], "arn:aws:s3:::teams/blue/x", {"aws:PrincipalTag/team": "blue"}
    ) == ("Allowed")


@pytest.mark.parametrize(
    ("pattern", "matching", "other"),
    [
        ("arn:aws:s3:::b/${*}", "arn:aws:s3:::b/*", "arn:aws:s3:::b/x"),
        ("arn:aws:s3:::b/${?}", "arn:aws:s3:::b/?", "arn:aws:s3:::b/x"),
        ("arn:aws:s3:::b/${$}x", "arn:aws:s3:::b/$x", "arn:aws:s3:::b/${$}x"),
    ],
)
def test_escapes_are_literal_characters_in_resource(pattern: str, matching: str, other: str) -> None:
    assert decide([allow_resource(pattern)], matching) == "Allowed"
    assert decide([allow_resource(pattern)], other) != "Allowed"


def test_escapes_are_literal_characters_in_string_conditions() -> None:
    context = {"s3:prefix": "a*"}
    assert decide([allow_if("StringEquals", "s3:prefix", "a${*}")], context=context) == "Allowed"
    assert decide([allow_if("StringLike", "s3:prefix", "a${*}")], context={"s3:prefix": "ab"}) != "Allowed"
    assert decide([allow_if("StringLike", "s3:prefix", "a${*}")], context=context) == "Allowed"
    assert decide([allow_if("StringEquals", "s3:prefix", "${$}1")], context={"s3:prefix": "$1"}) == "Allowed"


@pytest.mark.parametrize("value", ["*", "?", "a*", "al?ce"])
def test_substituted_value_never_acts_as_a_wildcard_in_resource(value: str) -> None:
    context = {"aws:username": value}
    assert decide([allow_resource(HOME)], "arn:aws:s3:::home/alice/x", context) != "Allowed"
    assert decide([allow_resource(HOME)], f"arn:aws:s3:::home/{value}/x", context) == "Allowed"


def test_substituted_value_never_acts_as_a_wildcard_in_conditions() -> None:
    context = {"aws:username": "*", "s3:prefix": "home/alice"}
    assert decide([allow_if("StringLike", "s3:prefix", "home/${aws:username}")], context=context) != "Allowed"
    context["s3:prefix"] = "home/*"
    assert decide([allow_if("StringLike", "s3:prefix", "home/${aws:username}")], context=context) == "Allowed"


@pytest.mark.parametrize("version", [VERSION_2008, None])
def test_no_substitution_under_old_version_or_without_version(version: str | None) -> None:
    context = {"aws:username": "alice"}
    assert decide([allow_resource(HOME)], "arn:aws:s3:::home/alice/x", context, version) != "Allowed"
    literal = "arn:aws:s3:::home/${aws:username}/x"
    assert decide([allow_resource(HOME)], literal, context, version) == "Allowed"
    condition = allow_if("StringEquals", "s3:prefix", "${aws:username}")
    assert decide([condition], context={**context, "s3:prefix": "alice"}, version=version) != "Allowed"
    assert decide([condition], context={"s3:prefix": "${aws:username}"}, version=version) == "Allowed"


def test_no_substitution_of_escapes_under_old_version() -> None:
    assert (
        decide([allow_resource("arn:aws:s3:::b/${*}")], "arn:aws:s3:::b/${*}", version=VERSION_2008)
        == "Allowed"
    )
    assert (
        decide([allow_resource("arn:aws:s3:::b/${*}")], "arn:aws:s3:::b/*", version=VERSION_2008) != "Allowed"
    )


def test_variable_with_no_value_makes_resource_entry_match_nothing() -> None:
    assert decide([allow_resource("arn:aws:s3:::home/${aws:username}*")], "arn:aws:s3:::home/x") != "Allowed"
    assert decide([allow_resource("arn:aws:s3:::home/${aws:username}*")], "arn:aws:s3:::home/") != "Allowed"
    both = ["arn:aws:s3:::home/${aws:username}/*", "arn:aws:s3:::public/*"]
    assert decide([allow_resource(both)], "arn:aws:s3:::public/x") == "Allowed"


def test_multivalued_key_as_variable_has_no_value() -> None:
    pattern = "arn:aws:s3:::b/${aws:TagKeys}"
    assert decide([allow_resource(pattern)], "arn:aws:s3:::b/team", {"aws:TagKeys": ["team"]}) != "Allowed"


def test_variable_with_no_value_in_not_resource_excludes_nothing() -> None:
    statements = [
        allow_resource("*"),
        {"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::home/${aws:username}/*"},
    ]
    assert decide(statements, "arn:aws:s3:::home/alice/x") == "ExplicitlyDenied"
    assert decide(statements, "arn:aws:s3:::home/alice/x", {"aws:username": "alice"}) == "Allowed"


def test_negated_operator_matches_a_variable_with_no_value() -> None:
    deny = {
        "Effect": "Deny",
        "Action": "s3:*",
        "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}},
    }
    assert decide([allow_resource("*"), deny], context={"aws:ResourceTag/team": "blue"}) == "ExplicitlyDenied"
    same = {"aws:ResourceTag/team": "blue", "aws:PrincipalTag/team": "blue"}
    assert decide([allow_resource("*"), deny], context=same) == "Allowed"


def test_positive_operator_does_not_match_a_variable_with_no_value() -> None:
    allow = allow_if("StringEquals", "aws:ResourceTag/team", "${aws:PrincipalTag/team}")
    assert decide([allow], context={"aws:ResourceTag/team": "blue"}) == "ImplicitlyDenied"
    allow = allow_if("StringLike", "aws:ResourceTag/team", "${aws:PrincipalTag/team}*")
    assert decide([allow], context={"aws:ResourceTag/team": "blue"}) == "ImplicitlyDenied"


def test_variable_in_arn_condition() -> None:
    allow = allow_if("ArnLike", "aws:SourceArn", "arn:aws:sqs:*:${aws:PrincipalAccount}:*")
    context = {"aws:PrincipalAccount": ACCOUNT, "aws:SourceArn": f"arn:aws:sqs:eu-west-1:{ACCOUNT}:q"}
    assert decide([allow], context=context) == "Allowed"
    context["aws:PrincipalAccount"] = "222222222222"
    assert decide([allow], context=context) == "ImplicitlyDenied"


def test_variable_in_bool_condition() -> None:
    allow = allow_if("Bool", "aws:SecureTransport", "${aws:ViaAWSService}")
    both = {"aws:SecureTransport": "true", "aws:ViaAWSService": "TRUE"}
    assert decide([allow], context=both) == "Allowed"
    assert decide([allow], context={"aws:SecureTransport": "true"}) == "ImplicitlyDenied"


def test_variable_and_wildcard_combined_in_resource() -> None:
    pattern = "arn:aws:s3:::*/${aws:username}/*"
    context = {"aws:username": "alice"}
    assert decide([allow_resource(pattern)], "arn:aws:s3:::any/alice/x", context) == "Allowed"
    assert decide([allow_resource(pattern)], "arn:aws:s3:::any/bob/x", context) != "Allowed"


def test_variable_in_the_account_segment_of_a_resource() -> None:
    pattern = "arn:aws:sqs:*:${aws:PrincipalAccount}:*"
    context = {"aws:PrincipalAccount": ACCOUNT}
    assert decide([allow_resource(pattern)], f"arn:aws:sqs:eu-west-1:{ACCOUNT}:q", context) == "Allowed"
    assert decide([allow_resource(pattern)], "arn:aws:sqs:eu-west-1:222222222222:q", context) != "Allowed"


def test_a_default_after_a_long_run_of_spaces_is_read_in_linear_time() -> None:
    """Issue 10: the key before a default's comma was read by a lazy pattern followed by spaces,
    which tried every split of the spaces (20,000 spaces: seconds); the reading is unchanged."""
    spaces = " " * 20_000
    start = time.perf_counter()
    decision = decide(
        [allow_resource("arn:aws:s3:::b/${aws:username" + spaces + ", 'nobody'}")], "arn:aws:s3:::b/nobody"
    )
    assert time.perf_counter() - start < 0.25
    assert decision == "Allowed"
    assert decide([allow_resource("arn:aws:s3:::b/${aws:username , 'x'}")], "arn:aws:s3:::b/x") == "Allowed"
