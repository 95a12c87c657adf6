"""Evaluation cases in the shared JSON format (one request, the policies in force, a decision).

``decide_case`` reads one case, compiles its policies and returns the answer line that
``iamd authorize`` prints. A case that cannot be read raises ``CaseError`` naming the problem.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeGuard

from iamd.authz.compiled import NamedPolicy, PolicySet, compile_policies
from iamd.authz.evaluate import PrincipalPolicies, ResourcePolicies, evaluate
from iamd.authz.explain import Decision
from iamd.authz.nearmiss import explain
from iamd.authz.principal import Principal
from iamd.authz.request import Request, normalize_context
from iamd.policy import Policy, PolicyError, PolicyKind, parse_policy
from iamd.policy.jsonpos import plain_json_text, surrogate_free_text
from iamd.policy.parse import quick_policy

__all__ = ["CaseError", "answer_text", "case_request", "decide_case"]


class CaseError(ValueError):
    pass


def _is_mapping(value: object) -> TypeGuard[Mapping[str, Any]]:
    """``isinstance(value, Mapping)``, answered first for the dicts decoded JSON holds (an ABC's
    isinstance check costs a Python-level call)."""
    return type(value) is dict or isinstance(value, Mapping)


class _Reader:
    """Reads the policies of one case. ``text``: the JSON text the case was decoded from, or None.
    A plain document (``parse.quick_policy``) of a text free of lone surrogates is read straight
    away; any other goes to ``parse_policy``, with ``plain`` as ``jsonpos.plain_json_text`` says of
    the text (counted once per case, and only when such a document comes)."""

    __slots__ = ("_plain", "_quick", "text")

    def __init__(self, text: str | None) -> None:
        self.text = text
        self._quick = text is not None and surrogate_free_text(text)
        self._plain: bool | None = None

    def parse(self, source: str | Mapping[str, object], kind: PolicyKind) -> Policy:
        if self._quick and type(source) is dict:
            policy = quick_policy(source, kind)
            if policy is not None:
                return policy
        plain = self._plain
        if plain is None:
            plain = self._plain = self.text is not None and plain_json_text(self.text)
        return parse_policy(source, kind, strict=False, plain=plain)


def _policy(doc: object, kind: PolicyKind, where: str, reader: _Reader) -> NamedPolicy:
    if not _is_mapping(doc):
        raise CaseError(f"{where}: expected an object with a policy")
    name = str(doc.get("name", where))
    body = doc.get("policy", doc)
    if isinstance(body, str):
        source: str | Mapping[str, object] = body
    elif _is_mapping(body):
        source = body
    else:
        raise CaseError(f"{where}: the policy must be a JSON object or JSON text")
    try:
        return NamedPolicy(name, reader.parse(source, kind))
    except PolicyError as exc:
        raise CaseError(f"{where} ({name}): {exc}") from exc


def _policy_list(value: object, kind: PolicyKind, where: str, reader: _Reader) -> list[NamedPolicy]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise CaseError(f"{where} must be a list of policies")
    return [_policy(p, kind, f"{where}[{i}]", reader) for i, p in enumerate(value)]


def _levels(
    value: object, kind: PolicyKind, where: str, reader: _Reader
) -> tuple[tuple[str, PolicySet], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise CaseError(f"{where} must be a list of organization levels")
    levels: list[tuple[str, PolicySet]] = []
    for i, level in enumerate(value):
        if not _is_mapping(level):
            raise CaseError(f"{where}[{i}] must be an object with orgIdentifier and policies")
        ident = str(level.get("orgIdentifier", f"level-{i}"))
        levels.append(
            (ident, compile_policies(_policy_list(level.get("policies", []), kind, f"{where}[{i}]", reader)))
        )
    return tuple(levels)


def case_request(case: Mapping[str, Any]) -> Request:
    request = case.get("request")
    if not _is_mapping(request):
        raise CaseError("request: missing or not an object")
    raw = request.get("principal")
    try:
        if _is_mapping(raw) and raw.get("type") == "Anonymous":
            principal = Principal.anonymous()
        elif isinstance(raw, str):
            principal = Principal.parse(raw)
        else:
            raise CaseError('request.principal: an ARN, a service principal or {"type": "Anonymous"}')
    except ValueError as exc:
        raise CaseError(f"request.principal: {exc}") from exc
    action = request.get("action")
    if not isinstance(action, str) or (action != "*" and ":" not in action):
        raise CaseError("request.action: expected service:ActionName")
    resource = request.get("resource")
    account: str | None = None
    if _is_mapping(resource):
        account = resource.get("accountId")
        resource = resource.get("resource")
    if not isinstance(resource, str) or not resource:
        raise CaseError("request.resource: expected an ARN or *")
    context = request.get("contextVariables") or {}
    if not _is_mapping(context):
        raise CaseError("request.contextVariables: expected an object")
    return Request(principal, action, resource, str(account) if account else None, normalize_context(context))


def decide(
    case: Mapping[str, Any], rcp_services: frozenset[str] | None = None, *, text: str | None = None
) -> tuple[Request, Decision]:
    """The request of ``case`` and its decision. ``text``: the JSON text ``case`` was decoded from
    by ``json.loads`` (or ``jsontext.loads``), when the caller has it: where that text is plain
    (``jsonpos.plain_json_text``) its policies are read without re-checking their values."""
    reader = _Reader(text)
    request = case_request(case)
    boundary = case.get("permissionBoundaryPolicies")
    session = case.get("sessionPolicy")
    principal_policies = PrincipalPolicies(
        identity=compile_policies(
            _policy_list(case.get("identityPolicies"), PolicyKind.IDENTITY, "identityPolicies", reader)
        ),
        boundary=compile_policies(
            _policy_list(boundary, PolicyKind.MANAGED, "permissionBoundaryPolicies", reader)
        )
        if boundary
        else None,
        session=compile_policies(
            [_policy({"name": "session", "policy": session}, PolicyKind.SESSION, "sessionPolicy", reader)]
        )
        if session
        else None,
        scps=_levels(case.get("serviceControlPolicies"), PolicyKind.SCP, "serviceControlPolicies", reader),
    )
    resource_policy = case.get("resourcePolicy")
    resource_policies = ResourcePolicies(
        policy=compile_policies(
            [
                _policy(
                    {"name": "resource", "policy": resource_policy},
                    PolicyKind.RESOURCE,
                    "resourcePolicy",
                    reader,
                )
            ]
        )
        if resource_policy
        else None,
        rcps=_levels(case.get("resourceControlPolicies"), PolicyKind.RCP, "resourceControlPolicies", reader),
        rcp_services=rcp_services,
    )
    decision = evaluate(request, principal_policies, resource_policies)
    if not decision.allowed:
        decision = explain(request, principal_policies, resource_policies, decision)
    return request, decision


def decide_case(
    case: Mapping[str, Any], rcp_services: frozenset[str] | None = None, *, text: str | None = None
) -> dict[str, object]:
    """The answer line for one case: name, decision, explanation and AWS's denial sentence. A
    denial's explanation names the statements that nearly allowed (``nearMisses``) or the Denies
    that applied (``deniedBy``), down to the condition key and values (``iamd.authz.nearmiss``).

    ``rcp_services``: the services RCPs govern (``iamd.catalog.rcp_services()``); None: all.
    ``text``: the JSON text of the case, when the caller decoded it (see ``decide``)."""
    request, decision = decide(case, rcp_services, text=text)
    out: dict[str, object] = {"name": case.get("name")}
    out.update(decision.to_json())
    if not decision.allowed:
        out["message"] = decision.denial_message(request.principal.arn, request.action, request.resource)
    return out


_ANSWER_ENCODER = json.JSONEncoder(separators=(",", ":"))
_MAKE_C_ENCODER: Any = getattr(json.encoder, "c_make_encoder", None)
_C_ANSWER_ENCODER: Any = (
    None
    if _MAKE_C_ENCODER is None
    else _MAKE_C_ENCODER(
        None,
        _ANSWER_ENCODER.default,
        json.encoder.encode_basestring_ascii,
        None,
        ":",
        ",",
        False,
        False,
        True,
    )
)


def answer_text(answer: Mapping[str, object]) -> str:
    """An answer as ``iamd authorize`` prints it: ``json.dumps(answer, separators=(",", ":"))``,
    with the C encoder set up once rather than on every call (no circular-reference check: an
    answer is built here, of fresh dicts and lists)."""
    if _C_ANSWER_ENCODER is None:
        return _ANSWER_ENCODER.encode(answer)
    return "".join(_C_ANSWER_ENCODER(answer, 0))
