"""What the fuzz tests share (issue 10): hypothesis strategies for hostile input and a seed corpus
of the shapes that broke iamd once. The seeds always run; hypothesis adds generated cases around
them, derandomized so a CI run is reproducible and bounded in time.

The shapes: lone UTF-16 surrogates (``\\ud800``, ``\\udc00``) in keys, values, parameters and
headers; nesting a thousand levels deep; numbers of thousands of digits; NUL bytes; bytes that are
not UTF-8 (also the CESU-8 form of a surrogate, ``ED A0 80``); values of the wrong JSON type.
"""

from __future__ import annotations

import json
from typing import Any, Final

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

FUZZ: Final = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
"""Settings of every fuzz test: about a second or two each."""

NASTY_CHARS: Final = ["\ud800", "\udbff", "\udc00", "\udfff", "\x00", "\ufffe", "\uffff", "\u202e", "\r", "€"]
DEEP: Final = 1000

# -- text -------------------------------------------------------------------------------------------

nasty_text = st.lists(
    st.one_of(st.sampled_from(NASTY_CHARS), st.text(max_size=8), st.characters()), max_size=12
).map("".join)
"""Text that may hold lone surrogates, NUL, noncharacters and anything else Unicode has."""

latin1_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=40)
"""Header values as an ASGI server hands them over (bytes read as Latin-1)."""


def json_values(keys: st.SearchStrategy[str] = nasty_text) -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        nasty_text,
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
        max_leaves=12,
    )


def escaped_json(value: Any) -> bytes:
    """``value`` as JSON text: lone surrogates become ``\\ud800`` escapes, as a client sends them."""
    return json.dumps(value).encode("ascii")


# -- the seed corpus --------------------------------------------------------------------------------


def deep_array(depth: int = DEEP) -> bytes:
    return b"[" * depth + b"]" * depth


def deep_object(depth: int = DEEP, key: bytes = b"a") -> bytes:
    return (b'{"' + key + b'":') * depth + b"1" + b"}" * depth


SEED_BODIES: Final[list[bytes]] = [
    b"",
    b"{}",
    b"null",
    b"[]",
    b'"text"',
    b"12",
    deep_array(),
    deep_object(),
    b'{"\\ud800": 1}',
    b'{"a": "\\udc00"}',
    b'{"a": ["x", "\\ud800\\ud800"]}',
    b'{"a": "\\ud83d\\ude00"}',  # a proper pair: valid
    b'{"a": 1' + b"0" * 5000 + b"}",
    b'{"a": 1e999999}',
    b'{"a": -1' + b"0" * 400 + b".5e-99999}",
    b'{"a": "\x00"}',
    b'{"a": "\\u0000"}',
    b"\x00",
    b"\xff\xfe{}",
    b'{"a": "\xed\xa0\x80"}',  # a surrogate in CESU-8: not UTF-8
    b'{"a": "\xc3"}',
    b'{"a": [1, 2',
    b'{"a": 1,}',
    b"[" * 100_000,
]
"""Bodies for JSON and REST-JSON operations (every value also lands where an object is expected:
the wrong type at the top)."""

SEED_TEXTS: Final[list[str]] = [
    "\ud800",
    "\udc00x",
    "a\ud83d",
    "\x00",
    "x" * 3000,
    "\ufffd",
    "",
    "1" * 5000,
    "\u202e\u0000\ud800",
]
"""Parameter values and keys for every protocol."""


def wrong_types(members: list[str]) -> list[bytes]:
    """A JSON object giving each member a value of each JSON type."""
    samples: list[Any] = [None, True, 1, 1.5, "s", [], {}, [[[]]], {"\ud800": "\udc00"}, 10**30]
    return [escaped_json({member: sample}) for member in members for sample in samples]
