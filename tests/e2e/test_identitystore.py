"""The ``identitystore`` API end to end with boto3: every operation, AWS's errors (uniqueness
ConflictException with its Reason, ValidationException, ResourceNotFoundException with its
ResourceType), paging with NextToken, the deprecated filters, revisions, and the network controls."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.e2e.harness import ACCOUNT_ID, Server, open_data_store

STORE = ""  # set by the ids fixture


@pytest.fixture(scope="module")
def ids(server: Server) -> Iterator[Any]:
    """The identitystore client, after enabling Identity Center (an account instance: the
    bootstrap account is in no organization) whose identity store the tests use."""
    global STORE
    sso = server.client("sso-admin")
    arn = sso.create_instance(Name="people")["InstanceArn"]
    STORE = sso.describe_instance(InstanceArn=arn)["IdentityStoreId"]
    assert STORE.startswith("d-") and len(STORE) == 12
    yield server.client("identitystore")


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def _user(ids: Any, name: str, email: str | None = None, **extra: Any) -> str:
    params: dict[str, Any] = {
        "IdentityStoreId": STORE,
        "UserName": name,
        "DisplayName": name.title(),
        "Name": {"GivenName": name.title(), "FamilyName": "Example"},
        **extra,
    }
    if email:
        params["Emails"] = [{"Value": email, "Type": "work", "Primary": True}]
    return str(ids.create_user(**params)["UserId"])


def test_create_and_describe_a_user_with_every_attribute(ids: Any) -> None:
    created = ids.create_user(
        IdentityStoreId=STORE,
        UserName="jdoe",
        DisplayName="John Doe",
        Name={"GivenName": "John", "FamilyName": "Doe", "MiddleName": "Q", "HonorificPrefix": "Dr"},
        NickName="Johnny",
        ProfileUrl="https://example.com/jdoe",
        Emails=[{"Value": "jdoe@example.com", "Type": "work", "Primary": True}],
        Addresses=[{"StreetAddress": "1 Main St", "Locality": "Seattle", "Country": "US", "Type": "work"}],
        PhoneNumbers=[{"Value": "+1 206 555 0100", "Type": "work", "Primary": True}],
        UserType="Employee",
        Title="Engineer",
        PreferredLanguage="en-US",
        Locale="en-US",
        Timezone="America/Los_Angeles",
        Website="https://example.com",
        Birthdate="1990-01-02",
        Photos=[{"Value": "https://example.com/p.png", "Primary": True}],
        Roles=[{"Value": "dev", "Type": "work"}],
        Extensions={"aws:identitystore:enterprise": {"department": "R&D", "costCenter": "42"}},
    )
    user_id = created["UserId"]
    assert user_id.startswith(STORE[2:] + "-")
    assert created["UserArn"] == f"arn:aws:identitystore:::user/{user_id}"
    assert created["Revision"] == "1"
    user = ids.describe_user(IdentityStoreId=STORE, UserId=user_id)
    assert user["UserName"] == "jdoe" and user["DisplayName"] == "John Doe"
    assert user["Name"]["HonorificPrefix"] == "Dr"
    assert user["Emails"] == [{"Value": "jdoe@example.com", "Type": "work", "Primary": True}]
    assert user["Addresses"][0]["Locality"] == "Seattle"
    assert user["Birthdate"] == "1990-01-02" and user["Timezone"] == "America/Los_Angeles"
    assert user["UserStatus"] == "ENABLED"
    assert user["CreatedBy"].startswith(f"arn:aws:iam::{ACCOUNT_ID}:")
    assert "Extensions" not in user  # only when asked for
    with_ext = ids.describe_user(
        IdentityStoreId=STORE, UserId=user_id, Extensions=["aws:identitystore:enterprise"]
    )
    assert with_ext["Extensions"]["aws:identitystore:enterprise"] == {"department": "R&D", "costCenter": "42"}
    # The ARN forms are accepted too.
    by_arn = ids.describe_user(
        IdentityStoreId=f"arn:aws:identitystore::{ACCOUNT_ID}:identitystore/{STORE}",
        UserId=created["UserArn"],
    )
    assert by_arn["UserId"] == user_id


def test_user_name_email_and_group_name_are_unique(ids: Any) -> None:
    _user(ids, "unique1", "unique1@example.com")
    for params in (
        {"UserName": "UNIQUE1"},
        {"UserName": "other", "Emails": [{"Value": "Unique1@Example.com", "Primary": True}]},
    ):
        with pytest.raises(ClientError) as exc:
            ids.create_user(
                IdentityStoreId=STORE, DisplayName="X", Name={"GivenName": "X", "FamilyName": "Y"}, **params
            )
        assert _code(exc) == "ConflictException"
        assert exc.value.response["Reason"] == "UNIQUENESS_CONSTRAINT_VIOLATION"
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    ids.create_group(IdentityStoreId=STORE, DisplayName="Uniq")
    with pytest.raises(ClientError) as exc:
        ids.create_group(IdentityStoreId=STORE, DisplayName="uniq")
    assert _code(exc) == "ConflictException"


def test_validation_errors_say_what_was_wrong(ids: Any) -> None:
    cases = [
        ({"UserName": "has space", "DisplayName": "D", "Name": {"GivenName": "a"}}, "'userName'"),
        ({"UserName": "Administrator", "DisplayName": "D", "Name": {"GivenName": "a"}}, "reserved"),
        ({"UserName": "nodisplay", "Name": {"GivenName": "a"}}, "DisplayName is required"),
        ({"UserName": "noname", "DisplayName": "D"}, "Name is required"),
        (
            {
                "UserName": "badext",
                "DisplayName": "D",
                "Name": {"GivenName": "a"},
                "Extensions": {"aws:identitystore:other": {}},
            },
            "aws:identitystore:enterprise",
        ),
        (
            {
                "UserName": "twophotos",
                "DisplayName": "D",
                "Name": {"GivenName": "a"},
                "Photos": [{"Value": "a", "Primary": True}, {"Value": "b", "Primary": True}],
            },
            "primary",
        ),
    ]
    for params, words in cases:
        with pytest.raises(ClientError) as exc:
            ids.create_user(IdentityStoreId=STORE, **params)
        assert _code(exc) == "ValidationException", params
        assert words in exc.value.response["Error"]["Message"], exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        ids.list_users(IdentityStoreId=STORE, MaxResults=101)
    assert _code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        ids.list_users(IdentityStoreId=STORE, NextToken="garbage")
    assert _code(exc) == "ValidationException"


def test_not_found_names_the_resource_type(ids: Any) -> None:
    missing = STORE[2:] + "-00000000-0000-0000-0000-000000000000"
    for call, kind in (
        (lambda: ids.describe_user(IdentityStoreId=STORE, UserId=missing), "USER"),
        (lambda: ids.describe_group(IdentityStoreId=STORE, GroupId=missing), "GROUP"),
        (
            lambda: ids.describe_group_membership(IdentityStoreId=STORE, MembershipId=missing),
            "GROUP_MEMBERSHIP",
        ),
        (lambda: ids.list_users(IdentityStoreId="d-0000000000"), "IDENTITY_STORE"),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert _code(exc) == "ResourceNotFoundException"
        assert exc.value.response["ResourceType"] == kind


def test_get_user_id_by_user_name_email_and_external_id(ids: Any, server: Server) -> None:
    user_id = _user(ids, "finder", "finder@example.com")
    for path, value in (
        ("userName", "finder"),
        ("UserName", "FINDER"),
        ("emails.value", "finder@example.com"),
    ):
        got = ids.get_user_id(
            IdentityStoreId=STORE,
            AlternateIdentifier={"UniqueAttribute": {"AttributePath": path, "AttributeValue": value}},
        )
        assert got["UserId"] == user_id and got["UserArn"].endswith(user_id)
    # External ids come from SCIM: give the user one through the store, as provisioning would.
    from iamd.store.identity_store import ExternalId

    store = open_data_store(server)
    try:
        with store.transaction() as uow:
            uow.identity_store.update_user(
                STORE,
                user_id,
                external_ids=[ExternalId("https://okta.example.com", "00u-finder")],
                updated_at=datetime.now(UTC),
                updated_by="SCIM",
            )
    finally:
        store.close()
    got = ids.get_user_id(
        IdentityStoreId=STORE,
        AlternateIdentifier={"ExternalId": {"Issuer": "https://okta.example.com", "Id": "00u-finder"}},
    )
    assert got["UserId"] == user_id
    with pytest.raises(ClientError) as exc:
        ids.get_user_id(
            IdentityStoreId=STORE,
            AlternateIdentifier={
                "UniqueAttribute": {"AttributePath": "userName", "AttributeValue": "nobody"}
            },
        )
    assert _code(exc) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        ids.get_user_id(
            IdentityStoreId=STORE,
            AlternateIdentifier={"UniqueAttribute": {"AttributePath": "title", "AttributeValue": "x"}},
        )
    assert _code(exc) == "ValidationException"


def test_update_user_operations_and_revision(ids: Any) -> None:
    user_id = _user(ids, "changer", "changer@example.com", Title="Intern")
    result = ids.update_user(
        IdentityStoreId=STORE,
        UserId=user_id,
        Operations=[
            {"AttributePath": "name.givenName", "AttributeValue": "Chang"},
            {"AttributePath": "displayName", "AttributeValue": "Chang Er"},
            {"AttributePath": "title"},  # no value: removed
            {"AttributePath": "aws:identitystore:enterprise.department", "AttributeValue": "Ops"},
        ],
    )
    assert result["Revision"] == "2"
    user = ids.describe_user(
        IdentityStoreId=STORE, UserId=user_id, Extensions=["aws:identitystore:enterprise"]
    )
    assert user["Name"]["GivenName"] == "Chang" and user["DisplayName"] == "Chang Er"
    assert "Title" not in user
    assert user["Extensions"]["aws:identitystore:enterprise"] == {"department": "Ops"}
    with pytest.raises(ClientError) as exc:
        ids.update_user(
            IdentityStoreId=STORE,
            UserId=user_id,
            Revision="1",
            Operations=[{"AttributePath": "nickName", "AttributeValue": "late"}],
        )
    assert _code(exc) == "ConflictException" and exc.value.response["Reason"] == "CONCURRENT_MODIFICATION"
    with pytest.raises(ClientError) as exc:
        ids.update_user(
            IdentityStoreId=STORE,
            UserId=user_id,
            Operations=[{"AttributePath": "userStatus", "AttributeValue": "x"}],
        )
    assert _code(exc) == "ValidationException"
    _user(ids, "taken")
    with pytest.raises(ClientError) as exc:
        ids.update_user(
            IdentityStoreId=STORE,
            UserId=user_id,
            Operations=[{"AttributePath": "userName", "AttributeValue": "Taken"}],
        )
    assert exc.value.response["Reason"] == "UNIQUENESS_CONSTRAINT_VIOLATION"
    ids.delete_user(IdentityStoreId=STORE, UserId=user_id, Revision="2")
    with pytest.raises(ClientError):
        ids.describe_user(IdentityStoreId=STORE, UserId=user_id)


def test_list_users_pages_and_filters(ids: Any) -> None:
    for n in range(7):
        _user(ids, f"pager{n}")
    seen: list[str] = []
    paginator = ids.get_paginator("list_users")
    pages = list(paginator.paginate(IdentityStoreId=STORE, PaginationConfig={"PageSize": 3}))
    for page in pages:
        assert len(page["Users"]) <= 3
        seen.extend(u["UserName"] for u in page["Users"])
    assert len(pages) >= 3
    assert {f"pager{n}" for n in range(7)} <= set(seen) and len(seen) == len(set(seen))
    only = ids.list_users(
        IdentityStoreId=STORE, Filters=[{"AttributePath": "UserName", "AttributeValue": "pager3"}]
    )["Users"]
    assert [u["UserName"] for u in only] == ["pager3"]
    with pytest.raises(ClientError) as exc:
        ids.list_users(IdentityStoreId=STORE, Filters=[{"AttributePath": "Title", "AttributeValue": "x"}])
    assert _code(exc) == "ValidationException"


def test_groups_and_memberships(ids: Any) -> None:
    alice = _user(ids, "gm-alice")
    bob = _user(ids, "gm-bob")
    admins = ids.create_group(IdentityStoreId=STORE, DisplayName="gm-Admins", Description="The admins")
    ops = ids.create_group(IdentityStoreId=STORE, DisplayName="gm-Ops")
    group = ids.describe_group(IdentityStoreId=STORE, GroupId=admins["GroupId"])
    assert group["DisplayName"] == "gm-Admins" and group["Description"] == "The admins"
    assert group["GroupArn"] == f"arn:aws:identitystore:::group/{admins['GroupId']}"
    assert (
        ids.get_group_id(
            IdentityStoreId=STORE,
            AlternateIdentifier={
                "UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": "gm-admins"}
            },
        )["GroupId"]
        == admins["GroupId"]
    )
    listed = ids.list_groups(
        IdentityStoreId=STORE, Filters=[{"AttributePath": "DisplayName", "AttributeValue": "gm-Ops"}]
    )["Groups"]
    assert [g["GroupId"] for g in listed] == [ops["GroupId"]]

    m1 = ids.create_group_membership(
        IdentityStoreId=STORE, GroupId=admins["GroupId"], MemberId={"UserId": alice}
    )
    assert m1["MembershipArn"].endswith(m1["MembershipId"])
    with pytest.raises(ClientError) as exc:
        ids.create_group_membership(
            IdentityStoreId=STORE, GroupId=admins["GroupId"], MemberId={"UserId": alice}
        )
    assert _code(exc) == "ConflictException"
    ids.create_group_membership(IdentityStoreId=STORE, GroupId=admins["GroupId"], MemberId={"UserId": bob})
    ids.create_group_membership(IdentityStoreId=STORE, GroupId=ops["GroupId"], MemberId={"UserId": alice})

    described = ids.describe_group_membership(IdentityStoreId=STORE, MembershipId=m1["MembershipId"])
    assert described["GroupId"] == admins["GroupId"] and described["MemberId"] == {"UserId": alice}
    assert (
        ids.get_group_membership_id(
            IdentityStoreId=STORE, GroupId=admins["GroupId"], MemberId={"UserId": alice}
        )["MembershipId"]
        == m1["MembershipId"]
    )
    members = ids.list_group_memberships(IdentityStoreId=STORE, GroupId=admins["GroupId"], MaxResults=1)
    assert len(members["GroupMemberships"]) == 1 and "NextToken" in members
    rest = ids.list_group_memberships(
        IdentityStoreId=STORE, GroupId=admins["GroupId"], NextToken=members["NextToken"]
    )
    assert {m["MemberId"]["UserId"] for m in members["GroupMemberships"] + rest["GroupMemberships"]} == {
        alice,
        bob,
    }
    of_alice = ids.list_group_memberships_for_member(IdentityStoreId=STORE, MemberId={"UserId": alice})
    assert {m["GroupId"] for m in of_alice["GroupMemberships"]} == {admins["GroupId"], ops["GroupId"]}
    result = ids.is_member_in_groups(
        IdentityStoreId=STORE, MemberId={"UserId": bob}, GroupIds=[admins["GroupId"], ops["GroupId"]]
    )["Results"]
    assert [(r["GroupId"], r["MembershipExists"]) for r in result] == [
        (admins["GroupId"], True),
        (ops["GroupId"], False),
    ]

    updated = ids.update_group(
        IdentityStoreId=STORE,
        GroupId=ops["GroupId"],
        Operations=[
            {"AttributePath": "displayName", "AttributeValue": "gm-Operations"},
            {"AttributePath": "description", "AttributeValue": "Ops"},
        ],
    )
    assert updated["Revision"] == "2"
    with pytest.raises(ClientError) as exc:
        ids.update_group(
            IdentityStoreId=STORE,
            GroupId=ops["GroupId"],
            Operations=[{"AttributePath": "displayName", "AttributeValue": "gm-admins"}],
        )
    assert _code(exc) == "ConflictException"

    ids.delete_group_membership(IdentityStoreId=STORE, MembershipId=m1["MembershipId"])
    with pytest.raises(ClientError) as exc:
        ids.delete_group_membership(IdentityStoreId=STORE, MembershipId=m1["MembershipId"])
    assert _code(exc) == "ResourceNotFoundException"
    ids.delete_group(IdentityStoreId=STORE, GroupId=ops["GroupId"])
    assert (
        ids.list_group_memberships_for_member(IdentityStoreId=STORE, MemberId={"UserId": alice})[
            "GroupMemberships"
        ]
        == []
    )


def test_identity_store_describe_list_and_network_configuration(ids: Any) -> None:
    described = ids.describe_identity_store(IdentityStoreId=STORE)
    assert described["IdentityStoreArn"] == f"arn:aws:identitystore::{ACCOUNT_ID}:identitystore/{STORE}"
    stores = ids.list_identity_stores()["IdentityStores"]
    assert STORE in [s["IdentityStoreId"] for s in stores]
    with pytest.raises(ClientError) as exc:  # would lock this caller out
        ids.update_identity_store(
            IdentityStoreId=STORE,
            NetworkConfiguration={"VpceAccessRequired": True, "ApiAllowSourceIps": ["10.0.0.0/8"]},
        )
    assert _code(exc) == "ValidationException"
    ids.update_identity_store(
        IdentityStoreId=STORE,
        NetworkConfiguration={"VpceAccessRequired": True, "ApiAllowSourceIps": ["127.0.0.0/8"]},
    )
    assert ids.describe_identity_store(IdentityStoreId=STORE)["NetworkConfiguration"][
        "ApiAllowSourceIps"
    ] == ["127.0.0.0/8"]
    ids.update_identity_store(IdentityStoreId=STORE, NetworkConfiguration={"VpceAccessRequired": False})


def test_a_user_without_permission_is_denied_and_calls_are_on_the_trail(ids: Any, server: Server) -> None:
    iam = server.client("iam")
    iam.create_user(UserName="ids-reader")
    iam.put_user_policy(
        UserName="ids-reader",
        PolicyName="read",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "identitystore:List*", "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName="ids-reader")["AccessKey"]
    reader = server.client("identitystore", key["AccessKeyId"], key["SecretAccessKey"])
    assert isinstance(reader.list_users(IdentityStoreId=STORE)["Users"], list)
    with pytest.raises(ClientError) as exc:
        reader.create_group(IdentityStoreId=STORE, DisplayName="nope")
    assert _code(exc) == "AccessDeniedException"
    trail = server.client("cloudtrail")
    events = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": "identitystore.amazonaws.com"}],
        MaxResults=50,
    )["Events"]
    names = {e["EventName"] for e in events}
    assert {"CreateUser", "CreateGroup", "ListUsers"} <= names
    denied = [json.loads(e["CloudTrailEvent"]) for e in events if e["EventName"] == "CreateGroup"]
    assert any(
        r.get("errorCode") == "AccessDenied" or r.get("errorCode") == "AccessDeniedException" for r in denied
    )


def test_the_aws_cli_lists_users_and_finds_one(ids: Any, server: Server) -> None:
    _user(ids, "cli-user", "cli-user@example.com")
    listed = server.cli("identitystore", "list-users", "--identity-store-id", STORE)
    assert listed.returncode == 0, listed.stderr
    assert "cli-user" in {u["UserName"] for u in json.loads(listed.stdout)["Users"]}
    found = server.cli(
        "identitystore",
        "get-user-id",
        "--identity-store-id",
        STORE,
        "--alternate-identifier",
        json.dumps(
            {"UniqueAttribute": {"AttributePath": "emails.value", "AttributeValue": "cli-user@example.com"}}
        ),
    )
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["UserId"].startswith(STORE[2:])
