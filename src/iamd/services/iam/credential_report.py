"""The credential report: GenerateCredentialReport and GetCredentialReport.

AWS's CSV exactly: 22 columns in AWS's order, the root user's row first (``<root_account>``), then
every IAM user by name; timestamps ISO 8601 at second precision with ``+00:00``; booleans in lower
case; the sentinels ``N/A``, ``not_supported`` and ``no_information`` where AWS puts them. One
report per account, reused for 4 hours; built with a few set-based reads, never per user.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any, Final

from iamd.services.framework import OperationContext, operation
from iamd.store.audit import CredentialCert, CredentialData, CredentialKey
from iamd.wire import AwsError, load_service_model, modeled_error

__all__ = ["COLUMNS", "REPORT_LIFETIME", "build_report"]

COLUMNS: Final = (
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "password_last_changed",
    "password_next_rotation",
    "mfa_active",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_1_last_used_region",
    "access_key_1_last_used_service",
    "access_key_2_active",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
    "access_key_2_last_used_region",
    "access_key_2_last_used_service",
    "cert_1_active",
    "cert_1_last_rotated",
    "cert_2_active",
    "cert_2_last_rotated",
)
REPORT_LIFETIME: Final = timedelta(hours=4)
NA: Final = "N/A"
NOT_SUPPORTED: Final = "not_supported"
NO_INFORMATION: Final = "no_information"
ROOT_USER: Final = "<root_account>"
NO_REPORT: Final = "No report exists. Starting a new report generation task"


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _key(key: CredentialKey) -> list[str]:
    active = "true" if key.status == "Active" else "false"
    if key.last_used_at is None:
        return [active, key.created_at, NA, NA, NA]
    return [active, key.created_at, key.last_used_at, key.last_used_region or NA, key.last_used_service or NA]


def _keys(keys: list[CredentialKey]) -> list[str]:
    """Access keys 1 and 2: the oldest two."""
    return _key(keys[0]) + (_key(keys[1]) if len(keys) > 1 else _NO_KEY)


def _cert(cert: CredentialCert) -> list[str]:
    return ["true" if cert.status == "Active" else "false", cert.uploaded_at]


def _certs(certs: list[CredentialCert]) -> list[str]:
    return _cert(certs[0]) + (_cert(certs[1]) if len(certs) > 1 else _NO_CERT)


_NO_KEY: Final = ["false", NA, NA, NA, NA]
_NO_CERT: Final = ["false", NA]
_NO_KEYS: Final = ["false", NA, NA, NA, NA] * 2
_NO_CERTS: Final = ["false", NA] * 2
_NO_PASSWORD: Final = ["false", NA, NA, NA]


def build_report(data: CredentialData, account_id: str) -> bytes:
    """The report's CSV bytes (ends with a newline)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerow(
        [
            ROOT_USER,
            f"arn:aws:iam::{account_id}:root",
            data.account_created_at,
            NOT_SUPPORTED,
            data.root_password_last_used or NO_INFORMATION,
            NOT_SUPPORTED,
            NOT_SUPPORTED,
            _bool(data.root_mfa),
            *(_keys(data.keys[None]) if data.keys.get(None) else _NO_KEYS),
            *(_certs(data.certs[None]) if data.certs.get(None) else _NO_CERTS),
        ]
    )
    prefix = f"arn:aws:iam::{account_id}:user"
    passwords, mfa_users, keys, certs = data.passwords, data.mfa_users, data.keys, data.certs
    rows = []
    for user_id, name, path, created, last_used in data.users:
        row = [name, prefix + path + name, created]
        password = passwords.get(user_id)
        if password is None:
            row += _NO_PASSWORD
        else:
            row += ["true", last_used or NO_INFORMATION, password[0], password[1] or NA]
        row.append("true" if user_id in mfa_users else "false")
        user_keys = keys.get(user_id)
        row += _keys(user_keys) if user_keys else _NO_KEYS
        user_certs = certs.get(user_id)
        row += _certs(user_certs) if user_certs else _NO_CERTS
        rows.append(row)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _iam_error(shape: str) -> AwsError:
    model = load_service_model("iam")
    documentation = str(model.shape_for(shape).documentation or "")
    # The model's sentence, without its HTML.
    text = documentation.replace("<p>", "").replace("</p>", "")
    while "<" in text and ">" in text[text.index("<") :]:
        start = text.index("<")
        text = text[:start] + text[text.index(">", start) + 1 :]
    return modeled_error(model, shape, " ".join(text.split()))


@operation("iam", "GenerateCredentialReport", heavy=True)
def generate_credential_report(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("iam:GenerateCredentialReport", "*")
    existing = ctx.uow.accounts.credential_report(ctx.account_id)
    if existing is not None and ctx.now - existing.generated_at < REPORT_LIFETIME:
        return {"State": "COMPLETE"}
    content = build_report(ctx.uow.audit.credential_data(ctx.account_id), ctx.account_id)
    ctx.uow.accounts.put_credential_report(ctx.account_id, ctx.now.replace(microsecond=0), content)
    out: dict[str, Any] = {"State": "STARTED"}
    if existing is None:
        out["Description"] = NO_REPORT
    return out


@operation("iam", "GetCredentialReport", readonly=True, heavy=True)
def get_credential_report(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("iam:GetCredentialReport", "*")
    report = ctx.uow.accounts.credential_report(ctx.account_id)
    if report is None:
        raise _iam_error("CredentialReportNotPresentException")
    if ctx.now - report.generated_at >= REPORT_LIFETIME:
        raise _iam_error("CredentialReportExpiredException")
    return {"Content": report.content, "ReportFormat": "text/csv", "GeneratedTime": report.generated_at}
