"""STS end to end: AssumeRole (same account and across accounts), GetSessionToken,
GetFederationToken, the session credentials they give, and what those credentials may do.

A second account lives in the same iamd: the API has no way to create one yet (Organizations'
CreateAccount is not implemented), so `other_account` creates it through the store, on the same
database file the server uses.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.e2e.harness import ACCOUNT_ID, Server, add_account, open_data_store, start_server, stop_server

from iamd.services.sts.mfa import STEP, totp

OTHER_ACCOUNT = "222222222222"
ROOT = f"arn:aws:iam::{ACCOUNT_ID}:root"


# -- helpers --------------------------------------------------------------------------------------


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response = exc.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(
    action: str | list[str], resource: str = "*", condition: dict[str, Any] | None = None
) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return statement


def trust(
    principal: dict[str, Any],
    actions: tuple[str, ...] = ("sts:AssumeRole",),
    condition: dict[str, Any] | None = None,
) -> str:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": list(actions)}
    if condition:
        statement["Condition"] = condition
    return doc(statement)


@dataclass
class Identity:
    """A principal's credentials and clients."""

    server: Server
    arn: str
    key: str
    secret: str
    token: str | None = None

    def client(self, service: str) -> Any:
        return self.server.client(service, self.key, self.secret, self.token)

    @property
    def sts(self) -> Any:
        return self.client("sts")

    @property
    def iam(self) -> Any:
        return self.client("iam")

    def session(self, answer: dict[str, Any], arn: str | None = None) -> Identity:
        """The identity of the credentials in an STS answer."""
        creds = answer["Credentials"]
        found = (
            arn
            or self.server.client(
                "sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]
            ).get_caller_identity()["Arn"]
        )
        return Identity(
            self.server, found, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]
        )


def make_user(server: Server, iam: Any, name: str, *statements: dict[str, Any]) -> Identity:
    user = iam.create_user(UserName=name)["User"]
    if statements:
        iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=doc(*statements))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Identity(server, user["Arn"], key["AccessKeyId"], key["SecretAccessKey"])


def make_role(
    iam: Any,
    name: str,
    trust_policy: str,
    *statements: dict[str, Any],
    max_session: int | None = None,
    tags: dict[str, str] | None = None,
    path: str = "/",
) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if max_session is not None:
        extra["MaxSessionDuration"] = max_session
    if tags:
        extra["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    role = iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=trust_policy, **extra)["Role"]
    if statements:
        iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=doc(*statements))
    return dict(role)


def add_mfa_device(server: Server, user_arn: str, name: str) -> tuple[str, bytes]:
    """A virtual MFA device enabled for the user (no IAM API for MFA devices yet): (serial, seed)."""
    seed = secrets.token_bytes(20)
    serial = f"arn:aws:iam::{ACCOUNT_ID}:mfa/{name}"
    store = open_data_store(server)
    try:
        with store.transaction() as uow:
            user = uow.users.get(ACCOUNT_ID, user_arn.rsplit("/", 1)[1])
            device = uow.mfa.create(
                ACCOUNT_ID, serial=serial, kind="virtual", created_at=datetime.now(UTC), seed=seed
            )
            uow.mfa.enable(device.id, user_id=user.id, enabled_at=datetime.now(UTC))
    finally:
        store.close()
    return serial, seed


