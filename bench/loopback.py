"""What the server benchmarks share: a free port, waiting for ``/iamd/health``, SigV4-signed query
requests made once, and a closed-loop load of one request from several threads over keep-alive
connections (latencies in seconds)."""

from __future__ import annotations

import http.client
import socket
import statistics
import subprocess
import threading
import time
import urllib.request

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SignedRequest = tuple[dict[str, str], bytes]
"""Headers and body of a signed ``POST /``: sent again and again as is."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early ({process.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} not ready")


def signed(
    endpoint: str, service: str, body: str, key: str, secret: str, token: str | None = None
) -> SignedRequest:
    """A query-protocol ``POST /`` to ``service`` (iam, sts) signed for us-east-1."""
    raw = body.encode()
    request = AWSRequest(
        "POST",
        endpoint + "/",
        data=raw,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials(key, secret, token), service, "us-east-1").add_auth(request)
    return dict(request.headers.items()), raw


def hammer(port: int, request: SignedRequest, seconds: float, threads: int) -> tuple[float, list[float]]:
    """Send ``request`` from ``threads`` threads for ``seconds``: (requests per second, the sorted
    latencies). Any answer but 200 stops the run with its text."""
    stop = time.monotonic() + seconds
    latencies: list[list[float]] = [[] for _ in range(threads)]
    failures: list[str] = []

    def worker(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.connect()
        assert conn.sock is not None
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle delay before the body
        headers, body = request
        while time.monotonic() < stop:
            started = time.perf_counter()
            conn.request("POST", "/", body=body, headers=headers)
            answer = conn.getresponse()
            data = answer.read()
            if answer.status != 200:
                failures.append(data.decode(errors="replace")[:300])
                return
            latencies[n].append(time.perf_counter() - started)
        conn.close()

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"request failed: {failures[0]}")
    flat = sorted(x for part in latencies for x in part)
    return len(flat) / elapsed, flat


def figures(latencies: list[float]) -> str:
    """Median and p99 of sorted latencies, in milliseconds."""
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
    return f"median {statistics.median(latencies) * 1000:6.2f} ms   p99 {p99 * 1000:6.2f} ms"
