"""The console's IAM pages in Chromium: every page and form of the dashboard, users, groups, roles
and switch role at desktop and phone (390 px) widths, with screenshots, an axe-core check (no
serious or critical violation) and no sideways scrolling; keyboard use; and the walk-through of a
new user: a group with a job-function policy, a user with console access, that user's first
sign-in, MFA, and a switch into a role."""

from __future__ import annotations

import json
import time
from typing import Any

import pyotp
from tests.browser.axe import check_page
from tests.browser.conftest import console_url, screenshot
from tests.e2e.harness import ACCOUNT_ID, Server
from tests.e2e.mfa_helpers import STEP

PASSWORD = "Browser-Iam-42!"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
VIEW_ONLY = "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"


def sign_in(page: Any, base: str, user: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/signin")
    page.fill("#account", ACCOUNT_ID)
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("#sign-in")
    page.wait_for_load_state()


def trust_account() -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


def confirm(page: Any, element: str) -> None:
    """Open a confirmation (``<details>``), check it says what breaks, and confirm."""
    page.click(f"#{element}-open")
    assert page.inner_text(f"#{element}-breaks").strip()
    page.click(f"#{element}-yes")
    page.wait_for_load_state()


def test_every_page_for_an_administrator(page: Any, server: Server, iam: Any) -> None:
    iam.create_user(UserName="web-admin")
    iam.create_login_profile(UserName="web-admin", Password=PASSWORD)
    iam.attach_user_policy(UserName="web-admin", PolicyArn=ADMIN)
    iam.create_user(UserName="web-subject", Tags=[{"Key": "team", "Value": "blue"}])
    iam.create_login_profile(UserName="web-subject", Password=PASSWORD)
    old_key = iam.create_access_key(UserName="web-subject")["AccessKey"]["AccessKeyId"]
    iam.create_group(GroupName="web-group")
    iam.add_user_to_group(UserName="web-subject", GroupName="web-group")
    iam.attach_group_policy(GroupName="web-group", PolicyArn=VIEW_ONLY)
    iam.create_role(
        RoleName="web-role", AssumeRolePolicyDocument=trust_account(), Tags=[{"Key": "k", "Value": "v"}]
    )
    iam.attach_role_policy(RoleName="web-role", PolicyArn=VIEW_ONLY)
    base = console_url(server)

    page.goto(f"{base}/signin")
    check_page(page, "signin")
    sign_in(page, base, "web-admin")
    page.wait_for_url("**/console/home")
    check_page(page, "home")

    page.click("#nav-dashboard")
    page.wait_for_url("**/console/dashboard")
    assert page.get_attribute("#nav-dashboard", "aria-current") == "page"
    assert page.inner_text("#who") == "web-admin"
    check_page(page, "dashboard")

    page.click("#nav-users")
    page.wait_for_selector("#users-table")
    row = page.inner_text('tr[data-user="web-subject"]')
    assert "web-group" in row and "Not assigned" in row
    check_page(page, "users")
    page.fill("#q", "subj")
    page.click("#search")
    page.wait_for_selector("#users-table")
    assert page.locator("#users-table tbody tr").count() == 1

    for tab in ("permissions", "groups", "tags", "security", "advisor"):
        page.goto(f"{base}/users/web-subject?tab={tab}")
        assert page.get_attribute(f"#tab-{tab}", "aria-current") == "page"
        check_page(page, f"user-{tab}")

    # Rotate: a new key, the old one still active until deactivated.
    page.goto(f"{base}/users/web-subject?tab=security")
    confirm(page, "rotate-1")
    page.wait_for_selector("#new-key-secret")
    assert "still active" in page.inner_text("#rotate-next")
    check_page(page, "user-key-created")
    page.click("#back-to-user")
    page.wait_for_selector("#user-keys-table")
    assert page.inner_text(f'tr[data-key="{old_key}"] .key-status') == "Active"
    confirm(page, "deactivate-1")
    assert page.inner_text("#message") == f"Access key {old_key} is now inactive."
    assert page.inner_text(f'tr[data-key="{old_key}"] .key-status') == "Inactive"

    page.goto(f"{base}/users/web-subject?tab=tags")
    page.fill("#tag-key", "env")
    page.fill("#tag-value", "prod")
    page.click("#tag-add")
    page.wait_for_selector("#message")
    assert "env" in page.inner_text("#tags-table")

    page.goto(f"{base}/users/web-subject?tab=security")
    page.click("#user-mfa-create")
    page.wait_for_selector("#qr-code")
    check_page(page, "user-mfa-setup")
    totp = pyotp.TOTP(page.text_content("#seed").strip())
    now = time.time()
    page.fill("#code1", totp.at(now - STEP))
    page.fill("#code2", totp.at(now))
    page.click("#enable-device")
    page.wait_for_selector("#message")
    assert page.inner_text("#message") == "MFA device assigned to web-subject."

    page.goto(f"{base}/users/web-subject?tab=permissions")
    page.fill("#attach-arn", "arn:aws:iam::aws:policy/ReadOnlyAccess")
    page.click("#attach")
    page.wait_for_selector("#message")
    assert "ReadOnlyAccess" in page.inner_text("#attached-table")

    page.goto(f"{base}/users/create")
    check_page(page, "user-create")
    page.fill("#user-name", "web-made")
    page.check("#console")
    page.check('input[name="group:web-group"]')
    page.fill("#tags", "team=green")
    page.click("#create")
    page.wait_for_selector("#created-password")
    check_page(page, "user-created")
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName="web-made")["Groups"]] == ["web-group"]

    page.click("#nav-groups")
    page.wait_for_selector("#groups-table")
    check_page(page, "groups")
    page.fill("#group-name", "web-auditors")
    page.fill("#group-policy", "arn:aws:iam::aws:policy/SecurityAudit")
    page.click("#group-create")
    page.wait_for_url("**/console/groups/web-auditors")
    check_page(page, "group-users")
    page.select_option("#add-member", "web-made")
    page.click("#add-member-button")
    page.wait_for_selector("#message")
    assert "web-made" in page.inner_text("#member-list")
    page.click("#tab-permissions")
    page.wait_for_selector("#attached-table")
    check_page(page, "group-permissions")

    page.click("#nav-roles")
    page.wait_for_selector("#roles-table")
    assert f"account {ACCOUNT_ID}" in page.inner_text('tr[data-role="web-role"]')
    check_page(page, "roles")
    for tab in ("permissions", "trust", "tags", "advisor", "sessions"):
        page.goto(f"{base}/roles/web-role?tab={tab}")
        check_page(page, f"role-{tab}")
    page.goto(f"{base}/roles/web-role?tab=sessions")
    confirm(page, "revoke")
    assert "are revoked" in page.inner_text("#message")
    page.click("#switch-role-link")
    page.wait_for_url("**/console/switch-role?**")
    check_page(page, "switch-role")

    # Deleting asks for the name and says what breaks.
    page.goto(f"{base}/users/web-made")
    page.click("#delete-user-open")
    assert "cannot be undone" in page.inner_text("#delete-user-breaks")
    page.fill("#delete-user-typed", "web-made")
    page.click("#delete-user-yes")
    page.wait_for_url("**/console/users")
    assert page.inner_text("#message") == "User web-made deleted."