def code(seed: bytes, steps_ahead: int = 0) -> str:
    return totp(seed, int(time.time()) // STEP + steps_ahead)


@pytest.fixture(scope="module")
def admin(server: Server) -> Identity:
    return Identity(
        server, f"arn:aws:iam::{ACCOUNT_ID}:user/iamd-admin", server.access_key_id, server.secret_access_key
    )


@pytest.fixture(scope="module")
def other_account(server: Server) -> Identity:
    """Account 222222222222 with an administrator ``b-admin`` (made through the store)."""
    key_id, secret = add_account(server, OTHER_ACCOUNT, "other")
    return Identity(server, f"arn:aws:iam::{OTHER_ACCOUNT}:user/b-admin", key_id, secret)


# -- GetCallerIdentity ----------------------------------------------------------------------------


def test_caller_identity_is_answered_even_under_an_explicit_deny(server: Server, iam: Any) -> None:
    denied = make_user(server, iam, "deny-all", {"Effect": "Deny", "Action": "*", "Resource": "*"})
    found = denied.sts.get_caller_identity()
    assert found["Arn"] == denied.arn
    assert found["Account"] == ACCOUNT_ID
    assert found["UserId"] == iam.get_user(UserName="deny-all")["User"]["UserId"]


# -- AssumeRole: who may --------------------------------------------------------------------------


def test_a_user_the_trust_policy_names_needs_no_identity_permission(server: Server, iam: Any) -> None:
    alice = make_user(server, iam, "alice")
    role = make_role(iam, "named-alice", trust({"AWS": alice.arn}), allow("iam:ListUsers"), path="/apps/")
    answer = alice.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="alice-session")
    assert answer["AssumedRoleUser"] == {
        "AssumedRoleId": f"{role['RoleId']}:alice-session",
        "Arn": f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/named-alice/alice-session",
    }
    creds = answer["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    remaining = creds["Expiration"] - datetime.now(UTC)
    assert timedelta(minutes=58) < remaining <= timedelta(hours=1)
    # No session policy or tags: AWS leaves PackedPolicySize out (see test_aws_shapes.py).
    assert "PackedPolicySize" not in answer
    assert answer["SessionTokenSize"] == len(creds["SessionToken"])
    session = alice.session(answer)
    identity = session.sts.get_caller_identity()
    assert identity == {
        "UserId": f"{role['RoleId']}:alice-session",
        "Account": ACCOUNT_ID,
        "Arn": f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/named-alice/alice-session",
        "ResponseMetadata": identity["ResponseMetadata"],
    }
    assert any(u["UserName"] == "alice" for u in session.iam.list_users()["Users"])


def test_an_account_trust_needs_an_identity_allow(server: Server, iam: Any) -> None:
    role = make_role(iam, "account-trust", trust({"AWS": ROOT}))
    bob = make_user(server, iam, "bob")
    carol = make_user(server, iam, "carol", allow("sts:AssumeRole", role["Arn"]))
    with pytest.raises(ClientError) as denied:
        bob.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="bob")
    status, code_, message = error_of(denied)
    assert (status, code_) == (403, "AccessDenied")
    assert message.startswith(
        f"User: {bob.arn} is not authorized to perform: sts:AssumeRole on resource: {role['Arn']}"
    )
    assert carol.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="carol")["AssumedRoleUser"][
        "Arn"
    ].endswith("/account-trust/carol")


def test_untrusted_principals_and_missing_roles_are_denied_alike(server: Server, iam: Any) -> None:
    trusted = make_user(server, iam, "trusted-one")
    other = make_user(server, iam, "other-one", allow("sts:AssumeRole"))
    role = make_role(iam, "only-trusted-one", trust({"AWS": trusted.arn}))
    for arn in (role["Arn"], f"arn:aws:iam::{ACCOUNT_ID}:role/no-such-role"):
        with pytest.raises(ClientError) as denied:
            other.sts.assume_role(RoleArn=arn, RoleSessionName="nope")
        status, code_, message = error_of(denied)
        assert (status, code_) == (403, "AccessDenied")
        assert f"sts:AssumeRole on resource: {arn}" in message
    # A role ARN with the wrong path names no role.
    with pytest.raises(ClientError) as wrong_path:
        trusted.sts.assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/x/only-trusted-one", RoleSessionName="ss"
        )
    assert error_of(wrong_path)[1] == "AccessDenied"


def test_external_id(server: Server, admin: Identity, iam: Any) -> None:
    role = make_role(
        iam,
        "needs-external-id",
        trust({"AWS": ROOT}, condition={"StringEquals": {"sts:ExternalId": "ext-123"}}),
    )
    for external in (None, "wrong-id"):
        extra = {"ExternalId": external} if external else {}
        with pytest.raises(ClientError) as denied:
            admin.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ss", **extra)
        assert error_of(denied)[:2] == (403, "AccessDenied")
    admin.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ss", ExternalId="ext-123")


