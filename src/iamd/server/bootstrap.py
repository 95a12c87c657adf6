"""First start of a data directory: the management account, its root user (no access keys), the AWS
managed policies, and a bootstrap administrator whose key is written once as AWS CLI profile
``iamd``. Later starts reuse everything; nothing is regenerated."""

from __future__ import annotations

import configparser
import gzip
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from iamd.private_files import make_private_dir, open_private, write_private_text
from iamd.secrets.ids import IdSource
from iamd.store.records import AwsManagedPolicy
from iamd.store.schema import AWS_ACCOUNT
from iamd.store.store import Store
from iamd.store.unit import UnitOfWork

__all__ = [
    "ADMIN_USER",
    "PROFILE",
    "ROOT_PROFILE",
    "Bootstrap",
    "add_administrator",
    "append_profile",
    "bootstrap",
    "create_account",
    "ensure_root_key",
    "seed_managed_policies",
    "write_profile",
    "write_root_profile",
]

ADMIN_USER = "iamd-admin"
PROFILE = "iamd"
ROOT_PROFILE = "iamd-root"
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True, slots=True)
class Bootstrap:
    account_id: str
    created: bool
    access_key_id: str | None = None


def managed_policy_data() -> dict[str, dict[str, object]]:
    raw = resources.files("iamd").joinpath("data", "aws_managed_policies.json.gz").read_bytes()
    loaded = json.loads(gzip.decompress(raw))
    policies = loaded["policies"]
    assert isinstance(policies, dict)
    return policies


def managed_policy_defaults() -> dict[str, str]:
    """Each snapshot policy's default version id (``aws_managed_policy_defaults.json``, written
    with the snapshot by scripts/update-managed-policies): a later start compares these with the
    database and reads the snapshot (a few MB of JSON) only when something is new."""
    raw = resources.files("iamd").joinpath("data", "aws_managed_policy_defaults.json").read_bytes()
    loaded = json.loads(raw)
    assert isinstance(loaded, dict)
    return {str(name): str(version) for name, version in loaded.items()}


def document_text(entry: Mapping[str, object]) -> str:
    """A snapshot policy's document as iamd stores and returns it (indented as AWS's are): the
    snapshot's prepared ``text`` (scripts/update-managed-policies writes it; Python's JSON encoder
    has no fast path for indented output), else rendered here from a ``document``."""
    text = entry.get("text")
    return text if isinstance(text, str) else json.dumps(entry["document"], indent=4)


def _number(version_id: object) -> int:
    return int(str(version_id)[1:])


def seed_managed_policies(uow: UnitOfWork, ids: IdSource, now: datetime) -> int:
    """Add the AWS managed policies that the database does not have yet, and newer default
    versions of those it has; returns how many. One query when the database is up to date (every
    start but the first and those after an upgrade of iamd: the snapshot is not even read), one
    bulk insert otherwise."""

    def when(text: object) -> datetime:
        moment = datetime.fromisoformat(str(text))
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    stored = uow.policies.aws_managed_defaults()
    new = {
        name
        for name, version in managed_policy_defaults().items()
        if name not in stored or _number(version) > _number(stored[name])
    }
    if not new:
        return 0
    wanted = [(name, entry) for name, entry in managed_policy_data().items() if name in new]
    return uow.policies.load_aws_managed(
        [
            AwsManagedPolicy(
                policy_id=ids.policy_id(),
                name=name,
                path=str(entry["path"]),
                version_id=str(entry["defaultVersionId"]),
                document=document_text(entry),
                created_at=when(entry["createDate"]),
                updated_at=when(entry["updateDate"]),
            )
            for name, entry in wanted
        ]
    )


def add_administrator(uow: UnitOfWork, ids: IdSource, account: str, now: datetime) -> tuple[str, str]:
    """The bootstrap administrator of ``account`` (user ``iamd-admin`` with AdministratorAccess):
    its new access key id and secret."""
    user = uow.users.create(account, user_id=ids.user_id(), name=ADMIN_USER, path="/", created_at=now)
    admin = uow.policies.get(AWS_ACCOUNT, "AdministratorAccess")
    uow.policies.attach(admin.id, "user", user.id, account_id=account)
    key_id = ids.access_key_id()
    secret = ids.secret_access_key()
    uow.access_keys.create(account, key_id=key_id, user_id=user.id, secret_access_key=secret, created_at=now)
    return key_id, secret


def create_account(
    store: Store, ids: IdSource, now: datetime, name: str, account_id: str | None = None
) -> tuple[str, str, str]:
    """A standalone account (``iamd account create``) with its own bootstrap administrator:
    (account id, access key id, secret access key). Its root user has no password and no keys."""

    def work(uow: UnitOfWork) -> tuple[str, str, str]:
        account = account_id or ids.account_id()
        while account_id is None and uow.accounts.find(account) is not None:
            account = ids.account_id()
        uow.accounts.create(account, name=name, created_at=now, email=f"root@{account}.iamd.local")
        key_id, secret = add_administrator(uow, ids, account, now)
        return account, key_id, secret

    return store.run(work)


