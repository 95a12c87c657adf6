"""Findings: ListFindings, ListFindingsV2, GetFinding, GetFindingV2, UpdateFindings,
GetFindingsStatistics, StartResourceScan, ListAnalyzedResources, GetAnalyzedResource.

Findings follow the store, promptly: every call that reads an analyzer's findings first brings them
up to date with the policies and the trail in its own transaction (:func:`synchronize`), so a
trust policy fixed a moment ago reads RESOLVED at once, with no scan schedule. New findings start
ACTIVE (ARCHIVED when an archive rule matches); a finding whose access is gone becomes RESOLVED; a
changed access resolves the old finding and opens a new one (access-analyzer-findings-remediate).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Final, Literal

from iamd.analyzer.external_access import ExternalGrant, external_grants
from iamd.analyzer.filters import matches
from iamd.analyzer.unused import AccessKeyUse, Principal, unused_findings
from iamd.catalog import actions as catalog_actions
from iamd.policy.wildcards import compile_glob
from iamd.services.accessanalyzer.analyzer_common import (
    EXTERNAL_TYPES,
    analyzer_by_arn,
    not_found,
    organization_watchers,
    page,
    validation,
    zone_of_trust,
)
from iamd.services.framework import OperationContext, operation
from iamd.store.access_analyzer import AnalyzerRecord, FindingRecord
from iamd.trail.access import TRACKED_SERVICES, allowed_actions

__all__ = ["archive_matching", "details_v2", "finding_view", "role_trust_changed", "synchronize"]

ROLE: Final = "AWS::IAM::Role"
SERVICE_ROLE_PATH: Final = "/aws-service-role/"


@dataclass(frozen=True, slots=True)
class _Current:
    """A finding as the policies and the trail show it now."""

    identity: str
    finding_type: str
    resource: str
    resource_type: str
    owner: str
    details: dict[str, Any]


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def _role_arn(account: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role{path}{name}"


def _user_arn(account: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{account}:user{path}{name}"


def _all(fetch: Any) -> list[Any]:
    items: list[Any] = []
    marker = None
    while True:
        got = fetch(marker)
        items.extend(got.items)
        marker = got.marker
        if marker is None:
            return items


@lru_cache(maxsize=4096)
def _grants(document: str, zone: frozenset[str]) -> tuple[ExternalGrant, ...]:
    """external_grants, cached: most roles share a handful of trust policies, and every read of
    the findings looks at every role's."""
    return tuple(external_grants(document, zone))


def _role_findings(account: str, arn: str, trust_policy: str, zone: frozenset[str]) -> list[_Current]:
    current = []
    for grant in _grants(trust_policy, zone):
        details = {
            "principal": grant.principal_map,
            "action": list(grant.actions),
            "condition": grant.condition_map,
            "isPublic": grant.is_public,
        }
        identity = _digest("ExternalAccess", arn, grant.fingerprint())
        current.append(_Current(identity, "ExternalAccess", arn, ROLE, account, details))
    return current


def _external(ctx: OperationContext, analyzer: AnalyzerRecord) -> list[_Current]:
    """External access findings: every role trust policy of every account in the zone."""
    zone = zone_of_trust(ctx, analyzer)
    current = []
    for account in sorted(zone):
        for role in _all(lambda m, a=account: ctx.uow.roles.list(a, marker=m, max_items=1000)):
            current.extend(
                _role_findings(account, _role_arn(account, role.path, role.name), role.trust_policy, zone)
            )
    return current


def _allowed(documents: list[str]) -> dict[str, tuple[str, ...]]:
    return _allowed_cached(tuple(documents))


