"""SCIM bearer tokens: made by ``iamd sso scim-token``, shown once, kept as a SHA-256 digest.

A token is ``<id>.<secret>``: the id (32 hex digits) finds the stored digest, and the whole token's
digest is compared in constant time. Tokens live a year, as IAM Identity Center's do; a store has
at most two, so one can be rotated without a gap (create a second, switch the IdP, delete the
first)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from iamd.secrets.compare import constant_time_equals
from iamd.store.identity_credentials import ScimTokenRecord
from iamd.store.unit import UnitOfWork

__all__ = ["LIFETIME", "NewToken", "check_token", "create_token", "digest"]

LIFETIME: Final = timedelta(days=365)
_ID_LENGTH: Final = 32
_MAX_TOKEN: Final = 512


@dataclass(frozen=True, slots=True)
class NewToken:
    id: str
    token: str
    expires_at: datetime


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(uow: UnitOfWork, store_id: str, *, now: datetime) -> NewToken:
    """A new token for ``store_id`` (:class:`~iamd.store.identity_credentials.TooMany` past two)."""
    token_id = secrets.token_hex(_ID_LENGTH // 2)
    token = f"{token_id}.{secrets.token_urlsafe(32)}"
    expires = now + LIFETIME
    uow.identity_credentials.add_scim_token(
        store_id, token_id=token_id, token_digest=digest(token), created_at=now, expires_at=expires
    )
    return NewToken(token_id, token, expires)


def check_token(uow: UnitOfWork, token: str, *, now: datetime) -> ScimTokenRecord | None:
    """The stored token ``token`` is, while it has not expired; else None."""
    if len(token) > _MAX_TOKEN or "." not in token:
        return None
    token_id = token.split(".", 1)[0]
    if len(token_id) != _ID_LENGTH:
        return None
    record = uow.identity_credentials.find_scim_token(token_id)
    if record is None:
        constant_time_equals(digest(token), "0" * 64)  # the same work either way
        return None
    if not constant_time_equals(digest(token), record.token_digest) or record.expires_at <= now:
        return None
    return record
