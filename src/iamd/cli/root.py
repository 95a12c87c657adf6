"""``iamd root set-password``: set the root user's console password of an account.

The password is read from standard input (its first line), never from the command line, where
other users of the machine could see it. AWS's rules for root passwords apply: 8 to 128
characters, with three of uppercase letters, lowercase letters, numbers and symbols, and not the
account's name or email address. The root user signs in to the console (``/console``) with the
account's email address and this password.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from iamd.cli.datastore import add_store_arguments, existing_data_dir, open_data_store

__all__ = ["add_parser"]

MAX_LENGTH = 128


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    root = commands.add_parser("root", help="manage an account's root user")
    root_commands = root.add_subparsers(dest="root_command", required=True)
    set_password = root_commands.add_parser(
        "set-password", help="set the root user's console password (read from standard input)"
    )
    add_store_arguments(set_password)
    set_password.add_argument("--account-id", help="the account (default: the management account)")
    set_password.set_defaults(func=cmd_set_password)


def cmd_set_password(args: argparse.Namespace) -> int:
    from iamd.services.iam.passwords import password_hashing, password_problems
    from iamd.store.unit import UnitOfWork

    data_dir = existing_data_dir(args, "root set-password")
    if data_dir is None:
        return 2
    line = sys.stdin.readline()
    password = line[:-1] if line.endswith("\n") else line
    password = password.removesuffix("\r")
    if not password:
        print("iamd root set-password: no password on standard input", file=sys.stderr)
        return 2
    if len(password) > MAX_LENGTH:
        print(f"iamd root set-password: the password is longer than {MAX_LENGTH} characters", file=sys.stderr)
        return 1
    store = open_data_store(args, data_dir)
    try:

        def account_of(uow: UnitOfWork) -> str | None:
            if args.account_id is not None:
                found = uow.accounts.find(args.account_id)
                return None if found is None else found.id
            # The organization's management account, else the first account made (later ones
            # come from CreateAccount and `iamd account create`, and may have smaller ids).
            accounts = sorted(uow.accounts.list(), key=lambda a: (a.created_at, a.id))
            management = [a for a in accounts if a.organization_role == "management"]
            standalone = [a for a in accounts if a.organization_role is None]
            chosen = (management or standalone)[:1]
            return chosen[0].id if chosen else None

        account_id = store.run(account_of, readonly=True)
        if account_id is None:
            print("iamd root set-password: no such account", file=sys.stderr)
            return 2
        account = store.run(lambda uow: uow.accounts.get(account_id), readonly=True)
        problems = password_problems(password, None, account)
        if problems:
            print(f"iamd root set-password: the password has {'; '.join(problems)}", file=sys.stderr)
            return 1
        password_hash = password_hashing().hash(password)
        now = datetime.now(UTC)
        store.run(lambda uow: uow.accounts.set_root_password(account_id, password_hash, now))
    finally:
        store.close()
    print(f"iamd: root password set for account {account_id} (sign in with {account.email})")
    return 0
