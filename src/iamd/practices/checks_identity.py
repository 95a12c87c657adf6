"""Checks of the root user, people, passwords and long-term credentials (IAM User Guide, "Security
best practices in IAM"; CIS AWS Foundations, IAM section). Thresholds are CIS's: 90 days for root
use and key rotation, 45 days for unused credentials, passwords of 14 characters with every class,
24 remembered, expiring within 90 days."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from iamd.practices.analysis import Analysis
from iamd.practices.model import Finding, NotApplicable
from iamd.practices.registry import check, finding
from iamd.practices.snapshot import CredentialRow

__all__: list[str] = []

ROOT_USE_DAYS: Final = 90
ROTATION_DAYS: Final = 90
UNUSED_DAYS: Final = 45


def _day(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d") if when else "never"


# -- root -----------------------------------------------------------------------------------------


@check(
    "root_access_keys",
    "The root user has no access keys",
    "Root user",
    "critical",
    "Delete the root user's access keys and use an IAM role or Identity Center for API access.",
    ("credential_report",),
    cis="2.3",
)
def root_access_keys(an: Analysis) -> list[Finding]:
    root = an.snap.root_row()
    if root is None:
        return []
    active = [n for n in (1, 2) if root.flag(f"access_key_{n}_active")]
    if not active:
        return []
    return [finding("root_access_keys", an.snap.root_arn, f"{len(active)} active root access key(s)")]


@check(
    "root_mfa",
    "The root user has phishing-resistant MFA",
    "Root user",
    "critical",
    "Register a passkey or security key for the root user (and remove a virtual MFA device).",
    ("credential_report",),
    cis="2.4, 2.5",
)
def root_mfa(an: Analysis) -> list[Finding]:
    root = an.snap.root_row()
    if root is None:
        return []
    if not root.flag("mfa_active"):
        summary = an.snap.account_summary or {}
        keys = any(root.flag(f"access_key_{n}_active") for n in (1, 2))
        if summary.get("AccountPasswordPresent") == 0 and not keys:
            # Centralized root access: a root user without credentials cannot sign in at all.
            raise NotApplicable("the root user has no password and no access keys")
        return [finding("root_mfa", an.snap.root_arn, "the root user has no MFA device")]
    kinds = (an.snap.mfa_kinds or {}).get("<root_account>", ())
    if kinds and "security-key" not in kinds and "virtual" in kinds:
        return [
            finding(
                "root_mfa",
                an.snap.root_arn,
                "the root user's MFA is a virtual (TOTP) device, which phishing can defeat",
                severity="medium",
            )
        ]
    return []


@check(
    "root_recent_use",
    f"The root user was not used in the last {ROOT_USE_DAYS} days",
    "Root user",
    "high",
    "Use IAM roles or Identity Center for daily work; keep the root user for the tasks only it can do.",
    ("credential_report",),
    cis="2.7",
)
def root_recent_use(an: Analysis) -> list[Finding]:
    root = an.snap.root_row()
    if root is None:
        return []
    since = an.snap.as_of - timedelta(days=ROOT_USE_DAYS)
    uses = {
        "password": root.time("password_last_used"),
        "access key 1": root.time("access_key_1_last_used_date"),
        "access key 2": root.time("access_key_2_last_used_date"),
    }
    recent = {what: when for what, when in uses.items() if when and when >= since}
    if not recent:
        return []
    said = ", ".join(f"{what} on {_day(when)}" for what, when in recent.items())
    return [finding("root_recent_use", an.snap.root_arn, f"root used: {said}")]


@check(
    "root_central_management",
    "Root access is managed centrally by the organization",
    "Root user",
    "high",
    "Enable centralized root access (RootCredentialsManagement) in IAM and remove member accounts' "
    "root passwords and keys.",
    ("organization",),
    cis="2.1.1 (v7)",
)
def root_central_management(an: Analysis) -> list[Finding]:
    snap = an.snap
    org = snap.organization
    if org is None:
        raise NotApplicable("the account is not in an organization")
    out: list[Finding] = []
    if org.features is not None and "RootCredentialsManagement" not in org.features:
        out.append(
            finding(
                "root_central_management",
                org.arn,
                f"organization {org.id} has not enabled RootCredentialsManagement "
                f"(enabled: {', '.join(org.features) or 'none'})",
            )
        )
    for account, row in sorted((snap.member_roots or {}).items()):
        held = []
        if row.flag("password_enabled"):
            held.append("a password")
        held += [f"access key {n}" for n in (1, 2) if row.flag(f"access_key_{n}_active")]
        if held and account != org.management_account:
            out.append(
                finding(
                    "root_central_management",
                    row.arn,
                    f"member account {account}'s root user has {', '.join(held)}",
                    fix="Delete the member account's root credentials (iam:DeleteLoginProfile, "
                    "DeleteAccessKey through sts:AssumeRoot) once centralized root access is on.",
                )
            )
    return out


# -- people ---------------------------------------------------------------------------------------


@check(
    "human_users_without_federation",
    "People sign in through federation, not IAM users",
    "People and federation",
    "medium",
    "Give people access through IAM Identity Center (or an identity provider) and delete the IAM "
    "user's console password.",
    ("credential_report",),
)
def human_users_without_federation(an: Analysis) -> list[Finding]:
    console = [row for row in an.snap.user_rows() if row.flag("password_enabled")]
    return [
        finding(
            "human_users_without_federation",
            row.arn,
            f"IAM user {row.user} has a console password ({len(console)} IAM user(s) in the account do)",
        )
        for row in console
    ]


@check(
    "user_mfa",
    "Every console user has MFA",
    "People and federation",
    "high",
    "Register an MFA device (preferably a passkey or security key) for the user, or delete its password.",
    ("credential_report",),
    cis="2.10",
)
def user_mfa(an: Analysis) -> list[Finding]:
    return [
        finding("user_mfa", row.arn, f"{row.user} has a console password and no MFA device")
        for row in an.snap.user_rows()
        if row.flag("password_enabled") and not row.flag("mfa_active")
    ]


@check(
    "privileged_user_phishing_resistant_mfa",
    "Administrators use a passkey or security key",
    "People and federation",
    "high",
    "Register a passkey or security key (FIDO2) for the administrator; TOTP codes can be phished.",
    ("details", "credential_report", "mfa"),
)
def privileged_user_phishing_resistant_mfa(an: Analysis) -> list[Finding]:
    rows = {row.arn: row for row in an.snap.user_rows()}
    kinds = an.snap.mfa_kinds or {}
    out = []
    for user in an.snap.users:
        row = rows.get(user.arn)
        if row is None or not row.flag("password_enabled") or user.arn not in an.admin_users:
            continue
        have = kinds.get(user.name, ())
        if "security-key" in have:
            continue
        said = ", ".join(sorted(set(have))) or "no MFA"
        out.append(
            finding(
                "privileged_user_phishing_resistant_mfa",
                user.arn,
                f"administrator {user.name} signs in with a password and {said}",
            )
        )
    return out


# -- passwords ------------------------------------------------------------------------------------


@check(
    "password_policy",
    "The password policy is at least CIS's",
    "Passwords",
    "medium",
    "Set a password policy: 14 characters or more, every character class, 24 remembered passwords, "
    "expiry within 90 days (aws iam update-account-password-policy).",
    ("password_policy",),
    cis="2.7, 2.8",
)
def password_policy(an: Analysis) -> list[Finding]:
    policy = an.snap.password_policy
    where = an.snap.root_arn
    if not policy:
        return [
            finding(
                "password_policy", where, "the account has no password policy (IAM's default: 8 characters)"
            )
        ]
    weak = []
    if int(policy.get("MinimumPasswordLength", 0)) < 14:
        weak.append(f"minimum length {policy.get('MinimumPasswordLength')} < 14")
    for key, label in (
        ("RequireUppercaseCharacters", "uppercase"),
        ("RequireLowercaseCharacters", "lowercase"),
        ("RequireNumbers", "numbers"),
        ("RequireSymbols", "symbols"),
    ):
        if not policy.get(key):
            weak.append(f"{label} not required")
    if int(policy.get("PasswordReusePrevention") or 0) < 24:
        weak.append(f"remembers {policy.get('PasswordReusePrevention') or 0} passwords < 24")
    age = policy.get("MaxPasswordAge")
    if not policy.get("ExpirePasswords") or not age or int(age) > 90:
        weak.append("passwords do not expire within 90 days")
    if not weak:
        return []
    return [finding("password_policy", where, "; ".join(weak))]


# -- credentials ----------------------------------------------------------------------------------


def _active_keys(row: CredentialRow) -> list[int]:
    return [n for n in (1, 2) if row.flag(f"access_key_{n}_active")]


@check(
    "access_key_rotation",
    f"Active access keys are younger than {ROTATION_DAYS} days",
    "Credentials",
    "medium",
    "Create a new access key, move its users to it, then deactivate and delete the old one "
    "(better: replace the key with a role).",
    ("credential_report",),
    cis="2.12",
)
def access_key_rotation(an: Analysis) -> list[Finding]:
    cutoff = an.snap.as_of - timedelta(days=ROTATION_DAYS)
    out = []
    for row in an.snap.user_rows():
        old = [
            (n, when)
            for n in _active_keys(row)
            if (when := row.time(f"access_key_{n}_last_rotated")) is not None and when < cutoff
        ]
        if old:
            said = ", ".join(f"key {n} created {_day(when)}" for n, when in old)
            out.append(finding("access_key_rotation", row.arn, f"{row.user}: {said}"))
    return out


@check(
    "unused_credentials",
    f"Passwords and access keys unused for {UNUSED_DAYS} days are removed",
    "Credentials",
    "medium",
    "Deactivate the unused access key or delete the unused password (or the whole user).",
    ("credential_report",),
    cis="2.11",
)
def unused_credentials(an: Analysis) -> list[Finding]:
    cutoff = an.snap.as_of - timedelta(days=UNUSED_DAYS)
    out = []
    for row in an.snap.user_rows():
        stale = []
        if row.flag("password_enabled"):
            used = row.time("password_last_used")
            since = row.time("password_last_changed") or row.time("user_creation_time")
            if used is not None and used < cutoff:
                stale.append(f"password last used {_day(used)}")
            elif used is None and since is not None and since < cutoff:
                stale.append(f"password never used since {_day(since)}")
        for n in _active_keys(row):
            used = row.time(f"access_key_{n}_last_used_date")
            since = row.time(f"access_key_{n}_last_rotated")
            if used is not None and used < cutoff:
                stale.append(f"access key {n} last used {_day(used)}")
            elif used is None and since is not None and since < cutoff:
                stale.append(f"access key {n} never used since {_day(since)}")
        if stale:
            out.append(finding("unused_credentials", row.arn, f"{row.user}: {'; '.join(stale)}"))
    return out


@check(
    "two_active_keys",
    "No user has two active access keys",
    "Credentials",
    "medium",
    "Deactivate and delete the access key that is no longer in use.",
    ("credential_report",),
    cis="2.12 (v6)",
)
def two_active_keys(an: Analysis) -> list[Finding]:
    return [
        finding("two_active_keys", row.arn, f"{row.user} has two active access keys")
        for row in an.snap.user_rows()
        if len(_active_keys(row)) == 2
    ]


@check(
    "long_term_keys_where_roles_fit",
    "Workloads use temporary credentials, not IAM user access keys",
    "Credentials",
    "low",
    "Replace the access key with temporary credentials: an IAM role (for AWS compute), IAM Roles "
    "Anywhere (for servers outside AWS) or IAM Identity Center (for people using the CLI).",
    ("credential_report",),
)
def long_term_keys_where_roles_fit(an: Analysis) -> list[Finding]:
    out = []
    for row in an.snap.user_rows():
        active = _active_keys(row)
        if active:
            services = {row[f"access_key_{n}_last_used_service"] for n in active} - {"N/A", ""}
            used = f", last used for {', '.join(sorted(services))}" if services else ""
            out.append(
                finding(
                    "long_term_keys_where_roles_fit",
                    row.arn,
                    f"{row.user} has {len(active)} active long-term access key(s){used}",
                )
            )
    return out
