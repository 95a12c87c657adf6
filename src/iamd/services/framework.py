"""What every operation handler gets, and how handlers are registered.

A handler is ``def handler(ctx: OperationContext, params: dict) -> dict | None``. It runs inside one
store transaction (``ctx.uow``); it must call ``ctx.authorize(action, resource, ...)`` before it
reads or changes anything the caller may not see: the dispatcher refuses to answer for a handler
that never authorized (an internal error, so a forgotten check cannot pass silently).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from iamd.authz import Decision, Principal
from iamd.secrets.ids import IdSource
from iamd.store import errors as store_errors
from iamd.store.unit import UnitOfWork
from iamd.wire import (
    AwsError,
    DeleteConflict,
    EntityAlreadyExists,
    NoSuchEntity,
    UnsupportedOperation,
    ValidationError,
)

__all__ = [
    "DEFAULT_BUDGET_SECONDS",
    "Budget",
    "Caller",
    "Handler",
    "OperationContext",
    "Registration",
    "RequestInfo",
    "handler_for",
    "input_error",
    "input_errors",
    "operation",
]

Params = dict[str, Any]
Result = dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """Facts about the HTTP request that policies and the trail can see."""

    request_id: str
    service: str
    operation: str
    region: str
    source_ip: str
    user_agent: str
    secure_transport: bool
    received_at: datetime
    base_url: str = ""
    """Where clients reach this iamd (``iamd serve --public-url``, else the request's scheme and
    Host header): the base of URLs iamd hands out, such as an outbound federation issuer."""


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated principal behind a request."""

    principal: Principal
    account_id: str
    principal_type: str
    """aws:PrincipalType: User, Account (root), AssumedRole, FederatedUser."""
    unique_id: str
    """aws:userid: the user id (AIDA…), the account id for root, ROLEID:session for sessions."""
    arn: str
    """aws:PrincipalArn: the user or role ARN (for a role session, the role's ARN)."""
    access_key_id: str | None = None
    user_id: str | None = None
    user_name: str | None = None
    role_id: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    mfa_authenticated: bool | None = None
    """None for long-term access keys, where aws:MultiFactorAuthPresent is absent."""
    mfa_age_seconds: int | None = None
    session_policies: tuple[str, ...] = ()
    session_issued_at: datetime | None = None
    source_identity: str | None = None
    assumed_root: bool = False
    """A session from sts:AssumeRoot: aws:AssumedRoot is "true"."""

    @property
    def is_root(self) -> bool:
        return self.principal_type == "Account"


DEFAULT_BUDGET_SECONDS: float = 10.0
"""How long an operation may loop over what its caller asked for (``iamd serve --request-budget``)."""


@dataclass(frozen=True, slots=True)
class Budget:
    """The time an operation may spend looping over combinations its caller chose (a simulation's
    actions x resources): the loop asks ``exceeded()`` as it goes and stops with a clear error.
    Measured on a monotonic clock from the moment the operation starts."""

    seconds: float = DEFAULT_BUDGET_SECONDS
    started: float = field(default_factory=time.monotonic)

    def exceeded(self) -> bool:
        return time.monotonic() - self.started > self.seconds


class Authorize(Protocol):
    def __call__(
        self,
        action: str,
        resource: str,
        context: Mapping[str, object] | None = None,
        *,
        resource_account: str | None = None,
    ) -> Decision: ...


@dataclass
class OperationContext:
    uow: UnitOfWork
    caller: Caller
    info: RequestInfo
    ids: IdSource
    now: datetime
    authorize_with: Authorize
    authorized: bool = False
    memo: dict[object, object] = field(default_factory=dict)
    """Reads a handler may repeat within its request (e.g. a user's tags), kept for that request."""
    budget: Budget = field(default_factory=Budget)

    @property
    def account_id(self) -> str:
        return self.caller.account_id

    @property
    def partition(self) -> str:
        return "aws"

    def authorize(
        self,
        action: str,
        resource: str,
        context: Mapping[str, object] | None = None,
        *,
        resource_account: str | None = None,
    ) -> Decision:
        """Authorize ``action`` on ``resource`` for the caller, with extra condition keys
        (aws:RequestTag/…, aws:ResourceTag/…, iam:PolicyARN, …). Raises AccessDenied with AWS's
        sentence when denied."""
        decision = self.authorize_with(action, resource, context, resource_account=resource_account)
        self.authorized = True
        return decision


