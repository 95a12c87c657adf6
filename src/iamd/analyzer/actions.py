"""Checks on Action / NotAction entries, against the Service Authorization Reference."""

from __future__ import annotations

import difflib

from iamd.analyzer.context import Context
from iamd.analyzer.model import PolicyType
from iamd.policy.ast import Statement
from iamd.policy.wildcards import compile_glob, has_wildcard

__all__ = ["RESOURCE_TYPE_SERVICES", "check_actions", "expand"]

# Which service prefixes may appear in a resource policy of each ValidatePolicyResourceType.
RESOURCE_TYPE_SERVICES: dict[str, frozenset[str]] = {
    "AWS::S3::Bucket": frozenset({"s3"}),
    "AWS::S3::AccessPoint": frozenset({"s3"}),
    "AWS::S3::MultiRegionAccessPoint": frozenset({"s3"}),
    "AWS::S3ObjectLambda::AccessPoint": frozenset({"s3-object-lambda"}),
    "AWS::DynamoDB::Table": frozenset({"dynamodb"}),
}


def expand(ctx: Context, action: str) -> set[str] | None:
    """Every ``service:action`` (lower case) an Action entry names; None when it cannot be told
    (``*``, a wildcard service, an unknown service)."""
    service, sep, name = action.partition(":")
    if not sep or has_wildcard(service) or action == "*":
        return None
    known = ctx.sar.actions(service)
    if not known:
        return None
    svc = service.lower()
    if not has_wildcard(name):
        return {f"{svc}:{name.lower()}"} if name.lower() in known else set()
    match = compile_glob(name, ignore_case=True)
    return {f"{svc}:{n}" for n in known if match(n)}


def check_actions(ctx: Context) -> None:
    for stmt in ctx.policy.statements:
        _statement(ctx, stmt)


def _statement(ctx: Context, stmt: Statement) -> None:
    element = "NotAction" if stmt.not_action else "Action"
    expanded: list[set[str] | None] = []
    for i, action in enumerate(stmt.actions):
        path = ctx.element_path(stmt, element, i)
        expanded.append(expand(ctx, action))
        if action == "*" or ":" not in action or "${" in action:
            continue
        service, _, name = action.partition(":")
        if has_wildcard(service):
            ctx.add(
                "WILDCARD_IN_SERVICE_NAME",
                f"The service prefix in {action!r} has a wildcard, so it may match services you do not "
                "intend; name the service explicitly.",
                path,
            )
            continue
        known = ctx.sar.actions(service)
        if not known:
            near = difflib.get_close_matches(service.lower(), sorted(ctx.sar.services()), n=1)
            hint = f" Did you mean {near[0]!r}?" if near else ""
            ctx.add(
                "INVALID_SERVICE_IN_ACTION",
                f"The service {service!r} in action {action!r} does not exist; use a service prefix "
                f"from the Service Authorization Reference.{hint}",
                path,
            )
            continue
        if (
            ctx.kind.label == "scp"
            and has_wildcard(name)
            and not (name.endswith("*") and not has_wildcard(name[:-1]))
        ):
            ctx.add(
                "SCP_SYNTAX_ERROR_ACTION_WILDCARD",
                f"In an SCP a wildcard may only end an action ({action!r}); move it to the end, "
                "e.g. s3:Get*.",
                path,
            )
        if ctx.kind.label == "rcp" and service.lower() not in ctx.sar.rcp_services():
            ctx.add(
                "RCP_SYNTAX_ERROR_ACTION",
                f"Resource control policies do not apply to {service!r}; remove {action!r} or use a "
                f"service RCPs support ({', '.join(sorted(ctx.sar.rcp_services()))}).",
                path,
            )
        if not has_wildcard(name) and name.lower() not in known:
            near = difflib.get_close_matches(name.lower(), list(known), n=1)
            hint = f" Did you mean {service.lower()}:{known[near[0]]}?" if near else ""
            ctx.add(
                "INVALID_ACTION",
                f"The action {action!r} does not exist; correct the action name.{hint}",
                path,
            )
        elif has_wildcard(name) and expanded[-1] == set():
            ctx.add(
                "INVALID_ACTION",
                f"The pattern {action!r} matches no {service.lower()} action; correct or remove it.",
                path,
            )
        allowed = RESOURCE_TYPE_SERVICES.get(ctx.resource_type or "")
        if ctx.policy_type is PolicyType.RESOURCE_POLICY and allowed and service.lower() not in allowed:
            ctx.add(
                "UNSUPPORTED_ACTION_IN_POLICY",
                f"The action {action!r} does not apply to a {ctx.resource_type} policy; remove it "
                f"(only {', '.join(sorted(allowed))} actions do).",
                path,
            )
    _redundant(ctx, stmt, element, expanded)


def _redundant(ctx: Context, stmt: Statement, element: str, expanded: list[set[str] | None]) -> None:
    """Entries whose actions another entry of the statement already names (linear in the number
    of actions named: candidates come from an index of who names each action)."""
    named_by: dict[str, list[int]] = {}
    for j, other in enumerate(expanded):
        for action in other or ():
            named_by.setdefault(action, []).append(j)
    for i, mine in enumerate(expanded):
        if not mine:
            continue
        for j in named_by[next(iter(mine))]:
            other = expanded[j]
            if i == j or other is None:
                continue
            same = mine == other
            if (same and j < i) or (not same and mine <= other):
                ctx.add(
                    "REDUNDANT_ACTION",
                    f"{stmt.actions[i]!r} is already covered by {stmt.actions[j]!r} in this statement; "
                    "remove it.",
                    ctx.element_path(stmt, element, i),
                )
                break
