"""Errors that AWS answers with, and how each one looks on the wire.

Every failure a client can see is an :class:`AwsError`: a code, a message, an HTTP status and
whether the caller (``Sender``) or the service (``Receiver``) is at fault. The protocol encoders in
:mod:`iamd.wire.query`, :mod:`iamd.wire.json` and :mod:`iamd.wire.restjson` render it; when the
service model declares the error (IAM's ``NoSuchEntityException`` has ``error.code``
``NoSuchEntity`` and status 404), the model's code and status win.

JSON protocols name some common errors differently from the query protocol (``ValidationError``
is ``ValidationException``, ``InvalidClientTokenId`` is ``UnrecognizedClientException``); that
name is :attr:`AwsError.json_code`.

The tree::

    AwsError                                   code, message, status, sender_fault, json_code
    ├── ClientError                      400   the caller's fault (Type Sender)
    │   ├── ValidationError              400   input breaks the model's constraints
    │   ├── SerializationError           400   JSON body of the wrong type or malformed
    │   ├── InvalidInput                 400
    │   ├── MalformedPolicyDocument      400
    │   ├── InvalidAction                400   unknown Action / X-Amz-Target / REST route
    │   ├── MissingAction                400
    │   ├── UnsupportedOperation         400
    │   ├── Throttling                   400
    │   ├── AccessDenied                 403
    │   ├── NoSuchEntity                 404
    │   ├── EntityAlreadyExists          409
    │   ├── LimitExceeded                409
    │   ├── DeleteConflict               409
    │   └── AuthenticationError                authentication failed, nothing else ran
    │       ├── MissingAuthenticationToken   403
    │       ├── IncompleteSignature          400
    │       ├── InvalidClientTokenId         403
    │       ├── SignatureDoesNotMatch        403   also "Signature expired: ..."
    │       ├── ExpiredToken                 403
    │       └── RequestExpired               400   a presigned request past X-Amz-Expires
    └── ServerError                      500   the service's fault (Type Receiver)
        ├── InternalFailure              500   only for real bugs
        └── ServiceUnavailable           503

:func:`modeled_error` builds an error from any exception shape of a service model, for errors
that only one service has (``AWSOrganizationsNotInUseException``, ``ResourceNotFoundException``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.model import ServiceModel

__all__ = [
    "AccessDenied",
    "AuthenticationError",
    "AwsError",
    "ClientError",
    "DeleteConflict",
    "EntityAlreadyExists",
    "ExpiredToken",
    "IncompleteSignature",
    "InternalFailure",
    "InvalidAction",
    "InvalidClientTokenId",
    "InvalidInput",
    "LimitExceeded",
    "MalformedPolicyDocument",
    "MissingAction",
    "MissingAuthenticationToken",
    "NoSuchEntity",
    "RequestExpired",
    "SerializationError",
    "ServerError",
    "ServiceUnavailable",
    "SignatureDoesNotMatch",
    "Throttling",
    "UnsupportedOperation",
    "ValidationError",
    "Violation",
    "modeled_error",
]


class AwsError(Exception):
    """An error answered to the client. Class attributes are defaults; the constructor can
    override any of them for one instance."""

    code: str = "InternalFailure"
    json_code: str | None = None
    status: int = 500
    sender_fault: bool = False
    default_message: str = ""

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        json_code: str | None = None,
        status: int | None = None,
        sender_fault: bool | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> None:
        self.message = self.default_message if message is None else message
        if code is not None:
            self.code = code
            if json_code is None:
                self.json_code = None
        if json_code is not None:
            self.json_code = json_code
        if status is not None:
            self.status = status
        if sender_fault is not None:
            self.sender_fault = sender_fault
        # Extra members for JSON error bodies (e.g. Access Analyzer's ``reason``); encoders keep
        # only those the service's error shape declares.
        self.fields: dict[str, Any] = dict(fields or {})
        # Server-side diagnostics (e.g. the canonical request we computed); never rendered.
        self.debug: str | None = None
        super().__init__(self.message)

    @property
    def fault(self) -> str:
        """``Sender`` or ``Receiver``, as the query protocol's ``<Type>`` says."""
        return "Sender" if self.sender_fault else "Receiver"

    @property
    def wire_json_code(self) -> str:
        """The ``__type`` a JSON protocol uses when the model does not name this error."""
        return self.json_code or self.code

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, status={self.status}, message={self.message!r})"


class ClientError(AwsError):
    code = "InvalidRequest"
    status = 400
    sender_fault = True


class ServerError(AwsError):
    code = "InternalFailure"
    status = 500
    sender_fault = False


# --- input -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken constraint: ``Value 'x' at 'userName' failed to satisfy constraint: ...``."""

    path: str
    value: str | None  # already rendered; None renders as ``null``
    constraint: str
    sensitive: bool = False

    @property
    def message(self) -> str:
        if self.sensitive:
            shown = ""
        elif self.value is None:
            shown = " null"
        else:
            shown = f" '{self.value}'"
        return f"Value{shown} at '{self.path}' failed to satisfy constraint: {self.constraint}"


