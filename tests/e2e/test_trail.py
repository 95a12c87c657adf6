"""The audit trail end to end: calls by several principals (an IAM user, a role session, the
bootstrap administrator) appear in CloudTrail's LookupEvents with AWS's record format, denied calls
and failed authentication too, and no secret appears anywhere: not in any CloudTrailEvent, not in
the trail files (``--trail-dir``), not in ``iamd trail``'s output."""

from __future__ import annotations

import base64
import gzip
import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.e2e.harness import ACCOUNT_ID, REGION, Server, start_server, stop_server

from iamd.services.sts.mfa import STEP, totp

PASSWORD = "Trail-Test-Passw0rd!"
NEW_PASSWORD = "Trail-Test-Passw0rd-2!"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
EVENT_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
ELEMENT_TIME = re.compile(r"[A-Z][a-z]{2} \d{1,2}, \d{4} \d{1,2}:\d\d:\d\d [AP]M")
HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response = exc.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("iamd-trail")
    running = start_server(base / "data", "--trail-dir", str(base / "trail"), "--trail-interval", "1")
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def iam(server: Server) -> Any:
    return server.client("iam")


@pytest.fixture(scope="module")
def trail(server: Server) -> Any:
    return server.client("cloudtrail")


@pytest.fixture(scope="module")
def secrets() -> list[str]:
    """Every secret the tests hand out or send: none may appear on the trail."""
    return []


@pytest.fixture(scope="module")
def alice(server: Server, iam: Any, secrets: list[str]) -> dict[str, Any]:
    """An IAM user who may read IAM, assume the trail role and look up the trail."""
    iam.create_user(UserName="trail-alice")
    iam.put_user_policy(
        UserName="trail-alice",
        PolicyName="reader",
        PolicyDocument=doc(allow(["iam:Get*", "iam:List*", "sts:AssumeRole", "sts:GetSessionToken"])),
    )
    key = iam.create_access_key(UserName="trail-alice")["AccessKey"]
    secrets.append(key["SecretAccessKey"])
    iam.create_role(
        RoleName="trail-role",
        AssumeRolePolicyDocument=doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:user/trail-alice"},
                "Action": "sts:AssumeRole",
            }
        ),
    )
    iam.put_role_policy(
        RoleName="trail-role", PolicyName="lister", PolicyDocument=doc(allow("iam:ListUsers"))
    )
    return {
        "key": key,
        "iam": server.client("iam", key["AccessKeyId"], key["SecretAccessKey"]),
        "sts": server.client("sts", key["AccessKeyId"], key["SecretAccessKey"]),
    }


def lookup(
    trail: Any, key: str | None = None, value: str | None = None, **extra: Any
) -> list[dict[str, Any]]:
    """Every event matching one lookup attribute, newest first (all pages)."""
    params: dict[str, Any] = dict(extra)
    if key is not None:
        params["LookupAttributes"] = [{"AttributeKey": key, "AttributeValue": value}]
    events: list[dict[str, Any]] = []
    while True:
        page = trail.lookup_events(**params)
        events.extend(page["Events"])
        if "NextToken" not in page:
            return events
        params["NextToken"] = page["NextToken"]