def test_duration_limits(server: Server, admin: Identity, iam: Any) -> None:
    role = make_role(iam, "two-hours", trust({"AWS": ROOT}), max_session=7200)
    with pytest.raises(ClientError) as too_long:
        admin.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ss", DurationSeconds=7201)
    assert error_of(too_long) == (
        400,
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    )
    answer = admin.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ss", DurationSeconds=7200)
    assert answer["Credentials"]["Expiration"] - datetime.now(UTC) > timedelta(minutes=119)
    short = admin.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ss", DurationSeconds=900)
    assert short["Credentials"]["Expiration"] - datetime.now(UTC) <= timedelta(seconds=900)


def test_parameter_checks(server: Server, admin: Identity, iam: Any) -> None:
    role = make_role(iam, "params", trust({"AWS": ROOT}, ("sts:AssumeRole", "sts:TagSession")))
    with pytest.raises(ClientError) as bad_name:
        admin.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="has space")
    assert error_of(bad_name)[:2] == (400, "ValidationError")
    with pytest.raises(ClientError) as malformed:
        admin.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ss", Policy='{"Version": "2012-10-17"')
    assert error_of(malformed)[:2] == (400, "MalformedPolicyDocument")
    with pytest.raises(ClientError) as too_long:
        admin.sts.assume_role(
            RoleArn=role["Arn"], RoleSessionName="ss", Policy=doc(allow("s3:" + "x" * 2100))
        )
    assert error_of(too_long)[:2] == (400, "ValidationError")
    big_tags = [{"Key": f"k{i}", "Value": secrets.token_urlsafe(190)} for i in range(50)]
    with pytest.raises(ClientError) as packed:
        admin.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ss", Tags=big_tags)
    status, code_, message = error_of(packed)
    assert (status, code_) == (400, "PackedPolicyTooLarge") and "%" in message
    with pytest.raises(ClientError) as duplicate:
        admin.sts.assume_role(
            RoleArn=role["Arn"],
            RoleSessionName="ss",
            Tags=[{"Key": "A", "Value": "1"}, {"Key": "a", "Value": "2"}],
        )
    assert error_of(duplicate)[:2] == (400, "InvalidParameterValue")
    with pytest.raises(ClientError) as missing_policy:
        admin.sts.assume_role(
            RoleArn=role["Arn"],
            RoleSessionName="ss",
            PolicyArns=[{"arn": "arn:aws:iam::aws:policy/NoSuchPolicy"}],
        )
    assert error_of(missing_policy)[:2] == (400, "ValidationError")
    sized = admin.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ss", MinimumSessionTokenSize=3000)
    assert sized["SessionTokenSize"] == len(sized["Credentials"]["SessionToken"]) >= 3000
    assert 0 < sized["SessionTokenUtilization"] <= 100
    admin.session(sized).sts.get_caller_identity()


# -- what a session may do ------------------------------------------------------------------------


def test_a_session_acts_with_the_role_permissions_within_its_session_policies(
    server: Server, admin: Identity, iam: Any
) -> None:
    role = make_role(iam, "lister", trust({"AWS": ROOT}), allow(["iam:ListUsers", "iam:ListRoles"]))
    plain = admin.session(admin.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="plain"))
    plain.iam.list_users()
    plain.iam.list_roles()
    with pytest.raises(ClientError) as not_in_role:
        plain.iam.list_groups()
    assert error_of(not_in_role)[:2] == (403, "AccessDenied")

    scoped_answer = admin.sts.assume_role(
        RoleArn=role["Arn"], RoleSessionName="scoped", Policy=doc(allow(["iam:ListRoles", "iam:ListGroups"]))
    )
    assert scoped_answer["PackedPolicySize"] > 0
    scoped = admin.session(scoped_answer)
    scoped.iam.list_roles()
    with pytest.raises(ClientError) as outside_session:
        scoped.iam.list_users()
    assert "session policy" in error_of(outside_session)[2]
    with pytest.raises(ClientError):
        scoped.iam.list_groups()  # the session policy cannot add what the role lacks

    managed = admin.session(
        admin.sts.assume_role(
            RoleArn=role["Arn"],
            RoleSessionName="managed",
            PolicyArns=[{"arn": "arn:aws:iam::aws:policy/IAMReadOnlyAccess"}],
        )
    )
    managed.iam.list_users()
    with pytest.raises(ClientError):
        managed.iam.create_user(UserName="never")


