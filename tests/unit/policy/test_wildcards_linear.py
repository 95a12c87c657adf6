"""Wildcard matching is linear in its input (issue 10): every matcher agrees with a plain reference
matcher over random patterns (hypothesis), and patterns that made a backtracking regex run for
minutes (``*a`` many times then ``*b``, against a long run of ``a``) are answered in milliseconds."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iamd.policy.variables import Literal, Text, to_tokens
from iamd.policy.wildcards import (
    ANY,
    ANY_IN_SEGMENT,
    ONE,
    ONE_IN_SEGMENT,
    Token,
    compile_arn_glob,
    compile_glob,
    match_tokens,
)


def reference(tokens: Sequence[Token], text: str, ignore_case: bool = False) -> bool:
    """The set of text positions each prefix of the pattern can reach, token by token."""
    same = (lambda a, b: a.lower() == b.lower()) if ignore_case else (lambda a, b: a == b)
    n = len(text)
    reach = {0}
    for token in tokens:
        after: set[int] = set()
        for i in reach:
            if token == ANY:
                after.update(range(i, n + 1))
            elif token == ANY_IN_SEGMENT:
                after.add(i)
                j = i
                while j < n and text[j] != ":":
                    j += 1
                    after.add(j)
            elif token == ONE:
                if i < n:
                    after.add(i + 1)
            elif token == ONE_IN_SEGMENT:
                if i < n and text[i] != ":":
                    after.add(i + 1)
            elif isinstance(token, str) and i < n and same(text[i], token):
                after.add(i + 1)
        reach = after
    return n in reach


def glob_tokens(pattern: str, in_segment: bool = False) -> list[Token]:
    star, one = (ANY_IN_SEGMENT, ONE_IN_SEGMENT) if in_segment else (ANY, ONE)
    return [star if c == "*" else one if c == "?" else c for c in pattern]


def arn_reference(pattern: str, text: str) -> bool:
    """An ARN pattern: wildcards in the first five segments stay inside their segment (a pattern
    with fewer segments has its last one as the resource part), "*" alone matches anything."""
    if pattern == "*":
        return True
    parts = pattern.split(":", 5)
    tokens: list[Token] = []
    for part in parts[:-1]:
        tokens += [*glob_tokens(part, in_segment=True), ":"]
    return reference(tokens + glob_tokens(parts[-1]), text)


# Few letters, so random patterns and texts meet often; ":" and "/" to cross segments.
TEXT = st.text(alphabet="aAb:/", max_size=14)
PATTERN = st.text(alphabet="aAb:/*?", max_size=10)
LITERAL = st.sampled_from(["a", "A", "b", ":", "/", "*", "?"])
WILDCARD = st.sampled_from([ANY, ANY_IN_SEGMENT, ONE, ONE_IN_SEGMENT])


@settings(max_examples=600, deadline=None)
@given(PATTERN, TEXT, st.booleans())
def test_glob_agrees_with_the_reference(pattern: str, text: str, ignore_case: bool) -> None:
    assert compile_glob(pattern, ignore_case)(text) is reference(glob_tokens(pattern), text, ignore_case)


@settings(max_examples=600, deadline=None)
@given(PATTERN, TEXT)
def test_arn_glob_agrees_with_the_reference(pattern: str, text: str) -> None:
    assert compile_arn_glob(pattern)(text) is arn_reference(pattern, text)


@settings(max_examples=300, deadline=None)
@given(st.lists(PATTERN, min_size=1, max_size=7), st.lists(TEXT, min_size=1, max_size=7))
def test_arn_glob_agrees_on_arn_shaped_input(patterns: list[str], texts: list[str]) -> None:
    """Six or more segments on both sides, so the fixed segments really are compared."""
    pattern, text = ":".join(["arn", *patterns]), ":".join(["arn", *texts])
    assert compile_arn_glob(pattern)(text) is arn_reference(pattern, text)


@settings(max_examples=600, deadline=None)
@given(st.lists(st.one_of(LITERAL, WILDCARD), max_size=12), TEXT, st.booleans())
def test_any_token_list_agrees_with_the_reference(tokens: list[Token], text: str, ignore_case: bool) -> None:
    """Every mix of the four wildcard kinds, including mixes no policy produces."""
    assert match_tokens(tokens, text, ignore_case) is reference(tokens, text, ignore_case)


@settings(max_examples=600, deadline=None)
@given(st.lists(st.tuples(st.booleans(), PATTERN), max_size=8), TEXT, st.booleans())
def test_resolved_variables_agree_with_the_reference(
    pieces: list[tuple[bool, str]], text: str, arn: bool
) -> None:
    """Token lists as policy variables make them: policy text and substituted (literal) values."""
    tokens = to_tokens([Literal(s) if literal else Text(s) for literal, s in pieces], arn=arn)
    assert match_tokens(tokens, text) is reference(tokens, text)


# -- the patterns of the issue, timed in a child process (a backtracking matcher would never end) ---

_TIMED = """
import time
from iamd.policy.variables import Text, to_tokens
from iamd.policy.wildcards import (
    ANY, ANY_IN_SEGMENT, ONE_IN_SEGMENT, compile_arn_glob, compile_glob, match_tokens,
)
stars, length = {stars}, {length}
resource = "arn:aws:iam::*:user/" + "*a" * (stars - 1) + "*b"
name = "arn:aws:iam::123456789012:user/" + "a" * length
glob = "*a" * (stars - 1) + "*b"
segment = [ANY_IN_SEGMENT, "a"] * (stars - 1) + [ANY_IN_SEGMENT, "b"]
mixed = [ANY, "a", ANY_IN_SEGMENT, ONE_IN_SEGMENT] * (stars // 2) + [ANY, "b"]
checks = {{
    "resource": lambda: compile_arn_glob(resource)(name),
    "glob": lambda: compile_glob(glob)("a" * length),
    "glob, ignoring case": lambda: compile_glob(glob, True)("A" * length),
    "tokens": lambda: match_tokens(to_tokens([Text(resource)], arn=True), name),
    "tokens in a segment": lambda: match_tokens(segment, "a" * length),
    "mixed tokens": lambda: match_tokens(mixed, "a" * length),
}}
for label, check in checks.items():
    start = time.perf_counter()
    assert check() is False, label
    print(label, time.perf_counter() - start)
"""


@pytest.mark.parametrize(("stars", "length"), [(13, 64), (13, 200), (30, 2000)])
def test_pathological_patterns_answer_in_milliseconds(stars: int, length: int) -> None:
    code = textwrap.dedent(_TIMED.format(stars=stars, length=length))
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{stars} wildcards against {length} characters did not finish in 30 s")
    assert done.returncode == 0, done.stderr
    timings = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in done.stdout.splitlines()}
    assert len(timings) == 6
    slow = {label: seconds for label, seconds in timings.items() if seconds > 0.05}
    assert not slow, f"{stars} wildcards against {length} characters: {slow}"


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="aAb:/", max_size=10), TEXT, st.booleans(), st.lists(TEXT, max_size=6))
def test_one_trailing_star_is_a_prefix_test_that_agrees_with_the_reference(
    prefix: str, text: str, ignore_case: bool, segments: list[str]
) -> None:
    """``bucket/*`` shapes are matched without a regex (issue 17); they still mean what the
    reference says, in a whole-string glob and in an ARN of any number of segments."""
    pattern = prefix + "*"
    assert compile_glob(pattern, ignore_case)(text) is reference(glob_tokens(pattern), text, ignore_case)
    assert compile_arn_glob(pattern)(text) is arn_reference(pattern, text)
    arn_pattern, arn_text = ":".join(["arn", *segments, pattern]), ":".join(["arn", *segments, text])
    assert compile_arn_glob(arn_pattern)(arn_text) is arn_reference(arn_pattern, arn_text)
    assert compile_arn_glob(arn_pattern)(text) is arn_reference(arn_pattern, text)
