"""The earlier versions of the AWS managed policies, read on demand from the archive iamd ships.

When AWS changes an AWS managed policy it adds a version and makes it the default; the earlier
versions stay, and ListPolicyVersions, GetPolicyVersion and GetAccountAuthorizationDetails return
them (IAM User Guide, "Versioning IAM policies": "when AWS makes changes to an AWS managed policy,
the changed policy doesn't overwrite the existing policy. Instead, IAM creates a new version";
API reference, ManagedPolicyDetail.PolicyVersionList: "the versions of the policy").

The database holds each AWS managed policy's default version (loaded in bulk at start). Its
earlier versions never change, so they are not copied into every database: they are read from
``iamd/data/aws_managed_policy_versions.zip`` (one member per policy, written by
``scripts/update-managed-policies``), one policy at a time, when asked for.
"""

from __future__ import annotations

import json
import threading
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources

__all__ = ["ArchivedVersion", "earlier_versions"]

_ARCHIVE = ("data", "aws_managed_policy_versions.zip")
_lock = threading.Lock()
_opened: list[zipfile.ZipFile] = []


@dataclass(frozen=True, slots=True)
class ArchivedVersion:
    version_id: str
    document: str
    """The policy document as iamd stores AWS managed policies' documents (indented JSON)."""
    created_at: datetime


def _archive() -> zipfile.ZipFile | None:
    with _lock:
        if not _opened:
            resource = resources.files("iamd").joinpath(*_ARCHIVE)
            if not resource.is_file():
                return None
            _opened.append(zipfile.ZipFile(resource.open("rb")))
        return _opened[0]


def _when(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@lru_cache(maxsize=64)  # ReadOnlyAccess alone: 151 versions, ~8 MB of documents
def earlier_versions(policy_name: str) -> tuple[ArchivedVersion, ...]:
    """The archived versions of AWS managed policy ``policy_name``, oldest first (none if the
    archive has no history for it)."""
    archive = _archive()
    if archive is None:
        return ()
    with _lock:  # one reader of the shared file at a time
        try:
            raw = archive.read(f"{policy_name}.json")
        except KeyError:
            return ()
    versions: dict[str, dict[str, object]] = json.loads(raw)
    return tuple(
        ArchivedVersion(vid, json.dumps(v["document"], indent=4), _when(str(v["createDate"])))
        for vid, v in versions.items()
    )
