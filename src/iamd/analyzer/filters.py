"""Access Analyzer's finding filters (``FilterCriteriaMap``): used by archive rules and by
ListFindings / ListFindingsV2. Pure.

Semantics (shared/spec/access_analyzer_api.md §2.8, access-analyzer-findings-filter and
access-analyzer-reference-filter-keys): keys are ANDed; within one operator any listed value
matches (``eq``), none may match (``neq``), ``contains`` is a substring match, ``exists`` tests
presence. Keys name summary fields (``resource``, ``resourceType``, ``status``, ``isPublic`` …),
``principal.AWS`` / ``principal.Federated`` and ``condition.<key>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["matches", "value_of"]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def value_of(finding: Mapping[str, Any], key: str) -> list[str] | None:
    """The values a filter key reads from a finding (a finding's fields as ListFindings shows them,
    V1 or V2), None when the finding has no such field."""
    head, _, rest = key.partition(".")
    if rest and head in ("principal", "condition"):
        inner = finding.get(head)
        if not isinstance(inner, Mapping):
            return None
        for name, found in inner.items():
            if str(name).lower() == rest.lower():
                return [_text(found)]
        return None
    if key not in finding or finding[key] is None:
        return None
    found = finding[key]
    if isinstance(found, list | tuple):
        return [_text(v) for v in found]
    return [_text(found)]


def _criterion_holds(values: list[str] | None, criterion: Mapping[str, Any]) -> bool:
    exists = criterion.get("exists")
    if exists is not None and bool(exists) != (values is not None):
        return False
    eq = criterion.get("eq")
    if eq and (values is None or not any(v == e for v in values for e in eq)):
        return False
    neq = criterion.get("neq")
    if neq and values is not None and any(v == n for v in values for n in neq):
        return False
    contains = criterion.get("contains")
    return not (contains and (values is None or not any(c in v for v in values for c in contains)))


def matches(finding: Mapping[str, Any], criteria: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether ``finding`` meets every criterion of the filter."""
    return all(_criterion_holds(value_of(finding, key), criterion) for key, criterion in criteria.items())
