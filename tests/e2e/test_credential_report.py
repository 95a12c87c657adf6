"""The credential report end to end: ReportNotPresent before any, STARTED then COMPLETE, reuse
within 4 hours, ReportExpired after (a second server on the same data directory with its clock 5
hours ahead), and the CSV read with Python's csv module: AWS's 22 columns in order, the root row
first, and the documented values for users with and without passwords, with active, inactive and
used access keys, and with and without MFA."""

from __future__ import annotations

import base64
import csv
import io
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import botocore.auth
import pytest
from botocore.compat import get_current_datetime
from botocore.exceptions import ClientError
from tests.e2e.harness import ACCOUNT_ID, Server, start_server, stop_server

from iamd.services.sts.mfa import STEP, totp

COLUMNS = [
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "password_last_changed",
    "password_next_rotation",
    "mfa_active",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_1_last_used_region",
    "access_key_1_last_used_service",
    "access_key_2_active",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
    "access_key_2_last_used_region",
    "access_key_2_last_used_service",
    "cert_1_active",
    "cert_1_last_rotated",
    "cert_2_active",
    "cert_2_last_rotated",
]
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("iamd-report") / "data")
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def iam(server: Server) -> Any:
    return server.client("iam")


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    return exc.value.response["ResponseMetadata"]["HTTPStatusCode"], exc.value.response["Error"]["Code"]


def parse(report: dict[str, Any]) -> tuple[list[str], dict[str, dict[str, str]], bytes]:
    content: bytes = report["Content"]
    reader = csv.reader(io.StringIO(content.decode("utf-8")))
    header = next(reader)
    rows = {row[0]: dict(zip(header, row, strict=True)) for row in reader}
    return header, rows, content


def when(text: str) -> datetime:
    assert TIME.fullmatch(text), text
    return datetime.fromisoformat(text)


def test_no_report_before_one_is_generated(iam: Any) -> None:
    with pytest.raises(ClientError) as exc:
        iam.get_credential_report()
    assert error_of(exc) == (410, "ReportNotPresent")


