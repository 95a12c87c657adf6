"""The access portal's state: portal sessions of signed-in people, the OIDC clients that the AWS
CLI registers (``sso-oidc`` RegisterClient), their pending authorizations (a device code of RFC
8628, or an authorization code with PKCE) and the bearer tokens issued to them.

Every secret is stored as its SHA-256 digest (client secrets, device codes, authorization codes,
access and refresh tokens, the portal's session cookie): they are random and long, so a digest
cannot be reversed, and a copy of the database opens nothing. Tables are prefixed ``sso_`` (a
test-mode reset takes them whole) and hang off the Identity Center instance where they belong to
one (deleted with it). Clients belong to no instance, as AWS's regional registrations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import JSON, ForeignKey, Index, String, delete, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from iamd.store.base import Repository
from iamd.store.schema import Base

__all__ = [
    "AuthorizationRecord",
    "ClientRecord",
    "PortalSessionRecord",
    "SsoPortal",
    "TokenRecord",
]

MAX_CLIENTS: Final = 20_000
"""Registered clients kept at most (unexpired); RegisterClient is unauthenticated."""
MAX_PENDING: Final = 20_000
"""Pending authorizations kept at most (unexpired)."""


class SsoPortalSessionRow(Base):
    """A person signed in to the access portal (after every factor)."""

    __tablename__ = "sso_portal_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    secret_digest: Mapped[str] = mapped_column(String(64), unique=True)
    instance_arn: Mapped[str] = mapped_column(
        String(128), ForeignKey("sso_instances.arn", ondelete="CASCADE"), index=True
    )
    store_id: Mapped[str] = mapped_column(String(36))
    user_id: Mapped[str] = mapped_column(String(47), index=True)
    user_name: Mapped[str] = mapped_column(String(128))
    via: Mapped[str] = mapped_column(String(16))
    """``password`` (with its MFA, if any) or ``saml`` (an external IdP's assertion)."""
    mfa: Mapped[bool]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    source_ip: Mapped[str] = mapped_column(String(64))


class SsoOidcClientRow(Base):
    __tablename__ = "sso_oidc_clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    secret_digest: Mapped[str] = mapped_column(String(64))
    client_name: Mapped[str] = mapped_column(String(128))
    client_type: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    grant_types: Mapped[list[str]] = mapped_column(JSON)
    redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    issuer_url: Mapped[str | None] = mapped_column(String(1024))
    source_ip: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class SsoOidcAuthorizationRow(Base):
    """A device authorization (``device``) or an authorization code (``code``), pending until the
    person approves it in the portal, then exchanged once for a token."""

    __tablename__ = "sso_oidc_authorizations"
    __table_args__ = (Index("ix_sso_oidc_authorizations_expires_at", "expires_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    client_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("sso_oidc_clients.client_id", ondelete="CASCADE"), index=True
    )
    code_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    """The device code's, or (once approved) the authorization code's digest."""
    user_code: Mapped[str | None] = mapped_column(String(16), unique=True)
    start_url: Mapped[str | None] = mapped_column(String(1024))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    redirect_uri: Mapped[str | None] = mapped_column(String(1024))
    state: Mapped[str | None] = mapped_column(String(1024))
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(12))
    """``pending``, ``approved``, ``denied`` or ``used``."""
    instance_arn: Mapped[str | None] = mapped_column(
        String(128), ForeignKey("sso_instances.arn", ondelete="CASCADE")
    )
    portal_session_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("sso_portal_sessions.id", ondelete="CASCADE")
    )
    interval: Mapped[int]
    last_polled_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class SsoOidcTokenRow(Base):
    """An access token (and its refresh token) issued to a client for a portal session."""

    __tablename__ = "sso_oidc_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    access_digest: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("sso_oidc_clients.client_id", ondelete="CASCADE"), index=True
    )
    portal_session_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("sso_portal_sessions.id", ondelete="CASCADE"), index=True
    )
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    refresh_expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


# -- records ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PortalSessionRecord:
    id: str
    instance_arn: str
    store_id: str
    user_id: str
    user_name: str
    via: str
    mfa: bool
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    source_ip: str

    def live(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True, slots=True)
class ClientRecord:
    client_id: str
    secret_digest: str
    client_name: str
    client_type: str
    scopes: tuple[str, ...]
    grant_types: tuple[str, ...]
    redirect_uris: tuple[str, ...]
    issuer_url: str | None
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AuthorizationRecord:
    id: str
    kind: str
    client_id: str
    user_code: str | None
    start_url: str | None
    scopes: tuple[str, ...]
    redirect_uri: str | None
    state: str | None
    code_challenge: str | None
    status: str
    instance_arn: str | None
    portal_session_id: str | None
    interval: int
    last_polled_at: datetime | None
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: str
    client_id: str
    portal_session_id: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime
    refresh_expires_at: datetime | None
    revoked_at: datetime | None
    refresh_digest: str | None


