"""pytest fixtures for testing against iamd: one ``iamd serve --test-mode`` for the whole session,
and a fresh account for every test (``POST /iamd/reset`` puts it back to its first-start state in
milliseconds). Copy this file next to your tests; ``iamd`` must be on PATH.

    def test_something(aws):                      # aws: a boto3 Session, profile "iamd"
        iam = aws.client("iam")
        iam.create_user(UserName="alice")         # gone before the next test

``aws_root`` signs as the account's root user (profile ``iamd-root``, test mode only).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator

import boto3
import pytest


@pytest.fixture(scope="session")
def iamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The endpoint of an iamd running in test mode on a fresh data directory."""
    data = tmp_path_factory.mktemp("iamd")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        ["iamd", "serve", "--test-mode", "--data-dir", str(data), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/iamd/health", timeout=1)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("iamd serve did not start") from None
            time.sleep(0.1)
    # The profiles iamd and iamd-root (with the endpoint) are in the data directory.
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(data / "credentials")
    os.environ["AWS_CONFIG_FILE"] = str(data / "config")
    yield endpoint
    server.terminate()
    server.wait()


@pytest.fixture
def aws(iamd: str) -> boto3.Session:
    """A fresh account for this test, as its administrator (profile ``iamd``)."""
    urllib.request.urlopen(urllib.request.Request(f"{iamd}/iamd/reset", method="POST"))
    return boto3.Session(profile_name="iamd")


@pytest.fixture
def aws_root(aws: boto3.Session) -> boto3.Session:
    """The same fresh account, as its root user (profile ``iamd-root``)."""
    return boto3.Session(profile_name="iamd-root")
