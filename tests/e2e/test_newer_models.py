"""Clients with newer service models than iamd's, and clients of services iamd does not serve.

- An operation a newer SDK knows and iamd's pinned model does not is answered UnsupportedOperation
  naming it, in the service's own protocol, and is on the trail like any other call. The envelopes
  are the Smithy AWS protocols' (https://smithy.io/2.0/aws/protocols/): awsQuery errors are
  ``<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>``
  (aws-query-protocol.html, "Operation error serialization"), awsJson1_0/1_1 errors a JSON object
  whose ``__type`` names the error (aws-json-1_1-protocol.html), restJson1 errors name it in the
  ``X-Amzn-Errortype`` header, S3's restXml errors are an ``<Error>`` document, and ec2Query errors
  ``<Response><Errors><Error>``. IAM's UnsupportedOperation is not in its model; the closest AWS
  documents are the common errors InvalidAction ("The action or operation requested is invalid")
  of the IAM API reference's CommonErrors page, which AWS answers for names it has never heard of.
- The operations botocore 1.44.18 added (the workload identity family, Enable/Disable
  OrganizationLevelResources, STS GetCertificate/GetTrustBundles/IssueWorkloadIdentityContext) are
  answered UnsupportedOperation with the reason.
- A request signed for a service iamd does not serve (DynamoDB, SQS, Lambda, S3, EC2) is answered
  in that service's protocol, so its SDK reads the error code.
"""

from __future__ import annotations

import copy
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from tests.e2e.harness import ACCOUNT_ID, CLIENT_CONFIG, REGION, Server
from tests.e2e.policy_helpers import error_of

from iamd.wire import load_service_model

FUTURE_OPERATION = "CreateWorkloadWidget"  # in no botocore model: stands for a newer SDK's operation


def signed_post(server: Server, service: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST ``body`` to iamd signed with SigV4 for ``service``: (status, body)."""
    request = AWSRequest(method="POST", url=server.endpoint + "/", data=body, headers=headers)
    credentials = Credentials(server.access_key_id, server.secret_access_key)
    SigV4Auth(credentials, service, REGION).add_auth(request)
    prepared = request.prepare()
    raw = urllib.request.Request(prepared.url, data=body, headers=dict(prepared.headers), method="POST")
    try:
        with urllib.request.urlopen(raw, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as failed:
        return failed.code, failed.read()


@pytest.fixture(scope="module")
def newer_iam(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """An IAM client whose model has one more operation than iamd's, as a newer botocore would:
    the pinned model plus ``CreateWorkloadWidget``, loaded from a data path (AWS_DATA_PATH's
    mechanism)."""
    data = copy.deepcopy(load_service_model("iam")._service_description)
    data["operations"][FUTURE_OPERATION] = {
        "name": FUTURE_OPERATION,
        "http": {"method": "POST", "requestUri": "/"},
        "input": {"shape": "CreateWorkloadWidgetRequest"},
        "output": {"shape": "CreateWorkloadWidgetResponse", "resultWrapper": "CreateWorkloadWidgetResult"},
    }
    data["shapes"]["CreateWorkloadWidgetRequest"] = {
        "type": "structure",
        "required": ["WidgetName"],
        "members": {"WidgetName": {"shape": "userNameType"}},
    }
    data["shapes"]["CreateWorkloadWidgetResponse"] = {"type": "structure", "members": {}}
    root: Path = tmp_path_factory.mktemp("models")
    folder = root / "iam" / str(data["metadata"]["apiVersion"])
    folder.mkdir(parents=True)
    (folder / "service-2.json").write_text(json.dumps(data))
    session = botocore.session.Session()
    session.set_config_variable("data_path", str(root))
    return boto3.Session(botocore_session=session).client(
        "iam",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=server.access_key_id,
        aws_secret_access_key=server.secret_access_key,
        config=CLIENT_CONFIG,
    )


def trail_records(server: Server, name: str) -> list[dict[str, Any]]:
    """The trail's records of event ``name`` (waiting briefly for the writer)."""
    trail = server.client("cloudtrail")
    for _ in range(50):
        events = trail.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}])
        if events["Events"]:
            return [json.loads(e["CloudTrailEvent"]) for e in events["Events"]]
        time.sleep(0.1)
    return []


# -- an operation of a newer model ------------------------------------------------------------------


def test_newer_sdk_operation_is_unsupported_naming_it(newer_iam: Any) -> None:
    assert FUTURE_OPERATION not in load_service_model("iam").operation_names
    with pytest.raises(ClientError) as refused:
        newer_iam.create_workload_widget(WidgetName="w1")
    status, code, message = error_of(refused)
    assert (status, code) == (400, "UnsupportedOperation")
    assert message.startswith(f"{FUTURE_OPERATION} is not supported by iamd")
    assert "not an operation of IAM" in message
    # The rest of the newer client still works.
    assert newer_iam.get_user()["User"]["UserName"] == "iamd-admin"


