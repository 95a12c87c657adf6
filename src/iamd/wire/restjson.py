"""The REST-JSON protocol (Access Analyzer, Roles Anywhere): the operation is the method and URI
template (routed by :meth:`ServiceCatalog.resolve <iamd.wire.models.ServiceCatalog.resolve>`), and
input members live where the model binds them:

- ``location: uri`` — a label of the request path (``/analyzer/{analyzerName}``);
- ``location: querystring`` — a query parameter (a list repeats it; a map takes every parameter
  no other member binds);
- ``location: header`` / ``headers`` — a header, or every header with a prefix;
- no location — a member of the JSON body, or the whole body when it is the ``payload``.

Outputs mirror that (headers, ``statusCode``, body), with the status from the operation's
``http.responseCode``. Errors are ``{"message": "..."}`` with the error's name in
``x-amzn-ErrorType`` and the status the model declares.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.model import OperationModel, ServiceModel, Shape

from iamd.wire.base import Protocol, find_error_shape
from iamd.wire.errors import AwsError, ValidationError, Violation
from iamd.wire.http import HttpRequest, HttpResponse
from iamd.wire.json import decode_value, dumps, encode_value, error_body, parse_json_body
from iamd.wire.jsontext import JsonTextError, loads
from iamd.wire.models import OperationRef
from iamd.wire.validate import check
from iamd.wire.values import TYPE_DESCRIPTIONS, decode_blob, encode_blob, format_timestamp, parse_scalar

__all__ = ["RestJsonProtocol"]

CONTENT_TYPE = "application/json"
# Signature V4 query parameters of a presigned request: never operation input.
_PRESIGN_PARAMS = frozenset(
    f"X-Amz-{name}"
    for name in ("Algorithm", "Credential", "Date", "Expires", "SignedHeaders", "Signature", "Security-Token")
)


class RestJsonProtocol(Protocol):
    name = "rest-json"

    def decode_request(
        self, ref: OperationRef, request: HttpRequest, *, validate: bool = True
    ) -> dict[str, Any]:
        shape = ref.operation_model.input_shape
        if shape is None:
            return {}
        params: dict[str, Any] = {}
        bound_query = {
            m.serialization.get("name", n)
            for n, m in shape.members.items()
            if m.serialization.get("location") == "querystring" and m.type_name != "map"
        }
        for name, member in shape.members.items():
            value = _decode_located(name, member, ref, request, bound_query)
            if value is not None:
                params[name] = value
        params.update(_decode_body(shape, request.body))
        if validate:
            check(shape, params)
        return params

    def encode_response(
        self, operation: OperationModel, output: Mapping[str, Any] | None, request_id: str
    ) -> HttpResponse:
        status = int(operation.http.get("responseCode", 200))
        headers = [("x-amzn-RequestId", request_id)]
        shape = operation.output_shape
        if shape is None:
            return HttpResponse(status, [("Content-Type", CONTENT_TYPE), *headers], b"{}")
        output = output or {}
        for name, member in shape.members.items():
            value = output.get(name)
            if value is None:
                continue
            location = member.serialization.get("location")
            if location == "statusCode":
                status = int(value)
            elif location == "header":
                headers.append((member.serialization.get("name", name), _header_text(member, value)))
            elif location == "headers":
                prefix = member.serialization.get("name", "")
                headers.extend((f"{prefix}{k}", str(v)) for k, v in value.items())
        payload = shape.serialization.get("payload")
        if payload is None:
            body, content_type = _dumps(encode_value(shape, output)), CONTENT_TYPE
        else:
            body, content_type = _encode_payload(shape.members[payload], output.get(payload))
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers.insert(0, ("Content-Type", content_type))
        return HttpResponse(status, headers, body)

    def encode_error(self, service: ServiceModel, error: AwsError, request_id: str) -> HttpResponse:
        found = find_error_shape(service, error, json_names=True)
        headers = [
            ("Content-Type", CONTENT_TYPE),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", found.code),
        ]
        if found.shape is not None:
            for name, member in found.shape.members.items():
                value = error.fields.get(name)
                if value is not None and member.serialization.get("location") == "header":
                    headers.append((member.serialization.get("name", name), _header_text(member, value)))
        return HttpResponse(found.status, headers, _dumps(error_body(found.shape, error)))


# --- decoding ------------------------------------------------------------------------------------


def _decode_located(
    name: str, member: Shape, ref: OperationRef, request: HttpRequest, bound_query: set[str]
) -> Any:
    location = member.serialization.get("location")
    wire = member.serialization.get("name", name)
    path = name[:1].lower() + name[1:]
    if location == "uri":
        raw = ref.path_params.get(wire)
        return None if raw is None else _text_value(member, raw, path)
    if location == "querystring":
        pairs = request.query_params
        if member.type_name == "map":
            unbound = [(k, v) for k, v in pairs if k not in bound_query and k not in _PRESIGN_PARAMS]
            return _query_map(member, unbound) or None
        values = [v for k, v in pairs if k == wire]
        if not values:
            return None
        if member.type_name == "list":
            return [_text_value(member.member, v, f"{path}.{i}.member") for i, v in enumerate(values, 1)]
        return _text_value(member, values[0], path)
    if location == "header":
        raw_header = request.headers.get(wire)
        return None if raw_header is None else _header_value(member, raw_header, path)
    if location == "headers":
        prefix = wire.lower()
        found = {k[len(prefix) :]: v for k, v in request.headers.raw_items() if k.startswith(prefix)}
        return found or None
    return None


def _decode_body(shape: Shape, raw: bytes) -> dict[str, Any]:
    payload = shape.serialization.get("payload")
    if payload is None:
        has_body_members = any("location" not in m.serialization for m in shape.members.values())
        if not has_body_members:
            return {}
        decoded = decode_value(shape, parse_json_body(raw), "")
        return dict(decoded)
    member = shape.members[payload]
    if not raw:
        return {}
    if member.type_name == "blob":
        return {payload: raw}
    if member.type_name == "string":
        return {payload: raw.decode("utf-8", errors="replace")}
    lowered = payload[:1].lower() + payload[1:]
    return {payload: decode_value(member, parse_json_body(raw), lowered)}


def _query_map(shape: Shape, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if shape.value.type_name == "list":
        for key, value in pairs:
            result.setdefault(key, []).append(value)
    else:
        for key, value in pairs:
            result.setdefault(key, value)
    return result


def _text_value(shape: Shape, text: str, path: str) -> Any:
    try:
        return parse_scalar(shape.type_name, text)
    except ValueError:
        constraint = f"Member must be {TYPE_DESCRIPTIONS.get(shape.type_name, shape.type_name)}"
        sensitive = bool(shape.metadata.get("sensitive"))
        raise ValidationError(violations=[Violation(path, text, constraint, sensitive)]) from None


def _header_value(shape: Shape, text: str, path: str) -> Any:
    if shape.type_name == "list":
        return [
            _text_value(shape.member, item, f"{path}.{i}.member")
            for i, item in enumerate(_split_list(text), 1)
        ]
    if shape.type_name == "string" and shape.serialization.get("jsonvalue"):
        try:
            return loads(decode_blob(text))
        except (JsonTextError, ValueError):
            raise ValidationError(
                violations=[Violation(path, text, "Member must be base64-encoded JSON")]
            ) from None
    return _text_value(shape, text.strip(), path)


def _split_list(text: str) -> list[str]:
    """A comma-separated header list; items may be double-quoted (with ``\\"`` escapes)."""
    items: list[str] = []
    current: list[str] = []
    quoted = False
    i = 0
    while i < len(text):
        ch = text[i]
        if quoted and ch == "\\" and i + 1 < len(text):
            current.append(text[i + 1])
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
        i += 1
    items.append("".join(current).strip())
    return [item for item in items if item]


# --- encoding ------------------------------------------------------------------------------------


def _header_text(shape: Shape, value: Any) -> str:
    kind = shape.type_name
    if kind == "list":
        parts = []
        for item in value:
            text = _header_text(shape.member, item)
            if shape.member.type_name == "string" and ("," in text or '"' in text):
                text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
            parts.append(text)
        return ", ".join(parts)
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        return str(format_timestamp(value, shape.serialization.get("timestampFormat", "rfc822")))
    if kind == "blob":
        return encode_blob(value)
    if kind == "string" and shape.serialization.get("jsonvalue"):
        return encode_blob(json.dumps(value, separators=(",", ":")))
    return str(value)


def _encode_payload(member: Shape, value: Any) -> tuple[bytes, str]:
    if member.type_name == "blob":
        return (bytes(value) if value is not None else b""), "application/octet-stream"
    if member.type_name == "string":
        return (str(value).encode("utf-8") if value is not None else b""), "text/plain"
    return _dumps(encode_value(member, value) if value is not None else {}), CONTENT_TYPE


def _dumps(body: Any) -> bytes:
    return dumps(body)
