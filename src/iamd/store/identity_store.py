"""IAM Identity Center's identity stores: users, groups and group memberships (``ids_`` tables).

An identity store (``d-`` and 10 hex digits) belongs to one account, and to the Identity Center
instance that created it when there is one. Users and groups keep every attribute AWS keeps, in
the shapes of the ``identitystore`` API (``Name``, ``Emails`` …), as one JSON document per entity;
the attributes AWS keeps unique are columns under unique constraints, compared ignoring case as
SCIM says of ``userName`` (RFC 7643 §4.1.1):

- a user's ``UserName``, its primary email and each external id ``(Issuer, Id)``;
- a group's ``DisplayName`` and each external id.

A clash raises :class:`Taken`, which names the attribute (``ConflictException`` with reason
``UNIQUENESS_CONSTRAINT_VIOLATION`` in the API, 409 in SCIM).

Ids look like AWS's: ``<the store's 10 hex digits>-<UUID>`` for users, groups and memberships.
Users' passwords and MFA devices are in :mod:`iamd.store.identity_credentials`.

Used by the ``identitystore`` API, SCIM, ``iamd sso`` commands, sso-admin (principals of
assignments) and the access portal (sign-in)::

    with store.transaction() as uow:
        user = uow.identity_store.find_user_by_name("d-1234567890", "alice")
        groups = uow.identity_store.groups_of_user(user.store_id, user.id)
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import JSON, BigInteger, ForeignKey, String, UniqueConstraint, delete, func, select
from sqlalchemy.orm import Mapped, mapped_column

from iamd.store.base import Repository, found
from iamd.store.errors import AlreadyExists, Conflict, NotFound
from iamd.store.paging import decode_marker, encode_marker, paginate
from iamd.store.records import Page
from iamd.store.schema import Base

__all__ = [
    "STORE_ID_LENGTH",
    "ExternalId",
    "IdentityStoreRecord",
    "IdentityStores",
    "IdsGroupRecord",
    "IdsMembershipRecord",
    "IdsUserRecord",
    "NameTest",
    "StaleRevision",
    "Taken",
    "abac_value",
    "new_entity_id",
]

STORE_ID_LENGTH: Final = 36
ENTITY_ID = String(47)
TEXT = String(1024)

Kind = Literal["user", "group"]


class StaleRevision(Conflict):
    """A conditional change named a revision that is no longer the entity's."""


class Taken(AlreadyExists):
    """A unique attribute is already used by another user or group of the store."""

    def __init__(self, kind: Kind, attribute: str, value: str) -> None:
        super().__init__(f"Duplicate {attribute} '{value}': another {kind} of the identity store has it")
        self.kind = kind
        self.attribute = attribute
        self.value = value


# -- tables ---------------------------------------------------------------------------------------


class IdsStoreRow(Base):
    __tablename__ = "ids_stores"

    id: Mapped[str] = mapped_column(String(STORE_ID_LENGTH), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    instance_arn: Mapped[str | None] = mapped_column(String(1224), unique=True)
    created_at: Mapped[datetime]
    network_configuration: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """UpdateIdentityStore's NetworkConfiguration (VpceAccessRequired, ApiAllowSourceIps …)."""


class IdsUserRow(Base):
    __tablename__ = "ids_users"
    __table_args__ = (
        UniqueConstraint("store_id", "user_name_lower"),
        UniqueConstraint("store_id", "email_lower"),
    )

    id: Mapped[str] = mapped_column(ENTITY_ID, primary_key=True)
    store_id: Mapped[str] = mapped_column(
        String(STORE_ID_LENGTH), ForeignKey("ids_stores.id", ondelete="CASCADE")
    )
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    user_name: Mapped[str] = mapped_column(String(128))
    user_name_lower: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str | None] = mapped_column(TEXT)
    email_lower: Mapped[str | None] = mapped_column(TEXT)
    """The primary email (or the only one), lower-cased: unique in the store."""
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    revision: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    created_by: Mapped[str | None] = mapped_column(String(2048))
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None] = mapped_column(String(2048))
    password_hash: Mapped[str | None] = mapped_column(String(512))
    password_changed_at: Mapped[datetime | None]


class IdsGroupRow(Base):
    __tablename__ = "ids_groups"
    __table_args__ = (UniqueConstraint("store_id", "display_name_lower"),)

    id: Mapped[str] = mapped_column(ENTITY_ID, primary_key=True)
    store_id: Mapped[str] = mapped_column(
        String(STORE_ID_LENGTH), ForeignKey("ids_stores.id", ondelete="CASCADE")
    )
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    display_name: Mapped[str | None] = mapped_column(TEXT)
    display_name_lower: Mapped[str | None] = mapped_column(TEXT)
    description: Mapped[str | None] = mapped_column(TEXT)
    revision: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    created_by: Mapped[str | None] = mapped_column(String(2048))
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None] = mapped_column(String(2048))


