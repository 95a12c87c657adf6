"""The audit trail and what is derived from it: events in CloudTrail's record format, their hash
chain and signed digests, last-accessed data and its jobs, and the set-based reads behind the
credential report.

Events arrive unsealed (``seq`` and ``hash`` NULL): inserted in the transaction of the write they
record, or in batches by the trail writer (:mod:`iamd.trail.writer`). Sealing gives them their
place in the one global hash chain (``seq`` 1, 2, 3 …) in a later transaction, so requests never
contend for the chain head. The chain math is :mod:`iamd.trail.chain`'s; this module only stores.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.functions import FunctionElement

from iamd.store.base import Repository
from iamd.store.errors import TrailEventRefused
from iamd.store.prepared import PreparedInsert
from iamd.store.schema import (
    AccessKey,
    Account,
    Base,
    Group,
    GroupMember,
    InlinePolicy,
    LoginProfile,
    ManagedPolicy,
    MfaDevice,
    PasswordPolicy,
    PolicyAttachment,
    PolicyVersion,
    SigningCertificate,
    User,
)

__all__ = [
    "GENESIS_HASH",
    "Audit",
    "AuditEvent",
    "ChainHead",
    "CredentialCert",
    "CredentialData",
    "CredentialKey",
    "DigestRecord",
    "JobRecord",
    "LastAccessedRecord",
    "LastAccessedUse",
    "SealedEvent",
    "StoredEvent",
    "UnsealedEvent",
]

log = logging.getLogger("iamd.trail")

GENESIS_HASH: Final = "0" * 64
"""The "previous hash" of the first record of the chain."""

_ID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite: an alias of the rowid


# -- tables -------------------------------------------------------------------------------------


class TrailEventRow(Base):
    """One event. ``record`` is the CloudTrail record as JSON; the other columns index it."""

    __tablename__ = "trail_events"
    __table_args__ = (
        Index("ix_trail_events_account_time", "account_id", "event_time"),
        Index("ix_trail_events_account_name", "account_id", "event_name", "event_time"),
        Index("ix_trail_events_account_username", "account_id", "username", "event_time"),
        Index("ix_trail_events_account_key", "account_id", "access_key_id", "event_time"),
        Index("ix_trail_events_account_source", "account_id", "event_source", "event_time"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    account_id: Mapped[str] = mapped_column(String(12))
    """recipientAccountId: whose trail the event is in."""
    event_time: Mapped[datetime]
    event_name: Mapped[str] = mapped_column(String(128))
    event_source: Mapped[str] = mapped_column(String(128))
    username: Mapped[str | None] = mapped_column(String(256))
    access_key_id: Mapped[str | None] = mapped_column(String(128))
    entity_id: Mapped[str | None] = mapped_column(String(128))
    """The IAM user or role the caller acts as (for last-accessed data); None for root, anonymous."""
    entity_arn: Mapped[str | None] = mapped_column(String(2048))
    service: Mapped[str] = mapped_column(String(64))
    """The IAM service prefix of the action (``iam``, ``sts``, ``access-analyzer`` …)."""
    region: Mapped[str] = mapped_column(String(32))
    read_only: Mapped[bool] = mapped_column(Boolean)
    error_code: Mapped[str | None] = mapped_column(String(128))
    counts_as_access: Mapped[bool] = mapped_column(Boolean)
    """An authenticated request that was not denied: it feeds last-accessed data."""
    record: Mapped[str] = mapped_column(Text)
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    hash: Mapped[str | None] = mapped_column(String(64))


class TrailResourceRow(Base):
    """A resource an event names (LookupEvents' ResourceType / ResourceName)."""

    __tablename__ = "trail_event_resources"
    __table_args__ = (
        Index("ix_trail_event_resources_account_name", "account_id", "resource_name"),
        Index("ix_trail_event_resources_account_type", "account_id", "resource_type"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("trail_events.event_id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[str] = mapped_column(String(12))
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_name: Mapped[str] = mapped_column(String(2048))


class TrailChainRow(Base):
    """The head of the hash chain (one row, id 1) and how far signed digests reach."""

    __tablename__ = "trail_chain"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    digested_seq: Mapped[int] = mapped_column(BigInteger)
    digested_at: Mapped[datetime | None]


class TrailDigestRow(Base):
    """A signed statement "the chain had hash H at seq N" (``payload`` is the signed JSON)."""

    __tablename__ = "trail_digests"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    start_seq: Mapped[int] = mapped_column(BigInteger)
    end_seq: Mapped[int] = mapped_column(BigInteger)
    end_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    key_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(128))


class LastAccessedRow(Base):
    """When an entity (user or role) last used an action, and where."""

    __tablename__ = "trail_last_accessed"

    account_id: Mapped[str] = mapped_column(String(12), primary_key=True)
    entity_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    service: Mapped[str] = mapped_column(String(64), primary_key=True)
    action: Mapped[str] = mapped_column(String(128), primary_key=True)
    entity_arn: Mapped[str] = mapped_column(String(2048))
    last_at: Mapped[datetime]
    region: Mapped[str] = mapped_column(String(32))


class LastAccessedJobRow(Base):
    """A GenerateServiceLastAccessedDetails job and its result (JSON), for its Get calls."""

    __tablename__ = "last_accessed_jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    owner_arn: Mapped[str] = mapped_column(String(2048))
    target_arn: Mapped[str] = mapped_column(String(2048))
    granularity: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime]
    result: Mapped[str] = mapped_column(Text)


# -- records ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """An event to store: the record (JSON text) and the columns that index it."""

    event_id: str
    account_id: str
    event_time: datetime
    event_name: str
    event_source: str
    username: str | None
    access_key_id: str | None
    entity_id: str | None
    entity_arn: str | None
    service: str
    region: str
    read_only: bool
    error_code: str | None
    counts_as_access: bool
    record: str
    resources: tuple[tuple[str, str], ...] = ()
    """(ResourceType, ResourceName) pairs."""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as LookupEvents and ``iamd trail`` read it."""

    id: int
    event_id: str
    account_id: str
    event_time: datetime
    event_name: str
    event_source: str
    username: str | None
    access_key_id: str | None
    read_only: bool
    record: str
    resources: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class UnsealedEvent:
    id: int
    event_id: str
    account_id: str
    event_time: datetime
    event_name: str
    service: str
    region: str
    entity_id: str | None
    entity_arn: str | None
    counts_as_access: bool
    record: str


@dataclass(frozen=True, slots=True)
class SealedEvent:
    seq: int
    hash: str
    event_id: str
    event_time: datetime
    event_name: str
    account_id: str
    record: str


@dataclass(frozen=True, slots=True)
class ChainHead:
    seq: int
    hash: str
    digested_seq: int
    digested_at: datetime | None


@dataclass(frozen=True, slots=True)
class DigestRecord:
    id: int
    start_seq: int
    end_seq: int
    end_hash: str
    created_at: datetime
    key_id: str
    payload: str
    signature: str


@dataclass(frozen=True, slots=True)
class LastAccessedUse:
    """One use to fold into last-accessed data (the latest per key wins)."""

    account_id: str
    entity_id: str
    entity_arn: str
    service: str
    action: str
    at: datetime
    region: str


@dataclass(frozen=True, slots=True)
class LastAccessedRecord:
    entity_id: str
    entity_arn: str
    service: str
    action: str
    last_at: datetime
    region: str


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: str
    account_id: str
    owner_arn: str
    target_arn: str
    granularity: str
    created_at: datetime
    completed_at: datetime
    result: str


class CredentialKey(NamedTuple):
    status: str
    created_at: str
    last_used_at: str | None
    last_used_service: str | None
    last_used_region: str | None


class CredentialCert(NamedTuple):
    status: str
    uploaded_at: str


@dataclass(frozen=True, slots=True)
class CredentialData:
    """Everything the credential report shows, read with a few set-based queries. Timestamps are
    formatted by the database (``2014-09-01T22:28:48+00:00``): 100,000 users means some 400,000
    of them, too many to parse and format one by one in Python."""

    account_created_at: str
    root_password_last_used: str | None
    root_mfa: bool
    users: Sequence[tuple[str, str, str, str, str | None]]
    """(id, name, path, creation time, password last used) by name: rows as the database gives
    them (100,000 users make 100,000 of them)."""
    passwords: dict[str, tuple[str, str | None]]
    """User id -> (when its console password was set, when the password policy makes it expire
    or None), for users with a password only."""
    mfa_users: frozenset[str]
    keys: dict[str | None, list[CredentialKey]]
    """User id (None: root) -> its access keys, oldest first."""
    certs: dict[str | None, list[CredentialCert]]


class report_time(FunctionElement[str]):
    """A timestamp column as the credential report writes it, ``2014-09-01T22:28:48+00:00``,
    optionally moved by a number of days; formatted by the database."""

    type = String()
    name = "report_time"
    inherit_cache = True


@compiles(report_time, "sqlite")
def _report_time_sqlite(element: report_time, compiler: Any, **kw: Any) -> str:
    args = [compiler.process(arg, **kw) for arg in element.clauses]
    if len(args) == 1:
        return f"strftime('%Y-%m-%dT%H:%M:%S+00:00', {args[0]})"
    return f"strftime('%Y-%m-%dT%H:%M:%S+00:00', {args[0]}, '+' || {args[1]} || ' days')"


@compiles(report_time)
def _report_time_postgresql(element: report_time, compiler: Any, **kw: Any) -> str:
    args = [compiler.process(arg, **kw) for arg in element.clauses]
    moment = args[0] if len(args) == 1 else f"({args[0]} + make_interval(days => CAST({args[1]} AS INTEGER)))"
    return f"to_char({moment} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"')"


# Text no database can store: lone UTF-16 surrogates (not encodable as UTF-8) and NUL (PostgreSQL
# refuses it in text). The record itself is JSON, whose serializer escapes NUL as \u0000.
_UNSTORABLE: Final = re.compile("[\x00\ud800-\udfff]")
_RECORD_UNSTORABLE: Final = re.compile("[\ud800-\udfff]")


def _storable(text: str, width: int | None = None, pattern: re.Pattern[str] = _UNSTORABLE) -> str:
    if not text.isascii() or "\x00" in text:
        text = pattern.sub("\ufffd", text)
    return text if width is None or len(text) <= width else text[:width]


def _column(text: str | None, width: int) -> str | None:
    return None if text is None else _storable(text, width)


_EVENT_COLUMNS: Final = (
    "event_id",
    "account_id",
    "event_time",
    "event_name",
    "event_source",
    "username",
    "access_key_id",
    "entity_id",
    "entity_arn",
    "service",
    "region",
    "read_only",
    "error_code",
    "counts_as_access",
    "record",
)
"""The columns :func:`_event_values` gives."""


def _event_values(event: AuditEvent) -> dict[str, Any]:
    """The row of ``event``. Whatever text an event carries, the row can be stored: index columns
    are cut to their width and characters no database takes become U+FFFD (the record, which the
    chain hashes, keeps all its text but lone surrogates, which are not Unicode). So one odd
    event never makes a batch of others fail."""
    record = _storable(event.record, pattern=_RECORD_UNSTORABLE)
    if record != event.record:
        log.warning("trail event %s held text that is not Unicode; stored with U+FFFD", event.event_id)
    return {
        "event_id": _storable(event.event_id, 36),
        "account_id": _storable(event.account_id, 12),
        "event_time": event.event_time,
        "event_name": _storable(event.event_name, 128),
        "event_source": _storable(event.event_source, 128),
        "username": _column(event.username, 256),
        "access_key_id": _column(event.access_key_id, 128),
        "entity_id": _column(event.entity_id, 128),
        "entity_arn": _column(event.entity_arn, 2048),
        "service": _storable(event.service, 64),
        "region": _storable(event.region, 32),
        "read_only": event.read_only,
        "error_code": _column(event.error_code, 128),
        "counts_as_access": event.counts_as_access,
        "record": record,
    }


_PREPARED_EVENT: Final = PreparedInsert(
    TrailEventRow.__table__,  # type: ignore[arg-type]
    [*_EVENT_COLUMNS, "seq", "hash"],
)
_PREPARED_UNSEALED: Final = PreparedInsert(
    TrailEventRow.__table__,  # type: ignore[arg-type]
    _EVENT_COLUMNS,
)
"""An event stored unsealed (:meth:`Audit.add_events`): no seq, no hash yet."""
_PREPARED_RESOURCE: Final = PreparedInsert(
    TrailResourceRow.__table__,  # type: ignore[arg-type]
    ["event_id", "account_id", "resource_type", "resource_name"],
)


def _resource_rows(events: Sequence[AuditEvent], rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The resources of ``events`` (stored as ``rows``)."""
    return [
        {
            "event_id": row["event_id"],
            "account_id": row["account_id"],
            "resource_type": _storable(t, 64),
            "resource_name": _storable(n, 2048),
        }
        for e, row in zip(events, rows, strict=True)
        for t, n in e.resources
    ]


_LOOKUP_COLUMNS = {
    "EventId": TrailEventRow.event_id,
    "EventName": TrailEventRow.event_name,
    "Username": TrailEventRow.username,
    "EventSource": TrailEventRow.event_source,
    "AccessKeyId": TrailEventRow.access_key_id,
}


class Audit(Repository):
    # -- writing events -------------------------------------------------------------------------

    def add_events(self, events: Sequence[AuditEvent], *, defer: bool = False) -> bool:
        """Store events, unsealed. No generation bump: the trail changes no decision.
        ``defer``: on PostgreSQL, send the inserts with the transaction's ``COMMIT`` (or its next
        statement), in its round trip; True when so (an error in them is then raised there)."""
        self._uow.writable()
        if not events:
            return False
        # Prepared inserts (on every write's path): compiled once, run on the driver connection
        # (SQLAlchemy's execute path cost several times the database's work here).
        rows = [_event_values(e) for e in events]
        deferred = _PREPARED_UNSEALED.run(self._session, rows, defer=defer)
        return _PREPARED_RESOURCE.run(self._session, _resource_rows(events, rows), defer=defer) or deferred

    def add_sealed_events(
        self, events: Sequence[AuditEvent], head: ChainHead, link: Callable[[str, str], str]
    ) -> tuple[ChainHead, list[LastAccessedUse]]:
        """Store events straight into the chain after ``head``, which this transaction holds
        (:meth:`chain_head` with ``lock``, and every unsealed row sealed before): each gets the
        next seq and ``link(previous hash, its record as stored)``, and the head moves to the
        last. The same rows as :meth:`add_events` followed by :meth:`seal`, without reading them
        back and updating them. Returns the new head and the events' uses for
        :meth:`note_last_accessed` (as :meth:`unsealed` would give them)."""
        self._uow.writable()
        if not events:
            return head, []
        rows = [_event_values(e) for e in events]
        seq, current = head.seq, head.hash
        uses: list[LastAccessedUse] = []
        for row in rows:
            seq += 1
            current = link(current, row["record"])
            row["seq"], row["hash"] = seq, current
            if row["counts_as_access"] and row["entity_id"] and row["entity_arn"]:
                uses.append(
                    LastAccessedUse(
                        row["account_id"],
                        row["entity_id"],
                        row["entity_arn"],
                        row["service"],
                        row["event_name"],
                        row["event_time"].astimezone(UTC),
                        row["region"],
                    )
                )
        _PREPARED_EVENT.run(self._session, rows)
        _PREPARED_RESOURCE.run(self._session, _resource_rows(events, rows))
        head = ChainHead(seq, current, head.digested_seq, head.digested_at)
        self._put_head(head)
        return head, uses

    def try_add_events(self, events: Sequence[AuditEvent]) -> bool:
        """:meth:`add_events`, never failing the surrounding write for the trail's sake: on
        failure the error is logged and False returned (the caller then hands the events to the
        trail writer), and the transaction carries on.

        SQLite undoes just the failed statement. On PostgreSQL a failed statement aborts the whole
        transaction, so a savepoint would be needed to carry on; it costs two round trips on every
        write, for a failure that does not happen in practice (the events are made storable
        first). So the events go in without one, and a failure raises
        :class:`TrailEventRefused`: :meth:`iamd.store.Store.run` runs the write again from the
        start with :attr:`UnitOfWork.trail_savepoint` set, and this then inserts the events in a
        savepoint. Either way the change and its event commit together, or the change commits
        and the event goes to the trail writer; never half an event.

        Without the savepoint, the inserts go out with the ``COMMIT`` on PostgreSQL, in its round
        trip (:mod:`iamd.store.pipelined`): a failure there raises :class:`TrailEventRefused` too
        (see ``Store.transaction``), as :attr:`UnitOfWork.trail_deferred` tells it to."""
        sqlite = self._session.connection().dialect.name == "sqlite"
        guarded = not sqlite and self._uow.trail_savepoint
        try:
            if guarded:
                with self._session.begin_nested():
                    self.add_events(events)
            elif self.add_events(events, defer=not sqlite):
                self._uow.trail_deferred = True
            return True
        except Exception as exc:  # the caller's write must survive whatever went wrong here
            if not sqlite and not guarded:
                log.warning(
                    "could not add %d trail event(s) in the request's transaction (%s): running it "
                    "again with them in a savepoint",
                    len(events),
                    type(exc).__name__,
                )
                raise TrailEventRefused(f"trail event refused: {type(exc).__name__}") from exc
            log.exception("could not add %d trail event(s) in the request's transaction", len(events))
            return False

    def known_event_ids(self, event_ids: Sequence[str]) -> set[str]:
        """Which of these event ids are stored already."""
        known: set[str] = set()
        for start in range(0, len(event_ids), 500):
            chunk = list(event_ids[start : start + 500])
            known.update(
                self._session.scalars(select(TrailEventRow.event_id).where(TrailEventRow.event_id.in_(chunk)))
            )
        return known

    # -- sealing --------------------------------------------------------------------------------

    def unsealed(self, limit: int) -> list[UnsealedEvent]:
        """The oldest events not yet in the chain, in insertion order."""
        rows = self._session.execute(
            select(
                TrailEventRow.id,
                TrailEventRow.event_id,
                TrailEventRow.account_id,
                TrailEventRow.event_time,
                TrailEventRow.event_name,
                TrailEventRow.service,
                TrailEventRow.region,
                TrailEventRow.entity_id,
                TrailEventRow.entity_arn,
                TrailEventRow.counts_as_access,
                TrailEventRow.record,
            )
            .where(TrailEventRow.seq.is_(None))
            .order_by(TrailEventRow.id)
            .limit(limit)
        )
        return [UnsealedEvent(*row) for row in rows]

    def unsealed_count(self) -> int:
        return int(self._session.scalar(select(func.count()).where(TrailEventRow.seq.is_(None))) or 0)

    def chain_head(self, *, lock: bool = False) -> ChainHead:
        """The chain's head (seq 0 and the genesis hash for an empty chain). ``lock``: hold it
        for this transaction (PostgreSQL: FOR UPDATE; SQLite writers hold the database)."""
        stmt = select(TrailChainRow).where(TrailChainRow.id == 1)
        if lock:
            stmt = stmt.with_for_update()
        row = self._session.scalar(stmt)
        if row is None:
            return ChainHead(0, GENESIS_HASH, 0, None)
        return ChainHead(row.seq, row.hash, row.digested_seq, row.digested_at)

    def seal(self, links: Sequence[tuple[int, int, str]], head: ChainHead) -> None:
        """Give events (row id, seq, hash) their place in the chain and move the head."""
        self._uow.writable()
        conn = self._session.connection()
        if links:
            conn.execute(
                update(TrailEventRow)
                .where(TrailEventRow.id == bindparam("row_id"))
                .values(seq=bindparam("new_seq"), hash=bindparam("new_hash")),
                [{"row_id": i, "new_seq": s, "new_hash": h} for i, s, h in links],
            )
        self._put_head(head)

    def _put_head(self, head: ChainHead) -> None:
        row = self._session.get(TrailChainRow, 1)
        if row is None:
            self._session.add(
                TrailChainRow(
                    id=1,
                    seq=head.seq,
                    hash=head.hash,
                    digested_seq=head.digested_seq,
                    digested_at=head.digested_at,
                )
            )
        else:
            row.seq, row.hash = head.seq, head.hash
            row.digested_seq, row.digested_at = head.digested_seq, head.digested_at
        self._session.flush()

    def sealed(self, after_seq: int, limit: int) -> list[SealedEvent]:
        """Sealed events after ``after_seq``, in chain order."""
        rows = self._session.execute(
            select(
                TrailEventRow.seq,
                TrailEventRow.hash,
                TrailEventRow.event_id,
                TrailEventRow.event_time,
                TrailEventRow.event_name,
                TrailEventRow.account_id,
                TrailEventRow.record,
            )
            .where(TrailEventRow.seq > after_seq)
            .order_by(TrailEventRow.seq)
            .limit(limit)
        )
        return [SealedEvent(seq or 0, h or "", e, t, n, a, r) for seq, h, e, t, n, a, r in rows]

    def add_digest(self, digest: DigestRecord, head: ChainHead) -> None:
        """Store a signed digest and note in the head how far digests reach."""
        self._uow.writable()
        self._session.add(
            TrailDigestRow(
                start_seq=digest.start_seq,
                end_seq=digest.end_seq,
                end_hash=digest.end_hash,
                created_at=digest.created_at,
                key_id=digest.key_id,
                payload=digest.payload,
                signature=digest.signature,
            )
        )
        self._put_head(head)

    def digests(self) -> list[DigestRecord]:
        rows = self._session.scalars(select(TrailDigestRow).order_by(TrailDigestRow.id))
        return [
            DigestRecord(
                r.id, r.start_seq, r.end_seq, r.end_hash, r.created_at, r.key_id, r.payload, r.signature
            )
            for r in rows
        ]

    def last_digest(self) -> DigestRecord | None:
        row = self._session.scalar(select(TrailDigestRow).order_by(TrailDigestRow.id.desc()).limit(1))
        if row is None:
            return None
        return DigestRecord(
            row.id,
            row.start_seq,
            row.end_seq,
            row.end_hash,
            row.created_at,
            row.key_id,
            row.payload,
            row.signature,
        )

    # -- reading events -------------------------------------------------------------------------

    def lookup(
        self,
        account_id: str,
        *,
        start: datetime,
        end: datetime,
        attribute: tuple[str, str] | None = None,
        before: tuple[datetime, int] | None = None,
        limit: int = 50,
    ) -> list[StoredEvent]:
        """LookupEvents: the account's events in [start, end], newest first, optionally those
        whose attribute (EventId, EventName, ReadOnly, Username, ResourceType, ResourceName,
        EventSource, AccessKeyId) equals a value; ``before``: (time, id) of the last event of
        the previous page."""
        stmt = select(TrailEventRow).where(
            TrailEventRow.account_id == account_id,
            TrailEventRow.event_time >= start,
            TrailEventRow.event_time <= end,
        )
        if attribute is not None:
            key, value = attribute
            if key in _LOOKUP_COLUMNS:
                stmt = stmt.where(_LOOKUP_COLUMNS[key] == value)
            elif key == "ReadOnly":
                stmt = stmt.where(TrailEventRow.read_only == (value.lower() == "true"))
            elif key in ("ResourceName", "ResourceType"):
                column = (
                    TrailResourceRow.resource_name
                    if key == "ResourceName"
                    else TrailResourceRow.resource_type
                )
                stmt = stmt.where(
                    TrailEventRow.event_id.in_(
                        select(TrailResourceRow.event_id).where(
                            TrailResourceRow.account_id == account_id, column == value
                        )
                    )
                )
            else:
                raise ValueError(f"unknown lookup attribute {key}")
        if before is not None:
            at, row_id = before
            stmt = stmt.where(
                or_(
                    TrailEventRow.event_time < at,
                    and_(TrailEventRow.event_time == at, TrailEventRow.id < row_id),
                )
            )
        stmt = stmt.order_by(TrailEventRow.event_time.desc(), TrailEventRow.id.desc()).limit(limit)
        return self._stored(list(self._session.scalars(stmt)))

    def events(
        self,
        *,
        account_id: str | None = None,
        username: str | None = None,
        event_name: str | None = None,
        since: datetime | None = None,
        after_id: int = 0,
        limit: int = 1000,
    ) -> list[StoredEvent]:
        """Events in the order they were stored (``iamd trail``), from row ``after_id`` on."""
        stmt = select(TrailEventRow).where(TrailEventRow.id > after_id)
        if account_id is not None:
            stmt = stmt.where(TrailEventRow.account_id == account_id)
        if username is not None:
            stmt = stmt.where(TrailEventRow.username == username)
        if event_name is not None:
            stmt = stmt.where(TrailEventRow.event_name == event_name)
        if since is not None:
            stmt = stmt.where(TrailEventRow.event_time >= since)
        stmt = stmt.order_by(TrailEventRow.id).limit(limit)
        return self._stored(list(self._session.scalars(stmt)))

    def last_row_id(self) -> int:
        return int(self._session.scalar(select(func.max(TrailEventRow.id))) or 0)

    def _stored(self, rows: list[TrailEventRow]) -> list[StoredEvent]:
        resources: dict[str, list[tuple[str, str]]] = {}
        if rows:
            found = self._session.execute(
                select(
                    TrailResourceRow.event_id, TrailResourceRow.resource_type, TrailResourceRow.resource_name
                )
                .where(TrailResourceRow.event_id.in_([r.event_id for r in rows]))
                .order_by(TrailResourceRow.id)
            )
            for event_id, kind, name in found:
                resources.setdefault(event_id, []).append((kind, name))
        return [
            StoredEvent(
                r.id,
                r.event_id,
                r.account_id,
                r.event_time,
                r.event_name,
                r.event_source,
                r.username,
                r.access_key_id,
                r.read_only,
                r.record,
                tuple(resources.get(r.event_id, ())),
            )
            for r in rows
        ]

    # -- last accessed --------------------------------------------------------------------------

    def note_last_accessed(self, uses: Iterable[LastAccessedUse]) -> None:
        """Fold uses into last-accessed data: per (account, entity, service, action) the latest."""
        self._uow.writable()
        latest: dict[tuple[str, str, str, str], LastAccessedUse] = {}
        for use in uses:
            key = (use.account_id, use.entity_id, use.service, use.action)
            known = latest.get(key)
            if known is None or use.at >= known.at:
                latest[key] = use
        if not latest:
            return
        self._session.flush()
        conn = self._session.connection()
        entity_ids = sorted({k[1] for k in latest})
        existing = {
            (a, e, s, x): at
            for a, e, s, x, at in conn.execute(
                select(
                    LastAccessedRow.account_id,
                    LastAccessedRow.entity_id,
                    LastAccessedRow.service,
                    LastAccessedRow.action,
                    LastAccessedRow.last_at,
                ).where(LastAccessedRow.entity_id.in_(entity_ids))
            )
        }
        inserts = []
        updates = []
        for key, use in latest.items():
            values = {
                "account_id": use.account_id,
                "entity_id": use.entity_id,
                "service": use.service,
                "action": use.action,
                "entity_arn": use.entity_arn,
                "last_at": use.at,
                "region": use.region,
            }
            if key not in existing:
                inserts.append(values)
            elif existing[key] <= use.at:
                updates.append({f"b_{k}": v for k, v in values.items()})
        if inserts:
            conn.execute(insert(LastAccessedRow), inserts)
        if updates:
            conn.execute(
                update(LastAccessedRow)
                .where(
                    LastAccessedRow.account_id == bindparam("b_account_id"),
                    LastAccessedRow.entity_id == bindparam("b_entity_id"),
                    LastAccessedRow.service == bindparam("b_service"),
                    LastAccessedRow.action == bindparam("b_action"),
                )
                .values(
                    entity_arn=bindparam("b_entity_arn"),
                    last_at=bindparam("b_last_at"),
                    region=bindparam("b_region"),
                ),
                updates,
            )

    def last_accessed(self, account_id: str, entity_ids: Iterable[str]) -> list[LastAccessedRecord]:
        """Every (service, action) the entities used, with when and where they last did."""
        ids = sorted(set(entity_ids))
        if not ids:
            return []
        found = self._uses(LastAccessedRow.account_id == account_id, LastAccessedRow.entity_id.in_(ids))
        return [use for _, use in found]

    def accounts_last_accessed(self, account_ids: Iterable[str]) -> list[tuple[str, LastAccessedRecord]]:
        """(account id, use) of every (service, action) any entity of these accounts used."""
        ids = sorted(set(account_ids))
        return self._uses(LastAccessedRow.account_id.in_(ids)) if ids else []

    def _uses(self, *where: ColumnElement[bool]) -> list[tuple[str, LastAccessedRecord]]:
        rows = self._session.execute(
            select(
                LastAccessedRow.account_id,
                LastAccessedRow.entity_id,
                LastAccessedRow.entity_arn,
                LastAccessedRow.service,
                LastAccessedRow.action,
                LastAccessedRow.last_at,
                LastAccessedRow.region,
            ).where(*where)
        )
        return [(row[0], LastAccessedRecord(*row[1:])) for row in rows]

    def put_job(self, job: JobRecord, *, keep_after: datetime | None = None) -> None:
        """Store a last-accessed job; ``keep_after``: delete the account's jobs created before."""
        self._uow.writable()
        if keep_after is not None:
            self._session.execute(
                delete(LastAccessedJobRow).where(
                    LastAccessedJobRow.account_id == job.account_id,
                    LastAccessedJobRow.created_at < keep_after,
                )
            )
        self._session.add(
            LastAccessedJobRow(
                id=job.id,
                account_id=job.account_id,
                owner_arn=job.owner_arn,
                target_arn=job.target_arn,
                granularity=job.granularity,
                created_at=job.created_at,
                completed_at=job.completed_at,
                result=job.result,
            )
        )
        self._session.flush()

    def job(self, job_id: str) -> JobRecord | None:
        row = self._session.get(LastAccessedJobRow, job_id)
        if row is None:
            return None
        return JobRecord(
            row.id,
            row.account_id,
            row.owner_arn,
            row.target_arn,
            row.granularity,
            row.created_at,
            row.completed_at,
            row.result,
        )

    def group_policy_documents(self, group_id: str) -> list[str]:
        """A group's own inline policies and the default versions of its attached policies."""
        inline = self._session.scalars(select(InlinePolicy.document).where(InlinePolicy.group_id == group_id))
        managed = self._session.scalars(
            select(PolicyVersion.document)
            .join(ManagedPolicy, ManagedPolicy.id == PolicyVersion.policy_id)
            .join(PolicyAttachment, PolicyAttachment.policy_id == ManagedPolicy.id)
            .where(
                PolicyAttachment.group_id == group_id,
                PolicyVersion.version_id == ManagedPolicy.default_version_id,
            )
        )
        return [*inline, *managed]

    def users_with_policy(self, policy_id: str, account_id: str) -> list[tuple[str, str, str]]:
        """(id, name, path) of the account's users a managed policy applies to: attached to
        them directly or to one of their groups."""
        direct = select(User.id, User.name, User.path).where(
            User.account_id == account_id,
            User.id.in_(select(PolicyAttachment.user_id).where(PolicyAttachment.policy_id == policy_id)),
        )
        via_group = (
            select(User.id, User.name, User.path)
            .join(GroupMember, GroupMember.user_id == User.id)
            .join(PolicyAttachment, PolicyAttachment.group_id == GroupMember.group_id)
            .where(User.account_id == account_id, PolicyAttachment.policy_id == policy_id)
        )
        seen: dict[str, tuple[str, str, str]] = {}
        for stmt in (direct, via_group):
            for user_id, name, path in self._session.execute(stmt):
                seen[user_id] = (user_id, name, path)
        return sorted(seen.values(), key=lambda u: u[1].lower())

    def group_member_refs(self, group_id: str) -> list[tuple[str, str, str]]:
        """(id, name, path) of a group's members, by name."""
        rows = self._session.execute(
            select(User.id, User.name, User.path)
            .join(GroupMember, GroupMember.user_id == User.id)
            .where(GroupMember.group_id == group_id)
            .order_by(User.name_lower)
        )
        return [(i, n, p) for i, n, p in rows]

    def group_of(self, group_id: str) -> tuple[str, str] | None:
        row = self._session.execute(select(Group.name, Group.path).where(Group.id == group_id)).first()
        return None if row is None else (row[0], row[1])

    # -- the credential report ------------------------------------------------------------------

    def credential_data(self, account_id: str) -> CredentialData:
        """What the credential report needs, for every user at once (seven queries, none per
        user)."""
        self._session.flush()
        conn = self._session.connection()
        created, root_last_used = conn.execute(
            select(report_time(Account.created_at), report_time(Account.root_password_last_used)).where(
                Account.id == account_id
            )
        ).one()
        max_age = conn.execute(
            select(PasswordPolicy.max_age_days).where(PasswordPolicy.account_id == account_id)
        ).scalar()
        # Rows as they come (id, name, path, created, password last used): 100,000 of them.
        users: Sequence[tuple[str, str, str, str, str | None]] = conn.execute(
            select(
                User.id,
                User.name,
                User.path,
                report_time(User.created_at),
                report_time(User.password_last_used),
            )
            .where(User.account_id == account_id)
            .order_by(User.name_lower)
        ).all()
        expiry: Any = (
            report_time(LoginProfile.password_changed_at, literal(int(max_age)))
            if max_age
            else literal(None, String())
        )
        passwords = {
            user_id: (changed, expires)
            for user_id, changed, expires in conn.execute(
                select(LoginProfile.user_id, report_time(LoginProfile.password_changed_at), expiry).where(
                    LoginProfile.account_id == account_id
                )
            ).all()
        }
        mfa_users: set[str] = set()
        root_mfa = False
        for user_id, is_root in conn.execute(
            select(MfaDevice.user_id, MfaDevice.is_root).where(
                MfaDevice.account_id == account_id, MfaDevice.enabled_at.is_not(None)
            )
        ):
            if is_root:
                root_mfa = True
            elif user_id is not None:
                mfa_users.add(user_id)
        keys: dict[str | None, list[CredentialKey]] = {}
        for user_id, status, key_created, last_used, service, region in conn.execute(
            select(
                AccessKey.user_id,
                AccessKey.status,
                report_time(AccessKey.created_at),
                report_time(AccessKey.last_used_at),
                AccessKey.last_used_service,
                AccessKey.last_used_region,
            )
            .where(AccessKey.account_id == account_id)
            .order_by(AccessKey.created_at, AccessKey.id)
        ).all():
            keys.setdefault(user_id, []).append(
                CredentialKey(status, key_created, last_used, service, region)
            )
        certs: dict[str | None, list[CredentialCert]] = {}
        for user_id, status, uploaded in conn.execute(
            select(
                SigningCertificate.user_id,
                SigningCertificate.status,
                report_time(SigningCertificate.uploaded_at),
            )
            .where(SigningCertificate.account_id == account_id)
            .order_by(SigningCertificate.uploaded_at, SigningCertificate.id)
        ).all():
            certs.setdefault(user_id, []).append(CredentialCert(status, uploaded))
        return CredentialData(
            account_created_at=created,
            root_password_last_used=root_last_used,
            root_mfa=root_mfa,
            users=users,
            passwords=passwords,
            mfa_users=frozenset(mfa_users),
            keys=keys,
            certs=certs,
        )
