"""Archive rules: CreateArchiveRule, GetArchiveRule, ListArchiveRules, UpdateArchiveRule,
DeleteArchiveRule and ApplyArchiveRule.

Facts (shared/spec/access_analyzer_api.md §2.8): a new rule archives new findings that match it;
ApplyArchiveRule archives the existing ACTIVE ones retroactively; each criterion list holds 1–20
values; at most 100 rules per analyzer (quota); rule names match ``[A-Za-z][A-Za-z0-9_.-]*``.
"""

from __future__ import annotations

import re
from typing import Any, Final

from iamd.services.accessanalyzer.analyzer_common import (
    analyzer_arn,
    analyzer_by_arn,
    analyzer_by_name,
    conflict,
    error,
    not_found,
    page,
    validation,
)
from iamd.services.accessanalyzer.findings import archive_matching, synchronize
from iamd.services.framework import OperationContext, operation
from iamd.store.access_analyzer import ArchiveRuleRecord

__all__ = ["check_filter"]

_RULE_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,254}")
MAX_RULES: Final = 100
_OPERATORS: Final = ("eq", "neq", "contains", "exists")


def check_filter(criteria: Any) -> dict[str, Any]:
    """A filter as stored: each key's criterion with at least one operator, lists of 1–20 values."""
    if not isinstance(criteria, dict) or not criteria:
        raise validation("filter must name at least one key")
    checked: dict[str, Any] = {}
    for key, criterion in criteria.items():
        kept = {op: criterion[op] for op in _OPERATORS if criterion.get(op) is not None}
        if not kept:
            raise validation(f"The criterion for '{key}' must have eq, neq, contains or exists")
        for op in ("eq", "neq", "contains"):
            if op in kept and not 1 <= len(kept[op]) <= 20:
                raise validation(f"The '{op}' list of '{key}' must hold between 1 and 20 values")
        checked[str(key)] = kept
    return checked


def _rule_output(rule: ArchiveRuleRecord) -> dict[str, Any]:
    return {
        "ruleName": rule.name,
        "filter": rule.filter,
        "createdAt": rule.created_at,
        "updatedAt": rule.updated_at,
    }


def _rule(ctx: OperationContext, analyzer: str, name: str) -> ArchiveRuleRecord:
    for rule in ctx.uow.access_analyzer.rules(analyzer):
        if rule.name == name:
            return rule
    raise not_found("Archive rule", name, "AWS::AccessAnalyzer::ArchiveRule")


def _rule_arn(ctx: OperationContext, analyzer: str, rule: str) -> str:
    return f"{analyzer_arn(ctx, analyzer)}/archive-rule/{rule}"


@operation("accessanalyzer", "CreateArchiveRule", heavy=True)
def create_archive_rule(ctx: OperationContext, params: dict[str, Any]) -> None:
    name, rule = str(params["analyzerName"]), str(params["ruleName"])
    ctx.authorize("access-analyzer:CreateArchiveRule", _rule_arn(ctx, name, rule))
    if not _RULE_NAME.fullmatch(rule):
        raise validation(
            f"Invalid ruleName '{rule}': it must match [A-Za-z][A-Za-z0-9_.-]* (1-255 characters)"
        )
    analyzer = analyzer_by_name(ctx, name)
    rules = ctx.uow.access_analyzer.rules(analyzer.arn)
    if any(r.name == rule for r in rules):
        raise conflict(f"Archive rule {rule} already exists", rule, "AWS::AccessAnalyzer::ArchiveRule")
    if len(rules) >= MAX_RULES:
        raise error(
            "ServiceQuotaExceededException",
            f"An analyzer can have at most {MAX_RULES} archive rules",
            resourceId=rule,
            resourceType="AWS::AccessAnalyzer::ArchiveRule",
        )
    synchronize(ctx, analyzer)  # findings that exist before the rule are not archived by it
    ctx.uow.access_analyzer.put_rule(analyzer.arn, rule, check_filter(params["filter"]), ctx.now)


@operation("accessanalyzer", "GetArchiveRule", readonly=True)
def get_archive_rule(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    name, rule = str(params["analyzerName"]), str(params["ruleName"])
    ctx.authorize("access-analyzer:GetArchiveRule", _rule_arn(ctx, name, rule))
    return {"archiveRule": _rule_output(_rule(ctx, analyzer_by_name(ctx, name).arn, rule))}


@operation("accessanalyzer", "ListArchiveRules", readonly=True)
def list_archive_rules(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    name = str(params["analyzerName"])
    ctx.authorize("access-analyzer:ListArchiveRules", analyzer_arn(ctx, name))
    rules = ctx.uow.access_analyzer.rules(analyzer_by_name(ctx, name).arn)
    chunk, more = page(rules, params, f"rules:{name}")
    return {"archiveRules": [_rule_output(r) for r in chunk], **more}


@operation("accessanalyzer", "UpdateArchiveRule", heavy=True)
def update_archive_rule(ctx: OperationContext, params: dict[str, Any]) -> None:
    name, rule = str(params["analyzerName"]), str(params["ruleName"])
    ctx.authorize("access-analyzer:UpdateArchiveRule", _rule_arn(ctx, name, rule))
    analyzer = analyzer_by_name(ctx, name)
    _rule(ctx, analyzer.arn, rule)
    synchronize(ctx, analyzer)
    ctx.uow.access_analyzer.put_rule(analyzer.arn, rule, check_filter(params["filter"]), ctx.now)


@operation("accessanalyzer", "DeleteArchiveRule")
def delete_archive_rule(ctx: OperationContext, params: dict[str, Any]) -> None:
    name, rule = str(params["analyzerName"]), str(params["ruleName"])
    ctx.authorize("access-analyzer:DeleteArchiveRule", _rule_arn(ctx, name, rule))
    analyzer = analyzer_by_name(ctx, name)
    _rule(ctx, analyzer.arn, rule)
    ctx.uow.access_analyzer.delete_rule(analyzer.arn, rule)


@operation("accessanalyzer", "ApplyArchiveRule", heavy=True)
def apply_archive_rule(ctx: OperationContext, params: dict[str, Any]) -> None:
    analyzer = analyzer_by_arn(ctx, str(params["analyzerArn"]), "access-analyzer:ApplyArchiveRule")
    rule = _rule(ctx, analyzer.arn, str(params["ruleName"]))
    synchronize(ctx, analyzer)
    archive_matching(ctx, analyzer, rule.filter)
