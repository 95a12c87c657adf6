"""The console in a real browser: sign-in with password and TOTP, passkeys registered and used
with Chrome's virtual authenticator (CDP WebAuthn domain), and the root user's 35-day MFA rule
with the server's clock moved. Screenshots go to test-output/screenshots/."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyotp
from tests.browser.conftest import console_url, screenshot
from tests.e2e.harness import ACCOUNT_ID, Server, start_server, stop_server
from tests.e2e.mfa_helpers import STEP, enable_device

PASSWORD = "Browser-Pass-42"


def make_user(iam: Any, name: str, *statements: dict[str, Any]) -> None:
    iam.create_user(UserName=name)
    iam.create_login_profile(UserName=name, Password=PASSWORD)
    allow_own = {
        "Effect": "Allow",
        "Action": [
            "iam:ListMFADevices",
            "iam:EnableMFADevice",
            "iam:DeactivateMFADevice",
            "iam:CreateVirtualMFADevice",
            "iam:ListAccessKeys",
            "iam:CreateAccessKey",
            "iam:DeleteAccessKey",
            "iam:UpdateAccessKey",
            "iam:ChangePassword",
        ],
        "Resource": ["arn:aws:iam::*:user/${aws:username}", "arn:aws:iam::*:mfa/*"],
    }
    document = {"Version": "2012-10-17", "Statement": [allow_own, *statements]}
    iam.put_user_policy(UserName=name, PolicyName="own", PolicyDocument=json.dumps(document))


def sign_in(page: Any, base: str, user: str, password: str = PASSWORD, *, shot: str | None = None) -> None:
    page.goto(f"{base}/signin")
    page.fill("#account", ACCOUNT_ID)
    page.fill("#username", user)
    page.fill("#password", password)
    if shot:
        screenshot(page, shot)
    page.click("#sign-in")
    page.wait_for_load_state()


def add_virtual_authenticator(page: Any, *, synced: bool) -> tuple[Any, str]:
    """Chrome's virtual authenticator on this page: a synced passkey provider (backup eligible
    and backed up) or a USB security key (device-bound). (CDP session, authenticator id)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    options = {
        "protocol": "ctap2",
        "ctap2Version": "ctap2_1",
        "transport": "internal" if synced else "usb",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
        "automaticPresenceSimulation": True,
        "defaultBackupEligibility": synced,
        "defaultBackupState": synced,
    }
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})
    return cdp, str(added["authenticatorId"])


def test_password_and_totp(page: Any, server: Server, iam: Any) -> None:
    make_user(iam, "web-alice")
    device = enable_device(iam, "web-alice", "alice-app")
    base = console_url(server)
    sign_in(page, base, "web-alice", shot="01-sign-in")
    assert page.url.endswith("/console/mfa")
    screenshot(page, "02-mfa-code")
    page.fill("#code", "000000" if device.fresh() != "000000" else "111111")
    page.click("#submit-code")
    assert "not valid" in page.inner_text("#error")
    page.fill("#code", device.fresh())
    page.click("#submit-code")
    page.wait_for_url("**/console/home")
    assert page.inner_text("#mfa-state") == "Yes"
    assert page.inner_text("#arn") == f"arn:aws:iam::{ACCOUNT_ID}:user/web-alice"
    assert device.serial in page.inner_text("#mfa-devices")

    page.click("#create-key")
    page.wait_for_selector("#new-key-secret")
    assert page.inner_text("#new-key-id").startswith("AKIA")
    screenshot(page, "03-my-security-credentials")
    page.click("#sign-out")
    page.wait_for_url("**/console/signin")


def test_add_totp_device_from_the_qr_page(page: Any, server: Server, iam: Any) -> None:
    make_user(iam, "web-bob")
    base = console_url(server)
    sign_in(page, base, "web-bob")
    page.wait_for_url("**/console/home")
    page.fill("#device-name", "bob-phone")
    page.click("#add-virtual")
    page.wait_for_selector("#qr-code")
    qr_width = page.eval_on_selector("#qr-code", "img => img.naturalWidth")
    assert qr_width > 100
    screenshot(page, "04-mfa-qr-code")
    totp = pyotp.TOTP(page.text_content("#seed").strip())
    now = time.time()
    page.fill("#code1", totp.at(now - STEP))
    page.fill("#code2", totp.at(now))
    page.click("#enable-device")
    page.wait_for_url("**/console/home?msg=mfa-added")
    assert f"arn:aws:iam::{ACCOUNT_ID}:mfa/bob-phone" in page.inner_text("#mfa-devices")


