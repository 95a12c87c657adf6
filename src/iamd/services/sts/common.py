"""What the STS operations share: parameter rules, session policies and tags, role lookup, and
issuing credentials."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from iamd.policy import PolicyKind
from iamd.policy.acceptance import first_refusal
from iamd.services.framework import OperationContext
from iamd.services.sts.tokens import (
    MAX_TOKEN_SIZE,
    Session,
    SessionCaller,
    packed_policy_size,
    seal_session,
    session_access_key_id,
)
from iamd.store.records import RoleRecord
from iamd.store.schema import AWS_ACCOUNT
from iamd.wire import AwsError, ClientError, MalformedPolicyDocument, ValidationError, modeled_error
from iamd.wire.models import load_service_model

__all__ = [
    "CHAINED_MAX",
    "DEFAULT_ROLE_DURATION",
    "InvalidParameterValue",
    "Issued",
    "SessionPolicies",
    "assumed_role_output",
    "caller_session",
    "check_session_name",
    "credentials_output",
    "find_role",
    "issue",
    "parse_role_arn",
    "role_arn",
    "role_duration",
    "session_policies",
    "session_tags",
    "sts_error",
]

DEFAULT_ROLE_DURATION: Final = 3600
CHAINED_MAX: Final = 3600
MAX_POLICY_ARNS: Final = 10
MAX_POLICY_LENGTH: Final = 2048
_ROLE_ARN = re.compile(r"arn:aws:iam::(\d{12}):role(/(?:[\x21-\x7e]*/)?)([\w+=,.@-]{1,64})")
_POLICY_ARN = re.compile(r"arn:aws:iam::(\d{12}|aws):policy(/(?:[\x21-\x7e]*/)?)([\w+=,.@-]{1,128})")
_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}")


class InvalidParameterValue(ClientError):
    code = "InvalidParameterValue"


def role_arn(role: RoleRecord) -> str:
    return f"arn:aws:iam::{role.account_id}:role{role.path}{role.name}"


def role_arn_parts(arn: str) -> tuple[str, str, str] | None:
    """(account, path, name) of a role ARN; None if it is not one."""
    found = _ROLE_ARN.fullmatch(arn)
    return None if found is None else (found.group(1), found.group(2), found.group(3))


def parse_role_arn(arn: str) -> tuple[str, str, str]:
    """(account, path, name) of a role ARN; ValidationError otherwise."""
    parts = role_arn_parts(arn)
    if parts is None:
        raise ValidationError(f"{arn} is invalid")
    return parts


def find_role(ctx: OperationContext, arn: str) -> RoleRecord | None:
    """The role an ARN names (its path must match), or None."""
    account, path, name = parse_role_arn(arn)
    role = ctx.uow.roles.find(account, name)
    if role is None or role.path != path:
        return None
    return role


def check_session_name(name: str, what: str = "roleSessionName") -> None:
    if not _SESSION_NAME.fullmatch(name):
        raise ValidationError(
            f"1 validation error detected: Value '{name}' at '{what}' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length 2..64"
        )


def caller_session(ctx: OperationContext) -> Session | None:
    caller = ctx.caller
    return caller.session if isinstance(caller, SessionCaller) else None


def role_duration(requested: object, role: RoleRecord, *, chained: bool) -> int:
    """DurationSeconds for a role session: 900 s up to the role's MaxSessionDuration (an hour
    when chaining roles)."""
    duration = int(str(requested)) if requested is not None else DEFAULT_ROLE_DURATION
    if chained and duration > CHAINED_MAX:
        raise ValidationError(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by "
            "role chaining."
        )
    if duration > role.max_session_duration:
        raise ValidationError(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
        )
    return duration


# -- session policies ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionPolicies:
    policy: str | None
    arns: tuple[str, ...]


def session_policies(ctx: OperationContext, params: Mapping[str, Any], owner_account: str) -> SessionPolicies:
    """The Policy and PolicyArns parameters, checked: the inline policy is a valid session policy
    of at most 2,048 characters; at most 10 managed policies, each existing in the role's account
    or AWS managed."""
    policy = params.get("Policy")
    if policy is not None:
        if len(policy) > MAX_POLICY_LENGTH:
            raise ValidationError(
                "1 validation error detected: Value at 'policy' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_POLICY_LENGTH}"
            )
        # STS's sentences for a bad session policy are not quoted anywhere we found; it answers
        # with MalformedPolicyDocument (its model), and iamd uses IAM's identity-policy sentences.
        refusal = first_refusal(policy, PolicyKind.SESSION)
        if refusal is not None:
            raise MalformedPolicyDocument(refusal.message)
    arns: list[str] = []
    descriptors = params.get("PolicyArns") or []
    if len(descriptors) > MAX_POLICY_ARNS:
        raise ValidationError(
            "1 validation error detected: Value at 'policyArns' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_POLICY_ARNS}"
        )
    for descriptor in descriptors:
        arn = str(descriptor.get("arn") or "")
        found = _POLICY_ARN.fullmatch(arn)
        if found is None:
            raise ValidationError(f"The policy ARN {arn} is invalid.")
        owner = AWS_ACCOUNT if found.group(1) == "aws" else found.group(1)
        if owner not in (AWS_ACCOUNT, owner_account):
            raise ValidationError(f"The policy {arn} must be in the same account as the session.")
        managed = ctx.uow.policies.find(owner, found.group(3))
        if managed is None or managed.path != found.group(2):
            raise ValidationError(f"The policy {arn} does not exist or is not attachable.")
        arns.append(arn)
    return SessionPolicies(policy, tuple(arns))


def sts_error(shape: str, message: str) -> AwsError:
    """An error STS's model declares (``IDPRejectedClaimException``…), with the model's code and status."""
    return modeled_error(load_service_model("sts"), shape, message)


# -- session tags --------------------------------------------------------------------------------


def session_tags(
    params_tags: Sequence[Mapping[str, Any]] | None,
    transitive_keys: Sequence[str] | None,
    inherited: Mapping[str, str],
) -> tuple[dict[str, str], tuple[str, ...]]:
    """The new session's tags (inherited transitive tags first) and transitive keys.

    Keys compare case-insensitively; a repeated key, a key that starts with ``aws:``, a transitive
    key that names no tag, or a tag that would change an inherited transitive one is refused."""
    tags: dict[str, str] = {}
    seen: set[str] = set()
    for tag in params_tags or []:
        key, value = str(tag["Key"]), str(tag.get("Value", ""))
        if key.lower() in seen:
            # AWS's exact sentences here and below (recorded against AWS: LocalStack's
            # tests/aws/services/sts/test_sts.snapshot.json, test_assume_role_tag_validation and
            # test_iam_role_chaining_override_transitive_tags).
            raise InvalidParameterValue(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive."
            )
        if key.lower().startswith("aws:"):
            raise InvalidParameterValue(f"Tag keys may not start with 'aws:': {key}")
        if len(value) > 256:
            raise ValidationError(f"The value of the session tag {key} exceeds 256 characters.")
        seen.add(key.lower())
        tags[key] = value
    inherited_lower = {k.lower(): k for k in inherited}
    for key in tags:
        if key.lower() in inherited_lower:
            raise InvalidParameterValue(
                "One of the specified transitive tag keys can't be set because it conflicts with a "
                "transitive tag key from the calling session."
            )
    keys: list[str] = []
    for key in transitive_keys or []:
        if key.lower() not in seen:
            raise InvalidParameterValue(
                "The specified transitive tag key must be included in the requested tags."
            )
        if key.lower() not in {k.lower() for k in keys}:
            keys.append(key)
    combined = {**dict(inherited), **tags}
    if len(combined) > 50:
        raise ValidationError(
            "A session can have at most 50 session tags (inherited transitive tags included)."
        )
    return combined, (*inherited.keys(), *keys)


# -- issuing -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Issued:
    session: Session
    token: str
    packed: int

    @property
    def expiration(self) -> datetime:
        return datetime.fromtimestamp(self.session.expires_at, UTC)


def issue(
    ctx: OperationContext,
    *,
    kind: str,
    account_id: str,
    duration: int,
    params: Mapping[str, Any],
    policies: SessionPolicies | None = None,
    tags: Mapping[str, str] | None = None,
    **fields: Any,
) -> Issued:
    """Make the session and its sealed token; PackedPolicyTooLarge when policies and tags do not fit."""
    tags = dict(tags or {})
    policy = policies.policy if policies else None
    arns = policies.arns if policies else ()
    packed = packed_policy_size(policy, arns, tags)
    if packed > 100:
        raise sts_error(
            "PackedPolicyTooLargeException",
            f"Packed policy consumes {packed}% of allotted space, please use smaller policy.",
        )
    issued_at = int(ctx.now.timestamp())
    session = Session(
        kind=kind,
        account_id=account_id,
        access_key_id=session_access_key_id(ctx.ids, account_id),
        secret_access_key=ctx.ids.secret_access_key(),
        issued_at=issued_at,
        expires_at=issued_at + duration,
        policy=policy,
        policy_arns=arns,
        tags=tuple(tags.items()),
        **fields,
    )
    token = seal_session(ctx.uow.kek, session, min_size=int(params.get("MinimumSessionTokenSize") or 0))
    if len(token) > MAX_TOKEN_SIZE:
        raise sts_error(
            "PackedPolicyTooLargeException",
            f"The session token would be {len(token)} bytes, more than the {MAX_TOKEN_SIZE} iamd issues.",
        )
    return Issued(session, token, packed)


def credentials_output(issued: Issued) -> dict[str, Any]:
    """Credentials, and the token's size and share of the maximum (SessionTokenSize/Utilization)."""
    return {
        "Credentials": {
            "AccessKeyId": issued.session.access_key_id,
            "SecretAccessKey": issued.session.secret_access_key,
            "SessionToken": issued.token,
            "Expiration": issued.expiration,
        },
        "SessionTokenSize": len(issued.token),
        "SessionTokenUtilization": min(100, -(-len(issued.token) * 100 // MAX_TOKEN_SIZE)),
    }


def assumed_role_output(issued: Issued) -> dict[str, Any]:
    out = credentials_output(issued)
    out["AssumedRoleUser"] = {"AssumedRoleId": issued.session.unique_id, "Arn": issued.session.arn}
    out["PackedPolicySize"] = issued.packed
    if issued.session.source_identity is not None:
        out["SourceIdentity"] = issued.session.source_identity
    return out
