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

__all__ = ["RCP_SERVICES", "PrincipalPolicies", "ResourcePolicies", "evaluate"]

# Services whose resources RCPs govern (AWS Organizations, "Resource control policies": the launch
# five, and the services added since).
RCP_SERVICES = frozenset(
    {"s3", "sts", "kms", "sqs", "secretsmanager", "ecr", "aoss", "cognito-idp", "logs", "dynamodb"}
)

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
    """The resource's side: its resource-based policy and its account's RCPs by level."""

    policy: PolicySet | None = None
    rcps: Levels = ()


_NO_RESOURCE = ResourcePolicies()
_MATCH_RANK = {PrincipalMatch.DIRECT: 3, PrincipalMatch.ROLE: 2, PrincipalMatch.ACCOUNT: 1}


class _Scan:
    __slots__ = ("allows", "best", "denies")

    def __init__(self) -> None:
        self.allows: list[StatementRef] = []
        self.denies: list[StatementRef] = []
        self.best: PrincipalMatch | None = None


def _scan(pset: PolicySet, request: Request, action: str, has_boundary: bool, needs_principal: bool) -> _Scan:
    scan = _Scan()
    principal = request.principal
    resource = request.resource
    context = request.context
    statement: CompiledStatement
    for statement in pset.for_action(action):
        match = PrincipalMatch.DIRECT
        if statement.matches_principal is not None:
            found = statement.matches_principal(principal, False)
            if found is not None:
                match = found
            else:
                # A Deny with NotPrincipal always applies to a caller that has a permissions
                # boundary, whatever it lists (IAM User Guide, "NotPrincipal").
                if not (statement.not_principal and has_boundary and statement.effect is Effect.DENY):
                    continue
        elif needs_principal and statement.effect is Effect.ALLOW:
            continue
        if not statement.applies(resource, context):
            continue
        if statement.effect is Effect.DENY:
            scan.denies.append(statement.ref)
        else:
            scan.allows.append(statement.ref)
            if scan.best is None or _MATCH_RANK[match] > _MATCH_RANK[scan.best]:
                scan.best = match
    return scan


def _layer(
    layer: Layer, scan: _Scan, level: str | None = None, implicit_allow: bool = False, note: str | None = None
) -> LayerResult:
    if scan.denies:
        outcome = Outcome.DENY
    elif scan.allows or implicit_allow:
        outcome = Outcome.ALLOW
    else:
        outcome = Outcome.NO_MATCH
    return LayerResult(layer, outcome, tuple(scan.allows), tuple(scan.denies), level, note)


def evaluate(
    request: Request,
    principal_policies: PrincipalPolicies,
    resource_policies: ResourcePolicies = _NO_RESOURCE,
) -> Decision:
    """Decide one request. Pure: everything it needs is in its arguments."""
    action = request.action.lower()
    principal = request.principal
    anonymous = principal.kind in (PrincipalKind.ANONYMOUS, PrincipalKind.SERVICE)
    has_boundary = principal_policies.boundary is not None
    results: list[LayerResult] = []
    explicit: list[tuple[Layer, StatementRef]] = []

    # Resource control policies: deny-only guardrails of the resource's account.
    service = action.split(":", 1)[0]
    if resource_policies.rcps and service in RCP_SERVICES:
        for level, pset in resource_policies.rcps:
            scan = _scan(pset, request, action, has_boundary, needs_principal=False)
            results.append(
                _layer(Layer.RCP, scan, level, implicit_allow=True, note="RCPFullAWSAccess is implied")
            )
            explicit.extend((Layer.RCP, ref) for ref in scan.denies)

    # Service control policies: every level of the caller's organization path must allow.
    scp_gap: str | None = None
    if principal_policies.scps and not anonymous:
        for level, pset in principal_policies.scps:
            scan = _scan(pset, request, action, has_boundary, needs_principal=False)
            results.append(_layer(Layer.SCP, scan, level))
            explicit.extend((Layer.SCP, ref) for ref in scan.denies)
            if not scan.allows and scp_gap is None:
                scp_gap = level

    # The resource-based policy.
    resource_match: PrincipalMatch | None = None
    if resource_policies.policy is not None:
        scan = _scan(resource_policies.policy, request, action, has_boundary, needs_principal=True)
        results.append(_layer(Layer.RESOURCE, scan))
        explicit.extend((Layer.RESOURCE, ref) for ref in scan.denies)
        resource_match = scan.best

    # The identity side: identity policies, within the boundary and the session policies.
    identity_ok = boundary_ok = session_ok = False
    if not anonymous:
        scan = _scan(principal_policies.identity, request, action, has_boundary, needs_principal=False)
        root = principal.kind is PrincipalKind.ROOT
        results.append(
            _layer(
                Layer.IDENTITY,
                scan,
                implicit_allow=root,
                note="the root user holds every permission in its account" if root else None,
            )
        )
        explicit.extend((Layer.IDENTITY, ref) for ref in scan.denies)
        identity_ok = bool(scan.allows) or root
        boundary_ok = True
        if principal_policies.boundary is not None:
            scan = _scan(principal_policies.boundary, request, action, has_boundary, needs_principal=False)
            results.append(_layer(Layer.BOUNDARY, scan))
            explicit.extend((Layer.BOUNDARY, ref) for ref in scan.denies)
            boundary_ok = bool(scan.allows)
        session_ok = True
        if principal_policies.session is not None:
            scan = _scan(principal_policies.session, request, action, has_boundary, needs_principal=False)
            results.append(_layer(Layer.SESSION, scan))
            explicit.extend((Layer.SESSION, ref) for ref in scan.denies)
            session_ok = bool(scan.allows)
        elif principal.kind is PrincipalKind.FEDERATED_USER:
            # GetFederationToken without a policy gives a session with no identity permissions.
            results.append(
                LayerResult(
                    Layer.SESSION, Outcome.NO_MATCH, note="a federated-user session without a session policy"
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
        return _implicit(Layer.SCP, layers, f"no service control policy at level {scp_gap} allows the action")

    identity_side = identity_ok and boundary_ok and session_ok
    if anonymous:
        if resource_match is not None:
            return _allowed(layers, "Allowed by the resource-based policy")
        return _implicit(Layer.RESOURCE, layers, "no resource-based policy allows the caller")
    if request.cross_account:
        if not identity_side:
            return _implicit(
                _identity_gap(identity_ok, boundary_ok),
                layers,
                "cross-account: the identity side does not allow the action",
            )
        if resource_match is None:
            return _implicit(
                Layer.RESOURCE, layers, "cross-account: no resource-based policy allows the caller"
            )
        return _allowed(
            layers, "Allowed by identity-based policy and the resource-based policy (cross-account)"
        )
    if identity_side:
        return _allowed(layers, "Allowed by identity-based policy")
    if resource_match is PrincipalMatch.DIRECT:
        return _allowed(layers, "Allowed by a resource-based policy that names the caller")
    if resource_match is PrincipalMatch.ROLE and boundary_ok and session_ok:
        return _allowed(layers, "Allowed by a resource-based policy that names the caller's role or user")
    if resource_match is PrincipalMatch.ROLE:
        return _implicit(
            _identity_gap(True, boundary_ok),
            layers,
            "the resource-based policy names the role, so the boundary and session policy still limit it",
        )
    return _implicit(_identity_gap(identity_ok, boundary_ok), layers, "no policy allows the action")


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
