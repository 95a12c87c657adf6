"""AWS managed policies with their earlier versions, through boto3.

AWS documents that "when AWS makes changes to an AWS managed policy, the changed policy doesn't
overwrite the existing policy. Instead, IAM creates a new version of the managed policy" and that
the five-version limit is for customer managed policies (IAM User Guide, "Versioning IAM policies",
https://docs.aws.amazon.com/IAM/latest/UserGuide/policies-managed-versions.html). ListPolicyVersions
"lists information about the versions of the specified managed policy, including the version that
is currently set as the policy's default version" (API_ListPolicyVersions), and
GetAccountAuthorizationDetails's ManagedPolicyDetail.PolicyVersionList is "a list containing
information about the versions of the policy" (API_ManagedPolicyDetail), with Filter values
LocalManagedPolicy and AWSManagedPolicy (API_GetAccountAuthorizationDetails).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.e2e.harness import ACCOUNT_ID

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def all_versions(iam: Any, arn: str) -> list[dict[str, Any]]:
    versions: list[dict[str, Any]] = []
    for page in iam.get_paginator("list_policy_versions").paginate(PolicyArn=arn):
        versions.extend(page["Versions"])
    return versions


def number(version_id: str) -> int:
    return int(version_id[1:])


@pytest.fixture(scope="module")
def read_only_versions(iam: Any) -> list[dict[str, Any]]:
    return all_versions(iam, READ_ONLY)


def test_an_aws_managed_policy_lists_its_earlier_versions(
    iam: Any, read_only_versions: list[dict[str, Any]]
) -> None:
    policy = iam.get_policy(PolicyArn=READ_ONLY)["Policy"]
    ids = [v["VersionId"] for v in read_only_versions]
    assert len(ids) > 100  # ReadOnlyAccess has had well over a hundred versions
    assert len(set(ids)) == len(ids)
    assert [number(i) for i in ids] == sorted((number(i) for i in ids), reverse=True)  # newest first
    defaults = [v["VersionId"] for v in read_only_versions if v["IsDefaultVersion"]]
    assert defaults == [policy["DefaultVersionId"]] == [ids[0]]
    assert "v1" in ids
    assert all("Document" not in v for v in read_only_versions)  # ListPolicyVersions has no documents
    first = next(v for v in read_only_versions if v["VersionId"] == "v1")
    assert first["CreateDate"].year == 2015
    # The first page is MaxItems long and says there is more.
    page = iam.list_policy_versions(PolicyArn=READ_ONLY, MaxItems=10)
    assert page["IsTruncated"] is True and [v["VersionId"] for v in page["Versions"]] == ids[:10]


def test_get_policy_version_returns_an_earlier_document(iam: Any) -> None:
    policy = iam.get_policy(PolicyArn=READ_ONLY)["Policy"]
    old = iam.get_policy_version(PolicyArn=READ_ONLY, VersionId="v1")["PolicyVersion"]
    current = iam.get_policy_version(PolicyArn=READ_ONLY, VersionId=policy["DefaultVersionId"])[
        "PolicyVersion"
    ]
    assert old["IsDefaultVersion"] is False and current["IsDefaultVersion"] is True
    assert old["Document"]["Statement"] and old["Document"] != current["Document"]
    # ReadOnlyAccess grew over the years: its first version allowed far fewer actions.
    actions = lambda document: sum(  # noqa: E731
        len(s["Action"]) if isinstance(s["Action"], list) else 1
        for s in document["Statement"]
        if "Action" in s
    )
    assert actions(old["Document"]) < actions(current["Document"])
    # A version the policy never had is still NoSuchEntity.
    with pytest.raises(ClientError) as missing:
        iam.get_policy_version(PolicyArn=READ_ONLY, VersionId="v9999")
    assert missing.value.response["Error"]["Code"] == "NoSuchEntity"
    assert "v9999" in missing.value.response["Error"]["Message"]
    # The earlier versions are AWS's: they cannot be deleted or made the default.
    for call in (
        lambda: iam.delete_policy_version(PolicyArn=READ_ONLY, VersionId="v1"),
        lambda: iam.set_default_policy_version(PolicyArn=READ_ONLY, VersionId="v1"),
    ):
        with pytest.raises(ClientError) as refused:
            call()
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert (
        iam.get_policy_version(PolicyArn=READ_ONLY, VersionId="v1")["PolicyVersion"]["IsDefaultVersion"]
        is False
    )


def details(iam: Any, section: str) -> list[dict[str, Any]]:
    policies: list[dict[str, Any]] = []
    for page in iam.get_paginator("get_account_authorization_details").paginate(Filter=[section]):
        # The other three lists come too, empty, as AWS answers a filtered request (see
        # test_aws_shapes.py::test_authorization_details_with_a_filter_still_has_the_four_lists).
        assert page["UserDetailList"] == page["GroupDetailList"] == page["RoleDetailList"] == []
        policies.extend(page["Policies"])
    return policies


def test_authorization_details_list_aws_managed_policies_with_their_versions(
    iam: Any, read_only_versions: list[dict[str, Any]]
) -> None:
    iam.create_role(
        RoleName="auditor",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    iam.attach_role_policy(RoleName="auditor", PolicyArn=READ_ONLY)
    iam.create_policy(
        PolicyName="local-two-versions",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}],
            }
        ),
    )
    local_arn = f"arn:aws:iam::{ACCOUNT_ID}:policy/local-two-versions"
    iam.create_policy_version(
        PolicyArn=local_arn,
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
            }
        ),
        SetAsDefault=True,
    )

    aws = {p["Arn"]: p for p in details(iam, "AWSManagedPolicy")}
    assert READ_ONLY in aws and local_arn not in aws  # attached AWS managed policies only
    entry = aws[READ_ONLY]
    listed = entry["PolicyVersionList"]
    assert [v["VersionId"] for v in listed] == [v["VersionId"] for v in read_only_versions]
    assert [v["VersionId"] for v in listed if v["IsDefaultVersion"]] == [entry["DefaultVersionId"]]
    assert all(v["Document"]["Statement"] for v in listed)
    v1 = next(v for v in listed if v["VersionId"] == "v1")
    assert (
        v1["Document"]
        == iam.get_policy_version(PolicyArn=READ_ONLY, VersionId="v1")["PolicyVersion"]["Document"]
    )
    assert entry["AttachmentCount"] == 1

    local = {p["Arn"]: p for p in details(iam, "LocalManagedPolicy")}
    assert local_arn in local and READ_ONLY not in local
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in local[local_arn]["PolicyVersionList"]] == [
        ("v2", True),
        ("v1", False),
    ]
