"""AWS Organizations (JSON 1.1, ``AWSOrganizationsV20161128``): one module per area. Importing the
package registers every operation of botocore's model; the billing responsibility transfers are
answered as unsupported, saying why. ``controls`` feeds the evaluator the SCPs and RCPs and the
organization condition keys of every request."""

from iamd.services.framework import unsupported
from iamd.services.organizations import (  # noqa: F401  (each registers its operations)
    accounts,
    delegation,
    handshakes,
    organization,
    ous,
    policies,
    tags,
)

_NO_BILLING = "iamd has no billing, so there is no billing responsibility to transfer between organizations"

for _name in (
    "InviteOrganizationToTransferResponsibility",
    "DescribeResponsibilityTransfer",
    "ListInboundResponsibilityTransfers",
    "ListOutboundResponsibilityTransfers",
    "TerminateResponsibilityTransfer",
    "UpdateResponsibilityTransfer",
):
    unsupported("organizations", _name, _NO_BILLING)
