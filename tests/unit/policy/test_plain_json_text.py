"""``plain_json_text``: when it holds, every value ``json.loads`` gives is one ``python_values``
takes as it stands, so ``parse_policy(..., plain=True)`` may skip that check."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from iamd.policy import PolicyError, PolicyKind, parse_policy
from iamd.policy.jsonpos import plain_json_text, python_values
from iamd.policy.parse import _check

REPO = Path(__file__).resolve().parents[3]

TEXTS = [
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}',
    '{"a": NaN}',
    '{"a": Infinity}',
    '{"a": [-Infinity]}',
    '{"a": 1e400}',
    '{"a": -1.5E+400}',
    '{"a": 1e5}',
    '{"a": 1.5}',
    '{"a": 10, "b": -0, "c": true, "d": null, "e": false}',
    '{"a": ' + "9" * 400 + ".0}",
    '{"a": ' + "9" * 400 + "}",
    '{"a": "\\ud800"}',
    '{"\\udc00": 1}',
    '{"a": "\\ud83d\\ude00"}',
    '{"a": "\\u005b\\u007b"}',
    '{"a": "\U0001f600 é"}',
    '{"a": "\ud800"}',
    "[" * 64 + "]" * 64,
    "[" * 65 + "]" * 65,
    '{"a": ' + "[" * 63 + "]" * 63 + "}",
    '{"a": ' + "[" * 70 + "]" * 70 + "}",
    '{"a": "' + "[" * 70 + '"}',
    '{"a": "' + "[" * 60 + '", "b": ' + "{" * 10 + '"c": 1' + "}" * 10 + "}",
    '{"a": {"a": 1, "a": 2}}',
    # policies whose values python_values would hand to from_python, read the same either way
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*",'
    ' "Condition": {"NumericLessThan": {"aws:x": [1e400, NaN, -Infinity, 1.5, 10, 1E5, -0.0]}}}]}',
    '{"Version": 1e400, "Id": NaN, "Statement": {"Sid": Infinity, "Effect": "Allow", "Action": [1.5, "s3:*"],'
    ' "Resource": 1e999, "Condition": {"StringEquals": {"aws:x": "' + "[" * 20 + '"}}}}',
    '{"Version": "2012-10-17", "Statement": {"Effect": "Deny", "NotAction": "iam:*", "Resource": "*",'
    ' "Condition": {"Bool": {"aws:y": [true, 1e400]}, "' + "{" * 65 + '": {}}}}',
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": [NaN]},'
    ' "Action": "sts:AssumeRole", "Unknown": [[[[1e400]]]]}]}',
]


def _values(value: object) -> Iterator[object]:
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from _values(item)
    elif isinstance(value, list):
        for item in value:
            yield from _values(item)


def _case_lines() -> list[str]:
    lines: list[str] = []
    for path in (
        REPO / "examples" / "cases.jsonl",
        (REPO / ".." / "shared" / "cases" / "public.jsonl").resolve(),
    ):
        if path.is_file():
            lines += [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return lines


def _holds_for_every_value(text: str) -> None:
    """Where the text is plain, every object in it is checked the same with and without
    ``python_values`` (every finding, its position included), for every kind."""
    try:
        decoded = json.loads(text)
    except (ValueError, RecursionError):
        return
    if not plain_json_text(text):
        return
    for value in _values(decoded):
        if not isinstance(value, dict):
            continue
        for kind in PolicyKind:
            assert _check(value, kind, True, plain=True) == _check(value, kind, True, plain=False)
            assert _check(value, kind, False, plain=True) == _check(value, kind, False, plain=False)


@pytest.mark.parametrize("text", TEXTS)
def test_plain_only_where_python_values_takes_every_value_as_it_stands(text: str) -> None:
    _holds_for_every_value(text)


def test_the_texts_that_must_be_checked_are_not_plain() -> None:
    for text in (
        TEXTS[11],
        TEXTS[12],
        TEXTS[13],
        TEXTS[14],
        TEXTS[16],
        TEXTS[18],
        TEXTS[20],
        TEXTS[21],
        TEXTS[-2],
    ):
        assert not plain_json_text(text), text
    for text in [*TEXTS[:11], TEXTS[15], TEXTS[17], TEXTS[19], TEXTS[23], TEXTS[-4], TEXTS[-3], TEXTS[-1]]:
        assert plain_json_text(text), text


def test_python_values_does_not_take_every_plain_value_as_it_stands() -> None:
    # What the test above holds to: these go through from_python, and are checked the same.
    for text in (TEXTS[-4], TEXTS[-3]):
        assert plain_json_text(text)
        assert python_values(json.loads(text))[1] is not None


def test_the_case_lines() -> None:
    lines = _case_lines()
    assert lines
    for line in lines:
        _holds_for_every_value(line)


def _policies(case: dict[str, object]) -> Iterator[tuple[object, PolicyKind]]:
    for key, kind in (
        ("identityPolicies", PolicyKind.IDENTITY),
        ("permissionBoundaryPolicies", PolicyKind.MANAGED),
    ):
        for named in case.get(key) or []:  # type: ignore[attr-defined]
            yield named.get("policy", named), kind
    for key, kind in (
        ("serviceControlPolicies", PolicyKind.SCP),
        ("resourceControlPolicies", PolicyKind.RCP),
    ):
        for level in case.get(key) or []:  # type: ignore[attr-defined]
            for named in level.get("policies") or []:
                yield named.get("policy", named), kind
    if case.get("sessionPolicy"):
        yield case["sessionPolicy"], PolicyKind.SESSION
    if case.get("resourcePolicy"):
        yield case["resourcePolicy"], PolicyKind.RESOURCE


def _parsed(source: object, kind: PolicyKind, plain: bool) -> object:
    try:
        return parse_policy(source, kind, strict=False, plain=plain)  # type: ignore[arg-type]
    except PolicyError as exc:
        return [(f.code, f.message, f.path) for f in exc.findings]


def test_plain_parsing_gives_the_same_policy_or_refusal() -> None:
    for line in _case_lines():
        if not plain_json_text(line):
            continue
        for source, kind in _policies(json.loads(line)):
            if isinstance(source, dict):
                assert _parsed(source, kind, True) == _parsed(source, kind, False)
