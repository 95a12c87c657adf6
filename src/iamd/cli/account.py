"""``iamd account create``: a standalone account in a data directory's database, with a bootstrap
administrator of its own (user ``iamd-admin``, AdministratorAccess) whose key is written once as
AWS CLI profile ``iamd-<account id>`` next to profile ``iamd``. Its root user has no password and
no access keys. Use it to invite an account into an organization, or to test access across
accounts and organizations."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from iamd.cli.datastore import add_store_arguments, existing_data_dir, open_data_store

__all__ = ["add_parser"]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    account = commands.add_parser("account", help="manage the accounts of a data directory")
    account_commands = account.add_subparsers(dest="account_command", required=True)
    create = account_commands.add_parser(
        "create", help="create a standalone account with its own administrator profile"
    )
    add_store_arguments(create)
    create.add_argument("--name", default="iamd", help="the account's name (default: iamd)")
    create.add_argument("--account-id", help="12 digits (default: a random id)")
    create.set_defaults(func=cmd_create)


def cmd_create(args: argparse.Namespace) -> int:
    from iamd.secrets import RandomIds
    from iamd.server.bootstrap import ADMIN_USER, append_profile, create_account
    from iamd.store.errors import AlreadyExists

    data_dir = existing_data_dir(args, "account create")
    if data_dir is None:
        return 2
    if args.account_id is not None and not (len(args.account_id) == 12 and args.account_id.isdigit()):
        print("iamd account create: --account-id must be 12 digits", file=sys.stderr)
        return 2
    if not args.name or len(args.name) > 50:
        print("iamd account create: --name must be 1 to 50 characters", file=sys.stderr)
        return 2
    store = open_data_store(args, data_dir)
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
