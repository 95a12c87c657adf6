"""Third-party IAM tools against a real iamd: Prowler's IAM checks and cloudsplaining's download,
installed from PyPI (pinned in tests/tools/*.txt) into venvs of their own, since each pins its own
boto3 and botocore. Skipped, saying why, when PyPI cannot be reached.

The venvs live in ``$IAMD_TOOLS_DIR`` (default: ``~/.cache/iamd/tools``; ``.venv-tools/`` in the
checkout is gitignored for those who prefer it there), one per tool and requirements file, reused
while the file is unchanged. Installing Prowler takes minutes (it brings the Azure, GCP and
Microsoft 365 SDKs: 2.3 GB); running it, about a minute; cloudsplaining, seconds.

Both tools find iamd the way the README says: the profile ``iamd`` of the data directory's AWS CLI
files (whose config names the endpoint), and ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.harness import ACCOUNT_ID, Server, start_server, stop_server

REPO = Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO / "tests" / "tools"
INSTALL_TIMEOUT = 1800
RUN_TIMEOUT = 600

ADMIN_DOCUMENT = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
POLICY_ARN = f"arn:aws:iam::{ACCOUNT_ID}:policy/planted-admin"
USER_ARN = f"arn:aws:iam::{ACCOUNT_ID}:user/no-mfa-user"

# What Prowler 5.46 logs as errors against iamd, and why; any other error line fails the test.
KNOWN_PROWLER_ERRORS = {
    # Prowler lists the regions with EC2's DescribeRegions first; iamd serves no EC2 (it falls
    # back to its own list of regions).
    "DescribeRegions": "iamd serves IAM and STS, not EC2",
    # Prowler asks whether the account is in an organization; iamd has no Organizations handlers
    # yet (AWS would answer AWSOrganizationsNotInUseException for an account outside one).
    "DescribeOrganization": "iamd has no Organizations operations yet",
    # Prowler's privilege-escalation check reads an AWS managed policy naming CodeStar, a service
    # that its own action catalog no longer has: Prowler's, not iamd's.
    "codestar:": "Prowler's action catalog lacks CodeStar",
}


def tools_dir() -> Path:
    """Where the venvs go: ``$IAMD_TOOLS_DIR``, else a cache outside the checkout, so that CI's
    fresh clones on one machine reuse them (installing Prowler took 15 minutes on a loaded
    two-core machine)."""
    configured = os.environ.get("IAMD_TOOLS_DIR")
    if configured:
        return Path(configured)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "iamd" / "tools"


def pypi_reachable(requirement: str) -> str | None:
    """None when pip can fetch ``requirement`` from the package index, else why not."""
    with tempfile.TemporaryDirectory() as scratch:
        probe = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-cache-dir",
                "--timeout",
                "15",
                "--retries",
                "1",
                "-d",
                scratch,
                requirement,
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
    if probe.returncode == 0:
        return None
    return (probe.stderr.strip().splitlines() or ["pip download failed"])[-1]


def tool_venv(name: str, top_level: str) -> Path:
    """The venv of ``name`` (tests/tools/NAME.txt installed), made if missing; skips when PyPI
    cannot be reached."""
    requirements = REQUIREMENTS / f"{name}.txt"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]
    venv = tools_dir() / f"{name}-{digest}"
    done = venv / "installed.txt"
    if done.exists():
        return venv
    # Test runs of several checkouts share the cache: one installs while the others wait (a
    # second `venv --clear` over a finished install would leave its marker on an empty venv).
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            return venv
        return _install(name, top_level, requirements, venv, done)


def _install(name: str, top_level: str, requirements: Path, venv: Path, done: Path) -> Path:
    why = pypi_reachable(top_level)
    if why is not None:
        pytest.skip(f"{name} cannot be installed: PyPI cannot be reached ({why})")
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, timeout=300)
    install = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-input",
            "-r",
            str(requirements),
        ],
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
    )
    assert install.returncode == 0, f"pip install -r {requirements} failed:\n{install.stderr[-4000:]}"
    done.write_text(f"{requirements.name} installed in {time.monotonic() - started:.0f} s\n")
    return venv


def tool_env(server: Server) -> dict[str, str]:
    """The environment a user of the README would set: the data directory's profile files and the
    endpoint; nothing from the environment this test runs in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(server.data_dir / "credentials"),
        AWS_CONFIG_FILE=str(server.data_dir / "config"),
        AWS_ENDPOINT_URL=server.endpoint,
        AWS_EC2_METADATA_DISABLED="true",
        NO_COLOR="1",
    )
    return env


