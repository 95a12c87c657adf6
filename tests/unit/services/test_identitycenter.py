"""IAM Identity Center administration: every sso-admin operation of the model is handled, session
durations are read as AWS reads them, and the provisioned roles' path, name and trust policy have
AWS's shape (spec §4)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

import iamd.server.pipeline  # noqa: F401  (imports every service package, registering its handlers)
from iamd.services.framework import registered
from iamd.services.identitycenter.common import session_seconds
from iamd.services.identitycenter.provisioning import provider_name, role_path, trust_policy
from iamd.store.identity_center import InstanceRecord
from iamd.wire import load_service_model


def _instance(region: str) -> InstanceRecord:
    return InstanceRecord(
        arn="arn:aws:sso:::instance/ssoins-72238d4e4906358a",
        owner_account_id="111111111111",
        organization_id="o-abcdefghij",
        identity_store_id="d-9067642ac7",
        name=None,
        region=region,
        status="ACTIVE",
        provider_suffix="16bea4beac9024d7",
        client_token=None,
        request=None,
        tags={},
        abac=None,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_every_sso_admin_operation_of_the_model_is_handled() -> None:
    operations = set(load_service_model("sso-admin").operation_names)
    assert len(operations) >= 79
    assert sorted(operations - set(registered("sso-admin"))) == []


@pytest.mark.parametrize(
    ("duration", "seconds"),
    [
        ("PT1H", 3600),
        ("PT12H", 43200),
        ("PT4H30M", 16200),
        ("PT90M", 5400),
        ("P1D", 86400),
        ("PT3600S", 3600),
    ],
)
def test_session_durations_are_iso_8601(duration: str, seconds: int) -> None:
    assert session_seconds(duration) == seconds


@pytest.mark.parametrize("duration", ["P1M", "P1Y", "PT", "P", "-PT1H", "1H", "PT1H ", "P1W"])
def test_durations_with_calendar_units_or_garbage_are_refused(duration: str) -> None:
    assert session_seconds(duration) is None


def test_us_east_1_roles_have_no_region_segment_and_others_do() -> None:
    assert role_path(_instance("us-east-1")) == "/aws-reserved/sso.amazonaws.com/"
    assert role_path(_instance("eu-west-2")) == "/aws-reserved/sso.amazonaws.com/eu-west-2/"


PROVIDER = "AWSSSO_16bea4beac9024d7_DO_NOT_DELETE"


def test_the_trust_policy_is_exactly_aws_s() -> None:
    instance = _instance("us-east-1")
    assert provider_name(instance) == PROVIDER
    assert json.loads(trust_policy("913733971067", instance)) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:aws:iam::913733971067:saml-provider/{PROVIDER}"},
                "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"],
                "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
            }
        ],
    }
