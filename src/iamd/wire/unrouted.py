"""The error of a request that reaches no operation iamd serves, in the protocol its client reads.

A request signed for a service iamd does not serve (:class:`~iamd.wire.models.NotServed`) is
answered in that service's protocol, so that its SDK can read the error code: JSON 1.0/1.1 for
DynamoDB or SQS (``{"__type": …}``), REST-JSON for Lambda (``x-amzn-ErrorType``), the S3 ``<Error>``
document for REST-XML, EC2's ``<Response><Errors>``, a CBOR map for Smithy RPC v2 CBOR, query XML
for the rest. The protocol is the one botocore's client picks from the service's model
(``ServiceModel.resolved_protocol``: JSON before CBOR and query) when botocore has a model by the
signing name; otherwise it follows the request's shape (``X-Amz-Target``: JSON; ``Action=``: query;
anything else: REST-JSON). A request that names its protocol (``smithy-protocol: rpc-v2-cbor``) is
answered in it.

Any other unroutable request (no ``Action``, an unknown target) is answered as ``fallback`` (IAM)
answers, unless it carries ``X-Amz-Target``: then in JSON, which is what its client parses.
"""

from __future__ import annotations

import json

from botocore.model import ServiceModel

from iamd.wire.errors import AwsError
from iamd.wire.http import HttpRequest, HttpResponse
from iamd.wire.models import NotServed, protocol_name
from iamd.wire.protocols import PROTOCOLS
from iamd.wire.query import _text

__all__ = ["encode_unrouted_error"]


def encode_unrouted_error(
    error: AwsError, request: HttpRequest, request_id: str, fallback: ServiceModel
) -> HttpResponse:
    if request.headers.get("smithy-protocol") == "rpc-v2-cbor":
        # The request says it (CloudWatch Omni signs as "cloudwatch", another model's name).
        return _cbor(error, request_id)
    model = error.model if isinstance(error, NotServed) else None
    if model is not None:
        try:
            name = str(model.resolved_protocol)  # what the service's botocore client speaks
        except Exception:  # a model none of whose protocols botocore supports
            name = protocol_name(model)
        if name in PROTOCOLS:
            return PROTOCOLS[name].encode_error(model, error, request_id)
        if name == "rest-xml":
            return _rest_xml(error, request_id)
        if name == "ec2":
            return _ec2(error, request_id)
        if name == "smithy-rpc-v2-cbor":
            return _cbor(error, request_id)
    if request.headers.get("x-amz-target") is not None:
        return _json(error, request_id)
    if model is None and isinstance(error, NotServed) and "Action" not in request.form_params:
        return _rest_json(error, request_id)
    return PROTOCOLS["query"].encode_error(fallback, error, request_id)


def _xml(status: int, body: str, request_id: str) -> HttpResponse:
    headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    return HttpResponse(status, headers, body.encode("utf-8"))


def _rest_xml(error: AwsError, request_id: str) -> HttpResponse:
    """S3's error document (botocore's RestXMLParser reads ``<Error>`` at the root)."""
    body = (
        f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{_text(error.code)}</Code>"
        f"<Message>{_text(error.message)}</Message><RequestId>{_text(request_id)}</RequestId></Error>"
    )
    return _xml(error.status, body, request_id)


def _ec2(error: AwsError, request_id: str) -> HttpResponse:
    """EC2's error document (``<Response><Errors><Error>``, then ``<RequestID>``)."""
    body = (
        f"<?xml version='1.0' encoding='UTF-8'?><Response><Errors><Error><Code>{_text(error.code)}</Code>"
        f"<Message>{_text(error.message)}</Message></Error></Errors>"
        f"<RequestID>{_text(request_id)}</RequestID></Response>"
    )
    return _xml(error.status, body, request_id)


def _json(error: AwsError, request_id: str) -> HttpResponse:
    body = json.dumps({"__type": error.wire_json_code, "message": error.message}).encode("utf-8")
    headers = [
        ("Content-Type", "application/x-amz-json-1.1"),
        ("x-amzn-RequestId", request_id),
        ("x-amzn-ErrorType", error.wire_json_code),
    ]
    return HttpResponse(error.status, headers, body)


def _cbor_text(value: str) -> bytes:
    """A CBOR text string (major type 3, RFC 8949 section 3.1)."""
    data = value.encode("utf-8")
    size = len(data)
    if size < 24:
        head = bytes([0x60 | size])
    elif size < 0x100:
        head = bytes([0x78, size])
    elif size < 0x10000:
        head = bytes([0x79]) + size.to_bytes(2, "big")
    else:
        head = bytes([0x7A]) + size.to_bytes(4, "big")
    return head + data


def _cbor(error: AwsError, request_id: str) -> HttpResponse:
    """Smithy RPC v2 CBOR: a map of ``__type`` and ``message`` (major type 5 with two pairs)."""
    body = bytes([0xA2]) + _cbor_text("__type") + _cbor_text(error.wire_json_code)
    body += _cbor_text("message") + _cbor_text(error.message)
    headers = [
        ("Content-Type", "application/cbor"),
        ("smithy-protocol", "rpc-v2-cbor"),
        ("x-amzn-RequestId", request_id),
    ]
    return HttpResponse(error.status, headers, body)


def _rest_json(error: AwsError, request_id: str) -> HttpResponse:
    body = json.dumps({"message": error.message}).encode("utf-8")
    headers = [
        ("Content-Type", "application/json"),
        ("x-amzn-RequestId", request_id),
        ("x-amzn-ErrorType", error.wire_json_code),
    ]
    return HttpResponse(error.status, headers, body)
