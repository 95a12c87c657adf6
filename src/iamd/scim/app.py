"""SCIM 2.0 service provider (RFC 7644) at ``{base}/scim/v2/``: Users, Groups and the discovery
endpoints, over the identity store the ``identitystore`` API sees.

Every request needs ``Authorization: Bearer <token>`` (``iamd sso scim-token``): the token names
the identity store. Without it, or with a token that is wrong or expired: 401. The store's
``ScimAllowSourceIps`` apply (403). Inputs are bounded: the body (:data:`MAX_BODY`), the filter
(1,024 characters), ``count`` (at most 100), PATCH operations and group members per request (100).
Each call goes on the trail as IAM Identity Center records SCIM calls: event source
``identitystore-scim.amazonaws.com``, the user identity a ``WebIdentityUser`` of the account
with the token's id as ``accessKeyId``, request bodies as ``HIDDEN_DUE_TO_SECURITY_REASONS``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from iamd.scim import handlers
from iamd.scim.resources import ScimError
from iamd.scim.schemas import MAX_BODY
from iamd.scim.tokens import check_token
from iamd.secrets.entropy import uuid4
from iamd.server.limits import declared_length, read_capped
from iamd.services.identitycenter.identitystore.common import network_allows
from iamd.store.audit import AuditEvent
from iamd.store.identity_credentials import ScimTokenRecord
from iamd.store.unit import UnitOfWork
from iamd.trail.records import Identity, api_call_record, record_json
from iamd.wire import RequestEntityTooLarge, jsontext
from iamd.wire.jsontext import JsonTextError

if TYPE_CHECKING:  # the server imports this module
    from iamd.server.pipeline import Pipeline

__all__ = ["PREFIX", "scim_mount"]

log = logging.getLogger("iamd.scim")

PREFIX: Final = "/scim/v2"
MAX_JSON_DEPTH: Final = 16
"""A SCIM resource nests a few levels (User → emails → item); deeper bodies are refused."""
LAST_USED_EVERY: Final = timedelta(hours=1)
"""A token's last use is recorded at most this often (a write per request would cost more)."""
MEDIA_TYPE: Final = "application/scim+json"
EVENT_SOURCE: Final = "identitystore-scim.amazonaws.com"
HIDDEN: Final = "HIDDEN_DUE_TO_SECURITY_REASONS"
READ_ONLY: Final = frozenset(
    {
        "GetUser",
        "ListUsers",
        "GetGroup",
        "ListGroups",
        "GetSchema",
        "ListSchemas",
        "ListResourceTypes",
        "GetResourceType",
        "GetServiceProviderConfig",
    }
)


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    if body is None:
        return Response(status_code=status, headers=dict(headers or {}))
    return Response(
        json.dumps(body, ensure_ascii=False, default=str).encode("utf-8"),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=dict(headers or {}),
    )


def _error(error: ScimError) -> Response:
    headers = {"WWW-Authenticate": 'Bearer realm="iamd-scim"'} if error.status == 401 else None
    return _json(error.body(), error.status, headers)


@dataclass
class Call:
    """One SCIM request as the handlers see it."""

    method: str
    parts: tuple[str, ...]
    query: Mapping[str, str]
    body: Any
    base: str
    now: datetime
    token: ScimTokenRecord
    event_name: str = ""


def _event_name(method: str, parts: tuple[str, ...]) -> str:
    head = parts[0] if parts else ""
    single = len(parts) > 1
    if head == "Users":
        return {
            "GET": "GetUser" if single else "ListUsers",
            "POST": "CreateUser",
            "PUT": "PutUser",
            "PATCH": "PatchUser",
            "DELETE": "DeleteUser",
        }.get(method, "User")
    if head == "Groups":
        return {
            "GET": "GetGroup" if single else "ListGroups",
            "POST": "CreateGroup",
            "PUT": "PutGroup",
            "PATCH": "PatchGroup",
            "DELETE": "DeleteGroup",
        }.get(method, "Group")
    if head == "Schemas":
        return "GetSchema" if single else "ListSchemas"
    if head == "ResourceTypes":
        return "GetResourceType" if single else "ListResourceTypes"
    if head == "ServiceProviderConfig":
        return "GetServiceProviderConfig"
    return "Unknown"


