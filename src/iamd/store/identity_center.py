"""IAM Identity Center's administration data (``sso-admin``): instances, permission sets, account
assignments, what is provisioned where, the asynchronous request records, and each instance's
attributes for access control (ABAC).

Tables are prefixed ``sso_``. An instance row names its owner account and, for an organization
instance, its organization; everything else hangs off the instance (deleted with it). Users and
groups (the principals of assignments) live in the identity store, which this module does not read:
an assignment holds the principal's type and id only.

The access portal's questions (what may this person use, which attributes become their session
tags) are answered by :meth:`IdentityCenter.access_for` and
:meth:`IdentityCenter.access_control_attributes`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, delete, func, select
from sqlalchemy.orm import Mapped, mapped_column

from iamd.store.base import Repository, found
from iamd.store.paging import paginate
from iamd.store.schema import Base

__all__ = [
    "ASSIGNMENT_CREATION",
    "ASSIGNMENT_DELETION",
    "PROVISIONING",
    "AccessControlAttribute",
    "AssignmentRecord",
    "IdentityCenter",
    "InstanceRecord",
    "PermissionSetRecord",
    "ProvisionedRecord",
    "RequestRecord",
    "UserAccess",
]

ASSIGNMENT_CREATION: Final = "ASSIGNMENT_CREATION"
ASSIGNMENT_DELETION: Final = "ASSIGNMENT_DELETION"
PROVISIONING: Final = "PROVISIONING"
"""The kinds of asynchronous request record (:class:`RequestRecord.kind`)."""


# -- tables ------------------------------------------------------------------------------------------


class SsoInstanceRow(Base):
    __tablename__ = "sso_instances"

    arn: Mapped[str] = mapped_column(String(128), primary_key=True)
    """``arn:aws:sso:::instance/ssoins-<16 hex>``"""
    owner_account_id: Mapped[str] = mapped_column(String(12), unique=True)
    """An account holds at most one instance (of either kind)."""
    organization_id: Mapped[str | None] = mapped_column(String(64), index=True)
    """Set for an organization instance (created by the management account), else None."""
    identity_store_id: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    region: Mapped[str] = mapped_column(String(32))
    """The home Region: it names the provisioned roles' path (none for us-east-1)."""
    status: Mapped[str] = mapped_column(String(32))
    provider_suffix: Mapped[str] = mapped_column(String(16))
    """The 16 hex of the SAML provider ``AWSSSO_<suffix>_DO_NOT_DELETE`` in member accounts."""
    client_token: Mapped[str | None] = mapped_column(String(64))
    request: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The CreateInstance parameters, to tell a retry (same ClientToken) from a mismatch."""
    tags: Mapped[dict[str, str]] = mapped_column(JSON)
    abac: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    """The access control attributes ``[{"Key", "Value": {"Source": [..]}}]``; None: ABAC off."""
    created_at: Mapped[datetime]


class SsoPermissionSetRow(Base):
    __tablename__ = "sso_permission_sets"
    __table_args__ = (UniqueConstraint("instance_arn", "name"),)

    arn: Mapped[str] = mapped_column(String(160), primary_key=True)
    instance_arn: Mapped[str] = mapped_column(
        String(128), ForeignKey("sso_instances.arn", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(String(700))
    session_duration: Mapped[str] = mapped_column(String(100))
    relay_state: Mapped[str | None] = mapped_column(String(240))
    managed_policies: Mapped[list[str]] = mapped_column(JSON)
    customer_policies: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    """``[{"Name", "Path"}]`` in attachment order."""
    inline_policy: Mapped[str | None] = mapped_column(Text)
    boundary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """``{"ManagedPolicyArn": …}`` or ``{"CustomerManagedPolicyReference": {"Name", "Path"}}``."""
    tags: Mapped[dict[str, str]] = mapped_column(JSON)
    revision: Mapped[int]
    """Goes up with every change; an account is up to date when it got the latest revision."""
    created_at: Mapped[datetime]


class SsoAssignmentRow(Base):
    __tablename__ = "sso_assignments"
    __table_args__ = (
        UniqueConstraint(
            "permission_set_arn", "target_id", "principal_type", "principal_id", name="uq_sso_assignments_one"
        ),
        Index("ix_sso_assignments_principal", "instance_arn", "principal_id"),
        Index("ix_sso_assignments_target", "instance_arn", "target_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    instance_arn: Mapped[str] = mapped_column(
        String(128), ForeignKey("sso_instances.arn", ondelete="CASCADE")
    )
    permission_set_arn: Mapped[str] = mapped_column(
        String(160), ForeignKey("sso_permission_sets.arn", ondelete="CASCADE")
    )
    target_id: Mapped[str] = mapped_column(String(12))
    principal_type: Mapped[str] = mapped_column(String(8))
    principal_id: Mapped[str] = mapped_column(String(47))
    created_at: Mapped[datetime]


class SsoProvisionedRow(Base):
    """A permission set provisioned to an account: the role it made there."""

    __tablename__ = "sso_provisioned"
    __table_args__ = (Index("ix_sso_provisioned_target", "instance_arn", "target_id"),)

    permission_set_arn: Mapped[str] = mapped_column(
        String(160), ForeignKey("sso_permission_sets.arn", ondelete="CASCADE"), primary_key=True
    )
    target_id: Mapped[str] = mapped_column(String(12), primary_key=True)
    instance_arn: Mapped[str] = mapped_column(
        String(128), ForeignKey("sso_instances.arn", ondelete="CASCADE")
    )
    role_name: Mapped[str] = mapped_column(String(64))
    role_path: Mapped[str] = mapped_column(String(512))
    revision: Mapped[int]
    provisioned_at: Mapped[datetime]


class SsoRequestRow(Base):
    """An asynchronous request: an assignment's creation or deletion, or a provisioning."""

    __tablename__ = "sso_requests"
    __table_args__ = (Index("ix_sso_requests_instance_kind", "instance_arn", "kind", "created_at"),)

    request_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_arn: Mapped[str] = mapped_column(
        String(128), ForeignKey("sso_instances.arn", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16))
    failure_reason: Mapped[str | None] = mapped_column(String(1024))
    target_id: Mapped[str | None] = mapped_column(String(12))
    target_type: Mapped[str | None] = mapped_column(String(32))
    permission_set_arn: Mapped[str | None] = mapped_column(String(160))
    principal_type: Mapped[str | None] = mapped_column(String(8))
    principal_id: Mapped[str | None] = mapped_column(String(47))
    created_at: Mapped[datetime]


