"""Account-wide IAM features end to end: the STS global endpoint token version, account
properties, ListPoliciesGrantingServiceAccess, the Organizations-only operations (answered as AWS
answers an account outside an organization, a member account, a management account), and the
operations iamd leaves unsupported."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import update
from tests.e2e.harness import ACCOUNT_ID, Server, new_user_client
from tests.e2e.policy_helpers import error_of
from tests.e2e.policy_helpers import policy as doc

from iamd.secrets import RandomIds, load_kek
from iamd.store import AWS_ACCOUNT, default_url, open_store
from iamd.store.schema import Account

ORG_PATH = "o-a1b2c3d4e5/r-f6g7h8i9j0example/ou-rge0-awsabcde/123456789012"


def allow(action: str | list[str], condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": "*"}
    if condition:
        statement["Condition"] = condition
    return statement


@pytest.fixture(scope="module")
def nobody(server: Server, iam: Any) -> Any:
    """An IAM client for a user with no permissions at all."""
    return new_user_client(server, iam, "features-nobody")


def org_account(server: Server, account_id: str, role: str) -> Any:
    """An account in organization o-exampleorg1 (as ``role``: member or management), with an
    administrator; made through the store, as iamd has no Organizations API yet."""
    ids = RandomIds()
    now = datetime.now(UTC)
    key_id, secret = ids.access_key_id(), ids.secret_access_key()
    store = open_store(default_url(server.data_dir), kek=load_kek(server.data_dir), migrate=False)
    try:
        with store.transaction() as uow:
            uow.accounts.create(account_id, name=f"org-{role}", created_at=now)
            uow.session.execute(
                update(Account)
                .where(Account.id == account_id)
                .values(organization_id="o-exampleorg1", organization_role=role)
            )
            user = uow.users.create(account_id, user_id=ids.user_id(), name="admin", path="/", created_at=now)
            admin_policy = uow.policies.get(AWS_ACCOUNT, "AdministratorAccess")
            uow.policies.attach(admin_policy.id, "user", user.id, account_id=account_id)
            uow.access_keys.create(
                account_id, key_id=key_id, user_id=user.id, secret_access_key=secret, created_at=now
            )
    finally:
        store.close()
    return server.client("iam", key_id, secret)


# -- SetSecurityTokenServicePreferences and GetAccountSummary -------------------------------------


def test_token_version_shows_in_the_account_summary(server: Server, iam: Any) -> None:
    def version() -> int:
        return int(iam.get_account_summary()["SummaryMap"]["GlobalEndpointTokenVersion"])

    assert version() == 1
    iam.set_security_token_service_preferences(GlobalEndpointTokenVersion="v2Token")
    assert version() == 2
    iam.set_security_token_service_preferences(GlobalEndpointTokenVersion="v1Token")
    assert version() == 1
    with pytest.raises(ClientError) as refused:
        iam.set_security_token_service_preferences(GlobalEndpointTokenVersion="v3Token")
    status, code, message = error_of(refused)
    assert (status, code) == (400, "ValidationError")
    # IAM's current form names the member, not the value or the allowed set (test_aws_shapes.py).
    assert message == (
        "1 validation error detected: Value at 'globalEndpointTokenVersion' failed to satisfy "
        "constraint: Member must satisfy enum value set"
    )


def test_token_version_change_is_on_the_trail(server: Server, iam: Any) -> None:
    iam.set_security_token_service_preferences(GlobalEndpointTokenVersion="v2Token")
    trail = server.client("cloudtrail")
    events = trail.lookup_events(
        LookupAttributes=[
            {"AttributeKey": "EventName", "AttributeValue": "SetSecurityTokenServicePreferences"}
        ]
    )["Events"]
    assert events
    record = json.loads(events[0]["CloudTrailEvent"])
    assert record["requestParameters"] == {"globalEndpointTokenVersion": "v2Token"}
    iam.set_security_token_service_preferences(GlobalEndpointTokenVersion="v1Token")


# -- Get/PutAccountProperties ----------------------------------------------------------------------


def test_account_properties_are_kept_by_key(iam: Any) -> None:
    iam.put_account_properties(Properties={"RoleManager/Enabled": "true", "RoleManager/Mode": "audit"})
    iam.put_account_properties(Properties={"RoleManager/Mode": "enforce"})
    iam.put_account_properties(Properties={"Other_ns/Setting-1": "x"})
    assert iam.get_account_properties()["Properties"] == {
        "RoleManager/Enabled": "true",
        "RoleManager/Mode": "enforce",
        "Other_ns/Setting-1": "x",
    }


@pytest.mark.parametrize(
    ("properties", "status", "code", "text"),
    [
        ({"RoleManager/A": "1", "Other/B": "2"}, 400, "InvalidInput", "same namespace"),
        ({"RoleManager/A/B": "1"}, 400, "InvalidInput", "RoleManager/A/B"),
        ({"RoleManager": "1"}, 400, "InvalidInput", "Namespace/PropertyName"),
        ({"RoleManager/": "1"}, 400, "InvalidInput", "RoleManager/"),
        ({"9RoleManager/A": "1"}, 400, "ValidationError", "Value at 'properties'"),
        ({"RoleManager/A": "v" * 1025}, 400, "ValidationError", "1024"),
    ],
)
def test_bad_account_properties_are_refused(
    iam: Any, properties: dict[str, str], status: int, code: str, text: str
) -> None:
    before = iam.get_account_properties()["Properties"]
    with pytest.raises(ClientError) as refused:
        iam.put_account_properties(Properties=properties)
    got_status, got_code, message = error_of(refused)
    assert (got_status, got_code) == (status, code)
    assert text in message
    assert iam.get_account_properties()["Properties"] == before


def test_account_property_namespaces_condition_key(server: Server, iam: Any) -> None:
    limited = new_user_client(
        server,
        iam,
        "props-rolemanager-only",
        doc(
            allow(
                "iam:PutAccountProperties",
                {"ForAllValues:StringEquals": {"iam:AccountPropertyNamespaces": "RoleManager"}},
            )
        ),
    )
    limited.put_account_properties(Properties={"RoleManager/Limited": "yes"})
    with pytest.raises(ClientError) as denied:
        limited.put_account_properties(Properties={"Other_ns/Limited": "no"})
    status, code, message = error_of(denied)
    assert (status, code) == (403, "AccessDenied")
    assert "iam:PutAccountProperties" in message
    properties = iam.get_account_properties()["Properties"]
    assert properties["RoleManager/Limited"] == "yes"
    assert "Other_ns/Limited" not in properties


# -- ListPoliciesGrantingServiceAccess ---------------------------------------------------------------


@pytest.fixture(scope="module")
def granting(iam: Any) -> dict[str, str]:
    """User ``lp-user`` (inline s3 reads; in group ``lp-group``), group ``lp-group`` (managed
    ``lp-ec2`` and an inline NotAction iam:*), role ``lp-role`` (managed ``lp-ec2``, an inline Deny)."""
    ec2 = iam.create_policy(
        PolicyName="lp-ec2", PolicyDocument=doc(allow(["ec2:Describe*", "EC2:StartInstances"]))
    )["Policy"]["Arn"]
    user = iam.create_user(UserName="lp-user", Path="/team/")["User"]["Arn"]
    iam.put_user_policy(UserName="lp-user", PolicyName="s3-read", PolicyDocument=doc(allow("s3:Get*")))
    iam.put_user_policy(
        UserName="lp-user", PolicyName="no-such-actions", PolicyDocument=doc(allow("s3:NoSuchAction*"))
    )
    group = iam.create_group(GroupName="lp-group")["Group"]["Arn"]
    iam.attach_group_policy(GroupName="lp-group", PolicyArn=ec2)
    iam.put_group_policy(
        GroupName="lp-group",
        PolicyName="all-but-iam",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}}
        ),
    )
    iam.add_user_to_group(GroupName="lp-group", UserName="lp-user")
    role = iam.create_role(
        RoleName="lp-role",
        AssumeRolePolicyDocument=doc(
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ),
    )["Role"]["Arn"]
    iam.attach_role_policy(RoleName="lp-role", PolicyArn=ec2)
    iam.put_role_policy(
        RoleName="lp-role",
        PolicyName="deny-s3",
        PolicyDocument=doc({"Effect": "Deny", "Action": "s3:*", "Resource": "*"}),
    )
    return {"user": user, "group": group, "role": role, "ec2": ec2}


def by_namespace(answer: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    assert answer["IsTruncated"] is False
    return {e["ServiceNamespace"]: e["Policies"] for e in answer["PoliciesGrantingServiceAccess"]}


def test_policies_granting_access_to_a_user_include_its_groups(iam: Any, granting: dict[str, str]) -> None:
    found = by_namespace(
        iam.list_policies_granting_service_access(
            Arn=granting["user"], ServiceNamespaces=["s3", "ec2", "iam"]
        )
    )
    group_inline = {
        "PolicyName": "all-but-iam",
        "PolicyType": "INLINE",
        "EntityType": "GROUP",
        "EntityName": "lp-group",
    }
    managed = {"PolicyName": "lp-ec2", "PolicyType": "MANAGED", "PolicyArn": granting["ec2"]}
    user_inline = {
        "PolicyName": "s3-read",
        "PolicyType": "INLINE",
        "EntityType": "USER",
        "EntityName": "lp-user",
    }
    assert sorted(found) == ["ec2", "iam", "s3"]
    assert sorted(found["s3"], key=str) == sorted([user_inline, group_inline], key=str)
    assert sorted(found["ec2"], key=str) == sorted([managed, group_inline], key=str)
    assert found["iam"] == []


def test_policies_granting_access_to_a_group_and_a_role(iam: Any, granting: dict[str, str]) -> None:
    group = by_namespace(
        iam.list_policies_granting_service_access(Arn=granting["group"], ServiceNamespaces=["s3", "ec2"])
    )
    assert [p["PolicyName"] for p in group["s3"]] == ["all-but-iam"]
    assert sorted(p["PolicyName"] for p in group["ec2"]) == ["all-but-iam", "lp-ec2"]
    role = by_namespace(
        iam.list_policies_granting_service_access(Arn=granting["role"], ServiceNamespaces=["s3", "ec2"])
    )
    assert role["s3"] == []  # a Deny grants nothing
    assert role["ec2"] == [{"PolicyName": "lp-ec2", "PolicyType": "MANAGED", "PolicyArn": granting["ec2"]}]


@pytest.mark.parametrize(
    ("arn", "status", "code", "text"),
    [
        (f"arn:aws:iam::{ACCOUNT_ID}:user/nobody-here", 404, "NoSuchEntity", "nobody-here"),
        (f"arn:aws:iam::{ACCOUNT_ID}:user/other-path/lp-user", 404, "NoSuchEntity", "lp-user"),
        (f"arn:aws:iam::{ACCOUNT_ID}:role/no-role", 404, "NoSuchEntity", "no-role"),
        (f"arn:aws:iam::{ACCOUNT_ID}:policy/lp-ec2", 400, "InvalidInput", "users, groups and roles"),
        ("not-an-arn-at-all-really", 400, "InvalidInput", "not-an-arn-at-all-really"),
        ("arn:aws:iam::999999999999:user/lp-user", 404, "NoSuchEntity", "999999999999"),
    ],
)
def test_policies_granting_access_refusals(
    iam: Any, granting: dict[str, str], arn: str, status: int, code: str, text: str
) -> None:
    with pytest.raises(ClientError) as refused:
        iam.list_policies_granting_service_access(Arn=arn, ServiceNamespaces=["s3"])
    got_status, got_code, message = error_of(refused)
    assert (got_status, got_code) == (status, code)
    assert text in message


def test_policies_granting_access_needs_permission_on_the_entity(
    server: Server, iam: Any, granting: dict[str, str]
) -> None:
    reader = new_user_client(
        server,
        iam,
        "lp-reader",
        doc(
            {
                "Effect": "Allow",
                "Action": "iam:ListPoliciesGrantingServiceAccess",
                "Resource": granting["role"],
            }
        ),
    )
    reader.list_policies_granting_service_access(Arn=granting["role"], ServiceNamespaces=["ec2"])
    with pytest.raises(ClientError) as denied:
        reader.list_policies_granting_service_access(Arn=granting["user"], ServiceNamespaces=["ec2"])
    status, code, message = error_of(denied)
    assert (status, code) == (403, "AccessDenied")
    assert granting["user"] in message


# -- Organizations-only operations ------------------------------------------------------------------

ROOT_ACCESS = [
    "enable_organizations_root_credentials_management",
    "disable_organizations_root_credentials_management",
    "enable_organizations_root_sessions",
    "disable_organizations_root_sessions",
    "list_organizations_features",
]


@pytest.mark.parametrize("method", ROOT_ACCESS)
def test_centralized_root_access_outside_an_organization(iam: Any, method: str) -> None:
    with pytest.raises(ClientError) as refused:
        getattr(iam, method)()
    status, code, message = error_of(refused)
    assert (status, code) == (400, "OrganizationNotFoundException")
    assert f"Account {ACCOUNT_ID} is not in an organization" in message


@pytest.mark.parametrize(
    ("account_id", "role", "expected"),
    [
        ("333333333333", "member", "AccountNotManagementOrDelegatedAdministratorException"),
        ("444444444444", "management", "ServiceAccessNotEnabledException"),
    ],
)
def test_centralized_root_access_inside_an_organization(
    server: Server, account_id: str, role: str, expected: str
) -> None:
    client = org_account(server, account_id, role)
    for method in ROOT_ACCESS:
        with pytest.raises(ClientError) as refused:
            getattr(client, method)()
        status, code, message = error_of(refused)
        assert (status, code) == (400, expected)
        assert "o-exampleorg1" in message


def test_organizations_access_report(iam: Any) -> None:
    with pytest.raises(ClientError) as refused:
        iam.generate_organizations_access_report(EntityPath=ORG_PATH)
    status, code, message = error_of(refused)
    assert (status, code) == (400, "InvalidInput")
    assert "not in an organization" in message
    with pytest.raises(ClientError) as missing:
        iam.get_organizations_access_report(JobId="0" * 8 + "-0000-0000-0000-" + "0" * 12)
    assert error_of(missing)[:2] == (404, "NoSuchEntity")


# -- denied without permission -----------------------------------------------------------------------

CALLS: list[tuple[str, Callable[[Any], Any]]] = [
    (
        "iam:SetSecurityTokenServicePreferences",
        lambda c: c.set_security_token_service_preferences(GlobalEndpointTokenVersion="v2Token"),
    ),
    ("iam:GetAccountProperties", lambda c: c.get_account_properties()),
    ("iam:PutAccountProperties", lambda c: c.put_account_properties(Properties={"RoleManager/X": "1"})),
    (
        "iam:ListPoliciesGrantingServiceAccess",
        lambda c: c.list_policies_granting_service_access(
            Arn=f"arn:aws:iam::{ACCOUNT_ID}:user/iamd-admin", ServiceNamespaces=["iam"]
        ),
    ),
    ("iam:EnableOrganizationsRootSessions", lambda c: c.enable_organizations_root_sessions()),
    ("iam:ListOrganizationsFeatures", lambda c: c.list_organizations_features()),
    (
        "iam:GenerateOrganizationsAccessReport",
        lambda c: c.generate_organizations_access_report(EntityPath=ORG_PATH),
    ),
    ("iam:GetOrganizationsAccessReport", lambda c: c.get_organizations_access_report(JobId="1" * 36)),
]


@pytest.mark.parametrize(("action", "call"), CALLS, ids=[a for a, _ in CALLS])
def test_denied_without_permission(nobody: Any, action: str, call: Callable[[Any], Any]) -> None:
    with pytest.raises(ClientError) as denied:
        call(nobody)
    status, code, message = error_of(denied)
    assert (status, code) == (403, "AccessDenied")
    assert action in message


# -- unsupported ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "kwargs", "reason"),
    [
        ("list_delegation_requests", {}, "delegation requests"),
        ("get_delegation_request", {"DelegationRequestId": "abcdef1234567890"}, "delegation requests"),
        (
            "get_human_readable_summary",
            {"EntityArn": f"arn:aws:iam::{ACCOUNT_ID}:delegation-request/x"},
            "large language model",
        ),
        ("get_role_template_version", {"TemplateArn": "arn:aws:iam::aws:role-template/x"}, "role templates"),
        (
            "update_open_id_connect_provider",
            {
                "OpenIDConnectProviderArn": f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/example.com",
                "RemoveContextProvider": True,
            },
            "Identity Center",
        ),
    ],
)
def test_unsupported_operations_say_why(iam: Any, method: str, kwargs: dict[str, Any], reason: str) -> None:
    with pytest.raises(ClientError) as refused:
        getattr(iam, method)(**kwargs)
    status, code, message = error_of(refused)
    assert (status, code) == (400, "UnsupportedOperation")
    assert "not supported by iamd" in message and reason in message
