"""The server on PostgreSQL: the same API, a real database server, concurrent writers; role
sessions, MFA seeds sealed in the database, the credential report, and the audit trail's hash
chain under concurrent writers, verified by `iamd trail verify` and broken by an edit.

Skipped (with the reason) only where no PostgreSQL server answers on 127.0.0.1:5432;
IAMD_TEST_POSTGRES_URL points at another one (an admin connection URL, psycopg form)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from botocore.exceptions import ClientError
from tests.e2e.harness import ACCOUNT_ID, Server, start_server, stop_server
from tests.e2e.mfa_helpers import enable_device
from tests.e2e.policy_helpers import allow, policy

ADMIN_URL = os.environ.get("IAMD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """A server on a new PostgreSQL database, and that database's SQLAlchemy URL."""
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server reachable at {ADMIN_URL}: {exc}")
    name = f"iamd_e2e_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    url = f"{base}/{name}"
    running = start_server(tmp_path_factory.mktemp("pg") / "data", "--database-url", url)
    try:
        yield running, url
    finally:
        stop_server(running)
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="module")
def pg_server(pg: tuple[Server, str]) -> Server:
    return pg[0]


@pytest.fixture(scope="module")
def database_url(pg: tuple[Server, str]) -> str:
    return pg[1]


def _backends(database_url: str, where: str) -> int:
    """How many of the database's connections (the server's; this one left out) ``where`` (an SQL
    condition on ``pg_stat_activity``, evaluated for each: ``pg_terminate_backend(pid)`` ends them)
    holds for."""
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        row = admin.execute(
            f"SELECT count(*) FILTER (WHERE {where}) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_users_round_trip_on_postgresql(pg_server: Server) -> None:
    iam = pg_server.client()
    iam.create_user(UserName="pg-user", Path="/pg/", Tags=[{"Key": "k", "Value": "v"}])
    assert iam.get_user(UserName="pg-user")["User"]["Tags"] == [{"Key": "k", "Value": "v"}]
    assert [u["UserName"] for u in iam.list_users(PathPrefix="/pg/")["Users"]] == ["pg-user"]
    iam.delete_user(UserName="pg-user")
    assert iam.list_users(PathPrefix="/pg/")["Users"] == []


def test_concurrent_writers_on_postgresql(pg_server: Server) -> None:
    failures: list[str] = []

    def work(n: int) -> None:
        iam = pg_server.client()
        try:
            for i in range(10):
                iam.create_user(UserName=f"pg{n}-{i}", Path="/conc/")
        except Exception as exc:  # collected and asserted below
            failures.append(repr(exc))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    listed = pg_server.client().list_users(PathPrefix="/conc/", MaxItems=1000)["Users"]
    assert sorted(u["UserName"] for u in listed) == sorted(f"pg{n}-{i}" for n in range(8) for i in range(10))


def test_role_sessions_and_mfa_on_postgresql(pg_server: Server, database_url: str) -> None:
    iam = pg_server.client()
    trust = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        }
    )
    iam.create_role(RoleName="pg-role", AssumeRolePolicyDocument=trust)
    iam.put_role_policy(RoleName="pg-role", PolicyName="list", PolicyDocument=policy(allow("iam:ListRoles")))
    iam.create_user(UserName="pg-mfa")
    device = enable_device(iam, "pg-mfa", "pg-mfa-device")
    user_policy = policy(allow("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT_ID}:role/pg-role"))
    iam.put_user_policy(UserName="pg-mfa", PolicyName="assume", PolicyDocument=user_policy)
    key = iam.create_access_key(UserName="pg-mfa")["AccessKey"]
    sts = pg_server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError, match="AccessDenied"):
        sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/pg-role", RoleSessionName="no-mfa")
    creds = sts.assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/pg-role",
        RoleSessionName="with-mfa",
        SerialNumber=device.serial,
        TokenCode=device.fresh(),
    )["Credentials"]
    session = pg_server.client("iam", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert "pg-role" in [r["RoleName"] for r in session.list_roles()["Roles"]]
    # The seed is kept sealed: its Base32 text is nowhere in the database.
    with psycopg.connect(database_url.replace("+psycopg", "")) as db:
        dump = "\n".join(str(row) for row in db.execute("SELECT * FROM mfa_devices").fetchall())
    assert device.seed not in dump


def test_assume_role_reads_the_role_as_it_is_now_on_postgresql(pg_server: Server) -> None:
    """AssumeRole reads its role ahead, with the caller's key: each call sees the role, its tags
    and its trust policy as they are at that call, never as an earlier call read them."""
    iam = pg_server.client()
    arn = f"arn:aws:iam::{ACCOUNT_ID}:role/pg-ahead"
    root = f"arn:aws:iam::{ACCOUNT_ID}:root"
    blue = {"StringEquals": {"aws:ResourceTag/team": "blue"}}
    trusting = policy(
        {"Effect": "Allow", "Principal": {"AWS": root}, "Action": "sts:AssumeRole", "Condition": blue}
    )
    iam.create_role(
        RoleName="pg-ahead", AssumeRolePolicyDocument=trusting, Tags=[{"Key": "team", "Value": "blue"}]
    )
    iam.create_user(UserName="pg-ahead-user")
    iam.put_user_policy(
        UserName="pg-ahead-user", PolicyName="assume", PolicyDocument=policy(allow("sts:AssumeRole", arn))
    )
    key = iam.create_access_key(UserName="pg-ahead-user")["AccessKey"]
    sts = pg_server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])

    def assume() -> str:
        return str(sts.assume_role(RoleArn=arn, RoleSessionName="ahead")["AssumedRoleUser"]["Arn"])

    assert assume() == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/pg-ahead/ahead"
    iam.tag_role(RoleName="pg-ahead", Tags=[{"Key": "team", "Value": "red"}])
    with pytest.raises(ClientError, match="AccessDenied"):
        assume()  # the tag the trust policy asks for is gone
    iam.tag_role(RoleName="pg-ahead", Tags=[{"Key": "team", "Value": "blue"}])
    assert assume().endswith("/pg-ahead/ahead")
    stranger = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
            "Action": "sts:AssumeRole",
        }
    )
    iam.update_assume_role_policy(RoleName="pg-ahead", PolicyDocument=stranger)
    with pytest.raises(ClientError, match="AccessDenied"):
        assume()  # the role no longer trusts this account
    iam.delete_role(RoleName="pg-ahead")
    with pytest.raises(ClientError, match="AccessDenied"):
        assume()
    iam.create_role(
        RoleName="pg-ahead", AssumeRolePolicyDocument=trusting, Tags=[{"Key": "team", "Value": "blue"}]
    )
    assert assume().endswith("/pg-ahead/ahead")


