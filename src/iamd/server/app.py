"""The ASGI application: ``/iamd/health``, the console, the OpenID Connect discovery documents of
accounts' outbound federation issuers (``/oidc/{account_id}/.well-known/...``, public), and, for
everything else, the AWS request pipeline.

The console, the access portal, SCIM and the SAML service provider are built on first use
(``LazyRoutes``): the server listens without importing them, and ``iamd serve`` builds them in
the background once it listens (``warm``)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import queue
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TypeVar

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from iamd.server.inline_writes import InlineWrites
from iamd.server.lazy_routes import LazyRoutes
from iamd.server.limits import (
    ANONYMOUS_BODY_LIMIT,
    declared_length,
    service_limit,
    too_large,
)
from iamd.server.pipeline import Connection, Pipeline
from iamd.services import oidc_issuer
from iamd.services.cloudtrail.recording import READS_THE_TRAIL
from iamd.store import Store
from iamd.store.schema import AWS_ACCOUNT
from iamd.store.unit import UnitOfWork
from iamd.wire import DEFAULT_SERVICES, HttpRequest, RequestEntityTooLarge

__all__ = [
    "CONSOLE_PREFIX",
    "PORTAL_PATHS",
    "SAML_PREFIX",
    "SCIM_PREFIX",
    "IamdApp",
    "create_app",
    "end_idle_reads",
    "settle",
    "warm",
]

log = logging.getLogger("iamd.server")

_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]
_FRONT_PATH = "/"
"""Where the query protocol (IAM, STS) and the JSON protocols post: served straight by
``IamdApp``, without Starlette's routing, when no other route would take it."""

HEAVY_CONCURRENCY = 2
"""How many heavy operations (``Registration.heavy``: simulations, reports over the whole account)
run at once; the next ones wait their turn. Their work holds Python's interpreter lock, so more
threads would not finish them sooner, only slow everything else down."""


WRITE_THREADS = {"sqlite": 2}
"""How many of iamd's own threads run writes (``WorkerThreads``), by database; others get
``WRITE_THREADS_DEFAULT``. SQLite has one writer at a time (the store's lock, then BEGIN
IMMEDIATE), and nearly all of a write's work is inside its transaction: more threads would only
queue on the lock (each hand-over a thread switch). PostgreSQL's writers overlap, each waiting
for its commit's flush."""
WRITE_THREADS_DEFAULT = 40
"""(anyio's default number of worker threads, which writes used before.)"""

INLINE_WAIT_SECONDS = 0.02
"""SQLite: how long a light write waits, on the loop and without holding it up, for the writers'
lock to come free (the trail's writer storing a batch, another write on a thread) before it
queues for a write thread instead (:func:`_write_here_soon`)."""
INLINE_POLL_SECONDS = 0.001

T = TypeVar("T")


async def _write_here_soon(store: Store) -> bool:
    """Whether a write was begun for the loop (:meth:`Store.begin_write_here`), trying again
    every millisecond for up to :data:`INLINE_WAIT_SECONDS` while another write holds the lock
    (the loop serves other requests meanwhile). A write queued for a thread whenever the lock is
    taken would keep the writes on threads under a steady load: each arrives while the one
    before runs there."""
    if store.begin_write_here():
        return True
    deadline = time.monotonic() + INLINE_WAIT_SECONDS
    while time.monotonic() < deadline:
        await asyncio.sleep(INLINE_POLL_SECONDS)
        if store.begin_write_here():
            return True
    return False


class _Job:
    """One write handed to ``WorkerThreads``: the work, the loop and the future that get its
    outcome, and a claim that either a thread (to run it) or the request (to cancel it before it
    runs) takes, never both: ``list.pop`` is atomic."""

    __slots__ = ("claim", "done", "error", "future", "loop", "result", "work")

    def __init__(self, work: Callable[[], object], loop: asyncio.AbstractEventLoop) -> None:
        self.work = work
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()
        self.claim = [True]
        self.done = False
        self.result: object = None
        self.error: BaseException | None = None

    def finish(self) -> None:
        """On the loop: the work has ended; wake whoever waits for it."""
        self.done = True
        if not self.future.done():
            self.future.set_result(None)


