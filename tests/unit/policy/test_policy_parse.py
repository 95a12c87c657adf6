"""Parsing policy documents: every element and form, located findings, quotas, strict mode."""

from __future__ import annotations

import json
from typing import Any

import pytest

from iamd.policy import (
    VERSION_2008,
    VERSION_2012,
    Effect,
    Finding,
    Policy,
    PolicyError,
    PolicyKind,
    PrincipalSpec,
    check_policy,
    parse_policy,
    policy_size,
)


def doc(*statements: dict[str, Any], version: str | None = VERSION_2012) -> dict[str, Any]:
    out: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        out["Version"] = version
    return out


ALLOW_GET = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}


def codes(source: Any, kind: PolicyKind = PolicyKind.IDENTITY) -> list[str]:
    return [f.code for f in check_policy(source, kind).findings]


def only(findings: list[Finding], code: str) -> Finding:
    matching = [f for f in findings if f.code == code]
    assert len(matching) == 1, findings
    return matching[0]


# --- elements and their forms ----------------------------------------------------------------------


def test_statement_as_single_object_parses_as_one_statement() -> None:
    policy = parse_policy({"Version": VERSION_2012, "Statement": ALLOW_GET})
    assert len(policy.statements) == 1
    assert policy.statements[0].actions == ("s3:GetObject",)


