"""Account assignments and provisioning (spec §3.2, §3.3): Create/DeleteAccountAssignment with their
request records, ProvisionPermissionSet and its status, and the listings of who is assigned where
and what is provisioned where.

AWS runs these requests asynchronously; iamd completes each within its call (the one transaction of
the operation), so the status returned is already final (SUCCEEDED or FAILED, never IN_PROGRESS)
and Describe…Status returns the same record. A request that fails (a customer managed policy
missing in the account, an assignment that does not exist) is recorded as FAILED with AWS's kind of
FailureReason, and changes nothing else.
"""

from __future__ import annotations

from typing import Any, Final

from iamd.services.framework import OperationContext, operation
from iamd.services.identitycenter.common import (
    access_denied,
    account_resource,
    instance_for,
    management_account,
    multi_account,
    not_found,
    page,
    page_list,
    permission_set_for,
    request_id,
    target_account,
    validation,
)
from iamd.services.identitycenter.principals import check_principal
from iamd.services.identitycenter.provisioning import (
    ProvisioningFailed,
    check_provisionable,
    deprovision,
    provision,
)
from iamd.store.identity_center import (
    ASSIGNMENT_CREATION,
    ASSIGNMENT_DELETION,
    PROVISIONING,
    InstanceRecord,
    PermissionSetRecord,
    RequestRecord,
)

SERVICE: Final = "sso-admin"
LATEST: Final = "LATEST_PERMISSION_SET_PROVISIONED"
NOT_LATEST: Final = "LATEST_PERMISSION_SET_NOT_PROVISIONED"


def _assignment_status(record: RequestRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Status": record.status,
        "RequestId": record.request_id,
        "TargetId": record.target_id,
        "TargetType": record.target_type,
        "PermissionSetArn": record.permission_set_arn,
        "PrincipalType": record.principal_type,
        "PrincipalId": record.principal_id,
        "CreatedDate": record.created_at,
    }
    if record.failure_reason:
        out["FailureReason"] = record.failure_reason
    return {k: v for k, v in out.items() if v is not None}


def _provisioning_status(record: RequestRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Status": record.status,
        "RequestId": record.request_id,
        "PermissionSetArn": record.permission_set_arn,
        "CreatedDate": record.created_at,
    }
    if record.target_id:
        out["AccountId"] = record.target_id
    if record.failure_reason:
        out["FailureReason"] = record.failure_reason
    return {k: v for k, v in out.items() if v is not None}


def _metadata(record: RequestRecord) -> dict[str, Any]:
    return {"Status": record.status, "RequestId": record.request_id, "CreatedDate": record.created_at}


def _assignment_target(
    ctx: OperationContext, params: dict[str, Any]
) -> tuple[InstanceRecord, PermissionSetRecord]:
    instance = instance_for(ctx, params["InstanceArn"])
    multi_account(instance)
    permission_set = permission_set_for(ctx, instance, params["PermissionSetArn"])
    account_resource(ctx, params["TargetId"])
    target_account(ctx, instance, params["TargetId"])
    return instance, permission_set


def _record(
    ctx: OperationContext,
    instance: InstanceRecord,
    kind: str,
    params: dict[str, Any],
    failure: str | None,
    *,
    target_type: str | None = "AWS_ACCOUNT",
) -> RequestRecord:
    return ctx.uow.identity_center.add_request(
        request_id=request_id(ctx),
        instance_arn=instance.arn,
        kind=kind,
        status="FAILED" if failure else "SUCCEEDED",
        failure_reason=failure,
        target_id=params.get("TargetId"),
        target_type=target_type,
        permission_set_arn=params["PermissionSetArn"],
        principal_type=params.get("PrincipalType"),
        principal_id=params.get("PrincipalId"),
        now=ctx.now,
    )


