"""Password refusals: the API's AWS sentence, and the rules broken for iamd's console and tools."""

from __future__ import annotations

from datetime import UTC, datetime

from iamd.services.iam.passwords import PasswordPolicyViolation, password_problems, policy_violation
from iamd.store.records import AccountRecord, PasswordPolicyRecord

ACCOUNT = AccountRecord(
    id="111111111111",
    name="acme",
    email="root@acme.example",
    alias=None,
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
    status="ACTIVE",
    root_password_hash=None,
    root_password_changed_at=None,
    root_password_last_used=None,
    organization_id=None,
    organization_role=None,
    joined_method=None,
    joined_at=None,
    generation=0,
)
# https://docs.aws.amazon.com/IAM/latest/APIReference/API_ChangePassword.html (PasswordPolicyViolation)
SENTENCE = "Password does not conform to the account password policy."


def test_reasons_name_length_and_each_missing_class() -> None:
    policy = PasswordPolicyRecord(minimum_length=14, require_symbols=True, require_numbers=True)
    problems = password_problems("Short", policy, ACCOUNT)
    assert problems[0] == "fewer than 14 characters"
    assert any(p.startswith("no symbol") for p in problems)
    assert "no number (0-9)" in problems
    assert not any("Short" in p for p in problems)


def test_default_policy_reasons() -> None:
    """AWS's default policy: 8 characters, three of four classes, not the account name or email."""
    assert password_problems("acme", None, ACCOUNT) == [
        "fewer than 8 characters",
        "fewer than three of uppercase letters, lowercase letters, numbers and symbols",
        "the same text as the account name or email address",
    ]


def test_the_wire_message_stays_aws_sentence() -> None:
    violation = policy_violation(["fewer than 14 characters", "no number (0-9)"])
    assert isinstance(violation, PasswordPolicyViolation)
    assert (violation.code, violation.status, violation.message) == ("PasswordPolicyViolation", 400, SENTENCE)
    assert (
        violation.explained == f"{SENTENCE} The new password has fewer than 14 characters; no number (0-9)."
    )
    assert policy_violation().explained == SENTENCE
