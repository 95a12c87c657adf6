"""Invitations between accounts of this iamd: InviteAccountToOrganization, Accept/Decline/
CancelHandshake, DescribeHandshake, ListHandshakesForAccount, ListHandshakesForOrganization.

An INVITE handshake is OPEN for 15 days (the quotas page); accepting it puts the account under
the root (JoinedMethod INVITED) with the full-access policies of the enabled types. Handshakes
past their expiry read as EXPIRED.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from iamd.services.framework import OperationContext, operation
from iamd.services.organizations.accounts import account_slots, ensure_service_linked_role
from iamd.services.organizations.common import (
    SERVICE,
    attach_defaults,
    authorize,
    error,
    handshake_arn,
    invalid,
    management,
    manager,
    new_id,
    paged,
)
from iamd.services.organizations.tags import apply_tags, checked_tags
from iamd.store.organizations import HandshakeRecord

INVITE_EXPIRY = timedelta(days=15)
_OPEN = ("OPEN", "REQUESTED")


def _state(ctx: OperationContext, record: HandshakeRecord) -> str:
    if record.state in _OPEN and ctx.now >= record.expires_at:
        return "EXPIRED"
    return record.state


def render_handshake(ctx: OperationContext, record: HandshakeRecord) -> dict[str, Any]:
    org = ctx.uow.organizations.find(record.organization_id)
    manager_account = ctx.uow.accounts.find(record.sender_account_id)
    arn = handshake_arn(org, record.action, record.id) if org is not None else ""
    org_resources = [
        {"Type": "MASTER_EMAIL", "Value": (manager_account.email if manager_account else None) or ""},
        {"Type": "MASTER_NAME", "Value": manager_account.name if manager_account else ""},
        {"Type": "ORGANIZATION_FEATURE_SET", "Value": org.feature_set if org else "ALL"},
    ]
    resources: list[dict[str, Any]] = [
        {"Type": "ORGANIZATION", "Value": record.organization_id, "Resources": org_resources},
        {"Type": record.target_type, "Value": record.target_id},
    ]
    if record.notes:
        resources.append({"Type": "NOTES", "Value": record.notes})
    return {
        "Id": record.id,
        "Arn": arn,
        "Parties": [
            {"Id": record.organization_id.removeprefix("o-"), "Type": "ORGANIZATION"},
            {"Id": record.target_id, "Type": record.target_type},
        ],
        "State": _state(ctx, record),
        "RequestedTimestamp": record.requested_at,
        "ExpirationTimestamp": record.expires_at,
        "Action": record.action,
        "Resources": resources,
    }


def _is_recipient(ctx: OperationContext, record: HandshakeRecord) -> bool:
    if record.target_type == "ACCOUNT":
        return record.target_id == ctx.account_id
    account = ctx.uow.accounts.find(ctx.account_id)
    return account is not None and (account.email or "").lower() == record.target_id.lower()


def _handshake(ctx: OperationContext, handshake_id: str) -> HandshakeRecord:
    record = ctx.uow.organizations.handshake(handshake_id)
    if record is None:
        raise error("HandshakeNotFoundException", f"Handshake {handshake_id} does not exist.")
    return record


def _sender(ctx: OperationContext, record: HandshakeRecord) -> bool:
    return record.sender_account_id == ctx.account_id


def _transition(ctx: OperationContext, record: HandshakeRecord, state: str) -> None:
    current = _state(ctx, record)
    if current == state:
        raise error("HandshakeAlreadyInStateException", f"Handshake {record.id} is already {state}.")
    if current not in _OPEN:
        raise error(
            "InvalidHandshakeTransitionException",
            f"Handshake {record.id} is {current}; it can no longer become {state}.",
        )


@operation(SERVICE, "InviteAccountToOrganization")
def invite_account(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    tags = params.get("Tags") or []
    authorize(ctx, "*", {"aws:TagKeys": [t["Key"] for t in tags]} if tags else None)
    org = management(ctx)
    target_type, target_id = params["Target"]["Type"], params["Target"]["Id"]
    if target_type not in ("ACCOUNT", "EMAIL"):
        raise invalid("INVALID_PARTY_TYPE_TARGET", "An invitation goes to an ACCOUNT or an EMAIL address.")
    account = (
        ctx.uow.accounts.find(target_id)
        if target_type == "ACCOUNT" and target_id.isdigit()
        else ctx.uow.accounts.find_by_email(target_id)
        if target_type == "EMAIL"
        else None
    )
    if account is None:
        raise invalid(
            "INVALID_PARTY_TYPE_TARGET" if target_type == "ACCOUNT" else "INVALID_EMAIL_ADDRESS_TARGET",
            f"No account {target_id} exists in this iamd.",
        )
    if ctx.uow.organizations.member(account.id) is not None:
        raise error(
            "HandshakeConstraintViolationException",
            f"Account {account.id} is already a member of an organization.",
            "ALREADY_IN_AN_ORGANIZATION",
        )
    for other in ctx.uow.organizations.handshakes(org_id=org.id):
        if (
            other.action == "INVITE"
            and other.target_id.lower() == target_id.lower()
            and _state(ctx, other) in _OPEN
        ):
            raise error("DuplicateHandshakeException", f"Account {target_id} already has an open invitation.")
    if account_slots(ctx, org) <= 0:
        raise error(
            "HandshakeConstraintViolationException",
            f"Organization {org.id} has reached its account quota (open invitations count).",
            "ACCOUNT_NUMBER_LIMIT_EXCEEDED",
        )
    record = HandshakeRecord(
        id=new_id(ctx, "h-", 10),
        organization_id=org.id,
        action="INVITE",
        state="OPEN",
        sender_account_id=ctx.account_id,
        target_type=target_type,
        target_id=target_id,
        notes=params.get("Notes"),
        requested_at=ctx.now,
        expires_at=ctx.now + INVITE_EXPIRY,
        tags=checked_tags(tags),
    )
    ctx.uow.organizations.add_handshake(record)
    return {"Handshake": render_handshake(ctx, record)}


@operation(SERVICE, "AcceptHandshake")
def accept_handshake(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    authorize(ctx)
    record = _handshake(ctx, params["HandshakeId"])
    if not _is_recipient(ctx, record):
        raise error("HandshakeNotFoundException", f"Handshake {record.id} does not exist.")
    _transition(ctx, record, "ACCEPTED")
    org = ctx.uow.organizations.find(record.organization_id)
    if org is None:
        raise error("HandshakeNotFoundException", f"Handshake {record.id} does not exist.")
    if ctx.uow.organizations.member(ctx.account_id) is not None:
        raise error(
            "HandshakeConstraintViolationException",
            f"Account {ctx.account_id} is already a member of an organization.",
            "ALREADY_IN_AN_ORGANIZATION",
        )
    ctx.uow.organizations.add_member(org.id, ctx.account_id, org.root_id, "INVITED", ctx.now)
    ensure_service_linked_role(ctx, ctx.account_id)
    attach_defaults(ctx, org, ctx.account_id)
    if record.tags:
        apply_tags(ctx, org, ctx.account_id, [{"Key": k, "Value": v} for k, v in record.tags.items()])
    ctx.uow.organizations.changed(org.id)
    ctx.uow.organizations.set_handshake_state(record.id, "ACCEPTED")
    return {"Handshake": render_handshake(ctx, _handshake(ctx, record.id))}


def _respond(
    ctx: OperationContext,
    params: dict[str, Any],
    state: str,
    party: Callable[[OperationContext, HandshakeRecord], bool],
) -> dict[str, Any]:
    """Move a handshake to ``state`` for the party allowed to (the recipient declines, the
    sender cancels); others do not see it."""
    authorize(ctx)
    record = _handshake(ctx, params["HandshakeId"])
    if not party(ctx, record):
        raise error("HandshakeNotFoundException", f"Handshake {record.id} does not exist.")
    _transition(ctx, record, state)
    ctx.uow.organizations.set_handshake_state(record.id, state)
    return {"Handshake": render_handshake(ctx, _handshake(ctx, record.id))}


@operation(SERVICE, "DeclineHandshake")
def decline_handshake(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    return _respond(ctx, params, "DECLINED", _is_recipient)


@operation(SERVICE, "CancelHandshake")
def cancel_handshake(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    return _respond(ctx, params, "CANCELED", _sender)


@operation(SERVICE, "DescribeHandshake", readonly=True)
def describe_handshake(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    authorize(ctx)
    record = _handshake(ctx, params["HandshakeId"])
    if not (_sender(ctx, record) or _is_recipient(ctx, record)):
        raise error("HandshakeNotFoundException", f"Handshake {record.id} does not exist.")
    return {"Handshake": render_handshake(ctx, record)}


def _filtered(
    ctx: OperationContext, params: dict[str, Any], records: list[HandshakeRecord]
) -> list[HandshakeRecord]:
    wanted = params.get("Filter") or {}
    if wanted.get("ActionType") and wanted.get("ParentHandshakeId"):
        raise invalid("MAX_LIMIT_EXCEEDED_FILTER", "Filter by ActionType or by ParentHandshakeId, not both.")
    if wanted.get("ActionType"):
        records = [r for r in records if r.action == wanted["ActionType"]]
    if wanted.get("ParentHandshakeId"):
        records = []  # iamd's handshakes have no parents (no all-features migration)
    return records


@operation(SERVICE, "ListHandshakesForAccount", readonly=True)
def list_handshakes_for_account(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    authorize(ctx)
    account = ctx.uow.accounts.get(ctx.account_id)
    targets = [ctx.account_id, *([account.email] if account.email else [])]
    records = _filtered(ctx, params, ctx.uow.organizations.handshakes(targets=targets))
    return paged("Handshakes", params, records, lambda r: render_handshake(ctx, r))


@operation(SERVICE, "ListHandshakesForOrganization", readonly=True)
def list_handshakes_for_organization(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    authorize(ctx)
    org = manager(ctx)
    records = _filtered(ctx, params, ctx.uow.organizations.handshakes(org_id=org.id))
    return paged("Handshakes", params, records, lambda r: render_handshake(ctx, r))


__all__ = ["render_handshake"]
