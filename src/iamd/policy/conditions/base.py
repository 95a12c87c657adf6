"""The condition-operator registry: each family module registers its operators here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from iamd.policy.variables import ContextValue

__all__ = ["Context", "OperatorFamily", "ValueMatcher", "lookup", "operators", "register"]

Context = Mapping[str, ContextValue]

ValueMatcher = Callable[[str, Context], bool | None]
"""Given one request value: True if some policy value matches it, False if none does, None if the
request value cannot be read by this operator (not a number, not an address...)."""


@dataclass(frozen=True, slots=True)
class OperatorFamily:
    """One operator, e.g. ``StringNotLike``.

    ``compile`` turns the policy values into a ``ValueMatcher`` once, for the *positive* sense of the
    operator (``StringLike`` for ``StringNotLike``); ``negated`` flips it. ``check_value`` names what
    is wrong with a policy value, or returns None. ``variables`` says whether policy variables are
    substituted in this operator's values.
    """

    name: str
    negated: bool
    variables: bool
    compile: Callable[[tuple[str, ...], bool], ValueMatcher]
    check_value: Callable[[str], str | None]
    presence: bool = False
    """The Null operator: it tests whether a key is present, not its value."""


_REGISTRY: dict[str, OperatorFamily] = {}


def register(*families: OperatorFamily) -> None:
    for family in families:
        _REGISTRY[family.name] = family


def lookup(name: str) -> OperatorFamily | None:
    return _REGISTRY.get(name)


def operators() -> list[str]:
    return sorted(_REGISTRY)


def no_problem(_value: str) -> str | None:
    return None