@lru_cache(maxsize=1024)
def _allowed_cached(documents: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Service -> the actions (action-level services) or () (service level) the documents allow;
    cached: many principals share the same policies."""
    allowed: dict[str, tuple[str, ...]] = {}
    for service, patterns in allowed_actions(documents).items():
        if service not in TRACKED_SERVICES:
            allowed[service] = ()
            continue
        names = catalog_actions(service)
        matchers = [compile_glob(p) for p in patterns]
        allowed[service] = (
            tuple(
                f"{service}:{spelled}"
                for lowered, spelled in sorted(names.items())
                if any(m(lowered) for m in matchers)
            )
            or ()
        )
    return allowed


def _uses_by_entity(
    ctx: OperationContext, account: str, entity_ids: list[str]
) -> dict[str, dict[str, dict[str, datetime]]]:
    """Entity id -> service -> lower-cased action -> last use, in one read."""
    used: dict[str, dict[str, dict[str, datetime]]] = {}
    for use in ctx.uow.audit.last_accessed(account, entity_ids):
        per = used.setdefault(use.entity_id, {}).setdefault(use.service, {})
        key = f"{use.service}:{use.action}".lower()
        if key not in per or per[key] < use.last_at:
            per[key] = use.last_at
    return used


def _tags(
    ctx: OperationContext, account: str, kind: Literal["role", "user"], entity_id: str, wanted: bool
) -> dict[str, str]:
    return {t.key: t.value for t in ctx.uow.tags.list(account, kind, entity_id)} if wanted else {}


def _unused(ctx: OperationContext, analyzer: AnalyzerRecord) -> list[_Current]:
    """Unused access findings: roles, user passwords and keys, and permissions, from the trail."""
    config = (analyzer.configuration or {}).get("unusedAccess") or {}
    age = int(config.get("unusedAccessAge") or 90)
    exclusions = (config.get("analysisRule") or {}).get("exclusions") or []
    excluded_accounts = {a for e in exclusions for a in e.get("accountIds") or []}
    excluded_tags = [dict(t) for e in exclusions for t in e.get("resourceTags") or []]
    cutoff = ctx.now - timedelta(days=age)
    current = []
    for account in sorted(zone_of_trust(ctx, analyzer) - excluded_accounts):
        principals = []
        roles = [
            r
            for r in _all(lambda m, a=account: ctx.uow.roles.list(a, marker=m, max_items=1000))
            # Service-linked roles are not analyzed (what-is-access-analyzer); principals younger
            # than the window were not there for the whole tracking period.
            if not r.path.startswith(SERVICE_ROLE_PATH) and r.created_at <= cutoff
        ]
        users = [
            u
            for u in _all(lambda m, a=account: ctx.uow.users.list(a, marker=m, max_items=1000))
            if u.created_at <= cutoff
        ]
        used = _uses_by_entity(ctx, account, [r.id for r in roles] + [u.id for u in users])
        for role in roles:
            uses = used.get(role.id, {})
            # The role's last use: RoleLastUsed, or its sessions' latest call on the trail.
            times = [t for per in uses.values() for t in per.values()]
            if role.last_used_at is not None:
                times.append(role.last_used_at)
            principals.append(
                Principal(
                    "role",
                    _role_arn(account, role.path, role.name),
                    role.created_at,
                    max(times, default=None),
                    _allowed([d.document for d in ctx.uow.principals.policies_for_role(role.id).identity]),
                    uses,
                    tags=_tags(ctx, account, "role", role.id, bool(excluded_tags)),
                )
            )
        for user in users:
            profile = ctx.uow.login_profiles.find(user.id)
            keys = ctx.uow.access_keys.list_for(account, user.id)
            principals.append(
                Principal(
                    "user",
                    _user_arn(account, user.path, user.name),
                    user.created_at,
                    None,
                    _allowed([d.document for d in ctx.uow.principals.policies_for_user(user.id).identity]),
                    used.get(user.id, {}),
                    password_last_used=user.password_last_used,
                    has_password=profile is not None,
                    password_created_at=profile.created_at if profile is not None else None,
                    access_keys=tuple(
                        AccessKeyUse(k.id, k.created_at, k.last_used_at, k.status == "Active") for k in keys
                    ),
                    tags=_tags(ctx, account, "user", user.id, bool(excluded_tags)),
                )
            )
        for found in unused_findings(principals, ctx.now, age, excluded_tags):
            current.append(
                _Current(
                    _digest(found.finding_type, found.resource, found.identity),
                    found.finding_type,
                    found.resource,
                    found.resource_type,
                    account,
                    {"findingDetails": [_jsonable(d) for d in found.details]},
                )
            )
    return current


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$t": value.isoformat()}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _restored(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$t"}:
            return datetime.fromisoformat(value["$t"])
        return {k: _restored(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_restored(v) for v in value]
    return value


def finding_view(finding: FindingRecord) -> dict[str, Any]:
    """The finding's fields as filters and V1 outputs read them."""
    view: dict[str, Any] = {
        "id": finding.id,
        "resource": finding.resource,
        "resourceType": finding.resource_type,
        "resourceOwnerAccount": finding.resource_owner_account,
        "status": finding.status,
        "findingType": finding.finding_type,
        "createdAt": finding.created_at,
        "analyzedAt": finding.analyzed_at,
        "updatedAt": finding.updated_at,
    }
    if finding.finding_type == "ExternalAccess":
        view.update(
            principal=finding.details["principal"],
            action=finding.details["action"],
            condition=finding.details["condition"],
            isPublic=finding.details["isPublic"],
        )
    return view


def _reconcile(
    ctx: OperationContext, analyzer: AnalyzerRecord, found_now: list[_Current], stored: list[FindingRecord]
) -> None:
    """Make ``stored`` (the analyzer's findings in scope) match ``found_now``: new ones ACTIVE (or
    ARCHIVED by a rule), vanished ones RESOLVED, unused-access details refreshed."""
    repo = ctx.uow.access_analyzer
    now = ctx.now
    current = {c.identity: c for c in found_now}
    live = {f.identity: f for f in stored if f.status != "RESOLVED"}
    for identity, finding in live.items():
        if identity not in current:
            repo.update_finding(finding.id, status="RESOLVED", updated_at=now, analyzed_at=now)
        elif (
            _jsonable(current[identity].details) != finding.details
            and finding.finding_type != "ExternalAccess"
        ):
            repo.update_finding(finding.id, details=current[identity].details, analyzed_at=now)
    rules = None
    last: str | None = None
    for identity, found in current.items():
        if identity in live:
            continue
        if rules is None:
            rules = repo.rules(analyzer.arn)
        record = FindingRecord(
            str(uuid.uuid4()),
            analyzer.arn,
            identity,
            found.finding_type,
            found.resource,
            found.resource_type,
            found.owner,
            "ACTIVE",
            found.details,
            now,
            now,
            now,
            None,
        )
        view = finding_view(record)
        if any(matches(view, rule.filter) for rule in rules):
            record = FindingRecord(
                **{**{f: getattr(record, f) for f in record.__dataclass_fields__}, "status": "ARCHIVED"}
            )
        repo.add_finding(record)
        last = found.resource
    if last is not None:
        repo.update_analyzer(analyzer.arn, last_resource_analyzed=last, last_resource_analyzed_at=now)


def synchronize(ctx: OperationContext, analyzer: AnalyzerRecord) -> list[FindingRecord]:
    """Bring the analyzer's findings up to date; its findings after."""
    found_now = _external(ctx, analyzer) if analyzer.type in EXTERNAL_TYPES else _unused(ctx, analyzer)
    _reconcile(ctx, analyzer, found_now, ctx.uow.access_analyzer.findings(analyzer.arn))
    return ctx.uow.access_analyzer.findings(analyzer.arn)


def role_trust_changed(ctx: OperationContext, account: str, role_arn: str, trust_policy: str | None) -> None:
    """In the transaction that creates a role, changes its trust policy or deletes it (None):
    bring every external access analyzer that sees the role up to date for that role, so its
    finding appears or turns RESOLVED at the time of the change (roles are global: every Region's
    analyzers)."""
    repo = ctx.uow.access_analyzer
    watching = list(repo.analyzers_of_account(account))
    for watcher in organization_watchers(ctx, account):  # organization analyzers see members too
        watching.extend(a for a in repo.analyzers_of_account(watcher) if a.type.startswith("ORGANIZATION"))
    for analyzer in watching:
        if analyzer.type not in EXTERNAL_TYPES:
            continue
        zone = zone_of_trust(ctx, analyzer)
        found_now = [] if trust_policy is None else _role_findings(account, role_arn, trust_policy, zone)
        stored = [f for f in repo.findings(analyzer.arn) if f.resource == role_arn]
        _reconcile(ctx, analyzer, found_now, stored)


def archive_matching(ctx: OperationContext, analyzer: AnalyzerRecord, criteria: dict[str, Any]) -> None:
    """ApplyArchiveRule: archive the ACTIVE findings that match."""
    for finding in ctx.uow.access_analyzer.findings(analyzer.arn):
        if finding.status == "ACTIVE" and matches(finding_view(finding), criteria):
            ctx.uow.access_analyzer.update_finding(finding.id, status="ARCHIVED", updated_at=ctx.now)


def _v1(finding: FindingRecord) -> dict[str, Any]:
    view = finding_view(finding)
    view.pop("findingType")
    return view


def _summary_v2(finding: FindingRecord) -> dict[str, Any]:
    view = finding_view(finding)
    return {
        k: view[k]
        for k in (
            "id",
            "resource",
            "resourceType",
            "resourceOwnerAccount",
            "status",
            "findingType",
            "createdAt",
            "analyzedAt",
            "updatedAt",
        )
    }


def details_v2(finding: FindingRecord) -> list[dict[str, Any]]:
    if finding.finding_type == "ExternalAccess":
        d = finding.details
        return [
            {
                "externalAccessDetails": {
                    "action": d["action"],
                    "condition": d["condition"],
                    "isPublic": d["isPublic"],
                    "principal": d["principal"],
                    "resourceControlPolicyRestriction": "NOT_APPLICABLE",
                }
            }
        ]
    restored = _restored(finding.details.get("findingDetails") or [])
    assert isinstance(restored, list)
    return restored


_SORTABLE: Final = (
    "id",
    "resource",
    "resourceType",
    "resourceOwnerAccount",
    "status",
    "findingType",
    "createdAt",
    "analyzedAt",
    "updatedAt",
)


def _listed(
    ctx: OperationContext, params: dict[str, Any], action: str, *, external_only: bool
) -> tuple[AnalyzerRecord, list[FindingRecord]]:
    analyzer = analyzer_by_arn(ctx, str(params["analyzerArn"]), action)
    if external_only and analyzer.type not in EXTERNAL_TYPES:
        raise validation(
            f"{ctx.info.operation} works only for external access analyzers; "
            f"use the V2 operation for {analyzer.type}",
            reason="notSupported",
        )
    findings = synchronize(ctx, analyzer)
    criteria = params.get("filter") or {}
    chosen = [f for f in findings if matches(finding_view(f), criteria)]
    sort = params.get("sort") or {}
    attribute = sort.get("attributeName") or "updatedAt"
    if attribute not in _SORTABLE:
        raise validation(f"Invalid sort attributeName '{attribute}': one of {', '.join(_SORTABLE)}")
    descending = (sort.get("orderBy") or ("DESC" if not sort else "ASC")) == "DESC"
    chosen.sort(key=lambda f: (finding_view(f)[attribute], f.id), reverse=descending)
    return analyzer, chosen


@operation("accessanalyzer", "ListFindings", heavy=True)
def list_findings(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    analyzer, chosen = _listed(ctx, params, "access-analyzer:ListFindings", external_only=True)
    chunk, more = page(chosen, params, f"findings:{analyzer.arn}")
    return {"findings": [_v1(f) for f in chunk], **more}


@operation("accessanalyzer", "ListFindingsV2", heavy=True)
def list_findings_v2(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    analyzer, chosen = _listed(ctx, params, "access-analyzer:ListFindings", external_only=False)
    chunk, more = page(chosen, params, f"findingsv2:{analyzer.arn}")
    return {"findings": [_summary_v2(f) for f in chunk], **more}


def _one(ctx: OperationContext, params: dict[str, Any], action: str) -> tuple[AnalyzerRecord, FindingRecord]:
    analyzer = analyzer_by_arn(ctx, str(params["analyzerArn"]), action)
    synchronize(ctx, analyzer)
    finding = ctx.uow.access_analyzer.finding(analyzer.arn, str(params["id"]))
    if finding is None:
        raise not_found("Finding", str(params["id"]), "AWS::AccessAnalyzer::Finding")
    return analyzer, finding


@operation("accessanalyzer", "GetFinding", heavy=True)
def get_finding(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    analyzer, finding = _one(ctx, params, "access-analyzer:GetFinding")
    if analyzer.type not in EXTERNAL_TYPES:
        raise validation(
            "GetFinding works only for external access analyzers; use GetFindingV2", reason="notSupported"
        )
    return {"finding": _v1(finding)}


@operation("accessanalyzer", "GetFindingV2", heavy=True)
def get_finding_v2(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    _, finding = _one(ctx, params, "access-analyzer:GetFinding")
    details, more = page(details_v2(finding), params, f"details:{finding.id}")
    return {**_summary_v2(finding), "findingDetails": details, **more}


@operation("accessanalyzer", "UpdateFindings", heavy=True)
def update_findings(ctx: OperationContext, params: dict[str, Any]) -> None:
    analyzer = analyzer_by_arn(ctx, str(params["analyzerArn"]), "access-analyzer:UpdateFindings")
    status = str(params["status"])
    if status not in ("ACTIVE", "ARCHIVED"):
        raise validation(f"Invalid status '{status}': findings can be set to ACTIVE or ARCHIVED only")
    ids, resource = params.get("ids"), params.get("resourceArn")
    if not ids and not resource:
        raise validation("UpdateFindings needs ids or resourceArn")
    findings = {f.id: f for f in synchronize(ctx, analyzer)}
    chosen: list[FindingRecord] = []
    for finding_id in ids or []:
        if finding_id not in findings:
            raise not_found("Finding", finding_id, "AWS::AccessAnalyzer::Finding")
        chosen.append(findings[finding_id])
    if resource:
        chosen.extend(f for f in findings.values() if f.resource == resource and f not in chosen)
    for finding in chosen:
        if finding.status == "RESOLVED":
            if ids and finding.id in ids:
                raise validation(
                    f"Finding {finding.id} is RESOLVED: only ACTIVE and ARCHIVED findings can be updated"
                )
            continue
        if finding.status != status:
            ctx.uow.access_analyzer.update_finding(finding.id, status=status, updated_at=ctx.now)


@operation("accessanalyzer", "GetFindingsStatistics", heavy=True)
def get_findings_statistics(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    analyzer = analyzer_by_arn(ctx, str(params["analyzerArn"]), "access-analyzer:GetFindingsStatistics")
    findings = synchronize(ctx, analyzer)
    totals = {
        "totalActiveFindings": sum(f.status == "ACTIVE" for f in findings),
        "totalArchivedFindings": sum(f.status == "ARCHIVED" for f in findings),
        "totalResolvedFindings": sum(f.status == "RESOLVED" for f in findings),
    }
    active = [f for f in findings if f.status == "ACTIVE"]
    statistics: dict[str, Any]
    if analyzer.type in EXTERNAL_TYPES:
        by_type: dict[str, dict[str, int]] = {}
        for finding in active:
            entry = by_type.setdefault(
                finding.resource_type,
                {"totalActivePublic": 0, "totalActiveCrossAccount": 0, "totalActiveErrors": 0},
            )
            entry["totalActivePublic" if finding.details.get("isPublic") else "totalActiveCrossAccount"] += 1
        statistics = {"externalAccessFindingsStatistics": {"resourceTypeStatistics": by_type, **totals}}
    else:
        types: dict[str, int] = {}
        accounts: dict[str, dict[str, int]] = {}
        for finding in active:
            types[finding.finding_type] = types.get(finding.finding_type, 0) + 1
            per = accounts.setdefault(finding.resource_owner_account, {})
            per[finding.finding_type] = per.get(finding.finding_type, 0) + 1
        top = sorted(accounts.items(), key=lambda item: (-sum(item[1].values()), item[0]))[:10]
        statistics = {
            "unusedAccessFindingsStatistics": {
                "unusedAccessTypeStatistics": [
                    {"unusedAccessType": t, "total": n} for t, n in sorted(types.items())
                ],
                "topAccounts": [
                    {"account": a, "numberOfActiveFindings": sum(d.values()), "details": d} for a, d in top
                ],
                **totals,
            }
        }
    return {"findingsStatistics": [statistics], "lastUpdatedAt": ctx.now}


# -- analyzed resources ---------------------------------------------------------------------------


def _roles_in_zone(ctx: OperationContext, analyzer: AnalyzerRecord) -> list[tuple[str, Any]]:
    out = []
    for account in sorted(zone_of_trust(ctx, analyzer)):
        for role in _all(lambda m, a=account: ctx.uow.roles.list(a, marker=m, max_items=1000)):
            out.append((_role_arn(account, role.path, role.name), role))
    return out


def _external_analyzer(ctx: OperationContext, params: dict[str, Any], action: str) -> AnalyzerRecord:
    analyzer = analyzer_by_arn(ctx, str(params["analyzerArn"]), action)
    if analyzer.type not in EXTERNAL_TYPES:
        raise validation(
            f"{ctx.info.operation} works only for external access analyzers", reason="notSupported"
        )
    return analyzer


@operation("accessanalyzer", "StartResourceScan", heavy=True)
def start_resource_scan(ctx: OperationContext, params: dict[str, Any]) -> None:
    analyzer = _external_analyzer(ctx, params, "access-analyzer:StartResourceScan")
    arn = str(params["resourceArn"])
    if arn not in {a for a, _ in _roles_in_zone(ctx, analyzer)}:
        raise not_found("Resource", arn, ROLE if ":role/" in arn else "Resource")
    synchronize(ctx, analyzer)
    ctx.uow.access_analyzer.update_analyzer(
        analyzer.arn, last_resource_analyzed=arn, last_resource_analyzed_at=ctx.now
    )


@operation("accessanalyzer", "ListAnalyzedResources")
def list_analyzed_resources(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    analyzer = _external_analyzer(ctx, params, "access-analyzer:ListAnalyzedResources")
    kind = params.get("resourceType")
    rows = [] if kind and kind != ROLE else _roles_in_zone(ctx, analyzer)
    chunk, more = page(rows, params, f"resources:{analyzer.arn}")
    return {
        "analyzedResources": [
            {"resourceArn": arn, "resourceOwnerAccount": role.account_id, "resourceType": ROLE}
            for arn, role in chunk
        ],
        **more,
    }


@operation("accessanalyzer", "GetAnalyzedResource", heavy=True)
def get_analyzed_resource(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    analyzer = _external_analyzer(ctx, params, "access-analyzer:GetAnalyzedResource")
    arn = str(params["resourceArn"])
    role = dict(_roles_in_zone(ctx, analyzer)).get(arn)
    if role is None:
        raise not_found("Analyzed resource", arn, ROLE)
    findings: Sequence[FindingRecord] = [
        f for f in synchronize(ctx, analyzer) if f.resource == arn and f.status != "RESOLVED"
    ]
    resource: dict[str, Any] = {
        "resourceArn": arn,
        "resourceType": ROLE,
        "createdAt": role.created_at,
        "analyzedAt": ctx.now,
        "updatedAt": max((f.updated_at for f in findings), default=role.created_at),
        "isPublic": any(f.details.get("isPublic") for f in findings),
        "resourceOwnerAccount": role.account_id,
    }
    if findings:
        resource["actions"] = sorted({a for f in findings for a in f.details.get("action", [])})
        resource["status"] = "ACTIVE" if any(f.status == "ACTIVE" for f in findings) else "ARCHIVED"
    return {"resource": resource}
