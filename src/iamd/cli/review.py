"""``iamd review``: every best practice of the IAM guide checked on an account, read live through
the API (``--profile``/``--endpoint-url``, ``--organization`` for every member account) or from an
AWS CLI export (``--export DIR``); written as text, JSON, SARIF, OCSF or one HTML page. Exit 1 when
a finding reaches ``--fail-on`` (default high), 2 when the account cannot be read."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # these are imported when `iamd review` runs, not by every `iamd` (iamd serve)
    from rich.console import Console
    from rich.table import Table

    from iamd.practices import Report
    from iamd.practices.snapshot import Snapshot

__all__ = ["add_parser", "cmd_review"]

_STATUS_STYLE = {"pass": "green", "fail": "bold red", "not_evaluated": "dim", "not_applicable": "dim"}


class _Choices(Sequence[str]):
    """An option's choices read from :mod:`iamd.practices` when argparse first looks at them (a
    value given, the help shown), so that building the parser, which every ``iamd`` command
    does, does not import the practices' checks."""

    def __init__(self, read: Callable[[], Sequence[str]]) -> None:
        self._read = read
        self._values: Sequence[str] | None = None

    def _all(self) -> Sequence[str]:
        if self._values is None:
            self._values = tuple(self._read())
        return self._values

    def __getitem__(self, index: Any) -> Any:
        return self._all()[index]

    def __len__(self) -> int:
        return len(self._all())

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __contains__(self, value: object) -> bool:
        return value in self._all()


def _severities() -> Sequence[str]:
    from iamd.practices import SEVERITIES

    return (*SEVERITIES, "none")


def _checks() -> Sequence[str]:
    from iamd.practices import CHECKS

    return sorted(CHECKS)


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "review",
        help="review an account against IAM's best practices (live, or from an AWS CLI export)",
        description="Check every IAM best practice on an account: through the API with read-only "
        "calls (--profile/--endpoint-url; works on iamd and AWS), or offline on files exported with "
        "the AWS CLI (--export DIR, see docs/review.md). Exit 1 when a finding reaches --fail-on.",
    )
    source = parser.add_argument_group("what to read")
    source.add_argument("--profile", help="AWS CLI profile to read with")
    source.add_argument(
        "--endpoint-url", help="endpoint of an IAM-compatible service (iamd: http://127.0.0.1:8080)"
    )
    source.add_argument("--region", default="us-east-1", help="Region for the API calls (default us-east-1)")
    source.add_argument(
        "--organization",
        action="store_true",
        help="from the management account: review every member account through OrganizationAccountAccessRole",
    )
    source.add_argument(
        "--export", type=Path, metavar="DIR", help="review files exported with the AWS CLI instead"
    )
    source.add_argument(
        "--no-last-accessed",
        action="store_true",
        help="skip the last-accessed jobs (one per user and role); unused_permissions and "
        "managed_policy_broad "
        "are then not evaluated",
    )
    source.add_argument(
        "--trail-verify",
        type=Path,
        metavar="FILE",
        help="the output of 'iamd trail verify --json', for trail_intact to judge the chain",
    )
    source.add_argument(
        "--as-of",
        help="judge credential ages as of this ISO 8601 time (default: the credential report's time, or now)",
    )
    out = parser.add_argument_group("what to write")
    out.add_argument("--format", choices=("text", "json", "sarif", "ocsf", "html"), default="text")
    out.add_argument(
        "--output", type=Path, metavar="FILE", help="write the report here instead of standard output"
    )
    out.add_argument(
        "--fail-on",
        choices=_Choices(_severities),
        default="high",
        help="exit 1 when a finding of this severity or a graver one is found (default high; none: never)",
    )
    out.add_argument(
        "--check", action="append", choices=_Choices(_checks), metavar="ID", help="run only these checks"
    )
    parser.set_defaults(func=cmd_review)


def _snapshots(args: argparse.Namespace, console: Console) -> list[Snapshot]:
    as_of = _as_of(args.as_of)
    if args.export is not None:
        from iamd.practices.export import load_export

        snapshot = load_export(args.export, as_of)
        return [snapshot]
    import boto3
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from iamd.practices.live import load_live, load_organization

    session = boto3.Session(profile_name=args.profile) if args.profile else boto3.Session()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
        tasks: dict[str, Any] = {}

        def progress(what: str, done: int, total: int) -> None:
            if what not in tasks:
                tasks[what] = bar.add_task(what, total=total)
            bar.update(tasks[what], completed=done, total=total)

        kwargs: dict[str, Any] = {
            "endpoint_url": args.endpoint_url,
            "region": args.region,
            "progress": progress,
            "last_accessed": not args.no_last_accessed,
        }
        snapshots = (
            load_organization(session, **kwargs) if args.organization else [load_live(session, **kwargs)]
        )
    if as_of is not None:
        for snapshot in snapshots:
            snapshot.as_of = as_of
    return snapshots


