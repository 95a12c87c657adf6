"""The access portal end to end: botocore's own ``sso-oidc`` and ``sso`` clients against a real
``iamd serve``, a person signing in to ``{base}/start`` (password, then an MFA device registered at
the first sign-in and asked at every sign-in) and approving the device authorization, the access
token listing the assigned accounts and roles and getting the provisioned role's credentials (the
user name as session name, the ABAC attribute as a session tag, the permission set's duration, the
member account's SCP applying), botocore's SSO credential provider reading a token cache file
written as the CLI writes it, SlowDown, expired and revoked (Logout) tokens refused, and the
authorization-code flow with PKCE redirecting back to a loopback listener.

Facts: /work/shared/spec/identity_center.md §5-§8."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pyotp
import pytest
import requests
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from tests.e2e.harness import REGION, Server, open_data_store, start_server, stop_server

from iamd.secrets.passwords import PasswordHashing
from iamd.services.identitycenter.identitystore.signin import set_password
from iamd.store.unit import UnitOfWork

PASSWORD = "Portal-Pass-42!"
USER = "pat.doe"
UNSIGNED_CONFIG = Config(signature_version=UNSIGNED, retries={"max_attempts": 1})
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass
class Setup:
    member: str
    instance: str
    store_id: str
    user_id: str
    permission_set: str


def _create_account(orgs: Any, name: str) -> str:
    status = orgs.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
    for _ in range(50):
        if status["State"] != "IN_PROGRESS":
            break
        status = orgs.describe_create_account_status(CreateAccountRequestId=status["Id"])[
            "CreateAccountStatus"
        ]
    assert status["State"] == "SUCCEEDED", status
    return str(status["AccountId"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("iamd") / "data")
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def setup(server: Server) -> Setup:
    orgs = server.client("organizations")
    orgs.create_organization()
    member = _create_account(orgs, "dev")
    # The member account's SCP: nobody there may list IAM users (the portal's role included).
    scp = orgs.create_policy(
        Name="no-list-users",
        Type="SERVICE_CONTROL_POLICY",
        Description="",
        Content=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "*", "Resource": "*"},
                    {"Effect": "Deny", "Action": "iam:ListUsers", "Resource": "*"},
                ],
            }
        ),
    )["Policy"]["PolicySummary"]["Id"]
    orgs.attach_policy(PolicyId=scp, TargetId=member)
    sso = server.client("sso-admin")
    instance = sso.create_instance(Name="main")["InstanceArn"]
    store_id = sso.describe_instance(InstanceArn=instance)["IdentityStoreId"]
    people = server.client("identitystore")
    user_id = people.create_user(
        IdentityStoreId=store_id,
        UserName=USER,
        DisplayName="Pat Doe",
        Name={"GivenName": "Pat", "FamilyName": "Doe"},
        Emails=[{"Value": "pat@example.com", "Type": "work", "Primary": True}],
        Title="Engineer",
    )["UserId"]
    sso.create_instance_access_control_attribute_configuration(
        InstanceArn=instance,
        InstanceAccessControlAttributeConfiguration={
            "AccessControlAttributes": [{"Key": "JobTitle", "Value": {"Source": ["${path:title}"]}}]
        },
    )
    permission_set = sso.create_permission_set(Name="Inspect", InstanceArn=instance, SessionDuration="PT2H")[
        "PermissionSet"
    ]["PermissionSetArn"]
    sso.put_inline_policy_to_permission_set(
        InstanceArn=instance,
        PermissionSetArn=permission_set,
        InlinePolicy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": ["iam:ListRoles", "iam:ListUsers"], "Resource": "*"},
                    {
                        "Effect": "Allow",
                        "Action": "iam:ListPolicies",
                        "Resource": "*",
                        "Condition": {"StringEquals": {"aws:PrincipalTag/JobTitle": "Engineer"}},
                    },
                    {
                        "Effect": "Allow",
                        "Action": "iam:ListGroups",
                        "Resource": "*",
                        "Condition": {"StringEquals": {"aws:PrincipalTag/JobTitle": "Manager"}},
                    },
                ],
            }
        ),
    )
    status = sso.create_account_assignment(
        InstanceArn=instance,
        TargetId=member,
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=permission_set,
        PrincipalType="USER",
        PrincipalId=user_id,
    )["AccountAssignmentCreationStatus"]
    for _ in range(50):
        if status["Status"] != "IN_PROGRESS":
            break
        status = sso.describe_account_assignment_creation_status(
            InstanceArn=instance, AccountAssignmentCreationRequestId=status["RequestId"]
        )["AccountAssignmentCreationStatus"]
    assert status["Status"] == "SUCCEEDED", status
    store = open_data_store(server)
    try:

        def give_password(uow: UnitOfWork) -> None:
            user = uow.identity_store.get_user(store_id, user_id)
            set_password(uow, PasswordHashing(), user, PASSWORD, now=datetime.now(UTC))

        store.run(give_password)
    finally:
        store.close()
    return Setup(member, instance, store_id, user_id, permission_set)


def oidc_client(endpoint: str) -> Any:
    return boto3.client("sso-oidc", endpoint_url=endpoint, region_name=REGION, config=UNSIGNED_CONFIG)


def portal_client(endpoint: str) -> Any:
    return boto3.client("sso", endpoint_url=endpoint, region_name=REGION, config=UNSIGNED_CONFIG)


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


# -- the portal, driven over HTTP as a browser would ------------------------------------------------


class Person:
    """A browser-like HTTP session with the portal (cookies, CSRF tokens from the pages)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.totp: pyotp.TOTP | None = None
        self.page = ""

    used_step = 0
    """The last TOTP time step given to the portal (shared: one device)."""

    def get(self, path: str) -> requests.Response:
        answer = self.http.get(self.base + path, timeout=30)
        self.page = answer.text
        return answer

    def csrf(self) -> str:
        found = re.search(r'<meta name="csrf-token" content="([^"]*)"', self.page)
        assert found, self.page
        return html.unescape(found.group(1))

    def post(self, path: str, **form: str) -> requests.Response:
        answer = self.http.post(
            self.base + path,
            data={"csrf": self.csrf(), **form},
            headers={"Origin": self.base},
            timeout=30,
        )
        self.page = answer.text
        return answer

    def code(self) -> str:
        """A code of a time step not used yet (the portal takes each step once)."""
        assert self.totp is not None
        step = int(time.time()) // 30
        while step <= Person.used_step:
            time.sleep(0.5)
            step = int(time.time()) // 30
        Person.used_step = step
        return self.totp.at(step * 30)

    def sign_in(self, next_path: str = "/start/", password: str = PASSWORD) -> requests.Response:
        answer = self.get(next_path)
        if 'id="signin-form"' not in self.page:
            return answer  # signed in already
        answer = self.post("/start/signin", username=USER, password=password)
        if "/register-mfa" in answer.url:
            seed = re.search(r'<code id="seed">([A-Z2-7]+)</code>', self.page)
            assert seed, self.page
            assert 'id="qr-code"' in self.page
            self.totp = pyotp.TOTP(seed.group(1))
            answer = self.post("/start/register-mfa/totp", name="phone", code=self.code())
        elif "/mfa" in answer.url:
            answer = self.post("/start/mfa", code=self.code())
        return answer


