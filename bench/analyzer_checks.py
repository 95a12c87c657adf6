"""Benchmark: the proven custom policy checks on AWS's managed policies.

Run by hand:  .venv/bin/python bench/analyzer_checks.py [--limit N] [--timeout-ms MS]

For every AWS managed policy iamd ships: CheckNoNewAccess of its default version against its
previous version (when the archive holds one), else against ReadOnlyAccess. Prints how many
answered PASS, FAIL (and how many FAIL counterexamples iamd's evaluator confirmed) and undecided,
and the median, p99 and maximum time of one check in milliseconds (parsing excluded: the server
parses once per request too, and that is not the solver's time): wall-clock time, and the
process's CPU time (z3 runs in this process), which is what the check costs on a machine whose
cores other work also wants.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import time
from importlib import resources

from iamd import catalog
from iamd.analyzer.proofs import PolicyType, Undecided, check_no_new_access
from iamd.policy import Policy, PolicyError, PolicyKind, parse_policy
from iamd.store.aws_versions import earlier_versions


def _managed() -> dict[str, dict[str, object]]:
    raw = resources.files("iamd").joinpath("data", "aws_managed_policies.json.gz").read_bytes()
    data = json.loads(gzip.decompress(raw))
    policies: dict[str, dict[str, object]] = data["policies"]
    return policies


def _parse(document: object) -> Policy | None:
    try:
        return parse_policy(json.dumps(document), PolicyKind.IDENTITY, strict=False)
    except PolicyError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=0, help="check only the first N policies")
    parser.add_argument("--timeout-ms", type=int, default=5000, help="the solver's budget per check")
    args = parser.parse_args()
    managed = _managed()
    read_only = _parse(managed["ReadOnlyAccess"]["document"])
    assert read_only is not None
    names = sorted(managed)[: args.limit or None]
    times: list[float] = []
    cpu: list[float] = []
    counts = {"PASS": 0, "FAIL": 0, "confirmed": 0, "undecided": 0, "vs previous": 0, "vs ReadOnlyAccess": 0}
    slowest: list[tuple[float, str]] = []
    for name in names:
        new = _parse(managed[name]["document"])
        if new is None:
            continue
        default = str(managed[name].get("defaultVersionId", ""))
        previous = [v for v in earlier_versions(name) if v.version_id != default]
        old = _parse(json.loads(previous[-1].document)) if previous else None
        if old is None:
            old, label = read_only, "vs ReadOnlyAccess"
        else:
            label = "vs previous"
        counts[label] += 1
        start = time.perf_counter()
        cpu_start = time.process_time()
        try:
            result = check_no_new_access(
                new, old, PolicyType.IDENTITY, timeout_ms=args.timeout_ms, actions=catalog.actions
            )
        except Undecided:
            counts["undecided"] += 1
            result = None
        elapsed = (time.perf_counter() - start) * 1000
        times.append(elapsed)
        cpu.append((time.process_time() - cpu_start) * 1000)
        slowest.append((elapsed, name))
        if result is not None:
            counts[result.result] += 1
            if result.counterexample is not None and result.counterexample.confirmed:
                counts["confirmed"] += 1
    print(f"checks: {len(times)}  " + "  ".join(f"{k}: {v}" for k, v in counts.items()))
    for label, series in (("wall", sorted(times)), ("cpu", sorted(cpu))):
        p99 = series[min(len(series) - 1, int(len(series) * 0.99))]
        print(
            f"{label}: median {statistics.median(series):.1f} ms  p99 {p99:.1f} ms  "
            f"max {series[-1]:.1f} ms  mean {statistics.fmean(series):.1f} ms"
        )
    print("slowest:", ", ".join(f"{n} {t:.0f} ms" for t, n in sorted(slowest, reverse=True)[:5]))


if __name__ == "__main__":
    main()
