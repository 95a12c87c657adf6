"""``iamd``: the command-line entry point. Each command is a small function over the library."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from typing import IO, TYPE_CHECKING

from iamd import __version__, jsontext
from iamd.analyzer.model import RESOURCE_TYPES, TRUST_POLICY
from iamd.authz.cases import CaseError, answer_text, decide_case
from iamd.catalog import rcp_services
from iamd.cli import account, proofs, review, root, serve, sso, trail
from iamd.policy import PolicyKind

if TYPE_CHECKING:  # `iamd policy check` imports these when it runs; `iamd authorize` never needs them
    from iamd.analyzer import PolicyType, ValidationFinding

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
        case: dict[str, object] = {}
        try:
            loaded = jsontext.loads(line)
            if not isinstance(loaded, dict):
                raise CaseError("a case must be a JSON object")
            case = loaded
            name = case.get("name", name)
            answer = decide_case(case, rcp_services(), text=line)
        except jsontext.JsonTextError as exc:
            answer = {"name": name, "error": f"line {number}: invalid JSON: {exc}"}
        except CaseError as exc:
            answer = {"name": name, "error": f"line {number}: {exc}"}
        except Exception as exc:  # one line that breaks the evaluator never stops the others
            problem = f"could not decide the case ({type(exc).__name__})"
            answer = {"name": name, "error": f"line {number}: {problem}"}
        if "error" in answer:
            errors += 1
        elif args.check and "expected" in case and case["expected"] != answer["decision"]:
            mismatches += 1
            answer["expected"] = case["expected"]
        out.write(answer_text(answer) + "\n")
    if args.check:
        print(f"{mismatches} mismatched, {errors} unreadable", file=sys.stderr)
        return 1 if mismatches or errors else 0
    return 0


_SEVERITY = {"SUGGESTION": 0, "WARNING": 1, "SECURITY_WARNING": 2, "ERROR": 3}
_FAIL_ON = {"suggestion": 0, "warning": 1, "security-warning": 2, "error": 3, "none": 4}


def _policy_type(kind: PolicyKind, resource_type: str | None) -> tuple[PolicyType, str | None]:
    """The ValidatePolicy type (and resource type) a ``--kind`` stands for."""
    from iamd.analyzer import PolicyType

    if kind is PolicyKind.TRUST:
        return PolicyType.RESOURCE_POLICY, TRUST_POLICY
    if kind is PolicyKind.RESOURCE:
        return PolicyType.RESOURCE_POLICY, resource_type
    if kind is PolicyKind.SCP:
        return PolicyType.SERVICE_CONTROL_POLICY, None
    if kind is PolicyKind.RCP:
        return PolicyType.RESOURCE_CONTROL_POLICY, None
    return PolicyType.IDENTITY_POLICY, None


def _finding_json(finding: ValidationFinding) -> dict[str, object]:
    out = finding.to_api()
    where = finding.locations[0] if finding.locations else None
    if where is not None:
        out["path"] = [value for _, value in where.path]
        out["location"] = where.text
        out["line"] = where.span.start.line
        out["column"] = where.span.start.column + 1
    return out


def cmd_policy_check(args: argparse.Namespace) -> int:
    """Run Access Analyzer's policy validation checks over policy files, offline. Exit 1 when a
    finding reaches ``--fail-on`` (default: any ERROR or SECURITY_WARNING)."""
    from iamd.analyzer import validate_policy
    from iamd.catalog import service_reference
    from iamd.cli.sarif import sarif_log

    kind = PolicyKind.from_label(args.kind)
    policy_type, resource_type = _policy_type(kind, args.resource_type)
    output = "json" if args.json else args.format
    threshold = _FAIL_ON[args.fail_on]
    sar = service_reference()
    failed = False
    collected: list[tuple[str, list[ValidationFinding]]] = []
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
        findings = validate_policy(text, policy_type, sar, resource_type, kind)
        collected.append((path, findings))
        failed = failed or any(_SEVERITY[f.finding_type] >= threshold for f in findings)
        answer = _api_answer(text, kind) if args.api else None
        if output == "json":
            out: dict[str, object] = {"file": path, "findings": [_finding_json(f) for f in findings]}
            if answer is not None:
                out["api"] = answer
            print(json.dumps(out))
        elif output == "text":
            if not findings:
                print(f"{path}: OK")
            for finding in findings:
                print(f"{path}: {finding}")
            if answer is not None:
                said = "accepted" if answer["accepted"] else f"{answer['code']}: {answer['message']}"
                print(f"{path}: the {kind.label} policy API answers: {said}")
    if output == "sarif":
        print(json.dumps(sarif_log(collected), indent=2))
    return 1 if failed else 0


def _api_answer(text: str, kind: PolicyKind) -> dict[str, object] | None:
    """What the API storing a ``kind`` policy answers (iamd.policy.acceptance), with its source."""
    from iamd.policy.acceptance import first_refusal

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
    check = policy_commands.add_parser(
        "check", help="validate policy files offline with IAM Access Analyzer's checks (ValidatePolicy)"
    )
    check.add_argument("files", nargs="+", metavar="FILE")
    check.add_argument(
        "--kind",
        default="identity",
        choices=[k.label for k in PolicyKind],
        help="the kind of policy (decides size quota and allowed elements)",
    )
    check.add_argument(
        "--resource-type",
        choices=[t for t in RESOURCE_TYPES if t != TRUST_POLICY],
        help="for --kind resource: the resource the policy is attached to (validatePolicyResourceType)",
    )
    check.add_argument(
        "--format",
        choices=("text", "json", "sarif"),
        default="text",
        help="text (default), json (one object per file) or sarif (SARIF 2.1.0 for code scanning)",
    )
    check.add_argument("--json", action="store_true", help="same as --format json")
    check.add_argument(
        "--fail-on",
        choices=tuple(_FAIL_ON),
        default="security-warning",
        help="exit 1 when a finding of this type or a graver one is found (default: security-warning, "
        "i.e. any ERROR or SECURITY_WARNING; none: always 0 unless a file cannot be read)",
    )
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
    account.add_parser(commands)
    sso.add_parser(commands)
    review.add_parser(commands)
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
