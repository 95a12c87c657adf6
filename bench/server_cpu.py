"""The server process's cost per request over HTTP, by thread: CPU (user, system), page faults,
context switches, and optionally system calls (``strace -c``), for writes of bench/writes.py and
GetUser at 4 clients on SQLite; optionally for an earlier checkout too, each in turn.

Run by hand:  .venv/bin/python bench/server_cpu.py [--seconds 3] [--ops "TagUser,TagUser new,GetUser"]
              [--before DIR/src] [--strace]

Figures come from Linux's ``/proc/<pid>/task/*/stat`` and ``status`` read before and after each
load; page faults, context switches and system calls per request depend far less on the
machine's load than CPU time does. Threads are named by their part: ``loop`` (the event loop,
the process's main thread) and the others by thread id (the two busiest of a write are iamd's
write threads; the one with a little of every request, the trail writer). ``--strace``: the
system calls of the load and of the second before it (strace attaching); under strace the CPU and
the context switches are strace's doing too (measure those without it).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import time
import urllib.parse
from contextlib import ExitStack
from pathlib import Path

from loopback import signed
from writes import hammer, prepare, start


def task_figures(pid: int) -> dict[str, tuple[float, float, int, int]]:
    """{thread: (user s, system s, minor faults, context switches)} of a process so far."""
    tick = os.sysconf("SC_CLK_TCK")
    figures: dict[str, tuple[float, float, int, int]] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
            status = Path(f"/proc/{pid}/task/{tid}/status").read_text().splitlines()
        except OSError:
            continue
        switches = sum(int(line.split()[1]) for line in status if "ctxt_switches" in line)
        name = "loop" if tid == str(pid) else tid
        figures[name] = (int(fields[11]) / tick, int(fields[12]) / tick, int(fields[7]), switches)
    return figures


def strace_counts(path: Path) -> tuple[int, list[tuple[str, int]]]:
    """All system calls and (name, calls) from ``strace -c`` output."""
    rows: list[tuple[str, int]] = []
    total = 0
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[0][0].isdigit():
            name, calls = parts[-1], int(parts[3])
            if name == "total":
                total = calls
            else:
                rows.append((name, calls))
    return total, rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--ops", default="TagUser,TagUser new,GetUser")
    parser.add_argument("--before", metavar="SRC", help="another checkout's src directory to measure too")
    parser.add_argument("--strace", action="store_true", help="count system calls too (strace -f -c)")
    args = parser.parse_args()
    for name, src in [("iamd", None), *([("before", args.before)] if args.before else [])]:
        with ExitStack() as stack:
            port, endpoint, key, secret, pid = start(src, None, stack)
            requests = prepare(endpoint, key, secret, int(args.seconds * 400) + 100)
            body = urllib.parse.urlencode({"Version": "2010-05-08", "Action": "GetUser", "UserName": "bench"})
            requests["GetUser"] = [signed(endpoint, "iam", body, key, secret)]
            print(f"== {name}")
            for operation in args.ops.split(","):
                sent = requests[operation]
                hammer(port, sent if len(sent) == 1 else sent[:100], 0.5, args.threads)  # warm
                sent = sent if len(sent) == 1 else sent[100:]
                tracer, trace = None, Path(f"/tmp/iamd-server-cpu-strace-{pid}.txt")
                if args.strace:
                    command = ["strace", "-f", "-c", "-o", str(trace), "-p", str(pid)]
                    tracer = subprocess.Popen(command, stderr=subprocess.DEVNULL)
                    time.sleep(1.0)
                before = task_figures(pid)
                rate, count = hammer(port, sent, args.seconds, args.threads)
                after = task_figures(pid)
                count = max(count, 1)
                per: dict[str, tuple[float, float, float, float]] = {}
                for thread, (user, system, faults, switches) in after.items():
                    u0, s0, f0, c0 = before.get(thread, (0.0, 0.0, 0, 0))
                    per[thread] = (
                        (user - u0) / count * 1e6,
                        (system - s0) / count * 1e6,
                        (faults - f0) / count,
                        (switches - c0) / count,
                    )
                user = sum(p[0] for p in per.values())
                system = sum(p[1] for p in per.values())
                faults = sum(p[2] for p in per.values())
                switches = sum(p[3] for p in per.values())
                print(
                    f"{operation:>20}: {rate:7.1f}/s ({count})  user {user:5.0f} µs  sys {system:4.0f} µs  "
                    f"page faults {faults:5.2f}  context switches {switches:5.1f}  per request"
                )
                busy = sorted(per.items(), key=lambda item: -(item[1][0] + item[1][1]))
                shown = [f"{t} {u + s:.0f} µs" for t, (u, s, _, _) in busy if u + s >= 5]
                print(f"{'':>22}by thread: {', '.join(shown)}")
                if tracer is not None:
                    tracer.send_signal(signal.SIGINT)
                    tracer.wait()
                    total, rows = strace_counts(trace)
                    trace.unlink(missing_ok=True)
                    top = ", ".join(f"{n} {c / count:.2f}" for n, c in rows if c / count >= 0.1)
                    print(f"{'':>22}system calls {total / count:.1f} per request: {top}")


if __name__ == "__main__":
    main()
