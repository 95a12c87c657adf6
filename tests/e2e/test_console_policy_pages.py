"""The policy editor's endpoints and the Policies, Identity providers, Account settings and
Credential report pages end to end (httpx with cookies): every change is an IAM call of the
signed-in principal, decided by its policies and on the trail; forms and JSON need the CSRF token;
inputs are bounded; a principal that may not do something is told what to do next."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from tests.e2e.console_helpers import ConsoleAgent
from tests.e2e.harness import ACCOUNT_ID, Server, start_server, stop_server
from tests.e2e.policy_helpers import allow, policy

PASSWORD = "Policy-Pages-42!"
DOC = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("iamd-console-policy-pages") / "data")
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def iam(server: Server) -> Any:
    return server.client("iam")


@pytest.fixture
def agent(server: Server) -> Iterator[ConsoleAgent]:
    console = ConsoleAgent(server.endpoint)
    yield console
    console.close()


def user(iam: Any, agent: ConsoleAgent, name: str, *statements: dict[str, Any]) -> None:
    iam.create_user(UserName=name)
    iam.create_login_profile(UserName=name, Password=PASSWORD, PasswordResetRequired=False)
    iam.put_user_policy(UserName=name, PolicyName="pages", PolicyDocument=policy(*statements))
    agent.sign_in(ACCOUNT_ID, name, PASSWORD)
    assert agent.path == "/console/home", agent.text


def events(server: Server, name: str, user_name: str) -> list[dict[str, Any]]:
    found = server.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}]
    )["Events"]
    return [json.loads(e["CloudTrailEvent"]) for e in found if e.get("Username") == user_name]


def validate(agent: ConsoleAgent, body: Any, csrf: str | None = None, **headers: str) -> Any:
    agent.get("/policy-editor")
    token = agent.csrf if csrf is None else csrf
    return agent.http.post(
        "/console/policy-editor/validate",
        content=json.dumps(body),
        headers={"Content-Type": "application/json", "X-CSRF-Token": token, **headers},
    )


def test_create_policy_from_the_editor_is_the_users_call_on_the_trail(
    server: Server, iam: Any, agent: ConsoleAgent
) -> None:
    user(
        iam,
        agent,
        "pp-author",
        allow(
            [
                "iam:CreatePolicy",
                "iam:TagPolicy",
                "iam:GetPolicy*",
                "iam:ListPolic*",
                "iam:ListEntitiesForPolicy",
            ]
        ),
    )
    agent.get("/policy-editor")
    agent.post(
        "/policy-editor/create",
        {"document": DOC, "kind": "identity", "policy_name": "pp-made", "policy_tags": "team = payments\n"},
    )
    assert agent.path == "/console/policies/view", agent.text
    assert agent.message() == "The policy was created."
    arn = f"arn:aws:iam::{ACCOUNT_ID}:policy/pp-made"
    assert iam.get_policy(PolicyArn=arn)["Policy"]["PolicyName"] == "pp-made"
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [{"Key": "team", "Value": "payments"}]
    (record,) = events(server, "CreatePolicy", "pp-author")
    assert record["userIdentity"]["arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/pp-author"
    assert record["requestParameters"]["policyName"] == "pp-made"

    # A second one of the same name: what to do next, and the document is kept in the editor.
    agent.get("/policy-editor")
    agent.post("/policy-editor/create", {"document": DOC, "kind": "identity", "policy_name": "pp-made"})
    assert agent.page is not None and agent.page.status_code == 409
    assert "Choose another name" in (agent.error() or "")
    assert "s3:GetObject" in agent.text


def test_a_principal_without_the_permission_is_refused_and_told(
    server: Server, iam: Any, agent: ConsoleAgent
) -> None:
    user(iam, agent, "pp-reader", allow("access-analyzer:ValidatePolicy"))
    agent.get("/policy-editor")
    agent.post("/policy-editor/create", {"document": DOC, "kind": "identity", "policy_name": "pp-nope"})
    assert agent.page is not None and agent.page.status_code == 403
    assert "iam:CreatePolicy" in (agent.error() or "")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_policy(PolicyArn=f"arn:aws:iam::{ACCOUNT_ID}:policy/pp-nope")
    denied = events(server, "CreatePolicy", "pp-reader")
    assert denied and denied[0]["errorCode"] == "AccessDenied"
    # Pages it may not read say so once.
    agent.get("/account-settings")
    assert agent.text.count('id="denied"') == 1
    assert "iam:GetAccountPasswordPolicy" in agent.text


def test_simulate_from_the_editor(server: Server, iam: Any, agent: ConsoleAgent) -> None:
    user(
        iam,
        agent,
        "pp-sim",
        allow(["iam:SimulateCustomPolicy", "iam:SimulatePrincipalPolicy", "iam:GetUser"]),
    )
    agent.get("/policy-editor")
    agent.post(
        "/policy-editor/simulate",
        {
            "document": DOC,
            "kind": "identity",
            "sim_actions": "s3:GetObject\ns3:PutObject",
            "sim_resources": "",
        },
    )
    assert 'data-action="s3:GetObject"' in agent.text
    rows = agent.text.split('data-action="')[1:]
    assert "Allowed" in rows[0] and "implicit deny" in rows[1]
    assert events(server, "SimulateCustomPolicy", "pp-sim")

    # With a principal: SimulatePrincipalPolicy, the user's own policies added.
    agent.post(
        "/policy-editor/simulate",
        {
            "document": DOC,
            "kind": "identity",
            "sim_principal": f"arn:aws:iam::{ACCOUNT_ID}:user/pp-sim",
            "sim_actions": "iam:GetUser",
        },
    )
    assert "Allowed" in agent.text.split('data-action="iam:GetUser"')[1]
    assert events(server, "SimulatePrincipalPolicy", "pp-sim")

    # Bad input is said in words and runs nothing.
    agent.post(
        "/policy-editor/simulate",
        {"document": DOC, "sim_actions": "GetObject", "sim_context": "aws:SourceIp 10.0.0.1"},
    )
    assert agent.page is not None and agent.page.status_code == 400
    assert "not actions (service:Action): GetObject" in agent.text
    assert "key = value" in agent.text
    agent.post("/policy-editor/simulate", {"document": DOC, "kind": "trust", "sim_actions": "sts:AssumeRole"})
    assert agent.page is not None and agent.page.status_code == 400
    assert "The simulator tests identity-based policies" in agent.text
    many = "\n".join(f"s3:Get{i}" for i in range(21))
    agent.post("/policy-editor/simulate", {"document": DOC, "sim_actions": many})
    assert "at most 20 actions" in agent.text


def test_the_validation_endpoint_needs_the_token_and_bounds_the_policy(
    server: Server, iam: Any, agent: ConsoleAgent
) -> None:
    user(iam, agent, "pp-json", allow("access-analyzer:ValidatePolicy"))
    answer = validate(agent, {"document": DOC, "kind": "identity"})
    assert answer.status_code == 200
    data = answer.json()
    assert data["findings"] == []
    assert 'data-service="s3"' in data["summaryHtml"] and "Amazon S3" in data["summaryHtml"]
    assert validate(agent, {"document": DOC}, csrf="forged").status_code == 403
    cross = validate(agent, {"document": DOC}, Origin="https://evil.example")
    assert cross.status_code == 403
    assert validate(agent, {"document": " " * 20_001}).status_code == 413
    assert validate(agent, {"document": 5}).status_code == 400
    # The form posts need it too.
    agent.get("/policy-editor")
    agent.post("/policy-editor/create", {"document": DOC, "policy_name": "pp-forged"}, csrf="forged")
    assert agent.page is not None and agent.page.status_code == 403


def test_the_catalog_is_for_signed_in_sessions_and_names_only_known_services(
    server: Server, iam: Any, agent: ConsoleAgent
) -> None:
    assert agent.http.get("/console/policy-editor/catalog").status_code == 401
    user(iam, agent, "pp-catalog", allow("iam:GetUser"))
    listed = agent.http.get("/console/policy-editor/catalog")
    assert listed.status_code == 200 and "max-age" in listed.headers["cache-control"]
    assert {"prefix": "dynamodb", "name": "Amazon DynamoDB"} in listed.json()
    table = agent.http.get("/console/policy-editor/catalog/dynamodb").json()
    assert any(t["name"] == "table" and ":table/${TableName}" in t["arn"] for t in table["resourceTypes"])
    assert agent.http.get("/console/policy-editor/catalog/" + "x" * 5000).status_code == 404
    assert agent.http.get("/console/policy-editor/catalog/..%2f..%2fetc").status_code == 404


def test_editing_a_policy_saves_a_new_version(server: Server, iam: Any, agent: ConsoleAgent) -> None:
    user(iam, agent, "pp-versions", allow("iam:*Polic*"))
    arn = iam.create_policy(PolicyName="pp-edited", PolicyDocument=DOC)["Policy"]["Arn"]
    agent.get(f"/policy-editor?arn={arn}")
    assert "Save new version" in agent.text and "s3:GetObject" in agent.text
    changed = DOC.replace("s3:GetObject", "s3:ListBucket")
    agent.post(
        "/policy-editor/create", {"document": changed, "kind": "identity", "arn": arn, "set_default": "1"}
    )
    assert agent.message() == "Version v2 was saved."
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"
    for n in range(3, 6):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=DOC.replace("GetObject", f"Get{n}"))
    agent.get(f"/policy-editor?arn={arn}")
    agent.post("/policy-editor/create", {"document": changed, "kind": "identity", "arn": arn})
    assert "Delete a version you no longer need" in (agent.error() or "")


def test_changing_the_alias_needs_the_acknowledgement(server: Server, iam: Any, agent: ConsoleAgent) -> None:
    user(
        iam,
        agent,
        "pp-alias",
        allow(["iam:*AccountAlias*", "iam:GetAccountPasswordPolicy", "iam:GetAccountSummary"]),
    )
    iam.create_account_alias(AccountAlias="pp-first")
    try:
        agent.get("/account-settings")
        agent.post(
            "/account-settings/alias",
            {"alias": "pp-second", "current": "pp-first", "back": "/account-settings"},
        )
        assert "pp-first stop working" in (agent.error() or "")
        assert iam.list_account_aliases()["AccountAliases"] == ["pp-first"]
        agent.post(
            "/account-settings/alias", {"alias": "pp-second", "current": "pp-first", "understood": "1"}
        )
        assert iam.list_account_aliases()["AccountAliases"] == ["pp-second"]
        # What IAM refuses comes back as what to do next.
        agent.post("/account-settings/alias", {"alias": "-bad-", "current": "pp-second", "understood": "1"})
        assert agent.error() and iam.list_account_aliases()["AccountAliases"] == ["pp-second"]
    finally:
        for alias in iam.list_account_aliases()["AccountAliases"]:
            iam.delete_account_alias(AccountAlias=alias)


def test_lists_a_principal_may_not_read_say_so_once(server: Server, iam: Any, agent: ConsoleAgent) -> None:
    user(iam, agent, "pp-nolist", allow("iam:GetUser"))
    for path, action in (
        ("/policies", "iam:ListPolicies"),
        ("/identity-providers", "iam:ListOpenIDConnectProviders"),
        ("/credential-report", "iam:GetCredentialReport"),
    ):
        agent.get(path)
        assert agent.page is not None and agent.page.status_code == 200
        assert agent.text.count('id="denied"') == 1 and action in agent.text, path
        assert "0 policies" not in agent.text and "0 providers" not in agent.text
