"""What the Access Analyzer operations (analyzers, findings, archive rules, policy generation)
share: errors in the model's shapes, ARNs, the zone of trust, pagination tokens."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any, Final

from iamd.services.framework import OperationContext
from iamd.store.access_analyzer import AnalyzerRecord
from iamd.wire import AwsError, modeled_error
from iamd.wire.models import load_service_model

__all__ = [
    "EXTERNAL_TYPES",
    "UNUSED_TYPES",
    "analyzer_arn",
    "analyzer_by_arn",
    "analyzer_by_name",
    "conflict",
    "error",
    "not_found",
    "organization_accounts",
    "organization_watchers",
    "page",
    "validation",
    "zone_of_trust",
]

EXTERNAL_TYPES: Final = ("ACCOUNT", "ORGANIZATION")
UNUSED_TYPES: Final = ("ACCOUNT_UNUSED_ACCESS", "ORGANIZATION_UNUSED_ACCESS")
INTERNAL_TYPES: Final = ("ACCOUNT_INTERNAL_ACCESS", "ORGANIZATION_INTERNAL_ACCESS")
DEFAULT_PAGE: Final = 100
MAX_PAGE: Final = 1000


def error(shape: str, message: str, **members: Any) -> AwsError:
    return modeled_error(load_service_model("accessanalyzer"), shape, message, **members)


def validation(message: str, reason: str = "fieldValidationFailed") -> AwsError:
    return error("ValidationException", message, reason=reason)


def not_found(what: str, resource_id: str, resource_type: str) -> AwsError:
    return error(
        "ResourceNotFoundException", f"{what} not found", resourceId=resource_id, resourceType=resource_type
    )


def conflict(message: str, resource_id: str, resource_type: str) -> AwsError:
    return error("ConflictException", message, resourceId=resource_id, resourceType=resource_type)


def analyzer_arn(ctx: OperationContext, name: str) -> str:
    return f"arn:{ctx.partition}:access-analyzer:{ctx.info.region}:{ctx.account_id}:analyzer/{name}"


def analyzer_by_name(ctx: OperationContext, name: str) -> AnalyzerRecord:
    found = ctx.uow.access_analyzer.analyzer(ctx.account_id, ctx.info.region, name)
    if found is None:
        raise not_found("Analyzer", name, "AWS::AccessAnalyzer::Analyzer")
    return found


def analyzer_by_arn(ctx: OperationContext, arn: str, action: str) -> AnalyzerRecord:
    """The caller's analyzer named by ``arn``, after authorizing ``action`` on it; another
    account's or another Region's is not found, as AWS answers."""
    ctx.authorize(action, arn)
    found = ctx.uow.access_analyzer.analyzer_by_arn(arn)
    if found is None or found.account_id != ctx.account_id or found.region != ctx.info.region:
        raise not_found("Analyzer", arn, "AWS::AccessAnalyzer::Analyzer")
    return found


ACCESS_ANALYZER_PRINCIPAL = "access-analyzer.amazonaws.com"


def organization_accounts(ctx: OperationContext, account_id: str) -> frozenset[str] | None:
    """The accounts of the organization whose management account (or Access Analyzer delegated
    administrator) is ``account_id``, or None when it is neither, or when the organization has not
    enabled trusted access for Access Analyzer (and so ``account_id`` may not have ORGANIZATION
    analyzers: access-analyzer-getting-started, "enable trusted access ... to create an analyzer
    with the organization as the zone of trust")."""
    organizations = ctx.uow.organizations
    org = organizations.of_account(account_id)
    if org is None or ACCESS_ANALYZER_PRINCIPAL not in organizations.service_access(org.id):
        return None
    if account_id != org.management_account_id and not organizations.delegated_admins(
        org.id, service_principal=ACCESS_ANALYZER_PRINCIPAL, account_id=account_id
    ):
        return None
    return frozenset(member.account_id for member in organizations.members(org.id))


def organization_watchers(ctx: OperationContext, account_id: str) -> list[str]:
    """The accounts whose ORGANIZATION analyzers see ``account_id``'s resources: its organization's
    management account and Access Analyzer delegated administrators (none outside one)."""
    organizations = ctx.uow.organizations
    org = organizations.of_account(account_id)
    if org is None or ACCESS_ANALYZER_PRINCIPAL not in organizations.service_access(org.id):
        return []
    admins = organizations.delegated_admins(org.id, service_principal=ACCESS_ANALYZER_PRINCIPAL)
    return sorted({org.management_account_id, *(admin.account_id for admin in admins)} - {account_id})


def zone_of_trust(ctx: OperationContext, analyzer: AnalyzerRecord) -> frozenset[str]:
    """The account ids an analyzer trusts: its own account, or (ORGANIZATION types) every account
    of its organization (access-analyzer-findings: "every principal in the chosen account or
    organization is trusted")."""
    if analyzer.type.startswith("ORGANIZATION"):
        members = organization_accounts(ctx, analyzer.account_id)
        if members:
            return members | {analyzer.account_id}
    return frozenset({analyzer.account_id})


def _token(offset: int, what: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([what, offset]).encode()).decode()


def page(items: Sequence[Any], params: dict[str, Any], what: str) -> tuple[list[Any], dict[str, Any]]:
    """One page of ``items`` by ``maxResults`` / ``nextToken``; ``what`` ties a token to its listing."""
    size = params.get("maxResults") or DEFAULT_PAGE
    if size < 1:
        raise validation("maxResults must be at least 1")
    size = min(int(size), MAX_PAGE)
    start = 0
    token = params.get("nextToken")
    if token:
        try:
            kind, start = json.loads(base64.urlsafe_b64decode(str(token).encode()))
            valid = kind == what and isinstance(start, int) and 0 <= start <= len(items)
        except (binascii.Error, ValueError, TypeError, UnicodeError):
            valid = False
        if not valid:
            raise validation("Invalid nextToken", reason="other")
    chunk = list(items[start : start + size])
    more: dict[str, Any] = {}
    if start + size < len(items):
        more["nextToken"] = _token(start + size, what)
    return chunk, more
