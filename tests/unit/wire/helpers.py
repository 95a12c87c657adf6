"""Build requests the way botocore sends them, and read responses the way botocore parses them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest, HeadersDict, create_request_object, prepare_request_dict
from botocore.credentials import Credentials
from botocore.model import OperationModel
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from iamd.wire import HttpRequest, HttpResponse, ServiceCatalog

FIXED_NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REGION = "us-east-1"

CATALOG = ServiceCatalog()

ENDPOINTS = {
    "iam": "https://iam.amazonaws.com",
    "sts": "https://sts.amazonaws.com",
    "organizations": "https://organizations.us-east-1.amazonaws.com",
    "cloudtrail": "https://cloudtrail.us-east-1.amazonaws.com",
    "accessanalyzer": "https://access-analyzer.us-east-1.amazonaws.com",
    "rolesanywhere": "https://rolesanywhere.us-east-1.amazonaws.com",
}


@contextmanager
def frozen_botocore_clock(when: datetime) -> Iterator[None]:
    """botocore's signers read the clock; pin it."""
    with mock.patch("botocore.auth.get_current_datetime", return_value=when.replace(tzinfo=None)):
        yield


def aws_request(service: str, operation: str, params: Mapping[str, Any]) -> AWSRequest:
    """``params`` serialized by botocore's own serializer for the service's protocol."""
    model = CATALOG.operation(service, operation)
    serializer = create_serializer(model.metadata["protocol"], include_validation=False)
    request_dict = serializer.serialize_to_request(dict(params), model)
    endpoint = (
        ENDPOINTS.get(service) or f"https://{CATALOG.service(service).endpoint_prefix}.{REGION}.amazonaws.com"
    )
    prepare_request_dict(request_dict, endpoint)
    return create_request_object(request_dict)


def sign(
    request: AWSRequest,
    *,
    service: str,
    when: datetime = FIXED_NOW,
    presign: bool = False,
    expires: int = 3600,
    access_key: str = ACCESS_KEY,
    secret_key: str = SECRET_KEY,
    token: str | None = None,
    region: str = REGION,
) -> None:
    signing_name = CATALOG.service(service).signing_name
    credentials = Credentials(access_key, secret_key, token)
    signer: SigV4Auth
    if presign:
        signer = SigV4QueryAuth(credentials, signing_name, region, expires=expires)
    else:
        signer = SigV4Auth(credentials, signing_name, region)
    with frozen_botocore_clock(when):
        signer.add_auth(request)


def to_http(request: AWSRequest) -> HttpRequest:
    """What a server would see of the request botocore sends."""
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    headers = list(prepared.headers.items())
    if "host" not in {k.lower() for k, _ in headers}:
        headers.append(("Host", parts.netloc))
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    return HttpRequest.build(prepared.method, parts.path or "/", parts.query, headers, body)


def botocore_request(
    service: str,
    operation: str,
    params: Mapping[str, Any] | None = None,
    *,
    signed: bool = True,
    **sign_options: Any,
) -> HttpRequest:
    request = aws_request(service, operation, params or {})
    if signed:
        sign(request, service=service, **sign_options)
    return to_http(request)


def parse(protocol: str, operation: OperationModel, response: HttpResponse) -> dict[str, Any]:
    """``response`` read by botocore's parser, as a client would."""
    parser = create_parser(protocol)
    headers = HeadersDict(response.headers)
    parsed: dict[str, Any] = parser.parse(
        {"status_code": response.status, "headers": headers, "body": response.body},
        operation.output_shape,
    )
    return parsed
