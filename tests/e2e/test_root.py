"""The root user end to end: its password set with ``iamd root set-password`` (from standard
input), console sign-in with the account's email, no access keys unless explicitly created, and
MFA: without a device, sign-in is allowed within 35 days of the first sign-in; after that it leads
to MFA registration and nothing else. The clock moves with ``iamd serve --clock-offset`` on the
same data directory."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.console_helpers import ConsoleAgent
from tests.e2e.harness import ACCOUNT_ID, Server, start_server, stop_server
from tests.e2e.mfa_helpers import Device, signing_clock

EMAIL = f"root@{ACCOUNT_ID}.iamd.local"
ROOT_PASSWORD = "Root-Password-2026!"
DAY = 86400.0


def set_root_password(data: Path, password: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "iamd.cli.main", "root", "set-password", "--data-dir", str(data), *extra],
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("root") / "data"


@pytest.fixture(scope="module")
def today(data: Path) -> Iterator[Server]:
    server = start_server(data)
    yield server
    stop_server(server)


def at(data: Path, days: float) -> Server:
    return start_server(data, "--clock-offset", str(days * DAY))


def test_set_password_from_stdin(tmp_path: Path, today: Server, data: Path) -> None:
    missing = set_root_password(tmp_path / "nothing", ROOT_PASSWORD)
    assert missing.returncode == 2 and "run iamd serve first" in missing.stderr
    weak = set_root_password(data, "weakling")
    assert weak.returncode == 1 and "fewer than three of" in weak.stderr and "weakling" not in weak.stderr
    empty = set_root_password(data, "")
    assert empty.returncode == 2
    done = set_root_password(data, ROOT_PASSWORD)
    assert done.returncode == 0, done.stderr
    assert EMAIL in done.stdout and ROOT_PASSWORD not in done.stdout + done.stderr
    summary = today.client("iam").get_account_summary()["SummaryMap"]
    assert summary["AccountPasswordPresent"] == 1
    assert summary["AccountAccessKeysPresent"] == 0 and summary["AccountMFAEnabled"] == 0


def test_root_signs_in_with_email(today: Server) -> None:
    agent = ConsoleAgent(today.endpoint)
    try:
        assert agent.sign_in_root(EMAIL, "Not-The-Password-1").status_code == 401
        assert agent.sign_in_root("someone@else.example", ROOT_PASSWORD).status_code == 401
        agent.sign_in_root(EMAIL.upper(), ROOT_PASSWORD)
        assert agent.path == "/console/home", agent.error()
        assert agent.field("arn") == f"arn:aws:iam::{ACCOUNT_ID}:root"
        assert "The root user should not have access keys" in agent.text
        deadline = agent.field("root-deadline")
        assert deadline is not None and "Register an MFA device" in deadline

        # Access keys only when explicitly created.
        agent.post("/keys/create", {})
        key_id = agent.field("new-key-id")
        assert key_id and key_id.startswith("AKIA")
        iam = today.client("iam")
        assert iam.get_account_summary()["SummaryMap"]["AccountAccessKeysPresent"] == 1
        agent.post("/keys/delete", {"id": key_id})
        assert iam.get_account_summary()["SummaryMap"]["AccountAccessKeysPresent"] == 0

        # The root user's own password change.
        agent.post("/password", {"old": ROOT_PASSWORD, "new": "weak", "confirm": "weak"})
        assert agent.page is not None and agent.page.status_code == 400
        agent.post(
            "/password",
            {"old": ROOT_PASSWORD, "new": "Root-Password-2027!", "confirm": "Root-Password-2027!"},
        )
        assert agent.message() == "Your password was changed.", agent.error()
        agent.sign_out()
        assert agent.sign_in_root(EMAIL, ROOT_PASSWORD).status_code == 401
        agent.sign_in_root(EMAIL, "Root-Password-2027!")
        assert agent.path == "/console/home"
    finally:
        agent.close()
    assert set_root_password(today.data_dir, ROOT_PASSWORD).returncode == 0


def test_root_mfa_is_required_after_35_days(today: Server, data: Path) -> None:
    stop_server(today)  # the module's server at today's clock; restarted below at other times

    later = at(data, 34)
    agent = ConsoleAgent(later.endpoint)
    try:
        agent.sign_in_root(EMAIL, ROOT_PASSWORD)
        assert agent.path == "/console/home", agent.error()  # day 34: still allowed without MFA
        assert agent.field("root-deadline")
    finally:
        agent.close()
        stop_server(later)

    offset = 36 * DAY
    past = at(data, 36)
    agent = ConsoleAgent(past.endpoint)
    try:
        agent.sign_in_root(EMAIL, ROOT_PASSWORD)
        assert agent.path == "/console/register-mfa", agent.error()
        assert "grace period of 35 days" in agent.text
        # Nothing else until a device is registered.
        for path in ("/home", "/password"):
            agent.get(path)
            assert agent.path == "/console/register-mfa"
        assert agent.post("/keys/create", {}).url.path == "/console/register-mfa"

        serial, seed, png = agent.add_virtual_device("root-phone")
        assert png.startswith(b"\x89PNG")
        device = Device(serial, seed, clock_offset=offset)
        first, second = device.pair()
        agent.post("/mfa/virtual/enable", {"serial": serial, "code1": first, "code2": second})
        assert agent.path == "/console/home", agent.error()
        assert agent.field("mfa-state") == "Yes"
        assert serial in agent.text and agent.field("root-deadline") is None
        with signing_clock(offset):
            iam = past.client("iam")
            assert iam.get_account_summary()["SummaryMap"]["AccountMFAEnabled"] == 1
            assigned = iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"]
            (entry,) = [d for d in assigned if d["SerialNumber"] == serial]
            assert entry["User"]["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:root"
        agent.sign_out()

        # From now on the root user signs in with its device.
        agent.sign_in_root(EMAIL, ROOT_PASSWORD)
        assert agent.path == "/console/mfa"
        agent.post("/mfa", {"code": device.fresh()})
        assert agent.path == "/console/home", agent.error()
        assert agent.field("mfa-state") == "Yes"

        # An explicitly created root access key: STS accepts the root's device for MFA.
        agent.post("/keys/create", {})
        key_id, secret = agent.field("new-key-id"), agent.field("new-key-secret")
        assert key_id and secret
        with signing_clock(offset):
            root_iam = past.client("iam", key_id, secret)
            listed = root_iam.list_mfa_devices()["MFADevices"]
            assert [d["SerialNumber"] for d in listed] == [serial]
        agent.post("/keys/delete", {"id": key_id})
    finally:
        agent.close()
        stop_server(past)
