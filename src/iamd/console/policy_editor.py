"""The console's policy editor: a policy document and its type (identity, resource with its
resource type, trust, SCP, RCP) checked by Access Analyzer's ValidatePolicy as the signed-in
identity. ``static/policy_editor.js`` asks the JSON endpoint as one types (the ``X-CSRF-Token``
header, like every console JSON call); without JavaScript the Validate button posts the form and
the page lists the same findings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from iamd.analyzer.model import RESOURCE_TYPES, TRUST_POLICY
from iamd.console.identity import SessionEnded
from iamd.console.kit.core import Refused
from iamd.console.kit.pages import REGISTRY
from iamd.console.sessions import ConsoleSession
from iamd.wire import AwsError

if TYPE_CHECKING:
    from iamd.console.kit import Kit as Console

__all__ = ["PolicyEditor", "area"]

KINDS: Final = {
    "identity": ("Identity-based policy", "IDENTITY_POLICY"),
    "resource": ("Resource-based policy", "RESOURCE_POLICY"),
    "trust": ("Role trust policy", "RESOURCE_POLICY"),
    "scp": ("Service control policy (SCP)", "SERVICE_CONTROL_POLICY"),
    "rcp": ("Resource control policy (RCP)", "RESOURCE_CONTROL_POLICY"),
}
RESOURCE_CHOICES: Final = tuple(t for t in RESOURCE_TYPES if t != TRUST_POLICY)
MAX_PAGES: Final = 10
SAMPLE: Final = """{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": "s3:GetObject",
      "Resource": "arn:aws:s3:::example-bucket/*"
    }
  ]
}
"""


def _finding(raw: dict[str, Any]) -> dict[str, Any]:
    """One ValidatePolicy finding as the page shows it: where (line, and column counted from 1
    as editors do; AWS's column counts from 0), what and how to fix it."""
    out: dict[str, Any] = {
        "findingType": raw["findingType"],
        "issueCode": raw["issueCode"],
        "details": raw["findingDetails"],
        "learnMoreLink": raw.get("learnMoreLink", ""),
        "line": None,
        "column": None,
        "path": "",
    }
    locations = raw.get("locations") or []
    if locations:
        start = locations[0]["span"]["start"]
        out.update(line=start["line"], column=start["column"] + 1, offset=start["offset"])
        path = ""
        for element in locations[0]["path"]:
            ((kind, value),) = element.items()
            path += f"[{value}]" if kind == "index" else (f".{value}" if path else str(value))
        out["path"] = path
    return out


class PolicyEditor:
    def __init__(self, console: Console) -> None:
        self.console = console

    def _validate(
        self, session: ConsoleSession, request: Request, document: str, kind: str, resource_type: str
    ) -> list[dict[str, Any]]:
        """Every finding of ValidatePolicy (following nextToken) for this document and kind."""
        if kind not in KINDS:
            kind = "identity"
        params: dict[str, Any] = {"policyDocument": document, "policyType": KINDS[kind][1]}
        if kind == "trust":
            params["validatePolicyResourceType"] = TRUST_POLICY
        elif kind == "resource" and resource_type in RESOURCE_CHOICES:
            params["validatePolicyResourceType"] = resource_type
        facts = self.console._facts(request)
        found: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            answer = (
                self.console.runner.invoke(session, facts, "ValidatePolicy", params, service="accessanalyzer")
                or {}
            )
            found.extend(_finding(f) for f in answer.get("findings", []))
            if not answer.get("nextToken"):
                break
            params = {**params, "nextToken": answer["nextToken"]}
        return found

    def _render(
        self, request: Request, session: ConsoleSession, *, status: int = 200, **context: Any
    ) -> Response:
        document = context.get("document", SAMPLE)
        return self.console._render(
            request,
            session,
            "policy_editor.html",
            status=status,
            title="Policy editor",
            kinds=[(key, label) for key, (label, _) in KINDS.items()],
            resource_choices=RESOURCE_CHOICES,
            lines=max(document.count("\n") + 1, 12),
            **{"document": document, "kind": "identity", "resource_type": "", **context},
        )

    async def page(self, request: Request) -> Response:
        session = self.console._session(request)
        guarded = self.console._guard(request, session, "active")
        if guarded is not None:
            return guarded
        return self._render(request, session)

    async def validate_form(self, request: Request) -> Response:
        async def work(session: ConsoleSession, form: dict[str, str]) -> Response:
            document, kind = form.get("document", ""), form.get("kind", "identity")
            resource_type = form.get("resource_type", "")
            shown: dict[str, Any] = {"document": document, "kind": kind, "resource_type": resource_type}
            try:
                findings = await run_in_threadpool(
                    self._validate, session, request, document, kind, resource_type
                )
            except AwsError as error:
                why = await run_in_threadpool(
                    self.console.runner.reasons, session, self.console._facts(request), error
                )
                return self._render(
                    request, session, status=error.status, error=error.message, why=why, **shown
                )
            return self._render(request, session, findings=findings, validated=True, **shown)

        return await self.console._action(request, ("active",), work)

    async def validate_json(self, request: Request) -> Response:
        console = self.console
        session = console._session(request)
        if session.stage != "active":
            return console._finish(request, JSONResponse({"error": "Sign in first."}, 401), None)
        try:
            data = await console._json(request, session)
            document, kind = data.get("document"), data.get("kind", "identity")
            resource_type = data.get("resourceType") or ""
            if (
                not isinstance(document, str)
                or not isinstance(kind, str)
                or not isinstance(resource_type, str)
            ):
                raise Refused(400, "document, kind and resourceType are strings.")
            findings = await run_in_threadpool(
                self._validate, session, request, document, kind, resource_type
            )
        except Refused as refused:
            return console._refused(request, session, refused, json_answer=True)
        except SessionEnded:
            return console._finish(request, JSONResponse({"error": "Signed out."}, 401), None)
        except AwsError as error:
            return console._finish(request, JSONResponse({"error": error.message}, error.status), None)
        return console._finish(request, JSONResponse({"findings": findings}), None)


area = REGISTRY.area("policy-editor")
area.add_nav("Policy editor", "/policy-editor", section="Access management", order=45)


@area.get("/policy-editor")
async def editor_page(kit: Console, request: Request) -> Response:
    return await PolicyEditor(kit).page(request)


@area.post("/policy-editor")
async def validate_form(kit: Console, request: Request) -> Response:
    return await PolicyEditor(kit).validate_form(request)


@area.post("/policy-editor/validate")
async def validate_json(kit: Console, request: Request) -> Response:
    return await PolicyEditor(kit).validate_json(request)
