"""``iamd serve --test-mode``: a reset forgets IAM Identity Center with the accounts' other data
(the instance, its permission sets, assignments, the identity store's people, and the roles and
SAML providers provisioned into member accounts), so each test starts without an instance."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from tests.e2e.harness import Server, start_server, stop_server


@pytest.fixture(scope="module")
def test_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("iamd") / "data", "--test-mode")
    yield running
    stop_server(running)


def _reset(server: Server) -> None:
    request = urllib.request.Request(f"{server.endpoint}/iamd/reset", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200


def _enable_and_assign(server: Server) -> tuple[str, str]:
    orgs = server.client("organizations")
    orgs.create_organization()
    status = orgs.create_account(AccountName="dev", Email="dev@example.com")["CreateAccountStatus"]
    for _ in range(50):
        if status["State"] != "IN_PROGRESS":
            break
        time.sleep(0.05)
        status = orgs.describe_create_account_status(CreateAccountRequestId=status["Id"])[
            "CreateAccountStatus"
        ]
    member = str(status["AccountId"])
    sso = server.client("sso-admin")
    instance = sso.create_instance()["InstanceArn"]
    store = sso.describe_instance(InstanceArn=instance)["IdentityStoreId"]
    user = server.client("identitystore").create_user(
        IdentityStoreId=store,
        UserName="pat",
        DisplayName="Pat",
        Name={"GivenName": "Pat", "FamilyName": "Doe"},
    )["UserId"]
    ps = sso.create_permission_set(InstanceArn=instance, Name="Dev")["PermissionSet"]["PermissionSetArn"]
    created = sso.create_account_assignment(
        InstanceArn=instance,
        TargetId=member,
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=ps,
        PrincipalType="USER",
        PrincipalId=user,
    )["AccountAssignmentCreationStatus"]
    assert created["Status"] == "SUCCEEDED"
    return instance, store


def test_a_reset_forgets_identity_center_and_it_can_be_enabled_again(test_server: Server) -> None:
    _reset(test_server)
    first, _ = _enable_and_assign(test_server)
    _reset(test_server)
    sso: Any = test_server.client("sso-admin")
    assert sso.list_instances()["Instances"] == []
    second, _ = _enable_and_assign(test_server)  # nothing left over blocks a new instance
    assert second != first
    _reset(test_server)
