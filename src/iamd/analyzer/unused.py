"""Unused access: which IAM roles, user passwords, access keys and permissions have gone unused for
at least the analyzer's ``unusedAccessAge`` days. Pure: the entities, their last-used times and the
services and actions their identity policies allow come in; findings come out.

Facts (shared/spec/access_analyzer_api.md §3, unused_access_and_policy_generation.md §2):
- finding types UnusedIAMRole, UnusedIAMUserAccessKey, UnusedIAMUserPassword, UnusedPermission;
- only entities (and permissions) that existed for the whole tracking period are evaluated
  (access-analyzer-create-unused);
- unused permissions are those the identity policies allow, at service level for every service and
  at action level for the services with action-level data.
iamd rule (the spec's, derived): one finding per principal and finding type, one detail per
service or access key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

__all__ = ["AccessKeyUse", "Principal", "UnusedFinding", "unused_findings"]


@dataclass(frozen=True, slots=True)
class AccessKeyUse:
    key_id: str
    created_at: datetime
    last_used: datetime | None
    active: bool


@dataclass(frozen=True, slots=True)
class Principal:
    """A user or role as the unused-access analysis sees it."""

    kind: str  # "user" or "role"
    arn: str
    created_at: datetime
    last_used: datetime | None
    """A role's last use; for a user, None (its keys and password carry their own)."""
    allowed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Service prefix -> the actions its identity policies allow (spelled as in the catalog); an
    empty tuple: the whole service, at service level only."""
    used: Mapping[str, Mapping[str, datetime]] = field(default_factory=dict)
    """Service prefix -> lower-cased action name -> last use."""
    password_last_used: datetime | None = None
    has_password: bool = False
    password_created_at: datetime | None = None
    access_keys: tuple[AccessKeyUse, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UnusedFinding:
    finding_type: str
    resource: str
    resource_type: str
    details: tuple[dict[str, Any], ...]
    identity: str
    """What identifies the finding apart from last-used times (a change is a new finding)."""


def _stale(last: datetime | None, cutoff: datetime) -> bool:
    return last is None or last < cutoff


def _permission_details(principal: Principal, cutoff: datetime) -> list[dict[str, Any]]:
    details: list[dict[str, Any]] = []
    for service in sorted(principal.allowed):
        used = principal.used.get(service, {})
        service_last = max(used.values()) if used else None
        actions = principal.allowed[service]
        if not actions:
            if _stale(service_last, cutoff):
                detail: dict[str, Any] = {"serviceNamespace": service}
                if service_last is not None:
                    detail["lastAccessed"] = service_last
                details.append(detail)
            continue
        unused_actions = []
        for action in actions:
            last = used.get(action.lower())
            if _stale(last, cutoff):
                item: dict[str, Any] = {"action": action}
                if last is not None:
                    item["lastAccessed"] = last
                unused_actions.append(item)
        if not unused_actions:
            continue
        detail = {"serviceNamespace": service, "actions": unused_actions}
        if service_last is not None:
            detail["lastAccessed"] = service_last
        details.append(detail)
    return details


def unused_findings(
    principals: Sequence[Principal],
    now: datetime,
    age_days: int,
    excluded_tags: Sequence[Mapping[str, str]] = (),
) -> list[UnusedFinding]:
    """The unused-access findings as of ``now`` for ``age_days`` (``unusedAccessAge``).
    ``excluded_tags``: the exclusions' ``resourceTags`` (a principal carrying every tag of one map
    is excluded; an empty value matches any value of the key)."""
    window = timedelta(days=age_days)
    cutoff = now - window
    found: list[UnusedFinding] = []
    for principal in principals:
        if any(
            all(k in principal.tags and (v == "" or principal.tags[k] == v) for k, v in tags.items())
            for tags in excluded_tags
            if tags
        ):
            continue
        if principal.created_at > cutoff:
            continue  # not there for the whole tracking period
        resource_type = "AWS::IAM::Role" if principal.kind == "role" else "AWS::IAM::User"
        if principal.kind == "role" and _stale(principal.last_used, cutoff):
            details = {} if principal.last_used is None else {"lastAccessed": principal.last_used}
            found.append(
                UnusedFinding(
                    "UnusedIAMRole", principal.arn, resource_type, ({"unusedIamRoleDetails": details},), ""
                )
            )
        if principal.kind == "user":
            if (
                principal.has_password
                and (principal.password_created_at is None or principal.password_created_at <= cutoff)
                and _stale(principal.password_last_used, cutoff)
            ):
                details = (
                    {}
                    if principal.password_last_used is None
                    else {"lastAccessed": principal.password_last_used}
                )
                found.append(
                    UnusedFinding(
                        "UnusedIAMUserPassword",
                        principal.arn,
                        resource_type,
                        ({"unusedIamUserPasswordDetails": details},),
                        "",
                    )
                )
            stale_keys = [
                k
                for k in principal.access_keys
                if k.active and k.created_at <= cutoff and _stale(k.last_used, cutoff)
            ]
            if stale_keys:
                key_details = []
                for key in sorted(stale_keys, key=lambda k: k.key_id):
                    detail: dict[str, Any] = {"accessKeyId": key.key_id}
                    if key.last_used is not None:
                        detail["lastAccessed"] = key.last_used
                    key_details.append({"unusedIamUserAccessKeyDetails": detail})
                found.append(
                    UnusedFinding(
                        "UnusedIAMUserAccessKey",
                        principal.arn,
                        resource_type,
                        tuple(key_details),
                        ",".join(k.key_id for k in sorted(stale_keys, key=lambda k: k.key_id)),
                    )
                )
        if (principal.kind == "role" and not _stale(principal.last_used, cutoff)) or principal.kind == "user":
            permissions = _permission_details(principal, cutoff)
            if permissions:
                identity = ";".join(
                    d["serviceNamespace"] + ":" + ",".join(a["action"] for a in d.get("actions", []))
                    for d in permissions
                )
                found.append(
                    UnusedFinding(
                        "UnusedPermission",
                        principal.arn,
                        resource_type,
                        tuple({"unusedPermissionDetails": d} for d in permissions),
                        identity,
                    )
                )
    return found
