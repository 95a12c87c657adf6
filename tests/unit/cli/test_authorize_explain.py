"""``iamd authorize``: a denial's answer names the statements that nearly allowed, down to the
condition key and values, while ``message`` stays AWS's sentence ("User: ARN is not authorized
to perform: ACTION on resource: R because no identity-based policy allows the ACTION action", IAM
User Guide, "Troubleshoot access denied error messages",
https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html)."""

from __future__ import annotations

import json
from typing import Any

from tests.unit.authz.test_shared_cases import answers, authorize

USER = "arn:aws:iam::111122223333:user/alice"
OBJECT = "arn:aws:s3:::reports/2024.csv"


def case(name: str, statements: list[dict[str, Any]], context: dict[str, Any]) -> str:
    return json.dumps(
        {
            "name": name,
            "request": {
                "principal": USER,
                "action": "s3:GetObject",
                "resource": OBJECT,
                "contextVariables": context,
            },
            "identityPolicies": [
                {"name": "reports", "policy": {"Version": "2012-10-17", "Statement": statements}}
            ],
        }
    )


def test_denials_name_statement_condition_key_and_values() -> None:
    office = {
        "Sid": "FromOffice",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::reports/*",
        "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    }
    mfa = {
        "Sid": "NeedsMfa",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": "*",
        "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
    }
    cut_off = {
        "Sid": "Outside",
        "Effect": "Deny",
        "Action": "s3:*",
        "Resource": "*",
        "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    }
    lines = "\n".join(
        [
            case("ip", [office], {"aws:SourceIp": "203.0.113.9"}),
            case("mfa-absent", [mfa], {}),
            case("explicit", [{**office, "Condition": {}}, cut_off], {"aws:SourceIp": "203.0.113.9"}),
            case("allowed", [office], {"aws:SourceIp": "10.1.2.3"}),
        ]
    )
    result = authorize("--cases", "-", stdin=lines + "\n")
    assert result.returncode == 0, result.stderr
    ip, absent, explicit, allowed = answers(result)

    assert ip["decision"] == "ImplicitlyDenied" and ip["decidedBy"] == "identity"
    assert ip["message"] == (
        f"User: {USER} is not authorized to perform: s3:GetObject on resource: {OBJECT} "
        "because no identity-based policy allows the s3:GetObject action"
    )
    (miss,) = ip["nearMisses"]
    assert (miss["policy"], miss["sid"], miss["statement"]) == ("reports", "FromOffice", 0)
    assert miss["failed"] == {
        "element": "Condition",
        "operator": "IpAddress",
        "key": "aws:SourceIp",
        "absent": False,
        "requestValues": ["203.0.113.9"],
        "policyValues": ["10.0.0.0/8"],
    }

    failed = absent["nearMisses"][0]["failed"]
    assert (failed["key"], failed["absent"], failed["requestValues"], failed["policyValues"]) == (
        "aws:MultiFactorAuthPresent",
        True,
        None,
        ["true"],
    )
    assert "request value absent" in absent["nearMisses"][0]["text"]

    assert explicit["decision"] == "ExplicitlyDenied" and "nearMisses" not in explicit
    assert explicit["deniedBy"][0]["sid"] == "Outside"
    assert explicit["deniedBy"][0]["conditions"][0]["requestValues"] == ["203.0.113.9"]
    assert explicit["message"].endswith("with an explicit deny in an identity-based policy")

    assert allowed["decision"] == "Allowed"
    assert "nearMisses" not in allowed and "deniedBy" not in allowed and "message" not in allowed
