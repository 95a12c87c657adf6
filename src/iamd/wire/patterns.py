"""Java regular expressions from botocore models, compiled for Python's ``re``.

Model ``pattern`` constraints were written for ``java.util.regex`` and are matched against the
whole value (Java's ``matches()``). Most compile unchanged; the differences handled here:

- ``\\p{L}``, ``\\p{Z}``, ``\\p{N}`` … Unicode categories, and Java's POSIX classes
  (``\\p{Alnum}``, ``\\p{Punct}`` …, ASCII-only as in Java), inside or outside ``[...]``;
- UTF-16 surrogate pairs written as ``\\uD800\\uDC00`` become the code point they encode;
- ``\\Q...\\E`` quoting;
- ``\\w``, ``\\d``, ``\\s`` and ``\\b`` are ASCII-only in Java, so patterns compile with
  :data:`re.ASCII` (explicit ``\\uXXXX`` ranges and categories are unaffected).

A pattern that still does not compile (character-class intersection ``&&``, a negated category
inside a class …) degrades gracefully: :func:`compile_pattern` returns ``None``, logs once, and the
constraint is not checked.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import sys
import unicodedata
from collections.abc import Iterator
from functools import cache
from importlib import resources

__all__ = ["compile_pattern", "translate_java_regex"]

log = logging.getLogger(__name__)

# Java's POSIX character classes (US-ASCII only unless UNICODE_CHARACTER_CLASS is set).
_POSIX: dict[str, str] = {
    "Lower": "a-z",
    "Upper": "A-Z",
    "ASCII": "\\x00-\\x7f",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Punct": "!-/:-@\\[-`{-~",
    "Graph": "!-~",
    "Print": " -~",
    "Blank": " \\t",
    "Cntrl": "\\x00-\\x1f\\x7f",
    "XDigit": "0-9a-fA-F",
    "Space": " \\t\\n\\x0b\\f\\r",
}

_SURROGATE_PAIR = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})", re.IGNORECASE)


class UnsupportedPattern(ValueError):
    """The Java pattern uses a feature with no Python translation."""


_RUNS_FILE = "unicode_category_runs.json"
"""Where each run of code points of one general category starts, for the ``unicodedata`` version
it was written from (``scripts/update-unicode-category-runs``): read in about a millisecond,
where asking ``unicodedata`` for every code point takes 0.2-0.3 s of CPU holding the
interpreter lock (the first TagUser after a start stalled every other request that long)."""


def category_runs() -> Iterator[tuple[int, str]]:
    """Each maximal run of code points of one general category: (its first code point, the
    category), in order from 0; computed from ``unicodedata`` (a few thousand Python
    iterations over the C-level map of every code point)."""
    start = 0
    for cat, run in itertools.groupby(map(unicodedata.category, map(chr, range(sys.maxunicode + 1)))):
        yield start, cat
        start += sum(1 for _ in run)


def _shipped_runs() -> list[tuple[int, str]] | None:
    """The runs shipped with iamd, if written from this Python's Unicode version."""
    try:
        data = json.loads(resources.files("iamd").joinpath("data", _RUNS_FILE).read_bytes())
    except (OSError, ValueError):
        return None
    if data.get("unidata_version") != unicodedata.unidata_version:
        return None
    return list(zip(data["starts"], data["categories"].split(), strict=True))


@cache
def _category_ranges() -> dict[str, str]:
    """For each Unicode general category (``Lu``) and major class (``L``), the ``re`` class body
    listing its code points as ranges. Built once, on first use of ``\\p{...}``."""
    runs = _shipped_runs() or list(category_runs())
    spans: dict[str, list[tuple[int, int]]] = {}
    for index, (start, cat) in enumerate(runs):
        end = runs[index + 1][0] - 1 if index + 1 < len(runs) else sys.maxunicode
        for key in (cat, cat[0]):
            ranges = spans.setdefault(key, [])
            if ranges and ranges[-1][1] == start - 1:
                ranges[-1] = (ranges[-1][0], end)
            else:
                ranges.append((start, end))
    return {key: "".join(_class_span(lo, hi) for lo, hi in ranges) for key, ranges in spans.items()}


def _class_span(lo: int, hi: int) -> str:
    if lo == hi:
        return _escape_cp(lo)
    return f"{_escape_cp(lo)}-{_escape_cp(hi)}"


def _escape_cp(cp: int) -> str:
    return f"\\U{cp:08x}" if cp > 0xFFFF else f"\\u{cp:04x}"


def _property_body(name: str) -> str:
    """The class body (without brackets) for ``\\p{name}``."""
    if name in _POSIX:
        return _POSIX[name]
    key = name
    for prefix in ("Is", "general_category=", "gc="):
        if key.startswith(prefix):
            key = key[len(prefix) :]
    aliases = {"Letter": "L", "Mark": "M", "Number": "N", "Punctuation": "P", "Symbol": "S"}
    key = aliases.get(key, key)
    if key in ("Separator", "Z"):
        key = "Z"
    ranges = _category_ranges()
    if key not in ranges:
        raise UnsupportedPattern(f"unknown character property \\p{{{name}}}")
    return ranges[key]


def translate_java_regex(pattern: str) -> str:
    """A Python ``re`` pattern equivalent to Java ``pattern``; raises :class:`UnsupportedPattern`
    when there is none."""
    pattern = _SURROGATE_PAIR.sub(
        lambda m: _escape_cp(0x10000 + ((int(m[1], 16) - 0xD800) << 10) + (int(m[2], 16) - 0xDC00)),
        pattern,
    )
    out: list[str] = []
    in_class = False
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt in "pP":
                name, i = _read_property_name(pattern, i + 2)
                body = _property_body(name)
                negated = nxt == "P"
                if in_class:
                    if negated:
                        raise UnsupportedPattern("negated property inside a character class")
                    out.append(body)
                else:
                    out.append(f"[{'^' if negated else ''}{body}]")
                continue
            if nxt == "Q":
                end = pattern.find("\\E", i + 2)
                literal = pattern[i + 2 :] if end < 0 else pattern[i + 2 : end]
                out.append(re.escape(literal))
                i = n if end < 0 else end + 2
                continue
            if nxt == "z":
                out.append("\\Z")
                i += 2
                continue
            if nxt == "Z":
                out.append("(?=\\n?\\Z)")
                i += 2
                continue
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if ch == "[":
                raise UnsupportedPattern("nested character class")
            if ch == "&" and pattern.startswith("&&", i):
                raise UnsupportedPattern("character class intersection")
            if ch == "]":
                in_class = False
            out.append(ch)
            i += 1
            continue
        if ch == "[":
            in_class = True
            out.append(ch)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":  # a literal ']' first in a class
                out.append("\\]")
                i += 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _read_property_name(pattern: str, start: int) -> tuple[str, int]:
    if start < len(pattern) and pattern[start] == "{":
        end = pattern.find("}", start)
        if end < 0:
            raise UnsupportedPattern("unterminated \\p{")
        return pattern[start + 1 : end], end + 1
    if start < len(pattern):
        return pattern[start], start + 1
    raise UnsupportedPattern("dangling \\p")


@cache
def compile_pattern(pattern: str) -> re.Pattern[str] | None:
    """The compiled, translated pattern (use ``fullmatch``), or ``None`` when it cannot be
    expressed in Python; cached per pattern."""
    try:
        return re.compile(translate_java_regex(pattern), re.ASCII)
    except (UnsupportedPattern, re.error) as exc:
        log.warning("model pattern %r is not checked: %s", pattern, exc)
        return None