class IdsExternalIdRow(Base):
    __tablename__ = "ids_external_ids"
    __table_args__ = (UniqueConstraint("store_id", "kind", "issuer", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    store_id: Mapped[str] = mapped_column(
        String(STORE_ID_LENGTH), ForeignKey("ids_stores.id", ondelete="CASCADE")
    )
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    owner_id: Mapped[str] = mapped_column(ENTITY_ID, index=True)
    position: Mapped[int]
    issuer: Mapped[str] = mapped_column(String(256))
    external_id: Mapped[str] = mapped_column(String(256))


class IdsMembershipRow(Base):
    __tablename__ = "ids_memberships"
    __table_args__ = (UniqueConstraint("group_id", "user_id"),)

    id: Mapped[str] = mapped_column(ENTITY_ID, primary_key=True)
    store_id: Mapped[str] = mapped_column(
        String(STORE_ID_LENGTH), ForeignKey("ids_stores.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    group_id: Mapped[str] = mapped_column(ENTITY_ID, ForeignKey("ids_groups.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(
        ENTITY_ID, ForeignKey("ids_users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    created_by: Mapped[str | None] = mapped_column(String(2048))
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None] = mapped_column(String(2048))


# -- records --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExternalId:
    issuer: str
    id: str


@dataclass(frozen=True, slots=True)
class IdentityStoreRecord:
    id: str
    account_id: str
    instance_arn: str | None
    created_at: datetime
    network_configuration: dict[str, Any] | None = None

    @property
    def arn(self) -> str:
        """``arn:aws:identitystore::<account>:identitystore/<id>``, as CloudTrail shows it."""
        return f"arn:aws:identitystore::{self.account_id}:identitystore/{self.id}"


@dataclass(frozen=True, slots=True)
class IdsUserRecord:
    """A user. ``attributes`` holds the API's shapes: ``DisplayName``, ``Name`` {``GivenName`` …},
    ``NickName``, ``ProfileUrl``, ``Emails`` [{``Value``, ``Type``, ``Primary``}], ``Addresses``,
    ``PhoneNumbers``, ``UserType``, ``Title``, ``PreferredLanguage``, ``Locale``, ``Timezone``,
    ``Website``, ``Birthdate``, ``Photos``, ``Roles``, ``Extensions`` {name: JSON document}
    (``aws:identitystore:enterprise``: employeeNumber, costCenter, organization, division,
    department, manager {value})."""

    store_id: str
    id: str
    user_name: str
    attributes: Mapping[str, Any]
    external_ids: tuple[ExternalId, ...]
    status: str
    created_at: datetime
    created_by: str | None
    updated_at: datetime
    updated_by: str | None
    password_changed_at: datetime | None
    has_password: bool = field(default=False)
    revision: int = 1
    """Goes up by one with every change (the API's ``Revision``, for conditional updates)."""

    @property
    def display_name(self) -> str | None:
        value = self.attributes.get("DisplayName")
        return value if isinstance(value, str) else None

    @property
    def primary_email(self) -> str | None:
        """The primary email, else the first one."""
        return _primary_value(self.attributes.get("Emails"))

    @property
    def enabled(self) -> bool:
        return self.status == "ENABLED"


@dataclass(frozen=True, slots=True)
class IdsGroupRecord:
    store_id: str
    id: str
    display_name: str | None
    description: str | None
    external_ids: tuple[ExternalId, ...]
    created_at: datetime
    created_by: str | None
    updated_at: datetime
    updated_by: str | None
    revision: int = 1


@dataclass(frozen=True, slots=True)
class IdsMembershipRecord:
    store_id: str
    id: str
    group_id: str
    user_id: str
    created_at: datetime
    created_by: str | None
    updated_at: datetime
    updated_by: str | None


def _primary_value(items: object) -> str | None:
    if not isinstance(items, list) or not items:
        return None
    chosen = next((i for i in items if isinstance(i, dict) and i.get("Primary")), items[0])
    value = chosen.get("Value") if isinstance(chosen, dict) else None
    return value if isinstance(value, str) else None


# -- ABAC attribute paths -------------------------------------------------------------------------

_SIMPLE_PATHS: Final = {
    "username": ("UserName",),
    "displayname": ("DisplayName",),
    "nickname": ("NickName",),
    "profileurl": ("ProfileUrl",),
    "usertype": ("UserType",),
    "title": ("Title",),
    "preferredlanguage": ("PreferredLanguage",),
    "locale": ("Locale",),
    "timezone": ("Timezone",),
    "name.familyname": ("Name", "FamilyName"),
    "name.givenname": ("Name", "GivenName"),
    "name.middlename": ("Name", "MiddleName"),
    "name.formatted": ("Name", "Formatted"),
    "name.honorificprefix": ("Name", "HonorificPrefix"),
    "name.honorificsuffix": ("Name", "HonorificSuffix"),
}
_ADDRESS_PARTS: Final = {
    "streetaddress": "StreetAddress",
    "locality": "Locality",
    "region": "Region",
    "postalcode": "PostalCode",
    "country": "Country",
    "formatted": "Formatted",
}
ENTERPRISE: Final = "aws:identitystore:enterprise"


def abac_value(user: IdsUserRecord, path: str) -> str | None:
    """The value of an attribute for access control: ``path`` is what sso-admin's
    ``${path:…}`` source names (``userName``, ``name.givenName``, ``emails[primary eq true].value``,
    ``addresses[type eq "work"].locality``, ``phoneNumbers[type eq "work"].value``,
    ``enterprise.department``, ``enterprise.manager.value`` …; Identity Center user guide,
    attributemappingsconcept). None when the user has no such value or the path is unknown."""
    text = path.strip()
    if text.startswith("${path:") and text.endswith("}"):
        text = text[len("${path:") : -1]
    key = text.replace(" ", "").lower()
    attrs = dict(user.attributes, UserName=user.user_name)
    if key in _SIMPLE_PATHS:
        value: Any = attrs
        for part in _SIMPLE_PATHS[key]:
            value = value.get(part) if isinstance(value, dict) else None
        return value if isinstance(value, str) else None
    if key in ("emails[primaryeqtrue].value", "emails.value"):
        return _primary_value(attrs.get("Emails"))
    if key in ('phonenumbers[typeeq"work"].value', "phonenumbers.value"):
        return _typed(attrs.get("PhoneNumbers"), "work", "Value")
    if key.startswith('addresses[typeeq"work"].'):
        address_part = _ADDRESS_PARTS.get(key.rsplit(".", 1)[1])
        return None if address_part is None else _typed(attrs.get("Addresses"), "work", address_part)
    if key.startswith("enterprise."):
        extension = (attrs.get("Extensions") or {}).get(ENTERPRISE)
        wanted = key.split(".")[1:]
        value = extension
        for part in wanted:
            if not isinstance(value, dict):
                return None
            value = next((v for k, v in value.items() if k.lower() == part), None)
        return value if isinstance(value, str) else None
    return None


def _typed(items: object, kind: str, part: str) -> str | None:
    if not isinstance(items, list):
        return None
    for item in items:
        if isinstance(item, dict) and str(item.get("Type", "")).lower() == kind:
            value = item.get(part)
            return value if isinstance(value, str) else None
    return None


def new_entity_id(store_id: str) -> str:
    """An id for a user, group or membership: the store's hex digits, ``-``, a random UUID."""
    digits = store_id[2:] if store_id.startswith("d-") else ""
    return f"{digits}-{uuid.uuid4()}" if len(digits) == 10 else str(uuid.uuid4())


def _lower(value: str | None) -> str | None:
    return None if value is None else value.casefold()


NameTest = tuple[Literal["eq", "sw", "ew", "co"], str]
"""A test of a name ignoring case, as SCIM's filters compare ``userName`` and ``displayName``:
equal to, starts with, ends with or contains the text (RFC 7644 §3.4.2.2)."""

_IN_CHUNK: Final = 1000
"""The most ids one ``IN (…)`` lists (SQLite caps a statement's parameters)."""


def _name_clause(column: Any, test: NameTest) -> Any:
    """``test`` on a column holding the case-folded name: the same comparison, since both sides
    are folded as :func:`_lower` folds them (``LIKE`` with its wildcards escaped)."""
    op, text = test
    folded = text.casefold()
    if op == "eq":
        return column == folded
    if op == "sw":
        return column.startswith(folded, autoescape=True)
    if op == "ew":
        return column.endswith(folded, autoescape=True)
    return column.contains(folded, autoescape=True)


def _user_filter(store_id: str, user_name: NameTest | None) -> list[Any]:
    where: list[Any] = [IdsUserRow.store_id == store_id]
    if user_name is not None:
        where.append(_name_clause(IdsUserRow.user_name_lower, user_name))
    return where


def _group_filter(store_id: str, display_name: NameTest | None) -> list[Any]:
    where: list[Any] = [IdsGroupRow.store_id == store_id]
    if display_name is not None:
        where.append(_name_clause(IdsGroupRow.display_name_lower, display_name))
    return where


# -- the repository -------------------------------------------------------------------------------


class IdentityStores(Repository):
    """Identity stores and their users, groups and memberships.

    Writes do not change IAM authorization decisions and so only check that the transaction may
    write. Every entity lookup is scoped by store id: an id of another store is not found."""

    # stores --------------------------------------------------------------------------------------

    def create_store(
        self, store_id: str, *, account_id: str, created_at: datetime, instance_arn: str | None = None
    ) -> IdentityStoreRecord:
        """A new, empty identity store (made by sso-admin's CreateInstance, or by ``iamd sso``)."""
        self._uow.writable()
        if self._session.get(IdsStoreRow, store_id) is not None:
            raise AlreadyExists(f"identity store {store_id} already exists")
        row = IdsStoreRow(
            id=store_id, account_id=account_id, instance_arn=instance_arn, created_at=created_at
        )
        self._session.add(row)
        self._session.flush()
        return _store_record(row)

    def find_store(self, store_id: str) -> IdentityStoreRecord | None:
        """The store ``store_id``: its own row, else the identity store of the Identity Center
        instance that names it (sso-admin's CreateInstance; the row is made at its first write)."""
        row = self._session.get(IdsStoreRow, store_id)
        if row is not None:
            return _store_record(row)
        instance = self._uow.identity_center.instance_by_identity_store(store_id)
        if instance is None:
            return None
        return IdentityStoreRecord(store_id, instance.owner_account_id, instance.arn, instance.created_at)

    def get_store(self, store_id: str) -> IdentityStoreRecord:
        """The store (NotFound if none), its row made first if it is an instance's store without
        one and the transaction may write: everything in the store refers to that row."""
        row = self._session.get(IdsStoreRow, store_id)
        if row is not None:
            return _store_record(row)
        store = found(self.find_store(store_id), f"identity store {store_id}")
        if not self._uow.readonly:
            self._session.add(
                IdsStoreRow(
                    id=store.id,
                    account_id=store.account_id,
                    instance_arn=store.instance_arn,
                    created_at=store.created_at,
                )
            )
            self._session.flush()
        return store

    def store_of_instance(self, instance_arn: str) -> IdentityStoreRecord | None:
        instance = self._uow.identity_center.find_instance(instance_arn)
        return None if instance is None else self.find_store(instance.identity_store_id)

    def stores_of_account(self, account_id: str) -> tuple[IdentityStoreRecord, ...]:
        """The account's identity stores (its Identity Center instance's, and any made without
        one), by id."""
        rows = self._session.scalars(select(IdsStoreRow).where(IdsStoreRow.account_id == account_id))
        stores = {r.id: _store_record(r) for r in rows}
        instance = self._uow.identity_center.instance_of_account(account_id)
        if instance is not None and instance.identity_store_id not in stores:
            derived = self.find_store(instance.identity_store_id)
            if derived is not None:
                stores[derived.id] = derived
        return tuple(stores[k] for k in sorted(stores))

    def set_network_configuration(
        self, store_id: str, configuration: dict[str, Any] | None
    ) -> IdentityStoreRecord:
        """UpdateIdentityStore: who may reach the store's API and SCIM endpoint."""
        self._uow.writable()
        self.get_store(store_id)
        row = found(self._session.get(IdsStoreRow, store_id), f"identity store {store_id}")
        row.network_configuration = configuration
        self._session.flush()
        return _store_record(row)

    def list_stores(
        self, account_id: str, *, marker: str | None = None, max_items: int = 100
    ) -> Page[IdentityStoreRecord]:
        """The account's identity stores, by id, a page at a time."""
        stores = self.stores_of_account(account_id)
        after = decode_marker(marker, 1)[0] if marker is not None else ""
        rest = [s for s in stores if s.id > after]
        chosen = rest[:max_items]
        more = len(rest) > max_items
        return Page(tuple(chosen), encode_marker([chosen[-1].id]) if more and chosen else None)

    def delete_store(self, store_id: str) -> None:
        """Delete a store with everything in it (sso-admin's DeleteInstance); nothing to do for
        an instance's store that never had a write."""
        self._uow.writable()
        row = self._session.get(IdsStoreRow, store_id)
        if row is None:
            return
        for table in (IdsMembershipRow, IdsExternalIdRow, IdsGroupRow):
            self._session.execute(delete(table).where(table.store_id == store_id))
        from iamd.store.identity_credentials import delete_store_credentials

        delete_store_credentials(self._session, store_id)
        self._session.execute(delete(IdsUserRow).where(IdsUserRow.store_id == store_id))
        self._session.delete(row)
        self._session.flush()

    # users ---------------------------------------------------------------------------------------

    def create_user(
        self,
        store_id: str,
        *,
        user_name: str,
        attributes: Mapping[str, Any],
        created_at: datetime,
        created_by: str | None,
        external_ids: Sequence[ExternalId] = (),
        status: str = "ENABLED",
        user_id: str | None = None,
    ) -> IdsUserRecord:
        """A new user; :class:`Taken` when its user name, primary email or an external id is used.
        ``attributes`` excludes ``UserName`` (a column) and ``ExternalIds`` (their own rows)."""
        self._uow.writable()
        store = self.get_store(store_id)
        email = _lower(_primary_value(attributes.get("Emails")))
        self._check_user_unique(store_id, None, user_name, email)
        self._check_external_unique(store_id, "user", None, external_ids)
        row = IdsUserRow(
            id=user_id or new_entity_id(store_id),
            store_id=store_id,
            account_id=store.account_id,
            user_name=user_name,
            user_name_lower=user_name.casefold(),
            display_name=_str(attributes.get("DisplayName")),
            email_lower=email,
            attributes=dict(attributes),
            status=status,
            revision=1,
            created_at=created_at,
            created_by=created_by,
            updated_at=created_at,
            updated_by=created_by,
        )
        self._session.add(row)
        self._session.flush()
        self._put_external_ids(store_id, store.account_id, "user", row.id, external_ids)
        return self._user_record(row)

    def update_user(
        self,
        store_id: str,
        user_id: str,
        *,
        updated_at: datetime,
        updated_by: str | None,
        user_name: str | None = None,
        attributes: Mapping[str, Any] | None = None,
        external_ids: Sequence[ExternalId] | None = None,
        status: str | None = None,
        expected_revision: int | None = None,
    ) -> IdsUserRecord:
        """Replace what is given: the user name, the whole attribute document, the external ids
        and/or the status. :class:`Taken` on a uniqueness clash, :class:`StaleRevision` when
        ``expected_revision`` is not the user's; nothing changes then."""
        self._uow.writable()
        row = self._user_row(store_id, user_id)
        _check_revision("user", row.revision, expected_revision)
        new_name = row.user_name if user_name is None else user_name
        new_email = (
            row.email_lower if attributes is None else _lower(_primary_value(attributes.get("Emails")))
        )
        self._check_user_unique(store_id, row.id, new_name, new_email)
        if external_ids is not None:
            self._check_external_unique(store_id, "user", row.id, external_ids)
            self._put_external_ids(store_id, row.account_id, "user", row.id, external_ids, replace=True)
        row.user_name, row.user_name_lower, row.email_lower = new_name, new_name.casefold(), new_email
        if attributes is not None:
            row.attributes = dict(attributes)
            row.display_name = _str(attributes.get("DisplayName"))
        if status is not None:
            row.status = status
        row.updated_at, row.updated_by = updated_at, updated_by
        row.revision += 1
        self._session.flush()
        return self._user_record(row)

    def delete_user(self, store_id: str, user_id: str, *, expected_revision: int | None = None) -> None:
        """Delete a user with its memberships, external ids, password and MFA devices."""
        self._uow.writable()
        row = self._user_row(store_id, user_id)
        _check_revision("user", row.revision, expected_revision)
        self._session.execute(delete(IdsMembershipRow).where(IdsMembershipRow.user_id == row.id))
        self._delete_external_ids("user", row.id)
        from iamd.store.identity_credentials import delete_user_credentials

        delete_user_credentials(self._session, row.id)
        self._session.delete(row)
        self._session.flush()

    def find_user(self, store_id: str, user_id: str) -> IdsUserRecord | None:
        row = self._session.get(IdsUserRow, user_id)
        return None if row is None or row.store_id != store_id else self._user_record(row)

    def get_user(self, store_id: str, user_id: str) -> IdsUserRecord:
        return found(self.find_user(store_id, user_id), f"user {user_id}")

    def find_user_by_name(self, store_id: str, user_name: str) -> IdsUserRecord | None:
        """The user whose UserName is ``user_name``, ignoring case (sign-in, SAML NameID)."""
        row = self._session.scalar(
            select(IdsUserRow).where(
                IdsUserRow.store_id == store_id, IdsUserRow.user_name_lower == _lower(user_name)
            )
        )
        return None if row is None else self._user_record(row)

    def find_user_by_email(self, store_id: str, email: str) -> IdsUserRecord | None:
        """The user whose primary email is ``email``, ignoring case."""
        row = self._session.scalar(
            select(IdsUserRow).where(IdsUserRow.store_id == store_id, IdsUserRow.email_lower == _lower(email))
        )
        return None if row is None else self._user_record(row)

    def find_by_external_id(self, store_id: str, kind: Kind, external_id: ExternalId) -> str | None:
        """The id of the user or group that has this external id."""
        return self._session.scalar(
            select(IdsExternalIdRow.owner_id).where(
                IdsExternalIdRow.store_id == store_id,
                IdsExternalIdRow.kind == kind,
                IdsExternalIdRow.issuer == external_id.issuer,
                IdsExternalIdRow.external_id == external_id.id,
            )
        )

    def list_users(
        self,
        store_id: str,
        *,
        user_name: str | None = None,
        display_name: str | None = None,
        user_name_test: NameTest | None = None,
        marker: str | None = None,
        max_items: int = 100,
    ) -> Page[IdsUserRecord]:
        """Users by user name (case-insensitive order), optionally those with this user name or
        display name (ignoring case), or whose user name passes ``user_name_test``;
        :class:`~iamd.store.errors.InvalidMarker` for a bad marker."""
        stmt = select(IdsUserRow).where(*_user_filter(store_id, user_name_test))
        if user_name is not None:
            stmt = stmt.where(IdsUserRow.user_name_lower == _lower(user_name))
        if display_name is not None:
            stmt = stmt.where(func.lower(IdsUserRow.display_name) == display_name.lower())
        rows, next_marker = paginate(
            self._session, stmt, (IdsUserRow.user_name_lower, IdsUserRow.id), marker, max_items
        )
        return Page(self._user_records(rows), next_marker)

    def count_users(self, store_id: str, *, user_name: NameTest | None = None) -> int:
        """How many users the store has, or how many whose user name passes ``user_name``."""
        where = _user_filter(store_id, user_name)
        return int(self._session.scalar(select(func.count()).select_from(IdsUserRow).where(*where)) or 0)

    def users_window(
        self, store_id: str, *, user_name: NameTest | None = None, offset: int, limit: int
    ) -> tuple[IdsUserRecord, ...]:
        """Users in :meth:`list_users`' order, from the ``offset``-th (0-based), at most ``limit``,
        optionally only those whose user name passes ``user_name`` (SCIM's ``startIndex`` paging,
        answered by the database whatever the store's size)."""
        if limit <= 0:
            return ()
        rows = self._session.scalars(
            select(IdsUserRow)
            .where(*_user_filter(store_id, user_name))
            .order_by(IdsUserRow.user_name_lower, IdsUserRow.id)
            .offset(offset)
            .limit(limit)
        ).all()
        return self._user_records(rows)

    def count_groups(self, store_id: str, *, display_name: NameTest | None = None) -> int:
        """How many groups the store has, or how many whose display name passes ``display_name``."""
        where = _group_filter(store_id, display_name)
        return int(self._session.scalar(select(func.count()).select_from(IdsGroupRow).where(*where)) or 0)

    def groups_window(
        self, store_id: str, *, display_name: NameTest | None = None, offset: int, limit: int
    ) -> tuple[IdsGroupRecord, ...]:
        """Groups in :meth:`list_groups`' order (by id), as :meth:`users_window` gives users."""
        if limit <= 0:
            return ()
        rows = self._session.scalars(
            select(IdsGroupRow)
            .where(*_group_filter(store_id, display_name))
            .order_by(IdsGroupRow.id)
            .offset(offset)
            .limit(limit)
        ).all()
        return self._group_records(rows)

    # groups --------------------------------------------------------------------------------------

    def create_group(
        self,
        store_id: str,
        *,
        display_name: str | None,
        description: str | None,
        created_at: datetime,
        created_by: str | None,
        external_ids: Sequence[ExternalId] = (),
        group_id: str | None = None,
    ) -> IdsGroupRecord:
        """A new group; :class:`Taken` when its display name or an external id is used."""
        self._uow.writable()
        store = self.get_store(store_id)
        self._check_group_unique(store_id, None, display_name)
        self._check_external_unique(store_id, "group", None, external_ids)
        row = IdsGroupRow(
            id=group_id or new_entity_id(store_id),
            store_id=store_id,
            account_id=store.account_id,
            display_name=display_name,
            display_name_lower=_lower(display_name),
            description=description,
            revision=1,
            created_at=created_at,
            created_by=created_by,
            updated_at=created_at,
            updated_by=created_by,
        )
        self._session.add(row)
        self._session.flush()
        self._put_external_ids(store_id, store.account_id, "group", row.id, external_ids)
        return self._group_record(row)

    def update_group(
        self,
        store_id: str,
        group_id: str,
        *,
        updated_at: datetime,
        updated_by: str | None,
        display_name: str | None = None,
        description: str | None = None,
        clear_description: bool = False,
        clear_display_name: bool = False,
        external_ids: Sequence[ExternalId] | None = None,
        expected_revision: int | None = None,
    ) -> IdsGroupRecord:
        """Change what is given; ``clear_…`` removes an attribute. :class:`StaleRevision` when
        ``expected_revision`` is not the group's."""
        self._uow.writable()
        row = self._group_row(store_id, group_id)
        _check_revision("group", row.revision, expected_revision)
        if clear_display_name:
            row.display_name = row.display_name_lower = None
        if display_name is not None:
            self._check_group_unique(store_id, row.id, display_name)
            row.display_name, row.display_name_lower = display_name, _lower(display_name)
        if external_ids is not None:
            self._check_external_unique(store_id, "group", row.id, external_ids)
            self._put_external_ids(store_id, row.account_id, "group", row.id, external_ids, replace=True)
        if clear_description:
            row.description = None
        elif description is not None:
            row.description = description
        row.updated_at, row.updated_by = updated_at, updated_by
        row.revision += 1
        self._session.flush()
        return self._group_record(row)

    def delete_group(self, store_id: str, group_id: str) -> None:
        """Delete a group and its memberships."""
        self._uow.writable()
        row = self._group_row(store_id, group_id)
        self._session.execute(delete(IdsMembershipRow).where(IdsMembershipRow.group_id == row.id))
        self._delete_external_ids("group", row.id)
        self._session.delete(row)
        self._session.flush()

    def find_group(self, store_id: str, group_id: str) -> IdsGroupRecord | None:
        row = self._session.get(IdsGroupRow, group_id)
        return None if row is None or row.store_id != store_id else self._group_record(row)

    def get_group(self, store_id: str, group_id: str) -> IdsGroupRecord:
        return found(self.find_group(store_id, group_id), f"group {group_id}")

    def find_group_by_name(self, store_id: str, display_name: str) -> IdsGroupRecord | None:
        row = self._session.scalar(
            select(IdsGroupRow).where(
                IdsGroupRow.store_id == store_id, IdsGroupRow.display_name_lower == _lower(display_name)
            )
        )
        return None if row is None else self._group_record(row)

    def list_groups(
        self,
        store_id: str,
        *,
        display_name: str | None = None,
        display_name_test: NameTest | None = None,
        marker: str | None = None,
        max_items: int = 100,
    ) -> Page[IdsGroupRecord]:
        """Groups by id, optionally those with this display name (ignoring case), or whose
        display name passes ``display_name_test``."""
        stmt = select(IdsGroupRow).where(*_group_filter(store_id, display_name_test))
        if display_name is not None:
            stmt = stmt.where(IdsGroupRow.display_name_lower == _lower(display_name))
        rows, next_marker = paginate(self._session, stmt, (IdsGroupRow.id,), marker, max_items)
        return Page(self._group_records(rows), next_marker)

    # memberships ---------------------------------------------------------------------------------

    def add_member(
        self,
        store_id: str,
        group_id: str,
        user_id: str,
        *,
        created_at: datetime,
        created_by: str | None,
        membership_id: str | None = None,
    ) -> IdsMembershipRecord:
        """Put a user in a group; :class:`AlreadyExists` when it is already a member,
        :class:`NotFound` (naming "user" or "group") when either is not in the store."""
        self._uow.writable()
        group = self._group_row(store_id, group_id)
        self._user_row(store_id, user_id)
        if self.find_membership(store_id, group_id, user_id) is not None:
            raise AlreadyExists(f"Member {user_id} already exists in group {group_id}")
        row = IdsMembershipRow(
            id=membership_id or new_entity_id(store_id),
            store_id=store_id,
            account_id=group.account_id,
            group_id=group_id,
            user_id=user_id,
            created_at=created_at,
            created_by=created_by,
            updated_at=created_at,
            updated_by=created_by,
        )
        self._session.add(row)
        self._session.flush()
        return _membership_record(row)

    def remove_membership(self, store_id: str, membership_id: str) -> None:
        self._uow.writable()
        row = self._session.get(IdsMembershipRow, membership_id)
        if row is None or row.store_id != store_id:
            raise NotFound(f"membership {membership_id} not found")
        self._session.delete(row)
        self._session.flush()

    def get_membership(self, store_id: str, membership_id: str) -> IdsMembershipRecord:
        row = self._session.get(IdsMembershipRow, membership_id)
        if row is None or row.store_id != store_id:
            raise NotFound(f"membership {membership_id} not found")
        return _membership_record(row)

    def find_membership(self, store_id: str, group_id: str, user_id: str) -> IdsMembershipRecord | None:
        row = self._session.scalar(
            select(IdsMembershipRow).where(
                IdsMembershipRow.store_id == store_id,
                IdsMembershipRow.group_id == group_id,
                IdsMembershipRow.user_id == user_id,
            )
        )
        return None if row is None else _membership_record(row)

    def memberships_of_group(
        self, store_id: str, group_id: str, *, marker: str | None = None, max_items: int = 100
    ) -> Page[IdsMembershipRecord]:
        stmt = select(IdsMembershipRow).where(
            IdsMembershipRow.store_id == store_id, IdsMembershipRow.group_id == group_id
        )
        rows, next_marker = paginate(self._session, stmt, (IdsMembershipRow.id,), marker, max_items)
        return Page(tuple(_membership_record(r) for r in rows), next_marker)

    def memberships_of_user(
        self, store_id: str, user_id: str, *, marker: str | None = None, max_items: int = 100
    ) -> Page[IdsMembershipRecord]:
        stmt = select(IdsMembershipRow).where(
            IdsMembershipRow.store_id == store_id, IdsMembershipRow.user_id == user_id
        )
        rows, next_marker = paginate(self._session, stmt, (IdsMembershipRow.id,), marker, max_items)
        return Page(tuple(_membership_record(r) for r in rows), next_marker)

    def groups_of_user(self, store_id: str, user_id: str) -> tuple[IdsGroupRecord, ...]:
        """Every group the user is in, by display name (the portal, assignments to groups)."""
        rows = self._session.scalars(
            select(IdsGroupRow)
            .join(IdsMembershipRow, IdsMembershipRow.group_id == IdsGroupRow.id)
            .where(IdsMembershipRow.store_id == store_id, IdsMembershipRow.user_id == user_id)
            .order_by(IdsGroupRow.display_name_lower, IdsGroupRow.id)
        ).all()
        return tuple(self._group_record(r) for r in rows)

    def member_ids(self, store_id: str, group_id: str) -> tuple[str, ...]:
        """The user ids in a group (SCIM's ``members``)."""
        return tuple(
            self._session.scalars(
                select(IdsMembershipRow.user_id)
                .where(IdsMembershipRow.store_id == store_id, IdsMembershipRow.group_id == group_id)
                .order_by(IdsMembershipRow.created_at, IdsMembershipRow.id)
            )
        )

    def member_names(self, store_id: str, group_id: str) -> tuple[tuple[str, str], ...]:
        """The group's members as (user id, user name), in :meth:`member_ids`' order, in one
        query (SCIM's ``members`` with their ``display``)."""
        rows = self._session.execute(
            select(IdsMembershipRow.user_id, IdsUserRow.user_name)
            .outerjoin(IdsUserRow, IdsUserRow.id == IdsMembershipRow.user_id)
            .where(IdsMembershipRow.store_id == store_id, IdsMembershipRow.group_id == group_id)
            .order_by(IdsMembershipRow.created_at, IdsMembershipRow.id)
        ).all()
        return tuple(
            (user_id, user_name if user_name is not None else user_id) for user_id, user_name in rows
        )

    def groups_of_users(
        self, store_id: str, user_ids: Sequence[str]
    ) -> dict[str, tuple[IdsGroupRecord, ...]]:
        """:meth:`groups_of_user` for several users at once (a page of SCIM users): every user
        id is a key, in at most one query per thousand users."""
        found: dict[str, list[IdsGroupRow]] = {user_id: [] for user_id in user_ids}
        for at in range(0, len(user_ids), _IN_CHUNK):
            for user_id, row in self._session.execute(
                select(IdsMembershipRow.user_id, IdsGroupRow)
                .join(IdsGroupRow, IdsMembershipRow.group_id == IdsGroupRow.id)
                .where(
                    IdsMembershipRow.store_id == store_id,
                    IdsMembershipRow.user_id.in_(user_ids[at : at + _IN_CHUNK]),
                )
                .order_by(IdsGroupRow.display_name_lower, IdsGroupRow.id)
            ):
                found[user_id].append(row)
        every = self._group_records([row for rows in found.values() for row in rows])
        records = {record.id: record for record in every}
        return {user_id: tuple(records[row.id] for row in rows) for user_id, rows in found.items()}

    # internals -----------------------------------------------------------------------------------

    def _user_row(self, store_id: str, user_id: str) -> IdsUserRow:
        row = self._session.get(IdsUserRow, user_id)
        if row is None or row.store_id != store_id:
            raise NotFound(f"user {user_id} not found")
        return row

    def _group_row(self, store_id: str, group_id: str) -> IdsGroupRow:
        row = self._session.get(IdsGroupRow, group_id)
        if row is None or row.store_id != store_id:
            raise NotFound(f"group {group_id} not found")
        return row

    def _check_user_unique(
        self, store_id: str, own_id: str | None, user_name: str, email: str | None
    ) -> None:
        clash = self._session.scalar(
            select(IdsUserRow.id).where(
                IdsUserRow.store_id == store_id,
                IdsUserRow.user_name_lower == _lower(user_name),
                IdsUserRow.id != (own_id or ""),
            )
        )
        if clash is not None:
            raise Taken("user", "UserName", user_name)
        if email is not None:
            clash = self._session.scalar(
                select(IdsUserRow.id).where(
                    IdsUserRow.store_id == store_id,
                    IdsUserRow.email_lower == email,
                    IdsUserRow.id != (own_id or ""),
                )
            )
            if clash is not None:
                raise Taken("user", "Emails.Value", email)

    def _check_group_unique(self, store_id: str, own_id: str | None, display_name: str | None) -> None:
        if display_name is None:
            return
        clash = self._session.scalar(
            select(IdsGroupRow.id).where(
                IdsGroupRow.store_id == store_id,
                IdsGroupRow.display_name_lower == _lower(display_name),
                IdsGroupRow.id != (own_id or ""),
            )
        )
        if clash is not None:
            raise Taken("group", "DisplayName", display_name)

    def _check_external_unique(
        self, store_id: str, kind: Kind, own_id: str | None, external_ids: Sequence[ExternalId]
    ) -> None:
        seen: set[ExternalId] = set()
        for ext in external_ids:
            if ext in seen:
                raise Taken(kind, "ExternalIds", f"{ext.issuer}:{ext.id}")
            seen.add(ext)
            owner = self.find_by_external_id(store_id, kind, ext)
            if owner is not None and owner != own_id:
                raise Taken(kind, "ExternalIds", f"{ext.issuer}:{ext.id}")

    def _put_external_ids(
        self,
        store_id: str,
        account_id: str,
        kind: Kind,
        owner_id: str,
        external_ids: Sequence[ExternalId],
        *,
        replace: bool = False,
    ) -> None:
        if replace:
            self._delete_external_ids(kind, owner_id)
        for position, ext in enumerate(external_ids):
            self._session.add(
                IdsExternalIdRow(
                    store_id=store_id,
                    account_id=account_id,
                    kind=kind,
                    owner_id=owner_id,
                    position=position,
                    issuer=ext.issuer,
                    external_id=ext.id,
                )
            )
        self._session.flush()

    def _delete_external_ids(self, kind: Kind, owner_id: str) -> None:
        self._session.execute(
            delete(IdsExternalIdRow).where(
                IdsExternalIdRow.kind == kind, IdsExternalIdRow.owner_id == owner_id
            )
        )

    def _external_ids(self, kind: Kind, owner_ids: Sequence[str]) -> dict[str, tuple[ExternalId, ...]]:
        if not owner_ids:
            return {}
        out: dict[str, list[ExternalId]] = {}
        for at in range(0, len(owner_ids), _IN_CHUNK):
            for row in self._session.scalars(
                select(IdsExternalIdRow)
                .where(
                    IdsExternalIdRow.kind == kind,
                    IdsExternalIdRow.owner_id.in_(owner_ids[at : at + _IN_CHUNK]),
                )
                .order_by(IdsExternalIdRow.owner_id, IdsExternalIdRow.position)
            ):
                out.setdefault(row.owner_id, []).append(ExternalId(row.issuer, row.external_id))
        return {k: tuple(v) for k, v in out.items()}

    def _user_record(self, row: IdsUserRow) -> IdsUserRecord:
        return self._user_records([row])[0]

    def _user_records(self, rows: Sequence[IdsUserRow]) -> tuple[IdsUserRecord, ...]:
        ext = self._external_ids("user", [r.id for r in rows])
        return tuple(
            IdsUserRecord(
                r.store_id,
                r.id,
                r.user_name,
                dict(r.attributes),
                ext.get(r.id, ()),
                r.status,
                r.created_at,
                r.created_by,
                r.updated_at,
                r.updated_by,
                r.password_changed_at,
                r.password_hash is not None,
                r.revision,
            )
            for r in rows
        )

    def _group_record(self, row: IdsGroupRow) -> IdsGroupRecord:
        return self._group_records([row])[0]

    def _group_records(self, rows: Sequence[IdsGroupRow]) -> tuple[IdsGroupRecord, ...]:
        """Records of ``rows``, their external ids read in one query."""
        ext = self._external_ids("group", [r.id for r in rows])
        return tuple(self._group_row_record(r, ext.get(r.id, ())) for r in rows)

    @staticmethod
    def _group_row_record(row: IdsGroupRow, external_ids: tuple[ExternalId, ...]) -> IdsGroupRecord:
        return IdsGroupRecord(
            row.store_id,
            row.id,
            row.display_name,
            row.description,
            external_ids,
            row.created_at,
            row.created_by,
            row.updated_at,
            row.updated_by,
            row.revision,
        )


def _store_record(row: IdsStoreRow) -> IdentityStoreRecord:
    return IdentityStoreRecord(
        row.id, row.account_id, row.instance_arn, row.created_at, row.network_configuration
    )


def _membership_record(row: IdsMembershipRow) -> IdsMembershipRecord:
    return IdsMembershipRecord(
        row.store_id,
        row.id,
        row.group_id,
        row.user_id,
        row.created_at,
        row.created_by,
        row.updated_at,
        row.updated_by,
    )


def _check_revision(kind: Kind, current: int, expected: int | None) -> None:
    if expected is not None and expected != current:
        raise StaleRevision(f"The {kind} was changed since revision {expected}: it is at revision {current}")


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None
