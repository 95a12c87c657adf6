"""Secrets: password hashing, at-rest encryption and token sealing, constant-time comparison, ids.

Errors::

    KekError                 the key-encryption key is missing, malformed or unsafe
     └── DecryptionError     a ciphertext or token does not authenticate (tampered, wrong key,
                             wrong purpose or row)
"""

from iamd.secrets.compare import constant_time_equals
from iamd.secrets.ids import IdSource, RandomIds, SeededIds
from iamd.secrets.kek import DecryptionError, Kek, KekError, load_kek, rotate_key_file
from iamd.secrets.passwords import DEFAULT_PARAMS, TEST_PARAMS, Argon2Params, PasswordHashing

__all__ = [
    "DEFAULT_PARAMS",
    "TEST_PARAMS",
    "Argon2Params",
    "DecryptionError",
    "IdSource",
    "Kek",
    "KekError",
    "PasswordHashing",
    "RandomIds",
    "SeededIds",
    "constant_time_equals",
    "load_kek",
    "rotate_key_file",
]
