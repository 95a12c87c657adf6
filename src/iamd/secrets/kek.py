"""At-rest encryption of stored secrets and sealing of opaque tokens, under a key-encryption key.

A :class:`Kek` holds one or more 256-bit master keys. The first one encrypts; all of them decrypt,
so keys can rotate: put a new key first, keep the old ones until every row was re-encrypted
(:meth:`Kek.needs_reencrypt`), then drop them.

Two subkeys are derived from each master key with HKDF-SHA256, one for stored secrets and one for
tokens, so a stored ciphertext can never be replayed as a token and the other way round.

Format of a ciphertext (bytes)::

    version (1 byte, 0x01) | key id (4 bytes) | nonce (12 bytes) | AES-256-GCM ciphertext + tag

The associated data binds the ciphertext to its header, to what it is for (`purpose`, e.g.
``"access-key-secret"``) and, for stored secrets, to the row it belongs to (`row_id`): a ciphertext
copied to another row or another column does not decrypt. A token is the same bytes in URL-safe
base64 without padding.

Nonces are random (96 bits); rotate the key well before 2**32 encryptions under one key.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import secrets
import stat
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from iamd.secrets.entropy import random_bytes

__all__ = [
    "ENV_VAR",
    "KEY_FILE_NAME",
    "DecryptionError",
    "Kek",
    "KekError",
    "load_kek",
    "rotate_key_file",
]

ENV_VAR: Final = "IAMD_KEK"
KEY_FILE_NAME: Final = "kek"
KEY_SIZE: Final = 32
FORMAT_VERSION: Final = 1
_NONCE_SIZE: Final = 12
_KEY_ID_SIZE: Final = 4
_HEADER_SIZE: Final = 1 + _KEY_ID_SIZE
_MIN_SIZE: Final = _HEADER_SIZE + _NONCE_SIZE + 16
_TOKEN_RE: Final = re.compile(r"[A-Za-z0-9_-]+")
_AT_REST: Final = b"at-rest"
_TOKEN: Final = b"token"


class KekError(Exception):
    """The key-encryption key is missing, malformed or unsafe to use."""


class DecryptionError(KekError):
    """A ciphertext or token is malformed, tampered with, under an unknown key, or for another use."""


def _derive(master: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=b"iamd/v1/" + info).derive(master)


def _field(value: str) -> bytes:
    raw = value.encode("utf-8")
    return len(raw).to_bytes(4, "big") + raw


class _Key:
    __slots__ = ("at_rest", "key_id", "token")

    def __init__(self, master: bytes) -> None:
        if len(master) != KEY_SIZE:
            raise KekError(f"a key-encryption key must be {KEY_SIZE} bytes, got {len(master)}")
        self.key_id = _derive(master, b"key-id", _KEY_ID_SIZE)
        self.at_rest = AESGCM(_derive(master, _AT_REST, KEY_SIZE))
        self.token = AESGCM(_derive(master, _TOKEN, KEY_SIZE))

    def cipher(self, domain: bytes) -> AESGCM:
        return self.at_rest if domain == _AT_REST else self.token


class Kek:
    """A key ring: the first key encrypts, every key decrypts."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise KekError("no key-encryption key given")
        self._keys = [_Key(k) for k in keys]
        self._by_id = {k.key_id: k for k in self._keys}
        if len(self._by_id) != len(self._keys):
            raise KekError("duplicate key-encryption keys (or a key id collision)")

    @classmethod
    def generate(cls) -> Kek:
        """A ring with one new random key."""
        return cls([secrets.token_bytes(KEY_SIZE)])

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Hex ids of the keys, current first (they appear in ciphertext headers)."""
        return tuple(k.key_id.hex() for k in self._keys)

    # -- stored secrets -------------------------------------------------------------------------

    def encrypt(self, plaintext: bytes, *, purpose: str, row_id: str) -> bytes:
        """Encrypt a secret to store in the row `row_id`, for `purpose`."""
        return self._encrypt(_AT_REST, plaintext, _field(purpose) + _field(row_id))

    def decrypt(self, ciphertext: bytes, *, purpose: str, row_id: str) -> bytes:
        """Decrypt what :meth:`encrypt` returned for the same `purpose` and `row_id`."""
        return self._decrypt(_AT_REST, ciphertext, _field(purpose) + _field(row_id))

    def needs_reencrypt(self, ciphertext: bytes) -> bool:
        """True when `ciphertext` is not under the current key (decrypt it and encrypt it again)."""
        return ciphertext[1:_HEADER_SIZE] != self._keys[0].key_id

    # -- tokens ---------------------------------------------------------------------------------

    def seal(self, payload: bytes, *, purpose: str) -> str:
        """Authenticated-encrypt `payload` into an opaque URL-safe token for `purpose`."""
        blob = self._encrypt(_TOKEN, payload, _field(purpose))
        return base64.urlsafe_b64encode(blob).rstrip(b"=").decode("ascii")

    def unseal(self, token: str, *, purpose: str) -> bytes:
        """The payload of a token from :meth:`seal` for the same `purpose`; DecryptionError otherwise."""
        if not _TOKEN_RE.fullmatch(token):
            raise DecryptionError("malformed token")
        try:
            blob = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError) as exc:
            raise DecryptionError("malformed token") from exc
        return self._decrypt(_TOKEN, blob, _field(purpose))

    # -- internals ------------------------------------------------------------------------------

    def _encrypt(self, domain: bytes, plaintext: bytes, context: bytes) -> bytes:
        key = self._keys[0]
        header = bytes([FORMAT_VERSION]) + key.key_id
        nonce = random_bytes(_NONCE_SIZE)
        sealed = key.cipher(domain).encrypt(nonce, plaintext, header + domain + context)
        return header + nonce + sealed

    def _decrypt(self, domain: bytes, blob: bytes, context: bytes) -> bytes:
        if len(blob) < _MIN_SIZE or blob[0] != FORMAT_VERSION:
            raise DecryptionError("malformed ciphertext or unknown format version")
        header, nonce, sealed = (
            blob[:_HEADER_SIZE],
            blob[_HEADER_SIZE : _MIN_SIZE - 16],
            blob[_MIN_SIZE - 16 :],
        )
        key = self._by_id.get(header[1:])
        if key is None:
            raise DecryptionError("ciphertext is under an unknown key")
        try:
            return key.cipher(domain).decrypt(nonce, sealed, header + domain + context)
        except InvalidTag as exc:
            raise DecryptionError("ciphertext does not authenticate") from exc


# -- loading ------------------------------------------------------------------------------------


def _decode_key(text: str) -> bytes:
    text = text.strip()
    try:
        raw = base64.b64decode(
            text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4), validate=True
        )
    except (binascii.Error, ValueError) as exc:
        raise KekError("a key-encryption key must be base64") from exc
    if len(raw) != KEY_SIZE:
        raise KekError(f"a key-encryption key must be {KEY_SIZE} bytes (base64), got {len(raw)}")
    return raw


def _parse_keys(items: Iterable[str]) -> list[bytes]:
    return [_decode_key(item) for item in items if item.strip() and not item.strip().startswith("#")]


def _encode_file(keys: Sequence[bytes]) -> bytes:
    lines = ["# iamd key-encryption keys: the first encrypts, all decrypt. Keep this file secret."]
    lines += [base64.b64encode(k).decode("ascii") for k in keys]
    return ("\n".join(lines) + "\n").encode("ascii")


def _write_new_file(path: Path, content: bytes, *, replace: bool) -> None:
    """Write `content` to `path` with mode 0600, atomically; with replace=False fail if it exists."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, content)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # atomic, and fails if another process created the file first
    finally:
        tmp.unlink(missing_ok=True)  # after a link, or after a failed replace


