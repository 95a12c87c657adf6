"""Fuzzing the console's IAM pages and forms (users, groups, roles, switch role): hostile names in
the path, query values and form fields, as a signed-in administrator. No answer is a 5xx and every
page is valid UTF-8: a bad value gets AWS's refusal shown as what to do next."""

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

PASSWORD = "Fuzz-Passw0rd!pages"
EVERYTHING = json.dumps(
    {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": ["iam:*", "sts:*"], "Resource": "*"}}
)
PAGES = ["/dashboard", "/users", "/users/create", "/groups", "/roles", "/switch-role"]
ENTITY_PAGES = ["/users/{name}", "/groups/{name}", "/roles/{name}"]
FORMS = [
    "/users/create",
    "/groups/create",
    "/roles/create",
    "/switch-role",
    "/users/{name}/attach",
    "/users/{name}/detach",
    "/users/{name}/inline/put",
    "/users/{name}/inline/delete",
    "/users/{name}/boundary",
    "/users/{name}/tags/add",
    "/users/{name}/tags/remove",
    "/users/{name}/groups/add",
    "/users/{name}/password",
    "/users/{name}/keys/create",
    "/users/{name}/keys/rotate",
    "/users/{name}/keys/status",
    "/users/{name}/keys/delete",
    "/users/{name}/mfa/deactivate",
    "/users/{name}/mfa/create",
    "/users/{name}/mfa/enable",
    "/users/{name}/mfa/cancel",
    "/users/{name}/ssh/upload",
    "/users/{name}/delete",
    "/groups/{name}/users/add",
    "/groups/{name}/delete",
    "/roles/{name}/trust",
    "/roles/{name}/revoke",
    "/roles/{name}/delete",
]
FIELDS = ["name", "path", "arn", "policy", "document", "key", "value", "group", "user", "id", "status"]
FIELDS += ["serial", "password", "password_kind", "reset", "console", "tags", "boundary", "confirm"]
FIELDS += ["account", "role", "display", "trust", "back", "group:x", "device", "code1", "code2"]
QUERY = ["q", "filter", "start", "tab", "account", "role", "display"]


@pytest.fixture(scope="module")
def admin(live: Any) -> Iterator[tuple[TestClient, str]]:
    for action in (
        "Action=CreateUser&UserName=console-pages-fuzz",
        f"Action=CreateLoginProfile&UserName=console-pages-fuzz&Password={pct(PASSWORD)}",
        f"Action=PutUserPolicy&UserName=console-pages-fuzz&PolicyName=all&PolicyDocument={pct(EVERYTHING)}",
    ):
        body = f"{action}&Version=2010-05-08".encode()
        headers = [("Content-Type", "application/x-www-form-urlencoded")]
        assert live.send(live.request("iam", "POST", "/", body, headers)).status == 200, action
    with TestClient(create_app(live.pipeline), base_url="http://127.0.0.1:8080") as client:
        csrf = csrf_of(client.get("/console/signin").text)
        fields = {"account": "111111111111", "username": "console-pages-fuzz", "password": PASSWORD}
        page = client.post("/console/signin", content=form_body(fields, csrf), headers=FORM)
        assert page.status_code == 200 and "/console/home" in str(page.url), page.text[:500]
        yield client, csrf_of(page.text)


def named(template: str, name: str) -> str:
    return template.replace("{name}", pct(name) if name else "x")


@pytest.mark.parametrize("text", SEED_TEXTS)
def test_pages_with_seed_values(admin: tuple[TestClient, str], text: str) -> None:
    client, _ = admin
    for path in PAGES:
        answered(client.get(f"/console{path}?" + "&".join(f"{k}={pct(text)}" for k in QUERY)))
    for template in ENTITY_PAGES:
        answered(client.get(f"/console{named(template, text)}?tab={pct(text)}"))


@FUZZ
@given(
    template=st.sampled_from(FORMS),
    name=st.sampled_from(["console-pages-fuzz", "nobody", *SEED_TEXTS]) | nasty_text,
    fields=st.dictionaries(st.sampled_from(FIELDS), st.sampled_from(SEED_TEXTS) | nasty_text, max_size=5),
)
def test_fuzz_iam_forms(
    admin: tuple[TestClient, str], template: str, name: str, fields: dict[str, str]
) -> None:
    client, csrf = admin
    if name == "console-pages-fuzz" and (template.endswith(("/delete", "/password"))):
        name = "nobody"  # keep the signed-in administrator and its password (its session)
    answered(client.post(f"/console{named(template, name)}", content=form_body(fields, csrf), headers=FORM))
    back = answered(client.get("/console/switch-role"))
    assert 'id="sign-in"' not in back  # still signed in: the fuzzing reaches the forms
    if 'id="switch-back"' in back:
        client.post("/console/switch-role/back", content=form_body({}, csrf), headers=FORM)


@FUZZ
@given(
    path=st.sampled_from(PAGES + ENTITY_PAGES),
    query=st.dictionaries(st.sampled_from(QUERY), st.sampled_from(SEED_TEXTS) | nasty_text, max_size=4),
    name=nasty_text,
)
def test_fuzz_iam_pages(admin: tuple[TestClient, str], path: str, query: dict[str, str], name: str) -> None:
    client, _ = admin
    url = f"/console{named(path, name)}?" + "&".join(f"{quote(k)}={pct(v)}" for k, v in query.items())
    answered(client.get(url))
