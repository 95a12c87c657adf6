"""``iamd policy diff`` and ``iamd policy grants``: the proven custom policy checks offline.

``diff OLD NEW`` is CheckNoNewAccess (exit 1 when NEW grants access OLD does not, with a
counterexample request); ``grants FILE --action A [--resource R]`` is CheckAccessNotGranted (exit 1
when FILE may grant it). Exit 2: a file cannot be read or parsed, or the solver ran out of time.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from iamd import catalog
from iamd.policy import Policy, PolicyError, PolicyKind, parse_policy

if TYPE_CHECKING:  # the solver (z3) is imported by the commands that use it, not by every `iamd` run
    from iamd.analyzer.proofs import CheckResult, PolicyType

__all__ = ["add_parsers"]

POLICY_TYPES = ("IDENTITY_POLICY", "RESOURCE_POLICY")
"""The values of ``iamd.analyzer.proofs.PolicyType`` (a test holds them equal), for --policy-type."""


class _Unusable(Exception):
    pass


def _read(path: str, policy_type: PolicyType) -> Policy:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise _Unusable(f"{path}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise _Unusable(f"{path}: cannot read: not UTF-8 text") from exc
    from iamd.analyzer.proofs import PolicyType

    kind = PolicyKind.IDENTITY if policy_type is PolicyType.IDENTITY else PolicyKind.RESOURCE
    try:
        try:
            return parse_policy(text, kind, strict=False)
        except PolicyError as exc:
            if kind is PolicyKind.RESOURCE and any(f.code == "MISSING_RESOURCE" for f in exc.findings):
                return parse_policy(text, PolicyKind.TRUST, strict=False)
            raise
    except PolicyError as exc:
        raise _Unusable(f"{path}: not a usable policy: {exc}") from exc


def _report(result: CheckResult, as_json: bool) -> int:
    if as_json:
        out: dict[str, Any] = {
            "result": result.result,
            "message": result.message,
            "reasons": [
                {
                    "description": r.description,
                    "statementIndex": r.statement_index,
                    "statementId": r.statement_id,
                }
                for r in result.reasons
            ],
        }
        example = result.counterexample
        if example is not None:
            out["counterexample"] = {
                "principal": example.principal,
                "action": example.action,
                "resource": example.resource,
                "context": dict(example.context),
                "confirmed": example.confirmed,
            }
        if result.notes:
            out["notes"] = list(result.notes)
        print(json.dumps(out, indent=2))
    else:
        print(f"{result.result}: {result.message}")
        for reason in result.reasons:
            print(f"  {reason.description}")
        if result.counterexample is not None:
            print(f"  {result.counterexample.describe()}")
        for note in result.notes:
            print(f"  might be a false positive: {note}")
    return 0 if result.passed else 1


def _run(args: argparse.Namespace, check: Any, *inputs: Any) -> int:
    from iamd.analyzer.proofs import Undecided

    try:
        result = check(*inputs, timeout_ms=args.timeout_ms, actions=catalog.actions)
    except Undecided as exc:
        print(f"iamd: no answer: {exc}; no PASS is claimed without a proof", file=sys.stderr)
        return 2
    return _report(result, args.json)


def cmd_policy_diff(args: argparse.Namespace) -> int:
    """CheckNoNewAccess: exit 1 when NEW allows a request OLD does not."""
    from iamd.analyzer.proofs import PolicyType, check_no_new_access

    policy_type = PolicyType(args.policy_type)
    try:
        old = _read(args.old, policy_type)
        new = _read(args.new, policy_type)
    except _Unusable as exc:
        print(f"iamd: {exc}", file=sys.stderr)
        return 2
    return _run(args, check_no_new_access, new, old, policy_type)


def cmd_policy_grants(args: argparse.Namespace) -> int:
    """CheckAccessNotGranted: exit 1 when FILE may allow one of the actions (on the resources)."""
    from iamd.analyzer.proofs import PolicyType, check_access_not_granted

    policy_type = PolicyType(args.policy_type)
    if not args.action and not args.resource:
        print("iamd: give --action, --resource or both", file=sys.stderr)
        return 2
    try:
        policy = _read(args.file, policy_type)
    except _Unusable as exc:
        print(f"iamd: {exc}", file=sys.stderr)
        return 2
    return _run(args, check_access_not_granted, policy, policy_type, args.action, args.resource)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--policy-type",
        default=POLICY_TYPES[0],
        choices=POLICY_TYPES,
        help="identity-based (default) or resource-based policies",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--timeout-ms", type=int, default=10000, help="the solver's time budget (default 10000)"
    )


def add_parsers(policy_commands: Any) -> None:
    diff = policy_commands.add_parser(
        "diff", help="prove that NEW grants no access OLD does not (CheckNoNewAccess); exit 1 if it does"
    )
    diff.add_argument("old", metavar="OLD")
    diff.add_argument("new", metavar="NEW")
    _common(diff)
    diff.set_defaults(func=cmd_policy_diff)
    grants = policy_commands.add_parser(
        "grants", help="prove that FILE does not grant an access (CheckAccessNotGranted); exit 1 if it may"
    )
    grants.add_argument("file", metavar="FILE")
    grants.add_argument(
        "--action", action="append", default=[], metavar="A", help="service:Action (repeatable)"
    )
    grants.add_argument(
        "--resource",
        action="append",
        default=[],
        metavar="R",
        help="resource ARN, wildcards in its ID (repeatable)",
    )
    _common(grants)
    grants.set_defaults(func=cmd_policy_grants)
