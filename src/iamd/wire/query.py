"""The AWS query protocol (IAM, STS): form-encoded parameters in, XML out.

Requests flatten the input shape into ``Name=value`` pairs: nested members join with dots, list
elements are ``Users.member.1`` (or ``Name.1`` for flattened lists), map entries are
``Attrs.entry.1.key`` / ``Attrs.entry.1.value``, an empty list is ``Name=``. Booleans are
``true``/``false``, timestamps ISO 8601, blobs base64. Unknown parameters are ignored, as AWS does.

Responses::

    <GetUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
      <GetUserResult><User>...</User></GetUserResult>
      <ResponseMetadata><RequestId>...</RequestId></ResponseMetadata>
    </GetUserResponse>

and errors::

    <ErrorResponse xmlns="...">
      <Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>...</Message></Error>
      <RequestId>...</RequestId>
    </ErrorResponse>
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from botocore.model import OperationModel, ServiceModel, Shape

from iamd.wire.base import Protocol, find_error_shape
from iamd.wire.errors import AwsError, ValidationError, Violation
from iamd.wire.http import HttpRequest, HttpResponse
from iamd.wire.models import OperationRef
from iamd.wire.validate import check
from iamd.wire.values import TYPE_DESCRIPTIONS, encode_blob, format_timestamp, parse_scalar

__all__ = ["QueryProtocol", "decode_params", "encode_output_xml"]

CONTENT_TYPE = "text/xml"
_MISSING: Any = object()
# Characters XML 1.0 cannot carry, and lone UTF-16 surrogates (not valid Unicode: they cannot be
# encoded as UTF-8): written as U+FFFD, so no text ever makes an answer fail to encode.
_INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NEEDS_ESCAPING = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
"""What ``_text`` changes: most values (names, ids, ARNs, dates) have none of it."""


class QueryProtocol(Protocol):
    name = "query"

    def decode_request(
        self, ref: OperationRef, request: HttpRequest, *, validate: bool = True
    ) -> dict[str, Any]:
        shape = ref.operation_model.input_shape
        if shape is None:
            return {}
        params = decode_params(shape, request.form_params)
        if validate:
            # IAM no longer quotes the offending value; STS still does (see validate.check).
            check(shape, params, echo_values=ref.service_name != "iam")
        return params

    def encode_response(
        self, operation: OperationModel, output: Mapping[str, Any] | None, request_id: str
    ) -> HttpResponse:
        name = operation.name
        namespace = _namespace(operation.service_model)
        parts = [f"<{name}Response{namespace}>"]
        shape = operation.output_shape
        if shape is not None:
            parts.append(encode_output_xml(shape, output or {}))
        parts.append(_response_metadata(request_id))
        parts.append(f"</{name}Response>")
        return _xml_response(200, "".join(parts), request_id)

    def encode_error(self, service: ServiceModel, error: AwsError, request_id: str) -> HttpResponse:
        found = find_error_shape(service, error, json_names=False)
        fault = "Sender" if found.sender_fault else "Receiver"
        body = (
            f"<ErrorResponse{_namespace(service)}><Error>"
            f"<Type>{fault}</Type><Code>{_text(found.code)}</Code><Message>{_text(error.message)}</Message>"
            f"</Error><RequestId>{_text(request_id)}</RequestId></ErrorResponse>"
        )
        return _xml_response(found.status, body, request_id)


# --- decoding ------------------------------------------------------------------------------------


def decode_params(shape: Shape, params: Mapping[str, str]) -> dict[str, Any]:
    """The flat query parameters as a nested dict following ``shape``; raises
    :class:`ValidationError` for a value that is not of its member's type."""
    return _decode_members(shape, params, "", "")