@pytest.fixture(scope="module")
def person(server: Server, setup: Setup) -> Person:
    return Person(server.endpoint)


def test_device_flow_with_botocores_clients_and_role_credentials(
    server: Server, setup: Setup, person: Person
) -> None:
    oidc = oidc_client(server.endpoint)
    client = oidc.register_client(
        clientName="botocore-client-dev", clientType="public", scopes=["sso:account:access"]
    )
    assert client["clientSecretExpiresAt"] - client["clientIdIssuedAt"] == 90 * 24 * 3600
    device = oidc.start_device_authorization(
        clientId=client["clientId"], clientSecret=client["clientSecret"], startUrl=f"{server.endpoint}/start"
    )
    assert re.fullmatch(r"[B-Z]{4}-[B-Z]{4}", device["userCode"])
    assert (
        device["verificationUriComplete"] == f"{server.endpoint}/start/device?user_code={device['userCode']}"
    )
    assert (device["expiresIn"], device["interval"]) == (600, 1)

    def create_token() -> dict[str, Any]:
        return dict(
            oidc.create_token(
                clientId=client["clientId"],
                clientSecret=client["clientSecret"],
                grantType=DEVICE_GRANT,
                deviceCode=device["deviceCode"],
            )
        )

    with pytest.raises(ClientError) as pending:
        create_token()
    assert code_of(pending) == "AuthorizationPendingException"
    assert pending.value.response["Error"]["Message"] == "Authorization is still pending"
    with pytest.raises(ClientError) as slow:
        create_token()  # sooner than the interval
    assert code_of(slow) == "SlowDownException"

    # The person opens the verification URL, signs in (registering an MFA device) and approves.
    answer = person.sign_in(
        urlsplit(device["verificationUriComplete"]).path + "?user_code=" + device["userCode"]
    )
    assert "/start/device" in answer.url and device["userCode"] in person.page
    assert "botocore-client-dev" in person.page
    done = person.post("/start/device", user_code=device["userCode"], decision="approve")
    assert "You can close this window and return to the terminal." in done.text

    time.sleep(6)  # the interval grew by five seconds after the SlowDown
    token = create_token()
    assert token["tokenType"] == "Bearer" and token["refreshToken"]
    assert 3500 <= token["expiresIn"] <= 3600  # an hour, with a refresh token
    with pytest.raises(ClientError) as again:
        create_token()  # a device code is exchanged once
    assert code_of(again) == "InvalidGrantException"

    portal = portal_client(server.endpoint)
    access_token = token["accessToken"]
    accounts = portal.list_accounts(accessToken=access_token)["accountList"]
    assert accounts == [{"accountId": setup.member, "accountName": "dev", "emailAddress": "dev@example.com"}]
    roles = portal.list_account_roles(accessToken=access_token, accountId=setup.member)["roleList"]
    assert roles == [{"roleName": "Inspect", "accountId": setup.member}]
    before = time.time()
    creds = portal.get_role_credentials(accessToken=access_token, accountId=setup.member, roleName="Inspect")[
        "roleCredentials"
    ]
    assert abs(creds["expiration"] / 1000 - (before + 7200)) < 60  # the permission set's PT2H

    keys = (creds["accessKeyId"], creds["secretAccessKey"], creds["sessionToken"])
    identity = server.client("sts", *keys).get_caller_identity()
    assert re.fullmatch(
        rf"arn:aws:sts::{setup.member}:assumed-role/AWSReservedSSO_Inspect_[0-9a-f]{{16}}/{re.escape(USER)}",
        identity["Arn"],
    )
    member_iam = server.client("iam", *keys)
    member_iam.list_roles(MaxItems=1)  # the permission set's policy
    with pytest.raises(ClientError) as denied:
        member_iam.list_users()  # the member account's SCP
    assert code_of(denied) == "AccessDenied" and "service control policy" in str(denied.value)
    # The person's title is the session tag JobTitle (the instance's ABAC attribute).
    member_iam.list_policies(MaxItems=1)
    with pytest.raises(ClientError) as not_a_manager:
        member_iam.list_groups()
    assert code_of(not_a_manager) == "AccessDenied"

    with pytest.raises(ClientError) as forbidden:
        portal.get_role_credentials(accessToken=access_token, accountId=setup.member, roleName="Admin")
    assert code_of(forbidden) == "ForbiddenException"

    # The refresh grant rotates the refresh token.
    refreshed = oidc.create_token(
        clientId=client["clientId"],
        clientSecret=client["clientSecret"],
        grantType="refresh_token",
        refreshToken=token["refreshToken"],
    )
    assert refreshed["accessToken"] != access_token
    with pytest.raises(ClientError) as reused:
        oidc.create_token(
            clientId=client["clientId"],
            clientSecret=client["clientSecret"],
            grantType="refresh_token",
            refreshToken=token["refreshToken"],
        )
    assert code_of(reused) == "InvalidGrantException"

    # Logout ends the portal session: every token of it is refused from then on.
    portal.logout(accessToken=refreshed["accessToken"])
    for dead in (access_token, refreshed["accessToken"]):
        with pytest.raises(ClientError) as refused:
            portal.list_accounts(accessToken=dead)
        assert code_of(refused) == "UnauthorizedException"
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 401
    # … and the browser's portal session too.
    assert 'id="signin-form"' in person.get("/start/").text


