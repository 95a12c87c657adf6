"""The members AWS puts in (and leaves out of) each IAM and STS answer, their order, and the exact
texts of the errors clients match on, through boto3 against a real ``iamd serve``.

Every test names where AWS's behaviour is recorded or documented. "Recorded" means a response
captured from real AWS by LocalStack's snapshot tests (``@markers.aws.validated``), in
https://github.com/localstack/localstack under ``tests/aws/services/iam/`` and
``tests/aws/services/sts/`` (the ``*.snapshot.json`` files); LocalStack masks names and IDs there,
the members and texts are AWS's own.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from tests.e2e.harness import ACCOUNT_ID, Server
from tests.e2e.policy_helpers import allow, error_of, policy, trust, unvalidated_client
from tests.e2e.test_providers import SAML_METADATA, make_certificate

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
ROLE_MEMBERS = {"Path", "RoleName", "RoleId", "Arn", "CreateDate", "AssumeRolePolicyDocument"}


def _managed_policy(iam: Any, name: str) -> str:
    arn: str = iam.create_policy(PolicyName=name, PolicyDocument=policy(allow("s3:ListBucket")))["Policy"][
        "Arn"
    ]
    return arn


# -- GetAccountAuthorizationDetails ------------------------------------------------------------------


def test_authorization_details_with_a_filter_still_has_the_four_lists(iam: Any) -> None:
    """cloudsplaining's download: the paginator with Filter=["Role"], then page["Policies"],
    page["UserDetailList"] and page["GroupDetailList"] on every page. AWS answers the sections not
    asked for with empty lists (recorded: test_iam_account_authorization_details.snapshot.json,
    role-filter-result, user-filter-result, group-filter-result)."""
    for n in range(3):
        iam.create_role(RoleName=f"gaad-role-{n}", AssumeRolePolicyDocument=trust())
    iam.create_user(UserName="gaad-user")
    iam.create_group(GroupName="gaad-group")
    _managed_policy(iam, "gaad-policy")

    paginator = iam.get_paginator("get_account_authorization_details")
    roles: list[str] = []
    pages = 0
    for page in paginator.paginate(Filter=["Role"], PaginationConfig={"PageSize": 2}):
        pages += 1
        assert page["UserDetailList"] == [] and page["GroupDetailList"] == [] and page["Policies"] == []
        roles += [r["RoleName"] for r in page["RoleDetailList"]]
    assert pages >= 2
    assert {f"gaad-role-{n}" for n in range(3)} <= set(roles)

    full = paginator.paginate(Filter=["User"]).build_full_result()
    assert full["RoleDetailList"] == [] and full["GroupDetailList"] == [] and full["Policies"] == []
    assert "gaad-user" in [u["UserName"] for u in full["UserDetailList"]]
    full = paginator.paginate(Filter=["LocalManagedPolicy"]).build_full_result()
    assert full["UserDetailList"] == [] and full["RoleDetailList"] == [] and full["GroupDetailList"] == []
    assert "gaad-policy" in [p["PolicyName"] for p in full["Policies"]]


def test_authorization_details_members_are_awss(iam: Any) -> None:
    """RoleDetail: no Description or MaxSessionDuration, Tags always (in key order) and
    RoleLastUsed; the role inside its InstanceProfileList has its six identifying members only.
    UserDetail: UserPolicyList left out when empty, GroupList, AttachedManagedPolicies and Tags as
    empty lists. ManagedPolicyDetail: no Description (recorded:
    test_iam_account_authorization_details.snapshot.json, role-filter-result, no-filter-result and
    aws-managed-policy-result)."""
    arn = iam.create_policy(
        PolicyName="gaad-described", PolicyDocument=policy(allow("s3:ListBucket")), Description="has one"
    )["Policy"]["Arn"]
    iam.create_role(
        RoleName="gaad-detail", Path="/my-path/", AssumeRolePolicyDocument=trust(), Description="testing role"
    )
    iam.attach_role_policy(RoleName="gaad-detail", PolicyArn=arn)
    iam.tag_role(
        RoleName="gaad-detail", Tags=[{"Key": "somekey", "Value": "a"}, {"Key": "Other", "Value": "b"}]
    )
    iam.create_instance_profile(InstanceProfileName="gaad-profile")
    iam.add_role_to_instance_profile(InstanceProfileName="gaad-profile", RoleName="gaad-detail")
    iam.create_user(UserName="gaad-plain")

    full = iam.get_paginator("get_account_authorization_details").paginate().build_full_result()
    role = next(r for r in full["RoleDetailList"] if r["RoleName"] == "gaad-detail")
    assert "Description" not in role and "MaxSessionDuration" not in role
    assert role["RoleLastUsed"] == {}
    assert role["Tags"] == [{"Key": "Other", "Value": "b"}, {"Key": "somekey", "Value": "a"}]
    assert role["RolePolicyList"] == []
    [profile] = role["InstanceProfileList"]
    assert set(profile["Roles"][0]) == ROLE_MEMBERS

    user = next(u for u in full["UserDetailList"] if u["UserName"] == "gaad-plain")
    assert "UserPolicyList" not in user
    assert user["GroupList"] == [] and user["AttachedManagedPolicies"] == [] and user["Tags"] == []
    described = next(p for p in full["Policies"] if p["PolicyName"] == "gaad-described")
    assert "Description" not in described and "Tags" not in described
    assert iam.get_policy(PolicyArn=arn)["Policy"]["Description"] == "has one"


# -- roles -----------------------------------------------------------------------------------------


def test_role_members_per_operation(iam: Any) -> None:
    """CreateRole answers without Description, MaxSessionDuration and RoleLastUsed, with the
    boundary and the tags it was sent; GetRole has them all; ListRoles has Description and
    MaxSessionDuration but never PermissionsBoundary, Tags or RoleLastUsed; UpdateRoleDescription
    has Description but no MaxSessionDuration or RoleLastUsed (recorded:
    test_iam_roles.snapshot.json, create-role-with-boundary, get-role-with-boundary,
    list-roles-with-boundary, test_role_with_tags, update-role-description-response; ListRoles API
    reference: "This operation does not return ... PermissionsBoundary, RoleLastUsed, Tags")."""
    boundary = _managed_policy(iam, "shape-boundary")
    created = iam.create_role(
        RoleName="shape-role",
        AssumeRolePolicyDocument=trust(),
        Description="described",
        MaxSessionDuration=7200,
        PermissionsBoundary=boundary,
        Tags=[{"Key": "zeta", "Value": "1"}, {"Key": "Alpha", "Value": "2"}],
    )["Role"]
    assert set(created) == ROLE_MEMBERS | {"PermissionsBoundary", "Tags"}
    # The tags as sent, in the request's order (recorded for CreatePolicy:
    # test_iam_policies.snapshot.json, create-with-case-sensitive-tags).
    assert created["Tags"] == [{"Key": "zeta", "Value": "1"}, {"Key": "Alpha", "Value": "2"}]

    got = iam.get_role(RoleName="shape-role")["Role"]
    assert set(got) == ROLE_MEMBERS | {
        "Description",
        "MaxSessionDuration",
        "PermissionsBoundary",
        "Tags",
        "RoleLastUsed",
    }
    assert got["Tags"] == [{"Key": "Alpha", "Value": "2"}, {"Key": "zeta", "Value": "1"}]

    listed = next(r for r in iam.list_roles()["Roles"] if r["RoleName"] == "shape-role")
    assert set(listed) == ROLE_MEMBERS | {"Description", "MaxSessionDuration"}

    updated = iam.update_role_description(RoleName="shape-role", Description="new words")["Role"]
    assert updated["Description"] == "new words"
    assert "MaxSessionDuration" not in updated and "RoleLastUsed" not in updated

    plain = iam.create_role(RoleName="shape-plain", AssumeRolePolicyDocument=trust())["Role"]
    assert set(plain) == ROLE_MEMBERS  # no Tags member at all when none were sent


def test_instance_profile_members(iam: Any) -> None:
    """GetInstanceProfile always has Tags ([] when none); CreateInstanceProfile and
    ListInstanceProfiles have none; a role inside a profile has its six identifying members only,
    even when it has a description and a boundary (recorded:
    test_iam_instance_profiles.snapshot.json, get-instance-profile, list-instance-profiles)."""
    iam.create_role(
        RoleName="profiled",
        AssumeRolePolicyDocument=trust(),
        Description="described",
        PermissionsBoundary=READ_ONLY,
    )
    created = iam.create_instance_profile(InstanceProfileName="shape-profile")["InstanceProfile"]
    assert "Tags" not in created and created["Roles"] == []
    iam.add_role_to_instance_profile(InstanceProfileName="shape-profile", RoleName="profiled")
    got = iam.get_instance_profile(InstanceProfileName="shape-profile")["InstanceProfile"]
    assert got["Tags"] == []
    assert set(got["Roles"][0]) == ROLE_MEMBERS
    listed = next(
        p
        for p in iam.list_instance_profiles()["InstanceProfiles"]
        if p["InstanceProfileName"] == "shape-profile"
    )
    assert "Tags" not in listed and set(listed["Roles"][0]) == ROLE_MEMBERS
    for_role = iam.list_instance_profiles_for_role(RoleName="profiled")["InstanceProfiles"]
    assert set(for_role[0]["Roles"][0]) == ROLE_MEMBERS


# -- users -----------------------------------------------------------------------------------------


def test_user_members_per_operation(iam: Any) -> None:
    """ListUsers (and GetGroup's user list) leave out PermissionsBoundary and Tags; GetUser shows
    them; CreateUser echoes the tags it was sent, in the request's order (ListUsers API reference:
    "This operation does not return the following attributes ... PermissionsBoundary, Tags";
    recorded: test_iam_groups.snapshot.json, group-with-user)."""
    created = iam.create_user(
        UserName="shape-user",
        PermissionsBoundary=READ_ONLY,
        Tags=[{"Key": "b", "Value": "1"}, {"Key": "A", "Value": "2"}],
    )["User"]
    assert created["Tags"] == [{"Key": "b", "Value": "1"}, {"Key": "A", "Value": "2"}]
    assert created["PermissionsBoundary"]["PermissionsBoundaryArn"] == READ_ONLY
    got = iam.get_user(UserName="shape-user")["User"]
    assert got["PermissionsBoundary"]["PermissionsBoundaryArn"] == READ_ONLY
    assert got["Tags"] == [{"Key": "A", "Value": "2"}, {"Key": "b", "Value": "1"}]
    listed = next(u for u in iam.list_users()["Users"] if u["UserName"] == "shape-user")
    assert set(listed) == {"Path", "UserName", "UserId", "Arn", "CreateDate"}
    iam.create_group(GroupName="shape-group")
    iam.add_user_to_group(GroupName="shape-group", UserName="shape-user")
    [member] = iam.get_group(GroupName="shape-group")["Users"]
    assert set(member) == {"Path", "UserName", "UserId", "Arn", "CreateDate"}


# -- managed policies --------------------------------------------------------------------------------


def test_policy_members_per_operation(iam: Any) -> None:
    """CreatePolicy answers without Description, with Tags only when sent (in the request's order);
    GetPolicy always has Tags ([] when none, AWS managed policies included) and the Description;
    ListPolicies has neither (recorded: test_iam_policies.snapshot.json, create-with-tags,
    get-with-tags, get-without-tags, create-with-case-sensitive-tags; test_iam_managed_policies
    .snapshot.json, get-policy of an AWS managed policy)."""
    created = iam.create_policy(
        PolicyName="shape-policy",
        PolicyDocument=policy(allow("s3:ListBucket")),
        Description="testing",
        Tags=[{"Key": "somekey", "Value": "1"}, {"Key": "Another", "Value": "2"}],
    )["Policy"]
    assert "Description" not in created
    assert created["Tags"] == [{"Key": "somekey", "Value": "1"}, {"Key": "Another", "Value": "2"}]
    got = iam.get_policy(PolicyArn=created["Arn"])["Policy"]
    assert got["Description"] == "testing"
    assert got["Tags"] == [{"Key": "Another", "Value": "2"}, {"Key": "somekey", "Value": "1"}]
    bare = iam.create_policy(PolicyName="shape-bare", PolicyDocument=policy(allow("s3:ListBucket")))["Policy"]
    assert "Tags" not in bare
    assert iam.get_policy(PolicyArn=bare["Arn"])["Policy"]["Tags"] == []
    assert iam.get_policy(PolicyArn=READ_ONLY)["Policy"]["Tags"] == []
    listed = next(
        p for p in iam.list_policies(Scope="Local")["Policies"] if p["PolicyName"] == "shape-policy"
    )
    assert "Tags" not in listed and "Description" not in listed


# -- tags ------------------------------------------------------------------------------------------


def test_tags_are_listed_in_key_order_upper_case_first(iam: Any) -> None:
    """ "The returned list of tags is sorted by tag key" (List*Tags API reference), compared code
    point by code point: AWS lists "A" before "a" (recorded: test_iam_policies.snapshot.json,
    list-case-sensitive-tags) — so "Zed" comes before "alpha"."""
    tags = [{"Key": "alpha", "Value": "1"}, {"Key": "Zed", "Value": "2"}, {"Key": "Mid", "Value": "3"}]
    expected = ["Mid", "Zed", "alpha"]
    iam.create_role(RoleName="tag-order", AssumeRolePolicyDocument=trust(), Tags=tags)
    assert [t["Key"] for t in iam.list_role_tags(RoleName="tag-order")["Tags"]] == expected
    assert [t["Key"] for t in iam.get_role(RoleName="tag-order")["Role"]["Tags"]] == expected
    iam.create_user(UserName="tag-order", Tags=tags)
    assert [t["Key"] for t in iam.list_user_tags(UserName="tag-order")["Tags"]] == expected
    iam.create_instance_profile(InstanceProfileName="tag-order", Tags=tags)
    assert [
        t["Key"] for t in iam.list_instance_profile_tags(InstanceProfileName="tag-order")["Tags"]
    ] == expected
    arn = iam.create_policy(PolicyName="tag-order", PolicyDocument=policy(allow("s3:ListBucket")), Tags=tags)[
        "Policy"
    ]["Arn"]
    assert [t["Key"] for t in iam.list_policy_tags(PolicyArn=arn)["Tags"]] == expected


def test_duplicate_tag_keys_get_awss_sentence_and_nothing_more(iam: Any) -> None:
    """InvalidInput "Duplicate tag keys found. Please note that Tag keys are case insensitive."
    (recorded: test_iam_roles.snapshot.json, create-role-duplicate-tags-different-case and
    tag-role-duplicate-tags-different-case)."""
    duplicate = [{"Key": "Env", "Value": "a"}, {"Key": "env", "Value": "b"}]
    expected = (
        400,
        "InvalidInput",
        "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
    )
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName="dup-tags", AssumeRolePolicyDocument=trust(), Tags=duplicate)
    assert error_of(exc) == expected
    iam.create_user(UserName="dup-tags")
    with pytest.raises(ClientError) as exc:
        iam.tag_user(UserName="dup-tags", Tags=duplicate)
    assert error_of(exc) == expected


# -- identity providers --------------------------------------------------------------------------------


def test_open_id_connect_provider_answers(iam: Any) -> None:
    """GetOpenIDConnectProvider always has Tags ([] when none) (recorded: test_iam_oidc
    .snapshot.json, get-response). Deleting a provider that is not there: the API reference calls
    the operation idempotent, but AWS answered a second delete with NoSuchEntity "OpenId connect
    Provider <arn> cannot be found." (recorded on 2026-02-18: test_iam_oidc.snapshot.json,
    deletion-not-found-error), and clients see what AWS answers."""
    arn = iam.create_open_id_connect_provider(
        Url="https://oidc.shapes.example.com", ThumbprintList=["a" * 40]
    )["OpenIDConnectProviderArn"]
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["Tags"] == [] and got["ClientIDList"] == []
    assert got["Url"] == "oidc.shapes.example.com"
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    with pytest.raises(ClientError) as exc:
        iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert error_of(exc) == (404, "NoSuchEntity", f"OpenIDConnect Provider not found for arn {arn}")
    with pytest.raises(ClientError) as exc:
        iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert error_of(exc) == (404, "NoSuchEntity", f"OpenId connect Provider {arn} cannot be found.")


def test_saml_provider_answer(iam: Any) -> None:
    """GetSAMLProvider has SAMLProviderUUID, AssertionEncryptionMode "Allowed", an empty
    PrivateKeyList and Tags [] besides the document and dates (recorded:
    test_iam_saml_providers.snapshot.json, get-response)."""
    arn = iam.create_saml_provider(Name="shapes-idp", SAMLMetadataDocument=SAML_METADATA)["SAMLProviderArn"]
    got = iam.get_saml_provider(SAMLProviderArn=arn)
    assert got["AssertionEncryptionMode"] == "Allowed"
    assert got["PrivateKeyList"] == [] and got["Tags"] == []
    assert len(got["SAMLProviderUUID"]) == 36
    assert iam.get_saml_provider(SAMLProviderArn=arn)["SAMLProviderUUID"] == got["SAMLProviderUUID"]


# -- groups ------------------------------------------------------------------------------------------


def test_group_membership_and_deletion_answers(iam: Any) -> None:
    """RemoveUserFromGroup of a user who is not a member succeeds; an unknown user is reported
    before an unknown group (recorded: test_iam_users.snapshot.json,
    remove-nonmember-user-from-group; test_iam_groups.snapshot.json, remove-from-unknown-group).
    DeleteGroup with a managed policy attached: "Cannot delete entity, must detach all policies
    first." (quoted from AWS: https://github.com/cloud-custodian/cloud-custodian/issues/7484)."""
    iam.create_group(GroupName="members-only")
    iam.create_user(UserName="outsider")
    iam.remove_user_from_group(GroupName="members-only", UserName="outsider")
    with pytest.raises(ClientError) as exc:
        iam.remove_user_from_group(GroupName="no-such-group", UserName="nobody-at-all")
    assert error_of(exc) == (404, "NoSuchEntity", "The user with name nobody-at-all cannot be found.")
    with pytest.raises(ClientError) as exc:
        iam.remove_user_from_group(GroupName="no-such-group", UserName="outsider")
    assert error_of(exc) == (404, "NoSuchEntity", "The group with name no-such-group cannot be found.")

    iam.attach_group_policy(GroupName="members-only", PolicyArn=READ_ONLY)
    with pytest.raises(ClientError) as exc:
        iam.delete_group(GroupName="members-only")
    assert error_of(exc) == (409, "DeleteConflict", "Cannot delete entity, must detach all policies first.")


