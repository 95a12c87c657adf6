"""Access previews: answered UnsupportedOperation, saying why.

An access preview shows the findings a proposed resource policy would produce for S3 buckets, KMS
keys, secrets, queues, snapshots and the other resource types of ``Configuration``. iamd holds
none of those resources (only IAM roles, whose trust policies its analyzers already report on
live: change the trust policy and read the findings)."""

from iamd.services.framework import unsupported

_WHY = (
    "access previews preview findings for S3, KMS, Secrets Manager, SQS, SNS, ECR, EFS, RDS, EBS and "
    "DynamoDB resources, which iamd does not hold; for IAM roles, iamd's analyzers report on the "
    "trust policy as soon as it changes"
)

for _name in ("CreateAccessPreview", "GetAccessPreview", "ListAccessPreviews", "ListAccessPreviewFindings"):
    unsupported("accessanalyzer", _name, _WHY)