def test_sso_credential_provider_from_a_cached_token(
    server: Server, setup: Setup, person: Person, tmp_path: Path
) -> None:
    """botocore's SSO credential provider, configured as ``aws configure sso`` writes a profile,
    reading the token cache file as the CLI writes it (spec §7.2)."""
    oidc = oidc_client(server.endpoint)
    client = oidc.register_client(
        clientName="botocore-client-dev", clientType="public", scopes=["sso:account:access"]
    )
    device = oidc.start_device_authorization(
        clientId=client["clientId"], clientSecret=client["clientSecret"], startUrl=f"{server.endpoint}/start"
    )
    person.sign_in(f"/start/device?user_code={device['userCode']}")
    person.post("/start/device", user_code=device["userCode"], decision="approve")
    token = oidc.create_token(
        clientId=client["clientId"],
        clientSecret=client["clientSecret"],
        grantType=DEVICE_GRANT,
        deviceCode=device["deviceCode"],
    )
    home = tmp_path / "home"
    cache = home / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    expires = datetime.now(UTC) + timedelta(seconds=token["expiresIn"])
    (cache / (hashlib.sha1(b"dev-sso").hexdigest() + ".json")).write_text(
        json.dumps(
            {
                "startUrl": f"{server.endpoint}/start",
                "region": REGION,
                "accessToken": token["accessToken"],
                "expiresAt": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "clientId": client["clientId"],
                "clientSecret": client["clientSecret"],
                "registrationExpiresAt": datetime.fromtimestamp(
                    client["clientSecretExpiresAt"], UTC
                ).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "refreshToken": token["refreshToken"],
            }
        )
    )
    config = home / ".aws" / "config"
    config.write_text(
        f"""[profile dev]
sso_session = dev-sso
sso_account_id = {setup.member}
sso_role_name = Inspect
region = {REGION}

[sso-session dev-sso]
sso_start_url = {server.endpoint}/start
sso_region = {REGION}
sso_registration_scopes = sso:account:access
"""
    )
    # A process of its own, as the CLI is: botocore reads ~/.aws/sso/cache under HOME at import.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=str(home),
        AWS_CONFIG_FILE=str(config),
        AWS_SHARED_CREDENTIALS_FILE=str(home / ".aws" / "credentials"),
        AWS_PROFILE="dev",
        AWS_ENDPOINT_URL=server.endpoint,  # where botocore sends sso and sso-oidc (and sts) too
        AWS_EC2_METADATA_DISABLED="true",
    )
    script = "import json, boto3; print(json.dumps(boto3.client('sts').get_caller_identity()))"
    ran = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    identity = json.loads(ran.stdout.strip().splitlines()[-1])
    assert identity["Account"] == setup.member
    assert identity["Arn"].endswith(f"/{USER}") and "AWSReservedSSO_Inspect_" in identity["Arn"]


