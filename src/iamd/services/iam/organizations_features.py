"""IAM operations that only AWS Organizations' management account (or IAM's delegated
administrator) may use: centralized root access (Enable/DisableOrganizationsRootCredentialsManagement,
Enable/DisableOrganizationsRootSessions, ListOrganizationsFeatures) and the Organizations access
report (Generate/GetOrganizationsAccessReport).

iamd has no AWS Organizations service yet, so no account can have trusted access for IAM enabled.
Each operation is authorized, then refused as AWS refuses it for the caller's account: not in an
organization -> OrganizationNotFoundException; a member account ->
AccountNotManagementOrDelegatedAdministratorException; the management account ->
ServiceAccessNotEnabledException (trusted access for IAM cannot be enabled in iamd). An access
report cannot be generated (InvalidInput saying why), so no report job exists (NoSuchEntity).
"""

from __future__ import annotations

from typing import Any

from iamd.services.framework import OperationContext, operation
from iamd.wire import AwsError, InvalidInput, NoSuchEntity, load_service_model, modeled_error


def _error(shape: str, message: str) -> AwsError:
    return modeled_error(load_service_model("iam"), shape, message)


def refusal(ctx: OperationContext, feature: str) -> AwsError:
    """Why the caller's account cannot use ``feature`` (centralized root access, …)."""
    account = ctx.uow.accounts.get(ctx.account_id)
    if not account.organization_id:
        return _error(
            "OrganizationNotFoundException",
            f"Account {ctx.account_id} is not in an organization: {feature} needs AWS Organizations, "
            "managed from the organization's management account.",
        )
    if account.organization_role != "management":
        return _error(
            "AccountNotManagementOrDelegatedAdministratorException",
            f"Account {ctx.account_id} is not the management account or the IAM delegated administrator "
            f"of organization {account.organization_id}, so it cannot manage {feature}.",
        )
    return _error(
        "ServiceAccessNotEnabledException",
        f"Trusted access for IAM is not enabled in organization {account.organization_id}, which "
        f"{feature} needs (iamd's Organizations does not offer trusted access for IAM).",
    )


def _root_access(name: str) -> None:
    def handler(ctx: OperationContext, params: dict[str, Any]) -> None:
        ctx.authorize(f"iam:{name}", "*")
        raise refusal(ctx, "centralized root access for member accounts")

    handler.__name__ = name
    operation("iam", name, readonly=name.startswith("List"))(handler)


for _name in (
    "EnableOrganizationsRootCredentialsManagement",
    "DisableOrganizationsRootCredentialsManagement",
    "EnableOrganizationsRootSessions",
    "DisableOrganizationsRootSessions",
    "ListOrganizationsFeatures",
):
    _root_access(_name)


@operation("iam", "GenerateOrganizationsAccessReport", readonly=True)
def generate_organizations_access_report(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    path = params["EntityPath"]
    context: dict[str, object] = {}
    if params.get("OrganizationsPolicyId"):
        context["iam:OrganizationsPolicyId"] = params["OrganizationsPolicyId"]
    ctx.authorize(
        "iam:GenerateOrganizationsAccessReport",
        f"arn:aws:iam::{ctx.account_id}:access-report/{path}",
        context,
    )
    account = ctx.uow.accounts.get(ctx.account_id)
    organization = account.organization_id
    if not organization:
        why = f"account {ctx.account_id} is not in an organization"
    elif account.organization_role != "management":
        why = f"account {ctx.account_id} is not the management account of organization {organization}"
    else:
        why = f"iamd keeps no service control policy access data for organization {organization}"
    raise InvalidInput(
        f"Cannot generate an Organizations access report for {path}: {why} (these reports are made "
        "from an organization's management account, with service control policies enabled)."
    )


@operation("iam", "GetOrganizationsAccessReport", readonly=True)
def get_organizations_access_report(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("iam:GetOrganizationsAccessReport", "*")
    # GenerateOrganizationsAccessReport never starts a job in iamd, so no job id is known.
    raise NoSuchEntity(
        f"No Organizations access report job {params['JobId']} exists in account {ctx.account_id}."
    )