def _session(row: SsoPortalSessionRow) -> PortalSessionRecord:
    return PortalSessionRecord(
        id=row.id,
        instance_arn=row.instance_arn,
        store_id=row.store_id,
        user_id=row.user_id,
        user_name=row.user_name,
        via=row.via,
        mfa=row.mfa,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        source_ip=row.source_ip,
    )


def _client(row: SsoOidcClientRow) -> ClientRecord:
    return ClientRecord(
        client_id=row.client_id,
        secret_digest=row.secret_digest,
        client_name=row.client_name,
        client_type=row.client_type,
        scopes=tuple(row.scopes),
        grant_types=tuple(row.grant_types),
        redirect_uris=tuple(row.redirect_uris),
        issuer_url=row.issuer_url,
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


def _authorization(row: SsoOidcAuthorizationRow) -> AuthorizationRecord:
    return AuthorizationRecord(
        id=row.id,
        kind=row.kind,
        client_id=row.client_id,
        user_code=row.user_code,
        start_url=row.start_url,
        scopes=tuple(row.scopes),
        redirect_uri=row.redirect_uri,
        state=row.state,
        code_challenge=row.code_challenge,
        status=row.status,
        instance_arn=row.instance_arn,
        portal_session_id=row.portal_session_id,
        interval=row.interval,
        last_polled_at=row.last_polled_at,
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


def _token(row: SsoOidcTokenRow) -> TokenRecord:
    return TokenRecord(
        id=row.id,
        client_id=row.client_id,
        portal_session_id=row.portal_session_id,
        scopes=tuple(row.scopes),
        created_at=row.created_at,
        expires_at=row.expires_at,
        refresh_expires_at=row.refresh_expires_at,
        revoked_at=row.revoked_at,
        refresh_digest=row.refresh_digest,
    )


class SsoPortal(Repository):
    """Portal sessions, OIDC clients, authorizations and tokens (see the module's docstring)."""

    # -- portal sessions --------------------------------------------------------------------------

    def add_session(
        self,
        *,
        session_id: str,
        secret_digest: str,
        instance_arn: str,
        store_id: str,
        user_id: str,
        user_name: str,
        via: str,
        mfa: bool,
        created_at: datetime,
        expires_at: datetime,
        source_ip: str,
    ) -> PortalSessionRecord:
        row = SsoPortalSessionRow(
            id=session_id,
            secret_digest=secret_digest,
            instance_arn=instance_arn,
            store_id=store_id,
            user_id=user_id,
            user_name=user_name,
            via=via,
            mfa=mfa,
            created_at=created_at,
            expires_at=expires_at,
            revoked_at=None,
            source_ip=source_ip[:64],
        )
        self._session.add(row)
        self._session.flush()
        return _session(row)

    def session_by_secret(self, secret_digest: str) -> PortalSessionRecord | None:
        row = self._session.scalars(
            select(SsoPortalSessionRow).where(SsoPortalSessionRow.secret_digest == secret_digest)
        ).first()
        return _session(row) if row is not None else None

    def find_session(self, session_id: str) -> PortalSessionRecord | None:
        row = self._session.get(SsoPortalSessionRow, session_id)
        return _session(row) if row is not None else None

    def revoke_session(self, session_id: str, now: datetime) -> None:
        """End the portal session and every token issued for it."""
        self._session.execute(
            update(SsoPortalSessionRow)
            .where(SsoPortalSessionRow.id == session_id, SsoPortalSessionRow.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        self._session.execute(
            update(SsoOidcTokenRow)
            .where(SsoOidcTokenRow.portal_session_id == session_id, SsoOidcTokenRow.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    def purge_sessions(self, now: datetime) -> int:
        """Forget sessions that ended (their tokens go with them)."""
        result = self._session.execute(
            delete(SsoPortalSessionRow).where(SsoPortalSessionRow.expires_at <= now)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    # -- clients ----------------------------------------------------------------------------------

    def count_clients(self, now: datetime) -> int:
        return int(
            self._session.scalar(
                select(func.count()).select_from(SsoOidcClientRow).where(SsoOidcClientRow.expires_at > now)
            )
            or 0
        )

    def add_client(
        self,
        *,
        client_id: str,
        secret_digest: str,
        client_name: str,
        client_type: str,
        scopes: list[str],
        grant_types: list[str],
        redirect_uris: list[str],
        issuer_url: str | None,
        source_ip: str,
        created_at: datetime,
        expires_at: datetime,
    ) -> ClientRecord:
        self._session.execute(delete(SsoOidcClientRow).where(SsoOidcClientRow.expires_at <= created_at))
        row = SsoOidcClientRow(
            client_id=client_id,
            secret_digest=secret_digest,
            client_name=client_name,
            client_type=client_type,
            scopes=scopes,
            grant_types=grant_types,
            redirect_uris=redirect_uris,
            issuer_url=issuer_url,
            source_ip=source_ip[:64],
            created_at=created_at,
            expires_at=expires_at,
        )
        self._session.add(row)
        self._session.flush()
        return _client(row)

    def find_client(self, client_id: str) -> ClientRecord | None:
        row = self._session.get(SsoOidcClientRow, client_id)
        return _client(row) if row is not None else None

    # -- authorizations ---------------------------------------------------------------------------

    def count_pending(self, now: datetime) -> int:
        return int(
            self._session.scalar(
                select(func.count())
                .select_from(SsoOidcAuthorizationRow)
                .where(SsoOidcAuthorizationRow.expires_at > now)
            )
            or 0
        )

    def add_authorization(self, **fields: Any) -> AuthorizationRecord:
        now = fields["created_at"]
        self._session.execute(
            delete(SsoOidcAuthorizationRow).where(SsoOidcAuthorizationRow.expires_at <= now)
        )
        row = SsoOidcAuthorizationRow(status="pending", last_polled_at=None, **fields)
        self._session.add(row)
        self._session.flush()
        return _authorization(row)

    def authorization_by_code(self, code_digest: str) -> AuthorizationRecord | None:
        row = self._session.scalars(
            select(SsoOidcAuthorizationRow).where(SsoOidcAuthorizationRow.code_digest == code_digest)
        ).first()
        return _authorization(row) if row is not None else None

    def authorization_by_user_code(self, user_code: str) -> AuthorizationRecord | None:
        row = self._session.scalars(
            select(SsoOidcAuthorizationRow).where(SsoOidcAuthorizationRow.user_code == user_code)
        ).first()
        return _authorization(row) if row is not None else None

    def find_authorization(self, authorization_id: str) -> AuthorizationRecord | None:
        row = self._session.get(SsoOidcAuthorizationRow, authorization_id)
        return _authorization(row) if row is not None else None

    def decide(
        self,
        authorization_id: str,
        *,
        approved: bool,
        instance_arn: str | None = None,
        portal_session_id: str | None = None,
        code_digest: str | None = None,
    ) -> bool:
        """Approve or deny a pending authorization (once). An authorization code's digest replaces
        nothing for a device authorization (its device code stays the key). False when it was not
        pending any more."""
        values: dict[str, Any] = {"status": "approved" if approved else "denied"}
        if approved:
            values.update(instance_arn=instance_arn, portal_session_id=portal_session_id)
            if code_digest is not None:
                values["code_digest"] = code_digest
        result = self._session.execute(
            update(SsoOidcAuthorizationRow)
            .where(
                SsoOidcAuthorizationRow.id == authorization_id, SsoOidcAuthorizationRow.status == "pending"
            )
            .values(**values)
        )
        return int(getattr(result, "rowcount", 0) or 0) == 1

    def use_authorization(self, authorization_id: str) -> bool:
        """Mark an approved authorization used (a code is exchanged once); False if it was not
        approved and unused."""
        result = self._session.execute(
            update(SsoOidcAuthorizationRow)
            .where(
                SsoOidcAuthorizationRow.id == authorization_id, SsoOidcAuthorizationRow.status == "approved"
            )
            .values(status="used")
        )
        return int(getattr(result, "rowcount", 0) or 0) == 1

    # -- tokens -----------------------------------------------------------------------------------

    def add_token(
        self,
        *,
        token_id: str,
        access_digest: str,
        refresh_digest: str | None,
        client_id: str,
        portal_session_id: str,
        scopes: list[str],
        created_at: datetime,
        expires_at: datetime,
        refresh_expires_at: datetime | None,
    ) -> TokenRecord:
        row = SsoOidcTokenRow(
            id=token_id,
            access_digest=access_digest,
            refresh_digest=refresh_digest,
            client_id=client_id,
            portal_session_id=portal_session_id,
            scopes=scopes,
            created_at=created_at,
            expires_at=expires_at,
            refresh_expires_at=refresh_expires_at,
            revoked_at=None,
        )
        self._session.add(row)
        self._session.flush()
        return _token(row)

    def token_by_access(self, access_digest: str) -> TokenRecord | None:
        row = self._session.scalars(
            select(SsoOidcTokenRow).where(SsoOidcTokenRow.access_digest == access_digest)
        ).first()
        return _token(row) if row is not None else None

    def token_by_refresh(self, refresh_digest: str) -> TokenRecord | None:
        row = self._session.scalars(
            select(SsoOidcTokenRow).where(SsoOidcTokenRow.refresh_digest == refresh_digest)
        ).first()
        return _token(row) if row is not None else None

    def revoke_token(self, token_id: str, now: datetime) -> bool:
        """Revoke a token (a refresh token is used once: its token is revoked when it is)."""
        result = self._session.execute(
            update(SsoOidcTokenRow)
            .where(SsoOidcTokenRow.id == token_id, SsoOidcTokenRow.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(getattr(result, "rowcount", 0) or 0) == 1
