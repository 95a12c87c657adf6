"""The policy summary (``iamd.analyzer.summary``), read against the Service Authorization Reference
iamd ships, as the IAM console's summary shows it: per service an access level, resources and
request conditions; explicit denies apart; unknown services and actions listed."""

from __future__ import annotations

import json
import time
from typing import Any

from iamd.analyzer.summary import ACCESS_LEVELS, PolicySummary, access_level, summarize
from iamd.catalog import ActionLevels, action_levels, service_catalog
from iamd.policy import PolicyKind, parse_policy


def summary(*statements: dict[str, Any]) -> PolicySummary:
    text = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    return summarize(parse_policy(text, PolicyKind.IDENTITY, strict=False), ActionLevels())


def row(found: PolicySummary, service: str, deny: bool = False) -> dict[str, Any]:
    for item in found.deny if deny else found.allow:
        if item.service == service:
            return item.to_json()
    raise AssertionError(f"no row for {service}: {[s.service for s in found.allow]}")


def s3_count(level: str) -> int:
    return sum(1 for _n, raw in action_levels("s3").values() if access_level(raw) == level)


def test_one_read_action_is_limited_read_on_its_bucket() -> None:
    found = summary({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/*"})
    s3 = row(found, "s3")
    assert s3["name"] == "Amazon S3"
    assert s3["access"] == "Limited: Read"
    assert s3["levels"] == [{"level": "Read", "granted": 1, "total": s3_count("Read")}]
    assert s3["resources"] == ["arn:aws:s3:::reports/*"]
    assert s3["conditions"] == ["None"]
    assert [a["name"] for a in s3["actions"]] == ["GetObject"]


def test_a_wildcard_over_every_list_action_is_full_list() -> None:
    found = summary({"Effect": "Allow", "Action": ["s3:List*", "s3:GetObject"], "Resource": "*"})
    s3 = row(found, "s3")
    # Every List-level action of S3 starts with List (checked against the reference itself).
    list_names = [n for n, raw in action_levels("s3").values() if access_level(raw) == "List"]
    if all(n.startswith("List") for n in list_names):
        assert s3["access"] == "Full: List  Limited: Read"
    assert s3["resources"] == ["All resources"]


def test_service_wildcard_is_full_access() -> None:
    found = summary({"Effect": "Allow", "Action": "sqs:*", "Resource": "*"})
    assert row(found, "sqs")["access"] == "Full access"


def test_star_is_every_service() -> None:
    found = summary({"Effect": "Allow", "Action": "*", "Resource": "*"})
    every = row(found, "*")
    assert every["name"] == "All services"
    assert every["access"] == "Full access"
    assert every["resources"] == ["All resources"]


def test_conditions_are_shown_and_deny_is_apart() -> None:
    found = summary(
        {
            "Effect": "Allow",
            "Action": "dynamodb:GetItem",
            "Resource": "arn:aws:dynamodb:*:*:table/orders",
            "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        },
        {"Effect": "Deny", "Action": "dynamodb:DeleteTable", "Resource": "*"},
    )
    allowed = row(found, "dynamodb")
    assert allowed["conditions"] == ["aws:SourceIp IpAddress 10.0.0.0/8"]
    denied = row(found, "dynamodb", deny=True)
    assert denied["access"] == "Limited: Write"
    assert [a["name"] for a in denied["actions"]] == ["DeleteTable"]
    assert [s.service for s in found.allow] == ["dynamodb"]


def test_tagging_and_permissions_management_are_their_own_levels() -> None:
    assert access_level("Tagging, Write") == "Tagging"
    assert access_level("Permissions management, Write") == "Permissions management"
    found = summary({"Effect": "Allow", "Action": ["iam:TagRole", "iam:PutRolePolicy"], "Resource": "*"})
    levels = {item["level"] for item in row(found, "iam")["levels"]}
    assert levels == {"Tagging", "Permissions management"}


def test_unknown_services_and_actions_are_listed() -> None:
    found = summary(
        {"Effect": "Allow", "Action": ["s3:GetObjekt", "notaservice:Get*", "s3:GetObject"], "Resource": "*"}
    )
    assert found.unrecognized_actions == ["s3:GetObjekt"]
    assert found.unrecognized_services == ["notaservice"]
    assert [a["name"] for a in row(found, "s3")["actions"]] == ["GetObject"]


def test_not_action_grants_the_rest_of_the_named_service_and_every_other_service() -> None:
    found = summary({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    every = row(found, "*")
    assert every["exceptActions"] == ["iam:*"]
    assert every["access"] == "Full access, except the actions listed"
    assert row(found, "iam")["actions"] == []
    found = summary({"Effect": "Allow", "NotAction": "s3:DeleteBucket", "Resource": "*"})
    s3 = row(found, "s3")
    assert "DeleteBucket" not in [a["name"] for a in s3["actions"]]
    assert len(s3["actions"]) == len(action_levels("s3")) - 1


def test_not_resource_is_shown_as_an_exception() -> None:
    found = summary({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::secret/*"})
    assert row(found, "s3")["resources"] == ["All resources except: arn:aws:s3:::secret/*"]


def test_levels_are_listed_in_the_consoles_order() -> None:
    found = summary(
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:ListBucket", "s3:GetObject"], "Resource": "*"}
    )
    levels = [item["level"] for item in row(found, "s3")["levels"]]
    assert levels == [lv for lv in ACCESS_LEVELS if lv in levels] == ["List", "Read", "Write"]


def test_the_builders_catalog_has_arn_formats_and_keys() -> None:
    s3 = service_catalog("S3")
    assert s3 is not None
    names = {a["name"]: a for a in s3["actions"]}  # type: ignore[attr-defined]
    get_object = names["GetObject"]
    assert get_object["level"] == "Read"
    assert "object" in [t["name"] for t in get_object["resourceTypes"]]
    arns = {t["name"]: t["arn"] for t in s3["resourceTypes"]}  # type: ignore[attr-defined]
    assert arns["bucket"] == "arn:${Partition}:s3:::${BucketName}"
    assert any(k["key"] == "s3:prefix" for k in s3["conditionKeys"])  # type: ignore[attr-defined]
    assert service_catalog("no-such-service") is None


def test_a_policy_too_broad_to_go_through_is_cut_short_and_says_so() -> None:
    statements = [{"Effect": "Allow", "Action": f"*:Get*{i}", "Resource": "*"} for i in range(150)]
    started = time.perf_counter()
    found = summary(*statements)
    assert found.incomplete
    assert time.perf_counter() - started < 5  # bounded (well under a second on an idle machine)
    assert not summary({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}).incomplete


def test_star_colon_star_is_every_service() -> None:
    assert [r.service for r in summary({"Effect": "Allow", "Action": "*:*", "Resource": "*"}).allow] == ["*"]
