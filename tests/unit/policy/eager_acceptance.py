"""The acceptance rules as they were before they read values (issue 17): they walked the
positioned tree of ``jsonpos.parse_json``. Kept only as the oracle of
``test_acceptance_values.py``: ``iamd.policy.acceptance.first_refusal`` must give the same refusal
(rule and sentence) for every text and kind. Not imported by iamd. The rule table is the current
module's (``RULES``), so only the walk is compared.
"""

from __future__ import annotations

from iamd.policy.acceptance import (
    _ORGANIZATIONS,
    _SID,
    _STATEMENT,
    _TOP,
    _VENDOR,
    RULES,
    Refusal,
    _legacy_arn,
    _legacy_date,
    _Refused,
    _resource_problem,
)
from iamd.policy.ast import VERSION_2008, VERSION_2012
from iamd.policy.conditions import parse_operator
from iamd.policy.jsonpos import JsonNode, JsonSyntaxError, parse_json
from iamd.policy.limits import PolicyKind, policy_size
from iamd.policy.parse import PRINCIPAL_TYPES, check_policy

__all__ = ["first_refusal"]


def first_refusal(text: str, kind: PolicyKind) -> Refusal | None:
    try:
        _Walk(kind).run(text)
    except _Refused as refused:
        return refused.refusal
    return None


