"""Invariants of the evaluator over random policies and requests (hypothesis)."""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field, replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iamd.authz import (
    Decision,
    NamedPolicy,
    PolicySet,
    Principal,
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
SESSION = f"arn:aws:sts::{A}:assumed-role/app/s1"
ROLE = f"arn:aws:iam::{A}:role/app"
FEDERATED = f"arn:aws:sts::{A}:federated-user/fred"
REMOTE_USER = f"arn:aws:iam::{B}:user/carol"

# Vocabularies, with repeats as weights: broad patterns are frequent so that a fair share of the
# random requests are allowed (an invariant about allowed requests needs allowed requests).
CALLERS = [USER, USER, USER, SESSION, SESSION, SESSION, FEDERATED, REMOTE_USER, "anonymous"]
ACTIONS = ["s3:GetObject"] * 3 + ["s3:PutObject"] * 2 + ["s3:ListBucket", "sqs:SendMessage", "iam:ListUsers"]
ACTION_PATTERNS = (
    ["*"] * 5
    + ["s3:*"] * 5
    + ["s3:Get*", "s3:Get*", "s3:GetObject", "s3:GetObject"]
    + ["s3:PutObject", "s3:?utObject", "*Object", "sqs:*", "iam:List*", "iam:ListUsers", "s3:ListBucket"]
)
RESOURCES = ["arn:aws:s3:::b1/a.txt"] * 3 + [
    "arn:aws:s3:::b1/alice/x",
    "arn:aws:s3:::b1/alice/x",
    "arn:aws:s3:::b2/a.txt",
    f"arn:aws:sqs:eu-west-1:{A}:q",
    "*",
]
RESOURCE_PATTERNS = ["*"] * 8 + [
    "arn:aws:s3:::b1/*",
    "arn:aws:s3:::b1/*",
    "arn:aws:s3:::b?/a.txt",
    "arn:aws:s3:::*/a.txt",
    "arn:aws:s3:::b1/${aws:username}/*",
    "arn:aws:sqs:*:*:q",
    "arn:aws:s3:::b2/*",
]
CONDITIONS: list[dict[str, Any]] = [
    {"StringEquals": {"aws:username": "alice"}},
    {"StringNotEquals": {"aws:username": ["alice", "bob"]}},
    {"StringLike": {"aws:username": "a*"}},
    {"NumericLessThan": {"s3:max-keys": "10"}},
    {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}},
    {"Bool": {"aws:SecureTransport": "true"}},
    {"BoolIfExists": {"aws:SecureTransport": "true"}},
    {"Null": {"aws:username": "true"}},
    {"ForAnyValue:StringEquals": {"aws:TagKeys": ["team", "env"]}},
    {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}},
    {"DateLessThan": {"aws:CurrentTime": "2026-06-01T00:00:00Z"}},
    {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{A}:*"}},
]
CONTEXT_VALUES: dict[str, list[object]] = {
    "aws:username": ["alice", "alice", "bob", "a*"],
    "s3:max-keys": ["5", "5", "50", "x"],
    "aws:SourceIp": ["10.1.2.3", "10.1.2.3", "192.0.2.1", "2001:db8::1"],
    "aws:SecureTransport": ["true", "true", "false"],
    "aws:TagKeys": [["team"], ["team", "env"], [], ["team", "cost"]],
    "aws:CurrentTime": ["2026-01-01T00:00:00Z", "1700000000", "1800000000"],
    "aws:PrincipalArn": [USER, ROLE, REMOTE_USER],
}
PRINCIPALS: list[object] = [
    "*",
    "*",
    {"AWS": "*"},
    {"AWS": A},
    {"AWS": f"arn:aws:iam::{B}:root"},
    {"AWS": USER},
    {"AWS": USER},
    {"AWS": ROLE},
    {"AWS": SESSION},
    {"AWS": SESSION},
    {"AWS": [FEDERATED, REMOTE_USER]},
    {"AWS": REMOTE_USER},
]

Statement = dict[str, Any]


