"""ListPoliciesGrantingServiceAccess: which of an identity's permissions policies let it use each
of the given services.

A policy grants access to a service when one of its Allow statements covers at least one action of
that service: an ``Action`` pattern matching some ``service:Action`` of the action catalog, or a
``NotAction`` list that leaves some action of the service out. Conditions and resources are not
considered, nor are Deny statements, permissions boundaries or other policy types (as AWS
documents). For a user the policies of its groups count too; a group's and a role's are their own.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from iamd.catalog import actions as catalog_actions
from iamd.policy import Effect, Policy, PolicyError, PolicyKind, Statement, parse_policy
from iamd.policy.wildcards import compile_glob
from iamd.services.framework import OperationContext, operation
from iamd.services.iam.common import no_such, policy_arn
from iamd.store.records import PolicyDocument
from iamd.wire import InvalidInput, NoSuchEntity, ValidationError

__all__ = ["grants_service", "policy_grants_service"]


def _pattern_matches(pattern: str, namespace: str, names: Collection[str]) -> bool:
    """Whether ``pattern`` (``svc:Act*``, ``*``) matches some ``namespace:name``; with no known
    action names, whether it matches every action of the namespace's prefix at all."""
    if pattern == "*":
        return True
    prefix, colon, action = pattern.partition(":")
    if not colon or not compile_glob(prefix, ignore_case=True)(namespace):
        return False
    if not names:
        return bool(action)
    match = compile_glob(action, ignore_case=True)
    return any(match(name) for name in names)


def _pattern_covers_all(pattern: str, namespace: str, names: Collection[str]) -> bool:
    """Whether ``pattern`` matches every action of ``namespace``."""
    if pattern == "*":
        return True
    prefix, colon, action = pattern.partition(":")
    if not colon or not compile_glob(prefix, ignore_case=True)(namespace):
        return False
    if not names:
        return action == "*"
    match = compile_glob(action, ignore_case=True)
    return all(match(name) for name in names)


def grants_service(statement: Statement, namespace: str, names: Collection[str]) -> bool:
    """Whether an Allow ``statement`` covers some action of service ``namespace``, whose actions are
    ``names`` (empty when the service is not in the catalog: then only the prefix is compared)."""
    if statement.effect is not Effect.ALLOW:
        return False
    if not statement.not_action:
        return any(_pattern_matches(p, namespace, names) for p in statement.actions)
    if not names:
        return not any(_pattern_covers_all(p, namespace, names) for p in statement.actions)
    excluded = [p for p in statement.actions if _pattern_matches(p, namespace, names)]
    if not excluded:
        return True
    matchers = []
    for pattern in excluded:
        if pattern == "*":
            return False
        matchers.append(compile_glob(pattern.partition(":")[2], ignore_case=True))
    return any(not any(m(name) for m in matchers) for name in names)


def policy_grants_service(policy: Policy, namespace: str, names: Collection[str]) -> bool:
    return any(grants_service(s, namespace, names) for s in policy.statements)


@dataclass(frozen=True, slots=True)
class _Held:
    entry: dict[str, str]
    policy: Policy | None


def _parse(document: str) -> Policy | None:
    try:
        return parse_policy(document, PolicyKind.MANAGED, strict=False)
    except PolicyError:
        return None


def _entity(ctx: OperationContext, arn: str) -> tuple[str, str, str]:
    """(kind, path, name) of a user, group or role ARN of the caller's account."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam" or parts[3] or not parts[5]:
        raise InvalidInput(f"ARN {arn} is not valid: expected the ARN of an IAM user, group or role.")
    kind, _, rest = parts[5].partition("/")
    if kind not in ("user", "group", "role") or not rest:
        raise InvalidInput(f"ARN {arn} is not valid: only users, groups and roles have permissions policies.")
    if parts[4] != ctx.account_id:
        raise NoSuchEntity(f"The {kind} with ARN {arn} cannot be found in account {ctx.account_id}.")
    path, _, name = ("/" + rest).rpartition("/")
    return kind, path + "/", name


def _from_documents(docs: Iterable[PolicyDocument], entity_type: str, entity_name: str) -> list[_Held]:
    held: list[_Held] = []
    seen: set[str] = set()
    for doc in docs:
        if doc.source == "managed" and doc.policy is not None:
            arn = policy_arn(doc.policy)
            if arn in seen:  # attached to the user and to one of its groups: listed once
                continue
            seen.add(arn)
            entry = {"PolicyName": doc.name, "PolicyType": "MANAGED", "PolicyArn": arn}
        elif doc.via_group is not None:
            entry = {
                "PolicyName": doc.name,
                "PolicyType": "INLINE",
                "EntityType": "GROUP",
                "EntityName": doc.via_group,
            }
        else:
            entry = {
                "PolicyName": doc.name,
                "PolicyType": "INLINE",
                "EntityType": entity_type,
                "EntityName": entity_name,
            }
        held.append(_Held(entry, _parse(doc.document)))
    return held


def _group_policies(ctx: OperationContext, group_id: str, group_name: str) -> list[_Held]:
    uow = ctx.uow
    held: list[_Held] = []
    for name in uow.inline_policies.list_names("group", group_id, max_items=1000).items:
        found = uow.inline_policies.find("group", group_id, name)
        if found is not None:
            entry = {
                "PolicyName": name,
                "PolicyType": "INLINE",
                "EntityType": "GROUP",
                "EntityName": group_name,
            }
            held.append(_Held(entry, _parse(found.document)))
    for ref in uow.policies.attached("group", group_id, max_items=1000).items:
        document = uow.policies.default_version(ref.id).document
        held.append(
            _Held(
                {"PolicyName": ref.name, "PolicyType": "MANAGED", "PolicyArn": policy_arn(ref)},
                _parse(document),
            )
        )
    return held


@operation("iam", "ListPoliciesGrantingServiceAccess", readonly=True, heavy=True)
def list_policies_granting_service_access(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    arn = params["Arn"]
    namespaces = [str(n) for n in params["ServiceNamespaces"]]
    ctx.authorize("iam:ListPoliciesGrantingServiceAccess", arn)
    if params.get("Marker") is not None:  # every answer is complete, so no marker was ever given out
        raise ValidationError("Invalid Marker.")
    for namespace in namespaces:
        if not namespace:
            raise InvalidInput("A service namespace cannot be empty.")
    kind, path, name = _entity(ctx, arn)
    uow = ctx.uow
    held: list[_Held]
    if kind == "user":
        user = uow.users.find(ctx.account_id, name)
        if user is None or user.path != path:
            raise no_such("user", name)
        held = _from_documents(uow.principals.policies_for_user(user.id).identity, "USER", user.name)
    elif kind == "role":
        role = uow.roles.find(ctx.account_id, name)
        if role is None or role.path != path:
            raise no_such("role", name)
        held = _from_documents(uow.principals.policies_for_role(role.id).identity, "ROLE", role.name)
    else:
        group = uow.groups.find(ctx.account_id, name)
        if group is None or group.path != path:
            raise no_such("group", name)
        held = _group_policies(ctx, group.id, group.name)
    entries = []
    for namespace in dict.fromkeys(namespaces):
        names = set(catalog_actions(namespace))
        policies = [
            h.entry
            for h in held
            if h.policy is not None and policy_grants_service(h.policy, namespace, names)
        ]
        entries.append({"ServiceNamespace": namespace, "Policies": policies})
    return {"PoliciesGrantingServiceAccess": entries, "IsTruncated": False}
