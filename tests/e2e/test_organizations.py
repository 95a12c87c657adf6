"""AWS Organizations end to end, with boto3 against a real ``iamd serve``: the organization's
lifecycle, CreateAccount's real member accounts and their OrganizationAccountAccessRole, SCPs
(deny list and allow list across root, OU and account; the management account exempt), RCPs as a
data perimeter on role trust with aws:PrincipalOrgID, invitations, and AWS's errors and quotas.

Facts: /work/shared/spec/organizations.md (botocore's model; the Organizations User Guide's SCP
and RCP evaluation pages; the quotas page)."""

from __future__ import annotations

import configparser
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.e2e.harness import ACCOUNT_ID, Server, add_account, start_server, stop_server

OUTSIDER = "333333333333"
INVITEE = "444444444444"


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, str | None]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"], exc.value.response.get("Reason")


@dataclass
class Org:
    id: str
    root: str
    member: str
    member_session: Any
    """boto3 Session of OrganizationAccountAccessRole in the member account."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("iamd") / "data")
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def orgs(server: Server) -> Any:
    return server.client("organizations")


def assume(server: Server, role_arn: str, client: Any | None = None) -> dict[str, str]:
    sts = client or server.client("sts")
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="test")["Credentials"]
    return {
        "key_id": creds["AccessKeyId"],
        "secret": creds["SecretAccessKey"],
        "token": creds["SessionToken"],
    }


def create_account(orgs: Any, name: str, email: str, **extra: Any) -> str:
    status = orgs.create_account(AccountName=name, Email=email, **extra)["CreateAccountStatus"]
    assert status["State"] == "IN_PROGRESS"
    for _ in range(50):
        status = orgs.describe_create_account_status(CreateAccountRequestId=status["Id"])[
            "CreateAccountStatus"
        ]
        if status["State"] != "IN_PROGRESS":
            break
        time.sleep(0.1)
    assert status["State"] == "SUCCEEDED", status
    return str(status["AccountId"])


@pytest.fixture(scope="module")
def org(server: Server, orgs: Any) -> Org:
    created = orgs.create_organization()["Organization"]
    root = orgs.list_roots()["Roots"][0]
    member = create_account(orgs, "dev", "dev@example.com")
    creds = assume(server, f"arn:aws:iam::{member}:role/OrganizationAccountAccessRole")
    return Org(created["Id"], root["Id"], member, creds)


def member_client(server: Server, org: Org, service: str = "iam") -> Any:
    c = org.member_session
    return server.client(service, c["key_id"], c["secret"], c["token"])


# -- lifecycle ------------------------------------------------------------------------------------


def test_create_organization_enables_scps_with_full_aws_access_on_the_root(orgs: Any, org: Org) -> None:
    described = orgs.describe_organization()["Organization"]
    assert described["Id"] == org.id and described["FeatureSet"] == "ALL"
    assert described["MasterAccountId"] == ACCOUNT_ID
    assert described["Arn"] == f"arn:aws:organizations::{ACCOUNT_ID}:organization/{org.id}"
    root = orgs.list_roots()["Roots"][0]
    assert root["PolicyTypes"] == [{"Type": "SERVICE_CONTROL_POLICY", "Status": "ENABLED"}]
    attached = orgs.list_policies_for_target(TargetId=org.root, Filter="SERVICE_CONTROL_POLICY")["Policies"]
    assert [p["Id"] for p in attached] == ["p-FullAWSAccess"] and attached[0]["AwsManaged"] is True
    with pytest.raises(ClientError) as exc:
        orgs.create_organization()
    assert error_of(exc)[0] == "AlreadyInOrganizationException"


def test_create_account_makes_a_real_member_with_the_access_role(server: Server, orgs: Any, org: Org) -> None:
    account = orgs.describe_account(AccountId=org.member)["Account"]
    assert account["JoinedMethod"] == "CREATED" and account["State"] == "ACTIVE"
    assert account["Paths"] == [f"{org.id}/{org.root}/{org.member}/"]
    assert {a["Id"] for a in orgs.list_accounts()["Accounts"]} == {ACCOUNT_ID, org.member}
    statuses = orgs.list_create_account_status(States=["SUCCEEDED"])["CreateAccountStatuses"]
    assert [s["AccountId"] for s in statuses] == [org.member]
    # FullAWSAccess is attached to every new account.
    targets = orgs.list_targets_for_policy(PolicyId="p-FullAWSAccess")["Targets"]
    assert {t["TargetId"] for t in targets} == {org.root, ACCOUNT_ID, org.member}
    iam = member_client(server, org)
    assert iam.list_users()["Users"] == []  # no IAM users
    role = iam.get_role(RoleName="OrganizationAccountAccessRole")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"
    }
    attached = iam.list_attached_role_policies(RoleName="OrganizationAccountAccessRole")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AdministratorAccess"]
    summary = iam.get_account_summary()["SummaryMap"]
    assert summary["AccountAccessKeysPresent"] == 0 and summary["AccountMFAEnabled"] == 0
    identity = member_client(server, org, "sts").get_caller_identity()
    assert identity["Account"] == org.member
    # Organizations' service-linked role, in the member and in the management account.
    for client in (iam, server.client("iam")):
        slr = client.get_role(RoleName="AWSServiceRoleForOrganizations")["Role"]
        assert slr["Path"] == "/aws-service-role/organizations.amazonaws.com/"


def test_ous_nest_five_levels_and_accounts_move_between_them(orgs: Any, org: Org) -> None:
    parent = org.root
    chain = []
    for depth in range(5):
        ou = orgs.create_organizational_unit(ParentId=parent, Name=f"level{depth}")["OrganizationalUnit"]
        chain.append(ou["Id"])
        parent = ou["Id"]
    assert ou["Path"] == "/".join([org.id, org.root, *chain]) + "/"
    with pytest.raises(ClientError) as exc:
        orgs.create_organizational_unit(ParentId=parent, Name="too-deep")
    code, _, reason = error_of(exc)
    assert code == "ConstraintViolationException" and reason == "OU_DEPTH_LIMIT_EXCEEDED"
    with pytest.raises(ClientError) as exc:
        orgs.create_organizational_unit(ParentId=org.root, Name="level0")
    assert error_of(exc)[0] == "DuplicateOrganizationalUnitException"
    # The deepest OU got FullAWSAccess.
    scps = orgs.list_policies_for_target(TargetId=parent, Filter="SERVICE_CONTROL_POLICY")["Policies"]
    assert [p["Id"] for p in scps] == ["p-FullAWSAccess"]
    # Clean up the deepest levels; keep level0 for the enforcement tests.
    for ou_id in reversed(chain[1:]):
        orgs.delete_organizational_unit(OrganizationalUnitId=ou_id)
    children = orgs.list_children(ParentId=org.root, ChildType="ORGANIZATIONAL_UNIT")["Children"]
    assert [c["Id"] for c in children] == [chain[0]]
    with pytest.raises(ClientError) as exc:
        orgs.move_account(AccountId=org.member, SourceParentId=chain[0], DestinationParentId=org.root)
    assert error_of(exc)[0] == "SourceParentNotFoundException"
    orgs.move_account(AccountId=org.member, SourceParentId=org.root, DestinationParentId=chain[0])
    assert orgs.list_parents(ChildId=org.member)["Parents"] == [
        {"Id": chain[0], "Type": "ORGANIZATIONAL_UNIT"}
    ]
    with pytest.raises(ClientError) as exc:
        orgs.delete_organizational_unit(OrganizationalUnitId=chain[0])
    assert error_of(exc)[0] == "OrganizationalUnitNotEmptyException"
    with pytest.raises(ClientError) as exc:
        orgs.delete_organization()
    assert error_of(exc)[0] == "OrganizationNotEmptyException"


# -- SCPs -----------------------------------------------------------------------------------------


def _ou(orgs: Any, org: Org) -> str:
    return str(orgs.list_parents(ChildId=org.member)["Parents"][0]["Id"])


def test_scp_deny_at_an_ou_binds_the_member_but_not_the_management_account(
    server: Server, orgs: Any, org: Org
) -> None:
    iam = member_client(server, org)
    iam.create_user(UserName="before-scp")
    policy = orgs.create_policy(
        Name="DenyUsers",
        Description="no IAM users",
        Type="SERVICE_CONTROL_POLICY",
        Content=doc({"Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*"}),
    )["Policy"]["PolicySummary"]
    ou = _ou(orgs, org)
    orgs.attach_policy(PolicyId=policy["Id"], TargetId=ou)
    # Takes effect on the next request.
    with pytest.raises(ClientError) as exc:
        iam.create_user(UserName="after-scp")
    code, message, _ = error_of(exc)
    assert code == "AccessDenied"
    assert "iam:CreateUser" in message and "with an explicit deny in a service control policy" in message
    # The management account is not subject to SCPs (it is not in the OU, but not even at the root).
    orgs.attach_policy(PolicyId=policy["Id"], TargetId=org.root)
    server.client("iam").create_user(UserName="mgmt-user-despite-scp")
    orgs.detach_policy(PolicyId=policy["Id"], TargetId=org.root)
    orgs.detach_policy(PolicyId=policy["Id"], TargetId=ou)
    iam.create_user(UserName="after-detach")
    with pytest.raises(ClientError) as exc:
        orgs.delete_policy(PolicyId="p-FullAWSAccess")
    assert error_of(exc)[2] == "IMMUTABLE_POLICY"
    orgs.delete_policy(PolicyId=policy["Id"])


def test_scp_allow_list_must_allow_at_every_level(server: Server, orgs: Any, org: Org) -> None:
    iam = member_client(server, org)
    allow_list = orgs.create_policy(
        Name="OnlyListing",
        Description="",
        Type="SERVICE_CONTROL_POLICY",
        Content=doc(
            {"Effect": "Allow", "Action": ["iam:List*", "sts:*", "organizations:*"], "Resource": "*"}
        ),
    )["Policy"]["PolicySummary"]
    # The account keeps at least one SCP: the last one cannot be detached.
    with pytest.raises(ClientError) as exc:
        orgs.detach_policy(PolicyId="p-FullAWSAccess", TargetId=org.member)
    code, _, reason = error_of(exc)
    assert code == "ConstraintViolationException" and reason == "MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED"
    orgs.attach_policy(PolicyId=allow_list["Id"], TargetId=org.member)
    orgs.detach_policy(PolicyId="p-FullAWSAccess", TargetId=org.member)
    iam.list_users()
    with pytest.raises(ClientError) as exc:
        iam.get_account_summary()
    message = error_of(exc)[1]
    assert "because no service control policy allows the iam:GetAccountSummary action" in message
    # Restore: the OU and root still allow everything.
    orgs.attach_policy(PolicyId="p-FullAWSAccess", TargetId=org.member)
    iam.get_account_summary()
    orgs.detach_policy(PolicyId=allow_list["Id"], TargetId=org.member)


def test_scp_conditions_see_the_organization_keys(server: Server, orgs: Any, org: Org) -> None:
    iam = member_client(server, org)
    path = f"{org.id}/{org.root}/{_ou(orgs, org)}/"
    policy = orgs.create_policy(
        Name="OnlyFromThisOu",
        Description="",
        Type="SERVICE_CONTROL_POLICY",
        Content=doc(
            {
                "Effect": "Deny",
                "Action": "iam:CreateGroup",
                "Resource": "*",
                "Condition": {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": [f"{path}*"]}},
            }
        ),
    )["Policy"]["PolicySummary"]
    orgs.attach_policy(PolicyId=policy["Id"], TargetId=org.root)
    with pytest.raises(ClientError):
        iam.create_group(GroupName="g1")
    orgs.detach_policy(PolicyId=policy["Id"], TargetId=org.root)
    iam.create_group(GroupName="g1")


# -- RCPs -----------------------------------------------------------------------------------------


def test_rcp_data_perimeter_on_role_trust(server: Server, orgs: Any, org: Org) -> None:
    outsider_key, outsider_secret = add_account(server, OUTSIDER, "outsider")
    iam = member_client(server, org)
    iam.create_role(
        RoleName="Partner",
        AssumeRolePolicyDocument=doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{OUTSIDER}:root"},
                "Action": "sts:AssumeRole",
            }
        ),
    )
    partner = f"arn:aws:iam::{org.member}:role/Partner"
    outsider_sts = server.client("sts", outsider_key, outsider_secret)
    assume(server, partner, outsider_sts)  # no RCPs yet
    root = orgs.enable_policy_type(RootId=org.root, PolicyType="RESOURCE_CONTROL_POLICY")["Root"]
    assert {"Type": "RESOURCE_CONTROL_POLICY", "Status": "ENABLED"} in root["PolicyTypes"]
    rcps = orgs.list_policies_for_target(TargetId=org.member, Filter="RESOURCE_CONTROL_POLICY")["Policies"]
    assert [p["Id"] for p in rcps] == ["p-RCPFullAWSAccess"]
    with pytest.raises(ClientError) as exc:
        orgs.detach_policy(PolicyId="p-RCPFullAWSAccess", TargetId=org.member)
    assert error_of(exc)[2] == "NON_DETACHABLE_POLICY"
    perimeter = orgs.create_policy(
        Name="Perimeter",
        Description="only principals of the organization",
        Type="RESOURCE_CONTROL_POLICY",
        Content=doc(
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sts:AssumeRole",
                "Resource": "*",
                "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": org.id}},
            }
        ),
    )["Policy"]["PolicySummary"]
    orgs.attach_policy(PolicyId=perimeter["Id"], TargetId=org.root)
    with pytest.raises(ClientError) as exc:
        assume(server, partner, outsider_sts)
    code, message, _ = error_of(exc)
    assert code == "AccessDenied" and "with an explicit deny in a resource control policy" in message
    # The explanation names the policy and the level that decided.
    encoded = message.split("Encoded authorization failure message: ")[1]
    decoded = outsider_sts.decode_authorization_message(EncodedMessage=encoded)["DecodedMessage"]
    assert f"Perimeter ({perimeter['Id']})" in decoded and f"root {org.root}" in decoded, decoded
    # Principals of the organization still get in (the management account's admin).
    assume(server, f"arn:aws:iam::{org.member}:role/OrganizationAccountAccessRole")
    orgs.detach_policy(PolicyId=perimeter["Id"], TargetId=org.root)
    assume(server, partner, outsider_sts)


def test_rcp_grammar_and_scp_grammar_are_enforced(orgs: Any, org: Org) -> None:
    bad = [
        ("SERVICE_CONTROL_POLICY", {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}),
        (
            "RESOURCE_CONTROL_POLICY",
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"},
        ),
        (
            "RESOURCE_CONTROL_POLICY",
            {"Effect": "Deny", "Principal": "*", "Action": "ec2:RunInstances", "Resource": "*"},
        ),
    ]
    for policy_type, statement in bad:
        with pytest.raises(ClientError) as exc:
            orgs.create_policy(Name="bad", Description="", Type=policy_type, Content=doc(statement))
        assert error_of(exc)[0] == "MalformedPolicyDocumentException", statement
    big = doc({"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::" + "x" * 5200})
    with pytest.raises(ClientError) as exc:
        orgs.create_policy(Name="big", Description="", Type="SERVICE_CONTROL_POLICY", Content=big)
    code, _, reason = error_of(exc)
    assert code == "ConstraintViolationException" and reason == "POLICY_CONTENT_LIMIT_EXCEEDED"
    assert not [
        p
        for p in orgs.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]
        if p["Name"] in ("bad", "big")
    ]


def test_attachment_quota_and_duplicates(orgs: Any, org: Org) -> None:
    created = []
    for i in range(5):
        created.append(
            orgs.create_policy(
                Name=f"q{i}",
                Description="",
                Type="SERVICE_CONTROL_POLICY",
                Content=doc({"Effect": "Deny", "Action": f"s3:Get{i}", "Resource": "*"}),
            )["Policy"]["PolicySummary"]["Id"]
        )
    ou = orgs.create_organizational_unit(ParentId=org.root, Name="quota")["OrganizationalUnit"]["Id"]
    for policy_id in created[:4]:
        orgs.attach_policy(PolicyId=policy_id, TargetId=ou)  # FullAWSAccess + 4 = 5
    with pytest.raises(ClientError) as exc:
        orgs.attach_policy(PolicyId=created[4], TargetId=ou)
    assert error_of(exc)[2] == "MAX_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED"
    with pytest.raises(ClientError) as exc:
        orgs.attach_policy(PolicyId=created[0], TargetId=ou)
    assert error_of(exc)[0] == "DuplicatePolicyAttachmentException"
    with pytest.raises(ClientError) as exc:
        orgs.delete_policy(PolicyId=created[0])
    assert error_of(exc)[0] == "PolicyInUseException"


def test_only_the_management_account_manages(server: Server, org: Org) -> None:
    member_orgs = member_client(server, org, "organizations")
    assert member_orgs.describe_organization()["Organization"]["Id"] == org.id
    for call in (
        member_orgs.list_accounts,
        lambda: member_orgs.create_account(AccountName="x", Email="x@example.com"),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_of(exc)[0] == "AccessDeniedException"


# -- invitations ----------------------------------------------------------------------------------


def test_invitation_accept_and_leave(server: Server, orgs: Any, org: Org) -> None:
    key, secret = add_account(server, INVITEE, "invitee")
    invitee = server.client("organizations", key, secret)
    with pytest.raises(ClientError) as exc:
        invitee.describe_organization()
    assert error_of(exc)[0] == "AWSOrganizationsNotInUseException"
    handshake = orgs.invite_account_to_organization(
        Target={"Type": "ACCOUNT", "Id": INVITEE}, Tags=[{"Key": "team", "Value": "blue"}]
    )["Handshake"]
    assert handshake["State"] == "OPEN" and handshake["Action"] == "INVITE"
    with pytest.raises(ClientError) as exc:
        orgs.invite_account_to_organization(Target={"Type": "ACCOUNT", "Id": INVITEE})
    assert error_of(exc)[0] == "DuplicateHandshakeException"
    received = invitee.list_handshakes_for_account()["Handshakes"]
    assert [h["Id"] for h in received] == [handshake["Id"]]
    accepted = invitee.accept_handshake(HandshakeId=handshake["Id"])["Handshake"]
    assert accepted["State"] == "ACCEPTED"
    with pytest.raises(ClientError) as exc:
        invitee.accept_handshake(HandshakeId=handshake["Id"])
    assert error_of(exc)[0] == "HandshakeAlreadyInStateException"
    assert orgs.describe_account(AccountId=INVITEE)["Account"]["JoinedMethod"] == "INVITED"
    assert orgs.list_tags_for_resource(ResourceId=INVITEE)["Tags"] == [{"Key": "team", "Value": "blue"}]
    assert invitee.describe_organization()["Organization"]["Id"] == org.id
    invitee.leave_organization()
    with pytest.raises(ClientError) as exc:
        orgs.describe_account(AccountId=INVITEE)
    assert error_of(exc)[0] == "AccountNotFoundException"
    # A created account has to wait before it can leave.
    with pytest.raises(ClientError) as exc:
        orgs.remove_account_from_organization(AccountId=org.member)
    assert error_of(exc)[2] == "WAIT_PERIOD_ACTIVE"
    with pytest.raises(ClientError) as exc:
        orgs.remove_account_from_organization(AccountId=ACCOUNT_ID)
    assert error_of(exc)[0] == "MasterCannotLeaveOrganizationException"


def test_standalone_account_runs_its_own_organization_and_deletes_it(server: Server) -> None:
    key, secret = add_account(server, "555555555555", "solo")
    solo = server.client("organizations", key, secret)
    # A caller allowed Organizations but not iam:CreateServiceLinkedRole: nothing is created.
    solo_iam = server.client("iam", key, secret)
    solo_iam.create_user(UserName="orgs-only")
    solo_iam.put_user_policy(
        UserName="orgs-only",
        PolicyName="orgs",
        PolicyDocument=doc({"Effect": "Allow", "Action": "organizations:*", "Resource": "*"}),
    )
    limited_key = solo_iam.create_access_key(UserName="orgs-only")["AccessKey"]
    limited = server.client("organizations", limited_key["AccessKeyId"], limited_key["SecretAccessKey"])
    with pytest.raises(ClientError) as exc:
        limited.create_organization()
    code, _, reason = error_of(exc)
    assert (code, reason) == (
        "AccessDeniedForDependencyException",
        "ACCESS_DENIED_DURING_CREATE_SERVICE_LINKED_ROLE",
    )
    with pytest.raises(ClientError) as exc:
        solo.describe_organization()
    assert error_of(exc)[0] == "AWSOrganizationsNotInUseException"
    created = solo.create_organization(FeatureSet="CONSOLIDATED_BILLING")["Organization"]
    assert created["FeatureSet"] == "CONSOLIDATED_BILLING" and created["MasterAccountId"] == "555555555555"
    with pytest.raises(ClientError) as exc:
        solo.create_policy(Name="p", Description="", Type="SERVICE_CONTROL_POLICY", Content=doc())
    assert error_of(exc)[0] == "PolicyTypeNotAvailableForOrganizationException"
    solo.delete_organization()
    with pytest.raises(ClientError) as exc:
        solo.describe_organization()
    assert error_of(exc)[0] == "AWSOrganizationsNotInUseException"


def test_unsupported_operations_say_why(orgs: Any, org: Org) -> None:
    with pytest.raises(ClientError) as exc:
        orgs.list_inbound_responsibility_transfers(Type="BILLING")
    code, message, _ = error_of(exc)
    assert "not supported by iamd" in message and "billing" in message
    assert code != "InternalFailure"


def test_iamd_account_create_makes_a_standalone_account_with_its_own_profile(
    server: Server, orgs: Any, org: Org
) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "iamd.cli.main",
            "account",
            "create",
            "--data-dir",
            str(server.data_dir),
            "--name",
            "partner",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    account_id = done.stdout.split("created account ")[1].split(";")[0]
    credentials = configparser.ConfigParser()
    credentials.read(server.data_dir / "credentials")
    profile = credentials[f"iamd-{account_id}"]
    assert credentials["iamd"]["aws_access_key_id"] == server.access_key_id  # the first profile is kept
    key, secret = profile["aws_access_key_id"], profile["aws_secret_access_key"]
    identity = server.client("sts", key, secret).get_caller_identity()
    assert identity["Account"] == account_id and identity["Arn"].endswith(":user/iamd-admin")
    config = configparser.ConfigParser()
    config.read(server.data_dir / "config")
    assert config[f"profile iamd-{account_id}"]["endpoint_url"] == config["profile iamd"]["endpoint_url"]
    # Standalone: not in an organization until it accepts an invitation.
    partner = server.client("organizations", key, secret)
    with pytest.raises(ClientError) as exc:
        partner.describe_organization()
    assert error_of(exc)[0] == "AWSOrganizationsNotInUseException"
    handshake = orgs.invite_account_to_organization(Target={"Type": "ACCOUNT", "Id": account_id})["Handshake"]
    partner.decline_handshake(HandshakeId=handshake["Id"])
    with pytest.raises(ClientError) as exc:
        partner.accept_handshake(HandshakeId=handshake["Id"])
    assert error_of(exc)[0] == "InvalidHandshakeTransitionException"


def test_organizations_calls_are_on_the_trail(server: Server, orgs: Any, org: Org) -> None:
    trail = server.client("cloudtrail")
    params: dict[str, Any] = {
        "LookupAttributes": [{"AttributeKey": "EventSource", "AttributeValue": "organizations.amazonaws.com"}]
    }
    events: list[dict[str, Any]] = []
    while True:
        page = trail.lookup_events(**params)
        events.extend(page["Events"])
        if not page.get("NextToken"):
            break
        params["NextToken"] = page["NextToken"]
    names = {e["EventName"] for e in events}
    assert {"CreateOrganization", "CreateAccount", "AttachPolicy"} <= names
    record = json.loads(next(e for e in events if e["EventName"] == "CreateOrganization")["CloudTrailEvent"])
    assert record["eventSource"] == "organizations.amazonaws.com" and record["awsRegion"] == "us-east-1"


# -- centralized root access ----------------------------------------------------------------------


def test_assume_root_gives_a_task_scoped_root_session_in_a_member(
    server: Server, orgs: Any, org: Org
) -> None:
    sts = server.client("sts")
    task = {"arn": "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials"}
    with pytest.raises(ClientError) as exc:
        sts.assume_root(TargetPrincipal=org.member, TaskPolicyArn=task)
    assert error_of(exc)[0] == "AccessDenied" and "ServiceAccess" not in error_of(exc)[0]
    orgs.enable_aws_service_access(ServicePrincipal="iam.amazonaws.com")
    server.client("iam").enable_organizations_root_sessions()
    with pytest.raises(ClientError) as exc:
        sts.assume_root(TargetPrincipal=ACCOUNT_ID, TaskPolicyArn=task)  # not a member account
    assert "not a member account" in error_of(exc)[1]
    creds = sts.assume_root(TargetPrincipal=org.member, TaskPolicyArn=task, DurationSeconds=900)[
        "Credentials"
    ]
    session = (creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    identity = server.client("sts", *session).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:iam::{org.member}:root"
    iam = server.client("iam", *session)
    iam.get_account_summary()  # allowed by the task policy
    with pytest.raises(ClientError) as exc:
        iam.create_user(UserName="from-root-session")
    assert "with an explicit deny in a session policy" in error_of(exc)[1]
    # The member's SCPs apply, and see aws:AssumedRoot.
    guard = orgs.create_policy(
        Name="NoRootSessions",
        Description="",
        Type="SERVICE_CONTROL_POLICY",
        Content=doc(
            {
                "Effect": "Deny",
                "Action": "iam:GetAccountSummary",
                "Resource": "*",
                "Condition": {"Bool": {"aws:AssumedRoot": "true"}},
            }
        ),
    )["Policy"]["PolicySummary"]["Id"]
    orgs.attach_policy(PolicyId=guard, TargetId=org.member)
    with pytest.raises(ClientError) as exc:
        iam.get_account_summary()
    assert "with an explicit deny in a service control policy" in error_of(exc)[1]
    member_client(server, org).get_account_summary()  # the role session is not an assumed root
    orgs.detach_policy(PolicyId=guard, TargetId=org.member)


def test_management_policies_and_effective_policy(server: Server, orgs: Any, org: Org) -> None:
    orgs.enable_policy_type(RootId=org.root, PolicyType="TAG_POLICY")
    at_root = {
        "tags": {"costcenter": {"tag_key": {"@@assign": "CostCenter"}, "tag_value": {"@@assign": ["a"]}}}
    }
    at_account = {"tags": {"costcenter": {"tag_value": {"@@append": ["b"]}}}}
    for name, content, target in (("root-tags", at_root, org.root), ("dev-tags", at_account, org.member)):
        policy = orgs.create_policy(Name=name, Description="", Type="TAG_POLICY", Content=json.dumps(content))
        orgs.attach_policy(PolicyId=policy["Policy"]["PolicySummary"]["Id"], TargetId=target)
    member_orgs = member_client(server, org, "organizations")
    effective = member_orgs.describe_effective_policy(PolicyType="TAG_POLICY")["EffectivePolicy"]
    assert effective["TargetId"] == org.member
    assert json.loads(effective["PolicyContent"]) == {
        "tags": {"costcenter": {"tag_key": "CostCenter", "tag_value": ["a", "b"]}}
    }
    with pytest.raises(ClientError) as exc:
        orgs.describe_effective_policy(PolicyType="BACKUP_POLICY", TargetId=org.member)
    assert error_of(exc)[0] == "EffectivePolicyNotFoundException"


def test_create_account_failure_is_reported_asynchronously(orgs: Any, org: Org) -> None:
    status = orgs.create_account(AccountName="again", Email="dev@example.com")["CreateAccountStatus"]
    assert status["State"] == "IN_PROGRESS"
    final = orgs.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]
    assert (final["State"], final["FailureReason"]) == ("FAILED", "EMAIL_ALREADY_EXISTS")
    assert "again" not in {a["Name"] for a in orgs.list_accounts()["Accounts"]}


def test_a_closed_account_can_no_longer_act(server: Server, orgs: Any, org: Org) -> None:
    doomed = create_account(orgs, "doomed", "doomed@example.com")
    creds = assume(server, f"arn:aws:iam::{doomed}:role/OrganizationAccountAccessRole")
    iam = server.client("iam", creds["key_id"], creds["secret"], creds["token"])
    iam.list_roles()
    orgs.close_account(AccountId=doomed)
    assert orgs.describe_account(AccountId=doomed)["Account"]["State"] == "SUSPENDED"
    with pytest.raises(ClientError) as exc:
        iam.list_roles()
    assert "is closed" in error_of(exc)[1]
    with pytest.raises(ClientError) as exc:
        orgs.close_account(AccountId=doomed)
    assert error_of(exc)[0] == "AccountAlreadyClosedException"


def test_root_set_password_still_defaults_to_the_management_account(server: Server, org: Org) -> None:
    """Member and standalone accounts may have smaller ids than the first account."""
    add_account(server, "100000000000", "small-id")
    done = subprocess.run(
        [sys.executable, "-m", "iamd.cli.main", "root", "set-password", "--data-dir", str(server.data_dir)],
        input="Correct-Horse-42!\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"root password set for account {ACCOUNT_ID}" in done.stdout


# -- Access Analyzer with the organization as its zone of trust ---------------------------------


def test_an_organization_analyzer_sees_member_roles_opened_outside_the_organization(
    server: Server, orgs: Any, org: Org
) -> None:
    """Access Analyzer's ORGANIZATION analyzer needs trusted access for
    access-analyzer.amazonaws.com (until then: "Service not enabled for AWS Organizations"); its
    zone of trust is every account of the organization, so a member role trusting the management
    account is no finding, and one trusting an account outside is, resolved once fixed
    (access_analyzer_api.md §1.2, §2.2)."""
    analyzer = server.client("accessanalyzer")
    with pytest.raises(ClientError) as refused:
        analyzer.create_analyzer(analyzerName="org-wide", type="ORGANIZATION")
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    orgs.enable_aws_service_access(ServicePrincipal="access-analyzer.amazonaws.com")
    arn = analyzer.create_analyzer(analyzerName="org-wide", type="ORGANIZATION")["arn"]
    iam = member_client(server, org)

    def trust(account: str) -> str:
        return doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "sts:AssumeRole",
            }
        )

    iam.create_role(RoleName="FromManagement", AssumeRolePolicyDocument=trust(ACCOUNT_ID))
    iam.create_role(RoleName="FromOutside", AssumeRolePolicyDocument=trust(OUTSIDER))
    findings = analyzer.list_findings(analyzerArn=arn)["findings"]
    by_resource = {f["resource"]: f for f in findings}
    outside = f"arn:aws:iam::{org.member}:role/FromOutside"
    assert outside in by_resource and by_resource[outside]["status"] == "ACTIVE"
    assert by_resource[outside]["resourceOwnerAccount"] == org.member
    assert by_resource[outside]["principal"] == {"AWS": f"arn:aws:iam::{OUTSIDER}:root"}
    assert f"arn:aws:iam::{org.member}:role/FromManagement" not in by_resource
    # Fixed in the member account: the organization analyzer's finding is resolved at once.
    iam.update_assume_role_policy(RoleName="FromOutside", PolicyDocument=trust(ACCOUNT_ID))
    statuses = {f["resource"]: f["status"] for f in analyzer.list_findings(analyzerArn=arn)["findings"]}
    assert statuses[outside] == "RESOLVED"
    analyzer.delete_analyzer(analyzerName="org-wide")


def test_what_the_model_refuses_is_invalid_input_with_awss_reason(orgs: Any, org: Org) -> None:
    """Organizations answers a broken model constraint with InvalidInputException and a reason
    (the API reference's InvalidInputException: INVALID_PATTERN "You provided a value that
    doesn't match the required pattern.", MAX_LENGTH_EXCEEDED, INVALID_ENUM, …), not the
    ValidationException other JSON services send; the message still names the member."""
    with pytest.raises(ClientError) as refused:
        orgs.describe_account(AccountId="123")
    code, message, reason = error_of(refused)
    assert (code, reason) == ("InvalidInputException", "INVALID_PATTERN")
    assert message.startswith("You provided a value that doesn't match the required pattern.")
    assert "'accountId'" in message or "'AccountId'" in message
    with pytest.raises(ClientError) as long_name:
        orgs.create_organizational_unit(ParentId=org.root, Name="n" * 129)
    assert error_of(long_name)[::2] == ("InvalidInputException", "MAX_LENGTH_EXCEEDED")
    with pytest.raises(ClientError) as bad_type:
        orgs.list_policies(Filter="NOT_A_POLICY_TYPE")
    assert error_of(bad_type)[::2] == ("InvalidInputException", "INVALID_ENUM")


def test_each_root_task_policy_acts_on_the_members_root_and_nothing_else(
    server: Server, orgs: Any, org: Org
) -> None:
    """sts:AssumeRoot with each of AWS's five root task policies (id_root-user-privileged-task):
    IAMCreateRootUserPassword gives the member's root a password, IAMAuditRootUserCredentials sees
    it, IAMDeleteRootUserCredentials deletes it; S3UnlockBucketPolicy and SQSUnlockQueuePolicy
    give root sessions too, scoped to their tasks (no IAM). Each session is the member's root."""
    orgs.enable_aws_service_access(ServicePrincipal="iam.amazonaws.com")  # (idempotent)
    features = server.client("iam").list_organizations_features()["EnabledFeatures"]
    if "RootSessions" not in features:
        server.client("iam").enable_organizations_root_sessions()
    sts = server.client("sts")

    def root_session(task: str, service: str = "iam") -> Any:
        creds = sts.assume_root(
            TargetPrincipal=org.member,
            TaskPolicyArn={"arn": f"arn:aws:iam::aws:policy/root-task/{task}"},
            DurationSeconds=900,
        )["Credentials"]
        session = (creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
        assert (
            server.client("sts", *session).get_caller_identity()["Arn"] == f"arn:aws:iam::{org.member}:root"
        )
        return server.client(service, *session)

    create = root_session("IAMCreateRootUserPassword")
    create.create_login_profile(Password="Root-Passw0rd-For-Tests!")
    with pytest.raises(ClientError) as refused:
        create.list_access_keys()  # outside the task
    assert error_of(refused)[0] == "AccessDenied"

    audit = root_session("IAMAuditRootUserCredentials")
    assert "CreateDate" in audit.get_login_profile()["LoginProfile"]
    assert audit.list_access_keys()["AccessKeyMetadata"] == []
    assert audit.list_mfa_devices()["MFADevices"] == []
    with pytest.raises(ClientError) as refused:
        audit.delete_login_profile()  # auditing deletes nothing
    assert error_of(refused)[0] == "AccessDenied"

    delete = root_session("IAMDeleteRootUserCredentials")
    delete.delete_login_profile()
    with pytest.raises(ClientError) as gone:
        root_session("IAMAuditRootUserCredentials").get_login_profile()
    assert error_of(gone)[0] == "NoSuchEntity"

    for task in ("S3UnlockBucketPolicy", "SQSUnlockQueuePolicy"):
        iam = root_session(task)
        with pytest.raises(ClientError) as refused:
            iam.get_account_summary()  # these tasks unlock a bucket or queue policy, nothing in IAM
        assert error_of(refused)[0] == "AccessDenied"
    with pytest.raises(ClientError) as unknown:
        sts.assume_root(
            TargetPrincipal=org.member,
            TaskPolicyArn={"arn": "arn:aws:iam::aws:policy/AdministratorAccess"},
        )
    assert error_of(unknown)[0] in ("AccessDenied", "ValidationError", "InvalidParameterValue")