# -- service-linked roles ---------------------------------------------------------------------------


def test_service_linked_roles_are_named_as_aws_names_them(iam: Any) -> None:
    """Names, paths and attached policies as AWS creates them (recorded: LocalStack's
    TestIAMServiceRoles::test_service_role_lifecycle; custom-resource: the Application Auto Scaling
    user guide, services-that-can-integrate-custom.html); a custom suffix only where AWS allows it,
    refused elsewhere with "Custom suffix is not allowed for <principal>" (recorded, same tests)."""
    expected = {
        "elasticbeanstalk.amazonaws.com": "AWSServiceRoleForElasticBeanstalk",
        "custom-resource.application-autoscaling.amazonaws.com": (
            "AWSServiceRoleForApplicationAutoScaling_CustomResource"
        ),
        "autoscaling-plans.amazonaws.com": "AWSServiceRoleForAutoScalingPlans_EC2AutoScaling",
    }
    for principal, name in expected.items():
        role = iam.create_service_linked_role(AWSServiceName=principal)["Role"]
        assert role["RoleName"] == name
        assert role["Path"] == f"/aws-service-role/{principal}/"
        assert role["MaxSessionDuration"] == 3600 and role["RoleLastUsed"] == {}
    attached = iam.list_attached_role_policies(RoleName="AWSServiceRoleForElasticBeanstalk")[
        "AttachedPolicies"
    ]
    assert attached == [
        {
            "PolicyName": "AWSElasticBeanstalkServiceRolePolicy",
            "PolicyArn": "arn:aws:iam::aws:policy/aws-service-role/AWSElasticBeanstalkServiceRolePolicy",
        }
    ]
    suffixed = iam.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com", CustomSuffix="web")
    assert suffixed["Role"]["RoleName"] == "AWSServiceRoleForAutoScaling_web"
    with pytest.raises(ClientError) as exc:
        iam.create_service_linked_role(AWSServiceName="batch.amazonaws.com", CustomSuffix="web")
    assert error_of(exc) == (400, "InvalidInput", "Custom suffix is not allowed for batch.amazonaws.com")
    with pytest.raises(ClientError) as exc:
        iam.create_service_linked_role(AWSServiceName="elasticbeanstalk.amazonaws.com")
    assert error_of(exc) == (
        400,
        "InvalidInput",
        "Service role name AWSServiceRoleForElasticBeanstalk has been taken in this account, "
        "please try a different suffix.",
    )


