"""The web console end to end (httpx with cookies): sign-in with password and TOTP, sessions in
HttpOnly SameSite=Strict cookies with CSRF protection, forced and expired password changes,
throttling, the "My security credentials" page (password, MFA devices with their QR code,
access keys), all authorized like the API, with aws:MultiFactorAuthPresent from the sign-in."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from botocore.exceptions import ClientError
from tests.e2e.console_helpers import ConsoleAgent
from tests.e2e.harness import ACCOUNT_ID, Server, start_server, stop_server
from tests.e2e.mfa_helpers import SELF_MANAGE_WITH_MFA, STEP, Device, enable_device, signing_clock
from tests.e2e.policy_helpers import allow, policy

PASSWORD = "Correct-Horse-7"
HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
BAD = "Your authentication information is incorrect. Please try again."


@pytest.fixture
def agent(server: Server) -> Iterator[ConsoleAgent]:
    console = ConsoleAgent(server.endpoint)
    yield console
    console.close()


def make_user(iam: Any, name: str, inline: str | None = None, *, reset: bool = False) -> None:
    iam.create_user(UserName=name)
    iam.create_login_profile(UserName=name, Password=PASSWORD, PasswordResetRequired=reset)
    if inline is not None:
        iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=inline)


def test_sign_in_with_a_password(server: Server, iam: Any, agent: ConsoleAgent) -> None:
    make_user(iam, "con-alice", policy(allow(["iam:ListAccessKeys", "iam:ListMFADevices"], "*")))
    agent.get("/")
    assert agent.path == "/console/signin"
    answer = agent.sign_in(ACCOUNT_ID, "con-alice", PASSWORD)
    assert answer.status_code == 200 and agent.path == "/console/home", agent.text
    assert agent.field("arn") == f"arn:aws:iam::{ACCOUNT_ID}:user/con-alice"
    assert agent.field("mfa-state") == "No"
    assert agent.field("who") == "con-alice"
    assert 'id="no-keys"' in agent.text and 'id="no-mfa"' in agent.text
    assert "PasswordLastUsed" in iam.get_user(UserName="con-alice")["User"]

    # The session cookie: HttpOnly, SameSite=Strict, only under /console, not Secure over http.
    cookie = next(
        h for h in answer.history[-1].headers.get_list("set-cookie") if h.startswith("iamd-console=")
    )
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/console"} <= flags
    assert "secure" not in flags
    assert answer.headers["content-security-policy"].startswith("default-src 'none'")

    agent.sign_out()
    assert agent.path == "/console/signin"
    agent.get("/home")
    assert agent.path == "/console/signin"


def test_wrong_credentials_say_nothing_more(server: Server, iam: Any, agent: ConsoleAgent) -> None:
    make_user(iam, "con-bob")
    for account, user, password in (
        (ACCOUNT_ID, "con-bob", "Wrong-Password-1"),
        (ACCOUNT_ID, "nobody-here", PASSWORD),
        ("999999999999", "con-bob", PASSWORD),
        ("no-such-alias", "con-bob", PASSWORD),
    ):
        answer = agent.sign_in(account, user, password)
        assert (answer.status_code, agent.error()) == (401, BAD), (account, user)
        assert agent.path == "/console/signin"
    # A user without a console password cannot sign in.
    iam.create_user(UserName="con-nopassword")
    assert agent.sign_in(ACCOUNT_ID, "con-nopassword", PASSWORD).status_code == 401


def test_sign_in_with_the_account_alias(server: Server, iam: Any, agent: ConsoleAgent) -> None:
    make_user(iam, "con-carol")
    iam.create_account_alias(AccountAlias="console-test-alias")
    try:
        agent.sign_in("console-test-alias", "con-carol", PASSWORD)
        assert agent.path == "/console/home", agent.error()
    finally:
        iam.delete_account_alias(AccountAlias="console-test-alias")


def test_csrf_and_origin_are_checked(server: Server, iam: Any, agent: ConsoleAgent) -> None:
    make_user(iam, "con-dave", policy(allow("iam:CreateAccessKey", "*"), allow("iam:ListAccessKeys", "*")))
    agent.sign_in(ACCOUNT_ID, "con-dave", PASSWORD)
    assert agent.path == "/console/home"
    token = agent.csrf
    assert agent.post("/keys/create", {}, csrf="forged").status_code == 403
    assert agent.post("/keys/create", {}, csrf="").status_code == 403
    agent.get("/home")
    cross = agent.http.post(
        "/console/keys/create", data={"csrf": token}, headers={"Origin": "https://evil.example"}
    )
    assert cross.status_code == 403
    assert iam.list_access_keys(UserName="con-dave")["AccessKeyMetadata"] == []
    # The sign-in form is protected too (login CSRF).
    fresh = ConsoleAgent(server.endpoint)
    try:
        answer = fresh.http.post(
            "/console/signin",
            data={"kind": "user", "account": ACCOUNT_ID, "username": "con-dave", "password": PASSWORD},
        )
        assert answer.status_code == 403
    finally:
        fresh.close()


def test_sign_in_with_totp(server: Server, iam: Any, agent: ConsoleAgent) -> None:
    make_user(iam, "con-erin", policy(allow("iam:ListMFADevices", "arn:aws:iam::*:user/${aws:username}")))
    device = enable_device(iam, "con-erin", "erin-console")
    agent.sign_in(ACCOUNT_ID, "con-erin", PASSWORD)
    assert agent.path == "/console/mfa"
    agent.get("/home")
    assert agent.path == "/console/mfa"  # nothing else until the second factor
    wrong = "000000" if device.fresh() != "000000" else "111111"
    assert agent.post("/mfa", {"code": wrong}).status_code == 401
    code = device.fresh()
    agent.post("/mfa", {"code": code})
    assert agent.path == "/console/home", agent.error()
    assert agent.field("mfa-state") == "Yes"
    assert device.serial in agent.text

    # The same code again, in another sign-in: refused (a code is accepted once).
    other = ConsoleAgent(server.endpoint)
    try:
        other.sign_in(ACCOUNT_ID, "con-erin", PASSWORD)
        assert other.post("/mfa", {"code": code}).status_code == 401
        assert other.path == "/console/mfa"
    finally:
        other.close()


def test_self_managed_credentials_with_mfa(server: Server, iam: Any, agent: ConsoleAgent) -> None:
    """AWS's "manage your own credentials with MFA" policy through the console: signed in without
    MFA the user can only set up MFA; signed in with it, its access keys."""
    make_user(iam, "con-frank", SELF_MANAGE_WITH_MFA)
    agent.sign_in(ACCOUNT_ID, "con-frank", PASSWORD)
    assert agent.path == "/console/home"
    assert "explicit deny in an identity-based policy" in agent.text  # the access keys section
    assert agent.post("/keys/create", {}).status_code == 403

    serial, seed, png = agent.add_virtual_device("frank-phone")
    assert serial == f"arn:aws:iam::{ACCOUNT_ID}:mfa/frank-phone"
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    device = Device(serial, seed)
    wrong = agent.post("/mfa/virtual/enable", {"serial": serial, "code1": "123456", "code2": "654321"})
    assert wrong.status_code == 403 and "not valid" in (agent.error() or "")
    first, second = device.pair()
    agent.post("/mfa/virtual/enable", {"serial": serial, "code1": first, "code2": second})
    assert agent.path == "/console/home" and agent.message() == "The MFA device was assigned."
    assert [d["SerialNumber"] for d in iam.list_mfa_devices(UserName="con-frank")["MFADevices"]] == [serial]
    # Still the session without MFA: a new sign-in brings it.
    assert agent.post("/keys/create", {}).status_code == 403
    agent.sign_out()

    agent.sign_in(ACCOUNT_ID, "con-frank", PASSWORD)
    assert agent.path == "/console/mfa"
    agent.post("/mfa", {"code": device.fresh()})
    assert agent.field("mfa-state") == "Yes"
    created = agent.post("/keys/create", {})
    assert created.status_code == 200, agent.error()
    key_id = agent.field("new-key-id")
    secret = agent.field("new-key-secret")
    assert key_id and key_id.startswith("AKIA") and secret and len(secret) == 40
    agent.get("/home")
    assert secret not in agent.text  # shown once
    assert key_id in agent.text

    # Rotate: a new key, the old one inactive.
    agent.post("/keys/rotate", {"id": key_id})
    new_id = agent.field("new-key-id")
    assert new_id and new_id != key_id
    statuses = {
        k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName="con-frank")["AccessKeyMetadata"]
    }
    assert statuses == {key_id: "Inactive", new_id: "Active"}
    agent.post("/keys/delete", {"id": key_id})
    assert agent.message() == "The access key was deleted."
    agent.post("/keys/status", {"id": new_id, "status": "Inactive"})
    assert iam.list_access_keys(UserName="con-frank")["AccessKeyMetadata"][0]["Status"] == "Inactive"
    # Another user's key is not the user's own: the console acts on its own credentials only.
    admin_key = iam.list_access_keys()["AccessKeyMetadata"][0]["AccessKeyId"]
    denied = agent.post("/keys/delete", {"id": admin_key})
    assert denied.status_code == 404
    agent.post("/keys/delete", {"id": new_id})

    # Removing the MFA device.
    agent.post("/mfa/remove", {"serial": serial})
    assert agent.message() == "The MFA device was removed."
    assert iam.list_mfa_devices(UserName="con-frank")["MFADevices"] == []


def test_change_own_password(server: Server, iam: Any, agent: ConsoleAgent) -> None:
    make_user(iam, "con-grace", policy(allow("iam:ChangePassword", "arn:aws:iam::*:user/${aws:username}")))
    agent.sign_in(ACCOUNT_ID, "con-grace", PASSWORD)
    mismatch = agent.post("/password", {"old": PASSWORD, "new": "New-Password-42", "confirm": "Other-42"})
    assert mismatch.status_code == 400
    wrong_old = agent.post(
        "/password", {"old": "Not-It-1234", "new": "New-Password-42", "confirm": "New-Password-42"}
    )
    assert wrong_old.status_code == 403 and agent.error() == "The old password is incorrect."
    weak = agent.post("/password", {"old": PASSWORD, "new": "short", "confirm": "short"})
    assert weak.status_code == 400 and "password policy" in (agent.error() or "")
    agent.post("/password", {"old": PASSWORD, "new": "New-Password-42", "confirm": "New-Password-42"})
    assert agent.path == "/console/home" and agent.message() == "Your password was changed."
    agent.sign_out()
    assert agent.sign_in(ACCOUNT_ID, "con-grace", PASSWORD).status_code == 401
    agent.sign_in(ACCOUNT_ID, "con-grace", "New-Password-42")
    assert agent.path == "/console/home"


def test_password_refusal_names_the_broken_rule(server: Server, iam: Any, agent: ConsoleAgent) -> None:
    """The console says which rule a refused password breaks (length, a character class, reuse);
    the API keeps AWS's one sentence for the same refusal."""
    make_user(iam, "con-rules", policy(allow("iam:ChangePassword", "arn:aws:iam::*:user/${aws:username}")))
    iam.update_account_password_policy(
        MinimumPasswordLength=12,
        RequireSymbols=True,
        PasswordReusePrevention=2,
        AllowUsersToChangePassword=True,
    )
    try:
        agent.sign_in(ACCOUNT_ID, "con-rules", PASSWORD)
        weak = agent.post("/password", {"old": PASSWORD, "new": "Short1", "confirm": "Short1"})
        message = agent.error() or ""
        assert weak.status_code == 400
        assert message.startswith("Password does not conform to the account password policy.")
        assert "fewer than 12 characters" in message and "no symbol" in message
        assert "Short1" not in message
        reused = agent.post("/password", {"old": PASSWORD, "new": PASSWORD, "confirm": PASSWORD})
        assert reused.status_code == 400
        assert "prevents reusing the last 2 passwords" in (agent.error() or "")
        key = iam.create_access_key(UserName="con-rules")["AccessKey"]
        own = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
        with pytest.raises(ClientError) as exc:
            own.change_password(OldPassword=PASSWORD, NewPassword="Short1")
        assert exc.value.response["Error"]["Message"] == (
            "Password does not conform to the account password policy."
        )
    finally:
        iam.delete_account_password_policy()


