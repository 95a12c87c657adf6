"""What IAM and STS accept and refuse, answered with AWS's sentences, through boto3 and the CLI.

Each case cites where AWS's behaviour is shown (the rule table is iamd.policy.acceptance.RULES);
"moto" marks a case only the 2019 tables of moto's test_iam_policies.py show. ``iamd policy
check`` keeps reporting the located findings for the same documents.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.e2e.harness import ACCOUNT_ID, Server
from tests.e2e.policy_helpers import allow, error_of, policy, trust

MALFORMED = "MalformedPolicyDocument"
ROOT = f"arn:aws:iam::{ACCOUNT_ID}:root"


def raw(body: dict[str, Any]) -> str:
    return json.dumps(body)


@pytest.fixture(scope="module")
def holders(iam: Any) -> None:
    iam.create_user(UserName="accept-user")
    iam.create_role(RoleName="accept-role", AssumeRolePolicyDocument=trust())


def refusal(call: Any, **params: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as exc:
        call(**params)
    return error_of(exc)


def test_create_policy_refusals(iam: Any) -> None:
    create = iam.create_policy
    # https://github.com/Meteor-Community-Packages/Meteor-CollectionFS/issues/630
    no_version = raw({"Statement": [allow("s3:ListBucket")]})
    assert refusal(create, PolicyName="v", PolicyDocument=no_version) == (
        400,
        MALFORMED,
        "Policy document must be version 2012-10-17 or greater.",
    )
    # https://github.com/laurilehmijoki/s3_website/pull/219
    old = raw({"Version": "2008-10-17", "Statement": [allow("s3:ListBucket")]})
    assert refusal(create, PolicyName="v", PolicyDocument=old)[2] == (
        "Policy document must be version 2012-10-17 or greater."
    )
    # https://github.com/otterize/intents-operator/pull/481 (no statements)
    assert refusal(create, PolicyName="v", PolicyDocument=policy()) == (
        400,
        MALFORMED,
        "Syntax errors in policy.",
    )
    # https://github.com/Wolox/carthage_cache/issues/22 (moto's table wrongly lists this as valid)
    assert refusal(create, PolicyName="v", PolicyDocument=policy(allow("s3:*", Sid="Atomic_Red_Team"))) == (
        400,
        MALFORMED,
        "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular "
        "expression [0-9A-Za-z]*",
    )
    # https://github.com/hashicorp/terraform/issues/10057
    lowercase = policy({"Effect": "allow", "Action": "s3:*", "Resource": "*"})
    assert refusal(create, PolicyName="v", PolicyDocument=lowercase)[2] == "The policy failed legacy parsing"
    # https://github.com/aws/aws-cdk/issues/7615
    assert refusal(create, PolicyName="v", PolicyDocument=policy({"Effect": "Allow", "Resource": "*"}))[
        2
    ] == ("Policy statement must contain actions.")
    # https://github.com/trussworks/terraform-aws-s3-anti-virus/issues/21
    assert refusal(create, PolicyName="v", PolicyDocument=policy(allow("s3:*", "bucket")))[2] == (
        'Resource bucket must be in ARN format or "*".'
    )
    # https://github.com/terraform-aws-modules/terraform-aws-iam/issues/39
    assert refusal(create, PolicyName="v", PolicyDocument=policy(allow("s3:*", "arn:aws-cn:s3:::b")))[2] == (
        'Partition "aws-cn" is not valid for resource "arn:aws-cn:s3:::b".'
    )
    # S3 bucket ARNs carry no region (S3 user guide); the sentence is moto's
    assert refusal(create, PolicyName="v", PolicyDocument=policy(allow("s3:*", "arn:aws:s3:us-east-1::b")))[
        2
    ] == ("Resource arn:aws:s3:us-east-1::b can not contain region information.")
    # moto: an empty service field
    assert refusal(create, PolicyName="v", PolicyDocument=policy(allow("s3:*", "arn:aws::::b")))[2] == (
        "The policy failed legacy parsing"
    )
    # https://github.com/garnaat/kappa/issues/111
    assert refusal(create, PolicyName="v", PolicyDocument=policy(allow("ec2:ec2:CreateTags")))[2] == (
        "Actions/Condition can contain only one colon."
    )
    assert not [p for p in iam.list_policies(Scope="Local")["Policies"] if p["PolicyName"] == "v"]


def test_create_policy_accepts_what_aws_accepts(iam: Any) -> None:
    """IAM checks grammar, not meaning (moto's valid table; AWS-recorded "apigatway:PUT")."""
    accepted = [
        allow("s3.s:ListBucket", "arn:aws:s3:::bucket"),
        allow("apigatway:PUT"),
        allow("s3:ListBucket", Condition={"StringEquals": {"a": "asf"}}),
        allow("s3:ListBucket", Condition={"NotAnOperator": {}}),
        allow("s3:ListBucket", "arn:aws:fdsasf"),
        allow("s3:GetObject", "arn:aws:s3:::bucket/a%20b/*"),
        allow("s3:*", "arn:aws:s3:us-west-2:123456789012:accesspoint/ap"),
    ]
    for i, statement in enumerate(accepted):
        arn = iam.create_policy(PolicyName=f"accepted-{i}", PolicyDocument=policy(statement))["Policy"]["Arn"]
        version = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
        assert version["Document"]["Statement"][0] == statement
        # CreatePolicyVersion follows the same rules.
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=policy(statement), SetAsDefault=True)
    arn = f"arn:aws:iam::{ACCOUNT_ID}:policy/accepted-0"
    no_version = raw({"Statement": [allow("s3:ListBucket")]})
    assert refusal(iam.create_policy_version, PolicyArn=arn, PolicyDocument=no_version)[2] == (
        "Policy document must be version 2012-10-17 or greater."
    )


