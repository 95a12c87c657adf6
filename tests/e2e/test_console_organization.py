"""The console's Organization page end to end (httpx with cookies): the management account's
signed-in user sees the tree (root → nested OUs → accounts, with their SCPs and RCPs, the
organization's id and feature set), read with Organizations' own operations as that user (on the
trail); a user the policies deny, a member account's user and an account outside any organization
each get one sentence instead."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from tests.e2e.console_helpers import ConsoleAgent
from tests.e2e.harness import ACCOUNT_ID, Server, add_account, start_server, stop_server
from tests.e2e.test_organizations import assume, create_account

PASSWORD = "Org-Console-Pass-9"
READ_ORG = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["organizations:Describe*", "organizations:List*"], "Resource": "*"}
        ],
    }
)
OUTSIDER = "777777777777"


@dataclass
class Tree:
    org_id: str
    root: str
    workloads: str
    prod: str
    dev: str
    member_iam: Any


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("iamd-console-org") / "data")
    yield running
    stop_server(running)


@pytest.fixture
def agent(server: Server) -> Iterator[ConsoleAgent]:
    console = ConsoleAgent(server.endpoint)
    yield console
    console.close()


def make_user(iam: Any, name: str, inline: str | None) -> None:
    iam.create_user(UserName=name)
    iam.create_login_profile(UserName=name, Password=PASSWORD)
    if inline is not None:
        iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=inline)


def build_tree(server: Server) -> Tree:
    """Root (FullAWSAccess; RCPs enabled) → Workloads (+ DenyLeaving) → Prod → dev."""
    orgs = server.client("organizations")
    org_id = orgs.create_organization()["Organization"]["Id"]
    root = orgs.list_roots()["Roots"][0]["Id"]
    orgs.enable_policy_type(RootId=root, PolicyType="RESOURCE_CONTROL_POLICY")
    workloads = orgs.create_organizational_unit(ParentId=root, Name="Workloads")["OrganizationalUnit"]["Id"]
    prod = orgs.create_organizational_unit(ParentId=workloads, Name="Prod")["OrganizationalUnit"]["Id"]
    dev = create_account(orgs, "dev", "dev@example.com")
    orgs.move_account(AccountId=dev, SourceParentId=root, DestinationParentId=prod)
    scp = orgs.create_policy(
        Name="DenyLeaving",
        Description="members stay",
        Type="SERVICE_CONTROL_POLICY",
        Content=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"}
                ],
            }
        ),
    )["Policy"]["PolicySummary"]["Id"]
    orgs.attach_policy(PolicyId=scp, TargetId=workloads)
    creds = assume(server, f"arn:aws:iam::{dev}:role/OrganizationAccountAccessRole")
    member_iam = server.client("iam", creds["key_id"], creds["secret"], creds["token"])
    return Tree(org_id, root, workloads, prod, dev, member_iam)


@pytest.fixture(scope="module")
def tree(server: Server) -> Tree:
    iam = server.client("iam")
    make_user(iam, "org-viewer", READ_ORG)
    make_user(iam, "org-nobody", None)
    built = build_tree(server)
    make_user(built.member_iam, "member-viewer", READ_ORG)
    key_id, secret = add_account(server, OUTSIDER, "outsider")
    make_user(server.client("iam", key_id, secret), "outside-viewer", READ_ORG)
    return built


def node_text(agent: ConsoleAgent, node_id: str) -> str:
    """The visible text of one node's head and policy line (not its children)."""
    found = re.search(
        rf'<li class="node \w+" id="node-{re.escape(node_id)}">(.*?<div class="attached">.*?)</div>',
        agent.text,
        re.S,
    )
    assert found is not None, f"no node {node_id} on the page"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())


def test_management_user_sees_the_tree(agent: ConsoleAgent, tree: Tree) -> None:
    agent.sign_in(ACCOUNT_ID, "org-viewer", PASSWORD)
    assert 'id="nav-organization"' in agent.text  # the link in the navigation bar
    answer = agent.get("/organization")
    assert answer.status_code == 200, agent.text
    assert agent.field("organization-id") == tree.org_id
    assert agent.field("feature-set") == "ALL"
    assert ACCOUNT_ID in (agent.field("management-account") or "")
    assert node_text(agent, tree.root) == f"Root Root {tree.root} SCPs FullAWSAccess RCPs RCPFullAWSAccess"
    assert node_text(agent, tree.workloads) == (
        f"OU Workloads {tree.workloads} SCPs DenyLeaving FullAWSAccess RCPs RCPFullAWSAccess"
    )
    assert node_text(agent, tree.prod).startswith(f"OU Prod {tree.prod} SCPs FullAWSAccess")
    assert node_text(agent, tree.dev) == (
        f"Account dev {tree.dev} dev@example.com ACTIVE SCPs FullAWSAccess RCPs RCPFullAWSAccess"
    )
    assert node_text(agent, ACCOUNT_ID).endswith("ACTIVE SCPs FullAWSAccess RCPs RCPFullAWSAccess")
    # Nesting: Prod inside Workloads, dev inside Prod, and the management account at the root.
    text = agent.text
    assert text.index(f'id="node-{tree.workloads}"') < text.index(f'id="node-{tree.prod}"')
    assert text.index(f'id="node-{tree.prod}"') < text.index(f'id="node-{tree.dev}"')
    assert 'id="unavailable"' not in text


def test_the_reads_are_on_the_trail_as_the_user(server: Server, agent: ConsoleAgent, tree: Tree) -> None:
    agent.sign_in(ACCOUNT_ID, "org-viewer", PASSWORD)
    agent.get("/organization")
    trail = server.client("cloudtrail")
    events = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "ListAccountsForParent"}]
    )["Events"]
    assert events and all(e["Username"] == "org-viewer" for e in events)
    assert all(e["EventSource"] == "organizations.amazonaws.com" for e in events)


def test_a_user_denied_gets_one_sentence(agent: ConsoleAgent, tree: Tree) -> None:
    agent.sign_in(ACCOUNT_ID, "org-nobody", PASSWORD)
    answer = agent.get("/organization")
    assert answer.status_code == 200
    sentence = agent.field("unavailable")
    assert sentence is not None and sentence.startswith("You may not read this account's organization:")
    assert "organizations:DescribeOrganization" in sentence
    assert 'id="organization-tree"' not in agent.text and tree.org_id not in agent.text


def test_a_member_account_user_is_told_only_the_management_account_sees_the_tree(
    agent: ConsoleAgent, tree: Tree
) -> None:
    agent.sign_in(tree.dev, "member-viewer", PASSWORD)
    agent.get("/organization")
    assert agent.field("organization-id") == tree.org_id
    assert agent.field("unavailable") == (
        f"Only the management account of organization {tree.org_id} ({ACCOUNT_ID}) or a delegated "
        f"administrator can see its tree; account {tree.dev} is a member."
    )
    assert 'id="organization-tree"' not in agent.text


def test_an_account_outside_any_organization(agent: ConsoleAgent, tree: Tree) -> None:
    agent.sign_in(OUTSIDER, "outside-viewer", PASSWORD)
    agent.get("/organization")
    assert agent.field("unavailable") == f"Account {OUTSIDER} is not in an organization."


def test_signed_out_visitors_are_sent_to_sign_in(agent: ConsoleAgent) -> None:
    agent.get("/organization")
    assert agent.path == "/console/signin"
