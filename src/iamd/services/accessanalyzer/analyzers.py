"""Analyzers: CreateAnalyzer, GetAnalyzer, ListAnalyzers, UpdateAnalyzer, DeleteAnalyzer, the
service-linked variants, and tags (TagResource, UntagResource, ListTagsForResource).

Facts (shared/spec/access_analyzer_api.md §1, §7): one account-level analyzer per type per account
and Region (quota 1); organization types need the organization's management account or delegated
administrator; ``unusedAccessAge`` 1–365; exclusions' ``accountIds`` only for organization
analyzers; UpdateAnalyzer is not supported for external access analyzers; CreateServiceLinked-
Analyzer may be called only by AWS services (a customer's call: AccessDeniedException).
"""

from __future__ import annotations

import re
from typing import Any, Final

from iamd.services.accessanalyzer.analyzer_common import (
    EXTERNAL_TYPES,
    INTERNAL_TYPES,
    UNUSED_TYPES,
    analyzer_arn,
    analyzer_by_arn,
    analyzer_by_name,
    conflict,
    error,
    organization_accounts,
    page,
    validation,
)
from iamd.services.framework import OperationContext, operation
from iamd.store.access_analyzer import AnalyzerRecord

__all__ = ["analyzer_summary"]

_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,254}")
_TAG_KEY: Final = re.compile(r"[\w\s_.:/=+\-@]{1,128}", re.UNICODE)
DEFAULT_UNUSED_ACCESS_AGE: Final = 90
"""AWS documents no default; every AWS example uses 90 days (spec unused_access… §2)."""
MAX_TAGS: Final = 50
"""CloudFormation's limit (aws-resource-accessanalyzer-analyzer); the API's is not documented."""


def analyzer_summary(analyzer: AnalyzerRecord, *, with_configuration: bool = True) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "arn": analyzer.arn,
        "name": analyzer.name,
        "type": analyzer.type,
        "createdAt": analyzer.created_at,
        "tags": dict(analyzer.tags),
        "status": analyzer.status,
    }
    if analyzer.last_resource_analyzed:
        summary["lastResourceAnalyzed"] = analyzer.last_resource_analyzed
        summary["lastResourceAnalyzedAt"] = analyzer.last_resource_analyzed_at
    if with_configuration and analyzer.configuration:
        summary["configuration"] = analyzer.configuration
    return summary


def _check_tags(tags: dict[str, Any]) -> dict[str, str]:
    checked: dict[str, str] = {}
    for key, value in tags.items():
        key, value = str(key), str(value)
        if not _TAG_KEY.fullmatch(key) or key.lower().startswith("aws:"):
            raise validation(
                f"Invalid tag key '{key}': 1-128 letters, digits, spaces or _.:/=+-@, not starting with aws:"
            )
        if len(value) > 256:
            raise validation(f"Invalid tag value for key '{key}': at most 256 characters")
        checked[key] = value
    if len(checked) > MAX_TAGS:
        raise validation(f"An analyzer can have at most {MAX_TAGS} tags")
    return checked


def _configuration(kind: str, configuration: dict[str, Any] | None, account: str) -> dict[str, Any] | None:
    """The configuration to store for an analyzer of ``kind``, checked; None for none."""
    if not configuration:
        if kind in UNUSED_TYPES:
            return {"unusedAccess": {"unusedAccessAge": DEFAULT_UNUSED_ACCESS_AGE}}
        return None
    if "unusedAccess" in configuration:
        if kind not in UNUSED_TYPES:
            raise validation(
                f"unusedAccess configuration is only valid for unused access analyzers, not {kind}"
            )
        unused = dict(configuration["unusedAccess"] or {})
        age = unused.get("unusedAccessAge", DEFAULT_UNUSED_ACCESS_AGE)
        if not 1 <= int(age) <= 365:
            raise validation(f"Invalid unusedAccessAge {age}: it must be between 1 and 365 days")
        unused["unusedAccessAge"] = int(age)
        for exclusion in (unused.get("analysisRule") or {}).get("exclusions") or []:
            ids = exclusion.get("accountIds") or []
            if ids and kind != "ORGANIZATION_UNUSED_ACCESS":
                raise validation("Exclusions by accountIds are only valid for organization analyzers")
            if account in ids:
                raise validation("Exclusions cannot include the analyzer owner's account")
            for tags in exclusion.get("resourceTags") or []:
                _check_tags(dict(tags))
        return {"unusedAccess": unused}
    if "internalAccess" in configuration:
        raise validation(
            f"internalAccess configuration is only valid for internal access analyzers, not {kind}"
        )
    return dict(configuration)


