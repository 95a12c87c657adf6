"""Server certificates (for load balancers); the private key is stored encrypted under the KEK."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from iamd.store.base import Repository, found
from iamd.store.errors import AlreadyExists
from iamd.store.paging import paginate, starts_with
from iamd.store.records import Page, ServerCertificateRecord
from iamd.store.schema import ServerCertificate

PURPOSE = "server-certificate-private-key"
_ORDER = (ServerCertificate.name_lower,)


def _record(row: ServerCertificate) -> ServerCertificateRecord:
    return ServerCertificateRecord(
        row.id, row.account_id, row.name, row.path, row.body, row.chain, row.uploaded_at, row.expires_at
    )


class ServerCertificates(Repository):
    def upload(
        self,
        account_id: str,
        *,
        certificate_id: str,
        name: str,
        path: str,
        body: str,
        chain: str | None,
        private_key: str,
        uploaded_at: datetime,
        expires_at: datetime | None = None,
    ) -> ServerCertificateRecord:
        self._uow.changed(account_id)
        if self._row(account_id, name) is not None:
            raise AlreadyExists(f"server certificate {name} already exists")
        ciphertext = self._uow.kek.encrypt(
            private_key.encode("utf-8"), purpose=PURPOSE, row_id=certificate_id
        )
        row = ServerCertificate(
            id=certificate_id,
            account_id=account_id,
            name=name,
            name_lower=name.lower(),
            path=path,
            body=body,
            chain=chain,
            private_key_ciphertext=ciphertext,
            uploaded_at=uploaded_at,
            expires_at=expires_at,
        )
        self._session.add(row)
        self._session.flush()
        return _record(row)

    def find(self, account_id: str, name: str) -> ServerCertificateRecord | None:
        row = self._row(account_id, name)
        return None if row is None else _record(row)

    def get(self, account_id: str, name: str) -> ServerCertificateRecord:
        return found(self.find(account_id, name), f"server certificate {name}")

    def list(
        self, account_id: str, *, path_prefix: str = "/", marker: str | None = None, max_items: int = 100
    ) -> Page[ServerCertificateRecord]:
        stmt = select(ServerCertificate).where(ServerCertificate.account_id == account_id)
        if path_prefix != "/":
            stmt = stmt.where(starts_with(ServerCertificate.path, path_prefix))
        rows, next_marker = paginate(self._session, stmt, _ORDER, marker, max_items)
        return Page(tuple(_record(r) for r in rows), next_marker)

    def private_key(self, certificate_id: str) -> str:
        row = self._by_id(certificate_id)
        return self._uow.kek.decrypt(
            row.private_key_ciphertext, purpose=PURPOSE, row_id=certificate_id
        ).decode()

    def update(
        self, certificate_id: str, *, name: str | None = None, path: str | None = None
    ) -> ServerCertificateRecord:
        row = self._by_id(certificate_id)
        self._uow.changed(row.account_id)
        if name is not None:
            other = self._row(row.account_id, name)
            if other is not None and other.id != certificate_id:
                raise AlreadyExists(f"server certificate {name} already exists")
            row.name, row.name_lower = name, name.lower()
        if path is not None:
            row.path = path
        self._session.flush()
        return _record(row)

    def delete(self, certificate_id: str) -> None:
        row = self._by_id(certificate_id)
        self._uow.changed(row.account_id)
        self._uow.tags.delete_all(row.account_id, "server-certificate", certificate_id)
        self._session.delete(row)
        self._session.flush()

    def _by_id(self, certificate_id: str) -> ServerCertificate:
        return found(
            self._session.get(ServerCertificate, certificate_id), f"server certificate {certificate_id}"
        )

    def _row(self, account_id: str, name: str) -> ServerCertificate | None:
        return self._session.scalar(
            select(ServerCertificate).where(
                ServerCertificate.account_id == account_id, ServerCertificate.name_lower == name.lower()
            )
        )
