"""ValidatePolicy checks, one data-driven case per implemented issue code: a policy, its type,
the code expected, its finding type, and where it stands (path, and a span that covers exactly
that JSON value). Codes and finding types: IAM User Guide, "IAM policy validation check
reference" (shared/spec/validation_checks.md). docs/validation-coverage.md must list as
implemented exactly the codes that have a case here (test_coverage_table_matches_the_cases)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from iamd.analyzer import ISSUES, PolicyType, ValidationFinding, validate_policy
from iamd.catalog import service_reference
from iamd.policy.limits import PolicyKind

ID, RES, SCP, RCP = (
    PolicyType.IDENTITY_POLICY,
    PolicyType.RESOURCE_POLICY,
    PolicyType.SERVICE_CONTROL_POLICY,
    PolicyType.RESOURCE_CONTROL_POLICY,
)
TRUST = "AWS::IAM::AssumeRolePolicyDocument"
BUCKET = "AWS::S3::Bucket"
ACCOUNT = "arn:aws:iam::111122223333:root"
GITHUB = "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"


def st(**kw: Any) -> dict[str, Any]:
    """A statement: Allow s3:GetObject on a bucket's objects unless told otherwise (None drops)."""
    out: dict[str, Any] = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
    out.update(kw)
    return {k: v for k, v in out.items() if v is not None}


def doc(*statements: dict[str, Any], version: bool = True) -> str:
    body: dict[str, Any] = {"Version": "2012-10-17"} if version else {}
    body["Statement"] = list(statements)
    return json.dumps(body, indent=2)


def cond(operator: str, key: str, value: Any, **kw: Any) -> dict[str, Any]:
    return st(Condition={operator: {key: value}}, **kw)


def trust(**kw: Any) -> dict[str, Any]:
    out = {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}
    out.update(kw)
    return {k: v for k, v in out.items() if v is not None}


def res(**kw: Any) -> dict[str, Any]:
    kw.setdefault("Principal", {"AWS": ACCOUNT})
    return st(**kw)


@dataclass(frozen=True)
class Case:
    code: str
    finding_type: str
    policy: str
    where: str
    policy_type: PolicyType = ID
    resource_type: str | None = None
    kind: PolicyKind | None = None


C = Case
E, SW, W, S = "ERROR", "SECURITY_WARNING", "WARNING", "SUGGESTION"
K = "Statement[0].Condition"
BIG = "x" * 21000

