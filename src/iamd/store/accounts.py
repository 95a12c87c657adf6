"""Accounts (including their root user's password), password policies, credential reports, the
GetAccountSummary counts, and the generation counters that version authorization data."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import ColumnElement, ScalarSelect, and_, bindparam, exists, func, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute

from iamd.store.base import Repository, found
from iamd.store.errors import AlreadyExists
from iamd.store.prepared import Prepared
from iamd.store.records import AccountRecord, AccountSummary, CredentialReportRecord, PasswordPolicyRecord
from iamd.store.schema import (
    AWS_ACCOUNT,
    AccessKey,
    Account,
    CredentialReport,
    Group,
    InstanceProfile,
    ManagedPolicy,
    MfaDevice,
    OidcProvider,
    PasswordPolicy,
    PolicyAttachment,
    Role,
    SamlProvider,
    ServerCertificate,
    SigningCertificate,
    User,
)

_FIELDS = [f for f in AccountRecord.__dataclass_fields__ if f != "id"]


def _record(row: Account) -> AccountRecord:
    return AccountRecord(row.id, **{f: getattr(row, f) for f in _FIELDS})


ScopedKind = Literal["user", "role"]
"""The principals that have generations of their own."""


def _generations(count: int, principal: type[User] | type[Role] | None) -> Prepared:
    columns: list[Any] = [Account.id, Account.shared_generation]
    if principal is not None:
        columns.append(
            select(principal.generation).where(principal.id == bindparam("principal")).scalar_subquery()
        )
    return Prepared(select(*columns).where(Account.id.in_([bindparam(f"id{i}") for i in range(count)])))


_GENERATIONS: Final = {
    (count, kind): _generations(count, table)
    for count in range(1, 4)
    for kind, table in (("", None), ("user", User), ("role", Role))
}
"""By how many ids are asked for (one bound parameter each, so that the statement is compiled
once: an expanding ``IN`` is rendered again on every execution) and the kind of principal whose
generation comes with them, in the same statement (a subquery by primary key)."""
_GENERATIONS_ANY = select(Account.id, Account.shared_generation).where(
    Account.id.in_(bindparam("ids", expanding=True))
)
_PRINCIPAL_GONE: Final = -1
"""The generation of a user or role that does not exist (any value no row holds)."""


class Accounts(Repository):
    def create(
        self,
        account_id: str,
        *,
        name: str,
        created_at: datetime,
        email: str | None = None,
        alias: str | None = None,
    ) -> AccountRecord:
        self._uow.writable()
        if self._session.get(Account, account_id) is not None:
            raise AlreadyExists(f"account {account_id} already exists")
        if alias is not None:
            self._check_alias_free(alias)
        row = Account(
            id=account_id,
            name=name,
            email=email,
            alias=alias,
            created_at=created_at,
            status="ACTIVE",
            generation=0,
        )
        self._session.add(row)
        self._session.flush()
        return _record(row)

    def find(self, account_id: str) -> AccountRecord | None:
        row = self._session.get(Account, account_id)
        return None if row is None else _record(row)

    def get(self, account_id: str) -> AccountRecord:
        return found(self.find(account_id), f"account {account_id}")

    def find_by_alias(self, alias: str) -> AccountRecord | None:
        row = self._session.scalar(select(Account).where(Account.alias == alias))
        return None if row is None else _record(row)

    def find_by_email(self, email: str) -> AccountRecord | None:
        """The account whose root user's email address is ``email`` (compared case-insensitively;
        the first by id if several share it)."""
        rows = self._session.scalars(
            select(Account)
            .where(func.lower(Account.email) == email.strip().lower(), Account.id != AWS_ACCOUNT)
            .order_by(Account.id)
            .limit(1)
        )
        row = rows.first()
        return None if row is None else _record(row)

    def list(self) -> tuple[AccountRecord, ...]:
        """Every real account (not the "aws" pseudo-account), by id."""
        rows = self._session.scalars(select(Account).where(Account.id != AWS_ACCOUNT).order_by(Account.id))
        return tuple(_record(r) for r in rows)

    def set_alias(self, account_id: str, alias: str | None) -> None:
        """Set or clear the account alias; aliases are unique across all accounts."""
        row = self._writable(account_id)
        if alias is not None and alias != row.alias:
            self._check_alias_free(alias)
        row.alias = alias
        self._session.flush()

    def set_root_password(self, account_id: str, password_hash: str | None, changed_at: datetime) -> None:
        row = self._writable(account_id)
        row.root_password_hash, row.root_password_changed_at = password_hash, changed_at
        self._session.flush()

    def record_root_password_use(self, account_id: str, when: datetime) -> None:
        self._uow.writable()
        self._session.execute(
            update(Account)
            .where(
                Account.id == account_id,
                or_(Account.root_password_last_used.is_(None), Account.root_password_last_used < when),
            )
            .values(root_password_last_used=when)
        )

    def set_organization(
        self,
        account_id: str,
        organization_id: str | None,
        *,
        role: str | None = None,
        joined_method: str | None = None,
        joined_at: datetime | None = None,
    ) -> None:
        """Record membership of an organization (role "management" or "member"), or leaving it."""
        row = self._writable(account_id)
        self._uow.changed(account_id)  # service control policies now (no longer) apply
        row.organization_id, row.organization_role = organization_id, role
        row.joined_method, row.joined_at = joined_method, joined_at
        self._session.flush()

    def set_status(self, account_id: str, status: str) -> None:
        self._writable(account_id).status = status
        self._session.flush()

    # -- generations ----------------------------------------------------------------------------

    def generation(self, account_id: str) -> int:
        """The account's generation: it changes whenever its authorization data may have."""
        return found(
            self._session.scalar(select(Account.generation).where(Account.id == account_id)),
            f"account {account_id}",
        )

    def generations(
        self, account_ids: Iterable[str], principal: tuple[ScopedKind, str] | None = None
    ) -> dict[str, int]:
        """The accounts' *shared* generations (e.g. the caller's account's and ``"aws"``'s), and
        with ``principal`` (a user's or role's kind and id) that principal's own generation under
        its id (-1 if it does not exist): what a cache of things about requests by that
        principal keys on (:meth:`iamd.store.unit.UnitOfWork.principal_scoped`). An account that
        does not exist is left out. On every request's path: one prebuilt Core statement (the
        principal's generation in it), no ORM loading, and none at all when this transaction
        read them already."""
        seen = self._uow.generations_seen
        ids = sorted(set(account_ids))
        wanted = principal[1] if principal is not None else None
        if all(i in seen for i in ids) and (wanted is None or wanted in seen):
            known = {i: seen[i] for i in ids}
            if wanted is not None:
                known[wanted] = seen[wanted]
            return known
        if len(ids) <= 3:
            params: dict[str, Any] = {f"id{i}": v for i, v in enumerate(ids)}
            if principal is not None:
                params["principal"] = principal[1]
            rows: Iterable[Any] = _GENERATIONS[len(ids), principal[0] if principal else ""].rows(
                self._session, params
            )
        else:
            self._session.flush()
            rows = self._session.connection().execute(_GENERATIONS_ANY, {"ids": ids})
            if principal is not None:
                rows = [(*row, self._principal_generation(*principal)) for row in rows]
        out: dict[str, int] = {}
        for row in rows:
            out[row[0]] = row[1]
            if wanted is not None:
                out[wanted] = _PRINCIPAL_GONE if row[2] is None else row[2]
        if principal is not None and principal[1] not in out:  # no account found
            out[principal[1]] = self._principal_generation(*principal)
        provisional = self._uow.provisional
        if provisional is not None:  # moved by an earlier write of this transaction, uncommitted
            mark = self._uow.provisional_mark
            every = provisional is self._uow.ALL
            out = {k: mark if every or k in provisional else v for k, v in out.items()}
        seen.update(out)
        return out

    def _principal_generation(self, kind: ScopedKind, principal_id: str) -> int:
        table = User if kind == "user" else Role
        value = self._session.scalar(select(table.generation).where(table.id == principal_id))
        return _PRINCIPAL_GONE if value is None else value

    # -- password policy ------------------------------------------------------------------------

    def password_policy(self, account_id: str) -> PasswordPolicyRecord | None:
        """The account's password policy; None when it has none (AWS then applies its defaults)."""
        row = self._session.get(PasswordPolicy, account_id)
        if row is None:
            return None
        return PasswordPolicyRecord(**{f: getattr(row, f) for f in PasswordPolicyRecord.__dataclass_fields__})

    def put_password_policy(self, account_id: str, policy: PasswordPolicyRecord) -> None:
        self._writable(account_id)
        row = self._session.get(PasswordPolicy, account_id)
        if row is None:
            self._session.add(PasswordPolicy(account_id=account_id, **asdict(policy)))
        else:
            for field, value in asdict(policy).items():
                setattr(row, field, value)
        self._session.flush()

    def delete_password_policy(self, account_id: str) -> None:
        self._uow.writable()
        row = found(self._session.get(PasswordPolicy, account_id), "password policy")
        self._session.delete(row)
        self._session.flush()

    # -- credential report ----------------------------------------------------------------------

    def credential_report(self, account_id: str) -> CredentialReportRecord | None:
        row = self._session.get(CredentialReport, account_id)
        return None if row is None else CredentialReportRecord(row.generated_at, row.content)

    def put_credential_report(self, account_id: str, generated_at: datetime, content: bytes) -> None:
        """Store the account's report, replacing the previous one."""
        self._uow.writable()
        row = self._session.get(CredentialReport, account_id)
        if row is None:
            self._session.add(
                CredentialReport(account_id=account_id, generated_at=generated_at, content=content)
            )
        else:
            row.generated_at, row.content = generated_at, content
        self._session.flush()

    # -- summary --------------------------------------------------------------------------------

    def summary(self, account_id: str) -> AccountSummary:
        """GetAccountSummary's counts, in one query."""

        def count(
            account_column: InstrumentedAttribute[str], *where: ColumnElement[bool]
        ) -> ScalarSelect[int]:
            return select(func.count()).where(account_column == account_id, *where).scalar_subquery()

        row = self._session.execute(
            select(
                count(User.account_id),
                count(Group.account_id),
                count(Role.account_id),
                count(ManagedPolicy.account_id),
                count(PolicyAttachment.account_id),
                count(InstanceProfile.account_id),
                count(ServerCertificate.account_id),
                count(OidcProvider.account_id),
                count(SamlProvider.account_id),
                count(MfaDevice.account_id),
                count(MfaDevice.account_id, MfaDevice.enabled_at.is_not(None)),
                exists().where(
                    MfaDevice.account_id == account_id, MfaDevice.is_root, MfaDevice.enabled_at.is_not(None)
                ),
                exists().where(AccessKey.account_id == account_id, AccessKey.user_id.is_(None)),
                exists().where(
                    SigningCertificate.account_id == account_id, SigningCertificate.user_id.is_(None)
                ),
                exists().where(and_(Account.id == account_id, Account.root_password_hash.is_not(None))),
            )
        ).one()
        (
            users,
            groups,
            roles,
            policies,
            attachments,
            profiles,
            certs,
            oidc,
            saml,
            mfa,
            mfa_in_use,
            root_mfa,
            root_keys,
            root_certs,
            root_password,
        ) = row
        return AccountSummary(
            users=users,
            groups=groups,
            roles=roles,
            policies=policies,
            policy_versions_in_use=attachments,
            instance_profiles=profiles,
            server_certificates=certs,
            providers=oidc + saml,
            mfa_devices=mfa,
            mfa_devices_in_use=mfa_in_use,
            account_mfa_enabled=bool(root_mfa),
            account_access_keys_present=bool(root_keys),
            account_signing_certificates_present=bool(root_certs),
            account_password_present=bool(root_password),
        )

    # -- internals ------------------------------------------------------------------------------

    def _writable(self, account_id: str) -> Account:
        self._uow.writable()
        return found(self._session.get(Account, account_id), f"account {account_id}")

    def _check_alias_free(self, alias: str) -> None:
        if self._session.scalar(select(exists().where(Account.alias == alias))):
            raise AlreadyExists(f"account alias {alias} is taken")
