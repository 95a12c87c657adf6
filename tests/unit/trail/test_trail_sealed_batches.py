"""The writer stores its batch straight into the chain (seq and hash given at insert, after the
rows other transactions left unsealed): the rows are those :meth:`Audit.add_events` stores, the
chain verifies, the order is the insertion order, last-accessed data is folded in, and a record
whose text had to change to be stored is chained as stored."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from iamd.store import Store
from iamd.store.audit import AuditEvent, TrailEventRow, TrailResourceRow
from iamd.trail.chain import load_signing_key, verify_chain
from iamd.trail.writer import TrailWriter

# As in conftest.py (pytest imports test modules with importlib: no shared imports).
ACCOUNT = "111122223333"
NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


class FixedClock:
    def now(self) -> datetime:
        return NOW


def event(
    name: str, *, at: datetime = NOW, record_text: str | None = None, counts: bool = True
) -> AuditEvent:
    event_id = str(uuid.uuid4())
    record = record_text or json.dumps({"eventName": name, "eventID": event_id}, separators=(",", ":"))
    return AuditEvent(
        event_id=event_id,
        account_id=ACCOUNT,
        event_time=at,
        event_name=name,
        event_source="iam.amazonaws.com",
        username="alice",
        access_key_id="AKIAALICE",
        entity_id="AIDAALICE" if counts else None,
        entity_arn=f"arn:aws:iam::{ACCOUNT}:user/alice" if counts else None,
        service="iam",
        region="us-east-1",
        read_only=name.startswith("Get"),
        error_code=None if counts else "AccessDenied",
        counts_as_access=counts,
        record=record,
        resources=(("AWS::IAM::User", f"user-of-{name}"), ("AWS::IAM::Role", "r")),
    )


@pytest.fixture
def writer(store: Store, account: str, tmp_path: Path) -> Iterator[TrailWriter]:
    made = TrailWriter(
        store, FixedClock(), signing_key=load_signing_key(tmp_path / "keys"), interval=3600, linger=0.01
    )
    made.start()
    yield made
    made.close()


def rows(store: Store) -> list[dict[str, Any]]:
    """Every stored event row and its resources, but the columns the store assigns."""

    def read(uow: Any) -> list[dict[str, Any]]:
        found = []
        for row in uow.session.scalars(select(TrailEventRow).order_by(TrailEventRow.id)):
            values = {c.key: getattr(row, c.key) for c in TrailEventRow.__table__.columns}
            values["resources"] = [
                (r.account_id, r.resource_type, r.resource_name)
                for r in uow.session.scalars(
                    select(TrailResourceRow)
                    .where(TrailResourceRow.event_id == row.event_id)
                    .order_by(TrailResourceRow.id)
                )
            ]
            found.append(values)
        return found

    return store.run(read, readonly=True)


def verified(store: Store, tmp_path: Path) -> tuple[int, list[str]]:
    head = store.run(lambda uow: uow.audit.chain_head(), readonly=True)
    digests = store.run(lambda uow: uow.audit.digests(), readonly=True)
    events = store.run(lambda uow: uow.audit.sealed(0, 100_000), readonly=True)
    result = verify_chain(iter(events), head, digests, load_signing_key(tmp_path / "keys").public_key)
    return result.records, [p.message for p in result.problems]


def test_a_batch_is_stored_as_add_events_stores_it_then_sealed(
    store: Store, writer: TrailWriter, tmp_path: Path
) -> None:
    # A write's event, stored unsealed in its own transaction, and then a batch of the writer's.
    written = event("CreateUser")
    assert store.run(lambda uow: uow.audit.try_add_events([written]))
    batch = [event("GetUser"), event("ListUsers", counts=False), event("GetRole")]
    writer.submit(batch)
    assert writer.flush()
    stored = rows(store)
    assert [r["event_name"] for r in stored] == ["CreateUser", "GetUser", "ListUsers", "GetRole"]
    assert [r["seq"] for r in stored] == [1, 2, 3, 4]
    assert verified(store, tmp_path) == (4, [])
    # The same rows (types converted alike) as those add_events stores.
    store.run(lambda uow: uow.audit.add_events([replace_id(e) for e in batch]))
    again = rows(store)[4:]
    for sealed, plain in zip(stored[1:], again, strict=True):
        for key in ("id", "event_id", "seq", "hash"):
            sealed.pop(key), plain.pop(key)
        sealed_record, plain_record = json.loads(sealed.pop("record")), json.loads(plain.pop("record"))
        assert sealed_record["eventName"] == plain_record["eventName"]
        assert sealed == plain
    assert stored[1]["event_time"] == NOW


def replace_id(original: AuditEvent) -> AuditEvent:
    event_id = str(uuid.uuid4())
    return AuditEvent(
        **{
            **{f: getattr(original, f) for f in AuditEvent.__dataclass_fields__},
            "event_id": event_id,
            "record": json.dumps(
                {"eventName": original.event_name, "eventID": event_id}, separators=(",", ":")
            ),
        }
    )


def test_a_batch_feeds_last_accessed_data(store: Store, writer: TrailWriter) -> None:
    writer.submit(
        [event("GetUser", at=NOW - timedelta(minutes=5)), event("GetUser"), event("GetRole", counts=False)]
    )
    assert writer.flush()
    uses = store.run(lambda uow: uow.audit.last_accessed(ACCOUNT, ["AIDAALICE"]), readonly=True)
    assert [(u.action, u.last_at) for u in uses] == [("GetUser", NOW)]


def test_a_record_changed_to_be_stored_is_chained_as_stored(
    store: Store, writer: TrailWriter, tmp_path: Path
) -> None:
    odd = event("GetUser", record_text='{"eventName":"GetUser","note":"\ud800"}')
    writer.submit([odd, event("GetRole")])
    assert writer.flush()
    stored = rows(store)
    assert stored[0]["record"] == '{"eventName":"GetUser","note":"\ufffd"}'
    assert verified(store, tmp_path) == (2, [])


def test_a_refused_batch_still_goes_in_event_by_event(
    store: Store, writer: TrailWriter, tmp_path: Path
) -> None:
    first = event("GetUser")
    writer.submit([first])
    assert writer.flush()
    # The same event again (a duplicate id, which the database refuses) beside a good one.
    good = event("GetRole")
    writer.submit([first, good])
    assert writer.flush()
    stored = rows(store)
    assert [(r["event_id"], r["seq"]) for r in stored] == [(first.event_id, 1), (good.event_id, 2)]
    assert verified(store, tmp_path) == (2, [])
