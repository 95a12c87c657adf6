"""One condition clause, compiled: the rules for missing keys, IfExists and the set qualifiers.

- A key absent from the request: ``...IfExists`` is true; ``ForAllValues`` is true; ``ForAnyValue``
  is false; otherwise a negated operator is true and a positive one false.
- A plain operator compares one request value; applied to a multivalued key it does not match.
- ``ForAnyValue``: some request value satisfies the operator; an empty set never does.
- ``ForAllValues``: every request value satisfies it; an empty set always does.
- Negated operators: a request value satisfies ``StringNotEquals`` when it equals none of the
  policy values. A policy value whose variable has no value equals nothing.
- A request value the operator cannot read (no number, no address) makes the clause false.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from iamd.policy.ast import ConditionClause
from iamd.policy.conditions.base import Context, OperatorFamily, lookup

__all__ = ["CompiledClause", "ParsedOperator", "compile_clause", "parse_operator"]

QUALIFIERS = ("ForAnyValue", "ForAllValues")


@dataclass(frozen=True, slots=True)
class ParsedOperator:
    qualifier: str | None
    base: str
    if_exists: bool
    family: OperatorFamily | None


@lru_cache(maxsize=4096)
def parse_operator(text: str) -> ParsedOperator:
    """Split ``ForAnyValue:StringLikeIfExists`` into its parts; ``family`` is None if unknown."""
    qualifier: str | None = None
    rest = text
    if ":" in text:
        prefix, rest = text.split(":", 1)
        qualifier = prefix
    if_exists = rest.endswith("IfExists") and rest != "IfExists"
    base = rest[: -len("IfExists")] if if_exists else rest
    family = lookup(base)
    if qualifier is not None and qualifier not in QUALIFIERS:
        family = None
    return ParsedOperator(qualifier, base, if_exists, family)


CompiledClause = Callable[[Context], bool]


def _never(_context: Context) -> bool:
    return False


def _always(_context: Context) -> bool:
    return True


def compile_clause(clause: ConditionClause, substitute: bool, on_invalid: bool = False) -> CompiledClause:
    """A predicate over the request context (keys lower-cased).

    A clause that cannot be read (an unknown operator, a policy value the operator cannot parse)
    holds exactly when ``on_invalid`` says: False for an Allow, so it never grants; True for a
    Deny, so it errs on the side of denying.

    The predicate depends only on the operator, key and values (not on where the clause stands),
    and holds no state: the same clause in many statements is compiled once (policy sets repeat
    their conditions), up to a bound."""
    return _compile(
        clause.base, clause.qualifier, clause.if_exists, clause.key, clause.values, substitute, on_invalid
    )


@lru_cache(maxsize=16384)
def _compile(
    base: str,
    qualifier: str | None,
    if_exists: bool,
    key: str,
    values: tuple[str, ...],
    substitute: bool,
    on_invalid: bool,
) -> CompiledClause:
    family = lookup(base)
    if family is None or (qualifier is not None and qualifier not in QUALIFIERS):
        return _always if on_invalid else _never
    takes_variables = substitute and family.variables
    if any(
        family.check_value(value) is not None for value in values if not (takes_variables and "${" in value)
    ):
        return _always if on_invalid else _never
    key = key.lower()
    if family.presence:
        wants_absent = {v.lower() == "true" for v in values if v.lower() in ("true", "false")}

        def null_test(context: Context) -> bool:
            return (key not in context) in wants_absent

        return null_test

    matcher = family.compile(values, substitute and family.variables)
    negated = family.negated

    def satisfies(value: str, context: Context) -> bool | None:
        result = matcher(value, context)
        if result is None:
            return None
        return not result if negated else result

    if qualifier is None:

        def single(context: Context) -> bool:
            value = context.get(key)
            if value is None:
                return if_exists or negated
            if not isinstance(value, str):
                return False
            return satisfies(value, context) is True

        return single

    if qualifier == "ForAnyValue":

        def for_any(context: Context) -> bool:
            value = context.get(key)
            if value is None:
                return if_exists
            values = (value,) if isinstance(value, str) else value
            return any(satisfies(v, context) is True for v in values)

        return for_any

    def for_all(context: Context) -> bool:
        value = context.get(key)
        if value is None:
            return True
        values = (value,) if isinstance(value, str) else value
        return all(satisfies(v, context) is True for v in values)

    return for_all
