"""The Organizations access report: GenerateOrganizationsAccessReport and
GetOrganizationsAccessReport, computed from the trail's last-accessed data.

IAM API reference, GenerateOrganizationsAccessReport
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_GenerateOrganizationsAccessReport.html):
the caller signs in to the organization's management account, SCPs must be enabled for the root;
the report is for an entity path (``o-…/r-…[/ou-…]*[/account]``). With only the path it lists
the services allowed by any SCP that applies to the entity (here: attached to the root, to an OU
on the path, or to the account); with an OrganizationsPolicyId, the services that SCP allows. For
each service: the most recent activity of account principals in the entity or its children
(LastAuthenticatedTime, Region, and the EntityPath of the account it came from) and
TotalAuthenticatedEntities, the number of accounts whose principals used it
(GetOrganizationsAccessReport, AccessDetail). Jobs complete at once; a job is visible only to
the principal that started it, as for GenerateServiceLastAccessedDetails.
"""

from __future__ import annotations

import itertools
import json
import uuid
from typing import Any, Final

from iamd.services.framework import OperationContext, operation
from iamd.services.iam.last_accessed import JOB_RETENTION, decode_times, encode_times, page_of
from iamd.services.organizations.common import MANAGED, SCP, chain_of
from iamd.store.audit import JobRecord, LastAccessedRecord
from iamd.store.organizations import OrganizationRecord
from iamd.trail.access import allowed_actions, service_name
from iamd.wire import InvalidInput, NoSuchEntity

__all__ = ["JOB_KIND", "access_details", "sorted_details"]

JOB_KIND: Final = "ORGANIZATIONS"
"""The granularity column of an access report's job (last-accessed jobs hold SERVICE_LEVEL or
ACTION_LEVEL there)."""
SORT_KEYS: Final = (
    "SERVICE_NAMESPACE_ASCENDING",
    "SERVICE_NAMESPACE_DESCENDING",
    "LAST_AUTHENTICATED_TIME_ASCENDING",
    "LAST_AUTHENTICATED_TIME_DESCENDING",
)


def _management_org(ctx: OperationContext, path: str) -> OrganizationRecord:
    account = ctx.uow.accounts.get(ctx.account_id)
    organization = account.organization_id
    org = ctx.uow.organizations.find(organization) if organization else None
    if org is None:
        why = f"account {ctx.account_id} is not in an organization"
    elif org.management_account_id != ctx.account_id:
        why = f"account {ctx.account_id} is not the management account of organization {org.id}"
    elif ctx.uow.organizations.policy_types(org.id).get(SCP) != "ENABLED":
        why = f"service control policies are not enabled for the root of organization {org.id}"
    else:
        return org
    raise InvalidInput(
        f"Cannot generate an Organizations access report for {path}: {why} (these reports are made "
        "from an organization's management account, with service control policies enabled)."
    )


def _resolve(ctx: OperationContext, org: OrganizationRecord, path: str) -> tuple[list[str], str | None]:
    """The chain (root, OUs) an entity path names and its account, if it names one; InvalidInput
    saying which part is wrong."""
    parts = path.strip("/").split("/")
    bad = f"EntityPath {path} is not a path in organization {org.id}"
    if len(parts) < 2 or parts[0] != org.id:
        raise InvalidInput(f"{bad}: it must start with {org.id}/{org.root_id}.")
    account = parts[-1] if parts[-1].isdigit() else None
    nodes = parts[1:-1] if account is not None else parts[1:]
    if not nodes or nodes[0] != org.root_id:
        raise InvalidInput(f"{bad}: the root of the organization is {org.root_id}.")
    for parent, child in itertools.pairwise(nodes):
        ou = ctx.uow.organizations.ou(child)
        if ou is None or ou.organization_id != org.id or ou.parent_id != parent:
            raise InvalidInput(f"{bad}: {child} is not an organizational unit under {parent}.")
    if account is not None:
        member = ctx.uow.organizations.member(account)
        if member is None or member.organization_id != org.id or member.parent_id != nodes[-1]:
            raise InvalidInput(f"{bad}: account {account} is not a member directly under {nodes[-1]}.")
    return nodes, account


def _accounts_under(ctx: OperationContext, org: OrganizationRecord, parent: str) -> list[str]:
    accounts = [m.account_id for m in ctx.uow.organizations.members(org.id, parent)]
    for ou in ctx.uow.organizations.ous(org.id, parent):
        accounts.extend(_accounts_under(ctx, org, ou.id))
    return accounts


def _account_paths(ctx: OperationContext, org: OrganizationRecord, accounts: list[str]) -> dict[str, str]:
    paths = {}
    for account in accounts:
        member = ctx.uow.organizations.member(account)
        if member is not None:
            paths[account] = "/".join([org.id, *chain_of(ctx.uow, org, member.parent_id), account])
    return paths


