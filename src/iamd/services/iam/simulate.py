"""The policy simulator: SimulatePrincipalPolicy and SimulateCustomPolicy through the evaluator the
server itself uses (``iamd.authz.evaluate``), and GetContextKeysForPrincipalPolicy /
GetContextKeysForCustomPolicy (the condition keys and policy variables the policies name, read from
the parsed documents).

Only what the request gives is in the simulated context (its ContextEntries), as in AWS: the
simulator does not take the keys of the simulation request itself.

A denied result also says why, down to the condition (``iamd.authz.explain``), in the one place of
AWS's EvaluationResult shape that holds free text: EvalDecisionDetails, a map from a text naming a
contributor to the decision (allowed, explicitDeny, implicitDeny). The IAM API reference
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_EvaluationResult.html) describes it as "a
brief summary of how each policy type contributes to the final evaluation decision"; AWS keys it
by policy type ("IAM Policy", "Resource Policy"). iamd adds one entry per statement that nearly
allowed (implicitDeny) or that denied (explicitDeny), keyed by the policy's SourcePolicyId, the
statement and the element that decided, e.g. ``PolicyInputList.1 statement FromOffice: Condition
IpAddress aws:SourceIp: request value 203.0.113.9; policy values 10.0.0.0/8``, cut to the key's
256 characters. The other fields keep AWS's meaning: MatchedStatements lists only statements that
determined the result (none for an implicit deny) with their positions, and MissingContextValues
only condition keys (a caller may send them back as ContextEntries), so neither can carry it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from iamd.authz import (
    Decision,
    Layer,
    NamedPolicy,
    Outcome,
    PolicySet,
    Principal,
    PrincipalKind,
    PrincipalPolicies,
    Request,
    ResourcePolicies,
    StatementRef,
    compile_policies,
    evaluate,
    explain,
    normalize_context,
)
from iamd.policy import Policy, PolicyError, PolicyKind, Statement, parse_policy
from iamd.policy.jsonpos import JsonSyntaxError, parse_json
from iamd.services.framework import OperationContext, operation
from iamd.services.iam.common import list_params, page_output, policy_arn
from iamd.services.iam.lookups import find_group_authorized, find_role_authorized, page_list
from iamd.services.iam.users import find_user_authorized
from iamd.store.records import PolicyDocument
from iamd.store.schema import AWS_ACCOUNT
from iamd.wire import InvalidInput, MalformedPolicyDocument

_ACCOUNT = re.compile(r"\d{12}")
_LIST_TYPES = frozenset({"stringList", "numericList", "booleanList", "ipList", "binaryList", "dateList"})


@dataclass(frozen=True, slots=True)
class Source:
    """One policy given to the simulator, and how results name it."""

    policy_id: str
    """SourcePolicyId: the policy's name, or ``PolicyInputList.1`` for a policy in the request."""
    policy_type: str
    """SourcePolicyType: user, group, role, aws-managed, user-managed, resource or none."""
    text: str
    policy: Policy
    arn: str | None = None
    """A stored managed policy's ARN."""
    attached_to: str | None = None
    """The name of the user, group or role a stored inline policy is embedded in."""


def _parse(text: str, kind: PolicyKind, where: str) -> Policy:
    try:
        return parse_policy(text, kind, strict=False)
    except PolicyError as exc:
        raise MalformedPolicyDocument(f"{where}: {exc}") from exc


def _inputs(texts: Iterable[str], name: str, kind: PolicyKind) -> list[Source]:
    return [
        Source(f"{name}.{i}", "none", text, _parse(text, kind, f"{name}.{i}"))
        for i, text in enumerate(texts, 1)
    ]


def _stored(doc: PolicyDocument, principal_kind: str, principal_name: str) -> Source:
    policy = _parse(doc.document, PolicyKind.MANAGED, doc.name)
    if doc.policy is not None:
        kind = "aws-managed" if doc.policy.account_id == AWS_ACCOUNT else "user-managed"
        return Source(doc.name, kind, doc.document, policy, arn=policy_arn(doc.policy))
    if doc.via_group is not None:
        return Source(doc.name, "group", doc.document, policy, attached_to=doc.via_group)
    return Source(doc.name, principal_kind, doc.document, policy, attached_to=principal_name)


