"""The Organizations access report's computation: one entry per allowed service, the latest use
by any account under the path (its time, region and the account's entity path), the number of
accounts that used it, and the report's sort orders."""

from __future__ import annotations

from datetime import UTC, datetime

from iamd.services.iam.organizations_access import access_details, sorted_details
from iamd.store.audit import LastAccessedRecord

T1 = datetime(2026, 1, 1, tzinfo=UTC)
T2 = datetime(2026, 2, 1, tzinfo=UTC)
PATHS = {"111111111111": "o-x/r-x/111111111111", "222222222222": "o-x/r-x/ou-x-1/222222222222"}


def use(entity: str, service: str, at: datetime, region: str = "us-east-1") -> LastAccessedRecord:
    return LastAccessedRecord(entity, f"arn:aws:iam::x:role/{entity}", service, "Act", at, region)


def test_latest_use_and_accounts_counted() -> None:
    uses = [
        ("111111111111", use("a", "iam", T1)),
        ("222222222222", use("b", "iam", T2, "eu-west-1")),
        ("222222222222", use("c", "iam", T1)),
        ("222222222222", use("b", "ec2", T2)),  # not allowed: not listed
        ("333333333333", use("z", "sts", T2)),  # not under the path: not counted
    ]
    details = access_details({"iam", "sts"}, uses, PATHS)
    assert [d["ServiceNamespace"] for d in details] == ["iam", "sts"]
    iam, sts = details
    assert iam["LastAuthenticatedTime"] == T2 and iam["Region"] == "eu-west-1"
    assert iam["EntityPath"] == PATHS["222222222222"]
    assert iam["TotalAuthenticatedEntities"] == 2
    assert sts == {
        "ServiceName": "AWS Security Token Service",
        "ServiceNamespace": "sts",
        "TotalAuthenticatedEntities": 0,
    }


def test_sort_orders_put_services_never_used_last() -> None:
    details = access_details(
        {"iam", "sts", "s3"},
        [("111111111111", use("a", "iam", T1)), ("111111111111", use("a", "s3", T2))],
        PATHS,
    )
    names = lambda key: [d["ServiceNamespace"] for d in sorted_details(details, key)]  # noqa: E731
    assert names("SERVICE_NAMESPACE_ASCENDING") == ["iam", "s3", "sts"]
    assert names("SERVICE_NAMESPACE_DESCENDING") == ["sts", "s3", "iam"]
    assert names("LAST_AUTHENTICATED_TIME_ASCENDING") == ["iam", "s3", "sts"]
    assert names("LAST_AUTHENTICATED_TIME_DESCENDING") == ["s3", "iam", "sts"]
