"""The AWS pipeline's writes run on iamd's own threads (iamd.server.app.WorkerThreads): results and
errors come back, a write that has started ends whole however its request is cancelled, one
that has not started never runs, and the threads end with the app (and start again if needed)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from tests.unit.server.test_app_front import FORM, _body, _call, _scope

from iamd.server.app import WRITE_THREADS, WorkerThreads, create_app
from iamd.server.pipeline import Pipeline


def _run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """On a loop of its own, in a thread of its own (as test_app_front runs its ASGI calls)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _threads(prefix: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(prefix)]


def test_results_and_errors_come_back() -> None:
    threads = WorkerThreads(2, name="iamd-test-results")

    def fail() -> None:
        raise ValueError("refused")

    async def main() -> tuple[str, int]:
        name = await threads.run(lambda: threading.current_thread().name)
        with pytest.raises(ValueError, match="refused"):
            await threads.run(fail)
        return name, await threads.run(lambda: 42)

    try:
        name, answer = _run(main())
        assert name.startswith("iamd-test-results") and answer == 42
    finally:
        threads.close()


def test_a_started_write_ends_whole_before_its_request_does() -> None:
    threads = WorkerThreads(1, name="iamd-test-started")
    started, release = threading.Event(), threading.Event()
    finished: list[str] = []

    def write() -> str:
        started.set()
        release.wait(10)
        finished.append("committed")
        return "done"

    async def main() -> None:
        task = asyncio.ensure_future(threads.run(write))
        while not started.is_set():
            await asyncio.sleep(0.005)
        task.cancel()
        await asyncio.sleep(0.05)
        assert not task.done()  # still waiting for the write, cancelled or not
        task.cancel()  # a second cancellation changes nothing
        await asyncio.sleep(0.02)
        assert not task.done()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert finished == ["committed"]

    try:
        _run(main())
    finally:
        release.set()
        threads.close()


def test_a_write_cancelled_before_it_starts_never_runs() -> None:
    threads = WorkerThreads(1, name="iamd-test-queued")
    started, release = threading.Event(), threading.Event()
    ran: list[str] = []

    def first() -> None:
        started.set()
        release.wait(10)

    async def main() -> None:
        busy = asyncio.ensure_future(threads.run(first))
        while not started.is_set():
            await asyncio.sleep(0.005)
        queued = asyncio.ensure_future(threads.run(lambda: ran.append("second")))
        await asyncio.sleep(0.02)
        queued.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued
        release.set()
        await busy
        await threads.run(lambda: None)  # after it, in order: the cancelled one would have run
        assert ran == []

    try:
        _run(main())
    finally:
        release.set()
        threads.close()


def test_close_ends_the_threads_and_a_later_write_starts_them_again() -> None:
    threads = WorkerThreads(2, name="iamd-test-close")

    async def one() -> int:
        return await threads.run(lambda: 1)

    assert _run(one()) == 1
    assert _threads("iamd-test-close")
    threads.close()
    for thread in _threads("iamd-test-close"):
        thread.join(5)
    assert not _threads("iamd-test-close")
    threads.close()  # twice: nothing to do
    assert _run(one()) == 1  # started again
    threads.close()


def test_the_apps_writes_run_on_its_threads_and_end_with_it(
    live: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(live.pipeline)
    assert app.writes.threads == WRITE_THREADS["sqlite"]
    seen: dict[str, str] = {}
    handle = Pipeline.handle

    def recording(self: Pipeline, request: Any, *args: Any) -> Any:
        action = request.form_params.get("Action", "")
        seen[action] = threading.current_thread().name
        return handle(self, request, *args)

    monkeypatch.setattr(Pipeline, "handle", recording)
    write = live.request(
        "iam",
        "POST",
        "/",
        b"Action=TagUser&UserName=iamd-admin&Tags.member.1.Key=k&Tags.member.1.Value=v&Version=2010-05-08",
        FORM,
    )
    read = live.request("iam", "POST", "/", b"Action=GetUser&Version=2010-05-08", FORM)
    for request in (write, read):
        start, answer = _call(app, _scope(request), _body(request))
        assert start["status"] == 200, answer
    assert seen["TagUser"].startswith("iamd-write")
    assert not seen["GetUser"].startswith("iamd-write")  # reads stay on the event loop

    # The app's shutdown (the ASGI lifespan, after the server has finished its requests) ends them.
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if not messages:
            await asyncio.sleep(3600)
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    _run(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert app.writes._pool is None


def test_more_writes_than_threads_all_end_on_at_most_that_many_threads() -> None:
    threads = WorkerThreads(2, name="iamd-test-many")
    names: set[str] = set()
    lock = threading.Lock()

    def write(n: int) -> int:
        with lock:
            names.add(threading.current_thread().name)
        return n * n

    async def main() -> list[int]:
        return list(await asyncio.gather(*(threads.run(lambda n=n: write(n)) for n in range(50))))

    try:
        assert _run(main()) == [n * n for n in range(50)]
        assert 1 <= len(names) <= 2
        assert len(_threads("iamd-test-many")) <= 2
    finally:
        threads.close()


def test_a_write_whose_loop_has_gone_does_not_stop_its_thread() -> None:
    threads = WorkerThreads(1, name="iamd-test-gone")
    started, release = threading.Event(), threading.Event()

    async def abandon() -> None:
        task = asyncio.ensure_future(threads.run(lambda: (started.set(), release.wait(10))))
        while not started.is_set():
            await asyncio.sleep(0.005)
        del task  # the loop ends with the write still running

    async def later() -> int:
        return await threads.run(lambda: 7)

    try:
        with contextlib.suppress(Exception):
            _run(abandon())
        release.set()
        assert _run(later()) == 7  # the thread delivered nowhere, then took the next write
    finally:
        release.set()
        threads.close()
