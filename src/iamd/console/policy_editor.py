"""The console's policy editor: a policy document and its type (identity, resource with its
resource type, trust, SCP, RCP) checked by Access Analyzer's ValidatePolicy as the signed-in
identity. ``static/policy_editor.js`` asks the JSON endpoint as one types (the ``X-CSRF-Token``
header, like every console JSON call); without JavaScript the Validate button posts the form and
the page lists the same findings.

Around the JSON: a visual statement builder (``static/policy_builder.js``, fed by the catalog
endpoints from the Service Authorization Reference iamd ships), the policy summary (what the
policy allows per service and access level), the policy simulator (SimulateCustomPolicy, or
SimulatePrincipalPolicy with a user or role), and CreatePolicy / CreatePolicyVersion. Each of
those is an IAM call of the signed-in identity; the catalog is reference data and reads no
account.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, unquote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from iamd.analyzer.model import RESOURCE_TYPES, TRUST_POLICY
from iamd.console.identity import SessionEnded
from iamd.console.kit.core import Refused
from iamd.console.kit.pages import REGISTRY
from iamd.console.kit.problems import explain
from iamd.console.policy_tools import (
    catalog_service,
    catalog_services,
    parse_simulation,
    simulation_call,
    simulation_rows,
    summary_of,
    valid_prefix,
)
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


MAX_DOCUMENT: Final = 20_000
"""The editor takes no longer document (AWS's largest policy, an SCP or a role's inline policies,
is far shorter); the request body is bounded anyway."""
CATALOG_CACHE: Final = "private, max-age=3600"
CREATE_HINTS: Final = {
    "EntityAlreadyExists": "Choose another name, or open that policy and save a new version of it.",
    "LimitExceeded": "Delete a version you no longer need on the policy's page, then save again.",
    "MalformedPolicyDocument": "Fix the policy (the findings say where) and try again.",
}


def _tags(text: str) -> tuple[list[dict[str, str]], str]:
    """Tags typed ``key = value`` one per line (at most 50, IAM's limit), or what to fix."""
    tags: list[dict[str, str]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            return [], f"Write each tag as “key = value” on its own line (not “{line.strip()[:60]}”)."
        tags.append({"Key": key.strip(), "Value": value.strip()})
    if len(tags) > 50:
        return [], "A policy has at most 50 tags."
    return tags, ""


def _simulation_fields(form: dict[str, str]) -> dict[str, str]:
    return {
        "principal": form.get("sim_principal", "")[:600],
        "actions": form.get("sim_actions", "")[:4000],
        "resources": form.get("sim_resources", "")[:8000],
        "context": form.get("sim_context", "")[:8000],
    }


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

    def _target(self, session: ConsoleSession, request: Request, arn: str, version: str) -> dict[str, Any]:
        """The managed policy a version is being written for, and that version's document."""
        facts = self.console._facts(request)
        runner = self.console.runner
        policy = (runner.invoke(session, facts, "GetPolicy", {"PolicyArn": arn}) or {})["Policy"]
        version = version or policy["DefaultVersionId"]
        got = (
            runner.invoke(session, facts, "GetPolicyVersion", {"PolicyArn": arn, "VersionId": version}) or {}
        )
        return {
            "arn": arn,
            "name": policy["PolicyName"],
            "version": version,
            "document": unquote(got["PolicyVersion"]["Document"]),
        }

    async def _render(
        self, request: Request, session: ConsoleSession, *, status: int = 200, **context: Any
    ) -> Response:
        document = context.get("document", SAMPLE)
        kind = context.get("kind", "identity")
        return self.console._render(
            request,
            session,
            "policy_editor.html",
            status=status,
            title="Policy editor",
            crumbs=[("IAM", "/dashboard"), ("Policies", "/policies"), ("Policy editor", "")],
            kinds=[(key, label) for key, (label, _) in KINDS.items()],
            resource_choices=RESOURCE_CHOICES,
            lines=max(document.count("\n") + 1, 12),
            max_document=MAX_DOCUMENT,
            account_id=session.account_id or "123456789012",
            summary=await run_in_threadpool(summary_of, document, kind),
            **{
                "document": document,
                "kind": "identity",
                "resource_type": "",
                "target": None,
                "sim": _simulation_fields({}),
                "sim_rows": None,
                "create": {"name": "", "description": "", "path": ""},
                **context,
            },
        )

    async def page(self, request: Request) -> Response:
        session = self.console._session(request)
        guarded = self.console._guard(request, session, "active")
        if guarded is not None:
            return guarded
        arn = request.query_params.get("arn", "")[:2048]
        copy = request.query_params.get("copy", "")[:2048]
        if not arn and not copy:
            return await self._render(request, session)
        version = request.query_params.get("version", "")[:32]
        try:
            target = await run_in_threadpool(self._target, session, request, arn or copy, version)
        except SessionEnded:
            return self.console._signed_out(request, session)
        except AwsError as error:
            return await self._render(
                request,
                session,
                status=error.status,
                error=f"{error.message} Open the policy from the Policies list to edit it.",
            )
        if copy and not arn:  # a new policy that starts from this one's document
            return await self._render(
                request, session, document=target["document"], message=f"Copied from {target['name']}."
            )
        return await self._render(request, session, target=target, document=target["document"])

    async def _target_from(self, session: ConsoleSession, request: Request, form: dict[str, str]) -> Any:
        arn = form.get("arn", "")[:2048]
        if not arn:
            return None
        target = await run_in_threadpool(self._target, session, request, arn, "")
        return target

    def _shown(self, form: dict[str, str]) -> dict[str, Any]:
        return {
            "document": form.get("document", "")[:MAX_DOCUMENT],
            "kind": form.get("kind", "identity"),
            "resource_type": form.get("resource_type", ""),
            "sim": _simulation_fields(form),
            "create": {
                "name": form.get("policy_name", "")[:128],
                "description": form.get("policy_description", "")[:1000],
                "path": form.get("policy_path", "")[:512],
                "tags": form.get("policy_tags", "")[:8000],
            },
        }

    async def _failed(
        self,
        request: Request,
        session: ConsoleSession,
        error: AwsError,
        shown: dict[str, Any],
        hint: str = "",
    ) -> Response:
        why = await run_in_threadpool(
            self.console.runner.reasons, session, self.console._facts(request), error
        )
        # What to do next, then AWS's sentence (it names the field or the value).
        message = f"{hint} ({error.message})" if hint else explain(error, why).text
        return await self._render(request, session, status=error.status, error=message, why=why, **shown)

    async def validate_form(self, request: Request) -> Response:
        async def work(session: ConsoleSession, form: dict[str, str]) -> Response:
            shown = self._shown(form)
            shown["target"] = await self._target_from(session, request, form)
            try:
                findings = await run_in_threadpool(
                    self._validate, session, request, shown["document"], shown["kind"], shown["resource_type"]
                )
            except AwsError as error:
                return await self._failed(request, session, error, shown)
            return await self._render(request, session, findings=findings, validated=True, **shown)

        return await self.console._action(request, ("active",), work)

    async def simulate_form(self, request: Request) -> Response:
        async def work(session: ConsoleSession, form: dict[str, str]) -> Response:
            shown = self._shown(form)
            shown["target"] = await self._target_from(session, request, form)
            sim = shown["sim"]
            given = parse_simulation(sim["principal"], sim["actions"], sim["resources"], sim["context"])
            if shown["kind"] != "identity":
                given.problems.insert(
                    0,
                    "The simulator tests identity-based policies: choose “Identity-based policy” as the "
                    "policy type. (A bucket's or a role's trust policy is tested with the principal's "
                    "policies: aws iam simulate-principal-policy --resource-policy.)",
                )
            if given.problems:
                return await self._render(request, session, status=400, sim_problems=given.problems, **shown)
            operation, params = simulation_call(shown["document"], given)
            try:
                answer = await run_in_threadpool(
                    self.console.runner.invoke, session, self.console._facts(request), operation, params
                )
            except AwsError as error:
                hint = (
                    "Check the principal's ARN (the user or role must exist in this account)."
                    if error.code == "NoSuchEntity"
                    else "Fix the policy (the findings say where) and simulate again."
                    if error.code == "MalformedPolicyDocument"
                    else ""
                )
                return await self._failed(request, session, error, shown, hint)
            return await self._render(request, session, sim_rows=simulation_rows(answer), **shown)

        return await self.console._action(request, ("active",), work)

    async def create_form(self, request: Request) -> Response:
        async def work(session: ConsoleSession, form: dict[str, str]) -> Response:
            shown = self._shown(form)
            target = shown["target"] = await self._target_from(session, request, form)
            facts = self.console._facts(request)
            invoke = self.console.runner.invoke
            try:
                if target is not None:
                    params: dict[str, Any] = {
                        "PolicyArn": target["arn"],
                        "PolicyDocument": shown["document"],
                        "SetAsDefault": form.get("set_default") == "1",
                    }
                    answer = await run_in_threadpool(invoke, session, facts, "CreatePolicyVersion", params)
                    version = (answer or {})["PolicyVersion"]["VersionId"]
                    return self.console._redirect(
                        request,
                        session,
                        f"/policies/view?arn={quote(target['arn'], safe='')}&created={quote(version)}",
                    )
                if shown["kind"] != "identity":
                    return await self._render(
                        request,
                        session,
                        status=400,
                        error="Only an identity-based policy can be a managed policy: choose "
                        "“Identity-based policy” as the policy type, or attach this policy where it belongs "
                        "(a bucket, a role's trust, your organization).",
                        **shown,
                    )
                create = shown["create"]
                params = {"PolicyName": create["name"].strip(), "PolicyDocument": shown["document"]}
                if create["description"].strip():
                    params["Description"] = create["description"].strip()
                if create["path"].strip():
                    params["Path"] = create["path"].strip()
                tags, problem = _tags(create["tags"])
                if problem:
                    return await self._render(request, session, status=400, error=problem, **shown)
                if tags:
                    params["Tags"] = tags
                answer = await run_in_threadpool(invoke, session, facts, "CreatePolicy", params)
            except AwsError as error:
                hint = CREATE_HINTS.get(error.code, "")
                return await self._failed(request, session, error, shown, hint)
            arn = (answer or {})["Policy"]["Arn"]
            return self.console._redirect(
                request, session, f"/policies/view?arn={quote(arn, safe='')}&created=1"
            )

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
            if len(document) > MAX_DOCUMENT:
                raise Refused(413, f"The policy is longer than {MAX_DOCUMENT} characters.")
            findings = await run_in_threadpool(
                self._validate, session, request, document, kind, resource_type
            )
            summary_html = await run_in_threadpool(self._summary_html, document, kind)
        except Refused as refused:
            return console._refused(request, session, refused, json_answer=True)
        except SessionEnded:
            return console._finish(request, JSONResponse({"error": "Signed out."}, 401), None)
        except AwsError as error:
            return console._finish(request, JSONResponse({"error": error.message}, error.status), None)
        return console._finish(
            request, JSONResponse({"findings": findings, "summaryHtml": summary_html}), None
        )

    def _summary_html(self, document: str, kind: str) -> str:
        """The summary table as the page shows it (the same template), for the script to put in
        place: summarizing and rendering are CPU work, so this runs off the event loop."""
        template = self.console.templates.get_template("policy_summary.html")
        return template.render(summary=summary_of(document, kind))

    async def catalog(self, request: Request) -> Response:
        """The Service Authorization Reference as the visual builder reads it: every service, or
        one service's actions, resource types and condition keys. Signed-in sessions only."""
        console = self.console
        session = console._session(request)
        if session.stage != "active":
            return console._finish(request, JSONResponse({"error": "Sign in first."}, 401), None)
        prefix = request.path_params.get("service")
        if prefix is None:
            body = catalog_services()
        elif not valid_prefix(prefix):
            return console._finish(
                request, JSONResponse({"error": f"No service has the prefix {prefix[:64]!r}."}, 404), None
            )
        else:
            found = await run_in_threadpool(catalog_service, prefix.lower())
            assert found is not None
            body = found
        response = Response(body, media_type="application/json", headers={"Cache-Control": CATALOG_CACHE})
        return console._finish(request, response, None)


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


@area.post("/policy-editor/simulate")
async def simulate_form(kit: Console, request: Request) -> Response:
    return await PolicyEditor(kit).simulate_form(request)


@area.post("/policy-editor/create")
async def create_form(kit: Console, request: Request) -> Response:
    return await PolicyEditor(kit).create_form(request)


@area.get("/policy-editor/catalog")
async def catalog_services_json(kit: Console, request: Request) -> Response:
    return await PolicyEditor(kit).catalog(request)


@area.get("/policy-editor/catalog/{service}")
async def catalog_service_json(kit: Console, request: Request) -> Response:
    return await PolicyEditor(kit).catalog(request)
