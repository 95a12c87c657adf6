"""A user's other credentials: X.509 signing certificates, SSH public keys (CodeCommit) and
service-specific credentials (password stored encrypted under the KEK).

These do not enter authorization decisions: changes to them do not bump the generation.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from iamd.store.base import Repository, found
from iamd.store.records import ServiceCredentialRecord, SigningCertificateRecord, SshPublicKeyRecord
from iamd.store.schema import ServiceCredential, SigningCertificate, SshPublicKey

SERVICE_PASSWORD_PURPOSE = "service-credential-password"


def _certificate(row: SigningCertificate) -> SigningCertificateRecord:
    return SigningCertificateRecord(
        row.id, row.account_id, row.user_id, row.body, row.status, row.uploaded_at
    )


def _ssh_key(row: SshPublicKey) -> SshPublicKeyRecord:
    return SshPublicKeyRecord(
        row.id, row.account_id, row.user_id, row.body, row.fingerprint, row.status, row.uploaded_at
    )


def _service_credential(row: ServiceCredential) -> ServiceCredentialRecord:
    return ServiceCredentialRecord(
        row.id,
        row.account_id,
        row.user_id,
        row.service_name,
        row.service_user_name,
        row.status,
        row.created_at,
        row.expires_at,
    )


class SigningCertificates(Repository):
    def upload(
        self,
        account_id: str,
        *,
        certificate_id: str,
        user_id: str | None,
        body: str,
        uploaded_at: datetime,
        status: str = "Active",
    ) -> SigningCertificateRecord:
        """Store a certificate of a user (None: the root user)."""
        self._uow.writable()
        row = SigningCertificate(
            id=certificate_id,
            account_id=account_id,
            user_id=user_id,
            body=body,
            status=status,
            uploaded_at=uploaded_at,
        )
        self._session.add(row)
        self._session.flush()
        return _certificate(row)

    def get(self, certificate_id: str) -> SigningCertificateRecord:
        return _certificate(self._row(certificate_id))

    def list_for(self, account_id: str, user_id: str | None) -> tuple[SigningCertificateRecord, ...]:
        owner = (
            SigningCertificate.user_id.is_(None) if user_id is None else SigningCertificate.user_id == user_id
        )
        rows = self._session.scalars(
            select(SigningCertificate)
            .where(SigningCertificate.account_id == account_id, owner)
            .order_by(SigningCertificate.uploaded_at, SigningCertificate.id)
        )
        return tuple(_certificate(r) for r in rows)

    def set_status(self, certificate_id: str, status: str) -> None:
        self._uow.writable()
        self._row(certificate_id).status = status
        self._session.flush()

    def delete(self, certificate_id: str) -> None:
        self._uow.writable()
        self._session.delete(self._row(certificate_id))
        self._session.flush()

    def _row(self, certificate_id: str) -> SigningCertificate:
        return found(self._session.get(SigningCertificate, certificate_id), f"certificate {certificate_id}")


class SshPublicKeys(Repository):
    def upload(
        self,
        account_id: str,
        *,
        key_id: str,
        user_id: str,
        body: str,
        fingerprint: str,
        uploaded_at: datetime,
        status: str = "Active",
    ) -> SshPublicKeyRecord:
        self._uow.writable()
        row = SshPublicKey(
            id=key_id,
            account_id=account_id,
            user_id=user_id,
            body=body,
            fingerprint=fingerprint,
            status=status,
            uploaded_at=uploaded_at,
        )
        self._session.add(row)
        self._session.flush()
        return _ssh_key(row)

    def get(self, key_id: str) -> SshPublicKeyRecord:
        return _ssh_key(self._row(key_id))

    def list_for_user(self, user_id: str) -> tuple[SshPublicKeyRecord, ...]:
        rows = self._session.scalars(
            select(SshPublicKey)
            .where(SshPublicKey.user_id == user_id)
            .order_by(SshPublicKey.uploaded_at, SshPublicKey.id)
        )
        return tuple(_ssh_key(r) for r in rows)

    def set_status(self, key_id: str, status: str) -> None:
        self._uow.writable()
        self._row(key_id).status = status
        self._session.flush()

    def delete(self, key_id: str) -> None:
        self._uow.writable()
        self._session.delete(self._row(key_id))
        self._session.flush()

    def _row(self, key_id: str) -> SshPublicKey:
        return found(self._session.get(SshPublicKey, key_id), f"SSH public key {key_id}")


class ServiceCredentials(Repository):
    def create(
        self,
        account_id: str,
        *,
        credential_id: str,
        user_id: str,
        service_name: str,
        service_user_name: str,
        password: str,
        created_at: datetime,
        expires_at: datetime | None = None,
    ) -> ServiceCredentialRecord:
        self._uow.writable()
        row = ServiceCredential(
            id=credential_id,
            account_id=account_id,
            user_id=user_id,
            service_name=service_name,
            service_user_name=service_user_name,
            password_ciphertext=self._encrypt(credential_id, password),
            status="Active",
            created_at=created_at,
            expires_at=expires_at,
        )
        self._session.add(row)
        self._session.flush()
        return _service_credential(row)

    def get(self, credential_id: str) -> ServiceCredentialRecord:
        return _service_credential(self._row(credential_id))

    def list_for_user(
        self, user_id: str, service_name: str | None = None
    ) -> tuple[ServiceCredentialRecord, ...]:
        stmt = select(ServiceCredential).where(ServiceCredential.user_id == user_id)
        if service_name is not None:
            stmt = stmt.where(ServiceCredential.service_name == service_name)
        rows = self._session.scalars(stmt.order_by(ServiceCredential.created_at, ServiceCredential.id))
        return tuple(_service_credential(r) for r in rows)

    def password(self, credential_id: str) -> str:
        row = self._row(credential_id)
        return self._uow.kek.decrypt(
            row.password_ciphertext, purpose=SERVICE_PASSWORD_PURPOSE, row_id=credential_id
        ).decode("utf-8")

    def reset_password(self, credential_id: str, password: str) -> None:
        self._uow.writable()
        self._row(credential_id).password_ciphertext = self._encrypt(credential_id, password)
        self._session.flush()

    def set_status(self, credential_id: str, status: str) -> None:
        self._uow.writable()
        self._row(credential_id).status = status
        self._session.flush()

    def delete(self, credential_id: str) -> None:
        self._uow.writable()
        self._session.delete(self._row(credential_id))
        self._session.flush()

    def _encrypt(self, credential_id: str, password: str) -> bytes:
        return self._uow.kek.encrypt(
            password.encode("utf-8"), purpose=SERVICE_PASSWORD_PURPOSE, row_id=credential_id
        )

    def _row(self, credential_id: str) -> ServiceCredential:
        return found(
            self._session.get(ServiceCredential, credential_id), f"service credential {credential_id}"
        )
