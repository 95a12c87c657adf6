"""The console kit's pure parts: the page registry's navigation, error presentation, the
``back`` field's check, ages, the role list's trusted entities, generated passwords."""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime, timedelta

from iamd.console.kit import Registry, explain, safe_back
from iamd.console.kit.core import days_since, when
from iamd.console.roles import trusted_entities
from iamd.console.users import generated_password
from iamd.wire import AccessDenied, AwsError


def test_navigation_sections_order_and_current_entry() -> None:
    registry = Registry()
    users = registry.area("users")
    users.add_nav("Users", "/users", order=20)
    registry.area("dashboard").add_nav("Dashboard", "/dashboard", order=0)
    registry.area("review").add_nav("Security review", "/review", section="Access reports", order=5)
    registry.area("custom").add_nav("Later", "/later", section="Zeta")
    sections = registry.navigation("/users/alice")
    assert [s.title for s in sections] == ["Access management", "Access reports", "Zeta"]
    assert [(e.label, current) for e, current in sections[0].entries] == [
        ("Dashboard", False),
        ("Users", True),
    ]
    assert sections[0].entries[1][0].id == "nav-users"
    assert not any(current for s in registry.navigation("/usersx") for _, current in s.entries)


def test_a_registered_area_routes_its_handlers() -> None:
    registry = Registry()
    area = registry.area("x")

    @area.get("/x")
    async def page(kit: object, request: object) -> object:
        return None

    @area.post("/x/do")
    async def action(kit: object, request: object) -> object:
        return None

    routes = registry.routes(object())  # type: ignore[arg-type]
    assert [(r.path, sorted(r.methods or ())) for r in routes] == [  # type: ignore[attr-defined]
        ("/x", ["GET", "HEAD"]),
        ("/x/do", ["POST"]),
    ]


def test_errors_say_what_to_do_next_and_keep_aws_message() -> None:
    problem = explain(
        AccessDenied("User: arn:aws:iam::1:user/a is not authorized to perform: iam:CreateGroup"), []
    )
    assert problem.text.startswith("You don't have permission to do this. Ask an administrator")
    assert "iam:CreateGroup" in problem.text and problem.status == 403
    taken = explain(
        AwsError("User with name bob already exists.", code="EntityAlreadyExists", status=409), ["r"]
    )
    assert taken.text == "That name is taken. Choose another name. (User with name bob already exists.)"
    assert taken.why == ["r"]
    other = explain(AwsError("Something odd.", code="SomethingNew", status=400), [])
    assert other.text == "Something odd."


def test_back_only_goes_to_a_console_path() -> None:
    assert safe_back("/users/bob?tab=tags", "/home") == "/users/bob?tab=tags"
    for hostile in ("https://evil.example/", "//evil.example/x", "/\\\\evil", "", None, "x" * 600):
        assert safe_back(hostile, "/home") == "/home"


def test_ages_and_times() -> None:
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    assert days_since(now - timedelta(hours=3), now) == "Today"
    assert days_since(now - timedelta(days=1, hours=1), now) == "1 day"
    assert days_since(now - timedelta(days=91), now) == "91 days"
    assert days_since(None, now) == "-"
    assert when(now) == "2026-12-07 12:00 UTC" and when(None) == "-"


def test_trusted_entities_of_a_trust_policy() -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "sts:AssumeRole",
            },
            {"Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com"]}, "Action": "sts:AssumeRole"},
            {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"},
        ],
    }
    assert trusted_entities(json.dumps(document)) == [
        "AWS service: ec2.amazonaws.com",
        "AWS: account 123456789012",
    ]
    assert trusted_entities("not json") == []


def test_generated_passwords_have_every_kind_of_character() -> None:
    for _ in range(50):
        password = generated_password()
        assert len(password) == 20
        assert any(c in string.ascii_uppercase for c in password)
        assert any(c in string.ascii_lowercase for c in password)
        assert any(c in string.digits for c in password)
        assert any(not c.isalnum() for c in password)
    assert len({generated_password() for _ in range(20)}) == 20
