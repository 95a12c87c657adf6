"""Where a PostgreSQL transaction's time goes, from libpq's own trace of each connection
(``PQtrace``): every message the client sends and receives, with its time. Attached to a store's
engine, a :class:`Tracer` traces each pooled connection into a file of the thread that checked it
out (so the trail writer's transactions stay apart from the requests'), and :meth:`Tracer.take`
reads what the threads' connections exchanged since the last call:

- round trips: the bursts of messages after which the client waits for the server (a ``Query``,
  statements up to a ``Sync``, or a pipeline of several such parts);
- per kind of round trip (BEGIN, COMMIT, ROLLBACK, the advisory lock, other statements), how many
  and the wall time from the client's message to the server's ``ReadyForQuery``: a commit's
  includes its WAL flush, a lock's its wait;
- serialization failures (SQLSTATE 40001) and deadlocks (40P01) the server answered.

Used by ``bench/writes_profile.py --trace``."""

from __future__ import annotations

import os
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event


@dataclass
class Exchanges:
    """What some threads' connections exchanged with the server."""

    round_trips: int = 0
    count: Counter[str] = field(default_factory=Counter)
    """Round trips by kind: begin, commit, rollback, lock, unlock, statement."""
    seconds: Counter[str] = field(default_factory=Counter)
    """Wall time of those round trips by kind."""
    failures: Counter[str] = field(default_factory=Counter)
    """Errors the server answered, by SQLSTATE."""


def _kind(text: str) -> str:
    upper = text.lstrip('"').upper()
    if upper.startswith("BEGIN"):
        return "begin"
    if upper.startswith("COMMIT"):
        return "commit"
    if upper.startswith("ROLLBACK"):
        return "rollback"
    if "PG_ADVISORY_UNLOCK" in upper:
        return "unlock"
    if "PG_ADVISORY" in upper or "FOR UPDATE" in upper:
        return "lock"
    return "statement"


_FIRST = ("lock", "commit", "rollback", "unlock", "statement", "begin")
"""Which kind of a pipeline's part its wall time is counted as (the first of these it holds)."""


def _parse(lines: list[str], into: Exchanges) -> None:
    """A round trip is a burst of client messages the server then answers (a pipeline's several
    parts, each ended by a ``Sync``, are one round trip); each part (a ``Query``, or the
    statements up to a ``Sync``) counts once for each kind of statement it holds, and its wall
    time, from its ``Query`` or ``Sync`` to its ``ReadyForQuery``, as the kind of :data:`_FIRST`
    it holds first."""
    kinds: list[str] = []  # of the part being sent (Parse messages since the last Sync)
    parts_sent: list[tuple[datetime, list[str]]] = []  # awaiting their ReadyForQuery, in order
    last = "B"
    for line in lines:
        parts = line.rstrip("\n").split("\t", 4)
        if len(parts) < 4:
            continue
        stamp, side, _, message = parts[:4]
        rest = parts[4] if len(parts) > 4 else ""
        if side == "F":
            last = "F"
            if message == "Query":
                parts_sent.append((datetime.fromisoformat(stamp), [_kind(rest.strip())]))
            elif message == "Parse":
                # Parse "name" "text" ...: the statement's text is the second quoted field
                fields = rest.split('"')
                kinds.append(_kind(fields[3] if len(fields) > 3 else ""))
            elif message == "Sync":
                parts_sent.append((datetime.fromisoformat(stamp), kinds or ["statement"]))
                kinds = []
        elif side == "B":
            if last == "F":
                into.round_trips += 1
                last = "B"
            if message == "ErrorResponse":
                code = rest.split(' C "', 1)[1].split('"', 1)[0] if ' C "' in rest else "?"
                into.failures[code] += 1
            elif message == "ReadyForQuery" and parts_sent:
                sent, held = parts_sent.pop(0)
                for kind in set(held):
                    into.count[kind] += 1
                first = next(k for k in _FIRST if k in held)
                into.seconds[first] += (datetime.fromisoformat(stamp) - sent).total_seconds()


class Tracer:
    """Traces the connections of ``engine`` (PostgreSQL with psycopg) by thread."""

    def __init__(self, engine: Engine) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="iamd-pgtrace-"))
        # one file per thread and connection (psycopg names the statements it prepares per
        # connection: a Bind of one names it instead of carrying its text)
        self._files: dict[tuple[int, int], Any] = {}
        self._read: dict[tuple[int, int], int] = {}
        self._lock = threading.Lock()
        self._names: dict[tuple[int, int], str] = {}
        # what psycopg prepared on each connection, by name (a connection serves several threads:
        # the Parse that named a statement may be in another thread's file)
        self._prepared: dict[int, dict[str, str]] = {}
        self._connections: dict[int, Any] = {}
        event.listen(engine, "checkout", self._checkout)
        event.listen(engine, "checkin", self._checkin)

    def _file(self, dbapi: Any) -> Any:
        key = (threading.get_ident(), id(dbapi))
        with self._lock:
            handle = self._files.get(key)
            if handle is None:
                handle = self._files[key] = open(self._path(key), "a")  # noqa: SIM115
                self._names[key] = threading.current_thread().name
            return handle

    def _path(self, key: tuple[int, int]) -> Path:
        return self._dir / f"{key[0]}-{key[1]}.trace"

    def _checkout(self, dbapi: Any, record: Any, proxy: Any) -> None:
        self._connections[id(dbapi)] = dbapi
        handle = self._file(dbapi)
        handle.flush()
        dbapi.pgconn.trace(handle.fileno())

    def _checkin(self, dbapi: Any, record: Any) -> None:
        if dbapi is not None and not dbapi.closed:
            dbapi.pgconn.untrace()
            # psycopg's own record of the statements it prepared (a private attribute)
            names = self._prepared.setdefault(id(dbapi), {})
            for (query, _), name in dbapi._prepared._names.items():
                names[name.decode()] = query.decode(errors="replace")

    def take(self, threads: set[str] | None = None) -> Exchanges:
        """What the connections of the threads named (all when None) exchanged since the last
        call. Prepared statements (``Bind`` naming one parsed earlier) count as statements."""
        out = Exchanges()
        with self._lock:
            files = list(self._files.items())
        for key, handle in files:
            handle.flush()
            with open(self._path(key)) as source:
                source.seek(self._read.get(key, 0))
                text = source.read()
                self._read[key] = source.tell()
            if threads is None or self._names[key] in threads:
                _parse(_named(text.splitlines(keepends=True), self._prepared.get(key[1], {})), out)
        return out

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        for path in self._dir.iterdir():
            os.unlink(path)
        self._dir.rmdir()


def _named(lines: list[str], prepared: dict[str, str]) -> list[str]:
    """Lines where a Bind of a named prepared statement gets a Parse line with its text before it
    (so :func:`_parse` can tell a prepared COMMIT or lock from a statement)."""
    texts: dict[str, str] = dict(prepared)
    out: list[str] = []
    for line in lines:
        parts = line.rstrip("\n").split("\t", 4)
        if len(parts) == 5 and parts[1] == "F" and parts[3] == "Parse":
            fields = parts[4].split('"')
            if len(fields) > 3 and fields[1]:
                texts[fields[1]] = fields[3]
        elif len(parts) == 5 and parts[1] == "F" and parts[3] == "Bind":
            fields = parts[4].split('"')
            if len(fields) > 3 and fields[3] and fields[3] in texts:
                out.append(f'{parts[0]}\tF\t0\tParse\t "" "{texts[fields[3]]}"\n')
        out.append(line)
    return out
