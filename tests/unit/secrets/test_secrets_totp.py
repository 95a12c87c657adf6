"""TOTP: RFC 6238 test vectors, matching windows, consecutive codes, the QR code."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import png
import pyotp

from iamd.secrets import totp

RFC_SEED = b"12345678901234567890"  # RFC 6238 appendix B (SHA-1)


def test_rfc6238_vectors() -> None:
    for unix, expected in ((59, "94287082"), (1111111109, "07081804"), (1234567890, "89005924")):
        counter = unix // totp.STEP
        assert pyotp.HOTP(totp.base32_seed(RFC_SEED), digits=8).at(counter) == expected
        assert totp.code_at(RFC_SEED, counter) == expected[-6:]


def test_seed_is_40_bytes_of_base32() -> None:
    seed = totp.new_seed()
    assert len(seed) == 40 and len(totp.base32_seed(seed)) == 64
    assert totp.new_seed() != seed


def test_match_window() -> None:
    seed = totp.new_seed()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    current = totp.counter_at(now)
    assert totp.match(seed, totp.code_at(seed, current), now) == current
    assert totp.match(seed, totp.code_at(seed, current - 1), now) == current - 1
    assert totp.match(seed, totp.code_at(seed, current + 1), now) == current + 1
    assert totp.match(seed, totp.code_at(seed, current + 2), now) is None
    assert totp.match(seed, "12345", now) is None
    assert totp.match(seed, "abcdef", now) is None
    assert totp.match(seed, "１２３４５６", now) is None


def test_consecutive_codes() -> None:
    seed = totp.new_seed()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    current = totp.counter_at(now)
    first, second = totp.code_at(seed, current - 1), totp.code_at(seed, current)
    assert totp.match_consecutive(seed, first, second, now) == current
    assert totp.match_consecutive(seed, second, first, now) is None
    assert totp.match_consecutive(seed, first, second, now + timedelta(minutes=5)) is None
    assert totp.match_consecutive(seed, first, second, now + timedelta(minutes=5), behind=10) == current


def test_provisioning_uri_and_qr_code() -> None:
    seed = totp.new_seed()
    uri = totp.provisioning_uri(seed, account_label="phone@123456789012", issuer="iamd")
    parsed = pyotp.parse_uri(uri)
    assert isinstance(parsed, pyotp.TOTP) and parsed.secret == totp.base32_seed(seed)
    assert parsed.issuer == "iamd" and parsed.name == "phone@123456789012"
    width, height, _, _ = png.Reader(file=io.BytesIO(totp.qr_png(uri))).read()
    assert width == height > 100
