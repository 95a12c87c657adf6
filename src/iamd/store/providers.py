"""Identity providers: OpenID Connect (by URL) and SAML (by name)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from iamd.store.base import Repository, found
from iamd.store.errors import AlreadyExists
from iamd.store.records import OidcProviderRecord, SamlProviderRecord
from iamd.store.schema import OidcProvider, SamlProvider


def _oidc(row: OidcProvider) -> OidcProviderRecord:
    return OidcProviderRecord(
        row.id,
        row.account_id,
        row.url,
        row.url_key,
        tuple(row.client_ids),
        tuple(row.thumbprints),
        row.created_at,
    )


def _saml(row: SamlProvider) -> SamlProviderRecord:
    return SamlProviderRecord(
        row.id, row.account_id, row.name, row.metadata_document, row.created_at, row.valid_until
    )


class OidcProviders(Repository):
    def create(
        self,
        account_id: str,
        *,
        url: str,
        url_key: str,
        client_ids: Sequence[str],
        thumbprints: Sequence[str],
        created_at: datetime,
    ) -> OidcProviderRecord:
        """`url_key` is the URL without its scheme (host and path), as in the provider's ARN."""
        self._uow.changed(account_id)
        if self._row(account_id, url_key) is not None:
            raise AlreadyExists(f"OIDC provider {url_key} already exists")
        row = OidcProvider(
            account_id=account_id,
            url=url,
            url_key=url_key,
            client_ids=list(client_ids),
            thumbprints=list(thumbprints),
            created_at=created_at,
        )
        self._session.add(row)
        self._session.flush()
        return _oidc(row)

    def find(self, account_id: str, url_key: str) -> OidcProviderRecord | None:
        row = self._row(account_id, url_key)
        return None if row is None else _oidc(row)

    def get(self, account_id: str, url_key: str) -> OidcProviderRecord:
        return found(self.find(account_id, url_key), f"OIDC provider {url_key}")

    def list(self, account_id: str) -> tuple[OidcProviderRecord, ...]:
        rows = self._session.scalars(
            select(OidcProvider).where(OidcProvider.account_id == account_id).order_by(OidcProvider.url_key)
        )
        return tuple(_oidc(r) for r in rows)

    def update(
        self,
        provider_id: int,
        *,
        client_ids: Sequence[str] | None = None,
        thumbprints: Sequence[str] | None = None,
    ) -> OidcProviderRecord:
        row = self._writable_row(provider_id)
        if client_ids is not None:
            row.client_ids = list(client_ids)
        if thumbprints is not None:
            row.thumbprints = list(thumbprints)
        self._session.flush()
        return _oidc(row)

    def delete(self, provider_id: int) -> None:
        row = self._writable_row(provider_id)
        self._uow.tags.delete_all(row.account_id, "oidc-provider", str(provider_id))
        self._session.delete(row)
        self._session.flush()

    def _writable_row(self, provider_id: int) -> OidcProvider:
        row = found(self._session.get(OidcProvider, provider_id), f"OIDC provider {provider_id}")
        self._uow.changed(row.account_id)
        return row

    def _row(self, account_id: str, url_key: str) -> OidcProvider | None:
        return self._session.scalar(
            select(OidcProvider).where(OidcProvider.account_id == account_id, OidcProvider.url_key == url_key)
        )


class SamlProviders(Repository):
    def create(
        self,
        account_id: str,
        *,
        name: str,
        metadata_document: str,
        created_at: datetime,
        valid_until: datetime | None = None,
    ) -> SamlProviderRecord:
        self._uow.changed(account_id)
        if self._row(account_id, name) is not None:
            raise AlreadyExists(f"SAML provider {name} already exists")
        row = SamlProvider(
            account_id=account_id,
            name=name,
            name_lower=name.lower(),
            metadata_document=metadata_document,
            created_at=created_at,
            valid_until=valid_until,
        )
        self._session.add(row)
        self._session.flush()
        return _saml(row)

    def find(self, account_id: str, name: str) -> SamlProviderRecord | None:
        row = self._row(account_id, name)
        return None if row is None else _saml(row)

    def get(self, account_id: str, name: str) -> SamlProviderRecord:
        return found(self.find(account_id, name), f"SAML provider {name}")

    def list(self, account_id: str) -> tuple[SamlProviderRecord, ...]:
        rows = self._session.scalars(
            select(SamlProvider)
            .where(SamlProvider.account_id == account_id)
            .order_by(SamlProvider.name_lower)
        )
        return tuple(_saml(r) for r in rows)

    def update(
        self, provider_id: int, *, metadata_document: str, valid_until: datetime | None = None
    ) -> SamlProviderRecord:
        row = self._writable_row(provider_id)
        row.metadata_document, row.valid_until = metadata_document, valid_until
        self._session.flush()
        return _saml(row)

    def delete(self, provider_id: int) -> None:
        row = self._writable_row(provider_id)
        self._uow.tags.delete_all(row.account_id, "saml-provider", str(provider_id))
        self._session.delete(row)
        self._session.flush()

    def _writable_row(self, provider_id: int) -> SamlProvider:
        row = found(self._session.get(SamlProvider, provider_id), f"SAML provider {provider_id}")
        self._uow.changed(row.account_id)
        return row

    def _row(self, account_id: str, name: str) -> SamlProvider | None:
        return self._session.scalar(
            select(SamlProvider).where(
                SamlProvider.account_id == account_id, SamlProvider.name_lower == name.lower()
            )
        )
