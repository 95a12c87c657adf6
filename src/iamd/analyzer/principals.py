"""Checks on Principal / NotPrincipal, and the role trust policy checks."""

from __future__ import annotations

import re

from iamd.analyzer.context import Context, allows
from iamd.policy.ast import Effect, Statement

__all__ = ["check_principals"]

_SERVICE = re.compile(r"[a-z0-9][a-z0-9.-]*\.(amazonaws\.com(\.cn)?|amazon\.com|aws\.internal|api\.aws)")
_SAML = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:saml-provider/[\w+=,.@-]+")
_OIDC_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:oidc-provider/(.+)")
_DOMAIN = re.compile(r"[A-Za-z0-9.-]+\.[A-Za-z]{2,}(/.*)?")
_GITHUB = "token.actions.githubusercontent.com"
_SOURCE_KEYS = frozenset({"aws:sourcearn", "aws:sourceaccount", "aws:sourceorgid", "aws:sourceorgpaths"})
_WEB_ACTIONS = ("sts:AssumeRoleWithWebIdentity",)
# Principal keys absent from a service principal's own requests (IAM User Guide, global condition
# keys: aws:PrincipalOrgID, aws:PrincipalOrgPaths and aws:PrincipalTag are set only for IAM
# principals; shared/spec/condition_keys.md, section 1.1).
_NO_SERVICE_KEYS = ("aws:principalorgid", "aws:principalorgpaths", "aws:principaltag/")


def check_principals(ctx: Context) -> None:
    for stmt in ctx.policy.statements:
        spec = stmt.principal or stmt.not_principal
        element = "Principal" if stmt.principal is not None else "NotPrincipal"
        if stmt.not_principal is not None and stmt.effect is Effect.ALLOW:
            ctx.add(
                "ALLOW_WITH_NOT_PRINCIPAL",
                "Allow with NotPrincipal grants access to every principal not listed, anonymous users "
                'included; name the principals in Principal, or use "*" with a condition on '
                "aws:PrincipalArn.",
                (*ctx.statement_path(stmt), "NotPrincipal"),
            )
        if spec is None:
            continue
        node = ctx.locator.node((*ctx.statement_path(stmt), element))
        if node is not None and node.kind == "object" and not node.items:
            continue
        for i, value in enumerate(spec.aws):
            path = ctx.principal_path(stmt, "AWS", i)
            if value.startswith("AROA"):
                ctx.add(
                    "INVALID_ROLE_REFERENCE",
                    f"{value!r} is a role's unique ID; name the role by its ARN "
                    "(arn:aws:iam::111122223333:role/NAME).",
                    path,
                )
            elif value.startswith("AIDA"):
                ctx.add(
                    "INVALID_USER_REFERENCE",
                    f"{value!r} is a user's unique ID; name the user by its ARN "
                    "(arn:aws:iam::111122223333:user/NAME).",
                    path,
                )
        for i, value in enumerate(spec.service):
            if value != "*" and not _SERVICE.fullmatch(value):
                ctx.add(
                    "INVALID_SERVICE_PRINCIPAL_FORMAT",
                    f"{value!r} is not a service principal; write it as <service>.amazonaws.com.",
                    ctx.principal_path(stmt, "Service", i),
                )
        if stmt.principal is not None and stmt.effect is Effect.ALLOW:
            _service_principal(ctx, stmt)
        if ctx.trust and stmt.principal is not None:
            _trust(ctx, stmt)


def _service_principal(ctx: Context, stmt: Statement) -> None:
    spec = stmt.principal
    if spec is None or not spec.service or ctx.trust or ctx.identity:
        return
    keys = {c.key.lower() for c in stmt.conditions}
    if not (keys & _SOURCE_KEYS):
        ctx.add(
            "RESTRICT_ACCESS_TO_SERVICE_PRINCIPAL",
            "A service principal is granted access without aws:SourceArn, aws:SourceAccount, "
            "aws:SourceOrgID or aws:SourceOrgPaths; add one so the service acts only for your "
            "resources (confused deputy).",
            (*ctx.statement_path(stmt), "Principal", "Service"),
        )
    only_services = not (spec.wildcard or spec.aws or spec.federated or spec.canonical_user)
    for clause in stmt.conditions:
        lowered = clause.key.lower()
        if only_services and lowered.startswith(_NO_SERVICE_KEYS):
            ctx.add(
                "UNSUPPORTED_CONDITION_KEY_FOR_SERVICE_PRINCIPAL",
                f"{clause.key} is never set when a service principal calls, so this condition never "
                "matches; use aws:SourceArn, aws:SourceAccount, aws:SourceOrgID or aws:SourceOrgPaths.",
                clause.path,
            )
        elif lowered in ("aws:referer", "aws:useragent"):
            ctx.add(
                "RECOMMENDED_CONDITION_KEY_FOR_SERVICE_PRINCIPAL",
                f"To restrict what {', '.join(spec.service)} does on your behalf, use aws:SourceArn, "
                f"aws:SourceAccount, aws:SourceOrgID or aws:SourceOrgPaths instead of {clause.key}.",
                clause.path,
            )


