"""Authorization for the server: the caller's compiled policies (cached) and the request context.

Compiled policy sets are cached per principal and invalidated by the generation counters of the
principal's account and of the AWS managed policies, which every write that can change a decision
bumps in the database; several iamd nodes on one database therefore stay consistent.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime

from iamd.authz import (
    Decision,
    NamedPolicy,
    PolicySet,
    PrincipalPolicies,
    Request,
    ResourcePolicies,
    compile_policies,
    evaluate,
    normalize_context,
)
from iamd.policy import PolicyError, PolicyKind, parse_policy
from iamd.services.framework import Caller, RequestInfo
from iamd.store.records import PolicyDocument
from iamd.store.schema import AWS_ACCOUNT
from iamd.store.unit import UnitOfWork
from iamd.wire import AccessDenied

__all__ = ["Authorizer", "base_context"]

_EMPTY = PolicySet(())


def _compile(documents: tuple[PolicyDocument, ...] | list[PolicyDocument]) -> PolicySet:
    named: list[NamedPolicy] = []
    for doc in documents:
        label = doc.name if doc.via_group is None else f"{doc.via_group}/{doc.name}"
        try:
            named.append(NamedPolicy(label, parse_policy(doc.document, PolicyKind.MANAGED, strict=False)))
        except PolicyError:
            # Stored documents were validated on write; one that no longer parses grants nothing.
            continue
    return compile_policies(named)


class Authorizer:
    """Decides requests for callers; thread-safe."""

    def __init__(self, rcp_services: frozenset[str] | None = None, cache_size: int = 4096) -> None:
        self.rcp_services = rcp_services
        self._cache: OrderedDict[tuple[object, ...], PrincipalPolicies] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def principal_policies(
        self, uow: UnitOfWork, caller: Caller, generations: Mapping[str, int] | None = None
    ) -> PrincipalPolicies:
        """The caller's compiled policies; ``generations`` (of its account and of "aws"), when the
        caller already read them in this transaction."""
        if generations is None:
            generations = uow.accounts.generations([caller.account_id, AWS_ACCOUNT])
        principal_id = caller.user_id or caller.role_id or f"root:{caller.account_id}"
        key = (
            principal_id,
            generations.get(caller.account_id, 0),
            generations.get(AWS_ACCOUNT, 0),
            caller.session_policies,
        )
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
        compiled = self._load(uow, caller)
        with self._lock:
            self._cache[key] = compiled
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return compiled

    def _load(self, uow: UnitOfWork, caller: Caller) -> PrincipalPolicies:
        session = None
        if caller.session_policies:
            session = compile_policies(
                NamedPolicy(f"session-{i}", parse_policy(text, PolicyKind.SESSION, strict=False))
                for i, text in enumerate(caller.session_policies)
            )
        if caller.user_id is not None:
            docs = uow.principals.policies_for_user(caller.user_id)
        elif caller.role_id is not None:
            docs = uow.principals.policies_for_role(caller.role_id)
        else:
            return PrincipalPolicies(identity=_EMPTY, session=session)
        return PrincipalPolicies(
            identity=_compile(docs.identity),
            boundary=_compile([docs.boundary]) if docs.boundary is not None else None,
            session=session,
        )

    def decide(
        self,
        uow: UnitOfWork,
        caller: Caller,
        info: RequestInfo,
        now: datetime,
        action: str,
        resource: str,
        extra: Mapping[str, object] | None = None,
        *,
        resource_account: str | None = None,
        resource_policy: PolicySet | None = None,
        generations: Mapping[str, int] | None = None,
    ) -> Decision:
        """Evaluate; raise AccessDenied with AWS's sentence on a denial."""
        context = base_context(caller, info, now)
        if extra:
            context.update(normalize_context(extra))
        request = Request(caller.principal, action, resource, resource_account or caller.account_id, context)
        decision = evaluate(
            request,
            self.principal_policies(uow, caller, generations),
            ResourcePolicies(policy=resource_policy, rcp_services=self.rcp_services),
        )
        if not decision.allowed:
            raise AccessDenied(decision.denial_message(caller.principal.arn, action, resource))
        return decision


def base_context(caller: Caller, info: RequestInfo, now: datetime) -> dict[str, str | tuple[str, ...]]:
    """The global condition keys AWS puts in every request by this caller."""
    context: dict[str, str | tuple[str, ...]] = {
        "aws:principalarn": caller.arn,
        "aws:principalaccount": caller.account_id,
        "aws:principaltype": caller.principal_type,
        "aws:userid": caller.unique_id,
        "aws:sourceip": info.source_ip,
        "aws:securetransport": "true" if info.secure_transport else "false",
        "aws:currenttime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:epochtime": str(int(now.timestamp())),
        "aws:requestedregion": info.region,
        "aws:useragent": info.user_agent,
        "aws:viaawsservice": "false",
        "aws:principalisawsservice": "false",
    }
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
