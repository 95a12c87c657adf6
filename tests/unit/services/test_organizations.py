"""Pure parts of Organizations: policy content checks by type, paging tokens, and the inheritance
of management policies (DescribeEffectivePolicy)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from iamd.services.organizations.common import POLICY_TYPES, page
from iamd.services.organizations.policies import _merge, validate_content
from iamd.wire import AwsError


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def code_of(policy_type: str, content: str) -> tuple[str, str | None]:
    with pytest.raises(AwsError) as exc:
        validate_content(policy_type, content)
    return exc.value.code, exc.value.fields.get("Reason")


def test_scps_take_no_principal_and_rcps_only_deny_on_covered_services() -> None:
    validate_content("SERVICE_CONTROL_POLICY", doc({"Effect": "Deny", "Action": "s3:*", "Resource": "*"}))
    validate_content(
        "RESOURCE_CONTROL_POLICY",
        doc(
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["s3:GetObject", "sts:AssumeRole"],
                "Resource": "*",
            }
        ),
    )
    assert code_of(
        "SERVICE_CONTROL_POLICY", doc({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"})
    ) == ("MalformedPolicyDocumentException", None)
    assert code_of(
        "RESOURCE_CONTROL_POLICY",
        doc({"Effect": "Deny", "Principal": "*", "Action": "iam:CreateUser", "Resource": "*"}),
    ) == ("MalformedPolicyDocumentException", None)
    assert code_of("TAG_POLICY", "[]") == ("MalformedPolicyDocumentException", None)


def test_size_counts_white_space_and_follows_the_type() -> None:
    padded = doc({"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}) + " " * 5200
    assert code_of("SERVICE_CONTROL_POLICY", padded) == (
        "ConstraintViolationException",
        "POLICY_CONTENT_LIMIT_EXCEEDED",
    )
    assert POLICY_TYPES["AISERVICES_OPT_OUT_POLICY"].max_size == 2500
    assert (
        code_of("AISERVICES_OPT_OUT_POLICY", json.dumps({"x": "y" * 2600}))[1]
        == "POLICY_CONTENT_LIMIT_EXCEEDED"
    )


def test_pages_and_tokens() -> None:
    items = list(range(45))
    first, token = page({}, items, str)
    assert first == [str(i) for i in range(20)] and token is not None
    second, token = page({"NextToken": token, "MaxResults": 20}, items, str)
    third, last = page({"NextToken": token}, items, str)
    assert second[0] == "20" and third == [str(i) for i in range(40, 45)] and last is None
    with pytest.raises(AwsError) as exc:
        page({"NextToken": "not a token"}, items, str)
    assert exc.value.fields["Reason"] == "INVALID_NEXT_TOKEN"


def test_management_policies_inherit_with_operators() -> None:
    effective: dict[str, Any] = {}
    _merge(
        effective, {"tags": {"cc": {"tag_key": {"@@assign": "CostCenter"}, "tag_value": {"@@assign": ["a"]}}}}
    )
    _merge(effective, {"tags": {"cc": {"tag_value": {"@@append": ["b"]}}}})
    assert effective == {"tags": {"cc": {"tag_key": "CostCenter", "tag_value": ["a", "b"]}}}
    _merge(effective, {"tags": {"cc": {"@@remove": True}}})
    assert effective == {"tags": {}}


def test_service_linked_roles_and_outsiders_escape_scps_and_rcps() -> None:
    from iamd.authz import PolicySet
    from iamd.services.organizations.controls import AccountOrg, rcp_levels, resource_keys, scp_levels

    levels = (("root r-ab12", PolicySet(())),)
    view = AccountOrg("o-abcdefghij", "o-abcdefghij/r-ab12/", False, levels, levels)
    user = "arn:aws:iam::123456789012:user/alice"
    slr = "arn:aws:iam::123456789012:role/aws-service-role/organizations.amazonaws.com/AWSServiceRoleForOrgs"
    slr_session = "arn:aws:sts::123456789012:assumed-role/AWSServiceRoleForOrganizations/s"
    assert scp_levels(view, user) == levels and rcp_levels(view, user) == levels
    assert scp_levels(view, slr) == () and rcp_levels(view, slr_session) == ()
    assert scp_levels(None, user) == ()  # a standalone account
    assert resource_keys("123456789012", view) == {
        "aws:resourceaccount": "123456789012",
        "aws:resourceorgid": "o-abcdefghij",
        "aws:resourceorgpaths": ("o-abcdefghij/r-ab12/",),
    }
