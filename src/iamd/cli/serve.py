"""``iamd serve``: run the server on a data directory."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from datetime import timedelta
from pathlib import Path

__all__ = ["add_parser"]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser("serve", help="run the iamd server (AWS IAM and STS over HTTP)")
    serve.add_argument("--data-dir", required=True, type=Path, help="where the database and keys live")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument(
        "--database-url",
        help="SQLAlchemy URL; default: SQLite file DATA_DIR/iamd.db "
        "(PostgreSQL: postgresql+psycopg://user@host/db)",
    )
    serve.add_argument(
        "--public-url",
        metavar="URL",
        help="where clients reach this server, e.g. https://iamd.example.com (the base of outbound "
        "web identity federation issuer URLs; default: each request's scheme and Host header)",
    )
    serve.add_argument("--account-id", help="the management account's 12-digit id (first start only)")
    serve.add_argument(
        "--kek", help="key-encryption key(s), base64, comma-separated (default: $IAMD_KEK or DATA_DIR/kek)"
    )
    serve.add_argument(
        "--clock-offset",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="run with the clock moved by this many seconds (for tests)",
    )
    serve.add_argument(
        "--test-mode",
        action="store_true",
        help="for test suites, on loopback only: POST /iamd/reset (and moto's POST /moto-api/reset) "
        "puts every account back as it was at start, and the root user gets an access key, written "
        "as profile iamd-root (against best practice: test accounts only)",
    )
    serve.add_argument(
        "--request-budget",
        type=float,
        metavar="SECONDS",
        help="how long one request may loop over what it asked for, such as a policy simulation's "
        "actions and resources, before it is refused (default 10)",
    )
    serve.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    trail = serve.add_argument_group("audit trail")
    trail.add_argument(
        "--trail-dir",
        type=Path,
        metavar="DIR",
        help="also write the trail as files, in CloudTrail's layout "
        "(DIR/AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/*.json.gz)",
    )
    trail.add_argument(
        "--trail-interval",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="how often trail files are written and the chain's digest is signed (default 300)",
    )
    trail.add_argument(
        "--no-trail", action="store_true", help="record nothing (for measuring what the trail costs)"
    )
    trail.add_argument(
        "--trail-sync",
        action="store_true",
        help="store every event in a transaction of its own before answering (instead of reads' "
        "events in batches and writes' in the write's own transaction; slower, for comparison)",
    )
    serve.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    # No cyclic garbage collection while starting: importing the server's modules and loading the
    # AWS managed policies make objects by the hundred thousand, which set off a dozen
    # collections, two of them full ones over everything imported so far (0.1-0.2 s of CPU);
    # nothing made then is garbage worth collecting early. ``settle`` collects once, freezes
    # what is left, and the collector is back on before the first request.
    gc.disable()
    try:
        return _serve(args)
    finally:
        gc.enable()


def _serve(args: argparse.Namespace) -> int:
    import asyncio
    import re
    import socket
    import threading

    import uvicorn

    from iamd.catalog import rcp_services
    from iamd.clock import OffsetClock, SystemClock
    from iamd.private_files import make_private_dir, tighten
    from iamd.secrets.ids import RandomIds
    from iamd.secrets.kek import load_kek
    from iamd.server.app import create_app, end_idle_reads, settle, warm
    from iamd.server.authorizer import Authorizer
    from iamd.server.bootstrap import (
        ADMIN_USER,
        PROFILE,
        ROOT_PROFILE,
        bootstrap,
        ensure_root_key,
        write_profile,
        write_root_profile,
    )
    from iamd.server.memory import return_large_buffers
    from iamd.server.pipeline import Pipeline
    from iamd.store.engine import default_url
    from iamd.store.store import open_store

    # What the imports made stays for the process's life: out of the collector's way now, so that
    # settle's collection goes over what was made since (0.03 s instead of 0.13 s of CPU; the
    # 800-odd objects the imports left unreachable, classes and functions made and dropped while
    # modules were built, holding no resource, stay frozen with them).
    gc.freeze()
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.account_id is not None and not re.fullmatch(r"\d{12}", args.account_id):
        print("iamd serve: --account-id must be 12 digits", file=sys.stderr)
        return 2
    if args.test_mode:
        from iamd.server.testmode import is_loopback

        if not is_loopback(args.host):
            print(
                f"iamd serve: --test-mode listens on loopback only (127.0.0.1, ::1, localhost), "
                f"not on {args.host}: its reset paths take no signature",
                file=sys.stderr,
            )
            return 2
    return_large_buffers()
    # Everything the server writes is for its own user only (private_files.py): the umask for
    # what libraries create, explicit modes for ours, and a repair of older, looser data.
    os.umask(0o077)
    data_dir: Path = args.data_dir.resolve()
    make_private_dir(data_dir)
    tighten(data_dir)
    if args.trail_dir is not None:
        make_private_dir(args.trail_dir.resolve())
        tighten(args.trail_dir.resolve())
    clock = OffsetClock(timedelta(seconds=args.clock_offset)) if args.clock_offset else SystemClock()
    kek = load_kek(data_dir, key=args.kek)
    store = open_store(args.database_url or default_url(data_dir), kek=kek)
    ids = RandomIds()
    result = bootstrap(store, ids, clock.now(), args.account_id)
    endpoint = f"http://{args.host}:{args.port}"
    write_profile(data_dir, result.account_id, endpoint)
    if args.test_mode:
        root_key_id, root_secret = ensure_root_key(store, ids, clock.now(), result.account_id)
        write_root_profile(data_dir, root_key_id, root_secret, endpoint)
        log = logging.getLogger("iamd.server")
        log.warning(
            "test mode: the root user of account %s has access key %s (profile %r): against best "
            "practice, for test accounts only; POST %s resets every account",
            result.account_id,
            root_key_id,
            ROOT_PROFILE,
            "/iamd/reset",
        )
    verb = "created" if result.created else "using"
    print(
        f"iamd: {verb} account {result.account_id}; bootstrap administrator {ADMIN_USER} "
        f"(profile {PROFILE!r} in {data_dir / 'credentials'})",
        flush=True,
    )
    print(f"export AWS_SHARED_CREDENTIALS_FILE={data_dir / 'credentials'}", flush=True)
    print(f"export AWS_CONFIG_FILE={data_dir / 'config'}", flush=True)
    print(f"aws --profile {PROFILE} iam get-user", flush=True)
    print(f"iamd: listening on {endpoint}", flush=True)
    shown = endpoint.replace("://0.0.0.0:", "://localhost:").replace("://[::]:", "://localhost:")
    print(f"iamd: console at {shown}/console (sign in with account {result.account_id})", flush=True)
    recorder, writer = None, None
    if not args.no_trail:
        from iamd.services.cloudtrail import Recorder
        from iamd.trail.chain import load_signing_key
        from iamd.trail.writer import SPOOL_FILE_NAME, TrailWriter

        writer = TrailWriter(
            store,
            clock,
            signing_key=load_signing_key(data_dir),
            trail_dir=args.trail_dir.resolve() if args.trail_dir else None,
            spool=data_dir / SPOOL_FILE_NAME,
            interval=args.trail_interval,
            synchronous=args.trail_sync,
        )
        writer.start()
        recorder = Recorder(writer, store)
    pipeline = Pipeline(
        store,
        clock,
        ids,
        Authorizer(rcp_services()),
        trail=recorder,
        public_url=args.public_url,
        **({} if args.request_budget is None else {"budget_seconds": args.request_budget}),
    )
    extra_routes = []
    if args.test_mode:
        from iamd.server.testmode import TestMode

        extra_routes = TestMode(pipeline, clock).routes()
        print(f"iamd: test mode: POST {endpoint}/iamd/reset (or /moto-api/reset) resets", flush=True)
    app = create_app(pipeline, extra_routes=extra_routes)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
    )
    trail_writer = writer

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            # Every read runs on this thread (the event loop): one connection kept for them.
            pipeline.store.keep_reads()
            end_idle_reads(pipeline)
            # Listening: now build what was left for first use (the console, the portal, SCIM,
            # SAML) on a thread of its own (iamd.server.app.warm), beside the first requests.
            if self.started:
                threading.Thread(target=warm, args=(app,), name="iamd-warm", daemon=True).start()

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            await super().shutdown(sockets)
            # Before uvicorn hands the stop signal back to the process: store, seal and sign what
            # is pending, and write the last trail files.
            if trail_writer is not None:
                await asyncio.to_thread(trail_writer.close)

    settle(pipeline)  # the service models loaded, the heap frozen, before the first request
    gc.enable()
    try:
        Server(config).run()
    finally:
        if writer is not None:
            writer.close()  # a no-op when the shutdown above did it
    return 0
