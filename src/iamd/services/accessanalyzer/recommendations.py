"""GenerateFindingRecommendation and GetFindingRecommendation: the guided revocation of an unused
permission finding. For each identity policy of the role or user (not those it gets through a
group: AWS does not recommend for those either, access-analyzer-findings-remediate), either a
narrower policy to create in its place (CREATE_POLICY, the unused actions removed, resources and
conditions kept) or, when nothing in it was used, the policy to detach (DETACH_POLICY).

The recommendation is computed at once: the first GetFindingRecommendation reads SUCCEEDED.
"""

from __future__ import annotations

from typing import Any

from iamd.analyzer.generation import narrowed_policy
from iamd.services.accessanalyzer.analyzer_common import analyzer_by_arn, not_found, page, validation
from iamd.services.accessanalyzer.findings import synchronize
from iamd.services.framework import OperationContext, operation
from iamd.store.access_analyzer import FindingRecord
from iamd.store.records import PolicyDocument

__all__: list[str] = []


def _finding(ctx: OperationContext, params: dict[str, Any], action: str) -> FindingRecord:
    analyzer = analyzer_by_arn(ctx, str(params["analyzerArn"]), action)
    synchronize(ctx, analyzer)
    finding = ctx.uow.access_analyzer.finding(analyzer.arn, str(params["id"]))
    if finding is None:
        raise not_found("Finding", str(params["id"]), "AWS::AccessAnalyzer::Finding")
    return finding


def _policies(ctx: OperationContext, arn: str) -> list[PolicyDocument] | None:
    parts = arn.split(":", 5)
    kind, _, rest = parts[5].partition("/")
    name = rest.rsplit("/", 1)[-1]
    if kind == "role":
        role = ctx.uow.roles.find(parts[4], name)
        return None if role is None else list(ctx.uow.principals.policies_for_role(role.id).identity)
    user = ctx.uow.users.find(parts[4], name)
    return None if user is None else list(ctx.uow.principals.policies_for_user(user.id).identity)


def _steps(ctx: OperationContext, finding: FindingRecord) -> list[dict[str, Any]]:
    policies = _policies(ctx, finding.resource)
    if policies is None:
        return []
    unused: dict[str, set[str]] = {}
    for detail in finding.details.get("findingDetails") or []:
        inner = detail.get("unusedPermissionDetails") or {}
        service = inner.get("serviceNamespace")
        if service:
            unused[service] = {a["action"].lower() for a in inner.get("actions") or []}
    steps = []
    for policy in policies:
        if policy.via_group is not None:
            continue
        used = _used_actions(policy.document, unused)
        narrowed = narrowed_policy(policy.document, used)
        existing = (
            policy.policy
            and f"arn:aws:iam::{policy.policy.account_id}:policy{policy.policy.path}{policy.policy.name}"
        )
        policy_id = existing if isinstance(existing, str) else policy.name
        if narrowed is None:
            step = {"recommendedAction": "DETACH_POLICY", "existingPolicyId": policy_id}
        elif narrowed == policy.document:
            continue
        else:
            step = {
                "recommendedAction": "CREATE_POLICY",
                "recommendedPolicy": narrowed,
                "existingPolicyId": policy_id,
            }
        steps.append({"unusedPermissionsRecommendedStep": step})
    return steps


def _used_actions(document: str, unused: dict[str, set[str]]) -> dict[str, list[str]]:
    """Service -> the action names this policy allows that were used: every catalog action the
    policy names, minus those the finding lists as unused; a service the finding lists at service
    level (no actions) is wholly unused."""
    from iamd.catalog import actions as catalog_actions
    from iamd.policy.wildcards import compile_glob
    from iamd.trail.access import allowed_actions

    used: dict[str, list[str]] = {}
    for service, patterns in allowed_actions([document]).items():
        if service in unused and not unused[service]:
            continue
        matchers = [compile_glob(p) for p in patterns]
        names = [
            spelled
            for lowered, spelled in sorted(catalog_actions(service).items())
            if any(m(lowered) for m in matchers) and f"{service}:{lowered}" not in unused.get(service, set())
        ]
        if names:
            used[service] = names
    return used


@operation("accessanalyzer", "GenerateFindingRecommendation", heavy=True)
def generate_finding_recommendation(ctx: OperationContext, params: dict[str, Any]) -> None:
    finding = _finding(ctx, params, "access-analyzer:GenerateFindingRecommendation")
    if finding.finding_type != "UnusedPermission":
        raise validation(
            f"Recommendations are generated for UnusedPermission findings only, not {finding.finding_type}: "
            "delete an unused role, deactivate or delete an unused access key, delete an unused password"
        )
    recommendation = {
        "startedAt": ctx.now.isoformat(),
        "completedAt": ctx.now.isoformat(),
        "steps": _steps(ctx, finding),
    }
    ctx.uow.access_analyzer.update_finding(finding.id, recommendation=recommendation)


@operation("accessanalyzer", "GetFindingRecommendation", readonly=True)
def get_finding_recommendation(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    analyzer = analyzer_by_arn(ctx, str(params["analyzerArn"]), "access-analyzer:GetFindingRecommendation")
    finding = ctx.uow.access_analyzer.finding(analyzer.arn, str(params["id"]))
    if finding is None or finding.recommendation is None:
        raise not_found("Recommendation", str(params["id"]), "AWS::AccessAnalyzer::Recommendation")
    from datetime import datetime

    stored = finding.recommendation
    steps, more = page(stored["steps"], params, f"steps:{finding.id}")
    return {
        "recommendationType": "UnusedPermissionRecommendation",
        "status": "SUCCEEDED",
        "resourceArn": finding.resource,
        "startedAt": datetime.fromisoformat(stored["startedAt"]),
        "completedAt": datetime.fromisoformat(stored["completedAt"]),
        "recommendedSteps": steps,
        **more,
    }
