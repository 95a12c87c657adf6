"""Wildcard matching: ``*`` (any run of characters) and ``?`` (exactly one).

Static patterns compile once into a regular expression (matched in C); patterns that contain policy
variables are resolved per request into a token list and matched here without building a regex.
ARN-shaped patterns are matched segment by segment: in the five fixed segments
(``arn:partition:service:region:account:``) a wildcard never crosses a colon; in the resource part it
spans ``/`` and ``:`` freely.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache

__all__ = [
    "ANY",
    "ANY_IN_SEGMENT",
    "ONE",
    "ONE_IN_SEGMENT",
    "Matcher",
    "Token",
    "arn_glob_test",
    "compile_arn_glob",
    "compile_glob",
    "has_wildcard",
    "match_tokens",
]

Matcher = Callable[[str], bool]

# Pattern tokens for request-time matching: a one-character string is a literal character;
# these four integers are wildcards.
ANY = 0
ANY_IN_SEGMENT = 1
ONE = 2
ONE_IN_SEGMENT = 3
Token = str | int


def has_wildcard(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern


def _glob_regex(pattern: str, star: str, qmark: str) -> str:
    return "".join(star if c == "*" else qmark if c == "?" else re.escape(c) for c in pattern)


@lru_cache(maxsize=65536)
def compile_glob(pattern: str, ignore_case: bool = False) -> Matcher:
    """A matcher for a whole-string glob; literal patterns compare without a regex."""
    if not has_wildcard(pattern):
        if ignore_case:
            folded = pattern.lower()
            return lambda text: text.lower() == folded
        return pattern.__eq__
    if pattern == "*":
        return lambda text: True
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    fullmatch = re.compile(_glob_regex(pattern, ".*", "."), flags).fullmatch
    return lambda text: fullmatch(text) is not None


@lru_cache(maxsize=65536)
def arn_glob_test(pattern: str) -> Callable[[str], object] | None:
    """Like ``compile_arn_glob`` but returns the bare test (truthy on a match), with no wrapper
    call in between; None for ``"*"``, which matches everything."""
    if pattern == "*":
        return None
    if not has_wildcard(pattern):
        return pattern.__eq__
    parts = pattern.split(":", 5)
    head = [_glob_regex(p, "[^:]*", "[^:]") for p in parts[:-1]]
    return re.compile(":".join([*head, _glob_regex(parts[-1], ".*", ".")]), re.DOTALL).fullmatch


@lru_cache(maxsize=65536)
def compile_arn_glob(pattern: str) -> Matcher:
    """A case-sensitive matcher for an ARN pattern, segment-aware as described above.

    ``"*"`` alone matches everything. A pattern with fewer than six segments treats its last
    segment as the resource part.
    """
    test = arn_glob_test(pattern)
    if test is None:
        return lambda text: True
    return lambda text: bool(test(text))


def match_tokens(tokens: Sequence[Token], text: str, ignore_case: bool = False) -> bool:
    """Match ``text`` against a token list (see the module docstring) by NFA simulation."""
    if ignore_case:
        text = text.lower()
        tokens = [t.lower() if isinstance(t, str) else t for t in tokens]
    n = len(tokens)

    def closure(states: set[int]) -> set[int]:
        # A star may match nothing: a state before a star also stands after it.
        out = set(states)
        stack = list(states)
        while stack:
            s = stack.pop()
            if (
                s < n
                and isinstance(tokens[s], int)
                and tokens[s] in (ANY, ANY_IN_SEGMENT)
                and s + 1 not in out
            ):
                out.add(s + 1)
                stack.append(s + 1)
        return out

    states = closure({0})
    for ch in text:
        nxt: set[int] = set()
        for s in states:
            if s >= n:
                continue
            tok = tokens[s]
            if isinstance(tok, str):
                if tok == ch:
                    nxt.add(s + 1)
            elif tok == ANY or (tok == ANY_IN_SEGMENT and ch != ":"):
                nxt.add(s)
            elif tok == ONE or (tok == ONE_IN_SEGMENT and ch != ":"):
                nxt.add(s + 1)
        if not nxt:
            return False
        states = closure(nxt)
    return n in states
