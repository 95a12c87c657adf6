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
from iamd.services.organizations import controls
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
        # Organizations: the caller's and the resource's organization keys, the resource's RCPs.
        owner = resource_account or _arn_account(resource) or caller.account_id
        known = controls.generations_of(uow, generations, caller.account_id, owner)
        principal_org = controls.account_org(uow, caller.account_id, known.get(caller.account_id))
        resource_org = (
            principal_org
            if owner == caller.account_id
            else controls.account_org(uow, owner, known.get(owner))
        )
        if principal_org is not None and principal_org.suspended:
            raise AccessDenied(
                f"User: {caller.principal.arn} is not authorized to perform: {action}: account "
                f"{caller.account_id} is closed (suspended)"
            )
        context.update(controls.principal_keys(principal_org))
        context.update(controls.resource_keys(owner, resource_org))
        if extra:
            context.update(normalize_context(extra))
        request = Request(caller.principal, action, resource, resource_account or caller.account_id, context)
        principal_policies = self.principal_policies(uow, caller, generations)
        resource_policies = ResourcePolicies(
            policy=resource_policy,
            rcps=controls.rcp_levels(resource_org, caller.arn),
            rcp_services=self.rcp_services,
        )
        decision = evaluate(request, principal_policies, resource_policies)
        if not decision.allowed:
            denied = AccessDenied(decision.denial_message(caller.principal.arn, action, resource))
            denied.explanation = lambda: explain(
                request, principal_policies, resource_policies, decision
            ).explanation()
            raise denied
        return decision


def _arn_account(resource: str) -> str | None:
    """The account field of an ARN (None for ``*`` and ARNs without one)."""
    parts = resource.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[4].isdigit() else None


def base_context(caller: Caller, info: RequestInfo, now: datetime) -> dict[str, ContextValue]:
    """The global condition keys AWS puts in every request by this caller."""
    return caller_context(caller, info, now)
