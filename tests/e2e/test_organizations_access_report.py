"""The Organizations access report end to end, with boto3 against a real ``iamd serve``: an
organization with an OU holding a member account whose OrganizationAccountAccessRole calls IAM
and Organizations, and an idle member at the root; the management account generates reports for
the root, the OU, an account and an SCP, and reads them back.

Facts: IAM API reference, GenerateOrganizationsAccessReport and GetOrganizationsAccessReport
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_GenerateOrganizationsAccessReport.html):
only the management account, with SCPs enabled; the services listed are those the SCPs applying
to the entity allow (or the given SCP allows); each with the last access by account principals
under the entity, and TotalAuthenticatedEntities the number of accounts that used it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.e2e.harness import ACCOUNT_ID, Server, start_server, stop_server
from tests.e2e.test_organizations import assume, create_account


@dataclass
class Setup:
    org_id: str
    root: str
    ou: str
    dev: str
    idle: str
    scp: str
    member_iam: Any


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("iamd-org-report") / "data")
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def iam(server: Server) -> Any:
    return server.client("iam")


@pytest.fixture(scope="module")
def setup(server: Server) -> Setup:
    orgs = server.client("organizations")
    org_id = orgs.create_organization()["Organization"]["Id"]
    root = orgs.list_roots()["Roots"][0]["Id"]
    ou = orgs.create_organizational_unit(ParentId=root, Name="Workloads")["OrganizationalUnit"]["Id"]
    dev = create_account(orgs, "dev", "dev@example.com")
    idle = create_account(orgs, "idle", "idle@example.com")
    orgs.move_account(AccountId=dev, SourceParentId=root, DestinationParentId=ou)
    scp = orgs.create_policy(
        Name="IamAndOrgsOnly",
        Description="allow list",
        Type="SERVICE_CONTROL_POLICY",
        Content=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": ["iam:*", "organizations:*"], "Resource": "*"}],
            }
        ),
    )["Policy"]["PolicySummary"]["Id"]
    orgs.attach_policy(PolicyId=scp, TargetId=ou)
    creds = assume(server, f"arn:aws:iam::{dev}:role/OrganizationAccountAccessRole")
    member_iam = server.client("iam", creds["key_id"], creds["secret"], creds["token"])
    member_iam.list_users()
    server.client("organizations", creds["key_id"], creds["secret"], creds["token"]).describe_organization()
    return Setup(org_id, root, ou, dev, idle, scp, member_iam)


def report(iam: Any, path: str, **extra: Any) -> dict[str, Any]:
    job = iam.generate_organizations_access_report(EntityPath=path, **extra)["JobId"]
    answer: dict[str, Any] = iam.get_organizations_access_report(JobId=job, MaxItems=1000)
    assert answer["JobStatus"] == "COMPLETED"
    return answer


def by_namespace(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["ServiceNamespace"]: d for d in answer["AccessDetails"]}


def test_report_for_an_ou_lists_the_services_its_accounts_used(iam: Any, setup: Setup) -> None:
    answer = report(iam, f"{setup.org_id}/{setup.root}/{setup.ou}")
    details = by_namespace(answer)
    dev_path = f"{setup.org_id}/{setup.root}/{setup.ou}/{setup.dev}"
    for used in ("iam", "organizations"):
        assert details[used]["EntityPath"] == dev_path
        assert details[used]["TotalAuthenticatedEntities"] == 1
        assert details[used]["Region"] == "us-east-1"
        assert "LastAuthenticatedTime" in details[used]
    assert details["iam"]["ServiceName"] == "AWS Identity and Access Management"
    # FullAWSAccess applies to the OU too, so every service is listed; unused ones have no time.
    assert "ec2" in details and "LastAuthenticatedTime" not in details["ec2"]
    assert details["ec2"]["TotalAuthenticatedEntities"] == 0
    assert answer["NumberOfServicesAccessible"] == len(details) > 100
    assert answer["NumberOfServicesNotAccessed"] == len(details) - sum(
        1 for d in details.values() if "LastAuthenticatedTime" in d
    )


def test_report_for_one_scp_lists_only_the_services_it_allows(iam: Any, setup: Setup) -> None:
    answer = report(iam, f"{setup.org_id}/{setup.root}", OrganizationsPolicyId=setup.scp)
    assert [d["ServiceNamespace"] for d in answer["AccessDetails"]] == ["iam", "organizations"]
    assert answer["NumberOfServicesAccessible"] == 2
    assert answer["NumberOfServicesNotAccessed"] == 0
    assert answer["IsTruncated"] is False


def test_report_for_an_idle_account_shows_nothing_accessed(iam: Any, setup: Setup) -> None:
    answer = report(iam, f"{setup.org_id}/{setup.root}/{setup.idle}", OrganizationsPolicyId=setup.scp)
    assert [d.get("LastAuthenticatedTime") for d in answer["AccessDetails"]] == [None, None]
    assert answer["NumberOfServicesNotAccessed"] == 2


def test_sorted_by_last_access_and_paged(iam: Any, setup: Setup) -> None:
    job = iam.generate_organizations_access_report(EntityPath=f"{setup.org_id}/{setup.root}/")["JobId"]
    pages, marker = [], None
    while True:
        more = {"Marker": marker} if marker else {}
        answer = iam.get_organizations_access_report(
            JobId=job, SortKey="LAST_AUTHENTICATED_TIME_DESCENDING", MaxItems=100, **more
        )
        pages.append(answer["AccessDetails"])
        if not answer["IsTruncated"]:
            break
        marker = answer["Marker"]
    assert len(pages) > 1
    details = [d for page in pages for d in page]
    used = [d for d in details if "LastAuthenticatedTime" in d]
    assert details[: len(used)] == used  # accessed services first, the latest first
    times = [d["LastAuthenticatedTime"] for d in used]
    assert times == sorted(times, reverse=True)
    paths = {d["ServiceNamespace"]: d["EntityPath"] for d in used}
    # Under the root: the member's calls and the management account's own (it assumed the role).
    assert paths["sts"] == f"{setup.org_id}/{setup.root}/{ACCOUNT_ID}"
    assert {"iam", "organizations", "sts"} <= set(paths)
    assert len(details) == answer["NumberOfServicesAccessible"]


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def test_bad_paths_and_policies_are_refused_saying_why(iam: Any, setup: Setup) -> None:
    cases = [
        ("o-aaaaaaaaaa/r-aaaa", {}, "must start with"),
        (f"{setup.org_id}/{setup.root}/ou-zzzz-zzzzzzzz", {}, "is not an organizational unit under"),
        (f"{setup.org_id}/{setup.root}/{setup.dev}", {}, "is not a member directly under"),
        (
            f"{setup.org_id}/{setup.root}",
            {"OrganizationsPolicyId": "p-FullAWSAccesz"},
            "not a service control",
        ),
    ]
    for path, extra, why in cases:
        with pytest.raises(ClientError) as refused:
            iam.generate_organizations_access_report(EntityPath=path, **extra)
        code, message = error_of(refused)
        assert code == "InvalidInput" and why in message, (path, message)


def test_only_the_management_account_generates_reports(setup: Setup) -> None:
    with pytest.raises(ClientError) as refused:
        setup.member_iam.generate_organizations_access_report(EntityPath=f"{setup.org_id}/{setup.root}")
    code, message = error_of(refused)
    assert code == "InvalidInput" and "is not the management account" in message


def test_jobs_are_not_shared_with_last_accessed_jobs(iam: Any, setup: Setup) -> None:
    job = iam.generate_organizations_access_report(EntityPath=f"{setup.org_id}/{setup.root}")["JobId"]
    with pytest.raises(ClientError) as missing:
        iam.get_service_last_accessed_details(JobId=job)
    assert error_of(missing)[0] == "NoSuchEntity"
    iam.create_user(UserName="reporter")
    other = iam.generate_service_last_accessed_details(Arn=f"arn:aws:iam::{ACCOUNT_ID}:user/reporter")[
        "JobId"
    ]
    with pytest.raises(ClientError) as not_a_report:
        iam.get_organizations_access_report(JobId=other)
    assert error_of(not_a_report)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as unknown:
        iam.get_organizations_access_report(JobId="1" * 36)
    assert error_of(unknown)[0] == "NoSuchEntity"