# -- records -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InstanceRecord:
    arn: str
    owner_account_id: str
    organization_id: str | None
    identity_store_id: str
    name: str | None
    region: str
    status: str
    provider_suffix: str
    client_token: str | None
    request: dict[str, Any] | None
    tags: dict[str, str]
    abac: list[dict[str, Any]] | None
    created_at: datetime

    @property
    def id(self) -> str:
        """``ssoins-<16 hex>``"""
        return self.arn.rsplit("/", 1)[1]

    @property
    def is_organization_instance(self) -> bool:
        return self.organization_id is not None


@dataclass(frozen=True, slots=True)
class PermissionSetRecord:
    arn: str
    instance_arn: str
    name: str
    description: str | None
    session_duration: str
    relay_state: str | None
    managed_policies: tuple[str, ...]
    customer_policies: tuple[tuple[str, str], ...]
    """(name, path) pairs."""
    inline_policy: str | None
    boundary: dict[str, Any] | None
    tags: dict[str, str]
    revision: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AssignmentRecord:
    instance_arn: str
    permission_set_arn: str
    target_id: str
    principal_type: str
    principal_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ProvisionedRecord:
    permission_set_arn: str
    target_id: str
    instance_arn: str
    role_name: str
    role_path: str
    revision: int
    provisioned_at: datetime

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{self.target_id}:role{self.role_path}{self.role_name}"


@dataclass(frozen=True, slots=True)
class RequestRecord:
    request_id: str
    instance_arn: str
    kind: str
    status: str
    failure_reason: str | None
    target_id: str | None
    target_type: str | None
    permission_set_arn: str | None
    principal_type: str | None
    principal_id: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AccessControlAttribute:
    """An ABAC attribute: session tag ``key`` takes the value at identity-store path ``source``
    (``${path:enterprise.department}``)."""

    key: str
    source: str


@dataclass(frozen=True, slots=True)
class UserAccess:
    """One account and role a person may use through the access portal."""

    account_id: str
    permission_set_arn: str
    permission_set_name: str
    """The portal's ``roleName`` (what GetRoleCredentials names)."""
    role_name: str
    """The IAM role in the account: ``AWSReservedSSO_<set>_<16 hex>``."""
    role_arn: str
    session_duration: str
    """ISO-8601 (``PT1H``): how long the role's credentials last."""
    relay_state: str | None


