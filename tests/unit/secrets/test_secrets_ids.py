"""AWS-looking identifiers."""

from __future__ import annotations

import re
import string
from collections import Counter

import pytest

from iamd.secrets import IdSource, RandomIds, SeededIds, ids
from iamd.secrets.ids import (
    ACCESS_KEY_ID_RE,
    ACCOUNT_ID_RE,
    BASE32,
    SECRET_ACCESS_KEY_RE,
    SECRET_ALPHABET,
    SESSION_KEY_ID_RE,
    UNIQUE_ID_RE,
)

UNIQUE = [
    ("user_id", "AIDA"),
    ("group_id", "AGPA"),
    ("role_id", "AROA"),
    ("policy_id", "ANPA"),
    ("policy_version_id", "ANVA"),
    ("instance_profile_id", "AIPA"),
    ("server_certificate_id", "ASCA"),
    ("service_credential_id", "ACCA"),
]


@pytest.fixture(params=["random", "seeded"])
def source(request: pytest.FixtureRequest) -> IdSource:
    return RandomIds() if request.param == "random" else SeededIds(42)


@pytest.mark.parametrize(("method", "prefix"), UNIQUE)
def test_unique_ids_have_aws_prefixes(source: IdSource, method: str, prefix: str) -> None:
    for _ in range(20):
        value = getattr(source, method)()
        assert re.fullmatch(prefix + r"[A-Z2-7]{17}", value), value
        assert UNIQUE_ID_RE.fullmatch(value)


def test_access_keys(source: IdSource) -> None:
    for _ in range(50):
        assert ACCESS_KEY_ID_RE.fullmatch(source.access_key_id())
        assert re.fullmatch(r"AKIA[A-Z2-7]{16}", source.access_key_id())
        assert SESSION_KEY_ID_RE.fullmatch(source.session_access_key_id())
        assert re.fullmatch(r"ASIA[A-Z2-7]{16}", source.session_access_key_id())
        assert SECRET_ACCESS_KEY_RE.fullmatch(source.secret_access_key())
        assert re.fullmatch(r"[A-Za-z0-9/+]{40}", source.secret_access_key())


def test_other_ids(source: IdSource) -> None:
    for _ in range(50):
        assert ACCOUNT_ID_RE.fullmatch(source.account_id())
        assert re.fullmatch(r"[1-9][0-9]{11}", source.account_id())
        assert re.fullmatch(r"APKA[A-Z2-7]{16}", source.ssh_public_key_id())
        assert re.fullmatch(r"[A-Z2-7]{32}", source.signing_certificate_id())
        assert re.fullmatch(r"[A-Za-z0-9/+]{44}", source.service_password())


def test_seeded_ids_repeat_and_random_ones_do_not() -> None:
    assert [SeededIds(7).user_id() for _ in range(3)] == [SeededIds(7).user_id() for _ in range(3)]
    assert SeededIds(7).user_id() != SeededIds(8).user_id()
    randoms = RandomIds()
    assert len({randoms.access_key_id() for _ in range(1000)}) == 1000


def test_the_implementations_satisfy_the_protocol() -> None:
    sources: list[IdSource] = [RandomIds(), SeededIds("seed")]
    assert all(s.role_id().startswith("AROA") for s in sources)


def test_random_ids_draw_every_character_equally_often() -> None:
    """RandomIds reads its random bytes once per id: each byte picks ``byte % size`` below the
    largest multiple of the alphabet's size, so the 9-, 10- and 36-character alphabets (account
    ids, Organizations' tokens) are as uniform as the 32- and 64-character ones."""
    randoms = RandomIds()
    for draw, alphabet, draws in (
        (lambda: randoms.account_id()[0], "123456789", 9_000),
        (lambda: randoms.account_id()[1:], string.digits, 1_000),
        (lambda: randoms.lowercase_token(10), string.ascii_lowercase + string.digits, 3_600),
        (lambda: randoms.user_id()[4:], BASE32, 1_000),
        (randoms.secret_access_key, SECRET_ALPHABET, 1_000),
    ):
        counts = Counter("".join(draw() for _ in range(draws)))
        assert set(counts) == set(alphabet)
        expected = sum(counts.values()) / len(alphabet)
        # Chi-squared, whose mean is len(alphabet) - 1 for uniform draws: a bound that uniform
        # draws practically never pass, for a gross error (a character never or twice as often
        # drawn); the next test holds the skipping of the bytes that would bias the draw.
        chi2 = sum((n - expected) ** 2 / expected for n in counts.values())
        assert chi2 < 3 * len(alphabet) + 30, (alphabet, chi2)


def test_random_ids_skip_the_bytes_that_would_favour_the_first_characters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = iter([bytes([250, 251, 255, 3, 249]) + bytes(range(20)), bytes(range(40))])
    monkeypatch.setattr(ids, "random_bytes", lambda n: next(stream))
    # Digits: 250 is the largest multiple of 10 below 256, so 250, 251 and 255 are skipped.
    assert RandomIds()._chars(string.digits, 12) == "3" + "9" + "0123456789"


def test_random_characters_are_uniform_at_every_position() -> None:
    """RandomIds draws a whole string at once: every character of the alphabet is as likely at
    every position, the first and last included (expected 250 of 2,000 each; the bounds are over
    6 standard deviations away)."""
    ids = RandomIds()
    alphabet = "ABCDEFGH"
    counts = [dict.fromkeys(alphabet, 0) for _ in range(5)]
    for _ in range(2000):
        drawn = ids._chars(alphabet, 5)
        assert len(drawn) == 5
        for position, char in enumerate(drawn):
            counts[position][char] += 1
    for position in counts:
        assert all(150 <= n <= 350 for n in position.values()), position
    assert ids._chars("Z", 3) == "ZZZ"
    assert ids._chars(alphabet, 0) == ""
