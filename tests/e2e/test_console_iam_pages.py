"""The console's IAM pages end to end (httpx with cookies): the dashboard, users, groups and roles
with their forms, switch role, and what a principal who may not read something is told — all
through the API's own handlers as the signed-in principal, checked afterwards with boto3."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from botocore.exceptions import ClientError
from tests.e2e.console_helpers import ConsoleAgent
from tests.e2e.harness import ACCOUNT_ID, Server, start_server, stop_server
from tests.e2e.mfa_helpers import STEP
from tests.e2e.policy_helpers import allow, policy

PASSWORD = "Pages-Pass-42!"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("iamd-console-pages") / "data")
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def iam(server: Server) -> Any:
    return server.client("iam")


@pytest.fixture
def agent(server: Server) -> Iterator[ConsoleAgent]:
    console = ConsoleAgent(server.endpoint)
    yield console
    console.close()


def admin(iam: Any, name: str) -> None:
    iam.create_user(UserName=name)
    iam.create_login_profile(UserName=name, Password=PASSWORD)
    iam.attach_user_policy(UserName=name, PolicyArn=ADMIN)


def signed_in(agent: ConsoleAgent, name: str) -> None:
    agent.sign_in(ACCOUNT_ID, name, PASSWORD)
    assert agent.path == "/console/home", agent.text


def test_console_link_redirects_to_the_sign_in(server: Server) -> None:
    agent = ConsoleAgent(server.endpoint)
    try:
        answer = agent.http.get("/console")
        assert answer.url.path == "/console/signin" and answer.status_code == 200
        assert 'id="sign-in"' in answer.text
    finally:
        agent.close()


def test_server_prints_the_console_url(server: Server) -> None:
    log = server.log.read_text()
    assert f"iamd: console at {server.endpoint}/console" in log


def test_navigation_breadcrumbs_and_principal(iam: Any, agent: ConsoleAgent) -> None:
    admin(iam, "pg-nav")
    signed_in(agent, "pg-nav")
    agent.get("/users")
    for entry in ("nav-dashboard", "nav-users", "nav-groups", "nav-roles", "nav-home", "nav-organization"):
        assert f'id="{entry}"' in agent.text, entry
    assert re.search(r'id="nav-users" aria-current="page"', agent.text)
    assert 'id="breadcrumbs"' in agent.text
    assert agent.field("who") == "pg-nav" and agent.field("account-shown") == f"Account {ACCOUNT_ID}"


def test_dashboard_counts_and_recommendations(iam: Any, agent: ConsoleAgent) -> None:
    admin(iam, "pg-dash")
    iam.create_user(UserName="pg-nomfa")
    iam.create_login_profile(UserName="pg-nomfa", Password=PASSWORD)
    signed_in(agent, "pg-dash")
    agent.get("/dashboard")
    users = len(iam.list_users()["Users"])
    assert re.search(rf'id="count-users"><span class="n">{users}</span>', agent.text)
    block = agent.text.split('id="rec-users-mfa"')[1].split("</li>\n")[0]
    assert 'data-ok="no"' in agent.text.split('id="rec-users-mfa"')[1][:40]
    assert "pg-nomfa" in block and "/users/pg-nomfa?tab=security" in block
    assert 'id="fix-users-mfa"' in agent.text
    assert 'id="rec-root-mfa"' in agent.text and 'id="rec-old-keys"' in agent.text
    agent.get("/users?filter=no-mfa")
    assert 'data-user="pg-nomfa"' in agent.text and 'data-user="pg-dash"' in agent.text


def test_a_principal_that_may_not_read_is_told_once(iam: Any, agent: ConsoleAgent) -> None:
    iam.create_user(UserName="pg-list-only")
    iam.create_login_profile(UserName="pg-list-only", Password=PASSWORD)
    iam.put_user_policy(
        UserName="pg-list-only", PolicyName="p", PolicyDocument=policy(allow(["iam:ListUsers"], "*"))
    )
    signed_in(agent, "pg-list-only")
    agent.get("/users")
    assert agent.page is not None and agent.page.status_code == 200
    assert agent.text.count('id="denied"') == 1
    notice = agent.text.split('id="denied"')[1].split("</div>")[0]
    assert "iam:ListGroupsForUser" in notice and "iam:ListMFADevices" in notice
    assert notice.count("iam:ListGroupsForUser") == 1  # once, not once per user
    assert 'data-user="pg-list-only"' in agent.text
    # A user's page whose every card is refused: one notice naming the operations, no card repeating it.
    agent.get("/users/pg-list-only?tab=security")
    assert agent.text.count('id="denied"') == 1 and "You may not" not in agent.text
    notice = agent.text.split('id="denied"')[1].split("</div>")[0]
    for action in ("iam:GetUser", "iam:ListAccessKeys", "iam:ListMFADevices", "iam:ListSSHPublicKeys"):
        assert notice.count(action) == 1, action
    assert agent.text.count("Not shown (see the note at the top of the page).") >= 5


def test_create_user_with_console_access_groups_tags_and_boundary(iam: Any, agent: ConsoleAgent) -> None:
    admin(iam, "pg-creator")
    iam.create_group(GroupName="pg-readers")
    signed_in(agent, "pg-creator")
    agent.get("/users/create")
    assert 'name="group:pg-readers"' in agent.text
    agent.post(
        "/users/create",
        {
            "name": "pg-new",
            "console": "on",
            "password_kind": "auto",
            "reset": "on",
            "group:pg-readers": "on",
            "tags": "team=blue\ncost=42",
            "boundary": "arn:aws:iam::aws:policy/ReadOnlyAccess",
        },
    )
    assert agent.page is not None and agent.page.status_code == 200, agent.text
    password = agent.field("created-password")
    assert password and len(password) == 20
    profile = iam.get_login_profile(UserName="pg-new")["LoginProfile"]
    assert profile["PasswordResetRequired"] is True
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName="pg-new")["Groups"]] == ["pg-readers"]
    assert {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName="pg-new")["Tags"]} == {
        "team": "blue",
        "cost": "42",
    }
    user = iam.get_user(UserName="pg-new")["User"]
    assert user["PermissionsBoundary"]["PermissionsBoundaryArn"] == "arn:aws:iam::aws:policy/ReadOnlyAccess"
    attached = [
        p["PolicyName"] for p in iam.list_attached_user_policies(UserName="pg-new")["AttachedPolicies"]
    ]
    assert attached == ["IAMUserChangePassword"]
    # The new user signs in with the shown password and must choose another.
    newcomer = ConsoleAgent(agent.endpoint)
    try:
        newcomer.sign_in(ACCOUNT_ID, "pg-new", password)
        assert newcomer.path == "/console/password", newcomer.text
    finally:
        newcomer.close()


def test_create_user_refused_input_says_what_to_do(iam: Any, agent: ConsoleAgent) -> None:
    admin(iam, "pg-bad")
    signed_in(agent, "pg-bad")
    agent.get("/users/create")
    agent.post("/users/create", {"name": "pg-bad"})  # exists
    assert agent.path == "/console/users/create"
    assert agent.error() is not None and agent.error().startswith("That name is taken. Choose another name.")


def test_user_tabs_and_key_rotation(iam: Any, agent: ConsoleAgent) -> None:
    admin(iam, "pg-tabs")
    iam.create_user(UserName="pg-subject")
    old = iam.create_access_key(UserName="pg-subject")["AccessKey"]["AccessKeyId"]
    signed_in(agent, "pg-tabs")
    for tab, marker in (
        ("permissions", 'id="attached-policies"'),
        ("groups", 'id="user-groups"'),
        ("tags", 'id="tags"'),
        ("security", 'id="user-keys"'),
        ("advisor", 'id="advisor"'),
    ):
        agent.get(f"/users/pg-subject?tab={tab}")
        assert agent.page is not None and agent.page.status_code == 200 and marker in agent.text, tab
        assert f'id="tab-{tab}" aria-current="page"' in agent.text
    agent.get("/users/pg-subject?tab=security")
    agent.post("/users/pg-subject/keys/rotate", {"id": old})
    new = agent.field("new-key-id")
    assert new and new != old and 'id="rotate-next"' in agent.text
    statuses = {
        k["AccessKeyId"]: k["Status"]
        for k in iam.list_access_keys(UserName="pg-subject")["AccessKeyMetadata"]
    }
    assert statuses == {old: "Active", new: "Active"}  # the old one stays active until deactivated
    agent.get("/users/pg-subject?tab=security")
    assert "starts failing" in agent.text  # the deactivate confirmation says what breaks
    agent.post("/users/pg-subject/keys/status", {"id": old, "status": "Inactive"})
    assert agent.message() == f"Access key {old} is now inactive."
    agent.post("/users/pg-subject/tags/add", {"key": "env", "value": "prod"})
    assert iam.list_user_tags(UserName="pg-subject")["Tags"] == [{"Key": "env", "Value": "prod"}]
    agent.post("/users/pg-subject/attach", {"arn": "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"})
    assert agent.message() == "Policy arn:aws:iam::aws:policy/job-function/ViewOnlyAccess attached."
    agent.post("/users/pg-subject/password", {"password_kind": "custom", "password": PASSWORD, "reset": "on"})
    assert iam.get_login_profile(UserName="pg-subject")["LoginProfile"]["PasswordResetRequired"] is True


def test_delete_user_needs_its_name_and_removes_everything(iam: Any, agent: ConsoleAgent) -> None:
    admin(iam, "pg-deleter")
    iam.create_user(UserName="pg-doomed")
    iam.create_login_profile(UserName="pg-doomed", Password=PASSWORD)
    iam.create_access_key(UserName="pg-doomed")
    iam.create_group(GroupName="pg-doomed-group")
    iam.add_user_to_group(UserName="pg-doomed", GroupName="pg-doomed-group")
    iam.put_user_policy(UserName="pg-doomed", PolicyName="x", PolicyDocument=policy(allow(["s3:*"], "*")))
    signed_in(agent, "pg-deleter")
    agent.get("/users/pg-doomed")
    assert "cannot be undone" in agent.text
    agent.post("/users/pg-doomed/delete", {"confirm": "wrong"})
    assert agent.error() == "Type the user name pg-doomed to confirm the deletion."
    iam.get_user(UserName="pg-doomed")
    agent.post("/users/pg-doomed/delete", {"confirm": "pg-doomed"})
    assert agent.message() == "User pg-doomed deleted."
    with pytest.raises(ClientError):
        iam.get_user(UserName="pg-doomed")


def test_groups_create_with_job_function_members_and_delete(iam: Any, agent: ConsoleAgent) -> None:
    admin(iam, "pg-grouper")
    iam.create_user(UserName="pg-member")
    signed_in(agent, "pg-grouper")
    agent.get("/groups")
    agent.post(
        "/groups/create",
        {"name": "pg-viewers", "policy": "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"},
    )
    assert agent.path == "/console/groups/pg-viewers" and agent.message() == (
        "Group pg-viewers created with arn:aws:iam::aws:policy/job-function/ViewOnlyAccess."
    )
    agent.post("/groups/pg-viewers/users/add", {"user": "pg-member"})
    assert [u["UserName"] for u in iam.get_group(GroupName="pg-viewers")["Users"]] == ["pg-member"]
    agent.get("/groups")
    row = agent.text.split('data-group="pg-viewers"')[1].split("</tr>")[0]
    assert ">1<" in row and "1 policy" in row
    agent.get("/groups/pg-viewers?tab=permissions")
    assert "ViewOnlyAccess" in agent.text
    agent.post("/groups/pg-viewers/delete", {"confirm": "pg-viewers"})
    assert agent.message() == "Group pg-viewers deleted."
    with pytest.raises(ClientError):
        iam.get_group(GroupName="pg-viewers")


def test_roles_trust_revoke_and_switch_role(server: Server, iam: Any, agent: ConsoleAgent) -> None:
    admin(iam, "pg-roler")
    signed_in(agent, "pg-roler")
    agent.get("/roles")
    agent.post(
        "/roles/create",
        {
            "name": "pg-auditor",
            "account": ACCOUNT_ID,
            "policy": "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
        },
    )
    assert agent.path == "/console/roles/pg-auditor", agent.text
    agent.get("/roles/pg-auditor?tab=trust")
    assert f"AWS: account {ACCOUNT_ID}" in agent.text and 'id="trust-document"' in agent.text
    agent.get("/roles")
    assert 'data-role="pg-auditor"' in agent.text
    # Switch into the role: the header shows it, and what the console does is the role's.
    agent.get("/roles/pg-auditor")
    link = re.search(r'href="/console(/switch-role\?[^"]+)" id="switch-role-link"', agent.text)
    assert link is not None
    agent.get(link.group(1).replace("&amp;", "&"))
    assert f'value="{ACCOUNT_ID}"' in agent.text and 'value="pg-auditor"' in agent.text
    agent.post("/switch-role", {"account": ACCOUNT_ID, "role": "pg-auditor", "display": "Auditor"})
    assert agent.path == "/console/dashboard", agent.text
    assert agent.field("role-session") == "Auditor" and 'id="switch-back"' in agent.text
    agent.get("/users")
    assert 'data-user="pg-roler"' in agent.text  # ViewOnlyAccess lists users
    agent.get("/home")
    assert 'id="in-role"' in agent.text and 'id="new-key"' not in agent.text
    agent.get("/groups")
    agent.post("/groups/create", {"name": "pg-as-role"})
    assert agent.error() is not None and agent.error().startswith("You don't have permission")
    # Back to the user, whose administrator rights return.
    agent.post("/switch-role/back", {})
    assert agent.path == "/console/home" and agent.message() == "You are back as pg-roler."
    assert 'id="switch-back"' not in agent.text
    # Revoking the role's sessions denies a session switched into before.
    agent.post("/switch-role", {"account": ACCOUNT_ID, "role": "pg-auditor"})
    assert agent.field("role-session") == f"pg-auditor @ {ACCOUNT_ID}"
    other = ConsoleAgent(agent.endpoint)
    try:
        signed_in(other, "pg-roler")
        other.get("/roles/pg-auditor?tab=sessions")
        assert "denied every request" in other.text
        other.post("/roles/pg-auditor/revoke", {})
        assert other.message() is not None and "are revoked" in other.message()
        names = iam.list_role_policies(RoleName="pg-auditor")["PolicyNames"]
        assert names == ["AWSRevokeOlderSessions"]
    finally:
        other.close()
    agent.get("/users")
    assert 'id="denied"' in agent.text and "iam:ListUsers" in agent.text


def test_switch_role_refused_says_why(iam: Any, agent: ConsoleAgent) -> None:
    admin(iam, "pg-noswitch")
    iam.create_role(
        RoleName="pg-closed",
        AssumeRolePolicyDocument=policy(
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ),
    )
    signed_in(agent, "pg-noswitch")
    agent.get("/switch-role")
    agent.post("/switch-role", {"account": ACCOUNT_ID, "role": "pg-closed"})
    assert agent.path == "/console/switch-role" and agent.error() is not None
    assert agent.field("role-session") is None
    agent.post("/switch-role", {"account": "12", "role": "pg-closed"})
    assert agent.error() is not None and "12-digit account ID" in agent.error()


def test_role_session_expiry_returns_to_the_user(iam: Any, agent: ConsoleAgent) -> None:
    """A switched-into role whose session is gone (the role deleted) sends the person back to
    their own identity, not out of the console."""
    admin(iam, "pg-expiry")
    iam.create_role(
        RoleName="pg-brief",
        AssumeRolePolicyDocument=policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                "Action": "sts:AssumeRole",
            }
        ),
    )
    iam.attach_role_policy(RoleName="pg-brief", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    signed_in(agent, "pg-expiry")
    agent.get("/switch-role")
    agent.post("/switch-role", {"account": ACCOUNT_ID, "role": "pg-brief"})
    assert agent.field("role-session") is not None, agent.error()
    iam.detach_role_policy(RoleName="pg-brief", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    iam.delete_role(RoleName="pg-brief")
    agent.get("/users")
    assert agent.path == "/console/home" and agent.error() is not None and "ended" in agent.error()
    assert 'id="switch-back"' not in agent.text and agent.field("who") == "pg-expiry"


def test_switch_role_into_another_account(server: Server, iam: Any, agent: ConsoleAgent) -> None:
    """As AWS's cross-account switch role: the management account's administrator switches into a
    member account's OrganizationAccountAccessRole; the pages are then the member account's."""
    orgs = server.client("organizations")
    orgs.create_organization()
    request = orgs.create_account(AccountName="pages-member", Email="pages-member@example.com")
    status = request["CreateAccountStatus"]
    for _ in range(100):
        status = orgs.describe_create_account_status(CreateAccountRequestId=status["Id"])[
            "CreateAccountStatus"
        ]
        if status["State"] != "IN_PROGRESS":
            break
        time.sleep(0.1)
    assert status["State"] == "SUCCEEDED", status
    member = status["AccountId"]
    admin(iam, "pg-crosser")
    signed_in(agent, "pg-crosser")
    agent.get(f"/switch-role?account={member}&role=OrganizationAccountAccessRole")
    agent.post(
        "/switch-role", {"account": member, "role": "OrganizationAccountAccessRole", "display": "Member"}
    )
    assert agent.path == "/console/dashboard", agent.error()
    assert agent.field("role-session") == "Member" and agent.field("dashboard-account") == member
    agent.get("/roles")
    assert 'data-role="OrganizationAccountAccessRole"' in agent.text
    agent.get("/users")
    assert 'data-user="pg-crosser"' not in agent.text  # the member account's users, not the management's
    agent.post("/switch-role/back", {})
    agent.get("/users")
    assert 'data-user="pg-crosser"' in agent.text


def test_administrator_assigns_an_authenticator_app_to_a_user(iam: Any, agent: ConsoleAgent) -> None:
    admin(iam, "pg-mfa-admin")
    iam.create_user(UserName="pg-mfa-user")
    signed_in(agent, "pg-mfa-admin")
    agent.get("/users/pg-mfa-user?tab=security")
    agent.post("/users/pg-mfa-user/mfa/create", {"device": "pg-mfa-user-app"})
    seed = re.search(r'<code id="seed">([A-Z2-7]+)</code>', agent.text)
    assert seed is not None and 'id="qr-code"' in agent.text, agent.text
    serial = f"arn:aws:iam::{ACCOUNT_ID}:mfa/pg-mfa-user-app"
    agent.post("/users/pg-mfa-user/mfa/enable", {"serial": serial, "code1": "000000", "code2": "000000"})
    assert agent.page is not None and agent.page.status_code == 200
    assert agent.error() is not None and agent.error().startswith("The MFA codes were not accepted.")
    totp = pyotp.TOTP(seed.group(1))
    now = time.time()
    agent.post(
        "/users/pg-mfa-user/mfa/enable",
        {"serial": serial, "code1": totp.at(now - STEP), "code2": totp.at(now)},
    )
    assert agent.message() == "MFA device assigned to pg-mfa-user.", agent.error()
    assert [d["SerialNumber"] for d in iam.list_mfa_devices(UserName="pg-mfa-user")["MFADevices"]] == [serial]
    assert serial in agent.text and "policies requiring MFA deny" in agent.text
