"""Permissions boundaries: resolving the policy ARN, and Put/Delete*PermissionsBoundary."""

from __future__ import annotations

from iamd.services.framework import OperationContext
from iamd.services.iam.common import parse_policy_arn
from iamd.store.records import ManagedPolicyRecord
from iamd.store.schema import AWS_ACCOUNT
from iamd.wire import InvalidInput, NoSuchEntity


def resolve_boundary(ctx: OperationContext, arn: str) -> ManagedPolicyRecord:
    owner, name = parse_policy_arn(arn)
    account = AWS_ACCOUNT if owner == "aws" else owner
    if account not in (AWS_ACCOUNT, ctx.account_id):
        raise InvalidInput(
            f"ARN {arn} is not valid: a permissions boundary must be a policy of this account "
            "or an AWS managed policy."
        )
    policy = ctx.uow.policies.find(account, name)
    if policy is None:
        raise NoSuchEntity(f"Scope ARN: {arn} does not exist or is not attachable.")
    return policy
