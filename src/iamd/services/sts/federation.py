"""GetSessionToken (the caller's own identity, optionally MFA-authenticated) and GetFederationToken
(a federated-user session whose permissions are the IAM user's intersected with a session policy;
without a session policy it has none)."""

from __future__ import annotations

from typing import Any, Final

from iamd.services.framework import OperationContext, operation
from iamd.services.sts.assume_role import refuse_session_kinds, tag_context
from iamd.services.sts.common import (
    check_session_name,
    credentials_output,
    issue,
    session_policies,
    session_tags,
)
from iamd.services.sts.mfa import verify_mfa
from iamd.services.sts.tokens import FEDERATED, ROLE, ROOT, USER

DEFAULT_DURATION: Final = 43200
ROOT_MAX: Final = 3600


def _duration(ctx: OperationContext, requested: object) -> int:
    """900..129,600 s (the model checks the bounds), default 12 hours; the root user's sessions
    last at most an hour (longer requests get an hour, as in AWS)."""
    duration = int(str(requested)) if requested is not None else DEFAULT_DURATION
    return min(duration, ROOT_MAX) if ctx.caller.is_root else duration


def _user_path(ctx: OperationContext) -> str | None:
    if ctx.caller.user_id is None:
        return None
    return ctx.uow.users.get_by_id(ctx.caller.user_id).path


@operation("sts", "GetSessionToken", reads_without="TokenCode")
def get_session_token(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    """No permission is needed (AWS: a user can always get a session token for itself)."""
    refuse_session_kinds(ctx, "GetSessionToken", ROLE, FEDERATED, USER, ROOT)
    caller = ctx.caller
    ctx.authorized = True
    mfa = verify_mfa(
        ctx,
        params.get("SerialNumber"),
        params.get("TokenCode"),
        account_id=caller.account_id,
        user_id=caller.user_id,
        now=ctx.now,
    )
    issued = issue(
        ctx,
        kind=ROOT if caller.is_root else USER,
        account_id=caller.account_id,
        duration=_duration(ctx, params.get("DurationSeconds")),
        params=params,
        user_id=caller.user_id,
        user_name=caller.user_name,
        user_path=_user_path(ctx),
        mfa=mfa,
        mfa_at=int(ctx.now.timestamp()) if mfa else None,
        source_arn=caller.principal.arn,
    )
    return credentials_output(issued)


@operation("sts", "GetFederationToken", readonly=True, heavy=True)
def get_federation_token(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    refuse_session_kinds(ctx, "GetFederationToken", ROLE, FEDERATED, USER, ROOT)
    caller = ctx.caller
    name = params["Name"]
    check_session_name(name, "name")  # the model also limits it to 32 characters
    arn = f"arn:aws:sts::{caller.account_id}:federated-user/{name}"
    tags, _ = session_tags(params.get("Tags"), None, {})
    extra = tag_context(tags, ())
    ctx.authorize("sts:GetFederationToken", arn, extra)
    if tags:
        ctx.authorize("sts:TagSession", arn, extra)
    chosen = session_policies(ctx, params, caller.account_id)
    issued = issue(
        ctx,
        kind=FEDERATED,
        account_id=caller.account_id,
        duration=_duration(ctx, params.get("DurationSeconds")),
        params=params,
        policies=chosen,
        tags=tags,
        session_name=name,
        user_id=caller.user_id,
        user_name=caller.user_name,
        user_path=_user_path(ctx),
        source_arn=caller.principal.arn,
    )
    out = credentials_output(issued)
    out["FederatedUser"] = {"FederatedUserId": issued.session.unique_id, "Arn": issued.session.arn}
    out["PackedPolicySize"] = issued.packed
    return out
