"""Checks of policies and delegation: least privilege (groups, ``*:*``, ``service:*``, Access
Analyzer's validation, unused permissions, broad AWS managed policies with a generated narrower
one), trust policies (external ID, open principals, OIDC subjects), privilege escalation proven
with the evaluator, and boundaries on delegated administration."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import timedelta
from functools import cache
from typing import Any, Final

from iamd.analyzer import TRUST_POLICY, PolicyType, Sar, validate_policy
from iamd.analyzer.generation import Use, generate_policies
from iamd.catalog import service_reference
from iamd.policy import PolicyKind
from iamd.practices.analysis import Analysis
from iamd.practices.model import Finding, Severity, Step
from iamd.practices.registry import check, finding
from iamd.practices.snapshot import Principal

__all__: list[str] = []

UNUSED_WINDOW_DAYS: Final = 90
_SERVICE_WILDCARD: Final = re.compile(r"^[a-z0-9-]+:\*$", re.IGNORECASE)


def _listed(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    raw = document.get("Statement")
    if isinstance(raw, dict):
        return [raw]
    return [s for s in raw if isinstance(s, dict)] if isinstance(raw, list) else []


def _policy_sources(an: Analysis) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(resource ARN, label, document) of every customer managed policy and inline policy."""
    snap = an.snap
    for policy in snap.policies.values():
        if not policy.aws_managed:
            yield policy.arn, f"customer managed policy {policy.name}", policy.document
    for principal in (*snap.users, *snap.roles):
        for name, document in principal.inline.items():
            yield principal.arn, f"inline policy {name} of {principal.kind} {principal.name}", document
    for group in snap.groups:
        for name, document in group.inline.items():
            yield group.arn, f"inline policy {name} of group {group.name}", document


def _grants_everything(statement: Mapping[str, Any]) -> bool:
    if statement.get("Effect") != "Allow" or "NotResource" in statement:
        return False
    if "*" not in _listed(statement.get("Resource")):
        return False
    if "NotAction" in statement:
        return True  # Allow NotAction on "*": everything but a few actions
    return any(a in ("*", "*:*") for a in _listed(statement.get("Action")))


# -- groups and least privilege -------------------------------------------------------------------


@check(
    "user_direct_policies",
    "Users get permissions through groups, not policies of their own",
    "Groups and least privilege",
    "low",
    "Put the user in a group that has the policy, then detach or delete the user's own policies.",
    ("details",),
    cis="2.14",
)
def user_direct_policies(an: Analysis) -> list[Finding]:
    out = []
    for user in an.snap.users:
        names = [f"inline {n}" for n in user.inline] + [a.rsplit("/", 1)[-1] for a in user.attached]
        if names:
            out.append(finding("user_direct_policies", user.arn, f"{user.name} has {', '.join(names)}"))
    return out


@check(
    "full_admin_policy",
    "No customer managed or inline policy grants *:*",
    "Groups and least privilege",
    "critical",
    "Replace the '*:*' statement with the actions and resources the holders need (see "
    "managed_policy_broad and unused_permissions for what they use).",
    ("details",),
    cis="2.15",
)
def full_admin_policy(an: Analysis) -> list[Finding]:
    out = []
    for resource, label, document in _policy_sources(an):
        found = [
            s.get("Sid") or f"Statement[{i}]"
            for i, s in enumerate(_statements(document))
            if _grants_everything(s)
        ]
        if found:
            out.append(finding("full_admin_policy", resource, f"{label}: {', '.join(found)} allows * on *"))
    return out


@check(
    "service_wildcard_policy",
    "No customer managed or inline policy grants service:* on every resource",
    "Groups and least privilege",
    "high",
    "Name the actions the holders need (and the resources) instead of 'service:*' on '*'.",
    ("details",),
)
def service_wildcard_policy(an: Analysis) -> list[Finding]:
    out = []
    for resource, label, document in _policy_sources(an):
        hits: list[str] = []
        for statement in _statements(document):
            if statement.get("Effect") != "Allow" or "NotAction" in statement or "NotResource" in statement:
                continue
            if "*" not in _listed(statement.get("Resource")):
                continue
            hits.extend(a for a in _listed(statement.get("Action")) if _SERVICE_WILDCARD.match(a))
        if hits:
            out.append(
                finding(
                    "service_wildcard_policy", resource, f"{label} allows {', '.join(sorted(set(hits)))} on *"
                )
            )
    return out


