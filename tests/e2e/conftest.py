"""End-to-end fixtures: one real ``iamd serve`` per test module (see harness.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.e2e.harness import Server, start_server, stop_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("iamd") / "data")
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def iam(server: Server) -> Any:
    """An IAM client signed by the bootstrap administrator."""
    return server.client("iam")