def test_keyboard_and_screen_reader_landmarks(page: Any, server: Server, iam: Any) -> None:
    iam.create_user(UserName="web-keys")
    iam.create_login_profile(UserName="web-keys", Password=PASSWORD)
    iam.attach_user_policy(UserName="web-keys", PolicyArn=ADMIN)
    base = console_url(server)
    sign_in(page, base, "web-keys")
    page.goto(f"{base}/users")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # Every nav entry is reachable with Tab, in order, and opens with Enter.
    page.goto(f"{base}/dashboard")
    reached: list[str] = []
    for _ in range(30):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.id")
        if focused.startswith("nav-"):
            reached.append(focused)
        if focused == "nav-groups":
            break
    assert reached[-1] == "nav-groups", reached
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/groups")
    assert page.get_attribute("nav#nav", "aria-label") == "Console"
    assert page.get_attribute("#breadcrumbs", "aria-label") == "Breadcrumb"
    # A confirmation opens and confirms with the keyboard alone.
    iam.create_group(GroupName="web-kbd")
    page.goto(f"{base}/groups/web-kbd")
    page.focus("#delete-group-open")
    page.keyboard.press("Enter")
    page.focus("#delete-group-typed")
    page.keyboard.type("web-kbd")
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/groups")
    assert page.inner_text("#message") == "Group web-kbd deleted."


