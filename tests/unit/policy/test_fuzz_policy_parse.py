"""Fuzzing the policy parser (issue 10): ``check_policy`` reads any text or decoded JSON and never
raises; ``parse_policy`` raises only ``PolicyError``; every finding's message is valid Unicode
(it reaches answers and the trail). A lone UTF-16 surrogate, escaped (``"\\ud800"``) or raw, is a
JSON syntax error: the text is not Unicode, and IAM answers MalformedPolicyDocument."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.unit.fuzzing import FUZZ, SEED_BODIES, SEED_TEXTS, deep_array, deep_object, json_values, nasty_text

from iamd.policy import PolicyError, PolicyKind, check_policy, parse_policy

KINDS = list(PolicyKind)


def well_formed(source: Any, kind: PolicyKind) -> None:
    result = check_policy(source, kind)
    for finding in result.findings:
        str(finding).encode("utf-8")
        json.dumps(finding.to_json(), ensure_ascii=False).encode("utf-8")
    try:
        parse_policy(source, kind)
    except PolicyError as exc:
        str(exc).encode("utf-8")


@pytest.mark.parametrize(
    "text",
    [
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","\\ud800":1}]}',
        '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"\\udc00","Resource":"*"}}',
        '{"Statement": "\\ud800\\ud800"}',
        '{"Statement": "\ud800"}',
    ],
)
def test_a_lone_surrogate_is_a_json_syntax_error(text: str) -> None:
    result = check_policy(text)
    assert result.policy is None
    assert [f.code for f in result.findings] == ["JSON_SYNTAX_ERROR"]
    assert "surrogate" in result.findings[0].message
    with pytest.raises(PolicyError):
        parse_policy(text)


def test_a_proper_surrogate_pair_escape_is_a_character() -> None:
    text = '{"Version":"2012-10-17","Statement":{"Sid":"\\ud83d\\ude00","Effect":"Allow","Action":"*"}}'
    findings = check_policy(text).findings
    assert "JSON_SYNTAX_ERROR" not in [f.code for f in findings]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "text", [b.decode("utf-8", "replace") for b in SEED_BODIES] + SEED_TEXTS + [deep_array(50_000).decode()]
)
def test_seed_texts(text: str, kind: PolicyKind) -> None:
    well_formed(text, kind)


@pytest.mark.parametrize("depth", [63, 64, 65, 1000])
def test_deep_documents_are_findings_not_crashes(depth: int) -> None:
    well_formed(deep_object(depth).decode(), PolicyKind.IDENTITY)
    nested: Any = "s3:GetObject"
    for _ in range(depth):
        nested = [nested]
    well_formed({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": nested}}, PolicyKind.SCP)


statement_values = st.fixed_dictionaries(
    {},
    optional={
        "Effect": json_values() | st.sampled_from(["Allow", "Deny"]),
        "Action": json_values() | st.sampled_from(["*", "s3:Get*", ["iam:*"]]),
        "Resource": json_values() | st.sampled_from(["*", "arn:aws:s3:::b/*"]),
        "Principal": json_values() | st.just({"AWS": "*"}),
        "Condition": json_values() | st.just({"StringEquals": {"aws:username": "${aws:username}"}}),
        "Sid": json_values(),
    },
)


@FUZZ
@given(
    statement=statement_values,
    extra=st.dictionaries(nasty_text, json_values(), max_size=2),
    kind=st.sampled_from(KINDS),
)
def test_fuzz_documents_as_text_and_as_json(
    statement: dict[str, Any], extra: dict[str, Any], kind: PolicyKind
) -> None:
    document = {"Version": "2012-10-17", "Statement": [{**statement, **extra}]}
    well_formed(json.dumps(document), kind)  # lone surrogates as \\ud800 escapes
    well_formed(json.dumps(document, ensure_ascii=False), kind)  # and raw
    well_formed(document, kind)


@FUZZ
@given(text=nasty_text | st.text(alphabet='{}[]":,\\u0123456789abcdefDdtrueflsn -.eE', max_size=80))
def test_fuzz_any_text(text: str) -> None:
    well_formed(text, PolicyKind.IDENTITY)
