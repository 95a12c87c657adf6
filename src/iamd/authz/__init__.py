"""The evaluator: compiled policy sets, the request context, ``evaluate`` -> ``Decision``.
Pure: no I/O, no clock; the time and every condition key arrive in the request context."""

from iamd.authz.compiled import CompiledStatement, NamedPolicy, PolicySet, PrincipalMatch, compile_policies
from iamd.authz.evaluate import PrincipalPolicies, ResourcePolicies, evaluate
from iamd.authz.explain import (
    Decision,
    Element,
    Layer,
    LayerResult,
    MatchedDeny,
    NearMiss,
    Outcome,
    Reason,
    StatementRef,
)
from iamd.authz.nearmiss import explain
from iamd.authz.principal import Principal, PrincipalKind
from iamd.authz.request import Request, normalize_context

__all__ = [
    "CompiledStatement",
    "Decision",
    "Element",
    "Layer",
    "LayerResult",
    "MatchedDeny",
    "NamedPolicy",
    "NearMiss",
    "Outcome",
    "PolicySet",
    "Principal",
    "PrincipalKind",
    "PrincipalMatch",
    "PrincipalPolicies",
    "Reason",
    "Request",
    "ResourcePolicies",
    "StatementRef",
    "compile_policies",
    "evaluate",
    "explain",
    "normalize_context",
]
