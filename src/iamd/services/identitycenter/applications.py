"""Applications and trusted token issuers: iamd's Identity Center gives access to AWS accounts only,
so none can be created (CreateApplication, CreateApplicationAssignment and
CreateTrustedTokenIssuer are answered as unsupported, saying why), the listings are empty, and an
operation on a named application, provider or issuer finds none (ResourceNotFoundException)."""

from __future__ import annotations

from typing import Any, Final

from iamd.services.framework import OperationContext, operation, unsupported
from iamd.services.identitycenter.common import authorize, instance_for, not_found

SERVICE: Final = "sso-admin"
NO_APPLICATIONS: Final = (
    "iamd's IAM Identity Center gives access to AWS accounts only (permission sets and account "
    "assignments); it hosts no AWS managed or customer managed applications"
)
NO_TOKEN_ISSUERS: Final = (
    "iamd has no applications that accept trusted identity propagation, so there is nothing for "
    "a trusted token issuer's tokens to be exchanged for"
)

for _name in ("CreateApplication", "CreateApplicationAssignment"):
    unsupported(SERVICE, _name, NO_APPLICATIONS)
unsupported(SERVICE, "CreateTrustedTokenIssuer", NO_TOKEN_ISSUERS)


def _listing(key: str, *, instance: bool) -> Any:
    def handler(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
        if instance:
            instance_for(ctx, params["InstanceArn"])
        else:
            authorize(ctx)
        return {key: []}

    return handler


for _name, _key, _instance in (
    ("ListApplications", "Applications", True),
    ("ListApplicationAssignmentsForPrincipal", "ApplicationAssignments", True),
    ("ListTrustedTokenIssuers", "TrustedTokenIssuers", True),
    ("ListApplicationProviders", "ApplicationProviders", False),
):
    operation(SERVICE, _name, readonly=True)(_listing(_key, instance=_instance))


def _none(member: str, what: str, reason: str) -> Any:
    def handler(ctx: OperationContext, params: dict[str, Any]) -> None:
        arn = params[member]
        authorize(ctx, arn)
        raise not_found(f"{what} {arn} not found: {reason}.")

    return handler


_APPLICATION_OPS: Final = (
    ("DeleteApplication", False),
    ("DeleteApplicationAccessScope", False),
    ("DeleteApplicationAssignment", False),
    ("DeleteApplicationAuthenticationMethod", False),
    ("DeleteApplicationGrant", False),
    ("DescribeApplication", True),
    ("DescribeApplicationAssignment", True),
    ("GetApplicationAccessScope", True),
    ("GetApplicationAssignmentConfiguration", True),
    ("GetApplicationAuthenticationMethod", True),
    ("GetApplicationGrant", True),
    ("GetApplicationSessionConfiguration", True),
    ("ListApplicationAccessScopes", True),
    ("ListApplicationAssignments", True),
    ("ListApplicationAuthenticationMethods", True),
    ("ListApplicationGrants", True),
    ("PutApplicationAccessScope", False),
    ("PutApplicationAssignmentConfiguration", False),
    ("PutApplicationAuthenticationMethod", False),
    ("PutApplicationGrant", False),
    ("PutApplicationSessionConfiguration", False),
    ("UpdateApplication", False),
)
for _name, _readonly in _APPLICATION_OPS:
    operation(SERVICE, _name, readonly=_readonly)(_none("ApplicationArn", "Application", NO_APPLICATIONS))
operation(SERVICE, "DescribeApplicationProvider", readonly=True)(
    _none("ApplicationProviderArn", "Application provider", NO_APPLICATIONS)
)
for _name, _readonly in (
    ("DescribeTrustedTokenIssuer", True),
    ("UpdateTrustedTokenIssuer", False),
    ("DeleteTrustedTokenIssuer", False),
):
    operation(SERVICE, _name, readonly=_readonly)(
        _none("TrustedTokenIssuerArn", "Trusted token issuer", NO_TOKEN_ISSUERS)
    )