def _scp_documents(
    ctx: OperationContext, org: OrganizationRecord, targets: list[str], policy_id: str | None
) -> list[str]:
    organizations = ctx.uow.organizations
    ids = (
        [policy_id] if policy_id is not None else [p for _, p in organizations.attached(org.id, targets, SCP)]
    )
    stored = organizations.policies_by_id([i for i in ids if i not in MANAGED])
    documents = []
    for found in ids:
        record = stored.get(found)
        policy = MANAGED.get(found) or (record if record and record.organization_id == org.id else None)
        if policy is None or policy.policy_type != SCP:
            raise InvalidInput(
                f"OrganizationsPolicyId {found} is not a service control policy of organization {org.id}."
            )
        documents.append(policy.content)
    return documents


def access_details(
    allowed: set[str], uses: list[tuple[str, LastAccessedRecord]], paths: dict[str, str]
) -> list[dict[str, Any]]:
    """One AccessDetail per allowed service: the latest use by any account's principals (when,
    where, which account's path) and how many accounts used it; never used: no time."""
    by_service: dict[str, list[tuple[str, LastAccessedRecord]]] = {}
    for account, use in uses:
        if use.service in allowed and account in paths:
            by_service.setdefault(use.service, []).append((account, use))
    details = []
    for namespace in sorted(allowed):
        detail: dict[str, Any] = {"ServiceName": service_name(namespace), "ServiceNamespace": namespace}
        used = by_service.get(namespace, [])
        if used:
            account, latest = max(used, key=lambda u: u[1].last_at)
            detail["Region"] = latest.region
            detail["EntityPath"] = paths[account]
            detail["LastAuthenticatedTime"] = latest.last_at
        detail["TotalAuthenticatedEntities"] = len({account for account, _ in used})
        details.append(detail)
    return details


@operation("iam", "GenerateOrganizationsAccessReport", heavy=True)
def generate_organizations_access_report(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    path = params["EntityPath"]
    policy_id = params.get("OrganizationsPolicyId") or None
    context: dict[str, object] = {}
    if policy_id is not None:
        context["iam:OrganizationsPolicyId"] = policy_id
    ctx.authorize(
        "iam:GenerateOrganizationsAccessReport",
        f"arn:aws:iam::{ctx.account_id}:access-report/{path}",
        context,
    )
    org = _management_org(ctx, path)
    chain, account = _resolve(ctx, org, path)
    accounts = [account] if account is not None else _accounts_under(ctx, org, chain[-1])
    documents = _scp_documents(ctx, org, chain + ([account] if account else []), policy_id)
    allowed = set(allowed_actions(documents))
    paths = _account_paths(ctx, org, accounts)
    details = access_details(allowed, ctx.uow.audit.accounts_last_accessed(accounts), paths)
    result = json.dumps(encode_times({"details": details}), separators=(",", ":"))
    job_id = str(uuid.uuid4())
    ctx.uow.audit.put_job(
        JobRecord(job_id, ctx.account_id, ctx.caller.principal.arn, path, JOB_KIND, ctx.now, ctx.now, result),
        keep_after=ctx.now - JOB_RETENTION,
    )
    return {"JobId": job_id}


def sorted_details(details: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    if key.startswith("SERVICE_NAMESPACE"):
        return sorted(details, key=lambda d: d["ServiceNamespace"], reverse=key.endswith("DESCENDING"))
    used = [d for d in details if "LastAuthenticatedTime" in d]
    never = [d for d in details if "LastAuthenticatedTime" not in d]
    used.sort(
        key=lambda d: (d["LastAuthenticatedTime"], d["ServiceNamespace"]), reverse=key.endswith("DESCENDING")
    )
    return used + never  # services never accessed come last either way


@operation("iam", "GetOrganizationsAccessReport", readonly=True, heavy=True)
def get_organizations_access_report(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("iam:GetOrganizationsAccessReport", "*")
    job_id = params["JobId"]
    job = ctx.uow.audit.job(job_id)
    if (
        job is None
        or job.account_id != ctx.account_id
        or job.owner_arn != ctx.caller.principal.arn
        or job.granularity != JOB_KIND
    ):
        raise NoSuchEntity(f"No Organizations access report job {job_id} exists for this caller.")
    sort_key = params.get("SortKey") or "SERVICE_NAMESPACE_ASCENDING"
    if sort_key not in SORT_KEYS:
        raise InvalidInput(f"SortKey must be one of {', '.join(SORT_KEYS)}.")
    details = list(decode_times(json.loads(job.result))["details"])
    page, more = page_of(sorted_details(details, sort_key), params)
    return {
        "JobStatus": "COMPLETED",
        "JobCreationDate": job.created_at,
        "JobCompletionDate": job.completed_at,
        "NumberOfServicesAccessible": len(details),
        "NumberOfServicesNotAccessed": sum(1 for d in details if "LastAuthenticatedTime" not in d),
        "AccessDetails": page,
        **more,
    }
