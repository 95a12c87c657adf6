"""sts:AssumeRoot: a short root session in a member account, for the management account or IAM's
delegated administrator of its organization, scoped by an AWS managed task policy.

Rules (STS API reference, AssumeRoot; IAM User Guide, "Centralize root access for member
accounts"; spec organizations.md §7.2): centralized root sessions must be enabled
(iam:EnableOrganizationsRootSessions); the caller is an IAM user or role, not a root user; the
target is a member account of the caller's organization (never the management account); the
task policy is one of ``arn:aws:iam::aws:policy/root-task/*``; at most 900 seconds. The session
acts as the target's root user, limited by the task policy (its session policy) and by the
member's SCPs, with aws:AssumedRoot "true". AWS's error codes for a refused target or a disabled
feature are not documented; iamd answers AccessDenied saying why.
"""

from __future__ import annotations

import re
from typing import Any

from iamd.services.framework import OperationContext, operation
from iamd.services.iam.organizations_features import enabled_features, root_access_org
from iamd.services.sts.common import InvalidParameterValue, SessionPolicies, credentials_output, issue
from iamd.services.sts.tokens import ROOT
from iamd.store.schema import AWS_ACCOUNT
from iamd.wire import AccessDenied, AwsError

MAX_DURATION = 900
_TASK_POLICY = re.compile(r"arn:aws:iam::aws:policy/root-task/([\w+=,.@-]+)")
_TARGET = re.compile(r"(?:arn:aws:iam::)?(\d{12})(?::root)?")


@operation("sts", "AssumeRoot")
def assume_root(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    caller = ctx.caller
    target_match = _TARGET.fullmatch(params["TargetPrincipal"])
    if target_match is None:
        raise InvalidParameterValue("TargetPrincipal must be a member account id or its root user ARN.")
    target = target_match.group(1)
    arn = (
        params["TaskPolicyArn"]["arn"]
        if isinstance(params["TaskPolicyArn"], dict)
        else params["TaskPolicyArn"]
    )
    ctx.authorize(
        "sts:AssumeRoot",
        f"arn:aws:iam::{target}:root",
        {"sts:TaskPolicyArn": arn},
        resource_account=ctx.account_id,
    )
    if caller.is_root:
        raise AccessDenied("Root user credentials cannot call AssumeRoot; use an IAM user or role.")
    task = _TASK_POLICY.fullmatch(arn)
    if task is None or ctx.uow.policies.find(AWS_ACCOUNT, task.group(1)) is None:
        raise InvalidParameterValue(f"TaskPolicyArn {arn} is not an AWS managed root task policy.")
    try:
        org, _ = root_access_org(ctx, "centralized root sessions")
    except AwsError as exc:
        raise AccessDenied(f"Cannot assume root in account {target}: {exc.message}") from None
    if "RootSessions" not in enabled_features(ctx, org):
        raise AccessDenied(
            f"Cannot assume root in account {target}: centralized root sessions are not enabled in "
            f"organization {org.id} (iam:EnableOrganizationsRootSessions)."
        )
    member = ctx.uow.organizations.member(target)
    if member is None or member.organization_id != org.id or target == org.management_account_id:
        raise AccessDenied(f"Cannot assume root in account {target}: it is not a member account of {org.id}.")
    duration = int(params.get("DurationSeconds") or MAX_DURATION)
    if duration > MAX_DURATION:
        raise InvalidParameterValue(f"DurationSeconds may be at most {MAX_DURATION} for AssumeRoot.")
    issued = issue(
        ctx,
        kind=ROOT,
        account_id=target,
        duration=duration,
        params={},
        policies=SessionPolicies(None, (arn,)),
        source_arn=caller.arn,
        source_identity=caller.source_identity,
        assumed_root=True,
    )
    out = credentials_output(issued)
    if caller.source_identity:
        out["SourceIdentity"] = caller.source_identity
    return out