CASES = [
    # --- grammar -------------------------------------------------------------------------------
    C("JSON_SYNTAX_ERROR", E, '{"Version": "2012-10-17",', "(document)"),
    C("DATA_TYPE_MISMATCH", E, doc(st(Action=7)), "Statement[0].Action"),
    C("INVALID_POLICY_ELEMENT", E, doc(st(Actions="s3:GetObject", Action=None)), "Statement[0].Actions"),
    C("INVALID_VERSION", E, '{"Version": "2020-01-01", "Statement": []}', "Version"),
    C("MISSING_VERSION", W, doc(st(), version=False), "(document)"),
    C("MISSING_STATEMENT", E, '{"Version": "2012-10-17"}', "(document)"),
    C("UNIQUE_SIDS_REQUIRED", E, doc(st(Sid="A"), st(Sid="A", Action="s3:PutObject")), "Statement[1].Sid"),
    C("UNSUPPORTED_SID", E, doc(st(Sid="has space")), "Statement[0].Sid"),
    C("MISSING_EFFECT", E, doc(st(Effect=None)), "Statement[0]"),
    C("INVALID_EFFECT", E, doc(st(Effect="Permit")), "Statement[0].Effect"),
    C("UNSUPPORTED_ELEMENT_COMBINATION", E, doc(st(NotAction="s3:PutObject")), "Statement[0]"),
    C("MISSING_ACTION", E, doc(st(Action=None)), "Statement[0]"),
    C("VARIABLE_UNSUPPORTED_IN_ELEMENT", E, doc(st(Action="s3:${aws:username}")), "Statement[0].Action"),
    C("INVALID_ACTION", E, doc(st(Action=["s3:GetObjekt"])), "Statement[0].Action[0]"),
    C("MISSING_RESOURCE", E, doc(st(Resource=None)), "Statement[0]"),
    C(
        "ROLE_TRUST_POLICY_SYNTAX_ERROR_RESOURCE",
        E,
        doc(trust(Resource="*")),
        "Statement[0].Resource",
        RES,
        TRUST,
    ),
    C("INVALID_ARN_PREFIX", E, doc(st(Resource="s3:::b")), "Statement[0].Resource"),
    C("MISSING_ARN_FIELD", E, doc(st(Resource="arn:aws:s3:b")), "Statement[0].Resource"),
    C(
        "MISSING_BRACE_IN_VARIABLE",
        E,
        doc(st(Resource="arn:aws:s3:::b/${aws:username")),
        "Statement[0].Resource",
    ),
    C("EMPTY_VARIABLE", E, doc(st(Resource="arn:aws:s3:::b/${}")), "Statement[0].Resource"),
    C(
        "MISSING_QUOTE_IN_VARIABLE",
        E,
        doc(st(Resource="arn:aws:s3:::b/${aws:username, none}")),
        "Statement[0].Resource",
    ),
    C(
        "UNSUPPORTED_SPACE_IN_VARIABLE",
        E,
        doc(st(Resource="arn:aws:s3:::b/${aws: username}")),
        "Statement[0].Resource",
    ),
    C(
        "INVALID_VARIABLE_FOR_OPERATOR",
        E,
        doc(cond("NumericLessThan", "s3:max-keys", "${aws:username}", Action="s3:ListBucket", Resource="*")),
        f"{K}.NumericLessThan.s3:max-keys",
    ),
    C(
        "VARIABLE_UNSUPPORTED_IN_VERSION",
        E,
        '{"Version": "2008-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", '
        '"Resource": "arn:aws:s3:::b/${aws:username}"}]}',
        "Statement[0].Resource",
    ),
    C("MISSING_PRINCIPAL", E, doc(st()), "Statement[0]", RES),
    C("SCP_SYNTAX_ERROR_PRINCIPAL", E, doc(st(Principal="*", Effect="Deny")), "Statement[0].Principal", SCP),
    C("UNSUPPORTED_PRINCIPAL", E, doc(st(Principal={"AWS": ACCOUNT})), "Statement[0].Principal"),
    C(
        "ROLE_TRUST_POLICY_SYNTAX_ERROR_NOTPRINCIPAL",
        E,
        doc(trust(Principal=None, NotPrincipal={"AWS": ACCOUNT}, Effect="Deny")),
        "Statement[0].NotPrincipal",
        RES,
        TRUST,
    ),
    C(
        "RCP_SYNTAX_ERROR_PRINCIPAL",
        E,
        doc(st(Effect="Deny", Principal={"AWS": ACCOUNT}, Action="s3:GetObject", Resource="*")),
        "Statement[0].Principal",
        RCP,
    ),
    C(
        "ROLE_TRUST_POLICY_UNSUPPORTED_WILDCARD_IN_PRINCIPAL",
        E,
        doc(trust(Principal="*")),
        "Statement[0].Principal",
        RES,
        TRUST,
    ),
    C("INVALID_PRINCIPAL_FORMAT", E, doc(res(Principal="111122223333")), "Statement[0].Principal", RES),
    C(
        "INVALID_PRINCIPAL_KEY",
        E,
        doc(res(Principal={"Account": ACCOUNT})),
        "Statement[0].Principal.Account",
        RES,
    ),
    C(
        "UNSUPPORTED_WILDCARD_IN_PRINCIPAL",
        E,
        doc(res(Principal={"AWS": "arn:aws:iam::111122223333:user/*"})),
        "Statement[0].Principal.AWS",
        RES,
    ),
    C(
        "FEDERATED_PRINCIPAL_NOT_SUPPORTED",
        E,
        doc(res(Principal={"Federated": "cognito-identity.amazonaws.com"})),
        "Statement[0].Principal.Federated",
        RES,
    ),
    C("INVALID_CONDITION_OPERATOR", E, doc(cond("StringEqual", "aws:username", "a")), f"{K}.StringEqual"),
    C("NULL_WITH_IF_EXISTS", E, doc(cond("NullIfExists", "aws:username", "true")), f"{K}.NullIfExists"),
    C(
        "DUPLICATE_KEYS_WITH_DIFFERENT_CASE",
        E,
        doc(st(Condition={"StringEquals": {"aws:username": "a", "AWS:UserName": "b"}})),
        f"{K}.StringEquals.AWS:UserName",
    ),
    C(
        "INVALID_CONDITION_KEY_FORMAT",
        E,
        doc(cond("StringEquals", "username", "a")),
        f"{K}.StringEquals.username",
    ),
    C(
        "TYPE_MISMATCH_IP_RANGE",
        E,
        doc(cond("IpAddress", "aws:SourceIp", "300.1.1.1/8")),
        f"{K}.IpAddress.aws:SourceIp",
    ),
    C("INVALID_CONDITION_DATA_TYPE", E, doc(cond("Null", "aws:username", "maybe")), f"{K}.Null.aws:username"),
    C(
        "RCP_SYNTAX_ERROR_ALLOW",
        E,
        doc(st(Principal="*", Action="s3:GetObject", Resource="*")),
        "Statement[0]",
        RCP,
    ),
    C(
        "RCP_SYNTAX_ERROR_NOTACTION",
        E,
        doc(st(Effect="Deny", Principal="*", Action=None, NotAction="s3:GetObject", Resource="*")),
        "Statement[0].NotAction",
        RCP,
    ),
    C(
        "RCP_SYNTAX_ERROR_ACTION",
        E,
        doc(st(Effect="Deny", Principal="*", Action="ec2:RunInstances", Resource="*")),
        "Statement[0].Action",
        RCP,
    ),
    C("POLICY_SIZE_EXCEEDS_SCP_QUOTA", E, doc(st(Effect="Deny", Sid=BIG[:5200])), "(document)", SCP),
    C(
        "POLICY_SIZE_EXCEEDS_RCP_QUOTA",
        E,
        doc(st(Effect="Deny", Principal="*", Sid=BIG[:5200])),
        "(document)",
        RCP,
    ),
    C("POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA", W, doc(st(Sid=BIG[:6200])), "(document)"),
    C("POLICY_SIZE_EXCEEDS_RESOURCE_POLICY_QUOTA", W, doc(res(Sid=BIG[:20500])), "(document)", RES),
    C("POLICY_SIZE_EXCEEDS_ROLE_TRUST_POLICY_QUOTA", W, doc(trust(Sid=BIG[:2100])), "(document)", RES, TRUST),
    C(
        "TYPE_MISMATCH_NUMBER",
        W,
        doc(cond("NumericLessThan", "s3:max-keys", "ten", Action="s3:ListBucket", Resource="*")),
        f"{K}.NumericLessThan.s3:max-keys",
    ),
    C(
        "TYPE_MISMATCH_DATE",
        W,
        doc(cond("DateLessThan", "aws:CurrentTime", "tomorrow")),
        f"{K}.DateLessThan.aws:CurrentTime",
    ),
    C(
        "TYPE_MISMATCH_BOOLEAN",
        W,
        doc(cond("Bool", "aws:SecureTransport", "yes")),
        f"{K}.Bool.aws:SecureTransport",
    ),
    C(
        "TYPE_MISMATCH_STRING",
        W,
        doc(cond("BinaryEquals", "aws:username", "!!not base64!!")),
        f"{K}.BinaryEquals.aws:username",
    ),
    C("EMPTY_ARRAY_ACTION", S, doc(st(Action=[])), "Statement[0].Action"),
    C("EMPTY_ARRAY_RESOURCE", S, doc(st(Resource=[])), "Statement[0].Resource"),
    C("EMPTY_ARRAY_PRINCIPAL", S, doc(res(Principal={"AWS": []})), "Statement[0].Principal.AWS", RES),
    C("EMPTY_OBJECT_PRINCIPAL", S, doc(res(Principal={})), "Statement[0].Principal", RES),
    # --- actions -------------------------------------------------------------------------------
    C("INVALID_SERVICE_IN_ACTION", E, doc(st(Action="s4:GetObject")), "Statement[0].Action"),
    C("WILDCARD_IN_SERVICE_NAME", S, doc(st(Action="*code*:List*")), "Statement[0].Action"),
    C(
        "SCP_SYNTAX_ERROR_ACTION_WILDCARD",
        E,
        doc(st(Effect="Deny", Action="s3:*Object", Resource="*")),
        "Statement[0].Action",
        SCP,
    ),
    C("REDUNDANT_ACTION", S, doc(st(Action=["s3:Get*", "s3:GetObject"])), "Statement[0].Action[1]"),
    C(
        "UNSUPPORTED_ACTION_IN_POLICY",
        E,
        doc(res(Action=["s3:GetObject", "kms:Decrypt"])),
        "Statement[0].Action[1]",
        RES,
        BUCKET,
    ),
    # --- resources -----------------------------------------------------------------------------
    C("INVALID_PARTITION", E, doc(st(Resource="arn:aws-mars:s3:::b/*")), "Statement[0].Resource"),
    C("INVALID_ARN_SERVICE_CASE", E, doc(st(Resource="arn:aws:S3:::b/*")), "Statement[0].Resource"),
    C(
        "INVALID_ARN_ACCOUNT",
        E,
        doc(st(Action="iam:GetRole", Resource="arn:aws:iam::1234:role/r")),
        "Statement[0].Resource",
    ),
    C(
        "INVALID_ARN_REGION",
        E,
        doc(st(Action="sqs:SendMessage", Resource="arn:aws:sqs:mars-east-1:111122223333:q")),
        "Statement[0].Resource",
    ),
    C(
        "INVALID_ARN_RESOURCE",
        E,
        doc(st(Action="iam:GetRole", Resource="arn:aws:iam::111122223333:robot/r")),
        "Statement[0].Resource",
    ),
    C(
        "ARN_REGION_NOT_ALLOWED",
        E,
        doc(st(Action="iam:GetRole", Resource="arn:aws:iam:us-east-1:111122223333:role/r")),
        "Statement[0].Resource",
    ),
    C(
        "MISSING_ARN_REGION",
        E,
        doc(st(Action="sqs:SendMessage", Resource="arn:aws:sqs::111122223333:q")),
        "Statement[0].Resource",
    ),
    C(
        "ARN_ACCOUNT_NOT_ALLOWED",
        E,
        doc(st(Resource="arn:aws:s3::111122223333:b/*")),
        "Statement[0].Resource",
    ),
    C(
        "MISSING_ARN_ACCOUNT",
        E,
        doc(st(Action="iam:GetRole", Resource="arn:aws:iam:::role/r")),
        "Statement[0].Resource",
    ),
    C(
        "UNSUPPORTED_RESOURCE_ARN_IN_POLICY",
        E,
        doc(res(Resource=["arn:aws:s3:::b/*", "arn:aws:kms:us-east-1:111122223333:key/k"])),
        "Statement[0].Resource[1]",
        RES,
        BUCKET,
    ),
    C(
        "REDUNDANT_RESOURCE",
        S,
        doc(st(Resource=["arn:aws:s3:::b/*", "arn:aws:s3:::b/x"])),
        "Statement[0].Resource[1]",
    ),
    # --- conditions ----------------------------------------------------------------------------
    C("EMPTY_OBJECT_CONDITION", S, doc(st(Condition={})), K),
    C(
        "NULL_WITH_QUALIFIER",
        S,
        doc(cond("ForAnyValue:Null", "aws:TagKeys", "true")),
        f"{K}.ForAnyValue:Null.aws:TagKeys",
    ),
    C(
        "UNTRUSTWORTHY_CONDITION_KEY",
        SW,
        doc(cond("StringEquals", "aws:UserAgent", "my-app")),
        f"{K}.StringEquals.aws:UserAgent",
    ),
    C(
        "MISSING_PAIRED_CONDITION_KEYS",
        SW,
        doc(cond("IpAddress", "aws:VpcSourceIp", "10.0.0.0/16")),
        f"{K}.IpAddress.aws:VpcSourceIp",
    ),
    C(
        "S3_PREFIX_IN_NEGATIVE_CONTEXT",
        SW,
        doc(
            cond("StringNotLike", "s3:prefix", "home/*", Effect="Deny", Action="s3:ListBucket", Resource="*")
        ),
        f"{K}.StringNotLike.s3:prefix",
    ),
    C(
        "DYNAMODB_ATTRIBUTES_WITHOUT_SELECT",
        SW,
        doc(
            cond(
                "ForAllValues:StringEquals",
                "dynamodb:Attributes",
                ["id"],
                Action="dynamodb:GetItem",
                Resource="*",
            )
        ),
        f"{K}.ForAllValues:StringEquals.dynamodb:Attributes",
    ),
    C(
        "UNSUPPORTED_GLOBAL_CONDITION_KEY",
        E,
        doc(cond("ArnEquals", "aws:ARN", ACCOUNT)),
        f"{K}.ArnEquals.aws:ARN",
    ),
    C(
        "MISSING_TAG_KEY_IN_CONDITION",
        E,
        doc(cond("StringEquals", "aws:ResourceTag", "x")),
        f"{K}.StringEquals.aws:ResourceTag",
    ),
    C(
        "INVALID_GLOBAL_CONDITION_KEY",
        E,
        doc(cond("StringEquals", "aws:SourceIP4", "x")),
        f"{K}.StringEquals.aws:SourceIP4",
    ),
    C("INVALID_SERVICE", E, doc(cond("StringEquals", "s4:prefix", "x")), f"{K}.StringEquals.s4:prefix"),
    C(
        "INVALID_SERVICE_CONDITION_KEY",
        E,
        doc(cond("StringEquals", "s3:colour", "x")),
        f"{K}.StringEquals.s3:colour",
    ),
    C("MISSING_QUALIFIER", E, doc(cond("StringEquals", "aws:TagKeys", "x")), f"{K}.StringEquals.aws:TagKeys"),
    C(
        "FORALLVALUES_WITH_SINGLE_VALUED_KEY",
        SW,
        doc(cond("ForAllValues:StringEquals", "aws:PrincipalAccount", "111122223333")),
        f"{K}.ForAllValues:StringEquals.aws:PrincipalAccount",
    ),
    C(
        "STRING_LIKE_OPERATOR_WITH_ARN_CONDITION_KEYS",
        SW,
        doc(cond("StringLike", "aws:PrincipalArn", "arn:aws:iam::*:role/x")),
        f"{K}.StringLike.aws:PrincipalArn",
    ),
    C(
        "TYPE_MISMATCH",
        W,
        doc(cond("StringEquals", "aws:SourceIp", "203.0.113.7")),
        f"{K}.StringEquals.aws:SourceIp",
    ),
    C(
        "EMPTY_ARRAY_CONDITION",
        S,
        doc(cond("StringEquals", "aws:username", [])),
        f"{K}.StringEquals.aws:username",
    ),
    C(
        "EMPTY_ARRAY_CONDITION_FORALLVALUES",
        S,
        doc(cond("ForAllValues:StringEquals", "aws:TagKeys", [])),
        f"{K}.ForAllValues:StringEquals.aws:TagKeys",
    ),
    C(
        "EMPTY_ARRAY_CONDITION_FORANYVALUE",
        S,
        doc(cond("ForAnyValue:StringEquals", "aws:TagKeys", [])),
        f"{K}.ForAnyValue:StringEquals.aws:TagKeys",
    ),
    C(
        "EMPTY_ARRAY_CONDITION_IFEXISTS",
        S,
        doc(cond("StringEqualsIfExists", "aws:username", [])),
        f"{K}.StringEqualsIfExists.aws:username",
    ),
    C(
        "INVALID_CONDITION_MULTIPLE_BOOLEAN",
        E,
        doc(cond("Bool", "aws:SecureTransport", ["true", "false"])),
        f"{K}.Bool.aws:SecureTransport",
    ),
    C(
        "WILDCARD_WITHOUT_LIKE_OPERATOR",
        W,
        doc(cond("StringEquals", "aws:username", "adm*")),
        f"{K}.StringEquals.aws:username",
    ),
    C(
        "INVALID_DATE_VALUE",
        W,
        doc(cond("DateGreaterThan", "aws:CurrentTime", "1700000000")),
        f"{K}.DateGreaterThan.aws:CurrentTime",
    ),
    C(
        "REDUNDANT_CONDITION_VALUE_NUM",
        S,
        doc(cond("NumericLessThan", "s3:max-keys", ["10", "20"], Action="s3:ListBucket", Resource="*")),
        f"{K}.NumericLessThan.s3:max-keys",
    ),
    C(
        "IMPROVE_IP_RANGE",
        S,
        doc(cond("IpAddress", "aws:SourceIp", "203.0.113.7/24")),
        f"{K}.IpAddress.aws:SourceIp",
    ),
    C(
        "PRIVATE_IP_ADDRESS",
        E,
        doc(cond("IpAddress", "aws:SourceIp", "10.0.0.0/8")),
        f"{K}.IpAddress.aws:SourceIp",
    ),
    C(
        "PRIVATE_NOT_IP_ADDRESS",
        E,
        doc(cond("NotIpAddress", "aws:SourceIp", "10.0.0.0/8")),
        f"{K}.NotIpAddress.aws:SourceIp",
    ),
    C(
        "PRIVATE_IP_ADDRESS_SUBSET",
        S,
        doc(cond("IpAddress", "aws:SourceIp", ["10.0.0.0/8", "203.0.113.0/24"])),
        f"{K}.IpAddress.aws:SourceIp",
    ),
    C(
        "PRIVATE_NOT_IP_ADDRESS_SUBSET",
        S,
        doc(cond("NotIpAddress", "aws:SourceIp", ["10.0.0.0/8", "203.0.113.0/24"])),
        f"{K}.NotIpAddress.aws:SourceIp",
    ),
    C(
        "INVALID_VPC_FORMAT",
        E,
        doc(cond("StringEquals", "aws:SourceVpc", "vpc-xyz")),
        f"{K}.StringEquals.aws:SourceVpc",
    ),
    C(
        "INVALID_VPCE_FORMAT",
        E,
        doc(cond("StringEquals", "aws:SourceVpce", "endpoint-1")),
        f"{K}.StringEquals.aws:SourceVpce",
    ),
    C(
        "INVALID_REGION",
        E,
        doc(cond("StringEquals", "aws:RequestedRegion", "mars-east-1")),
        f"{K}.StringEquals.aws:RequestedRegion",
    ),
    C(
        "EQUIVALENT_TO_NULL_FALSE",
        S,
        doc(cond("StringLike", "aws:username", "*")),
        f"{K}.StringLike.aws:username",
    ),
    C(
        "EQUIVALENT_TO_NULL_TRUE",
        S,
        doc(cond("StringNotLike", "aws:username", "*")),
        f"{K}.StringNotLike.aws:username",
    ),
    C(
        "REDUNDANT_KEY_DUE_TO_WILDCARD_IN_CONDITION",
        S,
        doc(cond("StringLikeIfExists", "aws:username", "*")),
        f"{K}.StringLikeIfExists.aws:username",
    ),
    C(
        "REDUNDANT_STATEMENT_DUE_TO_WILDCARD_IN_CONDITION",
        S,
        doc(cond("ForAnyValue:StringNotLike", "aws:TagKeys", "*")),
        f"{K}.ForAnyValue:StringNotLike.aws:TagKeys",
    ),
    C(
        "UNSUPPORTED_ACTION_FOR_CONDITION_KEY",
        E,
        doc(
            cond("StringEquals", "s3:prefix", "home/", Action=["s3:ListBucket", "s3:GetObject"], Resource="*")
        ),
        f"{K}.StringEquals.s3:prefix",
    ),
    C(
        "DENY_WITH_UNSUPPORTED_TAG_CONDITION_KEY_FOR_SERVICE",
        SW,
        doc(
            cond(
                "StringEquals",
                "aws:ResourceTag/team",
                "a",
                Effect="Deny",
                Action="support:DescribeCases",
                Resource="*",
            )
        ),
        f"{K}.StringEquals.aws:ResourceTag/team",
    ),
    C(
        "ALLOW_WITH_UNSUPPORTED_TAG_CONDITION_KEY_FOR_SERVICE",
        S,
        doc(cond("StringEquals", "aws:ResourceTag/team", "a", Action="support:DescribeCases", Resource="*")),
        f"{K}.StringEquals.aws:ResourceTag/team",
    ),
    C(
        "DENY_NOTACTION_WITH_UNSUPPORTED_TAG_CONDITION_KEY_FOR_SERVICE",
        SW,
        doc(
            cond(
                "StringEquals",
                "aws:ResourceTag/team",
                "a",
                Effect="Deny",
                Action=None,
                NotAction="s3:GetObject",
                Resource="*",
            )
        ),
        f"{K}.StringEquals.aws:ResourceTag/team",
    ),
    C(
        "ALLOW_NOTACTION_WITH_UNSUPPORTED_TAG_CONDITION_KEY_FOR_SERVICE",
        S,
        doc(
            cond(
                "StringEquals",
                "aws:ResourceTag/team",
                "a",
                Action=None,
                NotAction="s3:GetObject",
                Resource="*",
            )
        ),
        f"{K}.StringEquals.aws:ResourceTag/team",
    ),
    C(
        "USE_CONDITION_KEY_ONLY_WITH_SUPPORTED_SERVICES",
        W,
        doc(cond("StringEquals", "aws:VpceAccount", "111122223333", Effect="Deny", Action="*", Resource="*")),
        f"{K}.StringEquals.aws:VpceAccount",
    ),
    C(
        "INVALID_KMS_KEY_VALUE",
        E,
        doc(
            cond(
                "StringEquals",
                "s3:x-amz-server-side-encryption-aws-kms-key-id",
                "my-key",
                Action="s3:PutObject",
            )
        ),
        f"{K}.StringEquals.s3:x-amz-server-side-encryption-aws-kms-key-id",
    ),
    C(
        "IRRELEVANT_CONDITION_KEY_IN_POLICY",
        S,
        doc(res(Condition={"StringEquals": {"s3:ResourceAccount": "111122223333"}})),
        f"{K}.StringEquals.s3:ResourceAccount",
        RES,
        BUCKET,
    ),
    # --- principals and trust policies ---------------------------------------------------------
    C(
        "ALLOW_WITH_NOT_PRINCIPAL",
        SW,
        doc(st(NotPrincipal={"AWS": ACCOUNT})),
        "Statement[0].NotPrincipal",
        RES,
    ),
    C(
        "INVALID_ROLE_REFERENCE",
        W,
        doc(res(Principal={"AWS": "AROAEXAMPLEID12345678"})),
        "Statement[0].Principal.AWS",
        RES,
    ),
    C(
        "INVALID_USER_REFERENCE",
        W,
        doc(res(Principal={"AWS": "AIDAEXAMPLEID12345678"})),
        "Statement[0].Principal.AWS",
        RES,
    ),
    C(
        "INVALID_SERVICE_PRINCIPAL_FORMAT",
        E,
        doc(res(Principal={"Service": "lambda"})),
        "Statement[0].Principal.Service",
        RES,
    ),
    C(
        "RESTRICT_ACCESS_TO_SERVICE_PRINCIPAL",
        SW,
        doc(res(Principal={"Service": "cloudtrail.amazonaws.com"}, Action="s3:PutObject")),
        "Statement[0].Principal.Service",
        RES,
    ),
    C(
        "RECOMMENDED_CONDITION_KEY_FOR_SERVICE_PRINCIPAL",
        S,
        doc(
            res(
                Principal={"Service": "cloudtrail.amazonaws.com"},
                Condition={"StringEquals": {"aws:Referer": "x", "aws:SourceAccount": "111122223333"}},
            )
        ),
        f"{K}.StringEquals.aws:Referer",
        RES,
    ),
    C(
        "UNSUPPORTED_CONDITION_KEY_FOR_SERVICE_PRINCIPAL",
        E,
        doc(
            res(
                Principal={"Service": "cloudfront.amazonaws.com"},
                Condition={
                    "StringEquals": {"aws:PrincipalOrgID": "o-abc", "aws:SourceAccount": "111122223333"}
                },
            )
        ),
        f"{K}.StringEquals.aws:PrincipalOrgID",
        RES,
    ),
    C(
        "INVALID_FEDERATED_PRINCIPAL_SYNTAX_IN_ROLE_TRUST_POLICY",
        E,
        doc(trust(Principal={"Federated": "not a provider"}, Action="sts:AssumeRoleWithWebIdentity")),
        "Statement[0].Principal.Federated",
        RES,
        TRUST,
    ),
    C(
        "MISMATCHED_ACTION_FOR_PRINCIPAL",
        E,
        doc(trust(Principal={"Federated": "arn:aws:iam::111122223333:saml-provider/corp"})),
        "Statement[0].Principal.Federated",
        RES,
        TRUST,
    ),
    C(
        "MISSING_CONDITION_KEY_FOR_OIDC_PRINCIPAL",
        SW,
        doc(trust(Principal={"Federated": "accounts.google.com"}, Action="sts:AssumeRoleWithWebIdentity")),
        "Statement[0].Principal.Federated",
        RES,
        TRUST,
    ),
    C(
        "MISSING_GITHUB_REPO_CONDITION_KEY",
        SW,
        doc(trust(Principal={"Federated": GITHUB}, Action="sts:AssumeRoleWithWebIdentity")),
        "Statement[0].Principal.Federated",
        RES,
        TRUST,
    ),
    C(
        "SPECIFIC_GITHUB_REPO_AND_BRANCH_RECOMMENDED",
        W,
        doc(
            trust(
                Principal={"Federated": GITHUB},
                Action="sts:AssumeRoleWithWebIdentity",
                Condition={
                    "StringLike": {"token.actions.githubusercontent.com:sub": "repo:octo-org/octo-repo:*"}
                },
            )
        ),
        f"{K}.StringLike.token.actions.githubusercontent.com:sub",
        RES,
        TRUST,
    ),
    C(
        "WILDCARD_USAGE_TOO_PERMISSIVE",
        E,
        doc(
            trust(
                Principal={"Federated": GITHUB},
                Action="sts:AssumeRoleWithWebIdentity",
                Condition={
                    "StringLike": {"token.actions.githubusercontent.com:sub": "repo:octo-org/octo-repo:*"}
                },
            )
        ),
        f"{K}.StringLike.token.actions.githubusercontent.com:sub",
        RES,
        TRUST,
    ),
    C(
        "VARIABLE_USAGE_TOO_PERMISSIVE",
        E,
        doc(
            trust(
                Principal={"Federated": GITHUB},
                Action="sts:AssumeRoleWithWebIdentity",
                Condition={"StringLike": {"token.actions.githubusercontent.com:sub": "repo:${aws:username}"}},
            )
        ),
        f"{K}.StringLike.token.actions.githubusercontent.com:sub",
        RES,
        TRUST,
    ),
    C(
        "MISSING_ACTION_FOR_ROLES_ANYWHERE_TRUST_POLICY",
        E,
        doc(trust(Principal={"Service": "rolesanywhere.amazonaws.com"})),
        "Statement[0].Principal.Service",
        RES,
        TRUST,
    ),
    C(
        "REDUNDANT_PRINCIPAL_IN_ROLE_TRUST_POLICY",
        S,
        doc(
            trust(
                Principal={
                    "AWS": [
                        "arn:aws:iam::111122223333:role/ops",
                        "arn:aws:sts::111122223333:assumed-role/ops/alice",
                    ]
                }
            )
        ),
        "Statement[0].Principal.AWS[1]",
        RES,
        TRUST,
    ),
    C(
        "FORANYVALUE_WITH_AUDIENCE_CLAIM_TYPE",
        SW,
        doc(
            trust(
                Principal={"Federated": "accounts.google.com"},
                Action="sts:AssumeRoleWithWebIdentity",
                Condition={"ForAnyValue:StringEquals": {"accounts.google.com:aud": "my-app"}},
            )
        ),
        f"{K}.ForAnyValue:StringEquals.accounts.google.com:aud",
        RES,
        TRUST,
    ),
    C(
        "CONFIRM_AUDIENCE_CLAIM_TYPE",
        S,
        doc(
            trust(
                Principal={"Federated": "accounts.google.com"},
                Action="sts:AssumeRoleWithWebIdentity",
                Condition={"ForAllValues:StringEquals": {"accounts.google.com:aud": "my-app"}},
            )
        ),
        f"{K}.ForAllValues:StringEquals.accounts.google.com:aud",
        RES,
        TRUST,
    ),
    C(
        "MISSING_ACTION_FOR_CONDITION_KEY",
        E,
        doc(trust(Condition={"StringEquals": {"sts:SourceIdentity": "alice"}})),
        f"{K}.StringEquals.sts:SourceIdentity",
        RES,
        TRUST,
    ),
    # --- PassRole and CreateServiceLinkedRole --------------------------------------------------
    C(
        "PASS_ROLE_WITH_STAR_IN_RESOURCE",
        SW,
        doc(st(Action="iam:PassRole", Resource="*")),
        "Statement[0].Action",
    ),
    C(
        "PASS_ROLE_WITH_NOT_RESOURCE",
        SW,
        doc(st(Action="iam:PassRole", Resource=None, NotResource="arn:aws:iam::111122223333:role/admin")),
        "Statement[0].Action",
    ),
    C(
        "PASS_ROLE_WITH_STAR_IN_ACTION_AND_NOT_RESOURCE",
        SW,
        doc(st(Action="iam:*", Resource=None, NotResource="arn:aws:iam::111122223333:role/admin")),
        "Statement[0].Action",
    ),
    C(
        "PASS_ROLE_WITH_NOT_ACTION_AND_NOT_RESOURCE",
        SW,
        doc(st(Action=None, NotAction="s3:*", Resource=None, NotResource="arn:aws:s3:::b")),
        "Statement[0].NotAction",
    ),
    C(
        "PASS_ROLE_WITH_STAR_IN_ACTION_AND_RESOURCE",
        SW,
        doc(st(Action="*", Resource="*")),
        "Statement[0].Action",
    ),
    C(
        "PASS_ROLE_WITH_STAR_IN_RESOURCE_AND_NOT_ACTION",
        SW,
        doc(st(Action=None, NotAction="s3:*", Resource="*")),
        "Statement[0].NotAction",
    ),
    C(
        "CREATE_SLR_WITH_STAR_IN_RESOURCE",
        W,
        doc(st(Action="iam:CreateServiceLinkedRole", Resource="*")),
        "Statement[0].Action",
    ),
    C(
        "CREATE_SLR_WITH_NOT_RESOURCE",
        W,
        doc(
            st(
                Action="iam:CreateServiceLinkedRole",
                Resource=None,
                NotResource="arn:aws:iam::111122223333:role/admin",
            )
        ),
        "Statement[0].Action",
    ),
    C(
        "CREATE_SLR_WITH_STAR_IN_ACTION_AND_NOT_RESOURCE",
        W,
        doc(st(Action="iam:Create*", Resource=None, NotResource="arn:aws:iam::111122223333:role/admin")),
        "Statement[0].Action",
    ),
    C(
        "CREATE_SLR_WITH_NOT_ACTION_AND_NOT_RESOURCE",
        W,
        doc(st(Action=None, NotAction="s3:*", Resource=None, NotResource="arn:aws:s3:::b")),
        "Statement[0].NotAction",
    ),
    C(
        "CREATE_SLR_WITH_STAR_IN_ACTION_AND_RESOURCE",
        W,
        doc(st(Action="iam:*", Resource="*")),
        "Statement[0].Action",
    ),
    C(
        "CREATE_SLR_WITH_STAR_IN_RESOURCE_AND_NOT_ACTION",
        W,
        doc(st(Action=None, NotAction="s3:*", Resource="*")),
        "Statement[0].NotAction",
    ),
    # --- statements ----------------------------------------------------------------------------
    C("EMPTY_SID_VALUE", S, doc(st(Sid="")), "Statement[0].Sid"),
    C(
        "UNIQUE_SIDS_RECOMMENDED",
        W,
        doc(res(Sid="A"), res(Sid="A", Action="s3:PutObject")),
        "Statement[1].Sid",
        RES,
    ),
    C("REDUNDANT_STATEMENT", S, doc(st(), st()), "Statement[1]"),
    C(
        "RCP_MISSING_RELATED_PRINCIPAL_CONDITION_KEY",
        W,
        doc(
            cond("StringNotEquals", "aws:PrincipalOrgID", "o-abc", Effect="Deny", Principal="*", Resource="*")
        ),
        f"{K}.StringNotEquals.aws:PrincipalOrgID",
        RCP,
    ),
    C(
        "RCP_MISSING_RELATED_SERVICE_PRINCIPAL_CONDITION_KEY",
        W,
        doc(cond("StringNotEquals", "aws:SourceOrgID", "o-abc", Effect="Deny", Principal="*", Resource="*")),
        f"{K}.StringNotEquals.aws:SourceOrgID",
        RCP,
    ),
    C(
        "RCP_MISSING_SERVICE_CONDITION_KEY_NULL_CHECK",
        W,
        doc(
            cond(
                "StringNotEquals",
                "aws:SourceAccount",
                "111122223333",
                Effect="Deny",
                Principal="*",
                Resource="*",
            )
        ),
        f"{K}.StringNotEquals.aws:SourceAccount",
        RCP,
    ),
]


