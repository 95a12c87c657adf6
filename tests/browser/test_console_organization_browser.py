"""The console's Organization page in a real browser: the management account's user follows the
navigation link and sees the tree (root → nested OUs → accounts, with their SCPs and RCPs);
a user of a member account sees one sentence. Screenshot: test-output/screenshots/organization.png."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import console_url, screenshot
from tests.browser.test_console_browser import sign_in
from tests.e2e.harness import ACCOUNT_ID, Server
from tests.e2e.test_console_organization import PASSWORD, READ_ORG, build_tree, make_user


def test_management_user_browses_the_organization(page: Any, server: Server, iam: Any) -> None:
    make_user(iam, "web-org-viewer", READ_ORG)
    tree = build_tree(server)
    orgs = server.client("organizations")
    sandbox = orgs.create_organizational_unit(ParentId=tree.root, Name="Sandbox")["OrganizationalUnit"]["Id"]
    base = console_url(server)
    sign_in(page, base, "web-org-viewer", PASSWORD)
    page.wait_for_url("**/console/home")
    page.click("#nav-organization")
    page.wait_for_url("**/console/organization")
    assert page.inner_text("#organization-id") == tree.org_id
    assert page.inner_text("#feature-set") == "ALL"
    workloads = page.locator(f"#node-{tree.workloads}")
    assert "DenyLeaving" in workloads.locator(":scope > .attached").inner_text()
    # Prod and its account dev are drawn inside Workloads; Sandbox is not.
    assert workloads.locator(f"#node-{tree.prod} #node-{tree.dev}").count() == 1
    assert workloads.locator(f"#node-{sandbox}").count() == 0
    dev = page.locator(f"#node-{tree.dev} > .node-head").inner_text()
    assert "dev@example.com" in dev and "ACTIVE" in dev
    assert page.locator(f"#node-{ACCOUNT_ID}").is_visible()
    screenshot(page, "organization")

    # A user of the member account: one sentence, no tree.
    make_user(tree.member_iam, "web-member", READ_ORG)
    page.click("#sign-out")
    page.wait_for_url("**/console/signin")
    page.goto(f"{base}/signin")
    page.fill("#account", tree.dev)
    page.fill("#username", "web-member")
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url("**/console/home")
    page.goto(f"{base}/organization")
    assert "can see its tree; account" in page.inner_text("#unavailable")
    assert page.locator("#organization-tree").count() == 0
    screenshot(page, "organization-member")