class _Pool:
    """The threads of one ``WorkerThreads`` between its start and its ``close``."""

    def __init__(self, name: str, size: int) -> None:
        self.name = name
        self.size = size
        self.queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.threads: list[threading.Thread] = []
        self.idle = 0
        self.lock = threading.Lock()

    def submit(self, job: _Job) -> None:
        self.queue.put(job)
        with self.lock:
            # As ThreadPoolExecutor: an idle thread is reserved for the job, or one more starts.
            if self.idle > 0:
                self.idle -= 1
                return
            if len(self.threads) >= self.size:
                return
            thread = threading.Thread(
                target=self._serve, name=f"{self.name}_{len(self.threads)}", daemon=True
            )
            self.threads.append(thread)
        thread.start()

    def _serve(self) -> None:
        get = self.queue.get
        while True:
            job = get()
            if job is None:
                return
            try:
                job.claim.pop()
            except IndexError:
                pass  # cancelled before it started: it never runs
            else:
                try:
                    job.result = job.work()
                except BaseException as error:  # (handed to the request, as a Future would)
                    job.error = error
                # (A closed loop: nobody waits for it any more.)
                with contextlib.suppress(RuntimeError):
                    job.loop.call_soon_threadsafe(job.finish)
                job = None  # (no reference to the work's result kept while idle)
            with self.lock:
                self.idle += 1

    def close(self) -> None:
        with self.lock:
            count = len(self.threads)
        for _ in range(count):
            self.queue.put(None)  # after the jobs queued already, which still run


class WorkerThreads:
    """Threads of iamd's own for the AWS pipeline's writes: the event loop queues a write with
    an asyncio future of its own, and the thread that runs it wakes the loop once to complete it
    (``call_soon_threadsafe``): no ``concurrent.futures.Future`` with its condition chained to an
    asyncio one (``loop.run_in_executor``), which cost about half the loop's side again, and far
    less than anyio's worker threads (Starlette's ``run_in_threadpool``: a capacity limiter, a
    cancel scope and checkpoints per call).

    As with those, a write that has started runs to its end, and the request waits for it
    however it is cancelled (its transaction commits or rolls back whole, never half); a
    write that has not started when its request is cancelled never runs. The threads start on
    first use (one more whenever no thread is idle, up to ``threads``) and end with ``close``
    (the app's shutdown, once the server has finished its requests; writes queued by then
    still run); a later write starts them again."""

    def __init__(self, threads: int, name: str = "iamd-write") -> None:
        self.threads = threads
        self._name = name
        self._pool: _Pool | None = None
        self._lock = threading.Lock()

    def _current(self) -> _Pool:
        pool = self._pool
        if pool is None:
            with self._lock:
                pool = self._pool
                if pool is None:
                    pool = self._pool = _Pool(self._name, self.threads)
        return pool

    async def run(self, work: Callable[[], T]) -> T:
        """``work()`` on one of the threads; its result or its exception."""
        job = _Job(work, asyncio.get_running_loop())
        self._current().submit(job)
        try:
            await job.future
        except asyncio.CancelledError:
            try:
                job.claim.pop()  # not started: now it never will
            except IndexError:
                # Running (or ended, its outcome not yet delivered): wait for its end, whatever
                # else is cancelled meanwhile. ``finish`` runs on this loop, so ``done`` cannot
                # change between the check and the wait.
                while not job.done:
                    job.future = job.loop.create_future()
                    with contextlib.suppress(asyncio.CancelledError):
                        await job.future
            raise
        if job.error is not None:
            error, job.error = job.error, None
            raise error
        return job.result  # type: ignore[return-value]

    def close(self) -> None:
        """Let the threads end once idle (without waiting: the loop must not block)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()


READY_TIMEOUT = 2.0
"""How long ``/iamd/ready`` waits for the database before it answers 503."""

READY_REUSE = 1.0
"""For how many seconds ``/iamd/ready`` answers what its last check found."""

SWITCH_INTERVAL = 0.001
"""How long a thread may hold Python's interpreter lock while another waits for it (Python's default
is 5 ms). The event loop takes and gives back the lock several times per request; while a heavy
operation computes on a worker thread, each time costs up to this long. With 1 ms a health check
answered in about 20 ms beside a simulation on a busy two-core machine, against 50-100 ms."""


CONSOLE_PREFIX = "/console"
"""``iamd.console.PREFIX``, here so that matching a request does not import the console (a unit
test keeps the copies equal; likewise below)."""
PORTAL_PATHS = ("/authorize", "/start")
"""The access portal's paths: ``/authorize`` and ``iamd.portal.app.PREFIX``."""
SCIM_PREFIX = "/scim/v2"
SAML_PREFIX = "/platform/saml"


def _console(pipeline: Pipeline) -> list[BaseRoute]:
    from iamd.console import console_mount

    return [console_mount(pipeline, CONSOLE_PREFIX)]


def _portal(pipeline: Pipeline) -> list[BaseRoute]:
    from iamd.portal.app import portal_routes

    return portal_routes(pipeline)