def test_credential_report_on_postgresql(pg_server: Server) -> None:
    iam = pg_server.client()
    iam.create_user(UserName="pg-report")
    iam.create_login_profile(UserName="pg-report", Password="Pg-Report-Passw0rd!")
    while iam.generate_credential_report()["State"] != "COMPLETE":
        pass
    rows = list(csv.DictReader(io.StringIO(iam.get_credential_report()["Content"].decode())))
    assert rows[0]["user"] == "<root_account>"
    mine = next(r for r in rows if r["user"] == "pg-report")
    assert (mine["password_enabled"], mine["access_key_1_active"], mine["mfa_active"]) == (
        "true",
        "false",
        "false",
    )


def iamd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "iamd.cli.main", *args], capture_output=True, text=True, timeout=120
    )


def lookup_all(server: Server, key: str, value: str) -> list[dict[str, Any]]:
    """Every trail event matching one lookup attribute (all pages)."""
    trail = server.client("cloudtrail")
    params: dict[str, Any] = {"LookupAttributes": [{"AttributeKey": key, "AttributeValue": value}]}
    events: list[dict[str, Any]] = []
    while True:
        page = trail.lookup_events(**params)
        events += page["Events"]
        if "NextToken" not in page:
            return events
        params["NextToken"] = page["NextToken"]


