"""Fuzzing the console's Access Analyzer pages and policy editor (issue 13, as issue 10 does the
other console forms): hostile query strings, form fields and JSON bodies. No answer is a 5xx;
every page is valid UTF-8; the validation endpoint always answers a JSON object."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient
from tests.unit.console.test_fuzz_console_forms import FORM, PASSWORD, answered, csrf_of, form_body, pct
from tests.unit.fuzzing import FUZZ, SEED_BODIES, SEED_TEXTS, escaped_json, json_values, nasty_text

from iamd.server.app import create_app

ANALYST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": {"Effect": "Allow", "Action": ["iam:*", "access-analyzer:*"], "Resource": "*"},
    }
)
FORMS = [
    "/access-analyzer/analyzers",
    "/access-analyzer/finding/status",
    "/access-analyzer/finding/recommendation",
    "/policy-editor",
]
FIELDS = [
    "type",
    "days",
    "analyzer",
    "id",
    "status",
    "confirmed",
    "back",
    "document",
    "kind",
    "resource_type",
]
PAGES = ["/access-analyzer", "/access-analyzer/finding", "/policy-editor"]
PARAMS = ["analyzer", "status", "next", "id", "msg"]


@pytest.fixture(scope="module")
def analyst(live: Any) -> Iterator[tuple[TestClient, str]]:
    """A user allowed Access Analyzer, signed in to the console, with an analyzer, and its CSRF token."""
    for action in (
        "Action=CreateUser&UserName=analyzer-fuzz",
        f"Action=CreateLoginProfile&UserName=analyzer-fuzz&Password={pct(PASSWORD)}",
        f"Action=PutUserPolicy&UserName=analyzer-fuzz&PolicyName=own&PolicyDocument={pct(ANALYST)}",
    ):
        body = f"{action}&Version=2010-05-08".encode()
        headers = [("Content-Type", "application/x-www-form-urlencoded")]
        assert live.send(live.request("iam", "POST", "/", body, headers)).status == 200, action
    with TestClient(create_app(live.pipeline), base_url="http://127.0.0.1:8080") as client:
        csrf = csrf_of(client.get("/console/signin").text)
        fields = {"account": "111111111111", "username": "analyzer-fuzz", "password": PASSWORD}
        page = client.post("/console/signin", content=form_body(fields, csrf), headers=FORM)
        assert page.status_code == 200 and "/console/home" in str(page.url), page.text[:500]
        token = csrf_of(page.text)
        created = client.post(
            "/console/access-analyzer/analyzers", content=form_body({"type": "ACCOUNT"}, token), headers=FORM
        )
        assert created.status_code == 200 and "The analyzer was created." in created.text, created.text[:500]
        yield client, token


@pytest.mark.parametrize("text", SEED_TEXTS)
def test_pages_and_forms_with_seed_values(analyst: tuple[TestClient, str], text: str) -> None:
    client, csrf = analyst
    for page in PAGES:
        answered(client.get(f"/console{page}?" + "&".join(f"{p}={pct(text)}" for p in PARAMS)))
    for path in FORMS:
        answered(
            client.post(f"/console{path}", content=form_body(dict.fromkeys(FIELDS, text), csrf), headers=FORM)
        )


@FUZZ
@given(
    path=st.sampled_from(FORMS),
    fields=st.dictionaries(st.sampled_from(FIELDS), st.sampled_from(SEED_TEXTS) | nasty_text, max_size=5),
)
def test_fuzz_forms(analyst: tuple[TestClient, str], path: str, fields: dict[str, str]) -> None:
    client, csrf = analyst
    answered(client.post(f"/console{path}", content=form_body(fields, csrf), headers=FORM))


@FUZZ
@given(page=st.sampled_from(PAGES), values=st.dictionaries(st.sampled_from(PARAMS), nasty_text, max_size=4))
def test_fuzz_query_strings(analyst: tuple[TestClient, str], page: str, values: dict[str, str]) -> None:
    client, _ = analyst
    answered(client.get(f"/console{page}?" + "&".join(f"{k}={pct(v)}" for k, v in values.items())))


def validate(client: TestClient, csrf: str, body: bytes) -> Any:
    headers = {"Content-Type": "application/json", "X-CSRF-Token": csrf}
    text = answered(client.post("/console/policy-editor/validate", content=body, headers=headers))
    answer = json.loads(text)
    assert isinstance(answer, dict)
    return answer


@pytest.mark.parametrize("body", SEED_BODIES)
def test_validation_endpoint_with_seed_bodies(analyst: tuple[TestClient, str], body: bytes) -> None:
    validate(*analyst, body)


@FUZZ
@given(value=json_values(), kind=st.sampled_from(["identity", "resource", "trust", "scp", "rcp", "x"]))
def test_fuzz_validation_endpoint(analyst: tuple[TestClient, str], value: Any, kind: str) -> None:
    client, csrf = analyst
    validate(client, csrf, escaped_json(value))
    document = value if isinstance(value, str) else json.dumps(value, default=str)
    validate(
        client, csrf, escaped_json({"document": document, "kind": kind, "resourceType": "AWS::S3::Bucket"})
    )
