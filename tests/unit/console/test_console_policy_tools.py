"""The console's pure helpers for the policy pages: the simulator's form read into an IAM call
and its answer read back, the password-policy form, the policy list's filter, the credential
report's CSV, and how times are shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from iamd.console.policies import policy_filter
from iamd.console.policy_tools import parse_simulation, simulation_call, simulation_rows, summary_of, when
from iamd.console.providers import split_list
from iamd.console.reports import report_table
from iamd.console.settings import password_policy_params

DOC = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}'
)


def test_a_simulation_alone_is_simulate_custom_policy_with_typed_context() -> None:
    given = parse_simulation(
        "", "s3:GetObject, s3:PutObject", "", "aws:SourceIp = 10.1.2.3\naws:MultiFactorAuthPresent = true"
    )
    assert given.problems == []
    operation, params = simulation_call(DOC, given)
    assert operation == "SimulateCustomPolicy"
    assert params["ActionNames"] == ["s3:GetObject", "s3:PutObject"]
    assert params["ResourceArns"] == ["*"]
    assert params["ContextEntries"] == [
        {"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["10.1.2.3"], "ContextKeyType": "ip"},
        {
            "ContextKeyName": "aws:MultiFactorAuthPresent",
            "ContextKeyValues": ["true"],
            "ContextKeyType": "boolean",
        },
    ]


def test_several_values_or_an_array_key_are_a_list_type() -> None:
    given = parse_simulation("", "s3:GetObject", "", "aws:SourceIp = 10.0.0.1, 10.0.0.2\naws:TagKeys = a")
    _, params = simulation_call(DOC, given)
    types = {e["ContextKeyName"]: e["ContextKeyType"] for e in params["ContextEntries"]}
    assert types == {"aws:SourceIp": "ipList", "aws:TagKeys": "stringList"}


def test_a_principal_makes_it_simulate_principal_policy() -> None:
    given = parse_simulation("arn:aws:iam::123456789012:role/deploy", "sts:AssumeRole", "", "")
    operation, params = simulation_call(DOC, given)
    assert operation == "SimulatePrincipalPolicy"
    assert params["PolicySourceArn"] == "arn:aws:iam::123456789012:role/deploy"
    assert params["PolicyInputList"] == [DOC]


def test_what_to_fix_is_said_in_words() -> None:
    problems = parse_simulation("alice", "", "", "no equals sign").problems
    assert any("IAM user, group or role ARN" in p for p in problems)
    assert any("at least one action" in p for p in problems)
    assert any('"key = value"' in p for p in problems)
    many = parse_simulation("", "\n".join(f"s3:A{i}" for i in range(21)), "", "").problems
    assert many == ["Simulate at most 20 actions at a time."]


def test_results_read_back_with_the_reason_per_layer() -> None:
    rows = simulation_rows(
        {
            "EvaluationResults": [
                {
                    "EvalActionName": "s3:GetObject",
                    "EvalResourceName": "*",
                    "EvalDecision": "allowed",
                    "MatchedStatements": [
                        {"SourcePolicyId": "PolicyInputList.1", "StartPosition": {"Line": 3, "Column": 5}}
                    ],
                    "MissingContextValues": [],
                    "PermissionsBoundaryDecisionDetail": {"AllowedByPermissionsBoundary": True},
                },
                {
                    "EvalActionName": "s3:PutObject",
                    "EvalResourceName": "*",
                    "EvalDecision": "implicitDeny",
                    "MatchedStatements": [],
                    "MissingContextValues": ["aws:SourceIp"],
                    "EvalDecisionDetails": {"PolicyInputList.1 statement 0: Action": "implicitDeny"},
                },
            ]
        }
    )
    assert rows[0]["allowed"] and rows[0]["matched"][0]["text"] == "PolicyInputList.1, line 3"
    assert rows[0]["layers"] == ["Permissions boundary: allows"]
    assert rows[1]["decisionText"] == "Denied: no statement allows it (implicit deny)"
    assert rows[1]["why"] == ["Nearest: PolicyInputList.1 statement 0: Action"]
    assert rows[1]["missing"] == ["aws:SourceIp"]


def test_the_summary_of_text_that_does_not_parse_is_none() -> None:
    assert summary_of("{ not json") is None
    found = summary_of(DOC)
    assert found is not None and found["allow"]


def test_password_policy_form() -> None:
    params, problems = password_policy_params(
        {
            "MinimumPasswordLength": "14",
            "RequireSymbols": "1",
            "MaxPasswordAge": "",
            "PasswordReusePrevention": "5",
        }
    )
    assert problems == []
    assert params["MinimumPasswordLength"] == 14 and params["RequireSymbols"] is True
    assert params["RequireNumbers"] is False and "MaxPasswordAge" not in params
    assert params["PasswordReusePrevention"] == 5
    _, problems = password_policy_params({"MinimumPasswordLength": "5", "MaxPasswordAge": "2000"})
    assert problems == [
        "The minimum length is a whole number from 6 to 128 (or empty).",
        "The password lifetime in days is a whole number from 1 to 1095 (or empty).",
    ]


def test_policy_filter_by_usage_and_name_exact_first() -> None:
    listed = [
        {"PolicyName": "AmazonS3ReadOnlyAccess", "AttachmentCount": 0, "PermissionsBoundaryUsageCount": 0},
        {"PolicyName": "ReadOnlyAccess", "AttachmentCount": 2, "PermissionsBoundaryUsageCount": 0},
        {"PolicyName": "Boundary", "AttachmentCount": 0, "PermissionsBoundaryUsageCount": 1},
    ]
    assert [p["PolicyName"] for p in policy_filter(listed, "all", "readonlyaccess")] == [
        "ReadOnlyAccess",
        "AmazonS3ReadOnlyAccess",
    ]
    assert [p["PolicyName"] for p in policy_filter(listed, "permissions", "")] == ["ReadOnlyAccess"]
    assert [p["PolicyName"] for p in policy_filter(listed, "boundary", "")] == ["Boundary"]
    assert [p["PolicyName"] for p in policy_filter(listed, "unused", "")] == ["AmazonS3ReadOnlyAccess"]


def test_lists_typed_in_a_field() -> None:
    assert split_list("a, b\n\nc,") == ["a", "b", "c"]
    assert split_list("x\n" * 10, limit=5) == ["x"] * 5


def test_credential_report_csv() -> None:
    header, rows = report_table(
        b"user,arn,mfa_active\n<root_account>,arn:aws:iam::1:root,false\nbob,arn:b,true\n"
    )
    assert header == ["user", "arn", "mfa_active"]
    assert rows[1] == {"user": "bob", "arn": "arn:b", "mfa_active": "true"}


def test_times_are_shown_in_utc_to_the_minute() -> None:
    paris = timezone(timedelta(hours=1))
    assert when(datetime(2026, 12, 7, 1, 30, 59, tzinfo=paris)) == "2026-12-07 00:30 UTC"
    assert when("2026-12-06T23:39:12.018756+00:00") == "2026-12-06 23:39 UTC"
    assert when(datetime(2026, 1, 2, 3, 4, tzinfo=UTC)) == "2026-01-02 03:04 UTC"
    assert when(None) == "—" and when("not a date") == "not a date"
