"""Console passwords: login profiles (Create/Get/Update/DeleteLoginProfile), ChangePassword, and the
account password policy (Get/Update/DeleteAccountPasswordPolicy).

Passwords are hashed with argon2id (:mod:`iamd.secrets.passwords`) and never stored, logged or
echoed: error messages say which rule a password breaks at most, never the password. Every
password set (by an administrator or by the user) is checked against the account's password
policy, including PasswordReusePrevention against the user's last N password hashes; without a
custom policy AWS's default policy applies.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from iamd.authz import Layer
from iamd.secrets.compare import constant_time_equals
from iamd.secrets.passwords import DEFAULT_PARAMS, PasswordHashing
from iamd.services.framework import OperationContext, operation
from iamd.services.iam.owners import ROOT_USER_NAME, credential_owner
from iamd.services.iam.users import authorize_user, find_user_authorized
from iamd.store.records import AccountRecord, LoginProfileRecord, PasswordPolicyRecord, UserRecord
from iamd.wire import (
    AccessDenied,
    ClientError,
    EntityAlreadyExists,
    InvalidInput,
    NoSuchEntity,
    ValidationError,
    load_service_model,
    modeled_error,
)

__all__ = [
    "DEFAULT_MINIMUM_LENGTH",
    "SYMBOLS",
    "PasswordPolicyViolation",
    "password_expired",
    "password_hashing",
    "password_problems",
    "policy_violation",
]

SYMBOLS: Final = frozenset("!@#$%^&*()_+-=[]{}|'")
"""The non-alphanumeric characters AWS's RequireSymbols counts."""
DEFAULT_MINIMUM_LENGTH: Final = 8
"""AWS's default password policy (no custom policy): 8 characters, three of the four kinds."""
API_MINIMUM_LENGTH: Final = 6
"""UpdateAccountPasswordPolicy's default MinimumPasswordLength when the parameter is omitted."""
VIOLATION: Final = "Password does not conform to the account password policy."

_hashing: PasswordHashing | None = None
_hashing_lock = threading.Lock()


def password_hashing() -> PasswordHashing:
    """The process's argon2id hasher (RFC 9106 parameters)."""
    global _hashing
    with _hashing_lock:
        if _hashing is None:
            _hashing = PasswordHashing(DEFAULT_PARAMS)
        return _hashing


class PasswordPolicyViolation(ClientError):
    """AWS's PasswordPolicyViolation: the API answers AWS's one sentence; ``reasons`` name the
    rules broken (length, a character class, reuse) for iamd's own console and tools, and never
    reach the wire or contain the password."""

    def __init__(self, reasons: Sequence[str]) -> None:
        modeled = modeled_error(load_service_model("iam"), "PasswordPolicyViolationException", VIOLATION)
        super().__init__(
            VIOLATION,
            code=modeled.code,
            json_code=modeled.json_code,
            status=modeled.status,
            sender_fault=modeled.sender_fault,
        )
        self.reasons = tuple(reasons)

    @property
    def explained(self) -> str:
        """AWS's sentence followed by the rules broken, for people."""
        if not self.reasons:
            return self.message
        return f"{self.message} The new password has {'; '.join(self.reasons)}."


def policy_violation(reasons: Sequence[str] = ()) -> PasswordPolicyViolation:
    """AWS's PasswordPolicyViolation (HTTP 400), with its fixed sentence."""
    return PasswordPolicyViolation(reasons)


_KIND_NAMES = {
    "uppercase": "no uppercase letter (A-Z)",
    "lowercase": "no lowercase letter (a-z)",
    "numbers": "no number (0-9)",
    "symbols": "no symbol (one of " + "".join(sorted(SYMBOLS)) + ")",
}


