"""The trail writer: stores events off the request path, seals them into the hash chain, keeps
last-accessed data, signs digests and writes the trail files.

Events reach the database two ways:

- a successful write records its event in its own transaction (``Audit.try_add_events``): the
  change and its event commit together or not at all;
- every other event (reads, denials, failures, failed authentication) is :meth:`submit`-ted here
  and stored by a background thread in batches, one small transaction per batch.

Either way the rows arrive unsealed; each cycle of the thread seals every unsealed row in one
transaction (reading the chain head under a lock, so several iamd nodes on one database extend
one chain), folds the sealed rows into last-accessed data, and now and then signs a digest.

Nothing is dropped silently: a batch that cannot be stored is retried; while the database keeps
refusing, every failure is logged as an error, and events beyond the in-memory limit (and all
pending events at shutdown) go to a spool file (JSON Lines) that the next start stores first.

One event never takes others with it: when a batch is refused while the database works (a cycle
without the batch succeeds), its events are stored one by one, and an event refused on its own is
recorded in a safe form (ASCII only, its original record kept as escaped text) and copied as it
was to the quarantine file (``trail-quarantine.jsonl``, next to the spool). A spool that cannot be
stored at start is an alarm: an ERROR line, :meth:`TrailWriter.health` (shown by
``/iamd/health``) says so until it is stored (retried while the server runs), and ``iamd trail
verify`` names the events it holds that the trail lacks. The ledger (:mod:`iamd.trail.ledger`)
counts the requests whose events were accepted and those settled, so events lost with the
process (killed before storing its queue) are counted too.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from iamd.clock import Clock
from iamd.private_files import make_private_dir, open_private
from iamd.store.audit import AuditEvent, ChainHead, DigestRecord, LastAccessedUse
from iamd.store.store import Store
from iamd.store.unit import UnitOfWork
from iamd.trail.chain import SigningKey, digest_payload, record_hash
from iamd.trail.files import TrailFiles
from iamd.trail.ledger import LEDGER_FILE_NAME, Ledger

__all__ = ["TrailWriter"]

log = logging.getLogger("iamd.trail")

SEAL_BATCH: Final = 2000
BATCH: Final = 1000
"""Events stored at once without waiting for more."""
LINGER_SECONDS: Final = 0.25
"""How long the writer lets a batch grow (a flush does not wait for it)."""
MAX_PENDING: Final = 100_000
IDLE_WAKE_SECONDS: Final = 5.0
SPOOL_FILE_NAME: Final = "trail-spool.jsonl"
QUARANTINE_FILE_NAME: Final = "trail-quarantine.jsonl"
QUARANTINED: Final = "iamdQuarantined"
"""The key of a safe-form record (an event the database refused as it was)."""


def event_to_json(event: AuditEvent) -> str:
    """An event as one line of the spool or the quarantine file (ASCII: any text survives)."""
    data: dict[str, Any] = asdict(event)
    data["event_time"] = event.event_time.isoformat()
    data["resources"] = [list(r) for r in event.resources]
    return json.dumps(data, separators=(",", ":"))


def event_from_json(text: str) -> AuditEvent:
    """:func:`event_to_json` read back; ``ValueError``/``TypeError``/``KeyError`` if it is not one."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("not an event")
    data["event_time"] = datetime.fromisoformat(data["event_time"])
    data["resources"] = tuple((str(t), str(n)) for t, n in data.get("resources") or ())
    return AuditEvent(**data)


def read_event_lines(path: Path) -> tuple[list[AuditEvent], list[int]]:
    """The events of a spool or quarantine file, and the numbers of lines that are not one."""
    events: list[AuditEvent] = []
    unreadable: list[int] = []
    for number, raw in enumerate(path.read_bytes().splitlines(), 1):
        if not raw.strip():
            continue
        try:
            events.append(event_from_json(raw.decode("utf-8")))
        except (ValueError, TypeError, KeyError, AttributeError):
            unreadable.append(number)
    return events, unreadable


