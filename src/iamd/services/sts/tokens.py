"""Session credentials: ``ASIA…`` key ids that name their account, and sealed session tokens.

A session token *is* the session (ARCHITECTURE.md, "Stateless sessions"): everything a request
signed with the session needs — who it is, until when, its session policies and tags, its source
identity, MFA state and issue time, the secret access key — is serialized, compressed and sealed
with the server's key-encryption key (:meth:`iamd.secrets.kek.Kek.seal`, purpose ``sts-session``,
AES-256-GCM). Any iamd node holding the key verifies any token without a database read; a token
that was altered, made under another key or for another purpose does not open.

Sealed payload (bytes)::

    format (1 byte) | length of the body (4 bytes) | body | padding

The body is zlib(JSON) (format 0x01) or, for a session of at most :data:`RAW_LIMIT` bytes of JSON,
the JSON itself (format 0x02): compressing a small session saved a few dozen bytes of token for
more CPU than the rest of sealing it (see :func:`seal_session`). Both open.

Padding (random bytes) only makes a token as long as ``MinimumSessionTokenSize`` asks.

Access key ids carry their account the way AWS's do: base32-decode the 16 characters after the
prefix; bits 46..7 of the first six bytes are the account number (``account_of_key_id``).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from iamd.secrets.ids import IdSource
from iamd.secrets.kek import Kek, KekError
from iamd.services.framework import Caller

__all__ = [
    "MAX_TOKEN_SIZE",
    "PACKED_LIMIT",
    "PURPOSE",
    "InvalidSessionToken",
    "Session",
    "SessionCaller",
    "account_of_key_id",
    "packed_policy_size",
    "seal_session",
    "session_access_key_id",
    "unseal_session",
]

PURPOSE: Final = "sts-session"
FORMAT: Final = 1
"""The payload's first byte when its body is zlib(JSON)."""
RAW_FORMAT: Final = 2
"""The payload's first byte when its body is the JSON itself."""
RAW_LIMIT: Final = 512
"""Sessions of at most this many bytes of JSON are sealed uncompressed (:data:`RAW_FORMAT`)."""
PACKED_LIMIT: Final = 2048
"""Bytes that the compressed session policies, policy ARNs and session tags may take together;
``PackedPolicySize`` is their share of it in percent (AWS's "packed binary format" limit)."""
MAX_TOKEN_SIZE: Final = 8192
"""The largest session token iamd issues (``SessionTokenUtilization`` is a share of it)."""

ROLE: Final = "role"
FEDERATED: Final = "federated"
USER: Final = "user"
ROOT: Final = "root"
_KINDS: Final = frozenset({ROLE, FEDERATED, USER, ROOT})
_ACCOUNT_MASK: Final = 0x7FFFFFFFFF80
_HEADER: Final = 5
_SEAL_OVERHEAD: Final = 1 + 4 + 12 + 16  # kek format byte, key id, nonce, GCM tag


class InvalidSessionToken(Exception):
    """The token does not open (tampered, foreign key, wrong purpose) or is not a session."""