def test_session_tags_are_principal_tags(server: Server, admin: Identity, iam: Any) -> None:
    condition = {"StringEquals": {"aws:PrincipalTag/team": "blue"}}
    role = make_role(
        iam,
        "blue-team",
        trust({"AWS": ROOT}, ("sts:AssumeRole", "sts:TagSession")),
        allow("iam:ListUsers", condition=condition),
        tags={"team": "role-team"},
    )
    blue = admin.session(
        admin.sts.assume_role(
            RoleArn=role["Arn"], RoleSessionName="bb", Tags=[{"Key": "Team", "Value": "blue"}]
        )
    )
    blue.iam.list_users()
    red = admin.session(
        admin.sts.assume_role(
            RoleArn=role["Arn"], RoleSessionName="rr", Tags=[{"Key": "team", "Value": "red"}]
        )
    )
    untagged = admin.session(admin.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="uu"))
    for denied in (red, untagged):
        with pytest.raises(ClientError) as refused:
            denied.iam.list_users()
        assert error_of(refused)[:2] == (403, "AccessDenied")

    no_tagging = make_role(iam, "no-tag-session", trust({"AWS": ROOT}))
    with pytest.raises(ClientError) as untrusted_tags:
        admin.sts.assume_role(
            RoleArn=no_tagging["Arn"], RoleSessionName="tt", Tags=[{"Key": "a", "Value": "b"}]
        )
    status, code_, message = error_of(untrusted_tags)
    assert (status, code_) == (403, "AccessDenied") and "sts:TagSession" in message


def test_role_chaining(server: Server, admin: Identity, iam: Any) -> None:
    first = make_role(
        iam,
        "chain-first",
        trust({"AWS": ROOT}, ("sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity")),
        allow(["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]),
        max_session=43200,
    )
    condition = {"StringEquals": {"aws:PrincipalTag/project": "apollo", "aws:SourceIdentity": "admin-person"}}
    second = make_role(
        iam,
        "chain-second",
        trust({"AWS": first["Arn"]}, ("sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity")),
        allow("iam:ListUsers", condition=condition),
        max_session=43200,
    )
    start = admin.sts.assume_role(
        RoleArn=first["Arn"],
        RoleSessionName="first",
        DurationSeconds=7200,  # fine: not chained
        Tags=[{"Key": "project", "Value": "apollo"}, {"Key": "scratch", "Value": "x"}],
        TransitiveTagKeys=["project"],
        SourceIdentity="admin-person",
    )
    assert start["SourceIdentity"] == "admin-person"
    first_session = admin.session(start)
    with pytest.raises(ClientError) as over_an_hour:
        first_session.sts.assume_role(RoleArn=second["Arn"], RoleSessionName="second", DurationSeconds=3601)
    assert error_of(over_an_hour) == (
        400,
        "ValidationError",
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
    )
    chained_answer = first_session.sts.assume_role(RoleArn=second["Arn"], RoleSessionName="second")
    assert chained_answer["SourceIdentity"] == "admin-person"
    assert chained_answer["Credentials"]["Expiration"] - datetime.now(UTC) <= timedelta(hours=1)
    chained = admin.session(chained_answer)
    assert chained.arn == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/chain-second/second"
    chained.iam.list_users()  # the transitive tag and the source identity came along
    with pytest.raises(ClientError) as override:
        first_session.sts.assume_role(
            RoleArn=second["Arn"], RoleSessionName="xx", Tags=[{"Key": "Project", "Value": "gemini"}]
        )
    assert error_of(override)[:2] == (400, "InvalidParameterValue")
    with pytest.raises(ClientError) as changed_identity:
        first_session.sts.assume_role(
            RoleArn=second["Arn"], RoleSessionName="xx", SourceIdentity="someone-else"
        )
    assert error_of(changed_identity)[:2] == (403, "AccessDenied")


def test_trust_conditions_see_the_role_tags(server: Server, admin: Identity, iam: Any) -> None:
    gated = trust({"AWS": ROOT}, condition={"StringEquals": {"iam:ResourceTag/env": "prod"}})
    role = make_role(iam, "tag-gated", gated, tags={"env": "prod"})
    admin.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="while-prod")
    iam.tag_role(RoleName="tag-gated", Tags=[{"Key": "env", "Value": "dev"}])
    with pytest.raises(ClientError) as denied:
        admin.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="now-dev")
    assert error_of(denied)[:2] == (403, "AccessDenied")


