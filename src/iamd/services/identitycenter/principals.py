"""The principals of account assignments: users and groups of the instance's identity store."""

from __future__ import annotations

from iamd.services.framework import OperationContext
from iamd.store.identity_center import InstanceRecord


def check_principal(ctx: OperationContext, instance: InstanceRecord, kind: str, principal_id: str) -> None:
    """Refuse an assignment to a user or group its instance's identity store does not hold.

    The identity store is not part of this package; until it is merged, any id of the model's
    form (``([0-9a-f]{10}-)?UUID``, checked by the wire layer) is accepted."""
    del ctx, instance, kind, principal_id