def records(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [json.loads(e["CloudTrailEvent"]) for e in events]


def one(trail: Any, name: str, user: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The newest event ``name`` by ``user``, and its record."""
    for event in lookup(trail, "Username", user):
        if event["EventName"] == name:
            return event, json.loads(event["CloudTrailEvent"])
    raise AssertionError(f"no {name} by {user} on the trail")


def check_common(record: dict[str, Any], *, source: str, name: str, read_only: bool) -> None:
    assert record["eventVersion"] == "1.10"
    assert EVENT_TIME.fullmatch(record["eventTime"])
    assert record["eventSource"] == source
    assert record["eventName"] == name
    assert record["awsRegion"] == REGION
    assert record["sourceIPAddress"] == "127.0.0.1"
    assert record["userAgent"].startswith("Boto3/")
    assert UUID.fullmatch(record["requestID"]) and UUID.fullmatch(record["eventID"])
    assert record["readOnly"] is read_only
    assert record["eventType"] == "AwsApiCall"
    assert record["managementEvent"] is True
    assert record["eventCategory"] == "Management"
    assert record["recipientAccountId"] == ACCOUNT_ID


# -- calls by several principals -----------------------------------------------------------------


def test_an_iam_user_read_is_recorded_with_its_identity(alice: dict[str, Any], trail: Any) -> None:
    answer = alice["iam"].get_user()
    event, record = one(trail, "GetUser", "trail-alice")
    check_common(record, source="iam.amazonaws.com", name="GetUser", read_only=True)
    user = answer["User"]
    assert record["userIdentity"] == {
        "type": "IAMUser",
        "principalId": user["UserId"],
        "arn": user["Arn"],
        "accountId": ACCOUNT_ID,
        "accessKeyId": alice["key"]["AccessKeyId"],
        "userName": "trail-alice",
    }
    assert record["requestID"] == answer["ResponseMetadata"]["RequestId"]
    assert record["requestParameters"] is None  # GetUser without parameters
    assert record["responseElements"] is None  # read-only calls have none, as in AWS
    assert "errorCode" not in record
    # The Events[] entry mirrors the record.
    assert event["EventId"] == record["eventID"]
    assert event["ReadOnly"] == "true"
    assert event["AccessKeyId"] == alice["key"]["AccessKeyId"]
    assert event["EventSource"] == "iam.amazonaws.com"
    assert event["Username"] == "trail-alice"
    assert abs(event["EventTime"] - datetime.now(UTC)) < timedelta(minutes=5)


def test_a_write_is_recorded_with_parameters_and_response(iam: Any, trail: Any) -> None:
    created = iam.create_user(UserName="trail-written", Tags=[{"Key": "team", "Value": "audit"}])["User"]
    event, record = one(trail, "CreateUser", "iamd-admin")
    check_common(record, source="iam.amazonaws.com", name="CreateUser", read_only=False)
    assert record["userIdentity"]["type"] == "IAMUser"
    assert record["userIdentity"]["userName"] == "iamd-admin"
    assert record["requestParameters"] == {
        "userName": "trail-written",
        "tags": [{"key": "team", "value": "audit"}],
    }
    user = record["responseElements"]["user"]
    assert user["userName"] == "trail-written"
    assert user["userId"] == created["UserId"]
    assert user["arn"] == created["Arn"]
    assert user["path"] == "/"
    assert ELEMENT_TIME.fullmatch(user["createDate"])
    assert {"ResourceType": "AWS::IAM::User", "ResourceName": "trail-written"} in event["Resources"]
    assert event["ReadOnly"] == "false"


def test_a_role_session_is_recorded_as_an_assumed_role(alice: dict[str, Any], trail: Any) -> None:
    role_arn = f"arn:aws:iam::{ACCOUNT_ID}:role/trail-role"
    assumed = alice["sts"].assume_role(RoleArn=role_arn, RoleSessionName="trail-session")
    creds = assumed["Credentials"]
    session = boto_client_for(alice, creds)
    session.list_users()

    # The AssumeRole call itself, by alice, on sts.amazonaws.com, with its response (secret hidden).
    _, record = one(trail, "AssumeRole", "trail-alice")
    check_common(record, source="sts.amazonaws.com", name="AssumeRole", read_only=True)
    assert record["requestParameters"] == {"roleArn": role_arn, "roleSessionName": "trail-session"}
    credentials = record["responseElements"]["credentials"]
    assert credentials["accessKeyId"] == creds["AccessKeyId"]
    assert credentials["secretAccessKey"] == HIDDEN
    assert credentials["sessionToken"] == HIDDEN
    assert ELEMENT_TIME.fullmatch(credentials["expiration"])
    assert record["responseElements"]["assumedRoleUser"]["arn"] == assumed["AssumedRoleUser"]["Arn"]

    # The session's call: an AssumedRole identity with its session context.
    event, record = one(trail, "ListUsers", "trail-session")
    role_id = assumed["AssumedRoleUser"]["AssumedRoleId"].split(":")[0]
    identity = record["userIdentity"]
    assert identity["type"] == "AssumedRole"
    assert identity["principalId"] == f"{role_id}:trail-session"
    assert identity["arn"] == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/trail-role/trail-session"
    assert identity["accountId"] == ACCOUNT_ID
    assert identity["accessKeyId"] == creds["AccessKeyId"]
    context = identity["sessionContext"]
    assert context["sessionIssuer"] == {
        "type": "Role",
        "principalId": role_id,
        "arn": role_arn,
        "accountId": ACCOUNT_ID,
        "userName": "trail-role",
    }
    assert context["webIdFederationData"] == {}
    assert context["attributes"]["mfaAuthenticated"] == "false"
    assert EVENT_TIME.fullmatch(context["attributes"]["creationDate"])
    assert event["AccessKeyId"] == creds["AccessKeyId"]


def boto_client_for(alice: dict[str, Any], creds: dict[str, Any]) -> Any:
    endpoint = alice["iam"].meta.endpoint_url
    import boto3
    from tests.e2e.harness import CLIENT_CONFIG

    return boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        config=CLIENT_CONFIG,
    )


def test_a_denied_call_is_recorded_with_access_denied(alice: dict[str, Any], trail: Any) -> None:
    with pytest.raises(ClientError) as exc:
        alice["iam"].create_user(UserName="trail-not-allowed")
    status, code, message = error_of(exc)
    assert (status, code) == (403, "AccessDenied")
    _, record = one(trail, "CreateUser", "trail-alice")
    assert record["errorCode"] == "AccessDenied"
    assert record["errorMessage"] == message
    assert record["responseElements"] is None
    assert record["requestParameters"] == {"userName": "trail-not-allowed"}
    assert record["userIdentity"]["userName"] == "trail-alice"


def test_other_errors_carry_the_exception_name(alice: dict[str, Any], trail: Any) -> None:
    with pytest.raises(ClientError) as exc:
        alice["iam"].get_user(UserName="trail-nobody")
    assert error_of(exc)[1] == "NoSuchEntity"
    _, record = one(trail, "GetUser", "trail-alice")
    assert record["errorCode"] == "NoSuchEntityException"
    assert record["errorMessage"] == error_of(exc)[2]


def test_a_bad_signature_is_recorded_as_a_failed_authentication(
    server: Server, alice: dict[str, Any], trail: Any
) -> None:
    forged = server.client("iam", alice["key"]["AccessKeyId"], "x" * 40)
    with pytest.raises(ClientError) as exc:
        forged.list_groups()
    assert error_of(exc)[1] == "SignatureDoesNotMatch"
    events = [e for e in lookup(trail, "EventName", "ListGroups")]
    record = next(r for r in records(events) if r.get("errorCode") == "SignatureDoesNotMatch")
    assert record["errorMessage"].startswith("The request signature we calculated does not match")
    # The identity the key claims: alice's.
    assert record["userIdentity"]["type"] == "IAMUser"
    assert record["userIdentity"]["userName"] == "trail-alice"
    assert record["userIdentity"]["accessKeyId"] == alice["key"]["AccessKeyId"]


def test_an_unknown_key_is_recorded_as_a_failed_authentication(server: Server, trail: Any) -> None:
    unknown = "AKIA" + "Z" * 16
    with pytest.raises(ClientError) as exc:
        server.client("iam", unknown, "y" * 40).list_roles()
    assert error_of(exc)[1] == "InvalidClientTokenId"
    events = lookup(trail, "AccessKeyId", unknown)
    assert [e["EventName"] for e in events] == ["ListRoles"]
    record = json.loads(events[0]["CloudTrailEvent"])
    assert record["errorCode"] == "InvalidClientTokenId"
    assert record["userIdentity"] == {"type": "Unknown", "accessKeyId": unknown}
    assert record["recipientAccountId"] == ACCOUNT_ID


# -- lookup ----------------------------------------------------------------------------------------


def test_lookup_attributes(iam: Any, alice: dict[str, Any], trail: Any) -> None:
    iam.create_group(GroupName="trail-group")
    iam.add_user_to_group(GroupName="trail-group", UserName="trail-written")
    by_resource = lookup(trail, "ResourceName", "trail-group")
    assert [e["EventName"] for e in by_resource] == ["AddUserToGroup", "CreateGroup"]
    assert {"ResourceType": "AWS::IAM::User", "ResourceName": "trail-written"} in by_resource[0]["Resources"]
    assert all(
        {"ResourceType": "AWS::IAM::Group", "ResourceName": "trail-group"} in e["Resources"]
        for e in by_resource
    )
    groups = lookup(trail, "ResourceType", "AWS::IAM::Group")
    assert {"AddUserToGroup", "CreateGroup"} <= {e["EventName"] for e in groups}
    writes = lookup(trail, "ReadOnly", "false")
    assert writes and all(e["ReadOnly"] == "false" for e in writes)
    sts_events = lookup(trail, "EventSource", "sts.amazonaws.com")
    assert sts_events and all(e["EventSource"] == "sts.amazonaws.com" for e in sts_events)
    by_key = lookup(trail, "AccessKeyId", alice["key"]["AccessKeyId"])
    assert by_key and all(e["AccessKeyId"] == alice["key"]["AccessKeyId"] for e in by_key)
    target = by_resource[0]
    assert [e["EventId"] for e in lookup(trail, "EventId", target["EventId"])] == [target["EventId"]]
    assert lookup(trail, "EventName", "NoSuchEventAnywhere") == []


def test_lookup_pages_newest_first_and_time_range(iam: Any, trail: Any) -> None:
    for i in range(5):
        iam.tag_user(UserName="trail-written", Tags=[{"Key": f"k{i}", "Value": "v"}])
    pages = []
    params: dict[str, Any] = {
        "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "TagUser"}],
        "MaxResults": 2,
    }
    while True:
        page = trail.lookup_events(**params)
        assert len(page["Events"]) <= 2
        pages.append(page["Events"])
        if "NextToken" not in page:
            break
        params["NextToken"] = page["NextToken"]
    events = [e for page in pages for e in page]
    assert len(events) == 5 and len(pages) == 3
    keys = [json.loads(e["CloudTrailEvent"])["requestParameters"]["tags"][0]["key"] for e in events]
    assert keys == ["k4", "k3", "k2", "k1", "k0"]  # newest first
    times = [e["EventTime"] for e in events]
    assert times == sorted(times, reverse=True)
    future = datetime.now(UTC) + timedelta(hours=1)
    assert trail.lookup_events(StartTime=future, EndTime=future + timedelta(hours=1))["Events"] == []
    window = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "TagUser"}],
        StartTime=datetime.now(UTC) - timedelta(hours=1),
        EndTime=datetime.now(UTC) + timedelta(minutes=1),
    )["Events"]
    assert len(window) == 5


def test_lookup_errors(trail: Any, alice: dict[str, Any], server: Server) -> None:
    two = [
        {"AttributeKey": "EventName", "AttributeValue": "GetUser"},
        {"AttributeKey": "Username", "AttributeValue": "trail-alice"},
    ]
    with pytest.raises(ClientError) as exc:
        trail.lookup_events(LookupAttributes=two)
    assert error_of(exc)[1] == "InvalidLookupAttributesException"
    now = datetime.now(UTC)
    with pytest.raises(ClientError) as exc:
        trail.lookup_events(StartTime=now, EndTime=now - timedelta(hours=1))
    assert error_of(exc)[1] == "InvalidTimeRangeException"
    with pytest.raises(ClientError) as exc:
        trail.lookup_events(NextToken="not-a-token")
    assert error_of(exc)[1] == "InvalidNextTokenException"
    # cloudtrail:LookupEvents on "*" is needed: alice's policy does not grant it.
    key = alice["key"]
    with pytest.raises(ClientError) as exc:
        server.client("cloudtrail", key["AccessKeyId"], key["SecretAccessKey"]).lookup_events()
    assert error_of(exc)[1] == "AccessDeniedException"


# -- secrets ---------------------------------------------------------------------------------------


def test_no_secret_reaches_the_trail(
    server: Server, iam: Any, alice: dict[str, Any], trail: Any, secrets: list[str]
) -> None:
    # A console password: created, changed by the administrator, changed by the user.
    iam.create_login_profile(UserName="trail-alice", Password=PASSWORD, PasswordResetRequired=False)
    iam.update_login_profile(UserName="trail-alice", Password=NEW_PASSWORD)
    secrets += [PASSWORD, NEW_PASSWORD]
    # Access keys: a new one and the role session's and a GetSessionToken session's.
    extra = iam.create_access_key(UserName="trail-written")["AccessKey"]
    secrets.append(extra["SecretAccessKey"])
    creds = alice["sts"].assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/trail-role", RoleSessionName="secret-check"
    )["Credentials"]
    secrets += [creds["SecretAccessKey"], creds["SessionToken"]]
    boto_client_for(alice, creds).list_users()
    # A failed call that sent a session token: it must not be recorded either.
    with pytest.raises(ClientError):
        boto_client_for(alice, {**creds, "SecretAccessKey": "z" * 40}).list_users()
    # A service-specific credential's password.
    try:
        service = iam.create_service_specific_credential(
            UserName="trail-written", ServiceName="codecommit.amazonaws.com"
        )["ServiceSpecificCredential"]
        secrets.append(service["ServicePassword"])
    except ClientError:
        pass

    # A virtual MFA device: its seed, and the codes that enable it.
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="trail-mfa")["VirtualMFADevice"]
    seed = device["Base32StringSeed"].decode("ascii")
    secrets.append(seed)
    step = int(time.time() // STEP)
    codes = [totp(base64.b32decode(seed), step - 1), totp(base64.b32decode(seed), step)]
    iam.enable_mfa_device(
        UserName="trail-written",
        SerialNumber=device["SerialNumber"],
        AuthenticationCode1=codes[0],
        AuthenticationCode2=codes[1],
    )
    enabled = records(lookup(trail, "EventName", "EnableMFADevice"))[0]["requestParameters"]
    assert enabled["authenticationCode1"] == HIDDEN and enabled["authenticationCode2"] == HIDDEN
    assert not set(codes) & set(json.dumps(enabled).split('"'))
    created_device = records(lookup(trail, "EventName", "CreateVirtualMFADevice"))[0]
    assert created_device["responseElements"]["virtualMFADevice"]["base32StringSeed"] == HIDDEN

    events = lookup(trail)
    assert len(events) > 20
    text = "\n".join(e["CloudTrailEvent"] for e in events)
    leaked = [s for s in secrets if s in text]
    assert leaked == []
    hidden = records(lookup(trail, "EventName", "CreateLoginProfile"))[0]
    assert hidden["requestParameters"]["password"] == HIDDEN
    hidden = records(lookup(trail, "EventName", "UpdateLoginProfile"))[0]
    assert hidden["requestParameters"]["password"] == HIDDEN
    created = [r for r in records(lookup(trail, "EventName", "CreateAccessKey")) if "responseElements" in r]
    assert all(r["responseElements"]["accessKey"]["secretAccessKey"] == HIDDEN for r in created)

    # Nor in iamd trail's output.
    printed = subprocess.run(
        [sys.executable, "-m", "iamd.cli.main", "trail", "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    lines = printed.splitlines()
    assert len(lines) >= len(events)
    assert all(json.loads(line)["eventVersion"] == "1.10" for line in lines)
    assert [s for s in secrets if s in printed] == []


def trail_files(directory: Path) -> list[Path]:
    return sorted(directory.rglob("*.json.gz"))


def test_trail_files_in_cloudtrail_layout(server: Server, iam: Any, trail: Any, secrets: list[str]) -> None:
    marker = f"trail-file-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=marker)
    directory = server.data_dir.parent / "trail"
    deadline = time.monotonic() + 30
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        found = []
        for path in trail_files(directory):
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                found += json.load(fh)["Records"]
        if any(r.get("requestParameters") == {"userName": marker} for r in found):
            break
        time.sleep(0.5)
    assert any(r.get("requestParameters") == {"userName": marker} for r in found)
    layout = re.compile(
        rf"AWSLogs/{ACCOUNT_ID}/CloudTrail/{REGION}/\d{{4}}/\d\d/\d\d/"
        rf"{ACCOUNT_ID}_CloudTrail_{REGION}_\d{{8}}T\d{{4}}Z_[A-Za-z0-9]{{16}}\.json\.gz"
    )
    for path in trail_files(directory):
        assert layout.fullmatch(path.relative_to(directory).as_posix())
    ids = [r["eventID"] for r in found]
    assert len(ids) == len(set(ids))  # each record once
    raw = "\n".join(json.dumps(r) for r in found)
    assert [s for s in secrets if s in raw] == []


# Last: it adds TagUser events, which test_lookup_pages_newest_first_and_time_range counts.
def test_a_write_sent_again_that_changes_nothing_is_recorded_each_time(iam: Any, trail: Any) -> None:
    """A tag, a policy document and an attachment sent again change nothing (their events then
    go to the trail writer as a read's do, not inside the write's transaction): each call is
    still on the trail, once, with its own parameters, request id and resources."""
    iam.create_user(UserName="trail-replayed")
    policy = doc(allow("s3:GetObject"))
    arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    answers: dict[str, list[str]] = {"TagUser": [], "PutUserPolicy": [], "AttachUserPolicy": []}
    for _ in range(3):
        tagged = iam.tag_user(UserName="trail-replayed", Tags=[{"Key": "team", "Value": "audit"}])
        answers["TagUser"].append(tagged["ResponseMetadata"]["RequestId"])
        put = iam.put_user_policy(UserName="trail-replayed", PolicyName="p", PolicyDocument=policy)
        answers["PutUserPolicy"].append(put["ResponseMetadata"]["RequestId"])
        attached = iam.attach_user_policy(UserName="trail-replayed", PolicyArn=arn)
        answers["AttachUserPolicy"].append(attached["ResponseMetadata"]["RequestId"])
    events = [e for e in lookup(trail, "ResourceName", "trail-replayed") if e["EventName"] in answers]
    for name, request_ids in answers.items():
        mine = [e for e in events if e["EventName"] == name]
        assert sorted(r["requestID"] for r in records(mine)) == sorted(request_ids), name
        assert len({e["EventId"] for e in mine}) == 3
        for event, record in zip(mine, records(mine), strict=True):
            check_common(record, source="iam.amazonaws.com", name=name, read_only=False)
            assert record["requestParameters"]["userName"] == "trail-replayed"
            assert {"ResourceType": "AWS::IAM::User", "ResourceName": "trail-replayed"} in event["Resources"]
    assert {
        r["requestParameters"]["policyArn"] for r in records(events) if "policyArn" in r["requestParameters"]
    } == {arn}
