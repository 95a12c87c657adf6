"""Credentials around an identity store: users' passwords and MFA devices, the SCIM bearer tokens
and the external SAML identity provider (with the assertion ids already used).

- Passwords are argon2id PHC strings made by :mod:`iamd.secrets.passwords` (the store never sees
  a password); the last :data:`PASSWORD_HISTORY` hashes are kept so that reuse can be refused.
- A TOTP device's seed is encrypted under the key-encryption key, bound to its row, as IAM's
  virtual MFA seeds are; a used time step is recorded so a code cannot be replayed.
- WebAuthn devices keep the credential id, the COSE public key and the signature counter.
- SCIM tokens are kept as SHA-256 digests only (a token is 256 random bits: a fast digest is
  enough); at most :data:`SCIM_TOKENS_PER_STORE` at a time, as AWS allows.

Used by the access portal (sign-in, MFA registration), ``iamd sso`` and SCIM::

    with store.transaction() as uow:
        creds = uow.identity_credentials
        hashed = creds.password_hash(user.id)
        devices = creds.mfa_devices(user.store_id, user.id)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    delete,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from iamd.store.base import Repository, found
from iamd.store.errors import Conflict, NotFound
from iamd.store.identity_store import ENTITY_ID, STORE_ID_LENGTH, IdsUserRow
from iamd.store.schema import Base

__all__ = [
    "FIDO_DEVICES_PER_USER",
    "MFA_DEVICES_PER_USER",
    "PASSWORD_HISTORY",
    "SCIM_TOKENS_PER_STORE",
    "TOTP_DEVICES_PER_USER",
    "IdentityCredentials",
    "IdsMfaDeviceRecord",
    "SamlIdpRecord",
    "ScimTokenRecord",
    "TooMany",
]

PASSWORD_HISTORY: Final = 3
"""Identity Center refuses the last three passwords (user guide, password-requirements)."""
TOTP_DEVICES_PER_USER: Final = 2
FIDO_DEVICES_PER_USER: Final = 6
MFA_DEVICES_PER_USER: Final = 8
"""At most 8 devices: up to 2 authenticator apps and 6 FIDO authenticators (user guide, mfa-types)."""
SCIM_TOKENS_PER_STORE: Final = 2
SEED_PURPOSE: Final = "ids-totp-seed"

MfaKindIds = Literal["totp", "webauthn"]


class TooMany(Conflict):
    """A per-user or per-store limit is reached (MFA devices, SCIM tokens)."""


# -- tables ---------------------------------------------------------------------------------------


class IdsPasswordHistoryRow(Base):
    __tablename__ = "ids_password_history"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    user_id: Mapped[str] = mapped_column(
        ENTITY_ID, ForeignKey("ids_users.id", ondelete="CASCADE"), index=True
    )
    password_hash: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime]


class IdsMfaDeviceRow(Base):
    __tablename__ = "ids_mfa_devices"
    __table_args__ = (UniqueConstraint("store_id", "credential_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    store_id: Mapped[str] = mapped_column(
        String(STORE_ID_LENGTH), ForeignKey("ids_stores.id", ondelete="CASCADE")
    )
    user_id: Mapped[str] = mapped_column(
        ENTITY_ID, ForeignKey("ids_users.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    seed_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    last_totp_counter: Mapped[int | None] = mapped_column(BigInteger)
    credential_id: Mapped[bytes | None] = mapped_column(LargeBinary)
    public_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    sign_count: Mapped[int | None] = mapped_column(BigInteger)
    transports: Mapped[list[str] | None] = mapped_column(JSON)


class IdsScimTokenRow(Base):
    __tablename__ = "ids_scim_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    store_id: Mapped[str] = mapped_column(
        String(STORE_ID_LENGTH), ForeignKey("ids_stores.id", ondelete="CASCADE"), index=True
    )
    token_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]


class IdsSamlIdpRow(Base):
    __tablename__ = "ids_saml_idps"

    store_id: Mapped[str] = mapped_column(
        String(STORE_ID_LENGTH), ForeignKey("ids_stores.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    entity_id: Mapped[str] = mapped_column(String(1024))
    sso_url: Mapped[str | None] = mapped_column(String(2048))
    certificates: Mapped[list[str]] = mapped_column(JSON)
    """PEM certificates the IdP signs with."""
    metadata_xml: Mapped[str] = mapped_column(Text)
    sp_base_url: Mapped[str | None] = mapped_column(String(2048))
    """Where browsers reach iamd, as configured: the SP's entity id and ACS derive from it."""
    configured_at: Mapped[datetime]


