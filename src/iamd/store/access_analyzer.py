"""IAM Access Analyzer's state: analyzers (with their tags and configuration), archive rules,
findings (with their recommendation) and policy-generation jobs; and the trail read policy
generation needs (a principal's calls in a time range)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from iamd.store.audit import TrailEventRow, TrailResourceRow
from iamd.store.base import Repository
from iamd.store.schema import Base

__all__ = [
    "AccessAnalyzer",
    "AnalyzerRecord",
    "ArchiveRuleRecord",
    "FindingRecord",
    "GenerationRecord",
    "TrailCall",
]


class AnalyzerRow(Base):
    __tablename__ = "aa_analyzers"
    __table_args__ = (UniqueConstraint("account_id", "region", "name"),)

    arn: Mapped[str] = mapped_column(String(1024), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12))
    region: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    configuration: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    tags: Mapped[dict[str, str]] = mapped_column(JSON)
    client_token: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]
    last_resource_analyzed: Mapped[str | None] = mapped_column(String(2048))
    last_resource_analyzed_at: Mapped[datetime | None]


class ArchiveRuleRow(Base):
    __tablename__ = "aa_archive_rules"
    __table_args__ = (UniqueConstraint("analyzer_arn", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    analyzer_arn: Mapped[str] = mapped_column(
        String(1024), ForeignKey("aa_analyzers.arn", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(255))
    filter: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class FindingRow(Base):
    __tablename__ = "aa_findings"
    __table_args__ = (Index("ix_aa_findings_analyzer_identity", "analyzer_arn", "identity"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    analyzer_arn: Mapped[str] = mapped_column(
        String(1024), ForeignKey("aa_analyzers.arn", ondelete="CASCADE")
    )
    identity: Mapped[str] = mapped_column(String(255))
    """A digest of what identifies the finding (type, resource, principal, actions, condition …)."""
    finding_type: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(2048))
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_owner_account: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(16))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    """External: principal, action, condition, isPublic; unused: {"findingDetails": [...]}"""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    analyzed_at: Mapped[datetime]
    recommendation: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class PolicyGenerationRow(Base):
    __tablename__ = "aa_policy_generations"

    job_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    principal_arn: Mapped[str] = mapped_column(String(2048))
    status: Mapped[str] = mapped_column(String(16))
    started_on: Mapped[datetime]
    completed_on: Mapped[datetime | None]
    client_token: Mapped[str | None] = mapped_column(String(128))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    result: Mapped[str | None] = mapped_column(Text)


@dataclass(frozen=True, slots=True)
class AnalyzerRecord:
    arn: str
    account_id: str
    region: str
    name: str
    type: str
    status: str
    configuration: dict[str, Any] | None
    tags: dict[str, str]
    client_token: str | None
    created_at: datetime
    last_resource_analyzed: str | None
    last_resource_analyzed_at: datetime | None


@dataclass(frozen=True, slots=True)
class ArchiveRuleRecord:
    analyzer_arn: str
    name: str
    filter: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class FindingRecord:
    id: str
    analyzer_arn: str
    identity: str
    finding_type: str
    resource: str
    resource_type: str
    resource_owner_account: str
    status: str
    details: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    analyzed_at: datetime
    recommendation: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class GenerationRecord:
    job_id: str
    account_id: str
    principal_arn: str
    status: str
    started_on: datetime
    completed_on: datetime | None
    client_token: str | None
    request: dict[str, Any]
    result: str | None


@dataclass(frozen=True, slots=True)
class TrailCall:
    """A call the trail recorded for an entity: its service prefix, operation and resources."""

    service: str
    event_name: str
    resources: tuple[tuple[str, str], ...]
    """(resource type, name or ARN) as the trail recorded them (``AWS::IAM::Role``, ``bob``)."""


def _analyzer(row: AnalyzerRow) -> AnalyzerRecord:
    return AnalyzerRecord(
        row.arn,
        row.account_id,
        row.region,
        row.name,
        row.type,
        row.status,
        row.configuration,
        dict(row.tags),
        row.client_token,
        row.created_at,
        row.last_resource_analyzed,
        row.last_resource_analyzed_at,
    )


def _finding(row: FindingRow) -> FindingRecord:
    return FindingRecord(
        row.id,
        row.analyzer_arn,
        row.identity,
        row.finding_type,
        row.resource,
        row.resource_type,
        row.resource_owner_account,
        row.status,
        dict(row.details),
        row.created_at,
        row.updated_at,
        row.analyzed_at,
        row.recommendation,
    )


def _generation(row: PolicyGenerationRow) -> GenerationRecord:
    return GenerationRecord(
        row.job_id,
        row.account_id,
        row.principal_arn,
        row.status,
        row.started_on,
        row.completed_on,
        row.client_token,
        dict(row.request),
        row.result,
    )


class AccessAnalyzer(Repository):
    # -- analyzers ------------------------------------------------------------------------------

    def add_analyzer(self, record: AnalyzerRecord) -> None:
        self._uow.writable()
        self._session.add(AnalyzerRow(**{f: getattr(record, f) for f in record.__dataclass_fields__}))
        self._session.flush()

    def analyzer(self, account_id: str, region: str, name: str) -> AnalyzerRecord | None:
        row = self._session.scalar(
            select(AnalyzerRow).where(
                AnalyzerRow.account_id == account_id, AnalyzerRow.region == region, AnalyzerRow.name == name
            )
        )
        return None if row is None else _analyzer(row)

    def analyzer_by_arn(self, arn: str) -> AnalyzerRecord | None:
        row = self._session.get(AnalyzerRow, arn)
        return None if row is None else _analyzer(row)

    def analyzers(self, account_id: str, region: str) -> list[AnalyzerRecord]:
        rows = self._session.scalars(
            select(AnalyzerRow)
            .where(AnalyzerRow.account_id == account_id, AnalyzerRow.region == region)
            .order_by(AnalyzerRow.created_at, AnalyzerRow.name)
        )
        return [_analyzer(r) for r in rows]

    def analyzers_of_account(self, account_id: str) -> list[AnalyzerRecord]:
        """The account's analyzers in every Region."""
        rows = self._session.scalars(
            select(AnalyzerRow).where(AnalyzerRow.account_id == account_id).order_by(AnalyzerRow.arn)
        )
        return [_analyzer(r) for r in rows]

    def update_analyzer(self, arn: str, **values: Any) -> None:
        self._uow.writable()
        row = self._session.get(AnalyzerRow, arn)
        assert row is not None
        for key, value in values.items():
            setattr(row, key, value)
        self._session.flush()

    def delete_analyzer(self, arn: str) -> None:
        self._uow.writable()
        self._session.execute(delete(FindingRow).where(FindingRow.analyzer_arn == arn))
        self._session.execute(delete(ArchiveRuleRow).where(ArchiveRuleRow.analyzer_arn == arn))
        self._session.execute(delete(AnalyzerRow).where(AnalyzerRow.arn == arn))

    # -- archive rules --------------------------------------------------------------------------

    def rules(self, analyzer_arn: str) -> list[ArchiveRuleRecord]:
        rows = self._session.scalars(
            select(ArchiveRuleRow)
            .where(ArchiveRuleRow.analyzer_arn == analyzer_arn)
            .order_by(ArchiveRuleRow.id)
        )
        return [
            ArchiveRuleRecord(r.analyzer_arn, r.name, dict(r.filter), r.created_at, r.updated_at)
            for r in rows
        ]

    def put_rule(self, analyzer_arn: str, name: str, criteria: dict[str, Any], now: datetime) -> None:
        self._uow.writable()
        row = self._session.scalar(
            select(ArchiveRuleRow).where(
                ArchiveRuleRow.analyzer_arn == analyzer_arn, ArchiveRuleRow.name == name
            )
        )
        if row is None:
            self._session.add(
                ArchiveRuleRow(
                    analyzer_arn=analyzer_arn, name=name, filter=criteria, created_at=now, updated_at=now
                )
            )
        else:
            row.filter, row.updated_at = criteria, now
        self._session.flush()

    def delete_rule(self, analyzer_arn: str, name: str) -> None:
        self._uow.writable()
        self._session.execute(
            delete(ArchiveRuleRow).where(
                ArchiveRuleRow.analyzer_arn == analyzer_arn, ArchiveRuleRow.name == name
            )
        )

    # -- findings -------------------------------------------------------------------------------

    def findings(self, analyzer_arn: str) -> list[FindingRecord]:
        rows = self._session.scalars(
            select(FindingRow)
            .where(FindingRow.analyzer_arn == analyzer_arn)
            .order_by(FindingRow.created_at, FindingRow.id)
        )
        return [_finding(r) for r in rows]

    def finding(self, analyzer_arn: str, finding_id: str) -> FindingRecord | None:
        row = self._session.get(FindingRow, finding_id)
        return None if row is None or row.analyzer_arn != analyzer_arn else _finding(row)

    def add_finding(self, record: FindingRecord) -> None:
        self._uow.writable()
        self._session.add(FindingRow(**{f: getattr(record, f) for f in record.__dataclass_fields__}))
        self._session.flush()

    def update_finding(self, finding_id: str, **values: Any) -> None:
        self._uow.writable()
        row = self._session.get(FindingRow, finding_id)
        assert row is not None
        for key, value in values.items():
            setattr(row, key, value)
        self._session.flush()

    # -- policy generation ----------------------------------------------------------------------

    def add_generation(self, record: GenerationRecord) -> None:
        self._uow.writable()
        self._session.add(PolicyGenerationRow(**{f: getattr(record, f) for f in record.__dataclass_fields__}))
        self._session.flush()

    def generation(self, job_id: str) -> GenerationRecord | None:
        row = self._session.get(PolicyGenerationRow, job_id)
        return None if row is None else _generation(row)

    def generations(self, account_id: str, since: datetime) -> list[GenerationRecord]:
        rows = self._session.scalars(
            select(PolicyGenerationRow)
            .where(PolicyGenerationRow.account_id == account_id, PolicyGenerationRow.started_on >= since)
            .order_by(PolicyGenerationRow.started_on.desc(), PolicyGenerationRow.job_id)
        )
        return [_generation(r) for r in rows]

    def update_generation(self, job_id: str, **values: Any) -> None:
        self._uow.writable()
        row = self._session.get(PolicyGenerationRow, job_id)
        assert row is not None
        for key, value in values.items():
            setattr(row, key, value)
        self._session.flush()

    # -- the trail ------------------------------------------------------------------------------

    def calls_of(
        self, account_id: str, entity_arn: str, start: datetime, end: datetime, limit: int = 100_000
    ) -> list[TrailCall]:
        """The entity's calls in [start, end] that were not denied (a denied call still names the
        action, but Access Analyzer generates from calls the principal made successfully or not:
        iamd keeps only those that counted as access, so a generated policy never adds access the
        principal was refused)."""
        rows = list(
            self._session.execute(
                select(TrailEventRow.event_id, TrailEventRow.service, TrailEventRow.event_name)
                .where(
                    TrailEventRow.account_id == account_id,
                    TrailEventRow.entity_arn == entity_arn,
                    TrailEventRow.event_time >= start,
                    TrailEventRow.event_time <= end,
                    TrailEventRow.counts_as_access.is_(True),
                )
                .order_by(TrailEventRow.id)
                .limit(limit)
            )
        )
        resources: dict[str, list[tuple[str, str]]] = {}
        ids = [r[0] for r in rows]
        for chunk_start in range(0, len(ids), 500):
            chunk = ids[chunk_start : chunk_start + 500]
            for event_id, kind, name in self._session.execute(
                select(
                    TrailResourceRow.event_id, TrailResourceRow.resource_type, TrailResourceRow.resource_name
                ).where(TrailResourceRow.event_id.in_(chunk))
            ):
                resources.setdefault(event_id, []).append((kind, name))
        return [
            TrailCall(service, name, tuple(resources.get(event_id, ()))) for event_id, service, name in rows
        ]


def page_of(items: Sequence[Any], start: int, size: int) -> tuple[list[Any], int | None]:
    """items[start:start+size] and the next start (None on the last page)."""
    chunk = list(items[start : start + size])
    return chunk, (start + size if start + size < len(items) else None)
