"""The server as a newcomer meets it: first start, the profile it writes, restarts, the wire
protocol's errors, and the users API through boto3 and the AWS CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from tests.e2e.harness import ACCOUNT_ID, Server, start_server, stop_server


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response = exc.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


def test_health_answers_ok(server: Server) -> None:
    with urllib.request.urlopen(f"{server.endpoint}/iamd/health") as answer:
        assert answer.status == 200
        assert json.load(answer) == {"status": "ok", "trail": {"status": "ok"}}


def test_ready_answers_once_the_database_does(server: Server) -> None:
    with urllib.request.urlopen(f"{server.endpoint}/iamd/ready") as answer:
        assert answer.status == 200
        assert json.load(answer) == {"status": "ready", "database": "sqlite"}


def test_first_start_writes_a_working_profile(server: Server) -> None:
    credentials = (server.data_dir / "credentials").read_text()
    config = (server.data_dir / "config").read_text()
    assert "[iamd]" in credentials and "aws_access_key_id = AKIA" in credentials
    assert oct((server.data_dir / "credentials").stat().st_mode & 0o777) == "0o600"
    assert f"endpoint_url = {server.endpoint}" in config
    # The printed commands work as printed: the AWS CLI with only the two files.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(server.data_dir / "credentials"),
        AWS_CONFIG_FILE=str(server.data_dir / "config"),
    )
    aws = Path(sys.executable).parent / "aws"
    done = subprocess.run(
        [str(aws), "--profile", "iamd", "iam", "get-user"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    user = json.loads(done.stdout)["User"]
    assert user["UserName"] == "iamd-admin"
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/iamd-admin"
    log = server.log.read_text()
    assert f"export AWS_SHARED_CREDENTIALS_FILE={server.data_dir / 'credentials'}" in log
    assert "aws --profile iamd iam get-user" in log


def test_root_user_has_no_access_keys_and_admin_has_one(iam: Any) -> None:
    assert iam.get_account_summary()["SummaryMap"]["AccountAccessKeysPresent"] == 0
    keys = iam.list_access_keys(UserName="iamd-admin")["AccessKeyMetadata"]
    assert len(keys) == 1 and keys[0]["Status"] == "Active"


def test_restart_reuses_the_data_and_regenerates_nothing(tmp_path: Path) -> None:
    first = start_server(tmp_path / "data")
    try:
        first.client().create_user(UserName="survivor")
        credentials = (tmp_path / "data" / "credentials").read_text()
    finally:
        stop_server(first)
    second = start_server(tmp_path / "data")
    try:
        assert (tmp_path / "data" / "credentials").read_text() == credentials
        names = [u["UserName"] for u in second.client().list_users()["Users"]]
        assert names == ["iamd-admin", "survivor"]
        assert "using account" in second.log.read_text()
    finally:
        stop_server(second)


def test_wrong_secret_is_signature_does_not_match(server: Server) -> None:
    client = server.client("iam", server.access_key_id, "x" * 40)
    with pytest.raises(ClientError) as exc:
        client.list_users()
    status, code, _ = error_of(exc)
    assert (status, code) == (403, "SignatureDoesNotMatch")


def test_unknown_key_is_invalid_client_token_id(server: Server) -> None:
    client = server.client("iam", "AKIAAAAAAAAAAAAAAAAA", "x" * 40)
    with pytest.raises(ClientError) as exc:
        client.list_users()
    status, code, message = error_of(exc)
    assert (status, code) == (403, "InvalidClientTokenId")
    assert message == "The security token included in the request is invalid."


def test_unsigned_request_is_missing_authentication_token(server: Server) -> None:
    request = urllib.request.Request(f"{server.endpoint}/?Action=ListUsers&Version=2010-05-08")
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(request)
    body = exc.value.read().decode()
    assert exc.value.code == 403
    assert "<Code>MissingAuthenticationToken</Code>" in body


def test_presigned_query_string_request_is_verified(server: Server) -> None:
    request = AWSRequest("GET", f"{server.endpoint}/?Action=GetUser&Version=2010-05-08")
    SigV4QueryAuth(
        Credentials(server.access_key_id, server.secret_access_key), "iam", "us-east-1", expires=300
    ).add_auth(request)
    with urllib.request.urlopen(request.url) as answer:
        body = answer.read().decode()
    assert "<UserName>iamd-admin</UserName>" in body


def test_bad_input_is_a_validation_error_not_a_500(iam: Any) -> None:
    with pytest.raises(ClientError) as exc:
        iam.create_user(UserName="no spaces allowed")
    status, code, message = error_of(exc)
    assert (status, code) == (400, "ValidationError")
    assert "userName" in message and "regular expression" in message


def test_user_lifecycle(iam: Any) -> None:
    created = iam.create_user(UserName="alice", Path="/staff/", Tags=[{"Key": "team", "Value": "blue"}])[
        "User"
    ]
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/staff/alice"
    assert created["UserId"].startswith("AIDA") and len(created["UserId"]) == 21
    with pytest.raises(ClientError) as exc:
        iam.create_user(UserName="ALICE")
    assert error_of(exc)[:2] == (409, "EntityAlreadyExists")
    assert [u["UserName"] for u in iam.list_users(PathPrefix="/staff/")["Users"]] == ["alice"]
    got = iam.get_user(UserName="alice")["User"]
    assert got["Tags"] == [{"Key": "team", "Value": "blue"}]
    iam.update_user(UserName="alice", NewUserName="alice2", NewPath="/ops/")
    assert iam.get_user(UserName="alice2")["User"]["Path"] == "/ops/"
    iam.tag_user(UserName="alice2", Tags=[{"Key": "env", "Value": "prod"}])
    iam.untag_user(UserName="alice2", TagKeys=["team"])
    assert iam.list_user_tags(UserName="alice2")["Tags"] == [{"Key": "env", "Value": "prod"}]
    iam.delete_user(UserName="alice2")
    with pytest.raises(ClientError) as exc:
        iam.get_user(UserName="alice2")
    assert error_of(exc)[:2] == (404, "NoSuchEntity")


def test_list_users_paginates(iam: Any) -> None:
    for n in range(5):
        iam.create_user(UserName=f"page-{n}", Path="/paging/")
    seen: list[str] = []
    marker: dict[str, str] = {}
    while True:
        page = iam.list_users(PathPrefix="/paging/", MaxItems=2, **marker)
        seen += [u["UserName"] for u in page["Users"]]
        if not page["IsTruncated"]:
            break
        marker = {"Marker": page["Marker"]}
    assert seen == [f"page-{n}" for n in range(5)]


def test_aws_cli_creates_and_lists_users(server: Server) -> None:
    done = server.cli("iam", "create-user", "--user-name", "cli-user")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["User"]["UserName"] == "cli-user"
    listed = server.cli("iam", "list-users", "--query", "Users[].UserName")
    assert "cli-user" in json.loads(listed.stdout)
    missing = server.cli("iam", "get-user", "--user-name", "nobody-here")
    assert missing.returncode != 0
    assert "NoSuchEntity" in missing.stderr


def test_operation_outside_iamd_is_named_unsupported(iam: Any) -> None:
    with pytest.raises(ClientError) as exc:
        iam.get_delegation_request(DelegationRequestId="x" * 16)
    status, code, message = error_of(exc)
    assert (status, code) == (400, "UnsupportedOperation")
    assert "GetDelegationRequest" in message