@cache
def _sar() -> Sar:
    return service_reference()


@cache
def _validated(text: str, trust: bool) -> tuple[tuple[str, str, str], ...]:
    if trust:
        found = validate_policy(text, PolicyType.RESOURCE_POLICY, _sar(), TRUST_POLICY, PolicyKind.TRUST)
    else:
        found = validate_policy(text, PolicyType.IDENTITY_POLICY, _sar())
    return tuple(
        (f.finding_type, f.code, f.details) for f in found if f.finding_type in ("ERROR", "SECURITY_WARNING")
    )


@check(
    "policy_validation",
    "Attached policies have no Access Analyzer errors or security warnings",
    "Groups and least privilege",
    "high",
    "Correct the policy as the finding says (IAM Access Analyzer policy validation).",
    ("details",),
)
def policy_validation(an: Analysis) -> list[Finding]:
    out = []
    sources = [
        (r, label, d, False)
        for r, label, d in _policy_sources(an)
        if not (r in an.snap.policies and an.snap.policies[r].attachments == 0)
    ]
    sources += [
        (role.arn, f"trust policy of role {role.name}", role.trust or {}, True) for role in an.snap.roles
    ]
    for resource, label, document, trust in sources:
        if not document:
            continue
        for finding_type, code, details in _validated(json.dumps(document, indent=2), trust):
            severity: Severity = "high" if finding_type == "SECURITY_WARNING" else "medium"
            out.append(
                finding(
                    "policy_validation",
                    resource,
                    f"{label}: {finding_type} {code}: {details}",
                    severity=severity,
                )
            )
    return out


def _granted_services(an: Analysis, arn: str) -> set[str] | None:
    """Service prefixes an AWS managed policy allows (None: any service)."""
    policy = an.snap.policies.get(arn)
    if policy is None or not policy.document:
        return None
    out: set[str] = set()
    for statement in _statements(policy.document):
        if statement.get("Effect") != "Allow":
            continue
        if "NotAction" in statement:
            return None
        for action in _listed(statement.get("Action")):
            service = action.split(":", 1)[0].lower()
            if service == "*":
                return None
            out.add(service)
    return out


def _unused(an: Analysis, principal: Principal) -> tuple[list[str], list[str]] | None:
    """(services unused in the window, services used) of a principal with last-accessed data."""
    uses = (an.snap.last_accessed or {}).get(principal.arn)
    if uses is None:
        return None
    cutoff = an.snap.as_of - timedelta(days=UNUSED_WINDOW_DAYS)
    unused = sorted(u.namespace for u in uses if u.last_used is None or u.last_used < cutoff)
    used = sorted(u.namespace for u in uses if u.last_used is not None and u.last_used >= cutoff)
    return unused, used


@check(
    "unused_permissions",
    f"Principals use the services they are granted (last {UNUSED_WINDOW_DAYS} days)",
    "Groups and least privilege",
    "medium",
    "Remove the unused services from the principal's policies (Access Analyzer's unused-access "
    "findings and policy generation show what it used).",
    ("details", "last_accessed"),
)
def unused_permissions(an: Analysis) -> list[Finding]:
    out = []
    for principal in (*an.snap.users, *an.snap.roles):
        if principal.service_linked:
            continue
        found = _unused(an, principal)
        if not found or not found[0]:
            continue
        unused, used = found
        shown = ", ".join(unused[:12]) + (f" and {len(unused) - 12} more" if len(unused) > 12 else "")
        out.append(
            finding(
                "unused_permissions",
                principal.arn,
                f"{principal.kind} {principal.name}: {len(unused)} of {len(unused) + len(used)} granted "
                f"services unused in {UNUSED_WINDOW_DAYS} days: {shown}",
            )
        )
    return out


