"""AWS CloudTrail: LookupEvents over iamd's trail (:mod:`.lookup`), and :class:`Recorder`, which
turns the pipeline's requests into trail events (:mod:`.recording`). Importing this package
registers the operations."""

from iamd.services.cloudtrail import (
    lookup,  # noqa: F401  (registers LookupEvents)
    trails,  # noqa: F401  (registers DescribeTrails, GetTrail …)
)
from iamd.services.cloudtrail.recording import Observed, Recorder, identity_for

__all__ = ["Observed", "Recorder", "identity_for"]
