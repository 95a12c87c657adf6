"""Identifiers that look like AWS's.

Unique ids are a four-letter prefix naming the kind of entity and random characters from the
base32 alphabet (``A-Z2-7``), as AWS's are:

======  ===========================  ======
prefix  kind                         length
======  ===========================  ======
AIDA    IAM user                     21
AGPA    group                        21
AROA    role                         21
ANPA    managed policy               21
ANVA    managed policy version       21
AIPA    instance profile             21
ASCA    server certificate           21
ACCA    service-specific credential  21
APKA    SSH public key               20
AKIA    long-term access key id      20
ASIA    temporary access key id      20
======  ===========================  ======

Secret access keys are 40 characters of ``A-Za-z0-9/+``; account ids are 12 digits.

Ids are drawn from an :class:`IdSource`: :class:`RandomIds` in production (the ``secrets`` module),
:class:`SeededIds` in tests (the same seed gives the same sequence).
"""

from __future__ import annotations

import random
import re
import secrets
import string
from typing import Final, Protocol

from iamd.secrets.entropy import random_bytes

__all__ = [
    "ACCESS_KEY_ID_RE",
    "ACCOUNT_ID_RE",
    "SECRET_ACCESS_KEY_RE",
    "SESSION_KEY_ID_RE",
    "UNIQUE_ID_RE",
    "IdSource",
    "RandomIds",
    "SeededIds",
]

BASE32: Final = string.ascii_uppercase + "234567"
SECRET_ALPHABET: Final = string.ascii_letters + string.digits + "/+"
SERVICE_PASSWORD_ALPHABET: Final = string.ascii_letters + string.digits + "/+"

UNIQUE_ID_RE: Final = re.compile(r"A(IDA|GPA|ROA|NPA|NVA|IPA|SCA|CCA)[A-Z2-7]{17}")
ACCESS_KEY_ID_RE: Final = re.compile(r"AKIA[A-Z2-7]{16}")
SESSION_KEY_ID_RE: Final = re.compile(r"ASIA[A-Z2-7]{16}")
SECRET_ACCESS_KEY_RE: Final = re.compile(r"[A-Za-z0-9/+]{40}")
ACCOUNT_ID_RE: Final = re.compile(r"[0-9]{12}")


class IdSource(Protocol):
    """Where new identifiers come from (injected, so tests can make them predictable)."""

    def user_id(self) -> str: ...
    def group_id(self) -> str: ...
    def role_id(self) -> str: ...
    def policy_id(self) -> str: ...
    def policy_version_id(self) -> str: ...
    def instance_profile_id(self) -> str: ...
    def server_certificate_id(self) -> str: ...
    def service_credential_id(self) -> str: ...
    def ssh_public_key_id(self) -> str: ...
    def signing_certificate_id(self) -> str: ...
    def access_key_id(self) -> str: ...
    def session_access_key_id(self) -> str: ...
    def secret_access_key(self) -> str: ...
    def service_password(self) -> str: ...
    def account_id(self) -> str: ...
    def lowercase_token(self, length: int) -> str: ...


class _IdGenerator:
    """Every kind of id, built on one primitive: `length` characters drawn from `alphabet`."""

    def _chars(self, alphabet: str, length: int) -> str:
        raise NotImplementedError

    def _unique(self, prefix: str, length: int = 17) -> str:
        return prefix + self._chars(BASE32, length)

    def user_id(self) -> str:
        return self._unique("AIDA")

    def group_id(self) -> str:
        return self._unique("AGPA")

    def role_id(self) -> str:
        return self._unique("AROA")

    def policy_id(self) -> str:
        return self._unique("ANPA")

    def policy_version_id(self) -> str:
        return self._unique("ANVA")

    def instance_profile_id(self) -> str:
        return self._unique("AIPA")

    def server_certificate_id(self) -> str:
        return self._unique("ASCA")

    def service_credential_id(self) -> str:
        return self._unique("ACCA")

    def ssh_public_key_id(self) -> str:
        return self._unique("APKA", 16)

    def signing_certificate_id(self) -> str:
        # AWS's certificate ids are 24+ word characters without a fixed prefix.
        return self._chars(BASE32, 32)

    def access_key_id(self) -> str:
        return self._unique("AKIA", 16)

    def session_access_key_id(self) -> str:
        return self._unique("ASIA", 16)

    def secret_access_key(self) -> str:
        return self._chars(SECRET_ALPHABET, 40)

    def service_password(self) -> str:
        return self._chars(SERVICE_PASSWORD_ALPHABET, 44)

    def account_id(self) -> str:
        return self._chars("123456789", 1) + self._chars(string.digits, 11)

    def lowercase_token(self, length: int) -> str:
        """Lower-case letters and digits, as in AWS Organizations' ids (``o-…``, ``ou-…``, ``p-…``)."""
        return self._chars(string.ascii_lowercase + string.digits, length)


class RandomIds(_IdGenerator):
    """Ids from the operating system's CSPRNG."""

    def _chars(self, alphabet: str, length: int) -> str:
        # One read of random bytes per id (``secrets.choice`` reads once per character: 17 system
        # calls for a user id, 27,000 for the AWS managed policies loaded at a first start). Each
        # byte below the largest multiple of the alphabet's size picks ``byte % size``, so every
        # character is equally likely; the bytes above it are skipped (none for the 32- and
        # 64-character alphabets).
        size = len(alphabet)
        if size > 256 or length <= 0:  # more characters than a byte tells apart (none here)
            return "".join(secrets.choice(alphabet) for _ in range(length))
        limit = 256 - 256 % size
        chosen: list[str] = []
        while True:
            for byte in random_bytes(length + 8):
                if byte < limit:
                    chosen.append(alphabet[byte % size])
                    if len(chosen) == length:
                        return "".join(chosen)


class SeededIds(_IdGenerator):
    """A repeatable sequence of ids, for tests only (not unpredictable: never for secrets in use)."""

    def __init__(self, seed: int | str = 0) -> None:
        self._random = random.Random(seed)

    def _chars(self, alphabet: str, length: int) -> str:
        return "".join(self._random.choice(alphabet) for _ in range(length))
