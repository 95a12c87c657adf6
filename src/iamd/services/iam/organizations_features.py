"""IAM operations that only AWS Organizations' management account (or IAM's delegated
administrator) may use: centralized root access (Enable/DisableOrganizationsRootCredentialsManagement,
Enable/DisableOrganizationsRootSessions, ListOrganizationsFeatures). The Organizations access
report is in :mod:`iamd.services.iam.organizations_access`.

Centralized root access needs an organization with all features, trusted access for IAM
(``organizations:EnableAWSServiceAccess`` for ``iam.amazonaws.com``), and a caller in the
management account or in IAM's delegated administrator (``RegisterDelegatedAdministrator``);
only the management account enables a feature (IAM API reference,
EnableOrganizationsRootCredentialsManagement and siblings; spec organizations.md §7.1). The
enabled features are kept as settings of the management account.
"""

from __future__ import annotations

from typing import Any

from iamd.services.framework import OperationContext, operation
from iamd.store.organizations import OrganizationRecord
from iamd.wire import AwsError, load_service_model, modeled_error

IAM_PRINCIPAL = "iam.amazonaws.com"
FEATURES = ("RootCredentialsManagement", "RootSessions")
_SETTING = "Organizations/Features/"


def _error(shape: str, message: str) -> AwsError:
    return modeled_error(load_service_model("iam"), shape, message)


def root_access_org(ctx: OperationContext, feature: str) -> tuple[OrganizationRecord, bool]:
    """The caller's organization, when it may manage ``feature``, and whether the caller's
    account is the management account (else it is IAM's delegated administrator)."""
    member = ctx.uow.organizations.member(ctx.account_id)
    org = ctx.uow.organizations.find(member.organization_id) if member is not None else None
    if org is None:
        raise _error(
            "OrganizationNotFoundException",
            f"Account {ctx.account_id} is not in an organization: {feature} needs AWS Organizations, "
            "managed from the organization's management account.",
        )
    if org.feature_set != "ALL":
        raise _error(
            "OrganizationNotInAllFeaturesModeException",
            f"Organization {org.id} does not have all features enabled, which {feature} needs.",
        )
    management = ctx.account_id == org.management_account_id
    if not management and not ctx.uow.organizations.delegated_admins(
        org.id, service_principal=IAM_PRINCIPAL, account_id=ctx.account_id
    ):
        raise _error(
            "AccountNotManagementOrDelegatedAdministratorException",
            f"Account {ctx.account_id} is not the management account or the IAM delegated administrator "
            f"of organization {org.id}, so it cannot manage {feature}.",
        )
    if IAM_PRINCIPAL not in ctx.uow.organizations.service_access(org.id):
        raise _error(
            "ServiceAccessNotEnabledException",
            f"Trusted access for IAM is not enabled in organization {org.id}, which {feature} needs: "
            f"call organizations:EnableAWSServiceAccess for {IAM_PRINCIPAL} first.",
        )
    return org, management


def enabled_features(ctx: OperationContext, org: OrganizationRecord) -> list[str]:
    settings = ctx.uow.account_settings.list(org.management_account_id, _SETTING)
    return [f for f in FEATURES if settings.get(_SETTING + f) == "true"]


def _answer(ctx: OperationContext, org: OrganizationRecord) -> dict[str, Any]:
    return {"OrganizationId": org.id, "EnabledFeatures": enabled_features(ctx, org)}


def _root_access(name: str) -> None:
    feature = next(f for f in FEATURES if name.endswith(f))
    enable = name.startswith("Enable")

    def handler(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
        ctx.authorize(f"iam:{name}", "*")
        org, management = root_access_org(ctx, "centralized root access for member accounts")
        if enable and not management:
            raise _error(
                "CallerIsNotManagementAccountException",
                f"Only the management account of organization {org.id} can enable {feature}.",
            )
        key = _SETTING + feature
        if enable:
            ctx.uow.account_settings.put(org.management_account_id, key, "true", now=ctx.now)
        elif ctx.uow.account_settings.get(org.management_account_id, key) is not None:
            ctx.uow.account_settings.delete(org.management_account_id, key)
        return _answer(ctx, org)

    handler.__name__ = name
    operation("iam", name)(handler)


for _name in (
    "EnableOrganizationsRootCredentialsManagement",
    "DisableOrganizationsRootCredentialsManagement",
    "EnableOrganizationsRootSessions",
    "DisableOrganizationsRootSessions",
):
    _root_access(_name)


@operation("iam", "ListOrganizationsFeatures", readonly=True)
def list_organizations_features(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("iam:ListOrganizationsFeatures", "*")
    org, _ = root_access_org(ctx, "centralized root access for member accounts")
    return _answer(ctx, org)
