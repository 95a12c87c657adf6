"""The console's Credential report page: generate the report (GenerateCredentialReport), view it as
a table (GetCredentialReport, the CSV read with the csv module), and download the CSV as IAM
returns it. Each is the IAM call as the signed-in principal.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from iamd.console.kit import REGISTRY, View, form_action, page
from iamd.console.policy_tools import when
from iamd.wire import AwsError

if TYPE_CHECKING:
    from iamd.console.kit import Kit

__all__ = ["area", "report_table"]

area = REGISTRY.area("reports")
area.add_nav("Credential report", "/credential-report", section="Access reports", order=20)

SHOWN: Final = (
    ("user", "User"),
    ("password_enabled", "Password"),
    ("password_last_used", "Password last used"),
    ("password_last_changed", "Password last changed"),
    ("mfa_active", "MFA"),
    ("access_key_1_active", "Key 1 active"),
    ("access_key_1_last_rotated", "Key 1 last rotated"),
    ("access_key_1_last_used_date", "Key 1 last used"),
    ("access_key_2_active", "Key 2 active"),
    ("access_key_2_last_rotated", "Key 2 last rotated"),
    ("access_key_2_last_used_date", "Key 2 last used"),
)
"""The columns the page shows (the CSV download has all of them)."""
MAX_ROWS: Final = 5000


def report_table(content: bytes) -> tuple[list[str], list[dict[str, str]]]:
    """The report's header and rows (a row: column -> value)."""
    reader = csv.DictReader(io.StringIO(content.decode("utf-8", errors="replace")))
    rows = []
    for row in reader:
        rows.append({k: v or "" for k, v in row.items() if k is not None})
        if len(rows) >= MAX_ROWS:
            break
    return list(reader.fieldnames or []), rows


def _content(answer: dict[str, Any]) -> bytes:
    content = answer.get("Content", b"")
    return content if isinstance(content, bytes) else str(content).encode()


@area.get("/credential-report")
async def report_page(kit: Kit, request: Request) -> Response:
    async def build(view: View) -> Response:
        missing = None
        answer: dict[str, Any] | None = None
        try:
            answer = await view.call("GetCredentialReport", {})
        except AwsError as error:
            if error.code == "ReportNotPresent" or "NotPresent" in error.code:
                missing = (
                    "No report yet. Generate one: it lists every user and the root user with their "
                    "credentials."
                )
            elif "Expired" in error.code:
                missing = "The last report is more than four hours old. Generate a new one."
            else:
                view.note(error, "iam:GetCredentialReport")
        rows: list[dict[str, str]] = []
        if answer is not None:
            _, rows = report_table(_content(answer))
        return view.render(
            "reports/credential_report.html",
            when=when,
            title="Credential report",
            crumbs=[("IAM", "/dashboard"), ("Credential report", "")],
            columns=SHOWN,
            rows=rows,
            generated=(answer or {}).get("GeneratedTime"),
            missing=missing,
        )

    return await page(kit, request, build)


@area.post("/credential-report/generate")
async def generate(kit: Kit, request: Request) -> Response:
    async def work(view: View, form: dict[str, str]) -> Response:
        answer = await view.call("GenerateCredentialReport", {})
        fresh = answer.get("State") == "STARTED"
        return view.redirect(
            "/credential-report",
            flash="The report was generated."
            if fresh
            else "The report is less than four hours old: it is shown.",
        )

    return await form_action(kit, request, work, back="/credential-report")


@area.get("/credential-report/download")
async def download(kit: Kit, request: Request) -> Response:
    async def build(view: View) -> Response:
        try:
            answer = await view.call("GetCredentialReport", {})
        except AwsError:
            return view.redirect(
                "/credential-report",
                flash="There is no current report to download. Generate one first.",
                kind="error",
            )
        stamp = str(answer.get("GeneratedTime", "")).replace(":", "").replace(" ", "T")[:17]
        response = Response(
            _content(answer),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="credential-report-{stamp or "now"}.csv"'},
        )
        return kit._finish(request, response, None)

    return await page(kit, request, build)
