"""``iamd policy check``: findings of policy files, exit codes, JSON output, policy kinds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from iamd.cli.main import main

GOOD = """{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
  ]
}
"""

BAD = """{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Permit",
      "Action": "s3:GetObject",
      "Resource": "*"
    },
    {"Effect": "Allow", "Resource": "*"}
  ]
}
"""

WITH_PRINCIPAL = """{
  "Version": "2012-10-17",
  "Statement": {
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": "*"
  }
}
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["policy", "check", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_good_file_is_ok_and_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "good.json", GOOD)
    assert check(capsys, path) == (0, f"{path}: OK\n", "")


def test_bad_file_prints_every_finding_with_line_and_column_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "bad.json", BAD)
    code, out, _ = check(capsys, path)
    assert code == 1
    lines = out.splitlines()
    effect = 'INVALID_EFFECT at Statement[0].Effect (line 5, column 17): Effect must be "Allow" or "Deny"'
    assert f"{path}: ERROR {effect}" in lines
    assert any(
        line.startswith(f"{path}: ERROR MISSING_ACTION at Statement[1] (line 9, column 5)") for line in lines
    )
    assert len(lines) == 2


def test_warnings_alone_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = '{"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}'
    path = write(tmp_path, "noversion.json", text)
    code, out, _ = check(capsys, path)
    assert code == 0
    # Access Analyzer types MISSING_VERSION as a (general) WARNING.
    assert out == f"{path}: WARNING MISSING_VERSION at (document) (line 1, column 1): " + (
        'Add "Version": "2012-10-17"; without it policy variables are not substituted\n'
    )


def test_several_files_any_error_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, "good.json", GOOD)
    bad = write(tmp_path, "bad.json", BAD)
    code, out, _ = check(capsys, good, bad)
    assert code == 1
    assert out.startswith(f"{good}: OK\n{bad}: ERROR INVALID_EFFECT")


def test_json_output_is_one_object_per_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, "good.json", GOOD)
    bad = write(tmp_path, "bad.json", BAD)
    code, out, _ = check(capsys, "--json", good, bad)
    assert code == 1
    first, second = (json.loads(line) for line in out.splitlines())
    assert first == {"file": good, "findings": []}
    assert second["file"] == bad
    first_finding = second["findings"][0]
    assert {k: first_finding[k] for k in ("findingType", "issueCode", "findingDetails")} == {
        "findingType": "ERROR",
        "issueCode": "INVALID_EFFECT",
        "findingDetails": 'Effect must be "Allow" or "Deny"',
    }
    assert {k: first_finding[k] for k in ("path", "location", "line", "column")} == {
        "path": ["Statement", 0, "Effect"],
        "location": "Statement[0].Effect",
        "line": 5,
        "column": 17,
    }
    # ... and the fields of ValidatePolicy's answer: learnMoreLink and located spans.
    assert first_finding["learnMoreLink"].endswith(
        "#access-analyzer-reference-policy-checks-error-invalid-effect"
    )
    assert first_finding["locations"][0]["path"] == [
        {"value": "Statement"},
        {"index": 0},
        {"value": "Effect"},
    ]
    assert first_finding["locations"][0]["span"]["start"] == {"line": 5, "column": 16, "offset": 68}
    assert [f["issueCode"] for f in second["findings"]] == ["INVALID_EFFECT", "MISSING_ACTION"]


def test_kind_scp_rejects_principal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "scp.json", WITH_PRINCIPAL)
    code, out, _ = check(capsys, "--kind", "scp", path)
    assert code == 1
    assert out.startswith(
        f"{path}: ERROR SCP_SYNTAX_ERROR_PRINCIPAL at Statement.Principal (line 5, column 18)"
    )


def test_kind_resource_accepts_principal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "bucket.json", WITH_PRINCIPAL)
    assert check(capsys, "--kind", "resource", path) == (0, f"{path}: OK\n", "")


def test_default_kind_identity_rejects_principal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "identity.json", WITH_PRINCIPAL)
    code, out, _ = check(capsys, path)
    assert code == 1
    assert "UNSUPPORTED_PRINCIPAL" in out


