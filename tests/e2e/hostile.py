"""Hostile traffic for a server on loopback: what an anonymous caller on the network can send
without knowing a secret. Used by ``tests/e2e/test_hostile_load.py`` (bounded: 10,000 requests)
and ``bench/hostile.py`` (a longer campaign). Loopback only; every loop is bounded in count.

Each request is one of these kinds, in turn (``KINDS``):

- ``unsigned``: a query-protocol call with no signature at all;
- ``malformed``: an ``Authorization`` header of the wrong shape (algorithm, fields, dates);
- ``unknown_key``: a well-formed signature by an access key that does not exist;
- ``random_key``: random text as the access key id (long, odd characters);
- ``wrong_region``: the real access key id, signed for a region that does not exist (the
  signature itself is wrong too: the secret is unknown to an attacker);
- ``oversized``: a body announced far larger than any AWS API takes (only its start is sent);
- ``random_action``: random paths and random ``Action`` names;
- ``expired_presigned``: a presigned URL two days old with ``X-Amz-Expires=60``;
- ``bad_token``: an ``ASIA`` key with a random session token.

Random values are fresh for every request, so any cache keyed by what a caller sends would grow.
"""

from __future__ import annotations

import http.client
import random
import secrets
import string
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

FORM = "application/x-www-form-urlencoded; charset=utf-8"
OVERSIZED_ANNOUNCED = 64 * 1024 * 1024
OVERSIZED_SENT = 64 * 1024


@dataclass(frozen=True)
class Hostile:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    announced: int | None = None
    """``Content-Length`` announced when it differs from the body's (only its start is sent)."""


def _amz_now(offset: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + offset).strftime("%Y%m%dT%H%M%SZ")


def _random_text(rng: random.Random, size: int) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(size))


def _authorization(key_id: str, date: str, region: str, service: str, rng: random.Random) -> str:
    signature = "".join(rng.choice("0123456789abcdef") for _ in range(64))
    return (
        f"AWS4-HMAC-SHA256 Credential={key_id}/{date}/{region}/{service}/aws4_request, "
        f"SignedHeaders=content-type;host;x-amz-date, Signature={signature}"
    )


def signed_query(key_id: str, region: str, rng: random.Random, action: str = "GetUser") -> Hostile:
    amz = _amz_now()
    body = urlencode({"Action": action, "Version": "2010-05-08"}).encode()
    return Hostile(
        "POST",
        "/",
        {
            "Content-Type": FORM,
            "X-Amz-Date": amz,
            "Authorization": _authorization(key_id, amz[:8], region, "iam", rng),
        },
        body,
    )


def unsigned(rng: random.Random, real_key: str) -> Hostile:
    action = rng.choice(["GetUser", "ListUsers", "CreateUser", "GetCallerIdentity"])
    body = urlencode({"Action": action, "Version": "2010-05-08", "UserName": _random_text(rng, 12)})
    return Hostile("POST", "/", {"Content-Type": FORM}, body.encode())


def malformed(rng: random.Random, real_key: str) -> Hostile:
    amz = _amz_now()
    header = rng.choice(
        [
            f"AWS4-HMAC-SHA512 Credential={real_key}/{amz[:8]}/us-east-1/iam/aws4_request",
            f"AWS4-HMAC-SHA256 Credential={_random_text(rng, 30)}",
            "AWS4-HMAC-SHA256 " + _random_text(rng, rng.randint(1, 2000)),
            f"AWS4-HMAC-SHA256 Credential={real_key}/{amz[:8]}/us-east-1/iam/aws4_request, "
            "SignedHeaders=x-amz-date, Signature=00",
            "Basic " + _random_text(rng, 40),
        ]
    )
    headers = {"Content-Type": FORM, "Authorization": header}
    if rng.random() < 0.5:
        headers["X-Amz-Date"] = rng.choice([amz, "yesterday", "２０２６１２０６Ｔ０００００００Ｚ"])
    return Hostile("POST", "/", headers, b"Action=GetUser&Version=2010-05-08")


def unknown_key(rng: random.Random, real_key: str) -> Hostile:
    return signed_query(
        "AKIA" + "".join(rng.choice(string.ascii_uppercase + "234567") for _ in range(16)), "us-east-1", rng
    )


def random_key(rng: random.Random, real_key: str) -> Hostile:
    key = "".join(
        rng.choice(string.ascii_letters + string.digits + "-_.~") for _ in range(rng.randint(1, 200))
    )
    return signed_query(key, "us-east-1", rng)


