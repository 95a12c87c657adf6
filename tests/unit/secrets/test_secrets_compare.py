"""Constant-time comparison."""

from __future__ import annotations

from iamd.secrets import constant_time_equals


def test_equal_and_unequal() -> None:
    assert constant_time_equals("abc", "abc")
    assert not constant_time_equals("abc", "abd")
    assert not constant_time_equals("abc", "abcd")
    assert constant_time_equals(b"\x00\xff", b"\x00\xff")


def test_non_ascii_strings_and_mixed_types() -> None:
    assert constant_time_equals("pässwörd", "pässwörd")  # hmac.compare_digest alone refuses non-ASCII str
    assert not constant_time_equals("pässwörd", "passwort")
    assert constant_time_equals("abc", b"abc")