def password_problems(
    password: str, policy: PasswordPolicyRecord | None, account: AccountRecord
) -> list[str]:
    """The composition rules ``password`` breaks (empty when it conforms), each a phrase that
    follows "The new password has". The reasons never contain the password."""
    kinds = {
        "uppercase": any("A" <= c <= "Z" for c in password),
        "lowercase": any("a" <= c <= "z" for c in password),
        "numbers": any("0" <= c <= "9" for c in password),
        "symbols": any(c in SYMBOLS for c in password),
    }
    problems: list[str] = []
    if policy is None:
        if len(password) < DEFAULT_MINIMUM_LENGTH:
            problems.append(f"fewer than {DEFAULT_MINIMUM_LENGTH} characters")
        if sum(kinds.values()) < 3:
            problems.append("fewer than three of uppercase letters, lowercase letters, numbers and symbols")
        if password in {account.name, account.email or ""}:
            problems.append("the same text as the account name or email address")
        return problems
    if len(password) < policy.minimum_length:
        problems.append(f"fewer than {policy.minimum_length} characters")
    required = {
        "uppercase": policy.require_uppercase,
        "lowercase": policy.require_lowercase,
        "numbers": policy.require_numbers,
        "symbols": policy.require_symbols,
    }
    problems.extend(_KIND_NAMES[kind] for kind, needed in required.items() if needed and not kinds[kind])
    return problems


def password_expired(profile: LoginProfileRecord, policy: PasswordPolicyRecord | None, now: datetime) -> bool:
    """True when the policy's MaxPasswordAge has passed since the password was last set."""
    if policy is None or not policy.max_age_days:
        return False
    return now >= profile.password_changed_at + timedelta(days=policy.max_age_days)


def _reused(password: str, hashes: Sequence[str]) -> bool:
    hashing = password_hashing()
    return any(hashing.verify(stored, password) for stored in hashes)


def check_new_password(
    ctx: OperationContext,
    user: UserRecord,
    password: str,
    policy: PasswordPolicyRecord | None,
    current: LoginProfileRecord | None,
    current_password: str | None = None,
) -> None:
    """Refuse a password the account policy forbids: composition, then reuse of the last
    PasswordReusePrevention passwords (the current one included; ``current_password``, when the
    caller has just proven it, spares verifying its hash again)."""
    problems = password_problems(password, policy, ctx.uow.accounts.get(ctx.account_id))
    if problems:
        raise policy_violation(problems)
    if policy is not None and policy.reuse_prevention:
        remembered = policy.reuse_prevention
        reused = [f"been used before: the policy prevents reusing the last {remembered} passwords"]
        hashes: list[str] = []
        if current is not None:
            if current_password is not None:
                if constant_time_equals(password, current_password):
                    raise policy_violation(reused)
            else:
                hashes.append(current.password_hash)
            remembered -= 1
        if remembered > 0:
            hashes.extend(ctx.uow.login_profiles.previous_hashes(user.id, remembered))
        if _reused(password, hashes):
            raise policy_violation(reused)


def render_login_profile(user: UserRecord, profile: LoginProfileRecord) -> dict[str, Any]:
    return {
        "UserName": user.name,
        "CreateDate": profile.created_at,
        "PasswordResetRequired": profile.password_reset_required,
    }


def no_login_profile(name: str) -> NoSuchEntity:
    return NoSuchEntity(f"Login Profile for User {name} cannot be found.")


def _refuse_session_duration(params: dict[str, Any]) -> None:
    if params.get("MaxSigninSessionDuration") is not None or params.get("ResetMaxSigninSessionDuration"):
        raise InvalidInput("MaxSigninSessionDuration is not supported by iamd.")


def _login_user(ctx: OperationContext, action: str, params: dict[str, Any]) -> UserRecord:
    owner = credential_owner(ctx, action, params, allow_root=False)
    assert owner.user is not None  # allow_root=False
    return owner.user


def authorize_or_granted(ctx: OperationContext, action: str, user: UserRecord | None, granted: bool) -> None:
    """Authorize ``action`` (on ``user``, else ``*``); when the account password policy
    (AllowUsersToChangePassword) grants it, an implicit deny by the identity-based policies is
    overridden, as AWS does, but an explicit deny, or a deny by another layer, still stands."""
    try:
        if user is None:
            ctx.authorize(action, "*")
        else:
            authorize_user(ctx, action, user)
    except AccessDenied as denied:
        if not granted or not denied.message.endswith(
            f"because no {Layer.IDENTITY.phrase} allows the {action} action"
        ):
            raise
        ctx.authorized = True


# -- login profiles -----------------------------------------------------------------------------


def _root_password(ctx: OperationContext, action: str, params: dict[str, Any]) -> AccountRecord | None:
    """The account, when the call acts on the root user's password: no UserName and a root caller,
    as a root session from sts:AssumeRoot calls it for the IAMCreateRootUserPassword,
    IAMAuditRootUserCredentials and IAMDeleteRootUserCredentials tasks (IAM User Guide,
    id_root-user-privileged-task: "aws iam create-login-profile" / get- / delete- with no user
    name). ``action`` is authorized on the root user first."""
    if params.get("UserName") or not ctx.caller.is_root:
        return None
    ctx.authorize(action, ctx.caller.arn)
    return ctx.uow.accounts.get(ctx.account_id)


