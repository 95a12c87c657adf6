"""Policy generation: StartPolicyGeneration, GetGeneratedPolicy, ListPolicyGenerations,
CancelPolicyGeneration, from iamd's own trail.

The trail is the CloudTrail trail named ``iamd`` (``cloudtrail describe-trails`` lists it), so
``cloudTrailDetails.trails[].cloudTrailArn`` is its ARN, as AWS expects a trail ARN there. A job
reads the principal's calls in [startTime, endTime] that the trail recorded and were not denied,
and completes at once (the first GetGeneratedPolicy reads SUCCEEDED).

Facts (shared/spec/access_analyzer_api.md §4, §7.6; quotas page): the window is at most 90 days;
50 generations per account per day, cancelled ones included; ``endTime`` defaults to now; jobs are
listed for seven days; a job that cannot read the trail fails with ``jobError``
(RESOURCE_NOT_FOUND_ERROR / AUTHORIZATION_ERROR) rather than failing the call.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from iamd.analyzer.generation import Use, generate_policies
from iamd.catalog import service_reference
from iamd.services.accessanalyzer.analyzer_common import error, page, validation
from iamd.services.cloudtrail.trails import TRAIL_NAME, trail_arn
from iamd.services.framework import OperationContext, operation
from iamd.store.access_analyzer import GenerationRecord
from iamd.trail.access import TRACKED_SERVICES

__all__ = ["resource_templates"]

MAX_WINDOW: Final = timedelta(days=90)
LISTED_FOR: Final = timedelta(days=7)
PER_DAY: Final = 50
_PRINCIPAL: Final = re.compile(r"arn:[^:]*:iam::(\d{12}):(role|user)/(.{1,576})")
_ROLE: Final = re.compile(r"arn:[^:]*:iam::(\d{12}):role/(.{1,576})")


def _exists(ctx: OperationContext, kind: str, account: str, path_name: str) -> bool:
    name = path_name.rsplit("/", 1)[-1]
    path = "/" + path_name[: -len(name)] if "/" in path_name else "/"
    found = ctx.uow.roles.find(account, name) if kind == "role" else ctx.uow.users.find(account, name)
    return found is not None and found.path == path


def resource_templates(action: str) -> tuple[str, ...]:
    """The ARN templates (``arn:${Partition}:s3:::${BucketName}``) of the resource types an action
    takes, from the Service Authorization Reference; empty for actions that take only ``*``."""
    service, _, name = action.partition(":")
    reference = service_reference()
    facts = reference.action(service, name)
    if facts is None:
        return ()
    arns = reference.resource_arns(service)
    return tuple(arns[t] for t in facts.resource_types if arns.get(t))


class _ResourceArns:
    """The ARNs of the resources the trail names (IAM users, roles and groups by name, their path
    read from the store; policies and roles by ARN). Access keys and STS sessions are left out:
    they are not what an IAM policy's Resource names for those calls."""

    _KINDS: Final = {"AWS::IAM::User": "user", "AWS::IAM::Role": "role", "AWS::IAM::Group": "group"}

    def __init__(self, ctx: OperationContext) -> None:
        self.ctx = ctx
        self.known: dict[tuple[str, str], str] = {}

    def of(self, resources: Sequence[tuple[str, str]]) -> list[str]:
        out = []
        for kind, name in resources:
            if kind in self._KINDS and not name.startswith("arn:"):
                if (kind, name) not in self.known:
                    self.known[(kind, name)] = self._arn(self._KINDS[kind], name)
                out.append(self.known[(kind, name)])
            elif kind in (*self._KINDS, "AWS::IAM::Policy") and name.startswith("arn:"):
                out.append(name)
            elif kind == "AWS::IAM::InstanceProfile":
                out.append(f"arn:{self.ctx.partition}:iam::{self.ctx.account_id}:instance-profile/{name}")
        return out

    def _arn(self, kind: str, name: str) -> str:
        uow, account = self.ctx.uow, self.ctx.account_id
        found = (
            uow.users.find(account, name)
            if kind == "user"
            else uow.roles.find(account, name)
            if kind == "role"
            else uow.groups.find(account, name)
        )
        path = found.path if found is not None else "/"
        return f"arn:{self.ctx.partition}:iam::{account}:{kind}{path}{name}"


