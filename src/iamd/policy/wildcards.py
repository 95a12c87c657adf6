"""Wildcard matching: ``*`` (any run of characters) and ``?`` (exactly one).

Static patterns compile once into a regular expression (matched in C); patterns that contain policy
variables are resolved per request into a token list, compiled the same way and remembered (bounded).
ARN-shaped patterns are matched segment by segment: in the five fixed segments
(``arn:partition:service:region:account:``) a wildcard never crosses a colon; in the resource part it
spans ``/`` and ``:`` freely.

No pattern can make matching backtrack exponentially (a naive ``.*a.*a.*a…b`` regex takes minutes
on a 64-character name). A pattern is split at its stars into chunks of fixed length (literal
characters and ``?``): the first chunk is fixed at the start, the last at the end, and each chunk in
between at its leftmost occurrence after the one before, which is always the best place for it (a
later placement leaves less room for the rest). The regex says exactly that with atomic groups,
``(?>.*?chunk)``, which the engine never re-enters, so a match costs at most (text length) x
(pattern length) steps. In the ARN's fixed segments each segment with a star is its own atomic
group ending at its colon (a segment can end only at the first colon after its start). A token list
that mixes wildcard kinds in some other way (no policy produces one) is matched by a bit-parallel
simulation of the pattern, which is linear too.
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

_STARS = (ANY, ANY_IN_SEGMENT)
_IN_SEGMENT = (ANY_IN_SEGMENT, ONE_IN_SEGMENT)
_DOT = {ANY: ".", ONE: ".", ANY_IN_SEGMENT: "[^:]", ONE_IN_SEGMENT: "[^:]"}


def has_wildcard(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern


def _join_chunks(chunks: Sequence[str], dot: str) -> str:
    """The regex for a pattern cut at its stars into ``chunks`` (regexes of fixed length), whose
    matching cannot backtrack exponentially: see the module docstring. ``dot``: what a wildcard
    matches (``.``, or ``[^:]`` inside an ARN segment)."""
    if len(chunks) == 1:
        return chunks[0]
    first, *middle, last = chunks
    return first + "".join(f"(?>{dot}*?{chunk})" for chunk in middle if chunk) + f"{dot}*{last}"


def _glob_regex(pattern: str, dot: str) -> str:
    return _join_chunks([dot.join(map(re.escape, chunk.split("?"))) for chunk in pattern.split("*")], dot)


def _chunks_regex(tokens: Sequence[Token], dot: str) -> str:
    """``_glob_regex`` for tokens (literals, and wildcards of one kind)."""
    chunks: list[list[str]] = [[]]
    for token in tokens:
        if isinstance(token, int) and token in _STARS:
            chunks.append([])
        else:
            chunks[-1].append(dot if isinstance(token, int) else re.escape(token))
    return _join_chunks(["".join(chunk) for chunk in chunks], dot)


def _tokens_regex(tokens: Sequence[Token]) -> str | None:
    """The regex for a token list shaped like an ARN pattern: segments whose wildcards stay inside
    them (each up to its colon), then a tail whose wildcards are all of one kind. None for any
    other mix of wildcard kinds."""
    first_free = next((i for i, t in enumerate(tokens) if t in (ANY, ONE)), len(tokens))
    split = max((i for i in range(first_free) if tokens[i] == ":"), default=-1) + 1
    head, tail = tokens[:split], tokens[split:]
    kinds = {t in _IN_SEGMENT for t in tail if isinstance(t, int)}
    if len(kinds) > 1:
        return None
    pieces: list[str] = []
    segment: list[Token] = []
    for token in head:
        if token != ":":
            segment.append(token)
            continue
        regex = _chunks_regex(segment, "[^:]") + ":"
        pieces.append(f"(?>{regex})" if ANY_IN_SEGMENT in segment else regex)
        segment = []
    pieces.append(_chunks_regex(tail, "[^:]" if kinds == {True} else "."))
    return "".join(pieces)


def _star_prefix(pattern: str) -> str | None:
    """The text before the star of a pattern whose only wildcard is one ``*`` at its end."""
    if pattern.endswith("*") and pattern.count("*") == 1 and "?" not in pattern:
        return pattern[:-1]
    return None


def _prefix_test(prefix: str) -> Callable[[str], object]:
    return lambda text: text.startswith(prefix)


def _compile(regex: str, ignore_case: bool) -> Callable[[str], object]:
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if ignore_case else 0)).fullmatch


def _lazy(build: Callable[[], str], ignore_case: bool) -> Callable[[str], object]:
    """The ``fullmatch`` of the regex ``build`` writes, written and compiled on first use: that
    costs far more than a match, and a large policy set has many patterns no request ever tests
    (a 1,000-statement set compiles in milliseconds this way, not in a few hundred)."""
    compiled: Callable[[str], object] | None = None

    def fullmatch(text: str) -> object:
        nonlocal compiled
        if compiled is None:
            compiled = _compile(build(), ignore_case)
        return compiled(text)

    return fullmatch


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
    prefix = _star_prefix(pattern)
    if prefix is not None:
        if ignore_case:
            folded = prefix.lower()
            return lambda text: text.lower().startswith(folded)
        return lambda text: text.startswith(prefix)
    fullmatch = _lazy(lambda: _glob_regex(pattern, "."), ignore_case)
    return lambda text: fullmatch(text) is not None


@lru_cache(maxsize=65536)
def arn_glob_test(pattern: str) -> Callable[[str], object] | None:
    """Like ``compile_arn_glob`` but returns the bare test (truthy on a match), with no wrapper
    call in between; None for ``"*"``, which matches everything."""
    if pattern == "*":
        return None
    if not has_wildcard(pattern):
        return pattern.__eq__
    prefix = _star_prefix(pattern)
    if prefix is not None:
        # One star, at the end: it stands in the last segment (the resource part, where it spans
        # colons and slashes), every other character is literal: a prefix test, no regex (the
        # commonest shape, arn:aws:s3:::bucket/*).
        return _prefix_test(prefix)

    def regex() -> str:
        *head, resource = pattern.split(":", 5)
        segments = ((_glob_regex(part, "[^:]") + ":", "*" in part) for part in head)
        return "".join(f"(?>{s})" if star else s for s, star in segments) + _glob_regex(resource, ".")

    return _lazy(regex, False)


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


@lru_cache(maxsize=8192)
def _tokens_matcher(tokens: tuple[Token, ...], ignore_case: bool) -> Callable[[str], object]:
    if not any(isinstance(t, int) for t in tokens):
        literal = "".join(t for t in tokens if isinstance(t, str))
        if ignore_case:
            folded = literal.lower()
            return lambda text: text.lower() == folded
        return literal.__eq__
    regex = _tokens_regex(tokens)
    if regex is None:
        return lambda text: _simulate(tokens, text, ignore_case)
    return _compile(regex, ignore_case)


def match_tokens(tokens: Sequence[Token], text: str, ignore_case: bool = False) -> bool:
    """Match ``text`` against a token list (a pattern whose variables were resolved; see the
    module docstring). Each distinct resolved pattern becomes a matcher once and is remembered
    (bounded), so repeated requests never build it again."""
    return bool(_tokens_matcher(tuple(tokens), ignore_case)(text))


def _simulate(tokens: Sequence[Token], text: str, ignore_case: bool) -> bool:
    """Any token list, matched by following every way through the pattern at once: bit ``i`` of
    ``states`` is set when the tokens so far can match ``text[:i]``. Each token costs a few
    operations on (text length)-bit integers."""
    n = len(text)
    every = (1 << (n + 1)) - 1
    not_colon = sum(1 << i for i, c in enumerate(text) if c != ":")
    masks: dict[str, int] = {}
    states = 1
    for token in tokens:
        if token == ANY:
            states = every & ~((states & -states) - 1) if states else 0
        elif token == ANY_IN_SEGMENT:
            # Reach every position up to the next colon; the steps are taken 1, 2, 4… at a time.
            step, can = 1, not_colon
            while can and step <= n:
                states |= (states & can) << step
                can &= can >> step
                step <<= 1
        elif token == ONE:
            states = (states & (every >> 1)) << 1
        elif token == ONE_IN_SEGMENT:
            states = (states & not_colon) << 1
        else:
            assert isinstance(token, str)
            mask = masks.get(token)
            if mask is None:
                flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
                mask = sum(1 << m.start() for m in re.finditer(re.escape(token), text, flags))
                masks[token] = mask
            states = (states & mask) << 1
        if not states:
            return False
    return bool(states >> n & 1)
