"""Managed policies end to end: lifecycle, versions, tags, the AWS managed policies, attachments to
users, groups and roles with their quota, ListEntitiesForPolicy and GetAccountAuthorizationDetails."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.e2e.harness import ACCOUNT_ID, Server
from tests.e2e.policy_helpers import allow, deny, error_of, policy, trust

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def local_arn(name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{ACCOUNT_ID}:policy{path}{name}"


def test_managed_policy_lifecycle(iam: Any) -> None:
    document = policy(allow("s3:GetObject", "arn:aws:s3:::bucket/*"))
    created = iam.create_policy(
        PolicyName="ReadBucket",
        Path="/app/",
        PolicyDocument=document,
        Description="reads the bucket",
        Tags=[{"Key": "team", "Value": "data"}],
    )["Policy"]
    arn = local_arn("ReadBucket", "/app/")
    assert created["Arn"] == arn
    assert created["PolicyId"].startswith("ANPA") and len(created["PolicyId"]) == 21
    assert created["DefaultVersionId"] == "v1"
    assert created["AttachmentCount"] == 0 and created["IsAttachable"] is True

    got = iam.get_policy(PolicyArn=arn)["Policy"]
    assert got["Description"] == "reads the bucket"
    assert got["Tags"] == [{"Key": "team", "Value": "data"}]

    # The document round-trips: IAM URL-encodes it, boto3 decodes it (to a dict).
    version = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert version["Document"] == json.loads(document)
    assert version["IsDefaultVersion"] is True

    with pytest.raises(ClientError) as exc:
        iam.create_policy(PolicyName="readbucket", PolicyDocument=document)
    assert error_of(exc)[:2] == (409, "EntityAlreadyExists")

    local = [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]]
    assert "ReadBucket" in local
    assert [p["Arn"] for p in iam.list_policies(Scope="Local", PathPrefix="/app/")["Policies"]] == [arn]

    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(ClientError) as exc:
        iam.get_policy(PolicyArn=arn)
    assert error_of(exc) == (404, "NoSuchEntity", f"Policy {arn} was not found.")


def test_malformed_policy_document_answers_with_aws_sentences(iam: Any) -> None:
    """CreatePolicy answers as AWS does (sources: iamd.policy.acceptance.RULES); the located
    findings are ``iamd policy check``'s."""
    with pytest.raises(ClientError) as exc:
        iam.create_policy(
            PolicyName="Broken", PolicyDocument=policy({"Effect": "Allow", "Action": "s3:GetObject"})
        )
    # https://github.com/terraform-aws-modules/terraform-aws-iam/issues/603
    assert error_of(exc) == (400, "MalformedPolicyDocument", "Policy statement must contain resources.")

    with pytest.raises(ClientError) as exc:
        iam.create_policy(PolicyName="Broken", PolicyDocument='{"Version": "2012-10-17", "Statement": [')
    # https://github.com/aws-samples/amazon-ecs-firelens-examples/pull/50
    assert error_of(exc) == (400, "MalformedPolicyDocument", "Syntax errors in policy.")

    with pytest.raises(ClientError) as exc:
        iam.create_policy(
            PolicyName="Broken", PolicyDocument=policy({"Effect": "Permit", "Action": "*", "Resource": "*"})
        )
    assert error_of(exc) == (400, "MalformedPolicyDocument", "Syntax errors in policy.")


def test_managed_policy_size_quota(iam: Any) -> None:
    # 6,144 characters without white space: white space does not count.
    resources = [f"arn:aws:s3:::bucket-{i:04d}/*" for i in range(300)]
    with pytest.raises(ClientError) as exc:
        iam.create_policy(PolicyName="Huge", PolicyDocument=policy(allow("s3:GetObject", resources)))
    status, code, message = error_of(exc)
    assert (status, code) == (409, "LimitExceeded")
    assert "6144" in message
    spaced = json.dumps(json.loads(policy(allow("s3:GetObject", resources[:100]))), indent=40)
    assert len(spaced) > 6144
    iam.create_policy(PolicyName="Spacious", PolicyDocument=spaced)
    iam.delete_policy(PolicyArn=local_arn("Spacious"))