def test_writes_sent_again_are_on_the_trail_each_time_on_postgresql(pg_server: Server) -> None:
    """A tag and an attachment sent again change nothing: their events then go to the trail
    writer as a read's do. Four clients at once, each call on the trail once, with its request
    id; the changes themselves made once."""
    iam = pg_server.client()
    iam.create_user(UserName="pg-replayed")
    arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    sent: list[str] = []
    failures: list[str] = []

    def work() -> None:
        client = pg_server.client()
        try:
            for _ in range(5):
                for answer in (
                    client.tag_user(UserName="pg-replayed", Tags=[{"Key": "team", "Value": "blue"}]),
                    client.attach_user_policy(UserName="pg-replayed", PolicyArn=arn),
                ):
                    sent.append(answer["ResponseMetadata"]["RequestId"])
        except Exception as exc:  # collected and asserted below
            failures.append(repr(exc))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    events = lookup_all(pg_server, "ResourceName", "pg-replayed")
    found = [
        json.loads(e["CloudTrailEvent"])["requestID"]
        for e in events
        if e["EventName"] in ("TagUser", "AttachUserPolicy")
    ]
    assert sorted(found) == sorted(sent) and len(sent) == 40
    assert iam.list_user_tags(UserName="pg-replayed")["Tags"] == [{"Key": "team", "Value": "blue"}]
    attached = iam.list_attached_user_policies(UserName="pg-replayed")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [arn]


