"""Writes scoped to one user or role (its tags, inline and attached policies, access keys) move
that principal's own generation, not the account's shared one: the principal's very next request
is decided on the new data (its key, its compiled policies, its session's role read again), while
every other caller's cached key and policies stay valid (the caches' miss counters say so)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from tests.unit.conftest import LOOPBACK, Live
from tests.unit.signing import signed_query

from iamd.server.authenticators import AccessKey
from iamd.server.sessions import resolver_for
from iamd.services.policies import shared_cache
from iamd.wire import HttpResponse

ACCOUNT = "111111111111"


def _policy(effect: str, action: str, condition: dict[str, Any] | None = None) -> str:
    statement: dict[str, Any] = {"Effect": effect, "Action": action, "Resource": "*"}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


ALLOW_GET_USER = _policy("Allow", "iam:GetUser")
DENY_GET_USER = _policy("Deny", "iam:GetUser")
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


class Signer:
    def __init__(self, live: Live, key: str, secret: str, token: str | None = None) -> None:
        self.live, self.key, self.secret, self.token = live, key, secret, token

    def send(self, service: str, action: str, **params: str) -> HttpResponse:
        request = signed_query(self.key, self.secret, service, {"Action": action, **params}, self.token)
        return self.live.pipeline.handle(request, LOOPBACK)

    def ok(self, service: str, action: str, **params: str) -> str:
        answer = self.send(service, action, **params)
        assert answer.status == 200, answer.body[:400]
        return answer.body.decode()

    def allowed(self, service: str, action: str, **params: str) -> bool:
        answer = self.send(service, action, **params)
        if answer.status == 200:
            return True
        assert b"AccessDenied" in answer.body, answer.body[:400]
        return False


def _field(xml: str, name: str) -> str:
    found = re.search(f"<{name}>([^<]*)</{name}>", xml)
    assert found is not None, xml
    return found.group(1)


@pytest.fixture(scope="module")
def admin(live: Live) -> Signer:
    return Signer(live, live.key, live.secret)


def _user(admin: Signer, name: str) -> Signer:
    admin.ok("iam", "CreateUser", UserName=name)
    created = admin.ok("iam", "CreateAccessKey", UserName=name)
    return Signer(admin.live, _field(created, "AccessKeyId"), _field(created, "SecretAccessKey"))


@pytest.fixture(scope="module")
def bystander(admin: Signer) -> Signer:
    """A user whose cached key and policies should survive the writes to the others."""
    bob = _user(admin, "bystander")
    admin.ok("iam", "PutUserPolicy", UserName="bystander", PolicyName="read", PolicyDocument=ALLOW_GET_USER)
    return bob


class Misses:
    """The caches' miss counters: the access-key cache's, the compiled-policy cache's and the
    sessions' role/user cache's."""

    def __init__(self, live: Live) -> None:
        self.keys = next(s for s in live.pipeline.authenticators.schemes if isinstance(s, AccessKey))
        self.sessions = resolver_for(live.store)

    def now(self) -> tuple[int, int, int]:
        return self.keys.misses, shared_cache().misses, self.sessions.entity_misses


@pytest.fixture
def misses(live: Live) -> Iterator[Misses]:
    yield Misses(live)


def _bystander_hits(bystander: Signer, misses: Misses) -> bool:
    """Whether the bystander's next request is answered from the caches (no miss of its own)."""
    before = misses.now()
    assert bystander.allowed("iam", "GetUser", UserName="bystander")
    return misses.now() == before