def _findings(case: Case) -> list[ValidationFinding]:
    return validate_policy(case.policy, case.policy_type, service_reference(), case.resource_type, case.kind)


def _span_text(text: str, finding: ValidationFinding) -> str:
    span = finding.locations[0].span
    return text[span.start.offset : span.end.offset]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.code}" for c in CASES])
def test_case(case: Case) -> None:
    findings = _findings(case)
    here = [f for f in findings if f.code == case.code]
    assert here, f"no {case.code}; got {[str(f) for f in findings]}"
    finding = next((f for f in here if f.locations[0].text == case.where), None)
    assert finding is not None, f"{case.code} not at {case.where}: {[str(f) for f in here]}"
    assert finding.finding_type == case.finding_type == ISSUES[case.code]
    assert len(finding.details) > 20  # a sentence, not a bare code
    assert finding.learn_more_link.startswith("https://docs.aws.amazon.com/IAM/latest/UserGuide/")
    start, end = finding.locations[0].span.start, finding.locations[0].span.end
    assert case.policy[: start.offset].count("\n") + 1 == start.line
    if case.code == "JSON_SYNTAX_ERROR" or case.where == "(document)":
        return
    spanned = _span_text(case.policy, finding)
    if finding.locations[0].path[-1][0] == "key":
        assert json.loads(spanned) == finding.locations[0].path[-1][1]
    else:
        json.loads(spanned)  # the span covers one whole JSON value
    assert end.offset > start.offset