class Layers:
    """The simulated caller's policies, compiled, with the way back from a statement to its source."""

    def __init__(
        self,
        identity: Sequence[Source],
        boundary: Sequence[Source] | None,
        resource: Source | None,
        scps: Sequence[Sequence[Source]] = (),
    ) -> None:
        self.sources: dict[str, Source] = {}
        self._starts: dict[str, list[int]] = {}
        self.identity = self._compile(identity, "i")
        self.boundary = self._compile(boundary, "b") if boundary is not None else None
        self.resource = self._compile([resource], "r") if resource is not None else None
        self.scps = tuple(
            (f"level-{level}", self._compile(sources, f"s{level}.")) for level, sources in enumerate(scps, 1)
        )

    def _compile(self, sources: Iterable[Source], prefix: str) -> PolicySet:
        named: list[NamedPolicy] = []
        for i, source in enumerate(sources):
            label = f"{prefix}{i}"
            self.sources[label] = source
            named.append(NamedPolicy(label, source.policy))
        return compile_policies(named)

    def principal_policies(self) -> PrincipalPolicies:
        return PrincipalPolicies(identity=self.identity, boundary=self.boundary, scps=self.scps)

    def sets(self) -> list[PolicySet]:
        found = [self.identity, *(s for _, s in self.scps)]
        if self.boundary is not None:
            found.append(self.boundary)
        if self.resource is not None:
            found.append(self.resource)
        return found

    def statement_starts(self, label: str) -> list[int]:
        """Where the statements of the policy labelled ``label`` start in its text; read once per
        simulation (reading a policy's positions costs as much as parsing it)."""
        starts = self._starts.get(label)
        if starts is None:
            source = self.sources.get(label)
            starts = self._starts[label] = list(_statement_starts(source.text)) if source is not None else []
        return starts

    def statement(self, ref: StatementRef) -> tuple[Source, Statement] | None:
        source = self.sources.get(ref.policy)
        if source is None:
            return None
        for stmt in source.policy.statements:
            if stmt.index == ref.index:
                return source, stmt
        return None


# -- context keys -----------------------------------------------------------------------------------


def _variable_bodies(text: str) -> Iterable[str]:
    """What each ``${…}`` in ``text`` holds. (With ``str.find``: a regex would rescan the rest of
    the text from every ``${`` that has no closing brace, quadratic in the text's length.)"""
    pos = 0
    while (start := text.find("${", pos)) >= 0 and (end := text.find("}", start + 2)) >= 0:
        yield text[start + 2 : end]
        pos = end + 1


def statement_keys(stmt: Statement) -> list[str]:
    """The context keys a statement reads: its condition keys and the variables in its Resource,
    NotResource and condition values, as written."""
    keys = [clause.key for clause in stmt.conditions]
    texts = [*(stmt.resources or ()), *(v for clause in stmt.conditions for v in clause.values)]
    for text in texts:
        for body in _variable_bodies(text):
            key = body.split(",", 1)[0].strip()
            if key and key not in ("*", "?", "$"):
                keys.append(key)
    return keys


