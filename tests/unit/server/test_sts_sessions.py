"""Session tokens and session callers: sealing, the errors AWS answers, and what the authorizer
makes of a session (role policies ∩ session policies, principal tags, issue time, federated users)."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from iamd.authz import PrincipalKind
from iamd.secrets import Kek, SeededIds
from iamd.server.authorizer import Authorizer
from iamd.server.sessions import SessionResolver
from iamd.services.framework import RequestInfo
from iamd.services.sts.evaluation import NO_PERMISSIONS
from iamd.services.sts.tokens import (
    FEDERATED,
    ROLE,
    USER,
    InvalidSessionToken,
    Session,
    account_of_key_id,
    packed_policy_size,
    seal_session,
    session_access_key_id,
    unseal_session,
)
from iamd.store import Store, open_store
from iamd.wire import AccessDenied, ExpiredToken, InvalidClientTokenId

ACCOUNT = "111122223333"
NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
ALLOW_S3 = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:*", "ec2:*"], "Resource": "*"}],
    }
)


def policy(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture
def kek() -> Kek:
    return Kek.generate()


@pytest.fixture
def store(tmp_path: Path, kek: Kek) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'iamd.db'}", kek=kek)
    with opened.transaction() as uow:
        uow.accounts.create(ACCOUNT, name="main", created_at=NOW)
        uow.roles.create(
            ACCOUNT,
            role_id="AROAAAAAAAAAAAAAAAAAA",
            name="dev",
            path="/team/",
            trust_policy="{}",
            created_at=NOW,
        )
        uow.inline_policies.put(ACCOUNT, "role", "AROAAAAAAAAAAAAAAAAAA", "s3", ALLOW_S3)
        uow.tags.put(ACCOUNT, "role", "AROAAAAAAAAAAAAAAAAAA", {"Team": "role-team", "cost": "42"})
        uow.users.create(ACCOUNT, user_id="AIDAAAAAAAAAAAAAAAAAA", name="alice", path="/", created_at=NOW)
        uow.inline_policies.put(ACCOUNT, "user", "AIDAAAAAAAAAAAAAAAAAA", "s3", ALLOW_S3)
        uow.policies.create(
            ACCOUNT,
            policy_id="ANPAAAAAAAAAAAAAAAAAA",
            name="ReadOnlyS3",
            path="/",
            document=policy({"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}),
            created_at=NOW,
        )
    try:
        yield opened
    finally:
        opened.close()


def role_session(**changes: object) -> Session:
    ids = SeededIds(1)
    base = Session(
        kind=ROLE,
        account_id=ACCOUNT,
        access_key_id=session_access_key_id(ids, ACCOUNT),
        secret_access_key=ids.secret_access_key(),
        issued_at=int(NOW.timestamp()),
        expires_at=int(NOW.timestamp()) + 3600,
        role_id="AROAAAAAAAAAAAAAAAAAA",
        role_name="dev",
        role_path="/team/",
        session_name="build",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


INFO = RequestInfo("req", "s3", "GetObject", "us-east-1", "10.0.0.1", "test", True, NOW)


def decide(store: Store, session: Session, action: str, *, at: datetime = NOW) -> bool:
    resolver = SessionResolver(store.kek)
    authorizer = Authorizer()
    with store.transaction(readonly=True) as uow:
        caller, generations = resolver.caller(uow, session, at)
        try:
            authorizer.decide(
                uow, caller, INFO, at, action, "arn:aws:s3:::bucket/key", generations=generations
            )
        except AccessDenied:
            return False
        return True


# -- tokens ---------------------------------------------------------------------------------------


def test_a_token_round_trips_and_is_opaque(kek: Kek) -> None:
    session = role_session(tags=(("team", "blue"),), policy=ALLOW_S3, source_identity="alice")
    token = seal_session(kek, session)
    assert unseal_session(kek, token) == session
    assert "alice" not in token and session.secret_access_key not in token


def test_tokens_of_every_size_open_and_earlier_tokens_still_do(kek: Kek) -> None:
    """A small session is sealed as its JSON, a large one compressed (the compressor's window
    follows the session's size); a token sealed as earlier versions sealed every session (zlib's
    defaults) opens too: all to the same session."""
    tags = tuple((f"k{i}", f"value-{i}" * 20) for i in range(50))
    small, large = role_session(), role_session(tags=tags, policy=ALLOW_S3, source_identity="alice")
    for session, kind in ((small, 2), (large, 1)):
        token = seal_session(kek, session)
        assert unseal_session(kek, token) == session
        payload = kek.unseal(token, purpose="sts-session")  # format, length, body
        assert payload[0] == kind
        stored = payload[5 : 5 + int.from_bytes(payload[1:5], "big")]
        data = json.loads(stored if kind == 2 else zlib.decompress(stored))
        assert data["k"] == session.access_key_id
        body = zlib.compress(json.dumps(data).encode(), 6)
        earlier = kek.seal(b"\x01" + len(body).to_bytes(4, "big") + body, purpose="sts-session")
        assert unseal_session(kek, earlier) == session


def test_a_tampered_token_or_a_foreign_key_does_not_open(kek: Kek) -> None:
    token = seal_session(kek, role_session())
    flipped = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    with pytest.raises(InvalidSessionToken):
        unseal_session(kek, flipped)
    with pytest.raises(InvalidSessionToken):
        unseal_session(Kek.generate(), token)
    with pytest.raises(InvalidSessionToken):
        unseal_session(kek, kek.seal(b"\x01junk", purpose="sts-session"))
    with pytest.raises(InvalidSessionToken):
        unseal_session(kek, kek.seal(b"anything", purpose="another-purpose"))


def test_minimum_token_size_pads(kek: Kek) -> None:
    small = seal_session(kek, role_session())
    padded = seal_session(kek, role_session(), min_size=4096)
    assert len(padded) >= 4096 > len(small)
    assert unseal_session(kek, padded) == role_session()


def test_session_key_ids_name_their_account() -> None:
    ids = SeededIds(3)
    for account in ("000000000001", ACCOUNT, "999999999999"):
        key_id = session_access_key_id(ids, account)
        assert key_id.startswith("ASIA") and len(key_id) == 20
        assert account_of_key_id(key_id) == account
    assert account_of_key_id("not-a-key") is None
    # AWS's documented example key decodes to its documented account.
    assert account_of_key_id("ASIAY34FZKBOKMUTVV7A") == "609629065308"


def test_packed_policy_size_grows_with_content() -> None:
    assert packed_policy_size(None, (), ()) == 0
    small = packed_policy_size(ALLOW_S3, (), {"a": "b"})
    big = packed_policy_size(ALLOW_S3, (), {f"k{i}": "x" * 200 + str(i) * 50 for i in range(50)})
    assert 0 < small < big


# -- the resolver ---------------------------------------------------------------------------------


def test_open_checks_key_id_expiry_and_token(store: Store) -> None:
    resolver = SessionResolver(store.kek)
    assert store.kek is not None
    session = role_session()
    token = seal_session(store.kek, session)
    assert resolver.open(token, session.access_key_id, NOW) == session
    with pytest.raises(InvalidClientTokenId):
        resolver.open(token, "ASIAAAAAAAAAAAAAAAAA", NOW)
    with pytest.raises(InvalidClientTokenId):
        resolver.open(None, session.access_key_id, NOW)
    with pytest.raises(InvalidClientTokenId):
        resolver.open(token[:-2] + "xx", session.access_key_id, NOW)
    with pytest.raises(ExpiredToken):
        resolver.open(token, session.access_key_id, NOW + timedelta(seconds=3600))


def test_iam_refuses_federated_and_non_mfa_user_sessions(store: Store) -> None:
    assert store.kek is not None
    resolver = SessionResolver(store.kek)
    federated = role_session(kind=FEDERATED, session_name="bob", user_id="AIDAAAAAAAAAAAAAAAAAA")
    user = role_session(kind=USER, user_id="AIDAAAAAAAAAAAAAAAAAA", user_name="alice", role_id=None)
    for session, refused in ((federated, True), (user, True), (replace(user, mfa=True), False)):
        token = seal_session(store.kek, session)
        assert resolver.open(token, session.access_key_id, NOW, service="sts") == session
        if refused:
            with pytest.raises(InvalidClientTokenId):
                resolver.open(token, session.access_key_id, NOW, service="iam")
        else:
            resolver.open(token, session.access_key_id, NOW, service="iam")


def test_a_role_session_caller(store: Store) -> None:
    session = role_session(
        tags=(("team", "session-team"),), source_identity="alice", mfa=True, mfa_at=int(NOW.timestamp()) - 30
    )
    with store.transaction(readonly=True) as uow:
        caller, generations = SessionResolver(store.kek).caller(uow, session, NOW)
    assert caller.principal.kind is PrincipalKind.ASSUMED_ROLE
    assert caller.principal.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/dev/build"
    assert caller.principal.role_arn == f"arn:aws:iam::{ACCOUNT}:role/team/dev"
    assert caller.arn == f"arn:aws:iam::{ACCOUNT}:role/team/dev"
    assert caller.unique_id == "AROAAAAAAAAAAAAAAAAAA:build"
    assert caller.principal_type == "AssumedRole"
    assert caller.role_id == "AROAAAAAAAAAAAAAAAAAA"
    # Role tags, with the session tag winning over the role tag of the same key (any case).
    assert dict(caller.tags) == {"cost": "42", "team": "session-team"}
    assert caller.session_issued_at == NOW
    assert caller.mfa_authenticated is True and caller.mfa_age_seconds == 30
    assert caller.source_identity == "alice"
    # The shared generations and the role's own, read in one statement.
    assert set(generations) == {ACCOUNT, "aws", "AROAAAAAAAAAAAAAAAAAA"}


def test_a_deleted_role_refuses_its_sessions(store: Store) -> None:
    resolver = SessionResolver(store.kek)
    session = role_session()
    with store.transaction(readonly=True) as uow:
        resolver.caller(uow, session, NOW)
    with store.transaction() as uow:
        uow.inline_policies.delete("role", "AROAAAAAAAAAAAAAAAAAA", "s3")
        uow.roles.delete("AROAAAAAAAAAAAAAAAAAA")
    with store.transaction(readonly=True) as uow, pytest.raises(InvalidClientTokenId):
        resolver.caller(uow, session, NOW)


def test_session_policies_intersect_with_the_role(store: Store) -> None:
    assert decide(store, role_session(), "s3:PutObject")
    assert decide(store, role_session(), "ec2:RunInstances")
    limited = role_session(policy=policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))
    assert decide(store, limited, "s3:PutObject")
    assert not decide(store, limited, "ec2:RunInstances")
    # A session policy cannot grant what the role lacks.
    wider = role_session(policy=policy({"Effect": "Allow", "Action": "*", "Resource": "*"}))
    assert not decide(store, wider, "iam:CreateUser")


def test_managed_session_policies_are_resolved_when_used(store: Store) -> None:
    arn = f"arn:aws:iam::{ACCOUNT}:policy/ReadOnlyS3"
    session = role_session(policy_arns=(arn,))
    assert decide(store, session, "s3:GetObject")
    assert not decide(store, session, "s3:PutObject")
    with store.transaction() as uow:
        uow.policies.delete("ANPAAAAAAAAAAAAAAAAAA")
    # The session keeps a session layer that now grants nothing.
    assert not decide(store, session, "s3:GetObject")
    with store.transaction(readonly=True) as uow:
        caller, _ = SessionResolver(store.kek).caller(uow, session, NOW)
    assert caller.session_policies == (NO_PERMISSIONS,)


def test_principal_tags_reach_conditions(store: Store) -> None:
    with store.transaction() as uow:
        uow.inline_policies.put(
            ACCOUNT,
            "role",
            "AROAAAAAAAAAAAAAAAAAA",
            "s3",
            policy(
                {
                    "Effect": "Allow",
                    "Action": "s3:*",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}},
                }
            ),
        )
    assert decide(store, role_session(tags=(("team", "blue"),)), "s3:GetObject")
    assert not decide(store, role_session(tags=(("team", "red"),)), "s3:GetObject")
    assert not decide(store, role_session(), "s3:GetObject")  # the role's own tag is role-team


def test_revoking_older_sessions_with_token_issue_time(store: Store) -> None:
    cutoff = NOW + timedelta(minutes=5)
    with store.transaction() as uow:
        uow.inline_policies.put(
            ACCOUNT,
            "role",
            "AROAAAAAAAAAAAAAAAAAA",
            "AWSRevokeOlderSessions",
            policy(
                {
                    "Effect": "Deny",
                    "Action": "*",
                    "Resource": "*",
                    "Condition": {
                        "DateLessThan": {"aws:TokenIssueTime": cutoff.strftime("%Y-%m-%dT%H:%M:%SZ")}
                    },
                }
            ),
        )
    later = NOW + timedelta(minutes=10)
    old = role_session()
    new = role_session(issued_at=int(later.timestamp()), expires_at=int(later.timestamp()) + 3600)
    assert not decide(store, old, "s3:GetObject", at=later)
    assert decide(store, new, "s3:GetObject", at=later)


def test_federated_users_get_the_users_permissions_within_the_session_policy(store: Store) -> None:
    federated = role_session(
        kind=FEDERATED,
        session_name="bob",
        user_id="AIDAAAAAAAAAAAAAAAAAA",
        user_name="alice",
        user_path="/",
        role_id=None,
        role_name=None,
        role_path=None,
    )
    # No session policy: no permissions at all.
    assert not decide(store, federated, "s3:GetObject")
    scoped = replace(
        federated, policy=policy({"Effect": "Allow", "Action": ["s3:GetObject", "iam:*"], "Resource": "*"})
    )
    assert decide(store, scoped, "s3:GetObject")
    assert not decide(store, scoped, "s3:PutObject")  # not in the session policy
    with store.transaction(readonly=True) as uow:
        caller, _ = SessionResolver(store.kek).caller(uow, scoped, NOW)
    assert caller.principal.kind is PrincipalKind.FEDERATED_USER
    assert caller.principal.arn == f"arn:aws:sts::{ACCOUNT}:federated-user/bob"
    assert caller.unique_id == f"{ACCOUNT}:bob"
    assert caller.principal.source_user_arn == f"arn:aws:iam::{ACCOUNT}:user/alice"