def test_mfa_is_asked_at_every_sign_in_and_a_wrong_code_refused(
    server: Server, setup: Setup, person: Person
) -> None:
    fresh = Person(server.endpoint)
    fresh.totp = person.totp  # the device registered at the first sign-in
    fresh.get("/start/")
    answer = fresh.post("/start/signin", username=USER, password=PASSWORD)
    assert answer.url.endswith("/start/mfa") and 'id="mfa-form"' in fresh.page
    refused = fresh.post("/start/mfa", code="000000")
    assert refused.status_code == 401 and "not valid" in refused.text
    assert fresh.http.cookies.get("iamd-portal") is None
    answer = fresh.post("/start/mfa", code=fresh.code())
    assert answer.status_code == 200 and 'id="accounts"' in fresh.page and setup.member in fresh.page
    wrong = Person(server.endpoint)
    wrong.get("/start/")
    bad = wrong.post("/start/signin", username=USER, password="not-it")
    assert bad.status_code == 401 and "incorrect" in bad.text


def test_the_portal_page_gives_credentials_to_copy(server: Server, setup: Setup, person: Person) -> None:
    fresh = Person(server.endpoint)
    fresh.totp = person.totp
    fresh.sign_in()
    answer = fresh.post("/start/credentials", account_id=setup.member, role_name="Inspect")
    exports = dict(re.findall(r'export (AWS_[A-Z_]+)="([^"]+)"', html.unescape(answer.text)))
    sts = server.client(
        "sts", exports["AWS_ACCESS_KEY_ID"], exports["AWS_SECRET_ACCESS_KEY"], exports["AWS_SESSION_TOKEN"]
    )
    assert sts.get_caller_identity()["Account"] == setup.member
    fresh.post("/start/signout")
    assert 'id="signin-form"' in fresh.get("/start/").text


def test_password_change_and_mfa_devices_in_the_portal(server: Server, setup: Setup, person: Person) -> None:
    fresh = Person(server.endpoint)
    fresh.totp = person.totp
    fresh.sign_in()
    fresh.get("/start/settings")
    assert fresh.page.count('class="device"') == 1
    seed = re.search(r'<code id="seed">([A-Z2-7]+)</code>', fresh.page)
    assert seed and 'id="qr-code"' in fresh.page
    second = pyotp.TOTP(seed.group(1))
    wrong = fresh.post("/start/settings/mfa/totp", name="tablet", code="000000")
    assert wrong.status_code == 400 and "not valid" in wrong.text
    added = fresh.post("/start/settings/mfa/totp", name="tablet", code=second.now())
    assert "was registered" in added.text and fresh.page.count('class="device"') == 2
    mismatch = fresh.post("/start/settings/password", current=PASSWORD, new="Another-Pass-43!", confirm="x")
    assert mismatch.status_code == 400 and "do not match" in mismatch.text
    weak = fresh.post("/start/settings/password", current=PASSWORD, new="weakweak", confirm="weakweak")
    assert weak.status_code == 400 and "upper-case" in weak.text
    changed = fresh.post(
        "/start/settings/password", current=PASSWORD, new="Another-Pass-43!", confirm="Another-Pass-43!"
    )
    assert "Your password was changed." in changed.text
    # The old password no longer signs in; the new one does (the tablet's codes are accepted).
    other = Person(server.endpoint)
    other.get("/start/")
    assert other.post("/start/signin", username=USER, password=PASSWORD).status_code == 401
    assert other.post("/start/signin", username=USER, password="Another-Pass-43!").url.endswith("/start/mfa")
    step = int(time.time()) // 30 + 1
    time.sleep(max(0.0, step * 30 - time.time()))  # the tablet's next code (the last one was used)
    assert 'id="accounts"' in other.post("/start/mfa", code=second.at(step * 30)).text
    # Back to the first password, and the tablet removed.
    fresh.post(
        "/start/settings/password", current="Another-Pass-43!", new=PASSWORD + "x", confirm=PASSWORD + "x"
    )
    ids = re.findall(r'name="device_id" value="([^"]+)"', fresh.get("/start/settings").text)
    fresh.post("/start/settings/mfa/remove", device_id=ids[-1])
    assert fresh.page.count('class="device"') == 1 and "was removed" in fresh.page
    store = open_data_store(server)
    try:

        def restore(uow: UnitOfWork) -> None:
            user = uow.identity_store.get_user(setup.store_id, setup.user_id)
            uow.identity_credentials.set_password_hash(
                user.id, PasswordHashing().hash(PASSWORD), changed_at=datetime.now(UTC)
            )

        store.run(restore)
    finally:
        store.close()


