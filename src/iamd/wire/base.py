"""The interface every wire protocol implements, so a server can dispatch generically::

ref = catalog.resolve(request, signing_service=scope.service)
protocol = protocol_for(ref.service_model)
try:
    params = protocol.decode_request(ref, request)      # decoded and validated
    output = handler(params)
    response = protocol.encode_response(ref.operation_model, output, request_id)
except AwsError as error:
    response = protocol.encode_error(ref.service_model, error, request_id)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from botocore.model import OperationModel, ServiceModel, Shape

from iamd.wire.errors import AwsError
from iamd.wire.http import HttpRequest, HttpResponse
from iamd.wire.models import OperationRef

__all__ = ["ErrorShape", "Protocol", "find_error_shape"]


class Protocol(ABC):
    """Decode a request into an operation's parameters; encode its output or an error."""

    name: ClassVar[str]

    @abstractmethod
    def decode_request(
        self, ref: OperationRef, request: HttpRequest, *, validate: bool = True
    ) -> dict[str, Any]:
        """The operation's input as a plain dict keyed by member names (timestamps as aware
        ``datetime``, blobs as ``bytes``). Raises :class:`~iamd.wire.errors.ValidationError`
        (or ``SerializationException`` for malformed JSON) when the input is not acceptable."""

    @abstractmethod
    def encode_response(
        self, operation: OperationModel, output: Mapping[str, Any] | None, request_id: str
    ) -> HttpResponse:
        """The successful response for ``output`` (a dict keyed by output member names)."""

    @abstractmethod
    def encode_error(self, service: ServiceModel, error: AwsError, request_id: str) -> HttpResponse:
        """The error envelope for ``error``."""


@dataclass(frozen=True, slots=True)
class ErrorShape:
    """How ``error`` appears for one service: its code on the wire, status and fault, and the
    model's exception shape when the service declares one."""

    code: str
    status: int
    sender_fault: bool
    shape: Shape | None


def find_error_shape(service: ServiceModel, error: AwsError, *, json_names: bool) -> ErrorShape:
    """Look ``error`` up among ``service``'s exception shapes. For the query protocol
    (``json_names=False``) match on the ``error.code`` (``NoSuchEntity``) and answer with it; for
    JSON protocols match on the shape name (``ValidationException``) and answer with that."""
    index = _error_index(service)
    candidates = [error.wire_json_code, error.code] if json_names else [error.code]
    for key in candidates:
        shape = index.get(key)
        if shape is None:
            continue
        meta: Mapping[str, Any] = shape.metadata.get("error") or {}
        code = str(shape.name) if json_names else str(meta.get("code", shape.name))
        status = int(meta.get("httpStatusCode", error.status))
        if "senderFault" in meta:
            sender = bool(meta["senderFault"])
        elif "httpStatusCode" in meta:
            sender = status < 500
        else:
            sender = error.sender_fault
        return ErrorShape(code, status, sender, shape)
    code = error.wire_json_code if json_names else error.code
    return ErrorShape(code, error.status, error.sender_fault, None)


_indexes: dict[int, tuple[ServiceModel, dict[str, Shape]]] = {}


def _error_index(service: ServiceModel) -> dict[str, Shape]:
    """Exception shapes by shape name and by ``error.code``; one index per model object."""
    cached = _indexes.get(id(service))
    if cached is not None and cached[0] is service:
        return cached[1]
    index: dict[str, Shape] = {}
    for name in service.shape_names:
        shape = service.shape_for(name)
        if not shape.metadata.get("exception"):
            continue
        index.setdefault(str(name), shape)
        code = (shape.metadata.get("error") or {}).get("code")
        if code:
            index.setdefault(str(code), shape)
    _indexes[id(service)] = (service, index)
    return index