def _scim(pipeline: Pipeline) -> list[BaseRoute]:
    from iamd.scim.app import scim_mount

    return [scim_mount(pipeline)]


def _saml(pipeline: Pipeline) -> list[BaseRoute]:
    from iamd.portal.saml_app import saml_mount

    return [saml_mount(pipeline)]


def warm(app: Starlette) -> None:
    """What ``iamd serve`` does once it listens, on a thread of its own: build the routes left for
    first use (the console, the portal, SCIM, SAML), so that the first request to one of them does
    not build them on the event loop, then move the objects they made out of the garbage
    collector's way, as ``settle`` did for the rest before listening. ``gc.freeze()`` only: a full
    collection here would hold the interpreter lock throughout (80-400 ms on a busy machine), while
    the server answers its first requests."""
    for route in app.routes:
        if isinstance(route, LazyRoutes):
            route.routes  # noqa: B018  (builds them)
    gc.freeze()


IDLE_READ_END = 0.1
"""Seconds between the event loop's calls of ``Store.end_idle_read`` (:func:`end_idle_reads`)."""


def end_idle_reads(pipeline: Pipeline) -> None:
    """On the event loop (running), from now on: every :data:`IDLE_READ_END` seconds, end the read
    transaction the kept connection left open if no read has begun since the last time (see
    ``iamd.store.store.KeptPgReadSession``: on PostgreSQL, a read's transaction ends in the next
    read's first round trip; this ends it when no read comes). Nothing to do on SQLite."""
    loop = asyncio.get_running_loop()
    store = pipeline.store

    def tick() -> None:
        try:
            store.end_idle_read()
        except Exception:  # never stops the ticks (the store drops a connection that fails)
            log.exception("could not end the read left open on the kept connection")
        loop.call_later(IDLE_READ_END, tick)

    if store.backend == "postgresql":
        loop.call_later(IDLE_READ_END, tick)


def load_models(pipeline: Pipeline) -> None:
    """The service models the first requests would load."""
    for service in DEFAULT_SERVICES:
        pipeline.catalog.service(service)