def _root_login_profile(account: AccountRecord) -> dict[str, Any]:
    return {
        "UserName": ROOT_USER_NAME,
        "CreateDate": account.root_password_changed_at,
        "PasswordResetRequired": False,
    }


@operation("iam", "CreateLoginProfile")
def create_login_profile(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    account = _root_password(ctx, "iam:CreateLoginProfile", params)
    if account is not None:
        _refuse_session_duration(params)
        if not params.get("Password"):
            raise ValidationError("Password is required to create a login profile for the root user.")
        if account.root_password_hash is not None:
            raise EntityAlreadyExists(f"Login Profile for user {ROOT_USER_NAME} already exists.")
        ctx.uow.accounts.set_root_password(account.id, password_hashing().hash(params["Password"]), ctx.now)
        return {"LoginProfile": _root_login_profile(ctx.uow.accounts.get(account.id))}
    user = _login_user(ctx, "iam:CreateLoginProfile", params)
    _refuse_session_duration(params)
    password = params.get("Password")
    if not password:
        raise ValidationError("Password is required to create a login profile for an IAM user.")
    if ctx.uow.login_profiles.find(user.id) is not None:
        raise EntityAlreadyExists(f"Login Profile for user {user.name} already exists.")
    policy = ctx.uow.accounts.password_policy(ctx.account_id)
    check_new_password(ctx, user, password, policy, None)
    profile = ctx.uow.login_profiles.create(
        user.id,
        password_hash=password_hashing().hash(password),
        reset_required=bool(params.get("PasswordResetRequired")),
        created_at=ctx.now,
    )
    return {"LoginProfile": render_login_profile(user, profile)}


@operation("iam", "GetLoginProfile", readonly=True)
def get_login_profile(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    account = _root_password(ctx, "iam:GetLoginProfile", params)
    if account is not None:
        if account.root_password_hash is None:
            raise no_login_profile(ROOT_USER_NAME)
        return {"LoginProfile": _root_login_profile(account)}
    user = _login_user(ctx, "iam:GetLoginProfile", params)
    profile = ctx.uow.login_profiles.find(user.id)
    if profile is None:
        raise no_login_profile(user.name)
    return {"LoginProfile": render_login_profile(user, profile)}


@operation("iam", "UpdateLoginProfile")
def update_login_profile(ctx: OperationContext, params: dict[str, Any]) -> None:
    user = find_user_authorized(ctx, "iam:UpdateLoginProfile", params["UserName"])
    _refuse_session_duration(params)
    profile = ctx.uow.login_profiles.find(user.id)
    if profile is None:
        raise no_login_profile(user.name)
    password = params.get("Password")
    reset = params.get("PasswordResetRequired")
    new_hash = None
    if password is not None:
        check_new_password(ctx, user, password, ctx.uow.accounts.password_policy(ctx.account_id), profile)
        new_hash = password_hashing().hash(password)
    if new_hash is None and reset is None:
        return
    ctx.uow.login_profiles.update(
        user.id,
        password_hash=new_hash,
        reset_required=None if reset is None else bool(reset),
        changed_at=ctx.now if new_hash is not None else None,
    )


@operation("iam", "DeleteLoginProfile")
def delete_login_profile(ctx: OperationContext, params: dict[str, Any]) -> None:
    account = _root_password(ctx, "iam:DeleteLoginProfile", params)
    if account is not None:
        if account.root_password_hash is None:
            raise no_login_profile(ROOT_USER_NAME)
        ctx.uow.accounts.set_root_password(account.id, None, ctx.now)
        return
    user = _login_user(ctx, "iam:DeleteLoginProfile", params)
    if ctx.uow.login_profiles.find(user.id) is None:
        raise no_login_profile(user.name)
    ctx.uow.login_profiles.delete(user.id)


@operation("iam", "ChangePassword")
def change_password(ctx: OperationContext, params: dict[str, Any]) -> None:
    caller = ctx.caller
    if caller.user_id is None or caller.principal_type != "User":
        raise modeled_error(
            load_service_model("iam"),
            "InvalidUserTypeException",
            "Only IAM users can change their own password with ChangePassword.",
        )
    user = ctx.uow.users.get_by_id(caller.user_id)
    policy = ctx.uow.accounts.password_policy(ctx.account_id)
    authorize_or_granted(ctx, "iam:ChangePassword", user, policy is not None and policy.allow_users_to_change)
    profile = ctx.uow.login_profiles.find(user.id)
    if profile is None:
        raise no_login_profile(user.name)
    hashing = password_hashing()
    if not hashing.verify(profile.password_hash, params["OldPassword"]):
        raise AccessDenied("The old password is incorrect.")
    if policy is not None and policy.hard_expiry and password_expired(profile, policy, ctx.now):
        raise AccessDenied(
            "The password has expired and the account password policy (HardExpiry) does not "
            "allow setting a new one: an administrator must reset it."
        )
    new_password = params["NewPassword"]
    check_new_password(ctx, user, new_password, policy, profile, params["OldPassword"])
    ctx.uow.login_profiles.update(
        user.id, password_hash=hashing.hash(new_password), reset_required=False, changed_at=ctx.now
    )


# -- the account password policy ----------------------------------------------------------------


def render_password_policy(policy: PasswordPolicyRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "MinimumPasswordLength": policy.minimum_length,
        "RequireSymbols": policy.require_symbols,
        "RequireNumbers": policy.require_numbers,
        "RequireUppercaseCharacters": policy.require_uppercase,
        "RequireLowercaseCharacters": policy.require_lowercase,
        "AllowUsersToChangePassword": policy.allow_users_to_change,
        "ExpirePasswords": bool(policy.max_age_days),
    }
    if policy.max_age_days:
        out["MaxPasswordAge"] = policy.max_age_days
    if policy.reuse_prevention:
        out["PasswordReusePrevention"] = policy.reuse_prevention
    if policy.max_age_days or policy.hard_expiry:
        out["HardExpiry"] = policy.hard_expiry
    return out


def no_password_policy(account_id: str) -> NoSuchEntity:
    return NoSuchEntity(f"The Password Policy with domain name {account_id} cannot be found.")


@operation("iam", "GetAccountPasswordPolicy", readonly=True)
def get_account_password_policy(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    policy = ctx.uow.accounts.password_policy(ctx.account_id)
    # AllowUsersToChangePassword also lets every IAM user read the policy.
    granted = policy is not None and policy.allow_users_to_change and ctx.caller.principal_type == "User"
    authorize_or_granted(ctx, "iam:GetAccountPasswordPolicy", None, granted)
    if policy is None:
        raise no_password_policy(ctx.account_id)
    return {"PasswordPolicy": render_password_policy(policy)}


@operation("iam", "UpdateAccountPasswordPolicy")
def update_account_password_policy(ctx: OperationContext, params: dict[str, Any]) -> None:
    ctx.authorize("iam:UpdateAccountPasswordPolicy", "*")
    # As AWS: every parameter left out takes its default; nothing is merged with the old policy.
    policy = PasswordPolicyRecord(
        minimum_length=int(params.get("MinimumPasswordLength") or API_MINIMUM_LENGTH),
        require_symbols=bool(params.get("RequireSymbols")),
        require_numbers=bool(params.get("RequireNumbers")),
        require_uppercase=bool(params.get("RequireUppercaseCharacters")),
        require_lowercase=bool(params.get("RequireLowercaseCharacters")),
        allow_users_to_change=bool(params.get("AllowUsersToChangePassword")),
        max_age_days=int(params["MaxPasswordAge"]) if params.get("MaxPasswordAge") else None,
        reuse_prevention=int(params["PasswordReusePrevention"])
        if params.get("PasswordReusePrevention")
        else None,
        hard_expiry=bool(params.get("HardExpiry")),
    )
    ctx.uow.accounts.put_password_policy(ctx.account_id, policy)


@operation("iam", "DeleteAccountPasswordPolicy")
def delete_account_password_policy(ctx: OperationContext, params: dict[str, Any]) -> None:
    ctx.authorize("iam:DeleteAccountPasswordPolicy", "*")
    if ctx.uow.accounts.password_policy(ctx.account_id) is None:
        raise no_password_policy(ctx.account_id)
    ctx.uow.accounts.delete_password_policy(ctx.account_id)
