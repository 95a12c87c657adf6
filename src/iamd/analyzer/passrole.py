"""iam:PassRole and iam:CreateServiceLinkedRole granted too broadly (identity policies)."""

from __future__ import annotations

from iamd.analyzer.context import Context
from iamd.policy.ast import Effect, Statement
from iamd.policy.wildcards import compile_glob, has_wildcard

__all__ = ["check_passrole"]

# (action, issue-code prefix, the condition key that scopes it, what the finding calls it)
_RULES = (
    ("iam:PassRole", "PASS_ROLE", "iam:passedtoservice", "pass any role to any service"),
    (
        "iam:CreateServiceLinkedRole",
        "CREATE_SLR",
        "iam:awsservicename",
        "create service-linked roles for any service",
    ),
)


def _star_resource(resource: str) -> bool:
    if resource == "*":
        return True
    head, _, tail = resource.rpartition(":")
    return head.startswith("arn:") and tail in ("*", "role/*")


def check_passrole(ctx: Context) -> None:
    if not ctx.identity:
        return
    for stmt in ctx.policy.statements:
        if stmt.effect is Effect.ALLOW:
            for action, prefix, scope_key, what in _RULES:
                _rule(ctx, stmt, action, prefix, scope_key, what)


def _rule(ctx: Context, stmt: Statement, action: str, prefix: str, scope_key: str, what: str) -> None:
    scoped = any(c.key.lower() == scope_key for c in stmt.conditions)
    star_resource = (
        stmt.resources is not None
        and not stmt.not_resource
        and any(_star_resource(r) for r in stmt.resources)
    )
    if stmt.not_action:
        if any(compile_glob(a, ignore_case=True)(action) for a in stmt.actions):
            return
        where = (*ctx.statement_path(stmt), "NotAction")
        if stmt.not_resource:
            code = f"{prefix}_WITH_NOT_ACTION_AND_NOT_RESOURCE"
        elif star_resource and not scoped:
            code = f"{prefix}_WITH_STAR_IN_RESOURCE_AND_NOT_ACTION"
        else:
            return
        ctx.add(code, _say(action, what, "NotAction"), where)
        return
    for i, entry in enumerate(stmt.actions):
        if not compile_glob(entry, ignore_case=True)(action):
            continue
        star = has_wildcard(entry)
        where = ctx.element_path(stmt, "Action", i)
        if stmt.not_resource:
            code = f"{prefix}_WITH_STAR_IN_ACTION_AND_NOT_RESOURCE" if star else f"{prefix}_WITH_NOT_RESOURCE"
        elif star_resource and not scoped:
            code = f"{prefix}_WITH_STAR_IN_ACTION_AND_RESOURCE" if star else f"{prefix}_WITH_STAR_IN_RESOURCE"
        else:
            continue
        ctx.add(code, _say(action, what, entry), where)
        return


def _say(action: str, what: str, via: str) -> str:
    return (
        f"This statement allows {action} (through {via}) on every resource, so it can {what}; name the "
        "role ARNs in Resource, and add a condition on iam:PassedToService or iam:AWSServiceName."
    )
