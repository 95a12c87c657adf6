"""Statement-level checks: Sids, repeated statements, and the RCP condition-key guards."""

from __future__ import annotations

from iamd.analyzer.context import Context
from iamd.policy.ast import Effect, Statement
from iamd.policy.limits import PolicyKind

__all__ = ["check_statements"]

_PRINCIPAL_KEYS = ("aws:principalorgid", "aws:principalaccount", "aws:principalorgpaths", "aws:principalarn")
_SOURCE_KEYS = ("aws:sourceorgid", "aws:sourceaccount", "aws:sourceorgpaths", "aws:sourcearn")
_VPCE_KEYS = ("aws:vpceaccount", "aws:vpceorgid", "aws:vpceorgpaths")


def _signature(stmt: Statement) -> tuple[object, ...]:
    return (
        stmt.effect,
        stmt.principal,
        stmt.not_principal,
        frozenset(a.lower() for a in stmt.actions),
        stmt.not_action,
        frozenset(stmt.resources) if stmt.resources is not None else None,
        stmt.not_resource,
        frozenset((c.operator, c.key.lower(), frozenset(c.values)) for c in stmt.conditions),
    )


def check_statements(ctx: Context) -> None:
    seen_sids: dict[str, int] = {}
    seen: dict[tuple[object, ...], Statement] = {}
    for stmt in ctx.policy.statements:
        path = ctx.statement_path(stmt)
        if stmt.sid == "":
            ctx.add(
                "EMPTY_SID_VALUE", "The Sid is empty; remove it or give the statement a name.", (*path, "Sid")
            )
        if stmt.sid and ctx.kind is PolicyKind.RESOURCE:
            if stmt.sid in seen_sids:
                ctx.add(
                    "UNIQUE_SIDS_RECOMMENDED",
                    f"Sid {stmt.sid!r} is also used by statement {seen_sids[stmt.sid]}; give each "
                    "statement its own Sid.",
                    (*path, "Sid"),
                )
            seen_sids.setdefault(stmt.sid, stmt.index)
        signature = _signature(stmt)
        if signature in seen:
            ctx.add(
                "REDUNDANT_STATEMENT",
                f"This statement repeats {seen[signature].label}; remove one of them.",
                path,
            )
        else:
            seen[signature] = stmt
        if stmt.resources is not None and not stmt.resources:
            ctx.add(
                "EMPTY_ARRAY_RESOURCE", "Resource is empty; name resources or remove the statement.", path
            )
        _vpce(ctx, stmt)
        if ctx.kind is PolicyKind.RCP and stmt.effect is Effect.DENY:
            _rcp(ctx, stmt)


def _vpce(ctx: Context, stmt: Statement) -> None:
    if not (stmt.not_action or "*" in stmt.actions):
        return
    for clause in stmt.conditions:
        if clause.key.lower() in _VPCE_KEYS:
            ctx.add(
                "USE_CONDITION_KEY_ONLY_WITH_SUPPORTED_SERVICES",
                f"{clause.key} is only set by services that support it; list those services' actions "
                "instead of all actions, or the condition blocks the others.",
                clause.path,
            )


def _rcp(ctx: Context, stmt: Statement) -> None:
    keys = {c.key.lower(): c for c in stmt.conditions}
    is_service = [
        c for c in stmt.conditions if c.key.lower() == "aws:principalisawsservice" and c.base == "Bool"
    ]
    says_false = any("false" in c.values for c in is_service)
    says_true = any("true" in c.values for c in is_service)
    nulls = {c.key.lower() for c in stmt.conditions if c.base == "Null" and "false" in c.values}
    for key in _PRINCIPAL_KEYS:
        if key in keys and not says_false:
            ctx.add(
                "RCP_MISSING_RELATED_PRINCIPAL_CONDITION_KEY",
                f"{keys[key].key} is absent when an AWS service calls, so this Deny also hits service "
                'principals; add "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}.',
                keys[key].path,
            )
    for key in _SOURCE_KEYS:
        if key not in keys:
            continue
        if not says_true:
            ctx.add(
                "RCP_MISSING_RELATED_SERVICE_PRINCIPAL_CONDITION_KEY",
                f"{keys[key].key} is only set for service principals, so this Deny also hits your own "
                'principals; add "Bool": {"aws:PrincipalIsAWSService": "true"}.',
                keys[key].path,
            )
        if not (nulls & {"aws:sourceaccount", "aws:sourcearn", key}):
            ctx.add(
                "RCP_MISSING_SERVICE_CONDITION_KEY_NULL_CHECK",
                f"Services that send no {keys[key].key} are denied too; add "
                '"Null": {"aws:SourceAccount": "false"}.',
                keys[key].path,
            )
