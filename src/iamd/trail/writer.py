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
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from iamd.clock import Clock
from iamd.private_files import make_private_dir, open_private
from iamd.store.audit import AuditEvent, ChainHead, DigestRecord, LastAccessedUse
from iamd.store.store import Store
from iamd.store.unit import UnitOfWork
from iamd.trail.chain import SigningKey, digest_payload, record_hash
from iamd.trail.files import TrailFiles

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


def _event_to_json(event: AuditEvent) -> str:
    data: dict[str, Any] = asdict(event)
    data["event_time"] = event.event_time.isoformat()
    data["resources"] = [list(r) for r in event.resources]
    return json.dumps(data, separators=(",", ":"))


def _event_from_json(text: str) -> AuditEvent:
    data = json.loads(text)
    data["event_time"] = datetime.fromisoformat(data["event_time"])
    data["resources"] = tuple((str(t), str(n)) for t, n in data.get("resources") or ())
    return AuditEvent(**data)


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

    # -- the request side -----------------------------------------------------------------------

    def start(self) -> None:
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
            events = _materialize(items)
            try:
                self.store.run(lambda uow: uow.audit.add_events(events))
                self.notify()
                return
            except Exception:
                log.exception("trail: could not store %d event(s) now; queueing them", len(events))
            items = list(events)
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
            self._spill(_materialize(overflow), "the database is not keeping up")

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
            self._spill(_materialize(left), "shutting down with events not stored")

    # -- the thread -----------------------------------------------------------------------------

    def _loop(self) -> None:
        backoff = 0.05
        while True:
            with self._lock:
                if not (self._pending or self._waiters or self._dirty or self._stopping):
                    self._lock.wait(IDLE_WAKE_SECONDS)
                    self._dirty = True  # now and then: rows another node left unsealed
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
            events = _materialize(items)
            ok = self._cycle(events, force_digest=stopping)
            if ok:
                backoff = 0.05
                for waiter in waiters:
                    waiter.set()
            else:
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
        events = _materialize(items)
        ok = self._cycle(events, force_digest=False)
        if not ok:
            with self._lock:
                self._pending[:0] = list(events)
        return ok

    def _cycle(self, events: list[AuditEvent], *, force_digest: bool) -> bool:
        now = self.clock.now()

        def work(uow: UnitOfWork) -> int:
            if events:
                uow.audit.add_events(events)
            return self._seal(uow, now, force_digest)

        try:
            self.store.run(work)
        except Exception:
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

    def _seal(self, uow: UnitOfWork, now: datetime, force_digest: bool) -> int:
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
            for event in events:
                log.error("trail: event NOT STORED (%s): %s", why, event.record)
            return
        try:
            make_private_dir(self.spool.parent)
            flags = os.O_WRONLY | os.O_APPEND
            with os.fdopen(open_private(self.spool, flags), "a", encoding="utf-8") as fh:
                for event in events:
                    fh.write(_event_to_json(event) + "\n")
            log.error("trail: %d event(s) spooled to %s (%s)", len(events), self.spool, why)
        except OSError:
            for event in events:
                log.error("trail: event NOT STORED (%s; spool unwritable): %s", why, event.record)

    def _load_spool(self) -> None:
        if self.spool is None or not self.spool.exists():
            return
        loaded = []
        for line in self.spool.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    loaded.append(_event_from_json(line))
                except (ValueError, TypeError, KeyError):
                    log.error("trail: unreadable spooled event: %s", line)
        try:
            self.store.run(lambda uow: uow.audit.add_events(_not_stored(uow, loaded)))
        except Exception:
            log.exception(
                "trail: could not store %d spooled event(s); they stay in %s", len(loaded), self.spool
            )
            return
        self.spool.unlink()
        log.warning("trail: stored %d event(s) from the spool %s", len(loaded), self.spool)


def _materialize(items: Sequence[Pending]) -> list[AuditEvent]:
    """The events of queued items: events as they are, builders run (a failing one is logged)."""
    events: list[AuditEvent] = []
    for item in items:
        if isinstance(item, AuditEvent):
            events.append(item)
            continue
        try:
            events.extend(item())
        except Exception:
            log.exception("trail: could not build an event; it is lost")
    return events


def _not_stored(uow: UnitOfWork, events: list[AuditEvent]) -> list[AuditEvent]:
    """Spooled events the database does not have yet (a spool can repeat stored events)."""
    known = uow.audit.known_event_ids([e.event_id for e in events])
    return [e for e in events if e.event_id not in known]
