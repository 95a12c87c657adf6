"""Writes that write nothing for a request run as reads (``Registration.reads_without``): STS's
AssumeRole and GetSessionToken without an MFA code (a code's TOTP step is recorded, so that the
code cannot be replayed) run in a read-only transaction, on the server's event loop, and their
trail event goes through the trail writer as a read's does: the same event, the same answer."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select
from tests.unit.conftest import LOOPBACK

from iamd.server.pipeline import Routed
from iamd.services.framework import handler_for
from iamd.store.audit import TrailEventRow, TrailResourceRow
from iamd.wire import HttpRequest

FORM = [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")]
ACCOUNT = "111111111111"
ROLE = "as-read"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def _form(**params: str) -> bytes:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params.items()).encode()


def _assume(live: Any, *, query: str = "", **extra: str) -> HttpRequest:
    body = _form(
        Action="AssumeRole",
        Version="2011-06-15",
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{ROLE}",
        RoleSessionName="reader",
        **extra,
    )
    return live.request("sts", "POST", "/", body, FORM, query=query)


@pytest.fixture(scope="module")
def role(live: Any) -> str:
    body = _form(Action="CreateRole", Version="2010-05-08", RoleName=ROLE, AssumeRolePolicyDocument=TRUST)
    answer = live.send(live.request("iam", "POST", "/", body, FORM))
    assert answer.status == 200, answer.body
    return ROLE


def test_the_operations_that_may_run_as_reads() -> None:
    for name in ("AssumeRole", "GetSessionToken"):
        registration = handler_for("sts", name)
        assert registration is not None and not registration.readonly
        assert registration.reads_without == "TokenCode"


def test_without_an_mfa_code_they_route_as_reads(live: Any, role: str) -> None:
    pipeline = live.pipeline
    assert pipeline.route(_assume(live)).readonly
    # A serial number alone writes nothing (the request is refused before any device is read).
    assert pipeline.route(_assume(live, SerialNumber="arn:aws:iam::111111111111:mfa/x")).readonly
    session = live.request("sts", "POST", "/", b"Action=GetSessionToken&Version=2011-06-15", FORM)
    assert pipeline.route(session).readonly


def test_with_an_mfa_code_they_stay_writes(live: Any, role: str) -> None:
    pipeline = live.pipeline
    assert not pipeline.route(
        _assume(live, SerialNumber="arn:aws:iam::111111111111:mfa/x", TokenCode="123456")
    ).readonly
    assert not pipeline.route(_assume(live, TokenCode="123456")).readonly
    # The code in the query string, or its name percent-encoded: the decoder reads it all the same.
    assert not pipeline.route(_assume(live, query="TokenCode=123456")).readonly
    encoded = _assume(live).body + b"&Token%43ode=123456"
    assert not pipeline.route(live.request("sts", "POST", "/", encoded, FORM)).readonly
    session = live.request("sts", "POST", "/", b"Action=GetSessionToken&Version=2011-06-15&TokenCode=1", FORM)
    assert not pipeline.route(session).readonly


_COLUMNS = (
    "account_id",
    "event_name",
    "event_source",
    "username",
    "access_key_id",
    "entity_id",
    "entity_arn",
    "service",
    "region",
    "read_only",
    "error_code",
    "counts_as_access",
)


def _stored(live: Any, since_id: int, name: str) -> list[dict[str, Any]]:
    """The events named ``name`` stored after row ``since_id``: their indexed columns, record and
    resources."""
    assert live.writer.flush()
    with live.store.transaction(readonly=True) as uow:
        rows = uow.session.scalars(
            select(TrailEventRow)
            .where(TrailEventRow.id > since_id, TrailEventRow.event_name == name)
            .order_by(TrailEventRow.id)
        ).all()
        events = []
        for row in rows:
            resources = uow.session.execute(
                select(TrailResourceRow.resource_type, TrailResourceRow.resource_name)
                .where(TrailResourceRow.event_id == row.event_id)
                .order_by(TrailResourceRow.id)
            ).all()
            event = {column: getattr(row, column) for column in _COLUMNS}
            event["record"] = json.loads(row.record)
            event["resources"] = [tuple(r) for r in resources]
            events.append(event)
        return events


def _last_id(live: Any) -> int:
    assert live.writer.flush()
    with live.store.transaction(readonly=True) as uow:
        return uow.audit.last_row_id()


def _generation(live: Any) -> int:
    with live.store.transaction(readonly=True) as uow:
        return uow.accounts.generations([ACCOUNT])[ACCOUNT]


def _masked(event: dict[str, Any]) -> dict[str, Any]:
    """An event with what differs from one call to the next masked: its ids and time, and the
    new session's key, token, expiry and id."""
    record = event["record"]
    for key in ("eventID", "requestID", "eventTime"):
        record[key] = "*"
    response = record.get("responseElements") or {}
    if "sessionTokenSize" in response:  # the sealed token's size varies with its random parts
        response["sessionTokenSize"] = "*"
    credentials = response.get("credentials") or {}
    for key in ("accessKeyId", "sessionToken", "expiration"):
        if key in credentials:
            credentials[key] = "*"
    assumed = response.get("assumedRoleUser") or {}
    if "assumedRoleId" in assumed:
        assumed["assumedRoleId"] = assumed["assumedRoleId"].split(":")[-1]
    event["resources"] = [
        (kind, "*" if kind == "AWS::IAM::AccessKey" else name) for kind, name in event["resources"]
    ]
    return event


def test_the_trail_event_and_the_answer_are_those_of_the_write(live: Any, role: str) -> None:
    pipeline = live.pipeline
    request = _assume(live)
    as_read: Routed = pipeline.route(request)
    assert as_read.readonly
    as_write = replace(as_read, readonly=False)
    generation = _generation(live)
    outcomes = []
    for routed in (as_write, as_read):
        since = _last_id(live)
        answer = pipeline.handle(request, LOOPBACK, routed)
        assert answer.status == 200, answer.body
        (event,) = _stored(live, since, "AssumeRole")
        outcomes.append((answer, _masked(event)))
    (_, write_event), (read_answer, read_event) = outcomes
    assert read_event == write_event
    assert b"<AccessKeyId>ASIA" in read_answer.body and b"<Arn>" in read_answer.body
    # Neither bumped the account's generation (no cache is invalidated by a session).
    assert _generation(live) == generation


def test_a_denied_assume_role_as_a_read_is_on_the_trail(live: Any, role: str) -> None:
    body = _form(
        Action="AssumeRole",
        Version="2011-06-15",
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/no-such-role",
        RoleSessionName="reader",
    )
    request = live.request("sts", "POST", "/", body, FORM)
    assert live.pipeline.route(request).readonly
    since = _last_id(live)
    answer = live.send(request)
    assert answer.status == 403
    (event,) = _stored(live, since, "AssumeRole")
    assert event["error_code"] == "AccessDenied" and event["record"]["errorCode"] == "AccessDenied"


def test_get_session_token_as_a_read(live: Any) -> None:
    request = live.request("sts", "POST", "/", b"Action=GetSessionToken&Version=2011-06-15", FORM)
    assert live.pipeline.route(request).readonly
    since = _last_id(live)
    answer = live.send(request)
    assert answer.status == 200 and b"<AccessKeyId>ASIA" in answer.body
    (event,) = _stored(live, since, "GetSessionToken")
    assert event["error_code"] is None and event["read_only"] and event["record"]["responseElements"]
