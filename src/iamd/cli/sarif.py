"""Validation findings as SARIF 2.1.0, the format code-scanning UIs read.

ruleId is the Access Analyzer issue code; level follows the finding type (ERROR and
SECURITY_WARNING -> error, WARNING -> warning, SUGGESTION -> note); the region is the finding's
span (SARIF lines and columns count from 1). Schema: https://json.schemastore.org/sarif-2.1.0.json
"""

from __future__ import annotations

from collections.abc import Sequence

from iamd import __version__
from iamd.analyzer import ValidationFinding
from iamd.practices.model import Report

__all__ = ["LEVELS", "REVIEW_LEVELS", "sarif_log", "sarif_review"]

LEVELS = {"ERROR": "error", "SECURITY_WARNING": "error", "WARNING": "warning", "SUGGESTION": "note"}
SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _result(path: str, finding: ValidationFinding) -> dict[str, object]:
    locations = []
    for location in finding.locations:
        start, end = location.span.start, location.span.end
        locations.append(
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": path},
                    "region": {
                        "startLine": start.line,
                        "startColumn": start.column + 1,
                        "endLine": end.line,
                        "endColumn": end.column + 1,
                        "charOffset": start.offset,
                        "charLength": max(end.offset - start.offset, 0),
                    },
                },
                "logicalLocations": [{"fullyQualifiedName": location.text}],
            }
        )
    return {
        "ruleId": finding.code,
        "level": LEVELS[finding.finding_type],
        "message": {"text": finding.details},
        "locations": locations,
        "properties": {"findingType": finding.finding_type},
    }


def _log(
    rules: list[dict[str, object]], results: list[dict[str, object]], information_uri: str
) -> dict[str, object]:
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "iamd",
                        "version": __version__,
                        "informationUri": information_uri,
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }


def sarif_log(results: Sequence[tuple[str, Sequence[ValidationFinding]]]) -> dict[str, object]:
    """One SARIF run over every file's findings."""
    rules: dict[str, dict[str, object]] = {}  # by rule id
    out: list[dict[str, object]] = []
    for path, findings in results:
        for finding in findings:
            rules.setdefault(
                finding.code,
                {
                    "id": finding.code,
                    "name": finding.code.title().replace("_", ""),
                    "shortDescription": {"text": finding.code.replace("_", " ").capitalize()},
                    "helpUri": finding.learn_more_link,
                    "defaultConfiguration": {"level": LEVELS[finding.finding_type]},
                    "properties": {"findingType": finding.finding_type},
                },
            )
            out.append(_result(path, finding))
    return _log(
        [rules[code] for code in sorted(rules)],
        out,
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html",
    )


# Review findings: critical and high -> error, medium -> warning, low and informational -> note.
REVIEW_LEVELS = {
    "critical": "error",
    "high": "error",
    "medium": "warning",
    "low": "note",
    "informational": "note",
}


def sarif_review(report: Report) -> dict[str, object]:
    """A review's findings as one SARIF run: a rule per check, a result per finding, located at the
    resource's ARN (a logical location: an account has no files)."""
    rules: list[dict[str, object]] = [
        {
            "id": r.check.id,
            "name": "".join(part.capitalize() for part in r.check.id.split("_")),
            "shortDescription": {"text": r.check.title},
            "help": {"text": r.check.fix},
            "defaultConfiguration": {"level": REVIEW_LEVELS[r.check.severity]},
            "properties": {"practice": r.check.practice, "severity": r.check.severity, "status": r.status},
        }
        for r in report.results
    ]
    results: list[dict[str, object]] = [
        {
            "ruleId": f.check,
            "level": REVIEW_LEVELS[f.severity],
            "message": {"text": f"{f.evidence}. Fix: {f.fix}"},
            "locations": [{"logicalLocations": [{"fullyQualifiedName": f.resource, "kind": "resource"}]}],
            "properties": {"severity": f.severity, "account": report.account_id},
        }
        for f in report.findings
    ]
    return _log(rules, results, "https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html")
