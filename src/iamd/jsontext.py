"""JSON text from outside, read strictly, and text made safe to send back.

Python's ``json`` accepts two things iamd must not: an escape of one half of a UTF-16 surrogate
pair (``"\\ud800"`` decodes to a string that cannot be encoded as UTF-8, so any answer or trail
record that repeats it fails to encode) and nesting deep enough to exhaust the interpreter's stack
(``RecursionError``). :func:`loads` refuses both with a :class:`JsonTextError` (a ``ValueError``)
saying what was wrong and where, so each caller answers with its own 400.

:func:`scrub` is the defence behind that: it replaces any lone surrogate left in a text with
U+FFFD, for encoders that must never fail (error messages, trail records).

It stands outside :mod:`iamd.wire` (which imports botocore) so that ``iamd authorize`` reads its
cases without the protocols; ``iamd.wire.jsontext`` gives the same names.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

__all__ = ["MAX_DEPTH", "JsonTextError", "find_surrogate", "loads", "scrub"]

MAX_DEPTH: Final = 100
"""Deepest nesting of arrays and objects accepted (no AWS input shape comes near it)."""

_DECODER: Final = json.JSONDecoder()
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_ESCAPED_SURROGATE: Final = re.compile(r"\\u[dD][89a-fA-F]")


class JsonTextError(ValueError):
    """The text is not JSON iamd accepts; the message says why (and never repeats bad text)."""


def find_surrogate(text: str) -> int | None:
    """The index of the first lone UTF-16 surrogate in ``text``, or None."""
    if text.isascii():  # a flag of the string, no pass over it: most texts are ASCII
        return None
    found = _SURROGATE.search(text)
    return found.start() if found else None


def scrub(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (it is then valid Unicode)."""
    if text.isascii():  # a flag of the string: no pass over it (an ASCII text holds none)
        return text
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def loads(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Decode JSON text (bytes must be UTF-8). Raises :class:`JsonTextError` for invalid UTF-8,
    invalid JSON, nesting deeper than ``max_depth``, or a lone surrogate in a key or a string."""
    if isinstance(raw, bytes | bytearray):
        try:
            text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonTextError(f"not UTF-8 text: invalid byte at position {exc.start}") from None
    else:
        text = raw
        where = find_surrogate(text)
        if where is not None:
            raise JsonTextError(
                f"not valid Unicode: a lone surrogate U+{ord(text[where]):04X} at position {where}"
            )
    try:
        # json.loads(text) without its keyword handling: for a str and no options it is this
        # decoder's decode, once a leading BOM is ruled out (json.loads gives that its own error).
        value = json.loads(text) if text.startswith("\ufeff") else _DECODER.decode(text)
    except RecursionError:
        raise JsonTextError(f"nested deeper than {max_depth} levels") from None
    except json.JSONDecodeError as exc:
        raise JsonTextError(f"{exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except ValueError as exc:  # e.g. an integer of more digits than int() converts
        raise JsonTextError(str(exc)) from None
    # The walk below is the slow part of reading a large document, and most texts cannot fail it:
    # a decoded string holds a lone surrogate only if the text escapes one (raw ones were refused
    # above, and UTF-8 cannot carry them), and nesting deeper than max_depth needs more than
    # max_depth brackets. Counting and one search are C-level passes over the text.
    if (text.count("[") + text.count("{") > max_depth) or (
        "\\" in text  # one character: a memchr, where the two-character search is a slower scan
        and "\\u" in text
        and _ESCAPED_SURROGATE.search(text) is not None
    ):
        _check(value, max_depth)
    return value


def _check(value: Any, max_depth: int) -> None:
    """Walk a decoded value without recursion: depth and lone surrogates."""
    stack: list[tuple[Any, int, str]] = [(value, 0, "")]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, str):
            _check_string(item, path)
        elif isinstance(item, dict):
            if depth >= max_depth:
                raise JsonTextError(f"nested deeper than {max_depth} levels")
            for key, child in item.items():
                _check_string(key, path, key=True)
                stack.append((child, depth + 1, f"{path}.{key}" if path else key))
        elif isinstance(item, list):
            if depth >= max_depth:
                raise JsonTextError(f"nested deeper than {max_depth} levels")
            stack.extend((child, depth + 1, f"{path}[{i}]") for i, child in enumerate(item))


def _check_string(text: str, path: str, *, key: bool = False) -> None:
    if text.isascii():
        return
    where = find_surrogate(text)
    if where is None:
        return
    what = "a key" if key else "a string"
    place = f" at '{scrub(path)}'" if path else ""
    raise JsonTextError(f"not valid Unicode: {what}{place} holds a lone surrogate U+{ord(text[where]):04X}")
