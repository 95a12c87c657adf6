"""Sign-in throttling: exponential delays per identity and address, spraying per address, and a
bounded slowdown (never a refusal) per identity from anywhere."""

from __future__ import annotations

from iamd.console.throttle import IDENTITY_SLOWDOWN_CAP, PAIR_CAP, SignInThrottle


def test_delays_grow_after_free_failures() -> None:
    throttle = SignInThrottle()
    now = 1000.0
    for _ in range(3):
        throttle.failure("alice", "10.0.0.1", now)
        assert throttle.wait_for("alice", "10.0.0.1", now) == 0
    waits = []
    for _ in range(6):
        throttle.failure("alice", "10.0.0.1", now)
        waits.append(throttle.wait_for("alice", "10.0.0.1", now))
    assert waits == [1, 2, 4, 8, 16, 32]
    for _ in range(20):
        throttle.failure("alice", "10.0.0.1", now)
    assert throttle.wait_for("alice", "10.0.0.1", now) == PAIR_CAP
    assert throttle.wait_for("alice", "10.0.0.1", now + PAIR_CAP) == 0


def test_the_real_user_elsewhere_is_never_refused() -> None:
    throttle = SignInThrottle()
    now = 1000.0
    for n in range(200):
        throttle.failure("alice", f"10.0.{n // 250}.{n % 250}", now)
    assert throttle.wait_for("alice", "192.0.2.7", now) == 0
    assert 0 < throttle.slowdown("alice", now) <= IDENTITY_SLOWDOWN_CAP


def test_spraying_from_one_address_is_delayed() -> None:
    throttle = SignInThrottle()
    now = 1000.0
    for n in range(25):
        throttle.failure(f"user{n}", "10.0.0.9", now)
    assert throttle.wait_for("someone-new", "10.0.0.9", now) > 0
    assert throttle.wait_for("someone-new", "10.0.0.10", now) == 0


def test_success_clears_the_pair_and_counts_are_forgotten() -> None:
    throttle = SignInThrottle()
    for _ in range(6):
        throttle.failure("bob", "10.0.0.1", 0.0)
    assert throttle.wait_for("bob", "10.0.0.1", 0.0) > 0
    throttle.success("bob", "10.0.0.1")
    assert throttle.wait_for("bob", "10.0.0.1", 0.0) == 0
    for _ in range(6):
        throttle.failure("carol", "10.0.0.1", 0.0)
    assert throttle.wait_for("carol", "10.0.0.1", 4000.0) == 0