@pytest.fixture(scope="module")
def report(server: Server, iam: Any) -> dict[str, Any]:
    """Users: one with a password and two keys (the first used, the second inactive), one with
    nothing, and a 90-day password policy; then the report."""
    iam.update_account_password_policy(MinimumPasswordLength=12, MaxPasswordAge=90)
    iam.create_user(UserName="cr-full")
    iam.create_login_profile(UserName="cr-full", Password="Report-Passw0rd!", PasswordResetRequired=False)
    first = iam.create_access_key(UserName="cr-full")["AccessKey"]
    second = iam.create_access_key(UserName="cr-full")["AccessKey"]
    iam.update_access_key(UserName="cr-full", AccessKeyId=second["AccessKeyId"], Status="Inactive")
    sts = server.client("sts", first["AccessKeyId"], first["SecretAccessKey"])
    sts.get_caller_identity()
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="cr-full-mfa")["VirtualMFADevice"]
    seed = base64.b32decode(device["Base32StringSeed"])
    step = int(time.time() // STEP)
    iam.enable_mfa_device(
        UserName="cr-full",
        SerialNumber=device["SerialNumber"],
        AuthenticationCode1=totp(seed, step - 1),
        AuthenticationCode2=totp(seed, step),
    )
    iam.create_user(UserName="cr-bare", Path="/team/")
    started = iam.generate_credential_report()
    assert started["State"] == "STARTED"
    assert started["Description"] == "No report exists. Starting a new report generation task"
    complete = iam.generate_credential_report()
    assert complete["State"] == "COMPLETE" and "Description" not in complete
    answer: dict[str, Any] = iam.get_credential_report()
    answer["first"], answer["second"] = first, second
    return answer


def test_the_report_has_awss_columns_and_root_first(report: dict[str, Any]) -> None:
    assert report["ReportFormat"] == "text/csv"
    assert abs(report["GeneratedTime"] - datetime.now(UTC)) < timedelta(minutes=5)
    header, rows, content = parse(report)
    assert header == COLUMNS
    assert content.endswith(b"\n")
    lines = content.decode().splitlines()
    assert lines[0] == ",".join(COLUMNS)
    assert lines[1].startswith("<root_account>,")
    root = rows["<root_account>"]
    assert root["arn"] == f"arn:aws:iam::{ACCOUNT_ID}:root"
    when(root["user_creation_time"])
    assert root["password_enabled"] == "not_supported"
    assert root["password_last_used"] == "no_information"
    assert root["password_last_changed"] == "not_supported"
    assert root["password_next_rotation"] == "not_supported"
    assert root["mfa_active"] == "false"
    assert root["access_key_1_active"] == "false" and root["access_key_1_last_rotated"] == "N/A"
    assert root["cert_1_active"] == "false" and root["cert_1_last_rotated"] == "N/A"
    # Users follow, by name.
    assert [line.split(",")[0] for line in lines[2:]] == ["cr-bare", "cr-full", "iamd-admin"]


def test_a_user_with_a_password_and_keys(report: dict[str, Any]) -> None:
    _, rows, _ = parse(report)
    full = rows["cr-full"]
    assert full["arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/cr-full"
    created = when(full["user_creation_time"])
    assert full["password_enabled"] == "true"
    assert full["password_last_used"] == "no_information"  # a password never used to sign in
    changed = when(full["password_last_changed"])
    assert when(full["password_next_rotation"]) == changed + timedelta(days=90)
    assert full["mfa_active"] == "true"
    # Key 1: active, used (sts:GetCallerIdentity).
    assert full["access_key_1_active"] == "true"
    assert when(full["access_key_1_last_rotated"]) >= created
    assert when(full["access_key_1_last_used_date"]) >= when(full["access_key_1_last_rotated"])
    assert full["access_key_1_last_used_region"] == "us-east-1"
    assert full["access_key_1_last_used_service"] == "sts"
    # Key 2: inactive, never used.
    assert full["access_key_2_active"] == "false"
    when(full["access_key_2_last_rotated"])
    assert full["access_key_2_last_used_date"] == "N/A"
    assert full["access_key_2_last_used_region"] == "N/A"
    assert full["access_key_2_last_used_service"] == "N/A"
    assert (full["cert_1_active"], full["cert_1_last_rotated"]) == ("false", "N/A")
    assert (full["cert_2_active"], full["cert_2_last_rotated"]) == ("false", "N/A")


def test_a_user_without_credentials(report: dict[str, Any]) -> None:
    _, rows, _ = parse(report)
    bare = rows["cr-bare"]
    assert bare["arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/team/cr-bare"
    assert bare["password_enabled"] == "false"
    assert bare["password_last_used"] == "N/A"
    assert bare["password_last_changed"] == "N/A"
    assert bare["password_next_rotation"] == "N/A"
    assert bare["mfa_active"] == "false"
    for slot in ("1", "2"):
        assert bare[f"access_key_{slot}_active"] == "false"
        for column in ("last_rotated", "last_used_date", "last_used_region", "last_used_service"):
            assert bare[f"access_key_{slot}_{column}"] == "N/A"
    # The bootstrap administrator: a key, used, no password.
    admin = rows["iamd-admin"]
    assert admin["password_enabled"] == "false"
    assert admin["access_key_1_active"] == "true"
    assert admin["access_key_1_last_used_service"] == "iam"


def test_a_report_is_reused_for_four_hours(iam: Any, report: dict[str, Any]) -> None:
    iam.create_user(UserName="cr-later")
    assert iam.generate_credential_report()["State"] == "COMPLETE"
    again = iam.get_credential_report()
    assert again["Content"] == report["Content"]
    assert again["GeneratedTime"] == report["GeneratedTime"]
    assert "cr-later" not in parse(again)[1]


def test_a_report_expires_after_four_hours(server: Server, iam: Any, report: dict[str, Any]) -> None:
    offset = 5 * 3600
    later = start_server(server.data_dir, "--clock-offset", str(offset))
    try:
        ahead = later.client("iam")
        shift = timedelta(seconds=offset)
        # Sign as of the server's clock (SigV4 refuses more than 15 minutes of skew).
        clock = mock.patch.object(
            botocore.auth, "get_current_datetime", lambda **kw: get_current_datetime(**kw) + shift
        )
        clock.start()
        with pytest.raises(ClientError) as exc:
            ahead.get_credential_report()
        assert error_of(exc) == (410, "ReportExpired")
        started = ahead.generate_credential_report()
        assert started["State"] == "STARTED"
        assert "Description" not in started  # a report existed
        fresh = ahead.get_credential_report()
        assert "cr-later" in parse(fresh)[1]
        assert fresh["GeneratedTime"] > report["GeneratedTime"] + timedelta(hours=4)
    finally:
        mock.patch.stopall()
        stop_server(later)


def test_permissions(server: Server, iam: Any, report: dict[str, Any]) -> None:
    iam.create_user(UserName="cr-nobody")
    key = iam.create_access_key(UserName="cr-nobody")["AccessKey"]
    nobody = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    for call in (nobody.generate_credential_report, nobody.get_credential_report):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_of(exc) == (403, "AccessDenied")
