"""What the store returns: plain frozen dataclasses, never ORM objects.

Timestamps are timezone-aware UTC. Secrets are never in a record: access key secrets, TOTP seeds,
service passwords and private keys are decrypted only by the repository method that asks for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Literal, TypeVar

T = TypeVar("T")

PrincipalKind = Literal["user", "group", "role"]
MfaKind = Literal["virtual", "webauthn", "hardware"]
ResourceKind = Literal[
    "user",
    "role",
    "policy",
    "instance-profile",
    "oidc-provider",
    "saml-provider",
    "mfa",
    "server-certificate",
]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing; `marker` is None on the last page, else pass it to get the next."""

    items: tuple[T, ...]
    marker: str | None

    @property
    def is_truncated(self) -> bool:
        return self.marker is not None


@dataclass(frozen=True, slots=True)
class AccountRecord:
    id: str
    name: str
    email: str | None
    alias: str | None
    created_at: datetime
    status: str
    root_password_hash: str | None
    root_password_changed_at: datetime | None
    root_password_last_used: datetime | None
    organization_id: str | None
    organization_role: str | None
    joined_method: str | None
    joined_at: datetime | None
    generation: int


@dataclass(frozen=True, slots=True)
class PasswordPolicyRecord:
    minimum_length: int = 8
    require_symbols: bool = False
    require_numbers: bool = False
    require_uppercase: bool = False
    require_lowercase: bool = False
    allow_users_to_change: bool = True
    max_age_days: int | None = None
    reuse_prevention: int | None = None
    hard_expiry: bool = False


@dataclass(frozen=True, slots=True)
class CredentialReportRecord:
    generated_at: datetime
    content: bytes


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """The counts GetAccountSummary reports (quotas are the service's business)."""

    users: int
    groups: int
    roles: int
    policies: int  # customer managed
    policy_versions_in_use: int  # managed-policy attachments
    instance_profiles: int
    server_certificates: int
    providers: int  # SAML + OIDC
    mfa_devices: int
    mfa_devices_in_use: int
    account_mfa_enabled: bool
    account_access_keys_present: bool
    account_signing_certificates_present: bool
    account_password_present: bool


@dataclass(frozen=True, slots=True)
class PolicyRef:
    """Enough of a managed policy to name it: its ARN is built from account, path and name."""

    id: str
    account_id: str
    path: str
    name: str


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: str
    account_id: str
    name: str
    path: str
    created_at: datetime
    password_last_used: datetime | None
    permissions_boundary: PolicyRef | None


@dataclass(frozen=True, slots=True)
class GroupRecord:
    id: str
    account_id: str
    name: str
    path: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RoleRecord:
    id: str
    account_id: str
    name: str
    path: str
    created_at: datetime
    trust_policy: str
    description: str | None
    max_session_duration: int
    permissions_boundary: PolicyRef | None
    last_used_at: datetime | None
    last_used_region: str | None


@dataclass(frozen=True, slots=True)
class ManagedPolicyRecord:
    id: str
    account_id: str
    name: str
    path: str
    description: str | None
    default_version_id: str
    is_attachable: bool
    created_at: datetime
    updated_at: datetime
    attachment_count: int  # within the account asked about
    permissions_boundary_usage_count: int  # within the account asked about

    @property
    def ref(self) -> PolicyRef:
        return PolicyRef(self.id, self.account_id, self.path, self.name)


@dataclass(frozen=True, slots=True)
class AwsManagedPolicy:
    """One AWS managed policy from the snapshot, for :meth:`Policies.load_aws_managed`."""

    policy_id: str
    name: str
    path: str
    version_id: str
    document: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class PolicyVersionRecord:
    policy_id: str
    version_id: str
    document: str
    is_default: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class InlinePolicyRecord:
    principal_kind: PrincipalKind
    principal_id: str
    name: str
    document: str


@dataclass(frozen=True, slots=True)
class EntityRef:
    """A user, group or role in a listing of policy holders."""

    id: str
    name: str
    path: str


@dataclass(frozen=True, slots=True)
class PolicyEntities:
    """ListEntitiesForPolicy: who a managed policy is attached to (or bounds)."""

    users: tuple[EntityRef, ...]
    groups: tuple[EntityRef, ...]
    roles: tuple[EntityRef, ...]


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    """One policy in a principal's effective set (see principals.py)."""

    layer: Literal["identity", "boundary"]
    source: Literal["managed", "inline"]
    name: str  # the managed policy's name, or the inline policy's
    document: str
    via_group: str | None = None  # the group's name, when the policy comes from a group
    policy: PolicyRef | None = None  # managed policies only
    version_id: str | None = None  # managed policies only


@dataclass(frozen=True, slots=True)
class PrincipalPolicies:
    """Every policy that applies to a user or role, read in one query."""

    identity: tuple[PolicyDocument, ...]
    boundary: PolicyDocument | None


@dataclass(frozen=True, slots=True)
class AccessKeyRecord:
    id: str
    account_id: str
    user_id: str | None  # None: the root user's key
    user_name: str | None
    status: str
    created_at: datetime
    last_used_at: datetime | None
    last_used_service: str | None
    last_used_region: str | None


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An access key with its decrypted secret, for verifying a signature."""

    key: AccessKeyRecord
    secret_access_key: str


@dataclass(frozen=True, slots=True)
class LoginProfileRecord:
    user_id: str
    password_hash: str
    password_reset_required: bool
    created_at: datetime
    password_changed_at: datetime


@dataclass(frozen=True, slots=True)
class MfaDeviceRecord:
    id: int
    account_id: str
    serial: str
    kind: MfaKind
    user_id: str | None
    user_name: str | None
    is_root: bool
    created_at: datetime
    enabled_at: datetime | None
    last_totp_counter: int | None
    credential_id: bytes | None
    public_key: bytes | None
    sign_count: int | None

    @property
    def is_assigned(self) -> bool:
        return self.enabled_at is not None


@dataclass(frozen=True, slots=True)
class Tag:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class InstanceProfileRecord:
    id: str
    account_id: str
    name: str
    path: str
    created_at: datetime
    roles: tuple[RoleRecord, ...]


@dataclass(frozen=True, slots=True)
class OidcProviderRecord:
    id: int
    account_id: str
    url: str
    url_key: str
    client_ids: tuple[str, ...]
    thumbprints: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SamlProviderRecord:
    id: int
    account_id: str
    name: str
    metadata_document: str
    created_at: datetime
    valid_until: datetime | None


@dataclass(frozen=True, slots=True)
class SigningCertificateRecord:
    id: str
    account_id: str
    user_id: str | None  # None: the root user's
    body: str
    status: str
    uploaded_at: datetime


@dataclass(frozen=True, slots=True)
class SshPublicKeyRecord:
    id: str
    account_id: str
    user_id: str
    body: str
    fingerprint: str
    status: str
    uploaded_at: datetime


@dataclass(frozen=True, slots=True)
class ServiceCredentialRecord:
    id: str
    account_id: str
    user_id: str
    service_name: str
    service_user_name: str
    status: str
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class ServerCertificateRecord:
    id: str
    account_id: str
    name: str
    path: str
    body: str
    chain: str | None
    uploaded_at: datetime
    expires_at: datetime | None