@pytest.fixture(scope="module")
def prowler() -> Path:
    """Prowler's executable (installed first: a test asks for it before the server)."""
    return tool_venv("prowler", "prowler==5.46.0") / "bin" / "prowler"


@pytest.fixture(scope="module")
def cloudsplaining() -> Path:
    return tool_venv("cloudsplaining", "cloudsplaining==0.9.1") / "bin" / "cloudsplaining"


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose account has what the tools should find: a console user without MFA and a
    customer managed policy granting ``*:*``, attached to that user."""
    running = start_server(tmp_path_factory.mktemp("iamd") / "data")
    iam = running.client("iam")
    iam.create_user(UserName="no-mfa-user")
    iam.create_login_profile(UserName="no-mfa-user", Password="Planted-Passw0rd-For-Tools")
    iam.create_policy(PolicyName="planted-admin", PolicyDocument=json.dumps(ADMIN_DOCUMENT))
    iam.attach_user_policy(UserName="no-mfa-user", PolicyArn=POLICY_ARN)
    yield running
    stop_server(running)


def test_prowler_iam_checks_find_what_was_planted(prowler: Path, planted: Server, tmp_path: Path) -> None:
    command = [
        str(prowler),
        "aws",
        "--services",
        "iam",
        "--profile",
        "iamd",
        "--region",
        "us-east-1",
        "--no-banner",
        "--ignore-exit-code-3",
        "--output-formats",
        "json-ocsf",
        "--output-directory",
        str(tmp_path),
        "--output-filename",
        "iamd",
        "--log-level",
        "ERROR",
    ]
    ran = subprocess.run(command, capture_output=True, text=True, env=tool_env(planted), timeout=RUN_TIMEOUT)
    output = ran.stdout + ran.stderr
    assert ran.returncode == 0, output[-6000:]
    assert "Traceback" not in output, output[-6000:]
    errors = [line for line in output.splitlines() if re.search(r"\bERROR\b", line)]
    unknown = [line for line in errors if not any(known in line for known in KNOWN_PROWLER_ERRORS)]
    assert not unknown, "\n".join(unknown)

    findings = json.loads((tmp_path / "iamd.ocsf.json").read_text())
    by_check: dict[str, list[dict[str, Any]]] = {}
    for finding in findings:
        by_check.setdefault(finding["metadata"]["event_code"], []).append(finding)
    # Prowler 5.46 runs 51 IAM checks; about 30 have something to say about an account this small.
    assert len(by_check) >= 25, sorted(by_check)

    def status(check: str, resource: str) -> str:
        for finding in by_check.get(check, []):
            if any(r.get("uid") == resource for r in finding.get("resources", [])):
                return str(finding["status_code"])
        raise AssertionError(f"{check}: no finding for {resource}; {by_check.get(check)}")

    assert status("iam_user_mfa_enabled_console_access", USER_ARN) == "FAIL"
    assert status("iam_customer_attached_policy_no_administrative_privileges", POLICY_ARN) == "FAIL"
    assert status("iam_policy_attached_only_to_group_or_roles", USER_ARN) == "FAIL"
    assert status("iam_user_hardware_mfa_enabled", USER_ARN) == "FAIL"
    # No password policy (GetAccountPasswordPolicy's NoSuchEntity, read as "none").
    password_policy = f"arn:aws:iam:us-east-1:{ACCOUNT_ID}:password-policy"
    assert status("iam_password_policy_minimum_length_14", password_policy) == "FAIL"
    assert status("iam_rotate_access_key_90_days", f"arn:aws:iam::{ACCOUNT_ID}:user/iamd-admin") == "PASS"


def test_cloudsplaining_download_gets_the_planted_policy(
    cloudsplaining: Path, planted: Server, tmp_path: Path
) -> None:
    ran = subprocess.run(
        [str(cloudsplaining), "download", "--profile", "iamd", "--output", str(tmp_path)],
        capture_output=True,
        text=True,
        env=tool_env(planted),
        timeout=RUN_TIMEOUT,
    )
    assert ran.returncode == 0, (ran.stdout + ran.stderr)[-6000:]
    details = json.loads((tmp_path / "iamd.json").read_text())
    users = {u["UserName"]: u for u in details["UserDetailList"]}
    assert users["no-mfa-user"]["AttachedManagedPolicies"] == [
        {"PolicyName": "planted-admin", "PolicyArn": POLICY_ARN}
    ]
    policies = {p["Arn"]: p for p in details["Policies"]}
    versions = policies[POLICY_ARN]["PolicyVersionList"]
    assert [v["Document"] for v in versions if v["IsDefaultVersion"]] == [ADMIN_DOCUMENT]
    assert "arn:aws:iam::aws:policy/AdministratorAccess" in policies  # the bootstrap admin's
