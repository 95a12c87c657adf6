"""Unused access findings from last-used data (shared/spec/access_analyzer_api.md §3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from iamd.analyzer.unused import AccessKeyUse, Principal, unused_findings

NOW = datetime(2026, 6, 1, tzinfo=UTC)
OLD = NOW - timedelta(days=200)


def types(found: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(f.finding_type, f.resource) for f in found]


def test_an_idle_role_is_one_unused_role_finding() -> None:
    idle = Principal("role", "arn:r/idle", OLD, None, {"iam": ("iam:GetUser",)})
    recent = Principal("role", "arn:r/recent", OLD, NOW - timedelta(days=10), {"iam": ("iam:GetUser",)})
    young = Principal("role", "arn:r/young", NOW - timedelta(days=5), None)
    found = unused_findings([idle, recent, young], NOW, 90)
    assert types(found) == [("UnusedIAMRole", "arn:r/idle"), ("UnusedPermission", "arn:r/recent")]


def test_permissions_action_level_and_service_level() -> None:
    role = Principal(
        "role",
        "arn:r/x",
        OLD,
        NOW - timedelta(days=1),
        {"iam": ("iam:GetUser", "iam:ListUsers"), "s3": ()},
        {"iam": {"iam:getuser": NOW - timedelta(days=1)}},
    )
    [finding] = unused_findings([role], NOW, 90)
    assert finding.details == (
        {
            "unusedPermissionDetails": {
                "serviceNamespace": "iam",
                "actions": [{"action": "iam:ListUsers"}],
                "lastAccessed": NOW - timedelta(days=1),
            }
        },
        {"unusedPermissionDetails": {"serviceNamespace": "s3"}},
    )


def test_users_passwords_and_keys() -> None:
    user = Principal(
        "user",
        "arn:u/x",
        OLD,
        None,
        has_password=True,
        password_created_at=OLD,
        password_last_used=NOW - timedelta(days=100),
        access_keys=(
            AccessKeyUse("AKIAOLD", OLD, None, True),
            AccessKeyUse("AKIAUSED", OLD, NOW, True),
            AccessKeyUse("AKIAOFF", OLD, None, False),
        ),
    )
    found = unused_findings([user], NOW, 90)
    assert types(found) == [("UnusedIAMUserPassword", "arn:u/x"), ("UnusedIAMUserAccessKey", "arn:u/x")]
    assert found[1].details == ({"unusedIamUserAccessKeyDetails": {"accessKeyId": "AKIAOLD"}},)
    assert found[0].details == (
        {"unusedIamUserPasswordDetails": {"lastAccessed": NOW - timedelta(days=100)}},
    )


def test_tag_exclusions() -> None:
    tagged = Principal("role", "arn:r/ops", OLD, None, tags={"team": "ops"})
    assert unused_findings([tagged], NOW, 90, [{"team": ""}]) == []
    assert unused_findings([tagged], NOW, 90, [{"team": "dev"}]) != []
