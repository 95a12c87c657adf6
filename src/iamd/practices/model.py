"""The review's vocabulary: a check (stable id, title, practice, severity, fix), its result (pass,
fail, not evaluated, not applicable) and its findings (the resource's ARN, evidence, the fix)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from iamd.practices.analysis import Analysis

__all__ = [
    "PRACTICES",
    "SEVERITIES",
    "Check",
    "CheckResult",
    "Finding",
    "Needs",
    "NotApplicable",
    "Report",
    "Severity",
    "Status",
    "Step",
    "at_or_above",
]

Severity = Literal["critical", "high", "medium", "low", "informational"]
Status = Literal["pass", "fail", "not_evaluated", "not_applicable"]
SEVERITIES: Final[tuple[Severity, ...]] = ("critical", "high", "medium", "low", "informational")
_RANK: Final[dict[str, int]] = {name: len(SEVERITIES) - i for i, name in enumerate(SEVERITIES)}

PRACTICES: Final = (
    "Root user",
    "People and federation",
    "Groups and least privilege",
    "Passwords",
    "Credentials",
    "Delegation",
    "Guardrails and boundaries",
    "Audit and analysis",
)


def at_or_above(severity: str, threshold: str) -> bool:
    return _RANK.get(severity, 0) >= _RANK.get(threshold, 0)


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a privilege-escalation path, proven by the evaluator."""

    action: str
    resource: str
    allowed_by: str
    """The policy and statement that allow it (``policy:Sid``)."""


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    resource: str
    severity: Severity
    evidence: str
    fix: str
    path: tuple[Step, ...] = ()
    target: str | None = None
    """For an escalation path: the administrator it ends at."""
    suggested_policy: str | None = None
    """For managed_policy_broad: the narrower policy generated from what was used."""

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "check": self.check,
            "resource": self.resource,
            "severity": self.severity,
            "evidence": self.evidence,
            "fix": self.fix,
        }
        if self.path:
            out["path"] = [
                {"action": s.action, "resource": s.resource, "allowed_by": s.allowed_by} for s in self.path
            ]
            out["target"] = self.target
        if self.suggested_policy is not None:
            out["suggested_policy"] = self.suggested_policy
        return out


class NotApplicable(Exception):
    """Raised by a check that has nothing to judge in this account (why, in one sentence)."""


Needs = Literal[
    "details",
    "credential_report",
    "password_policy",
    "last_accessed",
    "mfa",
    "organization",
    "trail",
    "analyzers",
]


@dataclass(frozen=True, slots=True)
class Check:
    id: str
    title: str
    practice: str
    severity: Severity
    fix: str
    needs: tuple[Needs, ...]
    run: Callable[[Analysis], Sequence[Finding]] = field(compare=False)
    cis: str | None = None


@dataclass(frozen=True, slots=True)
class CheckResult:
    check: Check
    status: Status
    findings: tuple[Finding, ...] = ()
    note: str | None = None
    """Why it was not evaluated or not applicable."""

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "id": self.check.id,
            "title": self.check.title,
            "practice": self.check.practice,
            "severity": self.check.severity,
            "status": self.status,
            "findings": len(self.findings),
            "fix": self.check.fix,
        }
        if self.check.cis:
            out["cis"] = self.check.cis
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True, slots=True)
class Report:
    account_id: str
    as_of: datetime
    source: str
    results: tuple[CheckResult, ...]
    charts: dict[str, object] = field(default_factory=dict)
    """Figures for people (credential ages, MFA coverage): see ``iamd.practices.charts``."""

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.results for f in r.findings]

    def failing(self, threshold: str) -> list[Finding]:
        return [f for f in self.findings if at_or_above(f.severity, threshold)]

    def score(self, practice: str) -> int | None:
        """Percent of the practice's evaluated checks that pass, weighted by severity."""
        evaluated = [r for r in self.results if r.check.practice == practice and r.status in ("pass", "fail")]
        if not evaluated:
            return None
        total = sum(_RANK[r.check.severity] for r in evaluated)
        passed = sum(_RANK[r.check.severity] for r in evaluated if r.status == "pass")
        return round(100 * passed / total)

    def to_json(self) -> dict[str, object]:
        return {
            "account": self.account_id,
            "as_of": self.as_of.isoformat(),
            "source": self.source,
            "scores": {p: self.score(p) for p in PRACTICES},
            "checks": [r.to_json() for r in self.results],
            "findings": [f.to_json() for f in self.findings],
            "charts": self.charts,
        }
