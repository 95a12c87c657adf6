"""IAM Identity Center administration (``sso-admin``, JSON 1.1, ``SWBExternalService``): one module
per area. Importing the package registers every operation of botocore's model.

Applications (OAuth 2.0 customer managed applications, their assignments, grants, access scopes,
authentication methods and session configuration) and trusted token issuers are answered as
unsupported, saying why: iamd's access portal signs people in to AWS accounts only, and trusted
identity propagation has no AWS managed application here to propagate to.
"""

from iamd.services.framework import unsupported
from iamd.services.identitycenter import (  # noqa: F401  (each registers its operations)
    assignments,
    instances,
    permission_sets,
)

_NO_APPLICATIONS = (
    "iamd's IAM Identity Center gives access to AWS accounts only (permission sets and account "
    "assignments); it hosts no AWS managed or customer managed applications"
)
_NO_TOKEN_ISSUERS = (
    "iamd has no applications that accept trusted identity propagation, so there is nothing for "
    "a trusted token issuer's tokens to be exchanged for"
)

for _name in (
    "CreateApplication",
    "CreateApplicationAssignment",
    "DeleteApplication",
    "DeleteApplicationAccessScope",
    "DeleteApplicationAssignment",
    "DeleteApplicationAuthenticationMethod",
    "DeleteApplicationGrant",
    "DescribeApplication",
    "DescribeApplicationAssignment",
    "DescribeApplicationProvider",
    "GetApplicationAccessScope",
    "GetApplicationAssignmentConfiguration",
    "GetApplicationAuthenticationMethod",
    "GetApplicationGrant",
    "GetApplicationSessionConfiguration",
    "ListApplicationAccessScopes",
    "ListApplicationAssignments",
    "ListApplicationAssignmentsForPrincipal",
    "ListApplicationAuthenticationMethods",
    "ListApplicationGrants",
    "ListApplicationProviders",
    "ListApplications",
    "PutApplicationAccessScope",
    "PutApplicationAssignmentConfiguration",
    "PutApplicationAuthenticationMethod",
    "PutApplicationGrant",
    "PutApplicationSessionConfiguration",
    "UpdateApplication",
):
    unsupported("sso-admin", _name, _NO_APPLICATIONS)

for _name in (
    "CreateTrustedTokenIssuer",
    "DeleteTrustedTokenIssuer",
    "DescribeTrustedTokenIssuer",
    "ListTrustedTokenIssuers",
    "UpdateTrustedTokenIssuer",
):
    unsupported("sso-admin", _name, _NO_TOKEN_ISSUERS)
