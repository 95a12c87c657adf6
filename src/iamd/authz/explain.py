"""A decision and its explanation: per layer, what applied, and the AWS denial sentence."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

__all__ = ["Decision", "Layer", "LayerResult", "Outcome", "Reason", "StatementRef"]


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


class Decision(NamedTuple):
    """``decision`` is Allowed, ExplicitlyDenied or ImplicitlyDenied; ``deciding`` the layer that
    denied (None when allowed); ``layers`` every layer's result."""

    decision: str
    reason: Reason
    deciding: Layer | None
    layers: tuple[LayerResult, ...]
    summary: str

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

    def to_json(self) -> dict[str, object]:
        return {
            "decision": self.decision,
            "reason": self.summary,
            "decidedBy": self.deciding.key if self.deciding else None,
            "layers": [layer.to_json() for layer in self.layers],
        }
