"""A JSON reader that remembers where every value stands.

Python's ``json`` module forgets positions and silently keeps the last of duplicate keys. Policy
findings must name the place of a problem (JSON path, line, column), the way Access Analyzer does,
so policy text is read with this small recursive-descent parser instead. It accepts exactly RFC 8259
JSON and reports the first syntax error with its position.

Reading positions costs: the parser walks the text a character at a time in Python. Most documents
have no finding to place, so the policy checker reads the *values* with :func:`decode` (Python's C
JSON decoder, with the same acceptance as :func:`parse_json`: anything it is unsure of goes to the
positioned parser) and asks for positions only when there is a finding, with :func:`locate` on the
tree :func:`parse_json` builds then. A value path names the member of an object by its key (the
first member of that name) or, for a later member of a repeated name, by ``(key, n)``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = [
    "NOWHERE",
    "JsonMembers",
    "JsonNode",
    "JsonNumber",
    "JsonSyntaxError",
    "KeyAt",
    "Position",
    "ValuePath",
    "decode",
    "from_python",
    "locate",
    "locate_in_text",
    "parse_json",
    "plain_json_text",
    "python_values",
    "root_position",
    "surrogate_free_text",
    "values_of",
]


@dataclass(frozen=True, slots=True)
class Position:
    """1-based line and column, 0-based character offset."""

    line: int
    column: int
    offset: int


@dataclass(slots=True)
class JsonNode:
    """One JSON value. ``kind`` is object, array, string, number, true, false or null.

    ``items`` holds an object's members in order (duplicates included, so they can be reported);
    ``elements`` an array's values; ``value`` a scalar's Python value.
    """

    kind: str
    pos: Position
    value: object = None
    items: list[tuple[str, Position, JsonNode]] = field(default_factory=list)
    elements: list[JsonNode] = field(default_factory=list)
    end: Position | None = None
    """Just past the value's last character (None for a tree built from Python values)."""

    def to_python(self) -> object:
        if self.kind == "object":
            return {k: v.to_python() for k, _, v in self.items}
        if self.kind == "array":
            return [e.to_python() for e in self.elements]
        return self.value


class JsonSyntaxError(ValueError):
    def __init__(self, message: str, pos: Position) -> None:
        super().__init__(f"{message} at line {pos.line}, column {pos.column}")
        self.message = message
        self.pos = pos


