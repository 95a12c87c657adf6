"""What every check gets: the parsed policy, its kind, the SAR, and a way to report a finding at
a statement element."""

from __future__ import annotations

from dataclasses import dataclass, field

from iamd.analyzer.locate import Locator
from iamd.analyzer.model import PolicyType, Sar, ValidationFinding
from iamd.policy.ast import Path, Policy, Statement
from iamd.policy.limits import PolicyKind
from iamd.policy.wildcards import compile_glob

__all__ = ["Context", "allows"]


@dataclass
class Context:
    policy: Policy
    kind: PolicyKind
    policy_type: PolicyType
    resource_type: str | None
    sar: Sar
    locator: Locator
    findings: list[ValidationFinding] = field(default_factory=list)

    def add(self, code: str, details: str, path: Path, *, key: bool = False) -> None:
        self.findings.append(ValidationFinding(code, details, (self.locator.locate(path, key=key),)))

    def statement_path(self, stmt: Statement) -> Path:
        node = self.locator.node(("Statement",))
        return ("Statement",) if node is not None and node.kind == "object" else ("Statement", stmt.index)

    def element_path(self, stmt: Statement, element: str, index: int | None = None) -> Path:
        """Where entry ``index`` of ``element`` (Action, Resource, …) stands; the element itself
        when it is a single string or ``index`` is None."""
        base = (*self.statement_path(stmt), element)
        if index is None:
            return base
        node = self.locator.node(base)
        return (*base, index) if node is not None and node.kind == "array" else base

    def principal_path(self, stmt: Statement, group: str, index: int | None = None) -> Path:
        element = "Principal" if stmt.principal is not None else "NotPrincipal"
        base = (*self.statement_path(stmt), element, group)
        if index is None:
            return base
        node = self.locator.node(base)
        return (*base, index) if node is not None and node.kind == "array" else base

    @property
    def identity(self) -> bool:
        return self.policy_type is PolicyType.IDENTITY_POLICY

    @property
    def trust(self) -> bool:
        return self.kind is PolicyKind.TRUST


def allows(stmt: Statement, action: str) -> bool:
    """Whether the statement's Action (or NotAction) covers ``action``, by name alone."""
    return any(compile_glob(a, ignore_case=True)(action) for a in stmt.actions) != stmt.not_action
