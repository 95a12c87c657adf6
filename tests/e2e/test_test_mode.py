"""``iamd serve --test-mode``: ``POST /iamd/reset`` and moto's ``POST /moto-api/reset`` put the
account back to its first-start state, fast; profiles ``iamd`` and ``iamd-root`` keep working;
loopback only; without the flag the reset paths do not exist.

moto's reset (moto/moto_api/_internal/responses.py, ``reset_response``): ``POST /moto-api/reset``
answers 200 ``{"status": "ok"}``, any other method 400 ``{"Error": "Need to POST to reset Moto"}``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError
from tests.e2e.harness import ACCOUNT_ID, CLIENT_CONFIG, Server, start_server, stop_server

ADMIN_ARN = f"arn:aws:iam::{ACCOUNT_ID}:user/iamd-admin"
ROOT_ARN = f"arn:aws:iam::{ACCOUNT_ID}:root"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ROOT_ARN}, "Action": "sts:AssumeRole"}],
    }
)
READ_ONLY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:Get*", "Resource": "*"}]}
)


@pytest.fixture(scope="module")
def test_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("iamd") / "data", "--test-mode")
    yield running
    stop_server(running)


@pytest.fixture(autouse=True)
def fresh_account(request: pytest.FixtureRequest) -> None:
    """Each test starts from the first-start state (as a suite using test mode would)."""
    if "test_server" in request.fixturenames:
        assert post(f"{request.getfixturevalue('test_server').endpoint}/iamd/reset")[0] == 200


def post(url: str, method: str = "POST") -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=b"" if method == "POST" else None, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as error:
        body = error.read()
        try:
            return error.code, json.loads(body or b"{}")
        except ValueError:
            return error.code, {"raw": body.decode("utf-8", "replace")}


def profile_session(server: Server, profile: str) -> boto3.Session:
    """A boto3 session reading the server's data directory as AWS CLI files (endpoint included)."""
    core = botocore.session.Session()
    core.set_config_variable("credentials_file", str(server.data_dir / "credentials"))
    core.set_config_variable("config_file", str(server.data_dir / "config"))
    return boto3.Session(botocore_session=core, profile_name=profile)


def account_state(iam: Any) -> dict[str, Any]:
    """What a user of the account sees of it: every entity, the local policies, the settings."""
    details = iam.get_account_authorization_details(Filter=["User", "Group", "Role", "LocalManagedPolicy"])
    summary = iam.get_account_summary()["SummaryMap"]
    try:
        password_policy: Any = iam.get_account_password_policy()["PasswordPolicy"]
    except ClientError as error:
        password_policy = error.response["Error"]["Code"]
    users = {
        u["UserName"]: {
            "id": u["UserId"],
            "keys": [
                k["AccessKeyId"] for k in iam.list_access_keys(UserName=u["UserName"])["AccessKeyMetadata"]
            ],
            "attached": u.get("AttachedManagedPolicies"),
            "groups": u.get("GroupList"),
            "tags": u.get("Tags", []),
        }
        for u in details["UserDetailList"]
    }
    return {
        "users": users,
        "groups": [g["GroupName"] for g in details["GroupDetailList"]],
        "roles": [r["RoleName"] for r in details["RoleDetailList"]],
        "policies": [p["PolicyName"] for p in details["Policies"]],
        "aliases": iam.list_account_aliases()["AccountAliases"],
        "password_policy": password_policy,
        "instance_profiles": [
            p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"]
        ],
        "mfa": [d["SerialNumber"] for d in iam.list_virtual_mfa_devices()["VirtualMFADevices"]],
        "oidc": iam.list_open_id_connect_providers()["OpenIDConnectProviderList"],
        "summary": summary,
        "aws_policies": len(list(_aws_policies(iam))),
    }


def _aws_policies(iam: Any) -> Iterator[str]:
    for page in iam.get_paginator("list_policies").paginate(Scope="AWS"):
        for policy in page["Policies"]:
            yield policy["Arn"]


