"""Group commit: the queued writers of one account on PostgreSQL, run one after another in one
transaction, committed together.

Writers that change an account queue for it (an advisory lock held from the transaction's first
statement to its ``COMMIT``: :meth:`iamd.store.Store.transaction`), so one of them at a time
runs, and each waits for the one before it to commit: the ``COMMIT``'s flush to disk, its round
trip and the wake-up of the thread that waits next, all while the account's other writers wait.
Here the writers of this process that queue for an account while one of them holds it run in that
one's transaction instead:

- The first to come (the leader) takes the account's lock and opens the transaction, in the
  round trip of its first statement as before; writers that come while it is open join the
  group (up to :data:`MAX_GROUP`) and wait.
- The leader runs each member's work in turn, on its own thread and connection, each after the
  first in a savepoint (``SAVEPOINT`` and ``RELEASE SAVEPOINT`` go out with the statements
  around them: no round trip of their own). A member whose work fails (a refusal such as
  ``NoSuchEntity`` or ``AccessDenied``) is rolled back to its savepoint and answered at once;
  the first member of a transaction has no savepoint: its failure rolls the transaction back and
  the next member opens another (the lock stays held).
- When no member waits any more, the leader commits and gives the lock back in one round trip,
  and every member that succeeded is answered: its work committed, or none did.
- A race lost (a serialization failure, a deadlock) fails the whole transaction: every member
  that ran runs again (``RetryableError``, as a lone writer would); the members it kept from
  running, and those of a transaction that failed otherwise, run again alone at once
  (:class:`~iamd.store.errors.GroupAborted`), as they would have without groups.

Each member has its unit of work, so what one read (``rows_seen``, ``generations_seen``) is read
again by the next, which sees what the members before it wrote. The generations they moved are
not yet committed and a failed group takes them back, after which another write may move them to
the same values: so a member does not see them (:attr:`UnitOfWork.provisional`), and what a cache
keeps from its reads is keyed on values no committed state holds (nothing is found under them
later). The other generations, and the caches keyed on them, serve as for any writer.
"""

from __future__ import annotations

import itertools
import threading
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from iamd.store.base import translate
from iamd.store.errors import GroupAborted, RetryableError, StoreError
from iamd.store.store import (
    _BEGIN,
    _IDLE,
    _INTRANS,
    ReadSession,
    _commit_and_release,
    _committed,
    _open_pipelined,
    _queue_key,
    _release,
)
from iamd.store.unit import UnitOfWork

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy import Connection

    from iamd.store.pipelined import Connection as PipelinedConnection
    from iamd.store.store import Store

T = TypeVar("T")

MAX_GROUP: Final = 16
"""Writers in one group at most: the last one waits for the work of all those before it."""

_PROVISIONAL = itertools.count(2)
"""Masks for generations moved by an earlier member of a group: -2, -3, ... (-1 is a principal's
that does not exist; committed ones are never negative)."""


class _Member:
    """A writer in a group: its work, and once the group is over its result or error."""

    __slots__ = ("done", "error", "result", "work")

    def __init__(self, work: Callable[[UnitOfWork], Any]) -> None:
        self.work = work
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


class _Group:
    __slots__ = ("members",)

    def __init__(self, leader: _Member) -> None:
        self.members = [leader]


