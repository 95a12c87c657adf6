"""A decision and its explanation: per layer, what applied, and the AWS denial sentence; for a
denial, the statements that nearly applied and the first element of each that did not (computed by
``iamd.authz.nearmiss`` only when asked, never on the allow path)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

from iamd.policy.frozen import slot_setters

__all__ = [
    "Decision",
    "Element",
    "Layer",
    "LayerResult",
    "MatchedDeny",
    "NearMiss",
    "Outcome",
    "Reason",
    "StatementRef",
]

_SHOWN_VALUES = 20
"""Policy values listed per element; a longer list (an AWS managed policy's actions) is cut."""


class Layer(Enum):
    RCP = ("rcp", "resource control policy")
    SCP = ("scp", "service control policy")
    RESOURCE = ("resource", "resource-based policy")
    IDENTITY = ("identity", "identity-based policy")
    BOUNDARY = ("boundary", "permissions boundary")
    SESSION = ("session", "session policy")

    def __init__(self, key: str, phrase: str) -> None:
        self.key = key
        self.phrase = phrase

    @property
    def article(self) -> str:
        return "an" if self.phrase[0] in "aeiou" else "a"


class Outcome(Enum):
    ALLOW = "Allow"
    DENY = "Deny"
    NO_MATCH = "NoMatch"
    """The layer applies to the request, but none of its statements matched: an implicit deny."""
    NOT_APPLICABLE = "NotApplicable"


class Reason(Enum):
    ALLOWED = "allowed"
    EXPLICIT_DENY = "explicit-deny"
    NO_ALLOW = "no-allow"


@dataclass(frozen=True, slots=True)
class StatementRef:
    policy: str
    index: int
    sid: str | None
    effect: str

    def __init__(self, policy: str, index: int, sid: str | None, effect: str) -> None:
        # Stored through the slots, not the frozen __setattr__ (iamd.policy.frozen).
        s = _REF_SLOTS
        s[0](self, policy)
        s[1](self, index)
        s[2](self, sid)
        s[3](self, effect)

    @property
    def label(self) -> str:
        return f"{self.policy}:{self.sid}" if self.sid else f"{self.policy}:Statement[{self.index}]"

    def to_json(self) -> dict[str, object]:
        return {"policy": self.policy, "statement": self.index, "sid": self.sid, "effect": self.effect}


class LayerResult(NamedTuple):
    layer: Layer
    outcome: Outcome
    allows: tuple[StatementRef, ...] = ()
    denies: tuple[StatementRef, ...] = ()
    level: str | None = None
    """For SCPs and RCPs: which level of the organization path (root, OU or account)."""
    note: str | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"layer": self.layer.key, "outcome": self.outcome.value}
        if self.level is not None:
            out["level"] = self.level
        if self.denies:
            out["denies"] = [s.to_json() for s in self.denies]
        if self.allows:
            out["allows"] = [s.to_json() for s in self.allows]
        if self.note:
            out["note"] = self.note
        return out


def _values(values: tuple[str, ...]) -> str:
    shown = ", ".join(values[:_SHOWN_VALUES])
    more = len(values) - _SHOWN_VALUES
    return f"{shown} … ({more} more)" if more > 0 else shown


_REF_SLOTS = slot_setters(StatementRef)


@dataclass(frozen=True, slots=True)
class Element:
    """One element of a statement set against the request: ``Action``/``NotAction``,
    ``Principal``/``NotPrincipal``, ``Resource``/``NotResource`` or ``Condition`` (with its operator
    and key as the policy writes them). ``request`` holds the request's values, None when the
    condition key is absent from the request; ``policy`` the statement's values."""

    element: str
    request: tuple[str, ...] | None
    policy: tuple[str, ...]
    operator: str | None = None
    key: str | None = None

    def describe(self) -> str:
        if self.element == "Condition":
            if self.request is None:
                has = "absent"
            elif not self.request:
                has = "an empty set"
            else:
                has = ", ".join(self.request)
            return (
                f"Condition {self.operator} {self.key}: request value {has}; "
                f"policy values {_values(self.policy)}"
            )
        request = ", ".join(self.request or ())
        if self.element.startswith("Not"):
            return f"{self.element}: {request} is excluded by {_values(self.policy)}"
        if not self.policy:
            return f"{self.element}: the statement names none, so it cannot apply"
        return f"{self.element}: {request} does not match {_values(self.policy)}"

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"element": self.element}
        if self.element == "Condition":
            out["operator"] = self.operator
            out["key"] = self.key
            out["absent"] = self.request is None
        out["requestValues"] = list(self.request) if self.request is not None else None
        out["policyValues"] = list(self.policy[:_SHOWN_VALUES])
        if len(self.policy) > _SHOWN_VALUES:
            out["policyValuesOmitted"] = len(self.policy) - _SHOWN_VALUES
        return out


