"""The report as JSON (docs/review.md documents the schema), as OCSF Detection Findings (the
classes and fields Prowler's ``json-ocsf`` output uses), and merged across an organization."""

from __future__ import annotations

from typing import Final

from iamd import __version__
from iamd.practices.model import SEVERITIES, CheckResult, Report

__all__ = ["merge_reports", "to_json", "to_ocsf"]

# OCSF 1.x severity_id: 1 Informational, 2 Low, 3 Medium, 4 High, 5 Critical.
_OCSF_SEVERITY: Final = {"informational": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}


def to_json(report: Report) -> dict[str, object]:
    out = report.to_json()
    out["tool"] = {"name": "iamd", "version": __version__}
    return out


def _ocsf(
    report: Report, check: CheckResult, status: str, resource: str, detail: str, severity: str, fix: str
) -> dict[str, object]:
    when = report.as_of
    partition = resource.split(":")[1] if resource.startswith("arn:") else "aws"
    return {
        "message": detail,
        "metadata": {
            "event_code": check.check.id,
            "product": {"name": "iamd", "uid": "iamd", "vendor_name": "iamd", "version": __version__},
            "profiles": ["cloud", "datetime"],
            "tenant_uid": "",
            "version": "1.5.0",
        },
        "severity_id": _OCSF_SEVERITY[severity],
        "severity": severity.capitalize(),
        "status": "New",
        "status_code": status,
        "status_detail": detail,
        "status_id": 1,
        "unmapped": {
            "practice": check.check.practice,
            "compliance": {"CIS": check.check.cis} if check.check.cis else {},
        },
        "activity_name": "Create",
        "activity_id": 1,
        "finding_info": {
            "analytic": {
                "category": check.check.practice,
                "desc": check.check.title,
                "name": check.check.id,
                "type": "Rule",
                "type_id": 1,
                "uid": check.check.id,
            },
            "created_time": int(when.timestamp()),
            "created_time_dt": when.isoformat(),
            "desc": check.check.title,
            "title": check.check.title,
            "types": [check.check.practice],
            "uid": f"iamd-{report.account_id}-{check.check.id}-{resource}",
        },
        "resources": [
            {
                "cloud_partition": partition,
                "region": "global",
                "data": {"details": detail},
                "group": {"name": "iam"},
                "labels": [],
                "name": resource.rsplit("/", 1)[-1].rsplit(":", 1)[-1],
                "type": _resource_type(resource),
                "uid": resource,
            }
        ],
        "category_name": "Findings",
        "category_uid": 2,
        "class_name": "Detection Finding",
        "class_uid": 2004,
        "cloud": {
            "account": {"type": "AWS Account", "type_id": 10, "uid": report.account_id, "labels": []},
            "org": {},
            "provider": "aws",
            "region": "global",
        },
        "remediation": {"desc": fix, "references": []},
        "risk_details": check.check.title,
        "time": int(when.timestamp()),
        "time_dt": when.isoformat(),
        "type_uid": 200401,
        "type_name": "Detection Finding: Create",
    }


def _resource_type(arn: str) -> str:
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return "Other"
    service, resource = parts[2], parts[5]
    kind = resource.split("/", 1)[0]
    return {
        ("iam", "user"): "AwsIamUser",
        ("iam", "role"): "AwsIamRole",
        ("iam", "group"): "AwsIamGroup",
        ("iam", "policy"): "AwsIamPolicy",
        ("iam", "root"): "AwsAccount",
    }.get((service, kind), "Other")


def to_ocsf(report: Report) -> list[dict[str, object]]:
    """One FAIL Detection Finding per finding and one PASS per passing check (on the account)."""
    out = []
    for result in report.results:
        if result.status == "pass":
            out.append(
                _ocsf(
                    report,
                    result,
                    "PASS",
                    f"arn:aws:iam::{report.account_id}:root",
                    f"{result.check.title}: passed",
                    result.check.severity,
                    result.check.fix,
                )
            )
        for item in result.findings:
            out.append(_ocsf(report, result, "FAIL", item.resource, item.evidence, item.severity, item.fix))
    return out


def merge_reports(reports: list[Report]) -> Report:
    """One report over an organization's accounts: each check's findings together; it fails when it
    fails anywhere, passes when it passed somewhere and failed nowhere."""
    if len(reports) == 1:
        return reports[0]
    first = reports[0]
    merged: list[CheckResult] = []
    for i, result in enumerate(first.results):
        all_results = [r.results[i] for r in reports]
        findings = tuple(f for r in all_results for f in r.findings)
        statuses = {r.status for r in all_results}
        status = "fail" if findings else "pass" if "pass" in statuses else result.status
        note = None if status in ("pass", "fail") else result.note
        merged.append(CheckResult(result.check, status, findings, note))
    accounts = ", ".join(r.account_id for r in reports)
    out = Report(
        first.account_id, first.as_of, f"{first.source}; organization accounts {accounts}", tuple(merged)
    )
    out.charts.update(first.charts)
    found = out.findings
    out.charts["findings_by_severity"] = {s: sum(1 for f in found if f.severity == s) for s in SEVERITIES}
    return out
