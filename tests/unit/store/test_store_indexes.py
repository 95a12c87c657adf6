"""Indexes: none that another begins with, lookups by unique name through their unique index on a
new database (no statistics yet), and statistics for the AWS managed policies once loaded."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import PrimaryKeyConstraint, UniqueConstraint, text

import iamd.store
from iamd.secrets import SeededIds
from iamd.store import AWS_ACCOUNT, Store, open_store
from iamd.store.records import AwsManagedPolicy
from iamd.store.schema import Base

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _indexed_columns() -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    """Per table: (index or constraint name, its columns), every model imported."""
    assert iamd.store.open_store  # (the package imports every repository, so every table)
    tables: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for table in Base.metadata.sorted_tables:
        found = [(str(i.name), tuple(c.name for c in i.columns)) for i in table.indexes]
        found += [
            (str(c.name), tuple(col.name for col in c.columns))
            for c in table.constraints
            if isinstance(c, UniqueConstraint | PrimaryKeyConstraint)
        ]
        tables[table.name] = found
    return tables


def test_no_index_is_the_beginning_of_another() -> None:
    """An index on ``account_id`` beside a unique one on (``account_id``, ``name_lower``) serves
    nothing the second does not, costs every insert, and lets PostgreSQL's planner, without
    statistics, look a name up through the narrower one."""
    covered = []
    for table, indexes in _indexed_columns().items():
        for name, columns in indexes:
            if not name.startswith("ix_"):
                continue
            for other, wider in indexes:
                if other != name and len(wider) > len(columns) and wider[: len(columns)] == columns:
                    covered.append(f"{table}.{name} (begins {other})")
    assert covered == []


def _plan(store: Store, sql: str, params: dict[str, str]) -> str:
    explain = "EXPLAIN QUERY PLAN " if store.engine.dialect.name == "sqlite" else "EXPLAIN "
    with store.engine.connect() as conn:
        rows = conn.execute(text(explain + sql), params).all()
    return "\n".join(str(row[-1]) for row in rows)


def test_a_name_is_looked_up_through_the_unique_index_on_a_new_database(db_url: str) -> None:
    store = open_store(db_url)
    try:
        with store.transaction() as uow:
            uow.accounts.create("111122223333", name="main", created_at=NOW)
            for n in range(50):
                uow.users.create(
                    "111122223333", user_id=f"AIDA{n:017d}", name=f"u{n}", path="/", created_at=NOW
                )
        for table in ("users", "managed_policies", "roles", "groups"):
            plan = _plan(
                store,
                f"SELECT id FROM {table} WHERE account_id = :a AND name_lower = :n",
                {"a": "111122223333" if table != "managed_policies" else AWS_ACCOUNT, "n": "u7"},
            )
            if store.engine.dialect.name == "postgresql":
                assert f"uq_{table}_account_id_name_lower" in plan, plan
                assert "Filter" not in plan, plan
            else:
                assert "USING INDEX" in plan and "name_lower=?" in plan, plan
    finally:
        store.close()


def test_loading_the_aws_managed_policies_gives_the_planner_statistics(store: Store) -> None:
    """PostgreSQL: a bulk load is followed by ANALYZE (autovacuum may be off, or late)."""
    if store.engine.dialect.name != "postgresql":
        return  # SQLite's planner takes a unique index for an equality on all its columns anyway
    ids = SeededIds(3)
    policies = [
        AwsManagedPolicy(
            policy_id=ids.policy_id(),
            name=f"Policy{n}",
            path="/",
            version_id="v1",
            document='{"Version": "2012-10-17", "Statement": []}',
            created_at=NOW,
            updated_at=NOW,
        )
        for n in range(40)
    ]
    with store.transaction() as uow:
        assert uow.policies.load_aws_managed(policies) == 40
    with store.engine.connect() as conn:
        counted = dict(
            conn.execute(
                text(
                    "SELECT relname, reltuples FROM pg_class WHERE relname IN "
                    "('managed_policies', 'policy_versions') AND relkind = 'r' "
                    "AND relnamespace = to_regnamespace(current_schema())::oid"
                )
            ).all()
        )
    assert counted == {"managed_policies": 40, "policy_versions": 40}
