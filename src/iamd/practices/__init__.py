"""Best-practice review of an account: a snapshot read through the API (``live``) or from files
exported with the AWS CLI (``export``), checks as pure functions over it (``review``), and the
report written as text, JSON, SARIF, OCSF or one HTML page (``render``, ``html``). Reads like a
client: never the store."""

from iamd.practices.model import PRACTICES, SEVERITIES, Check, CheckResult, Finding, Report, Step
from iamd.practices.registry import CHECKS
from iamd.practices.review import NEEDS, review
from iamd.practices.snapshot import Snapshot

__all__ = [
    "CHECKS",
    "NEEDS",
    "PRACTICES",
    "SEVERITIES",
    "Check",
    "CheckResult",
    "Finding",
    "Report",
    "Snapshot",
    "Step",
    "review",
]