class _Walk:
    def __init__(self, kind: PolicyKind) -> None:
        self.kind = kind

    def refuse(self, rule_id: str, value: str = "") -> None:
        """Stop with ``rule_id`` when it applies to this kind of policy."""
        rule = RULES[rule_id]
        if self.kind in rule.kinds:
            raise _Refused(Refusal(rule, rule.message.format(value=value)))

    def run(self, text: str) -> None:
        size = policy_size(text)
        if size > self.kind.max_size:
            self.refuse("SIZE_MANAGED", str(self.kind.max_size))
            self.refuse("SIZE_TRUST", str(self.kind.max_size))
        try:
            root = parse_json(text)
        except JsonSyntaxError:
            self.refuse("INVALID_JSON_TRUST")
            self.refuse("SYNTAX")
            self.refuse("ORGANIZATIONS_POLICY_TYPE")
            return
        if self.kind in _ORGANIZATIONS:
            self.organizations(text)
            return
        statements = self.syntax(root)
        self.semantics(root, statements)
        if check_policy(root, self.kind).policy is None:
            # Never reached by a document the rules above accept; kept so that iamd stores only
            # documents its evaluator reads.
            self.refuse("SYNTAX")

    def organizations(self, text: str) -> None:
        # Organizations validates SCPs and RCPs with its own grammar (the one ValidatePolicy's
        # SCP_SYNTAX_ERROR_* and RCP_SYNTAX_ERROR_* findings describe) and answers every breach
        # with one sentence.
        if check_policy(text, self.kind).errors:
            self.refuse("ORGANIZATIONS_POLICY_TYPE")

    # -- "Syntax errors in policy." ---------------------------------------------------------------

    def members(self, node: JsonNode, allowed: frozenset[str]) -> dict[str, JsonNode]:
        if node.kind != "object":
            self.refuse("SYNTAX")
        out: dict[str, JsonNode] = {}
        for key, _, value in node.items:
            # A repeated key has no single meaning; iamd refuses it rather than guess which wins.
            if key not in allowed or key in out:
                self.refuse("SYNTAX")
            out[key] = value
        return out

    def syntax(self, root: JsonNode) -> list[dict[str, JsonNode]]:
        top = self.members(root, _TOP)
        version = top.get("Version")
        if version is not None and (
            version.kind != "string" or version.value not in (VERSION_2012, VERSION_2008)
        ):
            self.refuse("SYNTAX")
        if "Id" in top and top["Id"].kind != "string":
            self.refuse("SYNTAX")
        node = top.get("Statement")
        if (
            node is None
            or node.kind not in ("object", "array")
            or (node.kind == "array" and not node.elements)
        ):
            self.refuse("SYNTAX")
            return []
        statements = [
            self.members(s, _STATEMENT) for s in (node.elements if node.kind == "array" else [node])
        ]
        for statement in statements:
            self.statement_syntax(statement)
        return statements

    def statement_syntax(self, m: dict[str, JsonNode]) -> None:
        for one, other in (
            ("Action", "NotAction"),
            ("Resource", "NotResource"),
            ("Principal", "NotPrincipal"),
        ):
            if one in m and other in m:
                self.refuse("SYNTAX")
        effect = m.get("Effect")
        if effect is None or effect.kind != "string" or str(effect.value).lower() not in ("allow", "deny"):
            self.refuse("SYNTAX")
        if "Sid" in m and m["Sid"].kind != "string":
            self.refuse("SYNTAX")
        for name in ("Action", "NotAction", "Resource", "NotResource"):
            if name in m and _strings(m[name]) is None:
                self.refuse("SYNTAX")
        for name in ("Principal", "NotPrincipal"):
            if name in m:
                self.principal_syntax(m[name])
        if "Condition" in m:
            self.condition_syntax(m["Condition"])

    def principal_syntax(self, node: JsonNode) -> None:
        if node.kind == "string":
            if node.value != "*":
                self.refuse("SYNTAX")
            return
        if node.kind != "object":
            self.refuse("SYNTAX")
        seen: set[str] = set()
        for key, _, value in node.items:
            if key not in PRINCIPAL_TYPES or key in seen or _strings(value) is None:
                self.refuse("SYNTAX")
            seen.add(key)

    def condition_syntax(self, node: JsonNode) -> None:
        if node.kind != "object":
            self.refuse("SYNTAX")
        for operator, _, block in node.items:
            if block.kind != "object":
                self.refuse("SYNTAX")  # cfn-lint#3751: a key where the operator belongs
            # An operator IAM does not know is accepted with an empty body, refused with keys
            # (moto's tables: {"a": {}} valid, {"x": {"a": "1"}} a syntax error).
            if block.items and parse_operator(operator).family is None:
                self.refuse("SYNTAX")
            keys: set[str] = set()
            for key, _, values in block.items:
                if key in keys or _condition_values(values) is None:
                    self.refuse("SYNTAX")
                keys.add(key)

    # -- the rest, in AWS's order -----------------------------------------------------------------

    def semantics(self, root: JsonNode, statements: list[dict[str, JsonNode]]) -> None:
        for statement in statements:
            for name in ("Resource", "NotResource"):
                if name in statement:
                    self.refuse("RESOURCE_IN_TRUST", name)
        version = dict((k, v) for k, _, v in root.items).get("Version")
        if version is None or version.value != VERSION_2012:
            self.refuse("VERSION")
        if any("Principal" in s or "NotPrincipal" in s for s in statements):
            self.refuse("PRINCIPAL_IN_IDENTITY")
        resource_error: tuple[str, str] | None = None
        for statement in statements:
            if statement["Effect"].value not in ("Allow", "Deny"):
                self.refuse("LEGACY_EFFECT")
            self.dates(statement.get("Condition"))
            for name in ("Resource", "NotResource"):
                for resource in _strings(statement.get(name)) or ():
                    problem = _resource_problem(resource)
                    if problem is not None:
                        resource_error = resource_error or problem
                if resource_error is None and any(
                    _legacy_arn(r) for r in _strings(statement.get(name)) or ()
                ):
                    self.refuse("LEGACY_ARN")
        sids: set[str] = set()
        for statement in statements:
            sid = str(statement["Sid"].value) if "Sid" in statement else ""
            if not _SID.fullmatch(sid):
                self.refuse("SID_FORMAT")
        for statement in statements:
            sid = str(statement["Sid"].value) if "Sid" in statement else ""
            if sid and sid in sids:
                self.refuse("SID_UNIQUE")
            sids.add(sid)
        for statement in statements:
            if not any(_strings(statement.get(n)) for n in ("Action", "NotAction")):
                self.refuse("ACTIONS_REQUIRED")
        for statement in statements:
            if not any(_strings(statement.get(n)) for n in ("Resource", "NotResource")):
                self.refuse("RESOURCES_REQUIRED")
        for statement in statements:
            self.trust_principal(statement)
        if resource_error is not None:
            self.refuse(*resource_error)
        for statement in statements:
            for name in ("Action", "NotAction"):
                for action in _strings(statement.get(name)) or ():
                    self.action(action)

    def dates(self, node: JsonNode | None) -> None:
        if node is None:
            return
        for operator, _, block in node.items:
            parsed = parse_operator(operator)
            if parsed.family is None or not parsed.base.startswith("Date"):
                continue
            for _, _, values in block.items:
                for value in _condition_values(values) or ():
                    if "${" not in value and not _legacy_date(value):
                        self.refuse("LEGACY_DATE")

    def trust_principal(self, statement: dict[str, JsonNode]) -> None:
        if self.kind is not PolicyKind.TRUST:
            return
        if "NotPrincipal" in statement:
            # Access Analyzer: ROLE_TRUST_POLICY_SYNTAX_ERROR_NOTPRINCIPAL; AWS's sentence for it
            # is not quoted anywhere we found, so the generic one.
            self.refuse("SYNTAX")
        node = statement.get("Principal")
        if node is None or (node.kind == "object" and not any(_strings(v) for _, _, v in node.items)):
            self.refuse("NO_PRINCIPAL_TRUST")
            return
        if node.kind == "string":
            return
        for key, _, value in node.items:
            for entry in _strings(value) or ():
                if entry != "*" and ("*" in entry or "?" in entry):
                    self.refuse("INVALID_PRINCIPAL_TRUST", f'"{key.upper()}":"{entry}"')

    def action(self, action: str) -> None:
        if action == "*":
            return
        parts = action.split(":")
        if len(parts) == 1:
            self.refuse("ACTION_NO_VENDOR")
        if len(parts) > 2:
            self.refuse("ACTION_COLONS")
        vendor = parts[0]
        if "*" in vendor or "?" in vendor:
            self.refuse("ACTION_VENDOR_WILDCARD")
        if not _VENDOR.fullmatch(vendor):
            self.refuse("ACTION_VENDOR", vendor)


def _strings(node: JsonNode | None) -> tuple[str, ...] | None:
    """A string or an array of strings (possibly empty); None for anything else."""
    if node is None:
        return ()
    if node.kind == "string":
        return (str(node.value),)
    if node.kind == "array" and all(e.kind == "string" for e in node.elements):
        return tuple(str(e.value) for e in node.elements)
    return None


def _condition_values(node: JsonNode) -> tuple[str, ...] | None:
    """Condition values: strings, numbers and Booleans, alone or in an array."""
    items = node.elements if node.kind == "array" else [node]
    out: list[str] = []
    for item in items:
        if item.kind in ("string", "number"):
            out.append(str(item.value))
        elif item.kind in ("true", "false"):
            out.append(item.kind)
        else:
            return None
    return tuple(out)
