"""First start's AWS managed policies: loaded from the prepared snapshot as the text iamd returns,
in one bulk step, and not again on later starts unless the snapshot has something new."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from iamd.secrets.ids import SeededIds
from iamd.server import bootstrap as bootstrap_module
from iamd.server.bootstrap import (
    document_text,
    managed_policy_data,
    managed_policy_defaults,
    seed_managed_policies,
)
from iamd.store.schema import AWS_ACCOUNT
from iamd.store.store import open_store

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_the_snapshot_holds_each_document_as_the_text_iamd_stores() -> None:
    # scripts/update-managed-policies writes each document as its indented text only (a first
    # start reads the text, and parsing the documents as well cost as much again); a snapshot
    # edited by hand must keep the text a policy document indented as json.dumps(indent=4) does.
    for name, entry in managed_policy_data().items():
        assert "document" not in entry, name
        document = json.loads(entry["text"])
        assert isinstance(document, dict) and "Statement" in document, name
        assert entry["text"] == json.dumps(document, indent=4), name
        assert document_text(entry) == entry["text"]


def test_the_default_versions_file_is_the_snapshot_s() -> None:
    # scripts/update-managed-policies writes both; later starts compare the database with it.
    snapshot = managed_policy_data()
    assert managed_policy_defaults() == {name: entry["defaultVersionId"] for name, entry in snapshot.items()}


def test_seeding_loads_every_policy_once_and_then_only_what_is_missing(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'iamd.db'}")
    snapshot = managed_policy_data()
    ids = SeededIds(7)
    with store.transaction() as uow:
        assert seed_managed_policies(uow, ids, NOW) == len(snapshot)
    with store.transaction() as uow:
        assert seed_managed_policies(uow, ids, NOW) == 0
        generation = uow.accounts.generations([AWS_ACCOUNT])[AWS_ACCOUNT]
        admin = uow.policies.get(AWS_ACCOUNT, "AdministratorAccess")
        version = uow.policies.get_version(admin.id, admin.default_version_id)
        assert version.document == document_text(snapshot["AdministratorAccess"])
    with store.transaction() as uow:
        # As after an upgrade whose snapshot has a policy the database does not.
        uow.policies.delete(uow.policies.get(AWS_ACCOUNT, "ReadOnlyAccess").id)
    with store.transaction() as uow:
        assert seed_managed_policies(uow, ids, NOW) == 1
        assert uow.accounts.generations([AWS_ACCOUNT])[AWS_ACCOUNT] > generation
    store.close()


def test_a_start_with_every_policy_up_to_date_does_not_read_the_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'iamd.db'}")
    with store.transaction() as uow:
        seed_managed_policies(uow, SeededIds(7), NOW)

    def unread() -> dict[str, dict[str, object]]:
        raise AssertionError("the snapshot was read")

    monkeypatch.setattr(bootstrap_module, "managed_policy_data", unread)
    with store.transaction() as uow:
        assert seed_managed_policies(uow, SeededIds(8), NOW) == 0
    store.close()
