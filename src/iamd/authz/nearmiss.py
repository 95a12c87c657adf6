"""Explaining a denial down to the condition: which statements nearly applied, and why not.

``explain`` takes a decision ``evaluate`` returned and, only when it is a denial, adds:

- for an implicit deny, the near misses: the Allow statements of the layer that denied (and, when
  either the identity side or the resource policy could have allowed, of the other one too), each
  with the first element that did not match the request, checked in the order the evaluator reads
  them: Action/NotAction, Principal/NotPrincipal (resource policies), Resource/NotResource, then
  each condition (its operator and key as written, the request's value or its absence, the
  policy's values);
- for an explicit deny, the Deny statements that applied, with the request's value for each of
  their conditions.

Near misses are ordered nearest first: the deciding layer before the other, then a statement that
failed on a condition before one that failed on its Resource, its Principal or its Action, then the
one whose failing condition came later (more of its conditions held), then document order. A
statement whose Action does not match is listed only when no statement of the layer matched the
action (those of the request's service first). Pure, like the evaluator, and never run for an
allowed request.
"""

from __future__ import annotations

from iamd.authz.compiled import CompiledStatement, PolicySet
from iamd.authz.evaluate import PrincipalPolicies, ResourcePolicies
from iamd.authz.explain import Decision, Element, Layer, MatchedDeny, NearMiss, Reason
from iamd.authz.request import Request
from iamd.policy.ast import Effect, PrincipalSpec, Statement
from iamd.policy.variables import ContextValue

__all__ = ["MAX_NEAR_MISSES", "explain"]

MAX_NEAR_MISSES = 8
"""Near misses kept per layer."""

_STAGE_PRINCIPAL, _STAGE_RESOURCE, _STAGE_CONDITION = 1, 2, 3


def explain(
    request: Request,
    principal_policies: PrincipalPolicies,
    resource_policies: ResourcePolicies,
    decision: Decision,
) -> Decision:
    """``decision`` with its near misses (implicit deny) or matched Denies (explicit deny); an
    allowed decision comes back unchanged."""
    if decision.allowed or decision.deciding is None:
        return decision
    sets = _sets(principal_policies, resource_policies)
    if decision.reason is Reason.EXPLICIT_DENY:
        return decision._replace(denied_by=_denied_by(request, decision, sets))
    layers: list[tuple[Layer, str | None]] = []
    deciding = decision.deciding
    for result in decision.layers:
        if result.layer is deciding and result.outcome.value == "NoMatch":
            layers.append((result.layer, result.level))
            break
    partner = {Layer.IDENTITY: Layer.RESOURCE, Layer.RESOURCE: Layer.IDENTITY}.get(deciding)
    for result in decision.layers:
        if result.layer is partner and result.outcome.value == "NoMatch":
            layers.append((result.layer, result.level))
    found: list[NearMiss] = []
    for layer, level in layers:
        policy_set = sets.get((layer, level))
        if policy_set is not None:
            found.extend(_near_misses(request, layer, level, policy_set))
    return decision._replace(near_misses=tuple(found))


def _sets(
    principal_policies: PrincipalPolicies, resource_policies: ResourcePolicies
) -> dict[tuple[Layer, str | None], PolicySet]:
    sets: dict[tuple[Layer, str | None], PolicySet] = {(Layer.IDENTITY, None): principal_policies.identity}
    if principal_policies.boundary is not None:
        sets[(Layer.BOUNDARY, None)] = principal_policies.boundary
    if principal_policies.session is not None:
        sets[(Layer.SESSION, None)] = principal_policies.session
    if resource_policies.policy is not None:
        sets[(Layer.RESOURCE, None)] = resource_policies.policy
    for level, policy_set in principal_policies.scps:
        sets[(Layer.SCP, level)] = policy_set
    for level, policy_set in resource_policies.rcps:
        sets[(Layer.RCP, level)] = policy_set
    return sets