def _random_statement(rng: random.Random, effect: str | None, principal: bool) -> Statement:
    def one_or_two(values: list[str]) -> str | list[str]:
        return rng.choice(values) if rng.random() < 0.6 else rng.sample(values, rng.randint(1, 2))

    out: Statement = {"Effect": effect or ("Allow" if rng.random() < 0.75 else "Deny")}
    if principal:
        not_principal = rng.random() < (0.4 if out["Effect"] == "Deny" else 0.1)
        out["NotPrincipal" if not_principal else "Principal"] = rng.choice(PRINCIPALS)
    out["NotAction" if rng.random() < 0.1 else "Action"] = one_or_two(ACTION_PATTERNS)
    out["NotResource" if rng.random() < 0.1 else "Resource"] = one_or_two(RESOURCE_PATTERNS)
    merged: dict[str, Any] = {}
    for condition in rng.sample(CONDITIONS, rng.choice([0] * 13 + [1] * 5 + [2] * 2)):
        for operator, block in condition.items():
            merged.setdefault(operator, {}).update(block)
    if merged:
        out["Condition"] = merged
    return out


def _pool(
    effect: str | None, principal: bool, guard: bool = False, size: int = 400
) -> st.SearchStrategy[Statement]:
    """Statements are drawn from a fixed pool of random ones: one draw per statement keeps hypothesis
    fast (building each statement element by element costs far more than the evaluations under test),
    while the pool is varied enough for every element, operator and principal form to occur. A guard
    pool (boundaries, session policies, SCPs) holds many allow-everything statements, as real ones do."""
    rng = random.Random(f"{effect}-{principal}-{guard}")
    pool = [
        dict(FULL_ACCESS) if guard and rng.random() < 0.5 else _random_statement(rng, effect, principal)
        for _ in range(size)
    ]
    return st.sampled_from(pool)


FULL_ACCESS: Statement = {"Effect": "Allow", "Action": "*", "Resource": "*"}
STATEMENTS = {
    (effect, principal): _pool(effect, principal) for effect in (None, "Deny") for principal in (False, True)
}
GUARD_STATEMENTS = _pool(None, False, guard=True)


def statements(effect: str | None = None, principal: bool = False) -> st.SearchStrategy[Statement]:
    return STATEMENTS[(effect, principal)]


PLAIN_LISTS = st.lists(statements(), min_size=1, max_size=3)
GUARD_LISTS = st.lists(GUARD_STATEMENTS, min_size=1, max_size=2)
RESOURCE_POLICIES = st.none() | st.lists(statements(principal=True), min_size=1, max_size=3)
RCP_LEVELS = st.lists(st.lists(statements(effect="Deny", principal=True), max_size=1), max_size=2)
SCP_LEVELS = st.lists(GUARD_LISTS, max_size=2)
CALLER_VALUES = st.sampled_from(CALLERS)
ACTION_REQUESTS = st.sampled_from(ACTIONS)
RESOURCE_REQUESTS = st.sampled_from(RESOURCES)
ACCOUNTS = st.sampled_from([A, A, A, B])


def _random_context(rng: random.Random) -> dict[str, object]:
    return {key: rng.choice(values) for key, values in CONTEXT_VALUES.items() if rng.random() < 0.7}


_CONTEXT_RNG = random.Random("contexts")
CONTEXTS = st.sampled_from([{}, *(_random_context(_CONTEXT_RNG) for _ in range(300))])


@dataclass
class Scenario:
    caller: str
    action: str
    resource: str
    resource_account: str
    context: dict[str, object]
    identity: list[Statement]
    boundary: list[Statement] | None = None
    session: list[Statement] | None = None
    resource_policy: list[Statement] | None = None
    scps: list[list[Statement]] = field(default_factory=list)
    rcps: list[list[Statement]] = field(default_factory=list)


@st.composite
def _scenarios(draw: st.DrawFn) -> Scenario:
    return Scenario(
        caller=draw(CALLER_VALUES),
        action=draw(ACTION_REQUESTS),
        resource=draw(RESOURCE_REQUESTS),
        resource_account=draw(ACCOUNTS),
        context=draw(CONTEXTS),
        identity=draw(PLAIN_LISTS),
        boundary=draw(st.none() | GUARD_LISTS),
        session=draw(st.none() | GUARD_LISTS),
        resource_policy=draw(RESOURCE_POLICIES),
        scps=draw(SCP_LEVELS),
        rcps=draw(RCP_LEVELS),
    )


SCENARIOS = _scenarios()


def scenarios() -> st.SearchStrategy[Scenario]:
    return SCENARIOS


def compiled(statements: list[Statement], kind: PolicyKind, name: str) -> PolicySet:
    document = {"Version": VERSION_2012, "Statement": statements}
    return compile_policies([NamedPolicy(name, parse_policy(document, kind, strict=False))])


