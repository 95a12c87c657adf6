"""AWS's evaluation logic: every layer, same- and cross-account, anonymous, NotPrincipal, sessions."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import pytest

from iamd.authz import (
    Decision,
    Layer,
    NamedPolicy,
    PolicySet,
    Principal,
    PrincipalKind,
    PrincipalPolicies,
    Request,
    ResourcePolicies,
    compile_policies,
    evaluate,
    normalize_context,
)
from iamd.policy import VERSION_2012, PolicyKind, parse_policy

A = "111111111111"
B = "222222222222"
USER = f"arn:aws:iam::{A}:user/alice"
BOB = f"arn:aws:iam::{A}:user/bob"
ROLE = f"arn:aws:iam::{A}:role/app"
SESSION = f"arn:aws:sts::{A}:assumed-role/app/s1"
OTHER_SESSION = f"arn:aws:sts::{A}:assumed-role/app/s2"
FEDERATED = f"arn:aws:sts::{A}:federated-user/fred"
ROOT = f"arn:aws:iam::{A}:root"
REMOTE_USER = f"arn:aws:iam::{B}:user/carol"
OBJECT = "arn:aws:s3:::bucket/key"
GET = "s3:GetObject"

Statements = Sequence[dict[str, Any]]


def statement(effect: str, action: str = "*", resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": effect, "Action": action, "Resource": resource, **extra}


def allow(action: str = "*", resource: str = "*", **extra: Any) -> dict[str, Any]:
    return statement("Allow", action, resource, **extra)


def deny(action: str = "*", resource: str = "*", **extra: Any) -> dict[str, Any]:
    return statement("Deny", action, resource, **extra)


def grant(principal: object, action: str = "*", **extra: Any) -> dict[str, Any]:
    """A resource-policy Allow naming ``principal``."""
    return allow(action, Principal=principal, **extra)


def pset(statements: Statements, kind: PolicyKind, name: str) -> PolicySet:
    document = {"Version": VERSION_2012, "Statement": list(statements)}
    return compile_policies([NamedPolicy(name, parse_policy(document, kind, strict=False))])


def decide(
    principal: str | Principal = USER,
    *,
    identity: Statements = (),
    boundary: Statements | None = None,
    session: Statements | None = None,
    resource: Statements | None = None,
    scps: Sequence[Statements] = (),
    rcps: Sequence[Statements] = (),
    rcp_services: frozenset[str] | None = None,
    action: str = GET,
    target: str = OBJECT,
    account: str = A,
    context: dict[str, object] | None = None,
) -> Decision:
    caller = principal if isinstance(principal, Principal) else Principal.parse(principal)
    principal_policies = PrincipalPolicies(
        identity=pset(identity, PolicyKind.IDENTITY, "identity"),
        boundary=None if boundary is None else pset(boundary, PolicyKind.MANAGED, "boundary"),
        session=None if session is None else pset(session, PolicyKind.SESSION, "session"),
        scps=tuple((f"scp-level-{i}", pset(s, PolicyKind.SCP, f"scp{i}")) for i, s in enumerate(scps)),
    )
    resource_policies = ResourcePolicies(
        policy=None if resource is None else pset(resource, PolicyKind.RESOURCE, "resource"),
        rcps=tuple((f"rcp-level-{i}", pset(s, PolicyKind.RCP, f"rcp{i}")) for i, s in enumerate(rcps)),
        rcp_services=rcp_services,
    )
    request = Request(caller, action, target, account, normalize_context(context or {}))
    return evaluate(request, principal_policies, resource_policies)


ANONYMOUS = Principal.anonymous()

# --- basics ---------------------------------------------------------------------------------------


def test_identity_allow_is_allowed() -> None:
    decision = decide(identity=[allow(GET, OBJECT)])
    assert decision.decision == "Allowed"
    assert decision.allowed
    assert decision.deciding is None


def test_no_policy_is_an_implicit_deny_by_the_identity_layer() -> None:
    decision = decide()
    assert decision.decision == "ImplicitlyDenied"
    assert decision.deciding is Layer.IDENTITY


def test_explicit_deny_beats_allow_in_the_same_policy() -> None:
    decision = decide(identity=[allow("s3:*"), deny(GET, "arn:aws:s3:::bucket/*")])
    assert decision.decision == "ExplicitlyDenied"


def test_deny_without_any_allow_is_still_explicit() -> None:
    assert decide(identity=[deny(GET)]).decision == "ExplicitlyDenied"


def test_statement_whose_condition_fails_neither_allows_nor_denies() -> None:
    cond = {"Bool": {"aws:SecureTransport": "true"}}
    decision = decide(identity=[allow(), deny(Condition=cond)], context={"aws:SecureTransport": "false"})
    assert decision.decision == "Allowed"
    decision = decide(identity=[allow(Condition=cond)], context={"aws:SecureTransport": "false"})
    assert decision.decision == "ImplicitlyDenied"


def test_condition_is_evaluated_against_the_request_context() -> None:
    allow_ip = allow(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
    assert decide(identity=[allow_ip], context={"aws:SourceIp": "10.2.3.4"}).allowed
    assert not decide(identity=[allow_ip], context={"aws:SourceIp": "192.0.2.1"}).allowed
    assert not decide(identity=[allow_ip]).allowed


def test_allows_from_several_identity_policies_combine() -> None:
    identity = compile_policies(
        [
            NamedPolicy("a", parse_policy({"Version": VERSION_2012, "Statement": [allow("iam:*")]})),
            NamedPolicy("b", parse_policy({"Version": VERSION_2012, "Statement": [allow("s3:*")]})),
        ]
    )
    request = Request(Principal.parse(USER), GET, OBJECT, A)
    assert evaluate(request, PrincipalPolicies(identity=identity)).allowed


# --- explicit deny in every layer -----------------------------------------------------------------

EVERYTHING: dict[str, Any] = {
    "identity": [allow()],
    "boundary": [allow()],
    "session": [allow()],
    "resource": [grant("*")],
    "scps": [[allow()], [allow()]],
    "rcps": [[]],
}


def with_deny(layer: str) -> dict[str, Any]:
    layers: dict[str, Any] = copy.deepcopy(EVERYTHING)
    if layer == "resource":
        layers["resource"].append(deny(GET, Principal="*"))
    elif layer == "rcps":
        layers["rcps"][-1].append(deny("s3:GetObject", Principal="*"))
    elif layer == "scps":
        layers["scps"][-1].append(deny(GET))
    else:
        layers[layer].append(deny(GET))
    return layers


def test_everything_allowing_is_allowed() -> None:
    assert decide(SESSION, **EVERYTHING).decision == "Allowed"


@pytest.mark.parametrize(
    ("layer", "deciding"),
    [
        ("identity", Layer.IDENTITY),
        ("boundary", Layer.BOUNDARY),
        ("session", Layer.SESSION),
        ("resource", Layer.RESOURCE),
        ("scps", Layer.SCP),
        ("rcps", Layer.RCP),
    ],
)
def test_explicit_deny_wins_in_each_layer(layer: str, deciding: Layer) -> None:
    decision = decide(SESSION, **with_deny(layer))
    assert decision.decision == "ExplicitlyDenied"
    assert decision.deciding is deciding


@pytest.mark.parametrize("layer", ["identity", "boundary", "session", "scps", "rcps", "resource"])
def test_deny_for_another_action_does_not_apply(layer: str) -> None:
    assert decide(SESSION, **with_deny(layer), action="s3:PutObject").decision == "Allowed"


# --- SCPs -----------------------------------------------------------------------------------------


def test_every_scp_level_must_allow() -> None:
    scps = [[allow()], [allow("s3:*")], [allow("s3:Get*")]]
    assert decide(identity=[allow()], scps=scps).decision == "Allowed"
    decision = decide(identity=[allow()], scps=scps, action="s3:PutObject")
    assert decision.decision == "ImplicitlyDenied"
    assert decision.deciding is Layer.SCP
    assert "scp-level-2" in decision.summary


def test_scp_level_with_no_policy_denies_everything() -> None:
    decision = decide(identity=[allow()], scps=[[allow()], []])
    assert decision.decision == "ImplicitlyDenied"
    assert decision.deciding is Layer.SCP


def test_scps_never_grant() -> None:
    decision = decide(scps=[[allow()]])
    assert decision.decision == "ImplicitlyDenied"
    assert decision.deciding is Layer.IDENTITY


def test_scps_limit_same_account_resource_policy_grants() -> None:
    decision = decide(resource=[grant({"AWS": USER})], scps=[[allow("iam:*")]])
    assert decision.decision == "ImplicitlyDenied"
    assert decision.deciding is Layer.SCP


def test_no_scp_levels_means_no_organization() -> None:
    assert decide(identity=[allow()], scps=[]).allowed


def test_scp_conditions_are_evaluated() -> None:
    scp = [allow(), deny(Condition={"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}})]
    assert decide(identity=[allow()], scps=[scp], context={"aws:RequestedRegion": "eu-west-1"}).allowed
    decision = decide(identity=[allow()], scps=[scp], context={"aws:RequestedRegion": "us-east-1"})
    assert decision.decision == "ExplicitlyDenied"
    assert decide(identity=[allow()], scps=[scp]).decision == "ExplicitlyDenied"


def test_scps_do_not_apply_to_anonymous_callers() -> None:
    decision = decide(ANONYMOUS, resource=[grant("*")], scps=[[deny()], []])
    assert decision.decision == "Allowed"
    assert all(result.layer is not Layer.SCP for result in decision.layers)


def test_scps_apply_to_the_member_account_root_user() -> None:
    assert decide(ROOT, scps=[[allow("iam:*")]]).decision == "ImplicitlyDenied"
    assert decide(ROOT, scps=[[allow(), deny(GET)]]).decision == "ExplicitlyDenied"


def test_scps_of_the_caller_apply_cross_account() -> None:
    resource = [grant({"AWS": USER})]
    assert decide(identity=[allow()], resource=resource, account=B).allowed
    decision = decide(identity=[allow()], resource=resource, account=B, scps=[[allow("iam:*")]])
    assert decision.decision == "ImplicitlyDenied"
    assert decision.deciding is Layer.SCP


# --- RCPs -----------------------------------------------------------------------------------------

RCP_DENY_GET = [deny(GET, Principal="*")]
S3_AND_SQS = frozenset({"s3", "sqs"})


def test_rcp_deny_applies_to_supported_services() -> None:
    decision = decide(identity=[allow()], rcps=[[], RCP_DENY_GET], rcp_services=S3_AND_SQS)
    assert decision.decision == "ExplicitlyDenied"
    assert decision.deciding is Layer.RCP


def test_rcps_are_skipped_for_unsupported_services() -> None:
    rcps = [[deny("sns:*", Principal="*")]]
    decision = decide(identity=[allow()], rcps=rcps, rcp_services=S3_AND_SQS, action="sns:Publish")
    assert decision.decision == "Allowed"
    assert all(result.layer is not Layer.RCP for result in decision.layers)


def test_rcps_with_every_level_empty_allow() -> None:
    assert decide(identity=[allow()], rcps=[[], [], []]).allowed


def test_rcps_never_grant() -> None:
    rcp_allow = [allow("s3:*", Principal="*")]
    decision = decide(rcps=[rcp_allow])
    assert decision.decision == "ImplicitlyDenied"
    assert decision.deciding is Layer.IDENTITY


def test_rcps_apply_to_anonymous_and_cross_account_callers() -> None:
    anonymous = decide(ANONYMOUS, resource=[grant("*")], rcps=[RCP_DENY_GET])
    assert anonymous.decision == "ExplicitlyDenied"
    remote = decide(REMOTE_USER, identity=[allow()], resource=[grant({"AWS": B})], rcps=[RCP_DENY_GET])
    assert remote.decision == "ExplicitlyDenied"


def test_rcp_conditions_can_spare_a_principal() -> None:
    rcp = [deny(GET, Principal="*", Condition={"StringNotEqualsIfExists": {"aws:PrincipalAccount": A}})]
    assert decide(identity=[allow()], rcps=[rcp], context={"aws:PrincipalAccount": A}).allowed
    assert decide(identity=[allow()], rcps=[rcp], context={"aws:PrincipalAccount": B}).decision == (
        "ExplicitlyDenied"
    )


def test_the_real_rcp_service_list_covers_s3_but_not_sns() -> None:
    from iamd.catalog import rcp_services

    services = rcp_services()
    assert {"s3", "sqs", "sts", "kms", "secretsmanager"} <= services
    assert "sns" not in services


# --- same-account resource-policy grants (evaluation-detail.md §6.4) ------------------------------

BOUNDARY_WITHOUT_S3 = [allow("iam:*")]
SESSION_WITHOUT_S3 = [allow("iam:*")]


@pytest.mark.parametrize(
    ("caller", "named"),
    [
        (USER, {"AWS": USER}),
        (USER, "*"),
        (USER, {"AWS": "*"}),
        (SESSION, {"AWS": SESSION}),
        (SESSION, "*"),
        (FEDERATED, {"AWS": FEDERATED}),
    ],
)
def test_grant_naming_the_caller_is_not_limited_by_implicit_denies(caller: str, named: object) -> None:
    session = None if caller == USER else SESSION_WITHOUT_S3
    decision = decide(caller, boundary=BOUNDARY_WITHOUT_S3, session=session, resource=[grant(named)])
    assert decision.decision == "Allowed"


def test_grant_naming_the_caller_is_still_limited_by_explicit_denies() -> None:
    resource = [grant({"AWS": USER})]
    assert decide(boundary=[allow(), deny(GET)], resource=resource).decision == "ExplicitlyDenied"
    assert decide(SESSION, session=[deny(GET)], resource=[grant({"AWS": SESSION})]).decision == (
        "ExplicitlyDenied"
    )


def test_grant_naming_the_role_needs_no_identity_allow() -> None:
    assert decide(SESSION, resource=[grant({"AWS": ROLE})]).decision == "Allowed"


def test_grant_naming_the_role_with_a_path_matches_its_sessions() -> None:
    assert decide(SESSION, resource=[grant({"AWS": f"arn:aws:iam::{A}:role/team/app"})]).allowed


def test_grant_naming_the_role_is_limited_by_the_boundary() -> None:
    decision = decide(SESSION, boundary=BOUNDARY_WITHOUT_S3, resource=[grant({"AWS": ROLE})])
    assert decision.decision == "ImplicitlyDenied"
    assert decision.deciding is Layer.BOUNDARY
    assert decide(SESSION, boundary=[allow("s3:*")], resource=[grant({"AWS": ROLE})]).allowed


def test_grant_naming_the_role_is_limited_by_the_session_policy() -> None:
    decision = decide(SESSION, session=SESSION_WITHOUT_S3, resource=[grant({"AWS": ROLE})])
    assert decision.decision == "ImplicitlyDenied"
    assert decision.deciding is Layer.SESSION
    assert decide(SESSION, session=[allow("s3:*")], resource=[grant({"AWS": ROLE})]).allowed


def test_grant_naming_another_session_of_the_role_does_not_match() -> None:
    assert decide(SESSION, resource=[grant({"AWS": OTHER_SESSION})]).decision == "ImplicitlyDenied"


def test_grant_naming_another_user_does_not_match() -> None:
    assert decide(USER, resource=[grant({"AWS": BOB})]).decision == "ImplicitlyDenied"


@pytest.mark.parametrize("named", [A, ROOT])
def test_grant_naming_the_account_delegates_to_identity_policies(named: str) -> None:
    resource = [grant({"AWS": named})]
    decision = decide(resource=resource)
    assert decision.decision == "ImplicitlyDenied"
    assert decision.deciding is Layer.IDENTITY
    assert decide(identity=[allow()], resource=resource).allowed
    limited = decide(identity=[allow()], boundary=BOUNDARY_WITHOUT_S3, resource=resource)
    assert limited.decision == "ImplicitlyDenied"
    assert limited.deciding is Layer.BOUNDARY


def test_grant_naming_the_user_behind_a_federated_session_is_limited() -> None:
    caller = Principal(PrincipalKind.FEDERATED_USER, FEDERATED, A, source_user_arn=USER)
    resource = [grant({"AWS": USER})]
    decision = decide(caller, session=SESSION_WITHOUT_S3, resource=resource)
    assert decision.decision == "ImplicitlyDenied"
    assert decision.deciding is Layer.SESSION
    assert decide(caller, session=[allow("s3:*")], resource=resource).allowed
    assert decide(caller, resource=resource).decision == "ImplicitlyDenied"


def test_resource_allow_without_principal_grants_nothing() -> None:
    assert decide(resource=[allow()]).decision == "ImplicitlyDenied"


def test_service_principal_named_in_resource_policy() -> None:
    service = Principal.parse("cloudtrail.amazonaws.com")
    assert decide(service, resource=[grant({"Service": "cloudtrail.amazonaws.com"})]).allowed
    assert not decide(service, resource=[grant({"Service": "s3.amazonaws.com"})]).allowed
    assert not decide(service, identity=[allow()]).allowed


# --- cross-account --------------------------------------------------------------------------------


def test_cross_account_needs_the_identity_side() -> None:
    decision = decide(REMOTE_USER, resource=[grant({"AWS": REMOTE_USER})])
    assert decision.decision == "ImplicitlyDenied"
    assert decision.deciding is Layer.IDENTITY


def test_cross_account_needs_the_resource_policy() -> None:
    decision = decide(REMOTE_USER, identity=[allow()])
    assert decision.decision == "ImplicitlyDenied"
    assert decision.deciding is Layer.RESOURCE
    decision = decide(REMOTE_USER, identity=[allow()], resource=[grant({"AWS": f"arn:aws:iam::{A}:root"})])
    assert decision.decision == "ImplicitlyDenied"
    assert decision.deciding is Layer.RESOURCE


@pytest.mark.parametrize("named", [REMOTE_USER, B, f"arn:aws:iam::{B}:root", "*"])
def test_cross_account_allowed_when_both_sides_allow(named: str) -> None:
    assert decide(REMOTE_USER, identity=[allow()], resource=[grant({"AWS": named})]).decision == "Allowed"


def test_cross_account_grant_is_limited_by_boundary_and_session_policy() -> None:
    remote_session = f"arn:aws:sts::{B}:assumed-role/app/s1"
    resource = [grant({"AWS": remote_session})]
    assert decide(remote_session, identity=[allow()], resource=resource).allowed
    boundary = decide(remote_session, identity=[allow()], boundary=BOUNDARY_WITHOUT_S3, resource=resource)
    assert boundary.decision == "ImplicitlyDenied"
    assert boundary.deciding is Layer.BOUNDARY
    session = decide(remote_session, identity=[allow()], session=SESSION_WITHOUT_S3, resource=resource)
    assert session.decision == "ImplicitlyDenied"
    assert session.deciding is Layer.SESSION


def test_resource_account_field_decides_cross_account() -> None:
    # the S3 ARN has no account; the request's resource account makes it cross-account
    decision = decide(USER, resource=[grant({"AWS": USER})], account=B)
    assert decision.decision == "ImplicitlyDenied"
    assert decide(USER, resource=[grant({"AWS": USER})], account=A).allowed


def test_request_cross_account_property() -> None:
    alice = Principal.parse(USER)
    assert not Request(alice, GET, OBJECT, A).cross_account
    assert Request(alice, GET, OBJECT, B).cross_account
    assert Request(alice, "sqs:SendMessage", f"arn:aws:sqs:eu-west-1:{B}:q").cross_account
    assert not Request(alice, "iam:ListUsers", "*").cross_account
    assert Request(ANONYMOUS, GET, OBJECT, A).cross_account


# --- anonymous ------------------------------------------------------------------------------------


@pytest.mark.parametrize("named", ["*", {"AWS": "*"}])
def test_anonymous_is_allowed_only_by_everyone_grants(named: object) -> None:
    assert decide(ANONYMOUS, resource=[grant(named)]).decision == "Allowed"


@pytest.mark.parametrize("named", [{"AWS": A}, {"AWS": ROOT}, {"AWS": USER}])
def test_anonymous_is_not_matched_by_specific_principals(named: object) -> None:
    decision = decide(ANONYMOUS, resource=[grant(named)])
    assert decision.decision == "ImplicitlyDenied"
    assert decision.deciding is Layer.RESOURCE


def test_anonymous_has_no_identity_side() -> None:
    decision = decide(ANONYMOUS, identity=[allow()])
    assert decision.decision == "ImplicitlyDenied"
    assert all(result.layer is not Layer.IDENTITY for result in decision.layers)


def test_anonymous_is_denied_by_a_deny_to_everyone() -> None:
    assert decide(ANONYMOUS, resource=[grant("*"), deny(Principal="*")]).decision == "ExplicitlyDenied"


# --- NotPrincipal ---------------------------------------------------------------------------------


def not_principal_deny(*listed: str) -> dict[str, Any]:
    return deny(GET, NotPrincipal={"AWS": list(listed)})


def test_not_principal_deny_spares_only_the_listed_principal() -> None:
    resource = [grant("*"), not_principal_deny(USER, A)]
    assert decide(USER, resource=resource).decision == "Allowed"
    assert decide(BOB, resource=resource).decision == "ExplicitlyDenied"
    assert decide(ANONYMOUS, resource=resource).decision == "ExplicitlyDenied"


def test_not_principal_deny_listing_role_and_account_spares_only_the_named_session() -> None:
    resource = [grant("*"), not_principal_deny(SESSION, ROLE, A)]
    assert decide(SESSION, resource=resource).decision == "Allowed"
    assert decide(OTHER_SESSION, resource=resource).decision == "ExplicitlyDenied"
    assert decide(USER, resource=resource).decision == "ExplicitlyDenied"


def test_not_principal_deny_listing_the_account_spares_the_root_user() -> None:
    resource = [not_principal_deny(A)]
    assert decide(ROOT, resource=resource).decision == "Allowed"
    assert decide(USER, identity=[allow()], resource=resource).decision == "ExplicitlyDenied"


def test_not_principal_deny_always_applies_to_a_principal_with_a_boundary() -> None:
    resource = [grant("*"), not_principal_deny(USER, A)]
    decision = decide(USER, boundary=[allow()], resource=resource)
    assert decision.decision == "ExplicitlyDenied"
    assert decision.deciding is Layer.RESOURCE


def test_not_principal_allow_grants_to_everyone_not_listed() -> None:
    resource = [allow(GET, NotPrincipal={"AWS": BOB})]
    assert decide(USER, resource=resource).allowed
    assert not decide(BOB, resource=resource).allowed


# --- federated users, root ------------------------------------------------------------------------


def test_federated_user_without_session_policy_has_no_identity_permissions() -> None:
    decision = decide(FEDERATED, identity=[allow()])
    assert decision.decision == "ImplicitlyDenied"
    assert decision.deciding is Layer.SESSION


def test_federated_user_gets_identity_within_session_policy() -> None:
    assert decide(FEDERATED, identity=[allow()], session=[allow("s3:*")]).allowed
    decision = decide(FEDERATED, identity=[allow()], session=[allow("iam:*")])
    assert decision.decision == "ImplicitlyDenied"
    assert decision.deciding is Layer.SESSION


def test_session_policy_limits_role_session_identity() -> None:
    assert decide(SESSION, identity=[allow()], session=[allow("s3:*")]).allowed
    assert decide(SESSION, identity=[allow("iam:*")], session=[allow("s3:*")]).deciding is Layer.IDENTITY
    assert decide(SESSION, identity=[allow()], session=[allow("iam:*")]).deciding is Layer.SESSION


def test_boundary_limits_identity() -> None:
    assert decide(identity=[allow()], boundary=[allow("s3:*")]).allowed
    decision = decide(identity=[allow()], boundary=[allow("iam:*")])
    assert decision.decision == "ImplicitlyDenied"
    assert decision.deciding is Layer.BOUNDARY
    assert decide(identity=[allow("iam:*")], boundary=[allow("s3:*")]).deciding is Layer.IDENTITY


def test_root_user_holds_every_permission_in_its_account() -> None:
    assert decide(ROOT).decision == "Allowed"
    assert decide(ROOT, resource=[deny(Principal="*")]).decision == "ExplicitlyDenied"


def test_root_user_needs_a_resource_policy_cross_account() -> None:
    remote_root = f"arn:aws:iam::{B}:root"
    assert decide(remote_root).decision == "ImplicitlyDenied"
    assert decide(remote_root, resource=[grant({"AWS": B})]).allowed


# --- principals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "account"),
    [
        (USER, PrincipalKind.USER, A),
        (f"arn:aws:iam::{A}:user/path/to/alice", PrincipalKind.USER, A),
        (SESSION, PrincipalKind.ASSUMED_ROLE, A),
        (FEDERATED, PrincipalKind.FEDERATED_USER, A),
        (ROOT, PrincipalKind.ROOT, A),
        ("s3.amazonaws.com", PrincipalKind.SERVICE, None),
    ],
)
def test_principal_parse(text: str, kind: PrincipalKind, account: str | None) -> None:
    principal = Principal.parse(text)
    assert (principal.kind, principal.arn, principal.account) == (kind, text, account)


def test_session_principal_knows_its_role() -> None:
    principal = Principal.parse(SESSION)
    assert principal.role_name == "app"
    assert principal.role_arn == ROLE


@pytest.mark.parametrize(
    "text", [ROLE, "alice", f"arn:aws:iam::{A}:user/", "arn:aws:iam::12:user/x", f"arn:aws:s3:::{A}"]
)
def test_principal_parse_rejects_non_callers(text: str) -> None:
    with pytest.raises(ValueError):
        Principal.parse(text)


def test_anonymous_principal() -> None:
    assert ANONYMOUS.is_anonymous
    assert ANONYMOUS.account is None


def test_normalize_context_lowers_keys_and_stringifies_values() -> None:
    assert normalize_context(
        {"AWS:SecureTransport": True, "aws:TagKeys": ["a", 1], "k:n": 5, "k:none": None}
    ) == {
        "aws:securetransport": "true",
        "aws:tagkeys": ("a", "1"),
        "k:n": "5",
    }