Handler = Callable[[OperationContext, Params], Result]
Prefetch = Callable[[UnitOfWork, Mapping[str, str], "str | None"], None]


@dataclass(frozen=True, slots=True)
class Registration:
    service: str
    operation: str
    handler: Handler
    readonly: bool
    waits: bool = False
    """The handler may wait on the network: the server runs it off its event loop."""
    heavy: bool = False
    """The handler's work grows with its input or the account's size (parsing and evaluating the
    caller's policies, a report over every user): the server runs it on a worker thread, a few at
    a time, so it never holds up the event loop, writes or cheap reads."""
    reads_without: str | None = None
    """A write that writes only when its request carries this (top-level, query-protocol)
    parameter: STS's ``TokenCode``, whose TOTP step is recorded so that the code cannot be
    replayed. A request without it runs as a read (``Pipeline.route``): in a read-only
    transaction, on the server's event loop, its trail event stored by the trail writer as a
    read's is. Its handler must then write nothing (a write would fail the request)."""
    prefetch: Prefetch | None = None
    """Given the request's query-protocol parameters (undecoded, unchecked, the caller not yet
    authenticated) and the account its signing key was last seen to belong to (None when not
    known: a hint, never an authentication), asks the unit of work to read ahead what the
    handler will read (the store's ``prefetch`` methods): on PostgreSQL that goes out with the
    caller's key, in the transaction's first round trip. Must not raise, and reads nothing
    itself; what it names wrongly is read for nothing, never used."""


_HANDLERS: dict[tuple[str, str], Registration] = {}


def operation(
    service: str,
    name: str,
    *,
    readonly: bool = False,
    waits: bool = False,
    heavy: bool = False,
    reads_without: str | None = None,
    prefetch: Prefetch | None = None,
) -> Callable[[Handler], Handler]:
    """Register ``handler`` as ``service``'s operation ``name`` (botocore's operation name).
    ``waits``: the handler may wait on the network (it is then run off the server's event loop).
    ``heavy``: its cost depends on its input or the account's size (see ``Registration.heavy``).
    ``reads_without``, ``prefetch``: see ``Registration``."""

    def register(handler: Handler) -> Handler:
        key = (service, name)
        if key in _HANDLERS:
            raise RuntimeError(f"{service}:{name} is registered twice")
        _HANDLERS[key] = Registration(service, name, handler, readonly, waits, heavy, reads_without, prefetch)
        return handler

    return register


def handler_for(service: str, name: str) -> Registration | None:
    return _HANDLERS.get((service, name))


def registered(service: str) -> list[str]:
    return sorted(op for svc, op in _HANDLERS if svc == service)


@contextmanager
def store_errors_as_aws() -> Iterator[None]:
    """Around an operation's handler: what the store refuses, answered as AWS answers it
    (NoSuchEntity, EntityAlreadyExists, DeleteConflict, ValidationError for a bad Marker)."""
    try:
        yield
    except store_errors.NotFound as exc:
        raise NoSuchEntity(str(exc)) from exc
    except store_errors.AlreadyExists as exc:
        raise EntityAlreadyExists(str(exc)) from exc
    except store_errors.Conflict as exc:
        raise DeleteConflict(str(exc)) from exc
    except store_errors.InvalidMarker as exc:
        raise ValidationError("Invalid Marker.") from exc


InputErrors = Callable[[ValidationError], AwsError]
_INPUT_ERRORS: dict[str, InputErrors] = {}


def input_errors(service: str) -> Callable[[InputErrors], InputErrors]:
    """Register how ``service`` answers a request its model's constraints refuse, where that is
    not the wire layer's ``ValidationException`` (Organizations: ``InvalidInputException`` with a
    reason)."""

    def register(translate: InputErrors) -> InputErrors:
        _INPUT_ERRORS[service] = translate
        return translate

    return register


def input_error(service: str, error: ValidationError) -> AwsError:
    """``error`` (the model's constraints, broken) as ``service`` answers it."""
    translate = _INPUT_ERRORS.get(service)
    return error if translate is None else translate(error)


def unsupported(service: str, name: str, reason: str) -> None:
    """Register ``service``'s operation ``name`` as one iamd answers with UnsupportedOperation,
    saying ``reason`` (why it makes no sense here)."""

    def handler(ctx: OperationContext, params: dict[str, Any]) -> None:
        ctx.authorized = True
        raise UnsupportedOperation(f"{name} is not supported by iamd: {reason}.")

    handler.__name__ = f"unsupported_{name}"
    operation(service, name, readonly=True)(handler)
