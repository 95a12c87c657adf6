"""The IAM data model as SQLAlchemy ORM tables (private to the store).

Conventions:
- every row carries the 12-digit ``account_id`` it belongs to; AWS managed policies belong to the
  pseudo-account ``"aws"`` (:data:`AWS_ACCOUNT`), inserted by the first migration;
- entities with an AWS id (``AIDA…``, ``AROA…``) use it as primary key, the others an integer;
- names are unique per account and kind, compared case-insensitively through a ``name_lower``
  column under a unique constraint;
- foreign keys to principals are RESTRICT: AWS refuses to delete a user that still has keys,
  policies or group memberships (DeleteConflict), and so does the database;
- timestamps are :class:`UtcDateTime`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from iamd.store.columns import UtcDateTime

AWS_ACCOUNT: Final = "aws"
AWS_ACCOUNT_ROW: Final[dict[str, Any]] = {
    "id": AWS_ACCOUNT,
    "name": "AWS managed policies",
    "created_at": datetime(2010, 5, 8, tzinfo=UTC),
    "status": "ACTIVE",
    "generation": 0,
}
"""The pseudo-account's row as the first migration inserts it (and a new database created in one
step, :func:`iamd.store.engine.upgrade`)."""

NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Sizes follow the IAM API's limits.
ID = String(128)
NAME = String(128)
PATH = String(512)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime(), str: String(255)}


def _account_fk(*, index: bool = True) -> Mapped[str]:
    """The row's account. Indexed on its own unless (``index=False``) a unique constraint of the
    table begins with it: that one's index serves lookups by account too, and a second index on
    the same column lets PostgreSQL's planner, before it has statistics (a new database, or
    autovacuum off), pick the narrower one for a lookup by account and name and filter every row
    of the account (the AWS account's 1,500 managed policies: a quarter of a millisecond)."""
    return mapped_column(String(12), ForeignKey("accounts.id"), index=index)


def _one_principal(name: str = "one_principal") -> CheckConstraint:
    present = " + ".join(
        f"(CASE WHEN {col} IS NULL THEN 0 ELSE 1 END)" for col in ("user_id", "group_id", "role_id")
    )
    return CheckConstraint(f"{present} = 1", name=name)


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    alias: Mapped[str | None] = mapped_column(String(63), unique=True)
    created_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(32), default="ACTIVE")
    root_password_hash: Mapped[str | None] = mapped_column(Text)
    root_password_changed_at: Mapped[datetime | None]
    root_password_last_used: Mapped[datetime | None]
    organization_id: Mapped[str | None] = mapped_column(String(64))
    organization_role: Mapped[str | None] = mapped_column(String(16))  # "management" | "member"
    joined_method: Mapped[str | None] = mapped_column(String(16))  # "CREATED" | "INVITED"
    joined_at: Mapped[datetime | None]
    generation: Mapped[int] = mapped_column(BigInteger, default=0)
    """Goes up with every change that can move an authorization decision in the account
    (:meth:`iamd.store.unit.UnitOfWork.changed`)."""
    shared_generation: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """Goes up with every such change but those scoped to one user or role, which move that
    principal's ``generation`` instead (:meth:`iamd.store.unit.UnitOfWork.principal_scoped`): the
    hot caches of a caller key on this one and their principal's."""


