"""``iamd``: the command-line entry point. Each command is a small function over the library."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from typing import IO

from iamd import __version__
from iamd.authz.cases import CaseError, decide_case
from iamd.catalog import rcp_services
from iamd.cli import proofs, root, serve, trail
from iamd.policy import PolicyKind, check_policy
from iamd.policy.acceptance import first_refusal

__all__ = ["main"]


def _lines(path: str) -> Iterator[tuple[int, str | None]]:
    """Non-blank lines with their numbers; None for a line that is not UTF-8."""
    stream: IO[bytes] = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
    try:
        for number, raw in enumerate(stream, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield number, None
                continue
            if line.strip():
                yield number, line
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def cmd_authorize(args: argparse.Namespace) -> int:
    """Decide every case of a JSON Lines file; one JSON answer per line, in order."""
    mismatches = errors = 0
    out = sys.stdout
    for number, line in _lines(args.cases):
        name: object = f"line {number}"
        if line is None:
            errors += 1
            out.write(json.dumps({"name": name, "error": f"line {number}: not UTF-8 text"}) + "\n")
            continue
        try:
            case = json.loads(line)
            if not isinstance(case, dict):
                raise CaseError("a case must be a JSON object")
            name = case.get("name", name)
            answer = decide_case(case, rcp_services())
        except json.JSONDecodeError as exc:
            answer = {"name": name, "error": f"line {number}: invalid JSON: {exc.msg} at column {exc.colno}"}
        except CaseError as exc:
            answer = {"name": name, "error": f"line {number}: {exc}"}
        if "error" in answer:
            errors += 1
        elif args.check and "expected" in case and case["expected"] != answer["decision"]:
            mismatches += 1
            answer["expected"] = case["expected"]
        out.write(json.dumps(answer, separators=(",", ":")) + "\n")
    if args.check:
        print(f"{mismatches} mismatched, {errors} unreadable", file=sys.stderr)
        return 1 if mismatches or errors else 0
    return 0


def cmd_policy_check(args: argparse.Namespace) -> int:
    """Print the grammar findings of policy files; exit 1 when any has an error."""
    kind = PolicyKind.from_label(args.kind)
    failed = False
    for path in args.files:
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            print(f"{path}: cannot read: {exc.strerror}", file=sys.stderr)
            failed = True
            continue
        except UnicodeDecodeError:
            print(f"{path}: cannot read: not UTF-8 text", file=sys.stderr)
            failed = True
            continue
        result = check_policy(text, kind)
        answer = _api_answer(text, kind) if args.api else None
        if args.json:
            out: dict[str, object] = {"file": path, "findings": [f.to_json() for f in result.findings]}
            if answer is not None:
                out["api"] = answer
            print(json.dumps(out))
        elif not result.findings:
            print(f"{path}: OK")
        for finding in result.findings if not args.json else ():
            print(f"{path}: {finding}")
        if answer is not None and not args.json:
            said = "accepted" if answer["accepted"] else f"{answer['code']}: {answer['message']}"
            print(f"{path}: the {kind.label} policy API answers: {said}")
        failed = failed or bool(result.errors)
    return 1 if failed else 0


def _api_answer(text: str, kind: PolicyKind) -> dict[str, object] | None:
    """What the API storing a ``kind`` policy answers (iamd.policy.acceptance), with its source."""
    if kind is PolicyKind.RESOURCE:
        return None
    refusal = first_refusal(text, kind)
    if refusal is None:
        return {"accepted": True}
    return {
        "accepted": False,
        "code": refusal.code,
        "message": refusal.message,
        "rule": refusal.rule.id,
        "source": refusal.rule.source,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="iamd", description="AWS IAM that anyone can run.")
    parser.add_argument("--version", action="version", version=f"iamd {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    authorize = commands.add_parser("authorize", help="decide evaluation cases (JSON Lines)")
    authorize.add_argument(
        "--cases", required=True, metavar="FILE", help="cases file, or - for standard input"
    )
    authorize.add_argument(
        "--check", action="store_true", help="compare with each case's 'expected'; exit 1 on any mismatch"
    )
    authorize.set_defaults(func=cmd_authorize)

    policy = commands.add_parser("policy", help="work with policy documents")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    check = policy_commands.add_parser("check", help="print the grammar findings of policy files")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.add_argument(
        "--kind",
        default="identity",
        choices=[k.label for k in PolicyKind],
        help="the kind of policy (decides size quota and allowed elements)",
    )
    check.add_argument("--json", action="store_true", help="one JSON object per file")
    check.add_argument(
        "--api",
        action="store_true",
        help="also print what the API storing this kind of policy answers (AWS's error and sentence)",
    )
    check.set_defaults(func=cmd_policy_check)
    proofs.add_parsers(policy_commands)
    serve.add_parser(commands)
    trail.add_parser(commands)
    root.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except BrokenPipeError:
        return 0
    except OSError as exc:
        print(f"iamd: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
