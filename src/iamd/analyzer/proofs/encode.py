"""IAM policies as SMT formulas over one symbolic request (Zelkova's encoding, FMCAD 2018).

The request is a set of free variables:

- ``act``: the action, lower-cased (the evaluator lower-cases it), of the form ``service:name``;
- ``res``: the resource ARN (any string; matched case-sensitively, segment-aware);
- ``prin``: which of a finite list of principals calls (resource policies only). The list holds one
  principal for every way a Principal element can tell callers apart (every named ARN, every named
  account's root, a user and a role session there, a stranger's account, anonymous), so every real
  caller matches exactly the statements that one of them matches;
- per condition key: absent, one string, or a set of strings (``ForAnyValue``/``ForAllValues``).
  A set needs at most one element per set-qualified clause on its key to witness any combination
  of those clauses, so the sets are bounded exactly.

Each statement becomes ``principal ∧ action ∧ resource ∧ condition``; a policy allows when some
Allow applies and no Deny does. Numbers, dates and IP addresses get their own variables next to a
key's string value (the evaluator parses the same text; the solver does not link the two views);
numbers and dates are integers on a grid finer than every constant of the query, which keeps every
order relation between a value and the constants reachable.

What the encoding cannot express exactly (BinaryEquals, a policy variable in the middle of a
wildcard pattern) becomes a free Boolean shared by identical expressions: any request gives it some
value, so an UNSAT answer still holds for every request (sound), while a SAT answer might not be a
real request. Such answers are checked against the evaluator before anyone calls them confirmed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from iamd.analyzer.proofs.smtlib import (
    NOT_COLON,
    and_,
    arn_glob_regex,
    glob_regex,
    literal,
    or_,
    regex_literal,
)
from iamd.authz.compiled import CompiledStatement, compile_statement
from iamd.authz.principal import Principal
from iamd.policy.ast import ConditionClause, Effect, Policy, Statement
from iamd.policy.conditions import lookup
from iamd.policy.conditions.clause import QUALIFIERS
from iamd.policy.conditions.date import parse_instant
from iamd.policy.conditions.ip import parse_range
from iamd.policy.conditions.numeric import parse_number
from iamd.policy.variables import Literal, Template, Text, Var, has_variables, parse_template, resolve_string
from iamd.policy.wildcards import compile_glob

__all__ = ["Encoder", "PolicyTerms", "SlotViews"]


_STRING_FAMILIES = {"StringEquals", "StringNotEquals", "StringLike", "StringNotLike"}
_IGNORE_CASE = {"StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"}
_NUMERIC = {"Numeric": "num", "Date": "date"}
_COMPARE = {
    "Equals": "=",
    "NotEquals": "=",
    "LessThan": "<",
    "LessThanEquals": "<=",
    "GreaterThan": ">",
    "GreaterThanEquals": ">=",
}


@dataclass
class SlotViews:
    """Which typed views of one string slot the formula used (to write a witness value back)."""

    string: bool = False
    num: bool = False
    date: bool = False
    ip: bool = False


@dataclass
class KeyVars:
    key: str
    index: int
    set_size: int
    views: dict[str, SlotViews] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return f"k{self.index}_kind"

    @property
    def value(self) -> str:
        return f"k{self.index}_v"

    @property
    def count(self) -> str:
        return f"k{self.index}_n"

    def element(self, i: int) -> str:
        return f"k{self.index}_e{i}"


@dataclass(frozen=True)
class PolicyTerms:
    """SMT names for one encoded policy: whether it allows, and each statement that applies."""

    allows: str
    statements: tuple[tuple[Statement, str], ...]
    formula: str = ""
    """The formula ``allows`` names; ``true`` or ``false`` when it is decided without a solver."""


def _ignore_case_table() -> dict[str, str]:
    """For each ASCII character: every character whose lower case is it (``K`` and the Kelvin sign
    for ``k``). Python's ``str.lower`` is what the evaluator uses."""
    table: dict[str, set[str]] = {}
    for cp in range(0x110000):
        ch = chr(cp)
        low = ch.lower()
        if len(low) == 1 and low.isascii():
            table.setdefault(low, set()).add(ch)
    return {
        k: "(re.union " + " ".join(regex_literal(c) for c in sorted(v)) + ")"
        if len(v) > 1
        else regex_literal(next(iter(v)))
        for k, v in table.items()
    }


