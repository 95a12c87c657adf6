"""The console's IAM Access Analyzer pages end to end (httpx with cookies): the offer to create
the analyzers an account lacks, external access findings (principal, actions, condition, public)
by status, archive and unarchive after a confirmation (UpdateFindings by the signed-in user, on
the trail), unused access findings with their last use and the recommended narrower policy, and
the policy editor's ValidatePolicy endpoint (findings with line and column; CSRF enforced).

Facts: shared/spec/access_analyzer_api.md (ValidatePolicy positions: line from 1, column from 0;
UpdateFindings statuses ACTIVE and ARCHIVED)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from unittest import mock

import botocore.auth
import httpx
import pytest
from botocore.utils import get_current_datetime
from tests.e2e.console_helpers import ConsoleAgent
from tests.e2e.harness import ACCOUNT_ID, Server, start_server, stop_server
from tests.e2e.policy_helpers import allow, policy

PASSWORD = "Correct-Horse-7"
OTHER = "444455556666"
ANALYST = policy(allow(["access-analyzer:*", "iam:ListAccessKeys", "iam:ListMFADevices"]))
OPEN_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
GOOGLE_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": "accounts.google.com"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {"accounts.google.com:aud": "my-app"}},
            }
        ],
    }
)


@pytest.fixture
def agent(server: Server) -> Iterator[ConsoleAgent]:
    console = ConsoleAgent(server.endpoint)
    yield console
    console.close()


def make_user(iam: Any, name: str, document: str) -> None:
    iam.create_user(UserName=name)
    iam.create_login_profile(UserName=name, Password=PASSWORD, PasswordResetRequired=False)
    iam.put_user_policy(UserName=name, PolicyName="analyst", PolicyDocument=document)


def rows(agent: ConsoleAgent) -> dict[str, str]:
    """Finding id -> the text of its row in the findings table."""
    found = {}
    for finding_id, body in re.findall(r'<tr data-finding="([^"]+)">(.*?)</tr>', agent.text, re.S):
        found[finding_id] = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())
    return found


def test_findings_archive_and_the_trail(server: Server, iam: Any, agent: ConsoleAgent) -> None:
    make_user(iam, "aa-ana", ANALYST)
    iam.create_role(RoleName="partner-role", AssumeRolePolicyDocument=OPEN_TRUST)
    iam.create_role(RoleName="google-role", AssumeRolePolicyDocument=GOOGLE_TRUST)
    agent.sign_in(ACCOUNT_ID, "aa-ana", PASSWORD)
    assert agent.path == "/console/home"
    assert 'id="nav-access-analyzer"' in agent.text

    agent.get("/access-analyzer")
    assert agent.page is not None and agent.page.status_code == 200
    assert 'id="no-analyzers"' in agent.text
    assert 'id="create-account"' in agent.text and 'id="create-account_unused_access"' in agent.text

    agent.post("/access-analyzer/analyzers", {"type": "ACCOUNT"})
    assert agent.path == "/console/access-analyzer", agent.text
    assert agent.message() == "The analyzer was created."
    assert 'id="create-account"' not in agent.text  # only the missing kind is offered
    role_arn = f"arn:aws:iam::{ACCOUNT_ID}:role/partner-role"
    [(finding_id, row)] = [(i, r) for i, r in rows(agent).items() if role_arn in r]
    assert f"AWS: arn:aws:iam::{OTHER}:root" in row
    assert "sts:AssumeRole" in row and "Cross-account" in row and "ACTIVE" in row
    [google] = [r for r in rows(agent).values() if "role/google-role" in r]
    assert "Federated: accounts.google.com" in google and "accounts.google.com:aud = my-app" in google

    # Archive: the first post asks for a confirmation and changes nothing.
    form = {"analyzer": "console-external-access", "id": finding_id, "status": "ARCHIVED"}
    agent.post("/access-analyzer/finding/status", form)
    assert 'id="confirm"' in agent.text and agent.field("finding-status") == "ACTIVE"
    aa = server.client("accessanalyzer")
    analyzer_arn = aa.get_analyzer(analyzerName="console-external-access")["analyzer"]["arn"]
    assert aa.get_finding(analyzerArn=analyzer_arn, id=finding_id)["finding"]["status"] == "ACTIVE"
    agent.post("/access-analyzer/finding/status", {**form, "confirmed": "yes"})
    assert agent.message() == "The finding was archived."
    assert finding_id not in rows(agent)  # the ACTIVE list
    assert aa.get_finding(analyzerArn=analyzer_arn, id=finding_id)["finding"]["status"] == "ARCHIVED"
    agent.get("/access-analyzer?analyzer=console-external-access&status=ARCHIVED")
    assert "ARCHIVED" in rows(agent)[finding_id] and "Unarchive" in rows(agent)[finding_id]

    # On the trail: UpdateFindings by the signed-in user, with its parameters.
    events = server.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "UpdateFindings"}]
    )["Events"]
    record = next(json.loads(e["CloudTrailEvent"]) for e in events if e.get("Username") == "aa-ana")
    assert record["eventSource"] == "access-analyzer.amazonaws.com"
    assert record["userIdentity"]["arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/aa-ana"
    assert record["requestParameters"]["ids"] == [finding_id]
    assert record["requestParameters"]["status"] == "ARCHIVED"

    # Unarchive, confirmed; then the finding page shows the details.
    agent.post("/access-analyzer/finding/status", {**form, "status": "ACTIVE", "confirmed": "yes"})
    assert agent.message() == "The finding is active again." and finding_id in rows(agent)
    agent.get(f"/access-analyzer/finding?analyzer=console-external-access&id={finding_id}")
    assert agent.field("finding-type") == "ExternalAccess" and agent.field("finding-resource") == role_arn


def test_a_user_without_access_analyzer_permissions_is_refused(iam: Any, agent: ConsoleAgent) -> None:
    make_user(iam, "aa-nobody", policy(allow("iam:ListAccessKeys")))
    agent.sign_in(ACCOUNT_ID, "aa-nobody", PASSWORD)
    answer = agent.get("/access-analyzer")
    assert answer.status_code == 403
    assert "access-analyzer:ListAnalyzers" in (agent.error() or "")
    answer = agent.post("/policy-editor", {"document": "{}", "kind": "identity"})
    assert answer.status_code == 403 and "access-analyzer:ValidatePolicy" in (agent.error() or "")


BROKEN = """{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": "s3:GetObjekt",
      "Resource": "*"
    }
  ]
}"""


def test_the_policy_editor_validates(server: Server, iam: Any, agent: ConsoleAgent) -> None:
    make_user(iam, "aa-editor", ANALYST)
    agent.sign_in(ACCOUNT_ID, "aa-editor", PASSWORD)
    agent.get("/policy-editor")
    assert agent.page is not None and agent.page.status_code == 200
    assert 'id="policy-document"' in agent.text and "/static/policy_editor.js" in agent.text
    token = agent.csrf

    def check(
        document: str, kind: str = "identity", csrf: str | None = token, **extra: str
    ) -> httpx.Response:
        headers = {"Content-Type": "application/json", "Origin": server.endpoint}
        if csrf is not None:
            headers["X-CSRF-Token"] = csrf
        body = json.dumps({"document": document, "kind": kind, **extra})
        return agent.http.post("/console/policy-editor/validate", content=body, headers=headers)

    answer = check(BROKEN)
    assert answer.status_code == 200, answer.text
    [finding] = [f for f in answer.json()["findings"] if f["issueCode"] == "INVALID_ACTION"]
    assert finding["findingType"] == "ERROR"
    assert (finding["line"], finding["column"]) == (6, 17)  # "s3:GetObjekt", column counted from 1
    assert finding["path"] == "Statement[0].Action"
    assert "GetObjekt" in finding["details"]

    fixed = check(BROKEN.replace("GetObjekt", "GetObject")).json()["findings"]
    assert not [f for f in fixed if f["findingType"] in ("ERROR", "SECURITY_WARNING")]

    # A trust policy is read as one: an identity policy's Resource has no place there.
    trust = check(BROKEN, "trust").json()["findings"]
    assert any(f["findingType"] == "ERROR" for f in trust)

    # CSRF: no token, a wrong token, another origin: refused before any check.
    assert check(BROKEN, csrf=None).status_code == 403
    assert check(BROKEN, csrf="forged").status_code == 403
    cross = agent.http.post(
        "/console/policy-editor/validate",
        content=json.dumps({"document": BROKEN}),
        headers={"Content-Type": "application/json", "X-CSRF-Token": token, "Origin": "https://evil.example"},
    )
    assert cross.status_code == 403

    # Without JavaScript: the form posts and the page lists the same finding.
    agent.post("/policy-editor", {"document": BROKEN, "kind": "identity", "resource_type": ""})
    assert agent.page is not None and agent.page.status_code == 200
    assert "INVALID_ACTION" in agent.text and "Ln 6, Col 17" in agent.text
    assert "s3:GetObjekt" in html.unescape(agent.text)  # the document is kept in the editor
    assert agent.post("/policy-editor", {"document": BROKEN}, csrf="forged").status_code == 403


# -- unused access, with the clock moved ----------------------------------------------------------

OFFSET = timedelta(days=2)


@pytest.fixture(scope="module")
def later(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Day 0: an analyst, a role allowed two actions and a user allowed one. Day 2: the same data
    with the clock two days ahead, where the role used one of its actions."""
    data = tmp_path_factory.mktemp("aa-console-unused") / "data"
    first = start_server(data)
    try:
        iam = first.client("iam")
        make_user(iam, "aa-later", ANALYST)
        trust = policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                "Action": "sts:AssumeRole",
            }
        )
        iam.create_role(RoleName="half-role", AssumeRolePolicyDocument=trust)
        iam.put_role_policy(
            RoleName="half-role",
            PolicyName="half",
            PolicyDocument=policy(allow(["iam:ListUsers", "iam:GetRole"])),
        )
    finally:
        stop_server(first)
    running = start_server(data, "--clock-offset", str(OFFSET.total_seconds()))
    clock = mock.patch.object(
        botocore.auth, "get_current_datetime", lambda **kw: get_current_datetime(**kw) + OFFSET
    )
    clock.start()
    try:
        role = f"arn:aws:iam::{ACCOUNT_ID}:role/half-role"
        credentials = running.client("sts").assume_role(RoleArn=role, RoleSessionName="half")["Credentials"]
        running.client(
            "iam", credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"]
        ).list_users()
        yield running
    finally:
        clock.stop()
        stop_server(running)


