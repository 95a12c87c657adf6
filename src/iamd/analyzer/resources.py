"""Checks on Resource / NotResource ARNs, against the ARN formats of the Service Authorization
Reference and the Regions and partitions botocore knows."""

from __future__ import annotations

import re
from functools import lru_cache

from iamd.analyzer.actions import RESOURCE_TYPE_SERVICES
from iamd.analyzer.context import Context
from iamd.analyzer.model import PolicyType
from iamd.policy.ast import Statement
from iamd.policy.wildcards import compile_arn_glob, has_wildcard

__all__ = ["check_resources"]

_ACCOUNT = re.compile(r"\d{12}")


@lru_cache(maxsize=8192)
def _template_regex(resource_part: str) -> re.Pattern[str]:
    pieces = re.split(r"\$\{[^}]*\}", resource_part)
    return re.compile(".+".join(re.escape(p) for p in pieces), re.DOTALL)


def _loose(text: str) -> bool:
    return has_wildcard(text) or "${" in text


def check_resources(ctx: Context) -> None:
    for stmt in ctx.policy.statements:
        if stmt.resources is None:
            continue
        element = "NotResource" if stmt.not_resource else "Resource"
        for i, resource in enumerate(stmt.resources):
            if resource != "*" and resource.startswith("arn:"):
                _arn(ctx, stmt, element, i, resource)
        _redundant(ctx, stmt, element)


def _arn(ctx: Context, stmt: Statement, element: str, index: int, arn: str) -> None:
    fields = arn.split(":", 5)
    if len(fields) < 6:
        return  # MISSING_ARN_FIELD, from the grammar
    _, partition, service, region, account, resource = fields
    path = ctx.element_path(stmt, element, index)
    if partition and not _loose(partition) and partition not in ctx.sar.partitions():
        ctx.add(
            "INVALID_PARTITION",
            f"The partition {partition!r} in {arn!r} does not exist; use one of "
            f"{', '.join(sorted(ctx.sar.partitions()))}.",
            path,
        )
    if has_wildcard(service) and service != "*":
        ctx.add(
            "WILDCARD_IN_SERVICE_NAME",
            f"The service {service!r} in {arn!r} has a wildcard, so it may match services you do not "
            "intend; name the service.",
            path,
        )
    if service != service.lower():
        ctx.add(
            "INVALID_ARN_SERVICE_CASE",
            f"Write the service {service!r} of {arn!r} in lower case ({service.lower()!r}).",
            path,
        )
    if account and not _loose(account) and account != "aws" and not _ACCOUNT.fullmatch(account):
        ctx.add(
            "INVALID_ARN_ACCOUNT",
            f"The account {account!r} in {arn!r} is not valid; use a 12-digit account ID.",
            path,
        )
    if region and not _loose(region) and region not in ctx.sar.regions():
        ctx.add(
            "INVALID_ARN_REGION",
            f"The Region {region!r} in {arn!r} does not exist; use a Region code such as us-east-1.",
            path,
        )
    allowed = RESOURCE_TYPE_SERVICES.get(ctx.resource_type or "")
    if (
        ctx.policy_type is PolicyType.RESOURCE_POLICY
        and allowed
        and not _loose(service)
        and service.lower() not in allowed
    ):
        ctx.add(
            "UNSUPPORTED_RESOURCE_ARN_IN_POLICY",
            f"{arn!r} cannot be named in a {ctx.resource_type} policy; name this resource's own ARNs.",
            path,
        )
    if _loose(service):
        return
    templates = ctx.sar.resource_arns(service.lower())
    if not templates:
        return
    probe = re.sub(r"\$\{[^}]*\}", "x", resource).replace("*", "x").replace("?", "x")
    matched = []
    for template in templates.values():
        parts = template.split(":", 5)
        if len(parts) == 6 and _template_regex(parts[5]).fullmatch(probe):
            matched.append(parts)
    if not matched:
        if not _loose(resource):
            ctx.add(
                "INVALID_ARN_RESOURCE",
                f"The resource part of {arn!r} matches no {service.lower()} resource type; correct it "
                f"to one of the service's ARN formats (e.g. {next(iter(templates.values()))}).",
                path,
            )
        return
    if region and not _loose(region) and all(p[3] == "" for p in matched):
        ctx.add(
            "ARN_REGION_NOT_ALLOWED",
            f"{service.lower()} resource ARNs have no Region; remove {region!r} from {arn!r}.",
            path,
        )
    if not region and all(p[3] != "" for p in matched):
        ctx.add(
            "MISSING_ARN_REGION",
            f"Add a Region (or *) to {arn!r}: {service.lower()} requires one in this resource ARN.",
            path,
        )
    if account and not _loose(account) and all(p[4] == "" for p in matched):
        ctx.add(
            "ARN_ACCOUNT_NOT_ALLOWED",
            f"{service.lower()} resource ARNs of this type have no account ID; remove {account!r} "
            f"from {arn!r}.",
            path,
        )
    if not account and all(p[4] != "" for p in matched):
        ctx.add(
            "MISSING_ARN_ACCOUNT",
            f"Add an account ID (or *) to {arn!r}: this {service.lower()} resource type requires one.",
            path,
        )


def _redundant(ctx: Context, stmt: Statement, element: str) -> None:
    resources = stmt.resources or ()
    for i, mine in enumerate(resources):
        for j, other in enumerate(resources):
            if i == j:
                continue
            if mine == other and j < i:
                covered = True
            elif mine != other and not has_wildcard(mine) and has_wildcard(other):
                covered = bool(compile_arn_glob(other)(mine)) if other != "*" else True
            else:
                covered = False
            if covered:
                ctx.add(
                    "REDUNDANT_RESOURCE",
                    f"{mine!r} is already covered by {other!r} in this statement; remove it.",
                    ctx.element_path(stmt, element, i),
                )
                break
