"""Engines for SQLite and PostgreSQL, and schema migrations applied with Alembic's API."""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    create_engine,
    event,
    inspect,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from iamd.private_files import DIR_MODE, open_private
from iamd.store.checkpoint import BACKSTOP_PAGES
from iamd.store.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config

DB_FILE_NAME: Final = "iamd.db"
SCRIPT_LOCATION: Final = "iamd.store:migrations"
BUSY_TIMEOUT_SECONDS: Final = 30.0
# Execution option read by the SQLite "begin" hook: "IMMEDIATE" (writers) or "DEFERRED" (readers),
# or "KEPT" (a connection kept for one thread's reads, whose transaction the store may have begun
# on the driver already: then SQLAlchemy's begin joins it; see iamd.store.store.KeptReadSession).
SQLITE_BEGIN: Final = "iamd_sqlite_begin"
SQLITE_KEPT: Final = "KEPT"
# The same for the connection kept for the store's writers (iamd.store.store.Store._kept_writer):
# its transactions begin IMMEDIATE, on the driver.
SQLITE_KEPT_WRITER: Final = "KEPT IMMEDIATE"
_BEGIN_DEFERRED: Final = "BEGIN DEFERRED"
_BEGIN_IMMEDIATE: Final = "BEGIN IMMEDIATE"
# Any constant will do, as long as every iamd node uses the same one.
_MIGRATION_LOCK: Final = 0x69616D64  # "iamd"
_VERSIONS: Final = Path(__file__).parent / "migrations" / "versions"
_REVISION: Final = re.compile(r'^revision(?::[^=\n]*)? = "([^"\n]+)"$', re.MULTILINE)
_DOWN_REVISION: Final = re.compile(r'^down_revision(?::[^=\n]*)? = (?:"([^"\n]+)"|None)$', re.MULTILINE)


def default_url(data_dir: str | os.PathLike[str]) -> str:
    """The SQLite database in a data directory."""
    return f"sqlite:///{Path(data_dir).resolve() / DB_FILE_NAME}"


