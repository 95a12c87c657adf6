"""Alembic environment.

iamd.store.engine.upgrade runs it on a connection it passes in ``config.attributes["connection"]``.
To write a new revision, autogenerate it against a database at the current head, e.g.::

    from alembic import command
    from iamd.store.engine import alembic_config, create_store_engine
    config = alembic_config()
    with create_store_engine("sqlite:///scratch.db").begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
        command.revision(config, message="…", autogenerate=True, rev_id="0002")

then review it, name it ``r0002_….py``, and keep tests/unit/store/test_store_migrations.py passing
(it fails when the models and the migrations disagree).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from iamd.store.engine import create_store_engine
from iamd.store.schema import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    # Run by the alembic command line: alembic -x url=sqlite:///PATH …
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("give the database: alembic -x url=sqlite:///PATH …")
    engine = create_store_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


main()
