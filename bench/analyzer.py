"""Benchmark: ValidatePolicy throughput (policies per second) on AWS's managed policies.

Run by hand:  .venv/bin/python bench/analyzer.py [--rounds N] [--codes]

Validates every AWS managed policy shipped in src/iamd/data/aws_managed_policies.json.gz (each as
pretty-printed text, as IDENTITY_POLICY) with iamd.analyzer.validate_policy, the function behind
both ValidatePolicy and ``iamd policy check``. Prints the policy count, the first (cold: the
Service Authorization Reference files are read on first use) and the best warm round, in
policies per second of wall time and per CPU-second (the latter holds up on a busy machine), and
with --codes how many findings of each issue code the set has.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import time
from pathlib import Path

from iamd.analyzer import PolicyType, validate_policy
from iamd.catalog import service_reference

DATA = Path(__file__).resolve().parents[1] / "src" / "iamd" / "data" / "aws_managed_policies.json.gz"


def load() -> list[tuple[str, str]]:
    with gzip.open(DATA, "rt", encoding="utf-8") as fh:
        data = json.load(fh)
    return [(name, json.dumps(p["document"], indent=4)) for name, p in sorted(data["policies"].items())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="warm rounds after the first (default 3)")
    parser.add_argument("--codes", action="store_true", help="also count findings per issue code")
    args = parser.parse_args()
    policies = load()
    sar = service_reference()
    counts: collections.Counter[str] = collections.Counter()
    timings: list[tuple[float, float]] = []
    for round_ in range(1 + args.rounds):
        start, cpu = time.perf_counter(), time.process_time()
        for _, text in policies:
            findings = validate_policy(text, PolicyType.IDENTITY_POLICY, sar)
            if round_ == 0:
                counts.update(f.code for f in findings)
        timings.append((time.perf_counter() - start, time.process_time() - cpu))
    n = len(policies)
    print(f"policies: {n} AWS managed policies (one core)")
    wall, cpu = timings[0]
    print(f"cold round: {wall:.2f} s wall, {n / wall:.0f} policies/s ({n / cpu:.0f} per CPU-second)")
    wall, cpu = min(timings[1:]) if len(timings) > 1 else timings[0]
    print(
        f"warm (best of {args.rounds}): {wall:.2f} s wall, {n / wall:.0f} policies/s "
        f"({n / cpu:.0f} per CPU-second)"
    )
    print(f"findings: {sum(counts.values())} in total")
    if args.codes:
        for code, count in counts.most_common():
            print(f"  {count:6d}  {code}")


if __name__ == "__main__":
    main()
