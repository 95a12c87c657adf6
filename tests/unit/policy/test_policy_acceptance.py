"""What each AWS API refuses to store, with AWS's sentence (iamd.policy.acceptance), kept apart
from the located validation findings (iamd.policy.parse).

Each case names where AWS's behaviour is shown. "moto" marks a case only the 2019 tables of moto's
tests/test_iam/test_iam_policies.py show (probed against AWS; no public quote from AWS found).
"""

from __future__ import annotations

import json

import pytest

from iamd.policy import PolicyKind, check_policy
from iamd.policy.acceptance import RULES, first_refusal

K = PolicyKind
LEGACY = "The policy failed legacy parsing"
SYNTAX = "Syntax errors in policy."
SID_FORMAT = (
    "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression "
    "[0-9A-Za-z]*"
)


def doc(*statements: dict[str, object], version: str | None = "2012-10-17", **top: object) -> str:
    body: dict[str, object] = {} if version is None else {"Version": version}
    body["Statement"] = list(statements) if len(statements) != 1 else statements[0]
    body.update(top)
    return json.dumps(body)


def st(**fields: object) -> dict[str, object]:
    out: dict[str, object] = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::bucket"}
    out.update(fields)
    return {k: v for k, v in out.items() if v is not None}


def answer(text: str, kind: PolicyKind = K.MANAGED) -> tuple[str, str] | None:
    refusal = first_refusal(text, kind)
    return None if refusal is None else (refusal.code, refusal.message)


def refused(message: str, code: str = "MalformedPolicyDocument") -> tuple[str, str]:
    return (code, message)


# -- documents IAM refuses, and its sentence ------------------------------------------------------

