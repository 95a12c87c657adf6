"""``iamd account create``: a standalone account in a data directory's database, with a bootstrap
administrator of its own (user ``iamd-admin``, AdministratorAccess) whose key is written once as
AWS CLI profile ``iamd-<account id>`` next to profile ``iamd``. Its root user has no password and
no access keys. Use it to invite an account into an organization, or to test access across
accounts and organizations."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["add_parser"]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    account = commands.add_parser("account", help="manage the accounts of a data directory")
    account_commands = account.add_subparsers(dest="account_command", required=True)
    create = account_commands.add_parser(
        "create", help="create a standalone account with its own administrator profile"
    )
    create.add_argument("--data-dir", required=True, type=Path, help="the server's data directory")
    create.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite file DATA_DIR/iamd.db)")
    create.add_argument(
        "--kek", help="key-encryption key(s), base64, comma-separated (default: $IAMD_KEK or DATA_DIR/kek)"
    )
    create.add_argument("--name", default="iamd", help="the account's name (default: iamd)")
    create.add_argument("--account-id", help="12 digits (default: a random id)")
    create.set_defaults(func=cmd_create)


def cmd_create(args: argparse.Namespace) -> int:
    from iamd.secrets import RandomIds
    from iamd.secrets.kek import load_kek
    from iamd.server.bootstrap import ADMIN_USER, append_profile, create_account
    from iamd.store.engine import default_url
    from iamd.store.errors import AlreadyExists
    from iamd.store.store import open_store

    data_dir: Path = args.data_dir.resolve()
    if args.database_url is None and not (data_dir / "iamd.db").exists():
        print(f"iamd account create: no database in {data_dir}: run iamd serve first", file=sys.stderr)
        return 2
    if args.account_id is not None and not (len(args.account_id) == 12 and args.account_id.isdigit()):
        print("iamd account create: --account-id must be 12 digits", file=sys.stderr)
        return 2
    if not args.name or len(args.name) > 50:
        print("iamd account create: --name must be 1 to 50 characters", file=sys.stderr)
        return 2
    store = open_store(args.database_url or default_url(data_dir), kek=load_kek(data_dir, key=args.kek))
    try:
        account_id, key_id, secret = create_account(
            store, RandomIds(), datetime.now(UTC), args.name, args.account_id
        )
    except AlreadyExists:
        print(f"iamd account create: account {args.account_id} already exists", file=sys.stderr)
        return 1
    finally:
        store.close()
    profile = f"iamd-{account_id}"
    append_profile(data_dir, profile, key_id, secret)
    print(
        f"iamd: created account {account_id}; administrator {ADMIN_USER} "
        f"(profile {profile!r} in {data_dir / 'credentials'})"
    )
    return 0
