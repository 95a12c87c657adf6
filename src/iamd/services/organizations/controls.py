"""What an organization adds to every authorization decision: the SCPs of the caller's account
and the RCPs of the resource's account, by level from the root down (root, each OU, the account),
and the organization condition keys (aws:PrincipalOrgID, aws:PrincipalOrgPaths,
aws:ResourceOrgID, aws:ResourceOrgPaths, aws:ResourceAccount).

Exempt, as AWS documents (orgs_manage_policies_scps.html, …_rcps.html): every principal and
resource of the management account, and service-linked roles. A view of an account is cached by
(database, account, generation); every change to an organization's policies, attachments or
structure bumps the generation of all its accounts (``Organizations.changed``), so every node
sharing the database reloads it on the next request.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from iamd.authz import NamedPolicy, PolicySet, compile_policies
from iamd.policy import PolicyError, PolicyKind, parse_policy
from iamd.policy.variables import ContextValue
from iamd.services.organizations.common import MANAGED, RCP, SCP, chain_of, path_of
from iamd.store.organizations import OrganizationRecord
from iamd.store.unit import UnitOfWork

__all__ = ["AccountOrg", "account_org", "is_service_linked", "principal_keys", "resource_keys"]

Levels = tuple[tuple[str, PolicySet], ...]


@dataclass(frozen=True, slots=True)
class AccountOrg:
    """An account's place in its organization and the controls that govern it."""

    org_id: str
    path: str
    """``o-…/r-…/ou-…/``: the account's entity path without the account (aws:PrincipalOrgPaths)."""
    management: bool
    scps: Levels
    """Empty for the management account, or when SCPs are not enabled."""
    rcps: Levels
    suspended: bool = False
    """Closed (CloseAccount): its principals may no longer make requests."""


_CACHE_SIZE = 4096
_cache: OrderedDict[tuple[str, str, int], AccountOrg | None] = OrderedDict()
_lock = threading.Lock()


def is_service_linked(principal_arn: str) -> bool:
    """Service-linked roles (path /aws-service-role/) are subject to neither SCPs nor RCPs."""
    return ":role/aws-service-role/" in principal_arn or ":assumed-role/AWSServiceRoleFor" in principal_arn


def account_org(uow: UnitOfWork, account_id: str | None, generation: int | None = None) -> AccountOrg | None:
    """``account_id``'s organization view (None: not in an organization)."""
    if not account_id or not account_id.isdigit():
        return None
    if generation is None:
        generation = uow.accounts.generations([account_id]).get(account_id, 0)
    key = (uow.database, account_id, generation)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    view = _load(uow, account_id)
    with _lock:
        _cache[key] = view
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return view


def _load(uow: UnitOfWork, account_id: str) -> AccountOrg | None:
    repo = uow.organizations
    member = repo.member(account_id)
    org = repo.find(member.organization_id) if member is not None else None
    if member is None or org is None:
        return None
    chain = chain_of(uow, org, member.parent_id)
    path = path_of(org, chain)
    if account_id == org.management_account_id:
        return AccountOrg(org.id, path, True, (), ())
    types = repo.policy_types(org.id)
    targets = [*chain, account_id]
    attached = repo.attached(org.id, targets)
    policies = repo.policies_by_id(p for _, p in attached if p not in MANAGED)
    by_target: dict[str, list[str]] = {}
    for target, policy_id in attached:
        by_target.setdefault(target, []).append(policy_id)

    def levels(policy_type: str, kind: PolicyKind) -> Levels:
        if types.get(policy_type) != "ENABLED":
            return ()
        out: list[tuple[str, PolicySet]] = []
        for depth, target in enumerate(targets):
            named: list[NamedPolicy] = []
            for policy_id in by_target.get(target, []):
                managed = MANAGED.get(policy_id)
                stored = policies.get(policy_id)
                if managed is not None and managed.policy_type == policy_type:
                    name, content = managed.name, managed.content
                elif stored is not None and stored.policy_type == policy_type:
                    name, content = f"{stored.name} ({stored.id})", stored.content
                else:
                    continue
                try:
                    named.append(NamedPolicy(name, parse_policy(content, kind, strict=False)))
                except PolicyError:
                    continue  # validated when stored; one that no longer parses grants nothing
            out.append((_level_label(org, chain, depth, target), compile_policies(named)))
        return tuple(out)

    return AccountOrg(
        org.id,
        path,
        False,
        levels(SCP, PolicyKind.SCP),
        levels(RCP, PolicyKind.RCP),
        suspended=member.state != "ACTIVE",
    )


def _level_label(org: OrganizationRecord, chain: list[str], depth: int, target: str) -> str:
    if target.startswith("r-"):
        return f"root {target}"
    if target.startswith("ou-"):
        return f"OU {path_of(org, chain[: depth + 1])}"
    return f"account {target}"


def principal_keys(view: AccountOrg | None) -> dict[str, ContextValue]:
    """aws:PrincipalOrgID and aws:PrincipalOrgPaths of a caller in ``view``'s account (keys
    lower-cased, as the evaluator's context wants them)."""
    if view is None:
        return {}
    return {"aws:principalorgid": view.org_id, "aws:principalorgpaths": (view.path,)}


def resource_keys(account_id: str | None, view: AccountOrg | None) -> dict[str, ContextValue]:
    """aws:ResourceAccount, aws:ResourceOrgID and aws:ResourceOrgPaths of a resource."""
    out: dict[str, ContextValue] = {}
    if account_id and account_id.isdigit():
        out["aws:resourceaccount"] = account_id
    if view is not None:
        out["aws:resourceorgid"] = view.org_id
        out["aws:resourceorgpaths"] = (view.path,)
    return out


def rcp_levels(view: AccountOrg | None, principal_arn: str) -> Levels:
    if view is None or is_service_linked(principal_arn):
        return ()
    return view.rcps


def scp_levels(view: AccountOrg | None, principal_arn: str) -> Levels:
    if view is None or is_service_linked(principal_arn):
        return ()
    return view.scps


def generations_of(uow: UnitOfWork, known: Mapping[str, int] | None, *accounts: str | None) -> dict[str, int]:
    """The generations of ``accounts``, reading only those not already in ``known``."""
    out = dict(known or {})
    missing = [a for a in accounts if a and a.isdigit() and a not in out]
    if missing:
        out.update(uow.accounts.generations(missing))
    return out
