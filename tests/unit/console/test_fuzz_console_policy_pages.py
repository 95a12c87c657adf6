"""Fuzzing the console's policy pages and forms (the policy editor, Policies, Identity providers,
Account settings, Credential report): hostile query values and form fields as a signed-in
administrator. No answer is a 5xx and every page is valid UTF-8: a bad value gets a sentence saying
what to fix, or AWS's refusal shown as what to do next."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient
from tests.unit.console.test_fuzz_console_forms import FORM, answered, csrf_of, form_body, pct
from tests.unit.fuzzing import FUZZ, SEED_TEXTS, nasty_text

from iamd.server.app import create_app

PASSWORD = "Fuzz-Passw0rd!policies"
EVERYTHING = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": {"Effect": "Allow", "Action": ["iam:*", "access-analyzer:*"], "Resource": "*"},
    }
)
PAGES = [
    "/policy-editor",
    "/policies",
    "/policies/view",
    "/identity-providers",
    "/identity-providers/add",
    "/identity-providers/view",
    "/account-settings",
    "/credential-report",
    "/credential-report/download",
    "/policy-editor/catalog",
]
FORMS = [
    "/policy-editor",
    "/policy-editor/simulate",
    "/policy-editor/create",
    "/policies/set-default",
    "/policies/delete-version",
    "/policies/delete",
    "/identity-providers/add",
    "/identity-providers/delete",
    "/identity-providers/audience/add",
    "/identity-providers/audience/remove",
    "/identity-providers/thumbprints",
    "/account-settings/password-policy",
    "/account-settings/sts",
    "/account-settings/alias",
    "/credential-report/generate",
]
FIELDS = ["document", "kind", "resource_type", "arn", "version", "confirm", "set_default", "back"]
FIELDS += ["sim_principal", "sim_actions", "sim_resources", "sim_context", "policy_name"]
FIELDS += ["policy_description", "policy_path", "url", "audiences", "thumbprints", "name", "metadata"]
FIELDS += ["audience", "MinimumPasswordLength", "MaxPasswordAge", "PasswordReusePrevention", "alias"]
QUERY = ["arn", "version", "copy", "type", "usage", "q", "page", "created", "kind"]
DOCUMENTS = [
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*:Get*", "Resource": "*"}]}',
    '{"Statement": {"Effect": "Deny", "NotAction": ["s3:*", "x:"], "NotResource": "*"}}',
    '{"Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*", "Condition": {"Bool": 1}}]}',
    "[]",
    "",
]


@pytest.fixture(scope="module")
def admin(live: Any) -> Iterator[tuple[TestClient, str]]:
    for action in (
        "Action=CreateUser&UserName=console-policies-fuzz",
        f"Action=CreateLoginProfile&UserName=console-policies-fuzz&Password={pct(PASSWORD)}",
        f"Action=PutUserPolicy&UserName=console-policies-fuzz&PolicyName=all&PolicyDocument={pct(EVERYTHING)}",
    ):
        body = f"{action}&Version=2010-05-08".encode()
        headers = [("Content-Type", "application/x-www-form-urlencoded")]
        assert live.send(live.request("iam", "POST", "/", body, headers)).status == 200, action
    with TestClient(create_app(live.pipeline), base_url="http://127.0.0.1:8080") as client:
        csrf = csrf_of(client.get("/console/signin").text)
        fields = {"account": "111111111111", "username": "console-policies-fuzz", "password": PASSWORD}
        page = client.post("/console/signin", content=form_body(fields, csrf), headers=FORM)
        assert page.status_code == 200 and "/console/home" in str(page.url), page.text[:500]
        yield client, csrf_of(page.text)


@pytest.mark.parametrize("text", SEED_TEXTS)
def test_pages_with_seed_values(admin: tuple[TestClient, str], text: str) -> None:
    client, _ = admin
    for path in PAGES:
        answered(client.get(f"/console{path}?" + "&".join(f"{k}={pct(text)}" for k in QUERY)))
    answered(client.get(f"/console/policy-editor/catalog/{pct(text) or 'x'}"))


@FUZZ
@given(
    path=st.sampled_from(FORMS),
    fields=st.dictionaries(
        st.sampled_from(FIELDS), st.sampled_from([*SEED_TEXTS, *DOCUMENTS]) | nasty_text, max_size=6
    ),
)
def test_fuzz_policy_forms(admin: tuple[TestClient, str], path: str, fields: dict[str, str]) -> None:
    client, csrf = admin
    answered(client.post(f"/console{path}", content=form_body(fields, csrf), headers=FORM))
    assert 'id="sign-in"' not in answered(client.get("/console/account-settings"))  # still signed in


@FUZZ
@given(
    document=st.sampled_from(DOCUMENTS) | nasty_text,
    kind=st.sampled_from(["identity", "resource", "trust", "scp", "rcp"]) | nasty_text,
)
def test_fuzz_validation_endpoint(admin: tuple[TestClient, str], document: str, kind: str) -> None:
    client, csrf = admin
    answer = client.post(
        "/console/policy-editor/validate",
        content=json.dumps({"document": document, "kind": kind}),
        headers={"Content-Type": "application/json", "X-CSRF-Token": csrf},
    )
    assert answer.status_code < 500, answer.text[:500]
    assert "findings" in answer.json() or "error" in answer.json()


@FUZZ
@given(path=st.sampled_from(PAGES), query=st.dictionaries(st.sampled_from(QUERY), nasty_text, max_size=4))
def test_fuzz_policy_pages(admin: tuple[TestClient, str], path: str, query: dict[str, str]) -> None:
    client, _ = admin
    url = f"/console{path}?" + "&".join(f"{quote(k)}={pct(v)}" for k, v in query.items())
    answered(client.get(url))