def _unique(keys: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for key in keys:
        seen.setdefault(key.lower(), key)
    return [seen[k] for k in sorted(seen)]


def context_keys(policies: Iterable[Policy]) -> list[str]:
    return _unique(key for policy in policies for stmt in policy.statements for key in statement_keys(stmt))


def _context(entries: Sequence[dict[str, Any]] | None) -> dict[str, object]:
    """ContextEntries as condition keys: list types keep every value, the others the first."""
    values: dict[str, object] = {}
    for entry in entries or []:
        name = entry.get("ContextKeyName")
        if not name:
            continue
        given = [str(v) for v in entry.get("ContextKeyValues") or []]
        if entry.get("ContextKeyType") in _LIST_TYPES:
            values[name] = tuple(given)
        elif given:
            values[name] = given[0] if len(given) == 1 else tuple(given)
    return values


# -- results --------------------------------------------------------------------------------------


def _position(text: str, offset: int) -> dict[str, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return {"Line": line, "Column": column}


@lru_cache(maxsize=256)
def _statement_starts(text: str) -> tuple[int, ...]:
    """Where each statement starts in the policy text (offsets; empty when it cannot be read).
    Kept for the last 256 texts (policy documents are at most a few KiB): the same principals are
    simulated again and again, and reading positions costs as much as parsing."""
    try:
        root = parse_json(text)
    except JsonSyntaxError:
        return ()
    starts: tuple[int, ...] = ()
    for key, _, node in root.items:
        if key == "Statement":
            if node.kind == "array":
                starts = tuple(element.pos.offset for element in node.elements)
            elif node.kind == "object":
                starts = (node.pos.offset,)
    return starts


def _statement_span(
    text: str, starts: Sequence[int], index: int
) -> tuple[dict[str, int], dict[str, int]] | None:
    """Where statement ``index`` starts and ends in the policy text (1-based line and column)."""
    if index >= len(starts):
        return None
    try:
        _, end = json.JSONDecoder().raw_decode(text, starts[index])
    except ValueError:
        return None
    return _position(text, starts[index]), _position(text, end)


def _matched(layers: Layers, refs: Iterable[StatementRef]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for ref in refs:
        found = layers.statement(ref)
        if found is None:
            continue
        source, _ = found
        entry: dict[str, Any] = {"SourcePolicyId": source.policy_id, "SourcePolicyType": source.policy_type}
        span = _statement_span(source.text, layers.statement_starts(ref.policy), ref.index)
        if span is not None:
            entry["StartPosition"], entry["EndPosition"] = span
        out.append(entry)
    return out


def _missing(layers: Layers, action: str, context: dict[str, object]) -> list[str]:
    """Keys read by the statements that apply to ``action`` but absent from the context."""
    present = {key.lower() for key in context}
    keys: list[str] = []
    for policy_set in layers.sets():
        denies, allows = policy_set.split_for_action(action.lower())
        for compiled in (*denies, *allows):
            found = layers.statement(compiled.ref)
            if found is not None:
                keys.extend(k for k in statement_keys(found[1]) if k.lower() not in present)
    return _unique(keys)


_DETAIL_KEY_MAX = 256
"""EvalDecisionSourceType: the map key's length limit in the IAM API model."""


def _detail_key(layers: Layers, ref: StatementRef, text: str) -> str | None:
    found = layers.statement(ref)
    if found is None:
        return None
    source, stmt = found
    key = f"{source.policy_id} statement {stmt.label}: {text}"
    return key if len(key) <= _DETAIL_KEY_MAX else key[: _DETAIL_KEY_MAX - 1] + "…"


def _why(layers: Layers, decision: Decision) -> dict[str, str]:
    """EvalDecisionDetails entries naming, for a denial, each statement that denied or nearly
    allowed and the element that decided it."""
    out: dict[str, str] = {}
    for denied in decision.denied_by:
        text = "; ".join(c.describe() for c in denied.conditions) or "applies"
        key = _detail_key(layers, denied.statement, f"denies ({text})")
        if key is not None:
            out[key] = "explicitDeny"
    for miss in decision.near_misses:
        key = _detail_key(layers, miss.statement, miss.failed.describe())
        if key is not None:
            out[key] = "implicitDeny"
    return out


def _decision_name(decision: Decision) -> str:
    if decision.allowed:
        return "allowed"
    return "explicitDeny" if decision.decision == "ExplicitlyDenied" else "implicitDeny"


def _result(
    layers: Layers, decision: Decision, action: str, resource: str, context: dict[str, object]
) -> dict[str, Any]:
    if decision.allowed:
        refs = [ref for layer in decision.layers if layer.layer is not Layer.SCP for ref in layer.allows]
    elif decision.decision == "ExplicitlyDenied":
        refs = [ref for layer in decision.layers for ref in layer.denies]
    else:
        refs = []
    out: dict[str, Any] = {
        "EvalActionName": action,
        "EvalResourceName": resource,
        "EvalDecision": _decision_name(decision),
        "MatchedStatements": _matched(layers, refs),
        "MissingContextValues": _missing(layers, action, context),
    }
    if layers.boundary is not None:
        allowed = any(r.layer is Layer.BOUNDARY and r.outcome is Outcome.ALLOW for r in decision.layers)
        out["PermissionsBoundaryDecisionDetail"] = {"AllowedByPermissionsBoundary": allowed}
    if layers.scps:
        denied = any(r.layer is Layer.SCP and r.outcome is not Outcome.ALLOW for r in decision.layers)
        out["OrganizationsDecisionDetail"] = {"AllowedByOrganizations": not denied}
    if layers.resource is not None:
        details = {layer.layer: layer.outcome for layer in decision.layers}
        out["EvalDecisionDetails"] = {
            "IAM Policy": _outcome_name(details.get(Layer.IDENTITY)),
            "Resource Policy": _outcome_name(details.get(Layer.RESOURCE)),
        }
    why = _why(layers, decision)
    if why:
        out.setdefault("EvalDecisionDetails", {}).update(why)
    return out


def _outcome_name(outcome: Outcome | None) -> str:
    if outcome is Outcome.ALLOW:
        return "allowed"
    return "explicitDeny" if outcome is Outcome.DENY else "implicitDeny"


def _resource_owner(value: str | None) -> str | None:
    if not value:
        return None
    if _ACCOUNT.fullmatch(value):
        return value
    parts = value.split(":")
    if len(parts) >= 5 and _ACCOUNT.fullmatch(parts[4]):
        return parts[4]
    raise InvalidInput(f"Invalid ResourceOwner {value}: an account ID or an account ARN is expected.")


def _caller(value: str) -> Principal:
    try:
        principal = Principal.parse(value)
    except ValueError as exc:
        raise InvalidInput(f"Invalid CallerArn {value}: {exc}") from exc
    if principal.kind not in (PrincipalKind.USER, PrincipalKind.ASSUMED_ROLE, PrincipalKind.ROOT):
        raise InvalidInput(
            f"Invalid CallerArn {value}: the caller must be an IAM user, a role session or root."
        )
    return principal


def simulate(
    ctx: OperationContext, params: dict[str, Any], layers: Layers, principal: Principal
) -> dict[str, Any]:
    context = _context(params.get("ContextEntries"))
    normalized = normalize_context(context)
    owner = _resource_owner(params.get("ResourceOwner"))
    resource_policies = ResourcePolicies(policy=layers.resource)
    principal_policies = layers.principal_policies()
    results: list[dict[str, Any]] = []
    actions, resources = params["ActionNames"], params.get("ResourceArns") or ["*"]
    for action in actions:
        for resource in resources:
            if ctx.budget.exceeded():
                # InvalidInput (400, the caller's fault, never retried by SDKs): the request asked
                # for more than one request may. Not PolicyEvaluation, the simulator's other error:
                # a 500 that SDKs retry, running the same work again.
                raise InvalidInput(
                    f"The simulation did not finish within its time budget of {ctx.budget.seconds:g} "
                    f"seconds: it evaluated {len(results)} of {len(actions) * len(resources)} "
                    "combinations of ActionNames and ResourceArns. Simulate fewer actions or "
                    "resources, or smaller policies, per request."
                )
            request = Request(principal, action, resource, owner, normalized)
            decision = evaluate(request, principal_policies, resource_policies)
            if not decision.allowed:
                decision = explain(request, principal_policies, resource_policies, decision)
            results.append(_result(layers, decision, action, resource, context))
    marker, max_items = list_params(params)
    return page_output(page_list(results, marker, max_items), "EvaluationResults", lambda r: r)


# -- the principal whose policies are simulated -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class PolicySource:
    kind: str  # user, group or role
    arn: str
    principal: Principal
    identity: list[Source]
    boundary: Source | None


def _source_arn(arn: str) -> tuple[str, str, str]:
    """(account, kind, name) of a user, group or role ARN."""
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and parts[2] == "iam" and _ACCOUNT.fullmatch(parts[4]):
        kind, _, rest = parts[5].partition("/")
        if kind in ("user", "group", "role") and rest:
            return parts[4], kind, rest.rsplit("/", 1)[-1]
    raise InvalidInput(f"Invalid PolicySourceArn {arn}: the ARN of a user, group or role is expected.")


def load_source(ctx: OperationContext, action: str, arn: str) -> PolicySource:
    """Authorize ``action`` on the user, group or role ``arn``; its stored policies."""
    account, kind, name = _source_arn(arn)
    if account != ctx.account_id:
        ctx.authorize(action, arn)
        raise InvalidInput(f"Invalid PolicySourceArn {arn}: it is not in this account.")
    if kind == "user":
        user = find_user_authorized(ctx, action, name)
        docs = ctx.uow.principals.policies_for_user(user.id)
        user_arn = f"arn:aws:iam::{account}:user{user.path}{user.name}"
        principal = Principal(PrincipalKind.USER, user_arn, account)
        return PolicySource(
            "user",
            user_arn,
            principal,
            [_stored(d, "user", user.name) for d in docs.identity],
            _stored(docs.boundary, "user", user.name) if docs.boundary else None,
        )
    if kind == "role":
        role = find_role_authorized(ctx, action, name)
        docs = ctx.uow.principals.policies_for_role(role.id)
        role_arn = f"arn:aws:iam::{account}:role{role.path}{role.name}"
        principal = Principal(
            PrincipalKind.ASSUMED_ROLE,
            f"arn:aws:sts::{account}:assumed-role/{role.name}/iamd-simulation",
            account,
            role_name=role.name,
            role_arn=role_arn,
        )
        return PolicySource(
            "role",
            role_arn,
            principal,
            [_stored(d, "role", role.name) for d in docs.identity],
            _stored(docs.boundary, "role", role.name) if docs.boundary else None,
        )
    group = find_group_authorized(ctx, action, name)
    identity: list[Source] = []
    for policy_name in ctx.uow.inline_policies.list_names("group", group.id, max_items=1000).items:
        found = ctx.uow.inline_policies.find("group", group.id, policy_name)
        if found is not None:
            parsed = _parse(found.document, PolicyKind.MANAGED, found.name)
            identity.append(Source(found.name, "group", found.document, parsed, attached_to=group.name))
    for ref in ctx.uow.policies.attached("group", group.id, max_items=1000).items:
        version = ctx.uow.policies.default_version(ref.id)
        parsed = _parse(version.document, PolicyKind.MANAGED, ref.name)
        kind_name = "aws-managed" if ref.account_id == AWS_ACCOUNT else "user-managed"
        identity.append(Source(ref.name, kind_name, version.document, parsed, arn=policy_arn(ref)))
    group_arn = f"arn:aws:iam::{account}:group{group.path}{group.name}"
    # A group is never the caller: its members are. Its ARN stands for "a member of the group".
    return PolicySource("group", group_arn, Principal(PrincipalKind.USER, group_arn, account), identity, None)


def _excluded(source: Source, exclusions: Sequence[dict[str, Any]], *, boundary: bool = False) -> bool:
    """Whether a PolicyExclusionList entry leaves this stored policy out."""
    return any(_names(item, source, boundary) for item in exclusions)


def _names(item: dict[str, Any], source: Source, boundary: bool) -> bool:
    """Whether one PolicyExclusionList entry (a union: a policy type, a managed policy's ARN, or an
    inline policy) names ``source`` (the permissions boundary when ``boundary``)."""
    policy_type, arn, inline = (
        item.get("PolicyType"),
        item.get("PolicyArn"),
        item.get("InlinePolicyIdentifier"),
    )
    if policy_type is not None:
        if boundary:
            return bool(policy_type == "permission-boundary")
        if policy_type == "inline":
            return source.attached_to is not None
        return bool(policy_type == source.policy_type and source.arn is not None)
    if arn is not None:
        return source.arn is not None and source.arn == arn
    if not inline or boundary or source.attached_to is None:
        return False
    return (
        str(inline.get("PolicyName", "")).lower() == source.policy_id.lower()
        and inline.get("AttachmentType") == source.policy_type
        and str(inline.get("AttachmentName", "")).lower() == source.attached_to.lower()
    )


@operation("iam", "SimulatePrincipalPolicy", readonly=True, heavy=True)
def simulate_principal_policy(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    source = load_source(ctx, "iam:SimulatePrincipalPolicy", params["PolicySourceArn"])
    identity = list(source.identity)
    boundary: list[Source] | None = [source.boundary] if source.boundary is not None else None
    exclusions = list(params.get("PolicyExclusionList") or [])
    if exclusions:
        identity = [s for s in identity if not _excluded(s, exclusions)]
        if source.boundary is not None and _excluded(source.boundary, exclusions, boundary=True):
            boundary = None
    identity.extend(_inputs(params.get("PolicyInputList") or [], "PolicyInputList", PolicyKind.IDENTITY))
    boundary_inputs = params.get("PermissionsBoundaryPolicyInputList")
    if boundary_inputs:
        boundary = _inputs(boundary_inputs, "PermissionsBoundaryPolicyInputList", PolicyKind.IDENTITY)
    resource = _resource_source(params)
    principal = _caller(params["CallerArn"]) if params.get("CallerArn") else source.principal
    return simulate(ctx, params, Layers(identity, boundary, resource), principal)


def _resource_source(params: dict[str, Any]) -> Source | None:
    text = params.get("ResourcePolicy")
    if not text:
        return None
    return Source("ResourcePolicy", "resource", text, _parse(text, PolicyKind.RESOURCE, "ResourcePolicy"))


@operation("iam", "SimulateCustomPolicy", readonly=True, heavy=True)
def simulate_custom_policy(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("iam:SimulateCustomPolicy", "*")
    identity = _inputs(params["PolicyInputList"], "PolicyInputList", PolicyKind.IDENTITY)
    boundary_inputs = params.get("PermissionsBoundaryPolicyInputList")
    boundary = (
        _inputs(boundary_inputs, "PermissionsBoundaryPolicyInputList", PolicyKind.IDENTITY)
        if boundary_inputs
        else None
    )
    scps = [
        _inputs(
            level.get("ServiceControlPolicyInputList") or [],
            f"OrderedOrganizationPolicyInputList.{i}",
            PolicyKind.SCP,
        )
        for i, level in enumerate(params.get("OrderedOrganizationPolicyInputList") or [], 1)
    ]
    principal = _caller(params["CallerArn"]) if params.get("CallerArn") else ctx.caller.principal
    return simulate(ctx, params, Layers(identity, boundary, _resource_source(params), scps), principal)


@operation("iam", "GetContextKeysForPrincipalPolicy", readonly=True, heavy=True)
def get_context_keys_for_principal_policy(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    source = load_source(ctx, "iam:GetContextKeysForPrincipalPolicy", params["PolicySourceArn"])
    policies = [s.policy for s in source.identity]
    policies.extend(
        s.policy for s in _inputs(params.get("PolicyInputList") or [], "PolicyInputList", PolicyKind.IDENTITY)
    )
    return {"ContextKeyNames": context_keys(policies)}


@operation("iam", "GetContextKeysForCustomPolicy", readonly=True, heavy=True)
def get_context_keys_for_custom_policy(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("iam:GetContextKeysForCustomPolicy", "*")
    sources = _inputs(params["PolicyInputList"], "PolicyInputList", PolicyKind.IDENTITY)
    return {"ContextKeyNames": context_keys(s.policy for s in sources)}
