"""A policy summary, as the IAM console's: per service, what a policy allows (and explicitly
denies) by access level, on which resources and under which request conditions.

AWS's summary (IAM User Guide, "Understand permissions granted by a policy",
https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_understand.html) has one row per
service with its access level ("Full access", "Full: List, Read", "Limited: Write"), its resources
("All resources", or the ARNs named) and its request conditions ("None" or the conditions), an
"Explicit deny" table for Deny statements, and lists the services and actions it does not
recognize. This module computes those rows from a parsed policy and the Service Authorization
Reference's actions and access levels; it reads nothing itself (the caller passes the reference).

``NotAction`` grants every action of every service except those listed: the summary shows one row
"All services" for the services the statement does not name, and a row per named service with what
remains of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

from iamd.policy.ast import Effect, Policy, Statement
from iamd.policy.wildcards import compile_glob, has_wildcard

__all__ = [
    "ACCESS_LEVELS",
    "ActionGrant",
    "ActionReference",
    "PolicySummary",
    "ServiceSummary",
    "access_level",
    "summarize",
]

ACCESS_LEVELS: Final = ("List", "Read", "Write", "Permissions management", "Tagging")
"""The Service Authorization Reference's access levels, in the order the console lists them."""

ALL_SERVICES: Final = "*"
"""The service key of the row for every service a ``"*"`` or ``NotAction`` statement grants."""
MAX_WORK: Final = 400_000
"""Actions one summary looks at and records, at most (every action of every service is about
22,000; AWS's ReadOnlyAccess needs about 100,000): past it the summary stops and says it is
incomplete, so any policy costs a bounded time (well under a second)."""
MAX_LISTED: Final = 300
"""Actions listed per service row (the counts per level stay exact)."""


class ActionReference(Protocol):
    """What the summary reads of the Service Authorization Reference."""

    def services(self) -> frozenset[str]: ...

    def service_name(self, service: str) -> str:
        """The service's name as AWS writes it ("Amazon S3"); the prefix when unknown."""
        ...

    def action_levels(self, service: str) -> Mapping[str, tuple[str, str]]:
        """A service's actions: lower-cased name -> (name as AWS spells it, access level)."""
        ...


def access_level(raw: str) -> str:
    """The console's access level for the reference's: ``"Tagging, Write"`` is Tagging and
    ``"Permissions management, Write"`` Permissions management (the reference lists the narrower
    level first)."""
    first = raw.split(",", 1)[0].strip()
    return first if first in ACCESS_LEVELS else "Write"


@dataclass(slots=True)
class ActionGrant:
    """One action a policy grants (or denies), with where and when."""

    name: str
    level: str
    resources: set[str] = field(default_factory=set)
    conditions: set[str] = field(default_factory=set)
    unconditional: bool = False
    """Some statement grants it without a condition."""


@dataclass(slots=True)
class ServiceSummary:
    service: str
    name: str
    actions: dict[str, ActionGrant] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    """How many actions the service has per access level."""
    all_actions: bool = False
    """A row for every service (``"*"`` or the rest of a ``NotAction``)."""
    except_actions: tuple[str, ...] = ()

    def granted(self, level: str) -> int:
        return sum(1 for a in self.actions.values() if a.level == level)

    @property
    def access(self) -> str:
        """ "Full access", or per level "Full: List, Read  Limited: Write", as AWS writes it."""
        if self.all_actions:
            return "Full access" if not self.except_actions else "Full access, except the actions listed"
        full = [lv for lv in ACCESS_LEVELS if self.totals.get(lv) and self.granted(lv) == self.totals[lv]]
        limited = [lv for lv in ACCESS_LEVELS if 0 < self.granted(lv) < self.totals.get(lv, 0)]
        if full and not limited and len(full) == sum(1 for lv in ACCESS_LEVELS if self.totals.get(lv)):
            return "Full access"
        parts = []
        if full:
            parts.append("Full: " + ", ".join(full))
        if limited:
            parts.append("Limited: " + ", ".join(limited))
        return "  ".join(parts) or "None"

    @property
    def resources(self) -> tuple[str, ...]:
        found: set[str] = set()
        for grant in self.actions.values():
            found |= grant.resources
        return ("All resources",) if "All resources" in found else tuple(sorted(found))

    @property
    def conditions(self) -> tuple[str, ...]:
        if any(g.unconditional for g in self.actions.values()):
            others = {c for g in self.actions.values() for c in g.conditions}
            return ("None",) if not others else ("None for some actions", *sorted(others))
        found = {c for g in self.actions.values() for c in g.conditions}
        return tuple(sorted(found)) or ("None",)

    def to_json(self) -> dict[str, object]:
        return {
            "service": self.service,
            "name": self.name,
            "access": self.access,
            "levels": [
                {"level": lv, "granted": self.granted(lv), "total": self.totals.get(lv, 0)}
                for lv in ACCESS_LEVELS
                if self.all_actions or self.granted(lv)
            ],
            "resources": list(self.resources),
            "conditions": list(self.conditions),
            "exceptActions": list(self.except_actions),
            "actions": [
                {
                    "name": g.name,
                    "level": g.level,
                    "resources": sorted(g.resources),
                    "conditions": sorted(g.conditions) if not g.unconditional else [],
                }
                for g in sorted(self.actions.values(), key=lambda g: (ACCESS_LEVELS.index(g.level), g.name))[
                    :MAX_LISTED
                ]
            ],
            "moreActions": max(0, len(self.actions) - MAX_LISTED),
        }


