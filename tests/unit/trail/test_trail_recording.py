"""From requests to events (iamd.services.cloudtrail.recording): identities of every kind of
caller and session, read-only and responseElements as AWS sets them, error codes, resources,
the second event of a cross-account AssumeRole, and what a failed authentication claims."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from iamd.authz import Principal, PrincipalKind
from iamd.services.cloudtrail.recording import (
    Recorder,
    error_code,
    identity_for,
    identity_for_session,
    is_read_only,
)
from iamd.services.framework import Caller, RequestInfo
from iamd.services.sts.tokens import FEDERATED, ROLE, USER, Session, SessionCaller
from iamd.store.audit import AuditEvent
from iamd.wire import AccessDenied, InvalidClientTokenId, NoSuchEntity, ServiceCatalog, ValidationError

ACCOUNT = "111111111111"
OTHER = "222222222222"
T = datetime(2026, 7, 8, 9, 10, 11, tzinfo=UTC)
CATALOG = ServiceCatalog()
INFO = RequestInfo("req-1", "iam", "X", "eu-west-1", "10.1.2.3", "ua/1", False, T)


class Collecting:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def submit(self, events: Sequence[AuditEvent]) -> None:
        self.events.extend(events)

    def submit_later(self, build: Any) -> None:
        self.events.extend(build())

    def notify(self) -> None:
        pass

    def flush(self, timeout: float = 5.0) -> bool:
        return True


def user_caller() -> Caller:
    arn = f"arn:aws:iam::{ACCOUNT}:user/alice"
    return Caller(
        principal=Principal(PrincipalKind.USER, arn, ACCOUNT),
        account_id=ACCOUNT,
        principal_type="User",
        unique_id="AIDAALICE",
        arn=arn,
        access_key_id="AKIAALICE",
        user_id="AIDAALICE",
        user_name="alice",
    )


def role_session(account: str = ACCOUNT) -> Session:
    return Session(
        kind=ROLE,
        account_id=account,
        access_key_id="ASIAROLE",
        secret_access_key="secret",
        issued_at=int(T.timestamp()),
        expires_at=int(T.timestamp()) + 3600,
        role_id="AROAROLE",
        role_name="deployer",
        role_path="/ci/",
        session_name="build-7",
        mfa=True,
        source_identity="alice",
    )


def events_of(
    ref_service: str, operation: str, caller: Caller | None, params: Any, output: Any, error: Any = None
) -> list[dict[str, Any]]:
    recorder = Recorder(Collecting(), None)  # type: ignore[arg-type]
    ref = CATALOG.operation_ref(ref_service, operation)
    events = recorder.events(ref, INFO, caller, params, output, error)
    return [{"event": e, "record": json.loads(e.record)} for e in events]


def test_an_iam_user() -> None:
    identity = identity_for(user_caller())
    assert identity.to_json() == {
        "type": "IAMUser",
        "principalId": "AIDAALICE",
        "arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
        "accountId": ACCOUNT,
        "accessKeyId": "AKIAALICE",
        "userName": "alice",
    }
    assert (identity.entity_id, identity.lookup_name) == ("AIDAALICE", "alice")


def test_a_role_session() -> None:
    session = role_session()
    caller = SessionCaller(
        principal=Principal(PrincipalKind.ASSUMED_ROLE, session.arn, ACCOUNT),
        account_id=ACCOUNT,
        principal_type="AssumedRole",
        unique_id=session.unique_id,
        arn=session.role_arn,
        access_key_id=session.access_key_id,
        role_id=session.role_id,
        session=session,
    )
    identity = identity_for(caller)
    as_json = identity.to_json()
    assert as_json["type"] == "AssumedRole"
    assert as_json["principalId"] == "AROAROLE:build-7"
    assert as_json["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/build-7"
    assert as_json["sessionContext"] == {
        "sessionIssuer": {
            "type": "Role",
            "principalId": "AROAROLE",
            "arn": f"arn:aws:iam::{ACCOUNT}:role/ci/deployer",
            "accountId": ACCOUNT,
            "userName": "deployer",
        },
        "webIdFederationData": {},
        "attributes": {"creationDate": "2026-07-08T09:10:11Z", "mfaAuthenticated": "true"},
        "sourceIdentity": "alice",
    }
    assert identity.entity_id == "AROAROLE" and identity.lookup_name == "build-7"


def test_federated_and_user_sessions() -> None:
    federated = Session(
        kind=FEDERATED,
        account_id=ACCOUNT,
        access_key_id="ASIAFED",
        secret_access_key="s",
        issued_at=int(T.timestamp()),
        expires_at=int(T.timestamp()) + 3600,
        session_name="partner",
        user_id="AIDAALICE",
        user_name="alice",
        user_path="/",
    )
    as_json = identity_for_session(federated).to_json()
    assert as_json["type"] == "FederatedUser"
    assert as_json["arn"] == f"arn:aws:sts::{ACCOUNT}:federated-user/partner"
    assert as_json["sessionContext"]["sessionIssuer"]["type"] == "IAMUser"
    assert as_json["sessionContext"]["sessionIssuer"]["userName"] == "alice"
    user = Session(
        kind=USER,
        account_id=ACCOUNT,
        access_key_id="ASIAUSER",
        secret_access_key="s",
        issued_at=int(T.timestamp()),
        expires_at=int(T.timestamp()) + 3600,
        user_id="AIDAALICE",
        user_name="alice",
        user_path="/",
        mfa=True,
    )
    as_json = identity_for_session(user).to_json()
    assert as_json["type"] == "IAMUser" and as_json["accessKeyId"] == "ASIAUSER"
    assert as_json["sessionContext"] == {
        "attributes": {"creationDate": "2026-07-08T09:10:11Z", "mfaAuthenticated": "true"}
    }


def test_read_only() -> None:
    assert is_read_only("iam", "GetUser") and is_read_only("iam", "ListUsers")
    assert is_read_only("sts", "AssumeRole") and is_read_only("cloudtrail", "LookupEvents")
    assert not is_read_only("iam", "CreateUser") and not is_read_only("iam", "TagUser")


def test_a_read_has_no_response_elements_and_iam_is_global() -> None:
    output = {"User": {"Path": "/", "UserName": "bob", "UserId": "AIDABOB", "Arn": "arn", "CreateDate": T}}
    (only,) = events_of("iam", "GetUser", user_caller(), {"UserName": "bob"}, output)
    record = only["record"]
    assert record["readOnly"] is True and record["responseElements"] is None
    assert record["requestParameters"] == {"userName": "bob"}
    assert record["awsRegion"] == "us-east-1"  # IAM is global
    assert record["sourceIPAddress"] == "10.1.2.3" and record["userAgent"] == "ua/1"
    assert record["requestID"] == "req-1"
    event = only["event"]
    assert (event.service, event.entity_id, event.counts_as_access) == ("iam", "AIDAALICE", True)
    assert event.resources == (("AWS::IAM::User", "bob"),)


def test_errors() -> None:
    ref = CATALOG.operation_ref("iam", "GetUser")
    assert error_code(ref, AccessDenied("no")) == "AccessDenied"
    assert error_code(ref, NoSuchEntity("none")) == "NoSuchEntityException"
    assert error_code(ref, ValidationError("bad")) == "ValidationException"
    assert error_code(ref, InvalidClientTokenId()) == "InvalidClientTokenId"
    (denied,) = events_of(
        "iam", "CreateUser", user_caller(), {"UserName": "x"}, None, AccessDenied("not you")
    )
    assert denied["record"]["errorCode"] == "AccessDenied"
    assert denied["record"]["errorMessage"] == "not you"
    assert denied["record"]["responseElements"] is None
    assert denied["event"].counts_as_access is False  # denied calls do not feed last-accessed data
    (missing,) = events_of("iam", "GetUser", user_caller(), {"UserName": "x"}, None, NoSuchEntity("none"))
    assert missing["event"].counts_as_access is True


def test_sts_credentials_are_recorded_with_their_secrets_hidden() -> None:
    output = {
        "Credentials": {
            "AccessKeyId": "ASIANEW",
            "SecretAccessKey": "sk",
            "SessionToken": "tok",
            "Expiration": T,
        },
        "AssumedRoleUser": {"AssumedRoleId": "AROAROLE:s", "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s"},
    }
    params = {"RoleArn": f"arn:aws:iam::{ACCOUNT}:role/r", "RoleSessionName": "s"}
    (only,) = events_of("sts", "AssumeRole", user_caller(), params, output)
    record = only["record"]
    assert record["eventSource"] == "sts.amazonaws.com" and record["awsRegion"] == "eu-west-1"
    assert record["readOnly"] is True
    assert record["responseElements"]["credentials"]["sessionToken"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
    assert '"sk"' not in only["event"].record and '"tok"' not in only["event"].record
    assert ("AWS::STS::AssumedRole", f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s") in only["event"].resources


def test_assuming_another_accounts_role_is_recorded_in_both_accounts() -> None:
    params = {"RoleArn": f"arn:aws:iam::{OTHER}:role/r", "RoleSessionName": "s"}
    mine, theirs = events_of("sts", "AssumeRole", user_caller(), params, {})
    assert mine["record"]["recipientAccountId"] == ACCOUNT
    assert mine["record"]["userIdentity"]["type"] == "IAMUser"
    assert theirs["record"]["recipientAccountId"] == OTHER
    assert theirs["record"]["userIdentity"] == {
        "type": "AWSAccount",
        "principalId": "AIDAALICE",
        "accountId": ACCOUNT,
        "accessKeyId": "AKIAALICE",
    }
    assert theirs["event"].entity_id is None
    assert mine["record"]["eventID"] != theirs["record"]["eventID"]
    assert mine["record"]["requestID"] == theirs["record"]["requestID"]


def test_web_identity_callers() -> None:
    output = {
        "SubjectFromWebIdentityToken": "user-7",
        "Audience": "app",
        "Provider": "accounts.example.com",
        "AssumedRoleUser": {"AssumedRoleId": "AROA:s", "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s"},
    }
    params = {"RoleArn": f"arn:aws:iam::{ACCOUNT}:role/r", "RoleSessionName": "s", "WebIdentityToken": "jwt"}
    anonymous = Caller(
        principal=Principal.anonymous(),
        account_id="",
        principal_type="Anonymous",
        unique_id="anonymous",
        arn="*",
    )
    (only,) = events_of("sts", "AssumeRoleWithWebIdentity", anonymous, params, output)
    identity = only["record"]["userIdentity"]
    assert identity["type"] == "WebIdentityUser" and identity["userName"] == "user-7"
    assert identity["identityProvider"] == "accounts.example.com"
    assert only["record"]["recipientAccountId"] == ACCOUNT
    assert only["record"]["requestParameters"]["webIdentityToken"] == "HIDDEN_DUE_TO_SECURITY_REASONS"


def test_sign_in_events() -> None:
    writer = Collecting()
    recorder = Recorder(writer, None)  # type: ignore[arg-type]
    recorder.sign_in(
        account_id=ACCOUNT,
        at=T,
        source_ip="1.2.3.4",
        user_agent="Mozilla",
        success=False,
        user_id="AIDAALICE",
        user_name="alice",
        user_arn=f"arn:aws:iam::{ACCOUNT}:user/alice",
    )
    (event,) = writer.events
    record = json.loads(event.record)
    assert (event.event_name, event.event_source, event.username) == (
        "ConsoleLogin",
        "signin.amazonaws.com",
        "alice",
    )
    assert record["eventType"] == "AwsConsoleSignIn"
    assert record["responseElements"] == {"ConsoleLogin": "Failure"}
