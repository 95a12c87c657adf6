"""``iamd trail``: print the audit trail (one CloudTrail record per line), and ``iamd trail verify``:
check its hash chain and signed digests.

Both read the database directly (the server may be running): ``--data-dir`` finds the SQLite file
and the digest-signing key; ``--database-url`` names another database (PostgreSQL).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

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
        description="Check the trail's hash chain and signed digests, and that no event the server "
        "accepted is missing from it (events waiting in DATA_DIR/trail-spool.jsonl, or in "
        "DATA_DIR/trail-quarantine.jsonl without their safe form in the trail).",
        epilog="exit status:\n"
        "  0  the trail is intact and complete\n"
        "  1  TAMPERED: records were altered, deleted or reordered, or a digest does not verify\n"
        "  2  CANNOT VERIFY: a configuration problem (no database, the digest-signing key\n"
        "     DATA_DIR/trail-signing-key.pem missing or unreadable) or a usage error\n"
        "  3  INCOMPLETE: nothing was tampered with, but events the server accepted are not\n"
        "     in the trail\n"
        "(the lowest non-zero status that applies wins: tampering is reported first)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(verify, suppress=True)
    verify.add_argument("--json", action="store_true", help="print the findings as JSON")
    verify.set_defaults(func=cmd_verify)


EXIT_OK: Final = 0
EXIT_TAMPERED: Final = 1
EXIT_CANNOT_VERIFY: Final = 2
EXIT_INCOMPLETE: Final = 3


class ConfigurationError(Exception):
    """The command cannot do its work as configured (no database, a key file missing)."""


def _open(args: argparse.Namespace) -> Any:
    from iamd.store.engine import default_url
    from iamd.store.store import open_store

    data_dir: Path | None = getattr(args, "data_dir", None)
    url: str | None = getattr(args, "database_url", None)
    if url is None:
        if data_dir is None:
            raise ConfigurationError("give --data-dir (or --database-url)")
        if not (data_dir / "iamd.db").exists():
            raise ConfigurationError(f"no database in {data_dir}")
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
    try:
        store = _open(args)
    except ConfigurationError as exc:
        raise SystemExit(f"iamd trail: {exc}") from None
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
    from iamd.trail.chain import KEY_FILE_NAME, load_signing_key, verify_chain

    try:
        store = _open(args)
    except ConfigurationError as exc:
        return _cannot_verify(args, str(exc))
    data_dir: Path | None = getattr(args, "data_dir", None)
    configuration: list[str] = []
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
        if data_dir is not None:
            try:
                public_key = load_signing_key(data_dir, create=False).public_key
            except FileNotFoundError:
                if digests:
                    configuration.append(
                        f"the digest-signing key {data_dir / KEY_FILE_NAME} is missing: "
                        f"the signatures of {len(digests)} digest(s) were not checked"
                    )
            except (OSError, ValueError, TypeError) as exc:
                configuration.append(
                    f"the digest-signing key {data_dir / KEY_FILE_NAME} cannot be read ({exc}): "
                    "the digests' signatures were not checked"
                )
        elif digests:
            configuration.append(
                "no --data-dir: the digest-signing key is not at hand, so the digests' signatures "
                "were not checked"
            )
        result = verify_chain(events(), head, digests, public_key, unsealed=unsealed)
        missing = _missing_events(store, data_dir)
    finally:
        store.close()
    problems = list(result.problems)
    if args.json:
        print(
            json.dumps(
                {
                    "ok": not (problems or configuration or missing),
                    "records": result.records,
                    "digests": result.digests,
                    "unsealed": result.unsealed,
                    "problems": [p.to_json() for p in problems],
                    "configuration": configuration,
                    "missing": missing,
                }
            )
        )
    else:
        for problem in problems:
            print(f"TAMPERED: {problem.message}")
        for message in configuration:
            print(f"CANNOT VERIFY: {message}")
        for item in missing:
            print(f"MISSING: {item['message']}")
        if result.unsealed:
            print(
                f"note: {result.unsealed} record(s) are not sealed yet (the server seals them shortly, "
                "or at its next start)"
            )
        if data_dir is None:
            print("note: no --data-dir: the spool and quarantine files were not looked at")
        verdict = (
            "FAILED" if problems else "CANNOT VERIFY" if configuration else "INCOMPLETE" if missing else "OK"
        )
        print(
            f"{verdict}: {result.records} record(s) in the chain, {result.digests} signed digest(s), "
            f"{len(problems)} problem(s)" + (f", {len(missing)} accepted event(s) missing" if missing else "")
        )
    if problems:
        return EXIT_TAMPERED
    if configuration:
        return EXIT_CANNOT_VERIFY
    return EXIT_INCOMPLETE if missing else EXIT_OK


def _cannot_verify(args: argparse.Namespace, message: str) -> int:
    if getattr(args, "json", False):
        print(json.dumps({"ok": False, "configuration": [message], "problems": [], "missing": []}))
    else:
        print(f"CANNOT VERIFY: {message}")
    return EXIT_CANNOT_VERIFY


def _ledger_losses(data_dir: Path) -> list[dict[str, Any]]:
    """What the trail writer's ledger says was accepted and never stored: losses it counted,
    what a run that stopped without storing its queue left behind (found by the next start, or
    now, when that run is no longer running on this host)."""
    from iamd.trail.ledger import LEDGER_FILE_NAME, read_ledger

    path = data_dir / LEDGER_FILE_NAME
    try:
        ledger = read_ledger(path)
    except (OSError, ValueError) as exc:
        return [{"file": str(path), "message": f"the trail's ledger {path} cannot be read ({exc})"}]
    if ledger is None:
        return []
    found: list[dict[str, Any]] = []
    if ledger.lost_before:
        found.append(
            {
                "file": str(path),
                "requests": ledger.lost_before,
                "message": f"{ledger.lost_before} request(s) accepted by earlier runs of the server never "
                "reached the trail (see the server's error log)",
            }
        )
    if ledger.lost:
        found.append(
            {
                "file": str(path),
                "requests": ledger.lost,
                "message": f"{ledger.lost} event(s) of the run started {ledger.started} could not be stored "
                "(see the server's error log)",
            }
        )
    if ledger.unsettled and not ledger.running_here():
        found.append(
            {
                "file": str(path),
                "requests": ledger.unsettled,
                "message": f"the run started {ledger.started} (pid {ledger.pid}) accepted {ledger.unsettled} "
                "request(s) whose events it never stored, and is no longer running",
            }
        )
    return found


def _missing_events(store: Any, data_dir: Path | None) -> list[dict[str, Any]]:
    """Events the server accepted that the trail lacks: those waiting in the spool (the database
    refused them, or the server stopped before storing them) and those in the quarantine file
    whose safe form is not in the trail either. Lines of these files that are no event count
    too: whatever they held is not in the trail."""
    from iamd.trail.writer import QUARANTINE_FILE_NAME, SPOOL_FILE_NAME, read_event_lines

    if data_dir is None:
        return []
    missing: list[dict[str, Any]] = _ledger_losses(data_dir)
    for name, where in ((SPOOL_FILE_NAME, "the spool"), (QUARANTINE_FILE_NAME, "the quarantine file")):
        path = data_dir / name
        if not path.exists():
            continue
        try:
            events, unreadable = read_event_lines(path)
        except OSError as exc:
            missing.append({"file": str(path), "message": f"{where} {path} cannot be read ({exc.strerror})"})
            continue
        ids = [e.event_id for e in events]
        known: set[str] = store.run(lambda uow, ids=ids: uow.audit.known_event_ids(ids), readonly=True)
        for event in events:
            if event.event_id in known:
                continue
            when = event.event_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            missing.append(
                {
                    "file": str(path),
                    "eventID": event.event_id,
                    "eventName": event.event_name,
                    "eventTime": when,
                    "message": f"event {event.event_id} ({event.event_name} at {when}, account "
                    f"{event.account_id}) was accepted but is not in the trail: it is in {where} {path}",
                }
            )
        for number in unreadable:
            missing.append(
                {
                    "file": str(path),
                    "line": number,
                    "message": f"line {number} of {where} {path} is not a readable event; "
                    "what it held is not in the trail",
                }
            )
    return missing
