"""From policy text (or decoded JSON) to the typed tree, with every grammar problem found.

``check_policy`` never raises: it returns the tree (None when the document has no single meaning)
and all findings. ``parse_policy`` raises ``PolicyError``: in strict mode on any ERROR finding,
otherwise only on blocking ones (see ``findings.BLOCKING``).

These are validation findings, located and coded as Access Analyzer's ValidatePolicy codes them;
they are stricter than what the IAM API refuses (an action such as ``s3.s:ListBucket``, a condition
key without a ``prefix:``, an ARN with fewer than six fields are ERROR findings that IAM stores
anyway). What each API refuses, and with which sentence, is ``iamd.policy.acceptance``.

The checker reads the document's values (``jsonpos.decode``: the C JSON decoder) and names where
each finding stands by a value path; line and column are looked up only when there is a finding,
in the positioned tree ``jsonpos.parse_json`` builds then (see ``_Checker.placed``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache, partial
from typing import Any, Final, cast

from iamd.policy.ast import (
    VERSION_2008,
    VERSION_2012,
    ConditionClause,
    Effect,
    Path,
    Policy,
    PrincipalSpec,
    Statement,
    new_clause,
    new_policy,
    new_statement,
)
from iamd.policy.conditions import lookup, parse_operator
from iamd.policy.findings import BLOCKING, Finding, PolicyError
from iamd.policy.jsonpos import (
    NOWHERE,
    JsonMembers,
    JsonNode,
    JsonNumber,
    JsonSyntaxError,
    KeyAt,
    Position,
    ValuePath,
    decode,
    from_python,
    locate,
    locate_in_text,
    parse_json,
    python_values,
    root_position,
    values_of,
)
from iamd.policy.limits import PolicyKind, policy_size
from iamd.policy.variables import has_variables, parse_template

__all__ = ["CheckResult", "check_policy", "check_values", "parse_policy", "quick_policy"]

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
_TOP_LEVEL_SET = frozenset(TOP_LEVEL_ELEMENTS)
_STATEMENT_SET = frozenset(STATEMENT_ELEMENTS)
PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")
_PRINCIPAL_TYPE_SET = frozenset(PRINCIPAL_TYPES)
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


class CheckResult:
    """What :func:`check_policy` found: the tree (None when the document has no single meaning)
    and every finding, placed (line and column) where the source is text."""

    __slots__ = ("_make_root", "_root", "findings", "policy")

    def __init__(
        self,
        policy: Policy | None,
        findings: list[Finding],
        root: JsonNode | None = None,
        make_root: Callable[[], JsonNode] | None = None,
    ) -> None:
        self.policy = policy
        self.findings = findings
        self._root = root
        self._make_root = make_root

    @property
    def root(self) -> JsonNode | None:
        """The positioned JSON tree the policy was read from (None when the text is not JSON).
        Built on first use: checking and deciding need only the values."""
        if self._root is None and self._make_root is not None:
            make, self._make_root = self._make_root, None
            self._root = make()
        return self._root

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "ERROR"]


def parse_policy(
    source: Source, kind: PolicyKind = PolicyKind.IDENTITY, strict: bool = True, *, plain: bool = False
) -> Policy:
    """The policy of ``source``; PolicyError with the blocking findings when it has any (every
    ERROR when ``strict``). ``plain``: ``source`` (when not text) came out of ``json.loads`` of a
    text for which ``jsonpos.plain_json_text`` holds, so it is read as it stands, without
    ``jsonpos.python_values``'s check (the result is the same). A text up to
    ``CACHED_TEXT_CHARS`` long is parsed once per kind and strictness while it stays among the last
    ``CACHED_TEXTS`` parsed (the same stored policy text comes back on every Simulate* call and
    policy read); the parsed policy is immutable, so callers share it. Refused texts are not remembered."""
    if isinstance(source, str) and len(source) <= CACHED_TEXT_CHARS:
        return _parse_text(source, kind, strict)
    if plain and not strict:
        policy = _plain_policy(source, kind.requires_resource)
        if policy is not None:
            return policy
    return _parse(source, kind, strict, plain)


def quick_policy(value: object, kind: PolicyKind) -> Policy | None:
    """``parse_policy(value, kind, strict=False)`` of a plain document (``_plain_policy``), for
    ``value`` out of ``json.loads`` of a text for which ``jsonpos.surrogate_free_text`` holds; None
    for any other document (then ``parse_policy`` it). A plain document holds only objects, arrays
    and strings, six levels deep at most, so ``python_values`` would take it as it stands (nothing
    it refuses, and nesting well inside its limit) whatever ``plain_json_text`` says of the text's
    brackets: the caller needs only the surrogate half of that check."""
    return _plain_policy(value, kind.requires_resource)


CACHED_TEXTS: Final = 512
CACHED_TEXT_CHARS: Final = 16_384
"""The parse cache holds at most CACHED_TEXTS texts of at most CACHED_TEXT_CHARS characters each
(8 Mi characters in all, with their parsed policies), so no caller can make it grow further."""


def _parse(source: Source, kind: PolicyKind, strict: bool, plain: bool = False) -> Policy:
    if not strict:
        # Only blocking findings can refuse the document: the checker looks for those alone.
        policy, findings = _check(source, kind, full=False, plain=plain)
        if policy is not None:
            return policy
        if findings:  # each one blocking
            raise PolicyError(findings)
    result = check_policy(source, kind)
    blocking = [f for f in result.errors if strict or f.code in BLOCKING]
    if blocking or result.policy is None:
        raise PolicyError(blocking or result.findings)
    return result.policy


@lru_cache(maxsize=CACHED_TEXTS)
def _parse_text(text: str, kind: PolicyKind, strict: bool) -> Policy:
    return _parse(text, kind, strict)


def _syntax_error(exc: JsonSyntaxError) -> CheckResult:
    return CheckResult(None, [Finding("JSON_SYNTAX_ERROR", exc.message, (), position=exc.pos)])


def _read(source: Source, plain: bool = False) -> tuple[object, JsonNode | None]:
    """The document's values, and its positioned tree when there is one (see ``check_policy``);
    JsonSyntaxError where it is not JSON. ``plain``: see ``parse_policy``."""
    if isinstance(source, str):
        return decode(source)
    if isinstance(source, JsonNode):
        return values_of(source), source
    if plain:
        return source, None
    return python_values(source)


def _check(
    source: Source, kind: PolicyKind, full: bool, plain: bool = False
) -> tuple[Policy | None, list[Finding]]:
    """The policy (None when a blocking ERROR leaves it no single meaning) and the findings; with
    ``full`` False, only the blocking findings are looked for."""
    try:
        value, node = _read(source, plain)
    except JsonSyntaxError as exc:
        return None, _syntax_error(exc).findings
    if not full:
        policy = _plain_policy(value, kind.requires_resource)
        if policy is not None:
            return policy, []
    checker = _Checker(kind, full)
    text = source if isinstance(source, str) else None
    if text is not None and full:
        checker.text_rules(text)
    policy = checker.policy(value)
    findings = checker.placed(text, node)
    if any(f.code in BLOCKING and f.severity == "ERROR" for f in findings):
        policy = None
    return policy, findings


def check_policy(source: Source, kind: PolicyKind = PolicyKind.IDENTITY) -> CheckResult:
    checker = _Checker(kind)
    text: str | None = None
    node: JsonNode | None = None
    value: object
    try:
        value, node = _read(source)
    except JsonSyntaxError as exc:
        return _syntax_error(exc)
    if isinstance(source, str):
        text = source
        checker.text_rules(source)
    policy = checker.policy(value)
    findings = checker.placed(text, node)
    if any(f.code in BLOCKING and f.severity == "ERROR" for f in findings):
        policy = None
    if node is not None:
        return CheckResult(policy, findings, node)
    if text is not None:
        return CheckResult(policy, findings, make_root=partial(parse_json, text))
    return CheckResult(policy, findings, make_root=partial(from_python, source))


def check_values(
    value: object, kind: PolicyKind, text: str | None = None, full: bool = True
) -> tuple[Policy | None, bool]:
    """What :func:`check_policy` decides about a document, without placing its findings: the
    policy (None where ``check_policy`` gives none) and whether it has an ERROR finding.
    ``value``: the document's values as ``jsonpos.decode`` gives them (of ``text``, when given:
    the rules on the text itself, its characters and size, then apply too). With ``full`` False
    only blocking findings are looked for: the policy is the same, and the Boolean says only
    whether there is a blocking one."""
    checker = _Checker(kind, full)
    if text is not None:
        checker.text_rules(text)
    policy = checker.policy(value)
    errors = [code for code, _, _, severity, _ in checker.pending if severity == "ERROR"]
    if any(code in BLOCKING for code in errors):
        policy = None
    return policy, bool(errors)


# -- values as the checker reads them (see jsonpos.decode) -----------------------------------------

_ABSENT: Any = object()
"""A member the object does not have (``None`` is JSON null)."""


def _kind(value: object) -> str:
    """The JSON kind of a value, named as :class:`JsonNode` names it (and as ``from_python``
    classifies Python values)."""
    if type(value) is str:
        return "string"
    if isinstance(value, dict) or type(value) is JsonMembers:
        return "object"
    if type(value) is JsonNumber:
        return "number"
    if isinstance(value, list | tuple):
        return "array"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "invalid"


def _text(value: object) -> str:
    """A string's or a number's text (numbers as ``from_python`` writes them)."""
    if type(value) is str:
        return value
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _entries(value: object) -> Sequence[object]:
    """An array's values (the caller knows ``value`` is an array)."""
    return cast(Sequence[object], value)