def _failure(ctx: OperationContext, details: dict[str, Any], trail: dict[str, Any]) -> dict[str, str] | None:
    """The jobError of a job that cannot read the trail, or None."""
    for entry in trail.get("trails") or []:
        arn = str(entry.get("cloudTrailArn", ""))
        parts = arn.split(":")
        if len(parts) < 6 or parts[4] != ctx.account_id or parts[5] != f"trail/{TRAIL_NAME}":
            return {
                "code": "RESOURCE_NOT_FOUND_ERROR",
                "message": f"Trail {arn} not found: iamd's trail is "
                f"{trail_arn(ctx.info.region, ctx.account_id)}",
            }
    role = str(trail.get("accessRole", ""))
    matched = _ROLE.fullmatch(role)
    if (
        matched is None
        or matched.group(1) != ctx.account_id
        or not _exists(ctx, "role", matched.group(1), matched.group(2))
    ):
        return {
            "code": "AUTHORIZATION_ERROR",
            "message": f"The access role {role} cannot be found in this account",
        }
    return None


@operation("accessanalyzer", "StartPolicyGeneration", heavy=True)
def start_policy_generation(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("access-analyzer:StartPolicyGeneration", "*")
    details = dict(params["policyGenerationDetails"])
    principal = str(details["principalArn"])
    matched = _PRINCIPAL.fullmatch(principal)
    if matched is None:
        raise validation(f"Invalid principalArn '{principal}': an IAM role or user ARN")
    repo = ctx.uow.access_analyzer
    recent = repo.generations(ctx.account_id, ctx.now - LISTED_FOR)
    token = params.get("clientToken")
    if token:
        for job in recent:
            if job.client_token == token:
                return {"jobId": job.job_id}
    if matched.group(1) != ctx.account_id or not _exists(
        ctx, matched.group(2), matched.group(1), matched.group(3)
    ):
        raise validation(f"The principal {principal} does not exist in account {ctx.account_id}")
    trail = dict(params.get("cloudTrailDetails") or {})
    start: datetime = trail.get("startTime") or ctx.now - MAX_WINDOW
    end: datetime = trail.get("endTime") or ctx.now
    if end <= start:
        raise validation("endTime must be after startTime")
    if end - start > MAX_WINDOW:
        raise validation("The time range can be at most 90 days (startTime to endTime)")
    if sum(j.started_on >= ctx.now - timedelta(days=1) for j in recent) >= PER_DAY:
        raise error(
            "ServiceQuotaExceededException",
            f"At most {PER_DAY} policy generations per day",
            resourceId=principal,
            resourceType="AWS::AccessAnalyzer::PolicyGeneration",
        )
    trails = [
        {
            "cloudTrailArn": t["cloudTrailArn"],
            "regions": list(t.get("regions") or []),
            "allRegions": bool(t.get("allRegions")),
        }
        for t in trail.get("trails")
        or [{"cloudTrailArn": trail_arn(ctx.info.region, ctx.account_id), "allRegions": True}]
    ]
    failure = _failure(ctx, details, trail) if trail else None
    result: dict[str, Any] = {
        "startTime": start.isoformat(),
        "endTime": end.isoformat(),
        "trails": trails,
    }
    if failure is None:
        # IAM and STS are global: iamd's trail holds every Region's calls, as a multi-Region trail.
        calls = repo.calls_of(ctx.account_id, principal, start, end)
        arns = _ResourceArns(ctx)
        result["uses"] = sorted(
            {(f"{c.service}:{c.event_name}", tuple(sorted(arns.of(c.resources)))) for c in calls}
        )
        result["actionLevel"] = sorted(set(TRACKED_SERVICES) | {c.service for c in calls})
    else:
        result["error"] = failure
    job_id = str(uuid.uuid4())
    repo.add_generation(
        GenerationRecord(
            job_id,
            ctx.account_id,
            principal,
            "FAILED" if failure else "SUCCEEDED",
            ctx.now,
            ctx.now,
            token,
            {"principalArn": principal},
            json.dumps(result),
        )
    )
    return {"jobId": job_id}


def _job(ctx: OperationContext, job_id: str) -> GenerationRecord:
    job = ctx.uow.access_analyzer.generation(job_id)
    if job is None or job.account_id != ctx.account_id:
        raise validation(f"Policy generation job {job_id} not found", reason="other")
    return job


def _job_details(job: GenerationRecord) -> dict[str, Any]:
    out: dict[str, Any] = {"jobId": job.job_id, "status": job.status, "startedOn": job.started_on}
    if job.completed_on is not None:
        out["completedOn"] = job.completed_on
    if job.result:
        failure = json.loads(job.result).get("error")
        if failure:
            out["jobError"] = failure
    return out


@operation("accessanalyzer", "GetGeneratedPolicy", readonly=True)
def get_generated_policy(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("access-analyzer:GetGeneratedPolicy", "*")
    job = _job(ctx, str(params["jobId"]))
    output: dict[str, Any] = {"jobDetails": _job_details(job)}
    result = json.loads(job.result or "{}")
    if job.status == "SUCCEEDED":
        uses = [Use(action, tuple(resources)) for action, resources in result["uses"]]
        placeholders = None
        if params.get("includeResourcePlaceholders"):
            placeholders = {
                use.action.lower(): tuple(
                    t.replace("${Partition}", ctx.partition).replace("${Account}", ctx.account_id)
                    for t in resource_templates(use.action)
                )
                for use in uses
            }
        policies, complete = generate_policies(
            uses,
            result["actionLevel"],
            service_template=bool(params.get("includeServiceLevelTemplate")),
            placeholders=placeholders,
        )
        output["generatedPolicyResult"] = {
            "properties": {
                "isComplete": complete,
                "principalArn": job.principal_arn,
                "cloudTrailProperties": {
                    "trailProperties": result["trails"],
                    "startTime": datetime.fromisoformat(result["startTime"]),
                    "endTime": datetime.fromisoformat(result["endTime"]),
                },
            },
            "generatedPolicies": [{"policy": p} for p in policies],
        }
    return output


@operation("accessanalyzer", "ListPolicyGenerations", readonly=True)
def list_policy_generations(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("access-analyzer:ListPolicyGenerations", "*")
    wanted = params.get("principalArn")
    jobs = [
        j
        for j in ctx.uow.access_analyzer.generations(ctx.account_id, ctx.now - LISTED_FOR)
        if not wanted or j.principal_arn == wanted
    ]
    chunk, more = page(jobs, params, "generations")
    return {
        "policyGenerations": [
            {
                k: v
                for k, v in {
                    "jobId": j.job_id,
                    "principalArn": j.principal_arn,
                    "status": j.status,
                    "startedOn": j.started_on,
                    "completedOn": j.completed_on,
                }.items()
                if v is not None
            }
            for j in chunk
        ],
        **more,
    }


@operation("accessanalyzer", "CancelPolicyGeneration")
def cancel_policy_generation(ctx: OperationContext, params: dict[str, Any]) -> None:
    ctx.authorize("access-analyzer:CancelPolicyGeneration", "*")
    job = _job(ctx, str(params["jobId"]))
    if job.status == "IN_PROGRESS":
        ctx.uow.access_analyzer.update_generation(job.job_id, status="CANCELED", completed_on=ctx.now)
    # A finished job stays as it finished (iamd's jobs finish when they start).
