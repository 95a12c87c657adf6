"""Hostile requests cannot stall the server (issue 10): a wildcard pattern built to make a
backtracking matcher run for hours is answered in milliseconds, a simulation larger than the request
budget is refused with a clear error (and recorded), and while either runs the health check and
other clients are answered promptly. The server runs with ``--request-budget 1``."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from tests.e2e.harness import ACCOUNT_ID, REGION, Server, start_server, stop_server
from tests.e2e.policy_helpers import allow, error_of, policy

HEALTH_WITHIN = 0.1
"""The issue's bound: every health check answered within 100 ms while a hostile request runs."""

USERS = f"arn:aws:iam::{ACCOUNT_ID}:user/"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("iamd") / "data", "--request-budget", "1")
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def iam(server: Server) -> Any:
    """The administrator's client: one attempt (no retry doubling a refused request), and a read
    timeout that ends the test if the server never answers."""
    client = boto3.client(
        "iam",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=server.access_key_id,
        aws_secret_access_key=server.secret_access_key,
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=20),
    )
    # The first calls load what a server loads once (policies compiled, caches filled).
    client.get_user()
    client.simulate_custom_policy(
        PolicyInputList=[policy(allow("iam:GetUser", USERS + "*"))], ActionNames=["iam:GetUser"]
    )
    return client


class HealthWatch:
    """Polls ``GET /iamd/health`` from a thread of its own, as a load balancer would, and keeps
    how long each answer took (a poll that gets no answer within 2 s counts as 2 s)."""

    def __init__(self, server: Server) -> None:
        self.url = f"{server.endpoint}/iamd/health"
        self.times: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            start = time.perf_counter()
            try:
                with urllib.request.urlopen(self.url, timeout=2) as answer:
                    ok = answer.status == 200 and json.load(answer)["status"] == "ok"
            except OSError:
                ok = False
            self.times.append(time.perf_counter() - start if ok else 2.0)
            self._stop.wait(0.01)

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        time.sleep(0.05)  # polling before the hostile request goes out
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.05)
        self._stop.set()
        self._thread.join()

    def assert_prompt(self) -> None:
        assert self.times, "no health check was answered"
        slow = sorted((round(t * 1000) for t in self.times if t >= HEALTH_WITHIN), reverse=True)
        assert not slow, f"{len(slow)} of {len(self.times)} health checks took 100 ms or more: {slow[:10]} ms"


@pytest.mark.parametrize(("stars", "length"), [(13, 64), (30, 2000)])
def test_a_pathological_wildcard_is_answered_while_health_checks_stay_prompt(
    server: Server, iam: Any, stars: int, length: int
) -> None:
    """``*a`` repeated, then ``*b``, against a name of ``a`` only: a backtracking regex tries every
    way to share the name among the stars (13 stars on 64 characters: hours)."""
    pattern = USERS + "*a" * (stars - 1) + "*b"
    document = policy(allow("iam:GetUser", pattern))
    names = [USERS + "a" * length, USERS + "a" * (length - 1) + "b"]
    with HealthWatch(server) as watch:
        started = time.perf_counter()
        answer = iam.simulate_custom_policy(
            PolicyInputList=[document], ActionNames=["iam:GetUser"], ResourceArns=names
        )
        took = time.perf_counter() - started
    decisions = {r["EvalResourceName"]: r["EvalDecision"] for r in answer["EvaluationResults"]}
    assert decisions == {names[0]: "implicitDeny", names[1]: "allowed"}
    assert took < 2, f"the simulation took {took:.1f} s"
    watch.assert_prompt()


def _statements(count: int) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": f"S{i}",
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "iam:PassRole", "ec2:Describe*"],
                    "Resource": f"arn:aws:s3:::bucket{i}/*",
                    "Condition": {"StringEquals": {"aws:SourceIp": "10.0.0.1"}},
                }
                for i in range(count)
            ],
        }
    )