def settle(pipeline: Pipeline) -> None:
    """Before serving, keep the event loop responsive beside heavy operations: load the service
    models the first requests would load, then move everything loaded so far (models, catalogs,
    code) out of the garbage collector's way, and shorten the interpreter's switch interval
    (``SWITCH_INTERVAL``). A full collection stops every thread, the event loop included; over the
    130,000 objects a started server holds it took 80-400 ms on a busy machine, during which not
    even a health check was answered. Frozen objects are never traversed again."""
    load_models(pipeline)
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(SWITCH_INTERVAL)


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole body from ASGI ``http.request`` messages, or :class:`RequestEntityTooLarge` as
    soon as it passes ``limit`` bytes (the rest is never read); ``ClientDisconnect`` when the
    client goes first (as Starlette's ``Request.stream`` raises it)."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.request":
            chunk: bytes = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise too_large(limit)
                parts.append(chunk)
            if not message.get("more_body", False):
                return parts[0] if len(parts) == 1 else b"".join(parts)
        elif kind == "http.disconnect":
            raise ClientDisconnect()


async def respond(send: Send, status: int, headers: dict[str, str], body: bytes) -> None:
    """Send an answer as Starlette's ``Response(body, status_code=status, headers=headers)``
    sends it: names lower-cased, a ``Content-Length`` added unless given (or the status has no
    body), no ``Content-Type`` of its own."""
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    if not (status < 200 or status in (204, 304)) and all(k != b"content-length" for k, _ in raw):
        raw.append((b"content-length", str(len(body)).encode("latin-1")))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class _Endpoint:
    """An ASGI application as a route's endpoint (Starlette calls an object that is not a
    function as an ASGI application, with the route's methods checked)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class IamdApp(Starlette):
    """Starlette, with AWS API requests to ``/`` (IAM, STS, the JSON protocols: nearly all of
    them) handed to the pipeline's ASGI application at once: Starlette's routing (the catch-all
    is the last of the routes), its middleware and its request and response objects cost a
    noticeable part of a read's CPU. Only requests that Starlette would route to the same
    catch-all go this way (``front``, worked out from the routes); an exception is answered as
    Starlette's ``ServerErrorMiddleware`` answers it (a plain 500 when nothing was sent yet) and
    raised again for the server to log."""

    def __init__(
        self,
        aws: ASGIApp,
        writes: WorkerThreads,
        routes: Sequence[BaseRoute],
        lifespan: Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]] | None = None,
    ) -> None:
        super().__init__(routes=list(routes), lifespan=lifespan)
        self._aws = aws
        self.writes = writes
        """Where the pipeline's writes run (closed at the app's shutdown)."""
        self.front = frozenset(m for m in _METHODS if _only_catch_all(self.routes, m))
        """The methods whose requests to ``/`` go straight to the pipeline."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != _FRONT_PATH
            or scope["method"] not in self.front
            or scope.get("root_path")
        ):
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        started = False

        async def sender(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self._aws(scope, receive, sender)
        except Exception:
            if not started:
                await PlainTextResponse("Internal Server Error", status_code=500)(scope, receive, send)
            raise


def _only_catch_all(routes: Sequence[BaseRoute], method: str) -> bool:
    """Whether a request to ``/`` with ``method`` matches none of ``routes`` but the last (the
    AWS catch-all), fully or partly (a partial match would answer 405)."""
    scope: Scope = {"type": "http", "path": _FRONT_PATH, "root_path": "", "method": method}
    *others, last = routes
    if last.matches(scope)[0] != Match.FULL:
        return False
    return all(route.matches(dict(scope))[0] == Match.NONE for route in others)


def create_app(
    pipeline: Pipeline,
    heavy_concurrency: int = HEAVY_CONCURRENCY,
    extra_routes: Sequence[BaseRoute] = (),
) -> IamdApp:
    """``extra_routes``: served before the AWS pipeline's catch-all (test mode's reset paths)."""
    heavy = anyio.CapacityLimiter(heavy_concurrency)
    writes = WorkerThreads(WRITE_THREADS.get(pipeline.store.backend, WRITE_THREADS_DEFAULT))
    store = pipeline.store
    inline = InlineWrites() if store.writes_here else None

    async def health(request: Request) -> Response:
        """200 once the server answers. ``trail``: the trail writer's state; an alarm (a spool
        that could not be stored, events that were not) makes the status ``degraded``."""
        body: dict[str, object] = {"status": "ok"}
        if pipeline.trail is not None:
            trail = pipeline.trail.writer.health()
            body["trail"] = trail
            if trail["status"] != "ok":
                body["status"] = "degraded"
        return JSONResponse(body)

    def database_answers() -> None:
        def probe(uow: UnitOfWork) -> None:
            uow.accounts.generations([AWS_ACCOUNT])

        pipeline.store.run(probe, readonly=True, attempts=1)

    checked: list[tuple[float, int, dict[str, object]]] = []
    checking = anyio.Lock()

    async def ready(request: Request) -> Response:
        """200 when this node can serve requests: its database answers a read within
        ``READY_TIMEOUT`` seconds; 503 otherwise, for a load balancer to send traffic elsewhere
        (``/iamd/health`` only says that the process answers). Unauthenticated, so one check at
        a time, its answer reused for ``READY_REUSE`` seconds: a flood of checks costs the
        database one read a second."""
        async with checking:
            if not checked or time.monotonic() - checked[0][0] > READY_REUSE:
                status = 200
                body: dict[str, object] = {"status": "ready", "database": pipeline.store.backend}
                try:
                    with anyio.fail_after(READY_TIMEOUT):
                        await anyio.to_thread.run_sync(database_answers, abandon_on_cancel=True)
                except TimeoutError:
                    status = 503
                    body = {"status": "unavailable", "database": f"no answer within {READY_TIMEOUT:g} s"}
                except Exception as error:  # whatever the driver raised: this node cannot serve
                    log.warning("readiness check: the database does not answer: %s", error)
                    status, body = 503, {"status": "unavailable", "database": type(error).__name__}
                checked[:] = [(time.monotonic(), status, body)]
            _, status, body = checked[0]
        return JSONResponse(body, status_code=status)

    def issuer_of(request: Request) -> oidc_issuer.Issuer | None:
        account_id = str(request.path_params["account_id"])
        if not (len(account_id) == 12 and account_id.isdigit()):
            return None

        def read(uow: UnitOfWork) -> oidc_issuer.Issuer | None:
            return oidc_issuer.find_issuer(uow, account_id)

        return pipeline.store.run(read, readonly=True)

    def not_found() -> Response:
        return JSONResponse({"error": "no outbound web identity federation issuer here"}, status_code=404)

    async def openid_configuration(request: Request) -> Response:
        issuer = await run_in_threadpool(issuer_of, request)
        if issuer is None:
            return not_found()
        return JSONResponse(oidc_issuer.discovery_document(issuer), headers={"Cache-Control": "max-age=300"})

    async def jwks(request: Request) -> Response:
        issuer = await run_in_threadpool(issuer_of, request)
        if issuer is None:
            return not_found()
        return JSONResponse(issuer.jwks, headers={"Cache-Control": "max-age=300"})

    async def aws(scope: Scope, receive: Receive, send: Send) -> None:
        """The AWS request pipeline as a plain ASGI application: served by the catch-all route,
        and straight from ``IamdApp`` for ``/`` (where the query and JSON protocols post)."""
        raw_path = scope.get("raw_path") or scope["path"].encode()
        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        head = HttpRequest.build(
            scope["method"],
            raw_path.decode("latin-1"),
            scope.get("query_string", b"").decode("latin-1"),
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw_headers],
        )
        # The headers first: how much body this caller may send (limits.py), refused before
        # reading past it.
        declared = declared_length(raw_headers)
        limit = ANONYMOUS_BODY_LIMIT
        if declared is None or declared > limit:
            limit = service_limit(await run_in_threadpool(pipeline.known_signer, head))
        try:
            if declared is not None and declared > limit:
                raise too_large(limit, declared)
            body = await read_body(receive, limit)
        except RequestEntityTooLarge as error:
            refused = pipeline.refuse(head, error)
            headers = {**dict(refused.headers), "Connection": "close"}
            await respond(send, refused.status, headers, refused.body)
            return
        http_request = HttpRequest(head.method, head.path, head.query_string, head.headers, body)
        client = scope.get("client")
        connection = Connection(
            source_ip=client[0] if client else "127.0.0.1",
            secure=scope.get("scheme") == "https",
        )
        # Reads take about a millisecond: run them here. Writes may take longer (password
        # hashing, SQLite's write lock), and some reads wait on the network (an OpenID Connect
        # provider's keys, possibly served by this very server): run those off the event loop.
        # Heavy operations (cost set by the caller's input or the account's size) run on worker
        # threads of their own, a few at a time, so they hold up neither the loop nor the
        # threads that writes use.
        routed = pipeline.route(http_request)
        if routed.heavy:
            work = functools.partial(pipeline.handle, http_request, connection, routed)
            answer = await anyio.to_thread.run_sync(work, limiter=heavy)
        elif routed.readonly and not routed.waits:
            answer = pipeline.handle(http_request, connection, routed)
        elif routed.readonly:
            # (Waits on the network: off the threads that writes take turns on.)
            answer = await run_in_threadpool(pipeline.handle, http_request, connection, routed)
        else:
            handle = functools.partial(pipeline.handle, http_request, connection, routed)
            key = None if routed.ref is None else (routed.ref.service_name, routed.ref.name)
            if inline is None or key is None or routed.waits or key in READS_THE_TRAIL:
                # (Never here: one that may wait on the network, or for the trail's writer,
                # which needs the writers' lock this loop would hold.)
                answer = await writes.run(handle)
            else:
                # SQLite: a light write runs here when no other write is under way
                # (iamd.server.inline_writes); others queue for a write thread. Both are measured.
                if inline.light(key, len(body)) and await _write_here_soon(store):
                    try:
                        answer = inline.measure(key, handle)
                    finally:
                        store.end_write_here()
                else:
                    answer = await writes.run(functools.partial(inline.measure, key, handle))
        # Header values must be Latin-1 on the wire; a character beyond it never fails the answer.
        headers = {k: v.encode("latin-1", "replace").decode("latin-1") for k, v in answer.headers}
        await respond(send, answer.status, headers, answer.body)

    async def console_entry(request: Request) -> Response:
        # ``/console`` (the README's link): the console's entry, which sends a visitor to sign in.
        return RedirectResponse(CONSOLE_PREFIX + "/", status_code=302)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            writes.close()

    return IamdApp(
        aws,
        writes,
        lifespan=lifespan,
        routes=[
            Route("/iamd/health", health, methods=["GET"]),
            Route("/iamd/ready", ready, methods=["GET"]),
            Route(
                oidc_issuer.issuer_path("{account_id}") + "/.well-known/openid-configuration",
                openid_configuration,
                methods=["GET"],
            ),
            Route(oidc_issuer.issuer_path("{account_id}") + "/.well-known/jwks.json", jwks, methods=["GET"]),
            Route(CONSOLE_PREFIX, console_entry, methods=["GET", "HEAD"]),
            LazyRoutes([CONSOLE_PREFIX], functools.partial(_console, pipeline)),
            LazyRoutes(PORTAL_PATHS, functools.partial(_portal, pipeline)),
            LazyRoutes([SCIM_PREFIX], functools.partial(_scim, pipeline)),
            LazyRoutes([SAML_PREFIX], functools.partial(_saml, pipeline)),
            *extra_routes,
            Route("/{path:path}", _Endpoint(aws), methods=_METHODS),
        ],
    )
