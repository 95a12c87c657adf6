"""Sign-in checks on identity-store users, for the access portal and ``iamd sso set-password``:
Identity Center's password rules, setting a password, verifying one (in the same time whether or
not the user exists) and verifying an authenticator app's code once.

Password rules (IAM Identity Center user guide, password-requirements): case-sensitive, 8 to 64
characters, at least one lower-case letter, one upper-case letter, one digit and one
non-alphanumeric character, and none of the last three passwords again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from iamd.secrets import totp
from iamd.secrets.passwords import PasswordHashing
from iamd.store.identity_credentials import IdsMfaDeviceRecord
from iamd.store.identity_store import IdsUserRecord
from iamd.store.unit import UnitOfWork

__all__ = [
    "MAX_PASSWORD",
    "MIN_PASSWORD",
    "SYMBOLS",
    "PasswordRejected",
    "password_problems",
    "set_password",
    "verify_password",
    "verify_totp",
]

MIN_PASSWORD: Final = 8
MAX_PASSWORD: Final = 64
SYMBOLS: Final = "~!@#$%^&*_-+=`|\\(){}[]:;\"'<>,.?/"


class PasswordRejected(ValueError):
    """The new password breaks a rule; the message says which, in words for the person."""


def password_problems(password: str) -> list[str]:
    """What is wrong with ``password`` under Identity Center's rules (empty when nothing)."""
    problems = []
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        problems.append(f"be {MIN_PASSWORD} to {MAX_PASSWORD} characters long")
    if not any(c.islower() for c in password):
        problems.append("contain a lower-case letter")
    if not any(c.isupper() for c in password):
        problems.append("contain an upper-case letter")
    if not any(c.isdigit() for c in password):
        problems.append("contain a digit")
    if not any(c in SYMBOLS or not (c.isalnum() or c.isspace()) for c in password):
        problems.append("contain a non-alphanumeric character such as ! or #")
    return problems


def set_password(
    uow: UnitOfWork, hashing: PasswordHashing, user: IdsUserRecord, password: str, *, now: datetime
) -> None:
    """Give ``user`` the password ``password``; :class:`PasswordRejected` when it breaks a rule
    or is one of the user's last three passwords."""
    problems = password_problems(password)
    if problems:
        raise PasswordRejected("The password must " + ", ".join(problems) + ".")
    for earlier in uow.identity_credentials.previous_password_hashes(user.id):
        if hashing.verify(earlier, password):
            raise PasswordRejected("The password must differ from your last 3 passwords.")
    uow.identity_credentials.set_password_hash(user.id, hashing.hash(password), changed_at=now)


def verify_password(
    uow: UnitOfWork, hashing: PasswordHashing, store_id: str, user_name: str, password: str
) -> IdsUserRecord | None:
    """The enabled user ``user_name`` (ignoring case) of the store when ``password`` is theirs,
    else None. A user that does not exist, has no password or is disabled costs one argon2
    verification too, so the time taken does not tell them apart."""
    if len(password) > 4 * MAX_PASSWORD or len(user_name) > 128:
        hashing.verify_dummy(password[: 4 * MAX_PASSWORD])
        return None
    user = uow.identity_store.find_user_by_name(store_id, user_name)
    stored = uow.identity_credentials.password_hash(user.id) if user is not None else None
    if user is None or stored is None:
        hashing.verify_dummy(password)
        return None
    if not hashing.verify(stored, password) or not user.enabled:
        return None
    return user


def verify_totp(
    uow: UnitOfWork, user: IdsUserRecord, code: str, *, now: datetime
) -> IdsMfaDeviceRecord | None:
    """The user's authenticator app whose code ``code`` is (within one 30-second step of ``now``),
    and record the step so the code cannot be used again; None when no app takes it."""
    for device in uow.identity_credentials.mfa_devices(user.store_id, user.id):
        if device.kind != "totp":
            continue
        seed = uow.identity_credentials.totp_seed(user.store_id, user.id, device.id)
        counter = totp.match(seed, code, now)
        if counter is not None and uow.identity_credentials.accept_totp_counter(
            device.id, counter, used_at=now
        ):
            return device
    return None
