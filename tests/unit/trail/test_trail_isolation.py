"""One bad event never takes others with it (issue 10, part 2), on SQLite and PostgreSQL: text
that is not Unicode (a lone UTF-16 surrogate), NUL and over-long index values are stored in a safe
form; an event the database refuses on its own is recorded in its safe form and copied as it was
to the quarantine file while the rest of its batch is stored; a spool that cannot be stored at
start raises an alarm (an ERROR, the writer's health) and is stored once the database takes it."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from iamd.store import Store
from iamd.store.audit import AuditEvent
from iamd.trail.chain import load_signing_key, verify_chain
from iamd.trail.writer import QUARANTINE_FILE_NAME, QUARANTINED, TrailWriter, event_to_json

ACCOUNT = "111122223333"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


class FixedClock:
    def now(self) -> datetime:
        return NOW


def event(name: str = "GetUser", **changes: object) -> AuditEvent:
    event_id = str(uuid.uuid4())
    record = json.dumps({"eventName": name, "eventID": event_id}, separators=(",", ":"))
    made = AuditEvent(
        event_id=event_id,
        account_id=ACCOUNT,
        event_time=NOW,
        event_name=name,
        event_source="iam.amazonaws.com",
        username="alice",
        access_key_id="AKIAALICE",
        entity_id=None,
        entity_arn=None,
        service="iam",
        region="us-east-1",
        read_only=True,
        error_code=None,
        counts_as_access=False,
        record=record,
    )
    return replace(made, **changes)  # type: ignore[arg-type]


class RefusingStore:
    """A store whose every transaction fails (the database is down)."""

    def __init__(self, real: Store) -> None:
        self.real = real
        self.kek = real.kek

    def run(self, *args: object, **kwargs: object) -> object:
        raise RuntimeError("database unavailable")


@pytest.fixture
def writer(store: Store, account: str, tmp_path: Path) -> Iterator[TrailWriter]:
    made = TrailWriter(
        store,
        FixedClock(),
        signing_key=load_signing_key(tmp_path / "keys"),
        spool=tmp_path / "trail-spool.jsonl",
        interval=3600,
        linger=0.01,
    )
    made.start()
    yield made
    made.close()


def stored(store: Store) -> dict[str, str]:
    """eventID -> record, of every stored event."""
    return {e.event_id: e.record for e in store.run(lambda uow: uow.audit.events(), readonly=True)}


def chain_ok(store: Store, tmp_path: Path) -> tuple[int, list[str]]:
    head = store.run(lambda uow: uow.audit.chain_head(), readonly=True)
    events = store.run(lambda uow: uow.audit.sealed(0, 100_000), readonly=True)
    result = verify_chain(iter(events), head, [], load_signing_key(tmp_path / "keys").public_key)
    return result.records, [p.message for p in result.problems]


def test_text_that_is_not_unicode_does_not_take_the_batch_with_it(
    store: Store, writer: TrailWriter, tmp_path: Path
) -> None:
    """The issue's case: a record holding a lone surrogate (an error message repeating the key
    "\\ud800") in one batch with other callers' events. All are stored and sealed."""
    others = [event("GetUser"), event("ListUsers", error_code="AccessDenied")]
    bad = event(
        "PutUserPolicy",
        record='{"eventName":"PutUserPolicy","errorMessage":"Unknown element \ud800"}',
        username="bob\ud800\x00",
        access_key_id="AKIA" + "X" * 300,  # longer than the column: PostgreSQL would refuse it
    )
    writer.submit([others[0], bad, others[1]])
    assert writer.flush()
    found = stored(store)
    assert set(found) == {e.event_id for e in [*others, bad]}
    assert found[bad.event_id] == '{"eventName":"PutUserPolicy","errorMessage":"Unknown element \ufffd"}'
    assert chain_ok(store, tmp_path) == (3, [])
    assert writer.health() == {"status": "ok"}