REFUSED = [
    # https://github.com/ec2-spot-labs issue 25 and aws-samples/amazon-ecs-firelens-examples#50
    ("not JSON", "This is not a json document", K.MANAGED, SYNTAX),
    ("trailing comma", '{"Version": "2012-10-17", "Statement": [],}', K.INLINE_ROLE, SYNTAX),
    # https://github.com/99designs/iamy/issues/74
    ("null document", "null", K.MANAGED, SYNTAX),
    # https://github.com/checkr/s3-sync/issues/1 (CloudTrail record)
    ("Resource null", doc(st(Resource=None) | {"Resource": None}), K.MANAGED, SYNTAX),
    # https://github.com/aws-cloudformation/cfn-lint/issues/3751
    (
        "condition without operator",
        doc(st(Condition={"servicecatalog:accountLevel": "self"})),
        K.MANAGED,
        SYNTAX,
    ),
    # https://github.com/otterize/intents-operator/pull/481 (no statements); moto
    ("empty Statement list", doc(), K.MANAGED, SYNTAX),
    ("no Statement", json.dumps({"Version": "2012-10-17"}), K.MANAGED, SYNTAX),
    ("unknown top element", doc(st(), Extra="x"), K.MANAGED, SYNTAX),
    ("unknown statement element", doc(st(Extra="x")), K.INLINE_USER, SYNTAX),
    ("Id not a string", doc(st(), Id=["x"]), K.MANAGED, SYNTAX),
    ("unknown Version", doc(st(), version="2013-10-17"), K.MANAGED, SYNTAX),
    ("Effect neither allow nor deny", doc(st(Effect="invalid")), K.MANAGED, SYNTAX),
    ("no Effect", doc(st(Effect=None)), K.MANAGED, SYNTAX),
    ("Action and NotAction", doc(st(NotAction="s3:x")), K.MANAGED, SYNTAX),
    ("Resource an object", doc(st(Resource={"a": "arn:aws:s3:::b"})), K.MANAGED, SYNTAX),
    ("Resource list with an object", doc(st(Resource=["arn:aws:s3:::b", {}])), K.MANAGED, SYNTAX),
    ("Resource list with null", doc(st(Resource=["arn:aws:s3:::b", None])), K.MANAGED, SYNTAX),
    ("Condition a list", doc(st(Condition=[])), K.MANAGED, SYNTAX),
    ("unknown operator with keys", doc(st(Condition={"x": {"a": "1"}})), K.MANAGED, SYNTAX),
    ("Sid an object", doc(st(Sid={})), K.MANAGED, SYNTAX),
    # https://github.com/Meteor-Community-Packages/Meteor-CollectionFS/issues/630 (no Version);
    # https://github.com/laurilehmijoki/s3_website/pull/219 (2008-10-17 refused for a managed policy)
    (
        "managed without Version",
        doc(st(), version=None),
        K.MANAGED,
        "Policy document must be version 2012-10-17 or greater.",
    ),
    (
        "managed 2008-10-17",
        doc(st(), version="2008-10-17"),
        K.MANAGED,
        "Policy document must be version 2012-10-17 or greater.",
    ),
    # https://github.com/hashicorp/terraform/issues/10057
    ("lowercase Effect", doc(st(Effect="allow")), K.MANAGED, LEGACY),
    ("mixed-case Effect", doc(st(Effect="denY")), K.INLINE_GROUP, LEGACY),
    # moto
    (
        "bad date value",
        doc(st(Condition={"DateGreaterThan": {"aws:CurrentTime": "sdfdsf"}})),
        K.MANAGED,
        LEGACY,
    ),
    ("month 13", doc(st(Condition={"DateLessThanEquals": {"aws:CurrentTime": "234-13"}})), K.MANAGED, LEGACY),
    (
        "epoch past 2**63-1",
        doc(st(Condition={"DateLessThan": {"aws:CurrentTime": "9223372036854775808"}})),
        K.MANAGED,
        LEGACY,
    ),
    # moto
    (
        "ARN with five fields around ::",
        doc(st(Resource="arn:aws:s3::example_bucket")),
        K.MANAGED,
        LEGACY,
    ),
    ("ARN with an empty service", doc(st(Resource="arn:aws::::bucket")), K.MANAGED, LEGACY),
    (
        "NotResource with five fields",
        doc(st(Resource=None, NotResource="arn:aws:s3::bucket")),
        K.MANAGED,
        LEGACY,
    ),
    # https://github.com/Wolox/carthage_cache/issues/22; IAM User Guide, Sid element
    (
        "Sid with underscores",
        doc(st(Sid="Atomic_Red_Team")),
        K.MANAGED,
        SID_FORMAT,
    ),
    (
        "Sid with a hyphen in a trust policy",
        doc(
            {
                "Sid": "a-b",
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ),
        K.TRUST,
        SID_FORMAT,
    ),
    # https://github.com/magenx/Magento-2-aws-cluster-terraform/pull/18
    (
        "repeated Sid",
        doc(st(Sid="same"), st(Sid="same")),
        K.MANAGED,
        "Statement IDs (SID) in a single policy must be unique.",
    ),
    # https://github.com/aws/aws-cdk/issues/7615
    ("no Action", doc(st(Action=None)), K.MANAGED, "Policy statement must contain actions."),
    ("empty Action list", doc(st(Action=[])), K.INLINE_ROLE, "Policy statement must contain actions."),
    # https://github.com/terraform-aws-modules/terraform-aws-iam/issues/603; trussworks #22 (empty list)
    ("no Resource", doc(st(Resource=None)), K.MANAGED, "Policy statement must contain resources."),
    ("empty Resource list", doc(st(Resource=[])), K.INLINE_ROLE, "Policy statement must contain resources."),
    # https://github.com/trussworks/terraform-aws-s3-anti-virus/issues/21; notify-slack#20 (two spaces)
    (
        "Resource not an ARN",
        doc(st(Resource="invalid resource")),
        K.MANAGED,
        'Resource invalid resource must be in ARN format or "*".',
    ),
    ("empty Resource", doc(st(Resource="")), K.MANAGED, 'Resource  must be in ARN format or "*".'),
    # https://github.com/terraform-aws-modules/terraform-aws-iam/issues/39
    (
        "unknown partition",
        doc(st(Resource="arn:error:s3:::bucket")),
        K.MANAGED,
        'Partition "error" is not valid for resource "arn:error:s3:::bucket".',
    ),
    (
        "partition with missing fields (moto)",
        doc(st(Resource="a:b:cadfsdf")),
        K.MANAGED,
        'Partition "b" is not valid for resource "arn:b:cadfsdf:*:*:*".',
    ),
    (
        "no arn: prefix (moto)",
        doc(st(Resource="aws:s3:::bucket")),
        K.MANAGED,
        'Partition "s3" is not valid for resource "arn:s3:::bucket:*".',
    ),
    # moto
    (
        "arn:aws alone",
        doc(st(Resource="arn:aws")),
        K.MANAGED,
        "Resource vendor must be fully qualified and cannot contain regexes.",
    ),
    # https://github.com/cloud-gov/terraform-provision/pull/1838
    (
        "IAM ARN with a region",
        doc(st(Resource="arn:aws:iam:us-east-1::user/x")),
        K.INLINE_USER,
        "IAM resource arn:aws:iam:us-east-1::user/x cannot contain region information.",
    ),
    # S3 user guide, ARN format (buckets have no region); sentence from moto
    (
        "S3 bucket ARN with a region",
        doc(st(Resource="arn:aws:s3:us-east-1::bucket")),
        K.MANAGED,
        "Resource arn:aws:s3:us-east-1::bucket can not contain region information.",
    ),
    # https://github.com/hashicorp/terraform-provider-aws/issues/10419
    (
        "Principal in an inline policy",
        doc(st(Principal="*")),
        K.INLINE_GROUP,
        "Policy document should not specify a principal.",
    ),
    (
        "Principal in a session policy",
        doc(st(Principal={"AWS": "*"})),
        K.SESSION,
        "Policy document should not specify a principal.",
    ),
    # https://github.com/garnaat/kappa/issues/111
    (
        "two colons",
        doc(st(Action="s3:List:Bucket")),
        K.MANAGED,
        "Actions/Condition can contain only one colon.",
    ),
    # moto; Scality Arsenal
    (
        "no vendor",
        doc(st(Action="invalid")),
        K.MANAGED,
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
    ),
    (
        "empty NotAction",
        doc(st(Action=None, NotAction="")),
        K.MANAGED,
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
    ),
    # https://github.com/boogy/iam-policy-validator/pull/172
    (
        "wildcard vendor",
        doc(st(Action="*:Untag*")),
        K.MANAGED,
        "Action vendors (e.g., aws, ec2, etc.) must not contain wildcards",
    ),
    # moto
    ("vendor with a space", doc(st(Action="a a:ListBucket")), K.MANAGED, "Vendor a a is not valid"),
]


@pytest.mark.parametrize(("text", "kind", "message"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_iam_refuses_with_aws_sentence(text: str, kind: PolicyKind, message: str) -> None:
    assert answer(text, kind) == refused(message)


def test_first_refusal_in_aws_order() -> None:
    """Only the first problem is reported, in the order AWS checks (moto's tables): the version
    before legacy parsing, legacy parsing before a repeated Sid, missing actions before the ARN
    format, the ARN format before action vendors."""
    no_version = doc(st(Effect="denY"), version=None)
    assert answer(no_version) == refused("Policy document must be version 2012-10-17 or greater.")
    assert answer(doc(st(Sid="s", Effect="aLLow"), st(Sid="s", Action=None))) == refused(LEGACY)
    assert answer(doc(st(Sid="s"), st(Sid="s", Action=None))) == refused(
        "Statement IDs (SID) in a single policy must be unique."
    )
    assert answer(doc(st(Resource="x"), st(Action=None))) == refused("Policy statement must contain actions.")
    assert answer(doc(st(Action="invalid", Resource="x"))) == refused(
        'Resource x must be in ARN format or "*".'
    )
    # A resource-format error found first spares the ARN from legacy parsing.
    assert answer(doc(st(Resource=["adf", "arn:aws::::b"]))) == refused(
        'Resource adf must be in ARN format or "*".'
    )


# -- documents IAM accepts though Access Analyzer would warn, or iamd used to refuse --------------

ACCEPTED = [
    # IAM checks grammar, not meaning: unknown services and actions are stored (AWS-recorded
    # test_put_role_policy_encoding "apigatway:PUT"; cfn-lint#1117 "dyanmodb:PutItem").
    ("unknown service", doc(st(Action="apigatway:PUT")), K.INLINE_ROLE, None, False),
    ("dotted vendor (moto)", doc(st(Action="s3.s:ListBucket")), K.MANAGED, "INVALID_ACTION", True),
    (
        "action name with spaces (moto)",
        doc(st(Action="iam: asdf safdsf af ")),
        K.MANAGED,
        "INVALID_ACTION",
        True,
    ),
    # moto: condition keys without a prefix, unknown operators with an empty body
    (
        "condition key without prefix",
        doc(st(Condition={"StringEquals": {"a": "asf"}})),
        K.MANAGED,
        "INVALID_CONDITION_KEY_FORMAT",
        True,
    ),
    (
        "unknown operator, empty body",
        doc(st(Condition={"a": {}})),
        K.MANAGED,
        "INVALID_CONDITION_OPERATOR",
        True,
    ),
    ("empty Condition", doc(st(Condition={})), K.MANAGED, None, False),
    (
        "date forms the old parser reads",
        doc(
            st(
                Condition={
                    "DateLessThanEquals": {"a": "2016-12-13t2:00:00.593194+23"},
                    "DateLessThan": {"b": "-292275054"},
                }
            )
        ),
        K.MANAGED,
        None,
        False,
    ),
    # moto: ARNs with fewer fields, unknown services, placeholders
    ("ARN with three fields", doc(st(Resource="arn:aws:fdsasf")), K.MANAGED, "MISSING_ARN_FIELD", True),
    (
        "ARN of an unknown service with a region",
        doc(st(Resource="arn:aws:invalid-service:us-east-1::b")),
        K.MANAGED,
        None,
        False,
    ),
    (
        "placeholder ARN fields",
        doc(st(Resource="arn:aws:ec2:region:account-id:instance/*")),
        K.MANAGED,
        None,
        False,
    ),
    ("encoded characters in an ARN", doc(st(Resource="arn:aws:s3:::bucket/a%20b/*")), K.MANAGED, None, False),
    # S3 access points are regional ARNs with an account (S3 user guide; moto's valid table)
    (
        "S3 access point",
        doc(st(Resource="arn:aws:s3:us-west-2:123456789012:accesspoint/ap")),
        K.MANAGED,
        None,
        False,
    ),
    # An empty Sid passes the [0-9A-Za-z]* expression, and several empty Sids are not "repeated".
    ("empty Sids", doc(st(Sid=""), st(Sid="")), K.MANAGED, None, False),
    # Inline policies: no Version needed (only CreatePolicy's sentence is quoted); old CFN templates
    ("inline without Version", doc(st(), version=None), K.INLINE_ROLE, "MISSING_VERSION", False),
    ("session policy with 2008-10-17", doc(st(), version="2008-10-17"), K.SESSION, None, False),
    # https://github.com/hashicorp/terraform/issues/35086: a trust policy with 2008-10-17 and Sid ""
    (
        "trust 2008-10-17",
        doc(
            {
                "Sid": "",
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            },
            version="2008-10-17",
        ),
        K.TRUST,
        None,
        False,
    ),
    # Trusting "*" is accepted (Access Analyzer warns).
    (
        "trust everyone",
        doc({"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}),
        K.TRUST,
        "ROLE_TRUST_POLICY_UNSUPPORTED_WILDCARD_IN_PRINCIPAL",
        False,
    ),
    (
        "Boolean condition values",
        doc(st(Condition={"Bool": {"aws:SecureTransport": False}, "NumericLessThan": {"s3:max-keys": 10}})),
        K.MANAGED,
        None,
        False,
    ),
    (
        "NotAction with NotResource",
        doc(st(Action=None, Resource=None, NotAction="s3:ListBucket", NotResource="*")),
        K.MANAGED,
        None,
        False,
    ),
]


@pytest.mark.parametrize(
    ("text", "kind", "finding", "was_error"), [c[1:] for c in ACCEPTED], ids=[c[0] for c in ACCEPTED]
)
def test_iam_accepts_what_aws_accepts(
    text: str, kind: PolicyKind, finding: str | None, was_error: bool
) -> None:
    """Accepted by the API; the validation findings still name what Access Analyzer would flag."""
    assert answer(text, kind) is None
    result = check_policy(text, kind)
    assert result.policy is not None, "an accepted document must be one iamd can evaluate"
    if finding is not None:
        found = [f for f in result.findings if f.code == finding]
        assert found and found[0].location, f"{finding} should still be reported, located"
        assert (found[0].severity == "ERROR") is was_error


# -- trust policies --------------------------------------------------------------------------------


def trust_doc(**fields: object) -> str:
    statement: dict[str, object] = {
        "Effect": "Allow",
        "Principal": {"Service": "ec2.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    statement.update(fields)
    return doc({k: v for k, v in statement.items() if v is not None})


def test_trust_policy_refusals() -> None:
    # AWS-recorded: LocalStack snapshot test_create_role_with_malformed_assume_role_policy_document
    assert answer('{"Version": "2012-10-17", "Statement": [,]}', K.TRUST) == refused(
        "This policy contains invalid Json"
    )
    # https://github.com/devopsacademyau/academy/pull/1368
    assert answer(trust_doc(Resource="*"), K.TRUST) == refused("Has prohibited field Resource")
    # https://github.com/terraform-aws-modules/terraform-aws-iam/issues/47
    assert answer(trust_doc(Principal=None), K.TRUST) == refused(
        "Invalid principal in policy: com.amazon.balsa.error.InvalidPolicyException: "
        "The passed in policy has a statement with no principals!"
    )
    # https://github.com/databrickslabs/ucx/issues/2269 (the form); wildcards are not allowed in a
    # principal ARN (IAM User Guide, Principal element)
    assert answer(trust_doc(Principal={"AWS": "arn:aws:iam::123456789012:role/*"}), K.TRUST) == refused(
        'Invalid principal in policy: "AWS":"arn:aws:iam::123456789012:role/*"'
    )
    # The type in upper case: https://github.com/aws-samples/aws-cdk-examples/issues/801
    assert answer(trust_doc(Principal={"Service": "*.amazonaws.com"}), K.TRUST) == refused(
        'Invalid principal in policy: "SERVICE":"*.amazonaws.com"'
    )
    assert answer(trust_doc(Action=None), K.TRUST) == refused("Policy statement must contain actions.")
    assert answer(trust_doc(Effect="allow"), K.TRUST) == refused(LEGACY)
    assert answer(trust_doc(), K.TRUST) is None


# -- quotas and Organizations ---------------------------------------------------------------------


def test_size_quotas_are_limit_exceeded() -> None:
    """Sources: cloud-platform-environments#14473 (PolicySize), cloudposse aws-teams README
    (ACLSizePerRole); white space does not count (IAM quotas page)."""
    big = doc(st(Resource=[f"arn:aws:s3:::bucket-{i:04d}/*" for i in range(300)]))
    assert answer(big) == refused("Cannot exceed quota for PolicySize: 6144", "LimitExceeded")
    trust_big = trust_doc(Condition={"StringEquals": {"sts:ExternalId": ["x" * 40] * 60}})
    assert answer(trust_big, K.TRUST) == refused(
        "Cannot exceed quota for ACLSizePerRole: 2048", "LimitExceeded"
    )
    assert answer(json.dumps(json.loads(doc(st())), indent=40)) is None


def test_organizations_policies_answer_with_one_sentence() -> None:
    """https://github.com/org-formation/org-formation-cli/issues/225: MalformedPolicyDocumentException."""
    sentence = "The provided policy document does not meet the requirements of the specified policy type."
    assert answer(doc(st(Resource="*", Principal="*")), K.SCP) == refused(sentence)
    rcp_allow = doc({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"})
    assert answer(rcp_allow, K.RCP) == refused(sentence)
    assert answer(doc({"Effect": "Deny", "Action": "s3:*", "Resource": "*"}), K.SCP) is None


def test_every_rule_names_its_source() -> None:
    for rule in RULES.values():
        assert rule.kinds and rule.source and ("http" in rule.source or "moto" in rule.source), rule.id


def test_resource_policies_are_not_iams_to_accept() -> None:
    with pytest.raises(ValueError):
        first_refusal(doc(st()), K.RESOURCE)


def test_remembered_answers_are_the_answers_of_walking_anew() -> None:
    from iamd.policy.acceptance import _first_refusal, _first_refusal_remembered
    from iamd.policy.parse import CACHED_TEXT_CHARS, CACHED_TEXTS

    texts = [
        doc(st()),
        doc(st(Effect="Maybe")),
        "{not json",
        json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}),
    ]
    for kind in (K.MANAGED, K.TRUST, K.SCP):
        for text in texts:
            assert first_refusal(text, kind) == first_refusal(text, kind) == _first_refusal(text, kind)
    assert _first_refusal_remembered.cache_info().maxsize == CACHED_TEXTS
    before = _first_refusal_remembered.cache_info().currsize
    long_text = doc(st(Sid="x" * CACHED_TEXT_CHARS))
    assert first_refusal(long_text, K.MANAGED) == _first_refusal(long_text, K.MANAGED)
    assert _first_refusal_remembered.cache_info().currsize == before
