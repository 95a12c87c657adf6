"""MFA devices through the IAM API end to end: virtual devices (seed and QR code returned once,
encrypted at rest), enabling with two consecutive codes, codes accepted once, quotas,
resynchronization, deactivation and deletion, tags, authorization, and MFA flowing into decisions
(AWS's documented "manage your own credentials, with MFA" policy through GetSessionToken)."""

from __future__ import annotations

import base64
import io
import sqlite3
from typing import Any

import png
import pytest
from botocore.exceptions import ClientError
from tests.e2e.harness import ACCOUNT_ID, Server, new_user_client
from tests.e2e.mfa_helpers import SELF_MANAGE_WITH_MFA, Device, create_device, enable_device
from tests.e2e.policy_helpers import allow, error_of, policy

MFA_ARN = f"arn:aws:iam::{ACCOUNT_ID}:mfa"


def session_client(server: Server, service: str, credentials: dict[str, Any]) -> Any:
    return server.client(
        service, credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"]
    )


def test_create_virtual_device_returns_seed_and_qr_code_once(server: Server, iam: Any) -> None:
    answer = iam.create_virtual_mfa_device(VirtualMFADeviceName="first", Path="/team/")["VirtualMFADevice"]
    assert answer["SerialNumber"] == f"{MFA_ARN}/team/first"
    seed = answer["Base32StringSeed"].decode("ascii")
    assert len(seed) == 64 and base64.b32decode(seed)  # 40 random bytes
    width, height, _, info = png.Reader(file=io.BytesIO(answer["QRCodePNG"])).read()
    assert width == height and width > 100 and info["greyscale"]

    listed = iam.list_virtual_mfa_devices(AssignmentStatus="Unassigned")["VirtualMFADevices"]
    assert {"SerialNumber": answer["SerialNumber"]} in listed
    assert all("Base32StringSeed" not in d and "QRCodePNG" not in d for d in listed)

    with pytest.raises(ClientError) as again:
        iam.create_virtual_mfa_device(VirtualMFADeviceName="first", Path="/team/")
    assert error_of(again)[:2] == (409, "EntityAlreadyExists")

    # At rest the seed is encrypted: neither its bytes nor its base32 text are in the database.
    with sqlite3.connect(server.data_dir / "iamd.db") as db:
        rows = db.execute("SELECT serial, seed_ciphertext FROM mfa_devices").fetchall()
        dump = b"\n".join(line.encode() for line in db.iterdump())
    stored = dict(rows)[answer["SerialNumber"]]
    raw = base64.b32decode(seed)
    assert stored and raw not in stored and raw not in dump and seed.encode() not in dump
    iam.delete_virtual_mfa_device(SerialNumber=answer["SerialNumber"])


def test_enable_with_two_consecutive_codes(server: Server, iam: Any) -> None:
    iam.create_user(UserName="mfa-alice")
    device = create_device(iam, "alice-phone")
    totp = device.totp
    with pytest.raises(ClientError) as wrong:
        iam.enable_mfa_device(
            UserName="mfa-alice",
            SerialNumber=device.serial,
            AuthenticationCode1=device.code(0),
            AuthenticationCode2=device.code(-1),  # not consecutive: the wrong order
        )
    assert error_of(wrong) == (
        403,
        "InvalidAuthenticationCode",
        "Authentication code for device is not valid.",
    )
    with pytest.raises(ClientError) as nobody:
        iam.enable_mfa_device(
            UserName="nobody",
            SerialNumber=device.serial,
            AuthenticationCode1=device.code(-1),
            AuthenticationCode2=device.code(0),
        )
    assert error_of(nobody)[:2] == (404, "NoSuchEntity")

    first, second = device.pair()
    iam.enable_mfa_device(
        UserName="mfa-alice",
        SerialNumber=device.serial,
        AuthenticationCode1=first,
        AuthenticationCode2=second,
    )
    assert totp.verify(second, valid_window=1)

    devices = iam.list_mfa_devices(UserName="mfa-alice")["MFADevices"]
    assert [(d["UserName"], d["SerialNumber"]) for d in devices] == [("mfa-alice", device.serial)]
    got = iam.get_mfa_device(SerialNumber=device.serial, UserName="mfa-alice")
    assert got["SerialNumber"] == device.serial and got["UserName"] == "mfa-alice"
    assert got["EnableDate"] == devices[0]["EnableDate"]

    assigned = iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"]
    (entry,) = [d for d in assigned if d["SerialNumber"] == device.serial]
    assert entry["User"]["UserName"] == "mfa-alice" and "EnableDate" in entry
    unassigned = iam.list_virtual_mfa_devices(AssignmentStatus="Unassigned")["VirtualMFADevices"]
    assert device.serial not in {d["SerialNumber"] for d in unassigned}

    with pytest.raises(ClientError) as in_use:
        iam.enable_mfa_device(
            UserName="mfa-alice",
            SerialNumber=device.serial,
            AuthenticationCode1=device.code(0),
            AuthenticationCode2=device.code(1),
        )
    assert error_of(in_use)[:2] == (409, "EntityAlreadyExists")
    with pytest.raises(ClientError) as other_user:
        iam.get_mfa_device(SerialNumber=device.serial, UserName="iamd-admin")
    assert error_of(other_user)[:2] == (404, "NoSuchEntity")


