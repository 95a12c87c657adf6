"""Findings: what is wrong with a policy document, and where.

Codes follow IAM Access Analyzer's ValidatePolicy issue codes where one exists. A finding names its
place as a JSON path (``Statement[0].Action[1]``) and, for policy text, a line and column.
"""

from __future__ import annotations

from dataclasses import dataclass

from iamd.policy.ast import Path
from iamd.policy.jsonpos import Position

__all__ = ["BLOCKING", "Finding", "PolicyError", "format_path"]

# Problems that leave no well-defined policy to evaluate. Other ERROR findings (a Sid's characters,
# an ARN's shape, a size quota) leave the document a single meaning, so evaluation-only tools can
# read it. Whether IAM stores a document is a separate rule set: iamd.policy.acceptance.
BLOCKING = frozenset(
    {
        "JSON_SYNTAX_ERROR",
        "DATA_TYPE_MISMATCH",
        "MISSING_STATEMENT",
        "MISSING_EFFECT",
        "INVALID_EFFECT",
        "MISSING_ACTION",
        "MISSING_RESOURCE",
        "UNSUPPORTED_ELEMENT_COMBINATION",
        "INVALID_PRINCIPAL_FORMAT",
        "INVALID_PRINCIPAL_KEY",
        "INVALID_POLICY_ELEMENT",
        "INVALID_VERSION",
    }
)


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "(document)"


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    message: str
    path: Path
    severity: str = "ERROR"
    position: Position | None = None

    @property
    def location(self) -> str:
        where = format_path(self.path)
        if self.position is not None and self.position.offset >= 0:
            where += f" (line {self.position.line}, column {self.position.column})"
        return where

    def __str__(self) -> str:
        return f"{self.severity} {self.code} at {self.location}: {self.message}"

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "findingType": self.severity,
            "issueCode": self.code,
            "findingDetails": self.message,
            "path": list(self.path),
            "location": format_path(self.path),
        }
        if self.position is not None and self.position.offset >= 0:
            out["line"] = self.position.line
            out["column"] = self.position.column
        return out


class PolicyError(ValueError):
    """A document that cannot be used; ``findings`` says every problem found, not only the first."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        errors = [f for f in findings if f.severity == "ERROR"] or findings
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{first.code} at {first.location}: {first.message}{more}")
