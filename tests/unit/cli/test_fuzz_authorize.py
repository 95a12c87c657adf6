"""Fuzzing ``iamd authorize --cases -`` (issue 10, part 5): whatever a line holds — JSON nested a
thousand levels deep, lone surrogates, bytes that are not UTF-8, values of the wrong type — it gets
one answer line (an ``error`` when unreadable) and every other line is still decided."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.unit.fuzzing import (
    FUZZ,
    SEED_BODIES,
    deep_array,
    deep_object,
    escaped_json,
    json_values,
    nasty_text,
)

from iamd.cli.main import main

GOOD = {
    "name": "good",
    "request": {
        "principal": "arn:aws:iam::111122223333:user/alice",
        "action": "s3:GetObject",
        "resource": "*",
    },
    "identityPolicies": [
        {
            "name": "p",
            "policy": {
                "Version": "2012-10-17",
                "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            },
        }
    ],
}
GOOD_LINE = json.dumps(GOOD).encode()
Capture = pytest.CaptureFixture[str]


def run(lines: list[bytes], monkeypatch: pytest.MonkeyPatch, capsys: Capture) -> list[dict[str, Any]]:
    """``iamd authorize --cases -`` in this process, ``lines`` on standard input."""
    stdin = io.TextIOWrapper(io.BytesIO(b"\n".join(lines) + b"\n"), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    assert main(["authorize", "--cases", "-"]) == 0
    out = capsys.readouterr().out
    out.encode("utf-8")
    return [json.loads(line) for line in out.splitlines()]


def test_one_deeply_nested_line_does_not_stop_the_stream() -> None:
    """The issue's case, through the real command: the deep line gets an error, the later lines
    are decided (before: a RecursionError traceback and nothing after it)."""
    stdin = b"\n".join([GOOD_LINE, deep_array(), deep_object(), GOOD_LINE]) + b"\n"
    result = subprocess.run(
        [sys.executable, "-m", "iamd.cli.main", "authorize", "--cases", "-"],
        input=stdin,
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert b"Traceback" not in result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a.get("decision") for a in answers] == ["Allowed", None, None, "Allowed"]
    assert answers[1]["error"] == "line 2: invalid JSON: nested deeper than 100 levels"
    assert answers[2]["error"] == "line 3: invalid JSON: nested deeper than 100 levels"


@pytest.mark.parametrize(
    "line",
    [
        b'{"name": "\\ud800", "request": {}}',
        b'{"\\udc00": 1}',
        json.dumps(
            {**GOOD, "identityPolicies": [{"name": "p", "policy": '{"Statement": {"\\ud800": 1}}'}]}
        ).encode(),
        json.dumps({**GOOD, "identityPolicies": [{"name": "p", "policy": {"\ud800": "x"}}]}).encode(),
        json.dumps(
            {**GOOD, "request": {**GOOD["request"], "contextVariables": {"aws:username": "\udfff"}}}
        ).encode(),
    ],
)
def test_lone_surrogates_get_an_error(line: bytes, monkeypatch: pytest.MonkeyPatch, capsys: Capture) -> None:
    answers = run([line, GOOD_LINE], monkeypatch, capsys)
    assert "error" in answers[0] and "decision" not in answers[0]
    assert answers[1]["decision"] == "Allowed"


def test_seed_corpus(monkeypatch: pytest.MonkeyPatch, capsys: Capture) -> None:
    lines = [seed for seed in SEED_BODIES if seed.strip() and b"\n" not in seed]
    answers = run([GOOD_LINE, *[x for seed in lines for x in (seed, GOOD_LINE)]], monkeypatch, capsys)
    assert len(answers) == 1 + 2 * len(lines)
    assert all(a["decision"] == "Allowed" for a in answers[::2])
    assert all("error" in a for a in answers[1::2])


@FUZZ
@given(case=st.dictionaries(st.sampled_from(sorted(GOOD)) | nasty_text, json_values(), max_size=4))
def test_fuzz_cases(case: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: Capture) -> None:
    answers = run([escaped_json(case), GOOD_LINE], monkeypatch, capsys)
    assert len(answers) == 2
    assert ("error" in answers[0]) != ("decision" in answers[0])
    assert answers[1]["decision"] == "Allowed"


@FUZZ
@given(raw=st.binary(max_size=80).filter(lambda b: b"\n" not in b and b"\r" not in b and b.strip()))
def test_fuzz_raw_lines(raw: bytes, monkeypatch: pytest.MonkeyPatch, capsys: Capture) -> None:
    answers = run([raw, GOOD_LINE], monkeypatch, capsys)
    assert answers[-1]["decision"] == "Allowed"
