"""Which writes the event loop runs itself on SQLite (iamd.server.inline_writes.InlineWrites):
only operations measured light, with small bodies; a slow run takes an operation off at once and
light runs bring it back gradually."""

from __future__ import annotations

import time

import pytest

from iamd.server.inline_writes import BODY_LIMIT, LIGHT_NS, InlineWrites

KEY = ("iam", "TagUser")


def _spin(ns: int) -> None:
    end = time.thread_time_ns() + ns
    while time.thread_time_ns() < end:
        pass


def test_an_operation_never_measured_is_not_light() -> None:
    assert not InlineWrites().light(KEY, 100)


def test_a_measured_light_operation_is_light_for_small_bodies_only() -> None:
    inline = InlineWrites()
    assert inline.measure(KEY, lambda: "answer") == "answer"
    assert inline.light(KEY, 100)
    assert inline.light(KEY, BODY_LIMIT)
    assert not inline.light(KEY, BODY_LIMIT + 1)
    assert not inline.light(("iam", "UntagUser"), 100)  # measured apart


def test_one_slow_run_takes_it_off_at_once_and_light_runs_bring_it_back() -> None:
    inline = InlineWrites()
    inline.measure(KEY, lambda: None)
    inline.measure(KEY, lambda: _spin(3 * LIGHT_NS))  # a password's hashing, say
    assert not inline.light(KEY, 100)
    inline.measure(KEY, lambda: None)
    assert not inline.light(KEY, 100)  # one light run is not enough
    for _ in range(12):
        inline.measure(KEY, lambda: None)
    assert inline.light(KEY, 100)


def test_a_run_that_fails_is_measured_too() -> None:
    inline = InlineWrites()

    def fail() -> None:
        _spin(3 * LIGHT_NS)
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        inline.measure(KEY, fail)
    assert not inline.light(KEY, 100)
