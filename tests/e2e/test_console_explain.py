"""The console shows why an action was denied, down to the condition, under AWS's sentence, but
only to a caller allowed sts:DecodeAuthorizationMessage: AWS hides these details from the denied
caller ("the details of the authorization status can contain privileged information that the user
who requested the operation should not see", STS API reference, DecodeAuthorizationMessage,
https://docs.aws.amazon.com/STS/latest/APIReference/API_DecodeAuthorizationMessage.html)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest
from tests.e2e.console_helpers import ConsoleAgent
from tests.e2e.harness import ACCOUNT_ID, Server
from tests.e2e.policy_helpers import allow, policy

PASSWORD = "Correct-Horse-7"
FROM_OFFICE = allow(
    "iam:ListAccessKeys", "*", Sid="FromOffice", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
)


@pytest.fixture
def agent(server: Server) -> Iterator[ConsoleAgent]:
    console = ConsoleAgent(server.endpoint)
    yield console
    console.close()


def make_user(iam: Any, name: str, *statements: dict[str, Any]) -> None:
    iam.create_user(UserName=name)
    iam.create_login_profile(UserName=name, Password=PASSWORD, PasswordResetRequired=False)
    iam.put_user_policy(UserName=name, PolicyName="office", PolicyDocument=policy(*statements))


def reasons(agent: ConsoleAgent, element_id: str) -> list[str]:
    found = re.search(rf'<ul class="why" id="{element_id}">(.*?)</ul>', agent.text, re.S)
    if found is None:
        return []
    return [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", found.group(1), re.S)]


def test_a_denial_is_explained_to_a_caller_allowed_to_decode(iam: Any, agent: ConsoleAgent) -> None:
    make_user(
        iam, "con-ines", allow("iam:ListMFADevices"), FROM_OFFICE, allow("sts:DecodeAuthorizationMessage")
    )
    agent.sign_in(ACCOUNT_ID, "con-ines", PASSWORD)
    assert agent.path == "/console/home"
    user = f"arn:aws:iam::{ACCOUNT_ID}:user/con-ines"
    # AWS's sentence, as the API answers it ...
    assert (
        f"User: {user} is not authorized to perform: iam:ListAccessKeys on resource: {user} "
        "because no identity-based policy allows the iam:ListAccessKeys action"
    ) in html.unescape(agent.text)
    # ... then why: the statement, the condition key, the request's value, the policy's values.
    assert reasons(agent, "keys-why") == [
        "Implicitly denied: no identity-based policy allows the action",
        "Nearest: identity-based policy statement office:FromOffice: Condition IpAddress "
        "aws:SourceIp: request value 127.0.0.1; policy values 10.0.0.0/8",
    ]

    answer = agent.post("/keys/create", {})
    assert answer.status_code == 403
    assert agent.error() == (
        f"User: {user} is not authorized to perform: iam:CreateAccessKey on resource: {user} "
        "because no identity-based policy allows the iam:CreateAccessKey action"
    )
    why = reasons(agent, "why")
    # No statement allows iam:CreateAccessKey: the statements of the same service come first.
    assert why[1] == (
        "Nearest: identity-based policy statement office:Statement[0]: Action: iam:CreateAccessKey "
        "does not match iam:ListMFADevices"
    )


def test_a_caller_not_allowed_to_decode_sees_only_awss_sentence(iam: Any, agent: ConsoleAgent) -> None:
    make_user(iam, "con-jon", allow("iam:ListMFADevices"), FROM_OFFICE)
    agent.sign_in(ACCOUNT_ID, "con-jon", PASSWORD)
    assert "no identity-based policy allows the iam:ListAccessKeys action" in agent.text
    assert reasons(agent, "keys-why") == []
    assert "aws:SourceIp" not in agent.text and "10.0.0.0/8" not in agent.text
    assert agent.post("/keys/create", {}).status_code == 403
    assert reasons(agent, "why") == []