def _read_file(path: Path) -> list[bytes]:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KekError(f"{path} is readable by others (mode {stat.S_IMODE(mode):o}); chmod 600 it")
    keys = _parse_keys(path.read_text("ascii").splitlines())
    if not keys:
        raise KekError(f"{path} holds no key")
    return keys


def load_kek(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    key: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Kek:
    """The operator's key ring, from the first of:

    1. `key`: base64 keys separated by commas, current first (e.g. from a command-line argument);
    2. the environment variable ``IAMD_KEK``, same format;
    3. the file ``<data_dir>/kek``, one base64 key a line, created (mode 0600) on first use.
    """
    env = os.environ if environ is None else environ
    given = key if key is not None else env.get(ENV_VAR)
    if given is not None:
        return Kek(_parse_keys(given.split(",")))
    if data_dir is None:
        raise KekError(f"no key-encryption key: give one, set {ENV_VAR}, or use a data directory")
    path = Path(data_dir) / KEY_FILE_NAME
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # another process won the race: use its key
            _write_new_file(path, _encode_file([secrets.token_bytes(KEY_SIZE)]), replace=False)
    return Kek(_read_file(path))


def rotate_key_file(data_dir: str | os.PathLike[str]) -> Kek:
    """Put a new key first in ``<data_dir>/kek``, keeping the old ones for decryption."""
    path = Path(data_dir) / KEY_FILE_NAME
    keys = [secrets.token_bytes(KEY_SIZE), *_read_file(path)]
    _write_new_file(path, _encode_file(keys), replace=True)
    return Kek(keys)