def compile_scenario(s: Scenario) -> tuple[Request, PrincipalPolicies, ResourcePolicies]:
    principal = Principal.anonymous() if s.caller == "anonymous" else Principal.parse(s.caller)
    principal_policies = PrincipalPolicies(
        identity=compiled(s.identity, PolicyKind.IDENTITY, "identity"),
        boundary=None if s.boundary is None else compiled(s.boundary, PolicyKind.MANAGED, "boundary"),
        session=None if s.session is None else compiled(s.session, PolicyKind.SESSION, "session"),
        scps=tuple((f"level{i}", compiled(lvl, PolicyKind.SCP, f"scp{i}")) for i, lvl in enumerate(s.scps)),
    )
    resource_policies = ResourcePolicies(
        policy=None if s.resource_policy is None else compiled(s.resource_policy, PolicyKind.RESOURCE, "res"),
        rcps=tuple((f"level{i}", compiled(lvl, PolicyKind.RCP, f"rcp{i}")) for i, lvl in enumerate(s.rcps)),
    )
    request = Request(principal, s.action, s.resource, s.resource_account, normalize_context(s.context))
    return request, principal_policies, resource_policies


def decide(s: Scenario) -> Decision:
    return evaluate(*compile_scenario(s))


def statement_slots(s: Scenario) -> list[tuple[list[Statement], bool]]:
    """Every statement list of the scenario a statement can be added to or removed from, and whether
    its statements name a Principal."""
    slots = [(s.identity, False)]
    slots += [(x, False) for x in (s.boundary, s.session) if x is not None]
    if s.resource_policy is not None:
        slots.append((s.resource_policy, True))
    slots += [(level, False) for level in s.scps]
    return slots + [(level, True) for level in s.rcps]


FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(scenarios(), st.data())
def test_adding_a_deny_never_widens_and_never_undoes_an_explicit_deny(
    s: Scenario, data: st.DataObject
) -> None:
    before = decide(s).decision
    changed = copy.deepcopy(s)
    slot, names_principal = data.draw(st.sampled_from(statement_slots(changed)), label="policy")
    slot.append(data.draw(statements(effect="Deny", principal=names_principal), label="added Deny"))
    after = decide(changed).decision
    if before != "Allowed":
        assert after != "Allowed"
    if before == "ExplicitlyDenied":
        assert after == "ExplicitlyDenied"


@FAST
@given(scenarios(), st.data())
def test_removing_an_allow_never_turns_a_denial_into_allowed(s: Scenario, data: st.DataObject) -> None:
    before = decide(s).decision
    changed = copy.deepcopy(s)
    allows = [
        (slot, i)
        for slot, _ in statement_slots(changed)
        for i, statement in enumerate(slot)
        if statement["Effect"] == "Allow"
    ]
    if not allows:
        return
    slot, index = data.draw(st.sampled_from(allows), label="removed Allow")
    del slot[index]
    if before != "Allowed":
        assert decide(changed).decision != "Allowed"


@FAST
@given(scenarios(), GUARD_LISTS)
def test_a_boundary_never_widens_access(s: Scenario, boundary: list[Statement]) -> None:
    if decide(replace(s, boundary=boundary)).allowed:
        assert decide(replace(s, boundary=None)).allowed


@FAST
@given(scenarios(), GUARD_LISTS)
def test_a_session_policy_never_widens_access(s: Scenario, session: list[Statement]) -> None:
    # A federated-user session without a session policy has no identity permissions at all (it is
    # the session policy that gives them), so it is left out.
    if s.caller == FEDERATED:
        return
    if decide(replace(s, session=session)).allowed:
        assert decide(replace(s, session=None)).allowed


@FAST
@given(scenarios(), GUARD_LISTS, st.integers(min_value=0, max_value=2))
def test_an_scp_level_never_widens_access(s: Scenario, level: list[Statement], position: int) -> None:
    with_level = replace(s, scps=[*s.scps[:position], level, *s.scps[position:]])
    if decide(with_level).allowed:
        assert decide(s).allowed


@FAST
@given(scenarios())
def test_evaluation_is_deterministic_and_consistent(s: Scenario) -> None:
    first = decide(s)
    assert decide(copy.deepcopy(s)) == first
    compiled_once = compile_scenario(s)
    # the same compiled sets again and again: the per-action index answers from its cache
    assert {evaluate(*compiled_once) for _ in range(3)} == {first}
    assert (first.decision == "ExplicitlyDenied") == any(result.denies for result in first.layers)
    assert (first.deciding is None) == first.allowed