def test_identity_policy_conditions_see_the_role_tags(server: Server, iam: Any) -> None:
    """The caller's own policy may allow sts:AssumeRole only on roles carrying a tag (AWS's
    aws:ResourceTag for a role): the role's tags are in the request's context whether or not the
    trust policy names any."""
    tagged = {"StringEquals": {"aws:ResourceTag/team": "blue"}}
    gina = make_user(server, iam, "gina", allow("sts:AssumeRole", condition=tagged))
    role = make_role(iam, "team-role", trust({"AWS": ROOT}), tags={"team": "blue"})
    gina.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="blue")
    iam.tag_role(RoleName="team-role", Tags=[{"Key": "team", "Value": "red"}])
    with pytest.raises(ClientError) as denied:
        gina.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="red")
    status, code_, message = error_of(denied)
    assert (status, code_) == (403, "AccessDenied") and "no identity-based policy allows" in message


def test_source_identity_needs_set_source_identity(server: Server, admin: Identity, iam: Any) -> None:
    role = make_role(iam, "no-source-identity", trust({"AWS": ROOT}))
    with pytest.raises(ClientError) as denied:
        admin.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ss", SourceIdentity="me")
    status, code_, message = error_of(denied)
    assert (status, code_) == (403, "AccessDenied") and "sts:SetSourceIdentity" in message


def test_mfa_in_the_trust_policy(server: Server, iam: Any) -> None:
    frank = make_user(server, iam, "frank", allow("sts:AssumeRole"))
    role = make_role(
        iam, "mfa-only", trust({"AWS": ROOT}, condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})
    )
    serial, seed = add_mfa_device(server, frank.arn, "frank-phone")
    with pytest.raises(ClientError) as without:
        frank.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ss")
    assert error_of(without)[:2] == (403, "AccessDenied")
    with pytest.raises(ClientError) as wrong:
        frank.sts.assume_role(
            RoleArn=role["Arn"],
            RoleSessionName="ss",
            SerialNumber=serial,
            TokenCode="000000" if code(seed) != "000000" else "111111",
        )
    assert error_of(wrong) == (
        403,
        "AccessDenied",
        "MultiFactorAuthentication failed with invalid MFA one time pass code.",
    )
    good = code(seed)
    answer = frank.sts.assume_role(
        RoleArn=role["Arn"], RoleSessionName="ss", SerialNumber=serial, TokenCode=good
    )
    assert answer["AssumedRoleUser"]["Arn"].endswith("/mfa-only/ss")
    with pytest.raises(ClientError) as replayed:
        frank.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ss", SerialNumber=serial, TokenCode=good)
    assert error_of(replayed)[:2] == (403, "AccessDenied")


# -- the token ------------------------------------------------------------------------------------


def test_tampered_foreign_and_missing_tokens_are_refused(server: Server, admin: Identity, iam: Any) -> None:
    role = make_role(iam, "token-checks", trust({"AWS": ROOT}))
    one = admin.session(admin.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="one"))
    two = admin.session(admin.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="two"))
    token = str(one.token)
    position = len(token) // 2
    tampered = token[:position] + ("A" if token[position] != "A" else "B") + token[position + 1 :]
    cases = [
        (one.key, one.secret, tampered),
        (one.key, one.secret, two.token),  # another session's token
        (one.key, one.secret, None),
        (one.key, one.secret, "garbage"),
    ]
    for key, secret, bad in cases:
        with pytest.raises(ClientError) as refused:
            server.client("sts", key, secret, bad).get_caller_identity()
        assert error_of(refused) == (
            403,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        )
    with pytest.raises(ClientError) as bad_secret:
        server.client("sts", one.key, two.secret, one.token).get_caller_identity()
    assert error_of(bad_secret)[:2] == (403, "SignatureDoesNotMatch")


