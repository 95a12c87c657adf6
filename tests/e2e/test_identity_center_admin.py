"""IAM Identity Center administration (``sso-admin``) end to end, with boto3 against a real
``iamd serve``: the organization instance, permission sets with every policy kind, assignments of
a user and a group in two member accounts, the roles provisioned there (seen through IAM from the
member's OrganizationAccountAccessRole) and their protection, ProvisionPermissionSet after a change,
removal of the last assignment removing the role, and AWS's errors and paging.

Facts: /work/shared/spec/identity_center.md §1, §3, §4 (botocore's model; the Identity Center User
Guide; public exports of provisioned roles)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from tests.e2e.harness import ACCOUNT_ID, CLIENT_CONFIG, Server, add_account, start_server, stop_server

ROLE_NAME = re.compile(r"AWSReservedSSO_(?P<set>[\w+=,.@-]+)_(?P<suffix>[0-9a-f]{16})")
PROVIDER = re.compile(r"AWSSSO_[0-9a-f]{16}_DO_NOT_DELETE")


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def principal_id() -> str:
    """An id of the identity store's form (``1234567890-UUID``) that no user or group has."""
    return f"9067729b3d-{uuid.uuid4()}"


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def message_of(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Message"])


@dataclass
class Org:
    instance: str
    identity_store: str
    dev: str
    prod: str
    dev_iam: Any
    prod_iam: Any
    people: Any
    """An identitystore client (the management account's bootstrap administrator)."""

    def user(self) -> str:
        """A new user of the instance's identity store: its id."""
        name = f"user-{uuid.uuid4().hex[:12]}"
        created = self.people.create_user(
            IdentityStoreId=self.identity_store,
            UserName=name,
            DisplayName=name,
            Name={"GivenName": "Pat", "FamilyName": "Doe"},
        )
        return str(created["UserId"])

    def group(self) -> str:
        created = self.people.create_group(
            IdentityStoreId=self.identity_store, DisplayName=f"group-{uuid.uuid4().hex[:12]}"
        )
        return str(created["GroupId"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("iamd") / "data")
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def sso(server: Server) -> Any:
    return server.client("sso-admin")


def _create_account(orgs: Any, name: str) -> str:
    status = orgs.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
    for _ in range(50):
        if status["State"] != "IN_PROGRESS":
            break
        status = orgs.describe_create_account_status(CreateAccountRequestId=status["Id"])[
            "CreateAccountStatus"
        ]
    assert status["State"] == "SUCCEEDED", status
    return str(status["AccountId"])


def _member_iam(server: Server, account: str) -> Any:
    creds = server.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole", RoleSessionName="look"
    )["Credentials"]
    return server.client("iam", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])


@pytest.fixture(scope="module")
def org(server: Server, sso: Any) -> Org:
    orgs = server.client("organizations")
    orgs.create_organization()
    dev, prod = _create_account(orgs, "dev"), _create_account(orgs, "prod")
    arn = sso.create_instance(Name="main", Tags=[{"Key": "team", "Value": "platform"}])["InstanceArn"]
    described = sso.describe_instance(InstanceArn=arn)
    dev_iam, prod_iam = _member_iam(server, dev), _member_iam(server, prod)
    audit = doc({"Effect": "Allow", "Action": "cloudtrail:LookupEvents", "Resource": "*"})
    for member in (dev_iam, prod_iam):  # the customer managed policy a set refers to, in each account
        member.create_policy(PolicyName="TeamAudit", Path="/team/", PolicyDocument=audit)
        member.create_policy(
            PolicyName="TeamBoundary", PolicyDocument=doc({"Effect": "Allow", "Action": "*", "Resource": "*"})
        )
    people = server.client("identitystore")
    return Org(arn, described["IdentityStoreId"], dev, prod, dev_iam, prod_iam, people)


def _permission_set(sso: Any, org: Org, name: str, **extra: Any) -> str:
    created = sso.create_permission_set(InstanceArn=org.instance, Name=name, **extra)["PermissionSet"]
    return str(created["PermissionSetArn"])


def _assign(sso: Any, org: Org, ps: str, account: str, kind: str, principal: str) -> dict[str, Any]:
    status: dict[str, Any] = sso.create_account_assignment(
        InstanceArn=org.instance,
        TargetId=account,
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=ps,
        PrincipalType=kind,
        PrincipalId=principal,
    )["AccountAssignmentCreationStatus"]
    return status


def _unassign(sso: Any, org: Org, ps: str, account: str, kind: str, principal: str) -> dict[str, Any]:
    status: dict[str, Any] = sso.delete_account_assignment(
        InstanceArn=org.instance,
        TargetId=account,
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=ps,
        PrincipalType=kind,
        PrincipalId=principal,
    )["AccountAssignmentDeletionStatus"]
    return status


def _reserved_roles(member_iam: Any) -> list[dict[str, Any]]:
    roles: list[dict[str, Any]] = member_iam.list_roles(PathPrefix="/aws-reserved/sso.amazonaws.com/")[
        "Roles"
    ]
    return roles


def _role_for(member_iam: Any, set_name: str) -> dict[str, Any]:
    [role] = [
        r for r in _reserved_roles(member_iam) if r["RoleName"].startswith(f"AWSReservedSSO_{set_name}_")
    ]
    return role


# -- instances --------------------------------------------------------------------------------------


def test_the_management_account_enables_the_organization_instance(sso: Any, org: Org) -> None:
    described = sso.describe_instance(InstanceArn=org.instance)
    assert re.fullmatch(r"arn:aws:sso:::instance/ssoins-[0-9a-f]{16}", org.instance)
    assert re.fullmatch(r"d-[0-9a-f]{10}", org.identity_store)
    assert described["Status"] == "ACTIVE" and described["Name"] == "main"
    assert described["OwnerAccountId"] == ACCOUNT_ID
    assert described["PermissionSetsEnabled"] is True
    assert described["IdentityStoreArn"].endswith(f":identitystore/{org.identity_store}")
    [listed] = sso.list_instances()["Instances"]
    assert listed["InstanceArn"] == org.instance
    with pytest.raises(ClientError) as exc:
        sso.create_instance(Name="again")
    assert code_of(exc) == "ConflictException"
    tags = sso.list_tags_for_resource(InstanceArn=org.instance, ResourceArn=org.instance)["Tags"]
    assert tags == [{"Key": "team", "Value": "platform"}]


