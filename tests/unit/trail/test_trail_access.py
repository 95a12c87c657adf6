"""Last-accessed data: which services (and actions) identity policies allow, and how uses become
ServicesLastAccessed and EntityDetailsList entries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from iamd.catalog import services
from iamd.store.audit import LastAccessedRecord
from iamd.trail.access import ALL, Entity, allowed_actions, entity_details, service_entries, service_name

T = datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def use(
    entity: str, service: str, action: str, at: datetime, region: str = "us-east-1"
) -> LastAccessedRecord:
    return LastAccessedRecord(entity, f"arn:aws:iam::1:user/{entity}", service, action, at, region)


def test_allowed_actions() -> None:
    allowed = allowed_actions(
        [
            doc(
                {"Effect": "Allow", "Action": ["iam:Get*", "S3:GetObject"], "Resource": "*"},
                {"Effect": "Deny", "Action": "ec2:*", "Resource": "*"},
            ),
            doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}),
            "not a policy",
        ]
    )
    assert allowed == {"iam": {"get*"}, "s3": {"getobject"}, "sts": {"assumerole"}}
    everything = allowed_actions([doc({"Effect": "Allow", "Action": "*", "Resource": "*"})])
    assert set(everything) == set(services()) and everything["iam"] == {ALL}
    negated = allowed_actions([doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})])
    assert set(negated) == set(services())
    wild = allowed_actions([doc({"Effect": "Allow", "Action": "s?:List*", "Resource": "*"})])
    assert "s3" in wild and "ssm" not in wild
    assert all(len(service) == 2 and service.startswith("s") for service in wild)


def test_service_entries() -> None:
    allowed = {"iam": {"get*"}, "s3": {"getobject"}}
    uses = [
        use("AIDA1", "iam", "GetUser", T - timedelta(hours=1)),
        use("AIDA2", "iam", "GetGroup", T, "eu-west-1"),
        use("AIDA1", "sts", "AssumeRole", T),  # not allowed any more: not listed
    ]
    entries = service_entries(allowed, uses, "SERVICE_LEVEL")
    assert entries == [
        {
            "ServiceName": "AWS Identity and Access Management",
            "ServiceNamespace": "iam",
            "LastAuthenticated": T,
            "LastAuthenticatedEntity": "arn:aws:iam::1:user/AIDA2",
            "LastAuthenticatedRegion": "eu-west-1",
            "TotalAuthenticatedEntities": 2,
        },
        {
            "ServiceName": "Amazon Simple Storage Service",
            "ServiceNamespace": "s3",
            "TotalAuthenticatedEntities": 0,
        },
    ]
    detailed = service_entries(allowed, uses, "ACTION_LEVEL")
    tracked = {a["ActionName"]: a for a in detailed[0]["TrackedActionsLastAccessed"]}
    assert tracked["GetUser"]["LastAccessedTime"] == T - timedelta(hours=1)
    assert tracked["GetGroup"]["LastAccessedEntity"] == "arn:aws:iam::1:user/AIDA2"
    assert "LastAccessedTime" not in tracked["GetRole"]
    assert all(name.startswith("Get") for name in tracked)
    assert detailed[1]["TrackedActionsLastAccessed"] == [{"ActionName": "GetObject"}]


def test_entity_details() -> None:
    entities = [
        Entity("USER", "AIDA1", "zed", "/", "arn:aws:iam::1:user/zed"),
        Entity("USER", "AIDA2", "amy", "/", "arn:aws:iam::1:user/amy"),
        Entity("ROLE", "AROA3", "bot", "/svc/", "arn:aws:iam::1:role/svc/bot"),
    ]
    uses = [use("AIDA1", "iam", "GetUser", T), use("AROA3", "iam", "ListUsers", T - timedelta(days=1))]
    rows = entity_details(entities, uses, "iam")
    assert [r["EntityInfo"]["Name"] for r in rows] == ["zed", "bot", "amy"]
    assert rows[0]["LastAuthenticated"] == T
    assert rows[1]["EntityInfo"] == {
        "Arn": "arn:aws:iam::1:role/svc/bot",
        "Name": "bot",
        "Type": "ROLE",
        "Id": "AROA3",
        "Path": "/svc/",
    }
    assert "LastAuthenticated" not in rows[2]


def test_service_names() -> None:
    assert service_name("iam") == "AWS Identity and Access Management"
    assert service_name("sts") == "AWS Security Token Service"
    assert service_name("cloudtrail")
    assert service_name("no-such-service") == "no-such-service"
