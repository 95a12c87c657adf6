"""``iamd review`` end to end: every violation and every good practice planted in a real iamd, then
reviewed live through the API (as ``iamd review --profile`` does) and offline on an export written
with the AWS CLI commands of docs/review.md. Each check must fire on exactly the planted resources.

Time moves: two users and their keys are made first, then the server restarts 100 days later
(``iamd serve --clock-offset``), so that keys are old enough to need rotation and never-used ones
stale. Clients sign with the moved clock (SigV4 allows 15 minutes of skew); the AWS CLI runs with
the same shift applied to botocore's clock.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.console_helpers import ConsoleAgent
from tests.e2e.harness import ACCOUNT_ID, REGION, Server, open_data_store, start_server, stop_server
from tests.e2e.mfa_helpers import enable_device, signing_clock

from iamd.cli.main import main as iamd_main

DAY = 86400.0
OFFSET = 100 * DAY
A = ACCOUNT_ID
ROOT = f"arn:aws:iam::{A}:root"
EMAIL = f"root@{A}.iamd.local"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
VENDOR = "999999999999"
GITHUB = "token.actions.githubusercontent.com"


def user(name: str) -> str:
    return f"arn:aws:iam::{A}:user/{name}"


def role(name: str) -> str:
    return f"arn:aws:iam::{A}:role/{name}"


def group(name: str) -> str:
    return f"arn:aws:iam::{A}:group/{name}"


def policy(name: str) -> str:
    return f"arn:aws:iam::{A}:policy/{name}"


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def trust(principal: Any, action: str = "sts:AssumeRole", **extra: Any) -> str:
    return doc({"Effect": "Allow", "Principal": principal, "Action": action, **extra})


# --- planting ------------------------------------------------------------------------------------


def _key(iam: Any, name: str) -> tuple[str, str]:
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def _passkey(server: Server, name: str) -> None:
    """A FIDO2 security key assigned to the user (what the console's WebAuthn registration
    stores; the API cannot register one)."""
    store = open_data_store(server)
    try:
        with store.transaction() as uow:
            record = uow.users.get(A, name)
            device = uow.mfa.create(
                A,
                serial=f"arn:aws:iam::{A}:u2f/user/{name}/key-REVIEWTESTKEY",
                kind="webauthn",
                created_at=datetime.now(UTC),
                credential_id=b"review-test-credential",
                public_key=b"review-test-public-key",
                sign_count=0,
            )
            uow.mfa.enable(device.id, user_id=record.id, enabled_at=datetime.now(UTC))
    finally:
        store.close()


def plant_now(server: Server, old_keys: dict[str, tuple[str, str]]) -> dict[str, str]:
    """Everything but the two old keys, 100 days after them. Returns facts the tests use."""
    iam = server.client("iam")
    # Credentials: one old key used today (rotation), one never used (unused), two keys, one good.
    server.client("sts", *old_keys["bad-old-key"]).get_caller_identity()
    iam.create_user(UserName="bad-two-keys")
    for _ in range(2):
        server.client("sts", *_key(iam, "bad-two-keys")).get_caller_identity()
    iam.create_group(GroupName="good-readers")
    iam.create_policy(PolicyName="good-list-users", PolicyDocument=doc(allow("iam:ListUsers")))
    iam.attach_group_policy(GroupName="good-readers", PolicyArn=policy("good-list-users"))
    iam.create_user(UserName="good-used")
    iam.add_user_to_group(GroupName="good-readers", UserName="good-used")
    server.client("iam", *_key(iam, "good-used")).list_users()

    # People: console users with and without MFA; administrators with TOTP and with a passkey.
    iam.create_group(GroupName="good-admins")
    iam.attach_group_policy(GroupName="good-admins", PolicyArn=ADMIN)
    for name in ("bad-console", "good-console-mfa", "bad-admin-totp", "good-admin-passkey"):
        iam.create_user(UserName=name)
        iam.create_login_profile(UserName=name, Password="Planted-Passw0rd-For-Review!")
    enable_device(iam, "good-console-mfa", "good-console-mfa", clock_offset=OFFSET)
    enable_device(iam, "bad-admin-totp", "bad-admin-totp", clock_offset=OFFSET)
    for name in ("bad-admin-totp", "good-admin-passkey"):
        iam.add_user_to_group(GroupName="good-admins", UserName=name)
    _passkey(server, "good-admin-passkey")

    # Least privilege: *:* (unattached), s3:* on *, PassRole on * (a security warning), ReadOnlyAccess.
    iam.create_policy(PolicyName="bad-star", PolicyDocument=doc(allow("*")))
    iam.create_policy(PolicyName="bad-s3-all", PolicyDocument=doc(allow("s3:*")))
    iam.create_group(GroupName="bad-s3-group")
    iam.attach_group_policy(GroupName="bad-s3-group", PolicyArn=policy("bad-s3-all"))
    iam.create_group(GroupName="bad-passrole-group")
    iam.put_group_policy(
        GroupName="bad-passrole-group", PolicyName="pass", PolicyDocument=doc(allow("iam:PassRole"))
    )
    iam.create_user(UserName="bad-readonly")
    iam.attach_user_policy(UserName="bad-readonly", PolicyArn=READ_ONLY)
    server.client("iam", *_key(iam, "bad-readonly")).list_users()

    # Delegation: third-party trust with and without an external ID, an open trust, GitHub OIDC.
    iam.create_role(
        RoleName="bad-vendor-role", AssumeRolePolicyDocument=trust({"AWS": f"arn:aws:iam::{VENDOR}:root"})
    )
    iam.create_role(
        RoleName="good-vendor-role",
        AssumeRolePolicyDocument=trust(
            {"AWS": f"arn:aws:iam::{VENDOR}:root"},
            Condition={"StringEquals": {"sts:ExternalId": "vendor-42"}},
        ),
    )
    iam.create_role(RoleName="bad-open-role", AssumeRolePolicyDocument=trust("*"))
    provider = iam.create_open_id_connect_provider(
        Url=f"https://{GITHUB}", ClientIDList=["sts.amazonaws.com"], ThumbprintList=["a" * 40]
    )["OpenIDConnectProviderArn"]
    web = "sts:AssumeRoleWithWebIdentity"
    iam.create_role(
        RoleName="bad-github-role",
        AssumeRolePolicyDocument=trust(
            {"Federated": provider}, web, Condition={"StringEquals": {f"{GITHUB}:aud": "sts.amazonaws.com"}}
        ),
    )
    iam.create_role(
        RoleName="good-github-role",
        AssumeRolePolicyDocument=trust(
            {"Federated": provider},
            web,
            Condition={
                "StringEquals": {
                    f"{GITHUB}:aud": "sts.amazonaws.com",
                    f"{GITHUB}:sub": "repo:acme/app:ref:refs/heads/main",
                }
            },
        ),
    )

    # Escalation: a user who may attach policies to itself; a role that may pass an admin role to
    # Lambda; a delegated administrator with and without the boundary condition.
    iam.create_user(UserName="bad-escalator")
    iam.put_user_policy(
        UserName="bad-escalator",
        PolicyName="self",
        PolicyDocument=doc(allow("iam:AttachUserPolicy", user("bad-escalator"))),
    )
    iam.create_role(
        RoleName="bad-fn-admin", AssumeRolePolicyDocument=trust({"Service": "lambda.amazonaws.com"})
    )
    iam.attach_role_policy(RoleName="bad-fn-admin", PolicyArn=ADMIN)
    iam.create_role(RoleName="bad-passer", AssumeRolePolicyDocument=trust({"Service": "ec2.amazonaws.com"}))
    iam.put_role_policy(
        RoleName="bad-passer",
        PolicyName="deploy",
        PolicyDocument=doc(
            allow("iam:PassRole", role("bad-fn-admin")),
            allow(["lambda:CreateFunction", "lambda:InvokeFunction"]),
        ),
    )
    iam.create_user(UserName="bad-delegate")
    iam.put_user_policy(
        UserName="bad-delegate", PolicyName="create", PolicyDocument=doc(allow("iam:CreateRole"))
    )
    iam.create_user(UserName="good-delegate")
    iam.put_user_policy(
        UserName="good-delegate",
        PolicyName="create",
        PolicyDocument=doc(
            allow(
                "iam:CreateRole",
                Condition={"StringEquals": {"iam:PermissionsBoundary": policy("good-list-users")}},
            )
        ),
    )

    # Passwords, analyzers, organization.
    iam.update_account_password_policy(MinimumPasswordLength=8)
    analyzer = server.client("accessanalyzer")
    analyzer.create_analyzer(analyzerName="external", type="ACCOUNT")
    orgs = server.client("organizations")
    org = orgs.create_organization(FeatureSet="ALL")["Organization"]
    root = orgs.list_roots()["Roots"][0]
    if not any(t["Type"] == "SERVICE_CONTROL_POLICY" for t in root.get("PolicyTypes", [])):
        orgs.enable_policy_type(RootId=root["Id"], PolicyType="SERVICE_CONTROL_POLICY")
    members = {}
    for name in ("bad-member", "good-member"):
        status = orgs.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
        while status["State"] == "IN_PROGRESS":
            status = orgs.describe_create_account_status(CreateAccountRequestId=status["Id"])[
                "CreateAccountStatus"
            ]
        assert status["State"] == "SUCCEEDED", status
        members[name] = str(status["AccountId"])
    scp = orgs.create_policy(
        Name="deny-leaving",
        Description="members stay",
        Type="SERVICE_CONTROL_POLICY",
        Content=doc({"Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"}),
    )["Policy"]["PolicySummary"]["Id"]
    orgs.attach_policy(PolicyId=scp, TargetId=members["good-member"])

    # Root: a password, a console sign-in (recent use), an access key, no MFA.
    done = subprocess.run(
        [sys.executable, "-m", "iamd.cli.main", "root", "set-password", "--data-dir", str(server.data_dir)],
        input="Root-Password-2026!\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    agent = ConsoleAgent(server.endpoint)
    try:
        agent.sign_in_root(EMAIL, "Root-Password-2026!")
        assert agent.path == "/console/home", agent.error()
        agent.post("/keys/create", {})
        assert (agent.field("new-key-id") or "").startswith("AKIA")
    finally:
        agent.close()
    return {"org": org["Arn"], "org_id": org["Id"], **members}


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, str]]]:
    data = tmp_path_factory.mktemp("review") / "data"
    first = start_server(data)
    try:
        iam = first.client("iam")
        old: dict[str, tuple[str, str]] = {}
        for name in ("bad-old-key", "bad-idle-key"):
            iam.create_user(UserName=name)
            old[name] = _key(iam, name)
    finally:
        stop_server(first)
    server = start_server(data, "--clock-offset", str(OFFSET))
    try:
        with signing_clock(OFFSET):
            facts = plant_now(server, old)
        yield server, facts
    finally:
        stop_server(server)


def _env(server: Server) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(server.data_dir / "credentials"),
        AWS_CONFIG_FILE=str(server.data_dir / "config"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_DEFAULT_REGION=REGION,
    )
    return env


def run_review(server: Server, tmp: Path, *args: str) -> tuple[int, Any]:
    """``iamd review`` in this process (its boto3 must sign with the server's moved clock)."""
    out = tmp / "review.json"
    saved = dict(os.environ)
    os.environ.update(_env(server))
    try:
        with signing_clock(OFFSET):
            code = iamd_main(["review", "--profile", "iamd", "--format", "json", *args, "--output", str(out)])
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return code, json.loads(out.read_text())


@pytest.fixture(scope="module")
def live(planted: tuple[Server, dict[str, str]], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    server, _ = planted
    code, report = run_review(server, tmp_path_factory.mktemp("live"))
    assert code == 1  # critical and high findings
    return report


def fired(report: dict[str, Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {c["id"]: set() for c in report["checks"]}
    for item in report["findings"]:
        out[item["check"]].add(item["resource"])
    return out


ADMINS = {user("iamd-admin"), user("bad-admin-totp"), user("good-admin-passkey"), role("bad-fn-admin")}


def expected(facts: dict[str, str], analyzer_resources: set[str]) -> dict[str, set[str]]:
    """What each check must find in the planted account, and nothing else."""
    console = {user(n) for n in ("bad-console", "good-console-mfa", "bad-admin-totp", "good-admin-passkey")}
    with_keys = {
        user(n)
        for n in ("iamd-admin", "bad-old-key", "bad-idle-key", "bad-two-keys", "good-used", "bad-readonly")
    }
    # Every principal holding a permission it did not use in 90 days: all with policies but
    # good-used (it called the only action it has).
    unused = ADMINS | {
        user("bad-readonly"),
        user("bad-escalator"),
        user("bad-delegate"),
        user("good-delegate"),
        role("bad-passer"),
    }
    return {
        "root_access_keys": {ROOT},
        "root_mfa": {ROOT},
        "root_recent_use": {ROOT},
        "root_central_management": {facts["org"]},
        "human_users_without_federation": console,
        "user_mfa": {user("bad-console")},
        "privileged_user_phishing_resistant_mfa": {user("bad-admin-totp")},
        "user_direct_policies": {
            user(n) for n in ("iamd-admin", "bad-readonly", "bad-escalator", "bad-delegate", "good-delegate")
        },
        "full_admin_policy": {policy("bad-star")},
        "service_wildcard_policy": {policy("bad-s3-all")},
        # PassRole on "*" (a security warning), and Access Analyzer's warnings on the trust
        # policies open to anyone and to any GitHub repository.
        "policy_validation": {group("bad-passrole-group"), role("bad-open-role"), role("bad-github-role")},
        "unused_permissions": unused,
        # AWS managed policies on principals that used less: AdministratorAccess, ReadOnlyAccess.
        "managed_policy_broad": ADMINS | {user("bad-readonly")},
        "password_policy": {ROOT},
        # Every key made before the clock moved: the administrator's (made with the data directory) too.
        "access_key_rotation": {user("bad-old-key"), user("bad-idle-key"), user("iamd-admin")},
        "unused_credentials": {user("bad-idle-key")},
        "two_active_keys": {user("bad-two-keys")},
        "long_term_keys_where_roles_fit": with_keys,
        "cross_account_trust_without_external_id": {role("bad-vendor-role")},
        "trust_any_principal": {role("bad-open-role")},
        "oidc_trust_without_subject": {role("bad-github-role")},
        "privilege_escalation": {user("bad-escalator"), role("bad-passer")},
        "delegated_admin_without_boundary": ADMINS | {user("bad-delegate")},
        "scp_guardrails": {
            f"arn:aws:organizations::{A}:account/{facts['org_id']}/{facts['bad-member']}",
        },
        "rcp_perimeter": {facts["org"]},
        "trail_intact": set(),
        "access_analyzer_external": analyzer_resources,
        "access_analyzer_unused": {ROOT},
    }


def _analyzer_resources(server: Server) -> set[str]:
    client = server.client("accessanalyzer")
    with signing_clock(OFFSET):
        arn = client.list_analyzers()["analyzers"][0]["arn"]
        found = client.list_findings_v2(analyzerArn=arn, filter={"status": {"eq": ["ACTIVE"]}})["findings"]
    return {f["resource"] for f in found}


def test_every_check_fires_on_exactly_the_planted_resources(
    planted: tuple[Server, dict[str, str]], live: dict[str, Any]
) -> None:
    server, facts = planted
    analyzer = _analyzer_resources(server)
    # The open role and the vendor roles are shared outside the account: Access Analyzer says so.
    assert {role("bad-open-role"), role("bad-vendor-role")} <= analyzer
    want = expected(facts, analyzer)
    got = fired(live)
    assert set(got) == set(want), "every check of the issue is in the report"
    wrong = {c: (sorted(got[c] - want[c]), sorted(want[c] - got[c])) for c in want if got[c] != want[c]}
    assert not wrong, f"(unexpected, missing) per check: {json.dumps(wrong, indent=1)}"
    status = {c["id"]: c["status"] for c in live["checks"]}
    assert status["trail_intact"] == "pass" and status["privilege_escalation"] == "fail"
    assert all(s in ("pass", "fail") for s in status.values()), status


def test_findings_explain_themselves(live: dict[str, Any]) -> None:
    by = {(f["check"], f["resource"]): f for f in live["findings"]}
    passer = by[("privilege_escalation", role("bad-passer"))]
    assert [s["action"] for s in passer["path"]] == [
        "iam:PassRole",
        "lambda:CreateFunction",
        "lambda:InvokeFunction",
    ]
    assert passer["target"] == role("bad-fn-admin")
    assert all(s["allowed_by"].startswith("bad-passer inline deploy:") for s in passer["path"])
    validation = [f["evidence"] for f in live["findings"] if f["check"] == "policy_validation"]
    assert any("PASS_ROLE_WITH_STAR_IN_RESOURCE" in e for e in validation), validation
    escalator = by[("privilege_escalation", user("bad-escalator"))]
    assert escalator["path"][0] == {
        "action": "iam:AttachUserPolicy",
        "resource": user("bad-escalator"),
        "allowed_by": "bad-escalator inline self:Statement[0]",
    }
    broad = by[("managed_policy_broad", user("bad-readonly"))]
    generated = json.loads(broad["suggested_policy"])
    assert generated["Statement"][0]["Action"] == ["iam:ListUsers"]
    assert "14" in by[("password_policy", ROOT)]["fix"]
    rotation = by[("access_key_rotation", user("bad-old-key"))]
    assert "key 1 created" in rotation["evidence"]
    for item in live["findings"]:
        assert item["fix"] and item["evidence"] and item["severity"] in ("critical", "high", "medium", "low")


def test_organization_walks_member_accounts(planted: tuple[Server, dict[str, str]], tmp_path: Path) -> None:
    server, facts = planted
    code, report = run_review(
        server,
        tmp_path,
        "--organization",
        "--check",
        "user_direct_policies",
        "--check",
        "managed_policy_broad",
        "--no-last-accessed",
    )
    assert code == 0  # both checks are low or not evaluated without last-accessed data
    for member in (facts["bad-member"], facts["good-member"]):
        assert member in report["source"]
    status = {c["id"]: c for c in report["checks"]}
    assert status["managed_policy_broad"]["status"] == "not_evaluated"
    assert "left out with --no-last-accessed" in status["managed_policy_broad"]["note"]


# --- the export ----------------------------------------------------------------------------------

_CLI = """
import sys
from datetime import timedelta
from unittest import mock
import botocore.auth
from botocore.compat import get_current_datetime
from awscli.clidriver import main
shift = timedelta(seconds=float(sys.argv.pop(1)))
def now(**kw):
    return get_current_datetime(**kw) + shift
with mock.patch.object(botocore.auth, "get_current_datetime", now):
    sys.exit(main())
"""


def aws(server: Server, *args: str) -> str:
    """The AWS CLI (this venv's awscli), with the profile of the data directory, signing with the
    server's clock."""
    ran = subprocess.run(
        [sys.executable, "-c", _CLI, str(OFFSET), "--profile", "iamd", "--output", "json", *args],
        capture_output=True,
        text=True,
        env=_env(server),
        timeout=120,
    )
    assert ran.returncode == 0, f"aws {' '.join(args)}: {ran.stderr}"
    return ran.stdout


def write_export(server: Server, out: Path) -> None:
    """The commands of docs/review.md, section "Reviewing an export"."""
    out.mkdir()
    (out / "authorization-details.json").write_text(aws(server, "iam", "get-account-authorization-details"))
    aws(server, "iam", "generate-credential-report")
    content = json.loads(aws(server, "iam", "get-credential-report"))["Content"]
    (out / "credential-report.csv").write_bytes(base64.b64decode(content))
    (out / "password-policy.json").write_text(aws(server, "iam", "get-account-password-policy"))
    (out / "account-summary.json").write_text(aws(server, "iam", "get-account-summary"))
    (out / "virtual-mfa-devices.json").write_text(aws(server, "iam", "list-virtual-mfa-devices"))
    details = json.loads((out / "authorization-details.json").read_text())
    (out / "mfa-devices").mkdir()
    for entry in details["UserDetailList"]:
        name = entry["UserName"]
        (out / "mfa-devices" / f"{name}.json").write_text(
            aws(server, "iam", "list-mfa-devices", "--user-name", name)
        )
    for kind, key, name_key in (
        ("user", "UserDetailList", "UserName"),
        ("role", "RoleDetailList", "RoleName"),
    ):
        (out / "last-accessed" / kind).mkdir(parents=True)
        for entry in details[key]:
            if entry.get("Path", "/").startswith("/aws-service-role/"):
                continue
            job = json.loads(
                aws(
                    server,
                    "iam",
                    "generate-service-last-accessed-details",
                    "--arn",
                    entry["Arn"],
                    "--granularity",
                    "ACTION_LEVEL",
                )
            )["JobId"]
            # --max-items 1000: the AWS CLI does not page this one, and the default page is 100 services.
            answer = aws(
                server, "iam", "get-service-last-accessed-details", "--job-id", job, "--max-items", "1000"
            )
            (out / "last-accessed" / kind / f"{entry[name_key]}.json").write_text(answer)
    (out / "organization.json").write_text(aws(server, "organizations", "describe-organization"))
    (out / "trails.json").write_text(aws(server, "cloudtrail", "describe-trails"))
    (out / "trail-status").mkdir()
    for trail in json.loads((out / "trails.json").read_text())["trailList"]:
        (out / "trail-status" / f"{trail['Name']}.json").write_text(
            aws(server, "cloudtrail", "get-trail-status", "--name", trail["TrailARN"])
        )
    (out / "analyzers.json").write_text(aws(server, "accessanalyzer", "list-analyzers"))
    (out / "findings").mkdir()
    for analyzer in json.loads((out / "analyzers.json").read_text())["analyzers"]:
        (out / "findings" / f"{analyzer['name']}.json").write_text(
            aws(server, "accessanalyzer", "list-findings-v2", "--analyzer-arn", analyzer["arn"])
        )


def test_export_review_matches_the_live_one(
    planted: tuple[Server, dict[str, str]], live: dict[str, Any], tmp_path: Path
) -> None:
    server, _ = planted
    export = tmp_path / "export"
    write_export(server, export)
    out = tmp_path / "export.json"
    ran = subprocess.run(
        [
            sys.executable,
            "-m",
            "iamd.cli.main",
            "review",
            "--export",
            str(export),
            "--as-of",
            live["as_of"],
            "--format",
            "json",
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 1, ran.stderr
    report = json.loads(out.read_text())
    got, want = fired(report), fired(live)
    status = {c["id"]: c for c in report["checks"]}
    # An export holds no organization policies: those checks say what they need, never pass.
    for check in ("root_central_management", "scp_guardrails", "rcp_perimeter"):
        assert status[check]["status"] == "not_evaluated", status[check]
        assert "management account" in status[check]["note"]
        del got[check], want[check]
    assert got == want
    # The same evidence too, every granted service of the last-accessed data in the export; but
    # iamd-admin, who read the account in between, has used more services since.
    evidence = {(f["check"], f["resource"]): f["evidence"] for f in live["findings"]}
    for item in report["findings"]:
        before = evidence[(item["check"], item["resource"])]
        if item["resource"] != user("iamd-admin"):
            assert item["evidence"] == before, item
        elif item["check"] == "unused_permissions":
            granted = re.compile(r"of (\d+) granted")
            assert granted.findall(item["evidence"]) == granted.findall(before), (item["evidence"], before)


def test_export_without_optional_files(planted: tuple[Server, dict[str, str]], tmp_path: Path) -> None:
    server, _ = planted
    export = tmp_path / "minimal"
    export.mkdir()
    (export / "authorization-details.json").write_text(
        aws(server, "iam", "get-account-authorization-details")
    )
    ran = subprocess.run(
        [
            sys.executable,
            "-m",
            "iamd.cli.main",
            "review",
            "--export",
            str(export),
            "--format",
            "json",
            "--fail-on",
            "none",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr
    status = {c["id"]: c for c in json.loads(ran.stdout)["checks"]}
    assert status["full_admin_policy"]["status"] == "fail"
    for check in (
        "root_mfa",
        "password_policy",
        "unused_permissions",
        "trail_intact",
        "access_analyzer_unused",
    ):
        assert status[check]["status"] == "not_evaluated", check
        assert status[check]["note"].startswith("not evaluated: needs "), status[check]["note"]
    missing = subprocess.run(
        [sys.executable, "-m", "iamd.cli.main", "review", "--export", str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2 and "not a directory" in missing.stderr


def test_formats_and_exit_status(planted: tuple[Server, dict[str, str]], tmp_path: Path) -> None:
    server, _ = planted
    for fmt in ("sarif", "ocsf", "html", "text"):
        out = tmp_path / f"report.{fmt}"
        saved = dict(os.environ)
        os.environ.update(_env(server))
        try:
            with signing_clock(OFFSET):
                code = iamd_main(
                    [
                        "review",
                        "--profile",
                        "iamd",
                        "--no-last-accessed",
                        "--format",
                        fmt,
                        "--output",
                        str(out),
                        "--fail-on",
                        "critical",
                    ]
                )
        finally:
            os.environ.clear()
            os.environ.update(saved)
        assert code == 1, fmt  # root access keys are critical
        text = out.read_text()
        if fmt == "sarif":
            run = json.loads(text)["runs"][0]
            assert {r["id"] for r in run["tool"]["driver"]["rules"]} >= {
                "root_access_keys",
                "privilege_escalation",
            }
            assert any(r["ruleId"] == "root_access_keys" and r["level"] == "error" for r in run["results"])
        elif fmt == "ocsf":
            findings = json.loads(text)
            root_keys = [f for f in findings if f["metadata"]["event_code"] == "root_access_keys"]
            assert root_keys[0]["status_code"] == "FAIL" and root_keys[0]["class_uid"] == 2004
            assert root_keys[0]["resources"][0]["uid"] == ROOT and root_keys[0]["severity"] == "Critical"
        elif fmt == "html":
            assert text.startswith("<!DOCTYPE html>") and "escalation path" in text
        else:
            assert "root_access_keys" in text and "fix:" in text


# --- Prowler on the same account -----------------------------------------------------------------

# Prowler's clock, moved as the server's is: ``datetime.datetime.now`` (which botocore signs with
# and Prowler's checks compare against) returns the server's time.
_PROWLER = """
import datetime as _dt
import sys
shift = _dt.timedelta(seconds=float(sys.argv.pop(1)))
class _Moved(_dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return super(_Moved, cls).now(tz) + shift
    @classmethod
    def utcnow(cls):
        return cls.now(_dt.timezone.utc).replace(tzinfo=None)
_dt.datetime = _Moved
from prowler.__main__ import prowler
sys.exit(prowler())
"""

# Our check -> the Prowler checks that look for the same thing.
PROWLER_PEERS: dict[str, tuple[str, ...]] = {
    "root_access_keys": ("iam_no_root_access_key",),
    "root_mfa": ("iam_root_mfa_enabled", "iam_root_hardware_mfa_enabled"),
    "root_recent_use": ("iam_avoid_root_usage",),
    "root_central_management": ("iam_root_credentials_management_enabled",),
    "human_users_without_federation": ("iam_check_saml_providers_sts",),
    "user_mfa": ("iam_user_mfa_enabled_console_access",),
    "privileged_user_phishing_resistant_mfa": (
        "iam_user_hardware_mfa_enabled",
        "iam_administrator_access_with_mfa",
    ),
    "user_direct_policies": ("iam_policy_attached_only_to_group_or_roles",),
    "full_admin_policy": (
        "iam_customer_attached_policy_no_administrative_privileges",
        "iam_customer_unattached_policy_no_administrative_privileges",
        "iam_inline_policy_no_administrative_privileges",
    ),
    "service_wildcard_policy": (
        "iam_policy_no_full_access_to_cloudtrail",
        "iam_policy_no_full_access_to_kms",
        "iam_inline_policy_no_full_access_to_cloudtrail",
        "iam_inline_policy_no_full_access_to_kms",
    ),
    "policy_validation": (),
    "unused_permissions": ("iam_user_access_not_stale_to_bedrock", "iam_role_access_not_stale_to_bedrock"),
    "managed_policy_broad": ("iam_aws_attached_policy_no_administrative_privileges",),
    "password_policy": ("iam_password_policy_minimum_length_14", "iam_password_policy_reuse_24"),
    "access_key_rotation": ("iam_rotate_access_key_90_days",),
    "unused_credentials": (
        "iam_user_accesskey_unused",
        "iam_user_console_access_unused",
        "iam_user_no_setup_initial_access_key",
    ),
    "two_active_keys": ("iam_user_two_active_access_key",),
    "long_term_keys_where_roles_fit": ("iam_user_with_temporary_credentials",),
    "cross_account_trust_without_external_id": ("iam_role_cross_account_readonlyaccess_policy",),
    "trust_any_principal": (),
    "oidc_trust_without_subject": (),
    "privilege_escalation": (
        "iam_policy_allows_privilege_escalation",
        "iam_inline_policy_allows_privilege_escalation",
    ),
    "delegated_admin_without_boundary": (),
    "scp_guardrails": (),
    "rcp_perimeter": (),
    "trail_intact": (),
    "access_analyzer_external": ("accessanalyzer_enabled", "accessanalyzer_enabled_without_findings"),
    "access_analyzer_unused": (),
}


def test_prowler_on_the_same_account(
    planted: tuple[Server, dict[str, str]], live: dict[str, Any], tmp_path: Path
) -> None:
    from tests.e2e.test_third_party_tools import tool_venv

    server, _ = planted
    venv = tool_venv("prowler", "prowler==5.46.0")
    env = _env(server)
    env.update(AWS_ENDPOINT_URL=server.endpoint, NO_COLOR="1")
    ran = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            _PROWLER,
            str(OFFSET),
            "aws",
            "--services",
            "iam",
            "accessanalyzer",
            "--profile",
            "iamd",
            "--region",
            REGION,
            "--no-banner",
            "--ignore-exit-code-3",
            "--output-formats",
            "json-ocsf",
            "--output-directory",
            str(tmp_path),
            "--output-filename",
            "prowler",
            "--log-level",
            "ERROR",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert ran.returncode == 0, (ran.stdout + ran.stderr)[-4000:]
    findings = json.loads((tmp_path / "prowler.ocsf.json").read_text())
    failed: dict[str, set[str]] = {}
    for item in findings:
        if item["status_code"] == "FAIL":
            failed.setdefault(item["metadata"]["event_code"], set()).update(
                r["uid"] for r in item["resources"]
            )
    ours = fired(live)
    rows = []
    for check, peers in PROWLER_PEERS.items():
        theirs = set().union(*(failed.get(p, set()) for p in peers)) if peers else set()
        rows.append((check, sorted(ours[check]), peers, sorted(theirs)))
    Path(os.environ.get("IAMD_REVIEW_COMPARISON", tmp_path / "comparison.json")).write_text(
        json.dumps(
            {
                "rows": rows,
                "prowler_failed": {k: sorted(v) for k, v in failed.items()},
                "sample": findings[0],
            },
            indent=1,
        )
    )
    theirs = {check: set(peer) for check, _, _, peer in rows}
    # Both find these, on the same resources (docs/review.md's table).
    for check in (
        "root_access_keys",
        "root_recent_use",
        "user_mfa",
        "user_direct_policies",
        "full_admin_policy",
        "access_key_rotation",
        "two_active_keys",
    ):
        assert theirs[check] == ours[check], (check, theirs[check], ours[check])
    # What Prowler 5.46 misses in the planted account.
    for check in (
        "privilege_escalation",
        "trust_any_principal",
        "oidc_trust_without_subject",
        "cross_account_trust_without_external_id",
        "unused_credentials",
        "service_wildcard_policy",
        "policy_validation",
        "delegated_admin_without_boundary",
    ):
        assert ours[check] and not theirs[check], (check, theirs[check])
    # What iamd leaves to Prowler: confused-deputy conditions on service trust policies.
    assert failed.get("iam_role_cross_service_confused_deputy_prevention") == {
        role("bad-fn-admin"),
        role("bad-passer"),
    }

    # iamd's OCSF findings carry the fields of Prowler's.
    _, ocsf = run_review(server, tmp_path, "--format", "ocsf", "--no-last-accessed")
    assert isinstance(ocsf, list) and ocsf
    prowler_fields = set(findings[0]) - {"unmapped"}
    assert prowler_fields <= set(ocsf[0]), prowler_fields - set(ocsf[0])
    for part in ("finding_info", "metadata", "cloud", "remediation"):
        assert set(findings[0][part]) <= set(ocsf[0][part]), (
            part,
            set(findings[0][part]) - set(ocsf[0][part]),
        )
    assert set(findings[0]["resources"][0]) <= set(ocsf[0]["resources"][0])