@check(
    "managed_policy_broad",
    "AWS managed policies do not grant far more than their holders use",
    "Groups and least privilege",
    "medium",
    "Replace the AWS managed policy with the generated policy below (what the principal used).",
    ("details", "last_accessed"),
)
def managed_policy_broad(an: Analysis) -> list[Finding]:
    out = []
    groups = an.snap.group_by_name()
    cutoff = an.snap.as_of - timedelta(days=UNUSED_WINDOW_DAYS)
    for principal in (*an.snap.users, *an.snap.roles):
        if principal.service_linked:
            continue
        attached = list(principal.attached)
        for name in principal.groups:
            if name in groups:
                attached.extend(groups[name].attached)
        managed = [a for a in dict.fromkeys(attached) if a.split(":")[4:5] == ["aws"]]
        found = _unused(an, principal) if managed else None
        if not found or not found[0]:
            continue
        unused = set(found[0])
        broad = []
        for arn in managed:
            granted = _granted_services(an, arn)
            extra = unused if granted is None else unused & granted
            if extra:
                broad.append((arn.rsplit("/", 1)[-1], len(extra)))
        if not broad:
            continue
        uses: list[Use] = []
        action_level: set[str] = set()
        for service in (an.snap.last_accessed or {}).get(principal.arn, ()):
            if service.last_used is None or service.last_used < cutoff:
                continue
            if service.actions:
                action_level.add(service.namespace)
                uses.extend(
                    Use(f"{service.namespace}:{name}")
                    for name, when in service.actions.items()
                    if when is not None and when >= cutoff
                )
            else:
                uses.append(Use(f"{service.namespace}:*"))
        documents, _ = generate_policies(uses, action_level, service_template=True)
        said = ", ".join(f"{name} ({count} unused services)" for name, count in broad)
        result = finding(
            "managed_policy_broad",
            principal.arn,
            f"{principal.kind} {principal.name} holds {said}; it used {', '.join(found[1]) or 'nothing'}",
            fix=None if documents else "Detach the AWS managed policy: the principal used none of it.",
        )
        if documents:
            result = Finding(
                result.check,
                result.resource,
                result.severity,
                result.evidence,
                result.fix,
                suggested_policy=json.dumps(json.loads(documents[0]), indent=2),
            )
        out.append(result)
    return out


# -- delegation -----------------------------------------------------------------------------------


def _trust_statements(role: Principal) -> list[dict[str, Any]]:
    return [s for s in _statements(role.trust or {}) if s.get("Effect") == "Allow"]


