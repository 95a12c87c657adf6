"""The access portal's store: portal sessions (found by their cookie's digest, ended with their
tokens), OIDC clients, authorizations decided once and codes exchanged once (SQLite and
PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from iamd.portal.sessions import current_session, digest, start_session
from iamd.store import Store, UnitOfWork
from iamd.store.identity_store import IdsUserRecord

ACCOUNT = "111122223333"  # created by the store fixture (conftest.py)
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
INSTANCE = "arn:aws:sso:::instance/ssoins-0123456789abcdef"
STORE = "d-0123456789"


def _setup(uow: UnitOfWork) -> IdsUserRecord:
    uow.identity_center.create_instance(
        arn=INSTANCE,
        owner_account_id=ACCOUNT,
        organization_id=None,
        identity_store_id=STORE,
        name="main",
        region="us-east-1",
        provider_suffix="16bea4beac9024d7",
        client_token=None,
        request=None,
        tags={},
        now=NOW,
    )
    uow.identity_store.create_store(STORE, account_id=ACCOUNT, created_at=NOW)
    return uow.identity_store.create_user(
        STORE, user_name="alice", attributes={"DisplayName": "Alice"}, created_at=NOW, created_by=None
    )


def _client(uow: UnitOfWork, client_id: str = "client-1") -> None:
    uow.sso_portal.add_client(
        client_id=client_id,
        secret_digest=digest("secret"),
        client_name="botocore-client-dev",
        client_type="public",
        scopes=["sso:account:access"],
        grant_types=[],
        redirect_uris=[],
        issuer_url=None,
        source_ip="127.0.0.1",
        created_at=NOW,
        expires_at=NOW + timedelta(days=90),
    )


def test_a_session_opens_by_its_cookie_until_it_expires_or_is_revoked_with_its_tokens(store: Store) -> None:
    with store.transaction() as uow:
        user = _setup(uow)
        secret, record = start_session(
            uow, instance_arn=INSTANCE, user=user, via="password", mfa=True, now=NOW, source_ip="127.0.0.1"
        )
        _client(uow)
        token = uow.sso_portal.add_token(
            token_id="t1",
            access_digest=digest("access"),
            refresh_digest=digest("refresh"),
            client_id="client-1",
            portal_session_id=record.id,
            scopes=["sso:account:access"],
            created_at=NOW,
            expires_at=NOW + timedelta(hours=1),
            refresh_expires_at=record.expires_at,
        )
    assert record.expires_at == NOW + timedelta(hours=8)
    with store.transaction() as uow:
        found = current_session(uow, secret, NOW + timedelta(hours=1))
        assert found is not None and found.user_name == "alice" and found.mfa
        assert current_session(uow, secret + "x", NOW) is None
        assert current_session(uow, secret, NOW + timedelta(hours=8)) is None  # expired
        assert uow.sso_portal.token_by_refresh(digest("refresh")) == token
        uow.sso_portal.revoke_session(record.id, NOW)
    with store.transaction() as uow:
        assert current_session(uow, secret, NOW) is None
        revoked = uow.sso_portal.token_by_access(digest("access"))
        assert revoked is not None and revoked.revoked_at == NOW


def test_an_authorization_is_decided_once_and_exchanged_once(store: Store) -> None:
    with store.transaction() as uow:
        user = _setup(uow)
        _, session = start_session(
            uow, instance_arn=INSTANCE, user=user, via="password", mfa=False, now=NOW, source_ip="::1"
        )
        _client(uow)
        pending = uow.sso_portal.add_authorization(
            id="a1",
            kind="device",
            client_id="client-1",
            code_digest=digest("device-code"),
            user_code="ABCD-EFGH",
            start_url="http://127.0.0.1/start",
            scopes=[],
            redirect_uri=None,
            state=None,
            code_challenge=None,
            instance_arn=None,
            portal_session_id=None,
            interval=1,
            created_at=NOW,
            expires_at=NOW + timedelta(minutes=10),
        )
        assert pending.status == "pending"
        assert uow.sso_portal.authorization_by_user_code("ABCD-EFGH") == pending
        assert uow.sso_portal.decide("a1", approved=True, instance_arn=INSTANCE, portal_session_id=session.id)
        assert not uow.sso_portal.decide("a1", approved=False)
        assert uow.sso_portal.use_authorization("a1")
        assert not uow.sso_portal.use_authorization("a1")
        used = uow.sso_portal.authorization_by_code(digest("device-code"))
        assert used is not None and used.status == "used" and used.portal_session_id == session.id
