"""AWS Organizations' data: an organization, its root and OUs, the accounts in it, policies of
every type and their attachments, CreateAccount requests, handshakes, tags, trusted access and
delegated administrators.

Any write that can change a decision (a policy's content, an attachment, the structure) bumps the
generation of every account in the organization (:meth:`Organizations.changed`), so the compiled
SCPs and RCPs cached by every iamd node on the database are reloaded on the next request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import TypeVar

from sqlalchemy import bindparam, delete, func, select, update

from iamd.store.base import Repository
from iamd.store.errors import AlreadyExists
from iamd.store.prepared import Prepared
from iamd.store.schema import (
    Account,
    OrgAccountRequest,
    Organization,
    OrganizationalUnit,
    OrgDelegatedAdmin,
    OrgHandshake,
    OrgMember,
    OrgPolicy,
    OrgPolicyAttachment,
    OrgPolicyType,
    OrgServiceAccess,
    OrgTag,
)

__all__ = [
    "AccountRequestRecord",
    "DelegatedAdminRecord",
    "HandshakeRecord",
    "MemberRecord",
    "OrgPolicyRecord",
    "OrganizationRecord",
    "Organizations",
    "OuRecord",
]


@dataclass(frozen=True, slots=True)
class OrganizationRecord:
    id: str
    management_account_id: str
    feature_set: str
    root_id: str
    root_name: str
    created_at: datetime
    resource_policy_id: str | None
    resource_policy: str | None


@dataclass(frozen=True, slots=True)
class OuRecord:
    id: str
    organization_id: str
    parent_id: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class MemberRecord:
    account_id: str
    organization_id: str
    parent_id: str
    state: str
    joined_method: str
    joined_at: datetime


@dataclass(frozen=True, slots=True)
class OrgPolicyRecord:
    id: str
    organization_id: str
    policy_type: str
    name: str
    description: str
    content: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class AccountRequestRecord:
    id: str
    organization_id: str
    account_name: str
    state: str
    failure_reason: str | None
    account_id: str | None
    requested_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class HandshakeRecord:
    id: str
    organization_id: str
    action: str
    state: str
    sender_account_id: str
    target_type: str
    target_id: str
    notes: str | None
    requested_at: datetime
    expires_at: datetime
    tags: dict[str, str]


@dataclass(frozen=True, slots=True)
class DelegatedAdminRecord:
    organization_id: str
    account_id: str
    service_principal: str
    enabled_at: datetime


R = TypeVar("R")


_MEMBER = Prepared(
    select(*(getattr(OrgMember, f.name) for f in fields(MemberRecord))).where(
        OrgMember.account_id == bindparam("account_id")
    )
)
"""An account's membership, the fields of :class:`MemberRecord` in its order (prepared)."""


def _record(cls: type[R], row: object) -> R:
    return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})  # type: ignore[arg-type]


def _maybe(cls: type[R], row: object | None) -> R | None:
    return None if row is None else _record(cls, row)


