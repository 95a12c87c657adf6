"""Access portal sessions.

Two cookies, both ``HttpOnly``, ``SameSite=Lax`` (the CLI's browser lands on the portal from a
terminal link, and the authorization-code flow comes back through a top-level redirect), ``Secure``
over https:

- ``iamd-portal-signin``: the sign-in in progress, sealed under the key-encryption key (purpose
  ``portal-signin``): the CSRF token, the stage (``anonymous``, ``mfa``, ``register-mfa``), the
  user whose password was accepted, a pending WebAuthn challenge or authenticator-app secret, and
  where to go afterwards. Nothing is stored for a visitor, so unauthenticated traffic writes
  nothing.
- ``iamd-portal``: a signed-in session. Its value is a random secret; the database keeps its
  SHA-256 digest (``sso_portal_sessions``), so that a session ends everywhere at once: at sign
  out, by ``sso`` Logout, at expiry (:data:`PORTAL_SECONDS`, AWS's default of 8 hours), and its
  bearer tokens with it. The CSRF token of a signed-in page derives from the secret.

:func:`start_session` begins a session for an identity-store user once every factor is verified;
the SAML assertion consumer (an external IdP) calls it too, through :func:`sign_in_response`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Final, Literal

from starlette.responses import RedirectResponse, Response

from iamd.secrets.kek import DecryptionError, Kek
from iamd.store.identity_store import IdsUserRecord
from iamd.store.sso_portal import PortalSessionRecord
from iamd.store.store import Store
from iamd.store.unit import UnitOfWork

__all__ = [
    "COOKIE",
    "PORTAL_SECONDS",
    "SIGNIN_COOKIE",
    "SignIn",
    "csrf_of",
    "current_session",
    "digest",
    "open_signin",
    "seal_signin",
    "set_session_cookie",
    "sign_in_response",
    "start_session",
]

COOKIE: Final = "iamd-portal"
SIGNIN_COOKIE: Final = "iamd-portal-signin"
PORTAL_SECONDS: Final = 8 * 3600
"""A portal session: 8 hours, Identity Center's default."""
SIGNIN_SECONDS: Final = 600
"""Between the password and the second factor: ten minutes."""
_PURPOSE: Final = "portal-signin"
_VERSION: Final = 1

Stage = Literal["anonymous", "mfa", "register-mfa"]
_STAGES: Final = ("anonymous", "mfa", "register-mfa")


def digest(secret: str) -> str:
    """The SHA-256 hex digest a secret is stored as."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class SignIn:
    """A sign-in in progress (sealed in :data:`SIGNIN_COOKIE`)."""

    csrf: str
    stage: Stage
    expires_at: int
    instance_arn: str | None = None
    store_id: str | None = None
    user_id: str | None = None
    user_name: str | None = None
    challenge: str | None = None
    """A pending WebAuthn challenge (base64url)."""
    challenge_kind: str | None = None
    seed: str | None = None
    """An authenticator app's secret being registered (base32), shown once."""
    next: str = ""
    """Where to go once signed in (a device approval or an authorization request)."""

    def with_changes(self, **changes: object) -> SignIn:
        return replace(self, **changes)  # type: ignore[arg-type]


def new_signin(now: int, next_path: str = "") -> SignIn:
    return SignIn(
        csrf=secrets.token_urlsafe(24), stage="anonymous", expires_at=now + SIGNIN_SECONDS, next=next_path
    )


def seal_signin(kek: Kek, signin: SignIn) -> str:
    payload = {"v": _VERSION, **asdict(signin)}
    return kek.seal(json.dumps(payload, separators=(",", ":")).encode("utf-8"), purpose=_PURPOSE)


def open_signin(kek: Kek, token: str | None, now: int) -> SignIn | None:
    """The sign-in in ``token``; None when absent, forged, expired or malformed."""
    if not token or len(token) > 8192:
        return None
    try:
        data = json.loads(kek.unseal(token, purpose=_PURPOSE))
    except (DecryptionError, ValueError):
        return None
    if not isinstance(data, dict) or data.pop("v", None) != _VERSION or data.get("stage") not in _STAGES:
        return None
    try:
        signin = SignIn(**data)
    except TypeError:
        return None
    return signin if signin.expires_at > now else None


def csrf_of(secret: str) -> str:
    """The CSRF token of the signed-in session whose cookie is ``secret``."""
    return hmac.new(secret.encode("utf-8"), b"portal-csrf", hashlib.sha256).hexdigest()[:43]


def start_session(
    uow: UnitOfWork,
    *,
    instance_arn: str,
    user: IdsUserRecord,
    via: str,
    mfa: bool,
    now: datetime,
    source_ip: str,
    not_after: datetime | None = None,
) -> tuple[str, PortalSessionRecord]:
    """Begin a portal session for ``user`` of the instance's identity store, every factor
    verified (``via``: ``password`` or ``saml``; ``mfa``: a second factor was used). ``not_after``
    (a SAML assertion's SessionNotOnOrAfter) caps it. Returns the cookie's secret and the record."""
    secret = secrets.token_urlsafe(32)
    expires = now + timedelta(seconds=PORTAL_SECONDS)
    if not_after is not None and not_after < expires:
        expires = not_after
    record = uow.sso_portal.add_session(
        session_id=str(uuid.uuid4()),
        secret_digest=digest(secret),
        instance_arn=instance_arn,
        store_id=user.store_id,
        user_id=user.id,
        user_name=user.user_name,
        via=via,
        mfa=mfa,
        created_at=now,
        expires_at=expires,
        source_ip=source_ip,
    )
    return secret, record


def current_session(uow: UnitOfWork, secret: str | None, now: datetime) -> PortalSessionRecord | None:
    """The live session whose cookie is ``secret`` (None: absent, unknown, expired or ended)."""
    if not secret or len(secret) > 256:
        return None
    record = uow.sso_portal.session_by_secret(digest(secret))
    if record is None or not record.live(now):
        return None
    return record


def set_session_cookie(response: Response, secret: str, *, secure: bool, max_age: int) -> None:
    response.set_cookie(
        COOKIE, secret, max_age=max(1, max_age), path="/", secure=secure, httponly=True, samesite="lax"
    )
    response.delete_cookie(SIGNIN_COOKIE, path="/")


def sign_in_response(
    store: Store,
    *,
    instance_arn: str,
    user: IdsUserRecord,
    now: datetime,
    source_ip: str,
    secure: bool,
    via: str = "saml",
    mfa: bool = False,
    not_after: datetime | None = None,
    redirect_to: str = "/start/",
) -> Response:
    """Sign ``user`` in to the portal and send the browser to ``redirect_to`` (a path of this
    server) with the session's cookie: what an assertion consumer answers once it has verified an
    external IdP's assertion for ``user``."""

    def begin(uow: UnitOfWork) -> tuple[str, PortalSessionRecord]:
        return start_session(
            uow,
            instance_arn=instance_arn,
            user=user,
            via=via,
            mfa=mfa,
            now=now,
            source_ip=source_ip,
            not_after=not_after,
        )

    secret, record = store.run(begin)
    target = redirect_to if redirect_to.startswith("/") and not redirect_to.startswith("//") else "/start/"
    response = RedirectResponse(target, status_code=303)
    lifetime = int((record.expires_at - now).total_seconds())
    set_session_cookie(response, secret, secure=secure, max_age=lifetime)
    return response