def test_an_expired_session_is_refused(
    server: Server, admin: Identity, iam: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    role = make_role(iam, "short-lived", trust({"AWS": ROOT}), allow("iam:ListUsers"))
    session = admin.session(
        admin.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ss", DurationSeconds=900)
    )
    session.iam.list_users()
    # A second server on the same data, 1,000 seconds ahead; the client's clock moves with it so
    # that the signature's own time stays within the allowed skew.
    later = start_server(server.data_dir, "--clock-offset", "1000")
    try:
        import botocore.auth
        from botocore.compat import get_current_datetime

        monkeypatch.setattr(
            botocore.auth,
            "get_current_datetime",
            lambda *a, **k: get_current_datetime(*a, **k) + timedelta(seconds=1000),
        )
        with pytest.raises(ClientError) as expired:
            later.client("sts", session.key, session.secret, session.token).get_caller_identity()
        assert error_of(expired) == (
            403,
            "ExpiredToken",
            "The security token included in the request is expired",
        )
        # Still valid on the first server's clock, and new sessions from the later server work.
        monkeypatch.undo()
        session.sts.get_caller_identity()
    finally:
        stop_server(later)


def test_a_deleted_role_ends_its_sessions(server: Server, admin: Identity, iam: Any) -> None:
    role = make_role(iam, "doomed", trust({"AWS": ROOT}), allow("iam:ListUsers"))
    session = admin.session(admin.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ss"))
    session.iam.list_users()
    iam.delete_role_policy(RoleName="doomed", PolicyName="inline")
    iam.delete_role(RoleName="doomed")
    make_role(iam, "doomed", trust({"AWS": ROOT}), allow("iam:ListUsers"))  # same name, new role id
    with pytest.raises(ClientError) as gone:
        session.sts.get_caller_identity()
    assert error_of(gone)[:2] == (403, "InvalidClientTokenId")


def test_revoking_older_sessions(server: Server, admin: Identity, iam: Any) -> None:
    role = make_role(iam, "revocable", trust({"AWS": ROOT}), allow("iam:ListUsers"))
    old = admin.session(admin.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="old"))
    old.iam.list_users()
    time.sleep(1.1)
    cutoff = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    revoke = {
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"DateLessThan": {"aws:TokenIssueTime": cutoff}},
    }
    iam.put_role_policy(RoleName="revocable", PolicyName="AWSRevokeOlderSessions", PolicyDocument=doc(revoke))
    time.sleep(1.1)
    new = admin.session(admin.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="new"))
    with pytest.raises(ClientError) as revoked:
        old.iam.list_users()
    status, code_, message = error_of(revoked)
    assert (status, code_) == (403, "AccessDenied") and "explicit deny" in message
    new.iam.list_users()


# -- GetSessionToken and GetFederationToken -------------------------------------------------------


def test_get_session_token(server: Server, iam: Any) -> None:
    mfa_only = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    dave = make_user(server, iam, "dave", allow("iam:ListUsers"), allow("iam:ListRoles", condition=mfa_only))
    role = make_role(iam, "for-dave", trust({"AWS": dave.arn}))
    answer = dave.sts.get_session_token()
    remaining = answer["Credentials"]["Expiration"] - datetime.now(UTC)
    assert timedelta(hours=11, minutes=58) < remaining <= timedelta(hours=12)
    plain = dave.session(answer)
    assert plain.arn == dave.arn
    with pytest.raises(ClientError) as no_iam:
        plain.iam.list_users()  # AWS: IAM refuses GetSessionToken credentials without MFA
    assert error_of(no_iam)[:2] == (403, "InvalidClientTokenId")
    with pytest.raises(ClientError) as again:
        plain.sts.get_session_token()
    assert error_of(again)[:2] == (403, "AccessDenied")
    plain.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="from-session")

    serial, seed = add_mfa_device(server, dave.arn, "dave-phone")
    with pytest.raises(ClientError) as wrong:
        dave.sts.get_session_token(
            SerialNumber=serial, TokenCode="000000" if code(seed) != "000000" else "111111"
        )
    assert error_of(wrong)[:2] == (403, "AccessDenied")
    with_mfa = dave.session(
        dave.sts.get_session_token(SerialNumber=serial, TokenCode=code(seed), DurationSeconds=900)
    )
    with_mfa.iam.list_users()
    with_mfa.iam.list_roles()  # aws:MultiFactorAuthPresent is true
    with pytest.raises(ClientError):
        dave.iam.list_roles()  # the long-term key has no MFA


