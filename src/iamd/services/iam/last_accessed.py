"""Last-accessed data: GenerateServiceLastAccessedDetails, GetServiceLastAccessedDetails and
GetServiceLastAccessedDetailsWithEntities.

A job covers a user, a group (its members), a role, or a managed policy (the users, directly or
through a group, and roles it is attached to). The services listed are those the identity
policies allow (a group's: its own; a policy's: that policy); when each was last used comes from
the trail (authenticated requests that were not denied). Jobs complete at once: the first Get
answers COMPLETED. A job is visible only to the principal that started it.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any, Final

from iamd.services.framework import OperationContext, operation
from iamd.services.iam.common import entity_arn, list_params, no_such, policy_arn
from iamd.store.audit import JobRecord, LastAccessedRecord
from iamd.store.schema import AWS_ACCOUNT
from iamd.trail.access import Entity, allowed_actions, entity_details, service_entries
from iamd.wire import InvalidInput, NoSuchEntity

__all__ = ["decode_times", "encode_times", "generate_service_last_accessed_details", "page_of"]

JOB_RETENTION: Final = timedelta(days=30)
GRANULARITIES: Final = ("SERVICE_LEVEL", "ACTION_LEVEL")


def _parse_arn(ctx: OperationContext, arn: str) -> tuple[str, str, str, str]:
    """(kind, owner account, path, name) of a user, group, role or policy ARN."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam":
        raise InvalidInput(f"ARN {arn} is not valid.")
    kind, _, rest = parts[5].partition("/")
    if kind not in ("user", "group", "role", "policy") or not rest:
        raise InvalidInput(
            f"ARN {arn} is not valid: only users, groups, roles and policies have last-accessed data."
        )
    owner = parts[4]
    if owner != ctx.account_id and not (kind == "policy" and owner == "aws"):
        raise NoSuchEntity(f"The entity {arn} cannot be found in account {ctx.account_id}.")
    path, _, name = ("/" + rest).rpartition("/")
    return kind, owner, path + "/", name