@operation(SERVICE, "CreateAccountAssignment")
def create_account_assignment(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    instance, permission_set = _assignment_target(ctx, params)
    target, kind, principal = params["TargetId"], params["PrincipalType"], params["PrincipalId"]
    check_principal(ctx, instance, kind, principal)
    ic = ctx.uow.identity_center
    failure: str | None = None
    if ic.find_provisioned(permission_set.arn, target) is None:
        try:
            provision(ctx, instance, permission_set, target)
        except ProvisioningFailed as exc:
            failure = str(exc)
    if failure is None:
        ic.add_assignment(
            instance_arn=instance.arn,
            permission_set_arn=permission_set.arn,
            target_id=target,
            principal_type=kind,
            principal_id=principal,
            now=ctx.now,
        )
    record = _record(ctx, instance, ASSIGNMENT_CREATION, params, failure)
    return {"AccountAssignmentCreationStatus": _assignment_status(record)}


@operation(SERVICE, "DeleteAccountAssignment")
def delete_account_assignment(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    instance, permission_set = _assignment_target(ctx, params)
    target, kind, principal = params["TargetId"], params["PrincipalType"], params["PrincipalId"]
    ic = ctx.uow.identity_center
    failure: str | None = None
    if ic.remove_assignment(permission_set.arn, target, kind, principal):
        if ic.count_assignments(permission_set.arn, target) == 0:
            deprovision(ctx, instance, permission_set.arn, target)
    else:
        failure = "Received a 404 status error: Assignment not found."
    record = _record(ctx, instance, ASSIGNMENT_DELETION, params, failure)
    return {"AccountAssignmentDeletionStatus": _assignment_status(record)}


def _find_request(ctx: OperationContext, instance: InstanceRecord, kind: str, rid: str) -> RequestRecord:
    record = ctx.uow.identity_center.find_request(instance.arn, kind, rid)
    if record is None:
        raise not_found(f"Request {rid} not found for instance {instance.arn}.")
    return record


@operation(SERVICE, "DescribeAccountAssignmentCreationStatus", readonly=True)
def describe_creation_status(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    instance = instance_for(ctx, params["InstanceArn"])
    record = _find_request(ctx, instance, ASSIGNMENT_CREATION, params["AccountAssignmentCreationRequestId"])
    return {"AccountAssignmentCreationStatus": _assignment_status(record)}


@operation(SERVICE, "DescribeAccountAssignmentDeletionStatus", readonly=True)
def describe_deletion_status(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    instance = instance_for(ctx, params["InstanceArn"])
    record = _find_request(ctx, instance, ASSIGNMENT_DELETION, params["AccountAssignmentDeletionRequestId"])
    return {"AccountAssignmentDeletionStatus": _assignment_status(record)}


def _list_requests(ctx: OperationContext, params: dict[str, Any], kind: str, key: str) -> dict[str, Any]:
    instance = instance_for(ctx, params["InstanceArn"])
    status = (params.get("Filter") or {}).get("Status")
    return page(
        params,
        key,
        lambda marker, size: ctx.uow.identity_center.list_requests(
            instance.arn, kind, status=status, marker=marker, max_items=size
        ),
        _metadata,
    )


@operation(SERVICE, "ListAccountAssignmentCreationStatus", readonly=True)
def list_creation_status(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    return _list_requests(ctx, params, ASSIGNMENT_CREATION, "AccountAssignmentsCreationStatus")


@operation(SERVICE, "ListAccountAssignmentDeletionStatus", readonly=True)
def list_deletion_status(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    return _list_requests(ctx, params, ASSIGNMENT_DELETION, "AccountAssignmentsDeletionStatus")


@operation(SERVICE, "ListAccountAssignments", readonly=True)
def list_account_assignments(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    instance = instance_for(ctx, params["InstanceArn"])
    multi_account(instance)
    permission_set = permission_set_for(ctx, instance, params["PermissionSetArn"])
    account_resource(ctx, params["AccountId"])
    return page(
        params,
        "AccountAssignments",
        lambda marker, size: ctx.uow.identity_center.list_assignments(
            instance.arn,
            permission_set_arn=permission_set.arn,
            target_id=params["AccountId"],
            marker=marker,
            max_items=size,
        ),
        lambda a: {
            "AccountId": a.target_id,
            "PermissionSetArn": a.permission_set_arn,
            "PrincipalType": a.principal_type,
            "PrincipalId": a.principal_id,
        },
    )


@operation(SERVICE, "ListAccountAssignmentsForPrincipal", readonly=True)
def list_account_assignments_for_principal(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    instance = instance_for(ctx, params["InstanceArn"])
    multi_account(instance)
    if ctx.account_id != management_account(ctx, instance):
        raise access_denied(
            "ListAccountAssignmentsForPrincipal must be called from the organization's management account."
        )
    account = (params.get("Filter") or {}).get("AccountId")
    return page(
        params,
        "AccountAssignments",
        lambda marker, size: ctx.uow.identity_center.list_assignments(
            instance.arn,
            target_id=account,
            principal_type=params["PrincipalType"],
            principal_ids=[params["PrincipalId"]],
            marker=marker,
            max_items=size,
        ),
        lambda a: {
            "AccountId": a.target_id,
            "PermissionSetArn": a.permission_set_arn,
            "PrincipalId": a.principal_id,
            "PrincipalType": a.principal_type,
        },
    )


# -- provisioning ----------------------------------------------------------------------------------


@operation(SERVICE, "ProvisionPermissionSet")
def provision_permission_set(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    instance = instance_for(ctx, params["InstanceArn"])
    multi_account(instance)
    permission_set = permission_set_for(ctx, instance, params["PermissionSetArn"])
    target_type, target = params["TargetType"], params.get("TargetId")
    ic = ctx.uow.identity_center
    if target_type == "AWS_ACCOUNT":
        if target is None:
            raise validation("TargetId is required when TargetType is AWS_ACCOUNT.")
        account_resource(ctx, target)
        target_account(ctx, instance, target)
        accounts = [target]
    else:
        if target is not None:
            raise validation("TargetId must not be given when TargetType is ALL_PROVISIONED_ACCOUNTS.")
        accounts = [p.target_id for p in ic.provisioned_for_permission_set(permission_set.arn)]
        for account in accounts:
            account_resource(ctx, account)
        managed = management_account(ctx, instance)
        if ctx.account_id != instance.owner_account_id and managed in accounts:
            raise access_denied(
                f"Account {ctx.account_id} is a delegated administrator: it cannot provision to the "
                f"management account {managed}."
            )
    failure: str | None = None
    try:
        for account in accounts:  # everything is checked before anything is written
            check_provisionable(ctx, instance, permission_set, account)
    except ProvisioningFailed as exc:
        failure = str(exc)
    if failure is None:
        for account in accounts:
            provision(ctx, instance, permission_set, account)
    record = ic.add_request(
        request_id=request_id(ctx),
        instance_arn=instance.arn,
        kind=PROVISIONING,
        status="FAILED" if failure else "SUCCEEDED",
        failure_reason=failure,
        target_id=target,
        target_type=target_type,
        permission_set_arn=permission_set.arn,
        now=ctx.now,
    )
    return {"PermissionSetProvisioningStatus": _provisioning_status(record)}


@operation(SERVICE, "DescribePermissionSetProvisioningStatus", readonly=True)
def describe_provisioning_status(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    instance = instance_for(ctx, params["InstanceArn"])
    record = _find_request(ctx, instance, PROVISIONING, params["ProvisionPermissionSetRequestId"])
    return {"PermissionSetProvisioningStatus": _provisioning_status(record)}


@operation(SERVICE, "ListPermissionSetProvisioningStatus", readonly=True)
def list_provisioning_status(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    return _list_requests(ctx, params, PROVISIONING, "PermissionSetsProvisioningStatus")


def _wanted(status: str | None, provisioned: int, latest: int) -> bool:
    if status == LATEST:
        return provisioned >= latest
    if status == NOT_LATEST:
        return provisioned < latest
    return True


@operation(SERVICE, "ListAccountsForProvisionedPermissionSet", readonly=True)
def list_accounts_for_provisioned_permission_set(
    ctx: OperationContext, params: dict[str, Any]
) -> dict[str, Any]:
    instance = instance_for(ctx, params["InstanceArn"])
    multi_account(instance)
    permission_set = permission_set_for(ctx, instance, params["PermissionSetArn"])
    status = params.get("ProvisioningStatus")
    accounts = [
        p.target_id
        for p in ctx.uow.identity_center.provisioned_for_permission_set(permission_set.arn)
        if _wanted(status, p.revision, permission_set.revision)
    ]
    return page_list(params, "AccountIds", accounts, lambda a: a)


@operation(SERVICE, "ListPermissionSetsProvisionedToAccount", readonly=True)
def list_permission_sets_provisioned_to_account(
    ctx: OperationContext, params: dict[str, Any]
) -> dict[str, Any]:
    instance = instance_for(ctx, params["InstanceArn"])
    multi_account(instance)
    account = params["AccountId"]
    account_resource(ctx, account)
    ic = ctx.uow.identity_center
    provisioned = ic.provisioned_in_account(instance.arn, account)
    latest = ic.latest_revisions([p.permission_set_arn for p in provisioned])
    status = params.get("ProvisioningStatus")
    arns = [
        p.permission_set_arn
        for p in provisioned
        if _wanted(status, p.revision, latest.get(p.permission_set_arn, p.revision))
    ]
    return page_list(params, "PermissionSets", arns, lambda a: a)