def test_a_users_policy_changes_decide_its_next_request_and_spare_the_others(
    admin: Signer, bystander: Signer, misses: Misses
) -> None:
    _bystander_hits(bystander, misses)  # cached
    # CreateUser and CreateAccessKey: a new principal and its key, nothing cached about others.
    alice = _user(admin, "alice-p")
    assert _bystander_hits(bystander, misses)
    assert not alice.allowed("iam", "GetUser", UserName="alice-p")

    # Inline policies: deny then allow, allow then deny.
    admin.ok("iam", "PutUserPolicy", UserName="alice-p", PolicyName="read", PolicyDocument=ALLOW_GET_USER)
    assert alice.allowed("iam", "GetUser", UserName="alice-p")
    assert _bystander_hits(bystander, misses)
    admin.ok("iam", "PutUserPolicy", UserName="alice-p", PolicyName="deny", PolicyDocument=DENY_GET_USER)
    assert not alice.allowed("iam", "GetUser", UserName="alice-p")
    assert _bystander_hits(bystander, misses)
    admin.ok("iam", "DeleteUserPolicy", UserName="alice-p", PolicyName="deny")
    assert alice.allowed("iam", "GetUser", UserName="alice-p")
    admin.ok("iam", "DeleteUserPolicy", UserName="alice-p", PolicyName="read")
    assert not alice.allowed("iam", "GetUser", UserName="alice-p")
    assert _bystander_hits(bystander, misses)

    # Attached policies.
    created = admin.ok("iam", "CreatePolicy", PolicyName="get-user", PolicyDocument=ALLOW_GET_USER)
    arn = _field(created, "Arn")
    assert _bystander_hits(bystander, misses) is False  # a new managed policy: a shared change
    admin.ok("iam", "AttachUserPolicy", UserName="alice-p", PolicyArn=arn)
    assert alice.allowed("iam", "GetUser", UserName="alice-p")
    assert _bystander_hits(bystander, misses)
    admin.ok("iam", "DetachUserPolicy", UserName="alice-p", PolicyArn=arn)
    assert not alice.allowed("iam", "GetUser", UserName="alice-p")
    assert _bystander_hits(bystander, misses)

    # The administrator's own entries survive its writes to alice too.
    admin.ok("iam", "TagUser", UserName="alice-p", **{"Tags.member.1.Key": "k", "Tags.member.1.Value": "1"})
    before = misses.now()
    admin.ok("iam", "GetUser", UserName="alice-p")
    assert misses.now() == before


def test_a_users_tags_decide_its_next_request(admin: Signer, bystander: Signer, misses: Misses) -> None:
    alice = _user(admin, "alice-t")
    tagged = _policy("Allow", "iam:GetUser", {"StringEquals": {"aws:PrincipalTag/team": "blue"}})
    admin.ok("iam", "PutUserPolicy", UserName="alice-t", PolicyName="tagged", PolicyDocument=tagged)
    assert not alice.allowed("iam", "GetUser", UserName="alice-t")
    _bystander_hits(bystander, misses)
    admin.ok(
        "iam", "TagUser", UserName="alice-t", **{"Tags.member.1.Key": "team", "Tags.member.1.Value": "blue"}
    )
    assert alice.allowed("iam", "GetUser", UserName="alice-t")
    assert _bystander_hits(bystander, misses)
    admin.ok(
        "iam", "TagUser", UserName="alice-t", **{"Tags.member.1.Key": "team", "Tags.member.1.Value": "red"}
    )
    assert not alice.allowed("iam", "GetUser", UserName="alice-t")
    admin.ok(
        "iam", "TagUser", UserName="alice-t", **{"Tags.member.1.Key": "team", "Tags.member.1.Value": "blue"}
    )
    assert alice.allowed("iam", "GetUser", UserName="alice-t")
    admin.ok("iam", "UntagUser", UserName="alice-t", **{"TagKeys.member.1": "team"})
    assert not alice.allowed("iam", "GetUser", UserName="alice-t")
    assert _bystander_hits(bystander, misses)


def test_a_user_changing_itself_sees_it_at_once(admin: Signer, misses: Misses) -> None:
    alice = _user(admin, "alice-s")
    own = _policy("Allow", "iam:*")
    admin.ok("iam", "PutUserPolicy", UserName="alice-s", PolicyName="own", PolicyDocument=own)
    alice.ok("iam", "PutUserPolicy", UserName="alice-s", PolicyName="deny", PolicyDocument=DENY_GET_USER)
    assert not alice.allowed("iam", "GetUser", UserName="alice-s")
    alice.ok("iam", "DeleteUserPolicy", UserName="alice-s", PolicyName="deny")
    assert alice.allowed("iam", "GetUser", UserName="alice-s")
    # Its own key, deactivated with another of its keys: refused at once.
    second = admin.ok("iam", "CreateAccessKey", UserName="alice-s")
    other = Signer(admin.live, _field(second, "AccessKeyId"), _field(second, "SecretAccessKey"))
    assert other.allowed("iam", "GetUser", UserName="alice-s")
    alice.ok(
        "iam",
        "UpdateAccessKey",
        UserName="alice-s",
        AccessKeyId=_field(second, "AccessKeyId"),
        Status="Inactive",
    )
    assert b"InvalidClientTokenId" in other.send("iam", "GetUser", UserName="alice-s").body


