"""Fuzzing the whole request pipeline in-process (issue 10): signed requests of an authenticated
caller, with hostile bodies, parameters and headers, to an operation of each protocol. Every
answer is valid UTF-8 in the protocol's envelope and none is a 5xx; every request is on the
trail afterwards (one event the database could not take would have taken its batch with it)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.unit.fuzzing import (
    FUZZ,
    SEED_BODIES,
    SEED_TEXTS,
    deep_object,
    escaped_json,
    json_values,
    latin1_text,
    nasty_text,
)

from iamd.wire import HttpResponse

JSON_TARGETS = [
    ("cloudtrail", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"),
    ("organizations", "AWSOrganizationsV20161128.DescribeOrganization"),
    ("organizations", "AWSOrganizationsV20161128.CreateAccount"),
]
REST_TARGETS = [("POST", "/trustanchors"), ("POST", "/profiles"), ("GET", "/trustanchors")]
QUERY_ACTIONS = [
    ("iam", "PutUserPolicy", "UserName=fuzz&PolicyName=p&PolicyDocument="),
    ("iam", "CreateUser", "UserName="),
    ("iam", "TagUser", "UserName=fuzz&Tags.member.1.Key=k&Tags.member.1.Value="),
    ("sts", "AssumeRole", "RoleArn=arn:aws:iam::111111111111:role/r&RoleSessionName=s&Policy="),
]


def pct(text: str) -> str:
    """Percent-encoded UTF-8 (a lone surrogate as the CESU-8 bytes a careless client sends)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def in_envelope(protocol: str, response: HttpResponse) -> None:
    assert response.status < 500, (response.status, response.body[:300])
    text = response.body.decode("utf-8")
    if protocol == "query":
        root = ET.fromstring(text)
        if response.status >= 400:
            assert root.tag.endswith("ErrorResponse"), text[:300]
            code = root.find("{*}Error/{*}Code")
            assert code is not None and code.text, text[:300]
        return
    body = json.loads(text)
    assert isinstance(body, dict)
    if response.status >= 400:
        code = response.header("x-amzn-ErrorType") or body.get("__type")
        assert code, (response.headers, text[:300])
        assert isinstance(body.get("message", body.get("Message")), str), text[:300]


@pytest.fixture(scope="module")
def sent(live: Any) -> dict[str, int]:
    """How many requests this module sent (every one must be on the trail)."""
    return {"requests": 0, "before": trail_size(live)}


def trail_size(live: Any) -> int:
    assert live.writer.flush(timeout=30)
    return len(live.store.run(lambda uow: uow.audit.events(limit=1_000_000), readonly=True))


def send_json(live: Any, sent: dict[str, int], index: int, body: bytes) -> None:
    service, target = JSON_TARGETS[index]
    headers = [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", target)]
    sent["requests"] += 1
    in_envelope("json", live.send(live.request(service, "POST", "/", body, headers)))


def send_rest(live: Any, sent: dict[str, int], index: int, body: bytes, query: str = "") -> None:
    method, path = REST_TARGETS[index]
    headers = [("Content-Type", "application/json")]
    sent["requests"] += 1
    request = live.request("rolesanywhere", method, path, body if method != "GET" else b"", headers, query)
    in_envelope("rest-json", live.send(request))


def send_query(live: Any, sent: dict[str, int], index: int, value: str, header: str = "") -> None:
    service, action, prefix = QUERY_ACTIONS[index]
    version = "2010-05-08" if service == "iam" else "2011-06-15"
    body = f"Action={action}&Version={version}&{prefix}{pct(value)}".encode("ascii")
    headers = [("Content-Type", "application/x-www-form-urlencoded"), ("User-Agent", header or "fuzz")]
    sent["requests"] += 1
    in_envelope("query", live.send(live.request(service, "POST", "/", body, headers)))


def test_setup_a_user_to_aim_at(live: Any) -> None:
    body = b"Action=CreateUser&Version=2010-05-08&UserName=fuzz"
    headers = [("Content-Type", "application/x-www-form-urlencoded")]
    assert live.send(live.request("iam", "POST", "/", body, headers)).status == 200


@pytest.mark.parametrize("body", SEED_BODIES)
def test_seed_bodies_to_json_and_rest_json(live: Any, sent: dict[str, int], body: bytes) -> None:
    for index in range(len(JSON_TARGETS)):
        send_json(live, sent, index, body)
    for index in range(len(REST_TARGETS)):
        send_rest(live, sent, index, body)


@pytest.mark.parametrize("text", [*SEED_TEXTS, '{"\\ud800": 1}', deep_object(200).decode()])
def test_seed_texts_to_query(live: Any, sent: dict[str, int], text: str) -> None:
    for index in range(len(QUERY_ACTIONS)):
        send_query(live, sent, index, text)


@FUZZ
@given(index=st.integers(0, len(JSON_TARGETS) - 1), value=json_values())
def test_fuzz_json(live: Any, sent: dict[str, int], index: int, value: Any) -> None:
    send_json(live, sent, index, escaped_json(value))


@FUZZ
@given(index=st.integers(0, len(REST_TARGETS) - 1), value=json_values(), query=nasty_text)
def test_fuzz_rest_json(live: Any, sent: dict[str, int], index: int, value: Any, query: str) -> None:
    send_rest(live, sent, index, escaped_json(value), f"maxResults={pct(query)}&nextToken={pct(query)}")


@FUZZ
@given(index=st.integers(0, len(QUERY_ACTIONS) - 1), value=nasty_text, agent=latin1_text)
def test_fuzz_query(live: Any, sent: dict[str, int], index: int, value: str, agent: str) -> None:
    send_query(live, sent, index, value, agent)


@FUZZ
@given(value=json_values(), key=nasty_text)
def test_fuzz_policy_documents(live: Any, sent: dict[str, int], value: Any, key: str) -> None:
    """Policy documents whose keys and values are anything, as JSON text: MalformedPolicyDocument
    (or stored, when it happens to be a policy), never a 500."""
    document = json.dumps({"Version": "2012-10-17", "Statement": [{key: value, "Effect": "Allow"}]})
    send_query(live, sent, 0, document)


def test_every_request_is_on_the_trail(live: Any, sent: dict[str, int]) -> None:
    assert sent["requests"] > 100
    assert trail_size(live) - sent["before"] >= sent["requests"]
    assert live.writer.health() == {"status": "ok"}
    assert not (live.data_dir / "trail-spool.jsonl").exists()
