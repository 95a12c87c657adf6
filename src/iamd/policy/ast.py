"""The typed tree of an IAM policy document.

A document is parsed once (``iamd.policy.parse``) into these frozen values; the evaluator, the
validator and the analyzer all read this tree, never raw JSON. Every list-valued element is a tuple
of strings, whichever of the single-string or array forms the document used.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = [
    "VERSION_2008",
    "VERSION_2012",
    "ConditionClause",
    "Effect",
    "Path",
    "Policy",
    "PrincipalSpec",
    "Statement",
]

VERSION_2012 = "2012-10-17"
VERSION_2008 = "2008-10-17"

Path = tuple[str | int, ...]
"""Where an element stands in its document: ("Statement", 0, "Action", 1)."""


class Effect(Enum):
    ALLOW = "Allow"
    DENY = "Deny"


@dataclass(frozen=True, slots=True)
class PrincipalSpec:
    """A Principal or NotPrincipal element. ``wildcard`` is the bare ``"*"`` form."""

    wildcard: bool = False
    aws: tuple[str, ...] = ()
    service: tuple[str, ...] = ()
    federated: tuple[str, ...] = ()
    canonical_user: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ConditionClause:
    """One ``operator -> key -> values`` entry of a Condition block.

    ``operator`` is the text as written (``ForAnyValue:StringLikeIfExists``); ``base`` the operator
    family member (``StringLike``), ``qualifier`` ``ForAnyValue``/``ForAllValues`` or None, and
    ``if_exists`` the IfExists suffix. Values keep their JSON text (``true``, ``10.0``).
    """

    operator: str
    base: str
    qualifier: str | None
    if_exists: bool
    key: str
    values: tuple[str, ...]
    path: Path


@dataclass(frozen=True, slots=True)
class Statement:
    index: int
    sid: str | None
    effect: Effect
    principal: PrincipalSpec | None
    not_principal: PrincipalSpec | None
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...] | None
    """None when the statement has neither Resource nor NotResource (trust policies)."""
    not_resource: bool
    conditions: tuple[ConditionClause, ...]

    @property
    def label(self) -> str:
        """The Sid, or the statement's position when it has none."""
        return self.sid if self.sid else f"Statement[{self.index}]"


@dataclass(frozen=True, slots=True)
class Policy:
    version: str | None
    id: str | None
    statements: tuple[Statement, ...]

    @property
    def substitutes_variables(self) -> bool:
        """Policy variables are expanded only under Version 2012-10-17."""
        return self.version == VERSION_2012