def test_register_and_use_a_synced_passkey(page: Any, server: Server, iam: Any) -> None:
    make_user(iam, "web-carol")
    base = console_url(server)
    cdp, authenticator = add_virtual_authenticator(page, synced=True)
    sign_in(page, base, "web-carol")
    page.wait_for_url("**/console/home")
    page.fill("#passkey-name", "carol-passkey")
    page.click("#add-passkey")
    page.wait_for_url("**/console/home?msg=passkey-added")
    table = page.inner_text("#mfa-devices")
    assert "Passkey (synced)" in table and "u2f/user/web-carol/carol-passkey-" in table
    devices = iam.list_mfa_devices(UserName="web-carol")["MFADevices"]
    assert len(devices) == 1 and devices[0]["SerialNumber"].startswith(f"arn:aws:iam::{ACCOUNT_ID}:u2f/user/")
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert len(stored) == 1 and stored[0]["rpId"] == "localhost"
    screenshot(page, "05-passkey-registered")

    page.click("#sign-out")
    page.wait_for_url("**/console/signin")
    sign_in(page, base, "web-carol")
    page.wait_for_url("**/console/mfa")
    screenshot(page, "06-mfa-passkey")
    page.click("#use-passkey")
    page.wait_for_url("**/console/home")
    assert page.inner_text("#mfa-state") == "Yes"
    after = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert after[0]["signCount"] >= 1


def test_device_bound_security_key(page: Any, server: Server, iam: Any) -> None:
    make_user(iam, "web-dave")
    base = console_url(server)
    cdp, authenticator = add_virtual_authenticator(page, synced=False)
    sign_in(page, base, "web-dave")
    page.wait_for_url("**/console/home")
    page.fill("#passkey-name", "dave-key")
    page.click("#add-passkey")
    page.wait_for_url("**/console/home?msg=passkey-added")
    assert "Security key or device-bound passkey" in page.inner_text("#mfa-devices")

    page.click("#sign-out")
    sign_in(page, base, "web-dave")
    page.wait_for_url("**/console/mfa")
    page.click("#use-passkey")
    page.wait_for_url("**/console/home")
    assert page.inner_text("#mfa-state") == "Yes"
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert len(stored) == 1 and stored[0]["signCount"] >= 1


def test_root_mfa_rule_with_a_moved_clock(page: Any, tmp_path: Path) -> None:
    data = tmp_path / "data"
    email, password = f"root@{ACCOUNT_ID}.iamd.local", "Root-Browser-9!"
    first = start_server(data)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "iamd.cli.main", "root", "set-password", "--data-dir", str(data)],
            input=password + "\n",
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        base = console_url(first)
        sign_in_root(page, base, email, password)
        page.wait_for_url("**/console/home")
        assert "Register an MFA device" in page.inner_text("#root-deadline")
        screenshot(page, "07-root-within-35-days")
        page.click("#sign-out")
    finally:
        stop_server(first)

    offset = 36 * 86400.0
    later = start_server(data, "--clock-offset", str(offset))
    try:
        base = console_url(later)
        sign_in_root(page, base, email, password)
        page.wait_for_url("**/console/register-mfa")
        screenshot(page, "08-root-must-register-mfa")
        page.goto(f"{base}/home")
        assert page.url.endswith("/console/register-mfa")
        page.fill("#device-name", "root-app")
        page.click("#add-virtual")
        page.wait_for_selector("#qr-code")
        totp = pyotp.TOTP(page.text_content("#seed").strip())
        now = time.time() + offset
        page.fill("#code1", totp.at(now - STEP))
        page.fill("#code2", totp.at(now))
        page.click("#enable-device")
        page.wait_for_url("**/console/home?msg=mfa-added")
        assert page.inner_text("#mfa-state") == "Yes"
        assert "root-app" in page.inner_text("#mfa-devices")
        screenshot(page, "09-root-credentials")
    finally:
        stop_server(later)


def sign_in_root(page: Any, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/signin")
    page.click("#root-link")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("#sign-in")
    page.wait_for_load_state()
