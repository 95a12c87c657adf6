"""Unused access end to end: roles, users, passwords and access keys made on one day; two days
later (``iamd serve --clock-offset``) an ACCOUNT_UNUSED_ACCESS analyzer with ``unusedAccessAge`` 1
reports the idle role, the never-used password and key, and the permissions never used (action
level for IAM), not what was used that day nor what its exclusions name; recommendations narrow
or detach the policies; a deleted key's finding is RESOLVED on the next read.

Facts: shared/spec/access_analyzer_api.md §3, unused_access_and_policy_generation.md §2."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from unittest import mock

import botocore.auth
import pytest
from botocore.exceptions import ClientError
from botocore.utils import get_current_datetime
from tests.e2e.harness import ACCOUNT_ID, Server, start_server, stop_server
from tests.e2e.policy_helpers import error_of

OFFSET = timedelta(days=2)


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


SAME_ACCOUNT = doc(
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "Action": "sts:AssumeRole"}
)


def arn(kind: str, name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT_ID}:{kind}/{name}"


@pytest.fixture(scope="module")
def later(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Day 0: the entities. Day 2: the same data, served with the clock two days ahead (clients
    sign as of the server's clock)."""
    data = tmp_path_factory.mktemp("iamd-unused") / "data"
    first = start_server(data)
    try:
        iam = first.client("iam")
        iam.create_role(RoleName="idle-role", AssumeRolePolicyDocument=SAME_ACCOUNT)
        iam.create_role(RoleName="busy-role", AssumeRolePolicyDocument=SAME_ACCOUNT)
        iam.put_role_policy(
            RoleName="busy-role",
            PolicyName="busy",
            PolicyDocument=doc(
                {"Effect": "Allow", "Action": ["iam:ListUsers", "iam:GetRole"], "Resource": "*"}
            ),
        )
        iam.create_user(UserName="idle-user")
        iam.create_login_profile(UserName="idle-user", Password="Correct-Horse-Battery-9")
        iam.create_access_key(UserName="idle-user")
        iam.put_user_policy(
            UserName="idle-user",
            PolicyName="idle",
            PolicyDocument=doc({"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}),
        )
        iam.create_user(UserName="ops-user", Tags=[{"Key": "team", "Value": "ops"}])
        iam.create_access_key(UserName="ops-user")
    finally:
        stop_server(first)
    running = start_server(data, "--clock-offset", str(OFFSET.total_seconds()))
    clock = mock.patch.object(
        botocore.auth, "get_current_datetime", lambda **kw: get_current_datetime(**kw) + OFFSET
    )
    clock.start()
    try:
        yield running
    finally:
        clock.stop()
        stop_server(running)


@pytest.fixture(scope="module")
def aa(later: Server) -> Any:
    return later.client("accessanalyzer")


@pytest.fixture(scope="module")
def analyzer(later: Server, aa: Any) -> str:
    credentials = later.client("sts").assume_role(RoleArn=arn("role", "busy-role"), RoleSessionName="busy")[
        "Credentials"
    ]
    later.client(
        "iam", credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"]
    ).list_users()
    created: str = aa.create_analyzer(
        analyzerName="unused",
        type="ACCOUNT_UNUSED_ACCESS",
        configuration={
            "unusedAccess": {
                "unusedAccessAge": 1,
                "analysisRule": {"exclusions": [{"resourceTags": [{"team": ""}]}]},
            }
        },
    )["arn"]
    return created


def by_resource(aa: Any, analyzer: str, status: str = "ACTIVE") -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for finding in aa.list_findings_v2(analyzerArn=analyzer, filter={"status": {"eq": [status]}})["findings"]:
        found.setdefault(finding["resource"], {})[finding["findingType"]] = finding["id"]
    return found


def test_unused_roles_passwords_keys_and_permissions(aa: Any, analyzer: str) -> None:
    found = by_resource(aa, analyzer)
    assert set(found[arn("role", "idle-role")]) == {"UnusedIAMRole"}
    assert set(found[arn("role", "busy-role")]) == {"UnusedPermission"}
    assert set(found[arn("user", "idle-user")]) == {
        "UnusedIAMUserPassword",
        "UnusedIAMUserAccessKey",
        "UnusedPermission",
    }
    assert arn("user", "ops-user") not in found  # excluded by its tag

    busy = aa.get_finding_v2(analyzerArn=analyzer, id=found[arn("role", "busy-role")]["UnusedPermission"])
    assert busy["resourceType"] == "AWS::IAM::Role"
    [detail] = busy["findingDetails"]
    permission = detail["unusedPermissionDetails"]
    assert permission["serviceNamespace"] == "iam"
    assert [a["action"] for a in permission["actions"]] == ["iam:GetRole"]  # ListUsers was used
    assert "lastAccessed" in permission

    key = aa.get_finding_v2(
        analyzerArn=analyzer, id=found[arn("user", "idle-user")]["UnusedIAMUserAccessKey"]
    )
    [key_detail] = key["findingDetails"]
    assert key_detail["unusedIamUserAccessKeyDetails"]["accessKeyId"].startswith("AKIA")
    role = aa.get_finding_v2(analyzerArn=analyzer, id=found[arn("role", "idle-role")]["UnusedIAMRole"])
    assert role["findingDetails"] == [{"unusedIamRoleDetails": {}}]

    stats = aa.get_findings_statistics(analyzerArn=analyzer)["findingsStatistics"][0]
    unused = stats["unusedAccessFindingsStatistics"]
    totals = {s["unusedAccessType"]: s["total"] for s in unused["unusedAccessTypeStatistics"]}
    assert totals["UnusedIAMRole"] >= 1 and totals["UnusedIAMUserAccessKey"] >= 1
    assert unused["topAccounts"][0]["account"] == ACCOUNT_ID

    with pytest.raises(ClientError) as exc:  # V1 calls are for external access analyzers
        aa.list_findings(analyzerArn=analyzer)
    assert error_of(exc)[:2] == (400, "ValidationException")


def test_recommendations_narrow_or_detach(aa: Any, analyzer: str) -> None:
    found = by_resource(aa, analyzer)
    busy = found[arn("role", "busy-role")]["UnusedPermission"]
    aa.generate_finding_recommendation(analyzerArn=analyzer, id=busy)
    got = aa.get_finding_recommendation(analyzerArn=analyzer, id=busy)
    assert (got["status"], got["recommendationType"]) == ("SUCCEEDED", "UnusedPermissionRecommendation")
    assert got["resourceArn"] == arn("role", "busy-role")
    [step] = [s["unusedPermissionsRecommendedStep"] for s in got["recommendedSteps"]]
    assert step["recommendedAction"] == "CREATE_POLICY"
    assert step["existingPolicyId"] == "busy"
    assert json.loads(step["recommendedPolicy"])["Statement"][0]["Action"] == "iam:ListUsers"

    idle = found[arn("user", "idle-user")]["UnusedPermission"]
    aa.generate_finding_recommendation(analyzerArn=analyzer, id=idle)
    [idle_step] = aa.get_finding_recommendation(analyzerArn=analyzer, id=idle)["recommendedSteps"]
    assert idle_step["unusedPermissionsRecommendedStep"] == {
        "recommendedAction": "DETACH_POLICY",
        "existingPolicyId": "idle",
    }

    with pytest.raises(ClientError) as exc:  # roles, keys, passwords: delete them, no policy to write
        aa.generate_finding_recommendation(
            analyzerArn=analyzer, id=found[arn("role", "idle-role")]["UnusedIAMRole"]
        )
    assert error_of(exc)[:2] == (400, "ValidationException")


def test_a_removed_key_resolves_its_finding(later: Server, aa: Any, analyzer: str) -> None:
    iam = later.client("iam")
    finding = by_resource(aa, analyzer)[arn("user", "idle-user")]["UnusedIAMUserAccessKey"]
    for key in iam.list_access_keys(UserName="idle-user")["AccessKeyMetadata"]:
        iam.delete_access_key(UserName="idle-user", AccessKeyId=key["AccessKeyId"])
    assert aa.get_finding_v2(analyzerArn=analyzer, id=finding)["status"] == "RESOLVED"
    assert "UnusedIAMUserAccessKey" not in by_resource(aa, analyzer)[arn("user", "idle-user")]