def _request_values(value: ContextValue | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return (value,) if isinstance(value, str) else tuple(value)


def _conditions(
    statement: CompiledStatement, source: Statement, request: Request
) -> tuple[int, Element | None, list[Element]]:
    """(how many clauses held, the first that did not or None, the ones that held)."""
    context = request.context
    held: list[Element] = []
    for clause, compiled in zip(source.conditions, statement.conditions, strict=True):
        element = Element(
            "Condition",
            _request_values(context.get(clause.key.lower())),
            clause.values,
            clause.operator,
            clause.key,
        )
        if not compiled(context):
            return len(held), element, held
        held.append(element)
    return len(held), None, held


def _principal_values(spec: PrincipalSpec | None) -> tuple[str, ...]:
    if spec is None:
        return ()
    if spec.wildcard:
        return ("*",)
    return (*spec.aws, *spec.service, *spec.federated, *spec.canonical_user)


def _first_failure(
    statement: CompiledStatement, source: Statement, request: Request, resource_layer: bool
) -> tuple[int, int, Element] | None:
    """For a statement whose Action matches: (stage reached, clauses that held, the failing
    element), or None when the statement applies."""
    if resource_layer and (
        statement.matches_principal is None or statement.matches_principal(request.principal, False) is None
    ):
        not_principal = source.not_principal is not None
        spec = source.not_principal if not_principal else source.principal
        name = "NotPrincipal" if not_principal else "Principal"
        return _STAGE_PRINCIPAL, 0, Element(name, (request.principal.arn,), _principal_values(spec))
    resource = request.resource
    test = statement.resource_test
    if (test is not None and not test(resource)) or (
        test is None
        and statement.matches_resource is not None
        and not statement.matches_resource(resource, request.context)
    ):
        name = "NotResource" if source.not_resource else "Resource"
        return _STAGE_RESOURCE, 0, Element(name, (resource,), source.resources or ())
    held, failed, _ = _conditions(statement, source, request)
    if failed is None:
        return None
    return _STAGE_CONDITION, held, failed


def _near_misses(request: Request, layer: Layer, level: str | None, policy_set: PolicySet) -> list[NearMiss]:
    action = request.action.lower()
    allows = policy_set.split_for_action(action)[1]
    if not allows:
        return _other_actions(request, layer, level, policy_set)
    ranked: list[tuple[tuple[int, int, int], NearMiss]] = []
    resource_layer = layer is Layer.RESOURCE
    for position, statement in enumerate(allows):
        source = statement.source
        if source is None:
            continue
        failure = _first_failure(statement, source, request, resource_layer)
        if failure is None:
            continue
        stage, held, element = failure
        ranked.append(((-stage, -held, position), NearMiss(layer, statement.ref, element, level)))
    ranked.sort(key=lambda item: item[0])
    return [miss for _, miss in ranked[:MAX_NEAR_MISSES]]


def _other_actions(
    request: Request, layer: Layer, level: str | None, policy_set: PolicySet
) -> list[NearMiss]:
    """No Allow of the layer names the action: its Allows for other actions, those of the same
    service first, in document order."""
    service = request.action.split(":", 1)[0].lower() + ":"
    same: list[NearMiss] = []
    other: list[NearMiss] = []
    for statement in policy_set.statements:
        source = statement.source
        if statement.effect is not Effect.ALLOW or source is None:
            continue
        name = "NotAction" if source.not_action else "Action"
        miss = NearMiss(layer, statement.ref, Element(name, (request.action,), source.actions), level)
        if not source.not_action and any(a.lower().startswith(service) for a in source.actions):
            same.append(miss)
            if len(same) >= MAX_NEAR_MISSES:
                break
        elif len(other) < MAX_NEAR_MISSES:
            other.append(miss)
    return (same + other)[:MAX_NEAR_MISSES]


def _denied_by(
    request: Request, decision: Decision, sets: dict[tuple[Layer, str | None], PolicySet]
) -> tuple[MatchedDeny, ...]:
    found: list[MatchedDeny] = []
    for result in decision.layers:
        if not result.denies:
            continue
        policy_set = sets.get((result.layer, result.level))
        denies = policy_set.split_for_action(request.action.lower())[0] if policy_set is not None else ()
        by_ref = {s.ref: s for s in denies}
        for ref in result.denies:
            statement = by_ref.get(ref)
            conditions: tuple[Element, ...] = ()
            if statement is not None and statement.source is not None:
                conditions = tuple(_conditions(statement, statement.source, request)[2])
            found.append(MatchedDeny(result.layer, ref, conditions, result.level))
    return tuple(found)