@dataclass(frozen=True, slots=True)
class Session:
    """One STS session, as sealed in its token. Times are seconds since the epoch (UTC)."""

    kind: str
    """``role`` (AssumeRole*), ``federated`` (GetFederationToken), ``user`` or ``root``
    (GetSessionToken)."""
    account_id: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    issued_at: int
    expires_at: int
    role_id: str | None = None
    role_name: str | None = None
    role_path: str | None = None
    session_name: str | None = None
    """The role session name, or the federated user's name."""
    user_id: str | None = None
    """GetSessionToken: the user; GetFederationToken: the IAM user who federated (None for root)."""
    user_name: str | None = None
    user_path: str | None = None
    policy: str | None = None
    """The inline session policy."""
    policy_arns: tuple[str, ...] = ()
    """Managed session policies, resolved when the session is used."""
    tags: tuple[tuple[str, str], ...] = ()
    """Session tags, inherited transitive tags included (aws:PrincipalTag/…)."""
    transitive_tag_keys: tuple[str, ...] = ()
    source_identity: str | None = None
    mfa: bool = False
    mfa_at: int | None = None
    chained: bool = False
    """Created by AssumeRole with a role session's credentials (role chaining: at most an hour)."""
    source_arn: str | None = None
    """Who created the session: the caller's ARN, or the identity provider's for federation."""
    federated_provider: str | None = None
    """The OIDC or SAML provider ARN of a web identity or SAML session."""
    assumed_root: bool = False
    """A root session of a member account from sts:AssumeRoot (aws:AssumedRoot)."""

    @property
    def is_role(self) -> bool:
        return self.kind == ROLE

    @property
    def has_session_policies(self) -> bool:
        return self.policy is not None or bool(self.policy_arns)

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:role{self.role_path or '/'}{self.role_name}"

    @property
    def arn(self) -> str:
        """The caller's ARN: the assumed-role or federated-user session, or the user / root."""
        if self.kind == ROLE:
            return f"arn:aws:sts::{self.account_id}:assumed-role/{self.role_name}/{self.session_name}"
        if self.kind == FEDERATED:
            return f"arn:aws:sts::{self.account_id}:federated-user/{self.session_name}"
        if self.kind == USER:
            return f"arn:aws:iam::{self.account_id}:user{self.user_path or '/'}{self.user_name}"
        return f"arn:aws:iam::{self.account_id}:root"

    @property
    def user_arn(self) -> str | None:
        if self.user_name is None:
            return None
        return f"arn:aws:iam::{self.account_id}:user{self.user_path or '/'}{self.user_name}"

    @property
    def unique_id(self) -> str:
        """aws:userid: ``ROLEID:session``, ``ACCOUNT:name``, the user id, or the account id."""
        if self.kind == ROLE:
            return f"{self.role_id}:{self.session_name}"
        if self.kind == FEDERATED:
            return f"{self.account_id}:{self.session_name}"
        if self.kind == USER:
            return str(self.user_id)
        return self.account_id

    def transitive_tags(self) -> dict[str, str]:
        """The tags this session hands on to the sessions it creates (role chaining)."""
        keys = {k.lower() for k in self.transitive_tag_keys}
        return {k: v for k, v in self.tags if k.lower() in keys}


@dataclass(frozen=True, slots=True)
class SessionCaller(Caller):
    """A caller signing with session credentials: the ``Caller`` policies see, and its session."""

    session: Session | None = None


# -- access key ids ------------------------------------------------------------------------------


def session_access_key_id(ids: IdSource, account_id: str) -> str:
    """A new ``ASIA…`` id (random, from ``ids``) whose bits name ``account_id``, as AWS's do."""
    drawn = ids.session_access_key_id()
    raw = bytearray(base64.b32decode(drawn[4:]))
    head = int.from_bytes(raw[:6], "big")
    head = (head & ~_ACCOUNT_MASK) | (int(account_id) << 7)
    raw[:6] = head.to_bytes(6, "big")
    return "ASIA" + base64.b32encode(bytes(raw)).decode("ascii")


def account_of_key_id(key_id: str) -> str | None:
    """The account an ``AKIA``/``ASIA`` id names in its bits (None when it is not such an id)."""
    if len(key_id) != 20 or not key_id[:4].isalpha():
        return None
    try:
        raw = base64.b32decode(key_id[4:])
    except (binascii.Error, ValueError):
        return None
    number = (int.from_bytes(raw[:6], "big") & _ACCOUNT_MASK) >> 7
    return f"{number:012d}"


# -- sealing -------------------------------------------------------------------------------------


def _compact(session: Session) -> dict[str, Any]:
    out: dict[str, Any] = {
        "t": session.kind,
        "a": session.account_id,
        "k": session.access_key_id,
        "s": session.secret_access_key,
        "i": session.issued_at,
        "e": session.expires_at,
    }
    optional: dict[str, object] = {
        "ri": session.role_id,
        "rn": session.role_name,
        "rp": session.role_path,
        "sn": session.session_name,
        "u": session.user_id,
        "un": session.user_name,
        "up": session.user_path,
        "p": session.policy,
        "pa": list(session.policy_arns),
        "tg": [list(pair) for pair in session.tags],
        "tt": list(session.transitive_tag_keys),
        "si": session.source_identity,
        "m": session.mfa or None,
        "ma": session.mfa_at,
        "c": session.chained or None,
        "sa": session.source_arn,
        "fp": session.federated_provider,
        "ar": session.assumed_root or None,
    }
    out.update({k: v for k, v in optional.items() if v is not None and v != []})
    return out


