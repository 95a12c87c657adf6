"""The settings every SQLite connection of iamd gets (iamd.store.engine): WAL with synchronous=NORMAL
(durability), foreign keys and the busy timeout; a commit is seen by the other connections."""

from __future__ import annotations

from pathlib import Path

from iamd.store.engine import BUSY_TIMEOUT_SECONDS, SQLITE_BEGIN, create_store_engine


def test_every_connection_gets_the_settings(tmp_path: Path) -> None:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'iamd.db'}")
    try:
        with engine.connect() as conn:
            pragma = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
        assert pragma == {
            "journal_mode": "wal",
            "synchronous": 1,  # NORMAL
            "foreign_keys": 1,
            "busy_timeout": int(BUSY_TIMEOUT_SECONDS * 1000),
        }
    finally:
        engine.dispose()


def test_a_write_is_read_back_by_other_connections(tmp_path: Path) -> None:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'iamd.db'}")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (v TEXT)")
            conn.exec_driver_sql("INSERT INTO t VALUES ('x')")
        with engine.connect() as one, engine.connect() as two:
            for reader in (one, two):
                reader.execution_options(**{SQLITE_BEGIN: "DEFERRED"})
            assert one.exec_driver_sql("SELECT v FROM t").scalar() == "x"
            one.rollback()
            with engine.begin() as writer:
                writer.exec_driver_sql("UPDATE t SET v = 'y'")
            assert one.exec_driver_sql("SELECT v FROM t").scalar() == "y"  # a new read: the new value
            assert two.exec_driver_sql("SELECT v FROM t").scalar() == "y"
    finally:
        engine.dispose()
