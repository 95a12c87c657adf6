"""IAM Identity Center on two iamd nodes sharing one PostgreSQL database: an assignment made on one
node is provisioned for the other at once, and assignments racing on both nodes for one permission
set and account make exactly one role there (serializable transactions, retried)."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from tests.e2e.harness import Server, start_server, stop_server
from tests.e2e.test_postgresql import ADMIN_URL


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server reachable at {ADMIN_URL}: {exc}")
    name = f"iamd_sso_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    url = f"{base}/{name}"
    first_dir = tmp_path_factory.mktemp("node-a") / "data"
    first = start_server(first_dir, "--database-url", url)
    second_dir = tmp_path_factory.mktemp("node-b") / "data"
    shutil.copytree(first_dir, second_dir)
    second = start_server(second_dir, "--database-url", url)
    try:
        yield first, second
    finally:
        stop_server(second)
        stop_server(first)
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _member(orgs: Any) -> str:
    status = orgs.create_account(AccountName="dev", Email="dev@example.com")["CreateAccountStatus"]
    for _ in range(100):
        if status["State"] != "IN_PROGRESS":
            break
        time.sleep(0.05)
        status = orgs.describe_create_account_status(CreateAccountRequestId=status["Id"])[
            "CreateAccountStatus"
        ]
    assert status["State"] == "SUCCEEDED", status
    return str(status["AccountId"])


def test_assignments_racing_on_two_nodes_make_one_role(nodes: tuple[Server, Server]) -> None:
    first, second = nodes
    orgs = first.client("organizations")
    orgs.create_organization()
    member = _member(orgs)
    sso_a, sso_b = first.client("sso-admin"), second.client("sso-admin")
    instance = sso_a.create_instance()["InstanceArn"]
    store = sso_b.describe_instance(InstanceArn=instance)["IdentityStoreId"]
    people = first.client("identitystore")
    users = [
        people.create_user(
            IdentityStoreId=store,
            UserName=f"u{i}",
            DisplayName=f"U {i}",
            Name={"GivenName": "U", "FamilyName": str(i)},
        )["UserId"]
        for i in range(6)
    ]
    ps = sso_a.create_permission_set(InstanceArn=instance, Name="Shared")["PermissionSet"]["PermissionSetArn"]

    def assign(index: int) -> str:
        client = sso_a if index % 2 == 0 else sso_b
        status = client.create_account_assignment(
            InstanceArn=instance,
            TargetId=member,
            TargetType="AWS_ACCOUNT",
            PermissionSetArn=ps,
            PrincipalType="USER",
            PrincipalId=users[index],
        )["AccountAssignmentCreationStatus"]
        return str(status["Status"])

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert list(pool.map(assign, range(6))) == ["SUCCEEDED"] * 6
    creds = second.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{member}:role/OrganizationAccountAccessRole", RoleSessionName="look"
    )["Credentials"]
    member_iam = second.client("iam", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    roles = member_iam.list_roles(PathPrefix="/aws-reserved/sso.amazonaws.com/")["Roles"]
    assert len(roles) == 1 and roles[0]["RoleName"].startswith("AWSReservedSSO_Shared_")
    listed = sso_b.list_account_assignments(InstanceArn=instance, AccountId=member, PermissionSetArn=ps)
    assert sorted(a["PrincipalId"] for a in listed["AccountAssignments"]) == sorted(users)
