"""The SAML service provider's web endpoints (see :mod:`iamd.portal.saml`): SP metadata,
SP-initiated sign-in, and the assertion consumer that starts a portal session.

Every sign-in through the ACS, accepted or refused, goes on the account's trail as IAM Identity
Center logs it: ``ExternalIdPDirectoryLogin``."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from iamd.portal.saml import (
    PREFIX,
    Accepted,
    SamlRejected,
    authn_request_url,
    consume,
    decode_response,
    sp_metadata,
)
from iamd.portal.sessions import sign_in_response
from iamd.server.limits import declared_length, read_capped
from iamd.services.cloudtrail.recording import identity_center_user
from iamd.store.audit import AuditEvent
from iamd.store.unit import UnitOfWork
from iamd.trail.records import Identity, cloudtrail_time, record_json
from iamd.wire import RequestEntityTooLarge

if TYPE_CHECKING:
    from iamd.server.pipeline import Pipeline

__all__ = ["saml_mount"]

log = logging.getLogger("iamd.portal.saml")

MAX_FORM: Final = 256 * 1024
_STORE_ID_CHARS: Final = frozenset("0123456789abcdef-d")


def _page(status: int, title: str, message: str) -> HTMLResponse:
    from html import escape

    body = (
        "<!doctype html><html><head><meta charset='utf-8'><title>"
        f"{escape(title)}</title></head><body><h1>{escape(title)}</h1><p>{escape(message)}</p>"
        "<p><a href='/start/'>Back to the access portal</a></p></body></html>"
    )
    return HTMLResponse(body, status_code=status)


MAX_RELAY: Final = 4096


def _local_path(target: str) -> str:
    """``target`` when it is a path of this server (where to go after signing in), else "": a
    device approval or a PKCE authorization URL comes back through the relay state."""
    if (
        target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and len(target) <= MAX_RELAY
        and target.isprintable()
    ):
        return target
    return ""


class SamlApp:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def base(self, request: Request) -> str:
        if self.pipeline.public_url:
            return self.pipeline.public_url
        host = request.headers.get("host") or "127.0.0.1"
        return f"{request.url.scheme}://{host}"

    @staticmethod
    def store_id(request: Request) -> str | None:
        value = str(request.path_params.get("store_id", ""))
        return value if 1 <= len(value) <= 36 and set(value) <= _STORE_ID_CHARS else None

    async def metadata(self, request: Request) -> Response:
        store_id = self.store_id(request)
        configured = store_id is not None and await run_in_threadpool(self._has_store, store_id)
        if not configured or store_id is None:
            return _page(404, "Not found", "No identity store here.")
        return Response(sp_metadata(self.base(request), store_id), media_type="application/samlmetadata+xml")

    def _has_store(self, store_id: str) -> bool:
        return bool(
            self.pipeline.store.run(lambda uow: uow.identity_store.find_store(store_id), readonly=True)
        )

    async def login(self, request: Request) -> Response:
        store_id = self.store_id(request)
        if store_id is None:
            return _page(404, "Not found", "No identity store here.")
        idp = await run_in_threadpool(
            self.pipeline.store.run, lambda uow: uow.identity_credentials.saml_idp(store_id), readonly=True
        )
        if idp is None or not idp.sso_url:
            return _page(404, "Not found", "This identity store signs in with its own passwords.")
        relay = _local_path(request.query_params.get("next", ""))
        url = authn_request_url(
            idp.sso_url, idp.sp_base_url or self.base(request), store_id, relay, self.pipeline.clock.now()
        )
        return RedirectResponse(url, status_code=303)

    async def acs(self, request: Request) -> Response:
        store_id = self.store_id(request)
        now = self.pipeline.clock.now()
        source_ip = request.client.host if request.client else "127.0.0.1"
        user_agent = request.headers.get("user-agent", "")[:1024]
        if store_id is None:
            return _page(404, "Not found", "No identity store here.")
        declared = declared_length(request.scope["headers"])
        try:
            if declared is not None and declared > MAX_FORM:
                raise SamlRejected("The SAML response is too large.")
            try:
                raw = await read_capped(request.stream(), MAX_FORM)
            except RequestEntityTooLarge:
                raise SamlRejected("The SAML response is too large.") from None
            try:
                form = parse_qs(raw.decode("ascii", "replace"), max_num_fields=10)
            except ValueError:
                raise SamlRejected("The form has too many fields.") from None
            values = form.get("SAMLResponse")
            if not values:
                raise SamlRejected("The request has no SAMLResponse.")
            relay = (form.get("RelayState") or [""])[0]
            xml = decode_response(values[0])
            base = self.base(request)

            def check(uow: UnitOfWork) -> Accepted:
                return consume(uow, store_id, xml, base=base, now=now)

            accepted = await run_in_threadpool(self.pipeline.store.run, check)
        except SamlRejected as refused:
            await run_in_threadpool(self._record, store_id, None, now, source_ip, user_agent, str(refused))
            return _page(403, "Sign-in refused", str(refused))
        if accepted.instance_arn is None:
            return _page(
                403, "Sign-in refused", "This identity store belongs to no IAM Identity Center instance."
            )
        await run_in_threadpool(self._record, store_id, accepted, now, source_ip, user_agent, None)
        target = _local_path(relay) or "/start/"
        return await run_in_threadpool(
            lambda: sign_in_response(
                self.pipeline.store,
                instance_arn=str(accepted.instance_arn),
                user=accepted.user,
                now=now,
                source_ip=source_ip,
                secure=request.url.scheme == "https",
                via="saml",
                mfa=False,
                not_after=accepted.session_not_on_or_after,
                redirect_to=target,
            )
        )

    def _record(
        self,
        store_id: str,
        accepted: Accepted | None,
        now: datetime,
        source_ip: str,
        user_agent: str,
        refusal: str | None,
    ) -> None:
        trail = self.pipeline.trail
        if trail is None:
            return
        store = self.pipeline.store.run(lambda uow: uow.identity_store.find_store(store_id), readonly=True)
        if store is None:
            return
        user_name = accepted.user.user_name if accepted else None
        identity = (
            identity_center_user(
                account_id=store.account_id,
                user_id=accepted.user.id,
                user_name=user_name,
                store_id=store_id,
                credential_id=accepted.assertion_id,
            )
            if accepted
            else Identity("Unknown", account_id=store.account_id)
        )
        event_id = str(uuid.uuid4())
        record = {
            "eventVersion": "1.09",
            "userIdentity": identity.to_json(),
            "eventTime": cloudtrail_time(now),
            "eventSource": "signin.amazonaws.com",
            "eventName": "ExternalIdPDirectoryLogin",
            "awsRegion": "us-east-1",
            "sourceIPAddress": source_ip,
            "userAgent": user_agent,
            **({"errorMessage": refusal} if refusal else {}),
            "requestParameters": None,
            "responseElements": None,
            "additionalEventData": {
                "IdentityStoreId": store_id,
                "Result": "Failure" if refusal else "Success",
            },
            "requestID": str(uuid.uuid4()),
            "eventID": event_id,
            "readOnly": False,
            "eventType": "AwsServiceEvent",
            "managementEvent": True,
            "recipientAccountId": store.account_id,
            "eventCategory": "Management",
        }
        event = AuditEvent(
            event_id=event_id,
            account_id=store.account_id,
            event_time=now,
            event_name="ExternalIdPDirectoryLogin",
            event_source="signin.amazonaws.com",
            username=user_name,
            access_key_id=None,
            entity_id=None,
            entity_arn=None,
            service="signin",
            region="us-east-1",
            read_only=False,
            error_code="Failed authentication" if refusal else None,
            counts_as_access=False,
            record=record_json(record),
        )
        try:
            trail.writer.submit([event])
        except Exception:
            log.exception("trail: could not queue an ExternalIdPDirectoryLogin event")


def saml_mount(pipeline: Pipeline) -> Mount:
    """The SAML SP's routes, to add to the server's app."""
    app = SamlApp(pipeline)
    return Mount(
        PREFIX,
        routes=[
            Route("/metadata/{store_id}", app.metadata, methods=["GET"]),
            Route("/login/{store_id}", app.login, methods=["GET"]),
            Route("/acs/{store_id}", app.acs, methods=["POST"]),
        ],
    )
