"""Tamper evidence end to end: ``iamd trail verify`` passes on the trail a real server wrote, and
fails naming the record after one is altered, deleted or moved directly in the SQLite file (with
Python's sqlite3, the server stopped), and after the whole chain is rewritten with fresh hashes
(the signed digests catch that). ``iamd trail`` prints the records, filtered."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.harness import Server, start_server, stop_server


def iamd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "iamd.cli.main", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def stopped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data directory whose server made a few calls and then stopped: its pristine database."""
    data = tmp_path_factory.mktemp("iamd-verify") / "data"
    server: Server = start_server(data, "--trail-interval", "1")
    try:
        iam = server.client("iam")
        for name in ("verify-a", "verify-b", "verify-c"):
            iam.create_user(UserName=name)
            iam.get_user(UserName=name)
        iam.list_users()
    finally:
        stop_server(server)
    db = sqlite3.connect(data / "iamd.db")
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything into the main file
    finally:
        db.close()
    pristine = data.parent / "pristine.db"
    shutil.copy(data / "iamd.db", pristine)
    yield data


@pytest.fixture
def data(stopped: Path) -> Path:
    """The stopped server's data directory, with its database as the server left it."""
    for suffix in ("-wal", "-shm"):
        (stopped / f"iamd.db{suffix}").unlink(missing_ok=True)
    shutil.copy(stopped.parent / "pristine.db", stopped / "iamd.db")
    return stopped


def rows(data: Path) -> list[tuple[int, str, str, str]]:
    """(seq, eventID, eventName, record) in chain order."""
    db = sqlite3.connect(data / "iamd.db")
    try:
        return list(db.execute("SELECT seq, event_id, event_name, record FROM trail_events ORDER BY seq"))
    finally:
        db.close()


def execute(data: Path, sql: str, *params: Any) -> None:
    db = sqlite3.connect(data / "iamd.db")
    try:
        db.execute(sql, params)
        db.commit()
    finally:
        db.close()


def test_an_untouched_trail_verifies(data: Path) -> None:
    chain = rows(data)
    assert [seq for seq, *_ in chain] == list(range(1, len(chain) + 1))
    assert len(chain) >= 7
    result = iamd("trail", "verify", "--data-dir", str(data))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("OK:")
    as_json = json.loads(iamd("trail", "verify", "--data-dir", str(data), "--json").stdout)
    assert as_json["ok"] is True and as_json["records"] == len(chain) and as_json["digests"] >= 1


def test_an_altered_record_is_named(data: Path) -> None:
    seq, event_id, _name, record = next(r for r in rows(data) if r[2] == "CreateUser")
    forged = record.replace("verify-a", "someone-else")
    assert forged != record
    execute(data, "UPDATE trail_events SET record = ? WHERE seq = ?", forged, seq)
    result = iamd("trail", "verify", "--data-dir", str(data))
    assert result.returncode == 1
    assert f"seq {seq} (eventID {event_id}, CreateUser" in result.stdout
    assert "altered" in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].startswith("FAILED")
    problems = json.loads(iamd("trail", "verify", "--data-dir", str(data), "--json").stdout)["problems"]
    assert [(p["problem"], p["seq"], p["eventID"]) for p in problems] == [("altered", seq, event_id)]


def test_a_deleted_record_is_named(data: Path) -> None:
    chain = rows(data)
    seq, _event_id, *_ = chain[3]
    before, after = chain[2], chain[4]
    execute(data, "DELETE FROM trail_events WHERE seq = ?", seq)
    result = iamd("trail", "verify", "--data-dir", str(data))
    assert result.returncode == 1
    assert f"record(s) seq {seq} deleted" in result.stdout
    assert f"eventID {before[1]}" in result.stdout and f"eventID {after[1]}" in result.stdout


def test_a_record_deleted_from_the_end_is_named(data: Path) -> None:
    last_seq = rows(data)[-1][0]
    execute(data, "DELETE FROM trail_events WHERE seq = ?", last_seq)
    result = iamd("trail", "verify", "--data-dir", str(data))
    assert result.returncode == 1
    assert f"seq {last_seq}..{last_seq} deleted from the end" in result.stdout


