"""Helpers shared by the store's tests."""

from __future__ import annotations

from sqlalchemy import text

from iamd.store import Store
from iamd.store.store import _queue_key


def queue_free(store: Store, account_id: str) -> bool:
    """Whether another session can take the account's queue lock (PostgreSQL's advisory lock)
    right now (it gives it back)."""
    key = _queue_key(account_id)
    with store.engine.connect() as other:
        free = bool(other.execute(text(f"SELECT pg_try_advisory_lock({key})")).scalar_one())
        if free:
            other.execute(text(f"SELECT pg_advisory_unlock({key})"))
        other.commit()
    return free
