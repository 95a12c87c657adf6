"""The trail writer and the audit store, on SQLite and PostgreSQL: events stored in batches and
inside a request's transaction, sealed into one chain that verifies, folded into last-accessed
data, digests signed, files written in CloudTrail's layout, lookups, and nothing lost when the
database refuses (the spool)."""

from __future__ import annotations

import dataclasses
import gzip
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from iamd.store import Store
from iamd.store.audit import AuditEvent
from iamd.store.unit import UnitOfWork
from iamd.trail.chain import load_signing_key, verify_chain
from iamd.trail.writer import TrailWriter

# As in conftest.py (pytest imports test modules with importlib: no shared imports).
ACCOUNT = "111122223333"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.moment = now

    def now(self) -> datetime:
        return self.moment


def event(
    name: str = "GetUser",
    *,
    at: datetime = NOW,
    user: str = "alice",
    entity: str | None = "AIDAALICE",
    counts: bool = True,
    resources: tuple[tuple[str, str], ...] = (),
    service: str = "iam",
) -> AuditEvent:
    event_id = str(uuid.uuid4())
    record = json.dumps(
        {"eventVersion": "1.10", "eventName": name, "eventID": event_id, "awsRegion": "us-east-1"},
        separators=(",", ":"),
    )
    return AuditEvent(
        event_id=event_id,
        account_id=ACCOUNT,
        event_time=at,
        event_name=name,
        event_source=f"{service}.amazonaws.com",
        username=user,
        access_key_id="AKIAALICE",
        entity_id=entity,
        entity_arn=f"arn:aws:iam::{ACCOUNT}:user/{user}" if entity else None,
        service=service,
        region="us-east-1",
        read_only=name.startswith("Get"),
        error_code=None if counts else "AccessDenied",
        counts_as_access=counts,
        record=record,
        resources=resources,
    )


@pytest.fixture
def writer(store: Store, account: str, tmp_path: Path) -> Iterator[TrailWriter]:
    made = TrailWriter(
        store,
        FixedClock(NOW),
        signing_key=load_signing_key(tmp_path / "keys"),
        trail_dir=tmp_path / "trail",
        spool=tmp_path / "spool.jsonl",
        interval=3600,
        linger=0.01,
    )
    made.start()
    yield made
    made.close()


def verify(store: Store, tmp_path: Path) -> tuple[int, list[str]]:
    head = store.run(lambda uow: uow.audit.chain_head(), readonly=True)
    digests = store.run(lambda uow: uow.audit.digests(), readonly=True)
    events = store.run(lambda uow: uow.audit.sealed(0, 100_000), readonly=True)
    result = verify_chain(iter(events), head, digests, load_signing_key(tmp_path / "keys").public_key)
    return result.records, [p.message for p in result.problems]


def test_events_are_stored_sealed_and_chained(store: Store, writer: TrailWriter, tmp_path: Path) -> None:
    writer.submit([event("GetUser"), event("ListUsers")])
    writer.submit_later(lambda: [event("GetGroup")])
    assert writer.flush()
    # And one inside a request's transaction, as a successful write records its own.
    assert store.run(lambda uow: uow.audit.try_add_events([event("CreateUser")]))
    writer.notify()
    assert writer.flush()
    sealed = store.run(lambda uow: uow.audit.sealed(0, 100), readonly=True)
    assert [e.seq for e in sealed] == [1, 2, 3, 4]
    assert [e.event_name for e in sealed] == ["GetUser", "ListUsers", "GetGroup", "CreateUser"]
    assert store.run(lambda uow: uow.audit.unsealed_count(), readonly=True) == 0
    assert verify(store, tmp_path) == (4, [])


def test_an_event_in_a_failed_transaction_is_gone_with_it(store: Store, writer: TrailWriter) -> None:
    class Boom(Exception):
        pass

    def work(uow: UnitOfWork) -> None:
        assert uow.audit.try_add_events([event("DeleteUser")])
        raise Boom

    with pytest.raises(Boom):
        store.run(work)
    assert store.run(lambda uow: uow.audit.events(), readonly=True) == []


def test_a_refused_event_leaves_the_write_standing(store: Store, writer: TrailWriter) -> None:
    """The event of a write goes in without a savepoint; when the database refuses it (here: its
    id is taken), PostgreSQL has lost the whole transaction, so the write runs again from the start
    with the event in a savepoint, and commits without it (False: the caller hands the event to the
    trail writer). SQLite undoes just the statement. Either way the write commits once."""
    taken = event("CreateUser")
    store.run(lambda uow: uow.audit.add_events([taken]))
    before = store.run(lambda uow: uow.accounts.generation(ACCOUNT), readonly=True)
    savepoints: list[bool] = []

    def work(uow: UnitOfWork) -> bool:
        savepoints.append(uow.trail_savepoint)
        uow.changed(ACCOUNT)
        refused = uow.audit.try_add_events([AuditEvent(**{**vars_of(taken), "event_name": "Again"})])
        uow.changed(ACCOUNT)  # the transaction is still usable
        return refused

    assert store.run(work) is False
    assert savepoints == ([False] if store.backend == "sqlite" else [False, True])
    assert store.run(lambda uow: uow.accounts.generation(ACCOUNT), readonly=True) == before + 1
    names = [e.event_name for e in store.run(lambda uow: uow.audit.events(), readonly=True)]
    assert names == ["CreateUser"]