def test_reordered_records_are_named(data: Path) -> None:
    chain = rows(data)
    (a, a_id, *_), (b, b_id, *_) = chain[1], chain[2]
    execute(data, "UPDATE trail_events SET seq = -1 WHERE seq = ?", a)
    execute(data, "UPDATE trail_events SET seq = ? WHERE seq = ?", a, b)
    execute(data, "UPDATE trail_events SET seq = ? WHERE seq = -1", b)
    result = iamd("trail", "verify", "--data-dir", str(data))
    assert result.returncode == 1
    assert "was moved" in result.stdout
    assert f"eventID {a_id}" in result.stdout and f"eventID {b_id}" in result.stdout


def test_a_rewritten_chain_is_caught_by_the_signed_digests(data: Path) -> None:
    """Alter a record and recompute every hash after it, as someone who knows the scheme would:
    the chain is consistent again, but no longer what the digest signed."""
    chain = rows(data)
    target = next(r for r in chain if r[2] == "GetUser")
    previous = "0" * 64
    updates = []
    for seq, _event_id, _name, record in chain:
        if seq == target[0]:
            record = record.replace('"readOnly":true', '"readOnly":false')
        link = hashlib.sha256((previous + record).encode()).hexdigest()
        updates.append((record, link, seq))
        previous = link
    db = sqlite3.connect(data / "iamd.db")
    try:
        db.executemany("UPDATE trail_events SET record = ?, hash = ? WHERE seq = ?", updates)
        db.execute("UPDATE trail_chain SET hash = ?", (previous,))
        db.commit()
    finally:
        db.close()
    result = iamd("trail", "verify", "--data-dir", str(data))
    assert result.returncode == 1
    assert "the chain was rewritten" in result.stdout


def test_iamd_trail_prints_records_filtered(data: Path) -> None:
    everything = iamd("trail", "--data-dir", str(data))
    assert everything.returncode == 0
    records = [json.loads(line) for line in everything.stdout.splitlines()]
    assert len(records) == len(rows(data))
    assert records[0]["eventName"] == "CreateUser"  # oldest first
    created = iamd("trail", "--data-dir", str(data), "--event-name", "CreateUser").stdout.splitlines()
    assert [json.loads(line)["requestParameters"]["userName"] for line in created] == [
        "verify-a",
        "verify-b",
        "verify-c",
    ]
    by_admin = iamd("trail", "--data-dir", str(data), "--user", "iamd-admin").stdout.splitlines()
    assert len(by_admin) == len(records)
    assert iamd("trail", "--data-dir", str(data), "--user", "nobody").stdout == ""
    later = iamd("trail", "--data-dir", str(data), "--since", "2999-01-01T00:00:00Z").stdout
    assert later == ""


def test_a_missing_signing_key_is_a_configuration_problem_not_tampering(data: Path) -> None:
    """Without DATA_DIR/trail-signing-key.pem the digests cannot be checked: that is said as
    such, with exit status 2, not TAMPERED (1). An unreadable key file is the same."""
    key = data / "trail-signing-key.pem"
    saved = key.read_bytes()
    try:
        key.unlink()
        result = iamd("trail", "verify", "--data-dir", str(data))
        assert result.returncode == 2, result.stdout
        assert "TAMPERED" not in result.stdout
        assert "CANNOT VERIFY: the digest-signing key" in result.stdout and "is missing" in result.stdout
        key.write_bytes(b"not a key")
        result = iamd("trail", "verify", "--data-dir", str(data), "--json")
        assert result.returncode == 2
        report = json.loads(result.stdout)
        assert report["problems"] == [] and "cannot be read" in report["configuration"][0]
    finally:
        key.write_bytes(saved)
    assert iamd("trail", "verify", "--data-dir", str(data)).returncode == 0
    nothing = iamd("trail", "verify", "--data-dir", str(data.parent / "nowhere"))
    assert nothing.returncode == 2 and "CANNOT VERIFY: no database" in nothing.stdout


def test_tampering_wins_over_a_missing_key(data: Path) -> None:
    execute(data, "DELETE FROM trail_events WHERE seq = 2")
    key = data / "trail-signing-key.pem"
    saved = key.read_bytes()
    key.unlink()
    try:
        result = iamd("trail", "verify", "--data-dir", str(data))
    finally:
        key.write_bytes(saved)
    assert result.returncode == 1
    assert "TAMPERED" in result.stdout and "CANNOT VERIFY" in result.stdout


