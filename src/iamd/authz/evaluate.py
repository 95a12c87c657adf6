"""AWS's policy evaluation logic: one request, every applicable layer, one decision explained.

The order (IAM User Guide, "Policy evaluation logic"; Organizations, "SCP/RCP evaluation"):

1. An applicable Deny in any layer (RCP, SCP, resource-based, identity-based, boundary, session)
   ends in an explicit deny.
2. RCPs of the resource's account, for services that support RCPs: each level implicitly holds
   RCPFullAWSAccess, so only their Denies count.
3. SCPs of the principal's account: every level of the organization path must allow.
4. Same account: an identity allow (within the boundary and session policy) suffices, and so does
   a resource-policy allow that names the caller itself (user ARN, session ARN, federated-user ARN
   or ``*``); one that names the role behind a session (or the user behind a federated session) is
   still limited by the boundary and the session policy; one that names the account delegates to
   the identity side ("Permissions boundaries", "Session policies" pages).
5. Cross account: the identity side and the resource policy must both allow.
6. Anonymous callers and service principals: only a resource policy can allow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from iamd.authz.compiled import CompiledStatement, PolicySet, PrincipalMatch
from iamd.authz.explain import Decision, Layer, LayerResult, Outcome, Reason, StatementRef
from iamd.authz.principal import PrincipalKind
from iamd.authz.request import Request
from iamd.policy.ast import Effect

__all__ = ["PrincipalPolicies", "ResourcePolicies", "evaluate"]

Levels = tuple[tuple[str, PolicySet], ...]


@dataclass(frozen=True, slots=True)
class PrincipalPolicies:
    """The caller's side, compiled: identity policies, boundary, session policies, and the SCPs of
    its account by level from the organization root (empty when not governed by SCPs)."""

    identity: PolicySet = field(default_factory=lambda: PolicySet(()))
    boundary: PolicySet | None = None
    session: PolicySet | None = None
    scps: Levels = ()


@dataclass(frozen=True, slots=True)
class ResourcePolicies:
    """The resource's side: its resource-based policy and its account's RCPs by level.

    ``rcp_services`` names the services whose resources RCPs govern (``iamd.catalog`` loads AWS's
    list); None applies RCPs to every service."""

    policy: PolicySet | None = None
    rcps: Levels = ()
    rcp_services: frozenset[str] | None = None
    required: bool = False
    """The resource policy must allow even in the same account: role trust policies (for
    sts:AssumeRole*) and KMS key policies. A grant that names the caller itself then suffices;
    one that names its account still needs an identity-based allow."""


_NO_RESOURCE = ResourcePolicies()
_MATCH_RANK = {PrincipalMatch.DIRECT: 3, PrincipalMatch.ROLE: 2, PrincipalMatch.ACCOUNT: 1}
_DIRECT = PrincipalMatch.DIRECT
_ROLE = PrincipalMatch.ROLE
_DENY = Effect.DENY
_RCP, _SCP, _RESOURCE = Layer.RCP, Layer.SCP, Layer.RESOURCE
_IDENTITY, _BOUNDARY, _SESSION = Layer.IDENTITY, Layer.BOUNDARY, Layer.SESSION
_ANONYMOUS, _SERVICE = PrincipalKind.ANONYMOUS, PrincipalKind.SERVICE


def _denies(
    statements: tuple[CompiledStatement, ...], request: Request, has_boundary: bool
) -> tuple[StatementRef, ...]:
    """Every applicable Deny among ``statements``."""
    if not statements:
        return ()
    principal, resource, context = request.principal, request.resource, request.context
    found: list[StatementRef] = []
    for statement in statements:
        # A Deny with NotPrincipal always applies to a caller that has a permissions boundary,
        # whatever it lists (IAM User Guide, "NotPrincipal").
        if (
            statement.matches_principal is not None
            and statement.matches_principal(principal, False) is None
            and not (statement.not_principal and has_boundary)
        ):
            continue
        if statement.applies(resource, context):
            found.append(statement.ref)
    return tuple(found)


def _first_allow(statements: tuple[CompiledStatement, ...], request: Request) -> tuple[StatementRef, ...]:
    """The first applicable Allow (one is enough to decide; it is the one the explanation names)."""
    resource, context = request.resource, request.context
    for statement in statements:
        test = statement.resource_test
        if test is not None:
            if not test(resource):
                continue
        elif statement.matches_resource is not None and not statement.matches_resource(resource, context):
            continue
        for clause in statement.conditions:
            if not clause(context):
                break
        else:
            return (statement.ref,)
    return ()


def _resource_allows(
    statements: tuple[CompiledStatement, ...], request: Request
) -> tuple[tuple[StatementRef, ...], PrincipalMatch | None]:
    """Every applicable Allow of a resource policy, and the strongest way one named the caller."""
    principal, resource, context = request.principal, request.resource, request.context
    found: list[StatementRef] = []
    best: PrincipalMatch | None = None
    for statement in statements:
        if statement.matches_principal is None:
            continue  # an Allow that names no principal grants nothing
        match = statement.matches_principal(principal, False)
        if match is None or not statement.applies(resource, context):
            continue
        found.append(statement.ref)
        if best is None or _MATCH_RANK[match] > _MATCH_RANK[best]:
            best = match
    return tuple(found), best


def _result(
    layer: Layer,
    allows: tuple[StatementRef, ...],
    denies: tuple[StatementRef, ...],
    level: str | None = None,
    implicit_allow: bool = False,
    note: str | None = None,
) -> LayerResult:
    if denies:
        outcome = Outcome.DENY
    elif allows or implicit_allow:
        outcome = Outcome.ALLOW
    else:
        outcome = Outcome.NO_MATCH
    return LayerResult(layer, outcome, allows, denies, level, note)


def evaluate(
    request: Request,
    principal_policies: PrincipalPolicies,
    resource_policies: ResourcePolicies = _NO_RESOURCE,
) -> Decision:
    """Decide one request. Pure: everything it needs is in its arguments."""
    action = request.action.lower()
    principal = request.principal
    kind = principal.kind
    anonymous = kind is _ANONYMOUS or kind is _SERVICE
    has_boundary = principal_policies.boundary is not None
    results: list[LayerResult] = []
    explicit: list[tuple[Layer, StatementRef]] = []

    # Resource control policies: deny-only guardrails of the resource's account.
    if resource_policies.rcps:
        services = resource_policies.rcp_services
        if services is None or action.split(":", 1)[0] in services:
            for level, pset in resource_policies.rcps:
                denies = _denies(pset.split_for_action(action)[0], request, has_boundary)
                results.append(_result(_RCP, (), denies, level, True, "RCPFullAWSAccess is implied"))
                if denies:
                    explicit.extend((_RCP, ref) for ref in denies)

    # Service control policies: every level of the caller's organization path must allow.
    scp_gap: str | None = None
    if principal_policies.scps and not anonymous:
        for level, pset in principal_policies.scps:
            deny_stmts, allow_stmts = pset.split_for_action(action)
            denies = _denies(deny_stmts, request, has_boundary)
            allows = _first_allow(allow_stmts, request)
            results.append(_result(_SCP, allows, denies, level))
            if denies:
                explicit.extend((_SCP, ref) for ref in denies)
            if not allows and scp_gap is None:
                scp_gap = level

    # The resource-based policy.
    resource_match: PrincipalMatch | None = None
    if resource_policies.policy is not None:
        deny_stmts, allow_stmts = resource_policies.policy.split_for_action(action)
        denies = _denies(deny_stmts, request, has_boundary)
        allows, resource_match = _resource_allows(allow_stmts, request)
        results.append(_result(_RESOURCE, allows, denies))
        if denies:
            explicit.extend((_RESOURCE, ref) for ref in denies)

    # The identity side: identity policies, within the boundary and the session policies.
    identity_ok = boundary_ok = session_ok = False
    if not anonymous:
        deny_stmts, allow_stmts = principal_policies.identity.split_for_action(action)
        denies = _denies(deny_stmts, request, has_boundary)
        allows = _first_allow(allow_stmts, request)
        root = kind is PrincipalKind.ROOT
        results.append(
            _result(
                _IDENTITY,
                allows,
                denies,
                None,
                root,
                "the root user holds every permission in its account" if root else None,
            )
        )
        if denies:
            explicit.extend((_IDENTITY, ref) for ref in denies)
        identity_ok = bool(allows) or root
        boundary_ok = True
        if principal_policies.boundary is not None:
            deny_stmts, allow_stmts = principal_policies.boundary.split_for_action(action)
            denies = _denies(deny_stmts, request, has_boundary)
            allows = _first_allow(allow_stmts, request)
            results.append(_result(_BOUNDARY, allows, denies))
            if denies:
                explicit.extend((_BOUNDARY, ref) for ref in denies)
            boundary_ok = bool(allows)
        session_ok = True
        if principal_policies.session is not None:
            deny_stmts, allow_stmts = principal_policies.session.split_for_action(action)
            denies = _denies(deny_stmts, request, has_boundary)
            allows = _first_allow(allow_stmts, request)
            results.append(_result(_SESSION, allows, denies))
            if denies:
                explicit.extend((_SESSION, ref) for ref in denies)
            session_ok = bool(allows)
        elif kind is PrincipalKind.FEDERATED_USER:
            # GetFederationToken without a policy gives a session with no identity permissions.
            results.append(
                LayerResult(
                    _SESSION, Outcome.NO_MATCH, note="a federated-user session without a session policy"
                )
            )
            session_ok = False

    layers = tuple(results)
    if explicit:
        layer, ref = min(explicit, key=lambda item: _DENY_ORDER.index(item[0]))
        return Decision(
            "ExplicitlyDenied",
            Reason.EXPLICIT_DENY,
            layer,
            layers,
            f"Explicitly denied by {layer.phrase} statement {ref.label}",
        )
    if scp_gap is not None:
        return _implicit(_SCP, layers, f"no service control policy at level {scp_gap} allows the action")

    identity_side = identity_ok and boundary_ok and session_ok
    if anonymous:
        if resource_match is not None:
            return _allowed(layers, "Allowed by the resource-based policy")
        return _implicit(_RESOURCE, layers, "no resource-based policy allows the caller")
    if request.cross_account:
        if not identity_side:
            gap = _identity_gap(identity_ok, boundary_ok)
            return _implicit(gap, layers, f"cross-account: no {gap.phrase} allows the action")
        if resource_match is None:
            return _implicit(_RESOURCE, layers, "cross-account: no resource-based policy allows the caller")
        return _allowed(
            layers, "Allowed by identity-based policy and the resource-based policy (cross-account)"
        )
    if resource_policies.required:
        if resource_match is None:
            return _implicit(
                _RESOURCE, layers, "the resource-based policy (trust policy) does not allow the caller"
            )
        if resource_match is _DIRECT:
            return _allowed(layers, "Allowed by a resource-based policy that names the caller")
        if resource_match is _ROLE and boundary_ok and session_ok:
            # As for any resource policy: naming the session's role stands in for an identity
            # allow, within the role's boundary and the session policy.
            return _allowed(layers, "Allowed by a resource-based policy that names the caller's role")
        if identity_side:
            return _allowed(layers, "Allowed by identity-based policy and the resource-based policy")
        gap = _identity_gap(identity_ok, boundary_ok)
        return _implicit(gap, layers, f"no {gap.phrase} allows the action")
    if identity_side:
        return _allowed(layers, "Allowed by identity-based policy")
    if resource_match is _DIRECT:
        return _allowed(layers, "Allowed by a resource-based policy that names the caller")
    if resource_match is _ROLE and boundary_ok and session_ok:
        return _allowed(layers, "Allowed by a resource-based policy that names the caller's role or user")
    if resource_match is _ROLE:
        return _implicit(
            _identity_gap(True, boundary_ok),
            layers,
            "the resource-based policy names the role, so the boundary and session policy still limit it",
        )
    gap = _identity_gap(identity_ok, boundary_ok)
    return _implicit(gap, layers, f"no {gap.phrase} allows the action")


_DENY_ORDER: Sequence[Layer] = (
    Layer.SCP,
    Layer.RCP,
    Layer.IDENTITY,
    Layer.RESOURCE,
    Layer.BOUNDARY,
    Layer.SESSION,
)


def _identity_gap(identity_ok: bool, boundary_ok: bool) -> Layer:
    if not identity_ok:
        return Layer.IDENTITY
    if not boundary_ok:
        return Layer.BOUNDARY
    return Layer.SESSION


def _allowed(layers: tuple[LayerResult, ...], summary: str) -> Decision:
    return Decision("Allowed", Reason.ALLOWED, None, layers, summary)


def _implicit(layer: Layer, layers: tuple[LayerResult, ...], summary: str) -> Decision:
    return Decision("ImplicitlyDenied", Reason.NO_ALLOW, layer, layers, f"Implicitly denied: {summary}")
