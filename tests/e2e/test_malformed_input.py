"""Malformed input end to end (issue 10): a real ``iamd serve`` answers every malformed request of
an authenticated caller with the protocol's 400 in the protocol's envelope, never a 500, and
records it: lone UTF-16 surrogates (in a policy document's key, in JSON bodies) and JSON nested a
thousand levels deep (CloudTrail, Organizations, Roles Anywhere). The trail keeps every event, the
other callers' among them, and verifies.

boto3 sends what it can (a policy document, a NextToken holding ``\\ud800``); what it cannot (a
body nested a thousand levels deep) goes as a raw request signed with botocore's SigV4 signer."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from tests.e2e.harness import REGION, Server, new_user_client, start_server, stop_server
from tests.e2e.policy_helpers import error_of

DEEP_ARRAY = b"[" * 1000 + b"]" * 1000
DEEP_OBJECT = b'{"a":' * 1000 + b"1" + b"}" * 1000
JSON_11 = "application/x-amz-json-1.1"


def send(
    server: Server, service: str, body: bytes, headers: dict[str, str], path: str = "/", method: str = "POST"
) -> tuple[int, dict[str, str], bytes]:
    """A request signed by the bootstrap administrator: (status, headers, body)."""
    url = server.endpoint + path
    request = AWSRequest(method, url, data=body, headers=headers)
    credentials = Credentials(server.access_key_id, server.secret_access_key)
    SigV4Auth(credentials, service, REGION).add_auth(request)
    raw = urllib.request.Request(url, data=body or None, headers=dict(request.headers.items()), method=method)
    try:
        with urllib.request.urlopen(raw, timeout=30) as answer:
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def json_error(status: int, headers: dict[str, str], body: bytes) -> tuple[int, str, str]:
    """(status, error code, message) of a JSON or REST-JSON error envelope."""
    parsed = json.loads(body.decode("utf-8"))
    code = headers.get("x-amzn-errortype") or parsed.get("__type", "")
    return status, code.split(":")[0], parsed.get("message", parsed.get("Message"))


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT, b'{"\\ud800": 1}', b'{"MaxResults": "\\udc00"}'])
def test_cloudtrail_answers_malformed_json_with_serialization_exception(server: Server, body: bytes) -> None:
    """AWS's JSON services answer a body they cannot read with 400 ``SerializationException``
    (``{"__type":"SerializationException"}``, quoted from AWS in
    https://github.com/pplu/aws-sdk-perl/issues/237)."""
    target = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
    status, headers, answer = send(
        server, "cloudtrail", body, {"Content-Type": JSON_11, "X-Amz-Target": target}
    )
    assert headers["content-type"] == JSON_11
    code_status, code, message = json_error(status, headers, answer)
    assert (code_status, code) == (400, "SerializationException")
    assert "nested deeper than 100 levels" in message or "lone surrogate U+D" in message


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT])
def test_organizations_answers_deep_json_with_serialization_exception(server: Server, body: bytes) -> None:
    target = "AWSOrganizationsV20161128.DescribeOrganization"
    status, headers, answer = send(
        server, "organizations", body, {"Content-Type": JSON_11, "X-Amz-Target": target}
    )
    assert json_error(status, headers, answer)[:2] == (400, "SerializationException")


@pytest.mark.parametrize(
    "body",
    [
        DEEP_ARRAY,
        DEEP_OBJECT,
        b'{"name": "\\ud800", "source": {"sourceType": "CERTIFICATE_BUNDLE"}}',
        b'{"\\udc00": {}}',
    ],
)
def test_roles_anywhere_answers_malformed_json_in_its_envelope(server: Server, body: bytes) -> None:
    status, headers, answer = send(
        server, "rolesanywhere", body, {"Content-Type": "application/json"}, path="/trustanchors"
    )
    assert headers["content-type"] == "application/json"
    assert json_error(status, headers, answer)[:2] == (400, "SerializationException")