def test_sealing_beside_a_write_in_flight_fails_neither(store: Store, writer: TrailWriter) -> None:
    """The sealer reads the unsealed events and updates them while requests insert theirs: as a
    serializable transaction it formed read/write cycles with them (PostgreSQL), and the request
    lost (a retry each, a few percent of writes under load). It runs at READ COMMITTED, ordered by
    the chain head's row lock, and a write in flight across a whole sealing commits."""
    if store.backend == "sqlite":
        pytest.skip("SQLite's writers take turns: the sealer waits for the write to end")
    store.run(lambda uow: uow.audit.add_events([event("CreateUser", resources=(("AWS::IAM::User", "a"),))]))
    with store.transaction() as uow:
        uow.changed(ACCOUNT)
        uow.audit.add_events([event("CreateRole", resources=(("AWS::IAM::Role", "r"),))])
        assert writer.flush()  # seals CreateUser, not the CreateRole in flight
        sealed = store.run(lambda other: other.audit.sealed(0, 100), readonly=True)
        assert [e.event_name for e in sealed] == ["CreateUser"]
    assert writer.flush()
    sealed = store.run(lambda other: other.audit.sealed(0, 100), readonly=True)
    assert [e.event_name for e in sealed] == ["CreateUser", "CreateRole"]


def vars_of(made: AuditEvent) -> dict[str, object]:
    return {f.name: getattr(made, f.name) for f in dataclasses.fields(made)}


