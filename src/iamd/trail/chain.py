"""Tamper evidence: the hash chain over the records, signed digests of its head, and checking both.

Every sealed record stores ``hash = sha256(previous hash + canonical JSON of the record)`` (hex;
the canonical JSON is the stored text itself, :func:`iamd.trail.records.record_json`),
the first one chaining from :data:`GENESIS_HASH`, in ``seq`` order 1, 2, 3 … Editing a record
breaks its own link; deleting one leaves a gap in ``seq`` and breaks the next link; swapping two
breaks both. Someone who rewrites the whole chain from some point on (recomputing every hash) is
caught by the digests: every so often the writer signs "the chain had hash H at seq N" with an
Ed25519 key kept in the data directory, and each digest names the signature of the one before.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from iamd.store.audit import GENESIS_HASH, ChainHead, DigestRecord, SealedEvent

__all__ = [
    "GENESIS_HASH",
    "KEY_FILE_NAME",
    "Problem",
    "SigningKey",
    "Verification",
    "digest_payload",
    "link_hash",
    "load_signing_key",
    "record_hash",
    "verify_chain",
]

KEY_FILE_NAME: Final = "trail-signing-key.pem"
DIGEST_FORMAT: Final = "iamd-trail-digest-1"
WINDOW: Final = 64
"""Records looked at on either side of one that does not chain, to tell moved from altered."""


def link_hash(previous: str, canonical: str) -> str:
    """sha256(previous hash + canonical JSON), hex."""
    return hashlib.sha256((previous + canonical).encode("utf-8")).hexdigest()


def record_hash(previous: str, record_text: str) -> str:
    """The link of a stored record: its text is its canonical JSON (any change to a byte of it
    breaks the link)."""
    return link_hash(previous, record_text)


class SigningKey:
    """The Ed25519 key that signs digests (``DATA_DIR/trail-signing-key.pem``)."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private = private_key
        self.public_key: Ed25519PublicKey = private_key.public_key()
        raw = self.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.key_id = hashlib.sha256(raw).hexdigest()[:32]

    def sign(self, payload: str) -> str:
        return base64.b64encode(self._private.sign(payload.encode("utf-8"))).decode("ascii")

    @staticmethod
    def check(public_key: Ed25519PublicKey, payload: str, signature: str) -> bool:
        try:
            public_key.verify(base64.b64decode(signature), payload.encode("utf-8"))
        except (InvalidSignature, ValueError):
            return False
        return True


def load_signing_key(data_dir: Path, *, create: bool = True) -> SigningKey:
    """The data directory's digest-signing key; made (mode 0600) on first use when ``create``."""
    path = data_dir / KEY_FILE_NAME
    if path.exists():
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        return SigningKey(loaded)
    if not create:
        raise FileNotFoundError(f"no trail signing key at {path}")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return SigningKey(key)


def digest_payload(
    *, start_seq: int, end_seq: int, end_hash: str, created_at: datetime, previous_signature: str | None
) -> str:
    """The JSON a digest signs."""
    return json.dumps(
        {
            "format": DIGEST_FORMAT,
            "startSeq": start_seq,
            "endSeq": end_seq,
            "endHash": end_hash,
            "digestTime": created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "previousDigestSignature": previous_signature,
        },
        sort_keys=True,
        separators=(",", ":"),
    )


# -- verification -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding of :func:`verify_chain`, naming the record (or digest) concerned."""

    kind: str
    """altered, missing, out-of-chain, truncated, digest-signature, digest-mismatch, digest-gap."""
    message: str
    seq: int | None = None
    event_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"problem": self.kind, "seq": self.seq, "eventID": self.event_id, "message": self.message}


@dataclass(frozen=True, slots=True)
class Verification:
    records: int
    digests: int
    unsealed: int
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def _describe(event: SealedEvent) -> str:
    return (
        f"seq {event.seq} (eventID {event.event_id}, {event.event_name} at "
        f"{event.event_time.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}, account {event.account_id})"
    )


