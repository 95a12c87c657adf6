"""ValidatePolicy: every check, over one policy text. Pure: data in, findings out.

The grammar findings come from ``iamd.policy.parse`` (already coded as Access Analyzer codes
them); a few are renamed to the code ValidatePolicy uses for the same problem (size quotas per
policy type, empty arrays and objects, value types per operator). The semantic checks then read
the parsed tree and the Service Authorization Reference handed in as ``sar``.
"""

from __future__ import annotations

from collections.abc import Callable

from iamd.analyzer.actions import check_actions
from iamd.analyzer.conditions import check_conditions
from iamd.analyzer.context import Context
from iamd.analyzer.extra import check_extra
from iamd.analyzer.issues import ISSUES
from iamd.analyzer.locate import Locator
from iamd.analyzer.model import PolicyType, Sar, ValidationFinding, policy_kind
from iamd.analyzer.passrole import check_passrole
from iamd.analyzer.principals import check_principals
from iamd.analyzer.resources import check_resources
from iamd.analyzer.statements import check_statements
from iamd.policy.conditions import parse_operator
from iamd.policy.findings import Finding
from iamd.policy.limits import PolicyKind
from iamd.policy.parse import check_policy

__all__ = ["CHECKS", "validate_policy"]

CHECKS: tuple[Callable[[Context], None], ...] = (
    check_statements,
    check_principals,
    check_actions,
    check_resources,
    check_conditions,
    check_passrole,
    check_extra,
)

_SIZE = {
    "POLICY_SIZE_EXCEEDS_MANAGED_QUOTA": "POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA",
    "POLICY_SIZE_EXCEEDS_INLINE_QUOTA": "POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA",
    "POLICY_SIZE_EXCEEDS_SESSION_QUOTA": "POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA",
    "POLICY_SIZE_EXCEEDS_RESOURCE_QUOTA": "POLICY_SIZE_EXCEEDS_RESOURCE_POLICY_QUOTA",
    "POLICY_SIZE_EXCEEDS_TRUST_QUOTA": "POLICY_SIZE_EXCEEDS_ROLE_TRUST_POLICY_QUOTA",
}
_TYPE_BY_FAMILY = {
    "Numeric": "TYPE_MISMATCH_NUMBER",
    "Date": "TYPE_MISMATCH_DATE",
    "Bool": "TYPE_MISMATCH_BOOLEAN",
    "Binary": "TYPE_MISMATCH_STRING",
}
# Findings about a member's name rather than its value: the location spans the name.
_ON_KEY = frozenset(
    {
        "INVALID_POLICY_ELEMENT",
        "INVALID_PRINCIPAL_KEY",
        "INVALID_CONDITION_OPERATOR",
        "NULL_WITH_IF_EXISTS",
    }
)


def validate_policy(
    text: str,
    policy_type: PolicyType,
    sar: Sar,
    resource_type: str | None = None,
    kind: PolicyKind | None = None,
) -> list[ValidationFinding]:
    """Every finding for ``text`` as a policy of ``policy_type`` (and, for a resource policy,
    ``resource_type``), ordered by where they stand in the text. ``kind`` narrows the grammar
    (an inline user policy's smaller size quota); by default it follows the policy type."""
    kind = kind or policy_kind(policy_type, resource_type)
    result = check_policy(text, kind)
    locator = Locator(text, result.root)
    findings: list[ValidationFinding] = []
    for finding in result.findings:
        code = _code(finding, locator)
        if code is None:
            continue
        path = finding.path
        if path and isinstance(path[-1], int):
            parent = locator.node(path[:-1])
            if parent is not None and parent.kind != "array":
                path = path[:-1]  # an entry of a single-string element: the element itself
        location = locator.locate(path, finding.position, key=code in _ON_KEY)
        findings.append(ValidationFinding(code, _details(code, finding), (location,)))
    if result.policy is not None:
        ctx = Context(result.policy, kind, policy_type, resource_type, sar, locator)
        for check in CHECKS:
            check(ctx)
        findings.extend(ctx.findings)
    unique: dict[tuple[str, object], ValidationFinding] = {}
    for f in findings:
        unique.setdefault((f.code, f.locations), f)
    return sorted(unique.values(), key=lambda f: f.locations[0].span.start.offset if f.locations else 0)


