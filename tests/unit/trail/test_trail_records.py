"""CloudTrail's record format: times, camelCase elements, secrets hidden by shape and by name,
identities, and the field order of API-call and sign-in records."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from iamd.trail.records import (
    HIDDEN,
    Identity,
    SessionIssuer,
    api_call_record,
    cloudtrail_time,
    element_time,
    lower_first,
    record_json,
    sign_in_record,
    trail_elements,
)
from iamd.wire import load_service_model

WHEN = datetime(2026, 3, 4, 15, 6, 7, 890000, tzinfo=UTC)


def shape(service: str, operation: str, which: str = "input") -> Any:
    model = load_service_model(service).operation_model(operation)
    return model.input_shape if which == "input" else model.output_shape


def test_times() -> None:
    assert cloudtrail_time(WHEN) == "2026-03-04T15:06:07Z"
    assert cloudtrail_time(WHEN.astimezone(timezone(timedelta(hours=2)))) == "2026-03-04T15:06:07Z"
    assert element_time(WHEN) == "Mar 4, 2026 3:06:07 PM"
    assert element_time(WHEN.replace(hour=0, minute=5)) == "Mar 4, 2026 12:05:07 AM"
    assert element_time(WHEN.replace(hour=12)) == "Mar 4, 2026 12:06:07 PM"
    assert element_time(WHEN.replace(day=22, hour=9)) == "Mar 22, 2026 9:06:07 AM"


def test_lower_first() -> None:
    assert lower_first("UserName") == "userName"
    assert lower_first("SAMLProviderArn") == "sAMLProviderArn"
    assert lower_first("") == ""


def test_elements_are_camel_case_with_times_and_tags() -> None:
    params = {"UserName": "bob", "Path": "/x/", "Tags": [{"Key": "k", "Value": "v"}], "Unknown": 1}
    assert trail_elements(shape("iam", "CreateUser"), params) == {
        "path": "/x/",
        "userName": "bob",
        "tags": [{"key": "k", "value": "v"}],
    }
    output = {"User": {"Path": "/", "UserName": "bob", "UserId": "AIDA", "Arn": "arn", "CreateDate": WHEN}}
    assert trail_elements(shape("iam", "CreateUser", "output"), output) == {
        "user": {
            "path": "/",
            "userName": "bob",
            "userId": "AIDA",
            "arn": "arn",
            "createDate": "Mar 4, 2026 3:06:07 PM",
        }
    }


@pytest.mark.parametrize(
    ("service", "operation", "which", "value", "hidden"),
    [
        ("iam", "CreateLoginProfile", "input", {"UserName": "u", "Password": "pw-Secret-1"}, ["password"]),
        ("iam", "UpdateLoginProfile", "input", {"UserName": "u", "Password": "pw-Secret-2"}, ["password"]),
        (
            "iam",
            "ChangePassword",
            "input",
            {"OldPassword": "old-Secret-1", "NewPassword": "new-Secret-2"},
            ["oldPassword", "newPassword"],
        ),
        (
            "iam",
            "EnableMFADevice",
            "input",
            {
                "UserName": "u",
                "SerialNumber": "s",
                "AuthenticationCode1": "314159",
                "AuthenticationCode2": "271828",
            },
            ["authenticationCode1", "authenticationCode2"],
        ),
        (
            "iam",
            "UploadServerCertificate",
            "input",
            {"ServerCertificateName": "c", "PrivateKey": "-----BEGIN KEY-----", "CertificateBody": "b"},
            ["privateKey"],
        ),
        (
            "sts",
            "AssumeRoleWithSAML",
            "input",
            {"RoleArn": "r", "PrincipalArn": "p", "SAMLAssertion": "PHNhbWw+"},
            ["sAMLAssertion"],
        ),
        (
            "sts",
            "AssumeRoleWithWebIdentity",
            "input",
            {"RoleArn": "r", "RoleSessionName": "s", "WebIdentityToken": "eyJ.token.sig"},
            ["webIdentityToken"],
        ),
        ("sts", "GetSessionToken", "input", {"SerialNumber": "s", "TokenCode": "123456"}, ["tokenCode"]),
        (
            "sts",
            "AssumeRole",
            "input",
            {"RoleArn": "r", "RoleSessionName": "s", "TokenCode": "123456"},
            ["tokenCode"],
        ),
    ],
)
def test_secrets_in_parameters_are_hidden(
    service: str, operation: str, which: str, value: dict[str, Any], hidden: list[str]
) -> None:
    elements = trail_elements(shape(service, operation, which), value)
    for key in hidden:
        assert elements[key] == HIDDEN
    secrets = {v for k, v in value.items() if lower_first(k) in hidden}
    assert not any(s in json.dumps(elements) for s in secrets)


def test_secrets_in_responses_are_hidden() -> None:
    key = {
        "UserName": "u",
        "AccessKeyId": "AKIA1",
        "Status": "Active",
        "SecretAccessKey": "s3cr3t",
        "CreateDate": WHEN,
    }
    out = trail_elements(shape("iam", "CreateAccessKey", "output"), {"AccessKey": key})
    assert out["accessKey"]["secretAccessKey"] == HIDDEN and out["accessKey"]["accessKeyId"] == "AKIA1"
    device = {"SerialNumber": "arn:mfa", "Base32StringSeed": b"SEED", "QRCodePNG": b"PNG"}
    out = trail_elements(shape("iam", "CreateVirtualMFADevice", "output"), {"VirtualMFADevice": device})
    assert out["virtualMFADevice"] == {
        "serialNumber": "arn:mfa",
        "base32StringSeed": HIDDEN,
        "qRCodePNG": HIDDEN,
    }
    creds = {"AccessKeyId": "ASIA1", "SecretAccessKey": "s", "SessionToken": "t", "Expiration": WHEN}
    out = trail_elements(shape("sts", "AssumeRole", "output"), {"Credentials": creds})
    assert out["credentials"] == {
        "accessKeyId": "ASIA1",
        "secretAccessKey": HIDDEN,
        "sessionToken": HIDDEN,
        "expiration": "Mar 4, 2026 3:06:07 PM",
    }
    credential = {
        "CreateDate": WHEN,
        "ServiceName": "codecommit.amazonaws.com",
        "ServiceUserName": "u-at-1",
        "ServicePassword": "pw",
        "ServiceSpecificCredentialId": "ACCA",
        "UserName": "u",
        "Status": "Active",
    }
    out = trail_elements(
        shape("iam", "CreateServiceSpecificCredential", "output"), {"ServiceSpecificCredential": credential}
    )
    assert out["serviceSpecificCredential"]["servicePassword"] == HIDDEN
    # Organizations' e-mail and account name are sensitive in its model, and AWS hides them too.
    out = trail_elements(shape("organizations", "CreateAccount"), {"Email": "a@b.c", "AccountName": "n"})
    assert out == {"email": HIDDEN, "accountName": HIDDEN}


def test_identities() -> None:
    user = Identity(
        "IAMUser", principal_id="AIDA", arn="arn:u", account_id="1", access_key_id="AKIA", user_name="u"
    )
    assert user.to_json() == {
        "type": "IAMUser",
        "principalId": "AIDA",
        "arn": "arn:u",
        "accountId": "1",
        "accessKeyId": "AKIA",
        "userName": "u",
    }
    role = Identity(
        "AssumedRole",
        principal_id="AROA:s",
        arn="arn:sts",
        account_id="1",
        access_key_id="ASIA",
        session=True,
        session_created=WHEN,
        mfa_authenticated=True,
        issuer=SessionIssuer("Role", "AROA", "arn:role", "1", "r"),
        web_identity={},
        source_identity="me",
    )
    assert role.to_json()["sessionContext"] == {
        "sessionIssuer": {
            "type": "Role",
            "principalId": "AROA",
            "arn": "arn:role",
            "accountId": "1",
            "userName": "r",
        },
        "webIdFederationData": {},
        "attributes": {"creationDate": "2026-03-04T15:06:07Z", "mfaAuthenticated": "true"},
        "sourceIdentity": "me",
    }
    user_session = Identity("IAMUser", principal_id="AIDA", session=True, session_created=WHEN)
    assert user_session.to_json()["sessionContext"] == {
        "attributes": {"creationDate": "2026-03-04T15:06:07Z", "mfaAuthenticated": "false"}
    }


def test_api_call_record_fields_in_awss_order() -> None:
    record = api_call_record(
        identity=Identity("Root", principal_id="1", arn="arn:aws:iam::1:root", account_id="1"),
        event_time=WHEN,
        event_source="iam.amazonaws.com",
        event_name="DeleteUser",
        region="us-east-1",
        source_ip="10.0.0.1",
        user_agent="ua",
        request_parameters={"userName": "u"},
        response_elements=None,
        request_id="r",
        event_id="e",
        read_only=False,
        recipient_account_id="1",
        error_code="DeleteConflictException",
        error_message="still has keys",
    )
    assert list(record) == [
        "eventVersion",
        "userIdentity",
        "eventTime",
        "eventSource",
        "eventName",
        "awsRegion",
        "sourceIPAddress",
        "userAgent",
        "errorCode",
        "errorMessage",
        "requestParameters",
        "responseElements",
        "requestID",
        "eventID",
        "readOnly",
        "eventType",
        "managementEvent",
        "recipientAccountId",
        "eventCategory",
    ]
    assert record["eventVersion"] == "1.10" and record["eventType"] == "AwsApiCall"
    assert json.loads(record_json(record)) == record
    assert record_json(record) == record_json(json.loads(record_json(record)))  # stable text


def test_sign_in_record() -> None:
    identity = Identity("IAMUser", principal_id="AIDA", arn="arn:u", account_id="1", user_name="u")
    ok = sign_in_record(
        identity=identity,
        event_time=WHEN,
        source_ip="1.2.3.4",
        user_agent="Mozilla",
        event_id="e",
        recipient_account_id="1",
        success=True,
        mfa_used=False,
        login_to="http://console",
    )
    assert ok["eventSource"] == "signin.amazonaws.com" and ok["eventName"] == "ConsoleLogin"
    assert ok["eventType"] == "AwsConsoleSignIn" and ok["responseElements"] == {"ConsoleLogin": "Success"}
    assert ok["additionalEventData"] == {"LoginTo": "http://console", "MobileVersion": "No", "MFAUsed": "No"}
    assert "errorMessage" not in ok
    failed = sign_in_record(
        identity=identity,
        event_time=WHEN,
        source_ip="1.2.3.4",
        user_agent="Mozilla",
        event_id="e",
        recipient_account_id="1",
        success=False,
        mfa_used=False,
        login_to="",
    )
    assert failed["responseElements"] == {"ConsoleLogin": "Failure"}
    assert failed["errorMessage"] == "Failed authentication"