def verify_chain(
    events: Iterator[SealedEvent],
    head: ChainHead,
    digests: list[DigestRecord],
    public_key: Ed25519PublicKey | None,
    *,
    unsealed: int = 0,
) -> Verification:
    """Check the chain (``events`` in seq order) against itself, its head and the digests.

    Each problem names the record: an altered one (its hash no longer matches its content), a
    missing one (a gap in ``seq``), one that no longer chains from its predecessor (reordered,
    or whose predecessor was removed or rewritten), records cut off the end, and digests whose
    signature fails or whose hash the chain no longer has."""
    problems: list[Problem] = []
    reported: set[int] = set()
    hashes_at_digests: dict[int, str] = {}
    digest_ends = {d.end_seq for d in digests}
    # A window of records around the one being checked: by hash, to find where a record that
    # does not chain from its predecessor really belongs (moved) or that it belongs nowhere
    # (altered).
    ahead: deque[SealedEvent] = deque()
    behind: deque[SealedEvent] = deque()
    source = iter(events)
    exhausted = False

    def fill() -> None:
        nonlocal exhausted
        while not exhausted and len(ahead) < WINDOW:
            try:
                event = next(source)
            except StopIteration:
                exhausted = True
                return
            ahead.append(event)

    def report(kind: str, event: SealedEvent, message: str) -> None:
        if event.seq not in reported:
            reported.add(event.seq)
            problems.append(Problem(kind, message, event.seq, event.event_id))

    expected_seq = 1
    previous: SealedEvent | None = None
    count = 0
    gap = False
    while True:
        fill()
        if not ahead:
            break
        event = ahead.popleft()
        count += 1
        if event.seq != expected_seq:
            missing = (
                f"seq {expected_seq}"
                if event.seq == expected_seq + 1
                else f"seq {expected_seq}..{event.seq - 1}"
            )
            after = f" after {_describe(previous)}" if previous is not None else " at the start of the trail"
            problems.append(
                Problem(
                    "missing",
                    f"record(s) {missing} deleted: missing{after}, before {_describe(event)}",
                    expected_seq,
                    None,
                )
            )
            gap = True  # this record's predecessor is gone: its link cannot be checked
        canonical = event.record
        prior = previous.hash if previous is not None else GENESIS_HASH
        if not gap and link_hash(prior, canonical) != event.hash:
            origin = next(
                (
                    c
                    for c in [*behind, *ahead]
                    if c is not event and link_hash(c.hash, canonical) == event.hash
                ),
                None,
            )
            if origin is None and link_hash(GENESIS_HASH, canonical) == event.hash:
                report("reordered", event, f"record {_describe(event)} was moved: it belongs at seq 1")
            elif origin is None:
                before = f"seq {previous.seq}" if previous is not None else "the record before it"
                report(
                    "altered",
                    event,
                    f"record {_describe(event)} was altered: its hash does not match its content "
                    f"(or {before} was rewritten with a new hash)",
                )
            elif origin.seq > event.seq:
                report(
                    "reordered",
                    event,
                    f"record {_describe(event)} was moved: it belongs after seq {origin.seq} "
                    f"(eventID {origin.event_id})",
                )
            else:
                # It chains from an earlier record: the ones in between were moved here.
                for moved in [*behind, *ahead]:
                    if origin.seq < moved.seq < event.seq:
                        report(
                            "reordered",
                            moved,
                            f"record {_describe(moved)} was moved: it does not belong between "
                            f"seq {origin.seq} and seq {event.seq}",
                        )
        gap = False
        if event.seq in digest_ends:
            hashes_at_digests[event.seq] = event.hash
        expected_seq = event.seq + 1
        previous = event
        behind.append(event)
        if len(behind) > WINDOW:
            behind.popleft()
    last = previous
    last_seq = expected_seq - 1
    if last_seq < head.seq:
        after = f" after {_describe(last)}" if last is not None else ""
        problems.append(
            Problem(
                "truncated",
                f"record(s) seq {last_seq + 1}..{head.seq} deleted from the end of the trail{after}",
                last_seq + 1,
            )
        )
    elif last is not None and (last.seq > head.seq or (last.seq == head.seq and last.hash != head.hash)):
        problems.append(
            Problem(
                "altered",
                f"the chain head (seq {head.seq}) does not match the last record {_describe(last)}",
                last.seq,
                last.event_id,
            )
        )
    previous_signature: str | None = None
    previous_end = 0
    for digest in digests:
        signed = f"{digest.created_at:%Y-%m-%dT%H:%M:%SZ}"
        label = f"digest #{digest.id} (seq {digest.start_seq}..{digest.end_seq}, signed {signed})"
        payload = digest_payload(
            start_seq=digest.start_seq,
            end_seq=digest.end_seq,
            end_hash=digest.end_hash,
            created_at=digest.created_at,
            previous_signature=previous_signature,
        )
        if payload != digest.payload:
            problems.append(
                Problem("digest-mismatch", f"{label}: its fields or its predecessor were changed")
            )
        if public_key is not None and not SigningKey.check(public_key, digest.payload, digest.signature):
            problems.append(Problem("digest-signature", f"{label}: the signature does not verify"))
        if digest.start_seq != previous_end + 1:
            problems.append(Problem("digest-gap", f"{label} does not follow the digest before it"))
        stored = hashes_at_digests.get(digest.end_seq)
        if stored is None:
            problems.append(
                Problem("missing", f"{label}: the record at seq {digest.end_seq} is gone", digest.end_seq)
            )
        elif stored != digest.end_hash:
            problems.append(
                Problem(
                    "altered",
                    f"{label}: the chain was rewritten at or before seq {digest.end_seq} "
                    f"(records seq {digest.start_seq}..{digest.end_seq} no longer match what was signed)",
                    digest.end_seq,
                )
            )
        previous_signature = digest.signature
        previous_end = digest.end_seq
    return Verification(count, len(digests), unsealed, tuple(problems))
