"""``iamd trail``: print the audit trail (one CloudTrail record per line), and ``iamd trail verify``:
check its hash chain and signed digests.

Both read the database directly (the server may be running): ``--data-dir`` finds the SQLite file
and the digest-signing key; ``--database-url`` names another database (PostgreSQL).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["add_parser"]

_PAGE = 5000


def _common(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    default: Any = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--data-dir", type=Path, default=default, help="the server's data directory (database and keys)"
    )
    parser.add_argument(
        "--database-url", default=default, help="SQLAlchemy URL (default: SQLite file DATA_DIR/iamd.db)"
    )


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    trail = commands.add_parser(
        "trail",
        help="print the audit trail (JSON Lines), or verify it",
        description="Print trail records, oldest first, one JSON object per line.",
    )
    _common(trail, suppress=False)
    trail.add_argument("--account", metavar="ID", help="only this account's events (recipientAccountId)")
    trail.add_argument("--user", metavar="NAME", help="only events by this user name (or role session name)")
    trail.add_argument("--event-name", metavar="NAME", help="only this event (e.g. CreateUser)")
    trail.add_argument("--since", metavar="ISO", help="only events at or after this time (ISO 8601)")
    trail.add_argument("--follow", action="store_true", help="keep printing new events as they arrive")
    trail.set_defaults(func=cmd_trail)
    sub = trail.add_subparsers(dest="trail_command")
    verify = sub.add_parser(
        "verify",
        help="check the trail's hash chain and signed digests",
        description="Exit 0 when the trail is intact; exit 1 naming every altered, deleted or "
        "reordered record.",
    )
    _common(verify, suppress=True)
    verify.add_argument("--json", action="store_true", help="print the findings as JSON")
    verify.set_defaults(func=cmd_verify)


def _open(args: argparse.Namespace) -> Any:
    from iamd.store.engine import default_url
    from iamd.store.store import open_store

    data_dir: Path | None = getattr(args, "data_dir", None)
    url: str | None = getattr(args, "database_url", None)
    if url is None:
        if data_dir is None:
            raise SystemExit("iamd trail: give --data-dir (or --database-url)")
        if not (data_dir / "iamd.db").exists():
            raise SystemExit(f"iamd trail: no database in {data_dir}")
        url = default_url(data_dir)
    return open_store(url)


def cmd_trail(args: argparse.Namespace) -> int:
    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            print(f"iamd trail: --since {args.since!r} is not an ISO 8601 time", file=sys.stderr)
            return 2
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
    store = _open(args)
    after = 0
    try:
        while True:
            events = store.run(
                lambda uow, after=after: uow.audit.events(
                    account_id=args.account,
                    username=args.user,
                    event_name=args.event_name,
                    since=since,
                    after_id=after,
                    limit=_PAGE,
                ),
                readonly=True,
            )
            for event in events:
                sys.stdout.write(event.record + "\n")
            if events:
                after = events[-1].id
                sys.stdout.flush()
                if len(events) == _PAGE:
                    continue
            if not args.follow:
                return 0
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        store.close()


def cmd_verify(args: argparse.Namespace) -> int:
    from iamd.store.audit import SealedEvent
    from iamd.trail.chain import Problem, load_signing_key, verify_chain

    store = _open(args)
    try:
        # Digests, then the head, then the records up to the head: a server still running may
        # seal more meanwhile, and those are left for the next check.
        digests = store.run(lambda uow: uow.audit.digests(), readonly=True)
        head = store.run(lambda uow: uow.audit.chain_head(), readonly=True)
        unsealed = store.run(lambda uow: uow.audit.unsealed_count(), readonly=True)

        def events() -> Iterator[SealedEvent]:
            after = 0
            while True:
                page = store.run(
                    lambda uow, after=after: uow.audit.sealed(after, _PAGE),
                    readonly=True,
                )
                for event in page:
                    if event.seq > head.seq:
                        return
                    yield event
                if len(page) < _PAGE:
                    return
                after = page[-1].seq

        public_key = None
        missing_key: Problem | None = None
        data_dir: Path | None = getattr(args, "data_dir", None)
        if data_dir is not None:
            with contextlib.suppress(FileNotFoundError):
                public_key = load_signing_key(data_dir, create=False).public_key
        if public_key is None and digests:
            missing_key = Problem(
                "digest-signature", "the digest-signing key (DATA_DIR/trail-signing-key.pem) is not available"
            )
        result = verify_chain(events(), head, digests, public_key, unsealed=unsealed)
    finally:
        store.close()
    problems = [*result.problems, *([missing_key] if missing_key else [])]
    if args.json:
        print(
            json.dumps(
                {
                    "ok": not problems,
                    "records": result.records,
                    "digests": result.digests,
                    "unsealed": result.unsealed,
                    "problems": [p.to_json() for p in problems],
                }
            )
        )
    else:
        for problem in problems:
            print(f"TAMPERED: {problem.message}")
        if result.unsealed:
            print(
                f"note: {result.unsealed} record(s) are not sealed yet (the server seals them shortly, "
                "or at its next start)"
            )
        verdict = "FAILED" if problems else "OK"
        print(
            f"{verdict}: {result.records} record(s) in the chain, {result.digests} signed digest(s), "
            f"{len(problems)} problem(s)"
        )
    return 1 if problems else 0
