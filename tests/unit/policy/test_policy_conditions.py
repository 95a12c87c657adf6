"""Condition operators, family by family, through parse_policy and compile_clause."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from iamd.policy import VERSION_2012, parse_policy
from iamd.policy.conditions import compile_clause, operators
from iamd.policy.variables import ContextValue

Values = str | int | float | bool | list[Any]


def context(values: Mapping[str, object]) -> dict[str, ContextValue]:
    """A request context as the evaluator receives it: lower-cased keys, string or tuple values."""
    out: dict[str, ContextValue] = {}
    for key, value in values.items():
        if isinstance(value, list):
            out[key.lower()] = tuple(str(v) for v in value)
        else:
            out[key.lower()] = str(value)
    return out


def holds(operator: str, key: str, values: Values, request: Mapping[str, object]) -> bool:
    """Whether the one-clause condition ``{operator: {key: values}}`` holds for ``request``."""
    statement = {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {operator: {key: values}}}
    policy = parse_policy({"Version": VERSION_2012, "Statement": [statement]}, strict=False)
    (clause,) = policy.statements[0].conditions
    return compile_clause(clause, policy.substitutes_variables)(context(request))


def test_every_documented_operator_is_registered() -> None:
    families = {
        "String": ["Equals", "NotEquals", "EqualsIgnoreCase", "NotEqualsIgnoreCase", "Like", "NotLike"],
        "Numeric": ["Equals", "NotEquals", "LessThan", "LessThanEquals", "GreaterThan", "GreaterThanEquals"],
        "Date": ["Equals", "NotEquals", "LessThan", "LessThanEquals", "GreaterThan", "GreaterThanEquals"],
        "Arn": ["Equals", "Like", "NotEquals", "NotLike"],
    }
    expected = {prefix + suffix for prefix, suffixes in families.items() for suffix in suffixes}
    expected |= {"Bool", "BinaryEquals", "IpAddress", "NotIpAddress", "Null"}
    assert set(operators()) == expected


# --- String ---------------------------------------------------------------------------------------


def test_string_equals_is_case_sensitive() -> None:
    assert holds("StringEquals", "aws:username", "alice", {"aws:username": "alice"})
    assert not holds("StringEquals", "aws:username", "alice", {"aws:username": "Alice"})


def test_string_equals_has_no_wildcards() -> None:
    assert not holds("StringEquals", "aws:username", "a*", {"aws:username": "alice"})
    assert holds("StringEquals", "aws:username", "a*", {"aws:username": "a*"})


def test_string_equals_several_values_are_ored() -> None:
    assert holds("StringEquals", "aws:username", ["bob", "alice"], {"aws:username": "alice"})


def test_condition_key_names_are_case_insensitive() -> None:
    assert holds("StringEquals", "AWS:UserName", "alice", {"aws:username": "alice"})
    assert holds("StringEquals", "aws:username", "alice", {"AWS:USERNAME": "alice"})


def test_string_equals_with_missing_key_is_false() -> None:
    assert not holds("StringEquals", "aws:username", "alice", {})


def test_string_not_equals_with_missing_key_is_true() -> None:
    assert holds("StringNotEquals", "aws:username", "alice", {})


def test_string_not_equals_several_values_are_anded() -> None:
    assert not holds("StringNotEquals", "aws:username", ["alice", "bob"], {"aws:username": "bob"})
    assert holds("StringNotEquals", "aws:username", ["alice", "bob"], {"aws:username": "carol"})


def test_string_equals_ignore_case() -> None:
    assert holds("StringEqualsIgnoreCase", "aws:username", "ALICE", {"aws:username": "alice"})
    assert not holds("StringNotEqualsIgnoreCase", "aws:username", "ALICE", {"aws:username": "Alice"})
    assert holds("StringNotEqualsIgnoreCase", "aws:username", "ALICE", {"aws:username": "bob"})


def test_string_like_star_and_question_mark() -> None:
    assert holds("StringLike", "s3:prefix", "home/*", {"s3:prefix": "home/alice/x"})
    assert holds("StringLike", "s3:prefix", "home/?", {"s3:prefix": "home/a"})
    assert not holds("StringLike", "s3:prefix", "home/?", {"s3:prefix": "home/ab"})
    assert not holds("StringLike", "s3:prefix", "Home/*", {"s3:prefix": "home/a"})


def test_string_like_star_with_missing_key_is_false() -> None:
    assert not holds("StringLike", "s3:prefix", "*", {})


def test_string_not_like_with_missing_key_is_true_and_values_are_anded() -> None:
    assert holds("StringNotLike", "s3:prefix", "home/*", {})
    assert not holds("StringNotLike", "s3:prefix", ["tmp/*", "home/*"], {"s3:prefix": "home/a"})
    assert holds("StringNotLike", "s3:prefix", ["tmp/*", "home/*"], {"s3:prefix": "etc/a"})


# --- Numeric --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "policy", "request_value", "expected"),
    [
        ("NumericEquals", "10", "10.0", True),
        ("NumericEquals", 10, "11", False),
        ("NumericNotEquals", "10", "11", True),
        ("NumericNotEquals", "10", "10", False),
        ("NumericLessThan", "10", "9.5", True),
        ("NumericLessThan", "10", "10", False),
        ("NumericLessThanEquals", "10", "10", True),
        ("NumericGreaterThan", "10", "10", False),
        ("NumericGreaterThan", "-1", "0", True),
        ("NumericGreaterThanEquals", 2.5, "2.50", True),
    ],
)
def test_numeric_operators(operator: str, policy: Values, request_value: str, expected: bool) -> None:
    assert holds(operator, "s3:max-keys", policy, {"s3:max-keys": request_value}) is expected


def test_numeric_several_values_or_and_negated_and() -> None:
    assert holds("NumericEquals", "s3:max-keys", ["1", "2"], {"s3:max-keys": "2"})
    assert not holds("NumericNotEquals", "s3:max-keys", ["1", "2"], {"s3:max-keys": "2"})


@pytest.mark.parametrize("operator", ["NumericEquals", "NumericNotEquals", "NumericLessThan"])
def test_numeric_with_unparsable_request_value_is_false(operator: str) -> None:
    assert not holds(operator, "s3:max-keys", "10", {"s3:max-keys": "ten"})


def test_numeric_not_equals_with_missing_key_is_true() -> None:
    assert holds("NumericNotEquals", "s3:max-keys", "10", {})
    assert not holds("NumericEquals", "s3:max-keys", "10", {})


def test_numeric_request_value_with_underscore_is_not_a_number() -> None:
    assert not holds("NumericEquals", "s3:max-keys", "1000", {"s3:max-keys": "1_000"})


# --- Date -----------------------------------------------------------------------------------------

NOON = "2026-03-01T12:00:00Z"
NOON_EPOCH = "1772366400"


def test_date_iso_and_epoch_stand_for_the_same_instant() -> None:
    assert holds("DateEquals", "aws:CurrentTime", NOON, {"aws:CurrentTime": NOON_EPOCH})
    assert holds("DateEquals", "aws:CurrentTime", NOON_EPOCH, {"aws:CurrentTime": NOON})
    assert holds("DateEquals", "aws:CurrentTime", int(NOON_EPOCH), {"aws:CurrentTime": NOON})


def test_date_with_time_zone_offset_compares_as_instant() -> None:
    assert holds("DateEquals", "aws:CurrentTime", "2026-03-01T13:00:00+01:00", {"aws:CurrentTime": NOON})


def test_date_only_value_is_midnight_utc() -> None:
    assert holds("DateLessThan", "aws:CurrentTime", "2026-03-02", {"aws:CurrentTime": NOON})
    assert holds("DateGreaterThan", "aws:CurrentTime", "2026-03-01", {"aws:CurrentTime": NOON})


@pytest.mark.parametrize(
    ("operator", "policy", "expected"),
    [
        ("DateLessThan", "1772366401", True),
        ("DateLessThan", NOON, False),
        ("DateLessThanEquals", NOON, True),
        ("DateGreaterThan", "2026-03-01T11:59:59Z", True),
        ("DateGreaterThanEquals", "1772366400", True),
        ("DateGreaterThan", "2027-01-01T00:00:00Z", False),
        ("DateNotEquals", NOON, False),
        ("DateNotEquals", "2026-03-01T12:00:01Z", True),
    ],
)
def test_date_operators(operator: str, policy: str, expected: bool) -> None:
    assert holds(operator, "aws:CurrentTime", policy, {"aws:CurrentTime": NOON}) is expected


def test_date_with_unparsable_request_value_is_false() -> None:
    assert not holds("DateLessThan", "aws:CurrentTime", NOON, {"aws:CurrentTime": "yesterday"})
    assert not holds("DateNotEquals", "aws:CurrentTime", NOON, {"aws:CurrentTime": "yesterday"})


# --- Bool, Binary, Null ---------------------------------------------------------------------------


def test_bool_compares_without_case_and_takes_json_booleans() -> None:
    assert holds("Bool", "aws:SecureTransport", "true", {"aws:SecureTransport": "True"})
    assert holds("Bool", "aws:SecureTransport", True, {"aws:SecureTransport": "true"})
    assert not holds("Bool", "aws:SecureTransport", True, {"aws:SecureTransport": "false"})
    assert holds("Bool", "aws:SecureTransport", False, {"aws:SecureTransport": "false"})


def test_bool_with_missing_key_is_false_and_bool_if_exists_true() -> None:
    assert not holds("Bool", "aws:MultiFactorAuthPresent", "true", {})
    assert holds("BoolIfExists", "aws:MultiFactorAuthPresent", "true", {})
    assert not holds(
        "BoolIfExists", "aws:MultiFactorAuthPresent", "true", {"aws:MultiFactorAuthPresent": "false"}
    )


def test_bool_with_unparsable_request_value_is_false() -> None:
    assert not holds("Bool", "aws:SecureTransport", "yes", {"aws:SecureTransport": "yes"})


def test_binary_equals_compares_decoded_bytes() -> None:
    # "aGVsbG8=" is base64 for "hello".
    assert holds("BinaryEquals", "k:blob", "aGVsbG8=", {"k:blob": "aGVsbG8="})
    assert holds("BinaryEquals", "k:blob", "aGVsbG8=", {"k:blob": "hello"})
    assert not holds("BinaryEquals", "k:blob", "aGVsbG8=", {"k:blob": "d29ybGQ="})
    assert not holds("BinaryEquals", "k:blob", "aGVsbG8=", {})


def test_null_tests_presence() -> None:
    assert holds("Null", "aws:TokenIssueTime", "true", {})
    assert not holds("Null", "aws:TokenIssueTime", "true", {"aws:TokenIssueTime": NOON})
    assert holds("Null", "aws:TokenIssueTime", "false", {"aws:TokenIssueTime": NOON})
    assert not holds("Null", "aws:TokenIssueTime", False, {})


def test_null_false_holds_for_an_empty_multivalued_key() -> None:
    assert holds("Null", "aws:TagKeys", "false", {"aws:TagKeys": []})


# --- IpAddress ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ranges", "address", "expected"),
    [
        ("10.0.0.0/8", "10.1.2.3", True),
        ("10.0.0.0/8", "11.0.0.1", False),
        ("203.0.113.5", "203.0.113.5", True),
        ("203.0.113.5", "203.0.113.6", False),
        (["192.0.2.0/24", "10.0.0.0/8"], "10.9.9.9", True),
        ("2001:db8::/32", "2001:db8:1::1", True),
        ("2001:db8::/32", "2001:db9::1", False),
        ("2001:db8::/32", "10.1.2.3", False),
        ("10.0.0.0/8", "2001:db8::1", False),
    ],
)
def test_ip_address_ranges(ranges: str | list[str], address: str, expected: bool) -> None:
    assert holds("IpAddress", "aws:SourceIp", ranges, {"aws:SourceIp": address}) is expected
    assert holds("NotIpAddress", "aws:SourceIp", ranges, {"aws:SourceIp": address}) is not expected


def test_ipv4_request_never_falls_in_an_ipv6_range() -> None:
    assert not holds("IpAddress", "aws:SourceIp", "::/0", {"aws:SourceIp": "10.1.2.3"})
    assert holds("NotIpAddress", "aws:SourceIp", "::/0", {"aws:SourceIp": "10.1.2.3"})


def test_not_ip_address_several_ranges_are_anded() -> None:
    ranges = ["10.0.0.0/8", "192.168.0.0/16"]
    assert not holds("NotIpAddress", "aws:SourceIp", ranges, {"aws:SourceIp": "192.168.1.1"})
    assert holds("NotIpAddress", "aws:SourceIp", ranges, {"aws:SourceIp": "172.16.0.1"})


def test_ip_missing_key() -> None:
    assert not holds("IpAddress", "aws:SourceIp", "10.0.0.0/8", {})
    assert holds("NotIpAddress", "aws:SourceIp", "10.0.0.0/8", {})


def test_ip_with_unparsable_request_value_is_false() -> None:
    assert not holds("IpAddress", "aws:SourceIp", "10.0.0.0/8", {"aws:SourceIp": "localhost"})
    assert not holds("NotIpAddress", "aws:SourceIp", "10.0.0.0/8", {"aws:SourceIp": "localhost"})


def test_ip_with_unparsable_policy_value_is_false_for_the_positive_operator() -> None:
    assert not holds("IpAddress", "aws:SourceIp", "not-a-cidr", {"aws:SourceIp": "10.0.0.1"})


@pytest.mark.parametrize(
    ("operator", "key", "policy", "request_value"),
    [
        ("NotIpAddress", "aws:SourceIp", "not-a-cidr", "10.0.0.1"),
        ("NumericNotEquals", "s3:max-keys", "ten", "5"),
        ("DateNotEquals", "aws:CurrentTime", "someday", NOON),
    ],
)
def test_negated_operator_with_unparsable_policy_value_is_false(
    operator: str, key: str, policy: str, request_value: str
) -> None:
    assert not holds(operator, key, policy, {key: request_value})


# --- Arn ------------------------------------------------------------------------------------------

ROLE = "arn:aws:iam::111111111111:role/team/deployer"


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (ROLE, True),
        ("arn:aws:iam::111111111111:role/team/*", True),
        ("arn:aws:iam::*:role/team/deployer", True),
        ("arn:aws:iam::????????????:role/*", True),
        ("arn:aws:iam::111111111111:role/*/deployer", True),
        ("arn:aws:iam::111111111111:role/Team/*", False),
        ("arn:aws:iam::222222222222:role/*", False),
        ("arn:aws:*:*:*:*", True),
    ],
)
def test_arn_like_matches_segment_by_segment(pattern: str, expected: bool) -> None:
    assert holds("ArnLike", "aws:PrincipalArn", pattern, {"aws:PrincipalArn": ROLE}) is expected
    assert holds("ArnEquals", "aws:PrincipalArn", pattern, {"aws:PrincipalArn": ROLE}) is expected
    assert holds("ArnNotLike", "aws:PrincipalArn", pattern, {"aws:PrincipalArn": ROLE}) is not expected
    assert holds("ArnNotEquals", "aws:PrincipalArn", pattern, {"aws:PrincipalArn": ROLE}) is not expected


def test_arn_star_in_account_does_not_cross_a_colon() -> None:
    odd = "arn:aws:iam::111111111111:extra:role/x"
    assert not holds("ArnLike", "aws:SourceArn", "arn:aws:iam::*:role/x", {"aws:SourceArn": odd})
    # whereas StringLike is not segment-aware
    assert holds("StringLike", "aws:SourceArn", "arn:aws:iam::*:role/x", {"aws:SourceArn": odd})


def test_arn_resource_part_wildcard_spans_colons_and_slashes() -> None:
    arn = "arn:aws:logs:eu-west-1:111111111111:log-group:app:log-stream:a/b"
    assert holds(
        "ArnLike", "aws:SourceArn", "arn:aws:logs:eu-west-1:111111111111:log-group:*", {"aws:SourceArn": arn}
    )


def test_arn_not_equals_with_missing_key_is_true() -> None:
    assert holds("ArnNotEquals", "aws:SourceArn", ROLE, {})
    assert not holds("ArnEquals", "aws:SourceArn", ROLE, {})


# --- IfExists -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "value"),
    [
        ("StringEqualsIfExists", "x"),
        ("StringLikeIfExists", "x*"),
        ("NumericLessThanIfExists", "10"),
        ("DateGreaterThanIfExists", "2020-01-01T00:00:00Z"),
        ("BoolIfExists", "true"),
        ("IpAddressIfExists", "10.0.0.0/8"),
        ("ArnLikeIfExists", "arn:aws:iam::*:role/x"),
        ("BinaryEqualsIfExists", "QmluYXJ5"),
    ],
)
def test_if_exists_with_missing_key_is_true(operator: str, value: str) -> None:
    assert holds(operator, "k:absent", value, {})


def test_clause_with_unreadable_policy_value_never_grants_even_with_if_exists() -> None:
    assert not holds("NumericLessThanIfExists", "k:absent", "ten", {})


def test_if_exists_with_present_key_compares_normally() -> None:
    assert holds("StringEqualsIfExists", "aws:username", "alice", {"aws:username": "alice"})
    assert not holds("StringEqualsIfExists", "aws:username", "alice", {"aws:username": "bob"})
    assert not holds("StringNotEqualsIfExists", "aws:username", "alice", {"aws:username": "alice"})
    assert holds("StringNotEqualsIfExists", "aws:username", "alice", {})
    assert not holds("NumericLessThanIfExists", "s3:max-keys", "10", {"s3:max-keys": "many"})


# --- set qualifiers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_value", "any_value", "all_values"),
    [
        (["team", "env"], True, True),
        (["team", "cost"], True, False),
        (["cost"], False, False),
        ([], False, True),
        (None, False, True),
        ("team", True, True),
        ("cost", False, False),
    ],
)
def test_for_any_value_and_for_all_values(request_value: object, any_value: bool, all_values: bool) -> None:
    request = {} if request_value is None else {"aws:TagKeys": request_value}
    allowed = ["team", "env"]
    assert holds("ForAnyValue:StringEquals", "aws:TagKeys", allowed, request) is any_value
    assert holds("ForAllValues:StringEquals", "aws:TagKeys", allowed, request) is all_values


def test_negated_operators_under_set_qualifiers_apply_per_request_value() -> None:
    banned = ["secret", "admin"]
    assert holds("ForAllValues:StringNotEquals", "aws:TagKeys", banned, {"aws:TagKeys": ["team", "env"]})
    assert not holds(
        "ForAllValues:StringNotEquals", "aws:TagKeys", banned, {"aws:TagKeys": ["team", "admin"]}
    )
    assert holds("ForAnyValue:StringNotEquals", "aws:TagKeys", banned, {"aws:TagKeys": ["admin", "team"]})
    assert not holds("ForAnyValue:StringNotEquals", "aws:TagKeys", banned, {"aws:TagKeys": ["admin"]})


def test_for_any_value_like_and_for_all_values_numeric() -> None:
    assert holds("ForAnyValue:StringLike", "aws:TagKeys", "cost*", {"aws:TagKeys": ["team", "costcenter"]})
    assert holds("ForAllValues:NumericLessThan", "k:sizes", "10", {"k:sizes": ["1", "9"]})
    assert not holds("ForAllValues:NumericLessThan", "k:sizes", "10", {"k:sizes": ["1", "x"]})


@pytest.mark.parametrize("operator", ["StringEquals", "StringNotEquals", "StringLike", "StringNotLike"])
def test_plain_operator_on_multivalued_key_does_not_match(operator: str) -> None:
    assert not holds(operator, "aws:TagKeys", "team", {"aws:TagKeys": ["team"]})


def test_unknown_operator_never_holds() -> None:
    assert not holds("StringEqualz", "aws:username", "alice", {"aws:username": "alice"})
    assert not holds("Sometimes:StringEquals", "aws:username", "alice", {"aws:username": "alice"})