# -- STS ---------------------------------------------------------------------------------------------


def test_session_tag_errors_are_awss_sentences(server: Server, iam: Any) -> None:
    """AssumeRole's tag errors, InvalidParameterValue with AWS's texts (recorded:
    tests/aws/services/sts/test_sts.snapshot.json, test_assume_role_tag_validation)."""
    iam.create_role(
        RoleName="tagged-session",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                        "Action": ["sts:AssumeRole", "sts:TagSession"],
                    }
                ],
            }
        ),
    )
    sts = server.client("sts")
    role = f"arn:aws:iam::{ACCOUNT_ID}:role/tagged-session"
    with pytest.raises(ClientError) as exc:
        sts.assume_role(
            RoleArn=role,
            RoleSessionName="s1",
            Tags=[{"Key": "Team", "Value": "a"}, {"Key": "team", "Value": "b"}],
        )
    assert error_of(exc) == (
        400,
        "InvalidParameterValue",
        "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
    )
    with pytest.raises(ClientError) as exc:
        sts.assume_role(
            RoleArn=role,
            RoleSessionName="s1",
            Tags=[{"Key": "Team", "Value": "a"}],
            TransitiveTagKeys=["Project"],
        )
    assert error_of(exc) == (
        400,
        "InvalidParameterValue",
        "The specified transitive tag key must be included in the requested tags.",
    )


