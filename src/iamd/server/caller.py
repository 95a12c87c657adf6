"""Who makes a request, as policies see it (``Caller``): the root user or an IAM user, from a
verified access key or a console session."""

from __future__ import annotations

from typing import Any

from iamd.authz import Principal, PrincipalKind
from iamd.services.framework import Caller
from iamd.store.records import AccessKeyRecord, UserRecord
from iamd.store.unit import UnitOfWork

__all__ = ["caller_for_key", "root_caller", "user_caller"]


def root_caller(account: str, **extra: Any) -> Caller:
    """The account's root user; ``extra``: Caller's fields that depend on how it signed in."""
    arn = f"arn:aws:iam::{account}:root"
    return Caller(
        principal=Principal(PrincipalKind.ROOT, arn, account),
        account_id=account,
        principal_type="Account",
        unique_id=account,
        arn=arn,
        **extra,
    )


def user_caller(uow: UnitOfWork, user: UserRecord, **extra: Any) -> Caller:
    """The IAM user ``user``, with its tags as aws:PrincipalTag."""
    account = user.account_id
    arn = f"arn:aws:iam::{account}:user{user.path}{user.name}"
    tags = {tag.key: tag.value for tag in uow.tags.list(account, "user", user.id)}
    return Caller(
        principal=Principal(PrincipalKind.USER, arn, account),
        account_id=account,
        principal_type="User",
        unique_id=user.id,
        arn=arn,
        user_id=user.id,
        user_name=user.name,
        tags=tags,
        **extra,
    )


def caller_for_key(uow: UnitOfWork, key: AccessKeyRecord) -> Caller:
    """The long-term identity behind an access key: an IAM user, or the account's root user."""
    if key.user_id is None:
        return root_caller(key.account_id, access_key_id=key.id)
    return user_caller(uow, uow.users.get_by_id(key.user_id), access_key_id=key.id)