_WS = " \t\n\r"
_SURROGATE = re.compile("[\ud800-\udfff]")
_MAX_DEPTH = 64
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.line = 1
        self.line_start = 0

    def pos(self) -> Position:
        return Position(self.line, self.i - self.line_start + 1, self.i)

    def skip_ws(self) -> None:
        text, n = self.text, len(self.text)
        while self.i < n and text[self.i] in _WS:
            if text[self.i] == "\n":
                self.line += 1
                self.line_start = self.i + 1
            self.i += 1

    def fail(self, message: str) -> JsonSyntaxError:
        return JsonSyntaxError(message, self.pos())

    def value(self, depth: int) -> JsonNode:
        node = self._value(depth)
        node.end = self.pos()
        return node

    def _value(self, depth: int) -> JsonNode:
        if depth > _MAX_DEPTH:
            raise self.fail("JSON nested too deeply")
        self.skip_ws()
        if self.i >= len(self.text):
            raise self.fail("Unexpected end of JSON input")
        c = self.text[self.i]
        if c == "{":
            return self.obj(depth)
        if c == "[":
            return self.arr(depth)
        if c == '"':
            p = self.pos()
            return JsonNode("string", p, self.string())
        for word, kind, val in (("true", "true", True), ("false", "false", False), ("null", "null", None)):
            if self.text.startswith(word, self.i):
                p = self.pos()
                self.i += len(word)
                return JsonNode(kind, p, val)
        if c == "-" or c.isdigit():
            return self.number()
        raise self.fail(f"Unexpected character {c!r}")

    def obj(self, depth: int) -> JsonNode:
        node = JsonNode("object", self.pos())
        self.i += 1
        self.skip_ws()
        if self.text.startswith("}", self.i):
            self.i += 1
            return node
        while True:
            self.skip_ws()
            if not self.text.startswith('"', self.i):
                raise self.fail("Expected a string key")
            kpos = self.pos()
            key = self.string()
            self.skip_ws()
            if not self.text.startswith(":", self.i):
                raise self.fail("Expected ':' after a key")
            self.i += 1
            node.items.append((key, kpos, self.value(depth + 1)))
            self.skip_ws()
            if self.text.startswith(",", self.i):
                self.i += 1
                continue
            if self.text.startswith("}", self.i):
                self.i += 1
                return node
            raise self.fail("Expected ',' or '}'")

    def arr(self, depth: int) -> JsonNode:
        node = JsonNode("array", self.pos())
        self.i += 1
        self.skip_ws()
        if self.text.startswith("]", self.i):
            self.i += 1
            return node
        while True:
            node.elements.append(self.value(depth + 1))
            self.skip_ws()
            if self.text.startswith(",", self.i):
                self.i += 1
                continue
            if self.text.startswith("]", self.i):
                self.i += 1
                return node
            raise self.fail("Expected ',' or ']'")

    def string(self) -> str:
        text, n = self.text, len(self.text)
        self.i += 1
        out: list[str] = []
        start = self.i
        while True:
            if self.i >= n:
                raise self.fail("Unterminated string")
            c = text[self.i]
            if c == '"':
                out.append(text[start : self.i])
                self.i += 1
                return "".join(out)
            if c == "\\":
                out.append(text[start : self.i])
                esc = text[self.i + 1 : self.i + 2]
                if esc in _ESCAPES:
                    out.append(_ESCAPES[esc])
                    self.i += 2
                elif esc == "u":
                    out.append(self._unicode_escape())
                else:
                    raise self.fail("Invalid escape in string")
                start = self.i
                continue
            if c < " ":
                raise self.fail("Control character in string")
            self.i += 1

    def _unicode_escape(self) -> str:
        hexits = self.text[self.i + 2 : self.i + 6]
        if len(hexits) != 4 or any(h not in "0123456789abcdefABCDEF" for h in hexits):
            raise self.fail("Invalid \\u escape")
        code = int(hexits, 16)
        if 0xD800 <= code < 0xDC00 and self.text.startswith("\\u", self.i + 6):
            low = self.text[self.i + 8 : self.i + 12]
            if len(low) == 4 and all(h in "0123456789abcdefABCDEF" for h in low):
                lc = int(low, 16)
                if 0xDC00 <= lc < 0xE000:
                    self.i += 12
                    return chr(0x10000 + ((code - 0xD800) << 10) + (lc - 0xDC00))
        if 0xD800 <= code < 0xE000:
            # Half of a UTF-16 surrogate pair names no character: the text would not be Unicode
            # (nor encodable as UTF-8), and every message repeating it would fail to encode.
            raise self.fail(f"Invalid \\u escape: U+{code:04X} is a lone UTF-16 surrogate")
        self.i += 6
        return chr(code)

    def number(self) -> JsonNode:
        p = self.pos()
        text, n, start = self.text, len(self.text), self.i
        if text[self.i] == "-":
            self.i += 1
        if self.i < n and text[self.i] == "0":
            self.i += 1
        elif self.i < n and text[self.i].isdigit():
            while self.i < n and text[self.i].isdigit():
                self.i += 1
        else:
            raise self.fail("Invalid number")
        if self.i < n and text[self.i] == ".":
            self.i += 1
            if not (self.i < n and text[self.i].isdigit()):
                raise self.fail("Invalid number")
            while self.i < n and text[self.i].isdigit():
                self.i += 1
        if self.i < n and text[self.i] in "eE":
            self.i += 1
            if self.i < n and text[self.i] in "+-":
                self.i += 1
            if not (self.i < n and text[self.i].isdigit()):
                raise self.fail("Invalid number")
            while self.i < n and text[self.i].isdigit():
                self.i += 1
        raw = text[start : self.i]
        # Numbers keep their source text: policy values compare as strings ("10.0" stays "10.0").
        return JsonNode("number", p, raw)


