"""Whose credential an operation acts on, and listings held in memory.

Many credential operations (access keys, signing certificates, login profiles, …) take an optional
``UserName``: without it, IAM acts on the caller's own identity, an IAM user or the account's root
user. :func:`credential_owner` resolves that, authorizing before it reveals whether a user exists.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from iamd.services.framework import OperationContext
from iamd.services.iam.common import entity_arn
from iamd.services.iam.users import authorize_user, find_user_authorized
from iamd.store.records import Page, UserRecord
from iamd.wire import ValidationError

T = TypeVar("T")

ROOT_USER_NAME = "root"
"""The UserName IAM shows for the root user's own credentials."""


@dataclass(frozen=True, slots=True)
class Owner:
    """The identity a credential belongs to: an IAM user, or the root user (``user`` is None)."""

    user: UserRecord | None
    arn: str

    @property
    def user_id(self) -> str | None:
        return None if self.user is None else self.user.id

    @property
    def name(self) -> str:
        return ROOT_USER_NAME if self.user is None else self.user.name

    @property
    def is_root(self) -> bool:
        return self.user is None


def credential_owner(
    ctx: OperationContext,
    action: str,
    params: Mapping[str, Any],
    extra: dict[str, object] | None = None,
    *,
    allow_root: bool = True,
) -> Owner:
    """The user named by ``UserName``, else the caller itself; ``action`` is authorized on it first.

    Without ``UserName`` a role session (or any caller that is neither an IAM user nor, when
    ``allow_root``, the root user) gets AWS's ValidationError."""
    name = params.get("UserName")
    if name:
        user = find_user_authorized(ctx, action, str(name), extra)
        return Owner(user, entity_arn(user.account_id, "user", user.path, user.name))
    caller = ctx.caller
    if caller.user_id is not None and caller.principal_type == "User":
        user = ctx.uow.users.get_by_id(caller.user_id)
        authorize_user(ctx, action, user, extra)
        return Owner(user, entity_arn(user.account_id, "user", user.path, user.name))
    if caller.is_root and allow_root:
        ctx.authorize(action, caller.arn, extra)
        return Owner(None, caller.arn)
    raise ValidationError("Must specify userName when calling with non-User credentials")


# -- listings held in memory --------------------------------------------------------------------

_MARKER_PREFIX = "o1:"


def _encode_offset(offset: int) -> str:
    raw = f"{_MARKER_PREFIX}{offset}".encode("ascii")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode_offset(marker: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(marker + "=" * (-len(marker) % 4)).decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raw = ""
    if not raw.startswith(_MARKER_PREFIX) or not raw[len(_MARKER_PREFIX) :].isdigit():
        raise ValidationError("Invalid Marker.")
    return int(raw[len(_MARKER_PREFIX) :])


def page_of(items: Sequence[T], marker: str | None, max_items: int) -> Page[T]:
    """One page of a short listing already in memory (a user's keys, certificates, …), with an
    opaque marker as the store's listings have."""
    start = 0 if marker is None else _decode_offset(marker)
    end = start + max_items
    return Page(tuple(items[start:end]), _encode_offset(end) if end < len(items) else None)
