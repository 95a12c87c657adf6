"""The service-linked role table (iamd/data/service_linked_roles.json) against the AWS managed
policies iamd ships: every role names a real service-linked-role policy, and the names AWS gives
are not the ones a rule would derive from the principal."""

from __future__ import annotations

import gzip
import json
import re
from importlib import resources

from iamd.services.iam.service_linked import service_linked_role

_TABLE = json.loads(resources.files("iamd").joinpath("data", "service_linked_roles.json").read_text("utf-8"))
_MANAGED = json.loads(
    gzip.decompress(resources.files("iamd").joinpath("data", "aws_managed_policies.json.gz").read_bytes())
)["policies"]


def test_every_entry_is_well_formed_and_cites_its_source() -> None:
    for principal, entry in _TABLE["services"].items():
        assert re.fullmatch(r"[a-z0-9][a-z0-9.-]*\.amazonaws\.com", principal), principal
        assert re.fullmatch(r"AWSServiceRoleFor[\w+=,.@-]+", entry["role"]), entry
        assert len(entry["role"]) <= 64
        assert entry["source"] == "recorded" or entry["source"].startswith("https://docs.aws.amazon.com/")


def test_every_attached_policy_is_an_aws_service_role_policy_where_iamd_has_it() -> None:
    """AWS attaches arn:aws:iam::aws:policy/aws-service-role/<policy>; the managed-policy snapshot
    iamd ships has all but a few (AmazonLexBotPolicy is missing from it)."""
    missing = []
    for entry in _TABLE["services"].values():
        policy = _MANAGED.get(entry["policy"])
        if policy is None:
            missing.append(entry["policy"])
        else:
            assert policy["path"] == "/aws-service-role/", entry
    assert missing == ["AmazonLexBotPolicy"]


def test_names_come_from_the_table_not_from_the_principal() -> None:
    """Recorded against AWS (LocalStack's TestIAMServiceRoles, test_iam.snapshot.json) or named on
    AWS's service-linked role pages (custom-resource: the Application Auto Scaling user guide)."""
    expected = {
        "autoscaling.amazonaws.com": "AWSServiceRoleForAutoScaling",
        "elasticbeanstalk.amazonaws.com": "AWSServiceRoleForElasticBeanstalk",
        "custom-resource.application-autoscaling.amazonaws.com": (
            "AWSServiceRoleForApplicationAutoScaling_CustomResource"
        ),
        "autoscaling-plans.amazonaws.com": "AWSServiceRoleForAutoScalingPlans_EC2AutoScaling",
        "dms.amazonaws.com": "AWSServiceRoleForDMSServerless",
        "elasticache.amazonaws.com": "AWSServiceRoleForElastiCache",
    }
    for principal, name in expected.items():
        found = service_linked_role(principal)
        assert found is not None and found.name(None) == name
    autoscaling = service_linked_role("autoscaling.amazonaws.com")
    assert autoscaling is not None and autoscaling.custom_suffix
    assert autoscaling.name("fleet") == "AWSServiceRoleForAutoScaling_fleet"
    batch = service_linked_role("batch.amazonaws.com")
    assert batch is not None and not batch.custom_suffix
    assert service_linked_role("no-such-service.amazonaws.com") is None