def test_a_code_is_accepted_once(server: Server, iam: Any) -> None:
    iam.create_user(UserName="mfa-bob")
    key = iam.create_access_key(UserName="mfa-bob")["AccessKey"]
    sts = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    device = create_device(iam, "bob-phone")
    first, second = device.pair()
    iam.enable_mfa_device(
        UserName="mfa-bob", SerialNumber=device.serial, AuthenticationCode1=first, AuthenticationCode2=second
    )
    # The code that enabled the device was used.
    with pytest.raises(ClientError) as replayed:
        sts.get_session_token(SerialNumber=device.serial, TokenCode=second)
    assert error_of(replayed)[:2] == (403, "AccessDenied")
    fresh = device.fresh()
    answer = sts.get_session_token(SerialNumber=device.serial, TokenCode=fresh, DurationSeconds=900)
    assert answer["Credentials"]["SessionToken"]
    with pytest.raises(ClientError) as twice:
        sts.get_session_token(SerialNumber=device.serial, TokenCode=fresh)
    assert error_of(twice)[:2] == (403, "AccessDenied")


def test_at_most_eight_devices_per_user(server: Server, iam: Any) -> None:
    iam.create_user(UserName="mfa-carol")
    for n in range(8):
        enable_device(iam, "mfa-carol", f"carol-{n}")
    ninth = create_device(iam, "carol-8")
    first, second = ninth.pair()
    with pytest.raises(ClientError) as quota:
        iam.enable_mfa_device(
            UserName="mfa-carol",
            SerialNumber=ninth.serial,
            AuthenticationCode1=first,
            AuthenticationCode2=second,
        )
    assert error_of(quota) == (409, "LimitExceeded", "Cannot exceed quota for MFADevicesPerUser: 8")
    page = iam.list_mfa_devices(UserName="mfa-carol", MaxItems=5)
    assert len(page["MFADevices"]) == 5 and page["IsTruncated"]
    rest = iam.list_mfa_devices(UserName="mfa-carol", Marker=page["Marker"])
    assert len(rest["MFADevices"]) == 3 and not rest["IsTruncated"]

    # Another user is not affected by carol's quota.
    iam.create_user(UserName="mfa-carol2")
    iam.enable_mfa_device(
        UserName="mfa-carol2",
        SerialNumber=ninth.serial,
        AuthenticationCode1=first,
        AuthenticationCode2=second,
    )


def test_deactivate_and_delete(server: Server, iam: Any) -> None:
    iam.create_user(UserName="mfa-dave")
    device = enable_device(iam, "mfa-dave", "dave-phone")
    with pytest.raises(ClientError) as in_use:
        iam.delete_virtual_mfa_device(SerialNumber=device.serial)
    assert error_of(in_use)[:2] == (409, "DeleteConflict")
    with pytest.raises(ClientError) as not_his:
        iam.deactivate_mfa_device(UserName="iamd-admin", SerialNumber=device.serial)
    assert error_of(not_his)[:2] == (404, "NoSuchEntity")

    iam.deactivate_mfa_device(UserName="mfa-dave", SerialNumber=device.serial)
    assert iam.list_mfa_devices(UserName="mfa-dave")["MFADevices"] == []
    unassigned = iam.list_virtual_mfa_devices(AssignmentStatus="Unassigned")["VirtualMFADevices"]
    assert device.serial in {d["SerialNumber"] for d in unassigned}

    iam.delete_virtual_mfa_device(SerialNumber=device.serial)
    with pytest.raises(ClientError) as gone:
        iam.delete_virtual_mfa_device(SerialNumber=device.serial)
    assert error_of(gone)[:2] == (404, "NoSuchEntity")
    assert device.serial not in {
        d["SerialNumber"] for d in iam.list_virtual_mfa_devices()["VirtualMFADevices"]
    }