def test_packed_policy_size_only_when_aws_gives_it(server: Server, iam: Any) -> None:
    """AssumeRole without a session policy or tags answers with AssumedRoleUser and Credentials
    and no PackedPolicySize; with a policy it has one; GetFederationToken always has it, 0 without
    a policy (recorded: tests/aws/services/sts/test_sts.snapshot.json, test_assume_role,
    test_assume_role_with_policy, test_get_federation_token)."""
    iam.create_role(
        RoleName="packed",
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
    sts = server.client("sts")
    role = f"arn:aws:iam::{ACCOUNT_ID}:role/packed"
    plain = sts.assume_role(RoleArn=role, RoleSessionName="plain")
    assert "PackedPolicySize" not in plain
    assert plain["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/packed/plain"
    scoped = sts.assume_role(RoleArn=role, RoleSessionName="scoped", Policy=policy(allow("s3:GetObject")))
    assert scoped["PackedPolicySize"] > 0
    federated = sts.get_federation_token(Name="fed-plain")
    assert federated["PackedPolicySize"] == 0
    assert federated["FederatedUser"] == {
        "FederatedUserId": f"{ACCOUNT_ID}:fed-plain",
        "Arn": f"arn:aws:sts::{ACCOUNT_ID}:federated-user/fed-plain",
    }


def test_server_certificate_answer(iam: Any) -> None:
    """GetServerCertificate always has Tags ([] when none) (recorded:
    test_iam_server_certificates.snapshot.json, get-certificate); UploadServerCertificate echoes
    the tags it was sent."""
    body, key, _ = make_certificate("shapes.example.com")
    uploaded = iam.upload_server_certificate(
        ServerCertificateName="shapes-cert",
        CertificateBody=body,
        PrivateKey=key,
        Tags=[{"Key": "z", "Value": "1"}, {"Key": "a", "Value": "2"}],
    )
    assert uploaded["Tags"] == [{"Key": "z", "Value": "1"}, {"Key": "a", "Value": "2"}]
    iam.upload_server_certificate(ServerCertificateName="shapes-bare", CertificateBody=body, PrivateKey=key)
    assert iam.get_server_certificate(ServerCertificateName="shapes-bare")["ServerCertificate"]["Tags"] == []


def test_mfa_device_texts(iam: Any) -> None:
    """AWS's texts: "MFA device already exists." for a second CreateVirtualMFADevice, "MFA Device
    with serial number <serial> does not exist." for a device that is not there (recorded:
    test_iam_mfa.snapshot.json, create-duplicate-error, delete-nonexistent-error,
    deactivate-nonexistent-mfa-error)."""
    iam.create_virtual_mfa_device(VirtualMFADeviceName="shapes-mfa")
    with pytest.raises(ClientError) as exc:
        iam.create_virtual_mfa_device(VirtualMFADeviceName="shapes-mfa")
    assert error_of(exc) == (409, "EntityAlreadyExists", "MFA device already exists.")
    missing = f"arn:aws:iam::{ACCOUNT_ID}:mfa/nonexistent-device"
    with pytest.raises(ClientError) as exc:
        iam.delete_virtual_mfa_device(SerialNumber=missing)
    assert error_of(exc) == (404, "NoSuchEntity", f"MFA Device with serial number {missing} does not exist.")


def test_delete_user_conflict_texts(iam: Any) -> None:
    """DeleteUser names what is left the way AWS does (recorded: test_iam_users.snapshot.json,
    delete-user-with-inline-policy-error, delete-user-with-attached-policy-error; quoted from AWS:
    https://github.com/cloud-custodian/cloud-custodian/issues/1663 for the login profile)."""
    iam.create_user(UserName="sticky-user")
    iam.create_login_profile(UserName="sticky-user", Password="A-long-passw0rd!")
    iam.put_user_policy(UserName="sticky-user", PolicyName="p", PolicyDocument=policy(allow("s3:ListBucket")))
    iam.attach_user_policy(UserName="sticky-user", PolicyArn=READ_ONLY)
    steps = [
        ("must delete login profile first.", lambda: iam.delete_login_profile(UserName="sticky-user")),
        (
            "must delete policies first.",
            lambda: iam.delete_user_policy(UserName="sticky-user", PolicyName="p"),
        ),
        (
            "must detach all policies first.",
            lambda: iam.detach_user_policy(UserName="sticky-user", PolicyArn=READ_ONLY),
        ),
    ]
    for text, remove in steps:
        with pytest.raises(ClientError) as exc:
            iam.delete_user(UserName="sticky-user")
        assert error_of(exc) == (409, "DeleteConflict", f"Cannot delete entity, {text}")
        remove()
    iam.delete_user(UserName="sticky-user")


def test_error_texts_clients_match_on(server: Server, iam: Any) -> None:
    """Texts recorded from AWS by LocalStack's snapshot tests: attaching something that is not a
    policy ARN is a ValidationError "ARN <value> is not valid." (test_iam_roles.snapshot.json,
    non-existent-malformed-policy-arn); GetPolicyVersion of a policy that is not there says "Policy
    <arn> version <id> does not exist or is not attachable." (test_iam_policies.snapshot.json,
    err-get-version-nonexistent-policy); removing a role that is not in the profile says "Role
    <role> in Instance Profile <profile> cannot be found." (test_iam_instance_profiles
    .snapshot.json, remove-unattached-role-error); a bad Marker is "Invalid Marker."
    (test_iam_mfa.snapshot.json, list-invalid-marker-error); an OIDC URL that is not https is a
    ValidationError "Invalid Open ID Connect Provider URL" and six thumbprints InvalidInput
    "Thumbprint list must contain fewer than 5 entries." (test_iam_oidc.snapshot.json); an unknown
    key's GetAccessKeyLastUsed is AccessDenied (test_iam_users.snapshot.json,
    get-last-used-nonexistent-key-error)."""
    iam.create_role(RoleName="errors-role", AssumeRolePolicyDocument=trust())
    with pytest.raises(ClientError) as exc:
        iam.attach_role_policy(RoleName="errors-role", PolicyArn="longpolicynamebutnoarn")
    assert error_of(exc) == (400, "ValidationError", "ARN longpolicynamebutnoarn is not valid.")

    missing = f"arn:aws:iam::{ACCOUNT_ID}:policy/TestNonExistingPolicy"
    with pytest.raises(ClientError) as exc:
        iam.get_policy_version(PolicyArn=missing, VersionId="v1")
    assert error_of(exc) == (
        404,
        "NoSuchEntity",
        f"Policy {missing} version v1 does not exist or is not attachable.",
    )

    iam.create_instance_profile(InstanceProfileName="errors-profile")
    with pytest.raises(ClientError) as exc:
        iam.remove_role_from_instance_profile(InstanceProfileName="errors-profile", RoleName="errors-role")
    assert error_of(exc) == (
        404,
        "NoSuchEntity",
        "Role errors-role in Instance Profile errors-profile cannot be found.",
    )

    with pytest.raises(ClientError) as exc:
        iam.list_virtual_mfa_devices(Marker="not-a-marker")
    assert error_of(exc) == (400, "ValidationError", "Invalid Marker.")

    with pytest.raises(ClientError) as exc:
        iam.create_open_id_connect_provider(Url="example.org", ThumbprintList=["a" * 40])
    assert error_of(exc) == (400, "ValidationError", "Invalid Open ID Connect Provider URL")

    with pytest.raises(ClientError) as exc:
        iam.get_access_key_last_used(AccessKeyId="AKIAIOSFODNN7EXAMPLE")
    caller = server.client("sts").get_caller_identity()["Arn"]
    assert error_of(exc) == (
        403,
        "AccessDenied",
        f"User: {caller} is not authorized to perform iam:GetAccessKeyLastUsed on resource: "
        "access key AKIAIOSFODNN7EXAMPLE",
    )


def test_managed_policy_tag_keys_are_case_sensitive(iam: Any) -> None:
    """Managed policies take "a" and "A" as two tags, list them "A" first, untag exactly, and
    refuse a repeated key with InvalidInput "Duplicate tag keys found." (recorded:
    test_iam_policies.snapshot.json, create-with-case-sensitive-tags, list-case-sensitive-tags,
    list-after-untag-lowercase, err-duplicate-keys); roles keep comparing keys case-insensitively."""
    arn = iam.create_policy(
        PolicyName="case-tags",
        PolicyDocument=policy(allow("s3:ListBucket")),
        Tags=[{"Key": "a", "Value": "lowercase"}, {"Key": "A", "Value": "uppercase"}],
    )["Policy"]["Arn"]
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [
        {"Key": "A", "Value": "uppercase"},
        {"Key": "a", "Value": "lowercase"},
    ]
    iam.untag_policy(PolicyArn=arn, TagKeys=["a"])
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [{"Key": "A", "Value": "uppercase"}]
    with pytest.raises(ClientError) as exc:
        iam.tag_policy(PolicyArn=arn, Tags=[{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}])
    assert error_of(exc) == (400, "InvalidInput", "Duplicate tag keys found.")


def test_validation_errors_in_iams_current_form(server: Server) -> None:
    """IAM's model-constraint errors no longer quote the value: "1 validation error detected:
    Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to
    50" (recorded against AWS in 2026: test_iam_roles.snapshot.json, create-role-too-many-tags and
    create-role-tag-key-too-long), enum constraints end at "enum value set"; STS still quotes it
    (test_sts.snapshot.json, invalid-session-name)."""
    raw = unvalidated_client(server)
    with pytest.raises(ClientError) as exc:
        raw.create_role(
            RoleName="too-many-tags",
            AssumeRolePolicyDocument=trust(),
            Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)],
        )
    assert error_of(exc) == (
        400,
        "ValidationError",
        "1 validation error detected: Value at 'tags' failed to satisfy constraint: "
        "Member must have length less than or equal to 50",
    )
    with pytest.raises(ClientError) as exc:
        raw.create_role(
            RoleName="long-key", AssumeRolePolicyDocument=trust(), Tags=[{"Key": "k" * 129, "Value": "v"}]
        )
    assert error_of(exc)[2] == (
        "1 validation error detected: Value at 'tags.1.member.key' failed to satisfy constraint: "
        "Member must have length less than or equal to 128"
    )
    with pytest.raises(ClientError) as exc:
        raw.update_access_key(AccessKeyId="AKIAIOSFODNN7EXAMPLE", Status="Paused")
    assert error_of(exc)[2] == (
        "1 validation error detected: Value at 'status' failed to satisfy constraint: "
        "Member must satisfy enum value set"
    )
    # Several violations are listed in the order of their paths (recorded:
    # test_iam_oidc.snapshot.json, multiple-validation-errors).
    with pytest.raises(ClientError) as exc:
        raw.create_open_id_connect_provider(
            Url="b" * 256, ThumbprintList=["b" * 41], ClientIDList=["b" * 256]
        )
    message = error_of(exc)[2]
    assert message.startswith("3 validation errors detected: Value at 'clientIDList' failed")
    assert message.index("'clientIDList'") < message.index("'thumbprintList'") < message.index("'url'")
    sts = boto3.client(
        "sts",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=server.access_key_id,
        aws_secret_access_key=server.secret_access_key,
        config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/packed", RoleSessionName="Session1:2")
    assert error_of(exc) == (
        400,
        "ValidationError",
        "1 validation error detected: Value 'Session1:2' at 'roleSessionName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*",
    )


def test_a_51st_tag_is_refused_in_awss_words(iam: Any) -> None:
    """LimitExceeded "The number of tags has reached the maximum limit." when a tag would go past
    50 (recorded against AWS: test_iam_oidc.snapshot.json, tags-limit-error)."""
    iam.create_role(
        RoleName="fifty-tags",
        AssumeRolePolicyDocument=trust(),
        Tags=[{"Key": f"k{i:02d}", "Value": "v"} for i in range(50)],
    )
    with pytest.raises(ClientError) as exc:
        iam.tag_role(RoleName="fifty-tags", Tags=[{"Key": "one-more", "Value": "v"}])
    assert error_of(exc) == (409, "LimitExceeded", "The number of tags has reached the maximum limit.")
