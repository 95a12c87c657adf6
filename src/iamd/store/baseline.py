"""A baseline of the accounts' own rows, and putting it back (``iamd serve --test-mode``'s reset).

:meth:`Baselines.capture` copies every row that belongs to an account (not the AWS managed
policies, shared by all accounts in the pseudo-account ``"aws"``, and not the trail, an audit log);
:meth:`Baselines.restore` deletes every account's rows and inserts the copy again, in the
unit of work's one transaction, so a reset is all or nothing and takes milliseconds: the 1,582
AWS managed policies are neither deleted nor loaded again. Rows come back byte for byte,
encrypted secrets included, so access keys written to profiles keep working.

Each restored account's ``generation`` goes *up* (never back to its old value): every node's
caches (keys, compiled policies, sessions' policies) are keyed by it and so see the reset.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import ColumnElement, Dialect, Table, delete, insert, select, true, update

from iamd.store.audit import LastAccessedJobRow, LastAccessedRow
from iamd.store.base import Repository
from iamd.store.schema import AWS_ACCOUNT, Account, Base, ManagedPolicy, PolicyVersion

__all__ = ["KEPT_TABLES", "AccountsBaseline", "Baselines", "reset_tables"]

KEPT_TABLES: Final = frozenset(
    {"accounts", "trail_events", "trail_event_resources", "trail_chain", "trail_digests"}
)
"""Tables a reset leaves alone: the accounts (updated in place, see above) and the trail (an audit
log: what happened before a reset stays on the record, hash chain and signed digests intact)."""

# Derived from the trail but about entities (last-accessed data, report jobs): a reset forgets
# them with the entities, and they are not part of a baseline (a first start has none).
_DERIVED: Final = frozenset({LastAccessedRow.__tablename__, LastAccessedJobRow.__tablename__})

_ACCOUNTS: Final[Table] = Base.metadata.tables[Account.__tablename__]
# Account columns a reset puts back (everything but the id and the generation counter).
_ACCOUNT_COLUMNS: Final = tuple(
    c.name for c in _ACCOUNTS.columns if c.name not in ("id", "generation", "shared_generation")
)


def reset_tables() -> list[Table]:
    """Every table whose rows a reset deletes, parents before children (the insert order).

    Each has an ``account_id`` column, except ``policy_versions`` (reached through its policy) and
    the Organizations, Access Analyzer and Identity Center tables (keyed by organization, analyzer
    or instance: every row
    belongs to accounts of this iamd, none is shared as the AWS managed policies are, and a first
    start has none, so a reset takes them whole).
    """
    tables = [t for t in Base.metadata.sorted_tables if t.name not in KEPT_TABLES]
    for table in tables:
        if "account_id" not in table.c and table.name != PolicyVersion.__tablename__ and not _whole(table):
            raise AssertionError(f"table {table.name} has no account_id: say how a reset treats it")
    return tables


def _whole(table: Table) -> bool:
    """An Organizations, Access Analyzer or Identity Center (``sso_``) table: all its rows are the
    accounts' own."""
    return (
        table.name == "organizations"
        or "organization_id" in table.c
        or table.name.startswith(("aa_", "sso_"))
    )


@dataclass(frozen=True, slots=True)
class AccountsBaseline:
    """The captured rows: accounts (by id) and each table's rows, parents first."""

    accounts: tuple[dict[str, Any], ...]
    rows: tuple[tuple[str, tuple[dict[str, Any], ...]], ...]

    @property
    def account_ids(self) -> tuple[str, ...]:
        return tuple(str(a["id"]) for a in self.accounts)

    def count(self) -> int:
        return sum(len(rows) for _, rows in self.rows)


@functools.cache
def _statements() -> tuple[tuple[Table, Any, Any], ...]:
    """Per table a reset touches, parents first: (table, its select, its delete) of the accounts'
    own rows. Built once: building SQLAlchemy statements costs more than SQLite running them."""
    own_policies = select(ManagedPolicy.id).where(ManagedPolicy.account_id != AWS_ACCOUNT)
    out = []
    for table in reset_tables():
        own: ColumnElement[bool]
        if table.name == PolicyVersion.__tablename__:
            own = table.c.policy_id.in_(own_policies)
        elif _whole(table):  # (before account_id: org_account_requests' may be NULL)
            own = true()
        else:
            own = table.c.account_id != AWS_ACCOUNT
        out.append((table, select(table).where(own), delete(table).where(own)))
    return tuple(out)


@functools.cache
def _delete_script(dialect: Dialect) -> str:
    """Every DELETE of a reset, children first, as one SQL script (no parameters: constants)."""
    return ";\n".join(
        str(remove.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        for _, _, remove in reversed(_statements())
    )


class Baselines(Repository):
    def capture(self) -> AccountsBaseline:
        """Every account's own rows, as they are now."""
        accounts = tuple(
            dict(row._mapping)
            for row in self._session.execute(
                select(_ACCOUNTS).where(_ACCOUNTS.c.id != AWS_ACCOUNT).order_by(_ACCOUNTS.c.id)
            )
        )
        rows = tuple(
            (table.name, tuple(dict(r._mapping) for r in self._session.execute(query)))
            for table, query, _ in _statements()
            if table.name not in _DERIVED
        )
        return AccountsBaseline(accounts, rows)

    def restore(self, baseline: AccountsBaseline) -> None:
        """Delete every account's own rows and accounts not in ``baseline``; put ``baseline`` back.

        The AWS managed policies and the trail are untouched. Each baseline account's generation
        and shared generation go up by one (its users' and roles' own generations come back with
        their rows: every cache key holds the shared one too, which no key has seen)."""
        self._uow.moved_any()
        session = self._session
        statements = _statements()
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            # One round trip for all the DELETEs (36 of them took 130 ms one by one on a loaded
            # machine); they hold only constants, compiled once per process.
            connection.exec_driver_sql(_delete_script(connection.dialect))
        else:
            for _, _, remove in reversed(statements):
                session.execute(remove)
        kept = baseline.account_ids
        session.execute(delete(_ACCOUNTS).where(_ACCOUNTS.c.id != AWS_ACCOUNT, _ACCOUNTS.c.id.not_in(kept)))
        present = set(session.scalars(select(_ACCOUNTS.c.id).where(_ACCOUNTS.c.id.in_(kept))))
        for account in baseline.accounts:
            values = {name: account[name] for name in _ACCOUNT_COLUMNS}
            if account["id"] in present:
                session.execute(
                    update(_ACCOUNTS)
                    .where(_ACCOUNTS.c.id == account["id"])
                    .values(
                        generation=_ACCOUNTS.c.generation + 1,
                        shared_generation=_ACCOUNTS.c.shared_generation + 1,
                        **values,
                    )
                )
            else:  # deleted since (e.g. by an Organizations call): back, past its old counter
                session.execute(
                    insert(_ACCOUNTS).values(
                        id=account["id"],
                        generation=int(account["generation"]) + 1,
                        shared_generation=int(account.get("shared_generation") or 0) + 1,
                        **values,
                    )
                )
        by_name = {table.name: table for table, _, _ in statements}
        for name, rows in baseline.rows:
            if rows:
                session.execute(insert(by_name[name]), list(rows))
