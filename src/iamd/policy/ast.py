"""The typed tree of an IAM policy document.

A document is parsed once (``iamd.policy.parse``) into these frozen values; the evaluator, the
validator and the analyzer all read this tree, never raw JSON. Every list-valued element is a tuple
of strings, whichever of the single-string or array forms the document used.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from iamd.policy.frozen import draft_class, slot_setters

__all__ = [
    "VERSION_2008",
    "VERSION_2012",
    "ConditionClause",
    "Effect",
    "Path",
    "Policy",
    "PrincipalSpec",
    "Statement",
    "new_clause",
    "new_policy",
    "new_statement",
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

    def __init__(
        self,
        operator: str,
        base: str,
        qualifier: str | None,
        if_exists: bool,
        key: str,
        values: tuple[str, ...],
        path: Path,
    ) -> None:
        # Stored through the slots, not the frozen __setattr__ (iamd.policy.frozen).
        s = _CLAUSE_SLOTS
        s[0](self, operator)
        s[1](self, base)
        s[2](self, qualifier)
        s[3](self, if_exists)
        s[4](self, key)
        s[5](self, values)
        s[6](self, path)


_CLAUSE_SLOTS = slot_setters(ConditionClause)
_ClauseDraft = draft_class(ConditionClause)
_set_class = object.__setattr__


def new_clause(
    operator: str,
    base: str,
    qualifier: str | None,
    if_exists: bool,
    key: str,
    values: tuple[str, ...],
    path: Path,
) -> ConditionClause:
    """``ConditionClause(...)`` of the same arguments, built as a draft (``iamd.policy.frozen``):
    for the parser's quick path, which builds one per condition key."""
    d = _ClauseDraft()
    d.operator = operator
    d.base = base
    d.qualifier = qualifier
    d.if_exists = if_exists
    d.key = key
    d.values = values
    d.path = path
    _set_class(d, "__class__", ConditionClause)
    clause: ConditionClause = d
    return clause


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

    def __init__(
        self,
        index: int,
        sid: str | None,
        effect: Effect,
        principal: PrincipalSpec | None,
        not_principal: PrincipalSpec | None,
        actions: tuple[str, ...],
        not_action: bool,
        resources: tuple[str, ...] | None,
        not_resource: bool,
        conditions: tuple[ConditionClause, ...],
    ) -> None:
        # Stored through the slots, not the frozen __setattr__ (iamd.policy.frozen).
        s = _STATEMENT_SLOTS
        s[0](self, index)
        s[1](self, sid)
        s[2](self, effect)
        s[3](self, principal)
        s[4](self, not_principal)
        s[5](self, actions)
        s[6](self, not_action)
        s[7](self, resources)
        s[8](self, not_resource)
        s[9](self, conditions)

    @property
    def label(self) -> str:
        """The Sid, or the statement's position when it has none."""
        return self.sid if self.sid else f"Statement[{self.index}]"


_STATEMENT_SLOTS = slot_setters(Statement)
_StatementDraft = draft_class(Statement)


def new_statement(
    index: int,
    sid: str | None,
    effect: Effect,
    principal: PrincipalSpec | None,
    not_principal: PrincipalSpec | None,
    actions: tuple[str, ...],
    not_action: bool,
    resources: tuple[str, ...] | None,
    not_resource: bool,
    conditions: tuple[ConditionClause, ...],
) -> Statement:
    """``Statement(...)`` of the same arguments, built as a draft (``iamd.policy.frozen``): for the
    parser's quick path, which builds one per statement."""
    d = _StatementDraft()
    d.index = index
    d.sid = sid
    d.effect = effect
    d.principal = principal
    d.not_principal = not_principal
    d.actions = actions
    d.not_action = not_action
    d.resources = resources
    d.not_resource = not_resource
    d.conditions = conditions
    _set_class(d, "__class__", Statement)
    statement: Statement = d
    return statement


@dataclass(frozen=True, slots=True)
class Policy:
    version: str | None
    id: str | None
    statements: tuple[Statement, ...]

    def __init__(self, version: str | None, id: str | None, statements: tuple[Statement, ...]) -> None:
        s = _POLICY_SLOTS
        s[0](self, version)
        s[1](self, id)
        s[2](self, statements)

    @property
    def substitutes_variables(self) -> bool:
        """Policy variables are expanded only under Version 2012-10-17."""
        return self.version == VERSION_2012


_POLICY_SLOTS = slot_setters(Policy)
_PolicyDraft = draft_class(Policy)


def new_policy(version: str | None, id: str | None, statements: tuple[Statement, ...]) -> Policy:
    """``Policy(...)`` of the same arguments, built as a draft (``iamd.policy.frozen``): for the
    parser's quick path."""
    d = _PolicyDraft()
    d.version = version
    d.id = id
    d.statements = statements
    _set_class(d, "__class__", Policy)
    policy: Policy = d
    return policy
