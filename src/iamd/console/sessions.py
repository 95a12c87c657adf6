"""Console sessions: stateless, sealed in a cookie, as STS sessions are in their token.

The cookie holds the session sealed (AES-GCM) under the key-encryption key, for the purpose
``console-session``: any iamd node on the same database opens it, nobody can read or forge it. It
is ``HttpOnly``, ``SameSite=Strict``, scoped to ``/console``, and ``Secure`` when the console is
served over https (iamd behind a TLS-terminating proxy must pass ``X-Forwarded-Proto`` through
uvicorn's proxy headers, or serve https itself, for the flag to be set).

A session moves through stages: ``anonymous`` (a visitor: only a CSRF token), ``mfa`` (password
accepted, second factor due), ``password`` (a new password is due), ``register-mfa`` (a root user
past its MFA deadline: registering a device is all it may do) and ``active``. Each request
re-checks the identity behind it (:mod:`iamd.console.identity`): a deleted user or a changed
password ends every session that was opened with the old one. Signing out forgets the session
on this node and clears the cookie.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Final, Literal

from iamd.secrets.kek import DecryptionError, Kek

__all__ = [
    "COOKIE",
    "PENDING_SECONDS",
    "ROOT_SECONDS",
    "USER_SECONDS",
    "ConsoleSession",
    "Revocations",
    "Stage",
    "anonymous",
    "open_session",
    "seal_session",
]

COOKIE: Final = "iamd-console"
PURPOSE: Final = "console-session"
VERSION: Final = 1
USER_SECONDS: Final = 12 * 3600
"""An IAM user's console session: 12 hours, as AWS's."""
ROOT_SECONDS: Final = 3600
"""The root user's: one hour."""
PENDING_SECONDS: Final = 600
"""Between the password and the second factor (or the new password): ten minutes."""
ANONYMOUS_SECONDS: Final = 3600

Stage = Literal["anonymous", "mfa", "password", "register-mfa", "active"]
_STAGES: Final = ("anonymous", "mfa", "password", "register-mfa", "active")


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    sid: str
    csrf: str
    stage: Stage
    expires_at: int
    account_id: str | None = None
    user_id: str | None = None
    """None with an account: the account's root user."""
    issued_at: int | None = None
    """When the password was accepted (aws:TokenIssueTime)."""
    mfa_at: int | None = None
    """When a second factor was accepted; None without MFA."""
    credential_mark: str | None = None
    """When the password in use was set: a new password ends the session."""
    must_change_password: bool = False
    challenge: str | None = None
    """A pending WebAuthn challenge (base64url)."""
    challenge_kind: str | None = None
    notices: tuple[str, ...] = field(default=())
    label: str = ""
    flash: tuple[str, ...] = field(default=())
    """A message for the next page rendered: kind (ok, error), text, then the reasons."""
    role: dict[str, str] | None = None
    """After "switch role": the assumed role's session (arn, role name, account, session name,
    expiry, display name, color); None: the signed-in identity itself."""
    """Who is signed in, as the header shows it (the user name, or the root user's email)."""

    @property
    def is_root(self) -> bool:
        return self.account_id is not None and self.user_id is None

    @property
    def signed_in(self) -> bool:
        return self.stage != "anonymous" and self.account_id is not None

    def with_changes(self, **changes: object) -> ConsoleSession:
        return replace(self, **changes)  # type: ignore[arg-type]


def _token() -> str:
    return secrets.token_urlsafe(32)


def anonymous(now: int) -> ConsoleSession:
    return ConsoleSession(sid=_token(), csrf=_token(), stage="anonymous", expires_at=now + ANONYMOUS_SECONDS)


def signed_in(
    *,
    account_id: str,
    user_id: str | None,
    stage: Stage,
    now: int,
    credential_mark: str | None,
    must_change_password: bool = False,
    mfa_at: int | None = None,
    label: str = "",
) -> ConsoleSession:
    """A new session (new id and CSRF token: nothing carries over from before the sign-in)."""
    lifetime = ROOT_SECONDS if user_id is None else USER_SECONDS
    return ConsoleSession(
        sid=_token(),
        csrf=_token(),
        stage=stage,
        expires_at=now + (lifetime if stage == "active" else PENDING_SECONDS),
        account_id=account_id,
        user_id=user_id,
        issued_at=now,
        mfa_at=mfa_at,
        credential_mark=credential_mark,
        must_change_password=must_change_password,
        label=label,
    )


def promote(session: ConsoleSession, stage: Stage, now: int, **changes: object) -> ConsoleSession:
    """The session in its next stage, with a new id (the old cookie no longer opens it here)."""
    lifetime = ROOT_SECONDS if session.user_id is None else USER_SECONDS
    expires = (session.issued_at or now) + lifetime if stage == "active" else now + PENDING_SECONDS
    return replace(
        session,
        sid=_token(),
        stage=stage,
        expires_at=expires,
        challenge=None,
        challenge_kind=None,
        **changes,  # type: ignore[arg-type]
    )


def seal_session(kek: Kek, session: ConsoleSession) -> str:
    payload = {"v": VERSION, **asdict(session)}
    payload["notices"] = list(session.notices)
    payload["flash"] = list(session.flash)
    return kek.seal(json.dumps(payload, separators=(",", ":")).encode("utf-8"), purpose=PURPOSE)


def open_session(kek: Kek, token: str | None, now: int, revocations: Revocations) -> ConsoleSession | None:
    """The session in ``token``; None when absent, forged, expired, malformed or revoked."""
    if not token or len(token) > 8192:
        return None
    try:
        data = json.loads(kek.unseal(token, purpose=PURPOSE))
    except (DecryptionError, ValueError):
        return None
    if not isinstance(data, dict) or data.pop("v", None) != VERSION or data.get("stage") not in _STAGES:
        return None
    try:
        data["notices"] = tuple(data.get("notices") or ())
        data["flash"] = tuple(str(x) for x in data.get("flash") or ())
        session = ConsoleSession(**data)
    except TypeError:
        return None
    if session.expires_at <= now or revocations.revoked(session.sid):
        return None
    return session


class Revocations:
    """Session ids signed out (or replaced) on this node, remembered until they would expire."""

    def __init__(self, limit: int = 100_000) -> None:
        self._ids: dict[str, int] = {}
        self._limit = limit
        self._lock = threading.Lock()

    def revoke(self, sid: str, expires_at: int) -> None:
        with self._lock:
            self._ids[sid] = expires_at
            if len(self._ids) > self._limit:
                now = int(time.time())
                self._ids = {k: v for k, v in self._ids.items() if v > now}
                while len(self._ids) > self._limit:
                    self._ids.pop(next(iter(self._ids)))

    def revoked(self, sid: str) -> bool:
        with self._lock:
            return sid in self._ids