def test_a_new_user_walk_through(page: Any, server: Server, iam: Any) -> None:
    """The README's walk-through: an administrator creates a group with a job-function policy and a
    user with console access; the user signs in, sets a new password, assigns MFA, signs in with
    it, and switches into a role."""
    iam.create_user(UserName="web-boss")
    iam.create_login_profile(UserName="web-boss", Password=PASSWORD)
    iam.attach_user_policy(UserName="web-boss", PolicyArn=ADMIN)
    # What a newcomer may do for themselves (written in the policy editor in the README).
    starter = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "iam:CreateVirtualMFADevice",
                    "iam:EnableMFADevice",
                    "iam:ListMFADevices",
                    "iam:ListAccessKeys",
                ],
                "Resource": ["arn:aws:iam::*:user/${aws:username}", "arn:aws:iam::*:mfa/*"],
            },
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": f"arn:aws:iam::{ACCOUNT_ID}:role/web-support",
            },
        ],
    }
    starter_arn = iam.create_policy(PolicyName="web-starter", PolicyDocument=json.dumps(starter))["Policy"][
        "Arn"
    ]
    iam.create_role(RoleName="web-support", AssumeRolePolicyDocument=trust_account())
    iam.attach_role_policy(RoleName="web-support", PolicyArn="arn:aws:iam::aws:policy/IAMReadOnlyAccess")
    base = console_url(server)

    # 1. The administrator: a group with a job-function policy, then a user in it.
    sign_in(page, base, "web-boss")
    page.goto(f"{base}/groups")
    page.fill("#group-name", "web-viewers")
    page.fill("#group-policy", VIEW_ONLY)
    page.click("#group-create")
    page.wait_for_url("**/console/groups/web-viewers")
    screenshot(page, "walk-01-group-created")
    page.click("#tab-permissions")
    page.fill("#attach-arn", starter_arn)
    page.click("#attach")
    page.wait_for_selector("#message")
    page.click("#nav-users")
    page.click("#create-user")
    page.fill("#user-name", "web-newcomer")
    page.check("#console")
    page.check("#pw-custom")
    page.fill("#password", "First-Pass-123!")
    page.check('input[name="group:web-viewers"]')
    screenshot(page, "walk-02-create-user")
    page.click("#create")
    page.wait_for_selector("#created")
    sign_in_url = page.inner_text("#created-url")
    assert sign_in_url.endswith(f"/console/signin?account={ACCOUNT_ID}")
    screenshot(page, "walk-03-user-created")
    page.click("#sign-out")
    page.wait_for_url("**/console/signin")

    # 2. The newcomer signs in and must choose a new password.
    sign_in(page, base, "web-newcomer", "First-Pass-123!")
    page.wait_for_url("**/console/password")
    page.fill("#old", "First-Pass-123!")
    page.fill("#new", "Own-Pass-456!")
    page.fill("#confirm", "Own-Pass-456!")
    page.click("#change-password")
    page.wait_for_url("**/console/home?msg=password-changed")

    # 3. MFA: an authenticator app, then a sign-in that asks for its code.
    page.fill("#device-name", "newcomer-phone")
    page.click("#add-virtual")
    page.wait_for_selector("#qr-code")
    screenshot(page, "walk-04-mfa-qr")
    totp = pyotp.TOTP(page.text_content("#seed").strip())
    now = time.time()
    page.fill("#code1", totp.at(now - STEP))
    page.fill("#code2", totp.at(now))
    page.click("#enable-device")
    page.wait_for_url("**/console/home?msg=mfa-added")
    page.click("#sign-out")
    page.wait_for_url("**/console/signin")
    sign_in(page, base, "web-newcomer", "Own-Pass-456!")
    page.wait_for_url("**/console/mfa")
    page.fill("#code", totp.at(time.time() + STEP))
    page.click("#submit-code")
    page.wait_for_url("**/console/home")
    assert page.inner_text("#mfa-state") == "Yes"

    # The job-function policy lets the newcomer look, not change.
    page.click("#nav-users")
    page.wait_for_selector("#users-table")
    assert 'data-user="web-newcomer"' in page.content()
    page.goto(f"{base}/groups")
    page.fill("#group-name", "web-not-allowed")
    page.click("#group-create")
    page.wait_for_selector("#error")
    assert page.inner_text("#error").startswith("You don't have permission to do this.")
    screenshot(page, "walk-05-denied")

    # 4. Switch role, act as it, and come back.
    page.click("#nav-switch-role")
    page.fill("#switch-account", ACCOUNT_ID)
    page.fill("#switch-role", "web-support")
    page.fill("#switch-display", "Support")
    page.click("#switch")
    page.wait_for_url("**/console/dashboard")
    assert page.inner_text("#role-session") == "Support"
    check_page(page, "walk-06-switched")
    page.click("#switch-back")
    page.wait_for_url("**/console/home")
    assert page.inner_text("#who") == "web-newcomer"
    assert iam.list_mfa_devices(UserName="web-newcomer")["MFADevices"]
