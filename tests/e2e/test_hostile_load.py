"""The server's memory stays flat under hostile traffic (issue 10: after 22,000 hostile requests
it had grown from 130 MB to 912 MB). 10,000 requests of the nine kinds in ``hostile.KINDS``
(unsigned, malformed signatures, unknown and random access key ids, wrong regions, oversized
bodies, random paths and actions, expired presigned URLs, bad session tokens) from 4 threads,
to 127.0.0.1 only; bounded in count, and in time by each request's timeout."""

from __future__ import annotations

import http.client
import random
import threading

from tests.e2e import hostile
from tests.e2e.harness import Server

WARM_UP = 1_000
REQUESTS = 10_000
RSS_GROWTH_BOUND = 40 * 1024 * 1024
"""Allowed growth after warm-up. Measured: +4 MiB (126 MiB to 130 MiB, 24 s); the same traffic
held a 64 MiB body's connection open per oversized request before this bound existed."""


def test_rss_stays_flat_under_large_bodies_with_bad_signatures(server: Server) -> None:
    """Bodies of 6 MiB under IAM's cap (10 MiB), signed with the administrator's key id (which is
    no secret: it is in every trail record) and a wrong signature. Before, the trail held each
    refused request's traceback, and with it the request and its body, until a full collection:
    160 such bodies took the server from 124 MiB to 450 MiB (measured without the fix)."""
    port = int(server.endpoint.rsplit(":", 1)[1])
    pid = server.process.pid
    before = hostile.rss_bytes(pid)
    body = b"Action=GetUser&Version=2010-05-08&Pad=" + b"a" * (6 * 1024 * 1024)
    statuses: list[int] = []

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(40):
            headers = {**hostile.signed_query(server.access_key_id, "us-east-1", rng).headers}
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                conn.request("POST", "/", body=body, headers=headers)
                answer = conn.getresponse()
                answer.read()
                statuses.append(answer.status)
            finally:
                conn.close()

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    after = hostile.rss_bytes(pid)
    assert statuses == [403] * 160
    assert after - before < 64 * 1024 * 1024, f"RSS {before / 2**20:.0f} -> {after / 2**20:.0f} MiB"


def test_rss_stays_flat_under_10000_hostile_requests(server: Server) -> None:
    port = int(server.endpoint.rsplit(":", 1)[1])
    pid = server.process.pid
    hostile.send(port, WARM_UP, threads=4, real_key=server.access_key_id, seed=99, timeout=5)
    before = hostile.rss_bytes(pid)
    outcome = hostile.send(port, REQUESTS, threads=4, real_key=server.access_key_id, seed=7, timeout=5)
    after = hostile.rss_bytes(pid)
    rss = f"RSS {before / 2**20:.0f} -> {after / 2**20:.0f} MiB"
    print(f"{rss}; {outcome.elapsed:.1f} s; {dict(outcome.statuses)}")

    assert sum(outcome.statuses.values()) == REQUESTS
    # Every request got an AWS answer: a refusal, never a 500, never a dropped connection.
    assert set(outcome.statuses) <= {400, 403, 404, 413}, outcome.statuses
    assert set(outcome.by_kind["oversized"]) == {413}
    assert set(outcome.by_kind["wrong_region"]) == {403}
    assert outcome.elapsed < 90, f"{REQUESTS} requests took {outcome.elapsed:.1f} s"
    assert after - before < RSS_GROWTH_BOUND, (
        f"RSS grew by {(after - before) / 2**20:.1f} MiB ({before / 2**20:.0f} -> {after / 2**20:.0f} MiB)"
    )
    # And the server still serves its real callers.
    assert server.client("iam").get_user()["User"]["UserName"] == "iamd-admin"