def parse_json(text: str) -> JsonNode:
    """Parse JSON text into a positioned tree. Numbers keep their source text as ``value``.
    A lone UTF-16 surrogate, escaped or not, is a syntax error (the text is not Unicode)."""
    reader = _Reader(text)
    raw = _SURROGATE.search(text)
    if raw is not None:
        reader.i = raw.start()
        reader.line = text.count("\n", 0, raw.start()) + 1
        reader.line_start = text.rfind("\n", 0, raw.start()) + 1
        raise reader.fail(f"U+{ord(raw.group()):04X} is a lone UTF-16 surrogate, not a character")
    node = reader.value(0)
    reader.skip_ws()
    if reader.i != len(text):
        raise reader.fail("Unexpected text after the JSON value")
    return node


_NOWHERE = Position(0, 0, -1)
NOWHERE = _NOWHERE
"""The position of every value of a tree built from Python values (no text to point into)."""


def from_python(value: object, depth: int = 0) -> JsonNode:
    """Wrap already-decoded JSON (dicts, lists, scalars) in a tree without positions. Raises
    :class:`JsonSyntaxError` where the text form would be refused: nesting deeper than the
    parser takes, a lone UTF-16 surrogate in a key or a string."""
    if depth > _MAX_DEPTH:
        raise JsonSyntaxError("JSON nested too deeply", _NOWHERE)
    if isinstance(value, dict):
        node = JsonNode("object", _NOWHERE)
        node.items = [(_text(str(k)), _NOWHERE, from_python(v, depth + 1)) for k, v in value.items()]
        return node
    if isinstance(value, list | tuple):
        return JsonNode("array", _NOWHERE, elements=[from_python(v, depth + 1) for v in value])
    if value is True:
        return JsonNode("true", _NOWHERE, True)
    if value is False:
        return JsonNode("false", _NOWHERE, False)
    if value is None:
        return JsonNode("null", _NOWHERE, None)
    if isinstance(value, int | float):
        return JsonNode("number", _NOWHERE, repr(value) if isinstance(value, float) else str(value))
    if isinstance(value, str):
        return JsonNode("string", _NOWHERE, _text(value))
    return JsonNode("invalid", _NOWHERE, value)


def _text(value: str) -> str:
    found = _SURROGATE.search(value)
    if found is not None:
        message = f"U+{ord(found.group()):04X} is a lone UTF-16 surrogate, not a character"
        raise JsonSyntaxError(message, _NOWHERE)
    return value


# -- values without positions ----------------------------------------------------------------------


class JsonNumber(str):
    """A JSON number read from text, kept as its source text (``10.0`` stays ``10.0``)."""

    __slots__ = ()


class JsonMembers(list[tuple[str, object]]):
    """An object whose text repeats a member name: its members in order, repeats included (a
    plain ``dict`` would keep only the last). Objects without repeats decode to ``dict``."""

    __slots__ = ()


ValuePath = tuple[str | int | tuple[str, int], ...]
"""Where a value stands in a document: keys, array indexes, ``(key, n)`` for the n-th repeat."""


class KeyAt(NamedTuple):
    """The position of a member's name (not of its value)."""

    path: ValuePath


def _members(pairs: list[tuple[str, object]]) -> object:
    obj = dict(pairs)
    return obj if len(obj) == len(pairs) else JsonMembers(pairs)


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(
    object_pairs_hook=_members, parse_float=JsonNumber, parse_int=JsonNumber, parse_constant=_refuse_constant
)
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_EMPTY_PAIR = re.compile(r"\[\]|\{\}")


