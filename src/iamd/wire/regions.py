"""Which regions a request may be signed for, from botocore's endpoint data (``endpoints.json``).

AWS refuses a credential scope naming a region that does not exist, and a global service's single
endpoint only takes the region it signs for: IAM's ``iam.amazonaws.com`` answers a request signed
for ``us-west-2`` with ``SignatureDoesNotMatch``, "Credential should be scoped to a valid region,
not 'us-west-2'. " (reported against AWS in aws/aws-sdk-go#156 and rusoto/rusoto#1870; botocore's
``endpoints.json`` gives IAM's ``aws-global`` endpoint the credential scope ``us-east-1``).

iamd's ARNs are in the ``aws`` partition, so a regional service (STS, CloudTrail, Access Analyzer,
IAM Roles Anywhere) takes any region of that partition, and a global one (IAM, Organizations)
only its ``aws-global`` endpoint's region.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import botocore.loaders

__all__ = ["PARTITION", "partition_regions", "signing_regions"]

PARTITION = "aws"


@cache
def _partition() -> dict[str, Any]:
    endpoints = botocore.loaders.Loader().load_data("endpoints")
    for partition in endpoints["partitions"]:
        if partition["partition"] == PARTITION:
            found: dict[str, Any] = partition
            return found
    raise LookupError(f"botocore knows no partition {PARTITION!r}")


@cache
def partition_regions() -> frozenset[str]:
    """Every region of the ``aws`` partition."""
    return frozenset(_partition()["regions"])


@cache
def signing_regions(endpoint_prefix: str) -> frozenset[str]:
    """The regions a request to the service with ``endpoint_prefix`` may be signed for."""
    service = _partition()["services"].get(endpoint_prefix) or {}
    if service.get("isRegionalized") is False and service.get("partitionEndpoint"):
        endpoint = service.get("endpoints", {}).get(service["partitionEndpoint"], {})
        region = endpoint.get("credentialScope", {}).get("region")
        if region:
            return frozenset({region})
    return partition_regions()
