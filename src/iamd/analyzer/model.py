"""What a validation finding is, as ValidatePolicy returns it, and the facts the checks read.

A finding carries AWS's issue code and finding type, a sentence saying what to do, the guide's
``learnMoreLink`` and its locations: a path of ``{"value": name}`` / ``{"index": i}`` elements and
a span (start and end line, column, offset) in the policy text.

Spans: lines count from 1, columns and offsets from 0, and a span covers the whole JSON token
(quotes included), as in a finding AWS returned for ``"sqs:DeleteMessageBatch"`` at offsets
2550-2574, column 8 of an indented line. Whether AWS counts lines from 1 is not confirmed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from iamd.analyzer.issues import ISSUES, learn_more_link
from iamd.policy.limits import PolicyKind

__all__ = [
    "RESOURCE_TYPES",
    "TRUST_POLICY",
    "ActionFacts",
    "Location",
    "PathElement",
    "PolicyType",
    "Sar",
    "Span",
    "Spot",
    "ValidationFinding",
    "policy_kind",
]


class PolicyType(Enum):
    IDENTITY_POLICY = "IDENTITY_POLICY"
    RESOURCE_POLICY = "RESOURCE_POLICY"
    SERVICE_CONTROL_POLICY = "SERVICE_CONTROL_POLICY"
    RESOURCE_CONTROL_POLICY = "RESOURCE_CONTROL_POLICY"


TRUST_POLICY = "AWS::IAM::AssumeRolePolicyDocument"
RESOURCE_TYPES = (
    "AWS::S3::Bucket",
    "AWS::S3::AccessPoint",
    "AWS::S3::MultiRegionAccessPoint",
    "AWS::S3ObjectLambda::AccessPoint",
    TRUST_POLICY,
    "AWS::DynamoDB::Table",
)
"""botocore's ``ValidatePolicyResourceType`` enum."""


def policy_kind(policy_type: PolicyType, resource_type: str | None = None) -> PolicyKind:
    """The grammar the policy is read with."""
    if policy_type is PolicyType.RESOURCE_POLICY:
        return PolicyKind.TRUST if resource_type == TRUST_POLICY else PolicyKind.RESOURCE
    if policy_type is PolicyType.SERVICE_CONTROL_POLICY:
        return PolicyKind.SCP
    if policy_type is PolicyType.RESOURCE_CONTROL_POLICY:
        return PolicyKind.RCP
    return PolicyKind.IDENTITY


@dataclass(frozen=True, slots=True)
class Spot:
    line: int
    column: int
    offset: int

    def to_api(self) -> dict[str, int]:
        return {"line": self.line, "column": self.column, "offset": self.offset}


@dataclass(frozen=True, slots=True)
class Span:
    start: Spot
    end: Spot

    def to_api(self) -> dict[str, object]:
        return {"start": self.start.to_api(), "end": self.end.to_api()}


PathElement = tuple[str, str | int]
"""("value", "Statement"), ("index", 0) or ("key", "Foo")."""


@dataclass(frozen=True, slots=True)
class Location:
    path: tuple[PathElement, ...]
    span: Span

    def to_api(self) -> dict[str, object]:
        return {"path": [{kind: value} for kind, value in self.path], "span": self.span.to_api()}

    @property
    def text(self) -> str:
        out = ""
        for kind, value in self.path:
            out += f"[{value}]" if kind == "index" else (f".{value}" if out else str(value))
        return out or "(document)"


@dataclass(frozen=True, slots=True)
class ValidationFinding:
    code: str
    details: str
    locations: tuple[Location, ...]

    @property
    def finding_type(self) -> str:
        return ISSUES[self.code]

    @property
    def learn_more_link(self) -> str:
        return learn_more_link(self.code)

    def to_api(self) -> dict[str, object]:
        return {
            "findingDetails": self.details,
            "findingType": self.finding_type,
            "issueCode": self.code,
            "learnMoreLink": self.learn_more_link,
            "locations": [loc.to_api() for loc in self.locations],
        }

    def __str__(self) -> str:
        where = self.locations[0] if self.locations else None
        at = ""
        if where is not None:
            at = f" at {where.text} (line {where.span.start.line}, column {where.span.start.column + 1})"
        return f"{self.finding_type} {self.code}{at}: {self.details}"


@dataclass(frozen=True, slots=True)
class ActionFacts:
    """One action of the Service Authorization Reference."""

    name: str
    condition_keys: frozenset[str]
    """Lower-cased keys the action (or one of its resource types) supports."""
    resource_types: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...] = ()
    """The keys with a placeholder (``aws:ResourceTag/${TagKey}``), as lower-case patterns."""

    def supports(self, key: str) -> bool:
        lowered = key.lower()
        return lowered in self.condition_keys or any(p.fullmatch(lowered) for p in self.patterns)


class Sar(Protocol):
    """The Service Authorization Reference (and AWS's global condition keys), read elsewhere and
    handed in, so the checks stay pure. Names are matched case-insensitively."""

    def services(self) -> frozenset[str]: ...

    def actions(self, service: str) -> Mapping[str, str]:
        """lower-cased action name -> the name as AWS spells it; empty for an unknown service."""
        ...

    def action(self, service: str, action: str) -> ActionFacts | None: ...

    def resource_arns(self, service: str) -> Mapping[str, str]:
        """resource type -> ARN template (``arn:${Partition}:s3:::${BucketName}``)."""
        ...

    def condition_key_type(self, key: str) -> str | None:
        """The SAR type of a key (String, ARN, Bool, Numeric, Date, IPAddress, ArrayOfString…);
        None when no service (nor the global keys) defines it. Tag patterns match."""
        ...

    def service_has_condition_keys(self, service: str) -> bool: ...

    def rcp_services(self) -> frozenset[str]: ...

    def regions(self) -> frozenset[str]: ...

    def partitions(self) -> frozenset[str]: ...
