"""Policies compiled for evaluation: matchers built once, statements indexed by service.

A ``PolicySet`` holds the statements of one layer (all identity policies of a principal, say). For
an action it finds the statements whose Action/NotAction matches through an index by service
prefix, and remembers the answer per action, so a decision never scans unrelated statements and
never builds a regular expression.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from iamd.authz.explain import StatementRef
from iamd.authz.principal import Principal, PrincipalKind
from iamd.policy.ast import Effect, Policy, PrincipalSpec, Statement
from iamd.policy.conditions import CompiledClause, Context, compile_clause
from iamd.policy.frozen import draft_class, slot_setters
from iamd.policy.variables import has_variables, parse_template, resolve, to_tokens
from iamd.policy.wildcards import (
    Matcher,
    arn_glob_test,
    compile_arn_glob,
    compile_glob,
    has_wildcard,
    match_tokens,
)

__all__ = ["CompiledStatement", "NamedPolicy", "PolicySet", "PrincipalMatch", "compile_policies"]

_ACCOUNT_ID = re.compile(r"\d{12}")
_ROOT_ARN = re.compile(r"arn:[a-z-]+:iam::(\d{12}):root")
_ROLE_ARN = re.compile(r"arn:[a-z-]+:iam::(\d{12}):role/(?:.*/)?([^/]+)")


class PrincipalMatch(Enum):
    """How a resource-policy statement named the caller; it decides what a grant is worth."""

    DIRECT = "direct"
    """The caller's own ARN (user, role session, federated user), or "*"."""
    ROLE = "role"
    """The role behind a session, or the IAM user behind a federated-user session."""
    ACCOUNT = "account"
    """The caller's account: a delegation to its identity policies."""


@dataclass(frozen=True, slots=True)
class NamedPolicy:
    name: str
    policy: Policy

    def __init__(self, name: str, policy: Policy) -> None:
        # Stored through the slots, not the frozen __setattr__ (iamd.policy.frozen).
        s = _NAMED_SLOTS
        s[0](self, name)
        s[1](self, policy)


_NAMED_SLOTS = slot_setters(NamedPolicy)


ResourceTest = Callable[[str, Context], bool]
PrincipalTest = Callable[[Principal, bool], PrincipalMatch | None]


@dataclass(frozen=True, slots=True)
class CompiledStatement:
    ref: StatementRef
    effect: Effect
    matches_action: Matcher
    matches_resource: ResourceTest | None
    """The Resource/NotResource test, or None when every resource matches."""
    resource_test: Callable[[str], object] | None
    """For a single static Resource pattern: its bare test (truthy on a match), checked first."""
    matches_principal: PrincipalTest | None
    conditions: tuple[CompiledClause, ...]
    services: tuple[str, ...] | None
    """Service prefixes this statement's Action can match; None when it can match any service."""
    not_principal: bool = False
    source: Statement | None = None
    """The parsed statement, for explaining a denial (``iamd.authz.nearmiss``); never read when
    deciding."""

    def __init__(
        self,
        ref: StatementRef,
        effect: Effect,
        matches_action: Matcher,
        matches_resource: ResourceTest | None,
        resource_test: Callable[[str], object] | None,
        matches_principal: PrincipalTest | None,
        conditions: tuple[CompiledClause, ...],
        services: tuple[str, ...] | None,
        not_principal: bool = False,
        source: Statement | None = None,
    ) -> None:
        # Stored through the slots, not the frozen __setattr__ (iamd.policy.frozen).
        s = _COMPILED_SLOTS
        s[0](self, ref)
        s[1](self, effect)
        s[2](self, matches_action)
        s[3](self, matches_resource)
        s[4](self, resource_test)
        s[5](self, matches_principal)
        s[6](self, conditions)
        s[7](self, services)
        s[8](self, not_principal)
        s[9](self, source)

    def applies(self, resource: str, context: Context) -> bool:
        test = self.resource_test
        if test is not None:
            if not test(resource):
                return False
        elif self.matches_resource is not None and not self.matches_resource(resource, context):
            return False
        return all(clause(context) for clause in self.conditions)


_COMPILED_SLOTS = slot_setters(CompiledStatement)
_CompiledDraft = draft_class(CompiledStatement)
_RefDraft = draft_class(StatementRef)
_set_class = object.__setattr__

# The tests below depend only on the element's values (not on the statement or policy they stand
# in) and hold no state, so each distinct Action, Resource or Principal element is compiled once,
# up to a bound: policy sets repeat them.


