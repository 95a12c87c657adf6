"""Alembic migrations of the iamd schema, applied by iamd.store.open_store (no alembic.ini needed)."""