def _maybe_too_deep(text: str) -> bool:
    """False when no value of ``text`` can nest deeper than the parser takes; True when it might
    (or the text is not JSON): the positioned parser then decides. Costs a few C-level passes."""
    if text.count("{") + text.count("[") <= _MAX_DEPTH:
        return False
    skeleton = _NOT_BRACKET.sub("", _STRING.sub("", text))
    # Each pass removes the innermost empty pairs: after n passes every container holding at most
    # n levels is gone. Well short of the limit, anything left is handed to the exact parser.
    for _ in range(_MAX_DEPTH - 2):
        if not skeleton:
            return False
        skeleton = _EMPTY_PAIR.sub("", skeleton)
    return bool(skeleton)


def decode(text: str) -> tuple[object, JsonNode | None]:
    """The values of JSON text: objects as ``dict`` (``JsonMembers`` when a name repeats), arrays
    as ``list``, numbers as :class:`JsonNumber`, strings, True, False, None. Accepts and refuses
    exactly what :func:`parse_json` does (raising its :class:`JsonSyntaxError`); the positioned tree
    comes back too when it had to be built to decide (None otherwise)."""
    exact = (
        (not text.isascii() and _SURROGATE.search(text) is not None)
        or ("\\u" in text and _ESCAPED_SURROGATE.search(text) is not None)
        or _maybe_too_deep(text)
    )
    if not exact:
        try:
            return _DECODER.decode(text), None
        except (ValueError, RecursionError):
            pass  # the positioned parser gives the error and its place (or reads what json refused)
    node = parse_json(text)
    return values_of(node), node


def values_of(node: JsonNode) -> object:
    """The values of a positioned tree, as :func:`decode` gives them."""
    kind = node.kind
    if kind == "object":
        pairs = [(k, values_of(v)) for k, _, v in node.items]
        return _members(pairs)
    if kind == "array":
        return [values_of(e) for e in node.elements]
    if kind == "number":
        return JsonNumber(node.value)
    return node.value


def python_values(value: object) -> tuple[object, JsonNode | None]:
    """Already-decoded JSON as the checker reads it: ``value`` itself when :func:`from_python`
    would accept it as it stands (checked at C speed: no lone surrogate, nesting well inside the
    limit, every key a string, only JSON types), else the values of :func:`from_python`'s tree
    (raising its :class:`JsonSyntaxError`), with that tree."""
    try:
        dumped = _encode(value)
    except (TypeError, ValueError, RecursionError):
        dumped = None
    if (
        dumped is not None
        and (dumped.isascii() or _SURROGATE.search(dumped) is None)
        and not _maybe_too_deep(dumped)
    ):
        return value, None
    node = from_python(value)
    return values_of(node), node


def plain_json_text(text: str) -> bool:
    """True when :func:`python_values` needs no check of what ``json.loads(text)`` gives (the text as
    a whole or any value in it): a caller holding such a value may skip it
    (``parse_policy(..., plain=True)``). ``json.loads`` gives only built-in JSON types and string
    keys; C-level passes over the text rule out the two things ``from_python`` refuses in those: a
    lone surrogate (raw, or escaped: no ``\\u`` at all) and nesting past its limit (at most 64
    brackets in all, so that the re-encoded text has no more). What ``python_values`` would still
    hand to ``from_python`` then (a number that is not finite: NaN, Infinity, 1e400) comes back
    as values the checker reads the same way: numbers by their text (``repr`` of a float either
    way), without positions.
    False does not mean the values would be refused: only that they must be checked."""
    return surrogate_free_text(text) and text.count("[") + text.count("{") <= _MAX_DEPTH


def surrogate_free_text(text: str) -> bool:
    """True when no string ``json.loads(text)`` gives (key or value) can hold a lone surrogate: the
    text has no ``\\u`` escape and no raw surrogate. Half of :func:`plain_json_text`, the half
    that values of a bounded shape need (``parse.quick_policy``): those cannot nest past the limit
    whatever the text's bracket count. Two C-level passes at most, one a memchr."""
    # "\\" first: a one-character search is a memchr, the two-character one a slower scan.
    return ("\\" not in text or "\\u" not in text) and (text.isascii() or _SURROGATE.search(text) is None)