def test_expired_and_unknown_tokens_and_bad_clients_are_refused(server: Server, setup: Setup) -> None:
    portal = portal_client(server.endpoint)
    with pytest.raises(ClientError) as unknown:
        portal.list_accounts(accessToken="aoa" + secrets.token_urlsafe(40))
    assert code_of(unknown) == "UnauthorizedException"
    oidc = oidc_client(server.endpoint)
    with pytest.raises(ClientError) as bad_client:
        oidc.start_device_authorization(
            clientId="nobody", clientSecret="x", startUrl=f"{server.endpoint}/start"
        )
    assert code_of(bad_client) == "InvalidClientException"
    assert bad_client.value.response["ResponseMetadata"]["HTTPStatusCode"] == 401
    with pytest.raises(ClientError) as bad_type:
        oidc.register_client(clientName="x", clientType="confidential")
    assert code_of(bad_type) == "InvalidClientMetadataException"
    with pytest.raises(ClientError) as too_long:
        oidc.register_client(clientName="x" * 5000, clientType="public")
    assert code_of(too_long) == "InvalidRequestException"
    # An expired token: its row says it expired (the store's clock is the server's).
    client = oidc.register_client(clientName="expiring", clientType="public")
    store = open_data_store(server)
    try:

        def add(uow: UnitOfWork) -> None:
            from iamd.services.identitycenter.oidc import bearer_digest

            session = uow.sso_portal.add_session(
                session_id=str(uuid.uuid4()),
                secret_digest=bearer_digest(secrets.token_urlsafe(16)),
                instance_arn=setup.instance,
                store_id=setup.store_id,
                user_id=setup.user_id,
                user_name=USER,
                via="password",
                mfa=True,
                created_at=datetime.now(UTC) - timedelta(hours=2),
                expires_at=datetime.now(UTC) + timedelta(hours=6),
                source_ip="127.0.0.1",
            )
            uow.sso_portal.add_token(
                token_id=str(uuid.uuid4()),
                access_digest=bearer_digest("aoa-expired-token"),
                refresh_digest=None,
                client_id=client["clientId"],
                portal_session_id=session.id,
                scopes=[],
                created_at=datetime.now(UTC) - timedelta(hours=2),
                expires_at=datetime.now(UTC) - timedelta(hours=1),
                refresh_expires_at=None,
            )

        store.run(add)
    finally:
        store.close()
    with pytest.raises(ClientError) as expired:
        portal.list_accounts(accessToken="aoa-expired-token")
    assert code_of(expired) == "UnauthorizedException"