def make_a_mess(server: Server, iam: Any) -> list[str]:
    """Users, groups, roles, policies, keys, settings: what tests leave behind. Returns the ids of
    the access keys it made (the administrator's second key among them)."""
    iam.create_user(UserName="alice", Tags=[{"Key": "team", "Value": "a"}])
    iam.create_group(GroupName="devs")
    iam.add_user_to_group(GroupName="devs", UserName="alice")
    arn = iam.create_policy(PolicyName="read", PolicyDocument=READ_ONLY)["Policy"]["Arn"]
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=READ_ONLY, SetAsDefault=True)
    iam.attach_group_policy(GroupName="devs", PolicyArn=arn)
    iam.put_user_policy(UserName="alice", PolicyName="inline", PolicyDocument=READ_ONLY)
    iam.create_role(RoleName="app", AssumeRolePolicyDocument=TRUST)
    iam.attach_role_policy(RoleName="app", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    iam.create_instance_profile(InstanceProfileName="app")
    iam.add_role_to_instance_profile(InstanceProfileName="app", RoleName="app")
    iam.create_login_profile(UserName="alice", Password="Correct-Horse-9-Battery")
    iam.create_virtual_mfa_device(VirtualMFADeviceName="alice-mfa")
    iam.create_account_alias(AccountAlias="messy-account")
    iam.update_account_password_policy(MinimumPasswordLength=20)
    iam.create_open_id_connect_provider(
        Url="https://tokens.example.com", ThumbprintList=["a" * 40], ClientIDList=["x"]
    )
    iam.tag_user(UserName="iamd-admin", Tags=[{"Key": "touched", "Value": "yes"}])
    keys = [iam.create_access_key(UserName="alice")["AccessKey"], iam.create_access_key()["AccessKey"]]
    return [k["AccessKeyId"] for k in keys] + [k["SecretAccessKey"] for k in keys]


def test_reset_restores_the_first_start_state(test_server: Server) -> None:
    iam = test_server.client("iam")
    first = account_state(iam)
    assert list(first["users"]) == ["iamd-admin"] and first["roles"] == [] and first["policies"] == []
    assert first["aws_policies"] > 1000  # the AWS managed policies are there, and stay
    made = make_a_mess(test_server, iam)
    assert account_state(iam) != first
    status, body = post(f"{test_server.endpoint}/iamd/reset")
    assert status == 200 and body["status"] == "ok" and body["accounts"] == [ACCOUNT_ID]
    assert account_state(iam) == first
    # The keys made before the reset are gone, the cached ones too.
    alice_key, admin_key, alice_secret, admin_secret = made
    for key_id, secret in ((alice_key, alice_secret), (admin_key, admin_secret)):
        with pytest.raises(ClientError) as caught:
            test_server.client("sts", key_id, secret).get_caller_identity()
        assert caught.value.response["Error"]["Code"] == "InvalidClientTokenId"
    # The same names can be made again at once.
    make_a_mess(test_server, iam)


def test_reset_takes_the_organization_and_its_member_accounts_away(test_server: Server) -> None:
    """A first start has no organization: a reset removes one made since, with the member
    accounts CreateAccount made, and the same organization can be made again at once."""
    orgs = test_server.client("organizations")
    orgs.create_organization(FeatureSet="ALL")
    request = orgs.create_account(AccountName="member", Email="member@example.com")
    status = orgs.describe_create_account_status(CreateAccountRequestId=request["CreateAccountStatus"]["Id"])[
        "CreateAccountStatus"
    ]
    assert status["State"] == "SUCCEEDED"
    assert len(orgs.list_accounts()["Accounts"]) == 2
    code, body = post(f"{test_server.endpoint}/iamd/reset")
    assert code == 200 and body["accounts"] == [ACCOUNT_ID]
    with pytest.raises(ClientError) as caught:
        orgs.describe_organization()
    assert caught.value.response["Error"]["Code"] == "AWSOrganizationsNotInUseException"
    # The member account is gone: its access role cannot be assumed any more.
    with pytest.raises(ClientError) as refused:
        test_server.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{status['AccountId']}:role/OrganizationAccountAccessRole",
            RoleSessionName="after-reset",
        )
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    orgs.create_organization(FeatureSet="ALL")
    assert len(orgs.list_accounts()["Accounts"]) == 1


def test_moto_reset_path_answers_as_moto_does(test_server: Server) -> None:
    iam = test_server.client("iam")
    first = account_state(iam)
    iam.create_user(UserName="bob")
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=TRUST)
    assert post(f"{test_server.endpoint}/moto-api/reset", "GET") == (
        400,
        {"Error": "Need to POST to reset Moto"},
    )
    assert "bob" in account_state(iam)["users"]  # a GET resets nothing
    assert post(f"{test_server.endpoint}/moto-api/reset") == (200, {"status": "ok"})
    assert account_state(iam) == first