def test_password_reset_required(server: Server, iam: Any, agent: ConsoleAgent) -> None:
    make_user(iam, "con-heidi", reset=True)
    iam.attach_user_policy(UserName="con-heidi", PolicyArn="arn:aws:iam::aws:policy/IAMUserChangePassword")
    agent.sign_in(ACCOUNT_ID, "con-heidi", PASSWORD)
    assert agent.path == "/console/password"
    agent.get("/home")
    assert agent.path == "/console/password"
    assert agent.post("/keys/create", {}).url.path == "/console/password"
    agent.post("/password", {"old": PASSWORD, "new": "Fresh-Password-9", "confirm": "Fresh-Password-9"})
    assert agent.path == "/console/home", agent.error()
    assert not iam.get_login_profile(UserName="con-heidi")["LoginProfile"]["PasswordResetRequired"]


def test_a_new_password_ends_other_sessions(server: Server, iam: Any, agent: ConsoleAgent) -> None:
    make_user(iam, "con-ivan")
    agent.sign_in(ACCOUNT_ID, "con-ivan", PASSWORD)
    assert agent.path == "/console/home"
    iam.update_login_profile(UserName="con-ivan", Password="Admin-Set-Pass-1")
    agent.get("/home")
    assert agent.path == "/console/signin"