def _text(data: Mapping[str, Any], key: str, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise InvalidSessionToken(f"session field {key} is not text")
    return value


def _texts(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidSessionToken(f"session field {key} is not a list of text")
    return tuple(value)


def _int(data: Mapping[str, Any], key: str, required: bool = False) -> int | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidSessionToken(f"session field {key} is not a number")
    return value


def _from_compact(data: Any) -> Session:
    if not isinstance(data, dict):
        raise InvalidSessionToken("a session is a JSON object")
    kind = _text(data, "t", True)
    if kind not in _KINDS:
        raise InvalidSessionToken(f"unknown session kind {kind!r}")
    tags_raw = data.get("tg", [])
    if not isinstance(tags_raw, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in tags_raw
    ):
        raise InvalidSessionToken("session tags are not key/value pairs")
    return Session(
        kind=str(kind),
        account_id=str(_text(data, "a", True)),
        access_key_id=str(_text(data, "k", True)),
        secret_access_key=str(_text(data, "s", True)),
        issued_at=int(_int(data, "i", True) or 0),
        expires_at=int(_int(data, "e", True) or 0),
        role_id=_text(data, "ri"),
        role_name=_text(data, "rn"),
        role_path=_text(data, "rp"),
        session_name=_text(data, "sn"),
        user_id=_text(data, "u"),
        user_name=_text(data, "un"),
        user_path=_text(data, "up"),
        policy=_text(data, "p"),
        policy_arns=_texts(data, "pa"),
        tags=tuple((k, v) for k, v in tags_raw),
        transitive_tag_keys=_texts(data, "tt"),
        source_identity=_text(data, "si"),
        mfa=bool(data.get("m", False)),
        mfa_at=_int(data, "ma"),
        chained=bool(data.get("c", False)),
        source_arn=_text(data, "sa"),
        federated_provider=_text(data, "fp"),
        assumed_root=bool(data.get("ar", False)),
    )


def _token_length(payload_size: int) -> int:
    return math.ceil((payload_size + _SEAL_OVERHEAD) * 4 / 3)


def _compress(data: bytes) -> bytes:
    """zlib at level 6, as ``zlib.compress`` does it but with a window just large enough for
    ``data`` and a smaller hash table (not the same bytes: the header names the window; as small
    for the sessions measured, 135 and 1,062 bytes for 180 bytes and 3 KiB of session):
    ``zlib.compress`` sets up 256 KiB of state for each call, which took 70-80 µs for a
    session of 200 bytes (a tenth of an AssumeRole's CPU), against 7 µs. Any zlib reader opens
    it (the window's size is in its header)."""
    window = min(15, max(9, (len(data) - 1).bit_length()))
    compressor = zlib.compressobj(6, zlib.DEFLATED, window, 4)
    return compressor.compress(data) + compressor.flush()


def seal_session(kek: Kek, session: Session, *, min_size: int = 0) -> str:
    """The session token for ``session``: at least ``min_size`` characters long.

    A session of at most :data:`RAW_LIMIT` bytes of JSON (a role's session without large
    policies or many tags: about 200 bytes) goes in uncompressed. Compressing it saved 40 bytes
    of its 200 (53 characters of a 320-character token) and cost 30-80 µs of CPU on the
    server's event loop per AssumeRole (zlib gives up Python's interpreter lock while it
    works, and another thread's turn came in between): more than sealing the rest."""
    data = json.dumps(_compact(session), separators=(",", ":")).encode("utf-8")
    kind, body = (RAW_FORMAT, data) if len(data) <= RAW_LIMIT else (FORMAT, _compress(data))
    payload = bytes([kind]) + len(body).to_bytes(4, "big") + body
    if min_size > 0:
        missing = 0
        while _token_length(len(payload) + missing) < min_size:
            missing += 1
        payload += os.urandom(missing)
    return kek.seal(payload, purpose=PURPOSE)


def unseal_session(kek: Kek, token: str) -> Session:
    """The session a token holds; InvalidSessionToken when it does not open or is malformed."""
    try:
        payload = kek.unseal(token, purpose=PURPOSE)
    except KekError as exc:
        raise InvalidSessionToken(str(exc)) from exc
    if len(payload) < _HEADER or payload[0] not in (FORMAT, RAW_FORMAT):
        raise InvalidSessionToken("unknown session token format")
    size = int.from_bytes(payload[1:_HEADER], "big")
    body = payload[_HEADER : _HEADER + size]
    try:
        data = json.loads(zlib.decompress(body) if payload[0] == FORMAT else body)
    except (zlib.error, ValueError) as exc:
        raise InvalidSessionToken("malformed session") from exc
    return _from_compact(data)


def packed_policy_size(
    policy: str | None, policy_arns: Sequence[str], tags: Sequence[tuple[str, str]] | Mapping[str, str]
) -> int:
    """PackedPolicySize: the compressed session policies and tags as a percentage of the limit."""
    pairs = list(tags.items()) if isinstance(tags, Mapping) else list(tags)
    if policy is None and not policy_arns and not pairs:
        return 0
    packed = json.dumps([policy, list(policy_arns), pairs], separators=(",", ":")).encode("utf-8")
    return math.ceil(len(zlib.compress(packed, 9)) * 100 / PACKED_LIMIT)
