"""Policy generation from trail events and narrowed recommendation policies
(shared/spec/access_analyzer_api.md §3.3, §4)."""

from __future__ import annotations

import json

from iamd.analyzer.generation import MAX_POLICY_CHARS, Use, generate_policies, narrowed_policy


def test_actions_sorted_in_one_statement_with_aws_sid() -> None:
    policies, complete = generate_policies(
        [Use("iam:ListUsers"), Use("iam:GetUser"), Use("sts:GetCallerIdentity"), Use("iam:GetUser")],
        {"iam", "sts"},
    )
    assert complete
    [policy] = [json.loads(p) for p in policies]
    assert policy["Statement"] == [
        {
            "Sid": "SupportedServiceSid0",
            "Effect": "Allow",
            "Action": ["iam:GetUser", "iam:ListUsers", "sts:GetCallerIdentity"],
            "Resource": "*",
        }
    ]


def test_resources_narrowed_only_when_every_call_named_one() -> None:
    bucket = "arn:aws:s3:::b"
    policies, _ = generate_policies(
        [Use("s3:GetObject", (bucket + "/k",)), Use("s3:ListBucket", (bucket,)), Use("s3:ListBucket")], {"s3"}
    )
    statements = json.loads(policies[0])["Statement"]
    assert {
        "Sid": "SupportedServiceSid0",
        "Effect": "Allow",
        "Action": ["s3:ListBucket"],
        "Resource": "*",
    } in statements
    assert {
        "Sid": "SupportedServiceSid1",
        "Effect": "Allow",
        "Action": ["s3:GetObject"],
        "Resource": [bucket + "/k"],
    } in statements


def test_passrole_never_and_service_level_template() -> None:
    policies, complete = generate_policies([Use("iam:PassRole"), Use("ec2:DescribeInstances")], {"iam"})
    assert policies == [] and not complete
    templated, _ = generate_policies([Use("ec2:DescribeInstances")], {"iam"}, service_template=True)
    assert json.loads(templated[0])["Statement"][0]["Action"] == ["ec2:*"]


def test_long_policies_are_split() -> None:
    uses = [Use("s3:GetObject", (f"arn:aws:s3:::bucket-{i:04d}/{'k' * 60}",)) for i in range(200)]
    uses += [Use(f"iam:Action{i}", (f"arn:aws:iam::1:role/r{i}",)) for i in range(200)]
    policies, _ = generate_policies(uses, {"s3", "iam"})
    assert len(policies) > 1
    assert all(len(p) <= MAX_POLICY_CHARS for p in policies)


def test_narrowed_policy_keeps_structure_and_drops_unused() -> None:
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "iam:*",
                    "Resource": "*",
                    "Condition": {"Bool": {"aws:SecureTransport": "true"}},
                },
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
                {"Effect": "Deny", "Action": "iam:DeleteRole", "Resource": "*"},
            ],
        }
    )
    narrowed = json.loads(narrowed_policy(document, {"iam": ["ListUsers", "GetUser"]}) or "{}")
    assert narrowed["Statement"] == [
        {
            "Effect": "Allow",
            "Action": ["iam:GetUser", "iam:ListUsers"],
            "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "true"}},
        },
        {"Effect": "Deny", "Action": "iam:DeleteRole", "Resource": "*"},
    ]
    assert narrowed_policy(document, {"ec2": ["DescribeInstances"]}) is None


def test_sids_stay_unique_when_a_statement_is_split() -> None:
    uses = [Use("s3:GetObject", (f"arn:aws:s3:::bucket-{i:04d}/{'k' * 60}",)) for i in range(200)]
    policies, _ = generate_policies(uses, {"s3"})
    sids = [s["Sid"] for p in policies for s in json.loads(p)["Statement"]]
    assert len(sids) > 1 and len(set(sids)) == len(sids)
    resources = [r for p in policies for s in json.loads(p)["Statement"] for r in s["Resource"]]
    assert len(resources) == 200


def test_placeholders_replace_the_wildcard_for_actions_that_take_a_resource() -> None:
    bucket = "arn:aws:s3:::${BucketName}"
    placeholders = {"s3:listbucket": (bucket,), "s3:listallmybuckets": ()}
    policies, _ = generate_policies(
        [Use("s3:ListBucket"), Use("s3:ListAllMyBuckets")], {"s3"}, placeholders=placeholders
    )
    statements = json.loads(policies[0])["Statement"]
    assert [(s["Action"], s["Resource"]) for s in statements] == [
        (["s3:ListAllMyBuckets"], "*"),
        (["s3:ListBucket"], [bucket]),
    ]


def test_dumps_writes_the_json_that_json_reads() -> None:
    from iamd.analyzer.generation import dumps

    value = {"a": ['x"y\\z', "tab\tnew\nline\x01", "é☃"], "b": True, "c": None, "d": 12, "e": {"f": False}}
    assert json.loads(dumps(value)) == value
    assert dumps({"k": [1, "v"]}) == json.dumps({"k": [1, "v"]}, separators=(",", ":"))
