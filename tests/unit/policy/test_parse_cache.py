"""parse_policy remembers the policies of recent texts (bounded) and answers exactly as parsing
anew: the same policy for the same text, kind and strictness, the same refusals every time."""

from __future__ import annotations

import json

import pytest

from iamd.policy import PolicyError, PolicyKind, parse_policy
from iamd.policy.parse import CACHED_TEXT_CHARS, CACHED_TEXTS, _parse, _parse_text

TEXT = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}],
    }
)


def test_a_text_parsed_again_gives_the_same_policy_as_parsing_anew() -> None:
    first = parse_policy(TEXT, PolicyKind.MANAGED)
    again = parse_policy(TEXT, PolicyKind.MANAGED)
    assert again is first
    assert again == _parse(TEXT, PolicyKind.MANAGED, True)


def test_kind_and_strictness_are_part_of_what_is_remembered() -> None:
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    )
    assert parse_policy(trust, PolicyKind.TRUST).statements[0].resources is None
    with pytest.raises(PolicyError):  # an identity policy needs a Resource
        parse_policy(trust, PolicyKind.IDENTITY, strict=False)
    # A Sid with a hyphen is an ERROR that leaves the policy a single meaning.
    sid = TEXT.replace('{"Effect"', '{"Sid": "not-allowed", "Effect"')
    assert parse_policy(sid, strict=False).statements[0].sid == "not-allowed"
    with pytest.raises(PolicyError):
        parse_policy(sid)


def test_refused_texts_are_refused_every_time_with_the_same_findings() -> None:
    bad = '{"Version": "2012-10-17", "Statement": [{"Effect": "Perhaps", "Action": "*", "Resource": "*"}]}'
    answers = []
    for _ in range(2):
        with pytest.raises(PolicyError) as caught:
            parse_policy(bad)
        answers.append([(f.code, f.message, f.position) for f in caught.value.findings])
    assert answers[0] == answers[1]
    assert answers[0]


def test_the_cache_is_bounded_in_count_and_text_size() -> None:
    assert _parse_text.cache_info().maxsize == CACHED_TEXTS
    long_text = TEXT[:-1] + ', "Id": "' + "x" * CACHED_TEXT_CHARS + '"}'
    before = _parse_text.cache_info().currsize
    policy = parse_policy(long_text, PolicyKind.RESOURCE, strict=False)
    assert policy.id == "x" * CACHED_TEXT_CHARS
    assert _parse_text.cache_info().currsize == before
    assert parse_policy(long_text, PolicyKind.RESOURCE, strict=False) is not policy
