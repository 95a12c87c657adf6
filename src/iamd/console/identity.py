"""Who is signed in: password checks at sign-in, the ``Caller`` a console session acts as, and
the root user's MFA deadline.

Passwords are argon2id hashes (:func:`iamd.services.iam.passwords.password_hashing`); a sign-in
naming no such user, or a user without a password, spends the time of one verification anyway,
so the answer's timing does not tell which users exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from iamd.console.sessions import ConsoleSession
from iamd.server.caller import root_caller, user_caller
from iamd.services.framework import Caller
from iamd.services.iam.passwords import password_expired, password_hashing
from iamd.store import errors as store_errors
from iamd.store.records import AccountRecord
from iamd.store.unit import UnitOfWork
from iamd.wire import AwsError

if TYPE_CHECKING:
    from iamd.server.sessions import SessionResolver

__all__ = [
    "ROOT_MFA_GRACE",
    "Candidate",
    "RoleSessionEnded",
    "SessionEnded",
    "credential_mark",
    "find_root_candidate",
    "find_user_candidate",
    "first_root_sign_in",
    "root_first_sign_in",
    "session_caller",
]

ROOT_MFA_GRACE: Final = timedelta(days=35)
"""The root user must register MFA within this long of its first sign-in."""

_FIRST_SIGN_IN: Final = "root:first-sign-in"
"""The account setting that keeps when the root user first signed in (ISO 8601)."""


class SessionEnded(Exception):
    """The identity behind a session is gone, or its password changed since the sign-in."""


class RoleSessionEnded(SessionEnded):
    """The role switched into no longer answers (its session expired, the role was deleted or its
    sessions revoked): the console goes back to the signed-in identity."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """Who a sign-in names, as read before the password is checked (outside any write)."""

    account_id: str | None
    user_id: str | None
    password_hash: str | None
    mark: str | None
    reset_required: bool = False
    expired: bool = False
    hard_expiry: bool = False
    label: str = ""

    @property
    def exists(self) -> bool:
        return self.account_id is not None and self.password_hash is not None

    def verify(self, password: str) -> bool:
        hashing = password_hashing()
        if self.password_hash is None:
            return hashing.verify_dummy(password)
        return hashing.verify(self.password_hash, password)


_NOBODY: Final = Candidate(None, None, None, None)


def credential_mark(changed_at: datetime | None) -> str | None:
    return None if changed_at is None else changed_at.isoformat()


def find_account(uow: UnitOfWork, reference: str) -> AccountRecord | None:
    """An account by its 12-digit id or its alias."""
    reference = reference.strip()
    if reference.isdigit() and len(reference) == 12:
        return uow.accounts.find(reference)
    return uow.accounts.find_by_alias(reference.lower()) if reference else None


def find_user_candidate(uow: UnitOfWork, account_ref: str, user_name: str, now: datetime) -> Candidate:
    account = find_account(uow, account_ref)
    if account is None or not user_name:
        return _NOBODY
    user = uow.users.find(account.id, user_name)
    if user is None:
        return Candidate(account.id, None, None, None)
    profile = uow.login_profiles.find(user.id)
    if profile is None:
        return Candidate(account.id, None, None, None)
    policy = uow.accounts.password_policy(account.id)
    return Candidate(
        account.id,
        user.id,
        profile.password_hash,
        credential_mark(profile.password_changed_at),
        reset_required=profile.password_reset_required,
        expired=password_expired(profile, policy, now),
        hard_expiry=policy is not None and policy.hard_expiry,
        label=user.name,
    )


def find_root_candidate(uow: UnitOfWork, email: str) -> Candidate:
    """The account whose root user signs in with ``email`` (compared case-insensitively)."""
    if not email.strip():
        return _NOBODY
    account = uow.accounts.find_by_email(email)
    if account is None:
        return _NOBODY
    if account.root_password_hash is None:
        return Candidate(account.id, None, None, None)
    return Candidate(
        account.id,
        None,
        account.root_password_hash,
        credential_mark(account.root_password_changed_at),
    )


def root_first_sign_in(uow: UnitOfWork, account_id: str) -> datetime | None:
    """When the root user of ``account_id`` first signed in with the right password, if ever."""
    value = uow.account_settings.get(account_id, _FIRST_SIGN_IN)
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def first_root_sign_in(uow: UnitOfWork, account_id: str, now: datetime) -> datetime:
    """:func:`root_first_sign_in`, recorded as ``now`` if this is the first time."""
    first = root_first_sign_in(uow, account_id)
    if first is None:
        uow.account_settings.put(account_id, _FIRST_SIGN_IN, now.isoformat(), now=now)
        first = now
    return first


def session_caller(
    uow: UnitOfWork, session: ConsoleSession, now: datetime, resolver: SessionResolver | None = None
) -> Caller:
    """The caller a signed-in session acts as; SessionEnded when its identity no longer holds.
    After "switch role" (and given the store's session ``resolver``), the assumed role's session,
    as its credentials would be over the API; the signed-in identity must still hold too."""
    base = _signed_in_caller(uow, session, now)
    if session.role is None or resolver is None:
        return base
    try:
        opened = resolver.open(session.role["token"], session.role["key"], now, service="iam")
        caller, _ = resolver.caller(uow, opened, now)
    except AwsError as exc:
        raise RoleSessionEnded(str(exc)) from exc
    return caller


def _signed_in_caller(uow: UnitOfWork, session: ConsoleSession, now: datetime) -> Caller:
    account_id = session.account_id
    if account_id is None:
        raise SessionEnded("not signed in")
    signed_in = {
        "mfa_authenticated": session.mfa_at is not None,
        "mfa_age_seconds": max(0, int(now.timestamp()) - session.mfa_at)
        if session.mfa_at is not None
        else None,
        "session_issued_at": datetime.fromtimestamp(session.issued_at, now.tzinfo)
        if session.issued_at is not None
        else None,
    }
    if session.user_id is None:
        account = uow.accounts.find(account_id)
        if account is None or account.root_password_hash is None:
            raise SessionEnded("the account or its root password is gone")
        if credential_mark(account.root_password_changed_at) != session.credential_mark:
            raise SessionEnded("the root password changed")
        return root_caller(account_id, **signed_in)
    try:
        user = uow.users.get_by_id(session.user_id)
    except store_errors.NotFound as exc:
        raise SessionEnded("the user is gone") from exc
    profile = uow.login_profiles.find(user.id)
    if user.account_id != account_id or profile is None:
        raise SessionEnded("the user or its password is gone")
    if credential_mark(profile.password_changed_at) != session.credential_mark:
        raise SessionEnded("the password changed")
    return user_caller(uow, user, **signed_in)