def test_authorization_code_with_pkce_redirects_to_the_loopback_listener(
    server: Server, setup: Setup, person: Person
) -> None:
    """The CLI ≥ 2.22 flow (spec §7.4): a registration with the portless loopback redirect, the
    browser at /authorize, the code back at the listener's port, CreateToken with the verifier."""
    oidc = oidc_client(server.endpoint)
    client = oidc.register_client(
        clientName="botocore-client-dev",
        clientType="public",
        grantTypes=["authorization_code", "refresh_token"],
        redirectUris=["http://127.0.0.1/oauth/callback"],
        issuerUrl=f"{server.endpoint}/start",
        scopes=["sso:account:access"],
    )
    assert client["authorizationEndpoint"] == f"{server.endpoint}/authorize"
    verifier = secrets.token_urlsafe(48)[:64]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    redirect = "http://127.0.0.1:51234/oauth/callback"
    state = str(uuid.uuid4())
    fresh = Person(server.endpoint)
    fresh.totp = person.totp
    query = (
        f"/authorize?response_type=code&client_id={client['clientId']}&redirect_uri=http%3A%2F%2F127.0.0.1%3A51234"
        f"%2Foauth%2Fcallback&state={state}&code_challenge_method=S256&scopes=sso%3Aaccount%3Aaccess"
        f"&code_challenge={challenge}"
    )
    fresh.sign_in(query)
    assert 'id="authorize-form"' in fresh.page
    assert (
        "form-action 'self' http://127.0.0.1:51234"
        in fresh.http.get(server.endpoint + query).headers["Content-Security-Policy"]
    )
    fields = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', fresh.page))
    fields = {k: html.unescape(v) for k, v in fields.items() if k != "csrf"}
    answer = fresh.http.post(
        server.endpoint + "/authorize",
        data={**fields, "csrf": fresh.csrf(), "decision": "approve"},
        headers={"Origin": server.endpoint},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 303
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect
    got = parse_qs(location.query)
    assert got["state"] == [state]
    with pytest.raises(ClientError) as wrong:
        oidc.create_token(
            clientId=client["clientId"],
            clientSecret=client["clientSecret"],
            grantType="authorization_code",
            code=got["code"][0],
            redirectUri=redirect,
            codeVerifier="x" * 64,
        )
    assert code_of(wrong) == "InvalidGrantException"
    token = oidc.create_token(
        clientId=client["clientId"],
        clientSecret=client["clientSecret"],
        grantType="authorization_code",
        code=got["code"][0],
        redirectUri=redirect,
        codeVerifier=verifier,
    )
    accounts = portal_client(server.endpoint).list_accounts(accessToken=token["accessToken"])["accountList"]
    assert [a["accountId"] for a in accounts] == [setup.member]


def test_portal_api_calls_name_the_person_on_the_trail(server: Server, setup: Setup) -> None:
    """The device-flow test's GetRoleCredentials, ListAccounts, ListAccountRoles and Logout are on
    the trail as IAM Identity Center records them: an IdentityCenterUser on behalf of the
    identity-store user, and LookupEvents finds them by the person's user name."""
    account = server.client("sts").get_caller_identity()["Account"]
    trail = server.client("cloudtrail")
    wanted = {"ListAccounts", "ListAccountRoles", "GetRoleCredentials", "Logout"}
    found: dict[str, dict[str, Any]] = {}
    for _ in range(50):
        events = trail.lookup_events(
            LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": USER}], MaxResults=50
        )["Events"]
        found = {e["EventName"]: json.loads(e["CloudTrailEvent"]) for e in events if e["EventName"] in wanted}
        if set(found) == wanted:
            break
        time.sleep(0.2)
    assert set(found) == wanted
    store_arn = f"arn:aws:identitystore::{account}:identitystore/{setup.store_id}"
    for name, record in found.items():
        who = record["userIdentity"]
        assert who["type"] == "IdentityCenterUser", name
        assert who["accountId"] == account
        assert who["onBehalfOf"] == {"userId": setup.user_id, "identityStoreArn": store_arn}
        assert who["credentialId"] and "accessKeyId" not in who
        assert record["eventSource"] == "portal.sso.amazonaws.com"


def test_unauthenticated_oidc_calls_are_on_the_trail(server: Server, setup: Setup) -> None:
    oidc = oidc_client(server.endpoint)
    with pytest.raises(ClientError):
        oidc.start_device_authorization(clientId="trail-probe", clientSecret="x", startUrl="http://x/start")
    trail = server.client("cloudtrail")
    for _ in range(50):
        events = trail.lookup_events(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "StartDeviceAuthorization"}]
        )["Events"]
        if events:
            break
        time.sleep(0.2)
    assert events and any(
        json.loads(e["CloudTrailEvent"]).get("errorCode") == "InvalidClientException" for e in events
    )


# -- in Chromium: the device flow approved by a person who signs in with a passkey ------------------

from tests.browser.conftest import screenshot  # noqa: E402  (browser and page: tests/conftest.py)


def _person_with_password(server: Server, setup: Setup, name: str) -> str:
    """Another person of the identity store, assigned the permission set in the member account."""
    people = server.client("identitystore")
    user_id = str(
        people.create_user(
            IdentityStoreId=setup.store_id,
            UserName=name,
            DisplayName=name,
            Name={"GivenName": "Sam", "FamilyName": "Lee"},
        )["UserId"]
    )
    sso = server.client("sso-admin")
    status = sso.create_account_assignment(
        InstanceArn=setup.instance,
        TargetId=setup.member,
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=setup.permission_set,
        PrincipalType="USER",
        PrincipalId=user_id,
    )["AccountAssignmentCreationStatus"]
    assert status["Status"] in ("SUCCEEDED", "IN_PROGRESS")
    store = open_data_store(server)
    try:

        def give_password(uow: UnitOfWork) -> None:
            user = uow.identity_store.get_user(setup.store_id, user_id)
            set_password(uow, PasswordHashing(), user, PASSWORD, now=datetime.now(UTC))

        store.run(give_password)
    finally:
        store.close()
    return user_id