@lru_cache(maxsize=16384)
def _compile_actions(actions: tuple[str, ...], not_action: bool) -> tuple[Matcher, tuple[str, ...] | None]:
    matchers = [compile_glob(a.lower()) for a in actions]

    def any_matches(action: str) -> bool:
        return any(m(action) for m in matchers)

    # One pattern (the usual Action element): its own test, without a generator around it.
    matches = matchers[0] if len(matchers) == 1 else any_matches

    if not_action:
        return (lambda action: not matches(action)), None
    services: set[str] = set()
    for pattern in actions:
        prefix = pattern.split(":", 1)[0].lower() if ":" in pattern else "*"
        if has_wildcard(prefix):
            return matches, None
        services.add(prefix)
    return matches, tuple(sorted(services))


@lru_cache(maxsize=16384)
def _compile_resources(
    resources: tuple[str, ...] | None, not_resource: bool, substitute: bool
) -> tuple[ResourceTest | None, Callable[[str], object] | None]:
    if resources is None or (resources == ("*",) and not not_resource):
        return None, None
    if len(resources) == 1 and not not_resource and not (substitute and "${" in resources[0]):
        return None, arn_glob_test(resources[0])
    static: list[Matcher] = []
    templated = []
    for pattern in resources:
        if substitute and "${" in pattern:
            template, _ = parse_template(pattern)
            if has_variables(template):
                templated.append(template)
                continue
        static.append(compile_arn_glob(pattern))
    negate = not_resource

    if not templated:

        def test_static(resource: str, context: Context) -> bool:
            return any(m(resource) for m in static) != negate

        return test_static, None

    def test(resource: str, context: Context) -> bool:
        hit = any(m(resource) for m in static)
        if not hit:
            for template in templated:
                pieces = resolve(template, context)
                # A variable with no value makes its entry match nothing (in NotResource: exclude nothing).
                if pieces is not None and match_tokens(to_tokens(pieces, arn=True), resource):
                    hit = True
                    break
        return hit != negate

    return test, None


@lru_cache(maxsize=4096)
def _compile_principal(spec: PrincipalSpec) -> PrincipalTest:
    everyone = spec.wildcard or "*" in spec.aws
    accounts: set[str] = set()
    exact: set[str] = set()
    roles: set[tuple[str, str]] = set()
    role_arns: set[str] = set()
    for entry in spec.aws:
        if _ACCOUNT_ID.fullmatch(entry):
            accounts.add(entry)
            continue
        root = _ROOT_ARN.fullmatch(entry)
        if root:
            accounts.add(root.group(1))
            continue
        role = _ROLE_ARN.fullmatch(entry)
        if role:
            roles.add((role.group(1), role.group(2)))
            role_arns.add(entry)
        exact.add(entry)
    exact.update(spec.service)
    exact.update(spec.federated)

    def test(principal: Principal, exempting: bool) -> PrincipalMatch | None:
        # exempting: matching a NotPrincipal list, where only the caller's own ARN (or its account,
        # for the root user) exempts it; its role or account being listed does not.
        if everyone:
            return PrincipalMatch.DIRECT
        if principal.kind is PrincipalKind.ANONYMOUS:
            return None
        if principal.arn in exact:
            return PrincipalMatch.DIRECT
        if principal.account in accounts and (not exempting or principal.kind is PrincipalKind.ROOT):
            return PrincipalMatch.ACCOUNT
        if exempting:
            return None
        if principal.kind is PrincipalKind.ASSUMED_ROLE and (
            principal.role_arn in role_arns or (principal.account or "", principal.role_name or "") in roles
        ):
            return PrincipalMatch.ROLE
        if principal.source_user_arn is not None and principal.source_user_arn in exact:
            return PrincipalMatch.ROLE
        return None

    return test


def compile_statement(policy_name: str, stmt: Statement, substitute: bool) -> CompiledStatement:
    matches_action, services = _compile_actions(stmt.actions, stmt.not_action)
    spec = stmt.principal or stmt.not_principal
    principal_test: PrincipalTest | None = None
    if spec is not None:
        base = _compile_principal(spec)
        if stmt.not_principal is not None:

            def principal_test(principal: Principal, exempting: bool) -> PrincipalMatch | None:
                return None if base(principal, True) is not None else PrincipalMatch.DIRECT

        else:
            principal_test = base
    matches_resource, resource_test = _compile_resources(stmt.resources, stmt.not_resource, substitute)
    effect = stmt.effect
    # Built as drafts (iamd.policy.frozen: the same values as StatementRef(...) and
    # CompiledStatement(...) of these arguments, cheaper); the Effect's text without Enum.value, a
    # Python-level property.
    ref = _RefDraft()
    ref.policy = policy_name
    ref.index = stmt.index
    ref.sid = stmt.sid
    ref.effect = "Allow" if effect is Effect.ALLOW else "Deny"
    _set_class(ref, "__class__", StatementRef)
    d = _CompiledDraft()
    d.ref = ref
    d.effect = effect
    d.matches_action = matches_action
    d.matches_resource = matches_resource
    d.resource_test = resource_test
    d.matches_principal = principal_test
    d.conditions = (
        tuple([compile_clause(c, substitute, effect is Effect.DENY) for c in stmt.conditions])
        if stmt.conditions
        else ()
    )
    d.services = services
    d.not_principal = stmt.not_principal is not None
    d.source = stmt
    _set_class(d, "__class__", CompiledStatement)
    compiled: CompiledStatement = d
    return compiled