@dataclass(frozen=True, slots=True)
class NearMiss:
    """A statement of a layer that denied implicitly, and the first element of it that did not
    match the request (in the order Action, Principal, Resource, then each condition)."""

    layer: Layer
    statement: StatementRef
    failed: Element
    level: str | None = None

    def describe(self) -> str:
        return f"{self.layer.phrase} statement {self.statement.label}: {self.failed.describe()}"

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"layer": self.layer.key}
        if self.level is not None:
            out["level"] = self.level
        out.update(self.statement.to_json())
        out["failed"] = self.failed.to_json()
        out["text"] = self.describe()
        return out


@dataclass(frozen=True, slots=True)
class MatchedDeny:
    """A Deny statement that applied, with the conditions that held and the request's values."""

    layer: Layer
    statement: StatementRef
    conditions: tuple[Element, ...]
    level: str | None = None

    def describe(self) -> str:
        head = f"{self.layer.phrase} statement {self.statement.label} denies"
        if not self.conditions:
            return head
        return f"{head}: " + "; ".join(c.describe() for c in self.conditions)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"layer": self.layer.key}
        if self.level is not None:
            out["level"] = self.level
        out.update(self.statement.to_json())
        out["conditions"] = [c.to_json() for c in self.conditions]
        out["text"] = self.describe()
        return out


class Decision(NamedTuple):
    """``decision`` is Allowed, ExplicitlyDenied or ImplicitlyDenied; ``deciding`` the layer that
    denied (None when allowed); ``layers`` every layer's result."""

    decision: str
    reason: Reason
    deciding: Layer | None
    layers: tuple[LayerResult, ...]
    summary: str
    near_misses: tuple[NearMiss, ...] = ()
    """For an implicit deny, once explained: the statements that nearly allowed, nearest first."""
    denied_by: tuple[MatchedDeny, ...] = ()
    """For an explicit deny, once explained: the Deny statements that applied, with their conditions."""

    @property
    def allowed(self) -> bool:
        return self.decision == "Allowed"

    def denial_message(self, caller: str, action: str, resource: str | None) -> str:
        """AWS's sentence: ``User: ARN is not authorized to perform: ACTION on resource: R because …``."""
        who = "User: anonymous" if caller in ("*", "") else f"User: {caller}"
        on = f" on resource: {resource}" if resource and resource != "*" else ""
        head = f"{who} is not authorized to perform: {action}{on}"
        if self.allowed or self.deciding is None:
            return head
        if self.reason is Reason.EXPLICIT_DENY:
            return f"{head} with an explicit deny in {self.deciding.article} {self.deciding.phrase}"
        return f"{head} because no {self.deciding.phrase} allows the {action} action"

    def explanation(self) -> list[str]:
        """The explanation as sentences for a person: the summary, then each statement's detail."""
        return [
            self.summary,
            *(d.describe() for d in self.denied_by),
            *(f"Nearest: {m.describe()}" for m in self.near_misses),
        ]

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "decision": self.decision,
            "reason": self.summary,
            "decidedBy": self.deciding.key if self.deciding else None,
            "layers": [layer.to_json() for layer in self.layers],
        }
        if self.denied_by:
            out["deniedBy"] = [d.to_json() for d in self.denied_by]
        if self.near_misses:
            out["nearMisses"] = [m.to_json() for m in self.near_misses]
        return out
