"""Persistence of the IAM data model: the only package that imports SQLAlchemy.

Open the database with :func:`open_store` (migrations are applied), then work in transactions::

    store = open_store("sqlite:////var/lib/iamd/iamd.db", kek=load_kek("/var/lib/iamd"))
    user = store.run(lambda uow: uow.users.create(account_id, user_id=..., name="alice", path="/",
                                                   created_at=now))

Repositories hang off the unit of work (``uow.users``, ``uow.policies``, ``uow.principals`` …) and
return the frozen dataclasses of :mod:`iamd.store.records`. Errors are those of
:mod:`iamd.store.errors`; no driver exception escapes.
"""

from iamd.store.engine import default_url
from iamd.store.errors import AlreadyExists, Conflict, InvalidMarker, NotFound, RetryableError, StoreError
from iamd.store.records import Page
from iamd.store.schema import AWS_ACCOUNT
from iamd.store.store import Store, open_store
from iamd.store.unit import UnitOfWork

__all__ = [
    "AWS_ACCOUNT",
    "AlreadyExists",
    "Conflict",
    "InvalidMarker",
    "NotFound",
    "Page",
    "RetryableError",
    "Store",
    "StoreError",
    "UnitOfWork",
    "default_url",
    "open_store",
]
