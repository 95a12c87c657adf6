"""A snapshot from files exported with the AWS CLI (docs/review.md lists the commands):

    authorization-details.json     aws iam get-account-authorization-details
    credential-report.csv          aws iam get-credential-report (Content, base64-decoded)
    password-policy.json           aws iam get-account-password-policy (empty: no policy)
    account-summary.json           aws iam get-account-summary
    virtual-mfa-devices.json       aws iam list-virtual-mfa-devices
    mfa-devices/USER.json          aws iam list-mfa-devices --user-name USER
    last-accessed/user/NAME.json   aws iam get-service-last-accessed-details (job of the user)
    last-accessed/role/NAME.json   the same for each role
    organization.json              aws organizations describe-organization (empty: no organization)
    trails.json                    aws cloudtrail describe-trails
    trail-status/NAME.json         aws cloudtrail get-trail-status --name NAME
    trail-verify.json              iamd trail verify --json (iamd only)
    analyzers.json                 aws accessanalyzer list-analyzers
    findings/NAME.json             aws accessanalyzer list-findings-v2 --analyzer-arn ARN

Only the first two are needed for most checks; a missing file leaves its checks "not evaluated".
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from iamd.practices.snapshot import (
    Analyzer,
    AnalyzerFinding,
    MfaKind,
    Snapshot,
    TrailState,
    parse_authorization_details,
    parse_credential_report,
    service_uses,
)

__all__ = ["ExportError", "load_export", "mfa_kind"]


class ExportError(Exception):
    """A file of the export cannot be read (which, and why)."""


def mfa_kind(serial: str) -> MfaKind:
    """FIDO devices' serials are ``arn:aws:iam::A:u2f/…``, virtual ones ``arn:aws:iam::A:mfa/…``;
    a hardware TOTP token's is its printed serial (``GAHT12345678``)."""
    if ":u2f/" in serial:
        return "security-key"
    if ":mfa/" in serial:
        return "virtual"
    return "hardware"


def _json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ExportError(f"{path}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ExportError(f"{path}: not UTF-8 text") from exc
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ExportError(f"{path}: not JSON ({exc})") from exc


def _account_of(arns: list[str]) -> str | None:
    for arn in arns:
        parts = arn.split(":")
        if len(parts) >= 6 and parts[4].isdigit():
            return parts[4]
    return None


def load_export(directory: Path, as_of: datetime | None = None) -> Snapshot:
    if not directory.is_dir():
        raise ExportError(f"{directory}: not a directory")
    details_file = directory / "authorization-details.json"
    report_file = directory / "credential-report.csv"
    if not details_file.exists() and not report_file.exists():
        raise ExportError(
            f"{directory}: neither authorization-details.json nor credential-report.csv is there "
            "(see docs/review.md for the commands that write them)"
        )
    snap = Snapshot(account_id="", as_of=as_of or datetime.now(UTC), source=f"export {directory}")
    arns: list[str] = []
    if details_file.exists():
        details = _json(details_file)
        if not isinstance(details, dict):
            raise ExportError(f"{details_file}: not the output of get-account-authorization-details")
        try:
            snap.users, snap.roles, snap.groups, snap.policies = parse_authorization_details([details])
        except (KeyError, TypeError, ValueError) as exc:
            raise ExportError(f"{details_file}: an entry lacks {exc}") from exc
        snap.details_read = True
        arns += [p.arn for p in (*snap.users, *snap.roles)] + [g.arn for g in snap.groups]
    if report_file.exists():
        try:
            snap.credential_report = parse_credential_report(report_file.read_bytes())
        except (ValueError, UnicodeDecodeError) as exc:
            raise ExportError(f"{report_file}: {exc}") from exc
        arns = [row.arn for row in snap.credential_report] + arns
    snap.account_id = _account_of(arns) or "000000000000"

    password = directory / "password-policy.json"
    if password.exists():
        loaded = _json(password)
        snap.password_policy_read = True
        snap.password_policy = (loaded or {}).get("PasswordPolicy") if isinstance(loaded, dict) else None

    summary = directory / "account-summary.json"
    if summary.exists():
        loaded_summary = _json(summary)
        if isinstance(loaded_summary, dict):
            snap.account_summary = loaded_summary.get("SummaryMap")

    devices = directory / "mfa-devices"
    if devices.is_dir():
        kinds: dict[str, list[MfaKind]] = {}
        virtual = directory / "virtual-mfa-devices.json"
        for device in (_json(virtual) or {}).get("VirtualMFADevices", []) if virtual.exists() else []:
            user = device.get("User") or {}
            if str(user.get("Arn", "")).endswith(":root"):
                kinds.setdefault("<root_account>", []).append("virtual")
        for file in sorted(devices.glob("*.json")):
            for device in (_json(file) or {}).get("MFADevices", []):
                kinds.setdefault(str(device.get("UserName") or file.stem), []).append(
                    mfa_kind(str(device["SerialNumber"]))
                )
        snap.mfa_kinds = {user: tuple(k) for user, k in kinds.items()}

    accessed = directory / "last-accessed"
    if accessed.is_dir():
        by_name = {(p.kind, p.name): p.arn for p in (*snap.users, *snap.roles)}
        last: dict[str, Any] = {}
        for kind in ("user", "role"):
            for file in sorted((accessed / kind).glob("*.json")):
                arn = by_name.get((kind, file.stem))
                answer = _json(file)
                if arn and isinstance(answer, dict):
                    last[arn] = service_uses(answer)
        snap.last_accessed = last

    organization = directory / "organization.json"
    if organization.exists():
        if _json(organization):
            snap.in_organization = True
            snap.missing["organization"] = (
                "the organization's SCPs, RCPs and root access settings, which an export does not "
                "hold: run iamd review --profile P against the management account"
            )
        else:
            snap.in_organization = False
            snap.organization_read = True

    trails = directory / "trails.json"
    if trails.exists():
        listed = (_json(trails) or {}).get("trailList", [])
        logging = {}
        for trail in listed:
            status = directory / "trail-status" / f"{trail.get('Name')}.json"
            if status.exists():
                logging[str(trail.get("TrailARN"))] = bool((_json(status) or {}).get("IsLogging"))
        verify = directory / "trail-verify.json"
        snap.trail = TrailState(tuple(listed), logging, _json(verify) if verify.exists() else None)

    analyzers = directory / "analyzers.json"
    if analyzers.exists():
        listed_analyzers = [
            Analyzer(str(a["arn"]), str(a["name"]), str(a["type"]), str(a.get("status", "ACTIVE")))
            for a in (_json(analyzers) or {}).get("analyzers", [])
        ]
        snap.analyzers = tuple(listed_analyzers)
        found: list[AnalyzerFinding] = []
        for analyzer in listed_analyzers:
            file = directory / "findings" / f"{analyzer.name}.json"
            if file.exists():
                for item in (_json(file) or {}).get("findings", []):
                    found.append(_analyzer_finding(analyzer.arn, item))
        snap.analyzer_findings = tuple(found)
    return snap


def _analyzer_finding(analyzer: str, item: dict[str, Any]) -> AnalyzerFinding:
    return AnalyzerFinding(
        analyzer,
        str(item.get("id")),
        str(item.get("resource", "")),
        str(item.get("resourceType", "")),
        str(item.get("findingType", "ExternalAccess")),
        str(item.get("status", "ACTIVE")),
    )
