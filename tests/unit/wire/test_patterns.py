"""Java regular expressions from the models, compiled for Python."""

from __future__ import annotations

import re
import unicodedata

import pytest

from iamd.wire import patterns
from iamd.wire.patterns import compile_pattern, translate_java_regex

from .helpers import CATALOG


def matches(pattern: str, value: str) -> bool:
    compiled = compile_pattern(pattern)
    assert compiled is not None
    return compiled.fullmatch(value) is not None


def test_every_pattern_of_the_served_services_compiles() -> None:
    broken = []
    for name in CATALOG.service_names:
        model = CATALOG.service(name)
        for shape_name in model.shape_names:
            pattern = model.shape_for(shape_name).metadata.get("pattern")
            if pattern and compile_pattern(pattern) is None:
                broken.append((name, shape_name, pattern))
    assert broken == []


def test_unicode_categories_inside_a_class() -> None:
    tag = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+"
    assert matches(tag, "Größe 東京 ١٢٣ a_b.c:d/e=f+g-h@i")
    assert not matches(tag, "a*b")
    assert not matches(tag, "a\tb")


def test_unicode_category_outside_a_class() -> None:
    assert matches(r"\p{L}+(?:\.\p{L}+){0,2}", "été.Noël")
    assert not matches(r"\p{L}+", "abc1")
    assert matches(r"\P{N}+", "abc")


def test_posix_classes_are_ascii_as_in_java() -> None:
    assert matches(r"\p{Alnum}+", "abc123")
    assert not matches(r"\p{Alnum}+", "é")
    assert matches(r"[\p{Punct}]+", "!-/:@[`{~")


def test_shorthand_classes_are_ascii_as_in_java() -> None:
    iam_name = r"[\w+=,.@-]+"
    assert matches(iam_name, "bob+alias=x,y.z@example-1")
    assert not matches(iam_name, "bób")
    assert not matches(iam_name, "bob smith")


def test_surrogate_pairs_become_supplementary_code_points() -> None:
    pattern = r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*"
    assert translate_java_regex(pattern) == r"[\u0020-\uD7FF\uE000-\uFFFD\U00010000-\U0010ffff\t]*"
    assert matches(pattern, "emoji 😀 ok\t")
    assert not matches(pattern, "bell \x07")


def test_quoted_literals() -> None:
    assert matches(r"\Q*.*\E[a-z]+", "*.*abc")
    assert not matches(r"\Q*.*\E[a-z]+", "xyzabc")


def test_patterns_match_the_whole_value() -> None:
    assert not matches("[a-z]+", "abc1")
    assert matches("^arn:aws:iam::\\d{12}:root$", "arn:aws:iam::111122223333:root")


@pytest.mark.parametrize("pattern", [r"[a-z&&[^b]]+", r"[\P{L}]+", r"\p{NoSuchProperty}", "(unclosed"])
def test_untranslatable_patterns_degrade_to_no_check(pattern: str) -> None:
    assert compile_pattern(pattern) is None


def test_the_shipped_unicode_category_runs_are_this_pythons() -> None:
    """The runs iamd ships (scripts/update-unicode-category-runs) are those ``unicodedata`` gives
    for the Unicode version they name; on the Python iamd supports, that version is its own."""
    shipped = patterns._shipped_runs()
    if shipped is None:
        pytest.skip(
            f"the shipped runs are not Unicode {unicodedata.unidata_version}'s: "
            "run scripts/update-unicode-category-runs"
        )
    assert shipped == list(patterns.category_runs())


def test_category_ranges_from_the_shipped_runs_or_without_them_are_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the shipped runs, or computed from ``unicodedata`` (another Python's Unicode version),
    ``\\p{...}`` translates to the same classes, and a letter outside ASCII matches the tag
    pattern either way."""
    patterns._category_ranges.cache_clear()
    shipped = patterns._category_ranges()
    monkeypatch.setattr(patterns, "_shipped_runs", lambda: None)
    patterns._category_ranges.cache_clear()
    try:
        computed = patterns._category_ranges()
    finally:
        patterns._category_ranges.cache_clear()
    assert shipped == computed
    assert set(computed) >= {"L", "Lu", "Ll", "N", "Nd", "Z", "Zs", "P", "S", "C", "M"}
    tag_value = re.compile(patterns.translate_java_regex(r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*"))
    assert tag_value.fullmatch("Zürich 東京 ٣")
    assert not tag_value.fullmatch("a;b")
