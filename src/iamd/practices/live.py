"""A snapshot read through the API, with read-only calls only (a SecurityAudit-style role is
enough): IAM, STS's GetCallerIdentity, Organizations, CloudTrail and Access Analyzer. Works on
iamd and on AWS alike. A call that is refused leaves its topic unread (its checks say so).

``load_organization`` walks the organization's member accounts through
``OrganizationAccountAccessRole`` (Organizations' default role in accounts it creates)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from iamd.practices.export import _analyzer_finding, mfa_kind
from iamd.practices.snapshot import (
    Analyzer,
    CredentialRow,
    MfaKind,
    Organization,
    Principal,
    ServiceUse,
    Snapshot,
    TrailState,
    parse_authorization_details,
    parse_credential_report,
    parse_time,
    service_uses,
)

__all__ = ["Progress", "load_live", "load_organization"]

Progress = Callable[[str, int, int], None]
"""(what is being read, done, total)."""

MEMBER_ROLE = "OrganizationAccountAccessRole"
_CONFIG = Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=16)
_WORKERS = 8
_REPORT_WAIT_S = 120.0
_JOB_WAIT_S = 120.0


def _quiet(_what: str, _done: int, _total: int) -> None:
    return None


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _pages(client: Any, method: str, key: str, **params: Any) -> Iterator[Any]:
    for page in client.get_paginator(method).paginate(**params):
        yield from page.get(key, [])


class _Reader:
    def __init__(
        self,
        session: Any,
        endpoint_url: str | None,
        region: str,
        progress: Progress,
        credentials: dict[str, str] | None = None,
    ) -> None:
        self.session = session
        self.endpoint_url = endpoint_url
        self.region = region
        self.progress = progress
        self.credentials = credentials or {}

    def client(self, service: str) -> Any:
        """A client of the session (its profile's endpoint settings apply), signing with the
        member account's credentials when given. A session that is a callable (service name ->
        client) makes its own clients: the console's, which call the API's handlers directly."""
        if callable(self.session) and not hasattr(self.session, "client"):
            return self.session(service)
        return self.session.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            config=_CONFIG,
            **self.credentials,
        )


def load_live(
    session: Any,
    *,
    endpoint_url: str | None = None,
    region: str = "us-east-1",
    progress: Progress = _quiet,
    last_accessed: bool = True,
    credentials: dict[str, str] | None = None,
) -> Snapshot:
    """Read one account through ``session`` (a boto3 Session, or a callable that makes clients of
    the same methods from a service name), or with ``credentials``
    (``aws_access_key_id``, ``aws_secret_access_key``, ``aws_session_token``) under its settings."""
    reader = _Reader(session, endpoint_url, region, progress, credentials)
    iam = reader.client("iam")
    account = reader.client("sts").get_caller_identity()["Account"]
    snap = Snapshot(account_id=str(account), as_of=datetime.now(UTC), source="live")

    progress("authorization details", 0, 1)
    try:
        pages = list(iam.get_paginator("get_account_authorization_details").paginate())
        snap.users, snap.roles, snap.groups, snap.policies = parse_authorization_details(pages)
        snap.details_read = True
    except ClientError as exc:
        snap.missing["details"] = f"iam:GetAccountAuthorizationDetails ({_code(exc)})"
    progress("authorization details", 1, 1)

    progress("credential report", 0, 1)
    _credential_report(iam, snap)
    progress("credential report", 1, 1)
    _password_policy(iam, snap)
    with suppress(ClientError):
        snap.account_summary = iam.get_account_summary()["SummaryMap"]
    _mfa(reader, iam, snap)
    with suppress(ClientError):
        listed = iam.list_open_id_connect_providers().get("OpenIDConnectProviderList", [])
        snap.oidc_providers = tuple(str(p["Arn"]) for p in listed)
    if last_accessed and snap.details_read:
        _last_accessed(reader, snap)
    elif not last_accessed:
        snap.missing["last_accessed"] = "last-accessed data (left out with --no-last-accessed)"
    _organization(reader, iam, snap)
    _trail(reader, snap)
    _analyzers(reader, snap)
    return snap


def _credential_report(iam: Any, snap: Snapshot) -> None:
    try:
        deadline = time.monotonic() + _REPORT_WAIT_S
        while iam.generate_credential_report()["State"] != "COMPLETE":
            if time.monotonic() > deadline:
                snap.missing["credential_report"] = "the credential report (still being generated)"
                return
            time.sleep(1)
        answer = iam.get_credential_report()
        snap.credential_report = parse_credential_report(answer["Content"])
        generated = parse_time(answer.get("GeneratedTime"))
        if generated is not None:
            snap.as_of = generated  # the report's own clock judges its dates
    except ClientError as exc:
        snap.missing["credential_report"] = f"the credential report ({_code(exc)})"


def _password_policy(iam: Any, snap: Snapshot) -> None:
    try:
        snap.password_policy = iam.get_account_password_policy()["PasswordPolicy"]
        snap.password_policy_read = True
    except ClientError as exc:
        if _code(exc) == "NoSuchEntity":
            snap.password_policy_read = True
        else:
            snap.missing["password_policy"] = f"iam:GetAccountPasswordPolicy ({_code(exc)})"


def _mfa(reader: _Reader, iam: Any, snap: Snapshot) -> None:
    kinds: dict[str, list[MfaKind]] = {}
    try:
        for device in _pages(
            iam, "list_virtual_mfa_devices", "VirtualMFADevices", AssignmentStatus="Assigned"
        ):
            user = device.get("User") or {}
            name = (
                "<root_account>" if str(user.get("Arn", "")).endswith(":root") else str(user.get("UserName"))
            )
            kinds.setdefault(name, []).append("virtual")
        with_mfa = [r.user for r in snap.user_rows() if r.flag("mfa_active")]

        def devices(name: str) -> tuple[str, list[MfaKind]]:
            listed = _pages(iam, "list_mfa_devices", "MFADevices", UserName=name)
            return name, [mfa_kind(str(d["SerialNumber"])) for d in listed]

        with ThreadPoolExecutor(_WORKERS) as pool:
            for done, (name, found) in enumerate(pool.map(devices, with_mfa), 1):
                kinds[name] = found
                reader.progress("MFA devices", done, len(with_mfa))
        snap.mfa_kinds = {name: tuple(k) for name, k in kinds.items()}
    except ClientError as exc:
        snap.missing["mfa"] = f"iam:ListMFADevices and iam:ListVirtualMFADevices ({_code(exc)})"


def _last_accessed(reader: _Reader, snap: Snapshot) -> None:
    iam = reader.client("iam")
    principals: list[Principal] = [p for p in (*snap.users, *snap.roles) if not p.service_linked]

    def job(principal: Principal) -> tuple[str, tuple[ServiceUse, ...]]:
        started = iam.generate_service_last_accessed_details(Arn=principal.arn, Granularity="ACTION_LEVEL")
        deadline = time.monotonic() + _JOB_WAIT_S
        while True:
            answer = iam.get_service_last_accessed_details(JobId=started["JobId"])
            if answer["JobStatus"] != "IN_PROGRESS" or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        uses = list(answer.get("ServicesLastAccessed", []))
        while answer.get("IsTruncated"):
            answer = iam.get_service_last_accessed_details(JobId=started["JobId"], Marker=answer["Marker"])
            uses += answer.get("ServicesLastAccessed", [])
        return principal.arn, service_uses({"ServicesLastAccessed": uses})

    found: dict[str, tuple[ServiceUse, ...]] = {}
    try:
        with ThreadPoolExecutor(_WORKERS) as pool:
            for done, (arn, uses) in enumerate(pool.map(job, principals), 1):
                found[arn] = uses
                reader.progress("last-accessed data", done, len(principals))
        snap.last_accessed = found
    except ClientError as exc:
        snap.missing["last_accessed"] = f"iam:GenerateServiceLastAccessedDetails ({_code(exc)})"


def _organization(reader: _Reader, iam: Any, snap: Snapshot) -> None:
    orgs = reader.client("organizations")
    try:
        described = orgs.describe_organization()["Organization"]
    except ClientError as exc:
        if _code(exc) == "AWSOrganizationsNotInUseException":
            snap.in_organization = False
            snap.organization_read = True
        else:
            snap.missing["organization"] = f"organizations:DescribeOrganization ({_code(exc)})"
        return
    snap.in_organization = True
    management = str(described["MasterAccountId"])
    if management != snap.account_id:
        snap.missing["organization"] = (
            f"the organization's policies, readable from its management account {management}"
        )
        return
    try:
        reader.progress("organization", 0, 1)
        accounts = [
            str(a["Id"])
            for a in _pages(orgs, "list_accounts", "Accounts")
            if a.get("Status", "ACTIVE") == "ACTIVE"
        ]
        root = orgs.list_roots()["Roots"][0]
        enabled = {t["Type"] for t in root.get("PolicyTypes", []) if t.get("Status") == "ENABLED"}
        names: dict[str, tuple[str, ...]] = {}

        def scps(target: str) -> tuple[str, ...]:
            if target not in names:
                names[target] = tuple(
                    str(p["Name"])
                    for p in _pages(
                        orgs,
                        "list_policies_for_target",
                        "Policies",
                        TargetId=target,
                        Filter="SERVICE_CONTROL_POLICY",
                    )
                )
            return names[target]

        parents: dict[str, str | None] = {}

        def parent(target: str) -> str | None:
            if target not in parents:
                listed = orgs.list_parents(ChildId=target)["Parents"]
                parents[target] = str(listed[0]["Id"]) if listed else None
            return parents[target]

        by_account: dict[str, tuple[str, ...]] = {}
        if "SERVICE_CONTROL_POLICY" in enabled:
            for account in accounts:
                path: list[str] = []
                node: str | None = account
                while node is not None:
                    path.extend(scps(node))
                    node = None if node.startswith("r-") else parent(node)
                by_account[account] = tuple(path)
        rcps: list[str] = []
        if "RESOURCE_CONTROL_POLICY" in enabled:
            for policy in _pages(orgs, "list_policies", "Policies", Filter="RESOURCE_CONTROL_POLICY"):
                if orgs.list_targets_for_policy(PolicyId=policy["Id"]).get("Targets"):
                    rcps.append(str(policy["Name"]))
        features: tuple[str, ...] | None
        try:
            features = tuple(iam.list_organizations_features().get("EnabledFeatures", []))
        except ClientError as exc:
            features = () if _code(exc) == "ServiceAccessNotEnabledException" else None
        snap.organization = Organization(
            str(described["Id"]),
            str(described["Arn"]),
            management,
            tuple(accounts),
            features,
            "SERVICE_CONTROL_POLICY" in enabled,
            "RESOURCE_CONTROL_POLICY" in enabled,
            by_account,
            tuple(rcps),
        )
        snap.organization_read = True
        reader.progress("organization", 1, 1)
    except ClientError as exc:
        snap.missing["organization"] = f"the organization's structure ({_code(exc)})"


def _trail(reader: _Reader, snap: Snapshot) -> None:
    trails = reader.client("cloudtrail")
    try:
        listed = trails.describe_trails()["trailList"]
        logging = {
            str(t["TrailARN"]): bool(trails.get_trail_status(Name=t["TrailARN"]).get("IsLogging"))
            for t in listed
        }
        snap.trail = TrailState(tuple(listed), logging)
    except (ClientError, BotoCoreError) as exc:
        said = _code(exc) if isinstance(exc, ClientError) else type(exc).__name__
        snap.missing["trail"] = f"cloudtrail:DescribeTrails and GetTrailStatus ({said})"


def _analyzers(reader: _Reader, snap: Snapshot) -> None:
    client = reader.client("accessanalyzer")
    try:
        listed = [
            Analyzer(str(a["arn"]), str(a["name"]), str(a["type"]), str(a.get("status", "ACTIVE")))
            for a in _pages(client, "list_analyzers", "analyzers")
        ]
        found = []
        for analyzer in listed:
            for item in _pages(
                client,
                "list_findings_v2",
                "findings",
                analyzerArn=analyzer.arn,
                filter={"status": {"eq": ["ACTIVE"]}},
            ):
                found.append(_analyzer_finding(analyzer.arn, item))
        snap.analyzers = tuple(listed)
        snap.analyzer_findings = tuple(found)
    except (ClientError, BotoCoreError) as exc:
        said = _code(exc) if isinstance(exc, ClientError) else type(exc).__name__
        snap.missing["analyzers"] = f"access-analyzer:ListAnalyzers and ListFindingsV2 ({said})"


def load_organization(
    session: Any,
    *,
    endpoint_url: str | None = None,
    region: str = "us-east-1",
    progress: Progress = _quiet,
    last_accessed: bool = True,
    role_name: str = MEMBER_ROLE,
) -> list[Snapshot]:
    """The management account's snapshot, then each member's, read through ``role_name``. A member
    whose role cannot be assumed is left out, named in the management snapshot's ``missing``."""
    management = load_live(
        session, endpoint_url=endpoint_url, region=region, progress=progress, last_accessed=last_accessed
    )
    org = management.organization
    if org is None:
        return [management]
    sts = session.client("sts", endpoint_url=endpoint_url, region_name=region, config=_CONFIG)
    snapshots = [management]
    roots: dict[str, CredentialRow] = {}
    refused: list[str] = []
    partition = management.partition
    for account in org.accounts:
        if account == management.account_id:
            continue
        progress(f"member account {account}", 0, 1)
        try:
            credentials = sts.assume_role(
                RoleArn=f"arn:{partition}:iam::{account}:role/{role_name}", RoleSessionName="iamd-review"
            )["Credentials"]
        except ClientError as exc:
            refused.append(f"{account} ({_code(exc)})")
            continue
        member = load_live(
            session,
            endpoint_url=endpoint_url,
            region=region,
            progress=progress,
            last_accessed=last_accessed,
            credentials={
                "aws_access_key_id": credentials["AccessKeyId"],
                "aws_secret_access_key": credentials["SecretAccessKey"],
                "aws_session_token": credentials["SessionToken"],
            },
        )
        snapshots.append(member)
        root = member.root_row()
        if root is not None:
            roots[account] = root
    management.member_roots = roots
    if refused:
        management.missing["members"] = f"{role_name} could not be assumed in {', '.join(refused)}"
    return snapshots
