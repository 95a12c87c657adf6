"""Finding filters of archive rules and ListFindings (shared/spec/access_analyzer_api.md §2.8)."""

from __future__ import annotations

from iamd.analyzer.filters import matches

FINDING = {
    "resource": "arn:aws:iam::111111111111:role/shared",
    "resourceType": "AWS::IAM::Role",
    "status": "ACTIVE",
    "isPublic": False,
    "principal": {"AWS": "444455556666"},
    "condition": {"aws:PrincipalOrgID": "o-abc"},
    "action": ["sts:AssumeRole"],
}


def test_eq_neq_contains_exists() -> None:
    assert matches(FINDING, {"principal.AWS": {"eq": ["1", "444455556666"]}})
    assert not matches(FINDING, {"principal.AWS": {"neq": ["444455556666"]}})
    assert matches(FINDING, {"resource": {"contains": ["role/sha"]}})
    assert matches(FINDING, {"principal.Federated": {"exists": False}})
    assert not matches(FINDING, {"principal.Federated": {"exists": True}})
    assert matches(FINDING, {"isPublic": {"eq": ["false"]}})
    assert matches(FINDING, {"condition.aws:PrincipalOrgID": {"eq": ["o-abc"]}})
    assert matches(FINDING, {"action": {"eq": ["sts:AssumeRole"]}})


def test_keys_are_anded() -> None:
    assert matches(FINDING, {"status": {"eq": ["ACTIVE"]}, "resourceType": {"eq": ["AWS::IAM::Role"]}})
    assert not matches(FINDING, {"status": {"eq": ["ACTIVE"]}, "resourceType": {"eq": ["AWS::S3::Bucket"]}})
    assert matches(FINDING, {})
