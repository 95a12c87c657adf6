"""Issue 10's findings as a caller on the network or a user on the host meets them: request bodies
refused past their cap before they are read, SigV4 as strict as AWS (regions, repeated headers),
the last use of a key recorded for denied calls, no AssumeRole for the root user, and data files
that only the server's user can read."""

from __future__ import annotations

import json
import os
import socket
import stat
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from tests.e2e.harness import ACCOUNT_ID, CLIENT_CONFIG, Server, open_data_store, start_server, stop_server
from tests.e2e.policy_helpers import error_of

from iamd.secrets import RandomIds

FORM = "application/x-www-form-urlencoded; charset=utf-8"


def raw_exchange(server: Server, head: bytes, body: bytes = b"", timeout: float = 10.0) -> tuple[int, bytes]:
    """Send ``head`` (request line and headers) then ``body`` on a fresh connection and read
    the answer until the server closes it: (status, whole answer)."""
    parts = urlsplit(server.endpoint)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=timeout) as sock:
        sock.sendall(head + body)
        received = b""
        while b"\r\n\r\n" not in received or not _complete(received):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    status = int(received.split(b" ", 2)[1]) if received else 0
    return status, received


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return False


def signed_head(server: Server, body: bytes, *, length: int | None = None, key: str | None = None) -> bytes:
    """Headers of an IAM GetUser POST signed by the administrator (``key``: another key id)."""
    request = AWSRequest("POST", server.endpoint + "/", data=body, headers={"Content-Type": FORM})
    SigV4Auth(
        Credentials(key or server.access_key_id, server.secret_access_key), "iam", "us-east-1"
    ).add_auth(request)
    host = urlsplit(server.endpoint).netloc
    lines = [b"POST / HTTP/1.1", f"Host: {host}".encode()]
    lines += [f"{k}: {v}".encode() for k, v in request.headers.items() if k.lower() != "content-length"]
    lines.append(f"Content-Length: {len(body) if length is None else length}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n"


def unsigned_head(server: Server, length: int) -> bytes:
    host = urlsplit(server.endpoint).netloc
    return (
        f"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: {FORM}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


# --- 3. request bodies ----------------------------------------------------------------------------


def test_an_announced_500_mb_body_is_refused_before_it_is_read(server: Server) -> None:
    """No body is sent at all: the answer comes from the headers alone."""
    started = time.monotonic()
    status, answer = raw_exchange(server, unsigned_head(server, 500 * 1024 * 1024))
    assert time.monotonic() - started < 5
    assert status == 413
    assert b"<Code>RequestEntityTooLarge</Code>" in answer
    assert b"262144 bytes" in answer  # an unsigned caller may send 256 KiB


def test_a_signed_50_mb_get_user_is_refused(server: Server) -> None:
    """The caller's key exists and the signature's shape is right: IAM's cap (10 MiB) applies."""
    status, answer = raw_exchange(server, signed_head(server, b"Action=GetUser", length=50 * 1024 * 1024))
    assert status == 413
    assert b"<Code>RequestEntityTooLarge</Code>" in answer and b"10485760 bytes" in answer


def test_an_unknown_key_may_not_send_more_than_an_anonymous_caller(server: Server) -> None:
    head = signed_head(server, b"Action=GetUser", length=1024 * 1024, key="AKIAUNKNOWNKEY000000")
    status, answer = raw_exchange(server, head)
    assert status == 413 and b"262144 bytes" in answer


def test_a_chunked_body_is_cut_off_at_the_cap(server: Server) -> None:
    host = urlsplit(server.endpoint).netloc
    head = (
        f"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: {FORM}\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    piece = b"a" * 65536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(5))  # 320 KiB, no end
    status, answer = raw_exchange(server, head, chunks)
    assert status == 413 and b"RequestEntityTooLarge" in answer


def test_a_body_under_the_cap_still_works(server: Server, iam: Any) -> None:
    body = b"Action=GetUser&Version=2010-05-08&Pad=" + b"a" * (512 * 1024)  # over the anonymous cap
    status, answer = raw_exchange(server, signed_head(server, body), body)
    assert status == 200, answer[-500:]
    assert b"<UserName>iamd-admin</UserName>" in answer


def test_the_console_takes_small_forms_only(server: Server) -> None:
    host = urlsplit(server.endpoint).netloc
    head = (
        f"POST /console/signin HTTP/1.1\r\nHost: {host}\r\nContent-Type: {FORM}\r\n"
        f"Content-Length: {10 * 1024 * 1024}\r\n\r\n"
    ).encode()
    status, _ = raw_exchange(server, head)
    assert status == 413


# --- 7. SigV4 as strict as AWS ------------------------------------------------------------------


def client_in(server: Server, service: str, region: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name=region,
        aws_access_key_id=server.access_key_id,
        aws_secret_access_key=server.secret_access_key,
        config=CLIENT_CONFIG,
    )


def test_iam_takes_real_regions_only(server: Server) -> None:
    """AWS refuses a credential scope whose region does not exist: "Credential should be scoped to
    a valid region, not '…'. " (aws-sdk-go#156). A real region other than us-east-1 is what boto3
    signs IAM with when pointed at iamd from a client in that region (iamd.wire.regions)."""
    with pytest.raises(ClientError) as exc:
        client_in(server, "iam", "mars-north-9").get_user()
    assert error_of(exc) == (
        403,
        "SignatureDoesNotMatch",
        "Credential should be scoped to a valid region, not 'mars-north-9'. ",
    )
    assert client_in(server, "iam", "eu-west-1").get_user()["User"]["UserName"] == "iamd-admin"
    assert client_in(server, "iam", "us-east-1").get_user()["User"]["UserName"] == "iamd-admin"


def test_sts_takes_real_regions_only(server: Server) -> None:
    assert client_in(server, "sts", "eu-west-1").get_caller_identity()["Account"] == ACCOUNT_ID
    with pytest.raises(ClientError) as exc:
        client_in(server, "sts", "mars-north-9").get_caller_identity()
    assert error_of(exc)[:2] == (403, "SignatureDoesNotMatch")
    assert "not 'mars-north-9'" in error_of(exc)[2]


def test_two_authorization_headers_are_refused(server: Server) -> None:
    body = b"Action=GetUser&Version=2010-05-08"
    head = signed_head(server, body)
    (authorization,) = [line for line in head.split(b"\r\n") if line.lower().startswith(b"authorization:")]
    forged = authorization.replace(server.access_key_id.encode(), b"AKIAOTHERKEY00000000")
    doubled = head.replace(authorization, authorization + b"\r\n" + forged)
    status, answer = raw_exchange(server, doubled, body)
    assert status == 400
    assert b"<Code>IncompleteSignature</Code>" in answer and b"authorization header more than once" in answer


def test_full_width_digits_are_not_a_number_in_x_amz_expires(server: Server) -> None:
    request = AWSRequest("GET", server.endpoint + "/?Action=GetUser&Version=2010-05-08")
    from botocore.auth import SigV4QueryAuth

    SigV4QueryAuth(
        Credentials(server.access_key_id, server.secret_access_key), "iam", "us-east-1", 60
    ).add_auth(request)
    url = request.url.replace("X-Amz-Expires=60", "X-Amz-Expires=%EF%BC%96%EF%BC%90")  # "６０"
    parts = urlsplit(url)
    head = f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
    status, answer = raw_exchange(server, head)
    assert status == 400 and b"<Code>IncompleteSignature</Code>" in answer
    assert b"X-Amz-Expires should be a number" in answer


# --- Also: the last use of a key, the root user and AssumeRole ------------------------------------


def test_a_denied_call_records_the_keys_last_use(server: Server, iam: Any) -> None:
    iam.create_user(UserName="leaked")
    key = iam.create_access_key(UserName="leaked")["AccessKey"]
    leaked = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as exc:
        leaked.list_users()
    assert error_of(exc)[1] == "AccessDenied"
    used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
    assert used["ServiceName"] == "iam" and used["Region"] == "us-east-1"
    assert abs((used["LastUsedDate"] - datetime.now(UTC)).total_seconds()) < 120


def test_the_root_user_may_not_assume_a_role(server: Server, iam: Any) -> None:
    """AWS: 403 AccessDenied, "Roles may not be assumed by root accounts." (kubeflow/testing#961)."""
    role = iam.create_role(RoleName="for-root", AssumeRolePolicyDocument=trust_account(), Path="/")["Role"]
    ids = RandomIds()
    key_id, secret = ids.access_key_id(), ids.secret_access_key()
    store = open_data_store(server)
    try:
        with store.transaction() as uow:
            uow.access_keys.create(
                ACCOUNT_ID,
                key_id=key_id,
                user_id=None,
                secret_access_key=secret,
                created_at=datetime.now(UTC),
            )
    finally:
        store.close()
    sts = server.client("sts", key_id, secret)
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:root"
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="root")
    assert error_of(exc) == (403, "AccessDenied", "Roles may not be assumed by root accounts.")


def trust_account() -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


# --- 6. data files ------------------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_data_files_are_for_the_servers_user_only(tmp_path: Path) -> None:
    data, trail_dir = tmp_path / "data", tmp_path / "trail"
    previous = os.umask(0o022)  # the usual umask: it must not matter
    try:
        running = start_server(data, "--trail-dir", str(trail_dir), "--trail-interval", "1")
    finally:
        os.umask(previous)
    try:
        running.client("iam").get_user()
        wal = [p for p in data.iterdir() if p.name.endswith(("-wal", "-shm"))]
        assert wal and all(mode(p) == 0o600 for p in wal), [(p.name, oct(mode(p))) for p in wal]
        deadline = time.monotonic() + 20
        while not list(trail_dir.rglob("*.json.gz")) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop_server(running)
    assert mode(data) == 0o700
    names = {p.name for p in data.iterdir()}
    assert {"iamd.db", "config", "credentials", "kek"} <= names
    for path in data.iterdir():
        assert mode(path) == 0o600, path
    exported = list(trail_dir.rglob("*.json.gz"))
    assert exported
    for path in [trail_dir, *trail_dir.rglob("*")]:
        assert mode(path) == (0o700 if path.is_dir() else 0o600), path


def test_a_start_repairs_files_an_older_iamd_left_readable(tmp_path: Path) -> None:
    data = tmp_path / "data"
    running = start_server(data)
    stop_server(running)
    os.chmod(data, 0o755)
    for name in ("iamd.db", "config", "kek"):
        os.chmod(data / name, 0o644)
    running = start_server(data)
    try:
        assert mode(data) == 0o700
        for name in ("iamd.db", "config", "kek"):
            assert mode(data / name) == 0o600
        log = running.log.read_text()
        assert f"{data / 'iamd.db'} was readable by other local users (mode 0o644): now 0o600" in log
    finally:
        stop_server(running)


def test_a_json_service_refuses_in_its_own_envelope(server: Server) -> None:
    host = urlsplit(server.endpoint).netloc
    head = (
        f"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-amz-json-1.1\r\n"
        f"X-Amz-Target: AWSOrganizationsV20161128.ListRoots\r\nContent-Length: {2 * 1024 * 1024}\r\n\r\n"
    ).encode()
    status, answer = raw_exchange(server, head)
    assert status == 413
    error = json.loads(answer.partition(b"\r\n\r\n")[2])
    assert error["__type"].endswith("RequestEntityTooLargeException")
    assert "262144 bytes" in error["message"]
