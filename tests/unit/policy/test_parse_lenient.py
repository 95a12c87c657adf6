"""``parse_policy(strict=False)`` looks only for the findings that can refuse a document
(``BLOCKING``) and answers exactly as checking it in full does: the same policy, or a PolicyError
with the same findings (code, message, path, severity and position), for every policy kind, on
every policy of the evaluation cases, documents made to hold every kind of finding, generated
policies and generated documents, as text and as decoded JSON."""

from __future__ import annotations

import json
import random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from tests.unit.fuzzing import FUZZ, json_values
from tests.unit.policy.test_policy_positions import (
    BROKEN,
    KINDS,
    case_policies,
    documents,
    generated_policies,
    renderings,
)

from iamd.policy import Policy, PolicyError, PolicyKind, check_policy
from iamd.policy.acceptance import _first_refusal
from iamd.policy.findings import BLOCKING
from iamd.policy.jsonpos import decode
from iamd.policy.parse import _parse, check_values


def _in_full(source: Any, kind: PolicyKind) -> Policy | list[Any]:
    """``parse_policy(strict=False)`` as it was: every rule run, then the blocking ERRORs kept."""
    result = check_policy(source, kind)
    blocking = [f for f in result.errors if f.code in BLOCKING]
    if blocking or result.policy is None:
        return blocking or result.findings
    return result.policy


def _lenient(source: Any, kind: PolicyKind) -> Policy | list[Any]:
    try:
        return _parse(source, kind, False)
    except PolicyError as exc:
        return list(exc.findings)


def assert_same(source: Any, kind: PolicyKind) -> None:
    assert _lenient(source, kind) == _in_full(source, kind)
    if isinstance(source, str):
        try:
            value, _ = decode(source)
        except ValueError:
            return
        full = check_values(value, kind)
        blocking_only = check_values(value, kind, full=False)
        assert blocking_only[0] == full[0]
        if blocking_only[1]:
            assert full[1]


def test_every_policy_of_the_cases_and_generated_ones() -> None:
    rng = random.Random(23)
    for doc in case_policies() + generated_policies(rng, 200):
        for kind in (PolicyKind.IDENTITY, rng.choice(KINDS)):
            assert_same(doc, kind)
        assert_same(rng.choice(renderings(doc)), rng.choice(KINDS))


def test_documents_made_to_hold_findings() -> None:
    refused = 0
    for text in BROKEN:
        for kind in KINDS:
            assert_same(text, kind)
            refused += isinstance(_lenient(text, kind), list)
        try:
            doc = json.loads(text)
        except ValueError:
            continue
        for kind in KINDS:
            assert_same(doc, kind)
    assert refused > 50


@FUZZ
@given(text=documents(), kind=st.sampled_from(KINDS))
def test_generated_documents(text: str, kind: PolicyKind) -> None:
    assert_same(text, kind)
    try:
        doc = json.loads(text)
    except ValueError:
        return
    assert_same(doc, kind)


@FUZZ
@given(value=json_values(), kind=st.sampled_from(KINDS), where=st.integers(0, 7))
def test_any_json_value_in_any_element(value: object, kind: PolicyKind, where: int) -> None:
    statement: dict[str, object] = {
        "Sid": "A1",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::b/${aws:username}/*",
        "Condition": {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
    }
    doc: dict[str, object] = {"Version": "2012-10-17", "Statement": [statement]}
    key = ("Sid", "Effect", "Principal", "Action", "Resource", "Condition", "Version", "NotAction")[where]
    (doc if key == "Version" else statement)[key] = value
    assert_same(doc, kind)
    assert_same(json.dumps(doc), kind)
    if kind is not PolicyKind.RESOURCE:
        _first_refusal(json.dumps(doc), kind)  # runs the blocking-only check at its end
