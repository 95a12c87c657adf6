"""The checks, registered in the order the report shows them (``@check`` in the checks modules)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from iamd.practices.analysis import Analysis
from iamd.practices.model import Check, Finding, Needs, Severity

__all__ = ["CHECKS", "check", "finding"]

CHECKS: dict[str, Check] = {}

Run = Callable[[Analysis], Sequence[Finding]]


def check(
    id: str,
    title: str,
    practice: str,
    severity: Severity,
    fix: str,
    needs: tuple[Needs, ...],
    cis: str | None = None,
) -> Callable[[Run], Run]:
    def register(run: Run) -> Run:
        assert id not in CHECKS, id
        CHECKS[id] = Check(id, title, practice, severity, fix, needs, run, cis)
        return run

    return register


def finding(
    check_id: str, resource: str, evidence: str, severity: Severity | None = None, fix: str | None = None
) -> Finding:
    spec = CHECKS[check_id]
    return Finding(check_id, resource, severity or spec.severity, evidence, fix or spec.fix)
