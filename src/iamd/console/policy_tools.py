"""What the policy editor computes besides ValidatePolicy: the policy summary of a document, the
visual builder's catalog answers, and the policy simulator's request and results.

The simulation is an IAM call of the signed-in principal (SimulateCustomPolicy for "this policy
alone", SimulatePrincipalPolicy for "this policy added to a user's or role's policies"), so these
functions only shape its parameters and read its answer; the summary and the catalog read the
Service Authorization Reference iamd ships (:mod:`iamd.catalog`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Any, Final

from iamd.analyzer.summary import summarize
from iamd.catalog import (
    ActionLevels,
    global_condition_keys,
    service_catalog,
    service_names,
    service_reference,
)
from iamd.policy import PolicyError, PolicyKind, parse_policy
from iamd.policy.jsonpos import JsonSyntaxError

__all__ = [
    "MAX_SIMULATED",
    "SimulationInput",
    "catalog_service",
    "catalog_services",
    "parse_simulation",
    "simulation_call",
    "simulation_rows",
    "summary_of",
    "when",
]

MAX_SIMULATED: Final = 20
"""At most this many actions, resources and context keys in one simulation from the console."""
MAX_VALUES: Final = 20
_KINDS: Final = {
    "identity": PolicyKind.IDENTITY,
    "resource": PolicyKind.RESOURCE,
    "trust": PolicyKind.TRUST,
    "scp": PolicyKind.SCP,
    "rcp": PolicyKind.RCP,
}
_SIMULATOR_TYPES: Final = {
    "string": "string",
    "arn": "string",
    "numeric": "numeric",
    "bool": "boolean",
    "boolean": "boolean",
    "date": "date",
    "ipaddress": "ip",
    "binary": "binary",
}
_PRINCIPAL: Final = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:(user|role|group)/[\w+=,.@/-]{1,512}")
_DECISIONS: Final = {
    "allowed": "Allowed",
    "explicitDeny": "Denied: an explicit Deny statement",
    "implicitDeny": "Denied: no statement allows it (implicit deny)",
}


def when(value: object) -> str:
    """A time as the console shows it: ``2026-12-06 23:39 UTC`` (minutes; UTC as IAM keeps it)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, str) and value:
        try:
            return when(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return value
    return "—"


def summary_of(document: str, kind: str = "identity") -> dict[str, object] | None:
    """The policy summary of ``document`` read as ``kind``; None when it does not parse."""
    try:
        policy = parse_policy(document, _KINDS.get(kind, PolicyKind.IDENTITY), strict=False)
    except (PolicyError, JsonSyntaxError, ValueError):
        return None
    return summarize(policy, ActionLevels()).to_json()


@cache
def catalog_services() -> bytes:
    """Every service the reference knows, as the builder's list (JSON, computed once)."""
    names = service_names()
    listed = [{"prefix": p, "name": names[p]} for p in sorted(names)]
    return json.dumps(listed, separators=(",", ":")).encode()


@lru_cache(maxsize=64)
def catalog_service(prefix: str) -> bytes | None:
    """One service's actions, resource types and condition keys, plus the global condition keys
    (JSON, kept for the 64 services last asked for); None for an unknown prefix."""
    found = service_catalog(prefix)
    if found is None:
        return None
    return json.dumps(
        {**found, "globalConditionKeys": global_condition_keys()}, separators=(",", ":")
    ).encode()


def valid_prefix(prefix: str) -> bool:
    return 0 < len(prefix) <= 64 and prefix.lower() in service_names()


@dataclass(slots=True)
class SimulationInput:
    principal: str = ""
    actions: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    context: list[tuple[str, list[str]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _items(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[\n,]", text) if part.strip()]


def parse_simulation(principal: str, actions: str, resources: str, context: str) -> SimulationInput:
    """The simulator's form fields: a principal ARN (optional), actions and resources (one per
    line or comma-separated), context keys (``key = value, value`` per line). ``problems`` says
    what to fix, in words a person can act on."""
    out = SimulationInput(principal=principal.strip())
    if out.principal and not _PRINCIPAL.fullmatch(out.principal):
        out.problems.append(
            "The principal is an IAM user, group or role ARN, e.g. arn:aws:iam::123456789012:user/alice "
            "(or leave it empty to simulate this policy alone)."
        )
    out.actions = _items(actions)
    if not out.actions:
        out.problems.append("Name at least one action to simulate, e.g. s3:GetObject.")
    bad = [a for a in out.actions if not re.fullmatch(r"[A-Za-z0-9-]{1,64}:[A-Za-z0-9*?]{1,128}", a)]
    if bad:
        out.problems.append(f"These are not actions (service:Action): {', '.join(bad[:5])}.")
    out.resources = _items(resources) or ["*"]
    for line in context.splitlines():
        if not line.strip():
            continue
        key, sep, values = line.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[A-Za-z0-9-]{1,64}:[\w/.:${}-]{1,200}", key):
            out.problems.append(
                f'Write each context key as "key = value" on its own line (not "{line.strip()[:60]}").'
            )
            continue
        listed = _items(values)[:MAX_VALUES]
        if not listed:
            out.problems.append(f"Give {key} a value.")
            continue
        out.context.append((key, listed))
    for name, got in (("actions", out.actions), ("resources", out.resources), ("context keys", out.context)):
        if len(got) > MAX_SIMULATED:
            out.problems.append(f"Simulate at most {MAX_SIMULATED} {name} at a time.")
    return out


def _context_type(key: str, count: int) -> str:
    raw = (service_reference().condition_key_type(key) or "String").lower()
    listed = raw.startswith("arrayof")
    base = _SIMULATOR_TYPES.get(raw.removeprefix("arrayof"), "string")
    return base + "List" if listed or count > 1 else base


def simulation_call(document: str, given: SimulationInput) -> tuple[str, dict[str, Any]]:
    """The IAM operation and parameters that simulate ``document`` as the person asked."""
    params: dict[str, Any] = {
        "PolicyInputList": [document],
        "ActionNames": given.actions,
        "ResourceArns": given.resources,
    }
    if given.context:
        params["ContextEntries"] = [
            {
                "ContextKeyName": key,
                "ContextKeyValues": values,
                "ContextKeyType": _context_type(key, len(values)),
            }
            for key, values in given.context
        ]
    if given.principal:
        return "SimulatePrincipalPolicy", {"PolicySourceArn": given.principal, **params}
    return "SimulateCustomPolicy", params


def simulation_rows(answer: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Each result as the page shows it: the decision in words, the statements that decided
    (where they start), and why, per layer."""
    rows: list[dict[str, Any]] = []
    for result in (answer or {}).get("EvaluationResults", []):
        decision = str(result.get("EvalDecision", "implicitDeny"))
        layers: list[str] = []
        boundary = result.get("PermissionsBoundaryDecisionDetail")
        if boundary is not None:
            allowed = boundary.get("AllowedByPermissionsBoundary")
            layers.append("Permissions boundary: " + ("allows" if allowed else "does not allow"))
        organizations = result.get("OrganizationsDecisionDetail")
        if organizations is not None:
            allowed = organizations.get("AllowedByOrganizations")
            layers.append("Service control policies: " + ("allow" if allowed else "deny"))
        why: list[str] = []
        for key, value in (result.get("EvalDecisionDetails") or {}).items():
            if key in ("IAM Policy", "Resource Policy"):
                layers.append(f"{key}: {value}")
            else:
                why.append(("Denies: " if value == "explicitDeny" else "Nearest: ") + key)
        matched = []
        for statement in result.get("MatchedStatements") or []:
            where = statement.get("StartPosition") or {}
            line = where.get("Line")
            matched.append(
                {
                    "policy": statement.get("SourcePolicyId", ""),
                    "type": statement.get("SourcePolicyType", ""),
                    "line": line,
                    "text": f"{statement.get('SourcePolicyId', '')}" + (f", line {line}" if line else ""),
                }
            )
        rows.append(
            {
                "action": result.get("EvalActionName", ""),
                "resource": result.get("EvalResourceName", ""),
                "decision": decision,
                "allowed": decision == "allowed",
                "decisionText": _DECISIONS.get(decision, decision),
                "matched": matched,
                "layers": layers,
                "why": why,
                "missing": list(result.get("MissingContextValues") or []),
            }
        )
    return rows
