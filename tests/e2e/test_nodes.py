"""Two iamd nodes on one PostgreSQL database, as docs/deployment.md deploys them: a write made
through one node is enforced by the other on its very next request (its verified-key and
compiled-policy caches follow the accounts' generation counters in the database), and each node's
readiness endpoint follows the database.

Skipped (with the reason) only where no PostgreSQL server answers on 127.0.0.1:5432;
IAMD_TEST_POSTGRES_URL points at another one (an admin connection URL, psycopg form)."""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from botocore.exceptions import ClientError
from tests.e2e.harness import Server, start_server, stop_server
from tests.e2e.policy_helpers import allow, policy

from iamd.trail.writer import SPOOL_FILE_NAME

ADMIN_URL = os.environ.get("IAMD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server, str]]:
    """Two nodes on a new database (the second with the first's key-encryption key, trail
    signing key and profile, as a deployment shares them), and the database's name."""
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server reachable at {ADMIN_URL}: {exc}")
    name = f"iamd_e2e_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    url = f"{base}/{name}"
    root = tmp_path_factory.mktemp("nodes")
    first = start_server(root / "a", "--database-url", url)
    second_dir = root / "b"
    second_dir.mkdir(mode=0o700)
    for shared in first.data_dir.iterdir():
        if shared.is_file() and shared.name != SPOOL_FILE_NAME:  # a spool is per node
            shutil.copy2(shared, second_dir / shared.name)
    second: Server | None = None
    try:
        second = start_server(second_dir, "--database-url", url)
        yield first, second, name
    finally:
        for node in (first, second):
            if node is not None:
                stop_server(node)
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_a_write_on_one_node_is_enforced_by_the_other_on_its_next_request(
    nodes: tuple[Server, Server, str],
) -> None:
    first, second, _ = nodes
    admin_a = first.client()
    admin_a.create_user(UserName="roaming")
    admin_a.put_user_policy(
        UserName="roaming", PolicyName="read", PolicyDocument=policy(allow("iam:GetUser", "*"))
    )
    key = admin_a.create_access_key(UserName="roaming")["AccessKey"]
    on_b = second.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    # Node B verifies the key and compiles the user's policies, and keeps both in its caches.
    for _ in range(3):
        assert on_b.get_user(UserName="roaming")["User"]["UserName"] == "roaming"

    # A policy change through node A: node B's very next request is decided by the new policy.
    admin_a.put_user_policy(
        UserName="roaming",
        PolicyName="deny",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Deny", "Action": "iam:GetUser", "Resource": "*"}],
            }
        ),
    )
    with pytest.raises(ClientError) as denied:
        on_b.get_user(UserName="roaming")
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    admin_a.delete_user_policy(UserName="roaming", PolicyName="deny")
    assert on_b.get_user(UserName="roaming")["User"]["UserName"] == "roaming"

    # A key deactivated through node A no longer signs on node B.
    admin_a.update_access_key(UserName="roaming", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as refused:
        on_b.get_user(UserName="roaming")
    assert refused.value.response["Error"]["Code"] == "InvalidClientTokenId"


def _denied(call: Any) -> bool:
    try:
        call()
    except ClientError as error:
        assert error.response["Error"]["Code"] == "AccessDenied", error.response
        return True
    return False


def test_a_write_scoped_to_one_principal_on_one_node_is_enforced_by_the_other(
    nodes: tuple[Server, Server, str],
) -> None:
    """Writes to one user or role move only its own generation (the other callers' caches stay
    valid): node B still sees them on the principal's very next request."""
    first, second, _ = nodes
    admin_a = first.client()
    admin_b = second.client()
    admin_a.create_user(UserName="scoped")
    arn = admin_a.create_policy(PolicyName="scoped-read", PolicyDocument=policy(allow("iam:GetUser", "*")))[
        "Policy"
    ]["Arn"]
    admin_a.attach_user_policy(UserName="scoped", PolicyArn=arn)
    key = admin_a.create_access_key(UserName="scoped")["AccessKey"]
    on_b = second.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    admin_b.get_user(UserName="scoped")  # node B's administrator key and policies, cached
    for _ in range(2):
        assert not _denied(lambda: on_b.get_user(UserName="scoped"))

    # DetachUserPolicy through node A: the user's next call on node B is denied, then allowed.
    admin_a.detach_user_policy(UserName="scoped", PolicyArn=arn)
    assert _denied(lambda: on_b.get_user(UserName="scoped"))
    admin_a.attach_user_policy(UserName="scoped", PolicyArn=arn)
    assert not _denied(lambda: on_b.get_user(UserName="scoped"))

    # TagUser through node A changes an aws:PrincipalTag condition's result on node B.
    admin_a.detach_user_policy(UserName="scoped", PolicyArn=arn)
    tagged = allow("iam:GetUser", "*", Condition={"StringEquals": {"aws:PrincipalTag/team": "blue"}})
    admin_a.put_user_policy(UserName="scoped", PolicyName="tagged", PolicyDocument=policy(tagged))
    assert _denied(lambda: on_b.get_user(UserName="scoped"))
    admin_a.tag_user(UserName="scoped", Tags=[{"Key": "team", "Value": "blue"}])
    assert not _denied(lambda: on_b.get_user(UserName="scoped"))
    admin_a.tag_user(UserName="scoped", Tags=[{"Key": "team", "Value": "red"}])
    assert _denied(lambda: on_b.get_user(UserName="scoped"))

    # A role session on node B sees PutRolePolicy / DeleteRolePolicy through node A at once.
    account = admin_a.get_user()["User"]["Arn"].split(":")[4]
    trust = policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}
    )
    admin_a.create_role(RoleName="scoped-role", AssumeRolePolicyDocument=trust)
    sts_b = second.client("sts")
    credentials = sts_b.assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/scoped-role", RoleSessionName="on-b"
    )["Credentials"]
    session_b = second.client(
        "iam", credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"]
    )
    assert _denied(lambda: session_b.get_role(RoleName="scoped-role"))
    admin_a.put_role_policy(
        RoleName="scoped-role", PolicyName="read", PolicyDocument=policy(allow("iam:GetRole", "*"))
    )
    assert not _denied(lambda: session_b.get_role(RoleName="scoped-role"))
    admin_a.delete_role_policy(RoleName="scoped-role", PolicyName="read")
    assert _denied(lambda: session_b.get_role(RoleName="scoped-role"))

    # A key deactivated through node A no longer signs on node B.
    admin_a.update_access_key(UserName="scoped", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as refused:
        on_b.get_user(UserName="scoped")
    assert refused.value.response["Error"]["Code"] == "InvalidClientTokenId"


def ready(node: Server) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"{node.endpoint}/iamd/ready", timeout=10) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_ready_follows_the_database_while_health_does_not(nodes: tuple[Server, Server, str]) -> None:
    first, _, name = nodes
    assert ready(first) == (200, {"status": "ready", "database": "postgresql"})
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
            )
            time.sleep(1.1)  # past the reuse of the last answer (READY_REUSE)
            status, body = ready(first)
            assert status == 503 and body["status"] == "unavailable", body
            with urllib.request.urlopen(f"{first.endpoint}/iamd/health", timeout=10) as answer:
                assert answer.status == 200  # the process itself still answers
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    time.sleep(1.1)
    assert ready(first)[0] == 200