def test_a_builder_that_fails_is_logged_not_raised(
    store: Store, writer: TrailWriter, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> list[AuditEvent]:
        raise ValueError("no")

    writer.submit_later(broken)
    writer.submit([event()])
    assert writer.flush()
    assert len(store.run(lambda uow: uow.audit.events(), readonly=True)) == 1
    assert "could not build an event" in caplog.text


def test_last_accessed_keeps_the_latest_use(store: Store, writer: TrailWriter) -> None:
    writer.submit(
        [
            event("GetUser", at=NOW - timedelta(hours=2)),
            event("GetUser", at=NOW - timedelta(hours=1)),
            event("ListRoles", at=NOW, counts=False),  # denied: not an access
            event("GetCallerIdentity", at=NOW, service="sts"),
            event("GetUser", at=NOW - timedelta(hours=3)),  # older, arrives later
            event("ListUsers", entity=None),  # root / anonymous: no entity
        ]
    )
    assert writer.flush()
    uses = store.run(lambda uow: uow.audit.last_accessed(ACCOUNT, ["AIDAALICE"]), readonly=True)
    assert sorted((u.service, u.action, u.last_at) for u in uses) == [
        ("iam", "GetUser", NOW - timedelta(hours=1)),
        ("sts", "GetCallerIdentity", NOW),
    ]


def test_lookup(store: Store, writer: TrailWriter) -> None:
    writer.submit(
        [
            event("CreateGroup", at=NOW - timedelta(minutes=3), resources=(("AWS::IAM::Group", "g"),)),
            event(
                "AddUserToGroup",
                at=NOW - timedelta(minutes=2),
                resources=(("AWS::IAM::Group", "g"), ("AWS::IAM::User", "bob")),
            ),
            event("GetUser", at=NOW - timedelta(minutes=1), user="bob"),
        ]
    )
    assert writer.flush()
    window = {"start": NOW - timedelta(hours=1), "end": NOW}

    def names(attribute: tuple[str, str] | None = None, **extra: object) -> list[str]:
        found = store.run(
            lambda uow: uow.audit.lookup(ACCOUNT, attribute=attribute, **window, **extra), readonly=True
        )  # type: ignore[arg-type]
        return [e.event_name for e in found]

    assert names() == ["GetUser", "AddUserToGroup", "CreateGroup"]
    assert names(("ResourceName", "g")) == ["AddUserToGroup", "CreateGroup"]
    assert names(("ResourceType", "AWS::IAM::User")) == ["AddUserToGroup"]
    assert names(("Username", "bob")) == ["GetUser"]
    assert names(("ReadOnly", "true")) == ["GetUser"]
    assert names(("EventName", "CreateGroup")) == ["CreateGroup"]
    assert names(("EventSource", "iam.amazonaws.com"), limit=1) == ["GetUser"]
    first = store.run(lambda uow: uow.audit.lookup(ACCOUNT, limit=1, **window), readonly=True)[0]  # type: ignore[arg-type]
    assert names(before=(first.event_time, first.id)) == ["AddUserToGroup", "CreateGroup"]
    stored = store.run(
        lambda uow: uow.audit.lookup(ACCOUNT, attribute=("EventName", "AddUserToGroup"), **window),
        readonly=True,
    )  # type: ignore[arg-type]
    assert stored[0].resources == (("AWS::IAM::Group", "g"), ("AWS::IAM::User", "bob"))


@pytest.mark.parametrize("count", [1, 2, 4, 5, 9])
def test_an_event_keeps_all_its_resources(store: Store, count: int) -> None:
    """One resource (an execute) or several (an executemany): all kept, in order."""
    named = tuple(("AWS::IAM::User", f"u{n}") for n in range(count))
    store.run(lambda uow: uow.audit.add_events([event("CreateUser", resources=named)]))
    window = {"start": NOW - timedelta(hours=1), "end": NOW}
    stored = store.run(lambda uow: uow.audit.lookup(ACCOUNT, **window), readonly=True)  # type: ignore[arg-type]
    assert [e.resources for e in stored] == [named]


def test_close_signs_a_digest_and_writes_the_files(store: Store, account: str, tmp_path: Path) -> None:
    writer = TrailWriter(
        store,
        FixedClock(NOW),
        signing_key=load_signing_key(tmp_path / "keys"),
        trail_dir=tmp_path / "trail",
        interval=3600,
        linger=0.01,
    )
    writer.start()
    writer.submit([event("GetUser")])
    assert writer.flush()
    writer.submit([event("ListUsers"), event("ListGroups")])
    writer.close()
    digests = store.run(lambda uow: uow.audit.digests(), readonly=True)
    assert [(d.start_seq, d.end_seq) for d in digests] == [(1, 1), (2, 3)]
    assert verify(store, tmp_path) == (3, [])
    files = sorted((tmp_path / "trail").rglob("*.json.gz"))
    assert files
    relative = files[0].relative_to(tmp_path / "trail").as_posix()
    assert relative.startswith(
        f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/01/02/{ACCOUNT}_CloudTrail_us-east-1_20260102T0304Z_"
    )
    records = [r for path in files for r in json.loads(gzip.decompress(path.read_bytes()))["Records"]]
    assert [r["eventName"] for r in records] == ["GetUser", "ListUsers", "ListGroups"]
    assert (tmp_path / "trail" / ".iamd-exported-seq").read_text().strip() == "3"


class RefusingStore:
    """A store whose every transaction fails (the database is down)."""

    def __init__(self, real: Store) -> None:
        self.real = real
        self.kek = real.kek

    def run(self, *args: object, **kwargs: object) -> object:
        raise RuntimeError("database unavailable")


def test_events_the_database_refuses_are_spooled_then_stored(
    store: Store, account: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = tmp_path / "spool.jsonl"
    down = TrailWriter(RefusingStore(store), FixedClock(NOW), spool=spool, linger=0.01)  # type: ignore[arg-type]
    down.start()
    lost = [event("GetUser"), event("ListUsers")]
    down.submit(lost)
    down.flush(timeout=0.5)
    down.close(timeout=5)
    assert "could not store" in caplog.text
    assert spool.exists() and len(spool.read_text().splitlines()) >= 2
    back = TrailWriter(store, FixedClock(NOW), spool=spool, linger=0.01)
    back.start()
    assert back.flush()
    back.close()
    stored = store.run(lambda uow: uow.audit.events(), readonly=True)
    assert sorted(e.event_id for e in stored) == sorted(e.event_id for e in lost)
    assert not spool.exists()


def test_synchronous_mode_stores_before_returning(store: Store, account: str) -> None:
    writer = TrailWriter(store, FixedClock(NOW), synchronous=True)
    writer.submit([event("GetUser")])
    assert len(store.run(lambda uow: uow.audit.events(), readonly=True)) == 1
    writer.close()


def test_events_for_iamd_trail(store: Store, writer: TrailWriter) -> None:
    writer.submit([event("GetUser", user="a"), event("CreateUser", user="b"), event("GetUser", user="b")])
    assert writer.flush()
    everything = store.run(lambda uow: uow.audit.events(), readonly=True)
    assert [e.event_name for e in everything] == ["GetUser", "CreateUser", "GetUser"]
    by_b = store.run(lambda uow: uow.audit.events(username="b", event_name="GetUser"), readonly=True)
    assert len(by_b) == 1
    after = store.run(lambda uow: uow.audit.events(after_id=everything[0].id), readonly=True)
    assert len(after) == 2
    later = store.run(
        lambda uow: uow.audit.events(since=datetime.now(UTC) + timedelta(days=3650)), readonly=True
    )
    assert later == []