def test_changes_refusals_and_failures_at_once_to_one_account_on_postgresql(pg_server: Server) -> None:
    """Four administrators changing one user's tag and inline policy (writes that queue for the
    account and commit in groups), a read-only user's TagUser denied, and a call on a user that
    does not exist, all at once: each gets its own answer, every call is on the trail once, what
    was refused or failed changed nothing, and what was answered committed."""
    iam = pg_server.client()
    iam.create_user(UserName="pg-grouped")
    iam.create_user(UserName="pg-reader")
    iam.attach_user_policy(UserName="pg-reader", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    key = iam.create_access_key(UserName="pg-reader")["AccessKey"]
    reader = pg_server.client(key_id=key["AccessKeyId"], secret=key["SecretAccessKey"])
    reader.get_user(UserName="pg-grouped")  # the key works (reads are allowed)
    answered: list[tuple[str, str]] = []  # (request id, value) of each change answered
    denied: list[str] = []
    missing: list[str] = []
    failures: list[str] = []

    def change(n: int) -> None:
        client = pg_server.client()
        try:
            for i in range(8):
                value = f"v{n}-{i}"
                answer = client.tag_user(UserName="pg-grouped", Tags=[{"Key": "k", "Value": value}])
                answered.append((answer["ResponseMetadata"]["RequestId"], value))
                document = policy(allow("s3:GetObject", f"arn:aws:s3:::{value}/*"))
                answer = client.put_user_policy(
                    UserName="pg-grouped", PolicyName="p", PolicyDocument=document
                )
                answered.append((answer["ResponseMetadata"]["RequestId"], value))
        except Exception as exc:  # collected and asserted below
            failures.append(repr(exc))

    def refused() -> None:
        try:
            for i in range(8):
                try:
                    reader.tag_user(UserName="pg-grouped", Tags=[{"Key": "k", "Value": f"reader-{i}"}])
                    failures.append("the read-only user's TagUser was allowed")
                except ClientError as exc:
                    assert exc.response["Error"]["Code"] == "AccessDenied", exc.response
                    denied.append(exc.response["ResponseMetadata"]["RequestId"])
                try:
                    iam.tag_user(UserName=f"pg-nobody-{i}", Tags=[{"Key": "k", "Value": "x"}])
                    failures.append("TagUser on a user that does not exist answered")
                except ClientError as exc:
                    assert exc.response["Error"]["Code"] == "NoSuchEntity", exc.response
                    missing.append(exc.response["ResponseMetadata"]["RequestId"])
        except Exception as exc:  # collected and asserted below
            failures.append(repr(exc))

    threads = [threading.Thread(target=change, args=(n,)) for n in range(4)]
    threads.append(threading.Thread(target=refused))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert len(answered) == 64 and len(denied) == 8 and len(missing) == 8
    tags = iam.list_user_tags(UserName="pg-grouped")["Tags"]
    assert len(tags) == 1 and tags[0]["Value"] in {value for _, value in answered}
    document = iam.get_user_policy(UserName="pg-grouped", PolicyName="p")["PolicyDocument"]
    assert any(f"arn:aws:s3:::{value}/*" in json.dumps(document) for _, value in answered)
    events = lookup_all(pg_server, "ResourceName", "pg-grouped")
    on_trail = [json.loads(e["CloudTrailEvent"])["requestID"] for e in events]
    sent = [request_id for request_id, _ in answered] + denied
    assert sorted(r for r in on_trail if r in set(sent)) == sorted(sent)  # each once
    refusals = [json.loads(e["CloudTrailEvent"]) for e in lookup_all(pg_server, "EventName", "TagUser")]
    codes = {e["requestID"]: e.get("errorCode") for e in refusals}
    assert all(codes.get(r) == "AccessDenied" for r in denied)
    assert all(codes.get(r) == "NoSuchEntityException" for r in missing)


def test_trail_chain_under_concurrent_writers_on_postgresql(pg_server: Server, database_url: str) -> None:
    """Eight clients writing at once: every call is on the trail once, the chain verifies, and an
    edit made directly in PostgreSQL is named by `iamd trail verify`."""
    failures: list[str] = []

    def work(n: int) -> None:
        iam = pg_server.client()
        try:
            for i in range(5):
                iam.create_user(UserName=f"pgt{n}-{i}")
                iam.tag_user(UserName=f"pgt{n}-{i}", Tags=[{"Key": "n", "Value": str(n)}])
        except Exception as exc:  # collected and asserted below
            failures.append(repr(exc))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    created = [
        json.loads(e["CloudTrailEvent"])["requestParameters"]["userName"]
        for e in lookup_all(pg_server, "EventName", "CreateUser")
    ]
    mine = sorted(name for name in created if name.startswith("pgt"))
    assert mine == sorted(f"pgt{n}-{i}" for n in range(8) for i in range(5))

    data = str(pg_server.data_dir)
    verified = iamd("trail", "verify", "--data-dir", data, "--database-url", database_url)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as db:
        seq, event_id = db.execute(
            "SELECT seq, event_id FROM trail_events WHERE event_name = 'TagUser' AND seq IS NOT NULL "
            "AND record LIKE '%\"pgt%' ORDER BY seq LIMIT 1"  # one of this test's (its tag is "n")
        ).fetchone()  # type: ignore[misc]
        db.execute(
            "UPDATE trail_events SET record = replace(record, '\"n\"', '\"m\"') WHERE seq = %s", (seq,)
        )
    broken = iamd("trail", "verify", "--data-dir", data, "--database-url", database_url)
    assert broken.returncode == 1
    assert event_id in broken.stdout


def test_server_survives_its_database_connections_being_killed(pg_server: Server, database_url: str) -> None:
    """Every pooled connection dropped by the database (pg_terminate_backend, as a restart or a
    pooler's timeout would): the next requests, reads and writes, from several clients at once,
    all succeed (the server retries on a new connection; the client sees no error)."""
    iam = pg_server.client()
    iam.create_user(UserName="pg-kill")
    iam.get_user(UserName="pg-kill")
    assert _backends(database_url, "pg_terminate_backend(pid)") >= 1
    failures: list[str] = []

    def work(n: int) -> None:
        client = pg_server.client()
        try:
            client.tag_user(UserName="pg-kill", Tags=[{"Key": f"k{n}", "Value": "v"}])
            assert client.get_user(UserName="pg-kill")["User"]["UserName"] == "pg-kill"
            client.create_user(UserName=f"pg-kill-{n}")
        except Exception as exc:  # collected and asserted below
            failures.append(repr(exc))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    tags = {t["Key"] for t in iam.list_user_tags(UserName="pg-kill")["Tags"]}
    assert tags == {"k0", "k1", "k2", "k3"}
    assert {u["UserName"] for u in iam.list_users()["Users"]} >= {f"pg-kill-{n}" for n in range(4)}


def test_an_idle_server_holds_no_transaction_open(pg_server: Server, database_url: str) -> None:
    """A read's transaction on the event loop's kept connection ends with the next read's first
    round trip; when no read follows, the server ends it within a few tenths of a second: an idle
    server holds no snapshot (nothing "idle in transaction" that would hold back vacuum)."""
    iam = pg_server.client()
    iam.create_user(UserName="pg-idle")
    for _ in range(3):
        iam.get_user(UserName="pg-idle")
    in_transaction = "xact_start IS NOT NULL"
    deadline = time.monotonic() + 5
    while _backends(database_url, in_transaction) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _backends(database_url, in_transaction) == 0
