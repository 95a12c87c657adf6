"""Accounts in the organization: CreateAccount (a real account in this iamd) with its status,
DescribeAccount, ListAccounts, ListAccountsForParent, MoveAccount, RemoveAccountFromOrganization,
LeaveOrganization, CloseAccount.

CreateAccount finishes within its request: the account, its root user (no password, no access
keys) and the role the management account uses to administer it (``OrganizationAccountAccessRole``
unless named otherwise: AdministratorAccess, trusting the management account). The answer says
IN_PROGRESS, as AWS's does; DescribeCreateAccountStatus then says SUCCEEDED (or FAILED, with
AWS's FailureReason), so clients that poll work unchanged.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from typing import Any

from iamd.services.framework import OperationContext, operation
from iamd.services.organizations.common import (
    MAX_ACCOUNTS,
    ORGANIZATIONS_PRINCIPAL,
    SERVICE,
    account_arn,
    attach_defaults,
    authorize,
    caller_org,
    constraint,
    error,
    invalid,
    management,
    manager,
    new_id,
    paged,
    parent_exists,
    render_account,
)
from iamd.services.organizations.tags import apply_tags
from iamd.store.organizations import AccountRequestRecord, MemberRecord, OrganizationRecord
from iamd.store.schema import AWS_ACCOUNT

DEFAULT_ROLE = "OrganizationAccountAccessRole"


def _wait_days() -> int:
    """Minimum age of a created account before it may leave: 7 days on the quotas page, 4 in the
    API reference (spec §2.2); ``IAMD_ORGANIZATIONS_REMOVE_WAIT_DAYS`` overrides."""
    raw = os.environ.get("IAMD_ORGANIZATIONS_REMOVE_WAIT_DAYS", "")
    return int(raw) if raw.isdigit() else 7


def render_status(record: AccountRequestRecord, *, state: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Id": record.id,
        "AccountName": record.account_name,
        "State": state or record.state,
        "RequestedTimestamp": record.requested_at,
    }
    if state is None and record.completed_at is not None:
        out["CompletedTimestamp"] = record.completed_at
    if state is None and record.account_id:
        out["AccountId"] = record.account_id
    if state is None and record.failure_reason:
        out["FailureReason"] = record.failure_reason
    return out


def member_of(ctx: OperationContext, org: OrganizationRecord, account_id: str) -> MemberRecord:
    member = ctx.uow.organizations.member(account_id)
    if member is None or member.organization_id != org.id:
        raise error("AccountNotFoundException", f"Account {account_id} is not in organization {org.id}.")
    return member


def account_slots(ctx: OperationContext, org: OrganizationRecord) -> int:
    """Accounts the organization may still add: members and open invitations count."""
    members = len(ctx.uow.organizations.members(org.id))
    pending = [h for h in ctx.uow.organizations.handshakes(org_id=org.id) if h.state in ("OPEN", "REQUESTED")]
    return MAX_ACCOUNTS - members - len(pending)


def provision_account(
    ctx: OperationContext, account_id: str, name: str, email: str, trusted_account: str | None, role_name: str
) -> None:
    """A new account with its root user (no password, no keys); with ``trusted_account``, role
    ``role_name`` holding AdministratorAccess that trusts that account."""
    ctx.uow.accounts.create(account_id, name=name, created_at=ctx.now, email=email)
    if trusted_account is None:
        return
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{trusted_account}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = ctx.uow.roles.create(
        account_id,
        role_id=ctx.ids.role_id(),
        name=role_name,
        path="/",
        trust_policy=json.dumps(trust),
        created_at=ctx.now,
    )
    admin = ctx.uow.policies.get(AWS_ACCOUNT, "AdministratorAccess")
    ctx.uow.policies.attach(admin.id, "role", role.id, account_id=account_id)


SLR_NAME = "AWSServiceRoleForOrganizations"
SLR_PATH = f"/aws-service-role/{ORGANIZATIONS_PRINCIPAL}/"


def ensure_service_linked_role(ctx: OperationContext, account_id: str) -> None:
    """``AWSServiceRoleForOrganizations`` in ``account_id`` (trusting organizations.amazonaws.com,
    with AWSOrganizationsServiceTrustPolicy), made when the account enters an organization
    (CreateOrganization's and AcceptHandshake's documentation; spec §1.2, §2.4)."""
    if ctx.uow.roles.find(account_id, SLR_NAME) is not None:
        return
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": ORGANIZATIONS_PRINCIPAL}, "Action": "sts:AssumeRole"}
        ],
    }
    role = ctx.uow.roles.create(
        account_id,
        role_id=ctx.ids.role_id(),
        name=SLR_NAME,
        path=SLR_PATH,
        trust_policy=json.dumps(trust),
        created_at=ctx.now,
        description="Service-linked role used by AWS Organizations to enable integration of other "
        "AWS services",
    )
    policy = ctx.uow.policies.find(AWS_ACCOUNT, "AWSOrganizationsServiceTrustPolicy")
    if policy is not None:
        ctx.uow.policies.attach(policy.id, "role", role.id, account_id=account_id)


@operation(SERVICE, "CreateAccount")
def create_account(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    tags = params.get("Tags") or []
    authorize(ctx, "*", {"aws:TagKeys": [t["Key"] for t in tags]} if tags else None)
    org = management(ctx)
    role_name = params.get("RoleName") or DEFAULT_ROLE
    if role_name.startswith("AWSServiceRoleFor"):
        raise invalid("INVALID_ROLE_NAME", f"The role name {role_name} is reserved for service-linked roles.")
    if account_slots(ctx, org) <= 0:
        raise constraint(
            "ACCOUNT_NUMBER_LIMIT_EXCEEDED",
            f"Organization {org.id} has reached its quota of {MAX_ACCOUNTS} accounts.",
        )
    request_id = new_id(ctx, "car-", 10)
    name, email = params["AccountName"], params["Email"]
    account_id: str | None = None
    failure: str | None = None
    if ctx.uow.accounts.find_by_email(email) is not None:
        failure = "EMAIL_ALREADY_EXISTS"
    else:
        account_id = ctx.ids.account_id()
        while ctx.uow.accounts.find(account_id) is not None:
            account_id = ctx.ids.account_id()
        provision_account(ctx, account_id, name, email, org.management_account_id, role_name)
        ensure_service_linked_role(ctx, account_id)
        ctx.uow.organizations.add_member(org.id, account_id, org.root_id, "CREATED", ctx.now)
        attach_defaults(ctx, org, account_id)
        apply_tags(ctx, org, account_id, tags)
    record = AccountRequestRecord(
        id=request_id,
        organization_id=org.id,
        account_name=name,
        state="FAILED" if failure else "SUCCEEDED",
        failure_reason=failure,
        account_id=account_id,
        requested_at=ctx.now,
        completed_at=ctx.now,
    )
    ctx.uow.organizations.add_request(record)
    return {"CreateAccountStatus": render_status(record, state="IN_PROGRESS")}


@operation(SERVICE, "CreateGovCloudAccount")
def create_gov_cloud_account(ctx: OperationContext, params: dict[str, Any]) -> None:
    authorize(ctx)
    from iamd.wire import UnsupportedOperation

    raise UnsupportedOperation(
        "CreateGovCloudAccount is not supported by iamd: it pairs an account with one in the AWS "
        "GovCloud (US) partition, which iamd does not have; use CreateAccount."
    )


@operation(SERVICE, "DescribeCreateAccountStatus", readonly=True)
def describe_create_account_status(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    authorize(ctx)
    org = manager(ctx)
    record = ctx.uow.organizations.request(params["CreateAccountRequestId"])
    if record is None or record.organization_id != org.id:
        raise error(
            "CreateAccountStatusNotFoundException",
            f"CreateAccount request {params['CreateAccountRequestId']} does not exist.",
        )
    return {"CreateAccountStatus": render_status(record)}


@operation(SERVICE, "ListCreateAccountStatus", readonly=True)
def list_create_account_status(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    authorize(ctx)
    org = manager(ctx)
    states = set(params.get("States") or [])
    records = [r for r in ctx.uow.organizations.requests(org.id) if not states or r.state in states]
    return paged("CreateAccountStatuses", params, records, render_status)


@operation(SERVICE, "DescribeAccount", readonly=True)
def describe_account(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    org, _ = caller_org(ctx)
    authorize(ctx, account_arn(org, params["AccountId"]))
    org = manager(ctx)
    return {"Account": render_account(ctx, org, member_of(ctx, org, params["AccountId"]))}


@operation(SERVICE, "ListAccounts", readonly=True)
def list_accounts(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    authorize(ctx)
    org = manager(ctx)
    members = ctx.uow.organizations.members(org.id)
    return paged("Accounts", params, members, lambda m: render_account(ctx, org, m))


@operation(SERVICE, "ListAccountsForParent", readonly=True)
def list_accounts_for_parent(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    authorize(ctx)
    org = manager(ctx)
    if not parent_exists(ctx, org, params["ParentId"]):
        raise error("ParentNotFoundException", f"Parent {params['ParentId']} does not exist.")
    members = ctx.uow.organizations.members(org.id, params["ParentId"])
    return paged("Accounts", params, members, lambda m: render_account(ctx, org, m))


@operation(SERVICE, "MoveAccount")
def move_account(ctx: OperationContext, params: dict[str, Any]) -> None:
    org, _ = caller_org(ctx)
    authorize(ctx, account_arn(org, params["AccountId"]))
    org = management(ctx)
    member = member_of(ctx, org, params["AccountId"])
    source, destination = params["SourceParentId"], params["DestinationParentId"]
    if not parent_exists(ctx, org, source) or member.parent_id != source:
        raise error(
            "SourceParentNotFoundException", f"Account {member.account_id} is not in parent {source}."
        )
    if not parent_exists(ctx, org, destination):
        raise error("DestinationParentNotFoundException", f"Destination parent {destination} does not exist.")
    if source == destination:
        raise error("DuplicateAccountException", f"Account {member.account_id} is already in {destination}.")
    ctx.uow.organizations.move_member(member.account_id, destination)
    ctx.uow.organizations.changed(org.id)  # a different OU path: different SCPs and RCPs
    return None


def _leave(ctx: OperationContext, org: OrganizationRecord, member: MemberRecord) -> None:
    if member.account_id == org.management_account_id:
        raise error(
            "MasterCannotLeaveOrganizationException",
            "The management account cannot leave its organization; delete the organization instead.",
        )
    if ctx.uow.organizations.delegated_admins(org.id, account_id=member.account_id):
        raise constraint(
            "CANNOT_REMOVE_DELEGATED_ADMINISTRATOR_FROM_ORG",
            f"Account {member.account_id} is a delegated administrator; deregister it first.",
        )
    wait = timedelta(days=_wait_days())
    if member.joined_method == "CREATED" and ctx.now - member.joined_at < wait:
        raise constraint(
            "WAIT_PERIOD_ACTIVE",
            f"Account {member.account_id} was created {member.joined_at:%Y-%m-%d}; a created account can "
            f"leave its organization {wait.days} days after its creation.",
        )
    ctx.uow.organizations.changed(org.id)
    ctx.uow.organizations.remove_member(member.account_id)


@operation(SERVICE, "RemoveAccountFromOrganization")
def remove_account_from_organization(ctx: OperationContext, params: dict[str, Any]) -> None:
    org, _ = caller_org(ctx)
    authorize(ctx, account_arn(org, params["AccountId"]))
    org = management(ctx)
    _leave(ctx, org, member_of(ctx, org, params["AccountId"]))
    return None


@operation(SERVICE, "LeaveOrganization")
def leave_organization(ctx: OperationContext, params: dict[str, Any]) -> None:
    authorize(ctx)
    org, member = caller_org(ctx)
    _leave(ctx, org, member)
    return None


@operation(SERVICE, "CloseAccount")
def close_account(ctx: OperationContext, params: dict[str, Any]) -> None:
    org, _ = caller_org(ctx)
    authorize(ctx, account_arn(org, params["AccountId"]))
    org = management(ctx)
    member = member_of(ctx, org, params["AccountId"])
    if member.account_id == org.management_account_id:
        raise constraint(
            "CANNOT_CLOSE_MANAGEMENT_ACCOUNT", "The management account cannot be closed this way."
        )
    if member.state != "ACTIVE":
        raise error("AccountAlreadyClosedException", f"Account {member.account_id} is already closed.")
    # AWS: PENDING_CLOSURE, then SUSPENDED (reopenable for 90 days); iamd closes at once.
    ctx.uow.organizations.set_member_state(member.account_id, "SUSPENDED")
    ctx.uow.accounts.set_status(member.account_id, "SUSPENDED")
    ctx.uow.organizations.changed(org.id)
    return None