def test_inline_policies(iam: Any, holders: None) -> None:
    put = iam.put_user_policy
    key = {"UserName": "accept-user", "PolicyName": "p"}
    # An inline policy without Version is stored (only CreatePolicy's sentence is quoted).
    put(**key, PolicyDocument=raw({"Statement": [allow("s3:ListBucket")]}))
    put(
        **key,
        PolicyDocument=policy(allow("s3.s:ListBucket", Condition={"Bool": {"aws:SecureTransport": True}})),
    )
    # https://github.com/hashicorp/terraform-provider-aws/issues/10419
    assert refusal(put, **key, PolicyDocument=policy(allow("s3:*", Principal="*"))) == (
        400,
        MALFORMED,
        "Policy document should not specify a principal.",
    )
    # https://github.com/trussworks/terraform-aws-s3-anti-virus/issues/22 (an empty list)
    assert refusal(put, **key, PolicyDocument=policy(allow("s3:*", [])))[2] == (
        "Policy statement must contain resources."
    )
    # https://github.com/cloud-gov/terraform-provision/pull/1838
    assert refusal(
        iam.put_role_policy,
        RoleName="accept-role",
        PolicyName="p",
        PolicyDocument=policy(allow("iam:GetRole", "arn:aws:iam:us-east-1:123456789012:role/x")),
    ) == (
        400,
        MALFORMED,
        "IAM resource arn:aws:iam:us-east-1:123456789012:role/x cannot contain region information.",
    )
    # https://github.com/magenx/Magento-2-aws-cluster-terraform/pull/18
    twice = policy(allow("s3:*", Sid="same"), allow("ec2:*", Sid="same"))
    assert (
        refusal(put, **key, PolicyDocument=twice)[2]
        == "Statement IDs (SID) in a single policy must be unique."
    )


def test_trust_policies(iam: Any, holders: None) -> None:
    # AWS-recorded: LocalStack snapshot test_create_role_with_malformed_assume_role_policy_document
    assert refusal(iam.create_role, RoleName="t", AssumeRolePolicyDocument='{"Version": "2012-10-17",}') == (
        400,
        MALFORMED,
        "This policy contains invalid Json",
    )
    # https://github.com/terraform-aws-modules/terraform-aws-iam/issues/47
    no_principal = policy({"Effect": "Allow", "Action": "sts:AssumeRole"})
    assert refusal(iam.create_role, RoleName="t", AssumeRolePolicyDocument=no_principal)[2] == (
        "Invalid principal in policy: com.amazon.balsa.error.InvalidPolicyException: "
        "The passed in policy has a statement with no principals!"
    )
    # https://github.com/databrickslabs/ucx/issues/2269 (form of the sentence)
    wildcard = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:role/*"},
            "Action": "sts:AssumeRole",
        }
    )
    assert refusal(iam.update_assume_role_policy, RoleName="accept-role", PolicyDocument=wildcard) == (
        400,
        MALFORMED,
        f'Invalid principal in policy: "AWS":"arn:aws:iam::{ACCOUNT_ID}:role/*"',
    )
    # https://github.com/hashicorp/terraform/issues/35086: 2008-10-17 and an empty Sid are fine
    legacy = raw(
        {
            "Version": "2008-10-17",
            "Statement": [
                {"Sid": "", "Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "sts:AssumeRole"}
            ],
        }
    )
    iam.update_assume_role_policy(RoleName="accept-role", PolicyDocument=legacy)
    big = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": ROOT},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": [f"id-{i:040d}" for i in range(60)]}},
        }
    )
    # https://github.com/cloudposse/terraform-aws-components modules/aws-teams/README.md
    assert refusal(iam.update_assume_role_policy, RoleName="accept-role", PolicyDocument=big) == (
        409,
        "LimitExceeded",
        "Cannot exceed quota for ACLSizePerRole: 2048",
    )


def test_session_policy(server: Server, iam: Any) -> None:
    """STS's model names MalformedPolicyDocument for AssumeRole; its sentences are IAM's."""
    role = iam.create_role(
        RoleName="accept-session",
        AssumeRolePolicyDocument=policy(
            {"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "sts:AssumeRole"}
        ),
    )["Role"]
    sts = server.client("sts")
    assume = sts.assume_role
    base = {"RoleArn": role["Arn"], "RoleSessionName": "session"}
    assert refusal(assume, **base, Policy='{"Version": "2012-10-17"') == (
        400,
        MALFORMED,
        "Syntax errors in policy.",
    )
    assert refusal(assume, **base, Policy=policy({"Effect": "Allow", "Resource": "*"}))[2] == (
        "Policy statement must contain actions."
    )
    # A session policy without Version, with a dotted vendor, is accepted.
    answer = assume(**base, Policy=raw({"Statement": [allow("s3.s:ListBucket")]}))
    assert answer["Credentials"]["AccessKeyId"].startswith("ASIA")


def test_policy_check_keeps_located_findings(tmp_path: Any) -> None:
    """The same documents IAM accepts still get Access Analyzer-style findings, with their place."""
    path = tmp_path / "p.json"
    path.write_text(policy(allow("s3:ListBucket", Condition={"StringEquals": {"a": "asf"}})))
    out = subprocess.run(
        [sys.executable, "-m", "iamd.cli.main", "policy", "check", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "INVALID_CONDITION_KEY_FORMAT" in out.stdout + out.stderr
    assert "Statement[0].Condition.StringEquals.a" in out.stdout + out.stderr
