"""Which regions a request may be signed for, from botocore's endpoint data (``endpoints.json``).

AWS refuses a credential scope naming a region that does not exist: ``SignatureDoesNotMatch``,
"Credential should be scoped to a valid region, not 'mars-north-9'. " (the form reported against
AWS in aws/aws-sdk-go#156 and rusoto/rusoto#1870). iamd's ARNs are in the ``aws`` partition, so a
request may be signed for any region of that partition.

Global services (IAM, Organizations) are no exception here, on purpose. Against AWS an SDK never
signs IAM for another region than ``us-east-1``: it resolves IAM's ``aws-global`` endpoint, whose
credential scope is ``us-east-1``. Pointed at iamd with ``--endpoint-url`` / ``AWS_ENDPOINT_URL``,
the same SDK signs for the client's own region (botocore's endpoint rules give a custom endpoint no
credential scope), so a client that works against AWS from ``eu-west-1`` would be refused by an
iamd that took ``us-east-1`` only. Real regions are accepted; made-up ones are refused.
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
    """The regions a request to the service with ``endpoint_prefix`` may be signed for: every
    region of the partition (the module docstring says why global services are no exception)."""
    del endpoint_prefix
    return partition_regions()