def test_signed_out_cookie_is_dead(server: Server, iam: Any, agent: ConsoleAgent) -> None:
    make_user(iam, "con-judy")
    agent.sign_in(ACCOUNT_ID, "con-judy", PASSWORD)
    saved = dict(agent.http.cookies)
    agent.sign_out()
    replay = httpx.Client(base_url=server.endpoint, cookies=saved, follow_redirects=True)
    try:
        assert replay.get("/console/home").url.path == "/console/signin"
    finally:
        replay.close()


def test_console_actions_are_authorized(server: Server, iam: Any, agent: ConsoleAgent) -> None:
    make_user(iam, "con-ken", policy(allow("iam:ListMFADevices", "*")))
    agent.sign_in(ACCOUNT_ID, "con-ken", PASSWORD)
    assert "no identity-based policy allows the iam:ListAccessKeys action" in agent.text
    answer = agent.post("/keys/create", {})
    assert answer.status_code == 403
    assert "iam:CreateAccessKey" in (agent.error() or "")
    assert iam.list_access_keys(UserName="con-ken")["AccessKeyMetadata"] == []
    # MFA condition keys come from the sign-in: present and false without a second factor.
    iam.put_user_policy(
        UserName="con-ken",
        PolicyName="needs-mfa",
        PolicyDocument=policy(
            allow("iam:ListAccessKeys", "*", Condition={"Bool": {"aws:MultiFactorAuthPresent": "false"}})
        ),
    )
    agent.get("/home")
    assert 'id="no-keys"' in agent.text


