"""The explanation of a decision: layers, the deciding layer, statement refs, AWS's sentences."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from iamd.authz import (
    Decision,
    Layer,
    LayerResult,
    NamedPolicy,
    Outcome,
    PolicySet,
    Principal,
    PrincipalPolicies,
    Reason,
    Request,
    ResourcePolicies,
    StatementRef,
    compile_policies,
    evaluate,
)
from iamd.policy import VERSION_2012, PolicyKind, parse_policy

A = "111111111111"
B = "222222222222"
USER = f"arn:aws:iam::{A}:user/alice"
SESSION = f"arn:aws:sts::{A}:assumed-role/app/s1"
OBJECT = "arn:aws:s3:::bucket/key"
GET = "s3:GetObject"


def policies(kind: PolicyKind, *named: tuple[str, Sequence[dict[str, Any]]]) -> PolicySet:
    return compile_policies(
        NamedPolicy(
            name, parse_policy({"Version": VERSION_2012, "Statement": list(stmts)}, kind, strict=False)
        )
        for name, stmts in named
    )


def allow(action: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": "*", **extra}


def deny(action: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": "*", **extra}


def run(
    caller: str = USER,
    *,
    identity: Sequence[tuple[str, Sequence[dict[str, Any]]]] = (),
    boundary: Sequence[dict[str, Any]] | None = None,
    session: Sequence[dict[str, Any]] | None = None,
    resource: Sequence[dict[str, Any]] | None = None,
    scps: Sequence[tuple[str, Sequence[dict[str, Any]]]] = (),
    rcps: Sequence[tuple[str, Sequence[dict[str, Any]]]] = (),
    account: str = A,
    action: str = GET,
    target: str = OBJECT,
) -> Decision:
    principal = Principal.anonymous() if caller == "anonymous" else Principal.parse(caller)
    principal_policies = PrincipalPolicies(
        identity=policies(PolicyKind.IDENTITY, *identity),
        boundary=None if boundary is None else policies(PolicyKind.MANAGED, ("cap", boundary)),
        session=None if session is None else policies(PolicyKind.SESSION, ("session", session)),
        scps=tuple((level, policies(PolicyKind.SCP, (f"{level}-scp", stmts))) for level, stmts in scps),
    )
    resource_policies = ResourcePolicies(
        policy=None if resource is None else policies(PolicyKind.RESOURCE, ("bucket-policy", resource)),
        rcps=tuple((level, policies(PolicyKind.RCP, (f"{level}-rcp", stmts))) for level, stmts in rcps),
    )
    return evaluate(Request(principal, action, target, account), principal_policies, resource_policies)


def layer(decision: Decision, which: Layer) -> LayerResult:
    (found,) = [result for result in decision.layers if result.layer is which]
    return found


def test_layers_are_listed_in_evaluation_order_with_their_outcomes() -> None:
    decision = run(
        SESSION,
        identity=[("reader", [allow("s3:*")])],
        boundary=[allow("iam:*")],
        session=[allow()],
        resource=[allow("iam:*", Principal="*")],
        scps=[("r-root", [allow()]), ("ou-1", [allow()])],
        rcps=[("r-root", [])],
    )
    assert [(r.layer, r.outcome) for r in decision.layers] == [
        (Layer.RCP, Outcome.ALLOW),
        (Layer.SCP, Outcome.ALLOW),
        (Layer.SCP, Outcome.ALLOW),
        (Layer.RESOURCE, Outcome.NO_MATCH),
        (Layer.IDENTITY, Outcome.ALLOW),
        (Layer.BOUNDARY, Outcome.NO_MATCH),
        (Layer.SESSION, Outcome.ALLOW),
    ]
    assert [r.level for r in decision.layers[:3]] == ["r-root", "r-root", "ou-1"]
    assert decision.decision == "ImplicitlyDenied"
    assert decision.reason is Reason.NO_ALLOW
    assert decision.deciding is Layer.BOUNDARY


def test_absent_layers_are_not_listed() -> None:
    decision = run(identity=[("p", [allow()])])
    assert [r.layer for r in decision.layers] == [Layer.IDENTITY]


def test_allowed_decision_has_no_deciding_layer_and_names_the_allow() -> None:
    decision = run(
        identity=[("other", [allow("iam:*")]), ("reader", [allow("sqs:*"), allow("s3:Get*", Sid="Read")])]
    )
    assert decision.decision == "Allowed"
    assert decision.reason is Reason.ALLOWED
    assert decision.deciding is None
    assert layer(decision, Layer.IDENTITY).allows == (StatementRef("reader", 1, "Read", "Allow"),)
    assert decision.summary == "Allowed by identity-based policy"


def test_first_applicable_allow_is_the_one_named() -> None:
    decision = run(identity=[("p", [allow("iam:*"), allow(GET), allow("s3:*", Sid="Later")])])
    assert layer(decision, Layer.IDENTITY).allows == (StatementRef("p", 1, None, "Allow"),)


def test_every_applicable_deny_is_listed() -> None:
    decision = run(identity=[("p", [allow(), deny(GET, Sid="NoGet"), deny("iam:*"), deny("s3:*")])])
    assert decision.decision == "ExplicitlyDenied"
    assert decision.reason is Reason.EXPLICIT_DENY
    assert layer(decision, Layer.IDENTITY).denies == (
        StatementRef("p", 1, "NoGet", "Deny"),
        StatementRef("p", 3, None, "Deny"),
    )
    assert layer(decision, Layer.IDENTITY).outcome is Outcome.DENY
    assert decision.summary == "Explicitly denied by identity-based policy statement p:NoGet"


def test_statement_ref_labels_use_sid_or_index() -> None:
    assert StatementRef("p", 0, "Sid1", "Allow").label == "p:Sid1"
    assert StatementRef("p", 2, None, "Deny").label == "p:Statement[2]"
    assert StatementRef("p", 2, None, "Deny").to_json() == {
        "policy": "p",
        "statement": 2,
        "sid": None,
        "effect": "Deny",
    }


def test_scp_deny_is_explained_with_its_level() -> None:
    decision = run(
        identity=[("p", [allow()])], scps=[("r-root", [allow()]), ("ou-sandbox", [allow(), deny(GET)])]
    )
    assert decision.deciding is Layer.SCP
    denied = [r for r in decision.layers if r.denies]
    assert len(denied) == 1
    assert denied[0].level == "ou-sandbox"
    assert denied[0].denies == (StatementRef("ou-sandbox-scp", 1, None, "Deny"),)
    assert "ou-sandbox-scp:Statement[1]" in decision.summary


def test_rcp_layer_notes_the_implied_full_access() -> None:
    decision = run(identity=[("p", [allow()])], rcps=[("r-root", [])])
    assert layer(decision, Layer.RCP).note == "RCPFullAWSAccess is implied"


def test_root_identity_layer_notes_the_root_permissions() -> None:
    decision = run(f"arn:aws:iam::{A}:root")
    identity = layer(decision, Layer.IDENTITY)
    assert identity.outcome is Outcome.ALLOW
    assert identity.note is not None and "root" in identity.note


def test_to_json_shape() -> None:
    decision = run(identity=[("p", [allow(), deny(GET, Sid="X")])], scps=[("r-root", [allow()])])
    out = decision.to_json()
    assert out["decision"] == "ExplicitlyDenied"
    assert out["decidedBy"] == "identity"
    assert out["layers"] == [
        {
            "layer": "scp",
            "outcome": "Allow",
            "level": "r-root",
            "allows": [{"policy": "r-root-scp", "statement": 0, "sid": None, "effect": "Allow"}],
        },
        {
            "layer": "identity",
            "outcome": "Deny",
            "denies": [{"policy": "p", "statement": 1, "sid": "X", "effect": "Deny"}],
            "allows": [{"policy": "p", "statement": 0, "sid": None, "effect": "Allow"}],
        },
    ]


# --- AWS's denial sentences -----------------------------------------------------------------------

HEAD = f"User: {USER} is not authorized to perform: s3:GetObject on resource: {OBJECT}"


def message(decision: Decision, caller: str = USER, resource: str = OBJECT) -> str:
    return decision.denial_message(caller, GET, resource)


def test_message_for_no_identity_allow() -> None:
    assert message(run()) == f"{HEAD} because no identity-based policy allows the s3:GetObject action"


def test_message_for_explicit_deny_in_identity_policy() -> None:
    decision = run(identity=[("p", [deny()])])
    assert message(decision) == f"{HEAD} with an explicit deny in an identity-based policy"


def test_message_for_explicit_deny_in_scp() -> None:
    decision = run(identity=[("p", [allow()])], scps=[("r-root", [allow(), deny()])])
    assert message(decision) == f"{HEAD} with an explicit deny in a service control policy"


def test_message_for_implicit_scp_deny() -> None:
    decision = run(identity=[("p", [allow()])], scps=[("r-root", [allow("iam:*")])])
    assert message(decision) == f"{HEAD} because no service control policy allows the s3:GetObject action"


def test_message_for_explicit_deny_in_rcp() -> None:
    decision = run(identity=[("p", [allow()])], rcps=[("r-root", [deny("s3:*", Principal="*")])])
    assert message(decision) == f"{HEAD} with an explicit deny in a resource control policy"


def test_message_for_boundary() -> None:
    decision = run(identity=[("p", [allow()])], boundary=[allow("iam:*")])
    assert message(decision) == f"{HEAD} because no permissions boundary allows the s3:GetObject action"
    decision = run(identity=[("p", [allow()])], boundary=[allow(), deny()])
    assert message(decision) == f"{HEAD} with an explicit deny in a permissions boundary"


def test_message_for_session_policy() -> None:
    head = HEAD.replace(USER, SESSION)
    decision = run(SESSION, identity=[("p", [allow()])], session=[allow("iam:*")])
    assert message(decision, SESSION) == f"{head} because no session policy allows the s3:GetObject action"
    decision = run(SESSION, identity=[("p", [allow()])], session=[deny()])
    assert message(decision, SESSION) == f"{head} with an explicit deny in a session policy"


def test_message_for_resource_policy() -> None:
    remote = f"arn:aws:iam::{B}:user/carol"
    decision = run(remote, identity=[("p", [allow()])])
    expected = HEAD.replace(USER, remote) + " because no resource-based policy allows the s3:GetObject action"
    assert message(decision, remote) == expected
    decision = run(resource=[deny(Principal="*")], identity=[("p", [allow()])])
    assert message(decision) == f"{HEAD} with an explicit deny in a resource-based policy"


def test_message_without_resource_for_wildcard_only_actions() -> None:
    decision = run(action="s3:ListAllMyBuckets", target="*")
    assert decision.denial_message(USER, "s3:ListAllMyBuckets", "*") == (
        f"User: {USER} is not authorized to perform: s3:ListAllMyBuckets "
        "because no identity-based policy allows the s3:ListAllMyBuckets action"
    )


def test_message_for_anonymous_caller() -> None:
    decision = run("anonymous")
    assert message(decision, "*").startswith("User: anonymous is not authorized to perform: s3:GetObject")
    assert message(decision, "*").endswith("because no resource-based policy allows the s3:GetObject action")


@pytest.mark.parametrize("phrase", [layer_.phrase for layer_ in Layer])
def test_every_layer_has_a_phrase(phrase: str) -> None:
    assert phrase.endswith(("policy", "boundary"))
