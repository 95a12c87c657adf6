"""argon2id password hashing."""

from __future__ import annotations

import pytest

from iamd.secrets import DEFAULT_PARAMS, TEST_PARAMS, PasswordHashing


@pytest.fixture(scope="module")
def hashing() -> PasswordHashing:
    return PasswordHashing(TEST_PARAMS)


def test_hashes_are_argon2id_phc_strings_with_our_parameters(hashing: PasswordHashing) -> None:
    stored = hashing.hash("correct horse")
    assert stored.startswith("$argon2id$v=19$m=8192,t=1,p=1$")


def test_default_parameters_are_rfc_9106s() -> None:
    assert (DEFAULT_PARAMS.time_cost, DEFAULT_PARAMS.memory_cost, DEFAULT_PARAMS.parallelism) == (3, 65536, 4)


def test_hashes_are_salted(hashing: PasswordHashing) -> None:
    assert hashing.hash("same") != hashing.hash("same")


def test_verify(hashing: PasswordHashing) -> None:
    stored = hashing.hash("correct horse")
    assert hashing.verify(stored, "correct horse") is True
    assert hashing.verify(stored, "correct horsE") is False
    assert hashing.verify(stored, "") is False


def test_verify_is_false_for_a_malformed_hash(hashing: PasswordHashing) -> None:
    assert hashing.verify("not a hash", "x") is False
    assert hashing.verify("$argon2id$v=19$m=8192,t=1,p=1$broken", "x") is False


def test_needs_rehash_when_parameters_change(hashing: PasswordHashing) -> None:
    stored = hashing.hash("pw")
    assert hashing.needs_rehash(stored) is False
    assert PasswordHashing(DEFAULT_PARAMS).needs_rehash(stored) is True
    assert hashing.needs_rehash("garbage") is True


def test_argon2i_hashes_need_rehash(hashing: PasswordHashing) -> None:
    from argon2 import PasswordHasher, Type

    legacy = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1, type=Type.I).hash("pw")
    assert hashing.verify(legacy, "pw") is True  # still accepted…
    assert hashing.needs_rehash(legacy) is True  # …but upgraded at the next sign-in


def test_verify_dummy_is_always_false(hashing: PasswordHashing) -> None:
    assert hashing.verify_dummy("iamd dummy password") is False
