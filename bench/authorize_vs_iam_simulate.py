"""Benchmark: ``iamd authorize`` against iam-simulate on the same evaluation cases, in one run.

Run by hand:  .venv/bin/python bench/authorize_vs_iam_simulate.py [--cases FILE] [--rounds N]

The peer is ``@cloud-copilot/iam-simulate`` (npm, the simulator that labelled the shared cases).
The first run installs it with npm into ``~/.cache/iamd/peers`` (outside the repository; needs
node and npm). Each side runs in a fresh process of its own and decides every case ``--rounds``
times; the two processes take turns (``--repeat``), and each figure is the best of the turns, so
a busy machine slows both alike. Per case, iamd does what ``iamd authorize`` does for a line: read
the JSON, parse and compile the policies, decide, explain a denial, write the answer line; the
peer runs ``runSimulation`` (Strict mode) on the already-decoded case.

Printed: CPU time per case of the first pass (cold: what one ``iamd authorize`` run pays, caches
empty, the peer's JIT cold) and of the best later pass (warm), the median per-case wall time, the
same per case family, and the whole command (process start to exit, ``iamd authorize --cases``
against ``node`` running the peer once over the file). Ratio = peer / iamd (above 1: iamd is
faster). ``--per-case`` lists every case.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

PEER = "@cloud-copilot/iam-simulate@0.1.173"
PEER_DIR = Path.home() / ".cache" / "iamd" / "peers"
REPO = Path(__file__).resolve().parent.parent

NODE_RUNNER = r"""
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
const [dir, file, roundsText] = process.argv.slice(2);
const rounds = Number(roundsText);
const require = createRequire(dir + '/');
const { runSimulation } = require('@cloud-copilot/iam-simulate');
const cases = readFileSync(file, 'utf8').split('\n').filter(l => l.trim()).map(l => JSON.parse(l));
const simulation = c => ({
  request: c.request,
  identityPolicies: c.identityPolicies || [],
  serviceControlPolicies: c.serviceControlPolicies || [],
  resourceControlPolicies: c.resourceControlPolicies || [],
  resourcePolicy: c.resourcePolicy ?? undefined,
  permissionBoundaryPolicies: c.permissionBoundaryPolicies ?? undefined,
  sessionPolicy: c.sessionPolicy ?? undefined,
});
const out = { cpu_s: [], case_ns: [], decisions: [] };
for (let r = 0; r < rounds; r++) {
  const ns = [];
  const cpu = process.cpuUsage();
  for (const c of cases) {
    const t = process.hrtime.bigint();
    const result = await runSimulation(simulation(c), { simulationMode: 'Strict' });
    ns.push(Number(process.hrtime.bigint() - t));
    if (r === 0) out.decisions.push(result.resultType === 'error' ? 'error' : result.overallResult);
  }
  const used = process.cpuUsage(cpu);
  out.cpu_s.push((used.user + used.system) / 1e6);
  out.case_ns.push(ns);
}
if (rounds > 0) process.stdout.write(JSON.stringify(out));
"""


def install_peer(peer_dir: Path) -> None:
    if (peer_dir / "node_modules" / "@cloud-copilot" / "iam-simulate" / "package.json").is_file():
        return
    if shutil.which("npm") is None or shutil.which("node") is None:
        sys.exit("node and npm are needed for the peer (Debian: apt-get install nodejs npm)")
    peer_dir.mkdir(parents=True, exist_ok=True)
    print(f"installing {PEER} into {peer_dir} ...", file=sys.stderr)
    subprocess.run(
        ["npm", "install", "--prefix", str(peer_dir), "--no-audit", "--no-fund", PEER],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def iamd_child(cases_path: str, rounds: int) -> None:
    """One fresh process: decide every case ``rounds`` times, as ``iamd authorize`` does a line."""
    from iamd.authz.cases import decide_case
    from iamd.catalog import rcp_services

    try:
        from iamd.authz.cases import answer_text
    except ImportError:  # a tree from before the answer's encoder was set up once (--before-src)

        def answer_text(answer: Any) -> str:
            return json.dumps(answer, separators=(",", ":"))

    try:
        from iamd import jsontext
    except ImportError:  # a tree from before the module left iamd.wire (--before-src)
        from iamd.wire import jsontext  # type: ignore[no-redef]

    # As the command does: with the line's text where decide_case takes it (not before-src trees).
    takes_text = "text" in inspect.signature(decide_case).parameters
    lines = [line for line in Path(cases_path).read_text(encoding="utf-8").splitlines() if line.strip()]
    services = rcp_services()
    out: dict[str, list[Any]] = {"cpu_s": [], "case_ns": [], "decisions": []}
    for r in range(rounds):
        ns: list[int] = []
        cpu = time.process_time()
        for line in lines:
            t = time.perf_counter_ns()
            if takes_text:
                answer = decide_case(jsontext.loads(line), services, text=line)
            else:
                answer = decide_case(jsontext.loads(line), services)
            answer_text(answer)
            ns.append(time.perf_counter_ns() - t)
            if r == 0:
                out["decisions"].append(answer.get("decision", "error"))
        out["cpu_s"].append(time.process_time() - cpu)
        out["case_ns"].append(ns)
    sys.stdout.write(json.dumps(out))


def run_side(command: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def whole_command(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of a command, process start to exit."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per pass and per case, the best of the turns."""
    passes = len(runs[0]["cpu_s"])
    return {
        "cpu_s": [min(run["cpu_s"][p] for run in runs) for p in range(passes)],
        "case_ns": [
            [min(run["case_ns"][p][i] for run in runs) for i in range(len(runs[0]["case_ns"][p]))]
            for p in range(passes)
        ],
        "decisions": runs[0]["decisions"],
    }