def _as_of(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"--as-of {text!r} is not an ISO 8601 time") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _summary(report: Report) -> Table:
    from rich.table import Table

    table = Table(title=f"iamd review of {report.account_id} ({len(report.findings)} findings)")
    for column in ("check", "practice", "severity", "status", "findings"):
        table.add_column(column, justify="right" if column == "findings" else "left")
    for result in report.results:
        table.add_row(
            result.check.id,
            result.check.practice,
            result.check.severity,
            f"[{_STATUS_STYLE[result.status]}]{result.status.replace('_', ' ')}[/]",
            str(len(result.findings)) if result.status == "fail" else "",
        )
    return table


def _text(report: Report, stream: IO[str], terminal: bool) -> None:
    from rich.console import Console

    from iamd.practices import PRACTICES

    console = Console(file=stream, force_terminal=terminal, width=None if terminal else 140, highlight=False)
    console.print(_summary(report))
    scores = ", ".join(f"{p} {s}%" for p in PRACTICES if (s := report.score(p)) is not None)
    console.print(f"Score by practice: {scores}", markup=False)
    for result in report.results:
        if result.note:
            console.print(f"{result.check.id}: {result.note}", markup=False, style="dim")
    for result in report.results:
        for item in result.findings:
            console.print(
                f"\n[{item.severity.upper()}] {item.check} {item.resource}", markup=False, style="bold"
            )
            console.print(f"  {item.evidence}", markup=False)
            console.print(f"  fix: {item.fix}", markup=False)
            if item.suggested_policy:
                console.print("  generated policy:\n" + item.suggested_policy, markup=False)


def cmd_review(args: argparse.Namespace) -> int:
    from rich.console import Console

    from iamd.cli.sarif import sarif_review
    from iamd.practices import review
    from iamd.practices.html import render_html
    from iamd.practices.model import at_or_above
    from iamd.practices.render import merge_reports, to_json, to_ocsf
    from iamd.practices.snapshot import TrailState

    err = Console(stderr=True)
    if args.export is not None and (args.profile or args.endpoint_url or args.organization):
        print(
            "iamd review: --export reads files; it takes no --profile, --endpoint-url or --organization",
            file=sys.stderr,
        )
        return 2
    try:
        snapshots = _snapshots(args, err)
        if args.trail_verify is not None:
            verification = json.loads(args.trail_verify.read_text(encoding="utf-8"))
            for snapshot in snapshots:
                if snapshot.trail is not None:
                    snapshot.trail = TrailState(snapshot.trail.trails, snapshot.trail.logging, verification)
    except Exception as exc:  # the reading side: files, credentials, the network
        if type(exc).__name__ in ("KeyboardInterrupt", "SystemExit"):
            raise
        print(f"iamd review: cannot read the account: {exc}", file=sys.stderr)
        return 2
    only = frozenset(args.check) if args.check else None
    report = merge_reports([review(s, only) for s in snapshots])
    for snapshot in snapshots:
        for topic, why in snapshot.missing.items():
            if topic == "members":
                print(f"iamd review: {why}", file=sys.stderr)
    stream: IO[str] = args.output.open("w", encoding="utf-8") if args.output else sys.stdout
    try:
        if args.format == "text":
            _text(report, stream, terminal=args.output is None and sys.stdout.isatty())
        elif args.format == "json":
            json.dump(to_json(report), stream, indent=2)
            stream.write("\n")
        elif args.format == "sarif":
            json.dump(sarif_review(report), stream, indent=2)
            stream.write("\n")
        elif args.format == "ocsf":
            json.dump(to_ocsf(report), stream, indent=2)
            stream.write("\n")
        else:
            stream.write(render_html(report))
    finally:
        if stream is not sys.stdout:
            stream.close()
    if args.format != "text" and err.is_terminal:
        err.print(_summary(report))
    if args.fail_on == "none":
        return 0
    return 1 if any(at_or_above(f.severity, args.fail_on) for f in report.findings) else 0