def test_every_case_names_a_real_code() -> None:
    assert {c.code for c in CASES} <= set(ISSUES)
    assert len(ISSUES) == 153


COVERAGE = Path(__file__).resolve().parents[3] / "docs" / "validation-coverage.md"
_ROW = re.compile(r"^\| `([A-Z0-9_]+)` \| (ERROR|SECURITY_WARNING|WARNING|SUGGESTION) \| (yes|no) \|", re.M)


def test_coverage_table_matches_the_cases() -> None:
    """The docs' table lists all 153 codes once; the ones marked implemented are exactly those
    with a case above (so a listed code without a test fails here)."""
    rows = _ROW.findall(COVERAGE.read_text(encoding="utf-8"))
    listed = [code for code, _, _ in rows]
    assert sorted(listed) == sorted(ISSUES), set(listed) ^ set(ISSUES)
    for code, finding_type, _ in rows:
        assert ISSUES[code] == finding_type, code
    implemented = {code for code, _, mark in rows if mark == "yes"}
    assert implemented == {c.code for c in CASES}, implemented ^ {c.code for c in CASES}


CLEAN = [
    (doc(st(), st(Action="s3:ListBucket", Resource="arn:aws:s3:::b")), ID, None),
    (
        doc(
            st(
                Action="iam:PassRole",
                Resource="arn:aws:iam::111122223333:role/app",
                Condition={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
            ),
            cond("IpAddress", "aws:SourceIp", "203.0.113.0/24", Action="s3:PutObject"),
            cond("Bool", "aws:MultiFactorAuthPresent", "true", Action="iam:ListUsers", Resource="*"),
        ),
        ID,
        None,
    ),
    (doc(res(Action=["s3:GetObject", "s3:PutObject"])), RES, BUCKET),
    (
        doc(
            trust(
                Principal={"Federated": GITHUB},
                Action="sts:AssumeRoleWithWebIdentity",
                Condition={
                    "StringEquals": {
                        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                        "token.actions.githubusercontent.com:sub": "repo:octo/app:ref:refs/heads/main",
                    }
                },
            )
        ),
        RES,
        TRUST,
    ),
    (doc(st(Effect="Deny", Action="s3:DeleteBucket", Resource="*")), SCP, None),
    (
        doc(
            st(
                Effect="Deny",
                Principal="*",
                Action="s3:*",
                Resource="*",
                Condition={
                    "StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-abc"},
                    "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
                },
            )
        ),
        RCP,
        None,
    ),
]


@pytest.mark.parametrize("text, policy_type, resource_type", CLEAN)
def test_well_written_policies_have_no_findings(
    text: str, policy_type: PolicyType, resource_type: str | None
) -> None:
    assert [str(f) for f in validate_policy(text, policy_type, service_reference(), resource_type)] == []


def test_grammar_findings_say_what_to_do() -> None:
    """Findings from the grammar carry the fix, not only the fault."""
    findings = validate_policy(doc(st(Effect=None), st(Action=None)), ID, service_reference())
    details = {f.code: f.details for f in findings}
    assert (
        details["MISSING_EFFECT"] == 'The statement has no Effect. Add "Effect": "Allow" or "Effect": "Deny".'
    )
    assert details["MISSING_ACTION"].endswith(
        'Add an "Action" element naming the actions (service:ActionName).'
    )
