"""Re-encryption of every stored secret under the current key, after a KEK rotation."""

from __future__ import annotations

from typing import Final

from sqlalchemy import select, update

from iamd.store import access_keys, credentials, mfa, server_certificates
from iamd.store.base import Repository
from iamd.store.schema import AccessKey, MfaDevice, ServerCertificate, ServiceCredential

# (table, ciphertext column, purpose): every encrypted column, bound to str(row.id).
_Encrypted = type[AccessKey] | type[MfaDevice] | type[ServiceCredential] | type[ServerCertificate]
ENCRYPTED_COLUMNS: Final[tuple[tuple[_Encrypted, str, str], ...]] = (
    (AccessKey, "secret_ciphertext", access_keys.PURPOSE),
    (MfaDevice, "seed_ciphertext", mfa.PURPOSE),
    (ServiceCredential, "password_ciphertext", credentials.SERVICE_PASSWORD_PURPOSE),
    (ServerCertificate, "private_key_ciphertext", server_certificates.PURPOSE),
)


class Rekey(Repository):
    def reencrypt_all(self) -> int:
        """Re-encrypt the secrets that are not under the KEK's current key; returns how many were.

        Run after putting a new key first in the ring, then drop the old keys.
        """
        self._uow.writable()
        kek, count = self._uow.kek, 0
        for model, column, purpose in ENCRYPTED_COLUMNS:
            ciphertext = getattr(model, column)
            for row_id, blob in self._session.execute(
                select(model.id, ciphertext).where(ciphertext.is_not(None))
            ).all():
                if kek.needs_reencrypt(blob):
                    plaintext = kek.decrypt(blob, purpose=purpose, row_id=str(row_id))
                    self._session.execute(
                        update(model)
                        .where(model.id == row_id)
                        .values({column: kek.encrypt(plaintext, purpose=purpose, row_id=str(row_id))})
                    )
                    count += 1
        self._session.flush()
        return count + self._uow.account_settings.reencrypt_secrets()
