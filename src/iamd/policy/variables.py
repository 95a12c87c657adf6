"""Policy variables: ``${aws:username}``, ``${aws:PrincipalTag/team, 'default'}``, ``${*}``.

A string that may hold variables is parsed once into a template: policy text (whose ``*`` and ``?``
stay wildcards), literal text (from the ``${*}``, ``${?}``, ``${$}`` escapes and from substituted
values, whose wildcard characters never act as wildcards) and variable references. Resolving a
template against a request context gives either the pieces to match or None when a variable has
no value (and no default): such a pattern matches nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from iamd.policy.wildcards import ANY, ANY_IN_SEGMENT, ONE, ONE_IN_SEGMENT, Token

__all__ = [
    "ContextValue",
    "Literal",
    "Template",
    "Text",
    "Var",
    "VariableProblem",
    "has_variables",
    "parse_template",
    "resolve",
    "resolve_string",
    "to_tokens",
]

ContextValue = str | tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Text:
    """Policy text: its ``*`` and ``?`` are wildcards where the operator has wildcards."""

    text: str


@dataclass(frozen=True, slots=True)
class Literal:
    """Text that is always literal (an escape, or a substituted value)."""

    text: str


@dataclass(frozen=True, slots=True)
class Var:
    key: str
    """The context key, lower-cased (key names are case-insensitive)."""
    default: str | None


Piece = Text | Literal
Template = tuple[Text | Literal | Var, ...]


@dataclass(frozen=True, slots=True)
class VariableProblem:
    code: str
    message: str


_ESCAPES = {"*": "*", "?": "?", "$": "$"}
_KEY = re.compile(r"[A-Za-z0-9:/_.\-@+=]+")
# The key keeps its trailing spaces (stripped after): a lazy key followed by \s* would try every
# split of a run of spaces, quadratic in the reference's length.
_DEFAULT = re.compile(r"^(?P<key>[^,]*),\s*'(?P<default>[^']*)'$")


def parse_template(text: str) -> tuple[Template, list[VariableProblem]]:
    """Split ``text`` into pieces; malformed references stay policy text and are reported."""
    pieces: list[Text | Literal | Var] = []
    problems: list[VariableProblem] = []
    pos = 0
    buf: list[str] = []
    while True:
        start = text.find("${", pos)
        if start < 0:
            buf.append(text[pos:])
            break
        buf.append(text[pos:start])
        end = text.find("}", start + 2)
        if end < 0:
            problems.append(
                VariableProblem("MISSING_BRACE_IN_VARIABLE", f"Missing closing brace in {text!r}")
            )
            buf.append(text[start:])
            break
        body = text[start + 2 : end]
        pos = end + 1
        if body in _ESCAPES:
            if buf:
                pieces.append(Text("".join(buf)))
                buf = []
            pieces.append(Literal(_ESCAPES[body]))
            continue
        var, problem = _parse_reference(body)
        if problem is not None:
            problems.append(problem)
        if var is None:
            buf.append(text[start:pos])
            continue
        if buf:
            pieces.append(Text("".join(buf)))
            buf = []
        pieces.append(var)
    if any(buf):
        pieces.append(Text("".join(buf)))
    return tuple(p for p in pieces if not (isinstance(p, Text) and not p.text)), problems


def _parse_reference(body: str) -> tuple[Var | None, VariableProblem | None]:
    if not body.strip():
        return None, VariableProblem("EMPTY_VARIABLE", "Empty policy variable ${}")
    if "," in body:
        m = _DEFAULT.match(body)
        if m is None:
            return None, VariableProblem(
                "MISSING_QUOTE_IN_VARIABLE", f"The default value in ${{{body}}} must be in single quotes"
            )
        key, default = m.group("key").strip(), m.group("default")
    else:
        key, default = body, None
    if " " in key:
        return None, VariableProblem("UNSUPPORTED_SPACE_IN_VARIABLE", f"Space in policy variable ${{{body}}}")
    if not _KEY.fullmatch(key):
        return None, VariableProblem("INVALID_VARIABLE", f"Invalid policy variable ${{{body}}}")
    return Var(key.lower(), default), None


def has_variables(template: Template) -> bool:
    return any(not isinstance(p, Text) for p in template)


def resolve(template: Template, context: Mapping[str, ContextValue]) -> list[Piece] | None:
    """Substitute every variable; None when one has neither a single value nor a default."""
    out: list[Piece] = []
    for piece in template:
        if isinstance(piece, Var):
            value = context.get(piece.key)
            if not isinstance(value, str):
                if piece.default is None:
                    return None
                value = piece.default
            out.append(Literal(value))
        else:
            out.append(piece)
    return out


def resolve_string(template: Template, context: Mapping[str, ContextValue]) -> str | None:
    """The template as plain text (for operators without wildcards)."""
    pieces = resolve(template, context)
    return None if pieces is None else "".join(p.text for p in pieces)


def to_tokens(pieces: list[Piece], arn: bool) -> list[Token]:
    """Tokens for ``wildcards.match_tokens``: policy text keeps its wildcards, literals do not.

    With ``arn``, wildcards before the fifth colon stay inside their ARN segment.
    """
    tokens: list[Token] = []
    colons = 0
    for piece in pieces:
        literal = isinstance(piece, Literal)
        for ch in piece.text:
            in_head = arn and colons < 5
            if not literal and ch == "*":
                tokens.append(ANY_IN_SEGMENT if in_head else ANY)
            elif not literal and ch == "?":
                tokens.append(ONE_IN_SEGMENT if in_head else ONE)
            else:
                tokens.append(ch)
                if ch == ":":
                    colons += 1
    return tokens
