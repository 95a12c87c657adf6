"""The key-encryption key: at-rest encryption, token sealing, key files, rotation."""

from __future__ import annotations

import base64
import os
import secrets
import stat
from pathlib import Path

import pytest

from iamd.secrets import DecryptionError, Kek, KekError, load_kek, rotate_key_file
from iamd.secrets.kek import ENV_VAR, KEY_FILE_NAME


@pytest.fixture
def kek() -> Kek:
    return Kek.generate()


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


# -- stored secrets -------------------------------------------------------------------------------


def test_roundtrip(kek: Kek) -> None:
    blob = kek.encrypt(b"wJalrXUtnFEMI/K7MDENG", purpose="access-key-secret", row_id="AKIA1")
    assert b"wJalrXUtnFEMI" not in blob
    assert kek.decrypt(blob, purpose="access-key-secret", row_id="AKIA1") == b"wJalrXUtnFEMI/K7MDENG"


def test_encryption_is_randomized(kek: Kek) -> None:
    assert kek.encrypt(b"x", purpose="p", row_id="r") != kek.encrypt(b"x", purpose="p", row_id="r")


def test_the_format_is_versioned_and_names_the_key(kek: Kek) -> None:
    blob = kek.encrypt(b"x", purpose="p", row_id="r")
    assert blob[0] == 1
    assert blob[1:5].hex() == kek.key_ids[0]


@pytest.mark.parametrize("position", [0, 3, 10, 20, -1])
def test_tampered_ciphertext_is_rejected(kek: Kek, position: int) -> None:
    blob = bytearray(kek.encrypt(b"secret value", purpose="p", row_id="r"))
    blob[position] ^= 0x01
    with pytest.raises(DecryptionError):
        kek.decrypt(bytes(blob), purpose="p", row_id="r")


def test_truncated_ciphertext_is_rejected(kek: Kek) -> None:
    blob = kek.encrypt(b"secret value", purpose="p", row_id="r")
    for cut in (0, 5, 20, len(blob) - 1):
        with pytest.raises(DecryptionError):
            kek.decrypt(blob[:cut], purpose="p", row_id="r")


def test_wrong_purpose_or_row_is_rejected(kek: Kek) -> None:
    blob = kek.encrypt(b"secret", purpose="access-key-secret", row_id="AKIA1")
    with pytest.raises(DecryptionError):
        kek.decrypt(blob, purpose="totp-seed", row_id="AKIA1")
    with pytest.raises(DecryptionError):
        kek.decrypt(blob, purpose="access-key-secret", row_id="AKIA2")
    # The fields are length-prefixed: moving a character from one to the other does not match.
    blob = kek.encrypt(b"secret", purpose="ab", row_id="c")
    with pytest.raises(DecryptionError):
        kek.decrypt(blob, purpose="a", row_id="bc")


def test_another_key_cannot_decrypt(kek: Kek) -> None:
    blob = kek.encrypt(b"secret", purpose="p", row_id="r")
    with pytest.raises(DecryptionError, match="unknown key"):
        Kek.generate().decrypt(blob, purpose="p", row_id="r")


def test_rotation_keeps_old_ciphertexts_readable() -> None:
    old, new = secrets.token_bytes(32), secrets.token_bytes(32)
    blob = Kek([old]).encrypt(b"secret", purpose="p", row_id="r")
    ring = Kek([new, old])
    assert ring.decrypt(blob, purpose="p", row_id="r") == b"secret"
    assert ring.needs_reencrypt(blob) is True
    fresh = ring.encrypt(b"secret", purpose="p", row_id="r")
    assert ring.needs_reencrypt(fresh) is False
    assert Kek([new]).decrypt(fresh, purpose="p", row_id="r") == b"secret"


def test_keys_must_be_32_bytes_and_distinct() -> None:
    with pytest.raises(KekError):
        Kek([b"short"])
    with pytest.raises(KekError):
        Kek([])
    key = secrets.token_bytes(32)
    with pytest.raises(KekError):
        Kek([key, key])


# -- tokens ---------------------------------------------------------------------------------------


