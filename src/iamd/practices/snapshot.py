"""An account as the review sees it: what the read-only IAM, Organizations, CloudTrail and Access
Analyzer calls answer (or the files a person exported with the AWS CLI), parsed once.

A field that is None was not read (an export without that file, a call the reader may not make):
the checks that need it report "not evaluated" and say what they need, never a pass.

Shapes follow the API answers: ``GetAccountAuthorizationDetails`` (``UserDetailList``,
``GroupDetailList``, ``RoleDetailList``, ``Policies``), the credential report's 22 CSV columns
(shared/spec/credential_report.md), ``GetServiceLastAccessedDetails``' ``ServicesLastAccessed``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import unquote

__all__ = [
    "Analyzer",
    "AnalyzerFinding",
    "CredentialRow",
    "Group",
    "ManagedPolicy",
    "MfaKind",
    "Organization",
    "Principal",
    "ServiceUse",
    "Snapshot",
    "TrailState",
    "parse_authorization_details",
    "parse_credential_report",
    "parse_time",
]

MfaKind = Literal["virtual", "security-key", "hardware"]


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 time (or a datetime) as an aware UTC datetime; None for the report's sentinels."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or value in ("", "N/A", "not_supported", "no_information"):
        return None
    text = value.replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _document(value: object) -> dict[str, Any]:
    """A policy document as a dict: the SDKs decode it, the raw API sends it URL-encoded."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        text = unquote(value) if value.startswith("%7B") else value
        try:
            loaded = json.loads(text)
        except ValueError:
            return {}
        return loaded if isinstance(loaded, dict) else {}
    return {}


@dataclass(frozen=True, slots=True)
class Principal:
    """A user or a role, with the policies on it (inline documents by name, managed ARNs)."""

    kind: Literal["user", "role"]
    name: str
    arn: str
    path: str
    created: datetime | None
    inline: Mapping[str, dict[str, Any]]
    attached: tuple[str, ...]
    boundary: str | None
    groups: tuple[str, ...] = ()
    trust: dict[str, Any] | None = None
    last_used: datetime | None = None

    @property
    def service_linked(self) -> bool:
        return self.kind == "role" and self.path.startswith("/aws-service-role/")


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    arn: str
    inline: Mapping[str, dict[str, Any]]
    attached: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ManagedPolicy:
    arn: str
    name: str
    document: dict[str, Any]
    attachments: int
    versions: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    """Every stored version's document by id (the default included)."""

    @property
    def aws_managed(self) -> bool:
        return self.arn.split(":")[4:5] == ["aws"]


@dataclass(frozen=True, slots=True)
class CredentialRow:
    """One credential report line, its columns kept as the report spells them."""

    values: Mapping[str, str]

    def __getitem__(self, column: str) -> str:
        return self.values.get(column, "N/A")

    @property
    def user(self) -> str:
        return self["user"]

    @property
    def arn(self) -> str:
        return self["arn"]

    @property
    def is_root(self) -> bool:
        return self.user == "<root_account>"

    def flag(self, column: str) -> bool:
        return self[column].lower() == "true"

    def time(self, column: str) -> datetime | None:
        return parse_time(self[column])


@dataclass(frozen=True, slots=True)
class ServiceUse:
    """A service the principal's policies allow, and when it last used it (None: never)."""

    namespace: str
    last_used: datetime | None
    actions: Mapping[str, datetime | None] | None = None
    """Action-level data (services with TrackedActionsLastAccessed): action name -> last use."""


@dataclass(frozen=True, slots=True)
class Organization:
    id: str
    arn: str
    management_account: str
    accounts: tuple[str, ...]
    features: tuple[str, ...] | None
    """ListOrganizationsFeatures' EnabledFeatures; None when it could not be read."""
    scp_enabled: bool
    rcp_enabled: bool
    scps_by_account: Mapping[str, tuple[str, ...]]
    """Member account -> the names of the SCPs on its path (root, OUs, the account)."""
    rcps: tuple[str, ...]
    """Names of every RCP attached anywhere in the organization."""


@dataclass(frozen=True, slots=True)
class TrailState:
    trails: tuple[Mapping[str, Any], ...]
    logging: Mapping[str, bool]
    """Trail ARN -> GetTrailStatus' IsLogging."""
    verification: Mapping[str, Any] | None = None
    """``iamd trail verify --json``'s answer, when supplied."""


@dataclass(frozen=True, slots=True)
class Analyzer:
    arn: str
    name: str
    type: str
    status: str


@dataclass(frozen=True, slots=True)
class AnalyzerFinding:
    analyzer: str
    id: str
    resource: str
    resource_type: str
    finding_type: str
    status: str


