"""SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2), the part iamd answers.

Filters: ``attrPath op "value"`` and ``attrPath pr``, joined by ``and`` (and ``or``), with the
operators ``eq ne co sw ew pr`` (``gt ge lt le`` on strings too). Attribute names and operators
ignore case; string comparisons ignore case unless the attribute is case-exact (``id``,
``externalId``, ``members.value``), as RFC 7643 declares them. A filter is at most
:data:`MAX_FILTER` characters. Anything else is a 400 with ``scimType`` ``invalidFilter``.

PATCH paths: ``attr``, ``attr.sub``, ``urn:…:attr``, and ``attr[filter]`` or ``attr[filter].sub``
(e.g. ``emails[type eq "work"].value``, ``members[value eq "…"]``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "MAX_FILTER",
    "Compare",
    "Filter",
    "FilterError",
    "Logic",
    "Path",
    "matches",
    "parse_filter",
    "parse_path",
]

MAX_FILTER: Final = 1024
MAX_DEPTH: Final = 16
"""Parentheses, ``not`` and brackets nest at most this deep (a filter is read recursively)."""
CASE_EXACT: Final = frozenset({"id", "externalid", "members.value", "groups.value", "meta.version"})
OPERATORS: Final = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr"})

_TOKEN = re.compile(
    r'\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<lb>\[)|(?P<rb>\])|(?P<str>"(?:[^"\\]|\\.)*")'
    r"|(?P<word>[A-Za-z0-9_:.$\-]+))"
)


class FilterError(ValueError):
    """A filter or path iamd cannot read (400, scimType invalidFilter or invalidPath)."""


@dataclass(frozen=True, slots=True)
class Compare:
    path: str
    """Lower-cased attribute path, ``emails.value`` …; a URN prefix is kept."""
    op: str
    value: Any


@dataclass(frozen=True, slots=True)
class Logic:
    op: str  # "and" | "or"
    left: Filter
    right: Filter


@dataclass(frozen=True, slots=True)
class Not:
    inner: Filter


Filter = Compare | Logic | Not


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise FilterError(f"cannot read the filter at character {pos + 1}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def _literal(kind: str, raw: str) -> Any:
    if kind == "str":
        body = raw[1:-1]
        return re.sub(r"\\(.)", r"\1", body)
    lower = raw.lower()
    if lower in ("true", "false"):
        return lower == "true"
    if lower == "null":
        return None
    try:
        return int(raw)
    except ValueError:
        try:
            return float(raw)
        except ValueError:
            raise FilterError(f"{raw} is not a value: quote strings") from None


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], prefix: str = "", depth: int = 0) -> None:
        self.tokens = tokens
        self.pos = 0
        self.prefix = prefix
        self.depth = depth

    def deeper(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterError(f"the filter nests deeper than {MAX_DEPTH} levels")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise FilterError("the filter ends too early")
        self.pos += 1
        return token

    def parse(self) -> Filter:
        node = self.or_expr()
        if self.peek() is not None:
            raise FilterError(f"unexpected {self.peek()[1]!r} in the filter")  # type: ignore[index]
        return node

    def or_expr(self) -> Filter:
        node = self.and_expr()
        while (t := self.peek()) is not None and t[0] == "word" and t[1].lower() == "or":
            self.take()
            node = Logic("or", node, self.and_expr())
        return node

    def and_expr(self) -> Filter:
        node = self.term()
        while (t := self.peek()) is not None and t[0] == "word" and t[1].lower() == "and":
            self.take()
            node = Logic("and", node, self.term())
        return node

    def term(self) -> Filter:
        kind, value = self.take()
        if kind == "lp":
            self.deeper()
            node = self.or_expr()
            if self.take()[0] != "rp":
                raise FilterError("a parenthesis is not closed")
            self.depth -= 1
            return node
        if kind == "word" and value.lower() == "not":
            if self.take()[0] != "lp":
                raise FilterError("not must be followed by (")
            self.deeper()
            node = self.or_expr()
            if self.take()[0] != "rp":
                raise FilterError("a parenthesis is not closed")
            self.depth -= 1
            return Not(node)
        if kind != "word":
            raise FilterError(f"expected an attribute name, found {value!r}")
        path = value
        nxt = self.peek()
        if nxt is not None and nxt[0] == "lb":  # emails[type eq "work"] (a complex filter)
            self.take()
            if self.prefix:
                raise FilterError("a value filter cannot hold another one")
            inner = _Parser(self.tokens, prefix=f"{self.prefix}{path.lower()}.", depth=self.depth + 1)
            inner.pos = self.pos
            node = inner.or_expr()
            self.pos = inner.pos
            if self.take()[0] != "rb":
                raise FilterError("a bracket is not closed")
            return node
        op_kind, op = self.take()
        op = op.lower()
        if op_kind != "word" or op not in OPERATORS:
            raise FilterError(f"unknown operator {op!r}: use eq, ne, co, sw, ew, gt, ge, lt, le or pr")
        full = self.prefix + path.lower()
        if op == "pr":
            return Compare(full, "pr", None)
        value_kind, raw = self.take()
        if value_kind not in ("str", "word"):
            raise FilterError(f"expected a value after {op}")
        return Compare(full, op, _literal(value_kind, raw))


def parse_filter(text: str) -> Filter:
    """The filter ``text``; :class:`FilterError` when it is too long or unreadable."""
    if len(text) > MAX_FILTER:
        raise FilterError(f"the filter is longer than {MAX_FILTER} characters")
    tokens = _tokens(text)
    if not tokens:
        raise FilterError("the filter is empty")
    return _Parser(tokens).parse()


def _compare(actual: Any, op: str, wanted: Any, exact: bool) -> bool:
    if op == "pr":
        return actual not in (None, "", [], {})
    if isinstance(actual, bool) or isinstance(wanted, bool):
        return op in ("eq", "ne") and (actual == wanted) == (op == "eq")
    if actual is None:
        return op == "ne"
    a, w = str(actual), str(wanted)
    if not exact:
        a, w = a.casefold(), w.casefold()
    checks: dict[str, Callable[[], bool]] = {
        "eq": lambda: a == w,
        "ne": lambda: a != w,
        "co": lambda: w in a,
        "sw": lambda: a.startswith(w),
        "ew": lambda: a.endswith(w),
        "gt": lambda: a > w,
        "ge": lambda: a >= w,
        "lt": lambda: a < w,
        "le": lambda: a <= w,
    }
    return checks[op]()


def matches(node: Filter, values: Callable[[str], list[Any]]) -> bool:
    """Whether a resource matches: ``values(path)`` gives every value at a lower-cased path (a
    multi-valued attribute gives several; a complex filter is answered per item by the caller's
    ``values`` returning them flattened)."""
    if isinstance(node, Logic):
        if node.op == "and":
            return matches(node.left, values) and matches(node.right, values)
        return matches(node.left, values) or matches(node.right, values)
    if isinstance(node, Not):
        return not matches(node.inner, values)
    exact = node.path.split(":")[-1] in CASE_EXACT or node.path in CASE_EXACT
    found = values(node.path)
    if node.op == "ne":
        return all(_compare(v, "ne", node.value, exact) for v in found) if found else True
    if not found:
        return _compare(None, node.op, node.value, exact)
    return any(_compare(v, node.op, node.value, exact) for v in found)


@dataclass(frozen=True, slots=True)
class Path:
    """A PATCH path: ``attribute`` (lower-case, URN kept), an optional value filter on its items,
    and an optional sub-attribute (lower-case)."""

    attribute: str
    selector: Filter | None
    sub: str | None


_PATH = re.compile(
    r"(?P<attr>(?:urn:[A-Za-z0-9:._\-]+:)?[A-Za-z$][\w$\-]*)(?:\[(?P<filter>.*)\])?(?:\.(?P<sub>[A-Za-z$][\w$\-]*))?"
)


def parse_path(text: str) -> Path:
    """A PATCH operation's ``path``; :class:`FilterError` when unreadable."""
    if len(text) > MAX_FILTER:
        raise FilterError(f"the path is longer than {MAX_FILTER} characters")
    match = _PATH.fullmatch(text.strip())
    if match is None:
        raise FilterError(f"cannot read the path {text!r}")
    attr = match.group("attr")
    sub = match.group("sub")
    if sub is None and "." in attr and not attr.lower().startswith("urn:"):
        attr, sub = attr.split(".", 1)
    selector = parse_filter(match.group("filter")) if match.group("filter") else None
    return Path(attr.lower(), selector, sub.lower() if sub else None)
