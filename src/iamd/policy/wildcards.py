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


_TOKEN_REGEX = {ANY: ".*", ANY_IN_SEGMENT: "[^:]*", ONE: ".", ONE_IN_SEGMENT: "[^:]"}


@lru_cache(maxsize=8192)
def _tokens_matcher(tokens: tuple[Token, ...], ignore_case: bool) -> Callable[[str], object]:
    if not any(isinstance(t, int) for t in tokens):
        literal = "".join(t for t in tokens if isinstance(t, str))
        if ignore_case:
            folded = literal.lower()
            return lambda text: text.lower() == folded
        return literal.__eq__
    regex = "".join(_TOKEN_REGEX[t] if isinstance(t, int) else re.escape(t) for t in tokens)
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if ignore_case else 0)).fullmatch


def match_tokens(tokens: Sequence[Token], text: str, ignore_case: bool = False) -> bool:
    """Match ``text`` against a token list (a pattern whose variables were resolved; see the
    module docstring). Each distinct resolved pattern becomes a matcher once and is remembered
    (bounded), so repeated requests never build it again."""
    return bool(_tokens_matcher(tuple(tokens), ignore_case)(text))
