"""Reading a request body with a cap (issue 10, part 3)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from iamd.server.limits import ANONYMOUS_BODY_LIMIT, declared_length, read_capped, service_limit
from iamd.wire import RequestEntityTooLarge

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on a thread of its own: the browser tests' session-scoped Playwright keeps
    an event loop running in the main thread for the rest of the session."""
    with ThreadPoolExecutor(1) as worker:
        return worker.submit(asyncio.run, coroutine).result()


async def chunks(sizes: list[int], seen: list[int]) -> AsyncIterator[bytes]:
    for size in sizes:
        seen.append(size)
        yield b"a" * size


def test_a_body_under_the_cap_is_read_whole() -> None:
    seen: list[int] = []
    assert run(read_capped(chunks([10, 20], seen), 30)) == b"a" * 30


def test_reading_stops_at_the_chunk_that_passes_the_cap() -> None:
    seen: list[int] = []
    with pytest.raises(RequestEntityTooLarge) as caught:
        run(read_capped(chunks([10, 10, 10, 10, 10], seen), 25))
    assert seen == [10, 10, 10]  # the rest is never asked for
    assert caught.value.status == 413 and "25 bytes" in caught.value.message


def test_caps_by_signing_service() -> None:
    assert service_limit(None) == ANONYMOUS_BODY_LIMIT == 256 * 1024
    assert service_limit("iam") == 10 * 1024 * 1024
    assert service_limit("sts") == 256 * 1024
    assert service_limit("rolesanywhere") == 1024 * 1024
    assert service_limit("s3") == ANONYMOUS_BODY_LIMIT
    assert declared_length([(b"Content-Length", b"12")]) == 12
    assert declared_length([(b"transfer-encoding", b"chunked")]) is None
    assert declared_length([(b"host", b"x")]) == 0  # no body: no key lookup before reading it
