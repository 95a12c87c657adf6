"""IAM Access Analyzer, offline. PURE: data in, findings out (no I/O, no clock): policy
validation (the Service Authorization Reference comes in as a ``Sar`` object, ``iamd.catalog``
provides one); external access in resource policies, finding filters, unused access and policy
generation (``external_access``, ``filters``, ``unused``, ``generation``); custom policy checks
proven with z3 (``proofs``)."""

from iamd.analyzer.issues import ISSUES, learn_more_link
from iamd.analyzer.model import (
    RESOURCE_TYPES,
    TRUST_POLICY,
    ActionFacts,
    Location,
    PolicyType,
    Sar,
    Span,
    Spot,
    ValidationFinding,
    policy_kind,
)
from iamd.analyzer.validate import validate_policy

__all__ = [
    "ISSUES",
    "RESOURCE_TYPES",
    "TRUST_POLICY",
    "ActionFacts",
    "Location",
    "PolicyType",
    "Sar",
    "Span",
    "Spot",
    "ValidationFinding",
    "learn_more_link",
    "policy_kind",
    "validate_policy",
]