class ValidationError(ClientError):
    code = "ValidationError"
    json_code = "ValidationException"

    def __init__(
        self, message: str | None = None, *, violations: Sequence[Violation] = (), **kw: Any
    ) -> None:
        self.violations = tuple(violations)
        if message is None and self.violations:
            count = len(self.violations)
            noun = "error" if count == 1 else "errors"
            details = "; ".join(v.message for v in self.violations)
            message = f"{count} validation {noun} detected: {details}"
        fields = kw.pop("fields", None)
        if fields is None:
            fields = {"reason": "fieldValidationFailed"}
            if self.violations:
                fields["fieldList"] = [{"name": v.path, "message": v.message} for v in self.violations]
        super().__init__(message, fields=fields, **kw)


class SerializationError(ClientError):
    code = "SerializationException"
    json_code = "SerializationException"


class InvalidInput(ClientError):
    code = "InvalidInput"
    json_code = "InvalidInputException"


class MalformedPolicyDocument(ClientError):
    code = "MalformedPolicyDocument"
    json_code = "MalformedPolicyDocumentException"


class InvalidAction(ClientError):
    code = "InvalidAction"
    json_code = "UnknownOperationException"


class MissingAction(ClientError):
    code = "MissingAction"
    default_message = "Missing Action"


class UnsupportedOperation(ClientError):
    code = "UnsupportedOperation"
    json_code = "UnsupportedOperationException"


class Throttling(ClientError):
    code = "Throttling"
    json_code = "ThrottlingException"
    default_message = "Rate exceeded"


# --- entities ----------------------------------------------------------------------------------


class AccessDenied(ClientError):
    code = "AccessDenied"
    json_code = "AccessDeniedException"
    status = 403
    explanation: Callable[[], list[str]] | None = None
    """For a denial the evaluator decided: computes why, down to the condition (the statements
    that nearly allowed, or the Denies that applied), as sentences for a person. Never sent on the
    wire, where AWS's sentence is the whole message; the console shows it to callers allowed
    sts:DecodeAuthorizationMessage."""


class NoSuchEntity(ClientError):
    code = "NoSuchEntity"
    json_code = "NoSuchEntityException"
    status = 404


class EntityAlreadyExists(ClientError):
    code = "EntityAlreadyExists"
    json_code = "EntityAlreadyExistsException"
    status = 409


class LimitExceeded(ClientError):
    code = "LimitExceeded"
    json_code = "LimitExceededException"
    status = 409


class DeleteConflict(ClientError):
    code = "DeleteConflict"
    json_code = "DeleteConflictException"
    status = 409


# --- authentication ------------------------------------------------------------------------------


class AuthenticationError(ClientError):
    """The request could not be authenticated; AWS answers before looking at the operation."""

    status = 403


class MissingAuthenticationToken(AuthenticationError):
    code = "MissingAuthenticationToken"
    json_code = "MissingAuthenticationTokenException"
    default_message = "Request is missing Authentication Token"


class IncompleteSignature(AuthenticationError):
    code = "IncompleteSignature"
    json_code = "IncompleteSignatureException"
    status = 400


class InvalidClientTokenId(AuthenticationError):
    code = "InvalidClientTokenId"
    json_code = "UnrecognizedClientException"
    default_message = "The security token included in the request is invalid."


class SignatureDoesNotMatch(AuthenticationError):
    code = "SignatureDoesNotMatch"
    json_code = "InvalidSignatureException"
    default_message = (
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. "
        "Consult the service documentation for details."
    )


class ExpiredToken(AuthenticationError):
    code = "ExpiredToken"
    json_code = "ExpiredTokenException"
    default_message = "The security token included in the request is expired"


class RequestExpired(AuthenticationError):
    code = "RequestExpired"
    status = 400
    default_message = "Request has expired."


# --- the service's fault -------------------------------------------------------------------------


class InternalFailure(ServerError):
    code = "InternalFailure"
    default_message = "An internal error occurred."


class ServiceUnavailable(ServerError):
    code = "ServiceUnavailable"
    json_code = "ServiceUnavailableException"
    status = 503
    default_message = "Service is unable to handle request."


# --- errors declared by a service model ----------------------------------------------------------


def modeled_error(service: ServiceModel, shape_name: str, message: str = "", **fields: Any) -> AwsError:
    """An error for exception shape ``shape_name`` of ``service``, with the model's code
    (``error.code``, else the shape name), status (``error.httpStatusCode``, else 400) and fault
    (``error.senderFault``; a 5xx status means the service's fault). Extra keyword arguments are
    the shape's other members (``resourceId=...``)."""
    shape = service.shape_for(shape_name)
    if not shape.metadata.get("exception"):
        raise ValueError(f"{service.service_name} shape {shape_name} is not an exception")
    meta: Mapping[str, Any] = shape.metadata.get("error") or {}
    status = int(meta.get("httpStatusCode", 400))
    sender = bool(meta.get("senderFault", status < 500))
    cls: type[AwsError] = ClientError if sender else ServerError
    return cls(
        message,
        code=str(meta.get("code", shape_name)),
        json_code=shape_name,
        status=status,
        sender_fault=sender,
        fields=fields,
    )
