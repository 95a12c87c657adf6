"""The acceptance rules read a document's values (the C JSON decoder) and answer exactly as they
did on the positioned tree (issue 17): ``eager_acceptance`` is that walk, kept as the oracle. Same
refusal (rule and sentence) or the same acceptance, for every kind IAM and Organizations store, on
the documents of the acceptance tests, documents made to hold every kind of finding, every policy
of the evaluation cases laid out several ways, and generated documents with repeated names, odd
types and odd white space."""

from __future__ import annotations

import json
import random

from hypothesis import given
from hypothesis import strategies as st
from tests.unit.fuzzing import FUZZ, json_values
from tests.unit.policy import eager_acceptance
from tests.unit.policy.test_policy_acceptance import ACCEPTED, REFUSED
from tests.unit.policy.test_policy_positions import BROKEN, case_policies, documents, renderings

from iamd.policy import PolicyKind
from iamd.policy.acceptance import Refusal, _first_refusal

KINDS = [k for k in PolicyKind if k is not PolicyKind.RESOURCE]


def _answer(refusal: Refusal | None) -> tuple[str, str] | None:
    return None if refusal is None else (refusal.rule.id, refusal.message)


def assert_same(text: str, kind: PolicyKind) -> tuple[str, str] | None:
    new = _answer(_first_refusal(text, kind))
    assert new == _answer(eager_acceptance.first_refusal(text, kind)), (text, kind)
    return new


def test_the_acceptance_tests_documents() -> None:
    answers = {assert_same(case[1], kind) for case in (*REFUSED, *ACCEPTED) for kind in KINDS}
    assert None in answers and len(answers) > 20


def test_documents_made_to_hold_findings() -> None:
    for text in BROKEN:
        for kind in KINDS:
            assert_same(text, kind)


def test_every_policy_of_the_cases() -> None:
    rng = random.Random(17)
    for doc in case_policies():
        text = rng.choice(renderings(doc)) if isinstance(doc, dict) else json.dumps(doc)
        assert_same(text, rng.choice(KINDS))


@FUZZ
@given(text=documents(), kind=st.sampled_from(KINDS))
def test_generated_documents(text: str, kind: PolicyKind) -> None:
    assert_same(text, kind)


@FUZZ
@given(value=json_values(), kind=st.sampled_from(KINDS), where=st.integers(0, 6))
def test_any_json_value_in_any_element(value: object, kind: PolicyKind, where: int) -> None:
    statement: dict[str, object] = {
        "Sid": "A1",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::b/*",
        "Condition": {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
    }
    doc: dict[str, object] = {"Version": "2012-10-17", "Statement": [statement]}
    key = ("Sid", "Effect", "Principal", "Action", "Resource", "Condition", "Version")[where]
    (doc if key == "Version" else statement)[key] = value
    assert_same(json.dumps(doc), kind)
