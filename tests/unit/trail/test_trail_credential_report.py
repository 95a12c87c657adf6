"""The credential report built from the store (SQLite and PostgreSQL: the database formats the
timestamps): every column of the root row and of users with and without passwords, keys, MFA and
signing certificates, and the password policy's rotation date."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from iamd.services.iam.credential_report import COLUMNS, build_report
from iamd.store import Store
from iamd.store.records import PasswordPolicyRecord
from iamd.store.unit import UnitOfWork

ACCOUNT = "111122223333"  # as in conftest.py
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
LATER = NOW + timedelta(days=3, hours=5, minutes=6, seconds=7, microseconds=999_999)


def report(store: Store) -> tuple[str, dict[str, dict[str, str]]]:
    content = store.run(lambda uow: build_report(uow.audit.credential_data(ACCOUNT), ACCOUNT), readonly=True)
    text = content.decode("utf-8")
    reader = csv.DictReader(io.StringIO(text))
    assert reader.fieldnames == list(COLUMNS)
    return text, {row["user"]: row for row in reader}


def test_an_account_with_no_users(store: Store, account: str) -> None:
    text, rows = report(store)
    assert text.splitlines()[0] == ",".join(COLUMNS) and text.endswith("\n")
    assert list(rows) == ["<root_account>"]
    assert text.splitlines()[1] == (
        f"<root_account>,arn:aws:iam::{ACCOUNT}:root,2026-01-02T03:04:05+00:00,not_supported,no_information,"
        "not_supported,not_supported,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
    )


def test_every_column(store: Store, account: str) -> None:
    def setup(uow: UnitOfWork) -> None:
        uow.accounts.put_password_policy(ACCOUNT, PasswordPolicyRecord(max_age_days=30))
        uow.accounts.record_root_password_use(ACCOUNT, LATER)
        full = uow.users.create(
            ACCOUNT, user_id="AIDAFULL0000000000001", name="full", path="/ops/", created_at=NOW
        )
        uow.users.create(ACCOUNT, user_id="AIDABARE0000000000001", name="bare", path="/", created_at=NOW)
        uow.login_profiles.create(full.id, password_hash="h", reset_required=False, created_at=NOW)
        uow.users.record_password_use(full.id, LATER)
        uow.access_keys.create(
            ACCOUNT,
            key_id="AKIAFULL000000000001",
            user_id=full.id,
            secret_access_key="s" * 40,
            created_at=NOW,
        )
        uow.access_keys.record_use("AKIAFULL000000000001", LATER, "sts", "eu-west-1")
        uow.access_keys.create(
            ACCOUNT,
            key_id="AKIAFULL000000000002",
            user_id=full.id,
            secret_access_key="t" * 40,
            created_at=LATER,
            status="Inactive",
        )
        uow.access_keys.create(
            ACCOUNT, key_id="AKIAROOT000000000001", user_id=None, secret_access_key="r" * 40, created_at=NOW
        )
        device = uow.mfa.create(
            ACCOUNT, serial=f"arn:aws:iam::{ACCOUNT}:mfa/full", kind="virtual", created_at=NOW
        )
        uow.mfa.enable(device.id, user_id=full.id, enabled_at=NOW)
        uow.signing_certificates.upload(
            ACCOUNT,
            certificate_id="CERT1",
            user_id=full.id,
            body="-----BEGIN CERTIFICATE-----",
            uploaded_at=LATER,
        )

    store.run(setup)
    _, rows = report(store)
    assert list(rows) == ["<root_account>", "bare", "full"]
    root = rows["<root_account>"]
    assert root["password_last_used"] == "2026-01-05T08:10:12+00:00"  # seconds, not rounded
    assert root["access_key_1_active"] == "true"
    assert root["access_key_1_last_rotated"] == "2026-01-02T03:04:05+00:00"
    assert root["access_key_1_last_used_date"] == "N/A"
    full = rows["full"]
    assert full == {
        "user": "full",
        "arn": f"arn:aws:iam::{ACCOUNT}:user/ops/full",
        "user_creation_time": "2026-01-02T03:04:05+00:00",
        "password_enabled": "true",
        "password_last_used": "2026-01-05T08:10:12+00:00",
        "password_last_changed": "2026-01-02T03:04:05+00:00",
        "password_next_rotation": "2026-02-01T03:04:05+00:00",
        "mfa_active": "true",
        "access_key_1_active": "true",
        "access_key_1_last_rotated": "2026-01-02T03:04:05+00:00",
        "access_key_1_last_used_date": "2026-01-05T08:10:12+00:00",
        "access_key_1_last_used_region": "eu-west-1",
        "access_key_1_last_used_service": "sts",
        "access_key_2_active": "false",
        "access_key_2_last_rotated": "2026-01-05T08:10:12+00:00",
        "access_key_2_last_used_date": "N/A",
        "access_key_2_last_used_region": "N/A",
        "access_key_2_last_used_service": "N/A",
        "cert_1_active": "true",
        "cert_1_last_rotated": "2026-01-05T08:10:12+00:00",
        "cert_2_active": "false",
        "cert_2_last_rotated": "N/A",
    }
    bare = rows["bare"]
    assert [bare[c] for c in COLUMNS[3:]] == [
        "false",
        "N/A",
        "N/A",
        "N/A",
        "false",
        *["false", "N/A", "N/A", "N/A", "N/A"] * 2,
        *["false", "N/A"] * 2,
    ]