@dataclass(slots=True)
class PolicySummary:
    allow: list[ServiceSummary]
    deny: list[ServiceSummary]
    unrecognized_services: list[str]
    unrecognized_actions: list[str]
    incomplete: bool = False
    """The policy grants more than :data:`MAX_WORK` actions: the rows show the first part."""

    def to_json(self) -> dict[str, object]:
        return {
            "allow": [s.to_json() for s in self.allow],
            "deny": [s.to_json() for s in self.deny],
            "unrecognizedServices": self.unrecognized_services,
            "unrecognizedActions": self.unrecognized_actions,
            "incomplete": self.incomplete,
        }


class _Exhausted(Exception):
    """The summary's work budget is spent."""


def _resources(statement: Statement, service: str) -> set[str]:
    if statement.resources is None:
        # A resource-based or trust policy: the resource is the one the policy is attached to.
        return {"The resource this policy is attached to"}
    if statement.not_resource:
        return {"All resources except: " + ", ".join(statement.resources)}
    if "*" in statement.resources:
        return {"All resources"}
    mine = set()
    for arn in statement.resources:
        parts = arn.split(":", 3)
        named = parts[2] if len(parts) > 2 else ""
        if named == service or has_wildcard(named) or not named:
            mine.add(arn)
    return mine or set(statement.resources)


def _conditions(statement: Statement) -> set[str]:
    return {f"{c.key} {c.operator} {', '.join(c.values)}" for c in statement.conditions}


class _Builder:
    def __init__(self, reference: ActionReference, budget: list[int]) -> None:
        self.reference = reference
        self.budget = budget
        self.rows: dict[str, ServiceSummary] = {}
        self.unknown_services: set[str] = set()
        self.unknown_actions: set[str] = set()

    def row(self, service: str) -> ServiceSummary:
        found = self.rows.get(service)
        if found is None:
            if service == ALL_SERVICES:
                found = ServiceSummary(service, "All services", all_actions=True)
            else:
                levels = self.reference.action_levels(service)
                totals: dict[str, int] = {}
                for _name, raw in levels.values():
                    lv = access_level(raw)
                    totals[lv] = totals.get(lv, 0) + 1
                found = ServiceSummary(service, self.reference.service_name(service), totals=totals)
            self.rows[service] = found
        return found

    def charge(self, units: int) -> None:
        self.budget[0] -= units
        if self.budget[0] < 0:
            raise _Exhausted

    def grant(self, row: ServiceSummary, name: str, level: str, statement: Statement, service: str) -> None:
        self.charge(1)
        grant = row.actions.get(name.lower())
        if grant is None:
            grant = row.actions[name.lower()] = ActionGrant(name, level)
        grant.resources |= _resources(statement, service)
        conditions = _conditions(statement)
        grant.conditions |= conditions
        grant.unconditional = grant.unconditional or not conditions

    def add(self, statement: Statement) -> None:
        known = self.reference.services()
        if statement.not_action:
            named: dict[str, list[str]] = {}
            for action in statement.actions:
                service, _, pattern = action.partition(":")
                if action == "*":
                    return  # NotAction "*" grants nothing.
                if service.lower() not in known:
                    self.unknown_services.add(service)
                    continue
                named.setdefault(service.lower(), []).append(pattern)
            for service, patterns in named.items():
                matchers = [compile_glob(p, ignore_case=True) for p in patterns]
                row = self.row(service)
                levels = self.reference.action_levels(service)
                self.charge(len(levels) * len(matchers))
                for name, raw in levels.values():
                    if not any(m(name) for m in matchers):
                        self.grant(row, name, access_level(raw), statement, service)
            every = self.row(ALL_SERVICES)
            every.except_actions = tuple(sorted({*every.except_actions, *statement.actions}))
            self._everything(every, statement)
            return
        for action in statement.actions:
            if action == "*" or action == "*:*":
                self._everything(self.row(ALL_SERVICES), statement)
                continue
            service, _, pattern = action.partition(":")
            services = (
                sorted(s for s in known if compile_glob(service, ignore_case=True)(s))
                if has_wildcard(service)
                else [service.lower()]
            )
            if not services or (len(services) == 1 and services[0] not in known):
                self.unknown_services.add(service)
                continue
            matcher = compile_glob(pattern, ignore_case=True)
            self.charge(len(known) if has_wildcard(service) else 0)
            for svc in services:
                levels = self.reference.action_levels(svc)
                if has_wildcard(pattern):
                    self.charge(len(levels))
                hits = (
                    [v for v in levels.values() if matcher(v[0])]
                    if has_wildcard(pattern)
                    else [levels[pattern.lower()]]
                    if pattern.lower() in levels
                    else []
                )
                if not hits:
                    if not has_wildcard(service):
                        self.unknown_actions.add(action)
                    continue
                row = self.row(svc)
                for name, raw in hits:
                    self.grant(row, name, access_level(raw), statement, svc)

    def _everything(self, row: ServiceSummary, statement: Statement) -> None:
        self.grant(row, "*", "Write", statement, "*")

    def result(self) -> list[ServiceSummary]:
        return sorted(self.rows.values(), key=lambda r: (not r.all_actions, r.name.lower()))


def summarize(policy: Policy, reference: ActionReference) -> PolicySummary:
    """The summary of ``policy``: Allow rows, explicit Deny rows, and what is not recognized."""
    budget = [MAX_WORK]
    allow, deny = _Builder(reference, budget), _Builder(reference, budget)
    incomplete = False
    try:
        for statement in policy.statements:
            (allow if statement.effect is Effect.ALLOW else deny).add(statement)
    except _Exhausted:
        incomplete = True
    return PolicySummary(
        allow=allow.result(),
        deny=deny.result(),
        unrecognized_services=sorted(allow.unknown_services | deny.unknown_services),
        unrecognized_actions=sorted(allow.unknown_actions | deny.unknown_actions),
        incomplete=incomplete,
    )