_CASE_TABLE: dict[str, str] = {}


def _ignore_case_regex(value: str) -> str | None:
    if not value.isascii():
        return None
    if not _CASE_TABLE:
        _CASE_TABLE.update(_ignore_case_table())
    low = value.lower()
    if not low:
        return '(str.to_re "")'
    pieces = [_CASE_TABLE.get(c, regex_literal(c)) for c in low]
    return pieces[0] if len(pieces) == 1 else f"(re.++ {' '.join(pieces)})"


@lru_cache(maxsize=4096)
def _action_index(
    actions: tuple[str, ...],
) -> tuple[dict[str, tuple[tuple[str, ...], tuple[str, ...]]], tuple[str, ...]]:
    """A statement's action patterns, lower-cased: by literal service prefix (its literal names,
    and its other name terms), and the patterns whose service part has a wildcard."""
    grouped: dict[str, tuple[list[str], list[str]]] = {}
    wild: list[str] = []
    for pattern in actions:
        low = pattern.lower()
        service, colon, name = low.partition(":")
        if colon and "*" not in service and "?" not in service:
            literals, others = grouped.setdefault(service, ([], []))
            if "*" not in name and "?" not in name:
                literals.append(name)
            elif name == "*":
                others.append("true")
            elif name.endswith("*") and "*" not in name[:-1] and "?" not in name:
                others.append(f"(str.prefixof {literal(name[:-1])} nm)")
            elif name.startswith("*") and "*" not in name[1:] and "?" not in name:
                others.append(f"(str.suffixof {literal(name[1:])} nm)")
            elif len(name) > 2 and name[0] == name[-1] == "*" and "*" not in name[1:-1] and "?" not in name:
                others.append(f"(str.contains nm {literal(name[1:-1])})")
            else:
                others.append(f"(str.in_re nm {glob_regex(name)})")
        else:
            wild.append(low)
    return {k: (tuple(sorted(set(v[0]))), tuple(v[1])) for k, v in grouped.items()}, tuple(wild)


def _names_term(entry: tuple[tuple[str, ...], tuple[str, ...]]) -> str:
    literals, others = entry
    return or_([*others, *(f"(= nm {literal(n)})" for n in literals)])


@lru_cache(maxsize=4096)
def _raw_index(actions: tuple[str, ...]) -> tuple[dict[str, tuple[str, ...]], tuple[str, ...]]:
    """A statement's lower-cased action patterns by literal service prefix, and the others."""
    grouped: dict[str, list[str]] = {}
    wild: list[str] = []
    for pattern in actions:
        low = pattern.lower()
        service, colon, _ = low.partition(":")
        if colon and "*" not in service and "?" not in service:
            grouped.setdefault(service, []).append(low)
        else:
            wild.append(low)
    return {k: tuple(v) for k, v in grouped.items()}, tuple(wild)


def action_matches(stmt: Statement, service: str, name: str) -> bool:
    """Whether the statement's Action/NotAction matches ``service:name`` (lower-cased), as the
    evaluator decides it (``iamd.authz.compiled``), looking only at the patterns that can."""
    grouped, wild = _raw_index(stmt.actions)
    action = f"{service}:{name}"
    hit = any(compile_glob(p)(action) for p in (*grouped.get(service, ()), *wild))
    return hit != stmt.not_action


def _split_fixed_segments(template: Template) -> tuple[str, Template] | None:
    """The five fixed segments of an ARN pattern (policy text, without the fifth colon) and the
    rest of the pattern; None when a variable or an escape comes before the fifth colon."""
    text = ""
    for i, piece in enumerate(template):
        if not isinstance(piece, Text):
            return None
        colons = text.count(":") + piece.text.count(":")
        if colons >= 5:
            head = text + piece.text
            cut = -1
            for _ in range(5):
                cut = head.index(":", cut + 1)
            remainder = head[cut + 1 :]
            rest: Template = ((Text(remainder),) if remainder else ()) + template[i + 1 :]
            return head[:cut], rest
        text += piece.text
    return None


FRESH = "\ue000"
"""A character no policy holds (policy text is U+0020 to U+00FF): a name ending in it equals no
literal name and starts no longer prefix."""


