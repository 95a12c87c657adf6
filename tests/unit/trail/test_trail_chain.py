"""The hash chain and its signed digests: an intact chain verifies; an edited, deleted, moved or
truncated record is named; a chain rewritten with fresh hashes, a forged digest and a digest signed
by another key are caught."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from iamd.store.audit import GENESIS_HASH, ChainHead, DigestRecord, SealedEvent
from iamd.trail.chain import (
    SigningKey,
    Verification,
    digest_payload,
    link_hash,
    load_signing_key,
    record_hash,
    verify_chain,
)

T0 = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
KEY = SigningKey(Ed25519PrivateKey.generate())


def chain(count: int) -> list[SealedEvent]:
    events = []
    previous = GENESIS_HASH
    for n in range(1, count + 1):
        record = json.dumps({"eventID": f"e{n}", "eventName": "GetUser", "n": n}, separators=(",", ":"))
        previous = record_hash(previous, record)
        events.append(SealedEvent(n, previous, f"e{n}", T0 + timedelta(seconds=n), "GetUser", "1", record))
    return events


def digest(
    events: list[SealedEvent], start: int, end: int, previous: str | None, key: SigningKey = KEY
) -> DigestRecord:
    at = T0 + timedelta(minutes=end)
    payload = digest_payload(
        start_seq=start,
        end_seq=end,
        end_hash=events[end - 1].hash,
        created_at=at,
        previous_signature=previous,
    )
    return DigestRecord(end, start, end, events[end - 1].hash, at, key.key_id, payload, key.sign(payload))


def check(
    events: list[SealedEvent], head: ChainHead, digests: list[DigestRecord] | None = None
) -> Verification:
    def stream() -> Iterator[SealedEvent]:
        yield from sorted(events, key=lambda e: e.seq)

    return verify_chain(stream(), head, digests or [], KEY.public_key)


def head_of(events: list[SealedEvent]) -> ChainHead:
    return ChainHead(events[-1].seq, events[-1].hash, 0, None)


def test_links() -> None:
    assert link_hash(GENESIS_HASH, "{}") == link_hash(GENESIS_HASH, "{}")
    assert link_hash(GENESIS_HASH, "{}") != link_hash(GENESIS_HASH, "{ }")  # every byte counts
    assert record_hash("a" * 64, '{"x":1}') == link_hash("a" * 64, '{"x":1}')


def test_an_intact_chain_verifies() -> None:
    events = chain(10)
    first = digest(events, 1, 5, None)
    second = digest(events, 6, 10, first.signature)
    result = check(events, head_of(events), [first, second])
    assert result.ok and result.records == 10 and result.digests == 2
    assert check([], ChainHead(0, GENESIS_HASH, 0, None)).ok


def test_an_altered_record_is_named() -> None:
    events = chain(10)
    events[4] = replace(events[4], record=events[4].record.replace("GetUser", "DeleteUser"))
    result = check(events, head_of(events))
    assert [(p.kind, p.seq, p.event_id) for p in result.problems] == [("altered", 5, "e5")]


def test_a_deleted_record_is_named() -> None:
    events = chain(10)
    del events[3]
    result = check(events, head_of(events))
    assert [(p.kind, p.seq) for p in result.problems] == [("missing", 4)]
    assert "seq 4 deleted" in result.problems[0].message
    assert "eventID e3" in result.problems[0].message and "eventID e5" in result.problems[0].message


def test_records_deleted_from_the_end_are_named() -> None:
    events = chain(10)
    head = head_of(events)
    result = check(events[:7], head)
    assert [(p.kind, p.seq) for p in result.problems] == [("truncated", 8)]
    assert "seq 8..10 deleted from the end" in result.problems[0].message


def test_swapped_records_are_named() -> None:
    events = chain(10)
    a, b = events[3], events[4]
    events[3], events[4] = replace(b, seq=4), replace(a, seq=5)
    result = check(events, head_of(events))
    assert sorted((p.kind, p.event_id) for p in result.problems) == [("reordered", "e4"), ("reordered", "e5")]


def test_a_rewritten_chain_is_caught_by_the_digest() -> None:
    events = chain(10)
    first = digest(events, 1, 10, None)
    # Edit record 3 and recompute every hash from there: the chain is consistent again.
    forged = []
    previous = GENESIS_HASH
    for event in events:
        record = event.record.replace('"n":3', '"n":33') if event.seq == 3 else event.record
        previous = record_hash(previous, record)
        forged.append(replace(event, record=record, hash=previous))
    result = check(forged, head_of(forged), [first])
    assert [p.kind for p in result.problems] == ["altered"]
    assert "the chain was rewritten" in result.problems[0].message


def test_forged_digests_are_caught() -> None:
    events = chain(6)
    genuine = digest(events, 1, 6, None)
    other = SigningKey(Ed25519PrivateKey.generate())
    by_other = digest(events, 1, 6, None, key=other)
    result = check(events, head_of(events), [by_other])
    assert [p.kind for p in result.problems] == ["digest-signature"]
    edited = replace(genuine, end_hash="f" * 64)
    kinds = {p.kind for p in check(events, head_of(events), [edited]).problems}
    assert {"digest-mismatch", "altered"} <= kinds


def test_signing_key_file(tmp_path: Path) -> None:
    made = load_signing_key(tmp_path)
    again = load_signing_key(tmp_path)
    assert made.key_id == again.key_id
    assert (tmp_path / "trail-signing-key.pem").stat().st_mode & 0o777 == 0o600
    assert SigningKey.check(again.public_key, "x", made.sign("x"))
    assert not SigningKey.check(again.public_key, "y", made.sign("x"))
    with pytest.raises(FileNotFoundError):
        load_signing_key(tmp_path / "elsewhere", create=False)
