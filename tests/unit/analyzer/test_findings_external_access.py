"""Which trust-policy statements grant access outside the zone of trust, and how Access Analyzer
summarises them (shared/spec/access_analyzer_api.md §2.2, §2.5, §6.3)."""

from __future__ import annotations

import json
from typing import Any

from iamd.analyzer.external_access import external_grants, principal_account

ZONE = frozenset({"111111111111"})
OTHER = "444455556666"


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(principal: Any, action: Any = "sts:AssumeRole", **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": action}
    if condition:
        statement["Condition"] = condition
    return statement


def summary(
    document: str, zone: frozenset[str] = ZONE
) -> list[tuple[dict[str, str], list[str], dict[str, str], bool]]:
    return [
        (g.principal_map, list(g.actions), g.condition_map, g.is_public)
        for g in external_grants(document, zone)
    ]


def test_principal_account() -> None:
    assert principal_account(OTHER) == OTHER
    assert principal_account(f"arn:aws:iam::{OTHER}:role/x") == OTHER
    assert principal_account(f"arn:aws:sts::{OTHER}:assumed-role/x/s") == OTHER
    assert principal_account("*") is None


def test_another_account_is_external_and_the_zone_is_not() -> None:
    assert summary(policy(allow({"AWS": OTHER}))) == [({"AWS": OTHER}, ["sts:AssumeRole"], {}, False)]
    assert summary(policy(allow({"AWS": "arn:aws:iam::111111111111:root"}))) == []
    # An organization zone trusts every member account (zone_of_trust decides which).
    assert summary(policy(allow({"AWS": OTHER})), ZONE | {OTHER}) == []


def test_service_principals_are_never_reported() -> None:
    assert summary(policy(allow({"Service": "ec2.amazonaws.com"}))) == []


def test_everyone_is_public_unless_an_account_key_pins_it() -> None:
    assert summary(policy(allow("*"))) == [({"AWS": "*"}, ["sts:AssumeRole"], {}, True)]
    assert summary(policy(allow({"AWS": "*"}, StringEquals={"aws:PrincipalAccount": OTHER}))) == [
        ({"AWS": OTHER}, ["sts:AssumeRole"], {}, False)
    ]
    assert summary(policy(allow({"AWS": "*"}, StringEquals={"aws:PrincipalAccount": "111111111111"}))) == []
    # A wildcard value pins nothing; neither does IfExists; nor the caller-chosen sts:ExternalId.
    assert summary(policy(allow("*", StringLike={"aws:PrincipalAccount": "4444*"})))[0][3] is True
    assert summary(policy(allow("*", StringEqualsIfExists={"aws:PrincipalAccount": OTHER})))[0][3] is True
    assert summary(policy(allow("*", StringEquals={"sts:ExternalId": "x"})))[0][3] is True


def test_an_org_id_condition_narrows_but_is_reported() -> None:
    got = summary(policy(allow("*", StringEquals={"aws:PrincipalOrgID": ["o-aaa", "o-bbb"]})))
    assert got == [
        ({"AWS": "*"}, ["sts:AssumeRole"], {"aws:PrincipalOrgID": "o-aaa"}, False),
        ({"AWS": "*"}, ["sts:AssumeRole"], {"aws:PrincipalOrgID": "o-bbb"}, False),
    ]


def test_federated_principals_public_unless_the_audience_is_pinned() -> None:
    open_ = policy(allow({"Federated": "cognito-identity.amazonaws.com"}, "sts:AssumeRoleWithWebIdentity"))
    assert summary(open_) == [
        ({"Federated": "cognito-identity.amazonaws.com"}, ["sts:AssumeRoleWithWebIdentity"], {}, True)
    ]
    pinned = policy(
        allow(
            {"Federated": "cognito-identity.amazonaws.com"},
            "sts:AssumeRoleWithWebIdentity",
            StringEquals={"cognito-identity.amazonaws.com:aud": "us-west-2:abc"},
        )
    )
    assert summary(pinned) == [
        (
            {"Federated": "cognito-identity.amazonaws.com"},
            ["sts:AssumeRoleWithWebIdentity"],
            {"cognito-identity.amazonaws.com:aud": "us-west-2:abc"},
            False,
        )
    ]
    oidc = "arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com"
    pinned_oidc = policy(
        allow(
            {"Federated": oidc}, StringEquals={"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}
        )
    )
    assert summary(pinned_oidc)[0][3] is False


def test_statements_for_the_same_principal_merge_their_actions_and_denies_are_ignored() -> None:
    document = policy(
        allow({"AWS": OTHER}),
        allow({"AWS": OTHER}, "sts:TagSession"),
        {"Effect": "Deny", "Principal": {"AWS": OTHER}, "Action": "sts:AssumeRole"},
    )
    assert summary(document) == [({"AWS": OTHER}, ["sts:AssumeRole", "sts:TagSession"], {}, False)]


def test_a_change_of_principal_or_action_is_another_fingerprint() -> None:
    first = external_grants(policy(allow({"AWS": OTHER})), ZONE)[0]
    second = external_grants(policy(allow({"AWS": OTHER}, ["sts:AssumeRole", "sts:TagSession"])), ZONE)[0]
    assert first.fingerprint() != second.fingerprint()
    assert first.fingerprint() == external_grants(policy(allow({"AWS": [OTHER]})), ZONE)[0].fingerprint()


def test_an_unparsable_policy_grants_nothing_nameable() -> None:
    assert external_grants("{not json", ZONE) == []