def _virtual_authenticator(tab: Any) -> tuple[Any, str]:
    cdp = tab.context.new_cdp_session(tab)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "ctap2Version": "ctap2_1",
                "transport": "usb",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, str(added["authenticatorId"])


def _browser_sign_in(tab: Any, url: str, name: str) -> None:
    tab.goto(url)
    tab.fill("#username", name)
    tab.fill("#password", PASSWORD)
    tab.click("#sign-in")
    tab.wait_for_load_state()


def test_device_flow_approved_in_chromium_with_a_passkey(page: Any, server: Server, setup: Setup) -> None:
    name = "sam.lee"
    _person_with_password(server, setup, name)
    endpoint = server.endpoint.replace("127.0.0.1", "localhost")  # a secure context for WebAuthn
    oidc = oidc_client(endpoint)
    client = oidc.register_client(
        clientName="botocore-client-sam", clientType="public", scopes=["sso:account:access"]
    )
    device = oidc.start_device_authorization(
        clientId=client["clientId"], clientSecret=client["clientSecret"], startUrl=f"{endpoint}/start"
    )
    cdp, authenticator = _virtual_authenticator(page)

    # First sign-in: no MFA device yet, so one must be registered (here a security key).
    _browser_sign_in(page, device["verificationUriComplete"], name)
    page.wait_for_url("**/start/register-mfa")
    assert page.eval_on_selector("#qr-code", "img => img.naturalWidth") > 100
    assert re.fullmatch(r"[A-Z2-7]{32,}", page.inner_text("#seed").strip())
    screenshot(page, "portal-01-register-mfa")
    page.fill("#passkey-name", "sam-key")
    page.click("#register-passkey")
    page.wait_for_url("**/start/device?user_code=*")
    assert page.inner_text("#user-code") == device["userCode"]
    assert page.inner_text("#client-name") == "botocore-client-sam"
    screenshot(page, "portal-02-device-approval")
    page.click("#approve")
    page.wait_for_selector("#done")
    assert "return to the terminal" in page.inner_text("main")
    screenshot(page, "portal-03-device-approved")
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert len(stored) == 1 and stored[0]["rpId"] == "localhost"

    token = oidc.create_token(
        clientId=client["clientId"],
        clientSecret=client["clientSecret"],
        grantType=DEVICE_GRANT,
        deviceCode=device["deviceCode"],
    )
    portal = portal_client(endpoint)
    creds = portal.get_role_credentials(
        accessToken=token["accessToken"], accountId=setup.member, roleName="Inspect"
    )["roleCredentials"]
    keys = (creds["accessKeyId"], creds["secretAccessKey"], creds["sessionToken"])
    assert server.client("sts", *keys).get_caller_identity()["Arn"].endswith(f"/{name}")

    # The portal page: the account and its role; then sign out, and sign in again with the key.
    page.goto(f"{endpoint}/start/")
    assert setup.member in page.inner_text("#accounts") and "Inspect" in page.inner_text("#accounts")
    screenshot(page, "portal-04-accounts")
    page.click("#sign-out")
    page.wait_for_selector("#signin-form")
    _browser_sign_in(page, f"{endpoint}/start/", name)
    page.wait_for_url("**/start/mfa")
    screenshot(page, "portal-05-mfa")
    page.click("#use-passkey")
    page.wait_for_selector("#accounts")
    assert page.inner_text("#who") == name


# -- the AWS CLI v2 (Debian's awscli) ---------------------------------------------------------------

AWS_V2 = Path("/usr/bin/aws")


def _rules_to(endpoint: str, service: str, version: str, data: Path) -> None:
    """An endpoint rule set sending ``service`` to ``endpoint`` whatever the region, in a botocore
    data directory (``AWS_DATA_PATH``): the CLI 2.9 that Debian ships predates AWS_ENDPOINT_URL."""
    shipped = Path(
        f"/usr/lib/python3/dist-packages/awscli/botocore/data/{service}/{version}/endpoint-rule-set-1.json"
    )
    rules = json.loads(shipped.read_text())
    rules["rules"] = [
        {"conditions": [], "endpoint": {"url": endpoint, "properties": {}, "headers": {}}, "type": "endpoint"}
    ]
    target = data / service / version
    target.mkdir(parents=True, exist_ok=True)
    (target / "endpoint-rule-set-1.json").write_text(json.dumps(rules))