def test_seal_unseal_roundtrip_with_url_safe_output(kek: Kek) -> None:
    payload = bytes(range(256)) * 3
    token = kek.seal(payload, purpose="sts-session")
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert kek.unseal(token, purpose="sts-session") == payload


def test_tokens_are_bound_to_their_purpose(kek: Kek) -> None:
    token = kek.seal(b"session", purpose="sts-session")
    with pytest.raises(DecryptionError):
        kek.unseal(token, purpose="console-session")


def test_tampered_or_malformed_tokens_are_rejected(kek: Kek) -> None:
    token = kek.seal(b"session", purpose="p")
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    for bad in (flipped, token[:-1], token + "A", token + "=", "", "!!!!", token.replace(token[5], "+")):
        with pytest.raises(DecryptionError):
            kek.unseal(bad, purpose="p")


def test_tokens_and_stored_secrets_do_not_mix(kek: Kek) -> None:
    """A stored ciphertext cannot be replayed as a token (different subkeys)."""
    blob = kek.encrypt(b"secret", purpose="p", row_id="")
    as_token = base64.urlsafe_b64encode(blob).rstrip(b"=").decode()
    with pytest.raises(DecryptionError):
        kek.unseal(as_token, purpose="p")


# -- loading and key files ------------------------------------------------------------------------


def test_key_file_is_created_with_mode_0600(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    kek = load_kek(data_dir, environ={})
    path = data_dir / KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_kek(data_dir, environ={})
    blob = kek.encrypt(b"x", purpose="p", row_id="r")
    assert again.decrypt(blob, purpose="p", row_id="r") == b"x"  # the same key on the next start
    assert [p.name for p in data_dir.iterdir()] == [KEY_FILE_NAME]  # no temporary file left behind


def test_key_file_created_under_a_permissive_umask_is_still_0600(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        load_kek(tmp_path, environ={})
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / KEY_FILE_NAME).stat().st_mode) == 0o600


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    load_kek(tmp_path, environ={})
    (tmp_path / KEY_FILE_NAME).chmod(0o644)
    with pytest.raises(KekError, match="chmod 600"):
        load_kek(tmp_path, environ={})


def test_the_operator_can_give_the_key(tmp_path: Path) -> None:
    key = secrets.token_bytes(32)
    from_arg = load_kek(tmp_path, key=_b64(key), environ={})
    from_env = load_kek(None, environ={ENV_VAR: base64.urlsafe_b64encode(key).decode().rstrip("=")})
    blob = Kek([key]).encrypt(b"x", purpose="p", row_id="r")
    assert from_arg.decrypt(blob, purpose="p", row_id="r") == b"x"
    assert from_env.decrypt(blob, purpose="p", row_id="r") == b"x"
    assert not (tmp_path / KEY_FILE_NAME).exists()  # no file when the key is given


def test_several_given_keys_rotate(tmp_path: Path) -> None:
    old, new = secrets.token_bytes(32), secrets.token_bytes(32)
    ring = load_kek(key=f"{_b64(new)}, {_b64(old)}", environ={})
    assert ring.key_ids == (Kek([new]).key_ids[0], Kek([old]).key_ids[0])


def test_bad_given_keys_are_refused() -> None:
    for bad in ("not base64!", _b64(b"too short"), ""):
        with pytest.raises(KekError):
            load_kek(key=bad, environ={})
    with pytest.raises(KekError):
        load_kek(None, environ={})


def test_rotate_key_file(tmp_path: Path) -> None:
    first = load_kek(tmp_path, environ={})
    blob = first.encrypt(b"x", purpose="p", row_id="r")
    rotated = rotate_key_file(tmp_path)
    assert rotated.key_ids[1] == first.key_ids[0]
    assert rotated.needs_reencrypt(blob)
    reloaded = load_kek(tmp_path, environ={})
    assert reloaded.key_ids == rotated.key_ids
    assert reloaded.decrypt(blob, purpose="p", row_id="r") == b"x"
    assert stat.S_IMODE((tmp_path / KEY_FILE_NAME).stat().st_mode) == 0o600
