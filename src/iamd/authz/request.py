"""The request context handed to the evaluator: principal, action, resource and condition keys."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from iamd.authz.principal import Principal
from iamd.policy.variables import ContextValue

__all__ = ["Request", "normalize_context"]

_EMPTY: Mapping[str, ContextValue] = MappingProxyType({})


def normalize_context(values: Mapping[str, object]) -> dict[str, ContextValue]:
    """Lower-case the key names (they are case-insensitive) and turn values into strings, or tuples
    of strings for multivalued keys. Booleans become ``true``/``false``."""
    out: dict[str, ContextValue] = {}
    for key, value in values.items():
        if type(value) is str:  # the usual value: _text gives it back as it is
            out[key.lower()] = value
        elif isinstance(value, (list, tuple)):
            out[key.lower()] = tuple(_text(v) for v in value)
        elif value is not None:
            out[key.lower()] = _text(value)
    return out


def _text(value: object) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


class Request(NamedTuple):
    """One (action, resource) pair to authorize. ``resource`` is an ARN, or ``*`` for actions that
    take no resource; ``resource_account`` owns it (same-account vs cross-account). ``context`` keys
    must already be lower-cased (see ``normalize_context``)."""

    principal: Principal
    action: str
    resource: str
    resource_account: str | None = None
    context: Mapping[str, ContextValue] = _EMPTY

    @property
    def owner_account(self) -> str | None:
        if self.resource_account:
            return self.resource_account
        parts = self.resource.split(":", 5)
        if len(parts) == 6 and parts[4]:
            return parts[4]
        return self.principal.account

    @property
    def cross_account(self) -> bool:
        principal = self.principal
        if principal.account is None:
            return True
        if self.resource_account:
            return self.resource_account != principal.account
        return self.owner_account != principal.account
