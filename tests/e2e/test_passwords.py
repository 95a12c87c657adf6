"""Console passwords end to end: login profiles, ChangePassword, and the account password policy,
enforced on every password set; passwords never come back, in answers, errors or the log."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import botocore.auth
import pytest
from botocore.compat import get_current_datetime
from botocore.exceptions import ClientError
from tests.e2e.harness import ACCOUNT_ID, Server, new_user_client, start_server, stop_server

VIOLATION = "Password does not conform to the account password policy."
# Every password used in this module, to check none of them ever leaves the server.
USED: set[str] = set()


def pw(text: str) -> str:
    USED.add(text)
    return text


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response = exc.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


def assert_violation(exc: pytest.ExceptionInfo[ClientError], password: str) -> None:
    assert error_of(exc) == (400, "PasswordPolicyViolation", VIOLATION)
    assert password not in str(exc.value.response)


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture
def no_policy(iam: Any) -> Iterator[None]:
    """Each test that sets the account password policy starts and ends without one."""
    with contextlib.suppress(ClientError):
        iam.delete_account_password_policy()
    yield
    with contextlib.suppress(ClientError):
        iam.delete_account_password_policy()


def test_password_policy_lifecycle(iam: Any, no_policy: None) -> None:
    with pytest.raises(ClientError) as exc:
        iam.get_account_password_policy()
    assert error_of(exc) == (
        404,
        "NoSuchEntity",
        f"The Password Policy with domain name {ACCOUNT_ID} cannot be found.",
    )

    iam.update_account_password_policy(
        MinimumPasswordLength=12,
        RequireSymbols=True,
        RequireNumbers=True,
        RequireUppercaseCharacters=True,
        RequireLowercaseCharacters=True,
        AllowUsersToChangePassword=True,
        MaxPasswordAge=90,
        PasswordReusePrevention=5,
        HardExpiry=True,
    )
    assert iam.get_account_password_policy()["PasswordPolicy"] == {
        "MinimumPasswordLength": 12,
        "RequireSymbols": True,
        "RequireNumbers": True,
        "RequireUppercaseCharacters": True,
        "RequireLowercaseCharacters": True,
        "AllowUsersToChangePassword": True,
        "ExpirePasswords": True,
        "MaxPasswordAge": 90,
        "PasswordReusePrevention": 5,
        "HardExpiry": True,
    }
    # As in AWS, an update replaces the whole policy: what is left out takes its default.
    iam.update_account_password_policy(RequireNumbers=True)
    assert iam.get_account_password_policy()["PasswordPolicy"] == {
        "MinimumPasswordLength": 6,
        "RequireSymbols": False,
        "RequireNumbers": True,
        "RequireUppercaseCharacters": False,
        "RequireLowercaseCharacters": False,
        "AllowUsersToChangePassword": False,
        "ExpirePasswords": False,
    }
    with pytest.raises(ClientError) as exc:
        iam.update_account_password_policy(MinimumPasswordLength=200)
    assert error_of(exc)[:2] == (400, "ValidationError")

    iam.delete_account_password_policy()
    with pytest.raises(ClientError) as exc:
        iam.delete_account_password_policy()
    assert error_of(exc)[:2] == (404, "NoSuchEntity")


def test_login_profile_lifecycle(iam: Any, no_policy: None) -> None:
    iam.create_user(UserName="p-life")
    with pytest.raises(ClientError) as exc:
        iam.get_login_profile(UserName="p-life")
    assert error_of(exc) == (404, "NoSuchEntity", "Login Profile for User p-life cannot be found.")

    created = iam.create_login_profile(
        UserName="p-life", Password=pw("Initial-Pass-1"), PasswordResetRequired=True
    )
    profile = created["LoginProfile"]
    assert profile["UserName"] == "p-life" and profile["PasswordResetRequired"] is True
    assert set(profile) == {"UserName", "CreateDate", "PasswordResetRequired"}
    got = iam.get_login_profile(UserName="p-life")["LoginProfile"]
    assert got == profile
    assert "Initial-Pass-1" not in json.dumps(got, default=str)

    with pytest.raises(ClientError) as exc:
        iam.create_login_profile(UserName="p-life", Password=pw("Another-Pass-2"))
    assert error_of(exc)[:2] == (409, "EntityAlreadyExists")

    iam.update_login_profile(UserName="p-life", PasswordResetRequired=False)
    assert iam.get_login_profile(UserName="p-life")["LoginProfile"]["PasswordResetRequired"] is False
    iam.update_login_profile(UserName="p-life", Password=pw("Changed-Pass-3"), PasswordResetRequired=True)
    assert iam.get_login_profile(UserName="p-life")["LoginProfile"]["PasswordResetRequired"] is True

    with pytest.raises(ClientError) as exc:
        iam.delete_user(UserName="p-life")
    assert error_of(exc)[:2] == (409, "DeleteConflict")
    iam.delete_login_profile(UserName="p-life")
    with pytest.raises(ClientError) as exc:
        iam.get_login_profile(UserName="p-life")
    assert error_of(exc)[:2] == (404, "NoSuchEntity")
    with pytest.raises(ClientError) as exc:
        iam.delete_login_profile(UserName="p-life")
    assert error_of(exc)[:2] == (404, "NoSuchEntity")
    with pytest.raises(ClientError) as exc:
        iam.update_login_profile(UserName="p-life", Password=pw("Changed-Pass-4"))
    assert error_of(exc)[:2] == (404, "NoSuchEntity")
    with pytest.raises(ClientError) as exc:
        iam.create_login_profile(UserName="p-nobody", Password=pw("Whatever-Pass-5"))
    assert error_of(exc)[:2] == (404, "NoSuchEntity")
    iam.delete_user(UserName="p-life")


def test_the_default_policy_applies_without_a_custom_one(iam: Any, no_policy: None) -> None:
    iam.create_user(UserName="p-default")
    for weak in ("Ab1!", "alllowercase", "ALLUPPER123"):
        with pytest.raises(ClientError) as exc:
            iam.create_login_profile(UserName="p-default", Password=pw(weak))
        assert_violation(exc, weak)
    # Not the account's name or email address (the account here is named "iamd").
    for mine in ("iamd", f"root@{ACCOUNT_ID}.iamd.local"):
        with pytest.raises(ClientError) as exc:
            iam.create_login_profile(UserName="p-default", Password=mine)
        assert error_of(exc) == (400, "PasswordPolicyViolation", VIOLATION)
    iam.create_login_profile(UserName="p-default", Password=pw("Three-kinds"))


def test_a_custom_policy_is_enforced_on_every_password_set(iam: Any, no_policy: None) -> None:
    iam.update_account_password_policy(
        MinimumPasswordLength=10,
        RequireSymbols=True,
        RequireNumbers=True,
        RequireUppercaseCharacters=True,
        RequireLowercaseCharacters=True,
    )
    iam.create_user(UserName="p-custom")
    weak = {
        "too short": "Sh0rt!pw",
        "no symbol": "NoSymbols123",
        "no number": "No-Numbers-Here",
        "no uppercase": "no-upper-123",
        "no lowercase": "NO-LOWER-123",
    }
    for password in weak.values():
        with pytest.raises(ClientError) as exc:
            iam.create_login_profile(UserName="p-custom", Password=pw(password))
        assert_violation(exc, password)
    iam.create_login_profile(UserName="p-custom", Password=pw("Good-Pass-123"))
    for password in weak.values():
        with pytest.raises(ClientError) as exc:
            iam.update_login_profile(UserName="p-custom", Password=password)
        assert_violation(exc, password)
    iam.update_login_profile(UserName="p-custom", Password=pw("Good-Pass-456"))


def test_change_password_and_reuse_prevention(server: Server, iam: Any, no_policy: None) -> None:
    iam.update_account_password_policy(
        MinimumPasswordLength=8, AllowUsersToChangePassword=True, PasswordReusePrevention=2
    )
    me = new_user_client(server, iam, "p-changer")  # no identity policy: the password policy grants it
    iam.create_login_profile(UserName="p-changer", Password=pw("first-pass"), PasswordResetRequired=True)

    with pytest.raises(ClientError) as exc:
        me.change_password(OldPassword=pw("wrong-pass"), NewPassword=pw("second-pass"))
    status, code, message = error_of(exc)
    assert (status, code) == (403, "AccessDenied") and "wrong-pass" not in message

    me.change_password(OldPassword="first-pass", NewPassword="second-pass")
    # Changing the password clears PasswordResetRequired.
    assert iam.get_login_profile(UserName="p-changer")["LoginProfile"]["PasswordResetRequired"] is False
    # The last two passwords (the current one included) cannot be reused.
    for reused in ("first-pass", "second-pass"):
        with pytest.raises(ClientError) as exc:
            me.change_password(OldPassword="second-pass", NewPassword=reused)
        assert_violation(exc, reused)
    me.change_password(OldPassword="second-pass", NewPassword=pw("third-pass"))
    # An administrator's reset is held to the same rule.
    with pytest.raises(ClientError) as exc:
        iam.update_login_profile(UserName="p-changer", Password="second-pass")
    assert_violation(exc, "second-pass")

    # The user can read the policy it must follow, but not change it.
    assert me.get_account_password_policy()["PasswordPolicy"]["PasswordReusePrevention"] == 2
    with pytest.raises(ClientError) as exc:
        me.update_account_password_policy(MinimumPasswordLength=6)
    assert error_of(exc)[:2] == (403, "AccessDenied")


def test_who_may_change_a_password(server: Server, iam: Any, no_policy: None) -> None:
    plain = new_user_client(server, iam, "p-plain")
    iam.create_login_profile(UserName="p-plain", Password=pw("plain-Pass-1"))
    # No custom policy and no permission: denied, and the password is unchanged.
    with pytest.raises(ClientError) as exc:
        plain.change_password(OldPassword="plain-Pass-1", NewPassword=pw("plain-Pass-2"))
    status, code, message = error_of(exc)
    assert (status, code) == (403, "AccessDenied") and "iam:ChangePassword" in message
    with pytest.raises(ClientError):
        plain.get_account_password_policy()

    # An explicit permission on one's own user (as in the IAMUserChangePassword managed policy).
    iam.attach_user_policy(UserName="p-plain", PolicyArn="arn:aws:iam::aws:policy/IAMUserChangePassword")
    plain.change_password(OldPassword="plain-Pass-1", NewPassword=pw("plain-Pass-2"))

    # AllowUsersToChangePassword lets everyone change their own password, but an explicit deny wins.
    iam.update_account_password_policy(AllowUsersToChangePassword=True)
    denied = new_user_client(
        server,
        iam,
        "p-denied",
        policy({"Effect": "Deny", "Action": "iam:ChangePassword", "Resource": "*"}),
    )
    iam.create_login_profile(UserName="p-denied", Password=pw("denied-Pass-1"))
    with pytest.raises(ClientError) as exc:
        denied.change_password(OldPassword="denied-Pass-1", NewPassword=pw("denied-Pass-2"))
    status, code, message = error_of(exc)
    assert (status, code) == (403, "AccessDenied") and "explicit deny" in message

    # A user without a password has none to change.
    nopass = new_user_client(server, iam, "p-nopass")
    with pytest.raises(ClientError) as exc:
        nopass.change_password(OldPassword=pw("nothing-1"), NewPassword=pw("nothing-2"))
    assert error_of(exc)[:2] == (404, "NoSuchEntity")


def test_managing_other_users_passwords_needs_permission(server: Server, iam: Any, no_policy: None) -> None:
    nobody = new_user_client(server, iam, "p-nobody")
    iam.create_user(UserName="p-victim")
    for call in (
        lambda: nobody.create_login_profile(UserName="p-victim", Password=pw("Victim-Pass-1")),
        lambda: nobody.get_login_profile(UserName="p-victim"),
        lambda: nobody.update_login_profile(UserName="p-victim", Password=pw("Victim-Pass-2")),
        lambda: nobody.delete_login_profile(UserName="p-victim"),
        lambda: nobody.get_login_profile(UserName="p-no-such-user"),
        lambda: nobody.get_account_password_policy(),
        lambda: nobody.update_account_password_policy(MinimumPasswordLength=6),
        lambda: nobody.delete_account_password_policy(),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_of(exc)[:2] == (403, "AccessDenied")
    with pytest.raises(ClientError):
        iam.get_login_profile(UserName="p-victim")


def test_passwords_are_validated_without_being_echoed(iam: Any, no_policy: None) -> None:
    iam.create_user(UserName="p-echo")
    secret = pw("Euro-€-Pass-1")  # outside the characters IAM allows in a password
    with pytest.raises(ClientError) as exc:
        iam.create_login_profile(UserName="p-echo", Password=secret)
    status, code, message = error_of(exc)
    assert (status, code) == (400, "ValidationError")
    assert secret not in message and "password" in message.lower()


def test_password_policy_with_the_aws_cli(server: Server, no_policy: None) -> None:
    done = server.cli(
        "iam",
        "update-account-password-policy",
        "--minimum-password-length",
        "14",
        "--require-numbers",
        "--max-password-age",
        "30",
    )
    assert done.returncode == 0, done.stderr
    done = server.cli("iam", "get-account-password-policy")
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)["PasswordPolicy"]
    assert got["MinimumPasswordLength"] == 14 and got["RequireNumbers"] is True
    assert got["ExpirePasswords"] is True and got["MaxPasswordAge"] == 30


def test_passwords_never_reach_the_log_or_the_database(server: Server) -> None:
    log = server.log.read_text()
    database = b"".join(f.read_bytes() for f in server.data_dir.glob("iamd.db*"))
    assert USED
    for password in USED:
        assert password not in log
        assert password.encode() not in database
    assert b"$argon2id$" in database


def test_expiry_and_hard_expiry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A password set two days ago, under MaxPasswordAge=1: the user may still change it, unless
    HardExpiry is on; then only an administrator can reset it."""
    data = tmp_path / "data"
    two_days = timedelta(days=2)
    # Two days ago: the server's clock and the clients' signing clock both moved back.
    monkeypatch.setattr(
        botocore.auth, "get_current_datetime", lambda **kw: get_current_datetime(**kw) - two_days
    )
    past = start_server(data, "--clock-offset", str(-two_days.total_seconds()))
    try:
        admin = past.client()
        admin.update_account_password_policy(
            AllowUsersToChangePassword=True, MaxPasswordAge=1, HardExpiry=True
        )
        admin.create_user(UserName="p-old")
        created = admin.create_access_key(UserName="p-old")["AccessKey"]
        key = (created["AccessKeyId"], created["SecretAccessKey"])
        admin.create_login_profile(UserName="p-old", Password="Old-Pass-1")
    finally:
        stop_server(past)
    monkeypatch.undo()
    now = start_server(data)
    try:
        admin = now.client()
        user = now.client("iam", *key)
        with pytest.raises(ClientError) as exc:
            user.change_password(OldPassword="Old-Pass-1", NewPassword="New-Pass-2")
        status, code, message = error_of(exc)
        assert (status, code) == (403, "AccessDenied") and "HardExpiry" in message
        # Without HardExpiry the expired password can be changed by its user.
        admin.update_account_password_policy(AllowUsersToChangePassword=True, MaxPasswordAge=1)
        user.change_password(OldPassword="Old-Pass-1", NewPassword="New-Pass-2")
        # With it, an administrator's reset makes a fresh (unexpired) password the user can change.
        admin.update_account_password_policy(
            AllowUsersToChangePassword=True, MaxPasswordAge=1, HardExpiry=True
        )
        admin.update_login_profile(UserName="p-old", Password="Reset-Pass-3", PasswordResetRequired=True)
        user.change_password(OldPassword="Reset-Pass-3", NewPassword="Fresh-Pass-4")
    finally:
        stop_server(now)