def test_get_federation_token(server: Server, iam: Any) -> None:
    erin = make_user(server, iam, "erin", allow(["sts:GetFederationToken", "s3:*"]))
    answer = erin.sts.get_federation_token(
        Name="erin-fed", Policy=doc(allow("s3:GetObject")), DurationSeconds=900
    )
    assert answer["FederatedUser"] == {
        "FederatedUserId": f"{ACCOUNT_ID}:erin-fed",
        "Arn": f"arn:aws:sts::{ACCOUNT_ID}:federated-user/erin-fed",
    }
    assert answer["PackedPolicySize"] > 0
    federated = erin.session(answer)
    identity = federated.sts.get_caller_identity()
    assert (identity["Arn"], identity["UserId"]) == (answer["FederatedUser"]["Arn"], f"{ACCOUNT_ID}:erin-fed")
    with pytest.raises(ClientError) as no_iam:
        federated.iam.list_users()
    assert error_of(no_iam)[:2] == (403, "InvalidClientTokenId")
    with pytest.raises(ClientError) as no_sts:
        federated.sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/whatever", RoleSessionName="ss")
    assert error_of(no_sts)[:2] == (403, "AccessDenied")
    nobody = make_user(server, iam, "not-federating")
    with pytest.raises(ClientError) as denied:
        nobody.sts.get_federation_token(Name="x-fed")
    status, code_, message = error_of(denied)
    assert (status, code_) == (403, "AccessDenied") and "sts:GetFederationToken" in message


# -- GetAccessKeyInfo, DecodeAuthorizationMessage, the rest -----------------------------------------


def test_get_access_key_info(server: Server, admin: Identity, other_account: Identity, iam: Any) -> None:
    assert admin.sts.get_access_key_info(AccessKeyId=admin.key)["Account"] == ACCOUNT_ID
    assert admin.sts.get_access_key_info(AccessKeyId=other_account.key)["Account"] == OTHER_ACCOUNT
    role = make_role(iam, "key-info", trust({"AWS": ROOT}))
    session = admin.session(admin.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ss"))
    assert admin.sts.get_access_key_info(AccessKeyId=session.key)["Account"] == ACCOUNT_ID
    assert (
        other_account.sts.get_access_key_info(AccessKeyId="ASIAY34FZKBOKMUTVV7A")["Account"] == "609629065308"
    )
    nobody = make_user(server, iam, "no-key-info")
    with pytest.raises(ClientError) as denied:
        nobody.sts.get_access_key_info(AccessKeyId=admin.key)
    assert error_of(denied)[:2] == (403, "AccessDenied")


def test_decode_authorization_message(
    server: Server, admin: Identity, other_account: Identity, iam: Any
) -> None:
    role = make_role(iam, "nobody-may", trust({"AWS": "arn:aws:iam::123456789012:root"}))
    grace = make_user(server, iam, "grace", allow("sts:AssumeRole"))
    with pytest.raises(ClientError) as denied:
        grace.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="gg")
    message = error_of(denied)[2]
    encoded = message.split("Encoded authorization failure message: ", 1)[1]
    decoded = json.loads(admin.sts.decode_authorization_message(EncodedMessage=encoded)["DecodedMessage"])
    assert decoded["allowed"] is False and decoded["explicitDeny"] is False
    assert decoded["context"]["action"] == "sts:AssumeRole"
    assert decoded["context"]["resource"] == role["Arn"]
    assert decoded["context"]["principal"]["arn"] == grace.arn
    assert {"key": "sts:rolesessionname", "values": {"items": [{"value": "gg"}]}} in decoded["context"][
        "conditions"
    ]["items"]
    with pytest.raises(ClientError) as not_allowed:
        grace.sts.decode_authorization_message(EncodedMessage=encoded)
    assert error_of(not_allowed)[:2] == (403, "AccessDenied")
    for who, text in ((admin, "not-a-message"), (other_account, encoded)):
        with pytest.raises(ClientError) as invalid:
            who.sts.decode_authorization_message(EncodedMessage=text)
        assert error_of(invalid)[:2] == (400, "InvalidAuthorizationMessageException")