@pytest.mark.skipif(not AWS_V2.exists(), reason="Debian's awscli (AWS CLI v2) is not installed")
def test_aws_cli_v2_sso_login_and_logout(
    server: Server, setup: Setup, person: Person, tmp_path: Path
) -> None:
    version = subprocess.run([str(AWS_V2), "--version"], capture_output=True, text=True, timeout=60).stdout
    if not version.startswith("aws-cli/2."):
        pytest.skip(f"{AWS_V2} is not the AWS CLI v2: {version}")
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    data = tmp_path / "models"
    for service, api in (("sso-oidc", "2019-06-10"), ("sso", "2019-06-10"), ("sts", "2011-06-15")):
        _rules_to(server.endpoint, service, api, data)
    config = home / ".aws" / "config"
    config.write_text(
        f"""[profile dev]
sso_session = iamd
sso_account_id = {setup.member}
sso_role_name = Inspect
region = {REGION}

[sso-session iamd]
sso_start_url = {server.endpoint}/start
sso_region = {REGION}
sso_registration_scopes = sso:account:access
"""
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=str(home), AWS_CONFIG_FILE=str(config), AWS_DATA_PATH=str(data), AWS_EC2_METADATA_DISABLED="true"
    )
    login = subprocess.Popen(
        [str(AWS_V2), "sso", "login", "--profile", "dev", "--no-browser"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert login.stdout is not None
        shown = ""
        code = None
        deadline = time.monotonic() + 60
        while code is None and time.monotonic() < deadline:
            line = login.stdout.readline()
            shown += line
            found = re.search(r"\b([B-Z]{4}-[B-Z]{4})\b", line)
            code = found.group(1) if found else None
        assert code, shown
        assert f"{server.endpoint}/start/device" in shown
        person.sign_in(f"/start/device?user_code={code}")
        person.post("/start/device", user_code=code, decision="approve")
        out, _ = login.communicate(timeout=60)
    finally:
        if login.poll() is None:
            login.kill()
    assert login.returncode == 0, shown + (out or "")
    assert "Successfully logged into Start URL" in out
    cached = [json.loads(p.read_text()) for p in (home / ".aws" / "sso" / "cache").glob("*.json")]
    assert any("accessToken" in c and "refreshToken" in c for c in cached)
    whoami = subprocess.run(
        [str(AWS_V2), "sts", "get-caller-identity", "--profile", "dev", "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert whoami.returncode == 0, whoami.stderr
    assert json.loads(whoami.stdout)["Arn"].endswith(f"/{USER}")
    listed = subprocess.run(
        [
            str(AWS_V2),
            "sso",
            "list-accounts",
            "--profile",
            "dev",
            "--output",
            "json",
            "--access-token",
            next(c["accessToken"] for c in cached if "accessToken" in c),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0 and setup.member in listed.stdout, listed.stderr
    logout = subprocess.run(
        [str(AWS_V2), "sso", "logout", "--profile", "dev"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert logout.returncode == 0, logout.stderr
    token = next(c["accessToken"] for c in cached if "accessToken" in c)
    with pytest.raises(ClientError) as refused:
        portal_client(server.endpoint).list_accounts(accessToken=token)
    assert code_of(refused) == "UnauthorizedException"


def test_sign_in_failures_are_throttled_and_sign_ins_are_on_the_trail(server: Server, setup: Setup) -> None:
    guesser = Person(server.endpoint)
    guesser.get("/start/")
    statuses = [
        guesser.post("/start/signin", username="mallory", password=f"guess-{i}").status_code for i in range(5)
    ]
    assert statuses[:3] == [401, 401, 401] and 429 in statuses[3:]
    refused = guesser.post("/start/signin", username="mallory", password="again")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    trail = server.client("cloudtrail")
    records: list[dict[str, Any]] = []
    for _ in range(50):
        events = trail.lookup_events(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "UserAuthentication"}],
            MaxResults=50,
        )["Events"]
        records = [json.loads(e["CloudTrailEvent"]) for e in events]
        if any(r["userIdentity"].get("userName") == "mallory" for r in records):
            break
        time.sleep(0.2)
    failed = [r for r in records if r["userIdentity"].get("userName") == "mallory"]
    assert failed and all(r.get("errorMessage") == "Failed authentication" for r in failed)
    signed_in = [r for r in records if "errorMessage" not in r]
    account = server.client("sts").get_caller_identity()["Account"]
    store_arn = f"arn:aws:identitystore::{account}:identitystore/{setup.store_id}"
    assert signed_in and all(r["userIdentity"]["type"] == "IdentityCenterUser" for r in signed_in)
    assert any(
        r["userIdentity"]["onBehalfOf"] == {"userId": setup.user_id, "identityStoreArn": store_arn}
        and r["userIdentity"]["credentialId"]
        for r in signed_in
    )
    assert all(r["eventSource"] == "signin.amazonaws.com" for r in records)