def _decode_members(shape: Shape, params: Mapping[str, str], key: str, path: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, member in shape.members.items():
        wire = member.serialization.get("name", name)
        member_key = f"{key}.{wire}" if key else wire
        lowered = name[:1].lower() + name[1:]
        member_path = f"{path}.{lowered}" if path else lowered
        value = _decode(member, params, member_key, member_path)
        if value is not _MISSING:
            result[name] = value
    return result


def _decode(shape: Shape, params: Mapping[str, str], key: str, path: str) -> Any:
    kind = shape.type_name
    if kind == "structure":
        if not _has_children(params, key):
            return _MISSING
        return _decode_members(shape, params, key, path)
    if kind == "list":
        return _decode_list(shape, params, key, path)
    if kind == "map":
        return _decode_map(shape, params, key, path)
    text = params.get(key)
    if text is None:
        return _MISSING
    return _scalar(shape, text, path)


def _decode_list(shape: Shape, params: Mapping[str, str], key: str, path: str) -> Any:
    member = shape.member
    if shape.serialization.get("flattened"):
        base = key
        if member.serialization.get("name"):
            base = ".".join([*key.split(".")[:-1], member.serialization["name"]])
    else:
        base = f"{key}.{member.serialization.get('name', 'member')}"
    indices = _indices(params, base)
    if not indices:
        return [] if params.get(key) == "" else _MISSING
    items = []
    for index in indices:
        item = _decode(member, params, f"{base}.{index}", f"{path}.{index}.member")
        if item is not _MISSING:
            items.append(item)
    return items


def _decode_map(shape: Shape, params: Mapping[str, str], key: str, path: str) -> Any:
    base = key if shape.serialization.get("flattened") else f"{key}.entry"
    key_name = shape.key.serialization.get("name", "key")
    value_name = shape.value.serialization.get("name", "value")
    indices = _indices(params, base)
    if not indices:
        return {} if params.get(key) == "" else _MISSING
    result: dict[Any, Any] = {}
    for index in indices:
        entry_key = params.get(f"{base}.{index}.{key_name}")
        if entry_key is None:
            continue
        value = _decode(shape.value, params, f"{base}.{index}.{value_name}", f"{path}.{entry_key}")
        result[entry_key] = None if value is _MISSING else value
    return result


def _indices(params: Mapping[str, str], base: str) -> list[int]:
    prefix = base + "."
    found: set[int] = set()
    for name in params:
        if name.startswith(prefix):
            head = name[len(prefix) :].split(".", 1)[0]
            if head.isdigit():
                found.add(int(head))
    return sorted(found)


def _has_children(params: Mapping[str, str], key: str) -> bool:
    if not key:
        return True
    prefix = key + "."
    return any(name.startswith(prefix) for name in params)


def _scalar(shape: Shape, text: str, path: str) -> Any:
    try:
        return parse_scalar(shape.type_name, text)
    except ValueError:
        constraint = f"Member must be {TYPE_DESCRIPTIONS.get(shape.type_name, shape.type_name)}"
        sensitive = bool(shape.metadata.get("sensitive"))
        raise ValidationError(violations=[Violation(path, text, constraint, sensitive)]) from None


# --- encoding ------------------------------------------------------------------------------------


def encode_output_xml(shape: Shape, output: Mapping[str, Any]) -> str:
    """``<XResult>...</XResult>`` for an output shape with a ``resultWrapper``, else the bare
    member elements."""
    parts: list[str] = []
    wrapper = shape.serialization.get("resultWrapper")
    if wrapper:
        parts.append(f"<{wrapper}>")
    _members_encoder(shape)(output, parts)
    if wrapper:
        parts.append(f"</{wrapper}>")
    return "".join(parts)


_Members = Callable[[Mapping[str, Any], list[str]], None]
"""Writes a structure's members (a value of that shape) to the output."""
_Element = Callable[[Any, list[str]], None]
"""Writes one value as an element (its tag decided when the encoder was made)."""

_MEMBERS: dict[Shape, _Members] = {}
_ELEMENTS: dict[tuple[Shape, str], _Element] = {}
"""Encoders made once per structure shape, and per (shape, element name), from the service
models (which live as long as the process, as these do: bounded by the models' shapes): a listing
of a hundred users, or a page of GetAccountAuthorizationDetails, encodes its structures without
looking at the model again."""


class _Making(threading.local):
    """Encoders being made (by this thread, under ``_MAKING_LOCK``): a shape may nest itself, so
    an encoder is named before its members' are made; all are published together once the
    outermost is complete, so no other thread ever runs one that is not."""

    def __init__(self) -> None:
        self.members: dict[Shape, _Members] = {}
        self.elements: dict[tuple[Shape, str], _Element] = {}
        self.depth = 0


_MAKING = _Making()
_MAKING_LOCK = threading.RLock()


def _members_encoder(shape: Shape) -> _Members:
    found = _MEMBERS.get(shape)
    if found is not None:
        return found
    with _MAKING_LOCK:
        found = _MEMBERS.get(shape) or _MAKING.members.get(shape)
        if found is not None:
            return found
        members = shape.members
        names = frozenset(members)
        plan: list[tuple[str, _Element]] = []

        def encode(value: Mapping[str, Any], out: list[str]) -> None:
            if not names.issuperset(value):
                raise ValueError(f"{shape.name} has no member(s) {sorted(set(value) - names)}")
            for name, element in plan:
                item = value.get(name)
                if item is not None:
                    element(item, out)

        _MAKING.members[shape] = encode
        with _made():
            plan.extend(
                (name, _element_encoder(member, member.serialization.get("name", name)))
                for name, member in members.items()
            )
        return encode


def _element_encoder(shape: Shape, tag: str) -> _Element:
    key = (shape, tag)
    found = _ELEMENTS.get(key)
    if found is not None:
        return found
    with _MAKING_LOCK:
        found = _ELEMENTS.get(key) or _MAKING.elements.get(key)
        if found is not None:
            return found
        with _made():
            found = _MAKING.elements[key] = _make_element_encoder(shape, tag)
        return found


@contextmanager
def _made() -> Iterator[None]:
    """Around making an encoder: once the outermost is made, publish every encoder made for it
    (or, should making one fail, none)."""
    _MAKING.depth += 1
    try:
        yield
    except BaseException:
        _MAKING.depth -= 1
        if _MAKING.depth == 0:
            _MAKING.members.clear()
            _MAKING.elements.clear()
        raise
    _MAKING.depth -= 1
    if _MAKING.depth == 0:
        _MEMBERS.update(_MAKING.members)
        _ELEMENTS.update(_MAKING.elements)
        _MAKING.members.clear()
        _MAKING.elements.clear()


def _make_element_encoder(shape: Shape, tag: str) -> _Element:
    kind = shape.type_name
    start, end = f"<{tag}>", f"</{tag}>"
    if kind == "structure":
        members = _members_encoder(shape)

        def structure(value: Any, out: list[str]) -> None:
            out.append(start)
            members(value, out)
            out.append(end)

        return structure
    if kind == "list":
        member = shape.member
        if shape.serialization.get("flattened"):
            each = _element_encoder(member, member.serialization.get("name", tag))

            def flattened_list(value: Any, out: list[str]) -> None:
                for item in value:
                    each(item, out)

            return flattened_list
        item_encoder = _element_encoder(member, member.serialization.get("name", "member"))

        def wrapped_list(value: Any, out: list[str]) -> None:
            out.append(start)
            for item in value:
                item_encoder(item, out)
            out.append(end)

        return wrapped_list
    if kind == "map":
        key_encoder = _element_encoder(shape.key, shape.key.serialization.get("name", "key"))
        value_encoder = _element_encoder(shape.value, shape.value.serialization.get("name", "value"))
        flattened = bool(shape.serialization.get("flattened"))
        entry_start, entry_end = (start, end) if flattened else ("<entry>", "</entry>")

        def map_(value: Any, out: list[str]) -> None:
            if not flattened:
                out.append(start)
            for entry_key, item in value.items():
                out.append(entry_start)
                key_encoder(entry_key, out)
                value_encoder(item, out)
                out.append(entry_end)
            if not flattened:
                out.append(end)

        return map_
    if kind == "timestamp":
        fmt = shape.serialization.get("timestampFormat", "iso8601")

        def timestamp(value: Any, out: list[str]) -> None:
            out.append(f"{start}{_text(str(format_timestamp(value, fmt)))}{end}")

        return timestamp
    if kind == "string":

        def string(value: Any, out: list[str]) -> None:
            text = value if type(value) is str else scalar_text(shape, value)
            if _NEEDS_ESCAPING.search(text) is not None:
                text = _text(text)
            out.append(f"{start}{text}{end}")

        return string

    def scalar(value: Any, out: list[str]) -> None:
        out.append(f"{start}{_text(scalar_text(shape, value))}{end}")

    return scalar


def scalar_text(shape: Shape, value: Any) -> str:
    """A scalar as query-protocol text."""
    kind = shape.type_name
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        return str(format_timestamp(value, shape.serialization.get("timestampFormat", "iso8601")))
    if kind == "blob":
        return encode_blob(value)
    if kind in ("float", "double"):
        number = float(value)
        if math.isnan(number):
            return "NaN"
        if math.isinf(number):
            return "Infinity" if number > 0 else "-Infinity"
        return repr(number) if not number.is_integer() else str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _text(value: str) -> str:
    if _NEEDS_ESCAPING.search(value) is None:
        return value
    return escape(_INVALID_XML_CHARS.sub("\ufffd", value), {"\r": "&#xD;"})


def _namespace(service: ServiceModel) -> str:
    namespace = service.metadata.get("xmlNamespace")
    if isinstance(namespace, Mapping):
        namespace = namespace.get("uri")
    return f' xmlns="{_text(str(namespace))}"' if namespace else ""


def _response_metadata(request_id: str) -> str:
    return f"<ResponseMetadata><RequestId>{_text(request_id)}</RequestId></ResponseMetadata>"


def _xml_response(status: int, body: str, request_id: str) -> HttpResponse:
    headers = [("Content-Type", CONTENT_TYPE), ("x-amzn-RequestId", request_id)]
    return HttpResponse(status, headers, body.encode("utf-8"))