def name_classes(policies: Sequence[Policy], service: str) -> list[str] | None:
    """Names standing for every action name of ``service``, as far as the policies' action patterns
    can tell them apart; None when some pattern is not a literal, a prefix (``Get*``) or ``*``.

    Every literal name stands for itself. Any other name n matches exactly the prefixes that are
    prefixes of the longest prefix p it starts with (two prefixes of n are prefixes of each other),
    which is what ``p + FRESH`` matches too."""
    literals: set[str] = set()
    prefixes: set[str] = {""}
    for policy in policies:
        for stmt in policy.statements:
            grouped, wild = _raw_index(stmt.actions)
            if any(w != "*" for w in wild):
                return None
            for low in grouped.get(service, ()):
                name = low.partition(":")[2]
                if "?" in name or "*" in name[:-1]:
                    return None
                if name.endswith("*"):
                    prefixes.add(name[:-1])
                else:
                    literals.add(name)
    return sorted(literals | {p + FRESH for p in prefixes})


def literal_services(policies: Sequence[Policy]) -> set[str]:
    """Every service prefix an action pattern of ``policies`` names literally."""
    out: set[str] = set()
    for policy in policies:
        for stmt in policy.statements:
            out.update(_action_index(stmt.actions)[0])
    return out


def has_wild_service(policy: Policy) -> bool:
    """Some Allow can match actions of any service (``*``, ``*:Get*``, or NotAction)."""
    return any(
        stmt.effect is Effect.ALLOW and (stmt.not_action or _action_index(stmt.actions)[1])
        for stmt in policy.statements
    )


