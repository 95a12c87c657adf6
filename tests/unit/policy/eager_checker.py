"""The policy checker as it was before it read values and placed findings lazily (issue 17): it
walked the positioned tree of ``jsonpos.parse_json`` (or ``from_python``) and took every finding's
position eagerly. Kept only as the oracle of ``test_policy_positions.py``: the current checker
must give the same policy and the same findings, positions included. Not imported by iamd.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from iamd.policy.ast import (
    VERSION_2008,
    VERSION_2012,
    ConditionClause,
    Effect,
    Path,
    Policy,
    PrincipalSpec,
    Statement,
)
from iamd.policy.conditions import parse_operator
from iamd.policy.findings import BLOCKING, Finding, PolicyError
from iamd.policy.jsonpos import JsonNode, JsonSyntaxError, Position, from_python, parse_json
from iamd.policy.limits import PolicyKind, policy_size
from iamd.policy.variables import has_variables, parse_template

__all__ = ["CheckResult", "check_policy", "parse_policy"]

Source = str | Mapping[str, object] | JsonNode

TOP_LEVEL_ELEMENTS = ("Version", "Id", "Statement")
"""The elements a policy document may have (the policy grammar; ``acceptance`` reads them too)."""
STATEMENT_ELEMENTS = (
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
)
PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")
_SID = re.compile(r"[A-Za-z0-9]*")
_ACTION = re.compile(r"[A-Za-z0-9*?\-]+:[A-Za-z0-9*?\-_]*")
_CONDITION_KEY = re.compile(r"[^:\s]+:\S+")
_OUTSIDE_LATIN1 = re.compile("[^\t\n\r\u0020-\u00ff]")
_IAM_KINDS = (
    PolicyKind.MANAGED,
    PolicyKind.INLINE_USER,
    PolicyKind.INLINE_GROUP,
    PolicyKind.INLINE_ROLE,
    PolicyKind.IDENTITY,
    PolicyKind.SESSION,
    PolicyKind.TRUST,
)


@dataclass(frozen=True, slots=True)
class CheckResult:
    policy: Policy | None
    findings: list[Finding]
    root: JsonNode | None = None
    """The positioned JSON tree the policy was read from (None when the text is not JSON)."""

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "ERROR"]


def parse_policy(source: Source, kind: PolicyKind = PolicyKind.IDENTITY, strict: bool = True) -> Policy:
    result = check_policy(source, kind)
    blocking = [f for f in result.errors if strict or f.code in BLOCKING]
    if blocking or result.policy is None:
        raise PolicyError(blocking or result.findings)
    return result.policy


def check_policy(source: Source, kind: PolicyKind = PolicyKind.IDENTITY) -> CheckResult:
    checker = _Checker(kind)
    if isinstance(source, str):
        try:
            root = parse_json(source)
        except JsonSyntaxError as exc:
            return CheckResult(None, [Finding("JSON_SYNTAX_ERROR", exc.message, (), position=exc.pos)])
        found = _OUTSIDE_LATIN1.search(source)
        bad = found.group() if found else None
        if bad is not None:
            checker.add(
                "INVALID_CHARACTER",
                f"Policy text may contain only tab, line feed, carriage return and U+0020 to U+00FF; "
                f"found U+{ord(bad):04X}",
                (),
                None,
            )
        size = policy_size(source)
        if size > kind.max_size:
            checker.add(
                kind.size_code,
                f"The policy is {size} characters (not counting white space); "
                f"the quota for a {kind.label} policy is {kind.max_size}",
                (),
                root.pos,
            )
    elif isinstance(source, JsonNode):
        root = source
    else:
        try:
            root = from_python(source)
        except JsonSyntaxError as exc:
            return CheckResult(None, [Finding("JSON_SYNTAX_ERROR", exc.message, (), position=exc.pos)])
    policy = checker.policy(root)
    blocked = any(f.code in BLOCKING and f.severity == "ERROR" for f in checker.findings)
    return CheckResult(None if blocked else policy, checker.findings, root)


class _Checker:
    def __init__(self, kind: PolicyKind) -> None:
        self.kind = kind
        self.findings: list[Finding] = []
        self.version: str | None = None

    def add(self, code: str, message: str, path: Path, pos: Position | None, severity: str = "ERROR") -> None:
        self.findings.append(Finding(code, message, path, severity, pos))

    def members(self, node: JsonNode, path: Path, allowed: tuple[str, ...]) -> dict[str, JsonNode]:
        seen: dict[str, JsonNode] = {}
        for key, kpos, value in node.items:
            if key in seen:
                self.add("JSON_SYNTAX_ERROR", f"Duplicate element {key!r}", (*path, key), kpos)
                continue
            if key not in allowed:
                near = [a for a in allowed if a.lower() == key.lower()]
                hint = f"; did you mean {near[0]!r}?" if near else f"; expected one of {', '.join(allowed)}"
                self.add("INVALID_POLICY_ELEMENT", f"Unknown element {key!r}{hint}", (*path, key), kpos)
                continue
            seen[key] = value
        return seen

    def strings(self, node: JsonNode, path: Path, element: str) -> tuple[str, ...] | None:
        """A string or an array of strings; None (and a finding) otherwise."""
        if node.kind == "string":
            return (str(node.value),)
        if node.kind == "array":
            out: list[str] = []
            for i, item in enumerate(node.elements):
                if item.kind != "string":
                    self.add(
                        "DATA_TYPE_MISMATCH", f"Each {element} entry must be a string", (*path, i), item.pos
                    )
                    return None
                out.append(str(item.value))
            if not out:
                self.add("DATA_TYPE_MISMATCH", f"{element} must not be an empty array", path, node.pos)
                return None
            return tuple(out)
        self.add("DATA_TYPE_MISMATCH", f"{element} must be a string or an array of strings", path, node.pos)
        return None

    def policy(self, root: JsonNode) -> Policy | None:
        if root.kind != "object":
            self.add("DATA_TYPE_MISMATCH", "A policy document must be a JSON object", (), root.pos)
            return None
        top = self.members(root, (), TOP_LEVEL_ELEMENTS)
        version: str | None = None
        if "Version" in top:
            node = top["Version"]
            if node.kind != "string" or node.value not in (VERSION_2012, VERSION_2008):
                self.add(
                    "INVALID_VERSION",
                    f"Version must be {VERSION_2012!r} or {VERSION_2008!r}",
                    ("Version",),
                    node.pos,
                )
            else:
                version = str(node.value)
        elif self.kind in _IAM_KINDS:
            self.add(
                "MISSING_VERSION",
                f'Add "Version": "{VERSION_2012}"; without it policy variables are not substituted',
                (),
                root.pos,
                "SUGGESTION",
            )
        self.version = version
        policy_id: str | None = None
        if "Id" in top:
            node = top["Id"]
            if node.kind != "string":
                self.add("DATA_TYPE_MISMATCH", "Id must be a string", ("Id",), node.pos)
            else:
                policy_id = str(node.value)
        if "Statement" not in top:
            self.add("MISSING_STATEMENT", "The policy has no Statement", (), root.pos)
            return None
        node = top["Statement"]
        if node.kind == "object":
            nodes, single = [node], True
        elif node.kind == "array":
            nodes, single = node.elements, False
        else:
            self.add(
                "DATA_TYPE_MISMATCH",
                "Statement must be an object or an array of objects",
                ("Statement",),
                node.pos,
            )
            return None
        statements: list[Statement] = []
        sids: dict[str, int] = {}
        for i, snode in enumerate(nodes):
            path: Path = ("Statement",) if single else ("Statement", i)
            stmt = self.statement(snode, path, i)
            if stmt is None:
                continue
            if stmt.sid:
                if stmt.sid in sids and self.kind is not PolicyKind.RESOURCE:
                    self.add(
                        "UNIQUE_SIDS_REQUIRED",
                        f"Sid {stmt.sid!r} is also used by statement {sids[stmt.sid]}",
                        (*path, "Sid"),
                        snode.pos,
                    )
                sids.setdefault(stmt.sid, i)
            statements.append(stmt)
        return Policy(version, policy_id, tuple(statements))

    def statement(self, node: JsonNode, path: Path, index: int) -> Statement | None:
        if node.kind != "object":
            self.add("DATA_TYPE_MISMATCH", "A statement must be a JSON object", path, node.pos)
            return None
        m = self.members(node, path, STATEMENT_ELEMENTS)
        sid = self.sid(m.get("Sid"), path)
        effect = self.effect(m.get("Effect"), path, node.pos)
        principal, not_principal = self.principals(m, path, node.pos)
        actions, not_action = self.actions(m, path, node.pos)
        resources, not_resource = self.resources(m, path, node.pos)
        conditions = self.conditions(m.get("Condition"), path)
        if effect is None or actions is None or conditions is None:
            return None
        if self.kind is PolicyKind.RCP:
            self.rcp_rules(effect, principal, not_action, actions, resources, conditions, path, node.pos)
        return Statement(
            index,
            sid,
            effect,
            principal,
            not_principal,
            actions,
            not_action,
            resources,
            not_resource,
            conditions,
        )

    def sid(self, node: JsonNode | None, path: Path) -> str | None:
        if node is None:
            return None
        if node.kind != "string":
            self.add("DATA_TYPE_MISMATCH", "Sid must be a string", (*path, "Sid"), node.pos)
            return None
        sid = str(node.value)
        if self.kind in _IAM_KINDS and not _SID.fullmatch(sid):
            self.add(
                "UNSUPPORTED_SID",
                f"Sid {sid!r} may contain only letters and digits",
                (*path, "Sid"),
                node.pos,
            )
        return sid

    def effect(self, node: JsonNode | None, path: Path, pos: Position) -> Effect | None:
        if node is None:
            self.add("MISSING_EFFECT", "The statement has no Effect", path, pos)
            return None
        if node.kind != "string" or node.value not in ("Allow", "Deny"):
            self.add("INVALID_EFFECT", 'Effect must be "Allow" or "Deny"', (*path, "Effect"), node.pos)
            return None
        return Effect(node.value)

    def actions(
        self, m: dict[str, JsonNode], path: Path, pos: Position
    ) -> tuple[tuple[str, ...] | None, bool]:
        if "Action" in m and "NotAction" in m:
            self.add(
                "UNSUPPORTED_ELEMENT_COMBINATION", "A statement has Action or NotAction, not both", path, pos
            )
            return None, False
        name = "Action" if "Action" in m else "NotAction" if "NotAction" in m else None
        if name is None:
            self.add("MISSING_ACTION", "The statement has neither Action nor NotAction", path, pos)
            return None, False
        values = self.strings(m[name], (*path, name), name)
        if values is None:
            return None, False
        for i, action in enumerate(values):
            where = (*path, name) if m[name].kind == "string" else (*path, name, i)
            at = _entry_pos(m[name], i)
            if "${" in action:
                self.add(
                    "VARIABLE_UNSUPPORTED_IN_ELEMENT",
                    f"Policy variables are not allowed in {name}",
                    where,
                    at,
                )
            elif action != "*" and not _ACTION.fullmatch(action):
                self.add("INVALID_ACTION", f"{action!r} is not of the form service:ActionName", where, at)
        if name == "NotAction" and self.kind is PolicyKind.RCP:
            self.add(
                "RCP_SYNTAX_ERROR_NOTACTION", "RCPs do not support NotAction", (*path, name), m[name].pos
            )
        return values, name == "NotAction"

    def resources(
        self, m: dict[str, JsonNode], path: Path, pos: Position
    ) -> tuple[tuple[str, ...] | None, bool]:
        if "Resource" in m and "NotResource" in m:
            self.add(
                "UNSUPPORTED_ELEMENT_COMBINATION",
                "A statement has Resource or NotResource, not both",
                path,
                pos,
            )
            return None, False
        name = "Resource" if "Resource" in m else "NotResource" if "NotResource" in m else None
        if name is None:
            if self.kind.requires_resource:
                self.add("MISSING_RESOURCE", "The statement has neither Resource nor NotResource", path, pos)
            return None, False
        if self.kind is PolicyKind.TRUST:
            self.add(
                "ROLE_TRUST_POLICY_SYNTAX_ERROR_RESOURCE",
                f"A role trust policy does not take {name}",
                (*path, name),
                m[name].pos,
            )
        values = self.strings(m[name], (*path, name), name)
        if values is None:
            return None, False
        for i, resource in enumerate(values):
            where = (*path, name) if m[name].kind == "string" else (*path, name, i)
            at = _entry_pos(m[name], i)
            self.variables(resource, where, at, allowed=True)
            if resource == "*":
                continue
            if not resource.startswith("arn:"):
                self.add(
                    "INVALID_ARN_PREFIX",
                    f'{resource!r} must be "*" or an ARN starting with "arn:"',
                    where,
                    at,
                )
            elif _colons_outside_variables(resource) < 5:
                self.add(
                    "MISSING_ARN_FIELD",
                    f"{resource!r} must have the form arn:partition:service:region:account:resource",
                    where,
                    at,
                )
        return values, name == "NotResource"

    def variables(self, text: str, path: Path, pos: Position, allowed: bool) -> None:
        if "${" not in text:
            return
        template, problems = parse_template(text)
        for problem in problems:
            self.add(problem.code, problem.message, path, pos)
        if not allowed:
            self.add(
                "INVALID_VARIABLE_FOR_OPERATOR", "This operator does not take policy variables", path, pos
            )
        elif self.version != VERSION_2012 and has_variables(template):
            self.add(
                "VARIABLE_UNSUPPORTED_IN_VERSION",
                f'Policy variables need "Version": "{VERSION_2012}"; here they are matched as literal text',
                path,
                pos,
                "WARNING",
            )

    def principals(
        self, m: dict[str, JsonNode], path: Path, pos: Position
    ) -> tuple[PrincipalSpec | None, PrincipalSpec | None]:
        if "Principal" in m and "NotPrincipal" in m:
            self.add(
                "UNSUPPORTED_ELEMENT_COMBINATION",
                "A statement has Principal or NotPrincipal, not both",
                path,
                pos,
            )
            return None, None
        name = "Principal" if "Principal" in m else "NotPrincipal" if "NotPrincipal" in m else None
        if name is None:
            if self.kind.takes_principal:
                self.add(
                    "MISSING_PRINCIPAL",
                    f"A {self.kind.label} policy statement must name a Principal",
                    path,
                    pos,
                )
            return None, None
        node = m[name]
        where = (*path, name)
        if not self.kind.takes_principal:
            code = "SCP_SYNTAX_ERROR_PRINCIPAL" if self.kind is PolicyKind.SCP else "UNSUPPORTED_PRINCIPAL"
            self.add(code, f"A {self.kind.label} policy does not take {name}", where, node.pos)
        if name == "NotPrincipal" and self.kind is PolicyKind.TRUST:
            self.add(
                "ROLE_TRUST_POLICY_SYNTAX_ERROR_NOTPRINCIPAL",
                "A role trust policy does not take NotPrincipal",
                where,
                node.pos,
            )
        spec = self.principal_spec(node, where)
        if self.kind is PolicyKind.RCP and (name == "NotPrincipal" or spec is None or not _is_everyone(spec)):
            self.add("RCP_SYNTAX_ERROR_PRINCIPAL", 'An RCP\'s Principal must be "*"', where, node.pos)
        if self.kind is PolicyKind.TRUST and spec is not None and spec.wildcard:
            self.add(
                "ROLE_TRUST_POLICY_UNSUPPORTED_WILDCARD_IN_PRINCIPAL",
                'Trusting "*" lets anyone assume the role; name the principals',
                where,
                node.pos,
                "SECURITY_WARNING",
            )
        return (spec, None) if name == "Principal" else (None, spec)

    def principal_spec(self, node: JsonNode, path: Path) -> PrincipalSpec | None:
        if node.kind == "string":
            if node.value != "*":
                self.add(
                    "INVALID_PRINCIPAL_FORMAT",
                    'A Principal given as a string must be "*"; otherwise use '
                    '{"AWS": ...}, {"Service": ...}, {"Federated": ...} or {"CanonicalUser": ...}',
                    path,
                    node.pos,
                )
                return None
            return PrincipalSpec(wildcard=True)
        if node.kind != "object" or not node.items:
            self.add(
                "INVALID_PRINCIPAL_FORMAT",
                'Principal must be "*" or an object of principal types',
                path,
                node.pos,
            )
            return None
        groups: dict[str, tuple[str, ...]] = {}
        for key, kpos, value in node.items:
            if key in groups:
                self.add("JSON_SYNTAX_ERROR", f"Duplicate principal type {key!r}", (*path, key), kpos)
                continue
            if key not in PRINCIPAL_TYPES:
                self.add(
                    "INVALID_PRINCIPAL_KEY",
                    f"{key!r} is not a principal type; use one of {', '.join(PRINCIPAL_TYPES)}",
                    (*path, key),
                    kpos,
                )
                continue
            values = self.strings(value, (*path, key), f"Principal {key}")
            if values is None:
                continue
            for i, entry in enumerate(values):
                if "${" in entry:
                    self.add(
                        "VARIABLE_UNSUPPORTED_IN_ELEMENT",
                        "Policy variables are not allowed in Principal",
                        (*path, key, i),
                        _entry_pos(value, i),
                    )
                elif entry != "*" and ("*" in entry or "?" in entry):
                    self.add(
                        "UNSUPPORTED_WILDCARD_IN_PRINCIPAL",
                        f"{entry!r}: wildcards are not allowed in a "
                        'principal; use "*" with a condition on aws:PrincipalArn',
                        (*path, key, i),
                        _entry_pos(value, i),
                    )
            if key == "Federated" and self.kind is not PolicyKind.TRUST:
                self.add(
                    "FEDERATED_PRINCIPAL_NOT_SUPPORTED",
                    "Federated principals belong in role trust policies",
                    (*path, key),
                    kpos,
                )
            groups[key] = groups.get(key, ()) + values
        return PrincipalSpec(
            wildcard=False,
            aws=groups.get("AWS", ()),
            service=groups.get("Service", ()),
            federated=groups.get("Federated", ()),
            canonical_user=groups.get("CanonicalUser", ()),
        )

    def conditions(self, node: JsonNode | None, path: Path) -> tuple[ConditionClause, ...] | None:
        if node is None:
            return ()
        base_path = (*path, "Condition")
        if node.kind != "object":
            self.add("DATA_TYPE_MISMATCH", "Condition must be an object of operators", base_path, node.pos)
            return None
        clauses: list[ConditionClause] = []
        operators_seen: set[str] = set()
        for op_text, op_pos, block in node.items:
            op_path = (*base_path, op_text)
            if op_text in operators_seen:
                self.add("JSON_SYNTAX_ERROR", f"Duplicate condition operator {op_text!r}", op_path, op_pos)
                continue
            operators_seen.add(op_text)
            parsed = parse_operator(op_text)
            if parsed.family is None:
                self.add(
                    "INVALID_CONDITION_OPERATOR", f"{op_text!r} is not a condition operator", op_path, op_pos
                )
            elif parsed.family.presence and parsed.if_exists:
                self.add("NULL_WITH_IF_EXISTS", "The Null operator has no IfExists form", op_path, op_pos)
            if block.kind != "object":
                self.add(
                    "DATA_TYPE_MISMATCH", f"{op_text} must map condition keys to values", op_path, block.pos
                )
                return None
            lowered: dict[str, str] = {}
            for key, kpos, values_node in block.items:
                key_path = (*op_path, key)
                if key in lowered.values():
                    self.add(
                        "JSON_SYNTAX_ERROR",
                        f"Duplicate condition key {key!r} under {op_text}",
                        key_path,
                        kpos,
                    )
                    continue
                if key.lower() in lowered:
                    self.add(
                        "DUPLICATE_KEYS_WITH_DIFFERENT_CASE",
                        f"{key!r} repeats {lowered[key.lower()]!r}",
                        key_path,
                        kpos,
                    )
                lowered.setdefault(key.lower(), key)
                if not _CONDITION_KEY.fullmatch(key):
                    self.add(
                        "INVALID_CONDITION_KEY_FORMAT",
                        f"{key!r} is not of the form prefix:name",
                        key_path,
                        kpos,
                    )
                values = self.condition_values(values_node, key_path)
                if values is None:
                    return None
                if parsed.family is not None:
                    for index, value in enumerate(values):
                        at = _entry_pos(values_node, index)
                        self.variables(value, key_path, at, allowed=parsed.family.variables)
                        if "${" in value and parsed.family.variables:
                            continue
                        problem = parsed.family.check_value(value)
                        if problem is not None:
                            code = (
                                "TYPE_MISMATCH_IP_RANGE"
                                if parsed.base.endswith("IpAddress")
                                else "INVALID_CONDITION_DATA_TYPE"
                            )
                            self.add(code, f"{problem} (for {op_text})", key_path, at)
                clauses.append(
                    ConditionClause(
                        op_text, parsed.base, parsed.qualifier, parsed.if_exists, key, values, key_path
                    )
                )
        return tuple(clauses)

    def condition_values(self, node: JsonNode, path: Path) -> tuple[str, ...] | None:
        items = node.elements if node.kind == "array" else [node]
        out: list[str] = []
        for item in items:
            if item.kind in ("string", "number"):
                out.append(str(item.value))
            elif item.kind in ("true", "false"):
                out.append(item.kind)
            else:
                self.add(
                    "DATA_TYPE_MISMATCH",
                    "Condition values must be strings, numbers or Booleans",
                    path,
                    item.pos,
                )
                return None
        return tuple(out)

    def rcp_rules(
        self,
        effect: Effect,
        principal: PrincipalSpec | None,
        not_action: bool,
        actions: tuple[str, ...],
        resources: tuple[str, ...] | None,
        conditions: tuple[ConditionClause, ...],
        path: Path,
        pos: Position,
    ) -> None:
        if effect is Effect.ALLOW and not (
            principal is not None
            and _is_everyone(principal)
            and not not_action
            and actions == ("*",)
            and resources == ("*",)
            and not conditions
        ):
            self.add(
                "RCP_SYNTAX_ERROR_ALLOW",
                'An RCP Allow statement must be exactly Principal "*", Action '
                '"*", Resource "*" with no Condition',
                path,
                pos,
            )
        if effect is Effect.DENY and "*" in actions and not not_action:
            self.add("RCP_SYNTAX_ERROR_ACTION", 'An RCP Deny must name service actions, not "*"', path, pos)


def _entry_pos(node: JsonNode, index: int) -> Position:
    """Where entry ``index`` of a string-or-array element stands."""
    if node.kind == "array" and index < len(node.elements):
        return node.elements[index].pos
    return node.pos


def _is_everyone(spec: PrincipalSpec) -> bool:
    return spec.wildcard or (
        spec.aws == ("*",) and not (spec.service or spec.federated or spec.canonical_user)
    )


def _colons_outside_variables(text: str) -> int:
    count, depth = 0, 0
    i = 0
    while i < len(text):
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}" and depth:
            depth -= 1
        elif text[i] == ":" and not depth:
            count += 1
        i += 1
    return count
