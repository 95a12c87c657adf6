"""Organizations on PostgreSQL with two iamd nodes sharing the database: an SCP attached through
one node is enforced by the other on the very next request, and detaching it through the other
node lifts it on the first (the generation counters of every account in the organization).

Skipped (with the reason) only where no PostgreSQL server answers on 127.0.0.1:5432;
IAMD_TEST_POSTGRES_URL points at another one (as in test_postgresql.py)."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from botocore.exceptions import ClientError
from tests.e2e.harness import Server, start_server, stop_server
from tests.e2e.test_postgresql import ADMIN_URL


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server reachable at {ADMIN_URL}: {exc}")
    name = f"iamd_orgs_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    url = f"{base}/{name}"
    first_dir = tmp_path_factory.mktemp("node-a") / "data"
    first = start_server(first_dir, "--database-url", url)
    # The second node shares the database and the data directory's keys (KEK, trail signing key)
    # and profile files, as nodes behind one load balancer do.
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


def test_an_scp_attached_on_one_node_binds_on_the_other_at_once(nodes: tuple[Server, Server]) -> None:
    a, b = nodes
    orgs_a, orgs_b = a.client("organizations"), b.client("organizations")
    orgs_a.create_organization()
    status = orgs_a.create_account(AccountName="dev", Email="dev@example.com")["CreateAccountStatus"]
    member = orgs_b.describe_create_account_status(CreateAccountRequestId=status["Id"])[
        "CreateAccountStatus"
    ]["AccountId"]
    creds = b.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{member}:role/OrganizationAccountAccessRole", RoleSessionName="ops"
    )["Credentials"]
    session = (creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    iam_on_a, iam_on_b = a.client("iam", *session), b.client("iam", *session)
    iam_on_a.list_users()
    iam_on_b.list_users()  # both nodes have the member's policies compiled and cached
    deny = orgs_a.create_policy(
        Name="NoListing",
        Description="",
        Type="SERVICE_CONTROL_POLICY",
        Content=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Deny", "Action": "iam:ListUsers", "Resource": "*"}],
            }
        ),
    )["Policy"]["PolicySummary"]["Id"]
    orgs_a.attach_policy(PolicyId=deny, TargetId=member)
    with pytest.raises(ClientError) as exc:
        iam_on_b.list_users()
    assert "with an explicit deny in a service control policy" in exc.value.response["Error"]["Message"]
    orgs_b.detach_policy(PolicyId=deny, TargetId=member)
    iam_on_a.list_users()
    # A structural change too: a new OU with the deny, the account moved into it through node B.
    root = orgs_a.list_roots()["Roots"][0]["Id"]
    ou = orgs_a.create_organizational_unit(ParentId=root, Name="locked")["OrganizationalUnit"]["Id"]
    orgs_a.attach_policy(PolicyId=deny, TargetId=ou)
    iam_on_a.list_users()
    orgs_b.move_account(AccountId=member, SourceParentId=root, DestinationParentId=ou)
    with pytest.raises(ClientError):
        iam_on_a.list_users()
