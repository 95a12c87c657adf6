"""Browser tests: the console in headless Chromium (Debian's /usr/bin/chromium), driven by
Playwright. Browsers are never downloaded (no ``playwright install``): CI installs Debian's
``chromium`` package and the ``playwright`` Python package."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.harness import Server, start_server, stop_server

CHROMIUM = os.environ.get("IAMD_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


def console_url(server: Server) -> str:
    """The console by the name ``localhost``: a secure context for WebAuthn over http, and a
    valid relying party id (an IP address is not)."""
    port = server.endpoint.rsplit(":", 1)[1]
    return f"http://localhost:{port}/console"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("browser") / "data")
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def iam(server: Server) -> Any:
    return server.client("iam")


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
