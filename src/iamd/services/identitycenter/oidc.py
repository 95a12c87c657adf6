"""``sso-oidc``: the OAuth 2.0 side of the access portal that the AWS CLI v2 and botocore's SSO token
provider use (spec identity_center.md §6, §7.3, §7.4).

- RegisterClient: a public client, its secret good for 90 days. Unauthenticated, so every input is
  bounded and registrations are capped (each source address a few a minute, all of them
  :data:`~iamd.store.sso_portal.MAX_CLIENTS` unexpired).
- StartDeviceAuthorization (RFC 8628): a device code (a bearer secret, stored as its digest) and a
  user code ``ABCD-EFGH`` that the person confirms at ``{base}/start/device``; 10 minutes, polled
  every second.
- CreateToken: the ``device_code`` grant answers AuthorizationPendingException until the person
  approves, SlowDownException when polled faster than the interval (which then grows by 5 s, as
  RFC 8628 says), ExpiredTokenException after 10 minutes, AccessDeniedException when the person
  denied it; the ``authorization_code`` grant checks the PKCE verifier (S256) and the redirect URI
  against those of the authorization the person approved at ``{base}/authorize``; the
  ``refresh_token`` grant rotates the refresh token. A code is exchanged once.
- CreateTokenWithIAM is for applications with IAM-authenticated grants, which iamd does not host:
  it answers InvalidClientException saying so.

Tokens: with a refresh token (a client that registered scopes, the ``sso-session`` form, or the
``refresh_token`` grant) the access token lasts an hour and the refresh token as long as the portal
session; without, the access token lasts as long as the portal session (spec §6.3). Every token ends
with its portal session (sign out, ``sso`` Logout, expiry).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

from iamd.secrets.compare import constant_time_equals
from iamd.services.framework import OperationContext, operation
from iamd.store.sso_portal import MAX_CLIENTS, MAX_PENDING, AuthorizationRecord, ClientRecord, TokenRecord
from iamd.store.unit import UnitOfWork
from iamd.wire import AwsError, load_service_model, modeled_error

__all__ = [
    "AUTHORIZATION_CODE",
    "DEVICE_CODE",
    "REFRESH_TOKEN",
    "approve_code",
    "bearer_digest",
    "check_redirect",
    "issue_token",
    "new_user_code",
    "oidc_error",
]

SERVICE: Final = "sso-oidc"
DEVICE_CODE: Final = "urn:ietf:params:oauth:grant-type:device_code"
AUTHORIZATION_CODE: Final = "authorization_code"
REFRESH_TOKEN: Final = "refresh_token"
GRANT_TYPES: Final = (AUTHORIZATION_CODE, DEVICE_CODE, REFRESH_TOKEN)
CLIENT_SECONDS: Final = 90 * 24 * 3600
DEVICE_SECONDS: Final = 600
CODE_SECONDS: Final = 300
ACCESS_SECONDS: Final = 3600
"""An access token that comes with a refresh token lasts an hour (spec §6.3)."""
INTERVAL: Final = 1
SLOW_DOWN_STEP: Final = 5
MAX_NAME: Final = 128
MAX_TEXT: Final = 1024
MAX_SECRET: Final = 4096
MAX_LIST: Final = 20
REGISTRATIONS_PER_MINUTE: Final = 30
"""RegisterClient calls one source address may make per minute."""
USER_CODE_ALPHABET: Final = "BCDFGHJKLMNPQRSTVWXZ"
"""Consonants only (RFC 8628 §6.1: no vowels, so no words), 20**8 codes."""
_CODE_CHARS: Final = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def oidc_error(shape: str, message: str) -> AwsError:
    """An sso-oidc error: the modeled exception, its body's ``error`` (the OAuth code) and
    ``error_description`` as AWS sends them, and the ``message`` botocore reads."""
    code = {
        "AuthorizationPendingException": "authorization_pending",
        "SlowDownException": "slow_down",
        "ExpiredTokenException": "expired_token",
        "AccessDeniedException": "access_denied",
        "InvalidGrantException": "invalid_grant",
        "InvalidClientException": "invalid_client",
        "UnauthorizedClientException": "unauthorized_client",
        "UnsupportedGrantTypeException": "unsupported_grant_type",
        "InvalidScopeException": "invalid_scope",
        "InvalidRequestException": "invalid_request",
        "InvalidClientMetadataException": "invalid_client_metadata",
        "InvalidRedirectUriException": "invalid_redirect_uri",
        "InternalServerException": "server_error",
    }[shape]
    return modeled_error(load_service_model(SERVICE), shape, message, error=code, error_description=message)


def bearer_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _text(params: dict[str, Any], name: str, limit: int, *, required: bool = False) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise oidc_error("InvalidRequestException", f"{name} is required.")
        return None
    text = str(value)
    if len(text) > limit:
        raise oidc_error("InvalidRequestException", f"{name} must be at most {limit} characters.")
    return text


def _list(params: dict[str, Any], name: str, limit: int) -> list[str]:
    values = [str(v) for v in params.get(name) or []]
    if len(values) > MAX_LIST:
        raise oidc_error("InvalidRequestException", f"{name} may hold at most {MAX_LIST} values.")
    for value in values:
        if not value or len(value) > limit:
            raise oidc_error("InvalidRequestException", f"Each of {name} must be 1 to {limit} characters.")
    return list(dict.fromkeys(values))


class _Registrations:
    """RegisterClient calls per source address in the last minute (per node)."""

    def __init__(self) -> None:
        self._seen: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, source: str, now: float) -> bool:
        with self._lock:
            recent = [t for t in self._seen.pop(source, []) if now - t < 60]
            allowed = len(recent) < REGISTRATIONS_PER_MINUTE
            if allowed:
                recent.append(now)
            self._seen[source] = recent
            while len(self._seen) > 50_000:
                self._seen.popitem(last=False)
            return allowed

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()


registrations = _Registrations()


def _client(ctx: OperationContext, params: dict[str, Any]) -> ClientRecord:
    """The registered client the request names, its secret checked in constant time."""
    client_id = _text(params, "clientId", MAX_NAME, required=True) or ""
    secret = _text(params, "clientSecret", MAX_SECRET, required=True) or ""
    client = ctx.uow.sso_portal.find_client(client_id)
    expected = client.secret_digest if client is not None else "0" * 64
    matches = constant_time_equals(expected, bearer_digest(secret))
    if client is None or not matches:
        raise oidc_error("InvalidClientException", "The client id or client secret is invalid.")
    if client.expires_at <= ctx.now:
        raise oidc_error("InvalidClientException", "The client registration has expired; register again.")
    return client


def check_redirect(client: ClientRecord, redirect_uri: str) -> bool:
    """Whether ``redirect_uri`` is one the client registered. A loopback redirect registered
    without a port (``http://127.0.0.1/oauth/callback``, as the AWS CLI registers it) matches any
    port (RFC 8252 §7.3)."""
    try:
        wanted = urlsplit(redirect_uri)
        port = wanted.port
    except ValueError:
        return False
    for registered in client.redirect_uris:
        if registered == redirect_uri:
            return True
        try:
            known = urlsplit(registered)
            known_port = known.port
        except ValueError:
            continue
        loopback = known.hostname in ("127.0.0.1", "::1", "localhost")
        if (
            loopback
            and known_port is None
            and port is not None
            and known.scheme == wanted.scheme == "http"
            and known.hostname == wanted.hostname
            and known.path == wanted.path
            and not wanted.query
            and not wanted.fragment
        ):
            return True
    return False


@operation(SERVICE, "RegisterClient")
def register_client(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorized = True  # a public client registers itself
    name = _text(params, "clientName", MAX_NAME, required=True) or ""
    client_type = _text(params, "clientType", 16, required=True)
    if client_type != "public":
        raise oidc_error("InvalidClientMetadataException", "Only the client type 'public' is supported.")
    scopes = _list(params, "scopes", 256)
    grant_types = _list(params, "grantTypes", 64)
    for grant in grant_types:
        if grant not in GRANT_TYPES:
            raise oidc_error("UnsupportedGrantTypeException", f"The grant type {grant} is not supported.")
    redirect_uris = _list(params, "redirectUris", MAX_TEXT)
    for uri in redirect_uris:
        parts = urlsplit(uri)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise oidc_error("InvalidRedirectUriException", f"The redirect URI {uri[:200]} is not a URL.")
    if AUTHORIZATION_CODE in grant_types and not redirect_uris:
        raise oidc_error("InvalidRedirectUriException", "The authorization_code grant needs a redirect URI.")
    issuer_url = _text(params, "issuerUrl", MAX_TEXT)
    _text(params, "entitledApplicationArn", MAX_TEXT)
    if not registrations.allow(ctx.info.source_ip, time.monotonic()):
        raise oidc_error("SlowDownException", "Too many client registrations from this address; wait.")
    if ctx.uow.sso_portal.count_clients(ctx.now) >= MAX_CLIENTS:
        raise oidc_error("SlowDownException", "Too many clients are registered; try again later.")
    client_id = secrets.token_urlsafe(24)
    secret = secrets.token_urlsafe(96)
    issued = int(ctx.now.timestamp())
    record = ctx.uow.sso_portal.add_client(
        client_id=client_id,
        secret_digest=bearer_digest(secret),
        client_name=name,
        client_type="public",
        scopes=scopes,
        grant_types=grant_types,
        redirect_uris=redirect_uris,
        issuer_url=issuer_url,
        source_ip=ctx.info.source_ip,
        created_at=ctx.now,
        expires_at=ctx.now + timedelta(seconds=CLIENT_SECONDS),
    )
    base = ctx.info.base_url
    return {
        "clientId": record.client_id,
        "clientSecret": secret,
        "clientIdIssuedAt": issued,
        "clientSecretExpiresAt": issued + CLIENT_SECONDS,
        "authorizationEndpoint": f"{base}/authorize",
        "tokenEndpoint": f"{base}/token",
    }


def new_user_code() -> str:
    chars = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(8))
    return f"{chars[:4]}-{chars[4:]}"


@operation(SERVICE, "StartDeviceAuthorization")
def start_device_authorization(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorized = True  # authenticated by the client's secret
    client = _client(ctx, params)
    start_url = _text(params, "startUrl", MAX_TEXT, required=True)
    if ctx.uow.sso_portal.count_pending(ctx.now) >= MAX_PENDING:
        raise oidc_error("SlowDownException", "Too many device authorizations are pending; try again later.")
    device_code = secrets.token_urlsafe(48)
    user_code = new_user_code()
    while ctx.uow.sso_portal.authorization_by_user_code(user_code) is not None:
        user_code = new_user_code()
    ctx.uow.sso_portal.add_authorization(
        id=str(uuid.uuid4()),
        kind="device",
        client_id=client.client_id,
        code_digest=bearer_digest(device_code),
        user_code=user_code,
        start_url=start_url,
        scopes=list(client.scopes),
        redirect_uri=None,
        state=None,
        code_challenge=None,
        instance_arn=None,
        portal_session_id=None,
        interval=INTERVAL,
        created_at=ctx.now,
        expires_at=ctx.now + timedelta(seconds=DEVICE_SECONDS),
    )
    verification = f"{ctx.info.base_url}/start/device"
    return {
        "deviceCode": device_code,
        "userCode": user_code,
        "verificationUri": verification,
        "verificationUriComplete": f"{verification}?user_code={user_code}",
        "expiresIn": DEVICE_SECONDS,
        "interval": INTERVAL,
    }


def approve_code(
    uow: UnitOfWork,
    client: ClientRecord,
    *,
    redirect_uri: str,
    code_challenge: str,
    scopes: list[str],
    state: str | None,
    instance_arn: str,
    portal_session_id: str,
    now: datetime,
) -> str:
    """The authorization code for what the signed-in person approved at ``/authorize`` (the
    portal calls this); exchanged once, within five minutes, with the PKCE verifier."""
    code = secrets.token_urlsafe(48)
    record = uow.sso_portal.add_authorization(
        id=str(uuid.uuid4()),
        kind="code",
        client_id=client.client_id,
        code_digest=bearer_digest(code),
        user_code=None,
        start_url=client.issuer_url,
        scopes=scopes,
        redirect_uri=redirect_uri,
        state=state,
        code_challenge=code_challenge,
        instance_arn=None,
        portal_session_id=None,
        interval=INTERVAL,
        created_at=now,
        expires_at=now + timedelta(seconds=CODE_SECONDS),
    )
    uow.sso_portal.decide(
        record.id, approved=True, instance_arn=instance_arn, portal_session_id=portal_session_id
    )
    return code


def issue_token(
    uow: UnitOfWork, client: ClientRecord, portal_session_id: str, scopes: list[str], now: datetime
) -> dict[str, Any]:
    """An access token (and a refresh token when the client may refresh) for a portal session."""
    session = uow.sso_portal.find_session(portal_session_id)
    if session is None or not session.live(now):
        raise oidc_error("InvalidGrantException", "The portal session that approved this has ended.")
    refreshable = REFRESH_TOKEN in client.grant_types or bool(client.scopes)
    session_left = session.expires_at - now
    lifetime = min(timedelta(seconds=ACCESS_SECONDS), session_left) if refreshable else session_left
    access = "aoa" + secrets.token_urlsafe(96)
    refresh = "aor" + secrets.token_urlsafe(96) if refreshable else None
    uow.sso_portal.add_token(
        token_id=str(uuid.uuid4()),
        access_digest=bearer_digest(access),
        refresh_digest=bearer_digest(refresh) if refresh else None,
        client_id=client.client_id,
        portal_session_id=session.id,
        scopes=scopes,
        created_at=now,
        expires_at=now + lifetime,
        refresh_expires_at=session.expires_at if refresh else None,
    )
    out: dict[str, Any] = {
        "accessToken": access,
        "tokenType": "Bearer",
        "expiresIn": max(1, int(lifetime.total_seconds())),
    }
    if refresh:
        out["refreshToken"] = refresh
    return out


def _device_grant(ctx: OperationContext, client: ClientRecord, params: dict[str, Any]) -> dict[str, Any]:
    device_code = _text(params, "deviceCode", MAX_SECRET, required=True) or ""
    found = ctx.uow.sso_portal.authorization_by_code(bearer_digest(device_code))
    if found is None or found.kind != "device" or not constant_time_equals(found.client_id, client.client_id):
        raise oidc_error("InvalidGrantException", "The device code is invalid.")
    if found.expires_at <= ctx.now:
        raise oidc_error("ExpiredTokenException", "The device code has expired.")
    if found.status == "denied":
        raise oidc_error("AccessDeniedException", "The request was denied in the access portal.")
    if found.status == "used":
        raise oidc_error("InvalidGrantException", "The device code was exchanged already.")
    if found.status == "pending":
        _poll(ctx, found)
        raise oidc_error("AuthorizationPendingException", "Authorization is still pending")
    if not ctx.uow.sso_portal.use_authorization(found.id) or found.portal_session_id is None:
        raise oidc_error("InvalidGrantException", "The device code was exchanged already.")
    return issue_token(ctx.uow, client, found.portal_session_id, list(found.scopes), ctx.now)


class _Polls:
    """When each pending device code was last polled, and its interval (per node: a refused poll
    rolls its transaction back, so this cannot live in the database)."""

    def __init__(self) -> None:
        self._seen: OrderedDict[str, tuple[datetime, int]] = OrderedDict()
        self._lock = threading.Lock()

    def poll(self, authorization_id: str, now: datetime) -> bool:
        """Record a poll; False when it came sooner than the interval (which then grows)."""
        with self._lock:
            last = self._seen.pop(authorization_id, None)
            interval = last[1] if last is not None else INTERVAL
            too_soon = last is not None and (now - last[0]).total_seconds() < interval
            if too_soon:
                interval += SLOW_DOWN_STEP
            self._seen[authorization_id] = (now, interval)
            while len(self._seen) > MAX_PENDING:
                self._seen.popitem(last=False)
            return not too_soon

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()


polls = _Polls()


def _poll(ctx: OperationContext, found: AuthorizationRecord) -> None:
    """A poll of a pending device code: SlowDownException when it came sooner than the interval,
    which then grows by five seconds (RFC 8628 §3.5)."""
    if not polls.poll(found.id, ctx.now):
        raise oidc_error("SlowDownException", "Client is polling too fast; slow down.")


def _code_grant(ctx: OperationContext, client: ClientRecord, params: dict[str, Any]) -> dict[str, Any]:
    code = _text(params, "code", MAX_SECRET, required=True) or ""
    redirect_uri = _text(params, "redirectUri", MAX_TEXT, required=True) or ""
    verifier = _text(params, "codeVerifier", 128, required=True) or ""
    found = ctx.uow.sso_portal.authorization_by_code(bearer_digest(code))
    if found is None or found.kind != "code" or not constant_time_equals(found.client_id, client.client_id):
        raise oidc_error("InvalidGrantException", "The authorization code is invalid.")
    if found.expires_at <= ctx.now:
        raise oidc_error("InvalidGrantException", "The authorization code has expired.")
    if found.redirect_uri != redirect_uri:
        raise oidc_error("InvalidGrantException", "The redirect URI is not the authorization's.")
    if not _CODE_CHARS.fullmatch(verifier):
        raise oidc_error("InvalidGrantException", "The code verifier must be 43-128 unreserved characters.")
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=")
    if not constant_time_equals(found.code_challenge or "", challenge.decode("ascii")):
        raise oidc_error("InvalidGrantException", "The code verifier does not match the code challenge.")
    if not ctx.uow.sso_portal.use_authorization(found.id) or found.portal_session_id is None:
        raise oidc_error("InvalidGrantException", "The authorization code was exchanged already.")
    return issue_token(ctx.uow, client, found.portal_session_id, list(found.scopes), ctx.now)


def _refresh_grant(ctx: OperationContext, client: ClientRecord, params: dict[str, Any]) -> dict[str, Any]:
    refresh = _text(params, "refreshToken", MAX_SECRET, required=True) or ""
    found: TokenRecord | None = ctx.uow.sso_portal.token_by_refresh(bearer_digest(refresh))
    if found is None or not constant_time_equals(found.client_id, client.client_id):
        raise oidc_error("InvalidGrantException", "The refresh token is invalid.")
    if found.revoked_at is not None:
        raise oidc_error("InvalidGrantException", "The refresh token was used or revoked.")
    if found.refresh_expires_at is None or found.refresh_expires_at <= ctx.now:
        raise oidc_error("ExpiredTokenException", "The refresh token has expired; sign in again.")
    if not ctx.uow.sso_portal.revoke_token(found.id, ctx.now):
        raise oidc_error("InvalidGrantException", "The refresh token was used or revoked.")
    return issue_token(ctx.uow, client, found.portal_session_id, list(found.scopes), ctx.now)


@operation(SERVICE, "CreateToken")
def create_token(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorized = True  # authenticated by the client's secret and the grant
    client = _client(ctx, params)
    grant = _text(params, "grantType", 64, required=True)
    _text(params, "scope", MAX_TEXT)  # accepted, no effect (the registration's scopes apply)
    if grant not in GRANT_TYPES:
        raise oidc_error("UnsupportedGrantTypeException", f"Grant type {str(grant)[:64]} is not supported.")
    if client.grant_types and grant not in client.grant_types:
        raise oidc_error("UnauthorizedClientException", f"The client did not register the {grant} grant.")
    if grant == DEVICE_CODE:
        return _device_grant(ctx, client, params)
    if grant == AUTHORIZATION_CODE:
        return _code_grant(ctx, client, params)
    return _refresh_grant(ctx, client, params)


@operation(SERVICE, "CreateTokenWithIAM")
def create_token_with_iam(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    """For customer-managed applications with trusted token issuers, which iamd does not host."""
    ctx.authorize("sso-oauth:CreateTokenWithIAM", "*")
    raise oidc_error(
        "InvalidClientException",
        "CreateTokenWithIAM needs an Identity Center application (clientId is its ARN); iamd hosts no "
        "customer-managed applications. Use CreateToken with a registered client.",
    )