def _instance(row: SsoInstanceRow) -> InstanceRecord:
    return InstanceRecord(
        arn=row.arn,
        owner_account_id=row.owner_account_id,
        organization_id=row.organization_id,
        identity_store_id=row.identity_store_id,
        name=row.name,
        region=row.region,
        status=row.status,
        provider_suffix=row.provider_suffix,
        client_token=row.client_token,
        request=dict(row.request) if row.request is not None else None,
        tags=dict(row.tags),
        abac=[dict(a) for a in row.abac] if row.abac is not None else None,
        created_at=row.created_at,
    )


def _permission_set(row: SsoPermissionSetRow) -> PermissionSetRecord:
    return PermissionSetRecord(
        arn=row.arn,
        instance_arn=row.instance_arn,
        name=row.name,
        description=row.description,
        session_duration=row.session_duration,
        relay_state=row.relay_state,
        managed_policies=tuple(row.managed_policies),
        customer_policies=tuple((p["Name"], p["Path"]) for p in row.customer_policies),
        inline_policy=row.inline_policy,
        boundary=dict(row.boundary) if row.boundary is not None else None,
        tags=dict(row.tags),
        revision=row.revision,
        created_at=row.created_at,
    )


def _assignment(row: SsoAssignmentRow) -> AssignmentRecord:
    return AssignmentRecord(
        row.instance_arn,
        row.permission_set_arn,
        row.target_id,
        row.principal_type,
        row.principal_id,
        row.created_at,
    )


def _provisioned(row: SsoProvisionedRow) -> ProvisionedRecord:
    return ProvisionedRecord(
        row.permission_set_arn,
        row.target_id,
        row.instance_arn,
        row.role_name,
        row.role_path,
        row.revision,
        row.provisioned_at,
    )


def _request(row: SsoRequestRow) -> RequestRecord:
    return RequestRecord(
        request_id=row.request_id,
        instance_arn=row.instance_arn,
        kind=row.kind,
        status=row.status,
        failure_reason=row.failure_reason,
        target_id=row.target_id,
        target_type=row.target_type,
        permission_set_arn=row.permission_set_arn,
        principal_type=row.principal_type,
        principal_id=row.principal_id,
        created_at=row.created_at,
    )


_PS_FIELDS: Final = frozenset(
    {
        "description",
        "session_duration",
        "relay_state",
        "managed_policies",
        "customer_policies",
        "inline_policy",
        "boundary",
    }
)


