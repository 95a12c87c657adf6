"""Bearer tokens (the access portal's ``x-amz-sso_bearer_token``): a service registers how its
tokens open, and the pipeline's bearer authenticator (:mod:`iamd.server.authenticators`) asks it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from iamd.services.framework import Caller
from iamd.store.unit import UnitOfWork
from iamd.wire import OperationRef

__all__ = ["BearerOpener", "opener_for", "register_bearer"]

BearerOpener = Callable[[UnitOfWork, str, OperationRef, datetime], Caller]
"""Opens a bearer token for an operation: the caller, or AWS's error (the service's own
UnauthorizedException for a token that is unknown, expired or revoked)."""

_openers: dict[str, BearerOpener] = {}


def register_bearer(service: str, opener: BearerOpener) -> None:
    """Let ``service``'s operations be called with a bearer token."""
    _openers[service] = opener


def opener_for(service: str) -> BearerOpener | None:
    return _openers.get(service)