def test_operations_iamd_does_not_offer_say_so(admin: Identity) -> None:
    sts = admin.sts
    calls = {
        "GetDelegatedAccessToken": lambda: sts.get_delegated_access_token(TradeInToken="x" * 32),
        "GetScopedCredentials": lambda: sts.get_scoped_credentials(DurationSeconds=900),
    }
    for name, call in calls.items():
        with pytest.raises(ClientError) as unsupported:
            call()
        status, code_, message = error_of(unsupported)
        assert (status, code_) == (400, "UnsupportedOperation") and message.startswith(
            f"{name} is not supported"
        )
    # AssumeRoot exists (tests/e2e/test_organizations.py); outside an organization it says why.
    with pytest.raises(ClientError) as refused:
        sts.assume_root(
            TargetPrincipal=OTHER_ACCOUNT,
            TaskPolicyArn={"arn": "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials"},
        )
    status, code_, message = error_of(refused)
    assert (status, code_) == (403, "AccessDenied") and "not in an organization" in message


# -- across accounts ------------------------------------------------------------------------------


def test_cross_account_role(server: Server, iam: Any, other_account: Identity) -> None:
    b_iam = other_account.iam
    role = make_role(b_iam, "from-account-a", trust({"AWS": ROOT}), allow("iam:ListUsers"))
    assert role["Arn"] == f"arn:aws:iam::{OTHER_ACCOUNT}:role/from-account-a"
    allowed = make_user(server, iam, "crosser", allow("sts:AssumeRole", role["Arn"]))
    refused = make_user(server, iam, "stayer", allow("iam:ListUsers"))
    session = allowed.session(allowed.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="visit"))
    assert session.arn == f"arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/from-account-a/visit"
    assert session.sts.get_caller_identity()["Account"] == OTHER_ACCOUNT
    names = {u["UserName"] for u in session.iam.list_users()["Users"]}
    assert "b-admin" in names and "crosser" not in names  # it acts in account B
    with pytest.raises(ClientError) as denied:
        refused.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="visit")
    assert error_of(denied)[:2] == (403, "AccessDenied")

    # A trust policy naming one user of A: that user gets in, A's administrator does not.
    only_crosser = make_role(b_iam, "only-crosser", trust({"AWS": allowed.arn}))
    allowed_again = make_user(server, iam, "crosser-2", allow("sts:AssumeRole"))
    with pytest.raises(ClientError):  # crosser's own policy allows only from-account-a
        allowed.sts.assume_role(RoleArn=only_crosser["Arn"], RoleSessionName="no-identity-allow")
    with pytest.raises(ClientError):
        allowed_again.sts.assume_role(RoleArn=only_crosser["Arn"], RoleSessionName="not-named")
    iam.put_user_policy(UserName="crosser", PolicyName="more", PolicyDocument=doc(allow("sts:AssumeRole")))
    allowed.sts.assume_role(RoleArn=only_crosser["Arn"], RoleSessionName="named-and-allowed")

    # And the other way: a role of A that does not trust B.
    a_role = make_role(iam, "a-only", trust({"AWS": ROOT}))
    with pytest.raises(ClientError) as not_trusted:
        other_account.sts.assume_role(RoleArn=a_role["Arn"], RoleSessionName="bb")
    assert error_of(not_trusted)[:2] == (403, "AccessDenied")


def test_cross_account_chaining_with_session_credentials(
    server: Server, admin: Identity, iam: Any, other_account: Identity
) -> None:
    b_role = make_role(other_account.iam, "chained-into-b", trust({"AWS": ROOT}), allow("iam:ListRoles"))
    a_role = make_role(iam, "hop-to-b", trust({"AWS": ROOT}), allow("sts:AssumeRole", b_role["Arn"]))
    hop = admin.session(admin.sts.assume_role(RoleArn=a_role["Arn"], RoleSessionName="hop"))
    in_b = hop.session(hop.sts.assume_role(RoleArn=b_role["Arn"], RoleSessionName="landed"))
    assert in_b.arn == f"arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/chained-into-b/landed"
    assert any(r["RoleName"] == "chained-into-b" for r in in_b.iam.list_roles()["Roles"])
