"""IAM Roles Anywhere: trust anchors (CA certificates) and profiles (roles, policies, duration).

Both are regional resources of an account, named by a UUID; their tags live on the row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from iamd.store.base import Repository, found
from iamd.store.paging import paginate
from iamd.store.records import Page
from iamd.store.schema import RolesAnywhereProfile, RolesAnywhereTrustAnchor

__all__ = ["ProfileRecord", "RolesAnywhere", "TrustAnchorRecord"]


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
    )


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
            if key not in ("name", "enabled", "source_type", "source_data", "tags"):
                raise ValueError(f"a trust anchor has no field {key}")
            setattr(row, key, dict(value) if key == "tags" else value)
        row.updated_at = updated_at
        self._session.flush()
        return _anchor(row)

    def delete_trust_anchor(self, account_id: str, region: str, anchor_id: str) -> TrustAnchorRecord:
        row = found(self._anchor_row(account_id, region, anchor_id), f"trust anchor {anchor_id}")
        self._uow.changed(account_id)
        record = _anchor(row)
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
        )
        for key, value in changes.items():
            if key not in allowed:
                raise ValueError(f"a profile has no field {key}")
            if key in ("role_arns", "managed_policy_arns"):
                value = list(value)
            elif key == "tags":
                value = dict(value)
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

    # -- rows ------------------------------------------------------------------------------------

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
