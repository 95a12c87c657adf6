"""``iamd serve --test-mode``: a fresh account per test, fast.

The server answers ``POST /iamd/reset`` and ``POST /moto-api/reset`` (the path and answer of moto's
server mode, so suites written for it work unchanged) by putting every account back as it was
when the server started: on a new data directory, the first-start state (the management account,
the bootstrap administrator ``iamd-admin`` with the very key of profile ``iamd``, and the root
user's key of profile ``iamd-root``). See :mod:`iamd.store.baseline` for how (one transaction, the
AWS managed policies kept) and why the trail stays.

Test mode listens on loopback only: the reset paths take no signature, and the root user has an
access key, which is against AWS's best practice anywhere but in a throwaway test account.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from iamd.clock import Clock
from iamd.server.pipeline import Pipeline
from iamd.store.audit import AuditEvent
from iamd.store.baseline import AccountsBaseline
from iamd.store.unit import UnitOfWork
from iamd.trail.records import record_json, service_event_record

__all__ = ["IAMD_RESET_PATH", "MOTO_RESET_PATH", "TestMode", "is_loopback"]

log = logging.getLogger("iamd.server")

IAMD_RESET_PATH = "/iamd/reset"
MOTO_RESET_PATH = "/moto-api/reset"
RESET_EVENT = "ResetTestAccounts"
EVENT_SOURCE = "iamd"


def is_loopback(host: str) -> bool:
    """Whether ``host`` (what ``--host`` binds) is a loopback address or ``localhost``."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class TestMode:
    """The reset: the baseline captured at start, and what the pipeline caches."""

    __test__ = False  # (not a pytest test class)

    def __init__(self, pipeline: Pipeline, clock: Clock) -> None:
        self.pipeline = pipeline
        self.clock = clock
        self._lock = threading.Lock()

        def capture(uow: UnitOfWork) -> AccountsBaseline:
            return uow.baselines.capture()

        self.baseline = pipeline.store.run(capture, readonly=True)

    def reset(self, source_ip: str = "127.0.0.1", user_agent: str = "") -> float:
        """Put every account back to the baseline; returns the seconds it took."""
        started = time.perf_counter()
        baseline = self.baseline
        trail = self.pipeline.trail
        with self._lock:
            if trail is not None:
                # Events of calls made before the reset update last-accessed data when stored:
                # store them now, so that they cannot come back after it.
                trail.writer.flush()
            flushed = time.perf_counter()

            def restore(uow: UnitOfWork) -> None:
                uow.baselines.restore(baseline)

            self.pipeline.store.run(restore)
            self.pipeline.forget_caches()
        elapsed = time.perf_counter() - started
        log.info(
            "test mode: accounts reset in %.1f ms (storing the trail's pending events %.1f ms)",
            elapsed * 1000,
            (flushed - started) * 1000,
        )
        if trail is not None:
            now = self.clock.now()
            events = []
            for account_id in baseline.account_ids:
                event_id = str(uuid.uuid4())
                record = service_event_record(
                    account_id=account_id,
                    event_time=now,
                    event_source=EVENT_SOURCE,
                    event_name=RESET_EVENT,
                    source_ip=source_ip,
                    user_agent=user_agent,
                    event_id=event_id,
                    details={"restored": "the state at the server's start (iamd serve --test-mode)"},
                )
                events.append(
                    AuditEvent(
                        event_id=event_id,
                        account_id=account_id,
                        event_time=now,
                        event_name=RESET_EVENT,
                        event_source=EVENT_SOURCE,
                        username=None,
                        access_key_id=None,
                        entity_id=None,
                        entity_arn=None,
                        service=EVENT_SOURCE,
                        region="us-east-1",
                        read_only=False,
                        error_code=None,
                        counts_as_access=False,
                        record=record_json(record),
                    )
                )
            trail.writer.submit(events)
        return elapsed

    def routes(self) -> list[Route]:
        def reset_from(request: Request) -> float:
            client = request.client
            return self.reset(client.host if client else "127.0.0.1", request.headers.get("user-agent", ""))

        async def iamd_reset(request: Request) -> Response:
            elapsed = await run_in_threadpool(reset_from, request)
            return JSONResponse(
                {"status": "ok", "accounts": list(self.baseline.account_ids), "ms": round(elapsed * 1000, 1)}
            )

        async def moto_reset(request: Request) -> Response:
            # moto answers exactly this (moto/moto_api/_internal/responses.py, reset_response):
            # POST -> 200 {"status": "ok"}; any other method -> 400 {"Error": "Need to POST to reset Moto"}.
            if request.method != "POST":
                return JSONResponse({"Error": "Need to POST to reset Moto"}, status_code=400)
            await run_in_threadpool(reset_from, request)
            return JSONResponse({"status": "ok"})

        handlers: list[tuple[str, Callable[[Request], Any], list[str]]] = [
            (IAMD_RESET_PATH, iamd_reset, ["POST"]),
            (MOTO_RESET_PATH, moto_reset, ["GET", "POST", "PUT", "DELETE"]),
        ]
        return [Route(path, handler, methods=methods) for path, handler, methods in handlers]