def test_accepted_events_missing_from_the_trail_are_reported(data: Path) -> None:
    """Events the server accepted but could not store wait in the spool (and refused ones in the
    quarantine file): verify names them and exits 3 (INCOMPLETE) instead of saying OK."""
    from iamd.trail.writer import QUARANTINE_FILE_NAME, SPOOL_FILE_NAME, event_from_json, event_to_json

    stored = rows(data)
    waiting = event_from_json(
        json.dumps(
            {
                "event_id": "00000000-0000-4000-8000-000000000001",
                "account_id": "111111111111",
                "event_time": "2026-12-06T10:00:00+00:00",
                "event_name": "ListUsers",
                "event_source": "iam.amazonaws.com",
                "username": "someone",
                "access_key_id": None,
                "entity_id": None,
                "entity_arn": None,
                "service": "iam",
                "region": "us-east-1",
                "read_only": True,
                "error_code": "AccessDenied",
                "counts_as_access": False,
                "record": '{"errorMessage":"\\ud800"}',
            }
        )
    )
    spool = data / SPOOL_FILE_NAME
    quarantine = data / QUARANTINE_FILE_NAME
    # A stored event in the spool (a spool can repeat one) is not missing.
    already = event_from_json(event_to_json(waiting).replace(waiting.event_id, stored[0][1]))
    spool.write_text(event_to_json(waiting) + "\n" + event_to_json(already) + "\n{broken\n")
    try:
        result = iamd("trail", "verify", "--data-dir", str(data))
        assert result.returncode == 3, result.stdout
        assert "TAMPERED" not in result.stdout
        missing = [line for line in result.stdout.splitlines() if line.startswith("MISSING:")]
        assert len(missing) == 2
        assert waiting.event_id in missing[0] and "ListUsers" in missing[0] and "spool" in missing[0]
        assert "line 3 of the spool" in missing[1]
        assert result.stdout.splitlines()[-1].startswith("INCOMPLETE:")
        spool.unlink()
        quarantine.write_text(event_to_json(waiting) + "\n")
        report = json.loads(iamd("trail", "verify", "--data-dir", str(data), "--json").stdout)
        assert report["ok"] is False
        assert [m["eventID"] for m in report["missing"]] == [waiting.event_id]
    finally:
        spool.unlink(missing_ok=True)
        quarantine.unlink(missing_ok=True)


def test_verify_documents_its_exit_statuses() -> None:
    text = iamd("trail", "verify", "--help").stdout
    for status in ("0  the trail is intact", "1  TAMPERED", "2  CANNOT VERIFY", "3  INCOMPLETE"):
        assert status in text


def test_requests_a_killed_server_accepted_but_never_stored_are_reported(tmp_path: Path) -> None:
    """The server's ledger counts the requests whose events it accepted and those it stored. A
    server killed while the database would not take its queue leaves the difference behind:
    ``iamd trail verify`` reports it (exit 3, not OK), and the next start raises the alarm."""
    data = tmp_path / "data"
    server = start_server(data)
    iam = server.client("iam")
    iam.get_user()  # the key's last use is noted now, not while the database is locked
    deadline = time.monotonic() + 30
    while not rows(data) and time.monotonic() < deadline:
        time.sleep(0.1)  # its event is stored and sealed
    lock = sqlite3.connect(data / "iamd.db", timeout=0, isolation_level=None)
    try:
        lock.execute("BEGIN IMMEDIATE")  # no writer gets in: the trail's queue waits
        for _ in range(3):
            iam.get_user()  # reads still answer
        time.sleep(2)  # the ledger is written before the writer tries the database
        server.process.kill()
        server.process.wait()
    finally:
        lock.close()
    result = iamd("trail", "verify", "--data-dir", str(data))
    assert result.returncode == 3, result.stdout
    assert "accepted 3 request(s) whose events it never stored, and is no longer running" in result.stdout
    again = start_server(data)
    try:
        with urllib.request.urlopen(f"{again.endpoint}/iamd/health", timeout=5) as answer:
            health = json.loads(answer.read())
    finally:
        stop_server(again)
    assert health["status"] == "degraded"
    assert "earlier runs accepted 3 request(s) whose events never reached the trail" in str(health)
    later = iamd("trail", "verify", "--data-dir", str(data))
    assert later.returncode == 3
    assert "3 request(s) accepted by earlier runs of the server never reached the trail" in later.stdout