def test_policy_versions(iam: Any) -> None:
    arn = iam.create_policy(PolicyName="Versioned", PolicyDocument=policy(allow("s3:ListBucket")))["Policy"][
        "Arn"
    ]
    for n in range(2, 6):
        made = iam.create_policy_version(
            PolicyArn=arn, PolicyDocument=policy(allow(f"s3:Get{n}*")), SetAsDefault=(n == 3)
        )["PolicyVersion"]
        assert made["VersionId"] == f"v{n}"
        assert made["IsDefaultVersion"] is (n == 3)
    with pytest.raises(ClientError) as exc:
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=policy(allow("s3:Get6*")))
    status, code, message = error_of(exc)
    assert (status, code) == (409, "LimitExceeded")
    assert message.startswith("A managed policy can have up to 5 versions")

    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [v["VersionId"] for v in versions] == ["v5", "v4", "v3", "v2", "v1"]
    assert [v["VersionId"] for v in versions if v["IsDefaultVersion"]] == ["v3"]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"

    with pytest.raises(ClientError) as exc:
        iam.delete_policy_version(PolicyArn=arn, VersionId="v3")
    assert error_of(exc) == (409, "DeleteConflict", "Cannot delete the default version of a policy.")
    with pytest.raises(ClientError) as exc:
        iam.get_policy_version(PolicyArn=arn, VersionId="v9")
    assert error_of(exc)[:2] == (404, "NoSuchEntity")

    iam.set_default_policy_version(PolicyArn=arn, VersionId="v5")
    doc = iam.get_policy_version(PolicyArn=arn, VersionId="v5")["PolicyVersion"]["Document"]
    assert doc["Statement"][0]["Action"] == "s3:Get5*"

    # A policy with versions besides the default cannot be deleted: delete them first, as in AWS.
    with pytest.raises(ClientError) as exc:
        iam.delete_policy(PolicyArn=arn)
    status, code, message = error_of(exc)
    assert (status, code) == (409, "DeleteConflict")
    assert "more than one version" in message
    for version in ("v1", "v2", "v3", "v4"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=version)
    # Version ids are never reused.
    assert (
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=policy(allow("s3:Get7*")))["PolicyVersion"][
            "VersionId"
        ]
        == "v6"
    )
    iam.delete_policy_version(PolicyArn=arn, VersionId="v6")
    iam.delete_policy(PolicyArn=arn)