def test_a_lone_surrogate_in_a_json_value_sent_by_boto3(server: Server) -> None:
    trail = server.client("cloudtrail")
    with pytest.raises(ClientError) as failed:
        trail.lookup_events(NextToken="\ud800")
    status, code, message = error_of(failed)
    assert (status, code) == (400, "SerializationException")
    assert "lone surrogate U+D800" in message


def test_a_policy_key_that_is_a_lone_surrogate_is_malformed_and_the_trail_keeps_everything(
    server: Server, iam: Any, tmp_path: Any
) -> None:
    """The issue's case: PutUserPolicy with the key ``"\\ud800"`` answered a plain-text 500 and
    its event took the trail writer's batch — other callers' denied requests among them — into a
    spool that never loaded, while ``iamd trail verify`` said OK. AWS answers 400
    MalformedPolicyDocument and records it; so does iamd, and nothing else is lost."""
    name = f"surrogate-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    nobody = new_user_client(server, iam, f"nobody-{uuid.uuid4().hex[:8]}")
    document = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","\\ud800":1}]}'
    )
    for _ in range(3):
        with pytest.raises(ClientError) as denied:
            nobody.list_users()  # another caller's denied requests, in the same batches
        assert error_of(denied)[:2] == (403, "AccessDenied")
        with pytest.raises(ClientError) as failed:
            iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=document)
        status, code, message = error_of(failed)
        assert (status, code) == (400, "MalformedPolicyDocument")
        assert message == "Syntax errors in policy."  # AWS's sentence (policy/acceptance.py)
    trail = server.client("cloudtrail")

    def recorded(event_name: str) -> list[dict[str, Any]]:
        attribute = [{"AttributeKey": "EventName", "AttributeValue": event_name}]
        events = trail.lookup_events(LookupAttributes=attribute, MaxResults=50)["Events"]
        return [json.loads(e["CloudTrailEvent"]) for e in events]

    deadline = time.monotonic() + 30
    while True:
        put = [r for r in recorded("PutUserPolicy") if (r["requestParameters"] or {}).get("userName") == name]
        denied_events = [r for r in recorded("ListUsers") if r.get("errorCode") == "AccessDenied"]
        if (len(put) >= 3 and len(denied_events) >= 3) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(put) == 3 and len(denied_events) >= 3
    assert {r["errorCode"] for r in put} == {"MalformedPolicyDocumentException"}
    assert not (server.data_dir / "trail-spool.jsonl").exists()
    with urllib.request.urlopen(f"{server.endpoint}/iamd/health", timeout=5) as answer:
        assert json.loads(answer.read()) == {"status": "ok", "trail": {"status": "ok"}}
    verified = subprocess.run(
        [sys.executable, "-m", "iamd.cli.main", "trail", "verify", "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "MISSING" not in verified.stdout and "TAMPERED" not in verified.stdout
    assert "Traceback" not in server.log.read_text()


def test_a_spool_that_cannot_be_read_is_an_alarm(tmp_path: Any) -> None:
    """A spool the server cannot read at start (here a directory where the file should be) is
    an ERROR in the log and a degraded health, and ``iamd trail verify`` does not say OK."""
    data = tmp_path / "data"
    (data / "trail-spool.jsonl").mkdir(parents=True)
    alarmed = start_server(data)
    try:
        with urllib.request.urlopen(f"{alarmed.endpoint}/iamd/health", timeout=5) as answer:
            assert answer.status == 200
            health = json.loads(answer.read())
    finally:
        stop_server(alarmed)
    assert health["status"] == "degraded"
    assert health["trail"]["status"] == "alarm"
    assert any("trail-spool.jsonl cannot be read" in p for p in health["trail"]["problems"])
    assert "ERROR iamd.trail: trail: ALARM: the spool" in alarmed.log.read_text()
    verified = subprocess.run(
        [sys.executable, "-m", "iamd.cli.main", "trail", "verify", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verified.returncode == 3, verified.stdout + verified.stderr
    assert "MISSING: the spool" in verified.stdout and "cannot be read" in verified.stdout
