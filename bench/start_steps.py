"""What ``iamd serve`` does before its socket listens, in this process, for counting instructions
(which the machine's load does not change): the imports, the store, the bootstrap, the trail's
recorder, the pipeline, the application and ``settle``, as ``iamd.cli.serve.cmd_serve`` does
them, with the garbage collector off until ``settle`` where the checkout's ``cmd_serve`` turns it
off.

Run by hand, once to create the data directory (a first start), again for a later start:

    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out \\
        .venv/bin/python bench/start_steps.py /tmp/start-data

``PYTHONPATH=OTHER/src`` counts another checkout.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import iamd.cli.serve

if hasattr(iamd.cli.serve, "_serve"):  # a checkout whose cmd_serve starts without collections
    gc.disable()

import uvicorn  # noqa: F401  (iamd serve imports it before it starts)

import iamd.cli.main  # (the entry point)
import iamd.server.app as server_app
from iamd.catalog import rcp_services
from iamd.clock import SystemClock
from iamd.secrets.ids import RandomIds
from iamd.secrets.kek import load_kek
from iamd.server.authorizer import Authorizer
from iamd.server.bootstrap import bootstrap, write_profile
from iamd.server.pipeline import Pipeline
from iamd.services.cloudtrail import Recorder
from iamd.store.engine import default_url
from iamd.store.store import open_store
from iamd.trail.chain import load_signing_key
from iamd.trail.writer import SPOOL_FILE_NAME, TrailWriter

if hasattr(iamd.cli.serve, "_serve"):
    gc.freeze()  # as cmd_serve does once it has imported what it needs


def main() -> None:
    data = Path(sys.argv[1])
    data.mkdir(parents=True, exist_ok=True)
    clock, ids = SystemClock(), RandomIds()
    store = open_store(default_url(data), kek=load_kek(data, key=None))
    result = bootstrap(store, ids, clock.now(), None)
    write_profile(data, result.account_id, "http://127.0.0.1:8080")
    writer = TrailWriter(
        store, clock, signing_key=load_signing_key(data), spool=data / SPOOL_FILE_NAME, interval=300
    )
    pipeline = Pipeline(store, clock, ids, Authorizer(rcp_services()), trail=Recorder(writer, store))
    server_app.create_app(pipeline)
    server_app.settle(pipeline)  # before listening (as in every checkout since perf17-r3)
    gc.enable()
    store.close()


if __name__ == "__main__":
    main()