def _condition_keys(statement: Mapping[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    condition = statement.get("Condition")
    for block in condition.values() if isinstance(condition, dict) else []:
        if isinstance(block, dict):
            for key, values in block.items():
                out.setdefault(key.lower(), []).extend(_listed(values))
    return out


def _aws_principals(statement: Mapping[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    return _listed(principal.get("AWS")) if isinstance(principal, dict) else []


def _account_of(principal: str) -> str | None:
    if re.fullmatch(r"\d{12}", principal):
        return principal
    parts = principal.split(":")
    return parts[4] if len(parts) >= 6 and re.fullmatch(r"\d{12}", parts[4]) else None


@check(
    "cross_account_trust_without_external_id",
    "Roles trusted by third-party accounts require an external ID",
    "Delegation",
    "high",
    "Add a Condition requiring sts:ExternalId (the value the third party gave you) to the trust policy.",
    ("details",),
)
def cross_account_trust_without_external_id(an: Analysis) -> list[Finding]:
    snap = an.snap
    ours = {snap.account_id, *(snap.organization.accounts if snap.organization else ())}
    out = []
    for role in snap.roles:
        if role.service_linked:
            continue
        outside = set()
        for statement in _trust_statements(role):
            if "sts:externalid" in _condition_keys(statement):
                continue
            for principal in _aws_principals(statement):
                account = _account_of(principal)
                if account and account not in ours:
                    outside.add(account)
        if outside:
            out.append(
                finding(
                    "cross_account_trust_without_external_id",
                    role.arn,
                    f"role {role.name} trusts account(s) {', '.join(sorted(outside))} without sts:ExternalId",
                )
            )
    return out


@check(
    "trust_any_principal",
    "No trust policy is open to everyone or to a whole other organization",
    "Delegation",
    "critical",
    "Name the principals that may assume the role (and add conditions); never Principal '*' alone.",
    ("details",),
)
def trust_any_principal(an: Analysis) -> list[Finding]:
    own_org = an.snap.organization.id if an.snap.organization else None
    out = []
    for role in an.snap.roles:
        for statement in _trust_statements(role):
            if "*" not in _aws_principals(statement):
                continue
            keys = _condition_keys(statement)
            if not keys:
                out.append(
                    finding(
                        "trust_any_principal",
                        role.arn,
                        f"role {role.name} trusts Principal '*' without conditions",
                    )
                )
                break
            orgs = keys.get("aws:principalorgid")
            if orgs and set(keys) == {"aws:principalorgid"} and any(o != own_org for o in orgs):
                out.append(
                    finding(
                        "trust_any_principal",
                        role.arn,
                        f"role {role.name} trusts every principal of organization(s) {', '.join(orgs)}",
                        severity="high",
                    )
                )
                break
    return out


@check(
    "oidc_trust_without_subject",
    "Roles trusted by OIDC providers limit the token's subject",
    "Delegation",
    "critical",
    "Add a Condition on the provider's ':sub' key naming the subject (for GitHub: "
    "'repo:OWNER/REPO:ref:refs/heads/main'), and ':aud'.",
    ("details",),
)
def oidc_trust_without_subject(an: Analysis) -> list[Finding]:
    out = []
    for role in an.snap.roles:
        for statement in _trust_statements(role):
            principal = statement.get("Principal")
            federated = _listed(principal.get("Federated")) if isinstance(principal, dict) else []
            providers = [f.split(":oidc-provider/", 1)[1] for f in federated if ":oidc-provider/" in f]
            keys = _condition_keys(statement)
            for host in providers:
                subjects = keys.get(f"{host.lower()}:sub", [])
                if not subjects or any(s.strip() in ("*", "repo:*") for s in subjects):
                    said = "any subject" if not subjects else f"subject {', '.join(subjects)}"
                    out.append(
                        finding(
                            "oidc_trust_without_subject",
                            role.arn,
                            f"role {role.name} accepts tokens from {host} for {said}",
                        )
                    )
                    break
    return out


# -- guardrails and boundaries --------------------------------------------------------------------


@check(
    "privilege_escalation",
    "No principal can make itself or another an administrator",
    "Guardrails and boundaries",
    "high",
    "Remove the permission the path starts with, scope it to resources the principal may change, "
    "or set a permissions boundary that denies it.",
    ("details",),
)
def privilege_escalation(an: Analysis) -> list[Finding]:
    out = []
    for principal in (*an.snap.users, *an.snap.roles):
        path = an.escalation(principal)
        if path is None:
            continue
        steps = " -> ".join(f"{s.action} on {s.resource} (allowed by {s.allowed_by})" for s in path.steps)
        others = f"; {len(path.others)} other way(s): {', '.join(path.others[:5])}" if path.others else ""
        first: Step = path.steps[0]
        out.append(
            Finding(
                "privilege_escalation",
                principal.arn,
                "high",
                f"{principal.kind} {principal.name} can escalate by {path.method}: {steps}{others}",
                f"Remove {first.action} from {first.allowed_by.split(':')[0]} (or limit its resources), "
                "or set a permissions boundary that denies it.",
                path=path.steps,
                target=path.target,
            )
        )
    return out


@check(
    "delegated_admin_without_boundary",
    "Principals that create users or roles must set a permissions boundary",
    "Guardrails and boundaries",
    "high",
    "Allow iam:CreateUser/iam:CreateRole only with a Condition requiring iam:PermissionsBoundary "
    "(and deny removing it).",
    ("details",),
)
def delegated_admin_without_boundary(an: Analysis) -> list[Finding]:
    out = []
    for principal in (*an.snap.users, *an.snap.roles):
        if principal.service_linked:
            continue
        actions = an.creates_without_boundary(principal)
        if actions:
            out.append(
                finding(
                    "delegated_admin_without_boundary",
                    principal.arn,
                    f"{principal.kind} {principal.name} may call {' and '.join(actions)} without a "
                    "permissions boundary",
                )
            )
    return out