def test_policy_tags(iam: Any) -> None:
    arn = iam.create_policy(PolicyName="Tagged", PolicyDocument=policy(allow("s3:ListBucket")))["Policy"][
        "Arn"
    ]
    iam.tag_policy(PolicyArn=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    iam.tag_policy(PolicyArn=arn, Tags=[{"Key": "a", "Value": "3"}])
    iam.untag_policy(PolicyArn=arn, TagKeys=["b"])
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [{"Key": "a", "Value": "3"}]
    # Managed policy tag keys are case-sensitive (see test_aws_shapes.py): "A" is another tag.
    with pytest.raises(ClientError) as exc:
        iam.tag_policy(PolicyArn=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert error_of(exc)[:2] == (409, "LimitExceeded")
    iam.delete_policy(PolicyArn=arn)


def test_aws_managed_policies_can_be_read_but_not_changed(iam: Any) -> None:
    got = iam.get_policy(PolicyArn=READ_ONLY)["Policy"]
    assert got["PolicyName"] == "ReadOnlyAccess" and got["Arn"] == READ_ONLY
    version = iam.get_policy_version(PolicyArn=READ_ONLY, VersionId=got["DefaultVersionId"])["PolicyVersion"]
    assert version["Document"]["Statement"]
    aws_page = iam.list_policies(Scope="AWS", MaxItems=50)
    assert len(aws_page["Policies"]) == 50 and aws_page["IsTruncated"]
    assert all(p["Arn"].startswith("arn:aws:iam::aws:policy/") for p in aws_page["Policies"])
    second = iam.list_policies(Scope="AWS", MaxItems=50, Marker=aws_page["Marker"])["Policies"]
    assert not {p["Arn"] for p in second} & {p["Arn"] for p in aws_page["Policies"]}

    for call in (
        lambda: iam.delete_policy(PolicyArn=READ_ONLY),
        lambda: iam.create_policy_version(PolicyArn=READ_ONLY, PolicyDocument=policy(allow("*"))),
        lambda: iam.tag_policy(PolicyArn=READ_ONLY, Tags=[{"Key": "k", "Value": "v"}]),
        lambda: iam.set_default_policy_version(PolicyArn=READ_ONLY, VersionId="v1"),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_of(exc)[:2] == (403, "AccessDenied")


def test_attach_and_detach_to_users_groups_and_roles(iam: Any) -> None:
    iam.create_user(UserName="attach-user")
    iam.create_group(GroupName="attach-group")
    iam.create_role(RoleName="attach-role", AssumeRolePolicyDocument=trust())
    arn = iam.create_policy(PolicyName="Attachable", PolicyDocument=policy(allow("s3:ListBucket")))["Policy"][
        "Arn"
    ]
    iam.attach_user_policy(UserName="attach-user", PolicyArn=arn)
    iam.attach_user_policy(UserName="attach-user", PolicyArn=arn)  # again: no change, no error
    iam.attach_group_policy(GroupName="attach-group", PolicyArn=arn)
    iam.attach_role_policy(RoleName="attach-role", PolicyArn=arn)
    iam.attach_role_policy(RoleName="attach-role", PolicyArn=READ_ONLY)

    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 3
    assert iam.list_attached_user_policies(UserName="attach-user")["AttachedPolicies"] == [
        {"PolicyName": "Attachable", "PolicyArn": arn}
    ]
    assert iam.list_attached_group_policies(GroupName="attach-group")["AttachedPolicies"] == [
        {"PolicyName": "Attachable", "PolicyArn": arn}
    ]
    role_policies = iam.list_attached_role_policies(RoleName="attach-role")["AttachedPolicies"]
    assert {p["PolicyArn"] for p in role_policies} == {arn, READ_ONLY}

    entities = iam.list_entities_for_policy(PolicyArn=arn)
    assert [u["UserName"] for u in entities["PolicyUsers"]] == ["attach-user"]
    assert [g["GroupName"] for g in entities["PolicyGroups"]] == ["attach-group"]
    assert [r["RoleName"] for r in entities["PolicyRoles"]] == ["attach-role"]
    only_roles = iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="Role")
    assert only_roles["PolicyUsers"] == [] and len(only_roles["PolicyRoles"]) == 1
    attached = [p["Arn"] for p in iam.list_policies(Scope="Local", OnlyAttached=True)["Policies"]]
    assert arn in attached
    assert READ_ONLY in [p["Arn"] for p in iam.list_policies(Scope="AWS", OnlyAttached=True)["Policies"]]

    with pytest.raises(ClientError) as exc:
        iam.delete_policy(PolicyArn=arn)
    assert error_of(exc) == (409, "DeleteConflict", "Cannot delete a policy attached to entities.")
    with pytest.raises(ClientError) as exc:
        iam.delete_role(RoleName="attach-role")
    assert error_of(exc) == (409, "DeleteConflict", "Cannot delete entity, must detach all policies first.")

    iam.detach_user_policy(UserName="attach-user", PolicyArn=arn)
    iam.detach_group_policy(GroupName="attach-group", PolicyArn=arn)
    iam.detach_role_policy(RoleName="attach-role", PolicyArn=arn)
    iam.detach_role_policy(RoleName="attach-role", PolicyArn=READ_ONLY)
    with pytest.raises(ClientError) as exc:
        iam.detach_user_policy(UserName="attach-user", PolicyArn=arn)
    assert error_of(exc) == (404, "NoSuchEntity", f"Policy {arn} was not found.")
    iam.delete_policy(PolicyArn=arn)
    iam.delete_role(RoleName="attach-role")


def test_attach_errors_and_the_ten_policy_quota(iam: Any) -> None:
    iam.create_user(UserName="quota-user")
    missing = local_arn("NoSuchPolicy")
    with pytest.raises(ClientError) as exc:
        iam.attach_user_policy(UserName="quota-user", PolicyArn=missing)
    assert error_of(exc) == (404, "NoSuchEntity", f"Policy {missing} does not exist or is not attachable.")
    with pytest.raises(ClientError) as exc:
        iam.attach_user_policy(UserName="nobody-at-all", PolicyArn=READ_ONLY)
    assert error_of(exc) == (404, "NoSuchEntity", "The user with name nobody-at-all cannot be found.")
    with pytest.raises(ClientError) as exc:
        iam.attach_user_policy(UserName="quota-user", PolicyArn="not-an-arn-at-all-really")
    assert error_of(exc) == (400, "ValidationError", "ARN not-an-arn-at-all-really is not valid.")

    names = [p["Arn"] for p in iam.list_policies(Scope="AWS", MaxItems=11)["Policies"]]
    for arn in names[:10]:
        iam.attach_user_policy(UserName="quota-user", PolicyArn=arn)
    with pytest.raises(ClientError) as exc:
        iam.attach_user_policy(UserName="quota-user", PolicyArn=names[10])
    assert error_of(exc) == (409, "LimitExceeded", "Cannot exceed quota for PoliciesPerUser: 10")
    iam.attach_user_policy(UserName="quota-user", PolicyArn=names[0])  # already there: fine
    page = iam.list_attached_user_policies(UserName="quota-user", MaxItems=4)
    assert len(page["AttachedPolicies"]) == 4 and page["IsTruncated"]
    for arn in names[:10]:
        iam.detach_user_policy(UserName="quota-user", PolicyArn=arn)


def test_get_account_authorization_details(iam: Any) -> None:
    iam.create_user(UserName="gaad-user")
    iam.create_group(GroupName="gaad-group")
    iam.add_user_to_group(GroupName="gaad-group", UserName="gaad-user")
    iam.put_user_policy(UserName="gaad-user", PolicyName="own", PolicyDocument=policy(allow("s3:ListBucket")))
    iam.put_group_policy(GroupName="gaad-group", PolicyName="shared", PolicyDocument=policy(deny("s3:*")))
    iam.create_role(RoleName="gaad-role", AssumeRolePolicyDocument=trust())
    iam.create_instance_profile(InstanceProfileName="gaad-profile")
    iam.add_role_to_instance_profile(InstanceProfileName="gaad-profile", RoleName="gaad-role")
    arn = iam.create_policy(PolicyName="GaadPolicy", PolicyDocument=policy(allow("ec2:Describe*")))["Policy"][
        "Arn"
    ]
    iam.attach_role_policy(RoleName="gaad-role", PolicyArn=arn)
    iam.attach_user_policy(UserName="gaad-user", PolicyArn=READ_ONLY)

    details = iam.get_account_authorization_details()
    users = {u["UserName"]: u for u in details["UserDetailList"]}
    user = users["gaad-user"]
    assert user["GroupList"] == ["gaad-group"]
    assert user["UserPolicyList"][0]["PolicyName"] == "own"
    assert user["UserPolicyList"][0]["PolicyDocument"]["Statement"][0]["Action"] == "s3:ListBucket"
    assert user["AttachedManagedPolicies"] == [{"PolicyName": "ReadOnlyAccess", "PolicyArn": READ_ONLY}]
    group = {g["GroupName"]: g for g in details["GroupDetailList"]}["gaad-group"]
    assert group["GroupPolicyList"][0]["PolicyName"] == "shared"
    role = {r["RoleName"]: r for r in details["RoleDetailList"]}["gaad-role"]
    assert [p["InstanceProfileName"] for p in role["InstanceProfileList"]] == ["gaad-profile"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    policies = {p["Arn"]: p for p in details["Policies"]}
    assert policies[arn]["PolicyVersionList"][0]["Document"]["Statement"][0]["Action"] == "ec2:Describe*"
    assert READ_ONLY in policies and ADMIN in policies  # AWS managed policies in use are listed

    only_roles = iam.get_account_authorization_details(Filter=["Role"])
    assert not only_roles.get("UserDetailList") and not only_roles.get("Policies")
    assert {r["RoleName"] for r in only_roles["RoleDetailList"]} >= {"gaad-role"}

    # Paginated, every entity shows up exactly once.
    seen: list[str] = []
    kwargs: dict[str, Any] = {"MaxItems": 2}
    while True:
        page = iam.get_account_authorization_details(**kwargs)
        seen += [u["UserName"] for u in page.get("UserDetailList", [])]
        seen += [g["GroupName"] for g in page.get("GroupDetailList", [])]
        seen += [r["RoleName"] for r in page.get("RoleDetailList", [])]
        seen += [p["Arn"] for p in page.get("Policies", [])]
        if not page["IsTruncated"]:
            break
        kwargs["Marker"] = page["Marker"]
    everything = (
        list(users)
        + [g["GroupName"] for g in details["GroupDetailList"]]
        + [r["RoleName"] for r in details["RoleDetailList"]]
        + list(policies)
    )
    assert sorted(seen) == sorted(everything)


def test_aws_cli_policy_round_trip(server: Server) -> None:
    document = policy(allow("sqs:SendMessage", "arn:aws:sqs:us-east-1:111111111111:queue"))
    done = server.cli("iam", "create-policy", "--policy-name", "CliPolicy", "--policy-document", document)
    assert done.returncode == 0, done.stderr
    arn = json.loads(done.stdout)["Policy"]["Arn"]
    got = server.cli("iam", "get-policy-version", "--policy-arn", arn, "--version-id", "v1")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["PolicyVersion"]["Document"] == json.loads(document)
    gone = server.cli("iam", "delete-policy", "--policy-arn", arn)
    assert gone.returncode == 0, gone.stderr