def safe_form(event: AuditEvent, reason: str) -> AuditEvent:
    """``event`` as a record any database takes: ASCII only, the index columns cut to their
    widths, the original record kept as escaped text under ``iamdQuarantined``."""

    def ascii_text(text: object, width: int) -> str | None:
        if text is None:
            return None
        return str(text).encode("ascii", "backslashreplace").decode("ascii").replace("\x00", "")[:width]

    original = ascii_text(event.record, 1 << 30)
    when = event.event_time if isinstance(event.event_time, datetime) else datetime.now(UTC)
    record = {
        "eventVersion": "1.10",
        "eventTime": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": ascii_text(event.event_source, 128),
        "eventName": ascii_text(event.event_name, 128),
        "errorCode": ascii_text(event.error_code, 128),
        "eventID": ascii_text(event.event_id, 36),
        "recipientAccountId": ascii_text(event.account_id, 12),
        QUARANTINED: {"reason": reason, "originalRecord": original},
    }
    return AuditEvent(
        event_id=ascii_text(event.event_id, 36) or "",
        account_id=ascii_text(event.account_id, 12) or "",
        event_time=when,
        event_name=ascii_text(event.event_name, 128) or "",
        event_source=ascii_text(event.event_source, 128) or "",
        username=ascii_text(event.username, 256),
        access_key_id=ascii_text(event.access_key_id, 128),
        entity_id=None,
        entity_arn=None,
        service=ascii_text(event.service, 64) or "",
        region=ascii_text(event.region, 32) or "",
        read_only=bool(event.read_only),
        error_code=ascii_text(event.error_code, 128),
        counts_as_access=False,
        record=json.dumps(record, separators=(",", ":")),
    )


Builder = Callable[[], Sequence[AuditEvent]]
Pending = AuditEvent | Builder