def test_newer_operation_answers_in_the_query_envelope(server: Server) -> None:
    status, body = signed_post(
        server,
        "iam",
        f"Action={FUTURE_OPERATION}&Version=2010-05-08&WidgetName=w2".encode(),
        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    text = body.decode()
    assert status == 400
    assert text.startswith('<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">')
    assert "<Type>Sender</Type><Code>UnsupportedOperation</Code>" in text
    assert f"<Message>{FUTURE_OPERATION} is not supported by iamd" in text


def test_newer_operation_is_on_the_trail(server: Server, newer_iam: Any) -> None:
    with pytest.raises(ClientError):
        newer_iam.create_workload_widget(WidgetName="w3")
    records = trail_records(server, FUTURE_OPERATION)
    assert records, "the call is not on the trail"
    record = records[0]
    assert record["eventSource"] == "iam.amazonaws.com"
    assert record["eventName"] == FUTURE_OPERATION
    assert record["errorCode"] == "UnsupportedOperationException"
    assert record["errorMessage"].startswith(f"{FUTURE_OPERATION} is not supported by iamd")
    assert record["userIdentity"]["arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/iamd-admin"
    assert record["readOnly"] is False


def test_newer_operation_of_a_json_service_answers_in_json(server: Server) -> None:
    status, body = signed_post(
        server,
        "cloudtrail",
        b"{}",
        {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.ListWidgets",
        },
    )
    answer = json.loads(body)
    assert status == 400
    assert answer["__type"] == "UnsupportedOperationException"
    assert answer["message"].startswith("ListWidgets is not supported by iamd")


def test_a_name_that_is_no_operation_is_still_invalid_action(server: Server) -> None:
    status, body = signed_post(
        server,
        "iam",
        b"Action=list-users&Version=2010-05-08",
        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    assert status == 400
    assert "<Code>InvalidAction</Code>" in body.decode()


# -- the operations botocore 1.44.18 added ----------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "method", "kwargs", "reason"),
    [
        ("iam", "list_workload_identity_providers", {}, "workload identity providers"),
        (
            "iam",
            "create_workload_identity_provider",
            {"ProviderName": "p1", "ResourceScope": "ACCOUNT", "Scheme": "SPIFFE"},
            "workload identity providers",
        ),
        ("iam", "enable_organization_level_resources", {}, "organization-level resources"),
        ("iam", "disable_organization_level_resources", {}, "organization-level resources"),
        (
            "sts",
            "get_trust_bundles",
            {"ProviderArn": f"arn:aws:iam::{ACCOUNT_ID}:workload-identity-provider/p1"},
            "trust bundles",
        ),
        ("sts", "get_certificate", {"CertificateSigningRequest": "x" * 64}, "workload identit"),
    ],
)
def test_the_new_workload_identity_operations_say_why(
    server: Server, service: str, method: str, kwargs: dict[str, Any], reason: str
) -> None:
    client = server.client(service)
    with pytest.raises(ClientError) as refused:
        getattr(client, method)(**kwargs)
    status, code, message = error_of(refused)
    assert (status, code) == (400, "UnsupportedOperation")
    assert "not supported by iamd" in message and reason in message


# -- services iamd does not serve -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "call", "code"),
    [
        ("dynamodb", lambda c: c.list_tables(), "UnsupportedOperationException"),  # JSON 1.0
        ("sqs", lambda c: c.list_queues(), "UnsupportedOperation"),  # JSON, query-compatible
        ("lambda", lambda c: c.list_functions(), "UnsupportedOperationException"),  # REST-JSON
        ("s3", lambda c: c.list_buckets(), "UnsupportedOperation"),  # REST-XML
        ("ec2", lambda c: c.describe_regions(), "UnsupportedOperation"),  # EC2 query
        ("sns", lambda c: c.list_topics(), "UnsupportedOperation"),  # query
        (
            "cloudwatch",
            lambda c: c.list_dashboards(),
            "UnsupportedOperationException",
        ),  # JSON, as "monitoring"
        ("cloudwatchomni", lambda c: c.list_access_grants(), "UnsupportedOperationException"),  # RPC v2 CBOR
    ],
)
def test_a_service_iamd_does_not_serve_gets_an_error_its_sdk_reads(
    server: Server, service: str, call: Any, code: str
) -> None:
    with pytest.raises(ClientError) as refused:
        call(server.client(service))
    status, got, message = error_of(refused)
    assert (status, got) == (400, code)
    assert "iamd does not serve" in message