class PolicySet:
    """The compiled statements of one layer, with a per-action index."""

    __slots__ = ("_by_service", "_cache", "_wild", "has_not_principal", "names", "statements")

    _CACHE_LIMIT = 20000
    _SCAN_LIMIT = 8
    """A set of at most this many statements is scanned in order for an action rather than indexed
    by service: building the index costs more than it saves there (most sets are a case's one or
    two policies)."""

    def __init__(
        self,
        statements: Sequence[CompiledStatement],
        names: Sequence[str] = (),
        has_not_principal: bool = False,
    ) -> None:
        self.statements = tuple(statements)
        self.names = tuple(names)
        self.has_not_principal = has_not_principal
        self._by_service: dict[str, list[int]] | None = None  # built on first use (_index)
        self._wild: list[int] = []
        self._cache: dict[str, tuple[tuple[CompiledStatement, ...], tuple[CompiledStatement, ...]]] = {}

    def _index(self) -> dict[str, list[int]]:
        """Statement positions by service prefix (``_wild``: those that can match any service),
        each list ascending with each position once."""
        by_service: dict[str, list[int]] = {}
        wild: list[int] = []
        for i, stmt in enumerate(self.statements):
            services = stmt.services
            if services is None:
                wild.append(i)
            else:
                for service in services:
                    indexes = by_service.get(service)
                    if indexes is None:
                        by_service[service] = [i]
                    elif indexes[-1] != i:  # ascending, each index once
                        indexes.append(i)
        self._wild = wild
        self._by_service = by_service
        return by_service

    def __len__(self) -> int:
        return len(self.statements)

    def for_action(self, action: str) -> tuple[CompiledStatement, ...]:
        """The statements whose Action/NotAction matches ``action`` (lower-cased), in order."""
        denies, allows = self.split_for_action(action)
        return tuple(sorted((*denies, *allows), key=lambda s: self.statements.index(s)))

    def split_for_action(
        self, action: str
    ) -> tuple[tuple[CompiledStatement, ...], tuple[CompiledStatement, ...]]:
        """The Deny and the Allow statements whose Action/NotAction matches ``action`` (lower-cased),
        each in document order. Computed once per action, then remembered."""
        found = self._cache.get(action)
        if found is not None:
            return found
        service = action.split(":", 1)[0]
        statements = self.statements
        candidates: Iterable[CompiledStatement]
        if len(statements) <= self._SCAN_LIMIT:
            # In document order, the statements the index would give: those whose Action can
            # match any service, and those that name this one.
            candidates = [s for s in statements if s.services is None or service in s.services]
        else:
            by_service = self._by_service
            if by_service is None:
                by_service = self._index()
            service_indexes = by_service.get(service)
            wild = self._wild
            # Each list is ascending with each index once: merge only when both have some.
            indexes: Sequence[int] = (
                sorted({*service_indexes, *wild}) if service_indexes and wild else service_indexes or wild
            )
            candidates = [statements[i] for i in indexes]
        denies: list[CompiledStatement] = []
        allows: list[CompiledStatement] = []
        for stmt in candidates:
            if stmt.matches_action(action):
                if stmt.effect is Effect.DENY:
                    denies.append(stmt)
                else:
                    allows.append(stmt)
        found = (tuple(denies), tuple(allows))
        if len(self._cache) >= self._CACHE_LIMIT:
            self._cache.clear()
        self._cache[action] = found
        return found


def compile_policies(policies: Iterable[NamedPolicy]) -> PolicySet:
    statements: list[CompiledStatement] = []
    names: list[str] = []
    has_not_principal = False
    for named in policies:
        names.append(named.name)
        substitute = named.policy.substitutes_variables
        for stmt in named.policy.statements:
            statements.append(compile_statement(named.name, stmt, substitute))
            has_not_principal = has_not_principal or stmt.not_principal is not None
    return PolicySet(statements, names, has_not_principal)