def test_a_standalone_account_gets_an_account_instance_without_permission_sets(server: Server) -> None:
    key, secret = add_account(server, "777777777777", "solo")
    solo = server.client("sso-admin", key, secret)
    arn = solo.create_instance(Name="solo", ClientToken="token-1")["InstanceArn"]
    assert solo.create_instance(Name="solo", ClientToken="token-1")["InstanceArn"] == arn  # a retry
    with pytest.raises(ClientError) as exc:
        solo.create_instance(Name="other", ClientToken="token-1")
    assert code_of(exc) == "ConflictException"
    assert solo.describe_instance(InstanceArn=arn)["PermissionSetsEnabled"] is False
    with pytest.raises(ClientError) as exc:
        solo.create_permission_set(InstanceArn=arn, Name="Admin")
    assert code_of(exc) == "ValidationException" and "account instance" in message_of(exc)
    solo.delete_instance(InstanceArn=arn)
    with pytest.raises(ClientError) as exc:
        solo.describe_instance(InstanceArn=arn)
    assert code_of(exc) == "AccessDeniedException"


def test_another_account_cannot_see_the_organization_instance(server: Server, sso: Any, org: Org) -> None:
    creds = server.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{org.dev}:role/OrganizationAccountAccessRole", RoleSessionName="peek"
    )["Credentials"]
    member = server.client("sso-admin", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    with pytest.raises(ClientError) as exc:
        member.describe_instance(InstanceArn=org.instance)
    assert code_of(exc) == "AccessDeniedException"
    assert member.list_instances()["Instances"] == []


def test_a_caller_without_sso_permissions_is_denied(server: Server, org: Org) -> None:
    iam = server.client("iam")
    iam.create_user(UserName="no-sso")
    iam.put_user_policy(
        UserName="no-sso",
        PolicyName="read",
        PolicyDocument=doc({"Effect": "Allow", "Action": "sso:Describe*", "Resource": "*"}),
    )
    key = iam.create_access_key(UserName="no-sso")["AccessKey"]
    limited = server.client("sso-admin", key["AccessKeyId"], key["SecretAccessKey"])
    assert limited.describe_instance(InstanceArn=org.instance)["InstanceArn"] == org.instance
    with pytest.raises(ClientError) as exc:
        limited.create_permission_set(InstanceArn=org.instance, Name="Sneaky")
    assert code_of(exc) == "AccessDeniedException"
    assert "sso:CreatePermissionSet" in message_of(exc)


def test_an_instance_homed_outside_us_east_1_puts_its_region_in_the_role_path(server: Server) -> None:
    key, secret = add_account(server, "888888888888", "europe")

    def client(service: str, **creds: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=server.endpoint,
            region_name="eu-west-2",
            aws_access_key_id=creds.get("key", key),
            aws_secret_access_key=creds.get("secret", secret),
            aws_session_token=creds.get("token"),
            config=CLIENT_CONFIG,
        )

    orgs = client("organizations")
    orgs.create_organization()
    member = _create_account(orgs, "eu-dev")
    sso = client("sso-admin")
    instance = sso.create_instance(Name="europe")["InstanceArn"]
    described = sso.describe_instance(InstanceArn=instance)
    assert described["PrimaryRegion"] == "eu-west-2"
    assert sso.list_regions(InstanceArn=instance)["Regions"][0]["RegionName"] == "eu-west-2"
    user = client("identitystore").create_user(
        IdentityStoreId=described["IdentityStoreId"],
        UserName="eve",
        DisplayName="Eve",
        Name={"GivenName": "Eve", "FamilyName": "Doe"},
    )["UserId"]
    ps = sso.create_permission_set(InstanceArn=instance, Name="Regional")["PermissionSet"]["PermissionSetArn"]
    status = sso.create_account_assignment(
        InstanceArn=instance,
        TargetId=member,
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=ps,
        PrincipalType="USER",
        PrincipalId=user,
    )["AccountAssignmentCreationStatus"]
    assert status["Status"] == "SUCCEEDED"
    creds = client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{member}:role/OrganizationAccountAccessRole", RoleSessionName="look"
    )["Credentials"]
    member_iam = client(
        "iam", key=creds["AccessKeyId"], secret=creds["SecretAccessKey"], token=creds["SessionToken"]
    )
    [role] = _reserved_roles(member_iam)
    assert role["Path"] == "/aws-reserved/sso.amazonaws.com/eu-west-2/"
    assert ROLE_NAME.fullmatch(role["RoleName"])
    # The instance is seen from its home Region only, unless every Region is asked for.
    assert server.client("sso-admin", key, secret).list_instances()["Instances"] == []
    listed = server.client("sso-admin", key, secret).list_instances(RegionScope="ALL_REGIONS")["Instances"]
    assert [i["InstanceArn"] for i in listed] == [instance]


# -- permission sets --------------------------------------------------------------------------------