def _trust(ctx: Context, stmt: Statement) -> None:
    spec = stmt.principal
    assert spec is not None
    keys = {c.key.lower() for c in stmt.conditions}
    for i, value in enumerate(spec.federated):
        path = ctx.principal_path(stmt, "Federated", i)
        oidc = _OIDC_ARN.fullmatch(value)
        saml = _SAML.fullmatch(value)
        if not (saml or oidc or _DOMAIN.fullmatch(value)):
            ctx.add(
                "INVALID_FEDERATED_PRINCIPAL_SYNTAX_IN_ROLE_TRUST_POLICY",
                f"{value!r} is neither a SAML provider ARN nor an identity provider domain; name the "
                "provider as arn:aws:iam::ACCOUNT:saml-provider/NAME, an OIDC provider ARN, or a domain "
                "such as cognito-identity.amazonaws.com.",
                path,
            )
            continue
        if saml and not allows(stmt, "sts:AssumeRoleWithSAML"):
            ctx.add(
                "MISMATCHED_ACTION_FOR_PRINCIPAL",
                f"A SAML provider ({value}) assumes roles with sts:AssumeRoleWithSAML; add it to Action.",
                path,
            )
        host = oidc.group(1) if oidc else (None if saml else value)
        if host is None:
            continue
        if not any(allows(stmt, a) for a in _WEB_ACTIONS):
            ctx.add(
                "MISMATCHED_ACTION_FOR_PRINCIPAL",
                f"An OIDC provider ({host}) assumes roles with sts:AssumeRoleWithWebIdentity; add it to "
                "Action.",
                path,
            )
        provider_keys = {k for k in keys if k.startswith(host.lower() + ":")}
        if host == _GITHUB:
            _github(ctx, stmt, path)
        elif not provider_keys:
            ctx.add(
                "MISSING_CONDITION_KEY_FOR_OIDC_PRINCIPAL",
                f"Anyone with a token from {host} could assume this role; add a condition on "
                f"{host}:aud or {host}:sub.",
                path,
            )
    for i, value in enumerate(spec.service):
        if value == "rolesanywhere.amazonaws.com":
            missing = [
                a
                for a in ("sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession")
                if not allows(stmt, a)
            ]
            if missing:
                ctx.add(
                    "MISSING_ACTION_FOR_ROLES_ANYWHERE_TRUST_POLICY",
                    f"IAM Roles Anywhere needs {', '.join(missing)} in this statement's Action; add "
                    f"{'them' if len(missing) > 1 else 'it'}.",
                    ctx.principal_path(stmt, "Service", i),
                )
    roles = {v.lower() for v in spec.aws if ":role/" in v}
    for i, value in enumerate(spec.aws):
        m = re.fullmatch(r"arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([^/]+)/.+", value)
        if m and f"arn:{m.group(1)}:iam::{m.group(2)}:role/{m.group(3)}".lower() in roles:
            ctx.add(
                "REDUNDANT_PRINCIPAL_IN_ROLE_TRUST_POLICY",
                f"{value!r} is a session of a role this statement already trusts; remove it.",
                ctx.principal_path(stmt, "AWS", i),
            )
    for clause in stmt.conditions:
        if clause.key.lower().endswith(":aud") and "." in clause.key.split(":")[0]:
            if clause.qualifier == "ForAnyValue":
                ctx.add(
                    "FORANYVALUE_WITH_AUDIENCE_CLAIM_TYPE",
                    f"{clause.key} holds a single audience; drop ForAnyValue: (it also matches tokens "
                    "with other audiences in some providers' multi-valued forms).",
                    clause.path,
                )
            elif clause.qualifier == "ForAllValues":
                ctx.add(
                    "CONFIRM_AUDIENCE_CLAIM_TYPE",
                    f"{clause.key} is single-valued for most providers; confirm it is multi-valued for "
                    "yours, or drop ForAllValues:.",
                    clause.path,
                )


def _github(ctx: Context, stmt: Statement, path: tuple[str | int, ...]) -> None:
    subs = [c for c in stmt.conditions if c.key.lower() == f"{_GITHUB}:sub"]
    if not subs:
        ctx.add(
            "MISSING_GITHUB_REPO_CONDITION_KEY",
            f"Any GitHub repository could assume this role; add a condition on {_GITHUB}:sub naming "
            "your repository (repo:OWNER/REPO:ref:refs/heads/main).",
            path,
        )
        return
    for clause in subs:
        if any("*" in v or "?" in v for v in clause.values):
            ctx.add(
                "SPECIFIC_GITHUB_REPO_AND_BRANCH_RECOMMENDED",
                f"{_GITHUB}:sub uses a wildcard; name the repository and branch exactly "
                "(repo:OWNER/REPO:ref:refs/heads/main).",
                clause.path,
            )
