"""Authorization for the server: evaluate a caller's request with its compiled policies (see
``iamd.services.policies`` for the cache and the condition keys) and raise AWS's AccessDenied."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from iamd.authz import (
    Decision,
    PolicySet,
    PrincipalPolicies,
    Request,
    ResourcePolicies,
    evaluate,
    explain,
    normalize_context,
)
from iamd.policy.variables import ContextValue
from iamd.services.framework import Caller, RequestInfo
from iamd.services.policies import caller_context, shared_cache
from iamd.store.unit import UnitOfWork
from iamd.wire import AccessDenied

__all__ = ["Authorizer", "base_context"]


class Authorizer:
    """Decides requests for callers; thread-safe."""

    def __init__(self, rcp_services: frozenset[str] | None = None) -> None:
        self.rcp_services = rcp_services
        self._policies = shared_cache()

    def principal_policies(
        self, uow: UnitOfWork, caller: Caller, generations: Mapping[str, int] | None = None
    ) -> PrincipalPolicies:
        return self._policies.principal_policies(uow, caller, generations)

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
        """Evaluate; raise AccessDenied with AWS's sentence on a denial. Its ``explanation`` says why
        down to the condition, computed only if someone asks (the console)."""
        context = base_context(caller, info, now)
        if extra:
            context.update(normalize_context(extra))
        request = Request(caller.principal, action, resource, resource_account or caller.account_id, context)
        principal_policies = self.principal_policies(uow, caller, generations)
        resource_policies = ResourcePolicies(policy=resource_policy, rcp_services=self.rcp_services)
        decision = evaluate(request, principal_policies, resource_policies)
        if not decision.allowed:
            denied = AccessDenied(decision.denial_message(caller.principal.arn, action, resource))
            denied.explanation = lambda: explain(
                request, principal_policies, resource_policies, decision
            ).explanation()
            raise denied
        return decision


def base_context(caller: Caller, info: RequestInfo, now: datetime) -> dict[str, ContextValue]:
    """The global condition keys AWS puts in every request by this caller."""
    return caller_context(caller, info, now)
