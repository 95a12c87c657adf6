"""Run every check over a snapshot: the report (results in the registry's order, charts)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Final

from iamd.practices import checks_audit, checks_identity, checks_policies  # noqa: F401  (registers)
from iamd.practices.analysis import Analysis
from iamd.practices.model import PRACTICES, SEVERITIES, CheckResult, Needs, NotApplicable, Report
from iamd.practices.registry import CHECKS
from iamd.practices.snapshot import Snapshot

__all__ = ["NEEDS", "review"]

NEEDS: Final[dict[Needs, str]] = {
    "details": "authorization-details.json (aws iam get-account-authorization-details)",
    "credential_report": "credential-report.csv (aws iam get-credential-report, decoded)",
    "password_policy": "password-policy.json (aws iam get-account-password-policy)",
    "last_accessed": "last-accessed/ (aws iam get-service-last-accessed-details per user and role)",
    "mfa": "mfa-devices.json (aws iam list-virtual-mfa-devices) and the users' list-mfa-devices",
    "organization": "the organization's structure (read from the management account)",
    "trail": "trails.json (aws cloudtrail describe-trails) and trail-status",
    "analyzers": "analyzers.json (aws accessanalyzer list-analyzers) and their findings",
}

_AGE_BUCKETS: Final = ((30, "< 30 days"), (90, "30-90 days"), (180, "90-180 days"), (365, "180-365 days"))


def _has(snapshot: Snapshot, need: Needs) -> bool:
    return {
        "details": snapshot.details_read,
        "credential_report": snapshot.credential_report is not None,
        "password_policy": snapshot.password_policy_read,
        "last_accessed": snapshot.last_accessed is not None,
        "mfa": snapshot.mfa_kinds is not None,
        "organization": snapshot.organization_read,
        "trail": snapshot.trail is not None,
        "analyzers": snapshot.analyzers is not None,
    }[need]


def _bucket(days: float) -> str:
    for limit, label in _AGE_BUCKETS:
        if days < limit:
            return label
    return "> 1 year"


def charts(snapshot: Snapshot, report_findings: list[object]) -> dict[str, object]:
    """Credential ages (active access keys, passwords), MFA coverage of console users."""
    keys: Counter[str] = Counter()
    passwords: Counter[str] = Counter()
    mfa: Counter[str] = Counter()
    kinds = snapshot.mfa_kinds or {}
    for row in snapshot.user_rows():
        for n in (1, 2):
            created = row.time(f"access_key_{n}_last_rotated")
            if row.flag(f"access_key_{n}_active") and created is not None:
                keys[_bucket((snapshot.as_of - created) / timedelta(days=1))] += 1
        if row.flag("password_enabled"):
            changed = row.time("password_last_changed") or row.time("user_creation_time")
            if changed is not None:
                passwords[_bucket((snapshot.as_of - changed) / timedelta(days=1))] += 1
            have = kinds.get(row.user, ())
            if "security-key" in have:
                mfa["passkey or security key"] += 1
            elif row.flag("mfa_active"):
                mfa["virtual or hardware TOTP"] += 1
            else:
                mfa["no MFA"] += 1
    order = [label for _, label in _AGE_BUCKETS] + ["> 1 year"]
    return {
        "credential_age": {
            "buckets": order,
            "access_keys": [keys[b] for b in order],
            "passwords": [passwords[b] for b in order],
        },
        "mfa_coverage": {
            k: mfa[k] for k in ("passkey or security key", "virtual or hardware TOTP", "no MFA")
        },
    }


def review(snapshot: Snapshot, only: frozenset[str] | None = None) -> Report:
    """Every check (or those named in ``only``) over ``snapshot``."""
    analysis = Analysis(snapshot)
    results: list[CheckResult] = []
    # In the order of the guide's practices; within one, in the order the checks were written.
    for check in sorted(CHECKS.values(), key=lambda c: PRACTICES.index(c.practice)):
        if only is not None and check.id not in only:
            continue
        lacking = [snapshot.missing.get(n) or NEEDS[n] for n in check.needs if not _has(snapshot, n)]
        if lacking:
            results.append(
                CheckResult(check, "not_evaluated", note="not evaluated: needs " + "; ".join(lacking))
            )
            continue
        try:
            findings = tuple(check.run(analysis))
        except NotApplicable as why:
            results.append(CheckResult(check, "not_applicable", note=f"not applicable: {why}"))
            continue
        results.append(CheckResult(check, "fail" if findings else "pass", findings))
    report = Report(snapshot.account_id, snapshot.as_of, snapshot.source, tuple(results))
    found = report.findings
    report.charts.update(charts(snapshot, list(found)))
    report.charts["findings_by_severity"] = {s: sum(1 for f in found if f.severity == s) for s in SEVERITIES}
    return report