def test_permission_set_fields_validation_and_paging(sso: Any, org: Org) -> None:
    arn = _permission_set(
        sso,
        org,
        "Fields",
        Description="Every field",
        SessionDuration="PT4H",
        RelayState="https://console.aws.amazon.com/ec2/",
        Tags=[{"Key": "cost", "Value": "42"}],
    )
    assert re.fullmatch(
        rf"arn:aws:sso:::permissionSet/{org.instance.rsplit('/', 1)[1]}/ps-[0-9a-f]{{16}}", arn
    )
    described = sso.describe_permission_set(InstanceArn=org.instance, PermissionSetArn=arn)["PermissionSet"]
    assert (described["Name"], described["SessionDuration"], described["Description"]) == (
        "Fields",
        "PT4H",
        "Every field",
    )
    sso.update_permission_set(InstanceArn=org.instance, PermissionSetArn=arn, SessionDuration="PT12H")
    again = sso.describe_permission_set(InstanceArn=org.instance, PermissionSetArn=arn)["PermissionSet"]
    assert (
        again["SessionDuration"] == "PT12H" and again["RelayState"] == "https://console.aws.amazon.com/ec2/"
    )
    with pytest.raises(ClientError) as exc:
        _permission_set(sso, org, "Fields")
    assert code_of(exc) == "ConflictException" and "already exists" in message_of(exc)
    for bad in ("PT13H", "PT30M", "P1M"):
        with pytest.raises(ClientError) as exc:
            sso.update_permission_set(InstanceArn=org.instance, PermissionSetArn=arn, SessionDuration=bad)
        assert code_of(exc) == "ValidationException", bad
    with pytest.raises(ClientError) as exc:
        _permission_set(sso, org, "has space")
    assert code_of(exc) == "ValidationException"
    sso.tag_resource(InstanceArn=org.instance, ResourceArn=arn, Tags=[{"Key": "owner", "Value": "ops"}])
    sso.untag_resource(InstanceArn=org.instance, ResourceArn=arn, TagKeys=["cost"])
    tags = sso.list_tags_for_resource(InstanceArn=org.instance, ResourceArn=arn)["Tags"]
    assert tags == [{"Key": "owner", "Value": "ops"}]
    for i in range(3):
        _permission_set(sso, org, f"Page{i}")
    first = sso.list_permission_sets(InstanceArn=org.instance, MaxResults=2)
    assert len(first["PermissionSets"]) == 2 and "NextToken" in first
    every = [
        arn
        for page in sso.get_paginator("list_permission_sets").paginate(
            InstanceArn=org.instance, PaginationConfig={"PageSize": 2}
        )
        for arn in page["PermissionSets"]
    ]
    assert len(every) == len(set(every)) >= 4 and arn in every
    with pytest.raises(ClientError) as exc:
        sso.list_permission_sets(InstanceArn=org.instance, NextToken="bm90LWEtdG9rZW4")
    assert code_of(exc) == "ValidationException"
    missing = arn[:-16] + "0" * 16
    with pytest.raises(ClientError) as exc:
        sso.describe_permission_set(InstanceArn=org.instance, PermissionSetArn=missing)
    assert code_of(exc) == "ResourceNotFoundException"