def test_kind_decides_the_size_quota(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    statement = {"Sid": "A" * 2100, "Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    path = write(tmp_path, "big.json", json.dumps({"Version": "2012-10-17", "Statement": statement}))
    # Access Analyzer reports an identity policy over its quota as a WARNING (exit 0 by default).
    code, out, _ = check(capsys, "--kind", "inline-user", "--fail-on", "warning", path)
    assert code == 1
    assert "WARNING POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA" in out
    assert "the quota for a inline-user policy is 2048" in out
    assert check(capsys, "--kind", "managed", "--fail-on", "warning", path)[0] == 0


def test_unknown_kind_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "good.json", GOOD)
    with pytest.raises(SystemExit) as exc:
        main(["policy", "check", "--kind", "bucket", path])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_json_syntax_error_is_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "broken.json", '{\n  "Version": "2012-10-17",\n  "Statement": [\n}\n')
    code, out, _ = check(capsys, path)
    assert code == 1
    assert out.startswith(f"{path}: ERROR JSON_SYNTAX_ERROR at (document) (line 4, column 1)")


def test_unreadable_file_is_reported_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "absent.json")
    good = write(tmp_path, "good.json", GOOD)
    code, out, err = check(capsys, missing, good)
    assert code == 1
    assert err.startswith(f"{missing}: cannot read:")
    assert out == f"{good}: OK\n"


def test_file_that_is_not_utf8_is_reported_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"Version": "2012-10-17", "Statement": {"Sid": "\xff", "Effect": "Allow"}}')
    code, _, err = check(capsys, str(path))
    assert code == 1
    assert str(path) in err


def test_the_installed_entry_point_runs_the_command(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.json", BAD)
    result = subprocess.run(
        [sys.executable, "-m", "iamd.cli.main", "policy", "check", "--json", path],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert json.loads(result.stdout)["findings"][0]["line"] == 5


def test_api_flag_adds_what_iam_answers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Located findings stay; --api adds AWS's answer (iamd.policy.acceptance). An action vendor
    such as s3.s is an ERROR finding that IAM stores anyway (moto's valid table); a managed policy
    without Version is refused (https://github.com/Meteor-Community-Packages/Meteor-CollectionFS/issues/630)."""
    dotted = write(
        tmp_path,
        "dotted.json",
        '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3.s:Get", "Resource": "*"}}',
    )
    code, out, _ = check(capsys, "--kind", "managed", "--api", dotted)
    assert code == 1
    assert "ERROR INVALID_ACTION at Statement.Action" in out
    assert out.endswith(f"{dotted}: the managed policy API answers: accepted\n")
    unversioned = write(
        tmp_path, "old.json", '{"Statement": {"Effect": "Allow", "Action": "s3:Get", "Resource": "*"}}'
    )
    code, out, _ = check(capsys, "--kind", "managed", "--api", "--json", unversioned)
    api = json.loads(out)["api"]
    assert (api["accepted"], api["code"], api["message"]) == (
        False,
        "MalformedPolicyDocument",
        "Policy document must be version 2012-10-17 or greater.",
    )
    assert "Meteor-CollectionFS" in api["source"]


PASSROLE = """{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}
  ]
}
"""


def test_security_warning_exits_1_and_fail_on_moves_the_threshold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "passrole.json", PASSROLE)
    code, out, _ = check(capsys, path)
    assert code == 1
    assert (
        f"{path}: SECURITY_WARNING PASS_ROLE_WITH_STAR_IN_RESOURCE at Statement[0].Action (line 4, column"
        in out
    )
    assert check(capsys, "--fail-on", "error", path)[0] == 0
    assert check(capsys, "--fail-on", "none", write(tmp_path, "bad.json", BAD))[0] == 0


def test_sarif_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, "good.json", GOOD)
    path = write(tmp_path, "passrole.json", PASSROLE)
    code, out, _ = check(capsys, "--format", "sarif", good, path)
    assert code == 1
    log = json.loads(out)
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["PASS_ROLE_WITH_STAR_IN_RESOURCE"]
    (result,) = run["results"]
    assert result["ruleId"] == "PASS_ROLE_WITH_STAR_IN_RESOURCE"
    assert result["level"] == "error"
    region = result["locations"][0]["physicalLocation"]["region"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == path
    # SARIF counts columns from 1; the region covers the JSON string "iam:PassRole".
    line = PASSROLE.splitlines()[region["startLine"] - 1]
    assert line[region["startColumn"] - 1 : region["endColumn"] - 1] == '"iam:PassRole"'
    assert PASSROLE[region["charOffset"] : region["charOffset"] + region["charLength"]] == '"iam:PassRole"'


def test_resource_type_scopes_a_resource_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                "Action": "kms:Decrypt",
                "Resource": "arn:aws:s3:::bucket/*",
            }
        ],
    }
    path = write(tmp_path, "bucket.json", json.dumps(policy))
    code, out, _ = check(capsys, "--kind", "resource", "--resource-type", "AWS::S3::Bucket", path)
    assert code == 1
    assert "UNSUPPORTED_ACTION_IN_POLICY" in out
    assert check(capsys, "--kind", "resource", path)[0] == 0