def _items(value: object) -> list[tuple[str, Step, object]]:
    """An object's members in order, repeats included: name, the step to the member's value in a
    value path, and the value."""
    if type(value) is dict:
        for raw in value:
            if type(raw) is not str:
                break
        else:  # a dict with string names repeats none
            return [(key, key, member) for key, member in value.items()]
    pairs: Iterable[tuple[object, object]] = (
        value.items() if isinstance(value, dict) else cast(JsonMembers, value)
    )
    out: list[tuple[str, Step, object]] = []
    count: dict[str, int] = {}
    for raw, member in pairs:
        key = raw if type(raw) is str else str(raw)
        n = count.get(key, 0)
        count[key] = n + 1
        out.append((key, key if n == 0 else (key, n), member))
    return out


Step = str | int | tuple[str, int]
At = ValuePath | KeyAt | None
"""Where a finding stands: the value path of the value (or member name) it is about, placed in the
text only once the document is known to have findings (``_Checker.placed``)."""
_Pending = tuple[str, str, Path, str, At]
_SCANNED_PLACES: Final = 32
"""Up to this many findings below the root are placed by scanning the text for each; more (each
scan starts from the top) by parsing it once with positions."""


def _entry_at(value: object, where: ValuePath, index: int) -> ValuePath:
    """Where entry ``index`` of a string-or-array element stands."""
    if type(value) is not str and _kind(value) == "array" and index < len(_entries(value)):
        return (*where, index)
    return where


