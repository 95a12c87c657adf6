"""A user's permissions boundary: PutUserPermissionsBoundary and DeleteUserPermissionsBoundary.

Both carry the condition key iam:PermissionsBoundary: the ARN being set, or the one being removed.
"""

from __future__ import annotations

from typing import Any

from iamd.services.framework import OperationContext, operation
from iamd.services.iam.boundaries import resolve_boundary
from iamd.services.iam.common import policy_arn
from iamd.services.iam.users import find_user_authorized
from iamd.wire import load_service_model, modeled_error


@operation("iam", "PutUserPermissionsBoundary")
def put_user_permissions_boundary(ctx: OperationContext, params: dict[str, Any]) -> None:
    arn = params["PermissionsBoundary"]
    user = find_user_authorized(
        ctx, "iam:PutUserPermissionsBoundary", params["UserName"], {"iam:PermissionsBoundary": arn}
    )
    policy = resolve_boundary(ctx, arn)
    if not policy.is_attachable:
        raise modeled_error(
            load_service_model("iam"),
            "PolicyNotAttachableException",
            f"Policy {arn} cannot be used as a permissions boundary.",
        )
    ctx.uow.users.set_permissions_boundary(user.id, policy.id)


@operation("iam", "DeleteUserPermissionsBoundary")
def delete_user_permissions_boundary(ctx: OperationContext, params: dict[str, Any]) -> None:
    name = params["UserName"]
    current = ctx.uow.users.find(ctx.account_id, name)
    extra: dict[str, object] | None = None
    if current is not None and current.permissions_boundary is not None:
        extra = {"iam:PermissionsBoundary": policy_arn(current.permissions_boundary)}
    user = find_user_authorized(ctx, "iam:DeleteUserPermissionsBoundary", name, extra)
    if user.permissions_boundary is not None:
        ctx.uow.users.set_permissions_boundary(user.id, None)