def _tag_context(tags: dict[str, str]) -> dict[str, object]:
    context: dict[str, object] = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    if tags:
        context["aws:TagKeys"] = list(tags)
    return context


@operation("accessanalyzer", "CreateAnalyzer")
def create_analyzer(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    name, kind = str(params["analyzerName"]), str(params["type"])
    arn = analyzer_arn(ctx, name)
    tags = _check_tags(dict(params.get("tags") or {}))
    ctx.authorize("access-analyzer:CreateAnalyzer", arn, _tag_context(tags))
    if not _NAME.fullmatch(name):
        raise validation(
            f"Invalid analyzerName '{name}': it must match [A-Za-z_][A-Za-z0-9_.-]* (1-255 characters)"
        )
    repo = ctx.uow.access_analyzer
    existing = repo.analyzer(ctx.account_id, ctx.info.region, name)
    token = params.get("clientToken")
    if existing is not None:
        if token and existing.client_token == token and existing.type == kind:
            return {"arn": existing.arn}  # a retry of the same request
        raise conflict(f"Analyzer {name} already exists", name, "AWS::AccessAnalyzer::Analyzer")
    if kind in INTERNAL_TYPES:
        raise validation(
            f"{kind} analyzers are not supported by iamd: internal access analyzers report on S3, RDS and "
            "DynamoDB resources, which iamd does not hold",
            reason="notSupported",
        )
    if kind.startswith("ORGANIZATION") and organization_accounts(ctx, ctx.account_id) is None:
        # What AWS answers when the account cannot create organization analyzers (terraform-aws-
        # secure-baseline issues #184 and #258: "ValidationException: Service not enabled for AWS
        # Organizations", reason FIELD_VALIDATION_FAILED).
        raise validation("Service not enabled for AWS Organizations")
    if kind not in EXTERNAL_TYPES + UNUSED_TYPES:
        raise validation(f"Invalid analyzer type '{kind}'")
    configuration = _configuration(kind, params.get("configuration"), ctx.account_id)
    if kind.startswith("ACCOUNT") and any(
        a.type == kind for a in repo.analyzers(ctx.account_id, ctx.info.region)
    ):
        raise error(
            "ServiceQuotaExceededException",
            f"An account can have only one analyzer of type {kind} per Region",
            resourceId=name,
            resourceType="AWS::AccessAnalyzer::Analyzer",
        )
    repo.add_analyzer(
        AnalyzerRecord(
            arn,
            ctx.account_id,
            ctx.info.region,
            name,
            kind,
            "ACTIVE",
            configuration,
            tags,
            token,
            ctx.now,
            None,
            None,
        )
    )
    from iamd.services.accessanalyzer.archive_rules import check_filter  # (archive_rules imports this module)

    for rule in params.get("archiveRules") or []:
        repo.put_rule(arn, str(rule["ruleName"]), check_filter(rule["filter"]), ctx.now)
    return {"arn": arn}


@operation("accessanalyzer", "GetAnalyzer", readonly=True)
def get_analyzer(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    name = str(params["analyzerName"])
    ctx.authorize("access-analyzer:GetAnalyzer", analyzer_arn(ctx, name))
    return {"analyzer": analyzer_summary(analyzer_by_name(ctx, name))}


@operation("accessanalyzer", "ListAnalyzers", readonly=True)
def list_analyzers(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("access-analyzer:ListAnalyzers", "*")
    kind = params.get("type")
    found = [
        a
        for a in ctx.uow.access_analyzer.analyzers(ctx.account_id, ctx.info.region)
        if not kind or a.type == kind
    ]
    chunk, more = page(found, params, "analyzers")
    return {"analyzers": [analyzer_summary(a, with_configuration=False) for a in chunk], **more}


@operation("accessanalyzer", "UpdateAnalyzer")
def update_analyzer(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    name = str(params["analyzerName"])
    ctx.authorize("access-analyzer:UpdateAnalyzer", analyzer_arn(ctx, name))
    analyzer = analyzer_by_name(ctx, name)
    if analyzer.type in EXTERNAL_TYPES:
        raise validation(
            "UpdateAnalyzer is not supported for external access analyzers", reason="notSupported"
        )
    configuration = _configuration(analyzer.type, params.get("configuration"), ctx.account_id)
    ctx.uow.access_analyzer.update_analyzer(analyzer.arn, configuration=configuration)
    return {"configuration": configuration} if configuration else {}


@operation("accessanalyzer", "DeleteAnalyzer")
def delete_analyzer(ctx: OperationContext, params: dict[str, Any]) -> None:
    name = str(params["analyzerName"])
    ctx.authorize("access-analyzer:DeleteAnalyzer", analyzer_arn(ctx, name))
    ctx.uow.access_analyzer.delete_analyzer(analyzer_by_name(ctx, name).arn)


@operation("accessanalyzer", "CreateServiceLinkedAnalyzer")
def create_service_linked_analyzer(ctx: OperationContext, params: dict[str, Any]) -> None:
    ctx.authorize("access-analyzer:CreateServiceLinkedAnalyzer", "*")
    raise error(
        "AccessDeniedException",
        "CreateServiceLinkedAnalyzer may be called only by an AWS service that manages the analyzer",
    )


@operation("accessanalyzer", "DeleteServiceLinkedAnalyzer")
def delete_service_linked_analyzer(ctx: OperationContext, params: dict[str, Any]) -> None:
    name = str(params["analyzerName"])
    ctx.authorize("access-analyzer:DeleteServiceLinkedAnalyzer", analyzer_arn(ctx, name))
    # No AWS service manages analyzers in iamd: there are no service-linked analyzers to delete.
    from iamd.services.accessanalyzer.analyzer_common import not_found

    raise not_found("Service-linked analyzer", name, "AWS::AccessAnalyzer::Analyzer")


# -- tags ---------------------------------------------------------------------------------------


@operation("accessanalyzer", "ListTagsForResource", readonly=True)
def list_tags_for_resource(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    analyzer = analyzer_by_arn(ctx, str(params["resourceArn"]), "access-analyzer:ListTagsForResource")
    return {"tags": dict(analyzer.tags)}


@operation("accessanalyzer", "TagResource")
def tag_resource(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    tags = _check_tags(dict(params["tags"]))
    arn = str(params["resourceArn"])
    ctx.authorize("access-analyzer:TagResource", arn, _tag_context(tags))
    analyzer = analyzer_by_arn(ctx, arn, "access-analyzer:TagResource")
    merged = {**analyzer.tags, **tags}
    ctx.uow.access_analyzer.update_analyzer(analyzer.arn, tags=_check_tags(merged))
    return {}


@operation("accessanalyzer", "UntagResource")
def untag_resource(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    keys = {str(k) for k in params["tagKeys"]}
    arn = str(params["resourceArn"])
    ctx.authorize("access-analyzer:UntagResource", arn, {"aws:TagKeys": sorted(keys)})
    analyzer = analyzer_by_arn(ctx, arn, "access-analyzer:UntagResource")
    ctx.uow.access_analyzer.update_analyzer(
        analyzer.arn, tags={k: v for k, v in analyzer.tags.items() if k not in keys}
    )
    return {}