def test_statement_as_list_keeps_order_and_indexes() -> None:
    policy = parse_policy(
        doc(
            {"Sid": "First", **ALLOW_GET},
            {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"},
        )
    )
    assert [s.index for s in policy.statements] == [0, 1]
    assert [s.effect for s in policy.statements] == [Effect.ALLOW, Effect.DENY]
    assert [s.label for s in policy.statements] == ["First", "Statement[1]"]


def test_single_string_and_array_forms_give_the_same_tuples() -> None:
    one = parse_policy(doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}))
    many = parse_policy(
        doc({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/*"]})
    )
    assert one.statements[0].actions == many.statements[0].actions == ("s3:GetObject",)
    assert one.statements[0].resources == many.statements[0].resources == ("arn:aws:s3:::b/*",)


def test_version_and_id_are_kept() -> None:
    policy = parse_policy({"Version": VERSION_2008, "Id": "doc-1", "Statement": [ALLOW_GET]})
    assert policy.version == VERSION_2008
    assert policy.id == "doc-1"
    assert not policy.substitutes_variables


def test_missing_version_is_a_suggestion_and_disables_variables() -> None:
    result = check_policy(doc(ALLOW_GET, version=None))
    assert result.policy is not None
    assert result.policy.version is None
    assert not result.policy.substitutes_variables
    finding = only(result.findings, "MISSING_VERSION")
    assert finding.severity == "SUGGESTION"
    assert result.errors == []


def test_version_2012_substitutes_variables() -> None:
    assert parse_policy(doc(ALLOW_GET)).substitutes_variables


def test_unknown_version_is_invalid() -> None:
    result = check_policy({"Version": "2012-10-18", "Statement": [ALLOW_GET]})
    assert only(result.findings, "INVALID_VERSION").path == ("Version",)
    assert result.policy is None


def test_principal_star_is_the_wildcard_form() -> None:
    policy = parse_policy(doc({"Principal": "*", **ALLOW_GET}), PolicyKind.RESOURCE)
    assert policy.statements[0].principal == PrincipalSpec(wildcard=True)
    assert policy.statements[0].not_principal is None


def test_principal_types_are_parsed_into_their_groups() -> None:
    principal = {
        "AWS": ["arn:aws:iam::111111111111:user/alice", "222222222222"],
        "Service": "s3.amazonaws.com",
        "Federated": "cognito-identity.amazonaws.com",
        "CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be",
    }
    policy = parse_policy(doc({"Principal": principal, **ALLOW_GET}), PolicyKind.TRUST, strict=False)
    spec = policy.statements[0].principal
    assert spec is not None
    assert not spec.wildcard
    assert spec.aws == ("arn:aws:iam::111111111111:user/alice", "222222222222")
    assert spec.service == ("s3.amazonaws.com",)
    assert spec.federated == ("cognito-identity.amazonaws.com",)
    assert spec.canonical_user == (principal["CanonicalUser"],)


def test_aws_star_principal_is_a_plain_entry() -> None:
    policy = parse_policy(doc({"Principal": {"AWS": "*"}, **ALLOW_GET}), PolicyKind.RESOURCE)
    spec = policy.statements[0].principal
    assert spec == PrincipalSpec(aws=("*",))


def test_not_principal_is_parsed_separately() -> None:
    stmt = {"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::111111111111:user/bob"}}
    policy = parse_policy(doc({**stmt, "Action": "s3:*", "Resource": "*"}), PolicyKind.RESOURCE)
    assert policy.statements[0].principal is None
    assert policy.statements[0].not_principal == PrincipalSpec(aws=("arn:aws:iam::111111111111:user/bob",))


def test_not_action_and_not_resource_set_their_flags() -> None:
    policy = parse_policy(doc({"Effect": "Deny", "NotAction": "iam:*", "NotResource": ["arn:aws:s3:::b/*"]}))
    stmt = policy.statements[0]
    assert stmt.not_action and stmt.actions == ("iam:*",)
    assert stmt.not_resource and stmt.resources == ("arn:aws:s3:::b/*",)


def test_trust_policy_statement_may_omit_resource() -> None:
    stmt = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    policy = parse_policy(doc(stmt), PolicyKind.TRUST)
    assert policy.statements[0].resources is None


def test_condition_values_keep_json_text_of_numbers_and_booleans() -> None:
    cond = {
        "NumericLessThan": {"s3:max-keys": [10, 2.5]},
        "Bool": {"aws:SecureTransport": True},
        "StringEquals": {"aws:username": "alice"},
    }
    text = json.dumps(doc({**ALLOW_GET, "Condition": cond}))
    policy = parse_policy(text)
    clauses = {c.operator: c for c in policy.statements[0].conditions}
    assert clauses["NumericLessThan"].values == ("10", "2.5")
    assert clauses["Bool"].values == ("true",)
    assert clauses["StringEquals"].values == ("alice",)


def test_number_condition_values_keep_their_source_text() -> None:
    text = '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*",'
    text += ' "Condition": {"NumericEquals": {"s3:max-keys": 10.0}}}}'
    assert parse_policy(text).statements[0].conditions[0].values == ("10.0",)


def test_condition_operator_is_split_into_qualifier_base_and_if_exists() -> None:
    cond = {"ForAnyValue:StringLikeIfExists": {"aws:TagKeys": ["team*"]}}
    clause = parse_policy(doc({**ALLOW_GET, "Condition": cond})).statements[0].conditions[0]
    assert (clause.qualifier, clause.base, clause.if_exists) == ("ForAnyValue", "StringLike", True)
    assert clause.key == "aws:TagKeys"
    assert clause.path == ("Statement", 0, "Condition", "ForAnyValue:StringLikeIfExists", "aws:TagKeys")


def test_dict_and_text_sources_parse_to_the_same_tree() -> None:
    source = doc({"Sid": "A", **ALLOW_GET, "Condition": {"StringEquals": {"aws:username": ["a", "b"]}}})
    from_text = parse_policy(json.dumps(source))
    from_dict = parse_policy(source)
    assert from_text == from_dict
    assert isinstance(from_dict, Policy)


# --- findings: codes, paths, positions, all of them --------------------------------------------------


def test_bad_effect_is_reported_at_its_line_and_column() -> None:
    text = """{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Permit",
      "Action": "s3:GetObject",
      "Resource": "*"
    }
  ]
}"""
    finding = only(check_policy(text).findings, "INVALID_EFFECT")
    assert finding.path == ("Statement", 0, "Effect")
    assert finding.position is not None
    assert (finding.position.line, finding.position.column) == (5, 17)
    assert str(finding).startswith("ERROR INVALID_EFFECT at Statement[0].Effect (line 5, column 17)")
    assert finding.to_json()["line"] == 5
    assert finding.to_json()["location"] == "Statement[0].Effect"


def test_every_problem_is_reported_not_only_the_first() -> None:
    text = """{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Permit", "Action": "s3:GetObject", "Resource": "*"},
    {"Effect": "Allow", "Resource": "*"},
    {"Effect": "Allow", "Action": "s3:GetObject"},
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Bogus": 1}
  ]
}"""
    found = {(f.code, f.path, f.position.line if f.position else None) for f in check_policy(text).findings}
    assert ("INVALID_EFFECT", ("Statement", 0, "Effect"), 4) in found
    assert ("MISSING_ACTION", ("Statement", 1), 5) in found
    assert ("MISSING_RESOURCE", ("Statement", 2), 6) in found
    assert ("INVALID_POLICY_ELEMENT", ("Statement", 3, "Bogus"), 7) in found


def test_policy_error_names_the_first_error_and_counts_the_rest() -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(doc({"Effect": "Permit", "Action": "s3:x", "Resource": "*"}, {"Effect": "Allow"}))
    assert str(caught.value).startswith("INVALID_EFFECT at Statement[0].Effect")
    assert "(and 2 more)" in str(caught.value)
    assert {f.code for f in caught.value.findings} == {"INVALID_EFFECT", "MISSING_ACTION", "MISSING_RESOURCE"}


def test_json_syntax_error_has_a_position() -> None:
    result = check_policy('{\n  "Version": "2012-10-17",\n  "Statement": [}\n}')
    finding = only(result.findings, "JSON_SYNTAX_ERROR")
    assert result.policy is None
    assert finding.position is not None
    assert (finding.position.line, finding.position.column) == (3, 17)


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ('{"Version": "2012-10-17", "Version": "2012-10-17", "Statement": []}', ("Version",)),
        (
            '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Effect": "Deny",'
            ' "Action": "s3:*", "Resource": "*"}}',
            ("Statement", "Effect"),
        ),
    ],
)
def test_duplicate_keys_are_reported_as_json_syntax_errors(text: str, path: tuple[str, ...]) -> None:
    result = check_policy(text)
    finding = only(result.findings, "JSON_SYNTAX_ERROR")
    assert "Duplicate" in finding.message
    assert finding.path == path
    assert result.policy is None


def test_condition_key_repeated_with_different_case_is_reported() -> None:
    cond = {"StringEquals": {"aws:username": "a", "AWS:UserName": "b"}}
    finding = only(
        check_policy(doc({**ALLOW_GET, "Condition": cond})).findings, "DUPLICATE_KEYS_WITH_DIFFERENT_CASE"
    )
    assert finding.path[-1] == "AWS:UserName"


def test_condition_key_repeated_with_the_same_case_is_reported() -> None:
    text = (
        '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*",'
        ' "Condition": {"StringEquals": {"aws:username": "a", "aws:username": "b"}}}}'
    )
    findings = check_policy(text).findings
    assert any(f.path[-1] == "aws:username" and f.severity == "ERROR" for f in findings), findings


def test_duplicate_condition_operator_is_reported() -> None:
    text = (
        '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*",'
        ' "Condition": {"StringEquals": {"aws:username": "a"}, "StringEquals": {"aws:userid": "b"}}}}'
    )
    assert check_policy(text).errors != []


def test_duplicate_principal_type_is_reported() -> None:
    text = (
        '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*",'
        ' "Principal": {"AWS": "111111111111", "AWS": "222222222222"}}}'
    )
    assert check_policy(text, PolicyKind.RESOURCE).errors != []


def test_bad_action_in_a_multiline_array_is_reported_at_its_own_line() -> None:
    text = """{
  "Version": "2012-10-17",
  "Statement": {
    "Effect": "Allow",
    "Action": [
      "s3:GetObject",
      "s3 PutObject"
    ],
    "Resource": "*"
  }
}"""
    finding = only(check_policy(text).findings, "INVALID_ACTION")
    assert finding.path == ("Statement", "Action", 1)
    assert finding.position is not None and finding.position.line == 7


@pytest.mark.parametrize(
    ("statement", "code", "path"),
    [
        ({"Action": "s3:*", "Resource": "*"}, "MISSING_EFFECT", ("Statement", 0)),
        (
            {"Effect": "allow", "Action": "s3:*", "Resource": "*"},
            "INVALID_EFFECT",
            ("Statement", 0, "Effect"),
        ),
        ({"Effect": "Allow", "Resource": "*"}, "MISSING_ACTION", ("Statement", 0)),
        ({"Effect": "Allow", "Action": "s3:*"}, "MISSING_RESOURCE", ("Statement", 0)),
        (
            {"Effect": "Allow", "Action": "s3:*", "NotAction": "s3:Get*", "Resource": "*"},
            "UNSUPPORTED_ELEMENT_COMBINATION",
            ("Statement", 0),
        ),
        (
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "NotResource": "*"},
            "UNSUPPORTED_ELEMENT_COMBINATION",
            ("Statement", 0),
        ),
        ({"Effect": "Allow", "Action": 5, "Resource": "*"}, "DATA_TYPE_MISMATCH", ("Statement", 0, "Action")),
        (
            {"Effect": "Allow", "Action": [], "Resource": "*"},
            "DATA_TYPE_MISMATCH",
            ("Statement", 0, "Action"),
        ),
        (
            {"Effect": "Allow", "Action": ["s3:*", 1], "Resource": "*"},
            "DATA_TYPE_MISMATCH",
            ("Statement", 0, "Action", 1),
        ),
        (
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": "x"},
            "DATA_TYPE_MISMATCH",
            ("Statement", 0, "Condition"),
        ),
        (
            {
                "Effect": "Allow",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"StringEquals": {"k:x": None}},
            },
            "DATA_TYPE_MISMATCH",
            ("Statement", 0, "Condition", "StringEquals", "k:x"),
        ),
        (
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Actions": "x"},
            "INVALID_POLICY_ELEMENT",
            None,
        ),
    ],
)
def test_blocking_statement_problems_leave_no_policy(
    statement: dict[str, Any], code: str, path: tuple[str | int, ...] | None
) -> None:
    result = check_policy(doc(statement))
    finding = only(result.findings, code)
    if path is not None:
        assert finding.path == path
    assert finding.severity == "ERROR"
    assert result.policy is None
    with pytest.raises(PolicyError):
        parse_policy(doc(statement), strict=False)


def test_unknown_element_suggests_the_right_spelling() -> None:
    finding = only(check_policy(doc({**ALLOW_GET, "condition": {}})).findings, "INVALID_POLICY_ELEMENT")
    assert "did you mean 'Condition'" in finding.message


def test_missing_statement_and_non_object_document() -> None:
    assert codes({"Version": VERSION_2012}) == ["MISSING_STATEMENT"]
    assert codes("[1, 2]") == ["DATA_TYPE_MISMATCH"]
    assert "DATA_TYPE_MISMATCH" in codes({"Version": VERSION_2012, "Statement": "x"})


@pytest.mark.parametrize(
    ("statement", "code"),
    [
        ({"Sid": "has-dash", **ALLOW_GET}, "UNSUPPORTED_SID"),
        ({"Effect": "Allow", "Action": "s3 GetObject", "Resource": "*"}, "INVALID_ACTION"),
        (
            {"Effect": "Allow", "Action": "s3:${aws:username}", "Resource": "*"},
            "VARIABLE_UNSUPPORTED_IN_ELEMENT",
        ),
        ({"Effect": "Allow", "Action": "s3:*", "Resource": "bucket"}, "INVALID_ARN_PREFIX"),
        ({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:b"}, "MISSING_ARN_FIELD"),
        (
            {**ALLOW_GET, "Condition": {"StringEqualz": {"aws:username": "a"}}},
            "INVALID_CONDITION_OPERATOR",
        ),
        (
            {**ALLOW_GET, "Condition": {"Sometimes:StringEquals": {"aws:username": "a"}}},
            "INVALID_CONDITION_OPERATOR",
        ),
        ({**ALLOW_GET, "Condition": {"NullIfExists": {"aws:username": "true"}}}, "NULL_WITH_IF_EXISTS"),
        ({**ALLOW_GET, "Condition": {"StringEquals": {"username": "a"}}}, "INVALID_CONDITION_KEY_FORMAT"),
        (
            {**ALLOW_GET, "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.300/8"}}},
            "TYPE_MISMATCH_IP_RANGE",
        ),
        (
            {**ALLOW_GET, "Condition": {"NumericLessThan": {"s3:max-keys": "ten"}}},
            "INVALID_CONDITION_DATA_TYPE",
        ),
        (
            {**ALLOW_GET, "Condition": {"DateLessThan": {"aws:CurrentTime": "soon"}}},
            "INVALID_CONDITION_DATA_TYPE",
        ),
        ({**ALLOW_GET, "Condition": {"Bool": {"aws:SecureTransport": "yes"}}}, "INVALID_CONDITION_DATA_TYPE"),
        ({**ALLOW_GET, "Condition": {"BinaryEquals": {"k:b": "not base64!"}}}, "INVALID_CONDITION_DATA_TYPE"),
        ({**ALLOW_GET, "Condition": {"ArnLike": {"aws:SourceArn": "bucket"}}}, "INVALID_CONDITION_DATA_TYPE"),
        (
            {**ALLOW_GET, "Condition": {"NumericEquals": {"s3:max-keys": "${aws:username}"}}},
            "INVALID_VARIABLE_FOR_OPERATOR",
        ),
        (
            {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/${aws:username"},
            "MISSING_BRACE_IN_VARIABLE",
        ),
        ({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/${}"}, "EMPTY_VARIABLE"),
        (
            {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/${aws:username, d}"},
            "MISSING_QUOTE_IN_VARIABLE",
        ),
        (
            {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/${aws:user name}"},
            "UNSUPPORTED_SPACE_IN_VARIABLE",
        ),
        ({"Principal": "*", **ALLOW_GET}, "UNSUPPORTED_PRINCIPAL"),
    ],
)
def test_non_blocking_errors_are_found_but_leave_a_policy(statement: dict[str, Any], code: str) -> None:
    result = check_policy(doc(statement))
    finding = only(result.findings, code)
    assert finding.severity == "ERROR"
    assert result.policy is not None
    with pytest.raises(PolicyError) as caught:
        parse_policy(doc(statement), strict=True)
    assert code in {f.code for f in caught.value.findings}
    assert parse_policy(doc(statement), strict=False) == result.policy


def test_duplicate_sids_are_an_error_in_identity_policies_but_not_in_resource_policies() -> None:
    statements = ({"Sid": "Same", **ALLOW_GET}, {"Sid": "Same", **ALLOW_GET})
    finding = only(check_policy(doc(*statements)).findings, "UNIQUE_SIDS_REQUIRED")
    assert finding.path == ("Statement", 1, "Sid")
    resource = [{**s, "Principal": "*"} for s in statements]
    assert "UNIQUE_SIDS_REQUIRED" not in codes(doc(*resource), PolicyKind.RESOURCE)


def test_variables_under_old_version_get_a_warning() -> None:
    statement = {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/${aws:username}/*"}
    result = check_policy(doc(statement, version=VERSION_2008))
    finding = only(result.findings, "VARIABLE_UNSUPPORTED_IN_VERSION")
    assert finding.severity == "WARNING"
    assert result.errors == []


@pytest.mark.parametrize(
    ("kind", "statement", "code"),
    [
        (PolicyKind.SCP, {"Principal": "*", **ALLOW_GET}, "SCP_SYNTAX_ERROR_PRINCIPAL"),
        (PolicyKind.RESOURCE, ALLOW_GET, "MISSING_PRINCIPAL"),
        (PolicyKind.RESOURCE, {"Principal": "alice", **ALLOW_GET}, "INVALID_PRINCIPAL_FORMAT"),
        (PolicyKind.RESOURCE, {"Principal": {}, **ALLOW_GET}, "INVALID_PRINCIPAL_FORMAT"),
        (PolicyKind.RESOURCE, {"Principal": {"Users": "x"}, **ALLOW_GET}, "INVALID_PRINCIPAL_KEY"),
        (
            PolicyKind.RESOURCE,
            {"Principal": {"AWS": "arn:aws:iam::111111111111:user/*"}, **ALLOW_GET},
            "UNSUPPORTED_WILDCARD_IN_PRINCIPAL",
        ),
        (
            PolicyKind.RESOURCE,
            {"Principal": {"Federated": "accounts.google.com"}, **ALLOW_GET},
            "FEDERATED_PRINCIPAL_NOT_SUPPORTED",
        ),
        (
            PolicyKind.RESOURCE,
            {"Principal": "*", "NotPrincipal": "*", **ALLOW_GET},
            "UNSUPPORTED_ELEMENT_COMBINATION",
        ),
        (
            PolicyKind.TRUST,
            {"Principal": {"Service": "ec2.amazonaws.com"}, **ALLOW_GET},
            "ROLE_TRUST_POLICY_SYNTAX_ERROR_RESOURCE",
        ),
        (
            PolicyKind.TRUST,
            {"Effect": "Deny", "NotPrincipal": {"AWS": "111111111111"}, "Action": "sts:AssumeRole"},
            "ROLE_TRUST_POLICY_SYNTAX_ERROR_NOTPRINCIPAL",
        ),
        (
            PolicyKind.RCP,
            {"Effect": "Deny", "Principal": {"AWS": "111111111111"}, "Action": "s3:*", "Resource": "*"},
            "RCP_SYNTAX_ERROR_PRINCIPAL",
        ),
        (
            PolicyKind.RCP,
            {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"},
            "RCP_SYNTAX_ERROR_ALLOW",
        ),
        (
            PolicyKind.RCP,
            {"Effect": "Deny", "Principal": "*", "NotAction": "s3:*", "Resource": "*"},
            "RCP_SYNTAX_ERROR_NOTACTION",
        ),
        (
            PolicyKind.RCP,
            {"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"},
            "RCP_SYNTAX_ERROR_ACTION",
        ),
    ],
)
def test_kind_specific_rules(kind: PolicyKind, statement: dict[str, Any], code: str) -> None:
    assert code in codes(doc(statement), kind)


def test_trust_policy_trusting_everyone_is_a_security_warning() -> None:
    stmt = {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}
    finding = only(
        check_policy(doc(stmt), PolicyKind.TRUST).findings,
        "ROLE_TRUST_POLICY_UNSUPPORTED_WILDCARD_IN_PRINCIPAL",
    )
    assert finding.severity == "SECURITY_WARNING"


def test_rcp_full_aws_access_is_accepted() -> None:
    stmt = {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}
    assert check_policy(doc(stmt), PolicyKind.RCP).errors == []


# --- size quotas -------------------------------------------------------------------------------------


def test_policy_size_does_not_count_white_space() -> None:
    assert policy_size('{ "a" :\n\t"b c" }') == 10


def _sized(total: int) -> str:
    """A valid identity policy whose text is exactly ``total`` non-white-space characters."""
    base = json.dumps(doc({"Sid": "", **ALLOW_GET}), separators=(",", ":"))
    padding = total - policy_size(base)
    assert padding >= 0
    return base.replace('"Sid":""', '"Sid":"' + "A" * padding + '"')


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        (PolicyKind.MANAGED, "POLICY_SIZE_EXCEEDS_MANAGED_QUOTA"),
        (PolicyKind.INLINE_USER, "POLICY_SIZE_EXCEEDS_INLINE_QUOTA"),
        (PolicyKind.INLINE_GROUP, "POLICY_SIZE_EXCEEDS_INLINE_QUOTA"),
        (PolicyKind.INLINE_ROLE, "POLICY_SIZE_EXCEEDS_INLINE_QUOTA"),
        (PolicyKind.SESSION, "POLICY_SIZE_EXCEEDS_SESSION_QUOTA"),
        (PolicyKind.SCP, "POLICY_SIZE_EXCEEDS_SCP_QUOTA"),
    ],
)
def test_size_quota_per_kind_is_exact(kind: PolicyKind, code: str) -> None:
    assert code not in codes(_sized(kind.max_size), kind)
    assert code in codes(_sized(kind.max_size + 1), kind)


def test_quota_values_match_aws_defaults() -> None:
    expected = {
        PolicyKind.MANAGED: 6144,
        PolicyKind.INLINE_USER: 2048,
        PolicyKind.INLINE_GROUP: 5120,
        PolicyKind.INLINE_ROLE: 10240,
        PolicyKind.TRUST: 2048,
        PolicyKind.SESSION: 2048,
        PolicyKind.SCP: 5120,
        PolicyKind.RCP: 5120,
    }
    assert {kind: kind.max_size for kind in expected} == expected


def test_white_space_does_not_count_towards_the_quota() -> None:
    compact = _sized(PolicyKind.INLINE_USER.max_size)
    spaced = json.dumps(json.loads(compact), indent=8)
    assert len(spaced) > PolicyKind.INLINE_USER.max_size
    assert codes(spaced, PolicyKind.INLINE_USER) == []


def test_size_finding_is_an_error_in_strict_mode_only() -> None:
    text = _sized(PolicyKind.INLINE_USER.max_size + 10)
    with pytest.raises(PolicyError):
        parse_policy(text, PolicyKind.INLINE_USER)
    assert len(parse_policy(text, PolicyKind.INLINE_USER, strict=False).statements) == 1


def test_kind_from_label_round_trips_and_rejects_unknown() -> None:
    for kind in PolicyKind:
        assert PolicyKind.from_label(kind.label) is kind
    with pytest.raises(ValueError, match="unknown policy kind"):
        PolicyKind.from_label("bucket")
