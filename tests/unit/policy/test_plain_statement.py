"""The lenient checker's quick path (``parse._plain_policy``, ``parse._plain_statement``) builds
exactly the policy and statements the checker's per-element methods build, and takes only
documents on which those methods record no blocking finding; anything else goes to the methods.
Held on every statement of the evaluation cases, on generated policies, and on documents with any
JSON value (or none) in any element, for every policy kind; and the whole lenient parse (of text,
of decoded values, of values read as they stand) with the quick path held to it without."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.unit.fuzzing import FUZZ, json_values
from tests.unit.policy.test_policy_positions import KINDS, case_policies, generated_policies

from iamd.policy import PolicyError, PolicyKind, parse, parse_policy
from iamd.policy.parse import _Checker, _parse, _plain_statement

PATHS: list[tuple[Any, ...]] = [("Statement",), ("Statement", 3)]


def _statements(doc: Any) -> list[Any]:
    if not isinstance(doc, dict):
        return []
    body = doc.get("Statement")
    return body if isinstance(body, list) else [body]


def assert_quick_path_holds(node: Any, kind: PolicyKind) -> bool:
    """The quick path's statement is the checker's, with no finding; True when it took ``node``."""
    path = PATHS[len(str(node)) % 2]
    index = 0 if len(path) == 1 else path[1]
    quick = _plain_statement(node, path, index, kind.requires_resource)
    if quick is None:
        return False
    checker = _Checker(kind, full=False)
    assert checker.statement(node, path, index) == quick
    assert checker.pending == []
    full = _Checker(kind)
    assert full.statement(node, path, index) == quick
    assert not [f for f in full.pending if f[0] in parse.BLOCKING]
    return True


def _lenient(doc: Any, kind: PolicyKind) -> Any:
    try:
        return _parse(doc, kind, False)
    except PolicyError as exc:
        return list(exc.findings)


def _plain(doc: Any, kind: PolicyKind) -> Any:
    try:
        return parse_policy(doc, kind, strict=False, plain=True)
    except PolicyError as exc:
        return list(exc.findings)


def assert_same_without_quick_path(doc: Any, kind: PolicyKind, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lenient parse, and the lenient parse of values read as they stand (``plain``), give the
    same policy or findings with the quick path as with the checker alone."""
    quick = _lenient(doc, kind)
    quick_plain = _plain(doc, kind)
    with monkeypatch.context() as m:
        m.setattr(parse, "_plain_statement", lambda *args: None)  # _plain_policy takes none either
        slow = _lenient(doc, kind)
        assert _plain(doc, kind) == slow == quick == quick_plain


def test_every_statement_of_the_cases_and_generated_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(31)
    docs = case_policies() + generated_policies(rng, 200)
    taken = total = 0
    for doc in docs:
        for kind in (PolicyKind.IDENTITY, rng.choice(KINDS)):
            for node in _statements(doc):
                total += 1
                taken += assert_quick_path_holds(node, kind)
        assert_same_without_quick_path(doc, rng.choice(KINDS), monkeypatch)
    assert taken > 0.8 * total  # the quick path is the common one


STATEMENT: dict[str, Any] = {
    "Sid": "A1",
    "Effect": "Allow",
    "Principal": {"AWS": ["arn:aws:iam::111122223333:root"], "Service": "s3.amazonaws.com"},
    "Action": ["s3:GetObject", "s3:Put*"],
    "Resource": "arn:aws:s3:::b/${aws:username}/*",
    "Condition": {
        "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"},
        "ForAnyValue:StringLikeIfExists": {"aws:TagKeys": ["a*", "b"], "s3:prefix": []},
    },
}
ELEMENTS = (
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
    "Other",
)
PLAIN_VALUES: list[Any] = [
    None,
    "",
    "*",
    [],
    ["*"],
    [None],
    "Allow",
    "Deny",
    {},
    {"AWS": "*"},
    {"AWS": []},
    {"Federated": ["x"], "CanonicalUser": "y"},
    {"aws": "x"},
    {"StringEquals": {"k:x": 1}},
    {"StringEquals": {"k:x": [True, "a"]}},
    {"StringEquals": "x"},
    {"Bogus": {"k:x": "a"}},
    {"Null": {"k:x": "true", "K:X": "false"}},
]


@FUZZ
@given(
    changes=st.lists(
        st.tuples(
            st.sampled_from(ELEMENTS),
            st.one_of(st.sampled_from(PLAIN_VALUES), json_values(), st.just(KeyError)),
        ),
        max_size=3,
    ),
    kind=st.sampled_from(KINDS),
)
def test_any_value_in_any_element(changes: list[tuple[str, Any]], kind: PolicyKind) -> None:
    node = dict(STATEMENT)
    for element, value in changes:
        if value is KeyError:
            node.pop(element, None)
        else:
            node[element] = value
    assert_quick_path_holds(node, kind)
    doc = {"Version": "2012-10-17", "Statement": [node, STATEMENT]}
    quick = _lenient(doc, kind)
    original = parse._plain_statement
    try:
        parse._plain_statement = lambda *args: None  # type: ignore[assignment]
        assert _lenient(doc, kind) == quick
    finally:
        parse._plain_statement = original


def test_the_sample_statement_takes_the_quick_path() -> None:
    for kind in KINDS:
        assert assert_quick_path_holds(STATEMENT, kind)


def test_each_element_with_each_value_or_none(monkeypatch: pytest.MonkeyPatch) -> None:
    taken = 0
    for element in ELEMENTS:
        for value in [*PLAIN_VALUES, KeyError]:
            node = dict(STATEMENT)
            if value is KeyError:
                node.pop(element, None)
            else:
                node[element] = value
            for kind in KINDS:
                taken += assert_quick_path_holds(node, kind)
                assert_same_without_quick_path({"Statement": node}, kind, monkeypatch)
    assert taken > 100


TOP_LEVEL = ("Version", "Id", "Statement", "Other")
TOP_VALUES: list[Any] = [
    None,
    "2012-10-17",
    "2008-10-17",
    "2012-10-18",
    "",
    7,
    [],
    [STATEMENT],
    [STATEMENT, None],
    [STATEMENT, {**STATEMENT, "Effect": "Deny", "Sid": 1}],
    STATEMENT,
    {},
    {"Effect": "Allow", "Action": "*"},
]


def test_each_top_level_element_with_each_value_or_none(monkeypatch: pytest.MonkeyPatch) -> None:
    taken = 0
    for element in TOP_LEVEL:
        for value in [*TOP_VALUES, KeyError]:
            doc: dict[str, Any] = {"Version": "2012-10-17", "Id": "x", "Statement": [STATEMENT, STATEMENT]}
            if value is KeyError:
                doc.pop(element, None)
            else:
                doc[element] = value
            for kind in KINDS:
                assert_same_without_quick_path(doc, kind, monkeypatch)
                taken += parse._plain_policy(doc, kind.requires_resource) is not None
    assert taken > 50
