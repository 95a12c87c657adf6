"""Validation findings as SARIF 2.1.0, the format code-scanning UIs read.

ruleId is the Access Analyzer issue code; level follows the finding type (ERROR and
SECURITY_WARNING -> error, WARNING -> warning, SUGGESTION -> note); the region is the finding's
span (SARIF lines and columns count from 1). Schema: https://json.schemastore.org/sarif-2.1.0.json
"""

from __future__ import annotations

from collections.abc import Sequence

from iamd import __version__
from iamd.analyzer import ValidationFinding

__all__ = ["LEVELS", "sarif_log"]

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
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "iamd",
                        "version": __version__,
                        "informationUri": "https://docs.aws.amazon.com/IAM/latest/UserGuide/"
                        "access-analyzer-reference-policy-checks.html",
                        "rules": [rules[code] for code in sorted(rules)],
                    }
                },
                "results": out,
            }
        ],
    }
