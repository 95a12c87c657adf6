"""Benchmark: parsing and compiling a 1,000-statement policy set.

Run by hand:  .venv/bin/python bench/parse_compile.py [--sets N] [--before-src DIR] [--repeat N]

The set is the one ``bench/authz.py`` decides against: 1,000 statements (wildcard actions and
resources, conditions on a third of them, a few Denies) in 40 policies of 25 statements, as a
principal's attached policies are. It is parsed (``parse_policy``: every validation rule, as an
evaluation reads a stored policy) and compiled (``compile_policies``) from decoded JSON and from
JSON text (how the server stores policies). The first set is measured in a fresh process (every
cache empty); then ``--sets`` more sets, each generated anew (new resources, new documents), give
the best (CPU time of the process: on a shared machine, other work only adds to a figure).
Also the cost of placing findings (the same set with one error in every policy, where line and
column are looked up) and of the acceptance rules every policy write runs (``first_refusal`` on
the 40 texts as managed policies, new texts each time, so nothing comes from its cache).

Each side runs in fresh processes of its own; with ``--before-src`` (another tree's ``src``, e.g.
``git archive perf17-base src`` unpacked) the two take turns ``--repeat`` times and each figure is
the best of the turns, printed side by side with the ratio before / after.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from authz import statements


def documents(seed: int, count: int = 1000) -> list[dict[str, Any]]:
    stmts = statements(random.Random(seed), count)
    return [{"Version": "2012-10-17", "Statement": stmts[i : i + 25]} for i in range(0, len(stmts), 25)]


def measure(docs: list[Any]) -> tuple[float, float]:
    """Milliseconds to parse, then to compile, the set."""
    from iamd.authz import NamedPolicy, compile_policies
    from iamd.policy import parse_policy

    started = time.process_time()
    policies = [NamedPolicy(f"policy-{n}", parse_policy(doc, strict=False)) for n, doc in enumerate(docs)]
    parsed = time.process_time()
    compile_policies(policies)
    done = time.process_time()
    return (parsed - started) * 1000, (done - parsed) * 1000


LABELS = {
    "first": "decoded JSON, first set, caches empty (parse + compile)",
    "json": "decoded JSON, best of the new sets (parse + compile)",
    "json_parse": "  of which parse",
    "json_compile": "  of which compile",
    "text": "JSON text, best of the new sets (parse + compile)",
    "text_parse": "  of which parse",
    "text_compile": "  of which compile",
    "findings": "text with a finding in each policy (placed)",
    "acceptance": "acceptance rules (first_refusal), new texts",
}


def figures(sets: int) -> dict[str, float]:
    """Every figure of this tree, in milliseconds (one fresh process)."""
    from iamd.policy import PolicyKind, check_policy
    from iamd.policy.acceptance import first_refusal

    out: dict[str, float] = {"first": sum(measure(documents(0)))}
    for label, as_text in (("json", False), ("text", True)):
        runs: list[tuple[float, float]] = []
        for seed in range(1, sets + 1):
            docs: list[Any] = documents(seed)
            if as_text:
                docs = [json.dumps(doc, indent=2) for doc in docs]
            runs.append(measure(docs))
        out[label] = min(sum(r) for r in runs)
        out[f"{label}_parse"] = min(r[0] for r in runs)
        out[f"{label}_compile"] = min(r[1] for r in runs)
    # Placing findings: one unknown element per policy, so every document has a finding to place.
    best = float("inf")
    for seed in range(99, 99 + sets):
        broken = []
        for doc in documents(seed):
            doc["Statement"][-1]["Resourse"] = "*"
            broken.append(json.dumps(doc, indent=2))
        started = time.process_time()
        located = sum(
            1 for text in broken for f in check_policy(text, PolicyKind.MANAGED).findings if f.position
        )
        best = min(best, (time.process_time() - started) * 1000)
        assert located == len(broken)
    out["findings"] = best
    best = float("inf")
    for seed in range(199, 199 + sets):
        texts = [json.dumps(doc, indent=2) for doc in documents(seed)]
        started = time.process_time()
        refused = [first_refusal(text, PolicyKind.MANAGED) for text in texts]
        best = min(best, (time.process_time() - started) * 1000)
        assert not any(refused)
    out["acceptance"] = best
    return out


def run_child(sets: int, src: str | None) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": src} if src else None
    command = [sys.executable, __file__, "--child", "--sets", str(sets)]
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sets", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=1, help="turns of each side (best kept)")
    parser.add_argument("--before-src", help="another tree's src/ directory, timed as 'before'")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.stdout.write(json.dumps(figures(args.sets)))
        return
    ours: list[dict[str, float]] = []
    theirs: list[dict[str, float]] = []
    for _ in range(args.repeat):
        ours.append(run_child(args.sets, None))
        if args.before_src:
            theirs.append(run_child(args.sets, args.before_src))
    print(
        f"1,000 statements in 40 policies of 25; CPU ms, best of {args.sets} sets, "
        f"{args.repeat} turn(s) per side"
    )
    head = f"{'':58}{'now':>9}"
    print(head + (f"{'before':>10}{'ratio':>8}" if theirs else ""))
    for key, label in LABELS.items():
        now = min(run[key] for run in ours)
        line = f"{label:58}{now:>9.1f}"
        if theirs:
            old = min(run[key] for run in theirs)
            line += f"{old:>10.1f}{old / now:>7.1f}×"
        print(line)
    load = os.getloadavg()[0]
    print(f"(load average {load:.1f} on {os.cpu_count()} cores when done)")


if __name__ == "__main__":
    main()
