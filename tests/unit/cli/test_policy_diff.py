"""``iamd policy diff OLD NEW`` and ``iamd policy grants FILE --action A [--resource R]``: the
proven checks offline, their exit codes and the counterexample they print."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iamd.cli.main import main


def _write(path: Path, *statements: dict[str, object]) -> str:
    path.write_text(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}), encoding="utf-8")
    return str(path)


@pytest.fixture
def files(tmp_path: Path) -> tuple[str, str]:
    old = _write(
        tmp_path / "old.json", {"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/*"}
    )
    new = _write(
        tmp_path / "new.json",
        {"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/*"},
        {"Sid": "Put", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*"},
    )
    return old, new


def test_diff_exits_1_with_a_counterexample_on_new_access(
    files: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = files
    assert main(["policy", "diff", old, new]) == 1
    out = capsys.readouterr().out
    assert out.startswith("FAIL: The modified permissions grant new access")
    assert "New access in the statement with sid: Put." in out
    assert "confirmed by iamd's evaluator" in out and "action s3:PutObject" in out


def test_diff_exits_0_when_nothing_is_new(files: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    old, new = files
    assert main(["policy", "diff", new, old]) == 0
    assert capsys.readouterr().out.startswith("PASS:")


def test_grants_json(files: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    _, new = files
    assert main(["policy", "grants", new, "--action", "s3:PutObject", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["result"] == "FAIL"
    assert out["counterexample"]["action"] == "s3:PutObject" and out["counterexample"]["confirmed"]
    assert (
        main(["policy", "grants", new, "--action", "s3:DeleteObject", "--resource", "arn:aws:s3:::b/*"]) == 0
    )


def test_unreadable_or_invalid_files_exit_2(
    tmp_path: Path, files: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    old, _ = files
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    assert main(["policy", "diff", old, str(bad)]) == 2
    assert "bad.json" in capsys.readouterr().err
    assert main(["policy", "diff", old, str(tmp_path / "missing.json")]) == 2


def test_policy_type_choices_are_the_checks_policy_types() -> None:
    from iamd.analyzer.proofs import PolicyType
    from iamd.cli.proofs import POLICY_TYPES

    assert tuple(t.value for t in PolicyType) == POLICY_TYPES
