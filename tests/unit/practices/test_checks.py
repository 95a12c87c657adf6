"""The review's checks as pure functions over hand-built snapshots: each fires on the violation and
stays quiet on the good practice next to it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from iamd.practices import review
from iamd.practices.export import load_export
from iamd.practices.html import render_html
from iamd.practices.snapshot import (
    CredentialRow,
    Group,
    ManagedPolicy,
    Organization,
    Principal,
    ServiceUse,
    Snapshot,
    parse_credential_report,
)

A = "123456789012"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
HEADER = [
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
]


def day(n: float) -> str:
    return (NOW - timedelta(days=n)).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def row(user: str, **values: str) -> CredentialRow:
    arn = f"arn:aws:iam::{A}:root" if user == "<root_account>" else f"arn:aws:iam::{A}:user/{user}"
    base = {column: "N/A" for column in HEADER}
    base.update(user=user, arn=arn, user_creation_time=day(400), password_enabled="false", mfa_active="false")
    base.update(access_key_1_active="false", access_key_2_active="false")
    base.update(values)
    return CredentialRow(base)


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource, **extra}],
    }


def user(
    name: str,
    inline: dict[str, Any] | None = None,
    attached: tuple[str, ...] = (),
    groups: tuple[str, ...] = (),
) -> Principal:
    return Principal(
        "user", name, f"arn:aws:iam::{A}:user/{name}", "/", NOW, inline or {}, attached, None, groups
    )


def role(
    name: str, trust: dict[str, Any], inline: dict[str, Any] | None = None, attached: tuple[str, ...] = ()
) -> Principal:
    return Principal(
        "role", name, f"arn:aws:iam::{A}:role/{name}", "/", NOW, inline or {}, attached, None, trust=trust
    )


ADMIN_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
ADMIN = ManagedPolicy(ADMIN_ARN, "AdministratorAccess", allow("*"), 1)


def snapshot(**fields: Any) -> Snapshot:
    snap = Snapshot(
        A, NOW, "test", details_read=True, credential_report=(row("<root_account>", mfa_active="true"),)
    )
    snap.policies = {ADMIN_ARN: ADMIN}
    for key, value in fields.items():
        setattr(snap, key, value)
    return snap


def fired(snap: Snapshot, check: str) -> dict[str, str]:
    report = review(snap, frozenset({check}))
    (result,) = report.results
    return {f.resource: f.severity for f in result.findings} | (
        {"status": result.status} if result.status != "fail" else {}
    )


def uarn(name: str) -> str:
    return f"arn:aws:iam::{A}:user/{name}"


def rarn(name: str) -> str:
    return f"arn:aws:iam::{A}:role/{name}"


def test_root_keys_mfa_and_use() -> None:
    root = row("<root_account>", access_key_1_active="true", access_key_1_last_used_date=day(3))
    snap = snapshot(credential_report=(root,))
    assert fired(snap, "root_access_keys") == {f"arn:aws:iam::{A}:root": "critical"}
    assert fired(snap, "root_mfa") == {f"arn:aws:iam::{A}:root": "critical"}
    assert fired(snap, "root_recent_use") == {f"arn:aws:iam::{A}:root": "high"}
    quiet = snapshot(
        credential_report=(row("<root_account>", mfa_active="true", password_last_used=day(200)),)
    )
    quiet.mfa_kinds = {"<root_account>": ("security-key",)}
    for check in ("root_access_keys", "root_mfa", "root_recent_use"):
        assert fired(quiet, check) == {"status": "pass"}, check
    quiet.mfa_kinds = {"<root_account>": ("virtual",)}
    assert fired(quiet, "root_mfa") == {f"arn:aws:iam::{A}:root": "medium"}


def test_people_checks() -> None:
    rows = (
        row("<root_account>", mfa_active="true"),
        row("alice", password_enabled="true", password_last_used=day(1), mfa_active="true"),
        row("bob", password_enabled="true", password_last_used=day(1)),
        row(
            "svc",
            access_key_1_active="true",
            access_key_1_last_rotated=day(10),
            access_key_1_last_used_date=day(1),
        ),
    )
    admins = Group("admins", f"arn:aws:iam::{A}:group/admins", {}, (ADMIN_ARN,))
    snap = snapshot(
        credential_report=rows,
        users=(user("alice", groups=("admins",)), user("bob", groups=("admins",)), user("svc")),
        groups=(admins,),
        mfa_kinds={"alice": ("virtual",)},
    )
    assert fired(snap, "user_mfa") == {uarn("bob"): "high"}
    assert set(fired(snap, "human_users_without_federation")) == {uarn("alice"), uarn("bob")}
    assert set(fired(snap, "privileged_user_phishing_resistant_mfa")) == {uarn("alice"), uarn("bob")}
    snap.mfa_kinds = {"alice": ("security-key",)}
    assert set(fired(snap, "privileged_user_phishing_resistant_mfa")) == {uarn("bob")}
    snap.mfa_kinds = None
    assert fired(snap, "privileged_user_phishing_resistant_mfa")["status"] == "not_evaluated"


def test_credential_checks() -> None:
    rows = (
        row("<root_account>", mfa_active="true"),
        row(
            "old",
            access_key_1_active="true",
            access_key_1_last_rotated=day(120),
            access_key_1_last_used_date=day(1),
        ),
        row("idle", access_key_1_active="true", access_key_1_last_rotated=day(60)),
        row("stale", password_enabled="true", password_last_used=day(50), password_last_changed=day(80)),
        row(
            "two",
            access_key_1_active="true",
            access_key_1_last_rotated=day(5),
            access_key_1_last_used_date=day(1),
            access_key_2_active="true",
            access_key_2_last_rotated=day(3),
            access_key_2_last_used_date=day(1),
        ),
        row("fresh", access_key_1_active="true", access_key_1_last_rotated=day(2)),
    )
    snap = snapshot(credential_report=rows)
    assert set(fired(snap, "access_key_rotation")) == {uarn("old")}
    assert set(fired(snap, "unused_credentials")) == {uarn("idle"), uarn("stale")}
    assert set(fired(snap, "two_active_keys")) == {uarn("two")}
    assert set(fired(snap, "long_term_keys_where_roles_fit")) == {
        uarn(n) for n in ("old", "idle", "two", "fresh")
    }


def test_password_policy() -> None:
    snap = snapshot(password_policy_read=True, password_policy=None)
    assert "status" not in fired(snap, "password_policy")
    strong = {
        "MinimumPasswordLength": 14,
        "RequireSymbols": True,
        "RequireNumbers": True,
        "RequireUppercaseCharacters": True,
        "RequireLowercaseCharacters": True,
        "PasswordReusePrevention": 24,
        "ExpirePasswords": True,
        "MaxPasswordAge": 90,
    }
    snap.password_policy = strong
    assert fired(snap, "password_policy") == {"status": "pass"}
    snap.password_policy = {**strong, "MinimumPasswordLength": 12}
    assert "status" not in fired(snap, "password_policy")
    assert fired(snapshot(), "password_policy")["status"] == "not_evaluated"


def test_policy_checks() -> None:
    admin_policy = ManagedPolicy(f"arn:aws:iam::{A}:policy/star", "star", allow("*"), 1)
    s3_policy = ManagedPolicy(f"arn:aws:iam::{A}:policy/s3all", "s3all", allow("s3:*"), 1)
    narrow = ManagedPolicy(
        f"arn:aws:iam::{A}:policy/narrow", "narrow", allow("s3:GetObject", "arn:aws:s3:::b/*"), 1
    )
    snap = snapshot(
        users=(
            user("direct", attached=(narrow.arn,)),
            user("grouped", groups=("g",)),
            user("inl", {"x": allow("ec2:*")}),
        ),
        groups=(Group("g", f"arn:aws:iam::{A}:group/g", {}, (narrow.arn,)),),
        policies={
            ADMIN_ARN: ADMIN,
            admin_policy.arn: admin_policy,
            s3_policy.arn: s3_policy,
            narrow.arn: narrow,
        },
    )
    assert set(fired(snap, "user_direct_policies")) == {uarn("direct"), uarn("inl")}
    assert set(fired(snap, "full_admin_policy")) == {admin_policy.arn}
    assert set(fired(snap, "service_wildcard_policy")) == {s3_policy.arn, uarn("inl")}


def test_trust_checks() -> None:
    other = "arn:aws:iam::999999999999:root"
    roles = (
        role("vendor", allow("sts:AssumeRole", Principal={"AWS": other}) | {}),
        role(
            "vendor-ok",
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sts:AssumeRole",
                        "Principal": {"AWS": other},
                        "Condition": {"StringEquals": {"sts:ExternalId": "x"}},
                    }
                ]
            },
        ),
        role("open", {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": "*"}]}),
        role(
            "gh",
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Principal": {
                            "Federated": f"arn:aws:iam::{A}:oidc-provider/token.actions.githubusercontent.com"
                        },
                        "Condition": {
                            "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}
                        },
                    }
                ]
            },
        ),
        role(
            "gh-ok",
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Principal": {
                            "Federated": f"arn:aws:iam::{A}:oidc-provider/token.actions.githubusercontent.com"
                        },
                        "Condition": {
                            "StringLike": {"token.actions.githubusercontent.com:sub": "repo:o/r:*"}
                        },
                    }
                ]
            },
        ),
    )
    # the first trust names no Resource; allow() adds one, harmless for these checks
    snap = snapshot(roles=roles)
    assert set(fired(snap, "cross_account_trust_without_external_id")) == {rarn("vendor")}
    assert set(fired(snap, "trust_any_principal")) == {rarn("open")}
    assert set(fired(snap, "oidc_trust_without_subject")) == {rarn("gh")}


def test_privilege_escalation_paths_are_proven_step_by_step() -> None:
    lambda_trust = {
        "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}
        ]
    }
    users = (
        user("self-attach", {"p": allow("iam:AttachUserPolicy", uarn("self-attach"))}),
        user("other-attach", {"p": allow("iam:AttachUserPolicy", uarn("someone-else"))}),
        user("key-maker", {"p": allow("iam:CreateAccessKey", uarn("boss"))}),
        user("boss", attached=(ADMIN_ARN,)),
        user("passer", {"p": allow(["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"])}),
        user("pass-no-run", {"p": allow("iam:PassRole")}),
        user("reader", {"p": allow("iam:Get*")}),
    )
    snap = snapshot(users=users, roles=(role("fn-admin", lambda_trust, attached=(ADMIN_ARN,)),))
    report = review(snap, frozenset({"privilege_escalation"}))
    found = {f.resource: f for f in report.findings}
    assert set(found) == {uarn("self-attach"), uarn("key-maker"), uarn("passer")}
    steps = found[uarn("passer")].path
    assert [s.action for s in steps] == ["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"]
    assert found[uarn("passer")].target == rarn("fn-admin")
    assert all(s.allowed_by.startswith("passer inline p") for s in steps)
    assert found[uarn("key-maker")].path[0].resource == uarn("boss")


def test_delegated_admin_needs_a_boundary_condition() -> None:
    bounded = allow(
        "iam:CreateUser",
        Condition={"StringEquals": {"iam:PermissionsBoundary": f"arn:aws:iam::{A}:policy/b"}},
    )
    snap = snapshot(users=(user("free", {"p": allow("iam:CreateRole")}), user("bounded", {"p": bounded})))
    assert set(fired(snap, "delegated_admin_without_boundary")) == {uarn("free")}


def test_unused_permissions_and_a_generated_policy_for_broad_managed_policies() -> None:
    readonly = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    snap = snapshot(
        users=(user("broad", attached=(readonly,)), user("tight", {"p": allow("s3:GetObject")})),
        policies={
            ADMIN_ARN: ADMIN,
            readonly: ManagedPolicy(readonly, "ReadOnlyAccess", allow(["s3:Get*", "ec2:Describe*"]), 1),
        },
        last_accessed={
            uarn("broad"): (
                ServiceUse(
                    "s3", NOW - timedelta(days=2), {"GetObject": NOW - timedelta(days=2), "ListBucket": None}
                ),
                ServiceUse("ec2", None),
            ),
            uarn("tight"): (ServiceUse("s3", NOW - timedelta(days=1)),),
        },
    )
    assert set(fired(snap, "unused_permissions")) == {uarn("broad")}
    report = review(snap, frozenset({"managed_policy_broad"}))
    (item,) = report.findings
    assert item.resource == uarn("broad")
    assert item.suggested_policy is not None
    assert json.loads(item.suggested_policy)["Statement"][0]["Action"] == ["s3:GetObject"]
    snap.last_accessed = None
    assert fired(snap, "unused_permissions")["status"] == "not_evaluated"


def test_organization_checks() -> None:
    org = Organization(
        "o-abc",
        f"arn:aws:organizations::{A}:organization/o-abc",
        A,
        (A, "222222222222", "333333333333"),
        (),
        True,
        True,
        {"222222222222": ("FullAWSAccess",), "333333333333": ("FullAWSAccess", "deny-leave")},
        (),
    )
    snap = snapshot(
        organization=org,
        organization_read=True,
        member_roots={
            "222222222222": row("<root_account>", password_enabled="true"),
        },
    )
    assert set(fired(snap, "scp_guardrails")) == {f"arn:aws:organizations::{A}:account/o-abc/222222222222"}
    assert set(fired(snap, "rcp_perimeter")) == {org.arn}
    assert len(fired(snap, "root_central_management")) == 2
    alone = snapshot(organization_read=True)
    assert fired(alone, "scp_guardrails") == {"status": "not_applicable"}


def test_export_without_optional_files_says_what_it_needs(tmp_path: Path) -> None:
    details = {
        "UserDetailList": [
            {
                "UserName": "u",
                "Arn": uarn("u"),
                "Path": "/",
                "UserId": "AIDA",
                "CreateDate": day(1),
                "UserPolicyList": [{"PolicyName": "p", "PolicyDocument": allow("*")}],
                "GroupList": [],
                "AttachedManagedPolicies": [],
            }
        ],
        "GroupDetailList": [],
        "RoleDetailList": [],
        "Policies": [],
    }
    (tmp_path / "authorization-details.json").write_text(json.dumps(details))
    lines = [",".join(HEADER), ",".join(row("<root_account>", mfa_active="true").values[c] for c in HEADER)]
    (tmp_path / "credential-report.csv").write_text("\n".join(lines) + "\n")
    snap = load_export(tmp_path, NOW)
    assert snap.account_id == A
    report = review(snap)
    status = {r.check.id: (r.status, r.note) for r in report.results}
    assert status["full_admin_policy"][0] == "fail"
    assert status["password_policy"][0] == "not_evaluated"
    assert "password-policy.json" in str(status["password_policy"][1])
    assert status["unused_permissions"][0] == "not_evaluated"
    assert status["root_mfa"][0] == "pass"


def test_credential_report_parsing_keeps_sentinels() -> None:
    rows = parse_credential_report(
        "\n".join([",".join(HEADER), ",".join(row("x").values[c] for c in HEADER)]) + "\n"
    )
    assert rows[0].user == "x" and rows[0].time("password_last_used") is None


def test_html_is_self_contained() -> None:
    users = (user("self-attach", {"p": allow("iam:AttachUserPolicy", uarn("self-attach"))}),)
    page = render_html(review(snapshot(users=users)))
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "escalation path" in page
    assert (
        "http://" not in page.replace("http://www.w3.org", "")
        and "<script" not in page
        and "src=" not in page
    )


def test_more_escalation_methods_and_a_boundary_that_stops_them() -> None:
    customer = ManagedPolicy(f"arn:aws:iam::{A}:policy/app", "app", allow("s3:GetObject"), 1)
    admins = Group("admins", f"arn:aws:iam::{A}:group/admins", {}, (ADMIN_ARN,))
    guard = ManagedPolicy(
        f"arn:aws:iam::{A}:policy/guard",
        "guard",
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]},
        1,
    )
    trust_me = {
        "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": f"arn:aws:iam::{A}:root"}}
        ]
    }
    users = (
        user("joiner", {"p": allow("iam:AddUserToGroup", f"arn:aws:iam::{A}:group/admins")}),
        user("versioner", {"p": allow("iam:CreatePolicyVersion", customer.arn)}, attached=(customer.arn,)),
        user("truster", {"p": allow("iam:UpdateAssumeRolePolicy", rarn("ops-admin"))}),
        user("password-setter", {"p": allow("iam:CreateLoginProfile", uarn("boss"))}),
        user("boss", groups=("admins",)),
        Principal(
            "user", "bounded", uarn("bounded"), "/", NOW, {"p": allow("iam:AttachUserPolicy")}, (), guard.arn
        ),
    )
    snap = snapshot(
        users=users,
        groups=(admins,),
        roles=(role("ops-admin", trust_me, attached=(ADMIN_ARN,)),),
        policies={ADMIN_ARN: ADMIN, customer.arn: customer, guard.arn: guard},
    )
    found = {f.resource: f for f in review(snap, frozenset({"privilege_escalation"})).findings}
    assert set(found) == {uarn("joiner"), uarn("versioner"), uarn("truster"), uarn("password-setter")}
    assert found[uarn("joiner")].path[0].action == "iam:AddUserToGroup"
    assert found[uarn("versioner")].path[0].resource == customer.arn
    assert found[uarn("truster")].target == rarn("ops-admin")
    assert found[uarn("password-setter")].target == uarn("boss")


def test_formats_carry_the_documented_fields() -> None:
    from iamd.cli.sarif import sarif_review
    from iamd.practices.render import to_json, to_ocsf

    users = (user("self-attach", {"p": allow("iam:AttachUserPolicy", uarn("self-attach"))}),)
    report = review(snapshot(users=users))
    data = to_json(report)
    check = data["checks"][0]  # type: ignore[index]
    assert {"id", "title", "practice", "severity", "status"} <= set(check)
    item = next(f for f in data["findings"] if f["check"] == "privilege_escalation")  # type: ignore[attr-defined]
    assert {"check", "resource", "severity", "evidence", "fix", "path", "target"} <= set(item)
    sarif = sarif_review(report)
    run = sarif["runs"][0]  # type: ignore[index]
    assert run["results"][0]["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].startswith(
        "arn:aws:iam::"
    )
    ocsf = to_ocsf(report)
    escalation = [f for f in ocsf if f["metadata"]["event_code"] == "privilege_escalation"]  # type: ignore[index]
    assert escalation[0]["status_code"] == "FAIL" and escalation[0]["severity_id"] == 4
    assert any(f["status_code"] == "PASS" for f in ocsf)


def test_practices_read_like_a_client() -> None:
    """ARCHITECTURE.md: practices/ never reads the store or calls services' code directly."""
    import ast

    source = Path(__file__).resolve().parents[3] / "src" / "iamd" / "practices"
    for module in source.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(("iamd.store", "iamd.services", "iamd.server", "sqlalchemy")), (
                    module.name,
                    name,
                )
