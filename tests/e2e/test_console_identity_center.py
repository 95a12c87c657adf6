"""The console's Identity Center page over HTTP: bad input and refusals come back as a message on
the page (never a 5xx, never half-done work), a deletion needs the typed name, and a principal
whose policy allows only reading sees the page but cannot change it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from tests.e2e.console_helpers import ConsoleAgent
from tests.e2e.harness import ACCOUNT_ID, Server, start_server, stop_server

PASSWORD = "Console-Ic-42!"
READ_ONLY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["sso:Describe*", "sso:List*", "identitystore:Describe*", "identitystore:List*"],
                "Resource": "*",
            }
        ],
    }
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("iamd-console-ic") / "data")
    yield running
    stop_server(running)


@pytest.fixture
def agent(server: Server) -> Iterator[ConsoleAgent]:
    console = ConsoleAgent(server.endpoint)
    yield console
    console.close()


def _user(server: Server, name: str, policy: str | None) -> None:
    iam = server.client("iam")
    iam.create_user(UserName=name)
    iam.create_login_profile(UserName=name, Password=PASSWORD)
    if policy == "admin":
        iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    elif policy:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy)


def test_bad_input_and_refusals_are_messages_on_the_page(server: Server, agent: ConsoleAgent) -> None:
    server.client("organizations").create_organization(FeatureSet="ALL")
    _user(server, "ic-admin", "admin")
    _user(server, "ic-reader", READ_ONLY)
    agent.sign_in(ACCOUNT_ID, "ic-admin", PASSWORD)
    agent.get("/identity-center")
    assert 'id="enable"' in agent.text
    # Before an instance exists, a change says to enable one first.
    agent.post("/identity-center/users/create", {"username": "x", "given": "X", "family": "Y"})
    assert agent.path == "/console/identity-center" and "enable one first" in (agent.error() or "")
    agent.post("/identity-center/enable", {})
    assert agent.message() == "IAM Identity Center is enabled."
    agent.post("/identity-center/enable", {})  # one instance per account
    assert "already has an IAM Identity Center instance" in (agent.error() or "")

    agent.post(
        "/identity-center/users/create",
        {"username": "pat", "given": "Pat", "family": "Doe", "email": "p@x.io"},
    )
    assert agent.message() == "User pat created."
    agent.post("/identity-center/users/create", {"username": "PAT", "given": "P", "family": "D"})
    assert agent.error() and agent.message() is None  # user names are unique, ignoring case
    for hours in ("0", "13", "abc", "٣"):
        answer = agent.post("/identity-center/permission-sets/create", {"name": "Ops", "hours": hours})
        assert answer.status_code == 200 and agent.error() == "The session duration is 1 to 12 hours."
    agent.post("/identity-center/permission-sets/create", {"name": "bad name!", "hours": "1"})
    assert agent.error()
    sso = server.client("sso-admin")
    arn = sso.list_instances()["Instances"][0]["InstanceArn"]
    assert sso.list_permission_sets(InstanceArn=arn)["PermissionSets"] == []  # nothing half-made
    agent.post("/identity-center/assignments/create", {"account": ACCOUNT_ID, "principal": "ROBOT:x"})
    assert agent.error() == "Choose a user or a group."

    store = sso.list_instances()["Instances"][0]["IdentityStoreId"]
    ids = server.client("identitystore")
    pat = ids.list_users(IdentityStoreId=store)["Users"][0]["UserId"]
    agent.post("/identity-center/users/delete", {"id": pat, "name": "pat", "confirm": "pa"})
    assert agent.error() == "Type the user name pat to confirm the deletion."
    assert len(ids.list_users(IdentityStoreId=store)["Users"]) == 1

    # A reader sees the store but may not change it; the refusal names the action.
    agent.sign_out()
    agent.sign_in(ACCOUNT_ID, "ic-reader", PASSWORD)
    agent.get("/identity-center")
    assert 'data-user="pat"' in agent.text and agent.error() is None
    agent.post("/identity-center/groups/create", {"name": "Readers"})
    refusal = agent.error() or ""
    assert refusal.startswith("You don't have permission") and "CreateGroup" in refusal
    assert ids.list_groups(IdentityStoreId=store)["Groups"] == []
