"""IAM Access Analyzer end to end through boto3's ``accessanalyzer`` client against a real
``iamd serve``: analyzers (CRUD, quotas, tags, organization types outside an organization),
external access findings on role trust policies that appear when a role is opened to another
account and turn RESOLVED as soon as the policy is fixed, archive rules, UpdateFindings, V2 shapes,
statistics, analyzed resources, and the operations iamd answers UnsupportedOperation.

Facts: shared/spec/access_analyzer_api.md §1–2, §7 (botocore's model, AWS CLI examples)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.e2e.harness import ACCOUNT_ID, Server
from tests.e2e.policy_helpers import error_of

OTHER = "444455556666"
THIRD = "777788889999"


def trust(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow_assume(principal: Any, action: str = "sts:AssumeRole", **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": action}
    if condition:
        statement["Condition"] = condition
    return statement


SAME_ACCOUNT = trust(allow_assume({"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}))


@pytest.fixture(scope="module")
def aa(server: Server) -> Any:
    return server.client("accessanalyzer")


@pytest.fixture(scope="module")
def analyzer(aa: Any) -> str:
    arn: str = aa.create_analyzer(
        analyzerName="external",
        type="ACCOUNT",
        tags={"team": "security"},
        archiveRules=[{"ruleName": "trusted-partner", "filter": {"principal.AWS": {"eq": [THIRD]}}}],
    )["arn"]
    return arn


def findings_for(aa: Any, analyzer: str, role_arn: str, status: str | None = None) -> list[dict[str, Any]]:
    criteria: dict[str, Any] = {"resource": {"eq": [role_arn]}}
    if status:
        criteria["status"] = {"eq": [status]}
    return list(aa.list_findings(analyzerArn=analyzer, filter=criteria)["findings"])


def test_analyzer_lifecycle_and_errors(aa: Any, analyzer: str) -> None:
    assert analyzer == f"arn:aws:access-analyzer:us-east-1:{ACCOUNT_ID}:analyzer/external"
    got = aa.get_analyzer(analyzerName="external")["analyzer"]
    assert (got["arn"], got["type"], got["status"], got["tags"]) == (
        analyzer,
        "ACCOUNT",
        "ACTIVE",
        {"team": "security"},
    )
    listed = aa.list_analyzers(type="ACCOUNT")["analyzers"]
    assert [a["name"] for a in listed] == ["external"]
    assert aa.list_analyzers(type="ACCOUNT_UNUSED_ACCESS")["analyzers"] == []
    rules = aa.list_archive_rules(analyzerName="external")["archiveRules"]
    assert [(r["ruleName"], r["filter"]) for r in rules] == [
        ("trusted-partner", {"principal.AWS": {"eq": [THIRD]}})
    ]

    with pytest.raises(ClientError) as exc:
        aa.create_analyzer(analyzerName="external", type="ACCOUNT")
    assert error_of(exc)[:2] == (409, "ConflictException")
    with pytest.raises(ClientError) as exc:  # one account analyzer per type and Region
        aa.create_analyzer(analyzerName="second", type="ACCOUNT")
    assert error_of(exc)[:2] == (402, "ServiceQuotaExceededException")
    with pytest.raises(ClientError) as exc:  # the account is in no organization
        aa.create_analyzer(analyzerName="org", type="ORGANIZATION")
    assert error_of(exc) == (400, "ValidationException", "Service not enabled for AWS Organizations")
    with pytest.raises(ClientError) as exc:
        aa.create_analyzer(analyzerName="9bad name", type="ACCOUNT_UNUSED_ACCESS")
    assert error_of(exc)[:2] == (400, "ValidationException")
    with pytest.raises(ClientError) as exc:
        aa.get_analyzer(analyzerName="nope")
    assert error_of(exc)[:2] == (404, "ResourceNotFoundException")
    with pytest.raises(ClientError) as exc:
        aa.update_analyzer(analyzerName="external", configuration={"unusedAccess": {"unusedAccessAge": 30}})
    assert error_of(exc)[:2] == (400, "ValidationException")


def test_tags(aa: Any, analyzer: str) -> None:
    aa.tag_resource(resourceArn=analyzer, tags={"env": "prod"})
    assert aa.list_tags_for_resource(resourceArn=analyzer)["tags"] == {"team": "security", "env": "prod"}
    aa.untag_resource(resourceArn=analyzer, tagKeys=["team"])
    assert aa.list_tags_for_resource(resourceArn=analyzer)["tags"] == {"env": "prod"}
    with pytest.raises(ClientError) as exc:
        aa.tag_resource(resourceArn=analyzer, tags={"aws:reserved": "x"})
    assert error_of(exc)[:2] == (400, "ValidationException")


def test_unused_analyzer_create_update_delete(aa: Any) -> None:
    aa.create_analyzer(
        analyzerName="unused-tmp",
        type="ACCOUNT_UNUSED_ACCESS",
        configuration={
            "unusedAccess": {
                "unusedAccessAge": 45,
                "analysisRule": {"exclusions": [{"resourceTags": [{"team": "ops"}]}]},
            }
        },
    )
    config = aa.get_analyzer(analyzerName="unused-tmp")["analyzer"]["configuration"]["unusedAccess"]
    assert config["unusedAccessAge"] == 45
    assert config["analysisRule"] == {"exclusions": [{"resourceTags": [{"team": "ops"}]}]}
    updated = aa.update_analyzer(
        analyzerName="unused-tmp", configuration={"unusedAccess": {"unusedAccessAge": 120}}
    )
    assert updated["configuration"]["unusedAccess"]["unusedAccessAge"] == 120
    with pytest.raises(ClientError) as exc:
        aa.update_analyzer(
            analyzerName="unused-tmp", configuration={"unusedAccess": {"unusedAccessAge": 400}}
        )
    assert error_of(exc)[:2] == (400, "ValidationException")
    with pytest.raises(ClientError) as exc:  # accountIds exclusions are for organization analyzers
        aa.create_analyzer(
            analyzerName="unused-bad",
            type="ACCOUNT_UNUSED_ACCESS",
            configuration={"unusedAccess": {"analysisRule": {"exclusions": [{"accountIds": [OTHER]}]}}},
        )
    assert error_of(exc)[:2] == (400, "ValidationException")
    aa.delete_analyzer(analyzerName="unused-tmp")
    with pytest.raises(ClientError) as exc:
        aa.get_analyzer(analyzerName="unused-tmp")
    assert error_of(exc)[:2] == (404, "ResourceNotFoundException")


def test_a_role_opened_to_another_account_has_a_finding_until_fixed(iam: Any, aa: Any, analyzer: str) -> None:
    role = iam.create_role(RoleName="shared", AssumeRolePolicyDocument=trust(allow_assume({"AWS": OTHER})))[
        "Role"
    ]
    found = findings_for(aa, analyzer, role["Arn"])
    assert len(found) == 1
    finding = found[0]
    assert finding["status"] == "ACTIVE"
    assert finding["principal"] == {"AWS": OTHER}
    assert finding["action"] == ["sts:AssumeRole"]
    assert finding["condition"] == {}
    assert finding["isPublic"] is False
    assert (finding["resourceType"], finding["resourceOwnerAccount"]) == ("AWS::IAM::Role", ACCOUNT_ID)
    assert aa.get_finding(analyzerArn=analyzer, id=finding["id"])["finding"]["principal"] == {"AWS": OTHER}

    # Fixed: the very next read shows it RESOLVED, no scan to wait for.
    iam.update_assume_role_policy(RoleName="shared", PolicyDocument=SAME_ACCOUNT)
    after = aa.get_finding(analyzerArn=analyzer, id=finding["id"])["finding"]
    assert after["status"] == "RESOLVED"
    assert after["updatedAt"] >= finding["updatedAt"]
    assert findings_for(aa, analyzer, role["Arn"], "ACTIVE") == []

    # Opened again, to another principal: a new finding, the old one stays resolved.
    iam.update_assume_role_policy(
        RoleName="shared",
        PolicyDocument=trust(allow_assume({"AWS": f"arn:aws:iam::{OTHER}:role/deployer"})),
    )
    active = findings_for(aa, analyzer, role["Arn"], "ACTIVE")
    assert [f["principal"] for f in active] == [{"AWS": f"arn:aws:iam::{OTHER}:role/deployer"}]
    assert active[0]["id"] != finding["id"]


def test_what_is_external_and_what_is_public(iam: Any, aa: Any, analyzer: str) -> None:
    cases = {
        "public-role": (trust(allow_assume({"AWS": "*"})), [({"AWS": "*"}, {}, True)]),
        "pinned-by-account": (
            trust(allow_assume("*", **{"StringEquals": {"aws:PrincipalAccount": OTHER}})),
            [({"AWS": OTHER}, {}, False)],
        ),
        "google-pinned": (
            trust(
                allow_assume(
                    {"Federated": "accounts.google.com"},
                    "sts:AssumeRoleWithWebIdentity",
                    StringEquals={"accounts.google.com:aud": "my-app.apps.googleusercontent.com"},
                )
            ),
            [
                (
                    {"Federated": "accounts.google.com"},
                    {"accounts.google.com:aud": "my-app.apps.googleusercontent.com"},
                    False,
                )
            ],
        ),
        "google-open": (
            trust(allow_assume({"Federated": "accounts.google.com"}, "sts:AssumeRoleWithWebIdentity")),
            [({"Federated": "accounts.google.com"}, {}, True)],
        ),
        "service-only": (trust(allow_assume({"Service": "lambda.amazonaws.com"})), []),
        "same-account": (SAME_ACCOUNT, []),
        # sts:ExternalId is the caller's to choose: it narrows nothing.
        "external-id": (
            trust(allow_assume({"AWS": OTHER}, StringEquals={"sts:ExternalId": "secret"})),
            [({"AWS": OTHER}, {}, False)],
        ),
    }
    for name, (policy, _) in cases.items():
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=policy)
    for name, (_, expected) in cases.items():
        arn = f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"
        got = [(f["principal"], f["condition"], f["isPublic"]) for f in findings_for(aa, analyzer, arn)]
        assert got == expected, name


def test_archive_rules_and_update_findings(iam: Any, aa: Any, analyzer: str) -> None:
    # The analyzer's inline rule archives new findings for THIRD.
    iam.create_role(RoleName="partner", AssumeRolePolicyDocument=trust(allow_assume({"AWS": THIRD})))
    arn = f"arn:aws:iam::{ACCOUNT_ID}:role/partner"
    assert [f["status"] for f in findings_for(aa, analyzer, arn)] == ["ARCHIVED"]

    iam.create_role(RoleName="vendor", AssumeRolePolicyDocument=trust(allow_assume({"AWS": "111122223333"})))
    vendor = f"arn:aws:iam::{ACCOUNT_ID}:role/vendor"
    [finding] = findings_for(aa, analyzer, vendor)
    assert finding["status"] == "ACTIVE"
    # A new rule does not touch existing findings until applied.
    aa.create_archive_rule(
        analyzerName="external", ruleName="vendor", filter={"principal.AWS": {"eq": ["111122223333"]}}
    )
    assert findings_for(aa, analyzer, vendor)[0]["status"] == "ACTIVE"
    aa.apply_archive_rule(analyzerArn=analyzer, ruleName="vendor")
    assert findings_for(aa, analyzer, vendor)[0]["status"] == "ARCHIVED"
    rule = aa.get_archive_rule(analyzerName="external", ruleName="vendor")["archiveRule"]
    assert rule["filter"] == {"principal.AWS": {"eq": ["111122223333"]}}
    aa.update_archive_rule(analyzerName="external", ruleName="vendor", filter={"isPublic": {"eq": ["true"]}})
    assert aa.get_archive_rule(analyzerName="external", ruleName="vendor")["archiveRule"]["filter"] == {
        "isPublic": {"eq": ["true"]}
    }
    aa.delete_archive_rule(analyzerName="external", ruleName="vendor")
    with pytest.raises(ClientError) as exc:
        aa.get_archive_rule(analyzerName="external", ruleName="vendor")
    assert error_of(exc)[:2] == (404, "ResourceNotFoundException")

    aa.update_findings(analyzerArn=analyzer, status="ACTIVE", ids=[finding["id"]])
    assert findings_for(aa, analyzer, vendor)[0]["status"] == "ACTIVE"
    aa.update_findings(analyzerArn=analyzer, status="ARCHIVED", resourceArn=vendor)
    assert findings_for(aa, analyzer, vendor)[0]["status"] == "ARCHIVED"
    with pytest.raises(ClientError) as exc:
        aa.update_findings(analyzerArn=analyzer, status="RESOLVED", ids=[finding["id"]])
    assert error_of(exc)[:2] == (400, "ValidationException")
    with pytest.raises(ClientError) as exc:
        aa.update_findings(
            analyzerArn=analyzer, status="ACTIVE", ids=["00000000-0000-0000-0000-000000000000"]
        )
    assert error_of(exc)[:2] == (404, "ResourceNotFoundException")


def test_v2_shapes_statistics_and_analyzed_resources(iam: Any, aa: Any, analyzer: str) -> None:
    iam.create_role(RoleName="v2-role", AssumeRolePolicyDocument=trust(allow_assume({"AWS": OTHER})))
    arn = f"arn:aws:iam::{ACCOUNT_ID}:role/v2-role"
    summaries = aa.list_findings_v2(analyzerArn=analyzer, filter={"resource": {"eq": [arn]}})["findings"]
    assert [(s["findingType"], s["status"]) for s in summaries] == [("ExternalAccess", "ACTIVE")]
    got = aa.get_finding_v2(analyzerArn=analyzer, id=summaries[0]["id"])
    [details] = got["findingDetails"]
    assert details["externalAccessDetails"]["principal"] == {"AWS": OTHER}
    assert details["externalAccessDetails"]["action"] == ["sts:AssumeRole"]

    stats = aa.get_findings_statistics(analyzerArn=analyzer)["findingsStatistics"][0]
    external = stats["externalAccessFindingsStatistics"]
    listed = aa.list_findings(analyzerArn=analyzer, maxResults=1000)["findings"]
    for status, key in (
        ("ACTIVE", "totalActiveFindings"),
        ("ARCHIVED", "totalArchivedFindings"),
        ("RESOLVED", "totalResolvedFindings"),
    ):
        assert external[key] == sum(f["status"] == status for f in listed)
    role_stats = external["resourceTypeStatistics"]["AWS::IAM::Role"]
    active = [f for f in listed if f["status"] == "ACTIVE"]
    assert role_stats["totalActivePublic"] == sum(f["isPublic"] for f in active) >= 1
    assert role_stats["totalActiveCrossAccount"] == sum(not f["isPublic"] for f in active) >= 1

    # Pagination and sorting.
    first = aa.list_findings(
        analyzerArn=analyzer, maxResults=2, sort={"attributeName": "createdAt", "orderBy": "ASC"}
    )
    assert len(first["findings"]) == 2 and "nextToken" in first
    rest = aa.list_findings(
        analyzerArn=analyzer,
        nextToken=first["nextToken"],
        sort={"attributeName": "createdAt", "orderBy": "ASC"},
    )
    assert len(first["findings"]) + len(rest["findings"]) == len(listed)

    resources = aa.list_analyzed_resources(analyzerArn=analyzer, resourceType="AWS::IAM::Role")[
        "analyzedResources"
    ]
    assert {
        "resourceArn": arn,
        "resourceOwnerAccount": ACCOUNT_ID,
        "resourceType": "AWS::IAM::Role",
    } in resources
    resource = aa.get_analyzed_resource(analyzerArn=analyzer, resourceArn=arn)["resource"]
    assert (resource["isPublic"], resource["actions"], resource["status"]) == (
        False,
        ["sts:AssumeRole"],
        "ACTIVE",
    )
    aa.start_resource_scan(analyzerArn=analyzer, resourceArn=arn)
    assert aa.get_analyzer(analyzerName="external")["analyzer"]["lastResourceAnalyzed"] == arn
    with pytest.raises(ClientError) as exc:
        aa.start_resource_scan(analyzerArn=analyzer, resourceArn=f"arn:aws:iam::{ACCOUNT_ID}:role/none")
    assert error_of(exc)[:2] == (404, "ResourceNotFoundException")


def test_operations_that_make_no_sense_here_say_why(aa: Any, analyzer: str) -> None:
    with pytest.raises(ClientError) as exc:
        aa.create_access_preview(
            analyzerArn=analyzer, configurations={"arn:aws:s3:::bucket": {"s3Bucket": {"bucketPolicy": "{}"}}}
        )
    status, code, message = error_of(exc)
    assert (status, code) == (400, "UnsupportedOperationException")
    assert "CreateAccessPreview" in message and "iamd does not hold" in message
    with pytest.raises(ClientError) as exc:
        aa.create_service_linked_analyzer(type="ACCOUNT_UNUSED_ACCESS")
    assert error_of(exc)[:2] == (403, "AccessDeniedException")


def test_a_caller_without_permission_is_denied(server: Server, iam: Any, aa: Any, analyzer: str) -> None:
    iam.create_user(UserName="aa-nobody")
    key = iam.create_access_key(UserName="aa-nobody")["AccessKey"]
    nobody = server.client("accessanalyzer", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as exc:
        nobody.list_findings(analyzerArn=analyzer)
    assert error_of(exc)[:2] == (403, "AccessDeniedException")


def test_a_deleted_role_resolves_its_finding_and_the_cli_reads_it(
    server: Server, iam: Any, analyzer: str
) -> None:
    iam.create_role(RoleName="short-lived", AssumeRolePolicyDocument=trust(allow_assume({"AWS": OTHER})))
    role_arn = f"arn:aws:iam::{ACCOUNT_ID}:role/short-lived"
    criteria = json.dumps({"resource": {"eq": [role_arn]}})
    listed = server.cli("accessanalyzer", "list-findings", "--analyzer-arn", analyzer, "--filter", criteria)
    assert listed.returncode == 0, listed.stderr
    [finding] = json.loads(listed.stdout)["findings"]
    assert (finding["status"], finding["principal"]) == ("ACTIVE", {"AWS": OTHER})
    iam.delete_role(RoleName="short-lived")
    got = server.cli("accessanalyzer", "get-finding", "--analyzer-arn", analyzer, "--id", finding["id"])
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["finding"]["status"] == "RESOLVED"


def test_the_finding_is_made_when_the_policy_changes_not_when_read(iam: Any, aa: Any, analyzer: str) -> None:
    """Opened and closed again before anyone looks: the analyzer still saw it (one finding, now
    RESOLVED), as AWS's analyzer, which reacts to each policy change, does."""
    iam.create_role(RoleName="briefly-open", AssumeRolePolicyDocument=trust(allow_assume({"AWS": OTHER})))
    iam.update_assume_role_policy(RoleName="briefly-open", PolicyDocument=SAME_ACCOUNT)
    found = findings_for(aa, analyzer, f"arn:aws:iam::{ACCOUNT_ID}:role/briefly-open")
    assert [(f["status"], f["principal"]) for f in found] == [("RESOLVED", {"AWS": OTHER})]
    assert found[0]["updatedAt"] >= found[0]["createdAt"]
