# ruff: noqa: E501  (the documents below are read best one to a line)
"""Findings placed lazily are placed where the eager checker placed them (issue 17).

``check_policy`` reads a document's values with the C JSON decoder and looks up line and column
only when there is a finding. ``eager_checker`` is the checker as it was before: it walked the
positioned tree and took every position as it went. On many documents (every policy of the
evaluation cases, documents made to hold every kind of finding, generated ones with repeated
names and odd white space), as text and as decoded JSON, under every policy kind, both must give
the same policy and the same findings: code, message, path, severity, line, column and offset.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.unit.fuzzing import FUZZ, json_values
from tests.unit.policy import eager_checker

from iamd.policy import PolicyKind, check_policy, parse
from iamd.policy.jsonpos import (
    JsonNode,
    JsonSyntaxError,
    KeyAt,
    ValuePath,
    decode,
    locate,
    locate_in_text,
    parse_json,
    values_of,
)

KINDS = list(PolicyKind)


def _repo_root() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "src" / "iamd").is_dir():
            return parent
    raise RuntimeError(f"no iamd checkout above {here}")


REPO = _repo_root()


def assert_same(source: Any, kind: PolicyKind) -> int:
    """The lazy and the eager checker agree on ``source``; returns how many findings it has."""
    new = check_policy(source, kind)
    old = eager_checker.check_policy(source, kind)
    assert new.policy == old.policy
    assert new.findings == old.findings  # Finding compares its position too
    if isinstance(source, str) and old.root is not None:
        assert new.root == old.root
    return len(new.findings)


def case_policies() -> list[Any]:
    """Every policy document of the evaluation cases in the repository and beside it."""
    docs: list[Any] = []
    for path in (
        REPO / "examples" / "cases.jsonl",
        (REPO / ".." / "shared" / "cases" / "public.jsonl").resolve(),
    ):
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            case = json.loads(line)
            named = list(case.get("identityPolicies") or []) + list(
                case.get("permissionBoundaryPolicies") or []
            )
            for level in (case.get("serviceControlPolicies") or []) + (
                case.get("resourceControlPolicies") or []
            ):
                named.extend(level.get("policies") or [])
            docs.extend(p.get("policy") for p in named if isinstance(p, dict))
            docs.extend(case[k] for k in ("sessionPolicy", "resourcePolicy") if case.get(k))
    return docs


def generated_policies(rng: random.Random, count: int) -> list[Any]:
    """Policies of the shapes ``bench/authz.py`` compiles: wildcards, conditions, variables."""
    conditions: list[Any] = [
        {"StringEquals": {"aws:PrincipalTag/team": "blue"}},
        {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.1.0/24"]}},
        {"Bool": {"aws:SecureTransport": "true"}},
        {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
        {"StringLike": {"s3:prefix": ["home/${aws:username}/*"]}},
        {"ForAnyValue:StringEquals": {"aws:TagKeys": ["env", "team"]}},
        {"NumericLessThan": {"aws:MultiFactorAuthAge": 3600}},
    ]
    out: list[Any] = []
    for n in range(count):
        statements: list[Any] = []
        for i in range(rng.randint(1, 6)):
            service = rng.choice(["s3", "sqs", "iam", "ec2"])
            stmt: dict[str, Any] = {
                "Sid": f"S{i}",
                "Effect": rng.choice(["Allow", "Deny"]),
                rng.choice(["Action", "NotAction"]): rng.choice(
                    [f"{service}:*", [f"{service}:Get*", f"{service}:List*"]]
                ),
                "Resource": rng.choice(
                    ["*", f"arn:aws:{service}:*:123456789012:x-{n}/*", "arn:aws:s3:::b/${aws:username}/*"]
                ),
            }
            if rng.random() < 0.4:
                stmt["Condition"] = rng.choice(conditions)
            statements.append(stmt)
        out.append({"Version": "2012-10-17", "Statement": statements})
    return out


def renderings(doc: Any) -> list[str]:
    """The same document as text laid out several ways (positions differ, findings must not)."""
    pretty = json.dumps(doc, indent=2)
    return [
        json.dumps(doc),
        pretty,
        pretty.replace("\n", "\r\n"),
        "\n\n\t " + json.dumps(doc, indent="\t", ensure_ascii=False) + "\n",
    ]


def test_every_policy_of_the_cases_as_text_and_as_json() -> None:
    rng = random.Random(17)
    docs = case_policies() + generated_policies(rng, 300)

    for doc in docs:
        kinds = [PolicyKind.IDENTITY, rng.choice(KINDS)]
        for kind in kinds:
            assert_same(doc, kind)
        assert_same(rng.choice(renderings(doc)), rng.choice(KINDS))


def _text(pairs: list[tuple[str, str]] | str) -> str:
    return (
        pairs if isinstance(pairs, str) else "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in pairs) + "}"
    )


# Documents that hold every kind of finding the checker gives, several with repeated names (only
# text can repeat a name), laid out over several lines so that lines and columns matter.
BROKEN: list[str] = [
    '{"Version": "2012-10-17", "Version": "2008-10-17", "Statement": []}',
    '{"Version": "2012-10-17",\n "Statement": [{"Effect": "Allow", "Effect": "Deny",\n "Action": "s3:*", "Resource": "*"}]}',
    '{"version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "sid": "x"}}',
    '{"Version": 2012, "Id": 7, "Statement": {"Effect": "Permit", "Action": ["s3:Get*", 3], "Resource": "*"}}',
    '{"Version": "2012-10-17", "Statement": [1, "x", null, {"Effect": "Allow"}]}',
    '{"Version": "2012-10-17", "Statement": "all"}',
    '{"Version": "2012-10-17"}',
    "[1, 2]",
    '  "text"  ',
    '{"Version": "2012-10-17", "Statement": [\n  {"Sid": "a-b", "Effect": "Allow", "Action": ["s3:Get${x}", "bad", "*"],\n'
    '   "NotAction": "x", "Resource": ["arn:aws:s3", "s3:::b", "arn:${aws:a}:b:c:d:e", "arn:a:b:c${x}"]}]}',
    '{"Version": "2012-10-17", "Statement": [{"Sid": "A", "Effect": "Allow", "Action": "*", "Resource": "*"},\n'
    ' {"Sid": "A", "Effect": "Deny", "Action": "*", "Resource": "*", "NotResource": "*"}]}',
    '{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::${aws:username}/${bad"}]}',
    '{"Version": "2008-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::${aws:username}"}}',
    '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",\n'
    ' "Condition": {"StringEquals": {"aws:username": ["a", 1, true, 1.50]}, "StringEquals": {}, "Bogus": {"a:b": "x"},\n'
    ' "NullIfExists": {"aws:x": "true"}, "IpAddress": {"aws:SourceIp": ["10.0.0.0/33", "x"], "aws:sourceip": "1.2.3.4"},\n'
    ' "DateLessThan": {"aws:CurrentTime": ["nope", "${aws:x}"]}, "NumericEquals": {"bad key": "1e", "a:b": [null]}}}}',
    '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",\n'
    ' "Condition": {"StringLike": {"aws:a": "x", "aws:a": "y"}, "Bool": "yes"}}}',
    '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": []}}',
    '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": null}}',
    '{"Version": "2012-10-17", "Statement": {"Effect": null, "Action": [], "Resource": {}}}',
    '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Principal": {"AWS": 1, "AWS": ["arn:aws:iam::1:u*"],\n'
    ' "Bogus": "x", "Bogus": "y", "Federated": "cognito", "Service": ["${x}", "s3.amazonaws.com"]},\n'
    ' "NotPrincipal": "*", "Action": "*", "Resource": "*"}}',
    '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Principal": {"AWS": "*", "AWS": "*"},\n'
    ' "Action": "sts:AssumeRole", "Resource": "*"}}',
    '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Principal": "me", "Action": "*"}}',
    '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Principal": {}, "Action": "*"}}',
    '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "NotPrincipal": {"AWS": "*"}, "Action": "*"}}',
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},\n'
    ' {"Effect": "Deny", "Principal": "*", "NotAction": "s3:*", "Resource": "*", "Condition": {"Bool": {"a:b": "true"}}}]}',
    '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Extra": {"\\ud83d\\ude00": 1}}}',
    '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "x": \u0663}}',
    '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b/\u20ac\u4e2d"}}',
    '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "x": NaN}}',
    '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "x": "\\ud800"}}',
    '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}} x',
    '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",}}',
    '\ufeff{"Version": "2012-10-17", "Statement": []}',
    _text(
        [
            ("Version", '"2012-10-17"'),
            ("Statement", "[" + ",".join(['{"Effect":"Deny","Action":"*","Resource":"*"}'] * 70) + "]"),
        ]
    ),
    _text([("Statement", "[]"), ("Id", "[" * 62 + "]" * 62)]),
    _text([("Statement", "[]"), ("Id", "[" * 63 + "1" + "]" * 63)]),
    _text([("Statement", "[]"), ("Id", "[" * 64 + "1" + "]" * 64)]),
    _text([("Statement", "[]"), ("Id", "[" * 65 + "]" * 65)]),
    _text([("Statement", "[]"), ("Id", "[" * 66 + "]" * 66)]),
    _text([("Statement", "[]"), ("Id", '"' + "[{" * 40 + '"'), ("Sid", "[" * 30 + "]" * 30)]),
]


@pytest.mark.parametrize("text", BROKEN)
def test_documents_with_findings(text: str) -> None:
    for kind in KINDS:
        assert_same(text, kind)
        assert_same(text.replace(", ", ",\n    "), kind)  # the same, placed on other lines


def test_the_broken_documents_do_have_findings_below_the_root() -> None:
    placed = [
        f
        for text in BROKEN
        for f in check_policy(text, PolicyKind.RESOURCE).findings
        if f.position is not None and f.position.offset > 0
    ]
    assert len(placed) > 80
    assert {f.position.line for f in placed if f.position is not None} >= {1, 2, 3}


def test_decoded_json_has_no_positions_as_before() -> None:
    for text in BROKEN:
        try:
            doc = json.loads(text)
        except ValueError:
            continue
        for kind in KINDS:
            assert_same(doc, kind)


def _nested(depth: int) -> list[Any]:
    out: list[Any] = []
    for _ in range(depth):
        out = [out]
    return out


def test_python_values_json_would_not_write() -> None:
    """What ``from_python`` takes that is not plain JSON: non-string keys, tuples, other types."""
    statement: dict[Any, Any] = {"Effect": "Allow", "Action": ("s3:GetObject",), "Resource": "*"}
    docs: list[Any] = [
        {"Version": "2012-10-17", "Statement": statement, 1: "x", None: "y", 2.5: True},
        {"Version": "2012-10-17", "Statement": [{**statement, "Condition": {"Bool": {"a:b": {1, 2}}}}]},
        {"Version": "2012-10-17", "Statement": [{**statement, "Sid": b"bytes"}]},
        {
            "Version": "2012-10-17",
            "Statement": [{**statement, "Condition": {"NumericEquals": {"a:b": [1, 2.5, float("nan")]}}}],
        },
        {"Version": "2012-10-17", "Statement": [{**statement, (1, 2): "x"}]},
        {"Version": "2012-10-17", "Statement": [{**statement, "x": "\ud800"}]},
        {"Version": "2012-10-17", "Statement": statement, "Id": [_nested(20)] * 5},
        {"Version": "2012-10-17", "Statement": statement, "Id": _nested(63)},
        {"Version": "2012-10-17", "Statement": statement, "Id": _nested(70)},
    ]
    for doc in docs:
        for kind in KINDS:
            assert_same(doc, kind)


def test_decode_reads_what_the_positioned_parser_reads() -> None:
    for text in BROKEN:
        try:
            node = parse_json(text)
        except ValueError:
            with pytest.raises(ValueError):
                decode(text)
            continue
        assert decode(text)[0] == values_of(node)


# -- generated documents ----------------------------------------------------------------------------

_scalar = st.sampled_from(
    [
        '"Allow"',
        '"Deny"',
        '"*"',
        '"s3:GetObject"',
        '"s3:Get*"',
        '"iam:Pass${x}"',
        '"bad action"',
        '"arn:aws:s3:::b/*"',
        '"arn:aws:s3:::${aws:username}/*"',
        '"arn:aws:s3"',
        '"2012-10-17"',
        '"10.0.0.0/8"',
        '"true"',
        "true",
        "null",
        "1.50",
        "-0",
        '"x\\"y"',
        '"\\u00e9"',
        '"line\\nbreak"',
    ]
)
_keys = st.sampled_from(
    [
        "Version",
        "Statement",
        "Sid",
        "Effect",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Principal",
        "NotPrincipal",
        "Condition",
        "AWS",
        "Service",
        "StringEquals",
        "StringLike",
        "IpAddress",
        "ForAnyValue:StringLike",
        "NumericLessThan",
        "aws:username",
        "aws:SourceIp",
        "s3:prefix",
        "bad key",
        "Id",
    ]
)
_space = st.sampled_from(["", " ", "\n", "\r\n  ", "\t", "\n\n    "])


@st.composite
def _value(draw: st.DrawFn, depth: int = 0) -> str:
    choice = draw(st.integers(0, 9 if depth < 4 else 3))
    if choice <= 3:
        return draw(_scalar)
    if choice <= 5:
        items = draw(st.lists(_value(depth + 1), max_size=3))
        return "[" + ",".join(draw(_space) + item for item in items) + draw(_space) + "]"
    pairs = draw(st.lists(st.tuples(_keys, _value(depth + 1)), max_size=4))
    body = ",".join(f"{draw(_space)}{json.dumps(k)}{draw(_space)}:{draw(_space)}{v}" for k, v in pairs)
    return "{" + body + draw(_space) + "}"


@st.composite
def documents(draw: st.DrawFn) -> str:
    statements = draw(st.lists(_value(1), min_size=1, max_size=4))
    pairs = (
        [("Version", draw(st.sampled_from(['"2012-10-17"', '"2008-10-17"', "1"])))]
        if draw(st.booleans())
        else []
    )
    pairs.append(("Statement", "[" + ",\n".join(statements) + "]" if draw(st.booleans()) else statements[0]))
    if draw(st.booleans()):
        pairs.append(draw(st.sampled_from([("Statement", "[]"), ("Id", '"x"'), ("Sid", "1")])))
    return draw(_space) + _text(pairs) + draw(_space)


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
@given(doc=json_values(), kind=st.sampled_from(KINDS))
def test_generated_json_values(doc: Any, kind: PolicyKind) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "X": doc},
    }
    assert_same(policy, kind)
    assert_same(json.dumps(policy), kind)
    assert_same(json.dumps(policy, ensure_ascii=False), kind)


@pytest.mark.parametrize("limit", [0, 10_000])
def test_findings_placed_by_scanning_or_by_the_positioned_tree(
    limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Up to ``_SCANNED_PLACES`` findings are placed by scanning the text, more through the
    positioned tree: either way, where the eager checker placed them."""
    monkeypatch.setattr(parse, "_SCANNED_PLACES", limit)
    for text in BROKEN:
        for kind in (PolicyKind.IDENTITY, PolicyKind.RESOURCE, PolicyKind.TRUST):
            assert_same(text, kind)