class IdsSamlAssertionRow(Base):
    """Assertion ids already used at the ACS, until they expire (replay protection)."""

    __tablename__ = "ids_saml_assertions"

    store_id: Mapped[str] = mapped_column(
        String(STORE_ID_LENGTH), ForeignKey("ids_stores.id", ondelete="CASCADE"), primary_key=True
    )
    assertion_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


# -- records --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IdsMfaDeviceRecord:
    """An MFA device of an identity-store user (no secret: see :meth:`IdentityCredentials.totp_seed`)."""

    id: str
    store_id: str
    user_id: str
    kind: MfaKindIds
    name: str
    created_at: datetime
    last_used_at: datetime | None
    last_totp_counter: int | None
    credential_id: bytes | None
    public_key: bytes | None
    sign_count: int | None
    transports: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ScimTokenRecord:
    id: str
    store_id: str
    account_id: str
    token_digest: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class SamlIdpRecord:
    store_id: str
    account_id: str
    entity_id: str
    sso_url: str | None
    certificates: tuple[str, ...]
    metadata_xml: str
    configured_at: datetime
    sp_base_url: str | None = None


def _device(row: IdsMfaDeviceRow) -> IdsMfaDeviceRecord:
    return IdsMfaDeviceRecord(
        row.id,
        row.store_id,
        row.user_id,
        cast(MfaKindIds, row.kind),
        row.name,
        row.created_at,
        row.last_used_at,
        row.last_totp_counter,
        row.credential_id,
        row.public_key,
        row.sign_count,
        tuple(row.transports or ()),
    )


def _token(row: IdsScimTokenRow) -> ScimTokenRecord:
    return ScimTokenRecord(
        row.id,
        row.store_id,
        row.account_id,
        row.token_digest,
        row.created_at,
        row.expires_at,
        row.last_used_at,
    )


def delete_user_credentials(session: Session, user_id: str) -> None:
    """Remove a user's password history and MFA devices (called when the user is deleted)."""
    session.execute(delete(IdsPasswordHistoryRow).where(IdsPasswordHistoryRow.user_id == user_id))
    session.execute(delete(IdsMfaDeviceRow).where(IdsMfaDeviceRow.user_id == user_id))


def delete_store_credentials(session: Session, store_id: str) -> None:
    """Remove everything of this module that belongs to a store (called when it is deleted)."""
    users = select(IdsUserRow.id).where(IdsUserRow.store_id == store_id)
    session.execute(delete(IdsPasswordHistoryRow).where(IdsPasswordHistoryRow.user_id.in_(users)))
    for table in (IdsMfaDeviceRow, IdsScimTokenRow, IdsSamlIdpRow, IdsSamlAssertionRow):
        session.execute(delete(table).where(table.store_id == store_id))


# -- the repository -------------------------------------------------------------------------------


