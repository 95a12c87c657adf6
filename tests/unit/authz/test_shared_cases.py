"""The shared conformance cases, and ``iamd authorize``, through the real command line."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest


def _repo_root() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "src" / "iamd").is_dir():
            return parent
    raise RuntimeError(f"no iamd checkout above {here}")


REPO = _repo_root()
SHARED_CASES = (REPO / ".." / "shared" / "cases" / "public.jsonl").resolve()
EXAMPLE_CASES = REPO / "examples" / "cases.jsonl"
MISSING_SHARED = f"{SHARED_CASES} is absent (the shared cases live beside the project, not in it)"


def authorize(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "iamd.cli.main", "authorize", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )


def answers(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def _shared_cases() -> list[dict[str, Any]]:
    if not SHARED_CASES.is_file():
        return []
    with SHARED_CASES.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


CASES = _shared_cases()


def _family(name: str) -> str:
    """``basic/x`` -> basic, ``hand-cond-ip`` -> hand, ``mix-random-s1-7`` -> mix-random."""
    if "/" in name:
        return name.split("/", 1)[0]
    return "mix-random" if name.startswith("mix-random") else name.split("-", 1)[0]


FAMILIES: dict[str, list[dict[str, Any]]] = {}
for _case in CASES:
    FAMILIES.setdefault(_family(_case["name"]), []).append(_case)


@cache
def _shared_answers() -> dict[str, dict[str, Any]]:
    """Every shared case decided by one run of the command, by case name."""
    result = authorize("--cases", str(SHARED_CASES))
    assert result.returncode == 0, result.stderr
    lines = answers(result)
    assert [line["name"] for line in lines] == [case["name"] for case in CASES]
    return {line["name"]: line for line in lines}


def test_shared_cases_are_present_and_named_uniquely() -> None:
    if not CASES:
        pytest.skip(MISSING_SHARED)
    assert len({case["name"] for case in CASES}) == len(CASES)


@pytest.mark.parametrize(
    "family",
    sorted(FAMILIES) or [pytest.param("-", marks=pytest.mark.skip(reason=MISSING_SHARED), id="absent")],
)
def test_shared_case_family(family: str) -> None:
    """Each case of the family is decided as ``expected``; a failure lists every case that is not."""
    decided = _shared_answers()
    wrong = []
    for case in FAMILIES[family]:
        answer = decided[case["name"]]
        if answer.get("decision") != case["expected"]:
            got = answer.get("decision") or f"error: {answer.get('error')}"
            wrong.append(f"{case['name']}: expected {case['expected']}, got {got} ({answer.get('reason')})")
    assert not wrong, f"{len(wrong)} of {len(FAMILIES[family])} cases:\n" + "\n".join(wrong)


# --- the command itself ---------------------------------------------------------------------------

A = "111111111111"


def case(name: str, expected: str = "Allowed", **overrides: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "request": {
            "principal": f"arn:aws:iam::{A}:user/alice",
            "action": "s3:GetObject",
            "resource": {"resource": "arn:aws:s3:::data/report.csv", "accountId": A},
            "contextVariables": {},
        },
        "identityPolicies": [
            {
                "name": "reader",
                "policy": {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
                },
            }
        ],
        "serviceControlPolicies": [],
        "resourceControlPolicies": [],
        "expected": expected,
    }
    out.update(overrides)
    return out


def jsonl(*lines: object) -> str:
    return "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)


def test_each_case_gets_one_answer_line_in_order(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text(jsonl(case("first"), case("second", identityPolicies=[]), "", case("third")), "utf-8")
    result = authorize("--cases", str(path))
    assert result.returncode == 0
    lines = answers(result)
    assert [(a["name"], a["decision"]) for a in lines] == [
        ("first", "Allowed"),
        ("second", "ImplicitlyDenied"),
        ("third", "Allowed"),
    ]
    assert lines[1]["decidedBy"] == "identity"
    assert lines[1]["message"] == (
        f"User: arn:aws:iam::{A}:user/alice is not authorized to perform: s3:GetObject on resource: "
        "arn:aws:s3:::data/report.csv because no identity-based policy allows the s3:GetObject action"
    )
    assert lines[0]["layers"] == [
        {
            "layer": "identity",
            "outcome": "Allow",
            "allows": [{"policy": "reader", "statement": 0, "sid": None, "effect": "Allow"}],
        }
    ]
    assert "message" not in lines[0]


def test_malformed_lines_get_an_error_and_the_others_are_still_decided(tmp_path: Path) -> None:
    bad_principal = case("bad-principal")
    bad_principal["request"]["principal"] = f"arn:aws:iam::{A}:role/app"
    bad_policy = case("bad-policy", identityPolicies=[{"name": "broken", "policy": {"Statement": [{}]}}])
    path = tmp_path / "cases.jsonl"
    path.write_text(
        jsonl(case("good-1"), '{"name": "truncated", ', bad_principal, "[1, 2]", bad_policy, case("good-2")),
        "utf-8",
    )
    lines = answers(authorize("--cases", str(path)))
    assert len(lines) == 6
    assert lines[0] == {**lines[0], "name": "good-1", "decision": "Allowed"}
    assert lines[5] == {**lines[5], "name": "good-2", "decision": "Allowed"}
    assert lines[1]["name"] == "line 2"
    assert lines[1]["error"].startswith("line 2: invalid JSON")
    assert lines[2]["name"] == "bad-principal"
    assert "request.principal" in lines[2]["error"] and "role" in lines[2]["error"]
    assert lines[3]["error"] == "line 4: a case must be a JSON object"
    assert lines[4]["name"] == "bad-policy"
    assert "identityPolicies[0] (broken)" in lines[4]["error"]
    assert "MISSING_EFFECT" in lines[4]["error"]
    assert all("decision" not in line for line in lines[1:5])


UNREADABLE: list[tuple[dict[str, Any], str]] = [
    ({"request": None}, "request: missing or not an object"),
    ({"identityPolicies": "reader"}, "identityPolicies must be a list"),
    ({"serviceControlPolicies": [{"orgIdentifier": "r", "policies": {}}]}, "serviceControlPolicies[0]"),
    ({"sessionPolicy": 5}, "sessionPolicy"),
    ({"resourcePolicy": ["x"]}, "resourcePolicy"),
    (
        {"request": {"principal": f"arn:aws:iam::{A}:user/a", "action": "GetObject", "resource": "*"}},
        "action",
    ),
    ({"request": {"principal": f"arn:aws:iam::{A}:user/a", "action": "s3:GetObject"}}, "request.resource"),
]


def test_unreadable_case_error_names_the_problem() -> None:
    stdin = jsonl(*(case(f"broken-{i}", **change) for i, (change, _) in enumerate(UNREADABLE)))
    lines = answers(authorize("--cases", "-", stdin=stdin))
    assert len(lines) == len(UNREADABLE)
    for i, (line, (_, problem)) in enumerate(zip(lines, UNREADABLE, strict=True)):
        assert line["name"] == f"broken-{i}"
        assert problem in line["error"], line


def test_dash_reads_the_cases_from_standard_input() -> None:
    result = authorize("--cases", "-", stdin=jsonl(case("from-stdin"), case("denied", identityPolicies=[])))
    assert result.returncode == 0
    assert [(a["name"], a["decision"]) for a in answers(result)] == [
        ("from-stdin", "Allowed"),
        ("denied", "ImplicitlyDenied"),
    ]


def test_check_exits_0_when_every_decision_matches() -> None:
    result = authorize(
        "--check",
        "--cases",
        "-",
        stdin=jsonl(case("ok"), case("no", "ImplicitlyDenied", identityPolicies=[])),
    )
    assert result.returncode == 0, result.stderr
    assert "0 mismatched, 0 unreadable" in result.stderr


def test_check_exits_1_on_a_mismatch_and_reports_the_expected_value() -> None:
    result = authorize("--check", "--cases", "-", stdin=jsonl(case("ok"), case("wrong", "ExplicitlyDenied")))
    assert result.returncode == 1
    assert "1 mismatched, 0 unreadable" in result.stderr
    lines = answers(result)
    assert "expected" not in lines[0]
    assert lines[1]["decision"] == "Allowed"
    assert lines[1]["expected"] == "ExplicitlyDenied"


def test_check_exits_1_on_an_unreadable_line() -> None:
    result = authorize("--check", "--cases", "-", stdin=jsonl(case("ok"), "not json"))
    assert result.returncode == 1
    assert "0 mismatched, 1 unreadable" in result.stderr


def test_without_check_a_mismatch_still_exits_0() -> None:
    assert authorize("--cases", "-", stdin=jsonl(case("wrong", "ExplicitlyDenied"))).returncode == 0


def test_missing_cases_file_is_an_error_exit(tmp_path: Path) -> None:
    result = authorize("--cases", str(tmp_path / "absent.jsonl"))
    assert result.returncode == 2
    assert "absent.jsonl" in result.stderr


def test_a_line_that_is_not_utf8_gets_an_error_and_the_others_are_decided(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_bytes(
        jsonl(case("good-1")).encode() + b'{"name": "bad\xff"}\n' + jsonl(case("good-2")).encode()
    )
    result = authorize("--cases", str(path))
    assert "Traceback" not in result.stderr
    lines = answers(result)
    assert [line.get("decision") for line in lines] == ["Allowed", None, "Allowed"]
    assert "error" in lines[1]


def test_example_cases_shipped_with_the_project_pass() -> None:
    result = authorize("--cases", str(EXAMPLE_CASES), "--check")
    assert result.returncode == 0, result.stderr
