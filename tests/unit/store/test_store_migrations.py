"""Migrations: shipped in the package, applied on open, idempotent, and in step with the models."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from iamd.store import AWS_ACCOUNT, open_store
from iamd.store.engine import (
    SQLITE_BEGIN,
    alembic_config,
    at_head,
    create_store_engine,
    shipped_heads,
    upgrade,
)
from iamd.store.schema import Base

ACCOUNT = "111122223333"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_migrations_create_every_table_on_an_empty_database(db_url: str) -> None:
    store = open_store(db_url)
    try:
        tables = set(inspect(store.engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        assert "alembic_version" in tables
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == _head()
    finally:
        store.close()


def test_first_migration_creates_the_aws_pseudo_account(db_url: str) -> None:
    store = open_store(db_url)
    try:
        with store.transaction(readonly=True) as uow:
            aws = uow.accounts.get(AWS_ACCOUNT)
            assert aws.generation == 0
            assert uow.accounts.list() == ()  # the pseudo-account is not listed
    finally:
        store.close()


def test_reopening_is_idempotent_and_keeps_data(db_url: str) -> None:
    first = open_store(db_url)
    with first.transaction() as uow:
        uow.accounts.create(ACCOUNT, name="main", created_at=NOW)
    first.close()
    second = open_store(db_url)  # upgrade to head again: nothing to do
    try:
        with second.transaction(readonly=True) as uow:
            assert uow.accounts.get(ACCOUNT).name == "main"
        with second.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    finally:
        second.close()


def test_models_and_migrations_agree(db_url: str) -> None:
    """Fails when a model changed without a migration (write one: see migrations/env.py)."""
    engine = create_store_engine(db_url)
    try:
        upgrade(engine, _migrations_head())  # every migration, by Alembic
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def _migrations_head() -> str:
    """The head revision by name: ``upgrade`` then runs Alembic even on an empty database, where
    ``"head"`` creates the schema in one step."""
    head = _head()
    assert head is not None
    return head


def _schema_and_rows(engine: Engine) -> dict[str, Any]:
    """Every table of the database as its inspector sees it (columns with types, nullability and
    defaults, primary key, indexes, unique constraints, foreign keys with their options, checks)
    and its rows."""
    found: dict[str, Any] = {}
    with engine.connect().execution_options(**{SQLITE_BEGIN: "DEFERRED"}) as conn:
        inspector = inspect(conn)
        for table in sorted(inspector.get_table_names()):
            found[table] = {
                "columns": [
                    (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                    for c in inspector.get_columns(table)
                ],
                "primary key": inspector.get_pk_constraint(table),
                "indexes": sorted(
                    (str(i["name"]), tuple(map(str, i["column_names"])), bool(i["unique"]))
                    for i in inspector.get_indexes(table)
                ),
                "unique": sorted(
                    (str(u["name"]), tuple(u["column_names"]))
                    for u in inspector.get_unique_constraints(table)
                ),
                "foreign keys": sorted(
                    (
                        str(f["name"]),
                        tuple(f["constrained_columns"]),
                        f["referred_table"],
                        tuple(f["referred_columns"]),
                        sorted(f.get("options", {}).items()),
                    )
                    for f in inspector.get_foreign_keys(table)
                ),
                "checks": sorted(
                    (str(c["name"]), c["sqltext"]) for c in inspector.get_check_constraints(table)
                ),
                "rows": sorted(map(repr, conn.execute(text(f'SELECT * FROM "{table}"')).all())),
            }
    return found


def test_a_new_database_is_created_in_one_step_as_the_migrations_make_it(db_url: str) -> None:
    """``upgrade`` creates an empty database's schema from the models and stamps it, instead of
    running every migration: both ways must give the same tables, columns, indexes, constraints,
    rows (the "aws" pseudo-account) and version, on both backends. A new migration that inserts
    rows, or a model that differs from the migrations, fails here."""
    engine = create_store_engine(db_url)
    try:
        upgrade(engine)
        assert at_head(engine)
        one_step = _schema_and_rows(engine)
        with engine.begin() as conn:
            Base.metadata.drop_all(conn)
            conn.execute(text("DROP TABLE alembic_version"))
            assert inspect(conn).get_table_names() == []
        upgrade(engine, _migrations_head())
        assert _schema_and_rows(engine) == one_step
        assert set(one_step) == set(Base.metadata.tables) | {"alembic_version"}
    finally:
        engine.dispose()


def test_a_first_start_does_not_import_alembic(tmp_path: Path) -> None:
    """Creating a new database in one step leaves Alembic unimported (a third of a second)."""
    url = f"sqlite:///{tmp_path / 'iamd.db'}"
    code = (
        "import sys\n"
        "from iamd.store import open_store\n"
        f"open_store({url!r}).close()\n"
        "assert 'alembic' not in sys.modules, 'alembic was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_migration_files_ship_inside_the_package() -> None:
    package = resources.files("iamd.store.migrations")
    assert package.joinpath("env.py").is_file()
    assert package.joinpath("script.py.mako").is_file()
    revisions = [p.name for p in package.joinpath("versions").iterdir() if p.name.startswith("r")]
    assert "r0001_initial_schema.py" in revisions


def test_the_heads_read_from_the_files_are_alembics() -> None:
    """Start skips Alembic when the database is at the head it reads from the migration files
    itself: that reading must agree with Alembic's (a new revision, a branch, a merge)."""
    assert shipped_heads() == frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def test_start_knows_when_a_migration_is_needed(db_url: str) -> None:
    engine = create_store_engine(db_url)
    try:
        assert not at_head(engine)  # empty database
        upgrade(engine, "0006")
        assert not at_head(engine)  # behind: Alembic runs
        upgrade(engine)
        assert at_head(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == _head()
            assert "aa_policy_generations" in inspect(conn).get_table_names()
    finally:
        engine.dispose()