def test_policies_of_every_kind_are_kept_on_the_set(sso: Any, org: Org) -> None:
    arn = _permission_set(sso, org, "Kinds")
    base = {"InstanceArn": org.instance, "PermissionSetArn": arn}
    sso.attach_managed_policy_to_permission_set(
        **base, ManagedPolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess"
    )
    with pytest.raises(ClientError) as exc:
        sso.attach_managed_policy_to_permission_set(
            **base, ManagedPolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess"
        )
    assert code_of(exc) == "ConflictException"
    with pytest.raises(ClientError) as exc:
        sso.attach_managed_policy_to_permission_set(
            **base, ManagedPolicyArn="arn:aws:iam::aws:policy/NoSuchPolicyHere"
        )
    assert code_of(exc) == "ValidationException"
    sso.attach_customer_managed_policy_reference_to_permission_set(
        **base, CustomerManagedPolicyReference={"Name": "TeamAudit", "Path": "/team/"}
    )
    sso.put_inline_policy_to_permission_set(
        **base, InlinePolicy=doc({"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"})
    )
    with pytest.raises(ClientError) as exc:
        sso.put_inline_policy_to_permission_set(**base, InlinePolicy='{"Statement": "nope"}')
    assert code_of(exc) == "ValidationException"
    sso.put_permissions_boundary_to_permission_set(
        **base, PermissionsBoundary={"ManagedPolicyArn": "arn:aws:iam::aws:policy/PowerUserAccess"}
    )
    managed = sso.list_managed_policies_in_permission_set(**base)["AttachedManagedPolicies"]
    assert managed == [{"Name": "ReadOnlyAccess", "Arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}]
    refs = sso.list_customer_managed_policy_references_in_permission_set(**base)[
        "CustomerManagedPolicyReferences"
    ]
    assert refs == [{"Name": "TeamAudit", "Path": "/team/"}]
    assert "s3:ListAllMyBuckets" in sso.get_inline_policy_for_permission_set(**base)["InlinePolicy"]
    boundary = sso.get_permissions_boundary_for_permission_set(**base)["PermissionsBoundary"]
    assert boundary == {"ManagedPolicyArn": "arn:aws:iam::aws:policy/PowerUserAccess"}
    sso.delete_permissions_boundary_from_permission_set(**base)
    with pytest.raises(ClientError) as exc:
        sso.get_permissions_boundary_for_permission_set(**base)
    assert code_of(exc) == "ResourceNotFoundException"
    sso.detach_managed_policy_from_permission_set(
        **base, ManagedPolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess"
    )
    with pytest.raises(ClientError) as exc:
        sso.detach_managed_policy_from_permission_set(
            **base, ManagedPolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess"
        )
    assert code_of(exc) == "ResourceNotFoundException"


# -- assignments and provisioning --------------------------------------------------------------------


def test_assignments_provision_protected_roles_in_member_accounts(sso: Any, org: Org) -> None:
    ps = _permission_set(sso, org, "Developer", Description="Builds things", SessionDuration="PT8H")
    base = {"InstanceArn": org.instance, "PermissionSetArn": ps}
    sso.attach_managed_policy_to_permission_set(
        **base, ManagedPolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess"
    )
    sso.attach_customer_managed_policy_reference_to_permission_set(
        **base, CustomerManagedPolicyReference={"Name": "TeamAudit", "Path": "/team/"}
    )
    inline = doc({"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"})
    sso.put_inline_policy_to_permission_set(**base, InlinePolicy=inline)
    sso.put_permissions_boundary_to_permission_set(
        **base, PermissionsBoundary={"CustomerManagedPolicyReference": {"Name": "TeamBoundary"}}
    )
    user, group = org.user(), org.group()
    created = _assign(sso, org, ps, org.dev, "USER", user)
    assert created["Status"] == "SUCCEEDED" and created["PrincipalId"] == user
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", created["RequestId"]
    )
    described = sso.describe_account_assignment_creation_status(
        InstanceArn=org.instance, AccountAssignmentCreationRequestId=created["RequestId"]
    )["AccountAssignmentCreationStatus"]
    assert described["Status"] == "SUCCEEDED" and described["TargetId"] == org.dev
    assert _assign(sso, org, ps, org.prod, "GROUP", group)["Status"] == "SUCCEEDED"

    role = _role_for(org.dev_iam, "Developer")
    assert ROLE_NAME.fullmatch(role["RoleName"])
    assert role["Path"] == "/aws-reserved/sso.amazonaws.com/"
    assert role["Arn"] == f"arn:aws:iam::{org.dev}:role/aws-reserved/sso.amazonaws.com/{role['RoleName']}"
    full = org.dev_iam.get_role(RoleName=role["RoleName"])["Role"]
    assert full["MaxSessionDuration"] == 43200 and full["Description"] == "Builds things"
    [provider] = [
        p["Arn"] for p in org.dev_iam.list_saml_providers()["SAMLProviderList"] if PROVIDER.search(p["Arn"])
    ]
    assert full["AssumeRolePolicyDocument"] == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider},
                "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"],
                "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
            }
        ],
    }
    assert provider.startswith(f"arn:aws:iam::{org.dev}:saml-provider/AWSSSO_")
    attached = {
        p["PolicyArn"]
        for p in org.dev_iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]
    }
    assert attached == {
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
        f"arn:aws:iam::{org.dev}:policy/team/TeamAudit",
    }
    assert org.dev_iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"] == ["AwsSSOInlinePolicy"]
    assert (
        full["PermissionsBoundary"]["PermissionsBoundaryArn"] == f"arn:aws:iam::{org.dev}:policy/TeamBoundary"
    )
    assert _role_for(org.prod_iam, "Developer")["RoleName"] != role["RoleName"]  # a suffix per account

    listed = sso.list_account_assignments(InstanceArn=org.instance, AccountId=org.prod, PermissionSetArn=ps)
    assert listed["AccountAssignments"] == [
        {"AccountId": org.prod, "PermissionSetArn": ps, "PrincipalType": "GROUP", "PrincipalId": group}
    ]
    mine = sso.list_account_assignments_for_principal(
        InstanceArn=org.instance, PrincipalId=user, PrincipalType="USER"
    )
    assert [(a["AccountId"], a["PermissionSetArn"]) for a in mine["AccountAssignments"]] == [(org.dev, ps)]
    accounts = sso.list_accounts_for_provisioned_permission_set(**base)["AccountIds"]
    assert sorted(accounts) == sorted([org.dev, org.prod])
    assert sso.list_permission_sets_provisioned_to_account(InstanceArn=org.instance, AccountId=org.dev)[
        "PermissionSets"
    ] == [ps]
    outsider = sso.list_permission_sets_provisioned_to_account(
        InstanceArn=org.instance, AccountId="123412341234"
    )
    assert outsider["PermissionSets"] == []
    with pytest.raises(ClientError) as exc:
        sso.delete_permission_set(**base)
    assert code_of(exc) == "ConflictException"


