"""Least-privilege policy generation from trail events, as Access Analyzer's StartPolicyGeneration /
GetGeneratedPolicy does from CloudTrail; and the narrowed policy an unused-permission finding
recommends. Pure: events and policies come in, policy documents come out.

Facts (shared/spec/access_analyzer_api.md §3.3, §4; unused_access_and_policy_generation.md §3):
- action-level statements for the services whose actions the trail records, a service-level
  template (``service:*``) for the others, shown with ``includeServiceLevelTemplate``;
- ``iam:PassRole`` is never in the trail, so never generated;
- AWS's example statement: ``{"Sid": "SupportedServiceSid0", "Effect": "Allow", "Action": [sorted],
  "Resource": "*"}`` (AWS CLI get-generated-policy example);
- a policy longer than 6,144 characters is split into several;
- recommendation: keep the policy's structure, drop the unused actions; DETACH_POLICY when nothing
  in it was used (iamd rule from §3.3).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from iamd.policy import PolicyError, PolicyKind, parse_policy
from iamd.policy.ast import Effect
from iamd.policy.jsonpos import JsonSyntaxError, parse_json
from iamd.policy.wildcards import compile_glob

__all__ = ["Use", "dumps", "generate_policies", "narrowed_policy"]

MAX_POLICY_CHARS: Final = 6144
_NEVER: Final = frozenset({"iam:passrole"})


@dataclass(frozen=True, slots=True)
class Use:
    """One call the trail recorded: its IAM action, and the resource ARNs it named (if any)."""

    action: str
    resources: tuple[str, ...] = ()


def _statements(
    uses: Iterable[Use],
    action_level: frozenset[str],
    narrow: bool,
    placeholders: Mapping[str, tuple[str, ...]] | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """(action-level statements, services only known at service level)."""
    by_resources: dict[tuple[str, ...], set[str]] = {}
    spelled: dict[str, str] = {}
    resources_of: dict[str, set[str] | None] = {}
    service_level: set[str] = set()
    for use in uses:
        service, _, name = use.action.partition(":")
        if not name or use.action.lower() in _NEVER:
            continue
        if service.lower() not in action_level:
            service_level.add(service.lower())
            continue
        key = use.action.lower()
        spelled.setdefault(key, use.action)
        known = resources_of.get(key, set())
        if not narrow or not use.resources or known is None:
            resources_of[key] = None  # some call named no resource: the action needs "*"
        else:
            resources_of[key] = known | set(use.resources)
    for key, resources in resources_of.items():
        group = ("*",) if resources is None else tuple(sorted(resources))
        if resources is None and placeholders and placeholders.get(key):
            group = tuple(sorted(placeholders[key]))
        by_resources.setdefault(group, set()).add(spelled[key])
    statements = []
    for group in sorted(by_resources, key=lambda g: (g != ("*",), g)):
        statements.append(
            {
                "Effect": "Allow",
                "Action": sorted(by_resources[group]),
                "Resource": "*" if group == ("*",) else list(group),
            }
        )
    return statements, sorted(service_level)


def _split(statements: Sequence[dict[str, Any]]) -> list[str]:
    """Policies of at most MAX_POLICY_CHARS characters, Sids numbered across them."""
    policies: list[str] = []
    current: list[dict[str, Any]] = []
    for statement in statements:
        candidate = [*current, statement]
        if current and len(_dump(candidate)) > MAX_POLICY_CHARS:
            policies.append(_dump(current))
            candidate = [statement]
        current = candidate
    if current:
        policies.append(_dump(current))
    return policies


def _fit(statement: dict[str, Any]) -> list[dict[str, Any]]:
    """The statement, or halves of it (of its resources, else of its actions) until each fits."""
    if len(_dump([statement])) <= MAX_POLICY_CHARS:
        return [statement]
    for key in ("Resource", "Action"):
        values = statement[key]
        if isinstance(values, list) and len(values) > 1:
            half = len(values) // 2
            return _fit({**statement, key: values[:half]}) + _fit({**statement, key: values[half:]})
    return [statement]  # one action on one resource longer than a policy: left as it is


def _dump(statements: Sequence[dict[str, Any]]) -> str:
    return dumps({"Version": "2012-10-17", "Statement": list(statements)})


_ESCAPES: Final = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def _quoted(text: str) -> str:
    return '"' + "".join(_ESCAPES.get(c) or (f"\\u{ord(c):04x}" if c < " " else c) for c in text) + '"'


def dumps(value: object) -> str:
    """Compact JSON text of a policy value (objects, arrays, strings, numbers, booleans, null),
    written here because the analyzer stays pure (no ``json`` import, see test_layering)."""
    if isinstance(value, str):
        return _quoted(value)
    if value is True or value is False:
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_quoted(str(k))}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def generate_policies(
    uses: Iterable[Use],
    action_level: Iterable[str],
    *,
    narrow_resources: bool = True,
    service_template: bool = False,
    placeholders: Mapping[str, tuple[str, ...]] | None = None,
) -> tuple[list[str], bool]:
    """(policy documents, is complete). ``action_level``: service prefixes whose actions the trail
    records. ``narrow_resources``: use the resources the trail saw instead of ``*`` where every
    call of an action named one. ``service_template``: add ``service:*`` statements for services
    seen only at service level. ``placeholders``: lower-cased action -> ARN templates of the
    resource types it takes (``arn:aws:s3:::${BucketName}``), used instead of ``*`` where the trail
    named no resource (``includeResourcePlaceholders``). Complete: every used service made it in
    at action level."""
    statements, service_level = _statements(
        uses, frozenset(s.lower() for s in action_level), narrow_resources, placeholders
    )
    pieces = [piece for statement in statements for piece in _fit(statement)]
    ordered = [{"Sid": f"SupportedServiceSid{i}", **piece} for i, piece in enumerate(pieces)]
    if service_template and service_level:
        ordered.append(
            {
                "Sid": "ServiceLevelTemplateSid0",
                "Effect": "Allow",
                "Action": [f"{s}:*" for s in service_level],
                "Resource": "*",
            }
        )
    return (_split(ordered) if ordered else []), not service_level


def narrowed_policy(document: str, used: Mapping[str, Iterable[str]]) -> str | None:
    """The policy with the Allow actions its holder never used removed, structure, resources and
    conditions kept; a wildcard action becomes the used actions it covers. None when no Allow
    action was used (the recommendation is then to detach the policy). ``used``: service prefix
    -> action names (any case). Deny statements are kept as they are."""
    try:
        policy = parse_policy(document, PolicyKind.MANAGED, strict=False)
        raw = parse_json(document).to_python()
    except (PolicyError, JsonSyntaxError):
        return None
    if not isinstance(raw, dict):
        return None
    raw_statements = raw.get("Statement")
    if isinstance(raw_statements, dict):
        raw_statements = [raw_statements]
    used_actions = sorted({f"{s}:{a}" for s, names in used.items() for a in names}, key=str.lower)
    kept: list[dict[str, Any]] = []
    any_allow = False
    for statement, source in zip(policy.statements, raw_statements or [], strict=False):
        if statement.effect is Effect.DENY:
            kept.append(source)
            continue
        if statement.not_action:
            continue  # AWS does not recommend for NotAction policies; iamd drops them from the narrowed one
        actions: list[str] = []
        for pattern in statement.actions:
            match = compile_glob(pattern.lower())
            actions.extend(a for a in used_actions if match(a.lower()) and a not in actions)
        if actions:
            any_allow = True
            new = dict(source)
            new["Action"] = actions if len(actions) > 1 else actions[0]
            kept.append(new)
    if not any_allow:
        return None
    out = {k: v for k, v in raw.items() if k != "Statement"}
    out["Statement"] = kept
    return dumps(out)