class ScimApp:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def base(self, request: Request) -> str:
        if self.pipeline.public_url:
            return self.pipeline.public_url + PREFIX
        host = request.headers.get("host") or "127.0.0.1"
        return f"{request.url.scheme}://{host}{PREFIX}"

    async def handle(self, request: Request) -> Response:
        path = str(request.path_params.get("path", "")).strip("/")
        parts = tuple(p for p in path.split("/") if p)
        name = _event_name(request.method, parts)
        now = self.pipeline.clock.now()
        source_ip = request.client.host if request.client else "127.0.0.1"
        user_agent = request.headers.get("user-agent", "")[:1024]
        token: ScimTokenRecord | None = None
        status = 500
        try:
            declared = declared_length(request.scope["headers"])
            if declared is not None and declared > MAX_BODY:
                raise ScimError(413, f"The request body is larger than the {MAX_BODY} bytes SCIM accepts.")
            try:
                raw = await read_capped(request.stream(), MAX_BODY)
            except RequestEntityTooLarge:
                raise ScimError(
                    413, f"The request body is larger than the {MAX_BODY} bytes SCIM accepts."
                ) from None
            token = await run_in_threadpool(self._authenticate, request, now)
            store = await run_in_threadpool(self._store_of, token)
            if store is None or not network_allows(store, source_ip, scim=True):
                raise ScimError(
                    403,
                    "Access to this identity store from this address is denied by its network configuration.",
                )
            if (
                parts[:1] in (("ServiceProviderConfig",), ("ResourceTypes",), ("Schemas",))
                and request.method != "GET"
            ):
                raise ScimError(405, f"{request.method} is not allowed on /{parts[0]}: it is read-only.")
            body = _body(raw) if request.method in ("POST", "PUT", "PATCH") else None
            call = Call(
                request.method, parts, dict(request.query_params), body, self.base(request), now, token, name
            )

            def work(uow: UnitOfWork) -> tuple[int, Any, dict[str, str]]:
                return handlers.dispatch(uow, call)

            readonly = name in READ_ONLY
            status, out, headers = await run_in_threadpool(self.pipeline.store.run, work, readonly=readonly)
            self._record(token, name, now, source_ip, user_agent, status, None, out)
            return _json(out, status, headers)
        except ScimError as error:
            status = error.status
            self._record(token, name, now, source_ip, user_agent, status, error, None)
            return _error(error)
        except Exception:
            log.exception("SCIM %s %s failed", request.method, path)
            failure = ScimError(500, "Internal error.")
            self._record(token, name, now, source_ip, user_agent, 500, failure, None)
            return _error(failure)

    def _authenticate(self, request: Request, now: datetime) -> ScimTokenRecord:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ScimError(401, "Authorization: Bearer <token> is required.")

        def check(uow: UnitOfWork) -> ScimTokenRecord | None:
            return check_token(uow, value.strip(), now=now)

        record = self.pipeline.store.run(check, readonly=True)
        if record is None:
            raise ScimError(401, "The bearer token is not valid or has expired.")
        if record.last_used_at is None or now - record.last_used_at > LAST_USED_EVERY:
            self.pipeline.store.run(lambda uow: uow.identity_credentials.touch_scim_token(record.id, now))
        return record

    def _store_of(self, token: ScimTokenRecord) -> Any:
        return self.pipeline.store.run(
            lambda uow: uow.identity_store.find_store(token.store_id), readonly=True
        )

    def _record(
        self,
        token: ScimTokenRecord | None,
        name: str,
        now: datetime,
        source_ip: str,
        user_agent: str,
        status: int,
        error: ScimError | None,
        output: Any,
    ) -> None:
        """The call on the account's trail (not for a request without a valid token: it names no
        account, as AWS records none)."""
        trail = self.pipeline.trail
        if trail is None or token is None:
            return
        identity = Identity(
            "WebIdentityUser", account_id=token.account_id, access_key_id=token.id, lookup_name="SCIM"
        )
        request_id = uuid4()
        event_id = uuid4()
        response: Any = None
        if isinstance(output, dict) and output.get("id"):
            response = {"id": output["id"], "meta": output.get("meta")}
        record = api_call_record(
            identity=identity,
            event_time=now,
            event_source=EVENT_SOURCE,
            event_name=name,
            region="us-east-1",
            source_ip=source_ip,
            user_agent=user_agent,
            request_parameters={"tenantId": token.store_id, "httpBody": HIDDEN},
            response_elements=response,
            request_id=request_id,
            event_id=event_id,
            read_only=name in READ_ONLY,
            recipient_account_id=token.account_id,
            error_code=_error_code(error) if error else None,
            error_message=error.detail if error else None,
        )
        event = AuditEvent(
            event_id=event_id,
            account_id=token.account_id,
            event_time=now,
            event_name=name,
            event_source=EVENT_SOURCE,
            username="SCIM",
            access_key_id=token.id,
            entity_id=None,
            entity_arn=None,
            service="identitystore-scim",
            region="us-east-1",
            read_only=name in READ_ONLY,
            error_code=_error_code(error) if error else None,
            counts_as_access=False,
            record=record_json(record),
        )
        try:
            trail.writer.submit([event])
        except Exception:
            log.exception("trail: could not queue a SCIM %s event", name)


def _error_code(error: ScimError) -> str:
    return {
        400: "ValidationException",
        401: "UnauthorizedException",
        403: "AccessDeniedException",
        404: "ResourceNotFoundException",
        409: "ConflictException",
        413: "ValidationException",
        429: "ThrottlingException",
    }.get(error.status, "InternalServerException")


def _body(raw: bytes) -> Any:
    if not raw:
        raise ScimError(400, "The request has no body.", "invalidSyntax")
    try:
        return jsontext.loads(raw, max_depth=MAX_JSON_DEPTH)
    except JsonTextError as exc:
        raise ScimError(400, f"The request body is not JSON iamd accepts: {exc}.", "invalidSyntax") from None


def scim_mount(pipeline: Pipeline) -> Mount:
    """The route to add to the server's app."""
    app = ScimApp(pipeline)
    return Mount(
        PREFIX,
        routes=[
            Route("/{path:path}", app.handle, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ],
    )
