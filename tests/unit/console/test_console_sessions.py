"""Console sessions sealed in cookies: tamper-proof, expiring, revocable, stage changes get a new id."""

from __future__ import annotations

from iamd.console import sessions
from iamd.secrets.kek import Kek


def test_seal_and_open() -> None:
    kek = Kek.generate()
    revocations = sessions.Revocations()
    session = sessions.signed_in(
        account_id="123456789012", user_id="AIDAEXAMPLE", stage="mfa", now=1000, credential_mark="m"
    )
    token = sessions.seal_session(kek, session)
    assert sessions.open_session(kek, token, 1001, revocations) == session
    assert sessions.open_session(kek, token, session.expires_at, revocations) is None  # expired
    assert sessions.open_session(Kek.generate(), token, 1001, revocations) is None  # another key
    assert sessions.open_session(kek, token[:-2] + "AA", 1001, revocations) is None  # tampered
    assert sessions.open_session(kek, "", 1001, revocations) is None
    revocations.revoke(session.sid, session.expires_at)
    assert sessions.open_session(kek, token, 1001, revocations) is None


def test_promotion_changes_the_id_and_keeps_the_csrf_token() -> None:
    session = sessions.signed_in(
        account_id="123456789012", user_id=None, stage="mfa", now=1000, credential_mark=None
    )
    assert session.is_root and session.expires_at == 1000 + sessions.PENDING_SECONDS
    active = sessions.promote(session, "active", 1010, mfa_at=1010)
    assert active.sid != session.sid and active.csrf == session.csrf
    assert active.expires_at == 1000 + sessions.ROOT_SECONDS and active.mfa_at == 1010


def test_anonymous_sessions_differ() -> None:
    a, b = sessions.anonymous(0), sessions.anonymous(0)
    assert a.sid != b.sid and a.csrf != b.csrf and not a.signed_in