def test_throttling_delays_but_does_not_lock_out(server: Server, iam: Any, agent: ConsoleAgent) -> None:
    make_user(iam, "con-leo")
    for _ in range(4):
        assert agent.sign_in(ACCOUNT_ID, "con-leo", "Wrong-Password-0").status_code == 401
    refused = agent.sign_in(ACCOUNT_ID, "con-leo", PASSWORD)
    assert refused.status_code == 429
    wait = int(refused.headers["retry-after"])
    assert 1 <= wait <= 2
    assert "Try again in" in (agent.error() or "")
    time.sleep(wait + 0.1)
    agent.sign_in(ACCOUNT_ID, "con-leo", PASSWORD)
    assert agent.path == "/console/home"
    # Another user from the same address is not affected.
    make_user(iam, "con-leo2")
    other = ConsoleAgent(server.endpoint)
    try:
        other.sign_in(ACCOUNT_ID, "con-leo2", PASSWORD)
        assert other.path == "/console/home"
    finally:
        other.close()


def test_sign_ins_and_console_actions_are_on_the_trail(server: Server, iam: Any, agent: ConsoleAgent) -> None:
    """Every sign-in attempt is a ConsoleLogin event; console actions are the IAM calls they are,
    made by the signed-in user, with its MFA state, and without the secret they show."""
    make_user(iam, "con-trail", policy(allow(["iam:CreateAccessKey", "iam:ListAccessKeys"], "*")))
    device = enable_device(iam, "con-trail", "trail-phone")
    agent.sign_in(ACCOUNT_ID, "con-trail", "Wrong-Password-9")
    agent.sign_in(ACCOUNT_ID, "con-trail-nobody", PASSWORD)
    agent.sign_in(ACCOUNT_ID, "con-trail", PASSWORD)
    agent.post("/mfa", {"code": device.fresh()})
    assert agent.path == "/console/home", agent.error()
    agent.post("/keys/create", {})
    secret = agent.field("new-key-secret")
    key_id = agent.field("new-key-id")
    assert secret and key_id

    trail = server.client("cloudtrail")
    logins = [
        json.loads(e["CloudTrailEvent"])
        for e in trail.lookup_events(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "ConsoleLogin"}]
        )["Events"]
    ]
    mine = [r for r in logins if r["userIdentity"].get("userName") in ("con-trail", HIDDEN)]
    outcomes = [
        (
            r["userIdentity"]["userName"],
            r["responseElements"]["ConsoleLogin"],
            r["additionalEventData"]["MFAUsed"],
        )
        for r in reversed(mine)  # oldest first
    ]
    assert outcomes[-3:] == [
        ("con-trail", "Failure", "No"),
        (HIDDEN, "Failure", "No"),
        ("con-trail", "Success", "Yes"),
    ]
    success = mine[0]
    assert success["eventSource"] == "signin.amazonaws.com"
    assert success["eventType"] == "AwsConsoleSignIn"
    assert success["userIdentity"]["arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/con-trail"
    assert success["recipientAccountId"] == ACCOUNT_ID
    assert mine[1]["errorMessage"] == "Failed authentication"

    created = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateAccessKey"}]
    )["Events"]
    record = next(json.loads(e["CloudTrailEvent"]) for e in created if e.get("Username") == "con-trail")
    assert record["eventSource"] == "iam.amazonaws.com"
    assert record["userIdentity"]["type"] == "IAMUser"
    assert record["userIdentity"]["sessionContext"]["attributes"]["mfaAuthenticated"] == "true"
    assert record["responseElements"]["accessKey"]["accessKeyId"] == key_id
    assert secret not in json.dumps(record)


