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
from datetime import datetime

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
    normalize_context,
)
from iamd.policy import PolicyError, PolicyKind, parse_policy
from iamd.policy.variables import ContextValue
from iamd.services.framework import Caller, OperationContext, RequestInfo
from iamd.services.sts.messages import encode_authorization_message
from iamd.store.records import PolicyDocument
from iamd.store.schema import AWS_ACCOUNT
from iamd.store.unit import UnitOfWork
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

_EMPTY = PolicySet(())
_CACHE_SIZE = 2048
_cache: OrderedDict[tuple[object, ...], PrincipalPolicies] = OrderedDict()
_trust_cache: OrderedDict[str, PolicySet | None] = OrderedDict()
_lock = threading.Lock()


def _compile(documents: tuple[PolicyDocument, ...] | list[PolicyDocument]) -> PolicySet:
    named: list[NamedPolicy] = []
    for doc in documents:
        label = doc.name if doc.via_group is None else f"{doc.via_group}/{doc.name}"
        try:
            named.append(NamedPolicy(label, parse_policy(doc.document, PolicyKind.MANAGED, strict=False)))
        except PolicyError:
            continue  # validated when stored; one that no longer parses grants nothing
    return compile_policies(named)


def _session_layer(texts: tuple[str, ...]) -> PolicySet | None:
    if not texts:
        return None
    named: list[NamedPolicy] = []
    for i, text in enumerate(texts):
        try:
            named.append(NamedPolicy(f"session-{i}", parse_policy(text, PolicyKind.SESSION, strict=False)))
        except PolicyError:
            continue
    return compile_policies(named)


def principal_policies(uow: UnitOfWork, caller: Caller) -> PrincipalPolicies:
    """The caller's compiled identity policies, boundary and session policies (cached)."""
    generations = uow.accounts.generations([caller.account_id, AWS_ACCOUNT])
    principal_id = caller.user_id or caller.role_id or f"root:{caller.account_id}"
    key = (
        principal_id,
        generations.get(caller.account_id, 0),
        generations.get(AWS_ACCOUNT, 0),
        caller.session_policies,
    )
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    session = _session_layer(caller.session_policies)
    if caller.user_id is not None:
        docs = uow.principals.policies_for_user(caller.user_id)
    elif caller.role_id is not None:
        docs = uow.principals.policies_for_role(caller.role_id)
    else:
        docs = None
    if docs is None:
        compiled = PrincipalPolicies(identity=_EMPTY, session=session)
    else:
        compiled = PrincipalPolicies(
            identity=_compile(docs.identity),
            boundary=_compile([docs.boundary]) if docs.boundary is not None else None,
            session=session,
        )
    with _lock:
        _cache[key] = compiled
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return compiled


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


def request_context(info: RequestInfo, now: datetime) -> dict[str, ContextValue]:
    """The global condition keys of any request, whoever makes it (unsigned ones too)."""
    return {
        "aws:sourceip": info.source_ip,
        "aws:securetransport": "true" if info.secure_transport else "false",
        "aws:currenttime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:epochtime": str(int(now.timestamp())),
        "aws:requestedregion": info.region,
        "aws:useragent": info.user_agent,
        "aws:viaawsservice": "false",
        "aws:principalisawsservice": "false",
    }


def caller_context(caller: Caller, info: RequestInfo, now: datetime) -> dict[str, ContextValue]:
    """The keys AWS puts in every request by ``caller`` (as the server's authorizer does)."""
    context = request_context(info, now)
    context.update(
        {
            "aws:principalarn": caller.arn,
            "aws:principalaccount": caller.account_id,
            "aws:principaltype": caller.principal_type,
            "aws:userid": caller.unique_id,
        }
    )
    if caller.user_name is not None and caller.principal_type == "User":
        context["aws:username"] = caller.user_name
    for key, value in caller.tags.items():
        context[f"aws:principaltag/{key.lower()}"] = value
    if caller.mfa_authenticated is not None:
        context["aws:multifactorauthpresent"] = "true" if caller.mfa_authenticated else "false"
    if caller.mfa_age_seconds is not None:
        context["aws:multifactorauthage"] = str(caller.mfa_age_seconds)
    if caller.session_issued_at is not None:
        context["aws:tokenissuetime"] = caller.session_issued_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    if caller.source_identity is not None:
        context["aws:sourceidentity"] = caller.source_identity
    return context


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
        decision = evaluate(request, self.policies, ResourcePolicies(policy=trust, required=True))
        if not decision.allowed:
            raise deny(
                ctx, self.principal, action, self.role_arn, decision, normalized, self.principal.account
            )
        return decision