def encode_times(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$t": value.isoformat()}
    if isinstance(value, dict):
        return {k: encode_times(v) for k, v in value.items()}
    if isinstance(value, list):
        return [encode_times(v) for v in value]
    return value


def decode_times(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$t"}:
            return datetime.fromisoformat(value["$t"])
        return {k: decode_times(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_times(v) for v in value]
    return value


@operation("iam", "GenerateServiceLastAccessedDetails", heavy=True)
def generate_service_last_accessed_details(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    arn = params["Arn"]
    granularity = params.get("Granularity") or "SERVICE_LEVEL"
    ctx.authorize("iam:GenerateServiceLastAccessedDetails", arn)
    if granularity not in GRANULARITIES:
        raise InvalidInput(f"Granularity must be one of {', '.join(GRANULARITIES)}.")
    kind, owner, path, name = _parse_arn(ctx, arn)
    uow, account = ctx.uow, ctx.account_id
    entities: list[Entity] = []
    documents: list[str]
    if kind == "user":
        user = uow.users.find(account, name)
        if user is None or user.path != path:
            raise no_such("user", name)
        documents = [d.document for d in uow.principals.policies_for_user(user.id).identity]
        entities.append(
            Entity("USER", user.id, user.name, user.path, entity_arn(account, "user", user.path, user.name))
        )
    elif kind == "role":
        role = uow.roles.find(account, name)
        if role is None or role.path != path:
            raise no_such("role", name)
        documents = [d.document for d in uow.principals.policies_for_role(role.id).identity]
        entities.append(
            Entity("ROLE", role.id, role.name, role.path, entity_arn(account, "role", role.path, role.name))
        )
    elif kind == "group":
        group = uow.groups.find(account, name)
        if group is None or group.path != path:
            raise no_such("group", name)
        documents = uow.audit.group_policy_documents(group.id)
        for user_id, user_name, user_path in uow.audit.group_member_refs(group.id):
            entities.append(
                Entity(
                    "USER", user_id, user_name, user_path, entity_arn(account, "user", user_path, user_name)
                )
            )
    else:
        policy = uow.policies.find(AWS_ACCOUNT if owner == "aws" else account, name)
        if policy is None or policy.path != path:
            raise NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")
        documents = [uow.policies.default_version(policy.id).document]
        for user_id, user_name, user_path in uow.audit.users_with_policy(policy.id, account):
            entities.append(
                Entity(
                    "USER", user_id, user_name, user_path, entity_arn(account, "user", user_path, user_name)
                )
            )
        for holder in uow.policies.entities(policy.id, account, kind="role").roles:
            entities.append(
                Entity(
                    "ROLE",
                    holder.id,
                    holder.name,
                    holder.path,
                    entity_arn(account, "role", holder.path, holder.name),
                )
            )
        arn = policy_arn(policy.ref)
    uses: list[LastAccessedRecord] = uow.audit.last_accessed(account, [e.id for e in entities])
    allowed = allowed_actions(documents)
    services = service_entries(allowed, uses, granularity)
    result = json.dumps(
        encode_times(
            {
                "services": services,
                "entities": [e.info() for e in entities],
                "uses": [[u.entity_id, u.entity_arn, u.service, u.action, u.last_at, u.region] for u in uses],
            }
        ),
        separators=(",", ":"),
    )
    job_id = str(uuid.uuid4())
    uow.audit.put_job(
        JobRecord(job_id, account, ctx.caller.principal.arn, arn, granularity, ctx.now, ctx.now, result),
        keep_after=ctx.now - JOB_RETENTION,
    )
    return {"JobId": job_id}


def _job(ctx: OperationContext, job_id: str) -> tuple[JobRecord, dict[str, Any]]:
    job = ctx.uow.audit.job(job_id)
    if (
        job is None
        or job.account_id != ctx.account_id
        or job.owner_arn != ctx.caller.principal.arn
        or job.granularity not in GRANULARITIES  # an Organizations access report's job
    ):
        raise NoSuchEntity(f"No last-accessed job with ID {job_id} exists for this caller.")
    result = decode_times(json.loads(job.result))
    assert isinstance(result, dict)
    return job, result


def page_of(items: list[Any], params: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    marker, max_items = list_params(params)
    start = 0
    if marker is not None:
        if not marker.isdigit() or int(marker) > len(items):
            raise InvalidInput("Invalid Marker.")
        start = int(marker)
    page = items[start : start + max_items]
    more: dict[str, Any] = {"IsTruncated": start + max_items < len(items)}
    if more["IsTruncated"]:
        more["Marker"] = str(start + max_items)
    return page, more


@operation("iam", "GetServiceLastAccessedDetails", readonly=True, heavy=True)
def get_service_last_accessed_details(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("iam:GetServiceLastAccessedDetails", "*")
    job, result = _job(ctx, params["JobId"])
    page, more = page_of(list(result["services"]), params)
    return {
        "JobStatus": "COMPLETED",
        "JobType": job.granularity,
        "JobCreationDate": job.created_at,
        "ServicesLastAccessed": page,
        "JobCompletionDate": job.completed_at,
        **more,
    }


@operation("iam", "GetServiceLastAccessedDetailsWithEntities", readonly=True, heavy=True)
def get_service_last_accessed_details_with_entities(
    ctx: OperationContext, params: dict[str, Any]
) -> dict[str, Any]:
    ctx.authorize("iam:GetServiceLastAccessedDetailsWithEntities", "*")
    job, result = _job(ctx, params["JobId"])
    namespace = params["ServiceNamespace"]
    if namespace not in {s["ServiceNamespace"] for s in result["services"]}:
        raise InvalidInput(f"The service namespace {namespace} is not in this job's report.")
    entities = [Entity(e["Type"], e["Id"], e["Name"], e["Path"], e["Arn"]) for e in result["entities"]]
    uses = [LastAccessedRecord(*u) for u in result["uses"]]
    page, more = page_of(entity_details(entities, uses, namespace), params)
    return {
        "JobStatus": "COMPLETED",
        "JobCreationDate": job.created_at,
        "JobCompletionDate": job.completed_at,
        "EntityDetailsList": page,
        **more,
    }
