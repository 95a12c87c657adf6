"""Who signed a request: from a verified access key to the ``Caller`` that policies see."""

from __future__ import annotations

from iamd.authz import Principal, PrincipalKind
from iamd.services.framework import Caller
from iamd.store.records import AccessKeyRecord
from iamd.store.unit import UnitOfWork

__all__ = ["caller_for_key"]


def caller_for_key(uow: UnitOfWork, key: AccessKeyRecord) -> Caller:
    """The long-term identity behind an access key: an IAM user, or the account's root user."""
    account = key.account_id
    if key.user_id is None:
        arn = f"arn:aws:iam::{account}:root"
        return Caller(
            principal=Principal(PrincipalKind.ROOT, arn, account),
            account_id=account,
            principal_type="Account",
            unique_id=account,
            arn=arn,
            access_key_id=key.id,
        )
    user = uow.users.get_by_id(key.user_id)
    arn = f"arn:aws:iam::{account}:user{user.path}{user.name}"
    tags = {tag.key: tag.value for tag in uow.tags.list(account, "user", user.id)}
    return Caller(
        principal=Principal(PrincipalKind.USER, arn, account),
        account_id=account,
        principal_type="User",
        unique_id=user.id,
        arn=arn,
        access_key_id=key.id,
        user_id=user.id,
        user_name=user.name,
        tags=tags,
    )