class Organizations(Repository):
    # -- the organization ------------------------------------------------------------------------

    def create(
        self,
        org_id: str,
        *,
        management_account_id: str,
        feature_set: str,
        root_id: str,
        root_name: str,
        created_at: datetime,
    ) -> OrganizationRecord:
        self._uow.writable()
        if self._session.get(OrgMember, management_account_id) is not None:
            raise AlreadyExists(f"account {management_account_id} is already in an organization")
        row = Organization(
            id=org_id,
            management_account_id=management_account_id,
            feature_set=feature_set,
            root_id=root_id,
            root_name=root_name,
            created_at=created_at,
        )
        self._session.add(row)
        self._session.flush()
        self.add_member(org_id, management_account_id, root_id, "CREATED", created_at, management=True)
        return _record(OrganizationRecord, row)

    def find(self, org_id: str) -> OrganizationRecord | None:
        return _maybe(OrganizationRecord, self._session.get(Organization, org_id))

    def of_account(self, account_id: str) -> OrganizationRecord | None:
        """The organization ``account_id`` is in (None: a standalone account)."""
        member = self._session.get(OrgMember, account_id)
        if member is None:
            return None
        return self.find(member.organization_id)

    def delete(self, org_id: str) -> None:
        """Remove the organization and everything that belongs to it; its accounts become standalone."""
        self._uow.writable()
        for member in self.members(org_id):
            self.remove_member(member.account_id)
        for table in (
            OrganizationalUnit,
            OrgPolicyType,
            OrgPolicy,
            OrgPolicyAttachment,
            OrgAccountRequest,
            OrgHandshake,
            OrgTag,
            OrgServiceAccess,
            OrgDelegatedAdmin,
        ):
            self._session.execute(delete(table).where(table.organization_id == org_id))
        self._session.execute(delete(Organization).where(Organization.id == org_id))
        self._session.flush()

    def set_resource_policy(self, org_id: str, policy_id: str | None, text: str | None) -> None:
        self._uow.writable()
        self._session.execute(
            update(Organization)
            .where(Organization.id == org_id)
            .values(resource_policy_id=policy_id, resource_policy=text)
        )

    def changed(self, org_id: str) -> None:
        """A decision in any account of the organization may change: bump every member's generation."""
        self._uow.moved_any()
        members = select(OrgMember.account_id).where(OrgMember.organization_id == org_id).scalar_subquery()
        self._session.execute(
            update(Account)
            .where(Account.id.in_(members))
            .values(generation=Account.generation + 1, shared_generation=Account.shared_generation + 1)
        )

    # -- accounts in it ----------------------------------------------------------------------------

    def add_member(
        self,
        org_id: str,
        account_id: str,
        parent_id: str,
        joined_method: str,
        joined_at: datetime,
        *,
        management: bool = False,
    ) -> MemberRecord:
        self._uow.writable()
        if self._session.get(OrgMember, account_id) is not None:
            raise AlreadyExists(f"account {account_id} is already in an organization")
        row = OrgMember(
            account_id=account_id,
            organization_id=org_id,
            parent_id=parent_id,
            state="ACTIVE",
            joined_method=joined_method,
            joined_at=joined_at,
        )
        self._session.add(row)
        self._session.flush()
        self._uow.accounts.set_organization(
            account_id,
            org_id,
            role="management" if management else "member",
            joined_method=joined_method,
            joined_at=joined_at,
        )
        return _record(MemberRecord, row)

    def member(self, account_id: str) -> MemberRecord | None:
        """The account's membership (None: in no organization). On the path of every request
        after a change to the account (the organization view is cached per generation): a
        prebuilt Core statement, no ORM loading."""
        rows = _MEMBER.rows(self._session, {"account_id": account_id})
        return MemberRecord(*rows[0]) if rows else None

    def members(self, org_id: str, parent_id: str | None = None) -> list[MemberRecord]:
        query = select(OrgMember).where(OrgMember.organization_id == org_id)
        if parent_id is not None:
            query = query.where(OrgMember.parent_id == parent_id)
        rows = self._session.scalars(query.order_by(OrgMember.joined_at, OrgMember.account_id))
        return [_record(MemberRecord, r) for r in rows]

    def move_member(self, account_id: str, parent_id: str) -> None:
        self._uow.writable()
        row = self._session.get(OrgMember, account_id)
        if row is not None:
            row.parent_id = parent_id
            self._session.flush()

    def set_member_state(self, account_id: str, state: str) -> None:
        self._uow.writable()
        row = self._session.get(OrgMember, account_id)
        if row is not None:
            row.state = state
            self._session.flush()

    def remove_member(self, account_id: str) -> None:
        """The account leaves: its attachments, tags and delegations go with it."""
        self._uow.writable()
        row = self._session.get(OrgMember, account_id)
        if row is None:
            return
        org_id = row.organization_id
        self._session.execute(
            delete(OrgPolicyAttachment).where(
                OrgPolicyAttachment.organization_id == org_id, OrgPolicyAttachment.target_id == account_id
            )
        )
        self._session.execute(
            delete(OrgTag).where(OrgTag.organization_id == org_id, OrgTag.resource_id == account_id)
        )
        self._session.execute(
            delete(OrgDelegatedAdmin).where(
                OrgDelegatedAdmin.organization_id == org_id, OrgDelegatedAdmin.account_id == account_id
            )
        )
        self._session.delete(row)
        self._session.flush()
        self._uow.accounts.set_organization(account_id, None)

    # -- organizational units ----------------------------------------------------------------------

    def create_ou(self, org_id: str, ou_id: str, parent_id: str, name: str, created_at: datetime) -> OuRecord:
        self._uow.writable()
        if self._ou_named(org_id, parent_id, name) is not None:
            raise AlreadyExists(f"an OU named {name} already exists in {parent_id}")
        row = OrganizationalUnit(
            id=ou_id, organization_id=org_id, parent_id=parent_id, name=name, created_at=created_at
        )
        self._session.add(row)
        self._session.flush()
        return _record(OuRecord, row)

    def ou(self, ou_id: str) -> OuRecord | None:
        return _maybe(OuRecord, self._session.get(OrganizationalUnit, ou_id))

    def ous(self, org_id: str, parent_id: str | None = None) -> list[OuRecord]:
        query = select(OrganizationalUnit).where(OrganizationalUnit.organization_id == org_id)
        if parent_id is not None:
            query = query.where(OrganizationalUnit.parent_id == parent_id)
        rows = self._session.scalars(query.order_by(OrganizationalUnit.created_at, OrganizationalUnit.id))
        return [_record(OuRecord, r) for r in rows]

    def rename_ou(self, ou_id: str, name: str) -> OuRecord:
        self._uow.writable()
        row = self._session.get(OrganizationalUnit, ou_id)
        assert row is not None
        other = self._ou_named(row.organization_id, row.parent_id, name)
        if other is not None and other.id != ou_id:
            raise AlreadyExists(f"an OU named {name} already exists in {row.parent_id}")
        row.name = name
        self._session.flush()
        return _record(OuRecord, row)

    def delete_ou(self, ou_id: str) -> None:
        self._uow.writable()
        row = self._session.get(OrganizationalUnit, ou_id)
        if row is None:
            return
        org_id = row.organization_id
        self._session.execute(
            delete(OrgPolicyAttachment).where(
                OrgPolicyAttachment.organization_id == org_id, OrgPolicyAttachment.target_id == ou_id
            )
        )
        self._session.execute(
            delete(OrgTag).where(OrgTag.organization_id == org_id, OrgTag.resource_id == ou_id)
        )
        self._session.delete(row)
        self._session.flush()

    def _ou_named(self, org_id: str, parent_id: str, name: str) -> OrganizationalUnit | None:
        return self._session.scalar(
            select(OrganizationalUnit).where(
                OrganizationalUnit.organization_id == org_id,
                OrganizationalUnit.parent_id == parent_id,
                OrganizationalUnit.name == name,
            )
        )

    # -- policy types --------------------------------------------------------------------------------

    def policy_types(self, org_id: str) -> dict[str, str]:
        rows = self._session.execute(
            select(OrgPolicyType.policy_type, OrgPolicyType.status).where(
                OrgPolicyType.organization_id == org_id
            )
        )
        return {policy_type: status for policy_type, status in rows}

    def set_policy_type(self, org_id: str, policy_type: str, status: str | None) -> None:
        """Enable (status "ENABLED") or disable (None) ``policy_type`` in the organization's root."""
        self._uow.writable()
        row = self._session.get(OrgPolicyType, (org_id, policy_type))
        if status is None:
            if row is not None:
                self._session.delete(row)
        elif row is None:
            self._session.add(OrgPolicyType(organization_id=org_id, policy_type=policy_type, status=status))
        else:
            row.status = status
        self._session.flush()

    # -- policies ----------------------------------------------------------------------------------

    def create_policy(self, record: OrgPolicyRecord) -> OrgPolicyRecord:
        self._uow.writable()
        if self._policy_named(record.organization_id, record.policy_type, record.name) is not None:
            raise AlreadyExists(f"a policy named {record.name} already exists")
        row = OrgPolicy(**{f.name: getattr(record, f.name) for f in fields(OrgPolicyRecord)})
        self._session.add(row)
        self._session.flush()
        return record

    def policy(self, policy_id: str) -> OrgPolicyRecord | None:
        return _maybe(OrgPolicyRecord, self._session.get(OrgPolicy, policy_id))

    def policies(self, org_id: str, policy_type: str | None = None) -> list[OrgPolicyRecord]:
        query = select(OrgPolicy).where(OrgPolicy.organization_id == org_id)
        if policy_type is not None:
            query = query.where(OrgPolicy.policy_type == policy_type)
        rows = self._session.scalars(query.order_by(OrgPolicy.created_at, OrgPolicy.id))
        return [_record(OrgPolicyRecord, r) for r in rows]

    def policies_by_id(self, policy_ids: Iterable[str]) -> dict[str, OrgPolicyRecord]:
        ids = sorted(set(policy_ids))
        if not ids:
            return {}
        rows = self._session.scalars(select(OrgPolicy).where(OrgPolicy.id.in_(ids)))
        return {r.id: _record(OrgPolicyRecord, r) for r in rows}

    def count_policies(self, org_id: str, policy_type: str) -> int:
        return int(
            self._session.scalar(
                select(func.count()).where(
                    OrgPolicy.organization_id == org_id, OrgPolicy.policy_type == policy_type
                )
            )
            or 0
        )

    def update_policy(
        self,
        policy_id: str,
        *,
        name: str | None,
        description: str | None,
        content: str | None,
        updated_at: datetime,
    ) -> OrgPolicyRecord:
        self._uow.writable()
        row = self._session.get(OrgPolicy, policy_id)
        assert row is not None
        if name is not None and name != row.name:
            if self._policy_named(row.organization_id, row.policy_type, name) is not None:
                raise AlreadyExists(f"a policy named {name} already exists")
            row.name = name
        if description is not None:
            row.description = description
        if content is not None:
            row.content = content
        row.updated_at = updated_at
        self._session.flush()
        return _record(OrgPolicyRecord, row)

    def delete_policy(self, policy_id: str) -> None:
        self._uow.writable()
        row = self._session.get(OrgPolicy, policy_id)
        if row is not None:
            self._session.execute(
                delete(OrgTag).where(
                    OrgTag.organization_id == row.organization_id, OrgTag.resource_id == policy_id
                )
            )
            self._session.delete(row)
            self._session.flush()

    def _policy_named(self, org_id: str, policy_type: str, name: str) -> OrgPolicy | None:
        return self._session.scalar(
            select(OrgPolicy).where(
                OrgPolicy.organization_id == org_id,
                OrgPolicy.policy_type == policy_type,
                OrgPolicy.name == name,
            )
        )

    # -- attachments ---------------------------------------------------------------------------------

    def attach(self, org_id: str, policy_id: str, target_id: str, policy_type: str) -> None:
        self._uow.writable()
        if self._session.get(OrgPolicyAttachment, (org_id, policy_id, target_id)) is not None:
            raise AlreadyExists(f"policy {policy_id} is already attached to {target_id}")
        self._session.add(
            OrgPolicyAttachment(
                organization_id=org_id, policy_id=policy_id, target_id=target_id, policy_type=policy_type
            )
        )
        self._session.flush()

    def detach(self, org_id: str, policy_id: str, target_id: str) -> bool:
        self._uow.writable()
        row = self._session.get(OrgPolicyAttachment, (org_id, policy_id, target_id))
        if row is None:
            return False
        self._session.delete(row)
        self._session.flush()
        return True

    def detach_type(self, org_id: str, policy_type: str) -> None:
        self._uow.writable()
        self._session.execute(
            delete(OrgPolicyAttachment).where(
                OrgPolicyAttachment.organization_id == org_id, OrgPolicyAttachment.policy_type == policy_type
            )
        )

    def attached(
        self, org_id: str, target_ids: Iterable[str], policy_type: str | None = None
    ) -> list[tuple[str, str]]:
        """(target id, policy id) of every policy (of ``policy_type``) attached to ``target_ids``."""
        targets = sorted(set(target_ids))
        query = select(OrgPolicyAttachment.target_id, OrgPolicyAttachment.policy_id).where(
            OrgPolicyAttachment.organization_id == org_id, OrgPolicyAttachment.target_id.in_(targets)
        )
        if policy_type is not None:
            query = query.where(OrgPolicyAttachment.policy_type == policy_type)
        return [(t, p) for t, p in self._session.execute(query.order_by(OrgPolicyAttachment.policy_id))]

    def targets(self, org_id: str, policy_id: str) -> list[str]:
        rows = self._session.scalars(
            select(OrgPolicyAttachment.target_id)
            .where(OrgPolicyAttachment.organization_id == org_id, OrgPolicyAttachment.policy_id == policy_id)
            .order_by(OrgPolicyAttachment.target_id)
        )
        return list(rows)

    # -- CreateAccount requests ------------------------------------------------------------------------

    def add_request(self, record: AccountRequestRecord) -> None:
        self._uow.writable()
        self._session.add(OrgAccountRequest(**{f.name: getattr(record, f.name) for f in fields(record)}))
        self._session.flush()

    def request(self, request_id: str) -> AccountRequestRecord | None:
        return _maybe(AccountRequestRecord, self._session.get(OrgAccountRequest, request_id))

    def requests(self, org_id: str) -> list[AccountRequestRecord]:
        rows = self._session.scalars(
            select(OrgAccountRequest)
            .where(OrgAccountRequest.organization_id == org_id)
            .order_by(OrgAccountRequest.requested_at, OrgAccountRequest.id)
        )
        return [_record(AccountRequestRecord, r) for r in rows]

    # -- handshakes ----------------------------------------------------------------------------------

    def add_handshake(self, record: HandshakeRecord) -> None:
        self._uow.writable()
        self._session.add(OrgHandshake(**{f.name: getattr(record, f.name) for f in fields(record)}))
        self._session.flush()

    def handshake(self, handshake_id: str) -> HandshakeRecord | None:
        return _maybe(HandshakeRecord, self._session.get(OrgHandshake, handshake_id))

    def handshakes(self, *, org_id: str | None = None, targets: Iterable[str] = ()) -> list[HandshakeRecord]:
        """Handshakes sent by ``org_id``, or received by any of ``targets`` (an account id, an email)."""
        query = select(OrgHandshake)
        if org_id is not None:
            query = query.where(OrgHandshake.organization_id == org_id)
        else:
            query = query.where(func.lower(OrgHandshake.target_id).in_([t.lower() for t in targets]))
        rows = self._session.scalars(query.order_by(OrgHandshake.requested_at, OrgHandshake.id))
        return [_record(HandshakeRecord, r) for r in rows]

    def set_handshake_state(self, handshake_id: str, state: str) -> None:
        self._uow.writable()
        self._session.execute(update(OrgHandshake).where(OrgHandshake.id == handshake_id).values(state=state))

    # -- tags ----------------------------------------------------------------------------------------

    def tags(self, org_id: str, resource_id: str) -> dict[str, str]:
        rows = self._session.execute(
            select(OrgTag.key, OrgTag.value)
            .where(OrgTag.organization_id == org_id, OrgTag.resource_id == resource_id)
            .order_by(OrgTag.key)
        )
        return {key: value for key, value in rows}

    def put_tags(self, org_id: str, resource_id: str, tags: Mapping[str, str]) -> None:
        self._uow.writable()
        for key, value in tags.items():
            row = self._session.get(OrgTag, (org_id, resource_id, key))
            if row is None:
                self._session.add(
                    OrgTag(organization_id=org_id, resource_id=resource_id, key=key, value=value)
                )
            else:
                row.value = value
        self._session.flush()

    def remove_tags(self, org_id: str, resource_id: str, keys: Iterable[str]) -> None:
        self._uow.writable()
        self._session.execute(
            delete(OrgTag).where(
                OrgTag.organization_id == org_id,
                OrgTag.resource_id == resource_id,
                OrgTag.key.in_(list(keys)),
            )
        )

    # -- trusted access and delegated administrators -------------------------------------------------

    def service_access(self, org_id: str) -> dict[str, datetime]:
        rows = self._session.execute(
            select(OrgServiceAccess.service_principal, OrgServiceAccess.enabled_at)
            .where(OrgServiceAccess.organization_id == org_id)
            .order_by(OrgServiceAccess.service_principal)
        )
        return {principal: at for principal, at in rows}

    def set_service_access(self, org_id: str, service_principal: str, enabled_at: datetime | None) -> None:
        self._uow.writable()
        row = self._session.get(OrgServiceAccess, (org_id, service_principal))
        if enabled_at is None:
            if row is not None:
                self._session.delete(row)
        elif row is None:
            self._session.add(
                OrgServiceAccess(
                    organization_id=org_id, service_principal=service_principal, enabled_at=enabled_at
                )
            )
        self._session.flush()

    def delegated_admins(
        self, org_id: str, *, service_principal: str | None = None, account_id: str | None = None
    ) -> list[DelegatedAdminRecord]:
        query = select(OrgDelegatedAdmin).where(OrgDelegatedAdmin.organization_id == org_id)
        if service_principal is not None:
            query = query.where(OrgDelegatedAdmin.service_principal == service_principal)
        if account_id is not None:
            query = query.where(OrgDelegatedAdmin.account_id == account_id)
        rows = self._session.scalars(
            query.order_by(OrgDelegatedAdmin.account_id, OrgDelegatedAdmin.service_principal)
        )
        return [_record(DelegatedAdminRecord, r) for r in rows]

    def register_admin(self, org_id: str, account_id: str, service_principal: str, at: datetime) -> None:
        self._uow.writable()
        self._session.add(
            OrgDelegatedAdmin(
                organization_id=org_id,
                account_id=account_id,
                service_principal=service_principal,
                enabled_at=at,
            )
        )
        self._session.flush()

    def deregister_admin(self, org_id: str, account_id: str, service_principal: str) -> None:
        self._uow.writable()
        self._session.execute(
            delete(OrgDelegatedAdmin).where(
                OrgDelegatedAdmin.organization_id == org_id,
                OrgDelegatedAdmin.account_id == account_id,
                OrgDelegatedAdmin.service_principal == service_principal,
            )
        )