def test_unused_access_and_the_recommendation(later: Server) -> None:
    agent = ConsoleAgent(later.endpoint)
    try:
        agent.sign_in(ACCOUNT_ID, "aa-later", PASSWORD)
        agent.get("/access-analyzer")
        agent.post("/access-analyzer/analyzers", {"type": "ACCOUNT_UNUSED_ACCESS", "days": "1"})
        assert agent.message() == "The analyzer was created.", agent.text
        listed = rows(agent)
        role = f"arn:aws:iam::{ACCOUNT_ID}:role/half-role"
        [(finding_id, row)] = [(i, r) for i, r in listed.items() if role in r]
        assert row.startswith("UnusedPermission") and "ACTIVE" in row
        assert "Not in the tracking period" not in row  # the role was used: its last use is shown
        password = [r for r in listed.values() if r.startswith("UnusedIAMUserPassword")]
        assert password == []  # aa-later signed in: its password is used

        agent.get(f"/access-analyzer/finding?analyzer=console-unused-access&id={finding_id}")
        assert "iam:GetRole" in agent.text and 'id="recommend"' in agent.text
        agent.post(
            "/access-analyzer/finding/recommendation", {"analyzer": "console-unused-access", "id": finding_id}
        )
        assert agent.page is not None and agent.page.status_code == 200, agent.text
        step = re.search(r'<div class="step" data-action="CREATE_POLICY">(.*?)</div>', agent.text, re.S)
        assert step is not None, agent.text
        shown = html.unescape(step.group(1))
        assert "<code>half</code>" in step.group(1)
        recommended = json.loads(re.search(r'<pre class="policy">(.*?)</pre>', shown, re.S).group(1))  # type: ignore[union-attr]
        assert recommended["Statement"][0]["Action"] == "iam:ListUsers"
        # Shown again on a later visit (GetFindingRecommendation).
        agent.get(f"/access-analyzer/finding?analyzer=console-unused-access&id={finding_id}")
        assert 'data-action="CREATE_POLICY"' in agent.text and 'id="recommend"' not in agent.text
    finally:
        agent.close()