class _Checker:
    """``full`` False: only the findings in ``BLOCKING`` are recorded, and the rules that can give
    no other are not run (``parse_policy(strict=False)`` needs no more to decide; the policy it
    builds is the same)."""

    def __init__(self, kind: PolicyKind, full: bool = True) -> None:
        self.kind = kind
        self.full = full
        self.pending: list[_Pending] = []
        self.version: str | None = None
        self.iam_kind = kind in _IAM_KINDS
        self.takes_principal = kind.takes_principal

    def add(self, code: str, message: str, path: Path, at: At, severity: str = "ERROR") -> None:
        if self.full or code in BLOCKING:
            self.pending.append((code, message, path, severity, at))

    def text_rules(self, text: str) -> None:
        """The rules on policy text itself: its characters and its size."""
        found = _OUTSIDE_LATIN1.search(text)
        bad = found.group() if found else None
        if bad is not None:
            self.add(
                "INVALID_CHARACTER",
                f"Policy text may contain only tab, line feed, carriage return and U+0020 to U+00FF; "
                f"found U+{ord(bad):04X}",
                (),
                None,
            )
        size = policy_size(text)
        if size > self.kind.max_size:
            self.add(
                self.kind.size_code,
                f"The policy is {size} characters (not counting white space); "
                f"the quota for a {self.kind.label} policy is {self.kind.max_size}",
                (),
                (),
            )

    def placed(self, text: str | None, node: JsonNode | None) -> list[Finding]:
        """The findings with their positions. Text that the C decoder read (no positioned tree)
        is scanned from its start to each place (``locate_in_text``), or, past
        ``_SCANNED_PLACES`` places below the root, parsed once into the positioned tree."""
        if not self.pending:
            return []
        root = node
        if root is None and text is not None and sum(1 for *_, at in self.pending if at) > _SCANNED_PLACES:
            root = parse_json(text)
        out: list[Finding] = []
        for code, message, path, severity, at in self.pending:
            position: Position | None
            if at is None:
                position = None
            elif root is not None:
                position = locate(root, at)
            elif text is not None:
                position = locate_in_text(text, at) if at else root_position(text)
            else:
                position = NOWHERE
            out.append(Finding(code, message, path, severity, position))
        return out

    def members(
        self, value: object, path: Path, allowed: tuple[str, ...], allowed_set: frozenset[str]
    ) -> dict[str, object]:
        if type(value) is dict and allowed_set.issuperset(value):
            return value
        seen: dict[str, object] = {}
        for key, step, member in _items(value):
            if key in seen:
                self.add(
                    "JSON_SYNTAX_ERROR", f"Duplicate element {key!r}", (*path, key), KeyAt((*path, step))
                )
                continue
            if key not in allowed:
                near = [a for a in allowed if a.lower() == key.lower()]
                hint = f"; did you mean {near[0]!r}?" if near else f"; expected one of {', '.join(allowed)}"
                self.add(
                    "INVALID_POLICY_ELEMENT",
                    f"Unknown element {key!r}{hint}",
                    (*path, key),
                    KeyAt((*path, step)),
                )
                continue
            seen[key] = member
        return seen

    def strings(
        self, value: object, path: Path, element: str, at: ValuePath | None = None
    ) -> tuple[str, ...] | None:
        """A string or an array of strings; None (and a finding) otherwise. ``at``: the value
        path of ``value`` when it is not ``path``."""
        if type(value) is str:
            return (value,)
        if type(value) is list and value:
            for item in value:
                if type(item) is not str:
                    break
            else:
                return tuple(value)
        kind = _kind(value)
        if kind == "string":
            return (str(value),)
        where = path if at is None else at
        if kind == "array":
            out: list[str] = []
            for i, item in enumerate(_entries(value)):
                if type(item) is str:
                    out.append(item)
                elif _kind(item) == "string":
                    out.append(str(item))
                else:
                    self.add(
                        "DATA_TYPE_MISMATCH",
                        f"Each {element} entry must be a string",
                        (*path, i),
                        (*where, i),
                    )
                    return None
            if not out:
                self.add("DATA_TYPE_MISMATCH", f"{element} must not be an empty array", path, where)
                return None
            return tuple(out)
        self.add("DATA_TYPE_MISMATCH", f"{element} must be a string or an array of strings", path, where)
        return None

    def policy(self, root: object) -> Policy | None:
        if type(root) is not dict and _kind(root) != "object":
            self.add("DATA_TYPE_MISMATCH", "A policy document must be a JSON object", (), ())
            return None
        top = self.members(root, (), TOP_LEVEL_ELEMENTS, _TOP_LEVEL_SET)
        version: str | None = None
        node = top.get("Version", _ABSENT)
        if node is not _ABSENT:
            if not (type(node) is str or _kind(node) == "string") or node not in (VERSION_2012, VERSION_2008):
                self.add(
                    "INVALID_VERSION",
                    f"Version must be {VERSION_2012!r} or {VERSION_2008!r}",
                    ("Version",),
                    ("Version",),
                )
            else:
                version = str(node)
        elif self.iam_kind:
            self.add(
                "MISSING_VERSION",
                f'Add "Version": "{VERSION_2012}"; without it policy variables are not substituted',
                (),
                (),
                "SUGGESTION",
            )
        self.version = version
        policy_id: str | None = None
        node = top.get("Id", _ABSENT)
        if node is not _ABSENT:
            if _kind(node) != "string":
                self.add("DATA_TYPE_MISMATCH", "Id must be a string", ("Id",), ("Id",))
            else:
                policy_id = str(node)
        node = top.get("Statement", _ABSENT)
        if node is _ABSENT:
            self.add("MISSING_STATEMENT", "The policy has no Statement", (), ())
            return None
        kind = "array" if type(node) is list else _kind(node)
        if kind == "object":
            nodes, single = [node], True
        elif kind == "array":
            nodes, single = list(_entries(node)), False
        else:
            self.add(
                "DATA_TYPE_MISMATCH",
                "Statement must be an object or an array of objects",
                ("Statement",),
                ("Statement",),
            )
            return None
        statements: list[Statement] = []
        sids: dict[str, int] = {}
        quick = not self.full
        requires_resource = self.kind.requires_resource
        for i, snode in enumerate(nodes):
            path: Path = ("Statement",) if single else ("Statement", i)
            stmt = _plain_statement(snode, path, i, requires_resource) if quick else None
            if stmt is None:
                stmt = self.statement(snode, path, i)
            if stmt is None:
                continue
            if stmt.sid and self.full:
                if stmt.sid in sids and self.kind is not PolicyKind.RESOURCE:
                    self.add(
                        "UNIQUE_SIDS_REQUIRED",
                        f"Sid {stmt.sid!r} is also used by statement {sids[stmt.sid]}",
                        (*path, "Sid"),
                        path,
                    )
                sids.setdefault(stmt.sid, i)
            statements.append(stmt)
        return Policy(version, policy_id, tuple(statements))

    def statement(self, node: object, path: Path, index: int) -> Statement | None:
        if type(node) is not dict and _kind(node) != "object":
            self.add("DATA_TYPE_MISMATCH", "A statement must be a JSON object", path, path)
            return None
        m = self.members(node, path, STATEMENT_ELEMENTS, _STATEMENT_SET)
        sid = self.sid(m.get("Sid", _ABSENT), path)
        effect = self.effect(m.get("Effect", _ABSENT), path)
        principal, not_principal = self.principals(m, path)
        actions, not_action = self.actions(m, path)
        resources, not_resource = self.resources(m, path)
        conditions = self.conditions(m.get("Condition", _ABSENT), path)
        if effect is None or actions is None or conditions is None:
            return None
        if self.kind is PolicyKind.RCP and self.full:
            self.rcp_rules(effect, principal, not_action, actions, resources, conditions, path)
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

    def sid(self, node: object, path: Path) -> str | None:
        if node is _ABSENT:
            return None
        if _kind(node) != "string":
            self.add("DATA_TYPE_MISMATCH", "Sid must be a string", (*path, "Sid"), (*path, "Sid"))
            return None
        sid = str(node)
        if self.full and self.iam_kind and not _SID.fullmatch(sid):
            self.add(
                "UNSUPPORTED_SID",
                f"Sid {sid!r} may contain only letters and digits",
                (*path, "Sid"),
                (*path, "Sid"),
            )
        return sid

    def effect(self, node: object, path: Path) -> Effect | None:
        if node == "Allow" and type(node) is str:
            return Effect.ALLOW
        if node == "Deny" and type(node) is str:
            return Effect.DENY
        if node is _ABSENT:
            self.add("MISSING_EFFECT", "The statement has no Effect", path, path)
            return None
        if _kind(node) != "string" or node not in ("Allow", "Deny"):
            self.add(
                "INVALID_EFFECT", 'Effect must be "Allow" or "Deny"', (*path, "Effect"), (*path, "Effect")
            )
            return None
        return Effect(str(node))

    def actions(self, m: dict[str, object], path: Path) -> tuple[tuple[str, ...] | None, bool]:
        if "Action" in m and "NotAction" in m:
            self.add(
                "UNSUPPORTED_ELEMENT_COMBINATION", "A statement has Action or NotAction, not both", path, path
            )
            return None, False
        name = "Action" if "Action" in m else "NotAction" if "NotAction" in m else None
        if name is None:
            self.add("MISSING_ACTION", "The statement has neither Action nor NotAction", path, path)
            return None, False
        node = m[name]
        values = self.strings(node, (*path, name), name)
        if values is None:
            return None, False
        for i, action in enumerate(values if self.full else ()):
            if "${" in action:
                where = (*path, name) if _kind(node) == "string" else (*path, name, i)
                self.add(
                    "VARIABLE_UNSUPPORTED_IN_ELEMENT",
                    f"Policy variables are not allowed in {name}",
                    where,
                    _entry_at(node, (*path, name), i),
                )
            elif action != "*" and not _ACTION.fullmatch(action):
                where = (*path, name) if _kind(node) == "string" else (*path, name, i)
                self.add(
                    "INVALID_ACTION",
                    f"{action!r} is not of the form service:ActionName",
                    where,
                    _entry_at(node, (*path, name), i),
                )
        if name == "NotAction" and self.kind is PolicyKind.RCP:
            self.add(
                "RCP_SYNTAX_ERROR_NOTACTION", "RCPs do not support NotAction", (*path, name), (*path, name)
            )
        return values, name == "NotAction"

    def resources(self, m: dict[str, object], path: Path) -> tuple[tuple[str, ...] | None, bool]:
        if "Resource" in m and "NotResource" in m:
            self.add(
                "UNSUPPORTED_ELEMENT_COMBINATION",
                "A statement has Resource or NotResource, not both",
                path,
                path,
            )
            return None, False
        name = "Resource" if "Resource" in m else "NotResource" if "NotResource" in m else None
        if name is None:
            if self.kind.requires_resource:
                self.add("MISSING_RESOURCE", "The statement has neither Resource nor NotResource", path, path)
            return None, False
        if self.kind is PolicyKind.TRUST:
            self.add(
                "ROLE_TRUST_POLICY_SYNTAX_ERROR_RESOURCE",
                f"A role trust policy does not take {name}",
                (*path, name),
                (*path, name),
            )
        node = m[name]
        values = self.strings(node, (*path, name), name)
        if values is None:
            return None, False
        for i, resource in enumerate(values if self.full else ()):
            if "${" in resource:
                where = (*path, name) if _kind(node) == "string" else (*path, name, i)
                self.variables(resource, where, _entry_at(node, (*path, name), i), allowed=True)
            if resource == "*":
                continue
            if not resource.startswith("arn:"):
                where = (*path, name) if _kind(node) == "string" else (*path, name, i)
                self.add(
                    "INVALID_ARN_PREFIX",
                    f'{resource!r} must be "*" or an ARN starting with "arn:"',
                    where,
                    _entry_at(node, (*path, name), i),
                )
            elif (resource.count(":") if "${" not in resource else _colons_outside_variables(resource)) < 5:
                where = (*path, name) if _kind(node) == "string" else (*path, name, i)
                self.add(
                    "MISSING_ARN_FIELD",
                    f"{resource!r} must have the form arn:partition:service:region:account:resource",
                    where,
                    _entry_at(node, (*path, name), i),
                )
        return values, name == "NotResource"

    def variables(self, text: str, path: Path, at: ValuePath, allowed: bool) -> None:
        if "${" not in text:
            return
        template, problems = parse_template(text)
        for problem in problems:
            self.add(problem.code, problem.message, path, at)
        if not allowed:
            self.add(
                "INVALID_VARIABLE_FOR_OPERATOR", "This operator does not take policy variables", path, at
            )
        elif self.version != VERSION_2012 and has_variables(template):
            self.add(
                "VARIABLE_UNSUPPORTED_IN_VERSION",
                f'Policy variables need "Version": "{VERSION_2012}"; here they are matched as literal text',
                path,
                at,
                "WARNING",
            )

    def principals(
        self, m: dict[str, object], path: Path
    ) -> tuple[PrincipalSpec | None, PrincipalSpec | None]:
        if "Principal" in m and "NotPrincipal" in m:
            self.add(
                "UNSUPPORTED_ELEMENT_COMBINATION",
                "A statement has Principal or NotPrincipal, not both",
                path,
                path,
            )
            return None, None
        name = "Principal" if "Principal" in m else "NotPrincipal" if "NotPrincipal" in m else None
        if name is None:
            if self.takes_principal:
                self.add(
                    "MISSING_PRINCIPAL",
                    f"A {self.kind.label} policy statement must name a Principal",
                    path,
                    path,
                )
            return None, None
        node = m[name]
        where = (*path, name)
        if not self.takes_principal:
            code = "SCP_SYNTAX_ERROR_PRINCIPAL" if self.kind is PolicyKind.SCP else "UNSUPPORTED_PRINCIPAL"
            self.add(code, f"A {self.kind.label} policy does not take {name}", where, where)
        if name == "NotPrincipal" and self.kind is PolicyKind.TRUST:
            self.add(
                "ROLE_TRUST_POLICY_SYNTAX_ERROR_NOTPRINCIPAL",
                "A role trust policy does not take NotPrincipal",
                where,
                where,
            )
        spec = self.principal_spec(node, where)
        if self.kind is PolicyKind.RCP and (name == "NotPrincipal" or spec is None or not _is_everyone(spec)):
            self.add("RCP_SYNTAX_ERROR_PRINCIPAL", 'An RCP\'s Principal must be "*"', where, where)
        if self.kind is PolicyKind.TRUST and spec is not None and spec.wildcard:
            self.add(
                "ROLE_TRUST_POLICY_UNSUPPORTED_WILDCARD_IN_PRINCIPAL",
                'Trusting "*" lets anyone assume the role; name the principals',
                where,
                where,
                "SECURITY_WARNING",
            )
        return (spec, None) if name == "Principal" else (None, spec)

    def principal_spec(self, node: object, path: Path) -> PrincipalSpec | None:
        kind = _kind(node)
        if kind == "string":
            if node != "*":
                self.add(
                    "INVALID_PRINCIPAL_FORMAT",
                    'A Principal given as a string must be "*"; otherwise use '
                    '{"AWS": ...}, {"Service": ...}, {"Federated": ...} or {"CanonicalUser": ...}',
                    path,
                    path,
                )
                return None
            return PrincipalSpec(wildcard=True)
        items = _items(node) if kind == "object" else []
        if not items:
            self.add(
                "INVALID_PRINCIPAL_FORMAT",
                'Principal must be "*" or an object of principal types',
                path,
                path,
            )
            return None
        groups: dict[str, tuple[str, ...]] = {}
        for key, step, value in items:
            at: ValuePath = (*path, step)
            if key in groups:
                self.add("JSON_SYNTAX_ERROR", f"Duplicate principal type {key!r}", (*path, key), KeyAt(at))
                continue
            if key not in PRINCIPAL_TYPES:
                self.add(
                    "INVALID_PRINCIPAL_KEY",
                    f"{key!r} is not a principal type; use one of {', '.join(PRINCIPAL_TYPES)}",
                    (*path, key),
                    KeyAt(at),
                )
                continue
            values = self.strings(value, (*path, key), f"Principal {key}", at)
            if values is None:
                continue
            for i, entry in enumerate(values if self.full else ()):
                if "${" in entry:
                    self.add(
                        "VARIABLE_UNSUPPORTED_IN_ELEMENT",
                        "Policy variables are not allowed in Principal",
                        (*path, key, i),
                        _entry_at(value, at, i),
                    )
                elif entry != "*" and ("*" in entry or "?" in entry):
                    self.add(
                        "UNSUPPORTED_WILDCARD_IN_PRINCIPAL",
                        f"{entry!r}: wildcards are not allowed in a "
                        'principal; use "*" with a condition on aws:PrincipalArn',
                        (*path, key, i),
                        _entry_at(value, at, i),
                    )
            if key == "Federated" and self.kind is not PolicyKind.TRUST:
                self.add(
                    "FEDERATED_PRINCIPAL_NOT_SUPPORTED",
                    "Federated principals belong in role trust policies",
                    (*path, key),
                    KeyAt(at),
                )
            groups[key] = groups.get(key, ()) + values
        return PrincipalSpec(
            wildcard=False,
            aws=groups.get("AWS", ()),
            service=groups.get("Service", ()),
            federated=groups.get("Federated", ()),
            canonical_user=groups.get("CanonicalUser", ()),
        )

    def conditions(self, node: object, path: Path) -> tuple[ConditionClause, ...] | None:
        if node is _ABSENT:
            return ()
        base_path = (*path, "Condition")
        if type(node) is not dict and _kind(node) != "object":
            self.add("DATA_TYPE_MISMATCH", "Condition must be an object of operators", base_path, base_path)
            return None
        clauses: list[ConditionClause] = []
        operators_seen: set[str] = set()
        for op_text, op_step, block in _items(node):
            op_path = (*base_path, op_text)
            op_at = (*base_path, op_step)
            if op_text in operators_seen:
                self.add(
                    "JSON_SYNTAX_ERROR", f"Duplicate condition operator {op_text!r}", op_path, KeyAt(op_at)
                )
                continue
            operators_seen.add(op_text)
            parsed = parse_operator(op_text)
            if parsed.family is None:
                self.add(
                    "INVALID_CONDITION_OPERATOR",
                    f"{op_text!r} is not a condition operator",
                    op_path,
                    KeyAt(op_at),
                )
            elif parsed.family.presence and parsed.if_exists:
                self.add(
                    "NULL_WITH_IF_EXISTS", "The Null operator has no IfExists form", op_path, KeyAt(op_at)
                )
            if type(block) is not dict and _kind(block) != "object":
                self.add("DATA_TYPE_MISMATCH", f"{op_text} must map condition keys to values", op_path, op_at)
                return None
            lowered: dict[str, str] = {}
            for key, key_step, values_node in _items(block):
                key_path = (*op_path, key)
                key_at = (*op_at, key_step)
                if key in lowered.values():
                    self.add(
                        "JSON_SYNTAX_ERROR",
                        f"Duplicate condition key {key!r} under {op_text}",
                        key_path,
                        KeyAt(key_at),
                    )
                    continue
                lower = key.lower()
                if lower in lowered:
                    self.add(
                        "DUPLICATE_KEYS_WITH_DIFFERENT_CASE",
                        f"{key!r} repeats {lowered[lower]!r}",
                        key_path,
                        KeyAt(key_at),
                    )
                lowered.setdefault(lower, key)
                if self.full and not _CONDITION_KEY.fullmatch(key):
                    self.add(
                        "INVALID_CONDITION_KEY_FORMAT",
                        f"{key!r} is not of the form prefix:name",
                        key_path,
                        KeyAt(key_at),
                    )
                values = self.condition_values(values_node, key_path, key_at)
                if values is None:
                    return None
                family = parsed.family
                if family is not None and self.full:
                    for index, value in enumerate(values):
                        if "${" in value:
                            self.variables(
                                value, key_path, _entry_at(values_node, key_at, index), family.variables
                            )
                            if family.variables:
                                continue
                        problem = _value_problem(parsed.base, value)
                        if problem is not None:
                            code = (
                                "TYPE_MISMATCH_IP_RANGE"
                                if parsed.base.endswith("IpAddress")
                                else "INVALID_CONDITION_DATA_TYPE"
                            )
                            self.add(
                                code,
                                f"{problem} (for {op_text})",
                                key_path,
                                _entry_at(values_node, key_at, index),
                            )
                clauses.append(
                    ConditionClause(
                        op_text, parsed.base, parsed.qualifier, parsed.if_exists, key, values, key_path
                    )
                )
        return tuple(clauses)

    def condition_values(self, node: object, path: Path, at: ValuePath) -> tuple[str, ...] | None:
        array = type(node) is list or (type(node) is not str and _kind(node) == "array")
        items = _entries(node) if array else [node]
        out: list[str] = []
        for i, item in enumerate(items):
            if type(item) is str:
                out.append(item)
                continue
            kind = _kind(item)
            if kind in ("string", "number"):
                out.append(_text(item))
            elif kind in ("true", "false"):
                out.append(kind)
            else:
                self.add(
                    "DATA_TYPE_MISMATCH",
                    "Condition values must be strings, numbers or Booleans",
                    path,
                    (*at, i) if array else at,
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
                path,
            )
        if effect is Effect.DENY and "*" in actions and not not_action:
            self.add("RCP_SYNTAX_ERROR_ACTION", 'An RCP Deny must name service actions, not "*"', path, path)


