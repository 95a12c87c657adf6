"""The console's IAM Access Analyzer pages: the account's analyzers (with an offer to create the
external and unused access analyzers it lacks), their findings by status, archive and unarchive
after a confirmation, and for an unused permission the recommended narrower policy (or the policy
to detach); the policy editor is :mod:`iamd.console.policy_editor`.

Every call is the Access Analyzer operation itself, run as the signed-in identity through the
console's runner: authorized by the same policies as over the API, and on the trail.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from iamd.console.identity import SessionEnded
from iamd.console.kit.pages import REGISTRY
from iamd.console.sessions import ConsoleSession
from iamd.services.accessanalyzer.findings import details_v2
from iamd.services.framework import OperationContext, handler_for
from iamd.wire import AwsError

if TYPE_CHECKING:
    from iamd.console.kit import Kit as Console

__all__ = ["AnalyzerPages", "area"]

SERVICE: Final = "accessanalyzer"
EXTERNAL: Final = ("ACCOUNT", "ORGANIZATION")
STATUSES: Final = ("ACTIVE", "ARCHIVED", "RESOLVED")
PAGE: Final = 50
OFFERS: Final = {
    "ACCOUNT": ("console-external-access", "External access analyzer"),
    "ACCOUNT_UNUSED_ACCESS": ("console-unused-access", "Unused access analyzer"),
}
# What to do about an unused role, password or key: delete (or deactivate) it; AWS generates
# recommendations for unused permissions only (access-analyzer-findings-remediate).
DELETE_ADVICE: Final = {
    "UnusedIAMRole": "Delete the role if nothing needs it any more (iam delete-role).",
    "UnusedIAMUserPassword": "Delete the user's console password (iam delete-login-profile).",
    "UnusedIAMUserAccessKey": "Deactivate the access key, then delete it (iam update-access-key, "
    "iam delete-access-key).",
}
MESSAGES: Final = {
    "archived": "The finding was archived.",
    "unarchived": "The finding is active again.",
    "created": "The analyzer was created.",
}


def _last_used(details: list[dict[str, Any]]) -> Any:
    """The latest ``lastAccessed`` of an unused access finding's details (None: not used in the
    tracking period)."""
    times = [
        inner["lastAccessed"]
        for detail in details
        for inner in detail.values()
        if isinstance(inner, dict) and inner.get("lastAccessed") is not None
    ]
    return max(times, default=None)


class AnalyzerPages:
    def __init__(self, console: Console) -> None:
        self.console = console

    # -- calls ------------------------------------------------------------------------------------

    async def _call(
        self, session: ConsoleSession, request: Request, operation: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        facts = self.console._facts(request)
        answer = await run_in_threadpool(
            lambda: self.console.runner.invoke(session, facts, operation, params, service=SERVICE)
        )
        return answer or {}

    async def _why(self, session: ConsoleSession, request: Request, error: AwsError) -> list[str]:
        return await run_in_threadpool(
            self.console.runner.reasons, session, self.console._facts(request), error
        )

    async def _analyzers(self, session: ConsoleSession, request: Request) -> list[dict[str, Any]]:
        listed = await self._call(session, request, "ListAnalyzers", {})
        return sorted(listed.get("analyzers", []), key=lambda a: a["name"])

    def _unused_findings(
        self, session: ConsoleSession, request: Request, params: dict[str, Any]
    ) -> dict[str, Any]:
        """ListFindingsV2 and, in the same transaction, each listed finding's details (authorized
        as access-analyzer:GetFinding on the analyzer), for the "last used" column: one
        synchronization of the analyzer instead of one per finding."""
        registration = handler_for(SERVICE, "ListFindingsV2")
        assert registration is not None

        def body(ctx: OperationContext) -> dict[str, Any]:
            listed: dict[str, Any] = registration.handler(ctx, params) or {}
            if listed["findings"]:
                ctx.authorize("access-analyzer:GetFinding", params["analyzerArn"])
            for finding in listed["findings"]:
                record = ctx.uow.access_analyzer.finding(params["analyzerArn"], finding["id"])
                details = details_v2(record) if record is not None else []
                finding["details"] = details
                finding["lastUsed"] = _last_used(details)
            return listed

        facts = self.console._facts(request)
        result: dict[str, Any] = self.console.runner.run(
            session, facts, "ListFindingsV2", body, params=params, service=SERVICE
        )
        return result

    # -- the findings page ------------------------------------------------------------------------

    async def findings_page(self, request: Request) -> Response:
        console = self.console
        session = console._session(request)
        guarded = console._guard(request, session, "active")
        if guarded is not None:
            return guarded
        query = request.query_params
        status = query.get("status", "ACTIVE")
        if status not in (*STATUSES, "ALL"):
            status = "ACTIVE"
        context: dict[str, Any] = {
            "shown": status,
            "statuses": STATUSES,
            "analyzers": [],
            "chosen": None,
            "findings": [],
            "offers": [],
            "message": MESSAGES.get(query.get("msg", "")),
        }
        try:
            analyzers = await self._analyzers(session, request)
            context["analyzers"] = analyzers
            present = {a["type"] for a in analyzers}
            context["offers"] = [(kind, *OFFERS[kind]) for kind in OFFERS if kind not in present]
            wanted = query.get("analyzer", "")
            chosen = next((a for a in analyzers if a["name"] == wanted), analyzers[0] if analyzers else None)
            context["chosen"] = chosen
            if chosen is not None:
                params: dict[str, Any] = {"analyzerArn": chosen["arn"], "maxResults": PAGE}
                if status != "ALL":
                    params["filter"] = {"status": {"eq": [status]}}
                if query.get("next"):
                    params["nextToken"] = query["next"][:2048]
                if chosen["type"] in EXTERNAL:
                    listed = await self._call(session, request, "ListFindings", params)
                else:
                    listed = await run_in_threadpool(self._unused_findings, session, request, params)
                context["findings"] = listed.get("findings", [])
                if listed.get("nextToken"):
                    context["next"] = urlencode(
                        {"analyzer": chosen["name"], "status": status, "next": listed["nextToken"]}
                    )
        except SessionEnded:
            return console._signed_out(request, session)
        except AwsError as error:
            context.update(error=error.message, why=await self._why(session, request, error))
            return console._render(
                request,
                session,
                "analyzer_findings.html",
                status=error.status,
                title="Access Analyzer",
                **context,
            )
        return console._render(request, session, "analyzer_findings.html", title="Access Analyzer", **context)

    async def create_analyzer(self, request: Request) -> Response:
        async def work(session: ConsoleSession, form: dict[str, str]) -> Response:
            kind = form.get("type", "")
            if kind not in OFFERS:
                return self._back(request, session, error="Choose an analyzer type.")
            params: dict[str, Any] = {"analyzerName": OFFERS[kind][0], "type": kind}
            if kind == "ACCOUNT_UNUSED_ACCESS":
                days = form.get("days", "90").strip()
                if not days.isdigit() or not 1 <= int(days) <= 365:
                    return self._back(request, session, error="The tracking period is 1 to 365 days.")
                params["configuration"] = {"unusedAccess": {"unusedAccessAge": int(days)}}
            try:
                await self._call(session, request, "CreateAnalyzer", params)
            except AwsError as error:
                return await self._failed(request, session, error)
            target = urlencode({"analyzer": params["analyzerName"], "msg": "created"})
            return self.console._redirect(request, session, f"/access-analyzer?{target}")

        return await self.console._action(request, ("active",), work)

    def _back(self, request: Request, session: ConsoleSession, *, error: str) -> Response:
        return self.console._render(
            request, session, "message.html", status=400, title="Access Analyzer", error=error
        )

    async def _failed(self, request: Request, session: ConsoleSession, error: AwsError) -> Response:
        why = await self._why(session, request, error)
        return self.console._render(
            request,
            session,
            "message.html",
            status=error.status,
            title="Access Analyzer",
            error=error.message,
            why=why,
        )

    # -- one finding ------------------------------------------------------------------------------

    async def _analyzer(self, session: ConsoleSession, request: Request, name: str) -> dict[str, Any]:
        answer = await self._call(session, request, "GetAnalyzer", {"analyzerName": name})
        analyzer: dict[str, Any] = answer["analyzer"]
        return analyzer

    async def _finding_context(
        self, session: ConsoleSession, request: Request, name: str, finding_id: str
    ) -> dict[str, Any]:
        analyzer = await self._analyzer(session, request, name)
        finding = await self._call(
            session, request, "GetFindingV2", {"analyzerArn": analyzer["arn"], "id": finding_id}
        )
        details = finding.get("findingDetails", [])
        return {
            "analyzer": analyzer,
            "finding": finding,
            "details": details,
            "last_used": _last_used(details),
            "advice": DELETE_ADVICE.get(finding.get("findingType", "")),
        }

    async def _recommendation(
        self, session: ConsoleSession, request: Request, analyzer_arn: str, finding_id: str
    ) -> list[dict[str, Any]] | None:
        """The finding's recommended steps, each with its policy pretty-printed; None when none
        was generated yet."""
        try:
            got = await self._call(
                session, request, "GetFindingRecommendation", {"analyzerArn": analyzer_arn, "id": finding_id}
            )
        except AwsError as error:
            if error.code == "ResourceNotFoundException":
                return None
            raise
        steps = []
        for step in got.get("recommendedSteps", []):
            inner = dict(step.get("unusedPermissionsRecommendedStep") or {})
            if inner.get("recommendedPolicy"):
                try:
                    inner["pretty"] = json.dumps(json.loads(inner["recommendedPolicy"]), indent=2)
                except ValueError:
                    inner["pretty"] = inner["recommendedPolicy"]
            steps.append(inner)
        return steps

    async def finding_page(self, request: Request) -> Response:
        console = self.console
        session = console._session(request)
        guarded = console._guard(request, session, "active")
        if guarded is not None:
            return guarded
        name = request.query_params.get("analyzer", "")[:255]
        finding_id = request.query_params.get("id", "")[:64]
        return await self._show_finding(request, session, name, finding_id)

    async def _show_finding(
        self,
        request: Request,
        session: ConsoleSession,
        name: str,
        finding_id: str,
        *,
        confirm: str | None = None,
        generate: bool = False,
    ) -> Response:
        console = self.console
        try:
            context = await self._finding_context(session, request, name, finding_id)
            arn = context["analyzer"]["arn"]
            steps = None
            if context["finding"].get("findingType") == "UnusedPermission":
                if generate:
                    await self._call(
                        session,
                        request,
                        "GenerateFindingRecommendation",
                        {"analyzerArn": arn, "id": finding_id},
                    )
                steps = await self._recommendation(session, request, arn, finding_id)
        except SessionEnded:
            return console._signed_out(request, session)
        except AwsError as error:
            return await self._failed(request, session, error)
        return console._render(
            request,
            session,
            "analyzer_finding.html",
            title="Access Analyzer finding",
            confirm=confirm,
            steps=steps,
            **context,
        )

    async def set_status(self, request: Request) -> Response:
        async def work(session: ConsoleSession, form: dict[str, str]) -> Response:
            name, finding_id, status = form.get("analyzer", ""), form.get("id", ""), form.get("status", "")
            if status not in ("ACTIVE", "ARCHIVED"):
                return self._back(request, session, error="A finding is archived or made active again.")
            if form.get("confirmed") != "yes":
                return await self._show_finding(request, session, name, finding_id, confirm=status)
            try:
                analyzer = await self._analyzer(session, request, name)
                await self._call(
                    session,
                    request,
                    "UpdateFindings",
                    {"analyzerArn": analyzer["arn"], "ids": [finding_id], "status": status},
                )
            except AwsError as error:
                return await self._failed(request, session, error)
            msg = "archived" if status == "ARCHIVED" else "unarchived"
            target = urlencode({"analyzer": name, "status": form.get("back", "ACTIVE"), "msg": msg})
            return self.console._redirect(request, session, f"/access-analyzer?{target}")

        return await self.console._action(request, ("active",), work)

    async def recommend(self, request: Request) -> Response:
        async def work(session: ConsoleSession, form: dict[str, str]) -> Response:
            return await self._show_finding(
                request, session, form.get("analyzer", ""), form.get("id", ""), generate=True
            )

        return await self.console._action(request, ("active",), work)


area = REGISTRY.area("access-analyzer")
area.add_nav("Access Analyzer", "/access-analyzer", section="Access reports", order=20)


@area.get("/access-analyzer")
async def findings_page(kit: Console, request: Request) -> Response:
    return await AnalyzerPages(kit).findings_page(request)


@area.post("/access-analyzer/analyzers")
async def create_analyzer(kit: Console, request: Request) -> Response:
    return await AnalyzerPages(kit).create_analyzer(request)


@area.get("/access-analyzer/finding")
async def finding_page(kit: Console, request: Request) -> Response:
    return await AnalyzerPages(kit).finding_page(request)


@area.post("/access-analyzer/finding/status")
async def set_status(kit: Console, request: Request) -> Response:
    return await AnalyzerPages(kit).set_status(request)


@area.post("/access-analyzer/finding/recommendation")
async def recommend(kit: Console, request: Request) -> Response:
    return await AnalyzerPages(kit).recommend(request)
