"""``decide`` reads a case's plain documents straight from the decoded values when the line holds no
lone surrogate (``parse.quick_policy``), whatever its bracket count, and counts the brackets
(``jsonpos.plain_json_text``) only for a document that is not plain. Held to the fully checked
path (no text: every policy through ``python_values``): the same answer, or the same error, for
the shared and example cases, for variants with many brackets, escapes and surrogates, and for
cases with one element of a policy changed."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iamd.authz import cases
from iamd.authz.cases import CaseError, decide_case
from iamd.policy import jsonpos

REPO = Path(__file__).resolve().parents[3]
SOURCES = (REPO / "examples" / "cases.jsonl", (REPO / ".." / "shared" / "cases" / "public.jsonl").resolve())


def _lines() -> list[str]:
    lines: list[str] = []
    for path in SOURCES:
        if path.is_file():
            lines += [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return lines


def _answer(case: dict[str, Any], text: str | None) -> str:
    try:
        return json.dumps(decide_case(case, None, text=text), sort_keys=True)
    except CaseError as exc:
        return f"CaseError: {exc}"


def _holds(text: str) -> None:
    """The answer with the line's text is the fully checked one (no text)."""
    assert _answer(json.loads(text), text) == _answer(json.loads(text), None)


def _documents(case: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key in ("identityPolicies", "permissionBoundaryPolicies"):
        for entry in case.get(key) or []:
            yield entry["policy"] if isinstance(entry.get("policy"), dict) else entry
    for key in ("serviceControlPolicies", "resourceControlPolicies"):
        for level in case.get(key) or []:
            for entry in level.get("policies", []):
                yield entry["policy"] if isinstance(entry.get("policy"), dict) else entry
    for key in ("sessionPolicy", "resourcePolicy"):
        if isinstance(case.get(key), dict):
            yield case[key]


def _statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    body = doc.get("Statement")
    items = body if isinstance(body, list) else [body]
    return [s for s in items if isinstance(s, dict)]


LINES = _lines()


def test_every_case_line_answers_as_the_checked_path() -> None:
    assert LINES, "no case files"
    for text in LINES:
        _holds(text)


def test_a_plain_line_is_not_counted_and_others_are(monkeypatch: pytest.MonkeyPatch) -> None:
    counted: list[str] = []
    original = jsonpos.plain_json_text

    def counting(text: str) -> bool:
        counted.append(text)
        return original(text)

    monkeypatch.setattr(cases, "plain_json_text", counting)
    plain = '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}'
    case = {
        "request": {
            "principal": "arn:aws:iam::111111111111:user/a",
            "action": "s3:GetObject",
            "resource": "*",
        },
        "identityPolicies": [{"name": "p", "policy": json.loads(plain)}],
    }
    text = json.dumps(case)
    decide_case(json.loads(text), None, text=text)
    assert counted == []
    unusual = json.loads(text)
    unusual["identityPolicies"].append(
        {"name": "q", "policy": {"Statement": {"Effect": "Allow", "Action": 1}}}
    )
    text = json.dumps(unusual)
    with pytest.raises(CaseError):
        decide_case(json.loads(text), None, text=text)
    assert counted == [text]


def _variants(case: dict[str, Any]) -> Iterator[str]:
    """Lines of ``case`` that are not plain text for ``plain_json_text``, in each way it looks at."""
    # Many brackets outside the policies (shallow): counted past the limit.
    wide = copy.deepcopy(case)
    wide["tags"] = [[i] for i in range(70)]
    yield json.dumps(wide)
    # Many brackets inside a plain document: a condition of many keys, each an array.
    docs = list(_documents(case))
    if docs:
        inside = copy.deepcopy(case)
        for doc in _documents(inside):
            for stmt in _statements(doc)[:1]:
                block = stmt.setdefault("Condition", {})
                if isinstance(block, dict):
                    block["StringLikeIfExists"] = {f"aws:PrincipalTag/t{i}": ["*"] for i in range(70)}
            break
        yield json.dumps(inside)
    # Deep nesting outside and inside the policies.
    deep = copy.deepcopy(case)
    deep["tags"] = json.loads("[" * 70 + "]" * 70)
    yield json.dumps(deep)
    for doc in list(_documents(deep))[:1]:
        doc["Statement"] = json.loads("[" * 70 + "]" * 70)
    yield json.dumps(deep)
    # Escapes: harmless ones, and a lone surrogate (escaped and raw) in a Sid and in the tags.
    escaped = json.dumps(case, ensure_ascii=True).replace('"Effect"', '"\\u0045ffect"')
    yield escaped
    for lone in ("\\ud800", "\ud800", "\\udfff"):
        tagged = copy.deepcopy(case)
        tagged["tags"] = ["x"]
        text = json.dumps(tagged).replace('["x"]', f'["{lone}"]')
        yield text
        sided = copy.deepcopy(case)
        for doc in _documents(sided):
            for stmt in _statements(doc)[:1]:
                stmt["Sid"] = "SIDMARK"
            break
        yield json.dumps(sided).replace("SIDMARK", f"a{lone}")


def test_lines_that_are_not_plain_answer_as_the_checked_path() -> None:
    rng = random.Random(17)
    for text in rng.sample(LINES, min(60, len(LINES))):
        for variant in _variants(json.loads(text)):
            _holds(variant)


ODD: list[object] = [
    None,
    0,
    1.5,
    [],
    {},
    "",
    "*",
    ["*"],
    [1],
    True,
    {"AWS": "*"},
    {"X": "y"},
    ["a", "b"],
    "Allow",
    "Deny",
    {"StringEquals": {"k": "v"}},
    {"StringEquals": {"k": []}},
    {"Bogus": {"k": "v"}},
    {"StringEquals": {"k": 1}},
    "arn:aws:s3:::x/${aws:username}",
    [["x"]],
    "2012-10-17",
    "2008-10-17",
]
ELEMENTS = [
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "NotPrincipal",
    "Condition",
    "Other",
]
TOP = ["Version", "Id", "Statement", "Other"]


def test_cases_with_one_element_changed_answer_as_the_checked_path() -> None:
    rng = random.Random(1717)
    cases_ = [json.loads(text) for text in LINES]
    for _ in range(600):
        case = copy.deepcopy(rng.choice(cases_))
        docs = list(_documents(case))
        if not docs:
            continue
        doc = rng.choice(docs)
        if rng.random() < 0.2:
            name = rng.choice(TOP)
            if rng.random() < 0.3:
                doc.pop(name, None)
            else:
                doc[name] = copy.deepcopy(rng.choice(ODD))
        else:
            statements = _statements(doc)
            if not statements:
                continue
            stmt = rng.choice(statements)
            name = rng.choice(ELEMENTS)
            if rng.random() < 0.3:
                stmt.pop(name, None)
            else:
                stmt[name] = copy.deepcopy(rng.choice(ODD))
        _holds(json.dumps(case))
