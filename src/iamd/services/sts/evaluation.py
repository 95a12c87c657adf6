"""Authorizing STS requests that a plain ``ctx.authorize`` cannot: the role trust policy is a
resource policy that must allow even within one account (``ResourcePolicies(required=True)``),
evaluated together with the caller's identity policies, boundary and session policies, across
accounts when the role lives in another one.

The caller's compiled policies are cached here as the server's authorizer caches them, keyed by the
principal and the generation counters of its account and of the AWS managed policies.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from iamd.authz import (
    Decision,
    NamedPolicy,
    PolicySet,
    Principal,
    PrincipalPolicies,
    Request,
    ResourcePolicies,
    compile_policies,
    evaluate,
    explain,
    normalize_context,
)
from iamd.policy import PolicyError, PolicyKind, parse_policy
from iamd.policy.variables import ContextValue
from iamd.services.framework import OperationContext
from iamd.services.policies import caller_context, principal_policies, request_context
from iamd.services.sts.messages import encode_authorization_message
from iamd.wire import AccessDenied

__all__ = [
    "NO_PERMISSIONS",
    "Trust",
    "caller_context",
    "deny",
    "principal_policies",
    "request_context",
]

NO_PERMISSIONS = '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotAction":"*","Resource":"*"}]}'
"""A session policy that grants nothing: the session layer of a session whose managed session
policies no longer exist."""

_CACHE_SIZE = 2048
_trust_cache: OrderedDict[str, PolicySet | None] = OrderedDict()
_lock = threading.Lock()


def _trust_policy(text: str) -> PolicySet | None:
    with _lock:
        if text in _trust_cache:
            _trust_cache.move_to_end(text)
            return _trust_cache[text]
    try:
        compiled: PolicySet | None = compile_policies(
            [NamedPolicy("trust-policy", parse_policy(text, PolicyKind.TRUST, strict=False))]
        )
    except PolicyError:
        compiled = None
    with _lock:
        _trust_cache[text] = compiled
        while len(_trust_cache) > _CACHE_SIZE:
            _trust_cache.popitem(last=False)
    return compiled


def deny(
    ctx: OperationContext,
    principal: Principal,
    action: str,
    resource: str,
    decision: Decision | None,
    context: Mapping[str, ContextValue],
    account: str | None,
) -> AccessDenied:
    """AccessDenied with AWS's sentence and an encoded authorization message
    (DecodeAuthorizationMessage reveals it to callers allowed to read it)."""
    if decision is not None:
        sentence = decision.denial_message(principal.arn, action, resource)
    else:
        who = "User: anonymous" if principal.arn in ("*", "") else f"User: {principal.arn}"
        sentence = f"{who} is not authorized to perform: {action} on resource: {resource}"
    encoded = encode_authorization_message(
        ctx.uow.kek,
        account=account,
        principal_arn=principal.arn,
        principal_id=str(context.get("aws:userid", "")) or None,
        action=action,
        resource=resource,
        decision=decision,
        context=context,
    )
    return AccessDenied(f"{sentence}. Encoded authorization failure message: {encoded}")


@dataclass(frozen=True, slots=True)
class Trust:
    """Who asks to assume which role, and what the role's trust policy sees of the request."""

    principal: Principal
    policies: PrincipalPolicies
    role_arn: str
    role_account: str
    trust_policy: str
    context: Mapping[str, object]

    def check(self, ctx: OperationContext, action: str) -> Decision:
        """Evaluate ``action`` on the role: its trust policy must allow (even in the same account),
        and the caller's identity side as the evaluator's rules say. Raises AccessDenied."""
        normalized = normalize_context(self.context)
        trust = _trust_policy(self.trust_policy)
        ctx.authorized = True
        if trust is None:
            raise deny(ctx, self.principal, action, self.role_arn, None, normalized, self.principal.account)
        request = Request(self.principal, action, self.role_arn, self.role_account, normalized)
        resource_policies = ResourcePolicies(policy=trust, required=True)
        decision = evaluate(request, self.policies, resource_policies)
        if not decision.allowed:
            # Only a denial pays for the near misses; DecodeAuthorizationMessage shows them.
            decision = explain(request, self.policies, resource_policies, decision)
            raise deny(
                ctx, self.principal, action, self.role_arn, decision, normalized, self.principal.account
            )
        return decision
