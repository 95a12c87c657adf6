"""Checks of the organization's guardrails (SCPs beyond FullAWSAccess, an RCP data perimeter) and
of audit and analysis (an intact trail, Access Analyzer's external and unused access analyzers and
their active findings)."""

from __future__ import annotations

from iamd.practices.analysis import Analysis
from iamd.practices.model import Finding, NotApplicable
from iamd.practices.registry import check, finding
from iamd.practices.snapshot import Organization

__all__: list[str] = []


def _organization(an: Analysis) -> Organization:
    if an.snap.organization is None:
        raise NotApplicable("the account is not in an organization")
    return an.snap.organization


@check(
    "scp_guardrails",
    "Member accounts have SCP guardrails beyond FullAWSAccess",
    "Guardrails and boundaries",
    "medium",
    "Attach SCPs that deny what no one in the account should do (leaving the organization, turning "
    "off CloudTrail, root use, unused Regions) to the account's OU.",
    ("organization",),
)
def scp_guardrails(an: Analysis) -> list[Finding]:
    org = _organization(an)
    if not org.scp_enabled:
        return [
            finding("scp_guardrails", org.arn, f"organization {org.id} has service control policies disabled")
        ]
    out = []
    for account, names in sorted(org.scps_by_account.items()):
        if account == org.management_account:
            continue  # SCPs never apply to the management account
        if set(names) <= {"FullAWSAccess"}:
            arn = (
                f"arn:{an.snap.partition}:organizations::{org.management_account}:account/{org.id}/{account}"
            )
            out.append(
                finding("scp_guardrails", arn, f"account {account} has only FullAWSAccess on its path")
            )
    return out


@check(
    "rcp_perimeter",
    "Resource control policies set a data perimeter",
    "Guardrails and boundaries",
    "medium",
    "Enable resource control policies and attach one that denies access from outside the "
    "organization (aws:PrincipalOrgID) to the root.",
    ("organization",),
)
def rcp_perimeter(an: Analysis) -> list[Finding]:
    org = _organization(an)
    if not org.rcp_enabled:
        return [
            finding("rcp_perimeter", org.arn, f"organization {org.id} has resource control policies disabled")
        ]
    custom = [n for n in org.rcps if n != "RCPFullAWSAccess"]
    if custom:
        return []
    return [finding("rcp_perimeter", org.arn, f"organization {org.id} has no RCP but RCPFullAWSAccess")]


@check(
    "trail_intact",
    "A trail records every Region with log file validation, and its chain verifies",
    "Audit and analysis",
    "high",
    "Keep one multi-Region trail logging with log file validation; investigate a chain that does "
    "not verify (iamd trail verify names the first broken record).",
    ("trail",),
    cis="4.1, 4.2",
)
def trail_intact(an: Analysis) -> list[Finding]:
    state = an.snap.trail
    assert state is not None
    if not state.trails:
        return [finding("trail_intact", an.snap.root_arn, "no CloudTrail trail")]
    out = []
    for trail in state.trails:
        arn = str(trail.get("TrailARN", trail.get("Name")))
        problems = []
        if state.logging.get(arn) is False:  # unknown (an export without trail-status/) is not judged
            problems.append("not logging")
        if not trail.get("LogFileValidationEnabled"):
            problems.append("log file validation off")
        if not trail.get("IsMultiRegionTrail"):
            problems.append("single Region")
        if problems:
            out.append(finding("trail_intact", arn, f"trail {trail.get('Name')}: {', '.join(problems)}"))
    verification = state.verification
    if verification is not None and not verification.get("ok"):
        problems = [
            str(p.get("message", p)) if isinstance(p, dict) else str(p)
            for p in verification.get("problems", [])
        ]
        out.append(
            finding(
                "trail_intact",
                str(state.trails[0].get("TrailARN")),
                f"the trail's chain does not verify: {'; '.join(problems[:3]) or 'see iamd trail verify'}",
                severity="critical",
            )
        )
    return out


def _analyzer_check(an: Analysis, check_id: str, types: tuple[str, ...], what: str) -> list[Finding]:
    analyzers = [a for a in an.snap.analyzers or () if a.type in types and a.status == "ACTIVE"]
    if not analyzers:
        return [finding(check_id, an.snap.root_arn, f"no active {what} analyzer ({' or '.join(types)})")]
    names = {a.arn for a in analyzers} | {a.name for a in analyzers}
    out = []
    for item in an.snap.analyzer_findings or ():
        if item.analyzer in names and item.status == "ACTIVE":
            out.append(
                finding(
                    check_id,
                    item.resource,
                    f"active {item.finding_type} finding {item.id} on {item.resource_type} {item.resource}",
                    fix="Review the finding: remove the access if unintended (or archive it if intended).",
                )
            )
    return out


@check(
    "access_analyzer_external",
    "An external access analyzer runs and its active findings are reviewed",
    "Audit and analysis",
    "medium",
    "Create an Access Analyzer analyzer of type ACCOUNT (or ORGANIZATION) and review its findings.",
    ("analyzers",),
    cis="2.19",
)
def access_analyzer_external(an: Analysis) -> list[Finding]:
    return _analyzer_check(an, "access_analyzer_external", ("ACCOUNT", "ORGANIZATION"), "external access")


@check(
    "access_analyzer_unused",
    "An unused access analyzer runs and its active findings are reviewed",
    "Audit and analysis",
    "medium",
    "Create an Access Analyzer analyzer of type ACCOUNT_UNUSED_ACCESS and act on its findings.",
    ("analyzers",),
)
def access_analyzer_unused(an: Analysis) -> list[Finding]:
    return _analyzer_check(
        an, "access_analyzer_unused", ("ACCOUNT_UNUSED_ACCESS", "ORGANIZATION_UNUSED_ACCESS"), "unused access"
    )
