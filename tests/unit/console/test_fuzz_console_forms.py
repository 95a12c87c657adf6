"""Fuzzing the console's forms (issue 10): the sign-in form before a session and a signed-in
user's forms (access keys, MFA devices, password change) and JSON requests (security key
registration), with hostile field values and bodies. No answer is a 5xx; every page is valid
UTF-8; a JSON request gets a JSON answer."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient
from tests.unit.fuzzing import FUZZ, SEED_BODIES, SEED_TEXTS, escaped_json, json_values, nasty_text

from iamd.server.app import create_app

PASSWORD = "Fuzz-Passw0rd!console"
OWN = json.dumps(
    {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "iam:*", "Resource": "*"}}
)
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
FORMS = ["/keys/create", "/keys/rotate", "/keys/status", "/keys/delete", "/mfa/virtual/create"]
FORMS += ["/mfa/virtual/enable", "/mfa/virtual/cancel", "/mfa/remove", "/password", "/signout"]
FIELDS = ["id", "status", "name", "serial", "code1", "code2", "current", "password", "confirm"]


def pct(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def form_body(fields: dict[str, str], csrf: str) -> bytes:
    return "&".join(f"{pct(k)}={pct(v)}" for k, v in {**fields, "csrf": csrf}.items()).encode("ascii")


def csrf_of(page: str) -> str:
    found = CSRF.search(page)
    assert found is not None, page[:500]
    return html.unescape(found.group(1))


def answered(response: Any) -> str:
    assert response.status_code < 500, (response.status_code, response.text[:500])
    return bytes(response.content).decode("utf-8")


@pytest.fixture(scope="module")
def console(live: Any) -> Iterator[TestClient]:
    with TestClient(create_app(live.pipeline), base_url="http://127.0.0.1:8080") as client:
        yield client


@pytest.fixture(scope="module")
def signed_in(live: Any) -> Iterator[tuple[TestClient, str]]:
    """A user signed in to the console, and the CSRF token of its session."""
    for action in (
        "Action=CreateUser&UserName=console-fuzz",
        f"Action=CreateLoginProfile&UserName=console-fuzz&Password={pct(PASSWORD)}",
        f"Action=PutUserPolicy&UserName=console-fuzz&PolicyName=own&PolicyDocument={pct(OWN)}",
    ):
        body = f"{action}&Version=2010-05-08".encode()
        headers = [("Content-Type", "application/x-www-form-urlencoded")]
        assert live.send(live.request("iam", "POST", "/", body, headers)).status == 200, action
    with TestClient(create_app(live.pipeline), base_url="http://127.0.0.1:8080") as client:
        csrf = csrf_of(client.get("/console/signin").text)
        fields = {"account": "111111111111", "username": "console-fuzz", "password": PASSWORD}
        page = client.post(
            "/console/signin",
            content=form_body(fields, csrf),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert page.status_code == 200 and "/console/home" in str(page.url), page.text[:500]
        yield client, csrf_of(page.text)


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize("text", SEED_TEXTS)
def test_sign_in_with_seed_values(console: TestClient, text: str) -> None:
    csrf = csrf_of(console.get("/console/signin").text)
    for kind in ("user", "root"):
        fields = {"kind": kind, "account": text, "username": text, "password": text, "email": text}
        answered(console.post("/console/signin", content=form_body(fields, csrf), headers=FORM))


@pytest.mark.parametrize("body", SEED_BODIES)
def test_raw_sign_in_bodies(console: TestClient, body: bytes) -> None:
    answered(console.post("/console/signin", content=body, headers=FORM))


@FUZZ
@given(
    fields=st.dictionaries(st.sampled_from(["kind", "account", "username", "email", "password"]), nasty_text)
)
def test_fuzz_sign_in(console: TestClient, fields: dict[str, str]) -> None:
    csrf = csrf_of(console.get("/console/signin").text)
    answered(console.post("/console/signin", content=form_body(fields, csrf), headers=FORM))


@FUZZ
@given(
    path=st.sampled_from(FORMS[:-1]),
    fields=st.dictionaries(st.sampled_from(FIELDS), st.sampled_from(SEED_TEXTS) | nasty_text, max_size=4),
)
def test_fuzz_signed_in_forms(signed_in: tuple[TestClient, str], path: str, fields: dict[str, str]) -> None:
    client, csrf = signed_in
    answered(client.post(f"/console{path}", content=form_body(fields, csrf), headers=FORM))


@pytest.mark.parametrize("body", [*SEED_BODIES, escaped_json({"name": "\ud800", "credential": {}})])
def test_json_requests_with_seed_bodies(signed_in: tuple[TestClient, str], body: bytes) -> None:
    client, csrf = signed_in
    headers = {"Content-Type": "application/json", "X-CSRF-Token": csrf}
    options = client.post("/console/webauthn/register/options", content=b'{"name": "key"}', headers=headers)
    assert options.status_code == 200, options.text
    answered(client.post("/console/webauthn/register/options", content=body, headers=headers))
    text = answered(client.post("/console/webauthn/register/verify", content=body, headers=headers))
    assert isinstance(json.loads(text), dict)


@FUZZ
@given(value=json_values())
def test_fuzz_json_requests(signed_in: tuple[TestClient, str], value: Any) -> None:
    client, csrf = signed_in
    headers = {"Content-Type": "application/json", "X-CSRF-Token": csrf}
    body = escaped_json(value)
    answered(client.post("/console/webauthn/register/options", content=b'{"name": "key"}', headers=headers))
    answered(client.post("/console/webauthn/register/options", content=body, headers=headers))
    text = answered(client.post("/console/webauthn/register/verify", content=body, headers=headers))
    assert isinstance(json.loads(text), dict)