def test_profiles_iamd_and_iamd_root_work_before_and_after_a_reset(test_server: Server) -> None:
    for _ in range(2):
        admin = profile_session(test_server, "iamd").client("sts", config=CLIENT_CONFIG)
        assert admin.get_caller_identity()["Arn"] == ADMIN_ARN
        root = profile_session(test_server, "iamd-root").client("sts", config=CLIENT_CONFIG)
        identity = root.get_caller_identity()
        assert identity["Arn"] == ROOT_ARN and identity["Account"] == ACCOUNT_ID
        # The root user can act: it made this user, which the reset then takes away.
        root_iam = profile_session(test_server, "iamd-root").client("iam", config=CLIENT_CONFIG)
        root_iam.create_user(UserName="made-by-root")
        assert post(f"{test_server.endpoint}/iamd/reset")[0] == 200
        assert "made-by-root" not in account_state(test_server.client("iam"))["users"]


def test_the_root_key_is_announced_in_the_server_log(test_server: Server) -> None:
    log = test_server.log.read_text()
    assert "test mode: the root user of account" in log and "against best practice" in log


def test_the_trail_keeps_what_happened_before_and_records_the_reset(test_server: Server) -> None:
    iam = test_server.client("iam")
    iam.create_user(UserName="remembered")
    assert post(f"{test_server.endpoint}/iamd/reset")[0] == 200
    trail = test_server.client("cloudtrail")

    def events(name: str) -> list[dict[str, Any]]:
        found = trail.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}])
        return [json.loads(e["CloudTrailEvent"]) for e in found["Events"]]

    created = [e for e in events("CreateUser") if e["requestParameters"]["userName"] == "remembered"]
    assert len(created) == 1
    resets = events("ResetTestAccounts")
    assert (
        resets
        and resets[0]["eventType"] == "AwsServiceEvent"
        and resets[0]["recipientAccountId"] == ACCOUNT_ID
    )
    verify = subprocess.run(
        [sys.executable, "-m", "iamd.cli.main", "trail", "verify", "--data-dir", str(test_server.data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_reset_takes_under_100_ms(test_server: Server) -> None:
    iam = test_server.client("iam")
    times = []
    for i in range(5):
        for j in range(10):
            iam.create_user(UserName=f"u{i}-{j}")
        started = time.perf_counter()
        status, _ = post(f"{test_server.endpoint}/iamd/reset")
        times.append(time.perf_counter() - started)
        assert status == 200
    assert statistics.median(times) < 0.1, times


def test_test_mode_refuses_a_host_that_is_not_loopback(tmp_path: Path) -> None:
    for host in ("0.0.0.0", "192.0.2.10"):
        started = subprocess.run(
            [
                sys.executable,
                "-m",
                "iamd.cli.main",
                "serve",
                "--data-dir",
                str(tmp_path),
                "--test-mode",
                "--host",
                host,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert started.returncode == 2, started.stdout + started.stderr
        assert "--test-mode listens on loopback only" in started.stderr
    assert not (tmp_path / "credentials").exists()  # refused before anything was made


def test_without_test_mode_there_is_no_reset_and_no_root_key(server: Server, iam: Any) -> None:
    iam.create_user(UserName="stays")
    for path in ("/iamd/reset", "/moto-api/reset"):
        status, body = post(f"{server.endpoint}{path}")
        assert status == 404, body  # the AWS pipeline's "no operation matches"
    assert "stays" in [u["UserName"] for u in iam.list_users()["Users"]]
    assert "iamd-root" not in (server.data_dir / "credentials").read_text()
    assert iam.list_access_keys(UserName="iamd-admin")["AccessKeyMetadata"]
    assert iam.get_account_summary()["SummaryMap"]["AccountAccessKeysPresent"] == 0


def test_the_documented_pytest_fixture_works() -> None:
    """examples/test_mode/conftest.py (the README's fixture) run as a user would: pytest on it."""
    repo = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(repo / "examples" / "test_mode")],
        capture_output=True,
        text=True,
        env=env,
        cwd=repo,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-4000:]
    assert "3 passed" in ran.stdout
