"""The unit of work: one database transaction and the repositories that run inside it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any, ClassVar, Final

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from iamd.secrets.kek import Kek
from iamd.store.access_analyzer import AccessAnalyzer
from iamd.store.access_keys import AccessKeys
from iamd.store.account_settings import AccountSettings
from iamd.store.accounts import Accounts, ScopedKind
from iamd.store.audit import Audit
from iamd.store.baseline import Baselines
from iamd.store.credentials import ServiceCredentials, SigningCertificates, SshPublicKeys
from iamd.store.errors import StoreError
from iamd.store.groups import Groups
from iamd.store.identity_center import IdentityCenter
from iamd.store.identity_credentials import IdentityCredentials
from iamd.store.identity_store import IdentityStores
from iamd.store.inline_policies import InlinePolicies
from iamd.store.instance_profiles import InstanceProfiles
from iamd.store.login_profiles import LoginProfiles
from iamd.store.mfa import MfaDevices
from iamd.store.organizations import Organizations
from iamd.store.policies import Policies
from iamd.store.prepared import PreparedWrite
from iamd.store.principals import Principals
from iamd.store.providers import OidcProviders, SamlProviders
from iamd.store.rekey import Rekey
from iamd.store.roles import Roles
from iamd.store.rolesanywhere import RolesAnywhere
from iamd.store.schema import Account, Role, User
from iamd.store.server_certificates import ServerCertificates
from iamd.store.sso_portal import SsoPortal
from iamd.store.tags import Tags
from iamd.store.users import Users

_BUMP = (
    update(Account)
    .where(Account.id == bindparam("account_id"))
    .values(generation=Account.generation + 1, shared_generation=Account.shared_generation + 1)
)
"""The generation bump: a Core statement compiled once, run on the connection (an ORM-enabled
UPDATE would also look for the account's object in the session to synchronize it). Both of the
account's counters: a change that may concern any of its principals."""
_BUMP_ACCOUNT_ONLY = (
    update(Account).where(Account.id == bindparam("account_id")).values(generation=Account.generation + 1)
)
"""The first change of a transaction scoped to one principal: the account's ``generation`` (and its
row lock), not its ``shared_generation``."""
_BUMP_SHARED_ONLY = (
    update(Account)
    .where(Account.id == bindparam("account_id"))
    .values(shared_generation=Account.shared_generation + 1)
)
"""A change for all after a scoped one in the same transaction (``generation`` went up already)."""
_BUMP_PRINCIPAL: Final = {
    "user": update(User).where(User.id == bindparam("principal_id")).values(generation=User.generation + 1),
    "role": update(Role).where(Role.id == bindparam("principal_id")).values(generation=Role.generation + 1),
}
_BUMP_ACCOUNT_AND_PRINCIPAL: Final = {
    kind: update(Account)
    .where(Account.id == bindparam("bumped_account"))
    .values(generation=Account.generation + 1)
    .add_cte(
        update(table)
        .where(table.id == bindparam("bumped_principal"))
        .values(generation=table.generation + 1)
        .cte(f"bump_{kind}")
    )
    for kind, table in (("user", User), ("role", Role))
}
"""Both of a scoped change's bumps in one statement, on PostgreSQL (a data-modifying ``WITH``):
one round trip, as for a shared change. Its parameters are named unlike any column (an ``UPDATE``
takes a parameter of a column's name as a value to set, in a ``WITH`` too). A ``WITH`` that the
main statement does not read runs after it: the account's row is locked first, then the
principal's, as by the two statements."""
_PREPARED_BUMP = PreparedWrite(_BUMP)
_PREPARED_BUMP_ACCOUNT_ONLY = PreparedWrite(_BUMP_ACCOUNT_ONLY)
_PREPARED_BUMP_SHARED_ONLY = PreparedWrite(_BUMP_SHARED_ONLY)
_PREPARED_BUMP_PRINCIPAL: Final = {kind: PreparedWrite(bump) for kind, bump in _BUMP_PRINCIPAL.items()}
_PREPARED_BUMP_ACCOUNT_AND_PRINCIPAL: Final = {
    kind: PreparedWrite(bump) for kind, bump in _BUMP_ACCOUNT_AND_PRINCIPAL.items()
}
"""The bumps as run: prepared, on the driver connection (no execution context, events or result
set-up; see :mod:`iamd.store.prepared`)."""


class UnitOfWork:
    """One transaction: everything done through it commits together or not at all.

    Get one from :meth:`iamd.store.Store.transaction` or :meth:`iamd.store.Store.run`. Each write
    that can change an authorization decision marks its account (:meth:`changed`): the account's
    ``generation`` counter goes up by one per transaction, however many writes it made, and only
    if the transaction commits. Writes that cannot (last-used times, passwords, credential
    reports) only check that the transaction may write (:meth:`writable`).

    The account's ``shared_generation`` goes up with it, except for the writes an operation
    declares scoped to one user or role (:meth:`principal_scoped`): those move that principal's
    own ``generation`` instead. The per-request caches of a caller (its access key, its compiled
    policies, its session's role or user) key on the shared generation and their principal's, so
    a write to one principal leaves every other caller's entries valid.
    """

    ALL: ClassVar[frozenset[str]] = frozenset({"*"})
    """:attr:`provisional` for "any generation may have moved"."""

    def __init__(
        self,
        session: Session,
        kek: Kek | None,
        *,
        readonly: bool,
        database: str | None = None,
        trail_savepoint: bool = False,
        contended: bool = False,
    ) -> None:
        """``database``: :attr:`database` when the caller knows it (the store renders it once).
        ``trail_savepoint``: see :attr:`trail_savepoint`; ``contended``: see :attr:`contended`."""
        self.session = session
        self.readonly = readonly
        self.contended = contended
        """Whether this transaction queued for its account (PostgreSQL's advisory lock, see
        :meth:`iamd.store.Store.transaction`): with :attr:`changed_anything`, what tells the
        pipeline that an operation's queue was not needed (:mod:`iamd.server.contention`)."""
        self.trail_savepoint = trail_savepoint
        """Insert a write's trail events in a savepoint (PostgreSQL), so that their failure
        leaves the write standing: set when a first attempt without one failed
        (:meth:`iamd.store.audit.Audit.try_add_events`)."""
        self.trail_deferred = False
        """Trail events of this transaction wait to go out with its ``COMMIT`` (PostgreSQL,
        without :attr:`trail_savepoint`): a commit that fails on anything but a race or a lost
        connection is taken for their refusal (``Store.transaction``)."""
        self._row_changes: Callable[[], int] | None = None
        self._row_changes_before = 0
        self._kek = kek
        self._changed_accounts: dict[str, bool] = {}
        """The accounts whose ``generation`` went up in this transaction, and whether their
        ``shared_generation`` did too."""
        self._changed_principals: set[str] = set()
        self._moved_any = False
        self.provisional: frozenset[str] | None = None
        """Ids (accounts, users, roles) whose generation a write before this unit of work moved
        in its transaction, not committed yet (the members of a group before this one:
        :mod:`iamd.store.group_commit`); :data:`ALL`: possibly any. :meth:`Accounts.generations`
        gives them as values no committed generation holds (:attr:`provisional_mark`), so that
        what a cache keeps from this transaction is never found under a committed state's key."""
        self.provisional_mark = -2
        """The value given for a :attr:`provisional` generation (set with it: unique per unit of
        work; never a committed one, nor the -1 of a principal that does not exist)."""
        self._scope: tuple[str, ScopedKind, str] | None = None
        self._database = database
        self.generations_seen: dict[str, int] = {}
        """Account generations read in this transaction (:meth:`Accounts.generations`), which
        several steps of one request ask for. Within a transaction only its own writes can move
        them (its snapshot holds), so every write forgets them (:meth:`writable`)."""
        self.rows_seen: dict[tuple[str, ...], Any] = {}
        """Rows read in this transaction that a write of the same request reads again (a
        resource's tags, a principal's inline policies, the policies attached to it), by a key
        that names the repository first. Like :attr:`generations_seen`, they hold while nothing is
        written (the snapshot holds: writers are serializable, readers see one snapshot; the
        trail's sealer, a writer at READ COMMITTED, reads none of them), and every write forgets
        them all (:meth:`writable`), whatever it writes (a delete, a baseline restored, an ORM
        change), but the repository's own write of those rows: it takes its entry out first
        (:meth:`writing`) and puts back what its write leaves, or nothing. Nothing crosses
        transactions: each has a unit of work of its own (a retried one too), and a rolled-back
        savepoint holds only the trail's events."""

    @property
    def database(self) -> str:
        """Which database this unit of work is in (its URL, password hidden)."""
        if self._database is None:
            self._database = self.session.get_bind().engine.url.render_as_string(hide_password=True)
        return self._database

    @property
    def kek(self) -> Kek:
        if self._kek is None:
            raise StoreError("no key-encryption key configured: open the store with kek=…")
        return self._kek

    def writable(self) -> None:
        """Raise unless this unit of work may write. Every write path of the store calls this
        (or :meth:`changed`) first: the generations read so far are forgotten, since the write
        may move them (a bump, an account created or deleted, a baseline restored)."""
        if self.readonly:
            raise StoreError("write in a read-only transaction")
        if self.generations_seen:
            self.generations_seen.clear()
        if self.rows_seen:
            self.rows_seen.clear()

    def writing(self, key: tuple[str, ...]) -> Any:
        """:meth:`writable` for a write to the rows read under `key` (:attr:`rows_seen`): what was
        read of them (None if nothing), taken out first. The caller puts back what its write
        leaves in them, or nothing: every other entry is forgotten."""
        rows = self.rows_seen.pop(key, None)
        self.writable()
        return rows

    def count_writes(self, writes: Callable[[], int]) -> None:
        """``writes()``: a count that every write on this transaction's connection moves (SQLite's
        ``total_changes``, the rows changed; on PostgreSQL the statements sent that may write,
        :attr:`iamd.store.pipelined.Connection.writes`), counted from now for
        :meth:`wrote_nothing`. Called by the store as the transaction begins."""
        self._row_changes = writes
        self._row_changes_before = writes()

    def wrote_nothing(self) -> bool:
        """Whether this transaction has written nothing so far (pending ORM changes flushed
        first): a write that turned out to change nothing (a tag or a policy sent again). False
        when it cannot be told (a connection the store counts no writes on)."""
        changes = self._row_changes
        if changes is None:
            return False
        self.session.flush()
        return changes() == self._row_changes_before

    def moved_generations(self) -> frozenset[str] | None:
        """The ids whose generation (the shared one, for an account) this transaction has moved
        so far: accounts, users, roles; :data:`ALL` when a write moved generations it did not name
        (:meth:`moved_any`); None when none."""
        if self._moved_any:
            return self.ALL
        moved = {account for account, shared in self._changed_accounts.items() if shared}
        moved |= self._changed_principals
        return frozenset(moved) if moved else None

    def moved_any(self) -> None:
        """Note a write that moves generations :meth:`changed` does not name (every member of an
        organization, a baseline restored): see :meth:`moved_generations`."""
        self.writable()
        self._moved_any = True

    @property
    def changed_anything(self) -> bool:
        """Whether a write of this transaction can change authorization decisions (it called
        :meth:`changed`, so an account's generation goes up when it commits)."""
        return bool(self._changed_accounts)

    def changed(self, account_id: str) -> None:
        """Note a write that can change authorization decisions in `account_id`.

        The first time per account, its generation goes up by one, right away (on PostgreSQL,
        with the transaction's next statement, in its round trip): the row lock this
        takes makes a concurrent writer to the same account wait here (and, on PostgreSQL, fail
        and retry as soon as this transaction commits) instead of at the end of its work. So does
        its shared generation, unless the write is scoped to one principal of the account
        (:meth:`principal_scoped`): then that principal's generation goes up instead (once per
        transaction too).
        """
        self.writable()
        shared = self._changed_accounts.get(account_id)
        scope = self._scope
        if scope is None or scope[0] != account_id:
            if shared is None:
                self._changed_accounts[account_id] = True
                _PREPARED_BUMP.run_deferred(self.session, {"account_id": account_id})
            elif not shared:
                self._changed_accounts[account_id] = True
                _PREPARED_BUMP_SHARED_ONLY.run_deferred(self.session, {"account_id": account_id})
            return
        session = self.session
        _, kind, principal_id = scope
        principal = principal_id not in self._changed_principals
        self._changed_principals.add(principal_id)
        if shared is None:
            self._changed_accounts[account_id] = False
            if principal and session.connection().dialect.name == "postgresql":
                bump = _PREPARED_BUMP_ACCOUNT_AND_PRINCIPAL[kind]
                bump.run_deferred(session, {"bumped_account": account_id, "bumped_principal": principal_id})
                return
            _PREPARED_BUMP_ACCOUNT_ONLY.run_deferred(session, {"account_id": account_id})
        if principal:
            _PREPARED_BUMP_PRINCIPAL[kind].run_deferred(session, {"principal_id": principal_id})

    @contextmanager
    def principal_scoped(
        self, account_id: str, kind: str, principal_id: str, *, new: bool = False
    ) -> Iterator[None]:
        """Declare the writes made in the block scoped to one user or role of `account_id`: what
        they change enters no decision but those about requests *by* that principal (its tags as
        aws:PrincipalTag, its own policies, its access keys), so :meth:`changed` moves the
        principal's generation, not the account's shared one. Only for writes checked to be so:
        a principal's tags are also the resource tags of requests *on* it, which nothing caches
        (they are read per request). Another account's change in the block, and any change when
        `kind` is not "user" or "role" (a group's policies reach all its members), stays shared.
        Blocks do not nest. ``new``: the principal is created in the block (its row starts at
        generation 0 and its id is new: nothing is cached about it, so its own counter stays)."""
        if self._scope is not None:
            raise StoreError("principal scopes do not nest")
        if kind == "user":
            self._scope = (account_id, "user", principal_id)
        elif kind == "role":
            self._scope = (account_id, "role", principal_id)
        if new and self._scope is not None:
            self._changed_principals.add(principal_id)
        try:
            yield
        finally:
            self._scope = None

    def commit(self) -> None:
        """Commit. Called by the Store when the transaction's block ends normally."""
        self.session.commit()

    # -- repositories ---------------------------------------------------------------------------

    @cached_property
    def accounts(self) -> Accounts:
        return Accounts(self)

    @cached_property
    def account_settings(self) -> AccountSettings:
        return AccountSettings(self)

    @cached_property
    def users(self) -> Users:
        return Users(self)

    @cached_property
    def groups(self) -> Groups:
        return Groups(self)

    @cached_property
    def roles(self) -> Roles:
        return Roles(self)

    @cached_property
    def policies(self) -> Policies:
        return Policies(self)

    @cached_property
    def inline_policies(self) -> InlinePolicies:
        return InlinePolicies(self)

    @cached_property
    def principals(self) -> Principals:
        return Principals(self)

    @cached_property
    def access_keys(self) -> AccessKeys:
        return AccessKeys(self)

    @cached_property
    def login_profiles(self) -> LoginProfiles:
        return LoginProfiles(self)

    @cached_property
    def mfa(self) -> MfaDevices:
        return MfaDevices(self)

    @cached_property
    def tags(self) -> Tags:
        return Tags(self)

    @cached_property
    def instance_profiles(self) -> InstanceProfiles:
        return InstanceProfiles(self)

    @cached_property
    def oidc_providers(self) -> OidcProviders:
        return OidcProviders(self)

    @cached_property
    def saml_providers(self) -> SamlProviders:
        return SamlProviders(self)

    @cached_property
    def signing_certificates(self) -> SigningCertificates:
        return SigningCertificates(self)

    @cached_property
    def ssh_public_keys(self) -> SshPublicKeys:
        return SshPublicKeys(self)

    @cached_property
    def service_credentials(self) -> ServiceCredentials:
        return ServiceCredentials(self)

    @cached_property
    def server_certificates(self) -> ServerCertificates:
        return ServerCertificates(self)

    @cached_property
    def rekey(self) -> Rekey:
        return Rekey(self)

    @cached_property
    def rolesanywhere(self) -> RolesAnywhere:
        return RolesAnywhere(self)

    @cached_property
    def audit(self) -> Audit:
        return Audit(self)

    @cached_property
    def organizations(self) -> Organizations:
        return Organizations(self)

    @cached_property
    def baselines(self) -> Baselines:
        return Baselines(self)

    @cached_property
    def access_analyzer(self) -> AccessAnalyzer:
        return AccessAnalyzer(self)

    @cached_property
    def identity_center(self) -> IdentityCenter:
        return IdentityCenter(self)

    @cached_property
    def identity_store(self) -> IdentityStores:
        """IAM Identity Center's identity stores: users, groups, memberships."""
        return IdentityStores(self)

    @cached_property
    def identity_credentials(self) -> IdentityCredentials:
        """Identity-store users' passwords and MFA devices, SCIM tokens, the SAML IdP."""
        return IdentityCredentials(self)

    @cached_property
    def sso_portal(self) -> SsoPortal:
        """The access portal's sessions, OIDC clients, authorizations and bearer tokens."""
        return SsoPortal(self)