def append_profile(data_dir: Path, profile: str, key_id: str, secret: str) -> None:
    """Add profile ``profile`` to the data directory's credentials file (created 0600 if missing)
    and to its config file, with the endpoint of profile ``iamd``."""
    credentials = data_dir / "credentials"
    with os.fdopen(
        open_private(credentials, os.O_WRONLY | os.O_CREAT | os.O_APPEND), "a", encoding="utf-8"
    ) as fh:
        fh.write(f"\n[{profile}]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n")
    config = data_dir / "config"
    endpoint = None
    if config.exists():
        for line in config.read_text(encoding="utf-8").splitlines():
            if line.strip().startswith("endpoint_url"):
                endpoint = line.split("=", 1)[1].strip()
                break
    with os.fdopen(open_private(config, os.O_WRONLY | os.O_CREAT | os.O_APPEND), "a", encoding="utf-8") as fh:
        fh.write(f"\n[profile {profile}]\nregion = {DEFAULT_REGION}\n")
        if endpoint:
            fh.write(f"endpoint_url = {endpoint}\n")


def bootstrap(store: Store, ids: IdSource, now: datetime, account_id: str | None = None) -> Bootstrap:
    def work(uow: UnitOfWork) -> Bootstrap:
        seed_managed_policies(uow, ids, now)
        accounts = uow.accounts.list()
        if accounts:
            # The first account made in this database (later ones come from CreateAccount and
            # ``iamd account create``, and may have smaller ids).
            first = min(accounts, key=lambda a: (a.created_at, a.id))
            return Bootstrap(first.id, created=False)
        account = account_id or ids.account_id()
        uow.accounts.create(account, name="iamd", created_at=now, email=f"root@{account}.iamd.local")
        pending[0] = add_administrator(uow, ids, account, now)
        return Bootstrap(account, created=True, access_key_id=pending[0][0])

    pending: list[tuple[str, str]] = [("", "")]
    result = store.run(work)
    if result.created:
        key_id, secret = pending[0]
        _pending_secret[result.account_id] = (key_id, secret)
    return result


# The bootstrap secret lives only until it is written to the profile files.
_pending_secret: dict[str, tuple[str, str]] = {}


def write_profile(data_dir: Path, account_id: str, endpoint_url: str) -> None:
    """Write the bootstrap key as profile ``iamd`` (credentials: once; config: the endpoint)."""
    make_private_dir(data_dir)
    pending = _pending_secret.pop(account_id, None)
    credentials = data_dir / "credentials"
    if pending is not None:
        key_id, secret = pending
        text = f"[{PROFILE}]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n"
        write_private_text(credentials, text)
    config = data_dir / "config"
    write_private_text(
        config, f"[profile {PROFILE}]\nregion = {DEFAULT_REGION}\nendpoint_url = {endpoint_url}\n"
    )


def ensure_root_key(store: Store, ids: IdSource, now: datetime, account_id: str) -> tuple[str, str]:
    """The root user's access key (made if it has none): ``iamd serve --test-mode`` only, so
    test suites can sign as the root user. Against best practice anywhere else."""

    def work(uow: UnitOfWork) -> tuple[str, str]:
        for key in uow.access_keys.list_for(account_id, None):
            signing = uow.access_keys.signing_key(key.id)
            if signing is not None and key.status == "Active":
                return key.id, signing.secret_access_key
        key_id, secret = ids.access_key_id(), ids.secret_access_key()
        uow.access_keys.create(
            account_id, key_id=key_id, user_id=None, secret_access_key=secret, created_at=now
        )
        return key_id, secret

    return store.run(work, account_id=account_id)


def _update_ini(path: Path, section: str, values: dict[str, str], *, private: bool) -> None:
    """Set one section of an AWS CLI credentials or config file, keeping the others."""
    parser = configparser.RawConfigParser()
    if path.exists():
        parser.read(path, encoding="utf-8")
    parser[section] = values
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        parser.write(fh)


def write_root_profile(data_dir: Path, key_id: str, secret: str, endpoint_url: str) -> None:
    """Write the root user's key as profile ``iamd-root`` besides ``iamd`` (test mode)."""
    _update_ini(
        data_dir / "credentials",
        ROOT_PROFILE,
        {"aws_access_key_id": key_id, "aws_secret_access_key": secret},
        private=True,
    )
    _update_ini(
        data_dir / "config",
        f"profile {ROOT_PROFILE}",
        {"region": DEFAULT_REGION, "endpoint_url": endpoint_url},
        private=False,
    )