def test_resync(server: Server, iam: Any) -> None:
    iam.create_user(UserName="mfa-erin")
    device = enable_device(iam, "mfa-erin", "erin-phone")
    with pytest.raises(ClientError) as wrong:
        iam.resync_mfa_device(
            UserName="mfa-erin",
            SerialNumber=device.serial,
            AuthenticationCode1="000000",
            AuthenticationCode2="000001",
        )
    assert error_of(wrong)[:2] == (403, "InvalidAuthenticationCode")
    # A phone whose clock runs four minutes fast.
    iam.resync_mfa_device(
        UserName="mfa-erin",
        SerialNumber=device.serial,
        AuthenticationCode1=device.code(7),
        AuthenticationCode2=device.code(8),
    )
    with pytest.raises(ClientError) as replay:
        iam.resync_mfa_device(
            UserName="mfa-erin",
            SerialNumber=device.serial,
            AuthenticationCode1=device.code(7),
            AuthenticationCode2=device.code(8),
        )
    assert error_of(replay)[:2] == (403, "InvalidAuthenticationCode")
    with pytest.raises(ClientError) as far:
        iam.resync_mfa_device(
            UserName="mfa-erin",
            SerialNumber=device.serial,
            AuthenticationCode1=device.code(30),
            AuthenticationCode2=device.code(31),
        )
    assert error_of(far)[:2] == (403, "InvalidAuthenticationCode")


def test_tags(server: Server, iam: Any) -> None:
    device = create_device(iam, "tagged", Tags=[{"Key": "team", "Value": "red"}])
    assert iam.list_mfa_device_tags(SerialNumber=device.serial)["Tags"] == [{"Key": "team", "Value": "red"}]
    iam.tag_mfa_device(SerialNumber=device.serial, Tags=[{"Key": "cost", "Value": "1"}])
    iam.untag_mfa_device(SerialNumber=device.serial, TagKeys=["team"])
    assert iam.list_mfa_device_tags(SerialNumber=device.serial)["Tags"] == [{"Key": "cost", "Value": "1"}]
    with pytest.raises(ClientError) as missing:
        iam.list_mfa_device_tags(SerialNumber=f"{MFA_ARN}/missing")
    assert error_of(missing)[:2] == (404, "NoSuchEntity")

    # aws:ResourceTag on the device decides.
    tagger = new_user_client(
        server,
        iam,
        "mfa-tagger",
        policy(
            allow(
                ["iam:TagMFADevice", "iam:ListMFADeviceTags"],
                f"{MFA_ARN}/*",
                Condition={"StringEquals": {"aws:ResourceTag/cost": "1"}},
            )
        ),
    )
    assert tagger.list_mfa_device_tags(SerialNumber=device.serial)["Tags"]
    other = create_device(iam, "untagged")
    with pytest.raises(ClientError) as denied:
        tagger.list_mfa_device_tags(SerialNumber=other.serial)
    assert error_of(denied)[:2] == (403, "AccessDenied")


def test_authorization_on_device_and_user(server: Server, iam: Any) -> None:
    own = policy(
        allow("iam:CreateVirtualMFADevice", f"{MFA_ARN}/${{aws:username}}"),
        allow(["iam:EnableMFADevice", "iam:ListMFADevices"], "arn:aws:iam::*:user/${aws:username}"),
    )
    frank = new_user_client(server, iam, "mfa-frank", own)
    with pytest.raises(ClientError) as other_name:
        frank.create_virtual_mfa_device(VirtualMFADeviceName="not-frank")
    status, code, message = error_of(other_name)
    assert (status, code) == (403, "AccessDenied")
    assert f"{MFA_ARN}/not-frank" in message and "iam:CreateVirtualMFADevice" in message
    device = create_device(frank, "mfa-frank")
    first, second = device.pair()
    with pytest.raises(ClientError) as other_user:
        frank.enable_mfa_device(
            UserName="mfa-alice",
            SerialNumber=device.serial,
            AuthenticationCode1=first,
            AuthenticationCode2=second,
        )
    assert error_of(other_user)[:2] == (403, "AccessDenied")
    frank.enable_mfa_device(
        UserName="mfa-frank",
        SerialNumber=device.serial,
        AuthenticationCode1=first,
        AuthenticationCode2=second,
    )
    assert len(frank.list_mfa_devices()["MFADevices"]) == 1  # without UserName: the caller itself
    with pytest.raises(ClientError) as no_list:
        frank.list_virtual_mfa_devices()
    assert error_of(no_list)[:2] == (403, "AccessDenied")
    with pytest.raises(ClientError) as no_delete:
        frank.delete_virtual_mfa_device(SerialNumber=device.serial)
    assert error_of(no_delete)[:2] == (403, "AccessDenied")


