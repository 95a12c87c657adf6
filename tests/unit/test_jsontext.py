"""``jsontext.loads`` walks a decoded value only when its text could fail the walk (issue 17): the
text escapes a surrogate, or it has more brackets than the depth limit. Whatever it skips, the
full walk accepts: the answers are those of always walking."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.unit.fuzzing import FUZZ, json_values

from iamd import jsontext


def walked(text: str, max_depth: int = jsontext.MAX_DEPTH) -> str:
    """The answer of decoding and always walking: the value's JSON, or the error."""
    try:
        value = json.loads(text)
        jsontext._check(value, max_depth)
    except jsontext.JsonTextError as exc:
        return f"error: {exc}"
    except (ValueError, RecursionError):
        return "invalid"
    return json.dumps(value)


def loaded(text: str, max_depth: int = jsontext.MAX_DEPTH) -> str:
    try:
        return json.dumps(jsontext.loads(text, max_depth=max_depth))
    except jsontext.JsonTextError as exc:
        if str(exc).startswith("nested deeper") or "surrogate" in str(exc):
            return f"error: {exc}"
        return "invalid"


def nested(depth: int, inner: str = "1", opener: str = "[", closer: str = "]") -> str:
    return opener * depth + inner + closer * depth


@pytest.mark.parametrize(
    "text",
    [
        nested(99),
        nested(100),
        nested(101),
        nested(100, "[]"),
        nested(99, "[]"),
        '{"a":' * 100 + "1" + "}" * 100,
        '{"a":' * 101 + "1" + "}" * 101,
        "[" + ",".join(["[1]"] * 200) + "]",  # many brackets, shallow
        '["\\ud800"]',
        '{"\\udc00": 1}',
        '["\\ud83d\\ude00"]',  # a proper pair
        '["\\\\ud800"]',  # an escaped backslash, then text
        '["[[[[[[[[", "\\ud800"]',
        json.dumps(["x" * 10, {"k": ["\ud800"] * 3}] * 40),
    ],
)
def test_loads_answers_as_the_full_walk(text: str) -> None:
    assert loaded(text) == walked(text)
    assert loaded(text, max_depth=3) == walked(text, max_depth=3)


@FUZZ
@given(value=json_values(), depth=st.integers(0, 6))
def test_fuzz_loads_answers_as_the_full_walk(value: Any, depth: int) -> None:
    text = json.dumps(value)
    assert loaded(text, max_depth=depth) == walked(text, max_depth=depth)


def _error_of_json_loads(text: str) -> str | None:
    """The message ``loads`` gives for a text ``json.loads`` refuses, as it words it."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
    except ValueError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize(
    "text",
    ["\ufeff{}", "\ufeff", "{} x", "", " ", "[1,]", '{"a" 1}', "nan", "NaN", " \n{}\n ", "1" * 5000, '"\\x"'],
)
def test_loads_reads_and_refuses_as_json_loads(text: str) -> None:
    # loads decodes with its own decoder (json.loads without its keyword handling): the same
    # values, and the same errors, a leading BOM's included.
    expected = _error_of_json_loads(text)
    if expected is None:
        assert jsontext.loads(text) == json.loads(text) or text.strip() == "NaN"
    else:
        with pytest.raises(jsontext.JsonTextError) as caught:
            jsontext.loads(text)
        assert str(caught.value) == expected