def _not_json(value: object) -> object:
    raise TypeError("not a JSON value")


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, default=_not_json)
_MAKE_C_ENCODER: Any = getattr(json.encoder, "c_make_encoder", None)
_C_ENCODER: Any = (
    None
    if _MAKE_C_ENCODER is None
    else _MAKE_C_ENCODER(None, _not_json, json.encoder.encode_basestring, None, ":", ",", False, False, False)
)


def _encode(value: object) -> str:
    """``value`` as JSON text (no indentation, non-ASCII kept), refusing what is not JSON. The C
    encoder is called directly: ``json.dumps`` sets one up on every call. Without a cycle check: a
    value that contains itself ends in RecursionError, which the caller treats as too deep."""
    if _C_ENCODER is None:
        return _ENCODER.encode(value)
    return "".join(_C_ENCODER(value, 0))


def root_position(text: str) -> Position:
    """Where the JSON value of ``text`` starts (its root's position), without parsing it."""
    i = len(text) - len(text.lstrip(_WS))
    line_start = text.rfind("\n", 0, i) + 1
    return Position(text.count("\n", 0, i) + 1, i - line_start + 1, i)


def locate(root: JsonNode, path: ValuePath | KeyAt) -> Position:
    """The position of the value at ``path`` (or of the member name, for a :class:`KeyAt`)."""
    on_key = isinstance(path, KeyAt)
    parts: Sequence[str | int | tuple[str, int]] = path.path if isinstance(path, KeyAt) else path
    node = root
    for i, part in enumerate(parts):
        if isinstance(part, int):
            node = node.elements[part]
            continue
        name, n = part if isinstance(part, tuple) else (part, 0)
        kpos, node = [(kpos, value) for key, kpos, value in node.items if key == name][n]
        if on_key and i == len(parts) - 1:
            return kpos
    return node.pos


# -- positions without the positioned tree ---------------------------------------------------------

_SPACE = re.compile(r"[ \t\n\r]*")
_skip_space: Callable[[str, int], re.Match[str] | None] = _SPACE.match
# The decoder's scanner (C) reads one value from an offset; scanstring (C) one string, past its quote.
_scan_value: Callable[[str, int], tuple[object, int]] = _DECODER.scan_once  # type: ignore[attr-defined]
_scan_string: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]


def _space_end(text: str, i: int) -> int:
    found = _skip_space(text, i)
    return i if found is None else found.end()


def locate_in_text(text: str, path: ValuePath | KeyAt) -> Position:
    """What :func:`locate` answers on ``parse_json(text)``, without building that tree: one pass
    from the start of the text to the place, skipping every value off the path with the C
    scanner. Only for text :func:`decode` read without the positioned parser (``decode`` gave no
    tree): that text is JSON as Python's decoder reads it, which the scanner relies on."""
    on_key = isinstance(path, KeyAt)
    parts: Sequence[str | int | tuple[str, int]] = path.path if isinstance(path, KeyAt) else path
    i = _space_end(text, 0)
    last = len(parts) - 1
    for depth, part in enumerate(parts):
        i = _space_end(text, i + 1)  # past the '[' or '{' and its white space
        if isinstance(part, int):
            for _ in range(part):
                i = _space_end(text, _scan_value(text, i)[1])
                i = _space_end(text, i + 1)  # past the ','
            continue
        name, n = part if isinstance(part, tuple) else (part, 0)
        while True:
            key_at = i
            key, i = _scan_string(text, i + 1)
            i = _space_end(text, _space_end(text, i) + 1)  # past the ':'
            if key == name:
                if n == 0:
                    if on_key and depth == last:
                        return offset_position(text, key_at)
                    break
                n -= 1
            i = _space_end(text, _scan_value(text, i)[1])
            i = _space_end(text, i + 1)  # past the ','
    return offset_position(text, i)


def offset_position(text: str, offset: int) -> Position:
    """The line and column of a character offset, as the positioned parser counts them (lines end
    at line feeds, which JSON text holds only in white space)."""
    line_start = text.rfind("\n", 0, offset) + 1
    return Position(text.count("\n", 0, offset) + 1, offset - line_start + 1, offset)