def test_an_event_refused_on_its_own_is_stored_in_a_safe_form_and_quarantined(
    store: Store, writer: TrailWriter, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An event the database refuses (here: no record at all) is recorded in its safe form, its
    original goes to the quarantine file, and the events around it are stored as they were."""
    good = [event("GetUser"), event("GetRole")]
    refused = event("CreateUser", record=None)
    writer.submit([good[0], refused, good[1]])
    assert writer.flush()
    found = stored(store)
    assert found[good[0].event_id] == good[0].record and found[good[1].event_id] == good[1].record
    safe = json.loads(found[refused.event_id])
    assert safe["eventName"] == "CreateUser" and safe["eventID"] == refused.event_id
    assert safe[QUARANTINED]["reason"] == "the database refused the event as it was"
    kept = (tmp_path / QUARANTINE_FILE_NAME).read_text().splitlines()
    assert [json.loads(line)["event_id"] for line in kept] == [refused.event_id]
    assert chain_ok(store, tmp_path) == (3, [])
    assert writer.health() == {"status": "ok", "quarantined": 1}
    assert f"event {refused.event_id} stored in its safe form" in caplog.text


def test_a_spool_that_cannot_be_stored_raises_an_alarm_until_it_is(
    store: Store, account: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = tmp_path / "trail-spool.jsonl"
    waiting = [event("GetUser"), event("DeleteUser", record='{"errorMessage":"\ud800"}')]
    spool.write_text("".join(event_to_json(e) + "\n" for e in waiting) + "not an event\n")
    down = TrailWriter(RefusingStore(store), FixedClock(), spool=spool)  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, logger="iamd.trail"):
        down.start()
        health = down.health()
        down.close(timeout=5)
    assert health["status"] == "alarm"
    assert any("2 event(s) in the spool" in p and "not in the trail" in p for p in health["problems"])
    assert any(r.levelno == logging.ERROR and "ALARM" in r.getMessage() for r in caplog.records)
    assert spool.exists()
    back = TrailWriter(store, FixedClock(), spool=spool, linger=0.01)
    back.start()
    assert back.flush()
    assert back.health() == {"status": "ok"}
    back.close()
    assert set(stored(store)) == {e.event_id for e in waiting}
    assert not spool.exists()
    # The line that was no event is kept, not dropped with the spool.
    assert (tmp_path / QUARANTINE_FILE_NAME).read_text() == "not an event\n"


def test_the_spool_of_the_issue_is_stored_at_the_next_start(
    store: Store, account: str, tmp_path: Path
) -> None:
    """A spool written by a server that could not store a lone surrogate (the JSON escape
    "\\ud800" in its record) no longer fails at every start: its events reach the trail."""
    spool = tmp_path / "trail-spool.jsonl"
    denied = event("GetUser", error_code="AccessDenied")
    bad = event("PutUserPolicy", record='{"errorMessage":"\ud800"}', username="\udc00")
    spool.write_text(event_to_json(denied) + "\n" + event_to_json(bad) + "\n")
    assert "\\ud800" in spool.read_text()
    writer = TrailWriter(store, FixedClock(), spool=spool, linger=0.01)
    writer.start()
    assert writer.flush()
    writer.close()
    assert set(stored(store)) == {denied.event_id, bad.event_id}
    assert not spool.exists()


def test_a_request_whose_record_cannot_be_built_is_still_on_the_trail(
    store: Store, writer: TrailWriter, account: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Before, a record that could not be built was logged and lost ("it is lost"). Now its
    outline is stored: who, what, when, the outcome, marked ``iamdIncompleteRecord``."""
    from iamd.services.cloudtrail import Recorder
    from iamd.services.framework import RequestInfo
    from iamd.wire import NoSuchEntity, ServiceCatalog

    ref = ServiceCatalog().operation_ref("iam", "ListUsers")
    info = RequestInfo("req-7", "iam", "ListUsers", "us-east-1", "192.0.2.1", "fuzz", False, NOW)
    error = NoSuchEntity("nobody")
    # MaxItems is an integer member: "many" cannot be written as one, so the record fails.
    Recorder(writer, store).console_call(ref, info, None, {"MaxItems": "many"}, None, error)
    assert writer.flush()
    [record] = [json.loads(r) for r in stored(store).values()]
    assert record["eventName"] == "ListUsers" and record["requestID"] == "req-7"
    assert record["errorCode"] == "NoSuchEntityException" and record["sourceIPAddress"] == "192.0.2.1"
    assert record["recipientAccountId"] == ACCOUNT
    assert "iamdIncompleteRecord" in record["additionalEventData"]
    assert "could not record iam:ListUsers (request req-7)" in caplog.text


def dead_pid() -> int:
    """The pid of a process that has exited."""
    import subprocess
    import sys

    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    return finished.pid


def test_the_ledger_balances_after_a_clean_run(store: Store, account: str, tmp_path: Path) -> None:
    from iamd.trail.ledger import read_ledger

    writer = TrailWriter(store, FixedClock(), spool=tmp_path / "trail-spool.jsonl", linger=0.01)
    writer.start()
    writer.submit([event("GetUser"), event("GetRole")])
    writer.submit_later(lambda: [event("ListUsers")])
    assert writer.flush()
    writer.close()
    ledger = read_ledger(tmp_path / "trail-ledger.json")
    assert ledger is not None
    assert (ledger.accepted, ledger.settled, ledger.lost, ledger.lost_before) == (3, 3, 0, 0)


def test_a_run_that_stopped_without_storing_its_queue_is_counted_at_the_next_start(
    store: Store, account: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A run killed with 5 requests accepted and 3 settled (and 1 event it knew it lost) left a
    deficit: the next start logs an ERROR, reports it in its health, and keeps it on record."""
    from iamd.trail.ledger import read_ledger

    ledger_file = tmp_path / "trail-ledger.json"
    ledger_file.write_text(
        json.dumps(
            {
                "pid": dead_pid(),
                "host": "somewhere",
                "started": "2026-12-06T10:00:00Z",
                "accepted": 5,
                "settled": 3,
                "lost": 1,
            }
        )
    )
    writer = TrailWriter(store, FixedClock(), spool=tmp_path / "trail-spool.jsonl", linger=0.01)
    with caplog.at_level(logging.ERROR, logger="iamd.trail"):
        writer.start()
    health = writer.health()
    writer.close()
    assert health["status"] == "alarm"
    assert "earlier runs accepted 3 request(s) whose events never reached the trail" in health["problems"][0]
    assert "ALARM: the previous run accepted 2 request(s) whose events it never stored" in caplog.text
    after = read_ledger(ledger_file)
    assert after is not None and after.lost_before == 3 and after.accepted == after.settled == 0