class AccountSetting(Base):
    """An account-wide setting by name (STS token version, outbound web identity federation,
    account properties such as ``RoleManager/...``): few per account, read rarely."""

    __tablename__ = "account_settings"

    account_id: Mapped[str] = mapped_column(String(12), ForeignKey("accounts.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(256), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


class PasswordPolicy(Base):
    __tablename__ = "password_policies"

    account_id: Mapped[str] = mapped_column(String(12), ForeignKey("accounts.id"), primary_key=True)
    minimum_length: Mapped[int] = mapped_column(Integer)
    require_symbols: Mapped[bool] = mapped_column(Boolean)
    require_numbers: Mapped[bool] = mapped_column(Boolean)
    require_uppercase: Mapped[bool] = mapped_column(Boolean)
    require_lowercase: Mapped[bool] = mapped_column(Boolean)
    allow_users_to_change: Mapped[bool] = mapped_column(Boolean)
    max_age_days: Mapped[int | None] = mapped_column(Integer)
    reuse_prevention: Mapped[int | None] = mapped_column(Integer)
    hard_expiry: Mapped[bool] = mapped_column(Boolean)


class CredentialReport(Base):
    __tablename__ = "credential_reports"

    account_id: Mapped[str] = mapped_column(String(12), ForeignKey("accounts.id"), primary_key=True)
    generated_at: Mapped[datetime]
    content: Mapped[bytes] = mapped_column(LargeBinary)


class ManagedPolicy(Base):
    __tablename__ = "managed_policies"
    __table_args__ = (UniqueConstraint("account_id", "name_lower"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    account_id: Mapped[str] = _account_fk(index=False)
    name: Mapped[str] = mapped_column(NAME)
    name_lower: Mapped[str] = mapped_column(NAME)
    path: Mapped[str] = mapped_column(PATH)
    description: Mapped[str | None] = mapped_column(String(1000))
    default_version_id: Mapped[str] = mapped_column(String(16))
    next_version: Mapped[int] = mapped_column(Integer)
    is_attachable: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PolicyVersion(Base):
    __tablename__ = "policy_versions"

    policy_id: Mapped[str] = mapped_column(
        ID, ForeignKey("managed_policies.id", ondelete="CASCADE"), primary_key=True
    )
    version_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    document: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("account_id", "name_lower"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    account_id: Mapped[str] = _account_fk(index=False)
    name: Mapped[str] = mapped_column(String(64))
    name_lower: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(PATH)
    created_at: Mapped[datetime]
    password_last_used: Mapped[datetime | None]
    permissions_boundary_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("managed_policies.id"), index=True
    )
    generation: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """Goes up with every change scoped to this user (its tags, inline and attached policies,
    access keys: :meth:`iamd.store.unit.UnitOfWork.principal_scoped`)."""


class Group(Base):
    __tablename__ = "groups"
    __table_args__ = (UniqueConstraint("account_id", "name_lower"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    account_id: Mapped[str] = _account_fk(index=False)
    name: Mapped[str] = mapped_column(NAME)
    name_lower: Mapped[str] = mapped_column(NAME)
    path: Mapped[str] = mapped_column(PATH)
    created_at: Mapped[datetime]


class GroupMember(Base):
    __tablename__ = "group_members"

    group_id: Mapped[str] = mapped_column(ID, ForeignKey("groups.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ID, ForeignKey("users.id"), primary_key=True, index=True)
    account_id: Mapped[str] = _account_fk()


class Role(Base):
    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("account_id", "name_lower"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    account_id: Mapped[str] = _account_fk(index=False)
    name: Mapped[str] = mapped_column(String(64))
    name_lower: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(PATH)
    created_at: Mapped[datetime]
    trust_policy: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(String(1000))
    max_session_duration: Mapped[int] = mapped_column(Integer)
    permissions_boundary_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("managed_policies.id"), index=True
    )
    last_used_at: Mapped[datetime | None]
    last_used_region: Mapped[str | None] = mapped_column(String(32))
    generation: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """Goes up with every change scoped to this role (its tags, inline and attached policies:
    :meth:`iamd.store.unit.UnitOfWork.principal_scoped`)."""


class PolicyAttachment(Base):
    """A managed policy attached to exactly one user, group or role."""

    __tablename__ = "policy_attachments"
    __table_args__ = (
        UniqueConstraint("user_id", "policy_id"),
        UniqueConstraint("group_id", "policy_id"),
        UniqueConstraint("role_id", "policy_id"),
        _one_principal(),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = _account_fk()
    policy_id: Mapped[str] = mapped_column(ID, ForeignKey("managed_policies.id"), index=True)
    user_id: Mapped[str | None] = mapped_column(ID, ForeignKey("users.id"))
    group_id: Mapped[str | None] = mapped_column(ID, ForeignKey("groups.id"))
    role_id: Mapped[str | None] = mapped_column(ID, ForeignKey("roles.id"))


class InlinePolicy(Base):
    """A policy embedded in exactly one user, group or role."""

    __tablename__ = "inline_policies"
    __table_args__ = (
        UniqueConstraint("user_id", "name_lower"),
        UniqueConstraint("group_id", "name_lower"),
        UniqueConstraint("role_id", "name_lower"),
        _one_principal(),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = _account_fk()
    user_id: Mapped[str | None] = mapped_column(ID, ForeignKey("users.id"))
    group_id: Mapped[str | None] = mapped_column(ID, ForeignKey("groups.id"))
    role_id: Mapped[str | None] = mapped_column(ID, ForeignKey("roles.id"))
    name: Mapped[str] = mapped_column(NAME)
    name_lower: Mapped[str] = mapped_column(NAME)
    document: Mapped[str] = mapped_column(Text)


class AccessKey(Base):
    __tablename__ = "access_keys"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    account_id: Mapped[str] = _account_fk()
    user_id: Mapped[str | None] = mapped_column(ID, ForeignKey("users.id"), index=True)  # None: root
    secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    last_used_service: Mapped[str | None] = mapped_column(String(64))
    last_used_region: Mapped[str | None] = mapped_column(String(32))


class LoginProfile(Base):
    __tablename__ = "login_profiles"

    user_id: Mapped[str] = mapped_column(ID, ForeignKey("users.id"), primary_key=True)
    account_id: Mapped[str] = _account_fk()
    password_hash: Mapped[str] = mapped_column(Text)
    password_reset_required: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]
    password_changed_at: Mapped[datetime]


class PasswordHistory(Base):
    """Earlier password hashes of a user, for the password policy's reuse prevention."""

    __tablename__ = "password_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = _account_fk()
    user_id: Mapped[str] = mapped_column(ID, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class MfaDevice(Base):
    """A virtual (TOTP), WebAuthn/FIDO or hardware MFA device, assigned to a user, the root or no one."""

    __tablename__ = "mfa_devices"
    __table_args__ = (
        UniqueConstraint("account_id", "serial"),
        CheckConstraint("NOT (is_root AND user_id IS NOT NULL)", name="one_owner"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = _account_fk(index=False)
    serial: Mapped[str] = mapped_column(String(256))
    kind: Mapped[str] = mapped_column(String(16))  # "virtual" | "webauthn" | "hardware"
    user_id: Mapped[str | None] = mapped_column(ID, ForeignKey("users.id"), index=True)
    is_root: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    enabled_at: Mapped[datetime | None]
    seed_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    last_totp_counter: Mapped[int | None] = mapped_column(BigInteger)
    credential_id: Mapped[bytes | None] = mapped_column(LargeBinary)
    public_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    sign_count: Mapped[int | None] = mapped_column(BigInteger)


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("account_id", "resource_kind", "resource_id", "key_lower"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(12), ForeignKey("accounts.id"))
    resource_kind: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str] = mapped_column(ID)
    key: Mapped[str] = mapped_column(String(128))
    key_lower: Mapped[str] = mapped_column(String(128))
    value: Mapped[str] = mapped_column(String(256))


class InstanceProfile(Base):
    __tablename__ = "instance_profiles"
    __table_args__ = (UniqueConstraint("account_id", "name_lower"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    account_id: Mapped[str] = _account_fk(index=False)
    name: Mapped[str] = mapped_column(NAME)
    name_lower: Mapped[str] = mapped_column(NAME)
    path: Mapped[str] = mapped_column(PATH)
    created_at: Mapped[datetime]


class InstanceProfileRole(Base):
    __tablename__ = "instance_profile_roles"

    instance_profile_id: Mapped[str] = mapped_column(ID, ForeignKey("instance_profiles.id"), primary_key=True)
    role_id: Mapped[str] = mapped_column(ID, ForeignKey("roles.id"), primary_key=True, index=True)
    account_id: Mapped[str] = _account_fk()


class OidcProvider(Base):
    __tablename__ = "oidc_providers"
    __table_args__ = (UniqueConstraint("account_id", "url_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = _account_fk(index=False)
    url: Mapped[str] = mapped_column(String(255))
    url_key: Mapped[str] = mapped_column(String(255))  # host/path, as in the provider's ARN
    client_ids: Mapped[list[str]] = mapped_column(JSON)
    thumbprints: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime]


class SamlProvider(Base):
    __tablename__ = "saml_providers"
    __table_args__ = (UniqueConstraint("account_id", "name_lower"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = _account_fk(index=False)
    name: Mapped[str] = mapped_column(NAME)
    name_lower: Mapped[str] = mapped_column(NAME)
    metadata_document: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    valid_until: Mapped[datetime | None]


class SigningCertificate(Base):
    __tablename__ = "signing_certificates"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    account_id: Mapped[str] = _account_fk()
    user_id: Mapped[str | None] = mapped_column(ID, ForeignKey("users.id"), index=True)  # None: root
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    uploaded_at: Mapped[datetime]


class SshPublicKey(Base):
    __tablename__ = "ssh_public_keys"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    account_id: Mapped[str] = _account_fk()
    user_id: Mapped[str] = mapped_column(ID, ForeignKey("users.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    uploaded_at: Mapped[datetime]


class ServiceCredential(Base):
    __tablename__ = "service_credentials"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    account_id: Mapped[str] = _account_fk()
    user_id: Mapped[str] = mapped_column(ID, ForeignKey("users.id"), index=True)
    service_name: Mapped[str] = mapped_column(String(128))
    service_user_name: Mapped[str] = mapped_column(String(200))
    password_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]


class ServerCertificate(Base):
    __tablename__ = "server_certificates"
    __table_args__ = (UniqueConstraint("account_id", "name_lower"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    account_id: Mapped[str] = _account_fk(index=False)
    name: Mapped[str] = mapped_column(NAME)
    name_lower: Mapped[str] = mapped_column(NAME)
    path: Mapped[str] = mapped_column(PATH)
    body: Mapped[str] = mapped_column(Text)
    chain: Mapped[str | None] = mapped_column(Text)
    private_key_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]


class RolesAnywhereTrustAnchor(Base):
    """An IAM Roles Anywhere trust anchor: a CA certificate (bundle) that end-entity certificates
    presented to CreateSession must chain to."""

    __tablename__ = "rolesanywhere_trust_anchors"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = _account_fk()
    region: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean)
    source_type: Mapped[str] = mapped_column(String(32))
    source_data: Mapped[str] = mapped_column(Text)
    tags: Mapped[dict[str, str]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    notification_settings: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    """The custom notification settings (PutNotificationSettings); NULL or absent events: AWS's defaults."""


class RolesAnywhereProfile(Base):
    """An IAM Roles Anywhere profile: the roles a session may take, and its policies and duration."""

    __tablename__ = "rolesanywhere_profiles"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = _account_fk()
    region: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean)
    role_arns: Mapped[list[str]] = mapped_column(JSON)
    managed_policy_arns: Mapped[list[str]] = mapped_column(JSON)
    session_policy: Mapped[str | None] = mapped_column(Text)
    duration_seconds: Mapped[int] = mapped_column(Integer)
    require_instance_properties: Mapped[bool] = mapped_column(Boolean)
    accept_role_session_name: Mapped[bool] = mapped_column(Boolean)
    created_by: Mapped[str] = mapped_column(String(2048))
    tags: Mapped[dict[str, str]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    attribute_mappings: Mapped[dict[str, list[str]] | None] = mapped_column(JSON)
    """Certificate field -> mapping rule specifiers; NULL: AWS's default mappings."""


class RolesAnywhereCrl(Base):
    """A certificate revocation list imported for a trust anchor (DER bytes as imported, or PEM)."""

    __tablename__ = "rolesanywhere_crls"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = _account_fk()
    region: Mapped[str] = mapped_column(String(32))
    trust_anchor_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("rolesanywhere_trust_anchors.id"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean)
    crl_data: Mapped[bytes] = mapped_column(LargeBinary)
    tags: Mapped[dict[str, str]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class RolesAnywhereSubject(Base):
    """A certificate subject seen by CreateSession: the certificates it presented (``credentials``)
    and the instance properties it sent, each a JSON list, most recent first."""

    __tablename__ = "rolesanywhere_subjects"
    __table_args__ = (UniqueConstraint("account_id", "region", "x509_subject"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = _account_fk(index=False)
    region: Mapped[str] = mapped_column(String(32))
    x509_subject: Mapped[str] = mapped_column(String(2048))
    enabled: Mapped[bool] = mapped_column(Boolean)
    credentials: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    instance_properties: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    last_seen_at: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


# -- AWS Organizations ----------------------------------------------------------------------------
# One organization per management account; its root, OUs, member accounts (``org_members``: the
# parent and state of each account in it, the management account included), policies of every
# type with their attachments to the root, OUs and accounts, and the asynchronous records
# (CreateAccount requests, handshakes). Rows of an organization carry its id; DeleteOrganization
# removes them all. AWS-managed policies (p-FullAWSAccess, p-RCPFullAWSAccess) are not rows:
# ``iamd.services.organizations`` knows them; only their attachments are stored.

ORG_ID = String(64)
ORG_ENTITY = String(130)


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(ORG_ID, primary_key=True)
    management_account_id: Mapped[str] = mapped_column(String(12), ForeignKey("accounts.id"), unique=True)
    feature_set: Mapped[str] = mapped_column(String(32))
    root_id: Mapped[str] = mapped_column(String(34))
    root_name: Mapped[str] = mapped_column(NAME)
    created_at: Mapped[datetime]
    resource_policy_id: Mapped[str | None] = mapped_column(ORG_ENTITY)
    resource_policy: Mapped[str | None] = mapped_column(Text)


class OrganizationalUnit(Base):
    __tablename__ = "org_units"
    __table_args__ = (UniqueConstraint("organization_id", "parent_id", "name"),)

    id: Mapped[str] = mapped_column(String(68), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ORG_ID)
    parent_id: Mapped[str] = mapped_column(String(68))
    name: Mapped[str] = mapped_column(NAME)
    created_at: Mapped[datetime]


class OrgMember(Base):
    __tablename__ = "org_members"

    account_id: Mapped[str] = mapped_column(String(12), ForeignKey("accounts.id"), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ORG_ID, index=True)
    parent_id: Mapped[str] = mapped_column(String(68))
    state: Mapped[str] = mapped_column(String(32))
    joined_method: Mapped[str] = mapped_column(String(16))
    joined_at: Mapped[datetime]


class OrgPolicyType(Base):
    __tablename__ = "org_policy_types"

    organization_id: Mapped[str] = mapped_column(ORG_ID, primary_key=True)
    policy_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(32))


class OrgPolicy(Base):
    __tablename__ = "org_policies"
    __table_args__ = (UniqueConstraint("organization_id", "policy_type", "name"),)

    id: Mapped[str] = mapped_column(ORG_ENTITY, primary_key=True)
    organization_id: Mapped[str] = mapped_column(ORG_ID)
    policy_type: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(NAME)
    description: Mapped[str] = mapped_column(String(512))
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class OrgPolicyAttachment(Base):
    __tablename__ = "org_policy_attachments"

    organization_id: Mapped[str] = mapped_column(ORG_ID, primary_key=True)
    policy_id: Mapped[str] = mapped_column(ORG_ENTITY, primary_key=True)
    target_id: Mapped[str] = mapped_column(String(68), primary_key=True)
    policy_type: Mapped[str] = mapped_column(String(64))


class OrgAccountRequest(Base):
    """A CreateAccount request (``car-…``) and how it ended."""

    __tablename__ = "org_account_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ORG_ID, index=True)
    account_name: Mapped[str] = mapped_column(NAME)
    state: Mapped[str] = mapped_column(String(16))
    failure_reason: Mapped[str | None] = mapped_column(String(64))
    account_id: Mapped[str | None] = mapped_column(String(12))
    requested_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]


class OrgHandshake(Base):
    __tablename__ = "org_handshakes"

    id: Mapped[str] = mapped_column(String(34), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ORG_ID, index=True)
    action: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    sender_account_id: Mapped[str] = mapped_column(String(12))
    target_type: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[str] = mapped_column(String(320))
    notes: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    tags: Mapped[dict[str, str]] = mapped_column(JSON)
    """InviteAccountToOrganization's tags, put on the account when it joins."""


class OrgTag(Base):
    __tablename__ = "org_tags"

    organization_id: Mapped[str] = mapped_column(ORG_ID, primary_key=True)
    resource_id: Mapped[str] = mapped_column(ORG_ENTITY, primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))


class OrgServiceAccess(Base):
    __tablename__ = "org_service_access"

    organization_id: Mapped[str] = mapped_column(ORG_ID, primary_key=True)
    service_principal: Mapped[str] = mapped_column(String(128), primary_key=True)
    enabled_at: Mapped[datetime]


class OrgDelegatedAdmin(Base):
    __tablename__ = "org_delegated_admins"

    organization_id: Mapped[str] = mapped_column(ORG_ID, primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), primary_key=True)
    service_principal: Mapped[str] = mapped_column(String(128), primary_key=True)
    enabled_at: Mapped[datetime]