def _plain_policy(root: object, requires_resource: bool) -> Policy | None:
    """The policy ``_Checker(full=False).policy`` builds from ``root``, when ``root`` is a plain
    document: a dict of known elements, Version absent or one of the two versions, Id absent or a
    string, Statement a plain statement or an array of them (see ``_plain_statement``). Such a
    document can have no blocking finding. None for anything else: the caller then runs the
    checker, which gives the same policy, or the findings."""
    if type(root) is not dict or not _TOP_LEVEL_SET.issuperset(root):
        return None
    version = root.get("Version", _ABSENT)
    if version is _ABSENT:
        version = None
    elif type(version) is not str or version not in (VERSION_2012, VERSION_2008):
        return None
    policy_id = root.get("Id", _ABSENT)
    if policy_id is _ABSENT:
        policy_id = None
    elif type(policy_id) is not str:
        return None
    body = root.get("Statement", _ABSENT)
    statements: list[Statement] = []
    if type(body) is list:
        for i, node in enumerate(body):
            stmt = _plain_statement(node, ("Statement", i), i, requires_resource)
            if stmt is None:
                return None
            statements.append(stmt)
    elif type(body) is dict:
        stmt = _plain_statement(body, ("Statement",), 0, requires_resource)
        if stmt is None:
            return None
        statements.append(stmt)
    else:
        return None
    return new_policy(version, policy_id, tuple(statements))


