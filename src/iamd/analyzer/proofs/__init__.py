"""Custom policy checks proven with an SMT solver (z3): CheckNoNewAccess, CheckAccessNotGranted,
CheckNoPublicAccess. Pure: policies in, a PASS proof or a FAIL with a counterexample out."""

from iamd.analyzer.proofs.checks import (
    PUBLIC_RESOURCE_TYPES,
    CheckResult,
    Counterexample,
    PolicyType,
    Reason,
    check_access_not_granted,
    check_no_new_access,
    check_no_public_access,
)
from iamd.analyzer.proofs.solve import Undecided

__all__ = [
    "PUBLIC_RESOURCE_TYPES",
    "CheckResult",
    "Counterexample",
    "PolicyType",
    "Reason",
    "Undecided",
    "check_access_not_granted",
    "check_no_new_access",
    "check_no_public_access",
]
