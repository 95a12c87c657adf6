"""Benchmark: parsing and compiling a 1,000-statement policy set.

Run by hand:  .venv/bin/python bench/parse_compile.py [--sets N]

The set is the one ``bench/authz.py`` decides against: 1,000 statements (wildcard actions and
resources, conditions on a third of them, a few Denies) in 40 policies of 25 statements, as a
principal's attached policies are. It is parsed (``parse_policy``: every validation rule, as an
evaluation reads a stored policy) and compiled (``compile_policies``) from decoded JSON and from
JSON text (how the server stores policies). The first set is measured in a fresh process (every
cache empty); then ``--sets`` more sets, each generated anew (new resources, new documents), give
the best (CPU time of this process: on a shared machine, other work only adds to a figure).
Also the cost of placing findings: the same set with one error in every policy, where
line and column are looked up.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from authz import statements

from iamd.authz import NamedPolicy, compile_policies
from iamd.policy import PolicyKind, check_policy, parse_policy


def documents(seed: int, count: int = 1000) -> list[dict[str, Any]]:
    stmts = statements(random.Random(seed), count)
    return [{"Version": "2012-10-17", "Statement": stmts[i : i + 25]} for i in range(0, len(stmts), 25)]


def measure(docs: list[Any]) -> tuple[float, float]:
    """Milliseconds to parse, then to compile, the set."""
    started = time.process_time()
    policies = [NamedPolicy(f"policy-{n}", parse_policy(doc, strict=False)) for n, doc in enumerate(docs)]
    parsed = time.process_time()
    compile_policies(policies)
    done = time.process_time()
    return (parsed - started) * 1000, (done - parsed) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sets", type=int, default=5)
    args = parser.parse_args()
    first = measure(documents(0))
    print(
        f"1,000 statements in 40 policies (decoded JSON), first set, caches empty: "
        f"parse {first[0]:.1f} ms + compile {first[1]:.1f} ms = {sum(first):.1f} ms"
    )
    for label, as_text in (("decoded JSON", False), ("JSON text", True)):
        runs: list[tuple[float, float]] = []
        for seed in range(1, args.sets + 1):
            docs: list[Any] = documents(seed)
            if as_text:
                docs = [json.dumps(doc, indent=2) for doc in docs]
            runs.append(measure(docs))
        parse_ms = min(r[0] for r in runs)
        compile_ms = min(r[1] for r in runs)
        total = min(sum(r) for r in runs)
        print(
            f"1,000 statements ({label}), best of {args.sets} new sets: "
            f"parse {parse_ms:.1f} ms + compile {compile_ms:.1f} ms = {total:.1f} ms"
        )
    # Placing findings: one unknown element per policy, so every document has a finding to place.
    broken = []
    for doc in documents(99):
        doc["Statement"][-1]["Resourse"] = "*"
        broken.append(json.dumps(doc, indent=2))
    started = time.process_time()
    located = sum(1 for text in broken for f in check_policy(text, PolicyKind.MANAGED).findings if f.position)
    elapsed = (time.process_time() - started) * 1000
    print(
        f"1,000 statements as text with a finding in each of the 40 policies (line and column looked up): "
        f"{elapsed:.1f} ms, {located} findings placed"
    )


if __name__ == "__main__":
    main()
