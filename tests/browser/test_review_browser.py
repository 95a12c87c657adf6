"""The HTML report of ``iamd review`` opened in Chromium: a score per practice, the charts, an
escalation path drawn as a graph, every finding with its fix, and no request for anything outside
the file. Screenshot: test-output/screenshots/review_report.png."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.browser.axe import check_page
from tests.browser.conftest import screenshot
from tests.e2e.harness import ACCOUNT_ID, Server


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_html_report_in_chromium(page: Any, server: Server, iam: Any, tmp_path: Path) -> None:
    iam.create_user(UserName="climber")
    iam.put_user_policy(
        UserName="climber",
        PolicyName="self",
        PolicyDocument=_doc(
            {
                "Effect": "Allow",
                "Action": "iam:PutUserPolicy",
                "Resource": f"arn:aws:iam::{ACCOUNT_ID}:user/climber",
            }
        ),
    )
    iam.create_user(UserName="web-person")
    iam.create_login_profile(UserName="web-person", Password="Report-Passw0rd-Long!")
    iam.create_access_key(UserName="web-person")
    report = tmp_path / "review.html"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(server.data_dir / "credentials"),
        AWS_CONFIG_FILE=str(server.data_dir / "config"),
    )
    ran = subprocess.run(
        [
            sys.executable,
            "-m",
            "iamd.cli.main",
            "review",
            "--profile",
            "iamd",
            "--format",
            "html",
            "--output",
            str(report),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert ran.returncode == 1, ran.stderr  # high: escalation, a console user without MFA

    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(report.as_uri())
    assert page.title() == f"iamd review: account {ACCOUNT_ID}"
    assert page.locator("#scores .card").count() == 8
    assert page.locator("#scores svg circle").count() == 16
    for chart in ("#chart-severity", "#chart-ages", "#chart-mfa"):
        assert page.locator(f"{chart} svg rect").count() > 0, chart
    graph = page.locator("#paths svg[aria-label='escalation path']")
    assert graph.count() == 1
    drawn = graph.text_content() or ""
    assert "iam:PutUserPolicy" in drawn and "administrator" in drawn
    findings = page.locator("#findings .finding")
    assert findings.count() >= 5
    first = findings.filter(has_text="web-person").first
    assert "Fix:" in first.inner_text()
    assert page.locator("#checks tr").count() == 1 + 28
    box = page.locator("#scores").bounding_box()
    assert box is not None and box["height"] > 60
    assert requested == [report.as_uri()], requested
    screenshot(page, "review_report")


def test_console_security_review_page(page: Any, server: Server, iam: Any) -> None:
    """The console's page: the same report, run as the signed-in auditor (SecurityAudit), reached
    from the navigation; a user without read permissions sees the checks as not evaluated."""
    from tests.browser.conftest import console_url
    from tests.browser.test_console_browser import PASSWORD, sign_in

    for name in ("auditor", "nobody-much"):
        iam.create_user(UserName=name)
        iam.create_login_profile(UserName=name, Password=PASSWORD)
    iam.attach_user_policy(UserName="auditor", PolicyArn="arn:aws:iam::aws:policy/SecurityAudit")
    iam.create_user(UserName="console-climber")
    iam.put_user_policy(
        UserName="console-climber",
        PolicyName="self",
        PolicyDocument=_doc(
            {
                "Effect": "Allow",
                "Action": "iam:AttachUserPolicy",
                "Resource": f"arn:aws:iam::{ACCOUNT_ID}:user/console-climber",
            }
        ),
    )
    base = console_url(server)
    sign_in(page, base, "auditor")
    page.click("#nav-review")
    page.wait_for_load_state()
    assert page.url.endswith("/console/review")
    assert page.locator("#scores .card").count() == 8
    graphs = page.locator("#paths svg[aria-label='escalation path']")
    assert any("console-climber" in (graphs.nth(i).text_content() or "") for i in range(graphs.count()))
    checks = page.locator("#checks")
    assert "privilege_escalation" in checks.inner_text()
    severity = page.locator(".iamd-review .sev").first
    # The linked style sheet applies (the CSP allows no inline style).
    assert severity.evaluate("e => getComputedStyle(e).color") == "rgb(255, 255, 255)"
    assert page.locator("#findings .finding").filter(has_text="console-climber").count() >= 1
    screenshot(page, "review_console")
    check_page(page, "review")  # axe-core, and nothing wider than a phone at 390 px

    page.context.clear_cookies()
    sign_in(page, base, "nobody-much")
    page.goto(f"{base}/review")
    assert "not evaluated: needs" in page.locator("#checks").inner_text()
