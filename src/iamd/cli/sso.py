"""``iamd sso``: what IAM Identity Center's console does for an administrator, on a data directory.

- ``iamd sso scim-token``: create a SCIM access token (at most two per identity store, valid a
  year) and print ``{"endpoint": ..., "token": ...}``; the token is shown only this once.
- ``iamd sso set-password --user-name NAME``: give an identity store user a password, read from
  standard input (first line), never from the command line.
- ``iamd sso saml-idp --metadata FILE``: use an external SAML 2.0 identity provider (Okta, Entra
  ID …) for sign-in to the access portal; ``--show-sp-metadata`` prints iamd's own SP metadata
  to give the IdP; ``--remove`` goes back to the identity store's passwords.

``--identity-store-id`` chooses the store when the data directory has more than one (each
Identity Center instance has one); by default the only one is used.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from iamd.cli.datastore import add_store_arguments, existing_data_dir, open_data_store

if TYPE_CHECKING:
    from iamd.store.identity_store import IdentityStoreRecord
    from iamd.store.unit import UnitOfWork

__all__ = ["add_parser"]

DEFAULT_URL = "http://127.0.0.1:8080"
MAX_PASSWORD_INPUT = 1024
MAX_METADATA = 75_000
"""IdP metadata may be at most 75,000 characters (IAM Identity Center user guide, other-idps)."""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sso = commands.add_parser("sso", help="IAM Identity Center: SCIM tokens, passwords, external IdP")
    sso_commands = sso.add_subparsers(dest="sso_command", required=True)

    token = sso_commands.add_parser(
        "scim-token", help="create a SCIM access token (printed once, as JSON); --list, --delete ID"
    )
    add_store_arguments(token)
    _store_option(token)
    token_action = token.add_mutually_exclusive_group()
    token_action.add_argument("--list", action="store_true", help="list the store's tokens (ids and dates)")
    token_action.add_argument(
        "--delete", metavar="TOKEN_ID", help="delete a token (rotation: after the new one)"
    )
    token.add_argument(
        "--public-url", default=DEFAULT_URL, help=f"where IdPs reach iamd (default {DEFAULT_URL})"
    )
    token.set_defaults(func=cmd_scim_token)

    password = sso_commands.add_parser(
        "set-password", help="set an identity store user's password (read from standard input)"
    )
    add_store_arguments(password)
    _store_option(password)
    password.add_argument("--user-name", required=True, help="the user's UserName")
    password.set_defaults(func=cmd_set_password)

    idp = sso_commands.add_parser("saml-idp", help="sign in to the access portal through a SAML 2.0 IdP")
    add_store_arguments(idp)
    _store_option(idp)
    what = idp.add_mutually_exclusive_group(required=True)
    what.add_argument("--metadata", type=Path, help="the IdP's SAML metadata XML file")
    what.add_argument("--show-sp-metadata", action="store_true", help="print iamd's SP metadata XML")
    what.add_argument("--remove", action="store_true", help="stop using the external IdP")
    idp.add_argument(
        "--public-url", default=DEFAULT_URL, help=f"where browsers reach iamd (default {DEFAULT_URL})"
    )
    idp.set_defaults(func=cmd_saml_idp)


def _store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--identity-store-id", help="the identity store (d-…); default: the only one")


def _choose_store(uow: UnitOfWork, wanted: str | None) -> IdentityStoreRecord | str:
    """The store, or what to say when there is none to choose."""
    if wanted is not None:
        store = uow.identity_store.find_store(wanted)
        return store if store is not None else f"no identity store {wanted}"
    stores: list[IdentityStoreRecord] = []
    for account in uow.accounts.list():
        stores.extend(uow.identity_store.stores_of_account(account.id))
    if not stores:
        return "no identity store: enable IAM Identity Center first (aws sso-admin create-instance)"
    if len(stores) > 1:
        names = ", ".join(f"{s.id} (account {s.account_id})" for s in stores)
        return f"several identity stores ({names}): choose one with --identity-store-id"
    return stores[0]


def cmd_scim_token(args: argparse.Namespace) -> int:
    from iamd.scim.app import PREFIX
    from iamd.scim.tokens import create_token
    from iamd.store.errors import NotFound
    from iamd.store.identity_credentials import TooMany

    data_dir = existing_data_dir(args, "sso scim-token")
    if data_dir is None:
        return 2
    store = open_data_store(args, data_dir)
    try:
        chosen = store.run(lambda uow: _choose_store(uow, args.identity_store_id), readonly=True)
        if isinstance(chosen, str):
            print(f"iamd sso scim-token: {chosen}", file=sys.stderr)
            return 2
        if args.list:
            tokens = store.run(lambda uow: uow.identity_credentials.scim_tokens(chosen.id), readonly=True)
            listing = [
                {
                    "tokenId": t.id,
                    "createdAt": _stamp(t.created_at),
                    "expiresAt": _stamp(t.expires_at),
                    "lastUsedAt": _stamp(t.last_used_at) if t.last_used_at else None,
                }
                for t in tokens
            ]
            print(json.dumps({"identityStoreId": chosen.id, "tokens": listing}, indent=2))
            return 0
        if args.delete:
            try:
                store.run(lambda uow: uow.identity_credentials.delete_scim_token(chosen.id, args.delete))
            except NotFound:
                print(f"iamd sso scim-token: no token {args.delete} in {chosen.id}", file=sys.stderr)
                return 2
            print(f"iamd: SCIM token {args.delete} deleted")
            return 0
        now = datetime.now(UTC)
        try:
            made = store.run(lambda uow: create_token(uow, chosen.id, now=now))
        except TooMany as exc:
            print(f"iamd sso scim-token: {exc}", file=sys.stderr)
            return 1
    finally:
        store.close()
    endpoint = f"{args.public_url.rstrip('/')}{PREFIX}/"
    print(
        json.dumps(
            {
                "endpoint": endpoint,
                "token": made.token,
                "tokenId": made.id,
                "identityStoreId": chosen.id,
                "expiresAt": _stamp(made.expires_at),
            },
            indent=2,
        )
    )
    return 0


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def cmd_set_password(args: argparse.Namespace) -> int:
    from iamd.services.iam.passwords import password_hashing
    from iamd.services.identitycenter.identitystore.signin import PasswordRejected, set_password

    data_dir = existing_data_dir(args, "sso set-password")
    if data_dir is None:
        return 2
    line = sys.stdin.readline(MAX_PASSWORD_INPUT + 2)
    password = line.removesuffix("\n").removesuffix("\r")
    if not password:
        print("iamd sso set-password: no password on standard input", file=sys.stderr)
        return 2
    store = open_data_store(args, data_dir)
    try:
        chosen = store.run(lambda uow: _choose_store(uow, args.identity_store_id), readonly=True)
        if isinstance(chosen, str):
            print(f"iamd sso set-password: {chosen}", file=sys.stderr)
            return 2
        user = store.run(
            lambda uow: uow.identity_store.find_user_by_name(chosen.id, args.user_name), readonly=True
        )
        if user is None:
            print(f"iamd sso set-password: no user {args.user_name} in {chosen.id}", file=sys.stderr)
            return 2
        hashing = password_hashing()
        now = datetime.now(UTC)
        try:
            store.run(lambda uow: set_password(uow, hashing, user, password, now=now))
        except PasswordRejected as exc:
            print(f"iamd sso set-password: {exc}", file=sys.stderr)
            return 1
    finally:
        store.close()
    print(f"iamd: password set for {user.user_name} in identity store {chosen.id}")
    return 0


def cmd_saml_idp(args: argparse.Namespace) -> int:
    from iamd.portal.saml import MetadataError, acs_path, entity_id, parse_idp_metadata, sp_metadata

    data_dir = existing_data_dir(args, "sso saml-idp")
    if data_dir is None:
        return 2
    store = open_data_store(args, data_dir)
    try:
        chosen = store.run(lambda uow: _choose_store(uow, args.identity_store_id), readonly=True)
        if isinstance(chosen, str):
            print(f"iamd sso saml-idp: {chosen}", file=sys.stderr)
            return 2
        if args.show_sp_metadata:
            print(sp_metadata(args.public_url.rstrip("/"), chosen.id))
            return 0
        if args.remove:
            store.run(lambda uow: uow.identity_credentials.delete_saml_idp(chosen.id))
            print(f"iamd: identity store {chosen.id} signs in with its own passwords again")
            return 0
        try:
            raw = args.metadata.read_bytes()[: MAX_METADATA + 1]
            if len(raw) > MAX_METADATA:
                raise MetadataError(f"the metadata is longer than {MAX_METADATA} characters")
            idp = parse_idp_metadata(raw.decode("utf-8"))
        except (OSError, UnicodeDecodeError, MetadataError) as exc:
            print(f"iamd sso saml-idp: {exc}", file=sys.stderr)
            return 1
        now = datetime.now(UTC)
        store.run(
            lambda uow: uow.identity_credentials.set_saml_idp(
                chosen.id,
                entity_id=idp.entity_id,
                sso_url=idp.sso_url,
                certificates=idp.certificates,
                metadata_xml=idp.xml,
                configured_at=now,
                sp_base_url=args.public_url.rstrip("/"),
            )
        )
    finally:
        store.close()
    base = args.public_url.rstrip("/")
    print(f"iamd: identity store {chosen.id} now signs in through {idp.entity_id}")
    print(f"  give the IdP: ACS URL {base}{acs_path(chosen.id)}, audience {entity_id(base, chosen.id)}")
    return 0
