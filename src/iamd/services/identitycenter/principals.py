"""The principals of account assignments: users and groups of the instance's identity store."""

from __future__ import annotations

from iamd.services.framework import OperationContext
from iamd.services.identitycenter.common import not_found
from iamd.store.identity_center import InstanceRecord


def check_principal(ctx: OperationContext, instance: InstanceRecord, kind: str, principal_id: str) -> None:
    """Refuse an assignment to a user or group that the instance's identity store does not hold
    (ResourceNotFoundException). Assignments made earlier are kept when their principal is deleted,
    as AWS keeps them (a user re-created under the same name gets a new id)."""
    store = ctx.uow.identity_store
    if kind == "USER":
        exists = store.find_user(instance.identity_store_id, principal_id) is not None
    else:
        exists = store.find_group(instance.identity_store_id, principal_id) is not None
    if not exists:
        what = "User" if kind == "USER" else "Group"
        raise not_found(
            f"{what} {principal_id} was not found in the identity store {instance.identity_store_id} "
            f"of instance {instance.arn}."
        )