def _code(finding: Finding, locator: Locator) -> str | None:
    code = _SIZE.get(finding.code, finding.code)
    node = locator.node(finding.path)
    if code == "DATA_TYPE_MISMATCH" and node is not None and node.kind == "array" and not node.elements:
        element = next((p for p in reversed(finding.path) if isinstance(p, str)), "")
        if element in ("Action", "NotAction"):
            return "EMPTY_ARRAY_ACTION"
        if element in ("Resource", "NotResource"):
            return "EMPTY_ARRAY_RESOURCE"
        if "Principal" in finding.path or "NotPrincipal" in finding.path:
            return "EMPTY_ARRAY_PRINCIPAL"
    if code == "INVALID_PRINCIPAL_FORMAT" and node is not None and node.kind == "object" and not node.items:
        return "EMPTY_OBJECT_PRINCIPAL"
    if code == "INVALID_CONDITION_DATA_TYPE" and len(finding.path) >= 2:
        operator = finding.path[-2]
        if isinstance(operator, str):
            base = parse_operator(operator).base
            for prefix, renamed in _TYPE_BY_FAMILY.items():
                if base.startswith(prefix):
                    return renamed
    return code if code in ISSUES else None


# What to do, for grammar findings whose sentence only says what is wrong.
_ADVICE = {
    "JSON_SYNTAX_ERROR": "Fix the JSON there.",
    "MISSING_STATEMENT": 'Add a "Statement" element with at least one statement.',
    "MISSING_EFFECT": 'Add "Effect": "Allow" or "Effect": "Deny".',
    "MISSING_ACTION": 'Add an "Action" element naming the actions (service:ActionName).',
    "MISSING_RESOURCE": 'Add a "Resource" element: the ARNs the statement applies to, or "*".',
    "MISSING_PRINCIPAL": 'Add a "Principal" element naming who gets access.',
    "UNSUPPORTED_PRINCIPAL": "Remove it: an identity policy applies to the identity it is attached to.",
    "SCP_SYNTAX_ERROR_PRINCIPAL": "Remove it: an SCP applies to every principal of its accounts.",
    "ROLE_TRUST_POLICY_SYNTAX_ERROR_RESOURCE": "Remove it: the resource is the role itself.",
    "ROLE_TRUST_POLICY_SYNTAX_ERROR_NOTPRINCIPAL": "Name the trusted principals in Principal instead.",
    "RCP_SYNTAX_ERROR_NOTACTION": "List the actions in Action instead.",
    "UNIQUE_SIDS_REQUIRED": "Give each statement its own Sid.",
    "UNSUPPORTED_ELEMENT_COMBINATION": "Keep only one of the two.",
    "FEDERATED_PRINCIPAL_NOT_SUPPORTED": "Trust the identity provider in a role trust policy instead.",
    "INVALID_CONDITION_OPERATOR": "Use a condition operator such as StringEquals, ArnLike or IpAddress.",
    "NULL_WITH_IF_EXISTS": "Write Null without IfExists.",
    "DUPLICATE_KEYS_WITH_DIFFERENT_CASE": "Keep one spelling and merge their values.",
    "VARIABLE_UNSUPPORTED_IN_ELEMENT": "Write the values literally.",
    "EMPTY_ARRAY_ACTION": "Add actions or remove the statement.",
    "EMPTY_ARRAY_RESOURCE": "Add resources or remove the statement.",
    "EMPTY_ARRAY_PRINCIPAL": "Add principals or remove the principal type.",
    "EMPTY_OBJECT_PRINCIPAL": "Name principals (AWS, Service, Federated, CanonicalUser) or remove it.",
    "POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA": "Remove redundant entries or split the policy.",
    "POLICY_SIZE_EXCEEDS_RESOURCE_POLICY_QUOTA": "Remove redundant entries or merge statements.",
    "POLICY_SIZE_EXCEEDS_ROLE_TRUST_POLICY_QUOTA": "Remove redundant entries, or ask for a larger quota.",
    "POLICY_SIZE_EXCEEDS_SCP_QUOTA": "Remove redundant entries or split it into several SCPs.",
    "POLICY_SIZE_EXCEEDS_RCP_QUOTA": "Remove redundant entries or split it into several RCPs.",
}


def _details(code: str, finding: Finding) -> str:
    advice = _ADVICE.get(code)
    if advice is None:
        return finding.message
    return f"{finding.message.rstrip('.')}. {advice}"
