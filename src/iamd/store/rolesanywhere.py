"""IAM Roles Anywhere: trust anchors (CA certificates), profiles (roles, policies, duration,
attribute mappings), certificate revocation lists and subjects (the certificate identities
CreateSession has seen).

All are regional resources of an account, named by a UUID; tags live on the row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from iamd.store.base import Repository, found
from iamd.store.paging import paginate
from iamd.store.records import Page
from iamd.store.schema import (
    RolesAnywhereCrl,
    RolesAnywhereProfile,
    RolesAnywhereSubject,
    RolesAnywhereTrustAnchor,
)

__all__ = [
    "CredentialRecord",
    "CrlRecord",
    "InstancePropertyRecord",
    "NotificationSettingRecord",
    "ProfileRecord",
    "RolesAnywhere",
    "SubjectRecord",
    "TrustAnchorRecord",
]

#: How many certificates and instance-property sets a subject keeps (the most recent ones).
SUBJECT_HISTORY = 10


@dataclass(frozen=True, slots=True)
class NotificationSettingRecord:
    """A custom notification setting of a trust anchor (the defaults are the service's business)."""

    event: str
    channel: str | None
    enabled: bool
    threshold: int | None
    configured_by: str


@dataclass(frozen=True, slots=True)
class TrustAnchorRecord:
    id: str
    account_id: str
    region: str
    name: str
    enabled: bool
    source_type: str
    source_data: str
    tags: Mapping[str, str]
    created_at: datetime
    updated_at: datetime
    notification_settings: tuple[NotificationSettingRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class ProfileRecord:
    id: str
    account_id: str
    region: str
    name: str
    enabled: bool
    role_arns: tuple[str, ...]
    managed_policy_arns: tuple[str, ...]
    session_policy: str | None
    duration_seconds: int
    require_instance_properties: bool
    accept_role_session_name: bool
    created_by: str
    tags: Mapping[str, str]
    created_at: datetime
    updated_at: datetime
    attribute_mappings: Mapping[str, tuple[str, ...]] | None = None
    """Certificate field -> specifiers; None: never changed (the service's defaults apply)."""


@dataclass(frozen=True, slots=True)
class CrlRecord:
    id: str
    account_id: str
    region: str
    trust_anchor_id: str
    name: str
    enabled: bool
    crl_data: bytes
    tags: Mapping[str, str]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CredentialRecord:
    """A certificate a subject presented to CreateSession."""

    serial_number: str
    issuer: str
    seen_at: datetime
    enabled: bool
    certificate_pem: str
    failed: bool


@dataclass(frozen=True, slots=True)
class InstancePropertyRecord:
    seen_at: datetime
    properties: Mapping[str, str]
    failed: bool


@dataclass(frozen=True, slots=True)
class SubjectRecord:
    id: str
    account_id: str
    region: str
    x509_subject: str
    enabled: bool
    credentials: tuple[CredentialRecord, ...]
    instance_properties: tuple[InstancePropertyRecord, ...]
    last_seen_at: datetime
    created_at: datetime
    updated_at: datetime


def _anchor(row: RolesAnywhereTrustAnchor) -> TrustAnchorRecord:
    return TrustAnchorRecord(
        row.id,
        row.account_id,
        row.region,
        row.name,
        row.enabled,
        row.source_type,
        row.source_data,
        dict(row.tags or {}),
        row.created_at,
        row.updated_at,
        tuple(
            NotificationSettingRecord(
                str(n["event"]),
                None if n.get("channel") is None else str(n["channel"]),
                bool(n["enabled"]),
                None if n.get("threshold") is None else int(n["threshold"]),
                str(n["configuredBy"]),
            )
            for n in row.notification_settings or ()
        ),
    )


def _notification_json(settings: Sequence[NotificationSettingRecord]) -> list[dict[str, Any]]:
    return [
        {
            "event": n.event,
            "channel": n.channel,
            "enabled": n.enabled,
            "threshold": n.threshold,
            "configuredBy": n.configured_by,
        }
        for n in settings
    ]


def _profile(row: RolesAnywhereProfile) -> ProfileRecord:
    return ProfileRecord(
        row.id,
        row.account_id,
        row.region,
        row.name,
        row.enabled,
        tuple(row.role_arns or ()),
        tuple(row.managed_policy_arns or ()),
        row.session_policy,
        row.duration_seconds,
        row.require_instance_properties,
        row.accept_role_session_name,
        row.created_by,
        dict(row.tags or {}),
        row.created_at,
        row.updated_at,
        None
        if row.attribute_mappings is None
        else {field: tuple(specifiers) for field, specifiers in row.attribute_mappings.items()},
    )


def _crl(row: RolesAnywhereCrl) -> CrlRecord:
    return CrlRecord(
        row.id,
        row.account_id,
        row.region,
        row.trust_anchor_id,
        row.name,
        row.enabled,
        bytes(row.crl_data),
        dict(row.tags or {}),
        row.created_at,
        row.updated_at,
    )


def _credential_json(credential: CredentialRecord) -> dict[str, Any]:
    return {
        "serialNumber": credential.serial_number,
        "issuer": credential.issuer,
        "seenAt": credential.seen_at.isoformat(),
        "enabled": credential.enabled,
        "x509CertificateData": credential.certificate_pem,
        "failed": credential.failed,
    }


def _subject(row: RolesAnywhereSubject) -> SubjectRecord:
    return SubjectRecord(
        row.id,
        row.account_id,
        row.region,
        row.x509_subject,
        row.enabled,
        tuple(
            CredentialRecord(
                str(c["serialNumber"]),
                str(c["issuer"]),
                datetime.fromisoformat(str(c["seenAt"])),
                bool(c["enabled"]),
                str(c["x509CertificateData"]),
                bool(c["failed"]),
            )
            for c in row.credentials or ()
        ),
        tuple(
            InstancePropertyRecord(
                datetime.fromisoformat(str(p["seenAt"])),
                {str(k): str(v) for k, v in dict(p["properties"]).items()},
                bool(p["failed"]),
            )
            for p in row.instance_properties or ()
        ),
        row.last_seen_at,
        row.created_at,
        row.updated_at,
    )


class RolesAnywhere(Repository):
    # -- trust anchors ---------------------------------------------------------------------------

    def create_trust_anchor(
        self,
        account_id: str,
        *,
        anchor_id: str,
        region: str,
        name: str,
        enabled: bool,
        source_type: str,
        source_data: str,
        tags: Mapping[str, str],
        created_at: datetime,
    ) -> TrustAnchorRecord:
        self._uow.changed(account_id)
        row = RolesAnywhereTrustAnchor(
            id=anchor_id,
            account_id=account_id,
            region=region,
            name=name,
            enabled=enabled,
            source_type=source_type,
            source_data=source_data,
            tags=dict(tags),
            created_at=created_at,
            updated_at=created_at,
        )
        self._session.add(row)
        self._session.flush()
        return _anchor(row)

    def find_trust_anchor(self, account_id: str, region: str, anchor_id: str) -> TrustAnchorRecord | None:
        row = self._anchor_row(account_id, region, anchor_id)
        return None if row is None else _anchor(row)

    def list_trust_anchors(
        self, account_id: str, region: str, *, marker: str | None = None, max_items: int = 50
    ) -> Page[TrustAnchorRecord]:
        stmt = select(RolesAnywhereTrustAnchor).where(
            RolesAnywhereTrustAnchor.account_id == account_id, RolesAnywhereTrustAnchor.region == region
        )
        rows, next_marker = paginate(self._session, stmt, (RolesAnywhereTrustAnchor.id,), marker, max_items)
        return Page(tuple(_anchor(r) for r in rows), next_marker)

    def update_trust_anchor(
        self, account_id: str, region: str, anchor_id: str, updated_at: datetime, **changes: Any
    ) -> TrustAnchorRecord:
        row = found(self._anchor_row(account_id, region, anchor_id), f"trust anchor {anchor_id}")
        self._uow.changed(account_id)
        for key, value in changes.items():
            if key not in ("name", "enabled", "source_type", "source_data", "tags", "notification_settings"):
                raise ValueError(f"a trust anchor has no field {key}")
            if key == "tags":
                value = dict(value)
            elif key == "notification_settings":
                value = _notification_json(value) or None
            setattr(row, key, value)
        row.updated_at = updated_at
        self._session.flush()
        return _anchor(row)

    def delete_trust_anchor(self, account_id: str, region: str, anchor_id: str) -> TrustAnchorRecord:
        row = found(self._anchor_row(account_id, region, anchor_id), f"trust anchor {anchor_id}")
        self._uow.changed(account_id)
        record = _anchor(row)
        self._session.execute(delete(RolesAnywhereCrl).where(RolesAnywhereCrl.trust_anchor_id == anchor_id))
        self._session.delete(row)
        self._session.flush()
        return record

    # -- profiles --------------------------------------------------------------------------------

    def create_profile(
        self,
        account_id: str,
        *,
        profile_id: str,
        region: str,
        name: str,
        enabled: bool,
        role_arns: Sequence[str],
        managed_policy_arns: Sequence[str],
        session_policy: str | None,
        duration_seconds: int,
        require_instance_properties: bool,
        accept_role_session_name: bool,
        created_by: str,
        tags: Mapping[str, str],
        created_at: datetime,
    ) -> ProfileRecord:
        self._uow.changed(account_id)
        row = RolesAnywhereProfile(
            id=profile_id,
            account_id=account_id,
            region=region,
            name=name,
            enabled=enabled,
            role_arns=list(role_arns),
            managed_policy_arns=list(managed_policy_arns),
            session_policy=session_policy,
            duration_seconds=duration_seconds,
            require_instance_properties=require_instance_properties,
            accept_role_session_name=accept_role_session_name,
            created_by=created_by,
            tags=dict(tags),
            created_at=created_at,
            updated_at=created_at,
        )
        self._session.add(row)
        self._session.flush()
        return _profile(row)

    def find_profile(self, account_id: str, region: str, profile_id: str) -> ProfileRecord | None:
        row = self._profile_row(account_id, region, profile_id)
        return None if row is None else _profile(row)

    def list_profiles(
        self, account_id: str, region: str, *, marker: str | None = None, max_items: int = 50
    ) -> Page[ProfileRecord]:
        stmt = select(RolesAnywhereProfile).where(
            RolesAnywhereProfile.account_id == account_id, RolesAnywhereProfile.region == region
        )
        rows, next_marker = paginate(self._session, stmt, (RolesAnywhereProfile.id,), marker, max_items)
        return Page(tuple(_profile(r) for r in rows), next_marker)

    def update_profile(
        self, account_id: str, region: str, profile_id: str, updated_at: datetime, **changes: Any
    ) -> ProfileRecord:
        row = found(self._profile_row(account_id, region, profile_id), f"profile {profile_id}")
        self._uow.changed(account_id)
        allowed = (
            "name",
            "enabled",
            "role_arns",
            "managed_policy_arns",
            "session_policy",
            "duration_seconds",
            "accept_role_session_name",
            "tags",
            "attribute_mappings",
        )
        for key, value in changes.items():
            if key not in allowed:
                raise ValueError(f"a profile has no field {key}")
            if key in ("role_arns", "managed_policy_arns"):
                value = list(value)
            elif key == "tags":
                value = dict(value)
            elif key == "attribute_mappings" and value is not None:
                value = {field: list(specifiers) for field, specifiers in value.items()}
            setattr(row, key, value)
        row.updated_at = updated_at
        self._session.flush()
        return _profile(row)

    def delete_profile(self, account_id: str, region: str, profile_id: str) -> ProfileRecord:
        row = found(self._profile_row(account_id, region, profile_id), f"profile {profile_id}")
        self._uow.changed(account_id)
        record = _profile(row)
        self._session.delete(row)
        self._session.flush()
        return record

    # -- certificate revocation lists ------------------------------------------------------------

    def create_crl(
        self,
        account_id: str,
        *,
        crl_id: str,
        region: str,
        trust_anchor_id: str,
        name: str,
        enabled: bool,
        crl_data: bytes,
        tags: Mapping[str, str],
        created_at: datetime,
    ) -> CrlRecord:
        found(self._anchor_row(account_id, region, trust_anchor_id), f"trust anchor {trust_anchor_id}")
        self._uow.changed(account_id)
        row = RolesAnywhereCrl(
            id=crl_id,
            account_id=account_id,
            region=region,
            trust_anchor_id=trust_anchor_id,
            name=name,
            enabled=enabled,
            crl_data=bytes(crl_data),
            tags=dict(tags),
            created_at=created_at,
            updated_at=created_at,
        )
        self._session.add(row)
        self._session.flush()
        return _crl(row)

    def find_crl(self, account_id: str, region: str, crl_id: str) -> CrlRecord | None:
        row = self._crl_row(account_id, region, crl_id)
        return None if row is None else _crl(row)

    def list_crls(
        self, account_id: str, region: str, *, marker: str | None = None, max_items: int = 50
    ) -> Page[CrlRecord]:
        stmt = select(RolesAnywhereCrl).where(
            RolesAnywhereCrl.account_id == account_id, RolesAnywhereCrl.region == region
        )
        rows, next_marker = paginate(self._session, stmt, (RolesAnywhereCrl.id,), marker, max_items)
        return Page(tuple(_crl(r) for r in rows), next_marker)

    def enabled_crls(self, account_id: str, region: str, trust_anchor_id: str) -> tuple[CrlRecord, ...]:
        """The enabled CRLs of a trust anchor (what CreateSession checks certificates against)."""
        stmt = select(RolesAnywhereCrl).where(
            RolesAnywhereCrl.account_id == account_id,
            RolesAnywhereCrl.region == region,
            RolesAnywhereCrl.trust_anchor_id == trust_anchor_id,
            RolesAnywhereCrl.enabled.is_(True),
        )
        return tuple(_crl(r) for r in self._session.scalars(stmt))

    def update_crl(
        self, account_id: str, region: str, crl_id: str, updated_at: datetime, **changes: Any
    ) -> CrlRecord:
        row = found(self._crl_row(account_id, region, crl_id), f"CRL {crl_id}")
        self._uow.changed(account_id)
        for key, value in changes.items():
            if key not in ("name", "enabled", "crl_data", "tags"):
                raise ValueError(f"a CRL has no field {key}")
            if key == "tags":
                value = dict(value)
            elif key == "crl_data":
                value = bytes(value)
            setattr(row, key, value)
        row.updated_at = updated_at
        self._session.flush()
        return _crl(row)

    def delete_crl(self, account_id: str, region: str, crl_id: str) -> CrlRecord:
        row = found(self._crl_row(account_id, region, crl_id), f"CRL {crl_id}")
        self._uow.changed(account_id)
        record = _crl(row)
        self._session.delete(row)
        self._session.flush()
        return record

    # -- subjects --------------------------------------------------------------------------------

    def record_subject(
        self,
        account_id: str,
        region: str,
        x509_subject: str,
        *,
        new_id: str,
        credential: CredentialRecord,
        instance_properties: Mapping[str, str] | None,
        seen_at: datetime,
    ) -> SubjectRecord:
        """Note that ``x509_subject`` authenticated with ``credential`` at ``seen_at``: its subject
        (created with ``new_id`` the first time) keeps the certificate, most recent first, and the
        instance properties when given. Not an authorization change: no generation bump."""
        self._uow.writable()
        row = self._session.scalars(
            select(RolesAnywhereSubject).where(
                RolesAnywhereSubject.account_id == account_id,
                RolesAnywhereSubject.region == region,
                RolesAnywhereSubject.x509_subject == x509_subject,
            )
        ).one_or_none()
        if row is None:
            row = RolesAnywhereSubject(
                id=new_id,
                account_id=account_id,
                region=region,
                x509_subject=x509_subject,
                enabled=True,
                credentials=[],
                instance_properties=[],
                last_seen_at=seen_at,
                created_at=seen_at,
                updated_at=seen_at,
            )
            self._session.add(row)
        same = (credential.serial_number, credential.issuer)
        credentials = [_credential_json(credential)] + [
            c for c in row.credentials or () if (c.get("serialNumber"), c.get("issuer")) != same
        ]
        row.credentials = credentials[:SUBJECT_HISTORY]
        if instance_properties:
            properties = dict(instance_properties)
            entry = {"seenAt": seen_at.isoformat(), "properties": properties, "failed": False}
            rest = [p for p in row.instance_properties or () if p.get("properties") != properties]
            row.instance_properties = ([entry, *rest])[:SUBJECT_HISTORY]
        row.last_seen_at = seen_at
        row.updated_at = seen_at
        self._session.flush()
        return _subject(row)

    def find_subject(self, account_id: str, region: str, subject_id: str) -> SubjectRecord | None:
        row = self._session.get(RolesAnywhereSubject, subject_id)
        if row is None or row.account_id != account_id or row.region != region:
            return None
        return _subject(row)

    def list_subjects(
        self, account_id: str, region: str, *, marker: str | None = None, max_items: int = 50
    ) -> Page[SubjectRecord]:
        stmt = select(RolesAnywhereSubject).where(
            RolesAnywhereSubject.account_id == account_id, RolesAnywhereSubject.region == region
        )
        rows, next_marker = paginate(self._session, stmt, (RolesAnywhereSubject.id,), marker, max_items)
        return Page(tuple(_subject(r) for r in rows), next_marker)

    # -- rows ------------------------------------------------------------------------------------

    def _crl_row(self, account_id: str, region: str, crl_id: str) -> RolesAnywhereCrl | None:
        row = self._session.get(RolesAnywhereCrl, crl_id)
        if row is None or row.account_id != account_id or row.region != region:
            return None
        return row

    def _anchor_row(self, account_id: str, region: str, anchor_id: str) -> RolesAnywhereTrustAnchor | None:
        row = self._session.get(RolesAnywhereTrustAnchor, anchor_id)
        if row is None or row.account_id != account_id or row.region != region:
            return None
        return row

    def _profile_row(self, account_id: str, region: str, profile_id: str) -> RolesAnywhereProfile | None:
        row = self._session.get(RolesAnywhereProfile, profile_id)
        if row is None or row.account_id != account_id or row.region != region:
            return None
        return row