def wrong_region(rng: random.Random, real_key: str) -> Hostile:
    region = rng.choice(["xx", "mars", "us-east"]) + "-" + _random_text(rng, rng.randint(1, 40)).lower()
    return signed_query(real_key, region, rng)


def oversized(rng: random.Random, real_key: str) -> Hostile:
    body = b"Action=GetUser&Version=2010-05-08&Pad=" + b"a" * (OVERSIZED_SENT - 38)
    headers = {"Content-Type": FORM}
    if rng.random() < 0.5:
        amz = _amz_now()
        headers["X-Amz-Date"] = amz
        headers["Authorization"] = _authorization(real_key, amz[:8], "us-east-1", "iam", rng)
    return Hostile("POST", "/", headers, body, announced=OVERSIZED_ANNOUNCED)


def random_action(rng: random.Random, real_key: str) -> Hostile:
    path = "/" + "/".join(_random_text(rng, rng.randint(1, 20)) for _ in range(rng.randint(0, 4)))
    action = _random_text(rng, rng.randint(1, 60))
    if rng.random() < 0.5:
        return Hostile("GET", f"{path}?Action={action}&Version=2010-05-08", {}, b"")
    hostile = signed_query(real_key, "us-east-1", rng, action=action)
    return Hostile("POST", path, hostile.headers, hostile.body)


def expired_presigned(rng: random.Random, real_key: str) -> Hostile:
    amz = _amz_now(-timedelta(days=2))
    query = {
        "Action": "GetUser",
        "Version": "2010-05-08",
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": f"{real_key}/{amz[:8]}/us-east-1/iam/aws4_request",
        "X-Amz-Date": amz,
        "X-Amz-Expires": "60",
        "X-Amz-SignedHeaders": "host",
        "X-Amz-Signature": "".join(rng.choice("0123456789abcdef") for _ in range(64)),
    }
    return Hostile("GET", "/?" + urlencode(query, quote_via=quote), {}, b"")


def bad_token(rng: random.Random, real_key: str) -> Hostile:
    key = "ASIA" + "".join(rng.choice(string.ascii_uppercase + "234567") for _ in range(16))
    hostile = signed_query(key, "us-east-1", rng)
    token = secrets.token_urlsafe(rng.randint(16, 3000))
    return Hostile(
        hostile.method, hostile.target, {**hostile.headers, "X-Amz-Security-Token": token}, hostile.body
    )


KINDS: dict[str, Callable[[random.Random, str], Hostile]] = {
    "unsigned": unsigned,
    "malformed": malformed,
    "unknown_key": unknown_key,
    "random_key": random_key,
    "wrong_region": wrong_region,
    "oversized": oversized,
    "random_action": random_action,
    "expired_presigned": expired_presigned,
    "bad_token": bad_token,
}


@dataclass
class Outcome:
    statuses: Counter[int] = field(default_factory=Counter)
    """HTTP status per answer; 0 for a connection the server closed without an answer."""
    by_kind: dict[str, Counter[int]] = field(default_factory=dict)
    elapsed: float = 0.0


def send(
    port: int, requests: int, *, threads: int = 4, real_key: str, seed: int = 1, timeout: float = 10.0
) -> Outcome:
    """Send ``requests`` hostile requests (kinds in turn) from ``threads`` threads over keep-alive
    connections to 127.0.0.1:``port``; a connection the server closes is opened again."""
    outcome = Outcome(by_kind={kind: Counter() for kind in KINDS})
    lock = threading.Lock()
    names = list(KINDS)
    counter = iter(range(requests))

    def worker(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        conn: http.client.HTTPConnection | None = None
        while True:
            with lock:
                index = next(counter, None)
            if index is None:
                break
            kind = names[index % len(names)]
            hostile = KINDS[kind](rng, real_key)
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            status = 0
            try:
                conn.putrequest(hostile.method, hostile.target, skip_accept_encoding=True)
                for name, value in hostile.headers.items():
                    conn.putheader(name, value.encode("utf-8"))
                length = hostile.announced if hostile.announced is not None else len(hostile.body)
                conn.putheader("Content-Length", str(length))
                conn.endheaders()
                if hostile.body:
                    conn.send(hostile.body)
                answer = conn.getresponse()
                answer.read()
                status = answer.status
                if answer.will_close or hostile.announced is not None:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = None
            with lock:
                outcome.statuses[status] += 1
                outcome.by_kind[kind][status] += 1
        if conn is not None:
            conn.close()

    started = time.perf_counter()
    workers = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    outcome.elapsed = time.perf_counter() - started
    return outcome


def rss_bytes(pid: int) -> int:
    """The resident set size of process ``pid`` (Linux ``/proc``)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")
