"""Which service-linked role AWS creates for a service principal: its name, the AWS managed policy
attached to it, and whether a CustomSuffix is allowed. Read from ``iamd/data/service_linked_roles.json``
(each entry names its source: recorded against AWS, or the AWS documentation page of that role); names
are never derived from the principal, because AWS's are not (``autoscaling-plans`` gets
``AWSServiceRoleForAutoScalingPlans_EC2AutoScaling``, ``dms`` gets ``AWSServiceRoleForDMSServerless``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["ServiceLinkedRole", "service_linked_role"]


@dataclass(frozen=True, slots=True)
class ServiceLinkedRole:
    principal: str
    role_name: str
    policy_name: str
    custom_suffix: bool

    def name(self, suffix: str | None) -> str:
        """The role's name: ``_SUFFIX`` appended when a custom suffix is given."""
        return f"{self.role_name}_{suffix}" if suffix else self.role_name


@cache
def _table() -> dict[str, ServiceLinkedRole]:
    text = resources.files("iamd").joinpath("data", "service_linked_roles.json").read_text("utf-8")
    return {
        principal: ServiceLinkedRole(principal, entry["role"], entry["policy"], bool(entry["customSuffix"]))
        for principal, entry in json.loads(text)["services"].items()
    }


def service_linked_role(principal: str) -> ServiceLinkedRole | None:
    """The service-linked role of ``principal`` (``autoscaling.amazonaws.com``), or None for a
    principal with no known service-linked role. A ``.amazonaws.com.cn`` principal (China regions)
    has the same role as its ``.amazonaws.com`` form."""
    return _table().get(principal.removesuffix(".cn"))
