"""The console's Access Analyzer pages in a real browser: the policy editor lists a mistake as it
is typed (ValidatePolicy behind a debounced fetch), puts the caret on it when selected, and drops
it once fixed; a finding is archived after the confirmation. Screenshots go to
test-output/screenshots/ (policy_editor.png, analyzer_findings.png)."""

from __future__ import annotations

import json
from typing import Any

from tests.browser.conftest import console_url, screenshot
from tests.e2e.harness import ACCOUNT_ID, Server
from tests.e2e.test_console_analyzer import PASSWORD as LATER_PASSWORD
from tests.e2e.test_console_analyzer import later  # noqa: F401  (the fixture: day 2 of an account)

PASSWORD = "Browser-Pass-42"
ANALYST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["access-analyzer:*", "iam:ListAccessKeys", "iam:ListMFADevices"],
                "Resource": "*",
            }
        ],
    }
)
MISTAKE = """{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["s3:GetObject", "s3:PutObjekt"],
      "Resource": "arn:aws:s3:::example-bucket/*"
    }
  ]
}"""


def analyst(iam: Any, name: str) -> None:
    iam.create_user(UserName=name)
    iam.create_login_profile(UserName=name, Password=PASSWORD)
    iam.put_user_policy(UserName=name, PolicyName="analyst", PolicyDocument=ANALYST)


def sign_in(page: Any, base: str, user: str) -> None:
    page.goto(f"{base}/signin")
    page.fill("#account", ACCOUNT_ID)
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url("**/console/home")


def test_the_policy_editor_checks_as_one_types(page: Any, server: Server, iam: Any) -> None:
    analyst(iam, "web-editor")
    base = console_url(server)
    sign_in(page, base, "web-editor")
    page.click("#nav-policy-editor")
    page.wait_for_url("**/console/policy-editor")
    # The sample policy is checked on load: no error.
    page.wait_for_selector("#validate-state:has-text('finding')")
    assert "INVALID_ACTION" not in page.inner_text("#findings-list")

    editor = page.locator("#policy-document")
    editor.fill("")
    editor.type(MISTAKE, delay=1)  # key by key, as a person types
    finding = page.locator("#findings-list li.finding", has_text="INVALID_ACTION")
    finding.wait_for()
    text = finding.inner_text()
    assert "ERROR" in text and "Ln 6, Col 34" in text and "s3:PutObjekt" in text
    assert page.inner_text("#gutter").split()[:10] == [str(n) for n in range(1, 11)]
    screenshot(page, "policy_editor")

    finding.click()  # the caret goes to the mistake
    caret = page.eval_on_selector("#policy-document", "a => a.selectionStart")
    assert MISTAKE[caret:].startswith('"s3:PutObjekt"')
    assert page.evaluate("document.activeElement.id") == "policy-document"

    # Fix it in place: the finding goes.
    for _ in range(len('"s3:PutObjekt')):  # to the closing quote
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")
    page.keyboard.type("ct")
    assert '"s3:PutObject"' in editor.input_value()
    finding.wait_for(state="detached")
    page.wait_for_selector("#findings-summary:has-text('passes')")

    # The type selector: a resource policy shows its resource type.
    assert page.is_hidden("#resource-type-label")
    page.select_option("#policy-kind", "resource")
    assert page.is_visible("#resource-type-label")


def test_archive_a_finding(page: Any, server: Server, iam: Any) -> None:
    analyst(iam, "web-analyst")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName="web-partner", AssumeRolePolicyDocument=json.dumps(trust))
    base = console_url(server)
    sign_in(page, base, "web-analyst")
    page.click("#nav-access-analyzer")
    page.wait_for_url("**/console/access-analyzer")
    page.click("#create-account button")
    page.wait_for_selector("#findings-table")
    row = page.locator("#findings-table tr", has_text="role/web-partner")
    assert "444455556666" in row.inner_text() and "ACTIVE" in row.inner_text()
    screenshot(page, "analyzer_findings")

    row.locator("button.archive").click()
    page.wait_for_selector("#confirm")
    assert page.inner_text("#finding-status") == "ACTIVE"
    page.click("#confirm-status")
    page.wait_for_selector("#message")
    assert page.inner_text("#message") == "The finding was archived."
    assert page.locator("#findings-table tr", has_text="role/web-partner").count() == 0
    page.select_option("#status", "ARCHIVED")
    page.click("#show")
    page.wait_for_selector("#findings-table")
    archived = page.locator("#findings-table tr", has_text="role/web-partner")
    assert "ARCHIVED" in archived.inner_text()


def test_unused_access_and_its_recommendation(page: Any, later: Server) -> None:  # noqa: F811
    """Two days on, an unused access analyzer made from the console lists the role's unused
    permission with its last use; the finding's recommendation is the policy without it."""
    base = console_url(later)
    page.goto(f"{base}/signin")
    page.fill("#account", ACCOUNT_ID)
    page.fill("#username", "aa-later")
    page.fill("#password", LATER_PASSWORD)
    page.click("#sign-in")
    page.wait_for_url("**/console/home")
    page.goto(f"{base}/access-analyzer")
    page.fill("#unused-days", "1")
    page.click("#create-account_unused_access button")
    page.wait_for_selector("#findings-table")
    row = page.locator("#findings-table tr", has_text="role/half-role")
    assert row.locator(".type").inner_text() == "UnusedPermission"
    assert "UTC" in row.inner_text()  # its last use
    screenshot(page, "analyzer_unused_findings")

    row.locator("a.details").click()
    page.wait_for_selector("#recommend")
    page.click("#recommend")
    page.wait_for_selector("#recommendation .step")
    recommended = json.loads(page.inner_text("#recommendation pre.policy"))
    assert recommended["Statement"][0]["Action"] == "iam:ListUsers"
    screenshot(page, "analyzer_recommendation")