def _plain_strings(value: object) -> tuple[str, ...] | None:
    """A string or a non-empty array of strings, as ``_Checker.strings`` reads it; None for
    anything else (which the checker reads, with its findings)."""
    if type(value) is str:
        return (value,)
    if type(value) is list and value:
        for item in value:
            if type(item) is not str:
                return None
        return tuple(value)
    return None


def _plain_statement(node: object, path: Path, index: int, requires_resource: bool) -> Statement | None:
    """The statement ``_Checker(full=False).statement`` builds from ``node``, when ``node`` is a
    plain statement: a dict of known elements, Sid a string, Effect "Allow" or "Deny", one of
    Action and NotAction, at most one of Resource and NotResource (one when the kind requires it),
    at most one of Principal and NotPrincipal, each a string or a non-empty array of strings (a
    Principal "*" or an object of principal types), Condition an object of operators, each an
    object of keys to a string or an array of strings. Such a statement can have no blocking
    finding, and the checker looks for no other with ``full`` False. None for anything else: the
    caller then runs the checker, which gives the same statement, or the findings."""
    if type(node) is not dict or not _STATEMENT_SET.issuperset(node):
        return None
    get = node.get
    sid = get("Sid", _ABSENT)
    if sid is _ABSENT:
        sid = None
    elif type(sid) is not str:
        return None
    effect_text = get("Effect")
    if effect_text == "Allow" and type(effect_text) is str:
        effect = Effect.ALLOW
    elif effect_text == "Deny" and type(effect_text) is str:
        effect = Effect.DENY
    else:
        return None
    element = get("Action", _ABSENT)
    not_action = element is _ABSENT
    if not_action:
        element = get("NotAction", _ABSENT)
    elif "NotAction" in node:
        return None
    actions = (element,) if type(element) is str else _plain_strings(element)
    if actions is None:
        return None
    resources: tuple[str, ...] | None = None
    element = get("Resource", _ABSENT)
    not_resource = element is _ABSENT
    if not_resource:
        element = get("NotResource", _ABSENT)
    elif "NotResource" in node:
        return None
    if element is not _ABSENT:
        resources = (element,) if type(element) is str else _plain_strings(element)
        if resources is None:
            return None
    elif requires_resource:
        return None
    else:
        not_resource = False
    principal: PrincipalSpec | None = None
    not_principal: PrincipalSpec | None = None
    if "Principal" in node or "NotPrincipal" in node:
        if "Principal" in node and "NotPrincipal" in node:
            return None
        name = "Principal" if "Principal" in node else "NotPrincipal"
        spec = _plain_principal(node[name])
        if spec is None:
            return None
        if name == "Principal":
            principal = spec
        else:
            not_principal = spec
    conditions: tuple[ConditionClause, ...] = ()
    if "Condition" in node:
        block = node["Condition"]
        if type(block) is not dict:
            return None
        clauses: list[ConditionClause] = []
        for op_text, keys in block.items():
            if type(keys) is not dict or type(op_text) is not str:
                return None
            parsed = parse_operator(op_text)
            for key, values_node in keys.items():
                if type(values_node) is str:
                    values: tuple[str, ...] | None = (values_node,)
                elif type(values_node) is list:
                    values = _plain_strings(values_node) if values_node else ()
                else:
                    values = None
                if values is None or type(key) is not str:
                    return None
                clauses.append(
                    new_clause(
                        op_text,
                        parsed.base,
                        parsed.qualifier,
                        parsed.if_exists,
                        key,
                        values,
                        (*path, "Condition", op_text, key),
                    )
                )
        conditions = tuple(clauses)
    return new_statement(
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


def _plain_principal(node: object) -> PrincipalSpec | None:
    """``_Checker.principal_spec`` of a plain Principal (see ``_plain_statement``); None for any other."""
    if node == "*" and type(node) is str:
        return PrincipalSpec(wildcard=True)
    if type(node) is not dict or not node:
        return None
    groups: dict[str, tuple[str, ...]] = {}
    for key, value in node.items():
        if key not in _PRINCIPAL_TYPE_SET or type(key) is not str:
            return None
        values = _plain_strings(value)
        if values is None:
            return None
        groups[key] = values
    return PrincipalSpec(
        wildcard=False,
        aws=groups.get("AWS", ()),
        service=groups.get("Service", ()),
        federated=groups.get("Federated", ()),
        canonical_user=groups.get("CanonicalUser", ()),
    )


@lru_cache(maxsize=16384)
def _value_problem(operator: str, value: str) -> str | None:
    """What is wrong with a condition value for an operator family (memoized: policy sets repeat
    their condition values, and some checks parse dates or addresses)."""
    family = lookup(operator)
    return None if family is None else family.check_value(value)


def _is_everyone(spec: PrincipalSpec) -> bool:
    return spec.wildcard or (
        spec.aws == ("*",) and not (spec.service or spec.federated or spec.canonical_user)
    )


def _colons_outside_variables(text: str) -> int:
    """Colons of an ARN pattern that are not inside a ``${...}`` policy variable."""
    if "${" not in text:
        return text.count(":")
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