def _every_place(node: JsonNode, path: ValuePath = ()) -> list[ValuePath | KeyAt]:
    """Every value path of a tree, and every member name's place."""
    out: list[ValuePath | KeyAt] = [path]
    if node.kind == "array":
        for i, element in enumerate(node.elements):
            out.extend(_every_place(element, (*path, i)))
    elif node.kind == "object":
        seen: dict[str, int] = {}
        for key, _, value in node.items:
            n = seen.get(key, 0)
            seen[key] = n + 1
            step: ValuePath = (*path, key if n == 0 else (key, n))
            out.append(KeyAt(step))
            out.extend(_every_place(value, step))
    return out


@FUZZ
@given(text=documents())
def test_scanning_text_finds_every_place_the_tree_has(text: str) -> None:
    try:
        _, node = decode(text)
    except JsonSyntaxError:
        return
    if node is not None:  # decode needed the positioned parser; nothing is scanned then
        return
    root = parse_json(text)
    for place in _every_place(root):
        assert locate_in_text(text, place) == locate(root, place)


def test_scanning_the_broken_documents_finds_every_place() -> None:
    for text in BROKEN:
        try:
            _, node = decode(text)
        except JsonSyntaxError:
            continue
        if node is None:
            root = parse_json(text)
            for place in _every_place(root):
                assert locate_in_text(text, place) == locate(root, place)