class Encoder:
    """Collects declarations and definitions; ``text()`` is the SMT-LIB script."""

    def __init__(
        self,
        policies: Sequence[Policy],
        principals: Sequence[Principal] = (),
        service: str | None = None,
        other_services: Sequence[str] | None = None,
        name: str | None = None,
    ) -> None:
        """``service``: only actions of that service; ``other_services``: only actions of services
        other than those (both None: every action); ``name``: only the action ``service:name``
        (the action is then decided here, and the solver sees constants)."""
        self.service = service
        self.name = name
        self.other_services = None if other_services is None else tuple(other_services)
        self.lines: list[str] = [
            "(declare-const act String)",
            "(declare-const res String)",
            "(declare-const svc String)",
            "(declare-const nm String)",
            '(assert (= act (str.++ svc ":" nm)))',
            # service and name: non-empty, without a colon. A wider domain than what actions look
            # like lower-cased ([a-z0-9-]+:[a-z0-9_-]+): it costs no soundness, and z3 decides
            # length and containment far faster than a character-class regex.
            '(assert (and (< 0 (str.len svc)) (not (str.contains svc ":"))))',
            '(assert (and (< 0 (str.len nm)) (not (str.contains nm ":"))))',
        ]
        if service is not None:
            self.lines.append(f"(assert (= svc {literal(service)}))")
        if name is not None:
            self.lines.append(f"(assert (= nm {literal(name)}))")
        for other in self.other_services or ():
            self.lines.append(f"(assert (not (= svc {literal(other)})))")
        self.principals = tuple(principals)
        if self.principals:
            self.lines.append("(declare-const prin Int)")
            self.lines.append(f"(assert (and (<= 0 prin) (< prin {len(self.principals)})))")
        self.keys: dict[str, KeyVars] = {}
        self.abstract: dict[tuple[str, ...], str] = {}
        self.abstract_notes: dict[str, str] = {}
        self._counter = 0
        self._scale = {"num": 1, "date": 1}
        self._prepare(policies)

    # --- the universe of keys ------------------------------------------------------------------

    def _prepare(self, policies: Sequence[Policy]) -> None:
        set_uses: dict[str, int] = {}
        keys: list[str] = []
        digits = {"num": 0, "date": 0}
        for policy in policies:
            substitute = policy.substitutes_variables
            for stmt in policy.statements:
                for pattern in stmt.resources or ():
                    keys.extend(self._template_keys(pattern, substitute))
                for clause in stmt.conditions:
                    key = clause.key.lower()
                    keys.append(key)
                    if clause.qualifier is not None:
                        set_uses[key] = set_uses.get(key, 0) + 1
                    family = lookup(clause.base)
                    if family is not None and family.variables:
                        for value in clause.values:
                            keys.extend(self._template_keys(value, substitute))
                    for view, prefix in (("num", "Numeric"), ("date", "Date")):
                        if clause.base.startswith(prefix):
                            for value in clause.values:
                                parsed = parse_number(value) if view == "num" else parse_instant(value)
                                if parsed is not None:
                                    exponent = parsed.as_tuple().exponent
                                    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
                                    digits[view] = max(digits[view], places)
        for view, places in digits.items():
            self._scale[view] = 10 ** (places + 1)
        for key in keys:
            if key not in self.keys:
                kv = KeyVars(key, len(self.keys), max(1, set_uses.get(key, 0)))
                self.keys[key] = kv
                self.lines.append(f"(declare-const {kv.kind} Int)")
                self.lines.append(f"(assert (and (<= 0 {kv.kind}) (<= {kv.kind} 2)))")
                self.lines.append(f"(declare-const {kv.value} String)")
                self.lines.append(f"(declare-const {kv.count} Int)")
                self.lines.append(f"(assert (and (<= 0 {kv.count}) (<= {kv.count} {kv.set_size})))")
                for i in range(kv.set_size):
                    self.lines.append(f"(declare-const {kv.element(i)} String)")

    @staticmethod
    def _template_keys(text: str, substitute: bool) -> list[str]:
        if not (substitute and "${" in text):
            return []
        template, _ = parse_template(text)
        return [p.key for p in template if isinstance(p, Var)]

    def fresh(self, prefix: str, sort: str) -> str:
        self._counter += 1
        name = f"{prefix}{self._counter}"
        self.lines.append(f"(declare-const {name} {sort})")
        return name

    def abstract_bool(self, note: str, *identity: str) -> str:
        """A free Boolean standing for an expression the encoding cannot express exactly."""
        name = self.abstract.get(identity)
        if name is None:
            name = self.fresh("abs", "Bool")
            self.abstract[identity] = name
            self.abstract_notes[name] = note
        return name

    def view(self, kv: KeyVars, slot: str, kind: str) -> str:
        """The typed view ``kind`` (num, date, ip) of ``slot``: its names are ``slot_kind_ok`` and
        ``slot_kind`` (and ``slot_ipver`` for addresses)."""
        views = kv.views.setdefault(slot, SlotViews())
        if not getattr(views, kind):
            setattr(views, kind, True)
            self.lines.append(f"(declare-const {slot}_{kind}_ok Bool)")
            self.lines.append(f"(declare-const {slot}_{kind} Int)")
            if kind == "ip":
                self.lines.append(f"(declare-const {slot}_ipver Int)")
                self.lines.append(
                    f"(assert (=> {slot}_ip_ok (or (and (= {slot}_ipver 4) (<= 0 {slot}_ip) "
                    f"(< {slot}_ip {2**32})) (and (= {slot}_ipver 6) (<= 0 {slot}_ip) (< {slot}_ip {2**128}) "
                    # an IPv4-mapped IPv6 address is read as the IPv4 address (conditions/ip.py)
                    f"(not (and (<= {0xFFFF00000000} {slot}_ip) (<= {slot}_ip {0xFFFFFFFFFFFF})))))))"
                )
        return slot

    def scale(self, kind: str) -> int:
        return self._scale[kind]

    # --- policies ------------------------------------------------------------------------------

    def policy(self, name: str, policy: Policy, resource_policy: bool) -> PolicyTerms:
        substitute = policy.substitutes_variables
        allows: list[str] = []
        denies: list[str] = []
        terms: list[tuple[Statement, str]] = []
        for stmt in policy.statements:
            action = self.action(stmt)
            if action == "false":
                continue  # no action of this query's service
            parts = [action, self.resource(stmt, substitute)]
            if resource_policy or stmt.principal is not None or stmt.not_principal is not None:
                principal = self.principal(compile_statement(name, stmt, substitute))
                if principal is None:
                    if stmt.effect is Effect.ALLOW:
                        continue  # an Allow that names no principal grants nothing
                else:
                    parts.append(principal)
            parts.extend(self.clause(c, substitute, stmt.effect is Effect.DENY) for c in stmt.conditions)
            body = and_(parts)
            if body == "false":
                continue
            stmt_name = self.fresh(f"{name}_s{stmt.index}_", "Bool")
            self.lines.append(f"(assert (= {stmt_name} {body}))")
            if stmt.effect is Effect.DENY:
                denies.append(stmt_name)
            else:
                allows.append(stmt_name)
                terms.append((stmt, stmt_name))
        allow_name = self.fresh(f"{name}_allows", "Bool")
        deny = or_(denies)
        whole = and_(
            [or_(allows), "true" if deny == "false" else "false" if deny == "true" else f"(not {deny})"]
        )
        self.lines.append(f"(assert (= {allow_name} {whole}))")
        return PolicyTerms(allow_name, tuple(terms), whole)

    def principal(self, compiled: CompiledStatement) -> str | None:
        test = compiled.matches_principal
        if test is None:
            return None
        if not self.principals:
            return "true"
        hits = [i for i, p in enumerate(self.principals) if test(p, False) is not None]
        if len(hits) == len(self.principals):
            return "true"
        return or_([f"(= prin {i})" for i in hits])

    def action(self, stmt: Statement) -> str:
        """Action/NotAction: patterns with a literal service prefix test ``svc`` and the name
        ``nm``; the others test the whole ``act``. Within a query for one service (``service``)
        the other services' patterns drop out before the solver sees them."""
        if self.name is not None and self.service is not None:
            hit = action_matches(stmt, self.service, self.name)
            return "true" if hit else "false"
        by_service, wild = _action_index(stmt.actions)
        parts = [f"(str.in_re act {glob_regex(p)})" if p != "*" else "true" for p in wild]
        if self.service is not None:
            entry = by_service.get(self.service)
            if entry is not None:
                parts.append(_names_term(entry))
        elif self.other_services is None:
            for service, entry in sorted(by_service.items()):
                parts.append(and_([f"(= svc {literal(service)})", _names_term(entry)]))
        term = or_(parts)
        return f"(not {term})" if stmt.not_action else term

    def resource(self, stmt: Statement, substitute: bool) -> str:
        if stmt.resources is None or (stmt.resources == ("*",) and not stmt.not_resource):
            return "true"
        parts: list[str] = []
        regexes: list[str] = []
        for pattern in stmt.resources:
            if substitute and "${" in pattern:
                template, _ = parse_template(pattern)
                if has_variables(template):
                    parts.append(self.template_match("res", template, arn=True, note=pattern))
                    continue
            regex = arn_glob_regex(pattern)
            if regex is None:
                parts.append("true")
            else:
                regexes.append(regex)
        if regexes:
            union = regexes[0] if len(regexes) == 1 else f"(re.union {' '.join(regexes)})"
            parts.append(f"(str.in_re res {union})")
        term = or_(parts)
        return f"(not {term})" if stmt.not_resource else term

    # --- policy variables ----------------------------------------------------------------------

    def resolved(self, template: Template) -> tuple[str, str]:
        """(defined, text): when every variable of ``template`` has one value (or a default), and
        the string it then stands for (``iamd.policy.variables.resolve_string``)."""
        ok: list[str] = []
        pieces: list[str] = []
        for piece in template:
            if isinstance(piece, Var):
                kv = self.keys[piece.key]
                single = f"(= {kv.kind} 1)"
                if piece.default is None:
                    ok.append(single)
                    pieces.append(kv.value)
                else:
                    pieces.append(f"(ite {single} {kv.value} {literal(piece.default)})")
            else:
                pieces.append(literal(piece.text))
        text = pieces[0] if len(pieces) == 1 else f"(str.++ {' '.join(pieces)})"
        return and_(ok), text

    def _fixed_split(self, subject: str) -> tuple[str, str, str]:
        """(has five colons, the subject through its fifth colon, the rest). The split is unique
        (a segment holds no colon), so the two parts are functions of the subject and may stand
        under a negation."""
        key = ("split5", subject)
        found = self.abstract.get(key)
        if found is None:
            five = f'((_ re.loop 5 5) (re.++ (re.* {NOT_COLON}) (str.to_re ":")))'
            has = self.fresh("has5_", "Bool")
            head = self.fresh("head5_", "String")
            rest = self.fresh("rest5_", "String")
            self.lines.append(f"(assert (= {has} (str.in_re {subject} (re.++ {five} (re.* re.allchar)))))")
            self.lines.append(
                f"(assert (=> {has} (and (= {subject} (str.++ {head} {rest})) (str.in_re {head} {five}))))"
            )
            found = f"{has} {head} {rest}"
            self.abstract[key] = found
        has, head, rest = found.split(" ")
        return has, head, rest

    def template_match(self, subject: str, template: Template, arn: bool, note: str) -> str:
        """``subject`` matches the wildcard pattern ``template`` once its variables are substituted
        (substituted values are literal text). Exact when no wildcard comes before the last
        variable (and, for ARNs, when five colons precede the first wildcard); else abstract.
        An ARN pattern whose variables all come after its fifth colon is cut there: the five
        fixed segments (wildcards and all) test the subject up to its fifth colon, and the rest
        of the pattern the rest of the subject."""
        if arn:
            split = _split_fixed_segments(template)
            if split is not None and any("*" in c or "?" in c for c in split[0]):
                fixed, remainder = split
                has, prefix, suffix = self._fixed_split(subject)
                regex = arn_glob_regex(fixed + ":")
                inner = (
                    self.template_match(suffix, remainder, arn=False, note=note)
                    if remainder
                    else f'(= {suffix} "")'
                )
                return and_([has, f"(str.in_re {prefix} {regex})", inner])
        first_wild = next(
            (i for i, p in enumerate(template) if isinstance(p, Text) and ("*" in p.text or "?" in p.text)),
            len(template),
        )
        head, tail = template[:first_wild], template[first_wild:]
        if any(not isinstance(p, Text) for p in tail):
            return self.abstract_bool(
                f"the pattern {note!r} puts a wildcard before a policy variable",
                "tmpl",
                subject,
                note,
                str(arn),
            )
        tail_text = "".join(p.text for p in tail if isinstance(p, Text))
        static_colons = sum(p.text.count(":") for p in head if isinstance(p, Text | Literal))
        if arn and tail_text and static_colons < 5:
            return self.abstract_bool(
                f"the ARN pattern {note!r} holds a policy variable in its fixed segments",
                "tmpl",
                subject,
                note,
                str(arn),
            )
        ok, text = self.resolved(head)
        if not tail_text:
            return and_([ok, f"(= {subject} {text})"])
        rest = f"(str.substr {subject} (str.len {text}) (- (str.len {subject}) (str.len {text})))"
        return and_([ok, f"(str.prefixof {text} {subject})", f"(str.in_re {rest} {glob_regex(tail_text)})"])

    # --- conditions ----------------------------------------------------------------------------

    def clause(self, clause: ConditionClause, substitute: bool, on_invalid: bool) -> str:
        """``iamd.policy.conditions.clause.compile_clause``, as a formula."""
        family = lookup(clause.base)
        invalid = "true" if on_invalid else "false"
        if family is None or (clause.qualifier is not None and clause.qualifier not in QUALIFIERS):
            return invalid
        takes_variables = substitute and family.variables
        if any(
            family.check_value(v) is not None for v in clause.values if not (takes_variables and "${" in v)
        ):
            return invalid
        kv = self.keys[clause.key.lower()]
        present = f"(not (= {kv.kind} 0))"
        if family.presence:
            wants = {v.lower() == "true" for v in clause.values if v.lower() in ("true", "false")}
            return or_([f"(= {kv.kind} 0)" if w else present for w in sorted(wants)])
        negated = family.negated

        def satisfies(slot: str) -> str:
            parsable, match = self.value_match(clause, kv, slot, takes_variables)
            return and_([parsable, f"(not {match})" if negated else match])

        absent = f"(= {kv.kind} 0)"
        single = f"(= {kv.kind} 1)"
        is_set = f"(= {kv.kind} 2)"
        if clause.qualifier is None:
            on_absent = "true" if (clause.if_exists or negated) else "false"
            return or_([and_([absent, on_absent]), and_([single, satisfies(kv.value)])])
        elements = [(f"(< {i} {kv.count})", satisfies(kv.element(i))) for i in range(kv.set_size)]
        if clause.qualifier == "ForAnyValue":
            on_absent = "true" if clause.if_exists else "false"
            return or_(
                [
                    and_([absent, on_absent]),
                    and_([single, satisfies(kv.value)]),
                    and_([is_set, or_([and_([live, ok]) for live, ok in elements])]),
                ]
            )
        return or_(
            [
                absent,
                and_([single, satisfies(kv.value)]),
                and_([is_set, and_([f"(=> {live} {ok})" for live, ok in elements])]),
            ]
        )

    def value_match(
        self, clause: ConditionClause, kv: KeyVars, slot: str, variables: bool
    ) -> tuple[str, str]:
        """(the value is readable by the operator, some policy value matches it): the positive
        sense of the operator on one request value held in ``slot``."""
        base = clause.base
        family_name = (
            base.replace("Not", "", 1) if base.startswith(("StringNot", "ArnNot", "NotIp")) else base
        )
        if base in _STRING_FAMILIES or base in _IGNORE_CASE or base.startswith("Arn"):
            kv.views.setdefault(slot, SlotViews()).string = True
            like = base in ("StringLike", "StringNotLike")
            arn = base.startswith("Arn")
            parts: list[str] = []
            for value in clause.values:
                if variables and "${" in value:
                    template, _ = parse_template(value)
                    if has_variables(template):
                        parts.append(self._templated_value(base, template, slot, like, arn, value, clause))
                        continue
                    value = resolve_string(template, {}) or ""
                if base in _IGNORE_CASE:
                    regex = _ignore_case_regex(value)
                    parts.append(
                        f"(str.in_re {slot} {regex})"
                        if regex is not None
                        else self.abstract_bool(
                            f"a case-insensitive comparison with the non-ASCII value {value!r}",
                            "ci",
                            slot,
                            value,
                        )
                    )
                elif arn:
                    regex_arn = arn_glob_regex(value)
                    parts.append("true" if regex_arn is None else f"(str.in_re {slot} {regex_arn})")
                elif like:
                    parts.append(f"(str.in_re {slot} {glob_regex(value)})")
                else:
                    parts.append(f"(= {slot} {literal(value)})")
            return "true", or_(parts)
        if base == "Bool":
            kv.views.setdefault(slot, SlotViews()).string = True
            readable = (
                f"(str.in_re {slot} (re.union {_ignore_case_regex('true')} {_ignore_case_regex('false')}))"
            )
            parts = []
            for value in clause.values:
                if variables and "${" in value:
                    template, _ = parse_template(value)
                    if has_variables(template):
                        parts.append(self.abstract_bool(f"Bool compared with {value!r}", "bool", slot, value))
                        continue
                    value = resolve_string(template, {}) or ""
                regex = _ignore_case_regex(value)
                if regex is not None:
                    parts.append(f"(str.in_re {slot} {regex})")
            return readable, or_(parts)
        for prefix, kind in _NUMERIC.items():
            if base.startswith(prefix):
                self.view(kv, slot, kind)
                op = _COMPARE[base[len(prefix) :]]
                scale = self._scale[kind]
                parts = []
                for value in clause.values:
                    parsed: Decimal | None = parse_number(value) if kind == "num" else parse_instant(value)
                    if parsed is None:
                        continue
                    scaled = parsed * scale
                    if scaled != scaled.to_integral_value():
                        return "true", self.abstract_bool(f"{base} {value!r}", "cmp", slot, base, value)
                    parts.append(f"({op} {slot}_{kind} {int(scaled)})")
                return f"{slot}_{kind}_ok", or_(parts)
        if family_name == "IpAddress":
            self.view(kv, slot, "ip")
            parts = []
            for value in clause.values:
                rng = parse_range(value)
                if rng is None:
                    continue
                version, lo, hi = rng
                parts.append(f"(and (= {slot}_ipver {version}) (<= {lo} {slot}_ip) (<= {slot}_ip {hi}))")
            return f"{slot}_ip_ok", or_(parts)
        kv.views.setdefault(slot, SlotViews()).string = True
        return "true", self.abstract_bool(
            f"the {base} condition on {clause.key}", "op", slot, base, *clause.values
        )

    def _templated_value(
        self,
        base: str,
        template: Template,
        slot: str,
        like: bool,
        arn: bool,
        value: str,
        clause: ConditionClause,
    ) -> str:
        if like or arn:
            return self.template_match(slot, template, arn=arn, note=value)
        if base in _IGNORE_CASE:
            return self.abstract_bool(
                f"a case-insensitive comparison with the policy variable in {value!r}", "tci", slot, value
            )
        ok, text = self.resolved(template)
        return and_([ok, f"(= {slot} {text})"])

    def text(self) -> str:
        return "\n".join(self.lines)
