"""The AWS JSON protocols 1.0 and 1.1 (Organizations, CloudTrail): ``POST /`` with
``X-Amz-Target: <targetPrefix>.<Operation>`` and a JSON body, JSON back.

Members use their ``locationName`` when the model gives one; timestamps are epoch seconds unless
the shape says otherwise; blobs are base64. A body of the wrong JSON type is a
``SerializationException``; constraint violations are a ``ValidationException``. Errors are
``{"__type": "<ShapeName>", "message": "..."}`` with the same name in ``x-amzn-ErrorType``.

The value codec here (:func:`decode_value`, :func:`encode_value`) is shared with REST-JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from botocore.model import OperationModel, ServiceModel, Shape

from iamd.wire.base import Protocol, find_error_shape
from iamd.wire.errors import AwsError, SerializationError
from iamd.wire.http import HttpRequest, HttpResponse
from iamd.wire.jsontext import JsonTextError, loads, scrub
from iamd.wire.models import OperationRef
from iamd.wire.validate import check
from iamd.wire.values import decode_blob, encode_blob, format_timestamp, to_datetime

__all__ = [
    "JsonProtocol",
    "decode_value",
    "dumps",
    "encode_value",
    "error_body",
    "parse_json_body",
]


class JsonProtocol(Protocol):
    name = "json"

    def decode_request(
        self, ref: OperationRef, request: HttpRequest, *, validate: bool = True
    ) -> dict[str, Any]:
        shape = ref.operation_model.input_shape
        body = parse_json_body(request.body)
        if shape is None:
            return {}
        params = decode_value(shape, body, "")
        if validate:
            check(shape, params)
        return dict(params)

    def encode_response(
        self, operation: OperationModel, output: Mapping[str, Any] | None, request_id: str
    ) -> HttpResponse:
        shape = operation.output_shape
        body = encode_value(shape, output or {}) if shape is not None else {}
        return HttpResponse(200, _headers(operation.service_model, request_id), _dumps(body))

    def encode_error(self, service: ServiceModel, error: AwsError, request_id: str) -> HttpResponse:
        found = find_error_shape(service, error, json_names=True)
        body = {"__type": found.code, **error_body(found.shape, error)}
        headers = _headers(service, request_id)
        headers.append(("x-amzn-ErrorType", found.code))
        if service.metadata.get("awsQueryCompatible"):
            fault = "Sender" if found.sender_fault else "Receiver"
            headers.append(("x-amzn-query-error", f"{error.code};{fault}"))
        return HttpResponse(found.status, headers, _dumps(body))


def _headers(service: ServiceModel, request_id: str) -> list[tuple[str, str]]:
    version = service.metadata.get("jsonVersion", "1.0")
    return [("Content-Type", f"application/x-amz-json-{version}"), ("x-amzn-RequestId", request_id)]


def _dumps(body: Any) -> bytes:
    return dumps(body)


def dumps(body: Any) -> bytes:
    """Compact UTF-8 JSON. Text that is not valid Unicode (a lone surrogate) never makes encoding
    fail: it is written with U+FFFD in its place."""
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return scrub(text).encode("utf-8")


def parse_json_body(raw: bytes) -> Any:
    """The request body as JSON; an empty body is ``{}``. Invalid UTF-8, invalid JSON, a lone
    surrogate escape (``"\\ud800"``) or nesting deeper than :data:`~iamd.wire.jsontext.MAX_DEPTH`
    is a ``SerializationException`` (HTTP 400), as AWS's JSON services answer a body they cannot
    read (``{"__type":"SerializationException"}``, quoted from Kinesis Firehose in
    https://github.com/pplu/aws-sdk-perl/issues/237)."""
    if not raw.strip():
        return {}
    try:
        return loads(raw)
    except JsonTextError as exc:
        raise SerializationError(f"Could not parse the request body as JSON: {exc}") from None


def error_body(shape: Shape | None, error: AwsError) -> dict[str, Any]:
    """``message`` (or ``Message``, when the error shape names it so) and the error's extra
    fields that the shape declares."""
    if shape is None:
        return {"message": error.message}
    members = shape.members
    message_key = "Message" if "Message" in members and "message" not in members else "message"
    body: dict[str, Any] = {message_key: error.message}
    extra = {k: v for k, v in error.fields.items() if k in members and k.lower() != "message"}
    if extra:
        body.update(encode_value(shape, extra))
    return body


# --- the value codec -------------------------------------------------------------------------------


def decode_value(shape: Shape, value: Any, path: str) -> Any:
    """A JSON value converted by ``shape``: unknown members dropped, timestamps to ``datetime``,
    blobs to ``bytes``. Raises :class:`SerializationError` on a type mismatch."""
    kind = shape.type_name
    if kind == "structure":
        if shape.is_document_type:
            return value
        if not isinstance(value, dict):
            raise _mismatch(path, "an object", value)
        result: dict[str, Any] = {}
        for name, member in shape.members.items():
            if member.serialization.get("location"):
                continue  # REST members bound to the URI, query string or headers
            wire = member.serialization.get("name", name)
            item = value.get(wire)
            if item is not None:
                result[name] = decode_value(member, item, _join(path, name))
        return result
    if kind == "list":
        if not isinstance(value, list):
            raise _mismatch(path, "an array", value)
        return [decode_value(shape.member, v, f"{path}.{i}") for i, v in enumerate(value, 1) if v is not None]
    if kind == "map":
        if not isinstance(value, dict):
            raise _mismatch(path, "an object", value)
        return {
            k: None if v is None else decode_value(shape.value, v, f"{path}.{k}") for k, v in value.items()
        }
    return _decode_scalar(kind, value, path)


def _decode_scalar(kind: str, value: Any, path: str) -> Any:
    if kind == "string":
        if not isinstance(value, str):
            raise _mismatch(path, "a string", value)
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _mismatch(path, "a boolean", value)
        return value
    if kind in ("integer", "long"):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise _mismatch(path, "an integer", value)
        return value
    if kind in ("float", "double"):
        specials = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
        if isinstance(value, str) and value in specials:
            return specials[value]
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _mismatch(path, "a number", value)
        return float(value)
    if kind == "timestamp":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise _mismatch(path, "a timestamp", value)
        try:
            return to_datetime(value)
        except (ValueError, OverflowError, OSError):
            raise _mismatch(path, "a timestamp", value) from None
    if kind == "blob":
        if not isinstance(value, str):
            raise _mismatch(path, "a base64 string", value)
        try:
            return decode_blob(value)
        except ValueError:
            raise _mismatch(path, "a base64 string", value) from None
    return value


def encode_value(shape: Shape, value: Any) -> Any:
    """A Python value as JSON by ``shape``. A key the shape does not declare is a bug in the
    caller and raises :class:`ValueError`."""
    kind = shape.type_name
    if kind == "structure":
        if shape.is_document_type:
            return value
        unknown = set(value) - set(shape.members)
        if unknown:
            raise ValueError(f"{shape.name} has no member(s) {sorted(unknown)}")
        result: dict[str, Any] = {}
        for name, member in shape.members.items():
            item = value.get(name)
            if item is not None and not member.serialization.get("location"):
                result[member.serialization.get("name", name)] = encode_value(member, item)
        return result
    if kind == "list":
        return [encode_value(shape.member, v) for v in value]
    if kind == "map":
        return {str(k): encode_value(shape.value, v) for k, v in value.items()}
    if kind == "timestamp":
        return format_timestamp(
            value, shape.serialization.get("timestampFormat", "unixTimestamp"), fractional=True
        )
    if kind == "blob":
        return encode_blob(value)
    if kind in ("float", "double"):
        number = float(value)
        if math.isnan(number):
            return "NaN"
        if math.isinf(number):
            return "Infinity" if number > 0 else "-Infinity"
        return value
    if kind in ("integer", "long"):
        return int(value)
    if kind == "boolean":
        return bool(value)
    return str(value)


def _mismatch(path: str, expected: str, value: Any) -> SerializationError:
    where = f" at '{path}'" if path else ""
    return SerializationError(f"Expected {expected}{where}, got {type(value).__name__}")


def _join(path: str, name: str) -> str:
    lowered = name[:1].lower() + name[1:]
    return f"{path}.{lowered}" if path else lowered
