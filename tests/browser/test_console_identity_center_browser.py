"""The console's Identity Center page in Chromium, at desktop and phone (390 px) widths with the
axe-core check: an administrator of an organization's management account enables IAM Identity
Center, adds a user and a group (and the user to it), creates a permission set with a managed
policy and a session duration, assigns it to the group on an account, then removes the
assignment and deletes the user after confirming. Each step is the sso-admin / identitystore API
of the signed-in user: the API sees what the page did, and the trail names the user.
Screenshots: test-output/screenshots/console-identity-center-*.png."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.browser.axe import check_page
from tests.browser.conftest import console_url
from tests.browser.test_console_iam_browser import ADMIN, PASSWORD, sign_in
from tests.e2e.harness import ACCOUNT_ID, Server

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def confirm_typed(page: Any, element: str, typed: str | None = None) -> None:
    page.click(f"#{element}-open")
    assert page.inner_text(f"#{element}-breaks").strip()
    if typed is not None:
        page.fill(f"#{element}-typed", typed)
    page.click(f"#{element}-yes")
    page.wait_for_load_state()


def test_an_administrator_runs_identity_center_from_the_console(page: Any, server: Server, iam: Any) -> None:
    server.client("organizations").create_organization(FeatureSet="ALL")
    iam.create_user(UserName="web-ic-admin")
    iam.create_login_profile(UserName="web-ic-admin", Password=PASSWORD)
    iam.attach_user_policy(UserName="web-ic-admin", PolicyArn=ADMIN)
    iam.create_user(UserName="web-ic-viewer")
    iam.create_login_profile(UserName="web-ic-viewer", Password=PASSWORD)
    base = console_url(server)

    # Someone who may not enable it is told why, on the page.
    sign_in(page, base, "web-ic-viewer")
    page.wait_for_url("**/console/home")
    page.goto(f"{base}/identity-center")
    page.click("#enable")
    page.wait_for_selector("#no-instance")
    refusal = page.inner_text("#error")
    assert refusal.startswith("You don't have permission") and "CreateInstance" in refusal, refusal
    page.click("#sign-out")
    page.wait_for_url("**/console/signin")

    sign_in(page, base, "web-ic-admin")
    page.wait_for_url("**/console/home")
    page.click("#nav-identity-center")
    page.wait_for_url("**/console/identity-center")
    assert page.get_attribute("#nav-identity-center", "aria-current") == "page"
    check_page(page, "identity-center-enable")
    page.click("#enable")
    page.wait_for_selector("#instance-arn")
    assert page.inner_text("#message") == "IAM Identity Center is enabled."
    sso = server.client("sso-admin")
    instance = sso.list_instances()["Instances"][0]
    assert page.inner_text("#instance-arn") == instance["InstanceArn"]
    origin = base.removesuffix("/console")  # as the browser reached this server
    assert page.inner_text("#start-url") == f"{origin}/start"
    assert page.inner_text("#scim-url") == f"{origin}/scim/v2/"
    store_id = instance["IdentityStoreId"]

    page.fill("#user-name", "jane.doe")
    page.fill("#user-given", "Jane")
    page.fill("#user-family", "Doe")
    page.fill("#user-email", "jane@example.com")
    page.click("#user-create")
    page.wait_for_selector('tr[data-user="jane.doe"]')
    assert "jane@example.com" in page.inner_text('tr[data-user="jane.doe"]')
    page.fill("#group-name", "Admins")
    page.fill("#group-description", "Operators")
    page.click("#group-create")
    page.wait_for_selector('tr[data-group="Admins"]')
    page.select_option("#member-user", label="jane.doe")
    page.select_option("#member-group", label="Admins")
    page.click("#member-add")
    page.wait_for_selector("#message")
    assert page.inner_text('tr[data-group="Admins"] .members') == "jane.doe"

    page.fill("#ps-name", "ReadOnly")
    page.fill("#ps-policy", READ_ONLY)
    page.fill("#ps-hours", "2")
    page.click("#ps-create")
    page.wait_for_selector('tr[data-permission-set="ReadOnly"]')
    row = page.inner_text('tr[data-permission-set="ReadOnly"]')
    assert "PT2H" in row and "ReadOnlyAccess" in row

    page.select_option("#assign-account", value=ACCOUNT_ID)
    page.select_option("#assign-principal", label="Group: Admins")
    page.select_option("#assign-set", label="ReadOnly")
    page.click("#assign")
    page.wait_for_selector(f'tr[data-assignment="{ACCOUNT_ID}/Admins/ReadOnly"]')
    set_arn = sso.list_permission_sets(InstanceArn=instance["InstanceArn"])["PermissionSets"][0]
    assigned = sso.list_account_assignments(
        InstanceArn=instance["InstanceArn"], AccountId=ACCOUNT_ID, PermissionSetArn=set_arn
    )["AccountAssignments"]
    assert [a["PrincipalType"] for a in assigned] == ["GROUP"]
    check_page(page, "identity-center")

    confirm_typed(page, "remove-assignment-1")
    page.wait_for_selector("#no-assignments")
    assert page.inner_text("#message") == "The assignment was removed."
    # A deletion is refused until the name is typed; then it is gone from the store.
    confirm_typed(page, "delete-user-1", "jane.doe")
    page.wait_for_selector("#no-users")
    ids = server.client("identitystore")
    assert ids.list_users(IdentityStoreId=store_id)["Users"] == []
    check_page(page, "identity-center-after")

    # The page's actions are the signed-in user's API calls, on the trail under their name.
    trail = server.client("cloudtrail")
    wanted = (
        "CreateInstance",
        "CreateUser",
        "CreateAccountAssignment",
        "DeleteAccountAssignment",
        "DeleteUser",
    )
    for name in wanted:
        mine: list[dict[str, Any]] = []
        for _ in range(50):
            events = trail.lookup_events(
                LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}], MaxResults=50
            )["Events"]
            mine = [e for e in events if e.get("Username") == "web-ic-admin"]
            if mine:
                break
            time.sleep(0.2)
        assert mine, name
        record = json.loads(mine[0]["CloudTrailEvent"])
        service = "identitystore" if name.endswith("User") else "sso"
        assert record["eventSource"] == f"{service}.amazonaws.com", name
        assert record["userIdentity"]["userName"] == "web-ic-admin"