class IdentityCenter(Repository):
    """Identity Center's administration data. Every method runs in the caller's unit of work.

    Writes raise :class:`~iamd.store.errors.AlreadyExists` for a taken instance (one per account),
    permission set name (per instance) or assignment, and NotFound for what does not exist."""

    # -- instances ---------------------------------------------------------------------------------

    def create_instance(
        self,
        *,
        arn: str,
        owner_account_id: str,
        organization_id: str | None,
        identity_store_id: str,
        name: str | None,
        region: str,
        provider_suffix: str,
        client_token: str | None,
        request: dict[str, Any] | None,
        tags: dict[str, str],
        now: datetime,
    ) -> InstanceRecord:
        """A new ``ACTIVE`` instance owned by ``owner_account_id`` (an organization instance when
        ``organization_id`` is given)."""
        self._uow.writable()
        row = SsoInstanceRow(
            arn=arn,
            owner_account_id=owner_account_id,
            organization_id=organization_id,
            identity_store_id=identity_store_id,
            name=name,
            region=region,
            status="ACTIVE",
            provider_suffix=provider_suffix,
            client_token=client_token,
            request=request,
            tags=dict(tags),
            abac=None,
            created_at=now,
        )
        self._session.add(row)
        self._session.flush()
        return _instance(row)

    def find_instance(self, arn: str) -> InstanceRecord | None:
        row = self._session.get(SsoInstanceRow, arn)
        return _instance(row) if row is not None else None

    def get_instance(self, arn: str) -> InstanceRecord:
        return found(self.find_instance(arn), f"instance {arn}")

    def instance_of_account(self, account_id: str) -> InstanceRecord | None:
        """The instance ``account_id`` owns (an account holds at most one), or None."""
        row = self._session.scalars(
            select(SsoInstanceRow).where(SsoInstanceRow.owner_account_id == account_id)
        ).one_or_none()
        return _instance(row) if row is not None else None

    def instance_of_organization(self, organization_id: str) -> InstanceRecord | None:
        """The organization instance of ``organization_id``, or None."""
        row = self._session.scalars(
            select(SsoInstanceRow).where(SsoInstanceRow.organization_id == organization_id)
        ).first()
        return _instance(row) if row is not None else None

    def instance_by_identity_store(self, identity_store_id: str) -> InstanceRecord | None:
        """The instance whose identity store is ``identity_store_id`` (``d-…``), or None."""
        row = self._session.scalars(
            select(SsoInstanceRow).where(SsoInstanceRow.identity_store_id == identity_store_id)
        ).one_or_none()
        return _instance(row) if row is not None else None

    def list_instances(self) -> tuple[InstanceRecord, ...]:
        """Every instance, oldest first."""
        rows = self._session.scalars(
            select(SsoInstanceRow).order_by(SsoInstanceRow.created_at, SsoInstanceRow.arn)
        )
        return tuple(_instance(r) for r in rows)

    def update_instance(
        self, arn: str, *, name: str | None = None, tags: dict[str, str] | None = None
    ) -> InstanceRecord:
        self._uow.writable()
        row = found(self._session.get(SsoInstanceRow, arn), f"instance {arn}")
        if name is not None:
            row.name = name
        if tags is not None:
            row.tags = dict(tags)
        self._session.flush()
        return _instance(row)

    def delete_instance(self, arn: str) -> None:
        """Delete the instance and everything that hangs off it (permission sets, assignments,
        provisioning and request records). The roles made in accounts are the caller's to remove
        (see :meth:`provisioned_for_instance`) before calling this."""
        self._uow.writable()
        for model in (SsoRequestRow, SsoProvisionedRow, SsoAssignmentRow, SsoPermissionSetRow):
            self._session.execute(delete(model).where(model.instance_arn == arn))
        self._session.execute(delete(SsoInstanceRow).where(SsoInstanceRow.arn == arn))

    # -- access control attributes (ABAC) ------------------------------------------------------------

    def set_access_control_attributes(self, arn: str, attributes: list[dict[str, Any]] | None) -> None:
        """Store the instance's ABAC attributes (``[{"Key", "Value": {"Source": [..]}}]``); None
        disables ABAC."""
        self._uow.writable()
        row = found(self._session.get(SsoInstanceRow, arn), f"instance {arn}")
        row.abac = [dict(a) for a in attributes] if attributes is not None else None
        self._session.flush()

    def access_control_attributes(self, instance_arn: str) -> tuple[AccessControlAttribute, ...] | None:
        """The instance's attributes for access control, in configured order, or None when ABAC is
        not enabled. Each becomes a session tag ``key`` whose value is the user's attribute at
        ``source`` (``${path:name.givenName}``); a value missing for the user adds no tag."""
        row = found(self._session.get(SsoInstanceRow, instance_arn), f"instance {instance_arn}")
        if row.abac is None:
            return None
        return tuple(AccessControlAttribute(str(a["Key"]), str(a["Value"]["Source"][0])) for a in row.abac)

    # -- permission sets ---------------------------------------------------------------------------

    def create_permission_set(
        self,
        *,
        arn: str,
        instance_arn: str,
        name: str,
        description: str | None,
        session_duration: str,
        relay_state: str | None,
        tags: dict[str, str],
        now: datetime,
    ) -> PermissionSetRecord:
        self._uow.writable()
        row = SsoPermissionSetRow(
            arn=arn,
            instance_arn=instance_arn,
            name=name,
            description=description,
            session_duration=session_duration,
            relay_state=relay_state,
            managed_policies=[],
            customer_policies=[],
            inline_policy=None,
            boundary=None,
            tags=dict(tags),
            revision=1,
            created_at=now,
        )
        self._session.add(row)
        self._session.flush()
        return _permission_set(row)

    def find_permission_set(self, arn: str) -> PermissionSetRecord | None:
        row = self._session.get(SsoPermissionSetRow, arn)
        return _permission_set(row) if row is not None else None

    def get_permission_set(self, arn: str) -> PermissionSetRecord:
        return found(self.find_permission_set(arn), f"permission set {arn}")

    def find_permission_set_by_name(self, instance_arn: str, name: str) -> PermissionSetRecord | None:
        row = self._session.scalars(
            select(SsoPermissionSetRow).where(
                SsoPermissionSetRow.instance_arn == instance_arn, SsoPermissionSetRow.name == name
            )
        ).one_or_none()
        return _permission_set(row) if row is not None else None

    def list_permission_sets(
        self, instance_arn: str, *, marker: str | None = None, max_items: int = 100
    ) -> tuple[list[PermissionSetRecord], str | None]:
        """A page of the instance's permission sets, by ARN."""
        rows, next_marker = paginate(
            self._session,
            select(SsoPermissionSetRow).where(SsoPermissionSetRow.instance_arn == instance_arn),
            [SsoPermissionSetRow.arn],
            marker,
            max_items,
        )
        return [_permission_set(r) for r in rows], next_marker

    def count_permission_sets(self, instance_arn: str) -> int:
        return int(
            self._session.scalar(
                select(func.count())
                .select_from(SsoPermissionSetRow)
                .where(SsoPermissionSetRow.instance_arn == instance_arn)
            )
            or 0
        )

    def update_permission_set(self, arn: str, **changes: Any) -> PermissionSetRecord:
        """Change the named fields (description, session_duration, relay_state, managed_policies,
        customer_policies as (name, path) pairs, inline_policy, boundary); the revision goes up."""
        self._uow.writable()
        unknown = set(changes) - _PS_FIELDS
        if unknown:
            raise ValueError(f"not permission set fields: {sorted(unknown)}")
        row = found(self._session.get(SsoPermissionSetRow, arn), f"permission set {arn}")
        for key, value in changes.items():
            if key == "managed_policies":
                value = list(value)
            elif key == "customer_policies":
                value = [{"Name": n, "Path": p} for n, p in value]
            setattr(row, key, value)
        row.revision = row.revision + 1
        self._session.flush()
        return _permission_set(row)

    def set_permission_set_tags(self, arn: str, tags: dict[str, str]) -> None:
        """Replace the set's tags (tags never reach the provisioned roles: no new revision)."""
        self._uow.writable()
        row = found(self._session.get(SsoPermissionSetRow, arn), f"permission set {arn}")
        row.tags = dict(tags)
        self._session.flush()

    def delete_permission_set(self, arn: str) -> None:
        self._uow.writable()
        self._session.execute(delete(SsoPermissionSetRow).where(SsoPermissionSetRow.arn == arn))

    # -- assignments -------------------------------------------------------------------------------

    def add_assignment(
        self,
        *,
        instance_arn: str,
        permission_set_arn: str,
        target_id: str,
        principal_type: str,
        principal_id: str,
        now: datetime,
    ) -> bool:
        """Record the assignment; False when it already exists (nothing changes)."""
        self._uow.writable()
        if self.find_assignment(permission_set_arn, target_id, principal_type, principal_id) is not None:
            return False
        self._session.add(
            SsoAssignmentRow(
                instance_arn=instance_arn,
                permission_set_arn=permission_set_arn,
                target_id=target_id,
                principal_type=principal_type,
                principal_id=principal_id,
                created_at=now,
            )
        )
        self._session.flush()
        return True

    def find_assignment(
        self, permission_set_arn: str, target_id: str, principal_type: str, principal_id: str
    ) -> AssignmentRecord | None:
        row = self._session.scalars(
            select(SsoAssignmentRow).where(
                SsoAssignmentRow.permission_set_arn == permission_set_arn,
                SsoAssignmentRow.target_id == target_id,
                SsoAssignmentRow.principal_type == principal_type,
                SsoAssignmentRow.principal_id == principal_id,
            )
        ).one_or_none()
        return _assignment(row) if row is not None else None

    def remove_assignment(
        self, permission_set_arn: str, target_id: str, principal_type: str, principal_id: str
    ) -> bool:
        """Remove the assignment; False when there was none."""
        self._uow.writable()
        result = self._session.execute(
            delete(SsoAssignmentRow).where(
                SsoAssignmentRow.permission_set_arn == permission_set_arn,
                SsoAssignmentRow.target_id == target_id,
                SsoAssignmentRow.principal_type == principal_type,
                SsoAssignmentRow.principal_id == principal_id,
            )
        )
        return bool(getattr(result, "rowcount", 0))

    def list_assignments(
        self,
        instance_arn: str,
        *,
        permission_set_arn: str | None = None,
        target_id: str | None = None,
        principal_type: str | None = None,
        principal_ids: Iterable[str] | None = None,
        marker: str | None = None,
        max_items: int = 100,
    ) -> tuple[list[AssignmentRecord], str | None]:
        """A page of the instance's assignments matching every filter given, in a stable order."""
        stmt = select(SsoAssignmentRow).where(SsoAssignmentRow.instance_arn == instance_arn)
        if permission_set_arn is not None:
            stmt = stmt.where(SsoAssignmentRow.permission_set_arn == permission_set_arn)
        if target_id is not None:
            stmt = stmt.where(SsoAssignmentRow.target_id == target_id)
        if principal_type is not None:
            stmt = stmt.where(SsoAssignmentRow.principal_type == principal_type)
        if principal_ids is not None:
            stmt = stmt.where(SsoAssignmentRow.principal_id.in_(list(principal_ids)))
        order = [
            SsoAssignmentRow.target_id,
            SsoAssignmentRow.permission_set_arn,
            SsoAssignmentRow.principal_type,
            SsoAssignmentRow.principal_id,
        ]
        rows, next_marker = paginate(self._session, stmt, order, marker, max_items)
        return [_assignment(r) for r in rows], next_marker

    def count_assignments(self, permission_set_arn: str, target_id: str | None = None) -> int:
        """How many assignments use the permission set (in ``target_id`` only, when given)."""
        stmt = (
            select(func.count())
            .select_from(SsoAssignmentRow)
            .where(SsoAssignmentRow.permission_set_arn == permission_set_arn)
        )
        if target_id is not None:
            stmt = stmt.where(SsoAssignmentRow.target_id == target_id)
        return int(self._session.scalar(stmt) or 0)

    # -- provisioning ------------------------------------------------------------------------------

    def set_provisioned(
        self,
        *,
        permission_set_arn: str,
        target_id: str,
        instance_arn: str,
        role_name: str,
        role_path: str,
        revision: int,
        now: datetime,
    ) -> ProvisionedRecord:
        """Record that the set's ``revision`` is provisioned to ``target_id`` as that role."""
        self._uow.writable()
        row = self._session.get(SsoProvisionedRow, (permission_set_arn, target_id))
        if row is None:
            row = SsoProvisionedRow(
                permission_set_arn=permission_set_arn,
                target_id=target_id,
                instance_arn=instance_arn,
                role_name=role_name,
                role_path=role_path,
                revision=revision,
                provisioned_at=now,
            )
            self._session.add(row)
        else:
            row.role_name, row.role_path, row.revision, row.provisioned_at = (
                role_name,
                role_path,
                revision,
                now,
            )
        self._session.flush()
        return _provisioned(row)

    def find_provisioned(self, permission_set_arn: str, target_id: str) -> ProvisionedRecord | None:
        row = self._session.get(SsoProvisionedRow, (permission_set_arn, target_id))
        return _provisioned(row) if row is not None else None

    def remove_provisioned(self, permission_set_arn: str, target_id: str) -> None:
        self._uow.writable()
        self._session.execute(
            delete(SsoProvisionedRow).where(
                SsoProvisionedRow.permission_set_arn == permission_set_arn,
                SsoProvisionedRow.target_id == target_id,
            )
        )

    def provisioned_for_permission_set(self, permission_set_arn: str) -> tuple[ProvisionedRecord, ...]:
        """Where the set is provisioned, by account id."""
        rows = self._session.scalars(
            select(SsoProvisionedRow)
            .where(SsoProvisionedRow.permission_set_arn == permission_set_arn)
            .order_by(SsoProvisionedRow.target_id)
        )
        return tuple(_provisioned(r) for r in rows)

    def provisioned_in_account(self, instance_arn: str, target_id: str) -> tuple[ProvisionedRecord, ...]:
        """The instance's permission sets provisioned to ``target_id``, by permission set ARN."""
        rows = self._session.scalars(
            select(SsoProvisionedRow)
            .where(SsoProvisionedRow.instance_arn == instance_arn, SsoProvisionedRow.target_id == target_id)
            .order_by(SsoProvisionedRow.permission_set_arn)
        )
        return tuple(_provisioned(r) for r in rows)

    def provisioned_for_instance(self, instance_arn: str) -> tuple[ProvisionedRecord, ...]:
        rows = self._session.scalars(
            select(SsoProvisionedRow)
            .where(SsoProvisionedRow.instance_arn == instance_arn)
            .order_by(SsoProvisionedRow.target_id, SsoProvisionedRow.permission_set_arn)
        )
        return tuple(_provisioned(r) for r in rows)

    def latest_revisions(self, permission_set_arns: Sequence[str]) -> dict[str, int]:
        rows = self._session.execute(
            select(SsoPermissionSetRow.arn, SsoPermissionSetRow.revision).where(
                SsoPermissionSetRow.arn.in_(list(permission_set_arns))
            )
        )
        return {arn: int(rev) for arn, rev in rows}

    # -- asynchronous request records ---------------------------------------------------------------

    def add_request(
        self,
        *,
        request_id: str,
        instance_arn: str,
        kind: str,
        status: str,
        failure_reason: str | None,
        target_id: str | None,
        target_type: str | None,
        permission_set_arn: str | None,
        principal_type: str | None = None,
        principal_id: str | None = None,
        now: datetime,
    ) -> RequestRecord:
        """Record a request's outcome (``kind``: ASSIGNMENT_CREATION, ASSIGNMENT_DELETION or
        PROVISIONING; ``status``: IN_PROGRESS, FAILED or SUCCEEDED)."""
        self._uow.writable()
        row = SsoRequestRow(
            request_id=request_id,
            instance_arn=instance_arn,
            kind=kind,
            status=status,
            failure_reason=failure_reason,
            target_id=target_id,
            target_type=target_type,
            permission_set_arn=permission_set_arn,
            principal_type=principal_type,
            principal_id=principal_id,
            created_at=now,
        )
        self._session.add(row)
        self._session.flush()
        return _request(row)

    def find_request(self, instance_arn: str, kind: str, request_id: str) -> RequestRecord | None:
        row = self._session.get(SsoRequestRow, request_id)
        if row is None or row.instance_arn != instance_arn or row.kind != kind:
            return None
        return _request(row)

    def list_requests(
        self,
        instance_arn: str,
        kind: str,
        *,
        status: str | None = None,
        marker: str | None = None,
        max_items: int = 100,
    ) -> tuple[list[RequestRecord], str | None]:
        """A page of the instance's requests of ``kind`` (with ``status``, when given), by id."""
        stmt = select(SsoRequestRow).where(
            SsoRequestRow.instance_arn == instance_arn, SsoRequestRow.kind == kind
        )
        if status is not None:
            stmt = stmt.where(SsoRequestRow.status == status)
        rows, next_marker = paginate(self._session, stmt, [SsoRequestRow.request_id], marker, max_items)
        return [_request(r) for r in rows], next_marker

    # -- the access portal ---------------------------------------------------------------------------

    def access_for(self, instance_arn: str, user_id: str, group_ids: Iterable[str]) -> tuple[UserAccess, ...]:
        """What the identity-store user ``user_id``, member of ``group_ids``, may use: one entry per
        (account, permission set) assigned to the user directly or through a group, and provisioned
        (its role exists), ordered by account id then permission set name. The portal's
        ListAccounts, ListAccountRoles and GetRoleCredentials answer from this."""
        groups = list(dict.fromkeys(group_ids))
        principal = (SsoAssignmentRow.principal_type == "USER") & (SsoAssignmentRow.principal_id == user_id)
        if groups:
            principal = principal | (
                (SsoAssignmentRow.principal_type == "GROUP") & SsoAssignmentRow.principal_id.in_(groups)
            )
        stmt = (
            select(SsoProvisionedRow, SsoPermissionSetRow)
            .join(SsoPermissionSetRow, SsoPermissionSetRow.arn == SsoProvisionedRow.permission_set_arn)
            .where(
                SsoProvisionedRow.instance_arn == instance_arn,
                select(SsoAssignmentRow.id)
                .where(
                    SsoAssignmentRow.permission_set_arn == SsoProvisionedRow.permission_set_arn,
                    SsoAssignmentRow.target_id == SsoProvisionedRow.target_id,
                    principal,
                )
                .exists(),
            )
            .order_by(SsoProvisionedRow.target_id, SsoPermissionSetRow.name)
        )
        out = []
        for provisioned, permission_set in self._session.execute(stmt):
            record = _provisioned(provisioned)
            out.append(
                UserAccess(
                    account_id=record.target_id,
                    permission_set_arn=permission_set.arn,
                    permission_set_name=permission_set.name,
                    role_name=record.role_name,
                    role_arn=record.role_arn,
                    session_duration=permission_set.session_duration,
                    relay_state=permission_set.relay_state,
                )
            )
        return tuple(out)
