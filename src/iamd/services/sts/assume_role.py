"""AssumeRole: a session of a role, for a caller the role's trust policy allows (same account or
across accounts), with session policies, session tags, source identity, ExternalId and MFA; role
chaining (a role session assuming a role) is capped at one hour and hands on transitive tags and
the source identity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iamd.services.framework import OperationContext, operation
from iamd.services.sts.common import (
    InvalidParameterValue,
    assumed_role_output,
    caller_session,
    check_session_name,
    find_role,
    issue,
    parse_role_arn,
    role_arn,
    role_arn_parts,
    role_duration,
    session_policies,
    session_tags,
    sts_error,
)
from iamd.services.sts.evaluation import Trust, caller_context, deny, principal_policies
from iamd.services.sts.mfa import verify_mfa
from iamd.services.sts.tokens import FEDERATED, ROLE
from iamd.store.unit import UnitOfWork
from iamd.wire import AccessDenied


def refuse_session_kinds(ctx: OperationContext, operation_name: str, *kinds: str) -> None:
    """Credentials from GetFederationToken may call no STS operation but GetCallerIdentity; those
    from GetSessionToken only AssumeRole and GetCallerIdentity (AWS's rules)."""
    session = caller_session(ctx)
    if session is not None and session.kind in kinds:
        ctx.authorized = True
        raise AccessDenied(f"Cannot call {operation_name} with session credentials")


def tag_context(tags: dict[str, str], transitive: tuple[str, ...]) -> dict[str, object]:
    context: dict[str, object] = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    if tags:
        context["aws:TagKeys"] = list(tags)
    if transitive:
        context["sts:TransitiveTagKeys"] = list(transitive)
    return context


def _read_ahead(uow: UnitOfWork, form: Mapping[str, str], _account: str | None) -> None:
    """The role the request names, read in the round trip of the caller's key (PostgreSQL)."""
    named = role_arn_parts(form.get("RoleArn", ""))
    if named is not None:
        uow.roles.prefetch(named[0], named[2])


@operation("sts", "AssumeRole", reads_without="TokenCode", prefetch=_read_ahead)
def assume_role(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    caller = ctx.caller
    refuse_session_kinds(ctx, "AssumeRole", FEDERATED)
    if caller.is_root:
        # AWS answers a root user's AssumeRole (its access key or its GetSessionToken session)
        # with 403 AccessDenied, "Roles may not be assumed by root accounts." (as reported in
        # Netflix/security_monkey#1026 and kubeflow/testing#961), whatever the trust policy says.
        ctx.authorized = True
        raise AccessDenied("Roles may not be assumed by root accounts.")
    current = caller_session(ctx)
    arn, name = params["RoleArn"], params["RoleSessionName"]
    check_session_name(name)
    parse_role_arn(arn)
    if params.get("ProvidedContexts"):
        raise sts_error(
            "InvalidContextAssertionException",
            "iamd cannot verify context assertions: ProvidedContexts is not supported.",
        )
    chained = current is not None and current.kind == ROLE
    inherited = current.transitive_tags() if chained and current is not None else {}
    tags, transitive = session_tags(params.get("Tags"), params.get("TransitiveTagKeys"), inherited)
    requested_identity: str | None = params.get("SourceIdentity")
    if requested_identity is not None and requested_identity.lower().startswith("aws:"):
        raise InvalidParameterValue("SourceIdentity may not start with 'aws:'.")
    kept_identity = caller.source_identity
    if kept_identity is not None and requested_identity is not None and requested_identity != kept_identity:
        ctx.authorized = True
        raise AccessDenied(
            f"The source identity {kept_identity} of the calling session cannot be changed "
            f"(requested: {requested_identity})."
        )
    source_identity = kept_identity or requested_identity

    mfa_user = caller.user_id if caller.principal_type == "User" else None
    if caller.principal_type not in ("User", "Account") and params.get("SerialNumber") is not None:
        ctx.authorized = True
        raise AccessDenied("MultiFactorAuthentication failed with invalid MFA one time pass code.")
    mfa_now = verify_mfa(
        ctx,
        params.get("SerialNumber"),
        params.get("TokenCode"),
        account_id=caller.account_id,
        user_id=mfa_user,
        now=ctx.now,
    )

    context: dict[str, object] = dict(caller_context(caller, ctx.info, ctx.now))
    if mfa_now:
        context["aws:MultiFactorAuthPresent"] = "true"
        context["aws:MultiFactorAuthAge"] = "0"
    context["sts:RoleSessionName"] = name
    if params.get("ExternalId") is not None:
        context["sts:ExternalId"] = params["ExternalId"]
    if requested_identity is not None:
        context["sts:SourceIdentity"] = requested_identity
    context.update(tag_context({k: v for k, v in tags.items() if k not in inherited}, transitive))

    role = find_role(ctx, arn)
    if role is None:
        ctx.authorized = True
        raise deny(ctx, caller.principal, "sts:AssumeRole", arn, None, {}, caller.account_id)
    # The role's tags, for conditions on them in the trust policy and in the caller's policies
    # alike (on PostgreSQL read with the role, in its statement).
    for tag in ctx.uow.tags.list(role.account_id, "role", role.id):
        context[f"iam:ResourceTag/{tag.key}"] = tag.value
        context[f"aws:ResourceTag/{tag.key}"] = tag.value
    policies = principal_policies(ctx.uow, caller)
    target = role_arn(role)
    trust = Trust(caller.principal, policies, target, role.account_id, role.trust_policy, context)
    trust.check(ctx, "sts:AssumeRole")
    if tags:
        trust.check(ctx, "sts:TagSession")
    if source_identity is not None:
        trust.check(ctx, "sts:SetSourceIdentity")

    duration = role_duration(params.get("DurationSeconds"), role, chained=chained)
    chosen = session_policies(ctx, params, role.account_id)
    mfa_at: int | None
    if mfa_now:
        mfa, mfa_at = True, int(ctx.now.timestamp())
    else:
        mfa = bool(current.mfa) if current is not None else False
        mfa_at = current.mfa_at if current is not None else None
    issued = issue(
        ctx,
        kind=ROLE,
        account_id=role.account_id,
        duration=duration,
        params=params,
        policies=chosen,
        tags=tags,
        role_id=role.id,
        role_name=role.name,
        role_path=role.path,
        session_name=name,
        transitive_tag_keys=transitive,
        source_identity=source_identity,
        mfa=mfa,
        mfa_at=mfa_at,
        chained=chained,
        source_arn=caller.principal.arn,
    )
    out = assumed_role_output(issued)
    if not (params.get("Policy") or params.get("PolicyArns") or params.get("Tags")):
        # AWS leaves PackedPolicySize out when no session policy or tag was passed (recorded:
        # LocalStack's tests/aws/services/sts/test_sts.snapshot.json, test_assume_role), and gives
        # it with one (test_assume_role_with_policy).
        del out["PackedPolicySize"]
    return out