def family(name: str) -> str:
    if "/" in name:
        return name.split("/", 1)[0]
    return "mix-random" if name.startswith("mix-random") else name.split("-", 1)[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", default=str((REPO / ".." / "shared" / "cases" / "public.jsonl").resolve()))
    parser.add_argument("--rounds", type=int, default=3, help="passes over the cases per process")
    parser.add_argument("--repeat", type=int, default=2, help="turns of each side (best kept)")
    parser.add_argument("--peer-dir", default=str(PEER_DIR))
    parser.add_argument("--per-case", action="store_true", help="print every case's cost")
    parser.add_argument(
        "--before-src",
        help="also time another iamd source tree (its src/ directory, e.g. an older commit's "
        "`git archive` unpacked), as a 'before' column",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "iamd":
        iamd_child(args.cases, args.rounds)
        return
    if not Path(args.cases).is_file():
        sys.exit(f"no cases at {args.cases} (--cases FILE)")
    peer_dir = Path(args.peer_dir)
    install_peer(peer_dir)
    runner = peer_dir / "authorize_bench.mjs"
    runner.write_text(NODE_RUNNER, encoding="utf-8")
    names = [
        json.loads(line)["name"]
        for line in Path(args.cases).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    iamd_cmd = [
        sys.executable,
        __file__,
        "--child",
        "iamd",
        "--cases",
        args.cases,
        "--rounds",
        str(args.rounds),
    ]
    peer_cmd = ["node", str(runner), str(peer_dir), args.cases, str(args.rounds)]
    iamd_runs: list[dict[str, Any]] = []
    peer_runs: list[dict[str, Any]] = []
    whole: dict[str, list[tuple[float, float]]] = {"iamd": [], "peer": [], "before": []}
    before_runs: list[dict[str, Any]] = []
    before_env = {**os.environ, "PYTHONPATH": args.before_src} if args.before_src else None
    iamd_whole = [sys.executable, "-m", "iamd.cli.main", "authorize", "--cases", args.cases]
    peer_whole = ["node", str(runner), str(peer_dir), args.cases, "1"]
    for _ in range(args.repeat):
        peer_runs.append(run_side(peer_cmd))
        iamd_runs.append(run_side(iamd_cmd))
        whole["peer"].append(whole_command(peer_whole))
        whole["iamd"].append(whole_command(iamd_whole))
        if before_env is not None:
            before_runs.append(run_side(iamd_cmd, before_env))
            whole["before"].append(whole_command(iamd_whole, before_env))
    iamd, peer = best(iamd_runs), best(peer_runs)
    before = best(before_runs) if before_runs else None
    n = len(names)
    print(f"{n} cases from {args.cases}; {args.rounds} passes per process, best of {args.repeat} turns each")
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    print(f"peer: {PEER} on node {node}")
    head = f"{'':34}{'iamd':>12}{'iam-simulate':>14}{'ratio':>8}"
    print(head + (f"{'iamd before':>14}{'ratio':>8}" if before else ""))

    def row(label: str, ours: float, theirs: float, unit: str = "µs", old: float | None = None) -> None:
        line = f"{label:34}{ours:>9.1f} {unit}{theirs:>11.1f} {unit}{theirs / ours:>7.1f}×"
        if old is not None:
            line += f"{old:>11.1f} {unit}{theirs / old:>7.1f}×"
        print(line)

    def pass_cost(side: dict[str, Any] | None, first: bool) -> float | None:
        if side is None:
            return None
        cpu: list[float] = side["cpu_s"]
        return (cpu[0] if first else min(cpu[1:])) / n * 1e6

    row(
        "first pass, CPU per case (cold)",
        iamd["cpu_s"][0] / n * 1e6,
        peer["cpu_s"][0] / n * 1e6,
        old=pass_cost(before, True),
    )
    if args.rounds > 1:
        row(
            "best later pass, CPU per case",
            min(iamd["cpu_s"][1:]) / n * 1e6,
            min(peer["cpu_s"][1:]) / n * 1e6,
            old=pass_cost(before, False),
        )
        ours_ns = [min(p[i] for p in iamd["case_ns"][1:]) for i in range(n)]
        theirs_ns = [min(p[i] for p in peer["case_ns"][1:]) for i in range(n)]
    else:
        ours_ns, theirs_ns = iamd["case_ns"][0], peer["case_ns"][0]
    row("median case, wall (warm)", statistics.median(ours_ns) / 1000, statistics.median(theirs_ns) / 1000)
    wall_i, cpu_i = min(w for w, _ in whole["iamd"]), min(c for _, c in whole["iamd"])
    wall_p, cpu_p = min(w for w, _ in whole["peer"]), min(c for _, c in whole["peer"])
    old_wall = min((w for w, _ in whole["before"]), default=None)
    old_cpu = min((c for _, c in whole["before"]), default=None)
    row("whole command, wall", wall_i, wall_p, "s ", old_wall)
    row("whole command, CPU", cpu_i, cpu_p, "s ", old_cpu)
    by_family: dict[str, list[int]] = defaultdict(list)
    for i, name in enumerate(names):
        by_family[family(name)].append(i)
    print("\nper case family (warm wall per case, mean):")
    print(f"{'family':20}{'cases':>6}{'iamd':>10}{'peer':>10}{'ratio':>8}")
    for fam, idx in sorted(by_family.items()):
        ours = statistics.mean(ours_ns[i] for i in idx) / 1000
        theirs = statistics.mean(theirs_ns[i] for i in idx) / 1000
        print(f"{fam:20}{len(idx):>6}{ours:>8.1f}µs{theirs:>8.1f}µs{theirs / ours:>7.1f}×")
    agree = sum(a == b for a, b in zip(iamd["decisions"], peer["decisions"], strict=True))
    print(f"\ndecisions: iamd and iam-simulate agree on {agree} of {n} (see the cases' DISAGREEMENTS.md)")
    if args.per_case:
        print(f"\n{'case':60}{'iamd µs':>10}{'peer µs':>10}{'ratio':>8}")
        for i, name in enumerate(names):
            ours, theirs = ours_ns[i] / 1000, theirs_ns[i] / 1000
            print(f"{name[:60]:60}{ours:>10.1f}{theirs:>10.1f}{theirs / ours:>7.1f}×")
    print(f"\n(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores when done)")


if __name__ == "__main__":
    main()
