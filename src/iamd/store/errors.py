"""Errors raised by the store. The service layer maps them to AWS errors.

::

    StoreError                  anything the store refuses or cannot do
     ├── NotFound               no such entity            (-> NoSuchEntity)
     ├── AlreadyExists          a name or id is taken     (-> EntityAlreadyExists)
     ├── Conflict               the change would break a rule of the data model, e.g. deleting
     │                          a user that still has access keys   (-> DeleteConflict)
     ├── InvalidMarker          a pagination marker the store did not issue
     └── RetryableError         the transaction lost a race (serialization failure, deadlock,
          │                     database busy); run it again: Store.run does this for you
          ├── TrailEventRefused a write's trail event failed to insert without a savepoint
          │                     (PostgreSQL); Store.run runs it again with one
          └── GroupAborted      the group of writers it ran in failed for another's sake
                                (PostgreSQL, iamd.store.group_commit); Store.run runs it
                                again alone

Database driver exceptions (IntegrityError and friends) never leave the store: they are
translated to one of the above.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExists",
    "Conflict",
    "GroupAborted",
    "InvalidMarker",
    "NotFound",
    "RetryableError",
    "StoreError",
    "TrailEventRefused",
]


class StoreError(Exception):
    """Base of every store error."""


class NotFound(StoreError):
    """The entity does not exist."""


class AlreadyExists(StoreError):
    """An entity with this name (compared case-insensitively) or id already exists."""


class Conflict(StoreError):
    """The change conflicts with related data, e.g. deleting something still in use."""


class InvalidMarker(StoreError):
    """The pagination marker is malformed."""


class RetryableError(StoreError):
    """The transaction was rolled back because of concurrent writers; retry it from the start."""


class TrailEventRefused(RetryableError):
    """A write's trail event failed to insert in the write's own transaction, where (PostgreSQL)
    no savepoint guarded it: the transaction is lost. Run it again with the events in a
    savepoint (:meth:`iamd.store.Store.run` does), so that the write can go on without them."""


class GroupAborted(RetryableError):
    """The write ran, or was to run, in a group of writers of its account sharing one transaction
    (:mod:`iamd.store.group_commit`), which failed other than by a race: nothing of it was
    committed. Run it again alone, at once (:meth:`iamd.store.Store.run` does), as it would have
    run without the group."""
