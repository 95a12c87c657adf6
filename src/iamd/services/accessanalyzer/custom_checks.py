"""Custom policy checks: CheckNoNewAccess, CheckAccessNotGranted, CheckNoPublicAccess.

The reasoning is ``iamd.analyzer.proofs`` (z3; pure). Here: reading the request, AWS's errors
(access_analyzer_api.md §5, §7.5), and the time budget. The operations are ``heavy``: the server
runs them on worker threads, and the solver gets what is left of the request's budget (at most
``CHECK_BUDGET_MS``); a check that cannot finish in it answers UnprocessableEntityException, never
a PASS. A FAIL's message ends with the counterexample request (AWS's sentence first, unchanged).
"""

from __future__ import annotations

import re
import time
from typing import Any, Final

from iamd import catalog
from iamd.analyzer.proofs import (
    PUBLIC_RESOURCE_TYPES,
    CheckResult,
    PolicyType,
    Undecided,
    check_access_not_granted,
    check_no_new_access,
    check_no_public_access,
)
from iamd.policy import Policy, PolicyError, PolicyKind, parse_policy, policy_size
from iamd.services.framework import OperationContext, operation
from iamd.wire import AwsError, modeled_error
from iamd.wire.models import load_service_model

__all__ = ["CHECK_BUDGET_MS"]

CHECK_BUDGET_MS: Final = 5000
"""The solver's time for one check (less when the request's budget has less left)."""
_SIZE: Final = {PolicyType.IDENTITY: 10240, PolicyType.RESOURCE: 20480}
"""Characters (without white space): AWS publishes no limit for these operations; iamd takes the
largest IAM quota of the kind (an inline role policy; a resource-based policy)."""
_ACTION: Final = re.compile(r"[A-Za-z0-9-]+:[A-Za-z0-9_-]+")


def _error(shape: str, message: str, **fields: Any) -> AwsError:
    return modeled_error(load_service_model("accessanalyzer"), shape, message, **fields)


def _invalid(message: str) -> AwsError:
    return _error("InvalidParameterException", message)


def _policy(text: str, policy_type: PolicyType, member: str) -> Policy:
    if policy_size(text) > _SIZE[policy_type]:
        raise _error(
            "ValidationException",
            f"{member}: the policy document has {policy_size(text)} characters (without white space); "
            f"the limit is {_SIZE[policy_type]}",
            reason="fieldValidationFailed",
            fieldList=[{"name": member, "message": "policy document too large"}],
        )
    kind = PolicyKind.IDENTITY if policy_type is PolicyType.IDENTITY else PolicyKind.RESOURCE
    try:
        try:
            return parse_policy(text, kind, strict=False)
        except PolicyError as exc:
            # A role trust policy is a resource-based policy without Resource elements.
            if kind is PolicyKind.RESOURCE and any(f.code == "MISSING_RESOURCE" for f in exc.findings):
                return parse_policy(text, PolicyKind.TRUST, strict=False)
            raise
    except PolicyError as exc:
        first = exc.findings[0] if exc.findings else None
        detail = first.message if first is not None else "the policy document is not valid"
        raise _invalid(f"{member}: {detail}") from exc


def _timeout_ms(ctx: OperationContext) -> int:
    left = ctx.budget.seconds - (time.monotonic() - ctx.budget.started)
    return max(1, min(CHECK_BUDGET_MS, int(left * 1000)))


def _run(ctx: OperationContext, check: Any, *args: Any) -> dict[str, Any]:
    try:
        result: CheckResult = check(*args, timeout_ms=_timeout_ms(ctx), actions=catalog.actions)
    except Undecided as exc:
        raise _error(
            "UnprocessableEntityException",
            f"The policy could not be analyzed within the time budget: {exc}. No result is given "
            "rather than an unproven PASS; simplify the policy or split the check.",
        ) from exc
    return _output(result)


def _output(result: CheckResult) -> dict[str, Any]:
    message = result.message
    if result.counterexample is not None:
        message = f"{message} {result.counterexample.describe()}"
        if result.notes:
            message += " The analysis over-approximated: " + "; ".join(result.notes) + "."
    out: dict[str, Any] = {"result": result.result, "message": message}
    if result.reasons:
        out["reasons"] = [
            {
                "description": r.description,
                "statementIndex": r.statement_index,
                **({"statementId": r.statement_id} if r.statement_id else {}),
            }
            for r in result.reasons
        ]
    return out


@operation("accessanalyzer", "CheckNoNewAccess", readonly=True, heavy=True)
def check_no_new_access_op(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("access-analyzer:CheckNoNewAccess", "*")
    policy_type = PolicyType(str(params["policyType"]))
    new = _policy(str(params["newPolicyDocument"]), policy_type, "newPolicyDocument")
    existing = _policy(str(params["existingPolicyDocument"]), policy_type, "existingPolicyDocument")
    return _run(ctx, check_no_new_access, new, existing, policy_type)


@operation("accessanalyzer", "CheckAccessNotGranted", readonly=True, heavy=True)
def check_access_not_granted_op(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("access-analyzer:CheckAccessNotGranted", "*")
    policy_type = PolicyType(str(params["policyType"]))
    policy = _policy(str(params["policyDocument"]), policy_type, "policyDocument")
    access = list(params["access"])
    if len(access) != 1:
        raise _invalid("access: give exactly one item, with actions, resources or both")
    actions = [str(a) for a in access[0].get("actions") or ()]
    resources = [str(r) for r in access[0].get("resources") or ()]
    if not actions and not resources:
        raise _invalid("access[0]: give at least one action or one resource")
    for action in actions:
        if not _ACTION.fullmatch(action):
            raise _invalid(
                f"access[0].actions: {action!r} is not an action (service:Name, without wildcards)"
            )
    for resource in resources:
        parts = resource.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or any("*" in p or "?" in p for p in parts[:5]):
            raise _invalid(
                f"access[0].resources: {resource!r} must be an ARN; a wildcard is allowed only in its "
                "resource ID (after the fifth colon)"
            )
    return _run(ctx, check_access_not_granted, policy, policy_type, actions, resources)


@operation("accessanalyzer", "CheckNoPublicAccess", readonly=True, heavy=True)
def check_no_public_access_op(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("access-analyzer:CheckNoPublicAccess", "*")
    resource_type = str(params["resourceType"])
    if resource_type not in PUBLIC_RESOURCE_TYPES:
        raise _error(
            "ValidationException",
            f"resourceType: {resource_type!r} is not a resource type CheckNoPublicAccess supports",
            reason="fieldValidationFailed",
            fieldList=[{"name": "resourceType", "message": "unsupported resource type"}],
        )
    policy = _policy(str(params["policyDocument"]), PolicyType.RESOURCE, "policyDocument")
    return _run(ctx, check_no_public_access, policy, resource_type)