def test_provisioned_roles_are_protected_from_iam(server: Server, sso: Any, org: Org) -> None:
    ps = _permission_set(sso, org, "Guarded")
    sso.put_inline_policy_to_permission_set(
        InstanceArn=org.instance,
        PermissionSetArn=ps,
        InlinePolicy=doc({"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}),
    )
    _assign(sso, org, ps, org.dev, "USER", org.user())
    name = _role_for(org.dev_iam, "Guarded")["RoleName"]
    iam = org.dev_iam
    attempts = {
        "UpdateAssumeRolePolicy": lambda: iam.update_assume_role_policy(RoleName=name, PolicyDocument=doc()),
        "PutRolePolicy": lambda: iam.put_role_policy(RoleName=name, PolicyName="x", PolicyDocument=doc()),
        "DeleteRolePolicy": lambda: iam.delete_role_policy(RoleName=name, PolicyName="AwsSSOInlinePolicy"),
        "AttachRolePolicy": lambda: iam.attach_role_policy(
            RoleName=name, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"
        ),
        "DetachRolePolicy": lambda: iam.detach_role_policy(
            RoleName=name, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess"
        ),
        "DeleteRole": lambda: iam.delete_role(RoleName=name),
        "UpdateRole": lambda: iam.update_role(RoleName=name, MaxSessionDuration=3600),
        "UpdateRoleDescription": lambda: iam.update_role_description(RoleName=name, Description="mine"),
        "PutRolePermissionsBoundary": lambda: iam.put_role_permissions_boundary(
            RoleName=name, PermissionsBoundary="arn:aws:iam::aws:policy/ReadOnlyAccess"
        ),
        "DeleteRolePermissionsBoundary": lambda: iam.delete_role_permissions_boundary(RoleName=name),
        "TagRole": lambda: iam.tag_role(RoleName=name, Tags=[{"Key": "k", "Value": "v"}]),
        "UntagRole": lambda: iam.untag_role(RoleName=name, TagKeys=["k"]),
    }
    for action, attempt in attempts.items():
        with pytest.raises(ClientError) as exc:
            attempt()
        assert code_of(exc) == "UnmodifiableEntity", action
        assert message_of(exc) == (
            f"Cannot perform the operation on the protected role '{name}' - "
            "this role is only modifiable by AWS"
        ), action
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == ["AwsSSOInlinePolicy"]
    # STS: "AssumeRoleWithSAML will not work on IAM Identity Center managed roles."
    role = iam.get_role(RoleName=name)["Role"]
    provider = role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Federated"]
    with pytest.raises(ClientError) as exc:
        server.client("sts").assume_role_with_saml(
            RoleArn=role["Arn"], PrincipalArn=provider, SAMLAssertion="PHNhbWw+PC9zYW1sPg=="
        )
    assert code_of(exc) == "AccessDenied"


def test_changes_reach_accounts_only_through_provision_permission_set(sso: Any, org: Org) -> None:
    ps = _permission_set(sso, org, "Evolving")
    base = {"InstanceArn": org.instance, "PermissionSetArn": ps}
    sso.attach_managed_policy_to_permission_set(
        **base, ManagedPolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess"
    )
    _assign(sso, org, ps, org.dev, "USER", org.user())
    _assign(sso, org, ps, org.prod, "USER", org.user())
    name = _role_for(org.dev_iam, "Evolving")["RoleName"]
    sso.attach_managed_policy_to_permission_set(
        **base, ManagedPolicyArn="arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"
    )
    sso.update_permission_set(**base, Description="Now with a description")

    def attached() -> set[str]:
        return {
            p["PolicyName"]
            for p in org.dev_iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        }

    assert attached() == {"ReadOnlyAccess"}  # unchanged until provisioned
    stale = sso.list_accounts_for_provisioned_permission_set(
        **base, ProvisioningStatus="LATEST_PERMISSION_SET_NOT_PROVISIONED"
    )
    assert sorted(stale["AccountIds"]) == sorted([org.dev, org.prod])
    status = sso.provision_permission_set(**base, TargetType="AWS_ACCOUNT", TargetId=org.dev)[
        "PermissionSetProvisioningStatus"
    ]
    assert status["Status"] == "SUCCEEDED" and status["AccountId"] == org.dev
    assert attached() == {"ReadOnlyAccess", "ViewOnlyAccess"}
    assert org.dev_iam.get_role(RoleName=name)["Role"]["Description"] == "Now with a description"
    assert _role_for(org.dev_iam, "Evolving")["RoleName"] == name  # updated in place, same suffix
    stale = sso.list_accounts_for_provisioned_permission_set(
        **base, ProvisioningStatus="LATEST_PERMISSION_SET_NOT_PROVISIONED"
    )
    assert stale["AccountIds"] == [org.prod]
    everywhere = sso.provision_permission_set(**base, TargetType="ALL_PROVISIONED_ACCOUNTS")[
        "PermissionSetProvisioningStatus"
    ]
    assert everywhere["Status"] == "SUCCEEDED"
    described = sso.describe_permission_set_provisioning_status(
        InstanceArn=org.instance, ProvisionPermissionSetRequestId=everywhere["RequestId"]
    )["PermissionSetProvisioningStatus"]
    assert described["RequestId"] == everywhere["RequestId"]
    assert (
        sso.list_accounts_for_provisioned_permission_set(
            **base, ProvisioningStatus="LATEST_PERMISSION_SET_NOT_PROVISIONED"
        )["AccountIds"]
        == []
    )
    listed = sso.list_permission_set_provisioning_status(
        InstanceArn=org.instance, Filter={"Status": "SUCCEEDED"}
    )
    assert {s["RequestId"] for s in listed["PermissionSetsProvisioningStatus"]} >= {
        status["RequestId"],
        everywhere["RequestId"],
    }


def test_removing_the_last_assignment_removes_the_role_and_provider(
    server: Server, sso: Any, org: Org
) -> None:
    # A fresh account of the organization, so the SAML provider is this set's alone.
    orgs_account = _create_account(server.client("organizations"), "scratch")
    scratch_iam = _member_iam(server, orgs_account)
    ps = _permission_set(sso, org, "Temporary")
    user, other = org.user(), org.user()
    _assign(sso, org, ps, orgs_account, "USER", user)
    _assign(sso, org, ps, orgs_account, "USER", other)
    first = _role_for(scratch_iam, "Temporary")["RoleName"]
    assert _unassign(sso, org, ps, orgs_account, "USER", user)["Status"] == "SUCCEEDED"
    assert _role_for(scratch_iam, "Temporary")["RoleName"] == first  # still assigned to the other user
    deleted = _unassign(sso, org, ps, orgs_account, "USER", other)
    assert deleted["Status"] == "SUCCEEDED"
    assert _reserved_roles(scratch_iam) == []
    assert not [p for p in scratch_iam.list_saml_providers()["SAMLProviderList"] if PROVIDER.search(p["Arn"])]
    again = _unassign(sso, org, ps, orgs_account, "USER", other)
    assert (
        again["Status"] == "FAILED"
        and again["FailureReason"] == "Received a 404 status error: Assignment not found."
    )
    described = sso.describe_account_assignment_deletion_status(
        InstanceArn=org.instance, AccountAssignmentDeletionRequestId=again["RequestId"]
    )["AccountAssignmentDeletionStatus"]
    assert described["Status"] == "FAILED"
    failed = sso.list_account_assignment_deletion_status(
        InstanceArn=org.instance, Filter={"Status": "FAILED"}
    )
    assert again["RequestId"] in {s["RequestId"] for s in failed["AccountAssignmentsDeletionStatus"]}
    _assign(sso, org, ps, orgs_account, "USER", user)  # a new role, with a new suffix
    assert _role_for(scratch_iam, "Temporary")["RoleName"] != first
    _unassign(sso, org, ps, orgs_account, "USER", user)
    sso.delete_permission_set(InstanceArn=org.instance, PermissionSetArn=ps)
    assert ps not in sso.list_permission_sets(InstanceArn=org.instance, MaxResults=100)["PermissionSets"]


def test_a_missing_customer_managed_policy_fails_the_assignment(sso: Any, org: Org) -> None:
    ps = _permission_set(sso, org, "NeedsPolicy")
    sso.attach_customer_managed_policy_reference_to_permission_set(
        InstanceArn=org.instance,
        PermissionSetArn=ps,
        CustomerManagedPolicyReference={"Name": "NotInAnyAccount"},
    )
    user = org.user()
    status = _assign(sso, org, ps, org.dev, "USER", user)
    assert status["Status"] == "FAILED" and "NotInAnyAccount" in status["FailureReason"]
    assert not [
        r for r in _reserved_roles(org.dev_iam) if r["RoleName"].startswith("AWSReservedSSO_NeedsPolicy_")
    ]
    assert (
        sso.list_account_assignments(InstanceArn=org.instance, AccountId=org.dev, PermissionSetArn=ps)[
            "AccountAssignments"
        ]
        == []
    )


def test_assignment_errors(sso: Any, org: Org) -> None:
    ps = _permission_set(sso, org, "Errors")
    base = {"InstanceArn": org.instance, "PermissionSetArn": ps, "TargetType": "AWS_ACCOUNT"}
    with pytest.raises(ClientError) as exc:
        sso.create_account_assignment(
            **base, TargetId="123412341234", PrincipalType="USER", PrincipalId=org.user()
        )
    assert code_of(exc) == "ValidationException" and "not an AWS account in the organization" in message_of(
        exc
    )
    with pytest.raises(ClientError) as exc:
        sso.create_account_assignment(**base, TargetId=org.dev, PrincipalType="USER", PrincipalId="not-an-id")
    assert code_of(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        sso.create_account_assignment(
            **base, TargetId=org.dev, PrincipalType="ROBOT", PrincipalId=principal_id()
        )
    assert code_of(exc) == "ValidationException"
    for kind in ("USER", "GROUP"):
        with pytest.raises(ClientError) as exc:
            sso.create_account_assignment(
                **base, TargetId=org.dev, PrincipalType=kind, PrincipalId=principal_id()
            )
        assert code_of(exc) == "ResourceNotFoundException" and org.identity_store in message_of(exc)
    other = "arn:aws:sso:::instance/ssoins-0000000000000000"
    with pytest.raises(ClientError) as exc:
        sso.list_permission_sets(InstanceArn=other)
    assert code_of(exc) == "AccessDeniedException"
    with pytest.raises(ClientError) as exc:
        sso.describe_account_assignment_creation_status(
            InstanceArn=org.instance, AccountAssignmentCreationRequestId=str(uuid.uuid4())
        )
    assert code_of(exc) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        sso.provision_permission_set(InstanceArn=org.instance, PermissionSetArn=ps, TargetType="AWS_ACCOUNT")
    assert code_of(exc) == "ValidationException"


def test_applications_and_token_issuers_cannot_be_created_and_are_never_found(sso: Any, org: Org) -> None:
    assert sso.list_applications(InstanceArn=org.instance)["Applications"] == []
    assert sso.list_trusted_token_issuers(InstanceArn=org.instance)["TrustedTokenIssuers"] == []
    assert sso.list_application_providers()["ApplicationProviders"] == []
    with pytest.raises(ClientError) as exc:
        sso.create_application(
            InstanceArn=org.instance,
            ApplicationProviderArn="arn:aws:sso::aws:applicationProvider/custom",
            Name="app",
        )
    assert code_of(exc) == "UnsupportedOperationException" and "not supported by iamd" in message_of(exc)
    app = "arn:aws:sso::111111111111:application/ssoins-0000000000000000/apl-0000000000000000"
    with pytest.raises(ClientError) as exc:
        sso.describe_application(ApplicationArn=app)
    assert code_of(exc) == "ResourceNotFoundException" and "hosts no" in message_of(exc)


def test_attributes_for_access_control(sso: Any, org: Org) -> None:
    base = {"InstanceArn": org.instance}
    with pytest.raises(ClientError) as exc:
        sso.describe_instance_access_control_attribute_configuration(**base)
    assert code_of(exc) == "ResourceNotFoundException"
    config = {
        "AccessControlAttributes": [
            {"Key": "CostCenter", "Value": {"Source": ["${path:enterprise.costCenter}"]}},
            {"Key": "Team", "Value": {"Source": ["${path:enterprise.department}"]}},
        ]
    }
    sso.create_instance_access_control_attribute_configuration(
        **base, InstanceAccessControlAttributeConfiguration=config
    )
    with pytest.raises(ClientError) as exc:
        sso.create_instance_access_control_attribute_configuration(
            **base, InstanceAccessControlAttributeConfiguration=config
        )
    assert code_of(exc) == "ConflictException"
    described = sso.describe_instance_access_control_attribute_configuration(**base)
    assert described["Status"] == "ENABLED"
    assert described["InstanceAccessControlAttributeConfiguration"] == config
    with pytest.raises(ClientError) as exc:
        sso.update_instance_access_control_attribute_configuration(
            **base,
            InstanceAccessControlAttributeConfiguration={
                "AccessControlAttributes": [{"Key": "Bad", "Value": {"Source": ["department"]}}]
            },
        )
    assert code_of(exc) == "ValidationException"
    sso.delete_instance_access_control_attribute_configuration(**base)
    with pytest.raises(ClientError) as exc:
        sso.describe_instance_access_control_attribute_configuration(**base)
    assert code_of(exc) == "ResourceNotFoundException"


def test_in_the_management_account_provisioning_uses_the_callers_iam_permissions(
    server: Server, sso: Any, org: Org
) -> None:
    iam = server.client("iam")
    iam.create_user(UserName="sso-only")
    iam.put_user_policy(
        UserName="sso-only",
        PolicyName="sso",
        PolicyDocument=doc({"Effect": "Allow", "Action": "sso:*", "Resource": "*"}),
    )
    key = iam.create_access_key(UserName="sso-only")["AccessKey"]
    limited = server.client("sso-admin", key["AccessKeyId"], key["SecretAccessKey"])
    ps = _permission_set(sso, org, "Management")
    args = {
        "InstanceArn": org.instance,
        "TargetId": ACCOUNT_ID,
        "TargetType": "AWS_ACCOUNT",
        "PermissionSetArn": ps,
        "PrincipalType": "USER",
        "PrincipalId": org.user(),
    }
    refused = limited.create_account_assignment(**args)["AccountAssignmentCreationStatus"]
    assert refused["Status"] == "FAILED"
    assert refused["FailureReason"].startswith("Received a 403 status error: Access denied by IAM.")
    assert (
        "iam:CreateSAMLProvider" in refused["FailureReason"] or "iam:CreateRole" in refused["FailureReason"]
    )
    assert not [r for r in _reserved_roles(iam) if r["RoleName"].startswith("AWSReservedSSO_Management_")]
    # The bootstrap administrator may: the role is made in the management account itself.
    assert sso.create_account_assignment(**args)["AccountAssignmentCreationStatus"]["Status"] == "SUCCEEDED"
    assert _role_for(iam, "Management")["Path"] == "/aws-reserved/sso.amazonaws.com/"


def test_the_readme_walk_through_with_the_aws_cli(server: Server, org: Org) -> None:
    """The README's commands, as a newcomer pastes them (the AWS CLI from this venv)."""

    def aws(*args: str) -> Any:
        done = server.cli(*args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None

    alice = aws(
        "identitystore",
        "create-user",
        "--identity-store-id",
        org.identity_store,
        "--user-name",
        "alice",
        "--display-name",
        "Alice Doe",
        "--name",
        "GivenName=Alice,FamilyName=Doe",
    )["UserId"]
    ps = aws(
        "sso-admin",
        "create-permission-set",
        "--instance-arn",
        org.instance,
        "--name",
        "ReadOnly",
        "--session-duration",
        "PT4H",
    )["PermissionSet"]["PermissionSetArn"]
    aws(
        "sso-admin",
        "attach-managed-policy-to-permission-set",
        "--instance-arn",
        org.instance,
        "--permission-set-arn",
        ps,
        "--managed-policy-arn",
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
    )
    target = ["--target-id", org.dev, "--target-type", "AWS_ACCOUNT", "--principal-type", "USER"]
    created = aws(
        "sso-admin",
        "create-account-assignment",
        "--instance-arn",
        org.instance,
        "--permission-set-arn",
        ps,
        *target,
        "--principal-id",
        alice,
    )
    assert created["AccountAssignmentCreationStatus"]["Status"] == "SUCCEEDED"
    name = _role_for(org.dev_iam, "ReadOnly")["RoleName"]
    aws(
        "sso-admin",
        "put-inline-policy-to-permission-set",
        "--instance-arn",
        org.instance,
        "--permission-set-arn",
        ps,
        "--inline-policy",
        doc({"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}),
    )
    stale = aws(
        "sso-admin",
        "list-accounts-for-provisioned-permission-set",
        "--instance-arn",
        org.instance,
        "--permission-set-arn",
        ps,
        "--provisioning-status",
        "LATEST_PERMISSION_SET_NOT_PROVISIONED",
    )
    assert stale["AccountIds"] == [org.dev]
    aws(
        "sso-admin",
        "provision-permission-set",
        "--instance-arn",
        org.instance,
        "--permission-set-arn",
        ps,
        "--target-type",
        "ALL_PROVISIONED_ACCOUNTS",
    )
    assert org.dev_iam.list_role_policies(RoleName=name)["PolicyNames"] == ["AwsSSOInlinePolicy"]
    aws(
        "sso-admin",
        "delete-account-assignment",
        "--instance-arn",
        org.instance,
        "--permission-set-arn",
        ps,
        *target,
        "--principal-id",
        alice,
    )
    assert not [r for r in _reserved_roles(org.dev_iam) if r["RoleName"] == name]


def test_a_delegated_administrator_manages_the_organization_instance_but_not_the_management_account(
    server: Server, sso: Any, org: Org
) -> None:
    orgs = server.client("organizations")
    orgs.enable_aws_service_access(ServicePrincipal="sso.amazonaws.com")
    orgs.register_delegated_administrator(AccountId=org.prod, ServicePrincipal="sso.amazonaws.com")
    try:
        creds = server.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{org.prod}:role/OrganizationAccountAccessRole", RoleSessionName="admin"
        )["Credentials"]
        delegated = server.client(
            "sso-admin", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]
        )
        assert [i["InstanceArn"] for i in delegated.list_instances()["Instances"]] == [org.instance]
        ps = delegated.create_permission_set(InstanceArn=org.instance, Name="ByDelegate")["PermissionSet"][
            "PermissionSetArn"
        ]
        user = org.user()
        assert _assign(delegated, org, ps, org.dev, "USER", user)["Status"] == "SUCCEEDED"
        with pytest.raises(ClientError) as exc:
            _assign(delegated, org, ps, ACCOUNT_ID, "USER", user)
        assert code_of(exc) == "AccessDeniedException" and "management account" in message_of(exc)
        with pytest.raises(ClientError) as exc:
            delegated.delete_instance(InstanceArn=org.instance)
        assert code_of(exc) == "AccessDeniedException"
        in_management = _permission_set(sso, org, "InManagement")
        assert _assign(sso, org, in_management, ACCOUNT_ID, "USER", user)["Status"] == "SUCCEEDED"
        with pytest.raises(ClientError) as exc:
            delegated.update_permission_set(
                InstanceArn=org.instance, PermissionSetArn=in_management, Description="changed"
            )
        assert code_of(
            exc
        ) == "AccessDeniedException" and "provisioned to the management account" in message_of(exc)
        delegated.update_permission_set(InstanceArn=org.instance, PermissionSetArn=ps, Description="changed")
        _unassign(delegated, org, ps, org.dev, "USER", user)
    finally:
        orgs.deregister_delegated_administrator(AccountId=org.prod, ServicePrincipal="sso.amazonaws.com")


def test_a_delegated_administrator_reads_and_manages_the_organization_identity_store(
    server: Server, sso: Any, org: Org
) -> None:
    store_id = sso.describe_instance(InstanceArn=org.instance)["IdentityStoreId"]

    def identitystore_in(account: str) -> Any:
        creds = server.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole", RoleSessionName="admin"
        )["Credentials"]
        return server.client(
            "identitystore", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]
        )

    orgs = server.client("organizations")
    orgs.enable_aws_service_access(ServicePrincipal="sso.amazonaws.com")
    # Not (yet) a delegated administrator: the store is not revealed.
    with pytest.raises(ClientError) as exc:
        identitystore_in(org.prod).list_users(IdentityStoreId=store_id)
    assert code_of(exc) == "ResourceNotFoundException"
    orgs.register_delegated_administrator(AccountId=org.prod, ServicePrincipal="sso.amazonaws.com")
    try:
        delegated = identitystore_in(org.prod)
        user = delegated.create_user(
            IdentityStoreId=store_id,
            UserName="made.by.delegate",
            DisplayName="Made By Delegate",
            Name={"GivenName": "Made", "FamilyName": "Delegate"},
        )["UserId"]
        group = delegated.create_group(IdentityStoreId=store_id, DisplayName="DelegatedOps")["GroupId"]
        delegated.create_group_membership(IdentityStoreId=store_id, GroupId=group, MemberId={"UserId": user})
        names = {u["UserName"] for u in delegated.list_users(IdentityStoreId=store_id)["Users"]}
        assert "made.by.delegate" in names
        # The management account sees what the delegate made: one store.
        ids = server.client("identitystore")
        assert ids.describe_user(IdentityStoreId=store_id, UserId=user)["UserName"] == "made.by.delegate"
        # A member account that is not a delegated administrator still cannot.
        with pytest.raises(ClientError) as exc:
            identitystore_in(org.dev).describe_user(IdentityStoreId=store_id, UserId=user)
        assert code_of(exc) == "ResourceNotFoundException"
        delegated.delete_group(IdentityStoreId=store_id, GroupId=group)
        delegated.delete_user(IdentityStoreId=store_id, UserId=user)
    finally:
        orgs.deregister_delegated_administrator(AccountId=org.prod, ServicePrincipal="sso.amazonaws.com")
    with pytest.raises(ClientError) as exc:
        identitystore_in(org.prod).list_users(IdentityStoreId=store_id)
    assert code_of(exc) == "ResourceNotFoundException"


def test_policies_name_the_instance_permission_set_and_account_resources(
    server: Server, sso: Any, org: Org
) -> None:
    allowed, other = _permission_set(sso, org, "Scoped"), _permission_set(sso, org, "Unscoped")
    iam = server.client("iam")
    iam.create_user(UserName="scoped-admin")
    iam.put_user_policy(
        UserName="scoped-admin",
        PolicyName="scoped",
        PolicyDocument=doc(
            {
                "Effect": "Allow",
                "Action": ["sso:CreateAccountAssignment", "sso:DescribeInstance"],
                "Resource": [org.instance, allowed, f"arn:aws:sso:::account/{org.dev}"],
            }
        ),
    )
    key = iam.create_access_key(UserName="scoped-admin")["AccessKey"]
    scoped = server.client("sso-admin", key["AccessKeyId"], key["SecretAccessKey"])
    user = org.user()
    assert _assign(scoped, org, allowed, org.dev, "USER", user)["Status"] == "SUCCEEDED"
    for ps, account, resource in (
        (other, org.dev, other),
        (allowed, org.prod, f"arn:aws:sso:::account/{org.prod}"),
    ):
        with pytest.raises(ClientError) as exc:
            _assign(scoped, org, ps, account, "USER", user)
        assert code_of(exc) == "AccessDeniedException" and resource in message_of(exc)
    _unassign(sso, org, allowed, org.dev, "USER", user)


def test_sso_admin_calls_are_on_the_trail(server: Server, sso: Any, org: Org) -> None:
    pages = (
        server.client("cloudtrail")
        .get_paginator("lookup_events")
        .paginate(LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": "sso.amazonaws.com"}])
    )
    events = [e for page in pages for e in page["Events"]]
    names = {e["EventName"] for e in events}
    assert {"CreateInstance", "CreatePermissionSet", "CreateAccountAssignment"} <= names
    denied = [json.loads(e["CloudTrailEvent"]) for e in events if e["EventName"] == "CreatePermissionSet"]
    assert any(
        d.get("errorCode") == "AccessDenied" or d.get("errorCode") == "AccessDeniedException" for d in denied
    )


def test_deleting_the_instance_removes_its_roles_providers_and_people(
    server: Server, sso: Any, org: Org
) -> None:
    """(Last in this module: the organization instance is gone afterwards.)"""
    ps = _permission_set(sso, org, "Farewell")
    _assign(sso, org, ps, org.dev, "GROUP", org.group())
    assert _reserved_roles(org.dev_iam)
    sso.delete_instance(InstanceArn=org.instance)
    for member in (org.dev_iam, org.prod_iam):
        assert _reserved_roles(member) == []
        assert not [p for p in member.list_saml_providers()["SAMLProviderList"] if PROVIDER.search(p["Arn"])]
    assert sso.list_instances()["Instances"] == []
    with pytest.raises(ClientError) as exc:
        org.people.list_users(IdentityStoreId=org.identity_store)
    assert code_of(exc) == "ResourceNotFoundException"
    again = sso.create_instance(Name="again")["InstanceArn"]  # the account may enable Identity Center again
    assert again != org.instance