def test_validate_policy_is_bounded_and_does_not_hold_up_health_checks(server: Server) -> None:
    """Access Analyzer's ValidatePolicy (allowed by SecurityAudit-style read-only policies): a
    document of some 900 KB, under the JSON services' 1 MiB body cap, took 2 s of checks on the
    event loop and held every other client up for as long. Documents are bounded as IAM bounds
    policy documents (131,072 characters), and validation runs on a worker thread."""
    analyzer = server.client("accessanalyzer")
    huge = _statements(4500)
    with pytest.raises(ClientError) as refused:
        analyzer.validate_policy(policyType="IDENTITY_POLICY", policyDocument=huge)
    status, code, message = error_of(refused)
    assert (status, code) == (400, "ValidationException")
    assert "131072" in message and str(len(huge)) in message
    largest = _statements(600)
    assert len(largest) <= 131072
    with HealthWatch(server) as watch:
        answer = analyzer.validate_policy(policyType="IDENTITY_POLICY", policyDocument=largest, maxResults=10)
    assert len(answer["findings"]) == 10 and "nextToken" in answer
    watch.assert_prompt()


def _oversized(count: int) -> dict[str, Any]:
    """A simulation of count x count actions and resources against a policy of 100 statements
    that all apply: far more than one second of work."""
    statements = [allow("s3:Get*", f"arn:aws:s3:::bucket-{i}/*") for i in range(100)]
    return {
        "PolicyInputList": [policy(*statements)],
        "ActionNames": [f"s3:GetObject{i}" for i in range(count)],
        "ResourceArns": [f"arn:aws:s3:::bucket-{i % 100}/key-{i}" for i in range(count)],
    }


def test_a_simulation_over_the_budget_is_refused_and_recorded(server: Server, iam: Any) -> None:
    with HealthWatch(server) as watch, pytest.raises(ClientError) as exc:
        iam.simulate_custom_policy(**_oversized(200))
    status, code, message = error_of(exc)
    assert (status, code) == (400, "InvalidInput")
    assert message.startswith("The simulation did not finish within its time budget of 1 seconds: ")
    assert "of 40000 combinations of ActionNames and ResourceArns" in message
    assert message.endswith("Simulate fewer actions or resources, or smaller policies, per request.")
    watch.assert_prompt()

    trail = server.client("cloudtrail")
    events = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "SimulateCustomPolicy"}]
    )["Events"]
    records = [json.loads(e["CloudTrailEvent"]) for e in events]
    refused = [r for r in records if r.get("errorCode") == "InvalidInputException"]
    assert len(refused) == 1 and refused[0]["errorMessage"] == message


def test_heavy_requests_do_not_hold_up_reads_or_writes(server: Server, iam: Any) -> None:
    """Four oversized simulations at once (each refused after its one-second budget, two at a
    time): meanwhile a cheap read and a write are each answered within half a second."""
    timings: dict[str, list[float]] = {"read": [], "write": []}
    with ThreadPoolExecutor(4) as pool:
        heavy = [pool.submit(iam.simulate_custom_policy, **_oversized(200)) for _ in range(4)]
        time.sleep(0.2)
        for i in range(3):
            started = time.perf_counter()
            iam.get_user()
            timings["read"].append(time.perf_counter() - started)
            started = time.perf_counter()
            iam.create_user(UserName=f"hostile-{i}")
            timings["write"].append(time.perf_counter() - started)
        still_running = sum(not f.done() for f in heavy)
        for future in heavy:
            with pytest.raises(ClientError) as exc:
                future.result()
            assert error_of(exc)[:2] == (400, "InvalidInput")
    assert still_running > 0, "the simulations ended before the reads and writes were timed"
    slow = {kind: [round(t, 2) for t in times if t >= 0.5] for kind, times in timings.items()}
    assert slow == {"read": [], "write": []}
    assert {u["UserName"] for u in iam.list_users()["Users"]} >= {"hostile-0", "hostile-1", "hostile-2"}