# -- expired passwords, with the clock moved ------------------------------------------------------


@pytest.fixture(scope="module")
def aged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data directory whose users' passwords were set three days ago (by the server's clock)."""
    data = tmp_path_factory.mktemp("aged") / "data"
    first = start_server(data, "--clock-offset", str(-3 * 86400))
    try:
        with signing_clock(-3 * 86400):
            iam = first.client("iam")
            iam.update_account_password_policy(
                MinimumPasswordLength=8, MaxPasswordAge=2, AllowUsersToChangePassword=True, HardExpiry=False
            )
            for name in ("old-soft", "old-hard"):
                make_user(iam, name)
    finally:
        stop_server(first)
    yield data


def test_expired_password_must_be_changed(aged: Path) -> None:
    server = start_server(aged)
    agent = ConsoleAgent(server.endpoint)
    try:
        agent.sign_in(ACCOUNT_ID, "old-soft", PASSWORD)
        assert agent.path == "/console/password", agent.error()
        assert "expired" in agent.text
        agent.post("/password", {"old": PASSWORD, "new": "Renewed-Pass-1", "confirm": "Renewed-Pass-1"})
        assert agent.path == "/console/home", agent.error()

        server.client("iam").update_account_password_policy(
            MinimumPasswordLength=8, MaxPasswordAge=2, AllowUsersToChangePassword=True, HardExpiry=True
        )
        hard = ConsoleAgent(server.endpoint)
        try:
            answer = hard.sign_in(ACCOUNT_ID, "old-hard", PASSWORD)
            assert answer.status_code == 403 and "expired" in (hard.error() or "")
        finally:
            hard.close()
    finally:
        agent.close()
        stop_server(server)


def test_mfa_code_window_follows_the_server_clock(aged: Path) -> None:
    """Codes are checked against the server's clock (here ten minutes ahead)."""
    offset = 600.0
    server = start_server(aged, "--clock-offset", str(offset))
    agent = ConsoleAgent(server.endpoint)
    try:
        iam = server.client("iam")
        with signing_clock(offset):
            iam.update_account_password_policy(MinimumPasswordLength=8)
            iam.update_login_profile(UserName="old-hard", Password=PASSWORD)
            device = enable_device(iam, "old-hard", "skewed", clock_offset=offset)
        agent.sign_in(ACCOUNT_ID, "old-hard", PASSWORD)
        assert agent.path == "/console/mfa"
        local_now = pyotp.TOTP(device.seed).at(time.time() + STEP)
        if local_now != device.fresh():
            assert agent.post("/mfa", {"code": local_now}).status_code == 401
        agent.post("/mfa", {"code": device.fresh()})
        assert agent.path == "/console/home", agent.error()
    finally:
        agent.close()
        stop_server(server)


def test_nothing_secret_in_the_log(server: Server) -> None:
    text = server.log.read_text(errors="replace")
    assert PASSWORD not in text
    assert not re.search(r"iamd-console=[A-Za-z0-9_-]{40,}", text)