def create_store_engine(url: str | URL) -> Engine:
    """An engine configured for iamd: see :func:`_sqlite_engine` and :func:`_postgresql_engine`."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed)
    if backend == "postgresql":
        return _postgresql_engine(parsed)
    raise StoreError(f"unsupported database {backend!r}: use sqlite:///PATH or postgresql+psycopg://…")


def _sqlite_engine(url: URL) -> Engine:
    """SQLite with WAL, foreign keys, a busy timeout, and writers that BEGIN IMMEDIATE.

    Python's sqlite3 module would open transactions lazily with a plain BEGIN; a writer that read
    first would then fail to upgrade its lock when another writer got there in between. Taking
    the write lock at BEGIN (IMMEDIATE) makes concurrent writers queue up instead, for at most
    the busy timeout. Readers BEGIN DEFERRED and, under WAL, never wait for writers.
    """
    memory = url.database in (None, "", ":memory:")
    kwargs: dict[str, Any] = {"connect_args": {"timeout": BUSY_TIMEOUT_SECONDS, "check_same_thread": False}}
    if memory:
        kwargs["poolclass"] = StaticPool  # one shared connection: for single-threaded tests only
    elif url.database is not None:
        database = Path(url.database)
        database.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        # SQLite gives the -wal and -shm files the database file's own mode: create it 0600.
        os.close(open_private(database, os.O_RDWR))
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        try:
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
                # Checkpoints are the store's thread's (iamd.store.checkpoint); a writer does one
                # only past this backstop.
                cursor.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN, "IMMEDIATE")
        # Straight to the driver: on every transaction's path, and SQLAlchemy's statement
        # machinery (events, caching, result set-up) cost more than SQLite's BEGIN itself.
        # A failure (the write lock still busy after the timeout) is raised again through
        # SQLAlchemy, as the error the store translates (RetryableError).
        begin = _BEGIN_DEFERRED if mode in ("DEFERRED", SQLITE_KEPT) else _BEGIN_IMMEDIATE
        driver = conn.connection.driver_connection
        try:
            if mode in (SQLITE_KEPT, SQLITE_KEPT_WRITER) and driver.in_transaction:  # type: ignore[union-attr]
                return  # begun by the store on the driver: SQLAlchemy's transaction is that one
            driver.execute(begin)  # type: ignore[union-attr]
        except sqlite3.Error:
            conn.exec_driver_sql(begin)

    return engine


def _postgresql_engine(url: URL) -> Engine:
    """PostgreSQL through psycopg, with disconnects handled optimistically.

    No ``pool_pre_ping`` (a round trip before every transaction): a pooled connection the server
    dropped (a restart, ``pg_terminate_backend``, a pooler's timeout) fails its first statement
    with a disconnect error instead; SQLAlchemy then discards the whole pool (every connection of
    that age is suspect) and the store retries the transaction on a new connection (see
    :func:`iamd.store.base.translate`), unless the connection went during COMMIT.
    """
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    engine = create_engine(url)
    if engine.dialect.driver == "psycopg":
        from iamd.store.pipelined import Connection as PipelinedConnection

        @event.listens_for(engine, "do_connect")
        def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
            # Connections whose transactions the store opens in the round trip of their first
            # statement (iamd.store.pipelined).
            return PipelinedConnection.connect(*cargs, **cparams)

    return engine


def alembic_config() -> Config:
    """An Alembic configuration pointing at the migrations shipped in this package (no .ini file)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return config


def shipped_heads() -> frozenset[str] | None:
    """The head revision(s) of the migrations shipped in this package, read from their files
    without importing Alembic (a third of a second at every start); None when a file does not
    read as expected, and Alembic should decide."""
    revisions: set[str] = set()
    downs: set[str] = set()
    try:
        files = [p for p in _VERSIONS.glob("*.py") if p.name != "__init__.py"]
        for path in files:
            text = path.read_text(encoding="utf-8")
            revision, down = _REVISION.findall(text), _DOWN_REVISION.findall(text)
            if len(revision) != 1 or len(down) != 1:
                return None
            revisions.add(revision[0])
            if down[0]:
                downs.add(down[0])
    except OSError:
        return None
    heads = frozenset(revisions - downs)
    return heads or None


def at_head(engine: Engine) -> bool:
    """Whether the database's schema is at the shipped head already (one read, no Alembic)."""
    heads = shipped_heads()
    if heads is None:
        return False
    try:
        with engine.connect() as conn:
            conn.execution_options(**{SQLITE_BEGIN: "DEFERRED"})
            if not engine.dialect.has_table(conn, "alembic_version"):  # no schema yet
                return False
            stored = frozenset(
                str(r[0]) for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version")
            )
            conn.rollback()
    except DBAPIError:  # Alembic will say what is wrong
        return False
    return stored == heads


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`, in one transaction; safe when several nodes start at once.

    When the schema is at the head already (every start but the first after an upgrade), one
    read says so and Alembic is not even imported. An empty database is brought to the head in
    one step (:func:`_create_at_head`), also without Alembic."""
    if revision == "head" and at_head(engine):
        return
    with engine.begin() as conn:  # on SQLite: BEGIN IMMEDIATE, so migrators take turns
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
        if revision == "head" and _create_at_head(conn):
            return
        from alembic import command

        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def _create_at_head(conn: Connection) -> bool:
    """On a database with no table at all (in its default schema): create the head's schema from
    the models in one step, with the rows the migrations insert, and stamp it with the head
    revision, as running every migration would leave it (a third of a second less at a first
    start; tests/unit/store/test_store_migrations.py holds the two ways to the same tables,
    columns, indexes, constraints and rows). False, with nothing done, on any other database."""
    heads = shipped_heads()
    if heads is None or len(heads) != 1 or inspect(conn).get_table_names():
        return False
    from iamd.store.schema import AWS_ACCOUNT_ROW, Base

    Base.metadata.create_all(conn, checkfirst=False)  # no table exists: checked just above
    conn.execute(Base.metadata.tables["accounts"].insert(), [AWS_ACCOUNT_ROW])
    version = Table(
        "alembic_version",  # as Alembic makes it
        MetaData(),
        Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
    )
    version.create(conn)
    conn.execute(version.insert(), [{"version_num": next(iter(heads))}])
    return True
