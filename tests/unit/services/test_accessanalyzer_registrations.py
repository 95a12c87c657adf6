"""Every operation of botocore's ``accessanalyzer`` model has a handler, apart from the policy
checks that other parts of issue 13 bring (ValidatePolicy; CheckNoNewAccess,
CheckAccessNotGranted, CheckNoPublicAccess). Once those are merged, ``accessanalyzer`` belongs in
test_registrations.py's list."""

from __future__ import annotations

import iamd.server.pipeline  # noqa: F401  (imports every service package, registering its handlers)
from iamd.services.framework import registered
from iamd.wire import load_service_model

POLICY_CHECKS = {"ValidatePolicy", "CheckNoNewAccess", "CheckAccessNotGranted", "CheckNoPublicAccess"}


def test_every_analyzer_finding_and_generation_operation_is_handled() -> None:
    operations = set(load_service_model("accessanalyzer").operation_names)
    assert sorted(operations - set(registered("accessanalyzer")) - POLICY_CHECKS) == []


def test_cloudtrail_shows_the_trail() -> None:
    assert {"DescribeTrails", "GetTrail", "GetTrailStatus", "ListTrails", "LookupEvents"} <= set(
        registered("cloudtrail")
    )
