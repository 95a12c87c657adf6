"""Migrations: shipped in the package, applied on open, idempotent, and in step with the models."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from iamd.store import AWS_ACCOUNT, open_store
from iamd.store.engine import alembic_config, at_head, create_store_engine, shipped_heads, upgrade
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
    store = open_store(db_url)
    try:
        with store.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        store.close()


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