def test_self_managed_credentials_require_mfa(server: Server, iam: Any) -> None:
    """AWS's documented policy: without MFA a user can set up its own MFA device and nothing
    else; with an MFA session (GetSessionToken with SerialNumber and TokenCode) it manages its
    own credentials, and still nobody else's."""
    iam.create_user(UserName="mfa-grace")
    iam.put_user_policy(UserName="mfa-grace", PolicyName="self-manage", PolicyDocument=SELF_MANAGE_WITH_MFA)
    key = iam.create_access_key(UserName="mfa-grace")["AccessKey"]
    grace = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    grace_sts = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])

    # No MFA (long-term key: aws:MultiFactorAuthPresent absent, so BoolIfExists matches).
    for call in (
        lambda: grace.list_access_keys(),
        lambda: grace.create_access_key(),
        lambda: grace.list_users(),
        lambda: grace.get_account_password_policy(),
    ):
        with pytest.raises(ClientError) as denied:
            call()
        status, code, message = error_of(denied)
        assert (status, code) == (403, "AccessDenied"), message
    with pytest.raises(ClientError) as explicit:
        grace.list_access_keys()
    assert "explicit deny in an identity-based policy" in error_of(explicit)[2]

    # ... but it may set up its own MFA device.
    grace.get_user()
    device = create_device(grace, "grace-phone")
    first, second = device.pair()
    grace.enable_mfa_device(
        UserName="mfa-grace",
        SerialNumber=device.serial,
        AuthenticationCode1=first,
        AuthenticationCode2=second,
    )
    assert [d["SerialNumber"] for d in grace.list_mfa_devices()["MFADevices"]] == [device.serial]
    assert grace.get_mfa_device(SerialNumber=device.serial)["UserName"] == "mfa-grace"
    with pytest.raises(ClientError) as no_deactivate:
        grace.deactivate_mfa_device(SerialNumber=device.serial)
    assert error_of(no_deactivate)[:2] == (403, "AccessDenied")

    # With MFA: its own credentials.
    credentials = grace_sts.get_session_token(SerialNumber=device.serial, TokenCode=device.fresh())[
        "Credentials"
    ]
    with_mfa = session_client(server, "iam", credentials)
    created = with_mfa.create_access_key()["AccessKey"]
    assert {k["AccessKeyId"] for k in with_mfa.list_access_keys()["AccessKeyMetadata"]} == {
        key["AccessKeyId"],
        created["AccessKeyId"],
    }
    with_mfa.update_access_key(AccessKeyId=created["AccessKeyId"], Status="Inactive")
    with_mfa.delete_access_key(AccessKeyId=created["AccessKeyId"])
    with_mfa.list_virtual_mfa_devices()
    # ... and still nothing else.
    with pytest.raises(ClientError) as others:
        with_mfa.list_access_keys(UserName="iamd-admin")
    status, code, message = error_of(others)
    assert (status, code) == (403, "AccessDenied") and "no identity-based policy allows" in message
    with pytest.raises(ClientError) as users:
        with_mfa.list_users()
    assert error_of(users)[:2] == (403, "AccessDenied")
    with_mfa.deactivate_mfa_device(SerialNumber=device.serial)
    assert grace.list_mfa_devices()["MFADevices"] == []


def test_mfa_age_and_presence_in_conditions(server: Server, iam: Any) -> None:
    """aws:MultiFactorAuthAge comes from the moment the code was checked."""
    fresh_only = policy(
        allow("iam:ListUsers", Condition={"NumericLessThan": {"aws:MultiFactorAuthAge": "300"}}),
    )
    client = new_user_client(server, iam, "mfa-heidi", fresh_only)
    key = iam.create_access_key(UserName="mfa-heidi")["AccessKey"]
    sts = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError):
        client.list_users()  # no MFA, no age: NumericLessThan on an absent key does not match
    device = enable_device(iam, "mfa-heidi", "heidi-phone")
    credentials = sts.get_session_token(SerialNumber=device.serial, TokenCode=device.fresh())["Credentials"]
    session_client(server, "iam", credentials).list_users()


def test_a_device_of_another_user_is_refused(server: Server, iam: Any) -> None:
    iam.create_user(UserName="mfa-ivan")
    key = iam.create_access_key(UserName="mfa-ivan")["AccessKey"]
    sts = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    iam.create_user(UserName="mfa-judy")
    judy: Device = enable_device(iam, "mfa-judy", "judy-phone")
    with pytest.raises(ClientError) as refused:
        sts.get_session_token(SerialNumber=judy.serial, TokenCode=judy.fresh())
    assert error_of(refused)[:2] == (403, "AccessDenied")
