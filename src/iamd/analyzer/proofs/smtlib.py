"""SMT-LIB text for the pieces of a policy: string literals, glob and ARN-glob regexes.

Formulas are written as SMT-LIB text and parsed by z3 in one call: building thousands of terms
through the Python API costs far more than parsing them (AWS's ReadOnlyAccess lists thousands of
action patterns). Every character outside ``[A-Za-z0-9]`` is written as a ``\\u{…}`` escape, so no
policy text can break out of a string literal.
"""

from __future__ import annotations

from functools import lru_cache

__all__ = [
    "ALL",
    "NOT_COLON",
    "and_",
    "arn_glob_regex",
    "glob_regex",
    "literal",
    "or_",
    "regex_literal",
]

ALL = "(re.* re.allchar)"
NOT_COLON = '(re.diff re.allchar (str.to_re "\\u{3a}"))'


def literal(text: str) -> str:
    """``text`` as an SMT-LIB string literal."""
    return '"' + "".join(c if c.isascii() and c.isalnum() else f"\\u{{{ord(c):x}}}" for c in text) + '"'


def regex_literal(text: str) -> str:
    return f"(str.to_re {literal(text)})"


def and_(parts: list[str]) -> str:
    parts = [p for p in parts if p != "true"]
    if "false" in parts:
        return "false"
    if not parts:
        return "true"
    return parts[0] if len(parts) == 1 else f"(and {' '.join(parts)})"


def or_(parts: list[str]) -> str:
    parts = [p for p in parts if p != "false"]
    if "true" in parts:
        return "true"
    if not parts:
        return "false"
    return parts[0] if len(parts) == 1 else f"(or {' '.join(parts)})"


def concat(parts: list[str]) -> str:
    parts = [p for p in parts if p != '(str.to_re "")']
    if not parts:
        return '(str.to_re "")'
    return parts[0] if len(parts) == 1 else f"(re.++ {' '.join(parts)})"


def _chunk(text: str, dot: str) -> list[str]:
    """Regex pieces for a glob chunk without ``*``: literals and ``?`` (one character)."""
    pieces: list[str] = []
    for i, part in enumerate(text.split("?")):
        if i:
            pieces.append(dot)
        if part:
            pieces.append(regex_literal(part))
    return pieces


@lru_cache(maxsize=65536)
def glob_regex(pattern: str, dot: str = "re.allchar") -> str:
    """``*`` = any run of ``dot``, ``?`` = one ``dot`` (``iamd.policy.wildcards.compile_glob``)."""
    pieces: list[str] = []
    for i, chunk in enumerate(pattern.split("*")):
        if i:
            pieces.append(f"(re.* {dot})")
        pieces.extend(_chunk(chunk, dot))
    return concat(pieces)


@lru_cache(maxsize=65536)
def arn_glob_regex(pattern: str) -> str | None:
    """The regex of ``iamd.policy.wildcards.arn_glob_test``: in the five fixed segments a wildcard
    stays inside its segment; in the resource part it spans anything. None for ``*``."""
    if pattern == "*":
        return None
    *head, resource = pattern.split(":", 5)
    pieces = [glob_regex(part, NOT_COLON) for part in head]
    out: list[str] = []
    for piece in pieces:
        out.extend((piece, regex_literal(":")))
    out.append(glob_regex(resource))
    return concat(out)