class IdentityCredentials(Repository):
    """Passwords, MFA devices, SCIM tokens and the SAML IdP of identity stores.

    None of these change IAM authorization decisions: writes only check the transaction may write.
    """

    # passwords -----------------------------------------------------------------------------------

    def password_hash(self, user_id: str) -> str | None:
        """The user's argon2id hash, or None when no password was ever set."""
        row = found(self._session.get(IdsUserRow, user_id), f"user {user_id}")
        return row.password_hash

    def set_password_hash(self, user_id: str, password_hash: str, *, changed_at: datetime) -> None:
        """Set the password (already hashed); the old hash goes to the history (last 3 kept)."""
        self._uow.writable()
        row = found(self._session.get(IdsUserRow, user_id), f"user {user_id}")
        if row.password_hash is not None:
            self._session.add(
                IdsPasswordHistoryRow(
                    account_id=row.account_id,
                    user_id=user_id,
                    password_hash=row.password_hash,
                    created_at=row.password_changed_at or changed_at,
                )
            )
        row.password_hash, row.password_changed_at = password_hash, changed_at
        self._session.flush()
        keep = (
            select(IdsPasswordHistoryRow.id)
            .where(IdsPasswordHistoryRow.user_id == user_id)
            .order_by(IdsPasswordHistoryRow.created_at.desc(), IdsPasswordHistoryRow.id.desc())
            .limit(PASSWORD_HISTORY)
        )
        self._session.execute(
            delete(IdsPasswordHistoryRow).where(
                IdsPasswordHistoryRow.user_id == user_id, IdsPasswordHistoryRow.id.not_in(keep)
            )
        )

    def clear_password(self, user_id: str) -> None:
        """Remove the password (the user can no longer sign in with one)."""
        self._uow.writable()
        row = found(self._session.get(IdsUserRow, user_id), f"user {user_id}")
        row.password_hash, row.password_changed_at = None, None
        self._session.flush()

    def previous_password_hashes(self, user_id: str) -> tuple[str, ...]:
        """The hashes of the last three passwords, the current one first: a new password must match
        none of them."""
        row = found(self._session.get(IdsUserRow, user_id), f"user {user_id}")
        earlier = self._session.scalars(
            select(IdsPasswordHistoryRow.password_hash)
            .where(IdsPasswordHistoryRow.user_id == user_id)
            .order_by(IdsPasswordHistoryRow.created_at.desc(), IdsPasswordHistoryRow.id.desc())
            .limit(PASSWORD_HISTORY)
        )
        return tuple(([row.password_hash] if row.password_hash else []) + list(earlier))[:PASSWORD_HISTORY]

    # MFA devices ---------------------------------------------------------------------------------

    def add_totp_device(
        self, store_id: str, user_id: str, *, device_id: str, name: str, seed: bytes, created_at: datetime
    ) -> IdsMfaDeviceRecord:
        """Register an authenticator app; the seed is stored encrypted. :class:`TooMany` past 2
        apps or 8 devices."""
        user = self._user(store_id, user_id)
        self._check_room(store_id, user_id, "totp")
        row = IdsMfaDeviceRow(
            id=device_id,
            account_id=user.account_id,
            store_id=store_id,
            user_id=user_id,
            kind="totp",
            name=name,
            created_at=created_at,
        )
        self._session.add(row)
        self._session.flush()
        row.seed_ciphertext = self._uow.kek.encrypt(seed, purpose=SEED_PURPOSE, row_id=device_id)
        self._session.flush()
        return _device(row)

    def add_webauthn_device(
        self,
        store_id: str,
        user_id: str,
        *,
        device_id: str,
        name: str,
        credential_id: bytes,
        public_key: bytes,
        sign_count: int,
        created_at: datetime,
        transports: tuple[str, ...] = (),
    ) -> IdsMfaDeviceRecord:
        """Register a passkey or security key. :class:`TooMany` past 6 FIDO devices or 8 devices;
        :class:`~iamd.store.errors.AlreadyExists` when the credential is registered already."""
        user = self._user(store_id, user_id)
        self._check_room(store_id, user_id, "webauthn")
        row = IdsMfaDeviceRow(
            id=device_id,
            account_id=user.account_id,
            store_id=store_id,
            user_id=user_id,
            kind="webauthn",
            name=name,
            created_at=created_at,
            credential_id=credential_id,
            public_key=public_key,
            sign_count=sign_count,
            transports=list(transports),
        )
        self._session.add(row)
        self._session.flush()
        return _device(row)

    def mfa_devices(self, store_id: str, user_id: str) -> tuple[IdsMfaDeviceRecord, ...]:
        """The user's devices, oldest first."""
        rows = self._session.scalars(
            select(IdsMfaDeviceRow)
            .where(IdsMfaDeviceRow.store_id == store_id, IdsMfaDeviceRow.user_id == user_id)
            .order_by(IdsMfaDeviceRow.created_at, IdsMfaDeviceRow.id)
        ).all()
        return tuple(_device(r) for r in rows)

    def get_mfa_device(self, store_id: str, user_id: str, device_id: str) -> IdsMfaDeviceRecord:
        return _device(self._device_row(store_id, user_id, device_id))

    def find_webauthn_device(self, store_id: str, credential_id: bytes) -> IdsMfaDeviceRecord | None:
        """The device registered with this WebAuthn credential id in the store."""
        row = self._session.scalar(
            select(IdsMfaDeviceRow).where(
                IdsMfaDeviceRow.store_id == store_id, IdsMfaDeviceRow.credential_id == credential_id
            )
        )
        return None if row is None else _device(row)

    def rename_mfa_device(self, store_id: str, user_id: str, device_id: str, name: str) -> IdsMfaDeviceRecord:
        self._uow.writable()
        row = self._device_row(store_id, user_id, device_id)
        row.name = name
        self._session.flush()
        return _device(row)

    def remove_mfa_device(self, store_id: str, user_id: str, device_id: str) -> None:
        self._uow.writable()
        row = self._device_row(store_id, user_id, device_id)
        self._session.delete(row)
        self._session.flush()

    def totp_seed(self, store_id: str, user_id: str, device_id: str) -> bytes:
        """The decrypted seed of an authenticator app (to check a code)."""
        row = self._device_row(store_id, user_id, device_id)
        if row.seed_ciphertext is None:
            raise Conflict(f"MFA device {device_id} has no TOTP seed")
        return self._uow.kek.decrypt(row.seed_ciphertext, purpose=SEED_PURPOSE, row_id=row.id)

    def accept_totp_counter(self, device_id: str, counter: int, *, used_at: datetime) -> bool:
        """Record that time step ``counter``'s code was used, once: False if that step or a later
        one was used already, so a code cannot be replayed."""
        self._uow.writable()
        result = self._session.execute(
            update(IdsMfaDeviceRow)
            .where(
                IdsMfaDeviceRow.id == device_id,
                or_(IdsMfaDeviceRow.last_totp_counter.is_(None), IdsMfaDeviceRow.last_totp_counter < counter),
            )
            .values(last_totp_counter=counter, last_used_at=used_at)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def record_webauthn_use(self, device_id: str, sign_count: int, *, used_at: datetime) -> None:
        """Store the authenticator's signature counter after a verified assertion."""
        self._uow.writable()
        self._session.execute(
            update(IdsMfaDeviceRow)
            .where(IdsMfaDeviceRow.id == device_id)
            .values(sign_count=sign_count, last_used_at=used_at)
        )

    def _check_room(self, store_id: str, user_id: str, kind: MfaKindIds) -> None:
        devices = self.mfa_devices(store_id, user_id)
        same = sum(1 for d in devices if d.kind == kind)
        limit = TOTP_DEVICES_PER_USER if kind == "totp" else FIDO_DEVICES_PER_USER
        if same >= limit or len(devices) >= MFA_DEVICES_PER_USER:
            what = "authenticator apps" if kind == "totp" else "FIDO authenticators"
            raise TooMany(
                f"a user may register at most {limit} {what} and {MFA_DEVICES_PER_USER} MFA devices"
            )

    def _user(self, store_id: str, user_id: str) -> IdsUserRow:
        self._uow.writable()
        row = self._session.get(IdsUserRow, user_id)
        if row is None or row.store_id != store_id:
            raise NotFound(f"user {user_id} not found")
        return row

    def _device_row(self, store_id: str, user_id: str, device_id: str) -> IdsMfaDeviceRow:
        row = self._session.get(IdsMfaDeviceRow, device_id)
        if row is None or row.store_id != store_id or row.user_id != user_id:
            raise NotFound(f"MFA device {device_id} not found")
        return row

    # SCIM tokens ---------------------------------------------------------------------------------

    def add_scim_token(
        self, store_id: str, *, token_id: str, token_digest: str, created_at: datetime, expires_at: datetime
    ) -> ScimTokenRecord:
        """Keep a new token's digest; :class:`TooMany` when the store has 2 tokens already."""
        self._uow.writable()
        store = self._uow.identity_store.get_store(store_id)
        if len(self.scim_tokens(store_id)) >= SCIM_TOKENS_PER_STORE:
            raise TooMany(
                f"the identity store has {SCIM_TOKENS_PER_STORE} SCIM access tokens already; delete one first"
            )
        row = IdsScimTokenRow(
            id=token_id,
            account_id=store.account_id,
            store_id=store_id,
            token_digest=token_digest,
            created_at=created_at,
            expires_at=expires_at,
        )
        self._session.add(row)
        self._session.flush()
        return _token(row)

    def scim_tokens(self, store_id: str) -> tuple[ScimTokenRecord, ...]:
        rows = self._session.scalars(
            select(IdsScimTokenRow)
            .where(IdsScimTokenRow.store_id == store_id)
            .order_by(IdsScimTokenRow.created_at)
        )
        return tuple(_token(r) for r in rows)

    def find_scim_token(self, token_id: str) -> ScimTokenRecord | None:
        row = self._session.get(IdsScimTokenRow, token_id)
        return None if row is None else _token(row)

    def touch_scim_token(self, token_id: str, used_at: datetime) -> None:
        self._uow.writable()
        self._session.execute(
            update(IdsScimTokenRow).where(IdsScimTokenRow.id == token_id).values(last_used_at=used_at)
        )

    def delete_scim_token(self, store_id: str, token_id: str) -> None:
        self._uow.writable()
        row = self._session.get(IdsScimTokenRow, token_id)
        if row is None or row.store_id != store_id:
            raise NotFound(f"SCIM token {token_id} not found")
        self._session.delete(row)
        self._session.flush()

    # SAML identity provider ----------------------------------------------------------------------

    def set_saml_idp(
        self,
        store_id: str,
        *,
        entity_id: str,
        sso_url: str | None,
        certificates: tuple[str, ...],
        metadata_xml: str,
        configured_at: datetime,
        sp_base_url: str | None = None,
    ) -> SamlIdpRecord:
        """Set (or replace) the store's external IdP."""
        self._uow.writable()
        store = self._uow.identity_store.get_store(store_id)
        row = self._session.get(IdsSamlIdpRow, store_id)
        if row is None:
            row = IdsSamlIdpRow(store_id=store_id, account_id=store.account_id)
            self._session.add(row)
        row.entity_id, row.sso_url, row.certificates = entity_id, sso_url, list(certificates)
        row.metadata_xml, row.configured_at, row.sp_base_url = metadata_xml, configured_at, sp_base_url
        self._session.flush()
        return _idp(row)

    def saml_idp(self, store_id: str) -> SamlIdpRecord | None:
        row = self._session.get(IdsSamlIdpRow, store_id)
        return None if row is None else _idp(row)

    def delete_saml_idp(self, store_id: str) -> None:
        self._uow.writable()
        row = found(self._session.get(IdsSamlIdpRow, store_id), f"SAML identity provider of {store_id}")
        self._session.delete(row)
        self._session.flush()

    def use_assertion_id(
        self, store_id: str, assertion_id: str, *, expires_at: datetime, now: datetime
    ) -> bool:
        """Record that an assertion was consumed; False when it was already (a replay). Ids whose
        assertion has expired are forgotten: their assertion is refused for its age anyway."""
        self._uow.writable()
        store = self._uow.identity_store.get_store(store_id)
        self._session.execute(delete(IdsSamlAssertionRow).where(IdsSamlAssertionRow.expires_at < now))
        if self._session.get(IdsSamlAssertionRow, (store_id, assertion_id)) is not None:
            return False
        self._session.add(
            IdsSamlAssertionRow(
                store_id=store_id,
                assertion_id=assertion_id,
                account_id=store.account_id,
                expires_at=expires_at,
            )
        )
        self._session.flush()
        return True


def _idp(row: IdsSamlIdpRow) -> SamlIdpRecord:
    certificates: Any = row.certificates or []
    return SamlIdpRecord(
        row.store_id,
        row.account_id,
        row.entity_id,
        row.sso_url,
        tuple(str(c) for c in certificates),
        row.metadata_xml,
        row.configured_at,
        row.sp_base_url,
    )
