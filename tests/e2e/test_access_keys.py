"""Access keys end to end: lifecycle, the two-key quota, secrets shown once, self-service under
${aws:username}, rotation, and last-used tracking."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.e2e.harness import ACCOUNT_ID, REGION, Server, new_user_client


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response = exc.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


SELF_SERVICE = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["iam:*AccessKey*", "iam:GetUser"],
                "Resource": "arn:aws:iam::*:user/${aws:username}",
            }
        ],
    }
)


def test_access_key_lifecycle(iam: Any) -> None:
    iam.create_user(UserName="k-owner")
    created = iam.create_access_key(UserName="k-owner")["AccessKey"]
    assert created["UserName"] == "k-owner"
    assert created["AccessKeyId"].startswith("AKIA") and len(created["AccessKeyId"]) == 20
    assert len(created["SecretAccessKey"]) == 40
    assert created["Status"] == "Active"
    key_id = created["AccessKeyId"]

    listed = iam.list_access_keys(UserName="k-owner")
    assert listed["IsTruncated"] is False
    assert listed["AccessKeyMetadata"] == [
        {
            "UserName": "k-owner",
            "AccessKeyId": key_id,
            "Status": "Active",
            "CreateDate": created["CreateDate"],
        }
    ]

    iam.update_access_key(UserName="k-owner", AccessKeyId=key_id, Status="Inactive")
    assert iam.list_access_keys(UserName="k-owner")["AccessKeyMetadata"][0]["Status"] == "Inactive"
    iam.update_access_key(UserName="k-owner", AccessKeyId=key_id, Status="Active")
    assert iam.list_access_keys(UserName="k-owner")["AccessKeyMetadata"][0]["Status"] == "Active"

    # A user with keys cannot be deleted.
    with pytest.raises(ClientError) as exc:
        iam.delete_user(UserName="k-owner")
    assert error_of(exc)[:2] == (409, "DeleteConflict")

    iam.delete_access_key(UserName="k-owner", AccessKeyId=key_id)
    assert iam.list_access_keys(UserName="k-owner")["AccessKeyMetadata"] == []
    with pytest.raises(ClientError) as exc:
        iam.delete_access_key(UserName="k-owner", AccessKeyId=key_id)
    assert error_of(exc) == (404, "NoSuchEntity", f"The Access Key with id {key_id} cannot be found.")
    iam.delete_user(UserName="k-owner")


def test_errors(iam: Any) -> None:
    iam.create_user(UserName="k-errors")
    iam.create_user(UserName="k-bystander")
    theirs = iam.create_access_key(UserName="k-bystander")["AccessKey"]["AccessKeyId"]
    # Another user's key is not this user's: NoSuchEntity, and it stays untouched.
    with pytest.raises(ClientError) as exc:
        iam.update_access_key(UserName="k-errors", AccessKeyId=theirs, Status="Inactive")
    assert error_of(exc)[:2] == (404, "NoSuchEntity")
    with pytest.raises(ClientError) as exc:
        iam.delete_access_key(UserName="k-errors", AccessKeyId=theirs)
    assert error_of(exc)[:2] == (404, "NoSuchEntity")
    assert iam.list_access_keys(UserName="k-bystander")["AccessKeyMetadata"][0]["Status"] == "Active"

    for call in (
        lambda: iam.create_access_key(UserName="k-nobody"),
        lambda: iam.list_access_keys(UserName="k-nobody"),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_of(exc)[:2] == (404, "NoSuchEntity")
    # An unknown key: AccessDenied, even to an administrator, as AWS answers (test_aws_shapes.py).
    with pytest.raises(ClientError) as exc:
        iam.get_access_key_last_used(AccessKeyId="AKIAAAAAAAAAAAAAAAAA")
    assert error_of(exc)[:2] == (403, "AccessDenied")
    with pytest.raises(ClientError) as exc:
        iam.update_access_key(UserName="k-bystander", AccessKeyId=theirs, Status="Expired")
    assert error_of(exc)[:2] == (400, "InvalidInput")
    with pytest.raises(ClientError) as exc:
        iam.update_access_key(UserName="k-bystander", AccessKeyId="AKIA-not-a-valid-key!", Status="Active")
    assert error_of(exc)[:2] == (400, "ValidationError")


def test_a_user_has_at_most_two_keys(iam: Any) -> None:
    iam.create_user(UserName="k-quota")
    iam.create_access_key(UserName="k-quota")
    second = iam.create_access_key(UserName="k-quota")["AccessKey"]["AccessKeyId"]
    iam.update_access_key(UserName="k-quota", AccessKeyId=second, Status="Inactive")  # inactive keys count
    with pytest.raises(ClientError) as exc:
        iam.create_access_key(UserName="k-quota")
    assert error_of(exc) == (409, "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2")
    assert len(iam.list_access_keys(UserName="k-quota")["AccessKeyMetadata"]) == 2
    assert iam.get_account_summary()["SummaryMap"]["AccessKeysPerUserQuota"] == 2
    # MaxItems pages a user's keys.
    page = iam.list_access_keys(UserName="k-quota", MaxItems=1)
    assert page["IsTruncated"] is True
    rest = iam.list_access_keys(UserName="k-quota", MaxItems=1, Marker=page["Marker"])
    assert rest["IsTruncated"] is False
    assert rest["AccessKeyMetadata"][0]["AccessKeyId"] == second


def test_the_secret_is_shown_once(server: Server, iam: Any) -> None:
    iam.create_user(UserName="k-secret")
    created = iam.create_access_key(UserName="k-secret")["AccessKey"]
    secret = created["SecretAccessKey"]
    answers = [
        iam.list_access_keys(UserName="k-secret"),
        iam.get_access_key_last_used(AccessKeyId=created["AccessKeyId"]),
        iam.get_user(UserName="k-secret"),
    ]
    for answer in answers:
        assert secret not in json.dumps(answer, default=str)
        assert "SecretAccessKey" not in json.dumps(answer, default=str)
    # Nor is it in the database file in plain text, nor in the server's log.
    assert all(secret.encode() not in f.read_bytes() for f in server.data_dir.glob("iamd.db*"))
    assert secret not in server.log.read_text()


def test_a_new_user_can_do_nothing_with_keys(server: Server, iam: Any) -> None:
    nobody = new_user_client(server, iam, "k-nobody-user")
    for call in (
        lambda: nobody.create_access_key(),
        lambda: nobody.list_access_keys(),
        lambda: nobody.list_access_keys(UserName="iamd-admin"),
        lambda: nobody.create_access_key(UserName="iamd-admin"),
        lambda: nobody.list_access_keys(UserName="no-such-user"),  # denied before NoSuchEntity
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_of(exc)[:2] == (403, "AccessDenied")


def test_a_user_manages_only_its_own_keys(server: Server, iam: Any) -> None:
    me = new_user_client(server, iam, "k-self", SELF_SERVICE)
    iam.create_user(UserName="k-someone-else")
    # Without UserName, the operations act on the caller's own user.
    own = me.list_access_keys()["AccessKeyMetadata"]
    assert len(own) == 1 and own[0]["UserName"] == "k-self"
    assert me.list_access_keys(UserName="k-self")["AccessKeyMetadata"] == own
    for call in (
        lambda: me.list_access_keys(UserName="k-someone-else"),
        lambda: me.create_access_key(UserName="k-someone-else"),
        lambda: me.list_access_keys(UserName="iamd-admin"),
        lambda: me.update_access_key(
            UserName="iamd-admin", AccessKeyId=server.access_key_id, Status="Inactive"
        ),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        status, code, message = error_of(exc)
        assert (status, code) == (403, "AccessDenied")
        assert f"arn:aws:iam::{ACCOUNT_ID}:user/k-self" in message
    # The admin's key was not touched.
    assert iam.list_access_keys(UserName="iamd-admin")["AccessKeyMetadata"][0]["Status"] == "Active"


def test_key_rotation(server: Server, iam: Any) -> None:
    iam.create_user(UserName="k-rotor")
    iam.put_user_policy(UserName="k-rotor", PolicyName="self", PolicyDocument=SELF_SERVICE)
    first = iam.create_access_key(UserName="k-rotor")["AccessKey"]
    old = server.client("iam", first["AccessKeyId"], first["SecretAccessKey"])

    # 1. Create the second key with the first one.
    second = old.create_access_key()["AccessKey"]
    assert second["UserName"] == "k-rotor"
    new = server.client("iam", second["AccessKeyId"], second["SecretAccessKey"])
    # 2. Switch: the new key works.
    assert new.get_user()["User"]["UserName"] == "k-rotor"
    # 3. Deactivate the old key (with the new one): the old key stops working at once.
    new.update_access_key(AccessKeyId=first["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as exc:
        old.get_user()
    assert error_of(exc)[:2] == (403, "InvalidClientTokenId")
    statuses = {k["AccessKeyId"]: k["Status"] for k in new.list_access_keys()["AccessKeyMetadata"]}
    assert statuses == {first["AccessKeyId"]: "Inactive", second["AccessKeyId"]: "Active"}
    # 4. Delete the old key.
    new.delete_access_key(AccessKeyId=first["AccessKeyId"])
    assert [k["AccessKeyId"] for k in new.list_access_keys()["AccessKeyMetadata"]] == [second["AccessKeyId"]]
    with pytest.raises(ClientError) as exc:
        old.get_user()
    assert error_of(exc)[:2] == (403, "InvalidClientTokenId")


def test_last_used(server: Server, iam: Any) -> None:
    iam.create_user(UserName="k-used")
    iam.put_user_policy(UserName="k-used", PolicyName="self", PolicyDocument=SELF_SERVICE)
    key = iam.create_access_key(UserName="k-used")["AccessKey"]
    never = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
    assert never["UserName"] == "k-used"
    assert never["AccessKeyLastUsed"] == {"ServiceName": "N/A", "Region": "N/A"}

    user = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    user.get_user()
    used = user.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
    assert used["UserName"] == "k-used"
    assert used["AccessKeyLastUsed"]["ServiceName"] == "iam"
    assert used["AccessKeyLastUsed"]["Region"] == REGION
    assert used["AccessKeyLastUsed"]["LastUsedDate"] >= key["CreateDate"]
    # Someone else's key: denied, whether or not it exists.
    with pytest.raises(ClientError) as exc:
        user.get_access_key_last_used(AccessKeyId=server.access_key_id)
    assert error_of(exc)[:2] == (403, "AccessDenied")
    with pytest.raises(ClientError) as exc:
        user.get_access_key_last_used(AccessKeyId="AKIAAAAAAAAAAAAAAAAA")
    assert error_of(exc)[:2] == (403, "AccessDenied")


def test_access_keys_with_the_aws_cli(server: Server, iam: Any) -> None:
    iam.create_user(UserName="k-cli")
    done = server.cli("iam", "create-access-key", "--user-name", "k-cli")
    assert done.returncode == 0, done.stderr
    key = json.loads(done.stdout)["AccessKey"]
    assert key["UserName"] == "k-cli" and len(key["SecretAccessKey"]) == 40
    # The key the CLI printed works.
    cli_user = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as exc:
        cli_user.list_groups()
    assert error_of(exc)[:2] == (403, "AccessDenied")
    iam.create_access_key(UserName="k-cli")
    done = server.cli("iam", "create-access-key", "--user-name", "k-cli")
    assert done.returncode != 0 and "LimitExceeded" in done.stderr
    assert "AccessKeysPerUser: 2" in done.stderr
    done = server.cli("iam", "list-access-keys", "--user-name", "k-cli")
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)["AccessKeyMetadata"]
    assert len(listed) == 2 and all("SecretAccessKey" not in k for k in listed)