def test_a_role_session_sees_its_roles_changes_at_once(
    admin: Signer, bystander: Signer, misses: Misses
) -> None:
    admin.ok("iam", "CreateRole", RoleName="worker", AssumeRolePolicyDocument=TRUST)
    assumed = admin.ok(
        "sts", "AssumeRole", RoleArn=f"arn:aws:iam::{ACCOUNT}:role/worker", RoleSessionName="sess"
    )
    session = Signer(
        admin.live,
        _field(assumed, "AccessKeyId"),
        _field(assumed, "SecretAccessKey"),
        _field(assumed, "SessionToken"),
    )
    allow_role = _policy("Allow", "iam:GetRole")
    assert not session.allowed("iam", "GetRole", RoleName="worker")
    _bystander_hits(bystander, misses)
    admin.ok("iam", "PutRolePolicy", RoleName="worker", PolicyName="read", PolicyDocument=allow_role)
    assert session.allowed("iam", "GetRole", RoleName="worker")
    assert _bystander_hits(bystander, misses)
    admin.ok("iam", "DeleteRolePolicy", RoleName="worker", PolicyName="read")
    assert not session.allowed("iam", "GetRole", RoleName="worker")
    assert _bystander_hits(bystander, misses)

    # The role's tags, as the session's aws:PrincipalTag.
    tagged = _policy("Allow", "iam:GetRole", {"StringEquals": {"aws:PrincipalTag/team": "blue"}})
    admin.ok("iam", "PutRolePolicy", RoleName="worker", PolicyName="tagged", PolicyDocument=tagged)
    assert not session.allowed("iam", "GetRole", RoleName="worker")
    entities = misses.sessions.entity_misses
    admin.ok(
        "iam", "TagRole", RoleName="worker", **{"Tags.member.1.Key": "team", "Tags.member.1.Value": "blue"}
    )
    assert session.allowed("iam", "GetRole", RoleName="worker")
    assert misses.sessions.entity_misses == entities + 1  # the role read again, once
    assert session.allowed("iam", "GetRole", RoleName="worker")
    assert misses.sessions.entity_misses == entities + 1
    admin.ok("iam", "UntagRole", RoleName="worker", **{"TagKeys.member.1": "team"})
    assert not session.allowed("iam", "GetRole", RoleName="worker")

    # Attached to the role.
    created = admin.ok("iam", "CreatePolicy", PolicyName="get-role", PolicyDocument=allow_role)
    arn = _field(created, "Arn")
    assert not _bystander_hits(bystander, misses)  # a new managed policy: a shared change
    admin.ok("iam", "AttachRolePolicy", RoleName="worker", PolicyArn=arn)
    assert session.allowed("iam", "GetRole", RoleName="worker")
    admin.ok("iam", "DetachRolePolicy", RoleName="worker", PolicyArn=arn)
    assert not session.allowed("iam", "GetRole", RoleName="worker")
    assert _bystander_hits(bystander, misses)


def test_a_groups_policy_still_reaches_its_members_at_once(
    admin: Signer, bystander: Signer, misses: Misses
) -> None:
    alice = _user(admin, "alice-g")
    admin.ok("iam", "CreateGroup", GroupName="readers")
    admin.ok("iam", "AddUserToGroup", GroupName="readers", UserName="alice-g")
    assert not alice.allowed("iam", "GetUser", UserName="alice-g")
    admin.ok("iam", "PutGroupPolicy", GroupName="readers", PolicyName="read", PolicyDocument=ALLOW_GET_USER)
    assert alice.allowed("iam", "GetUser", UserName="alice-g")
    # A group's change is shared: every caller's entries are read again (the counters work).
    assert not _bystander_hits(bystander, misses)
    admin.ok("iam", "DeleteGroupPolicy", GroupName="readers", PolicyName="read")
    assert not alice.allowed("iam", "GetUser", UserName="alice-g")
    admin.ok("iam", "PutGroupPolicy", GroupName="readers", PolicyName="read", PolicyDocument=ALLOW_GET_USER)
    assert alice.allowed("iam", "GetUser", UserName="alice-g")
    admin.ok("iam", "RemoveUserFromGroup", GroupName="readers", UserName="alice-g")
    assert not alice.allowed("iam", "GetUser", UserName="alice-g")
