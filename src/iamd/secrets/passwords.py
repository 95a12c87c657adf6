"""Password hashing with argon2id (RFC 9106).

Hashes are PHC strings (``$argon2id$v=19$m=...,t=...,p=...$salt$hash``) that carry their own
parameters, so raising the cost later only needs :meth:`PasswordHashing.needs_rehash` at the next
successful sign-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["DEFAULT_PARAMS", "TEST_PARAMS", "Argon2Params", "PasswordHashing"]


@dataclass(frozen=True, slots=True)
class Argon2Params:
    """argon2id cost parameters. ``memory_cost`` is in KiB."""

    time_cost: int
    memory_cost: int
    parallelism: int
    hash_len: int = 32
    salt_len: int = 16


# RFC 9106 section 4, second recommended option ("uniformly safe" with 64 MiB of memory).
DEFAULT_PARAMS: Final = Argon2Params(time_cost=3, memory_cost=64 * 1024, parallelism=4)
# Cheap parameters for test suites only: still argon2id, still salted, just fast.
TEST_PARAMS: Final = Argon2Params(time_cost=1, memory_cost=8 * 1024, parallelism=1)


class PasswordHashing:
    """Hash and verify passwords with argon2id under fixed, explicit parameters."""

    def __init__(self, params: Argon2Params = DEFAULT_PARAMS) -> None:
        self.params = params
        self._hasher = PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_cost,
            parallelism=params.parallelism,
            hash_len=params.hash_len,
            salt_len=params.salt_len,
            type=Type.ID,
        )
        self._dummy_hash: str | None = None

    def hash(self, password: str) -> str:
        """A new salted argon2id hash of `password`, as a PHC string."""
        return self._hasher.hash(password)

    def verify(self, stored_hash: str, password: str) -> bool:
        """True when `password` matches `stored_hash`; False on mismatch or an unreadable hash."""
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when `stored_hash` was made with other parameters (or another variant) than ours."""
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    def verify_dummy(self, password: str) -> bool:
        """Spend the time of one verification and return False.

        For sign-ins naming a user that does not exist or has no password, so the response time
        does not tell whether the user exists.
        """
        if self._dummy_hash is None:
            self._dummy_hash = self.hash("iamd dummy password")
        self.verify(self._dummy_hash, password)
        return False
