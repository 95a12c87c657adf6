"""A longer hostile campaign than tests/e2e/test_hostile_load.py: a fresh ``iamd serve`` on
127.0.0.1, rounds of hostile requests (the nine kinds of tests/e2e/hostile.py), the server's
resident size after each round. Bounded: ``--rounds`` x ``--per-round`` requests, loopback only.

    .venv/bin/python bench/hostile.py [--rounds 11] [--per-round 2000] [--threads 4]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e import hostile
from tests.e2e.harness import start_server, stop_server


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--per-round", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="iamd-hostile-") as folder:
        server = start_server(Path(folder) / "data")
        try:
            port = int(server.endpoint.rsplit(":", 1)[1])
            start = hostile.rss_bytes(server.process.pid)
            print(f"start: RSS {start / 2**20:.0f} MiB", flush=True)
            for n in range(args.rounds):
                outcome = hostile.send(
                    port,
                    args.per_round,
                    threads=args.threads,
                    real_key=server.access_key_id,
                    seed=n,
                    timeout=10,
                )
                rss = hostile.rss_bytes(server.process.pid)
                print(
                    f"round {n + 1}: {(n + 1) * args.per_round} requests, RSS {rss / 2**20:.0f} MiB, "
                    f"{args.per_round / outcome.elapsed:.0f} req/s, {dict(outcome.statuses)}",
                    flush=True,
                )
        finally:
            stop_server(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
