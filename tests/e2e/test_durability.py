"""Concurrent writers lose nothing, and a server killed with SIGKILL mid-load comes back with every
write it acknowledged."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
from botocore.parsers import ResponseParserError
from tests.e2e.harness import Server, start_server, stop_server


@pytest.fixture(scope="module")
def durable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("durable") / "data")
    yield running
    stop_server(running)


def test_eight_concurrent_clients_lose_and_corrupt_nothing(durable: Server) -> None:
    errors: list[str] = []
    kept: dict[int, list[str]] = {}

    def client_work(n: int) -> None:
        iam = durable.client()
        mine: list[str] = []
        try:
            for i in range(15):
                name = f"c{n}-u{i}"
                iam.create_user(UserName=name, Path=f"/c{n}/")
                mine.append(name)
                if i % 3 == 2:  # delete every third, so creates and deletes interleave across clients
                    iam.delete_user(UserName=mine.pop(0))
        except ClientError as exc:
            errors.append(str(exc))
        kept[n] = mine

    threads = [threading.Thread(target=client_work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    iam = durable.client()
    for n in range(8):
        listed = [u["UserName"] for u in iam.list_users(PathPrefix=f"/c{n}/")["Users"]]
        assert listed == sorted(kept[n]), n
        for name in listed:  # every listed user reads back whole
            assert iam.get_user(UserName=name)["User"]["Path"] == f"/c{n}/"


def test_sigkill_mid_load_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server(data)
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def load(n: int) -> None:
        iam = server.client()
        i = 0
        while not stop.is_set():
            name = f"k{n}-{i}"
            try:
                iam.create_user(UserName=name)
            except (
                ClientError,
                ConnectionClosedError,
                EndpointConnectionError,
                ReadTimeoutError,
                ResponseParserError,  # the answer's head sent, the kill before its body
                OSError,
            ):
                return  # the server died under this request: not acknowledged
            with lock:
                acknowledged.append(name)
            i += 1

    threads = [threading.Thread(target=load, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    stop.set()
    for t in threads:
        t.join()
    assert len(acknowledged) >= 40
    restarted = start_server(data, port=None)
    try:
        iam = restarted.client()
        names: set[str] = set()
        marker: dict[str, str] = {}
        while True:
            page = iam.list_users(MaxItems=1000, **marker)
            names.update(u["UserName"] for u in page["Users"])
            if not page["IsTruncated"]:
                break
            marker = {"Marker": page["Marker"]}
        missing = [n for n in acknowledged if n not in names]
        assert missing == []
    finally:
        stop_server(restarted)
