"""The IAM policy language: the typed tree, parsing with located findings, wildcard and ARN
matching, condition operators and policy variables. Pure: no I/O, no clock."""

from iamd.policy.ast import (
    VERSION_2008,
    VERSION_2012,
    ConditionClause,
    Effect,
    Path,
    Policy,
    PrincipalSpec,
    Statement,
)
from iamd.policy.findings import Finding, PolicyError, format_path
from iamd.policy.limits import PolicyKind, policy_size
from iamd.policy.parse import CheckResult, check_policy, parse_policy

__all__ = [
    "VERSION_2008",
    "VERSION_2012",
    "CheckResult",
    "ConditionClause",
    "Effect",
    "Finding",
    "Path",
    "Policy",
    "PolicyError",
    "PolicyKind",
    "PrincipalSpec",
    "Statement",
    "check_policy",
    "format_path",
    "parse_policy",
    "policy_size",
]