class WriteGroups:
    """A store's open groups, by account queue. Thread-safe."""

    def __init__(self, store: Store, database: str) -> None:
        self._store = store
        self._database = database
        self._open: dict[int, _Group] = {}
        self._lock = threading.Lock()
        self._leading = threading.local()

    def members(self, account_id: str) -> int:
        """How many writers the account's open group holds (0: none open)."""
        with self._lock:
            group = self._open.get(_queue_key(account_id))
            return 0 if group is None else len(group.members)

    def leading(self) -> bool:
        """Whether the calling thread is running a group (a write it starts runs alone)."""
        return bool(getattr(self._leading, "active", False))

    def run(self, account_id: str, work: Callable[[UnitOfWork], T]) -> T:
        """``work`` in the account's group: joined if one is open, else led by this thread."""
        key = _queue_key(account_id)
        me = _Member(work)
        with self._lock:
            group = self._open.get(key)
            lead = group is None or len(group.members) >= MAX_GROUP
            if lead:
                group = self._open[key] = _Group(me)
            else:
                cast(_Group, group).members.append(me)
        if lead:
            self._leading.active = True
            try:
                self._lead(key, cast(_Group, group))
            finally:
                self._leading.active = False
        else:
            me.done.wait()
        if me.error is not None:
            raise me.error
        return cast(T, me.result)

    def _close(self, key: int, group: _Group, index: int) -> bool:
        """Close the group to newcomers if all ``index`` members it has ran; True if so."""
        with self._lock:
            if index < len(group.members):
                return False
            if self._open.get(key) is group:
                del self._open[key]
            return True

    def _lead(self, key: int, group: _Group) -> None:
        store = self._store
        members = group.members
        ran: list[tuple[_Member, UnitOfWork]] = []
        index = 0
        failure: BaseException | None = None
        try:
            with store.engine.connect() as conn:
                driver = _open_pipelined(conn, _BEGIN[False, True], key)
                if driver is None:  # not iamd's psycopg connection: every member alone
                    failure = GroupAborted("no pipelined connection")
                else:
                    opening = driver.pending  # the lock's statement and BEGIN, until sent
                    conn.begin()  # SQLAlchemy's own (autocommit: nothing sent): sessions join it
                    try:
                        while failure is None and not self._close(key, group, index):
                            member = members[index]
                            index += 1
                            failure = self._run_member(conn, driver, member, index, ran)
                        if failure is None:
                            locked = driver.pending is not opening
                            failure = self._commit(conn, driver, key, ran, locked=locked)
                    finally:
                        locked = driver.pending is not opening
                        driver.unsent()  # what waits to open a transaction goes no further
                        if failure is not None and locked:
                            _release(conn, key)
        except BaseException as error:
            failure = failure or error
            raise
        finally:
            with self._lock:  # a failure stops the group: no newcomers (those in it are answered)
                if self._open.get(key) is group:
                    del self._open[key]
            self._answer(members, ran, failure)

    def _run_member(
        self,
        conn: Connection,
        driver: PipelinedConnection,
        member: _Member,
        index: int,
        ran: list[tuple[_Member, UnitOfWork]],
    ) -> BaseException | None:
        """Run one member's work in the group's transaction; what fails the group, if anything."""
        first = not ran or bool(driver.pending)
        savepoint = f"g{index}"
        if first:
            if not driver.pending and driver.info.transaction_status == _IDLE:
                driver.open_with(_BEGIN[False, True])  # after a first member's failure: lock held
        elif not driver.defer(f"SAVEPOINT {savepoint}", None):
            return GroupAborted("the group's transaction cannot take a savepoint")
        deferred = driver.deferred
        mark = len(deferred)
        pending = driver.pending
        session = ReadSession(conn)
        uow = UnitOfWork(
            cast(Session, session),
            self._store.kek,
            readonly=False,
            database=self._database,
            contended=True,
        )
        uow.provisional = _moved(ran)
        if uow.provisional is not None:
            uow.provisional_mark = -next(_PROVISIONAL)
        uow.count_writes(lambda: driver.writes)
        writes = driver.writes
        try:
            try:
                member.result = member.work(uow)
                session.flush()
            except SQLAlchemyError as exc:
                raise translate(exc) from exc
        except BaseException as error:
            member.error = error
            if isinstance(error, RetryableError) or not isinstance(error, Exception):
                return error
            wrote = driver.writes != writes
            failure = self._undo(conn, driver, first, savepoint, (deferred, mark, pending), wrote=wrote)
            if failure is not None:
                member.error = None  # (its error may be another's: it runs again alone)
            return failure
        finally:
            session.close()
        if not first and not driver.defer(f"RELEASE SAVEPOINT {savepoint}", None):
            return GroupAborted("the group's transaction cannot release a savepoint")
        ran.append((member, uow))
        return None

    def _undo(
        self,
        conn: Connection,
        driver: PipelinedConnection,
        first: bool,
        savepoint: str,
        before: tuple[list[Any], int, list[bytes]],
        *,
        wrote: bool,
    ) -> BaseException | None:
        """Take a failed member's work back (its error is its answer); what fails the group.
        ``wrote``: whether it sent or deferred a statement that may write."""
        deferred, mark, pending = before
        if driver.pending is pending and pending:  # nothing of the transaction went out yet
            driver.deferred = []
            return None
        if not first and driver.deferred is deferred:
            del deferred[mark - 1 :]  # none of its statements went out: forget them, its savepoint too
            return None
        # One that only read (a refusal: AccessDenied, NoSuchEntity) has nothing to take back:
        # no round trip to spend on it while the account's writers wait.
        only_read = not wrote and driver.info.transaction_status == _INTRANS
        if only_read and (first or driver.defer(f"RELEASE SAVEPOINT {savepoint}", None)):
            return None
        if first:
            try:
                driver.rollback()
            except conn.dialect.loaded_dbapi.Error as error:
                return StoreError(f"could not roll back a failed write: {error}")
            return None
        driver.deferred = []
        try:
            with driver.cursor() as cursor:
                cursor.execute(f"ROLLBACK TO SAVEPOINT {savepoint}")
        except conn.dialect.loaded_dbapi.Error:
            # (an earlier member's deferred statement failed with it: the whole group fails)
            return GroupAborted("a write of the group failed")
        if driver.info.transaction_status != _INTRANS:
            return GroupAborted("the group's transaction ended")
        return None

    def _commit(
        self,
        conn: Connection,
        driver: PipelinedConnection,
        key: int,
        ran: list[tuple[_Member, UnitOfWork]],
        *,
        locked: bool,
    ) -> BaseException | None:
        """Commit the members' work and release the lock (nothing to commit: just the lock)."""
        if not locked:  # no statement went out: no transaction, no lock
            return None
        session = cast(Session, ReadSession(conn))
        uow = next((uow for _, uow in ran if uow.trail_deferred), ran[-1][1] if ran else None)
        try:
            if driver.info.transaction_status != _INTRANS or uow is None:
                driver.unsent()  # (a BEGIN waiting after a first member's failure: not sent)
                _release(conn, key)
                return None
            if not _committed(lambda: _commit_and_release(session, conn, key), uow):
                return GroupAborted("the group's transaction could not be committed")
        except SQLAlchemyError as exc:
            return translate(exc)
        except StoreError as error:
            return error
        return None

    def _answer(
        self, members: list[_Member], ran: list[tuple[_Member, UnitOfWork]], failure: BaseException | None
    ) -> None:
        """Wake every member. Those whose work succeeded get a copy of the group's failure, if any
        (a race lost: run again; otherwise: run again alone); those the failure kept from running
        run again alone."""
        succeeded = {id(member) for member, _ in ran}
        for member in members:
            if failure is not None and id(member) in succeeded:
                member.result = None
                if isinstance(failure, RetryableError):  # GroupAborted and TrailEventRefused too
                    member.error = type(failure)(str(failure))
                elif type(failure) is StoreError:  # a lost connection: it may have committed
                    member.error = StoreError(str(failure))
                else:
                    member.error = GroupAborted(f"its group failed: {failure}")
            elif failure is not None and member.error is None:
                member.error = GroupAborted(f"its group failed before it ran: {failure}")
            member.done.set()


def _moved(ran: list[tuple[_Member, UnitOfWork]]) -> frozenset[str] | None:
    """What the members before this one moved, for :attr:`UnitOfWork.provisional`: the ids whose
    generation they moved (None: none moved; ``UnitOfWork.ALL``: possibly any)."""
    moved: set[str] = set()
    for _, uow in ran:
        ids = uow.moved_generations()
        if ids is None:
            return UnitOfWork.ALL
        moved |= ids
    return frozenset(moved) if moved else None