@dataclass
class Snapshot:
    """Everything read about one account. None: not read (see ``missing`` for why)."""

    account_id: str
    as_of: datetime
    source: str
    users: tuple[Principal, ...] = ()
    roles: tuple[Principal, ...] = ()
    groups: tuple[Group, ...] = ()
    policies: Mapping[str, ManagedPolicy] = field(default_factory=dict)
    details_read: bool = False
    credential_report: tuple[CredentialRow, ...] | None = None
    password_policy_read: bool = False
    password_policy: Mapping[str, Any] | None = None
    account_summary: Mapping[str, int] | None = None
    mfa_kinds: Mapping[str, tuple[MfaKind, ...]] | None = None
    """User name -> kinds of its assigned MFA devices (``<root_account>`` for root)."""
    last_accessed: Mapping[str, tuple[ServiceUse, ...]] | None = None
    """Principal ARN -> ServicesLastAccessed."""
    oidc_providers: tuple[str, ...] | None = None
    organization: Organization | None = None
    organization_read: bool = False
    in_organization: bool | None = None
    member_roots: Mapping[str, CredentialRow] | None = None
    """With ``--organization``: member account -> its root's credential report row."""
    trail: TrailState | None = None
    analyzers: tuple[Analyzer, ...] | None = None
    analyzer_findings: tuple[AnalyzerFinding, ...] | None = None
    missing: dict[str, str] = field(default_factory=dict)
    """What could not be read, by topic: the sentence a check shows instead of a result."""

    def root_row(self) -> CredentialRow | None:
        for row in self.credential_report or ():
            if row.is_root:
                return row
        return None

    def user_rows(self) -> list[CredentialRow]:
        return [row for row in self.credential_report or () if not row.is_root]

    @property
    def root_arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:root"

    @property
    def partition(self) -> str:
        for principal in (*self.users, *self.roles):
            return principal.arn.split(":")[1]
        return "aws"

    def group_by_name(self) -> dict[str, Group]:
        return {g.name: g for g in self.groups}


def _inline(entries: object, name_key: str = "PolicyName") -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and name_key in entry:
            out[str(entry[name_key])] = _document(entry.get("PolicyDocument"))
    return out


def _attached(entries: object) -> tuple[str, ...]:
    return tuple(
        str(e["PolicyArn"]) for e in (entries if isinstance(entries, list) else []) if isinstance(e, dict)
    )


def _boundary(entry: Mapping[str, Any]) -> str | None:
    boundary = entry.get("PermissionsBoundary")
    if isinstance(boundary, dict) and boundary.get("PermissionsBoundaryArn"):
        return str(boundary["PermissionsBoundaryArn"])
    return None


def parse_authorization_details(
    pages: Iterable[Mapping[str, Any]],
) -> tuple[tuple[Principal, ...], tuple[Principal, ...], tuple[Group, ...], dict[str, ManagedPolicy]]:
    """(users, roles, groups, managed policies by ARN) from ``GetAccountAuthorizationDetails``
    pages (the AWS CLI writes them merged into one object, which is one page here)."""
    users: list[Principal] = []
    roles: list[Principal] = []
    groups: list[Group] = []
    policies: dict[str, ManagedPolicy] = {}
    for page in pages:
        for u in page.get("UserDetailList") or ():
            users.append(
                Principal(
                    "user",
                    str(u["UserName"]),
                    str(u["Arn"]),
                    str(u.get("Path", "/")),
                    parse_time(u.get("CreateDate")),
                    _inline(u.get("UserPolicyList")),
                    _attached(u.get("AttachedManagedPolicies")),
                    _boundary(u),
                    groups=tuple(str(g) for g in u.get("GroupList") or ()),
                )
            )
        for r in page.get("RoleDetailList") or ():
            last = r.get("RoleLastUsed") or {}
            roles.append(
                Principal(
                    "role",
                    str(r["RoleName"]),
                    str(r["Arn"]),
                    str(r.get("Path", "/")),
                    parse_time(r.get("CreateDate")),
                    _inline(r.get("RolePolicyList")),
                    _attached(r.get("AttachedManagedPolicies")),
                    _boundary(r),
                    trust=_document(r.get("AssumeRolePolicyDocument")),
                    last_used=parse_time(last.get("LastUsedDate")) if isinstance(last, dict) else None,
                )
            )
        for g in page.get("GroupDetailList") or ():
            groups.append(
                Group(
                    str(g["GroupName"]),
                    str(g["Arn"]),
                    _inline(g.get("GroupPolicyList")),
                    _attached(g.get("AttachedManagedPolicies")),
                )
            )
        for p in page.get("Policies") or ():
            versions = {
                str(v.get("VersionId")): _document(v.get("Document"))
                for v in p.get("PolicyVersionList") or ()
                if isinstance(v, dict)
            }
            default = versions.get(str(p.get("DefaultVersionId")), {})
            policies[str(p["Arn"])] = ManagedPolicy(
                str(p["Arn"]), str(p["PolicyName"]), default, int(p.get("AttachmentCount", 0)), versions
            )
    return tuple(users), tuple(roles), tuple(groups), policies


def parse_credential_report(content: bytes | str) -> tuple[CredentialRow, ...]:
    """The credential report's CSV (as ``GetCredentialReport`` returns it, decoded)."""
    text = content.decode("utf-8") if isinstance(content, bytes) else content
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames or "user" not in reader.fieldnames or "arn" not in reader.fieldnames:
        raise ValueError("not a credential report: the header line lacks the user and arn columns")
    return tuple(CredentialRow({k: (v or "") for k, v in row.items() if k}) for row in reader)


def service_uses(answer: Mapping[str, Any]) -> tuple[ServiceUse, ...]:
    """``GetServiceLastAccessedDetails``' answer as ServiceUse entries."""
    out: list[ServiceUse] = []
    for entry in answer.get("ServicesLastAccessed") or ():
        actions: dict[str, datetime | None] | None = None
        tracked: Sequence[Mapping[str, Any]] | None = entry.get("TrackedActionsLastAccessed")
        if tracked is not None:
            actions = {str(a["ActionName"]): parse_time(a.get("LastAccessedTime")) for a in tracked}
        out.append(
            ServiceUse(str(entry["ServiceNamespace"]), parse_time(entry.get("LastAuthenticated")), actions)
        )
    return tuple(out)