class TrailWriter:
    """Thread-safe. :meth:`start` it, :meth:`close` it at shutdown."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        signing_key: SigningKey | None = None,
        trail_dir: Path | None = None,
        spool: Path | None = None,
        interval: float = 300.0,
        synchronous: bool = False,
        linger: float = LINGER_SECONDS,
    ) -> None:
        """``interval``: seconds between trail files and between signed digests.
        ``synchronous``: store each event in its own transaction before :meth:`submit` returns
        (slower; kept to measure the difference)."""
        self.store = store
        self.clock = clock
        self.signing_key = signing_key
        self.files = TrailFiles(trail_dir) if trail_dir is not None else None
        self.spool = spool
        self.interval = timedelta(seconds=interval)
        self.synchronous = synchronous
        self.linger = linger
        self._lock = threading.Condition()
        self._pending: list[Pending] = []
        self._waiters: list[threading.Event] = []
        self._dirty = True  # seal whatever a previous run left unsealed
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._last_export = time.monotonic()
        self._failures = 0
        self._spool_lock = threading.Lock()
        self._spool_alarm: str | None = None
        self._quarantined = 0
        self._not_stored = 0
        self._lost_before = 0
        self.ledger = Ledger(spool.with_name(LEDGER_FILE_NAME)) if spool is not None else None

    # -- the request side -----------------------------------------------------------------------

    @property
    def quarantine(self) -> Path | None:
        """Where events the database refused are copied as they were."""
        return self.spool.with_name(QUARANTINE_FILE_NAME) if self.spool is not None else None

    def health(self) -> dict[str, Any]:
        """The trail's state for ``/iamd/health``: ``ok``, or ``alarm`` with the problems (a spool
        that could not be stored, events stored only in their safe form or not at all, a database
        that refuses events)."""
        problems: list[str] = []
        if self._spool_alarm is not None:
            problems.append(self._spool_alarm)
        if self._not_stored:
            problems.append(f"{self._not_stored} event(s) could not be stored at all (see the error log)")
        if self._lost_before:
            problems.append(
                f"earlier runs accepted {self._lost_before} request(s) whose events never reached the "
                f"trail (see {self.ledger.path if self.ledger else 'the ledger'} and the error log)"
            )
        if self._failures:
            problems.append(f"the database refused the last {self._failures} attempt(s) to store events")
        state: dict[str, Any] = {"status": "alarm" if problems else "ok"}
        if problems:
            state["problems"] = problems
        if self._quarantined:
            state["quarantined"] = self._quarantined
        return state

    def start(self) -> None:
        if self.ledger is not None:
            deficit = self.ledger.open()
            self._lost_before = self.ledger.lost_before
            if deficit:
                log.error(
                    "trail: ALARM: the previous run accepted %d request(s) whose events it never stored "
                    "(it stopped without storing them); they are not in the trail",
                    deficit,
                )
        self._load_spool()
        self._thread = threading.Thread(target=self._loop, name="iamd-trail", daemon=True)
        self._thread.start()

    def submit(self, events: Sequence[AuditEvent]) -> None:
        """Store ``events`` soon (now, when synchronous)."""
        if events:
            self._enqueue(list(events))

    def submit_later(self, build: Builder) -> None:
        """Store the events ``build`` makes: it runs on the writer's thread, off the request's
        path (now, when synchronous). It must not raise (what it raises is logged)."""
        self._enqueue([build])

    def _enqueue(self, items: list[Pending]) -> None:
        if self.synchronous:
            events = _materialize(items, self.ledger)
            try:
                self.store.run(lambda uow: uow.audit.add_events(events))
                self.notify()
                return
            except Exception:
                log.exception("trail: could not store %d event(s) now; queueing them", len(events))
            items = list(events)
        if self.ledger is not None:
            self.ledger.accept(len(items))
        overflow: list[Pending] = []
        with self._lock:
            was_empty = not self._pending
            self._pending.extend(items)
            if len(self._pending) > MAX_PENDING:
                overflow = self._pending[: len(self._pending) - MAX_PENDING]
                del self._pending[: len(overflow)]
            if was_empty or len(self._pending) >= BATCH:
                self._lock.notify()
        if overflow:
            self._spill(_materialize(overflow, self.ledger), "the database is not keeping up")
            self._settle(len(overflow))

    def notify(self) -> None:
        """Events were stored in a request's transaction: seal them soon."""
        with self._lock:
            if not self._dirty:
                self._dirty = True
                self._lock.notify()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything submitted so far is stored and sealed; False on timeout."""
        if self._thread is None or not self._thread.is_alive():
            return self._cycle_now()
        done = threading.Event()
        with self._lock:
            self._waiters.append(done)
            self._dirty = True
            self._lock.notify()
        if not done.wait(timeout):
            log.warning("trail: flush timed out after %.1f s", timeout)
            return False
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Store and seal what is pending, sign a last digest, write the last files; spool what
        could not be stored."""
        with self._lock:
            self._stopping = True
            self._lock.notify()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("trail: the writer did not stop within %.0f s", timeout)
        with self._lock:
            left, self._pending = self._pending, []
        if left:
            self._spill(_materialize(left, self.ledger), "shutting down with events not stored")
            self._settle(len(left))
        if self.ledger is not None:
            self.ledger.save(force=True)

    # -- the thread -----------------------------------------------------------------------------

    def _loop(self) -> None:
        backoff = 0.05
        while True:
            with self._lock:
                if not (self._pending or self._waiters or self._dirty or self._stopping):
                    self._lock.wait(IDLE_WAKE_SECONDS)
                    self._dirty = True  # now and then: rows another node left unsealed
                retry_spool = self._spool_alarm is not None and not self._stopping
            if retry_spool:
                self._load_spool()
            with self._lock:
                # Let the batch grow a little (one transaction for many events), unless someone
                # waits for it or it is big already.
                deadline = time.monotonic() + self.linger
                while not (self._waiters or self._stopping) and len(self._pending) < BATCH:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._lock.wait(remaining)
                items, self._pending = self._pending, []
                waiters, self._waiters = self._waiters, []
                self._dirty = False
                stopping = self._stopping
            if self.ledger is not None:
                self.ledger.save(throttle=False)  # what was accepted is on record before the store is tried
            events = _materialize(items, self.ledger)
            ok = self._cycle(events, force_digest=stopping)
            if ok:
                self._settle(len(items))
                backoff = 0.05
                for waiter in waiters:
                    waiter.set()
            else:
                self._requeued(items, events)
                with self._lock:
                    self._pending[:0] = list(events)
                    self._waiters[:0] = waiters
                    self._dirty = True
                if stopping:
                    return
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            self._export(force=stopping)
            if stopping:
                return

    def _cycle_now(self) -> bool:
        with self._lock:
            items, self._pending = self._pending, []
        events = _materialize(items, self.ledger)
        ok = self._cycle(events, force_digest=False)
        if ok:
            self._settle(len(items))
        else:
            self._requeued(items, events)
            with self._lock:
                self._pending[:0] = list(events)
        return ok

    def _settle(self, count: int) -> None:
        """``count`` queued items are stored, spooled or quarantined: off the ledger's books."""
        if self.ledger is not None:
            self.ledger.settle(count)
            self.ledger.save()

    def _requeued(self, items: list[Pending], events: list[AuditEvent]) -> None:
        """Queued items go back as the events they made (a builder may make 0, 1 or 2)."""
        if self.ledger is not None:
            self.ledger.accept(len(events) - len(items))

    def _cycle(self, events: list[AuditEvent], *, force_digest: bool) -> bool:
        now = self.clock.now()

        def work(uow: UnitOfWork) -> int:
            return self._seal(uow, now, force_digest, events)

        try:
            # READ COMMITTED: the chain head's row lock orders the sealers (of every node); a
            # serializable sealer would fail requests that insert events meanwhile (see
            # Store.transaction).
            self.store.run(work, serializable=False)
        except Exception:
            if events and self._store_each(events, "refused in a batch"):
                self._failures = 0
                return True
            self._failures += 1
            log.exception(
                "trail: could not store %d event(s) (attempt %d); they stay queued",
                len(events),
                self._failures,
            )
            if self._failures >= 10 and events:
                # Still refused: keep them out of memory, in the spool, and say so loudly.
                self._spill(events, "the database refused them 10 times")
                events.clear()
                self._failures = 0
                return True
            return False
        self._failures = 0
        return True

    def _store_each(self, events: list[AuditEvent], why: str) -> bool:
        """Store a refused batch event by event, if the database works (False if it does not: then
        nothing is stored and the caller keeps the batch). An event refused on its own goes in
        its safe form, and as it was to the quarantine file."""
        try:
            self.store.run(lambda uow: self._seal(uow, self.clock.now(), False), serializable=False)
        except Exception:
            return False  # the database itself fails, not these events
        log.error(
            "trail: %d event(s) were %s while the database works; storing them one by one", len(events), why
        )
        for event in events:
            try:
                self.store.run(_adder([event]))
                continue
            except Exception:
                log.exception("trail: event %s was refused; storing it in a safe form", event.event_id)
            self._quarantine(event, "the database refused the event as it was")
        try:
            self.store.run(lambda uow: self._seal(uow, self.clock.now(), False), serializable=False)
        except Exception:
            log.exception("trail: could not seal the events stored one by one; they are sealed later")
            with self._lock:
                self._dirty = True
        return True

    def _quarantine(self, event: AuditEvent, reason: str) -> None:
        """Keep ``event`` as it was in the quarantine file and store its safe form."""
        self._quarantined += 1
        kept = False
        target = self.quarantine
        if target is not None:
            try:
                flags = os.O_WRONLY | os.O_APPEND
                with self._spool_lock, os.fdopen(open_private(target, flags), "a", encoding="utf-8") as fh:
                    fh.write(event_to_json(event) + "\n")
                kept = True
            except OSError:
                log.exception("trail: could not write the quarantine file %s", target)
        try:
            self.store.run(_adder([safe_form(event, reason)]))
            log.error(
                "trail: event %s stored in its safe form (%s)%s",
                event.event_id,
                reason,
                f"; the original is in {target}" if kept else "",
            )
        except Exception:
            self._lose(1)
            log.exception("trail: event NOT STORED (%s), even in its safe form: %s", reason, event.record)

    def _seal(
        self, uow: UnitOfWork, now: datetime, force_digest: bool, events: Sequence[AuditEvent] = ()
    ) -> int:
        """Seal the unsealed rows (in insertion order), then store ``events`` sealed after them
        (the batch of this cycle: inserted with their seq and hash, not read back and updated);
        fold what they used into last-accessed data; sign a digest when one is due."""
        audit = uow.audit
        head = audit.chain_head(lock=True)
        sealed = 0
        while True:
            batch = audit.unsealed(SEAL_BATCH)
            if not batch:
                break
            seq, current = head.seq, head.hash
            links = []
            uses = []
            for row in batch:
                seq += 1
                current = record_hash(current, row.record)
                links.append((row.id, seq, current))
                if row.counts_as_access and row.entity_id and row.entity_arn:
                    uses.append(
                        LastAccessedUse(
                            row.account_id,
                            row.entity_id,
                            row.entity_arn,
                            row.service,
                            row.event_name,
                            row.event_time,
                            row.region,
                        )
                    )
            head = ChainHead(seq, current, head.digested_seq, head.digested_at)
            audit.seal(links, head)
            audit.note_last_accessed(uses)
            sealed += len(batch)
            if len(batch) < SEAL_BATCH:
                break
        if events:
            head, uses = audit.add_sealed_events(events, head, record_hash)
            audit.note_last_accessed(uses)
            sealed += len(events)
        due = head.digested_at is None or now - head.digested_at >= self.interval
        if self.signing_key is not None and head.seq > head.digested_seq and (due or force_digest):
            previous = audit.last_digest()
            payload = digest_payload(
                start_seq=head.digested_seq + 1,
                end_seq=head.seq,
                end_hash=head.hash,
                created_at=now,
                previous_signature=previous.signature if previous else None,
            )
            digest = DigestRecord(
                0,
                head.digested_seq + 1,
                head.seq,
                head.hash,
                now,
                self.signing_key.key_id,
                payload,
                self.signing_key.sign(payload),
            )
            audit.add_digest(digest, ChainHead(head.seq, head.hash, head.seq, now))
        return sealed

    def _export(self, *, force: bool) -> None:
        if self.files is None:
            return
        if not force and time.monotonic() - self._last_export < self.interval.total_seconds():
            return
        self._last_export = time.monotonic()
        files = self.files
        try:
            while True:
                after = files.exported_seq()
                batch = self.store.run(
                    lambda uow, after=after: uow.audit.sealed(after, 10_000),  # type: ignore[misc]
                    readonly=True,
                )
                if not batch:
                    return
                files.write(batch, self.clock.now())
                if len(batch) < 10_000:
                    return
        except Exception:
            log.exception("trail: could not write the trail files (they are retried later)")

    # -- the spool ------------------------------------------------------------------------------

    def _spill(self, events: Sequence[AuditEvent], why: str) -> None:
        if self.spool is None:
            self._lose(len(events))
            for event in events:
                log.error("trail: event NOT STORED (%s): %s", why, event.record)
            return
        try:
            make_private_dir(self.spool.parent)
            flags = os.O_WRONLY | os.O_APPEND
            with self._spool_lock, os.fdopen(open_private(self.spool, flags), "a", encoding="utf-8") as fh:
                for event in events:
                    fh.write(event_to_json(event) + "\n")
            log.error("trail: %d event(s) spooled to %s (%s)", len(events), self.spool, why)
        except OSError:
            self._lose(len(events))
            for event in events:
                log.error("trail: event NOT STORED (%s; spool unwritable): %s", why, event.record)

    def _load_spool(self) -> None:
        """Store the spool's events, then remove it. Lines that are no event are moved to the
        quarantine file; if the database refuses the events, the spool stays, an ERROR is logged
        and :meth:`health` raises the alarm until a later try (every few seconds) stores them."""
        if self.spool is None:
            return
        with self._spool_lock:
            if not self.spool.exists():
                self._spool_alarm = None
                return
            try:
                loaded, unreadable = read_event_lines(self.spool)
                lines = self.spool.read_bytes().splitlines()
            except OSError as exc:
                self._alarm(f"the spool {self.spool} cannot be read ({exc.strerror})")
                return
        try:
            self.store.run(_adder(loaded))
        except Exception:
            log.exception("trail: could not store the %d event(s) of the spool %s", len(loaded), self.spool)
            if not self._store_each(loaded, "spooled and refused together"):
                self._alarm(
                    f"{len(loaded)} event(s) in the spool {self.spool} could not be stored; "
                    "they are not in the trail yet"
                )
                return
        with self._spool_lock:
            if unreadable and self.quarantine is not None:
                try:
                    with open(self.quarantine, "ab") as fh:
                        for number in unreadable:
                            fh.write(lines[number - 1] + b"\n")
                except OSError:
                    self._alarm(f"{len(unreadable)} unreadable line(s) of {self.spool} cannot be kept")
                    return
                log.error(
                    "trail: %d line(s) of the spool %s are no event; moved to %s",
                    len(unreadable),
                    self.spool,
                    self.quarantine,
                )
            # Events spilled while this ran are stored too: keep only those not read above.
            now_lines = self.spool.read_bytes().splitlines() if self.spool.exists() else []
            later = now_lines[len(lines) :]
            if later:
                self.spool.write_bytes(b"".join(line + b"\n" for line in later))
            else:
                self.spool.unlink(missing_ok=True)
            self._spool_alarm = None
        log.warning("trail: stored %d event(s) from the spool %s", len(loaded), self.spool)

    def _lose(self, count: int) -> None:
        self._not_stored += count
        if self.ledger is not None:
            self.ledger.lose(count)

    def _alarm(self, message: str) -> None:
        if self._spool_alarm != message:
            log.error("trail: ALARM: %s", message)
        self._spool_alarm = message


def _materialize(items: Sequence[Pending], ledger: Ledger | None = None) -> list[AuditEvent]:
    """The events of queued items: events as they are, builders run (a failing one is logged,
    and counted as lost on the ledger)."""
    events: list[AuditEvent] = []
    for item in items:
        if isinstance(item, AuditEvent):
            events.append(item)
            continue
        try:
            events.extend(item())
        except Exception:
            log.exception("trail: could not build an event; it is lost")
            if ledger is not None:
                ledger.lose(1)
    return events


def _adder(events: list[AuditEvent]) -> Callable[[UnitOfWork], None]:
    """Work that stores those of ``events`` the database does not have yet."""

    def add(uow: UnitOfWork) -> None:
        uow.audit.add_events(_not_stored(uow, events))

    return add


def _not_stored(uow: UnitOfWork, events: list[AuditEvent]) -> list[AuditEvent]:
    """Spooled events the database does not have yet (a spool can repeat stored events)."""
    known = uow.audit.known_event_ids([e.event_id for e in events])
    return [e for e in events if e.event_id not in known]
