"""String operators: StringEquals, StringNotEquals, StringEqualsIgnoreCase,
StringNotEqualsIgnoreCase, StringLike, StringNotLike. Values are case-sensitive except in the
IgnoreCase pair; only the Like pair has wildcards. All take policy variables."""

from __future__ import annotations

from collections.abc import Callable

from iamd.policy.conditions.base import Context, OperatorFamily, ValueMatcher, no_problem, register
from iamd.policy.variables import Template, has_variables, parse_template, resolve, resolve_string, to_tokens
from iamd.policy.wildcards import Matcher, compile_glob, match_tokens


def split_templates(values: tuple[str, ...], substitute: bool) -> tuple[list[str], list[Template]]:
    """Static values, and the values that hold variables (only when substituting)."""
    static: list[str] = []
    templated: list[Template] = []
    for value in values:
        if substitute and "${" in value:
            template, _ = parse_template(value)
            if has_variables(template):
                templated.append(template)
                continue
            static.append(resolve_string(template, {}) or "")
        else:
            static.append(value)
    return static, templated


def _equals(ignore_case: bool) -> Callable[[tuple[str, ...], bool], ValueMatcher]:
    def compile_(values: tuple[str, ...], substitute: bool) -> ValueMatcher:
        static, templated = split_templates(values, substitute)
        fold = str.lower if ignore_case else str
        exact = frozenset(fold(v) for v in static)

        def match(value: str, context: Context) -> bool:
            if fold(value) in exact:
                return True
            for template in templated:
                resolved = resolve_string(template, context)
                if resolved is not None and fold(resolved) == fold(value):
                    return True
            return False

        return match

    return compile_


def _like(values: tuple[str, ...], substitute: bool) -> ValueMatcher:
    static, templated = split_templates(values, substitute)
    matchers: list[Matcher] = [compile_glob(v) for v in static]

    def match(value: str, context: Context) -> bool:
        if any(m(value) for m in matchers):
            return True
        for template in templated:
            pieces = resolve(template, context)
            if pieces is not None and match_tokens(to_tokens(pieces, arn=False), value):
                return True
        return False

    return match


_eq = _equals(False)
_eq_ic = _equals(True)
register(
    OperatorFamily("StringEquals", False, True, _eq, no_problem),
    OperatorFamily("StringNotEquals", True, True, _eq, no_problem),
    OperatorFamily("StringEqualsIgnoreCase", False, True, _eq_ic, no_problem),
    OperatorFamily("StringNotEqualsIgnoreCase", True, True, _eq_ic, no_problem),
    OperatorFamily("StringLike", False, True, _like, no_problem),
    OperatorFamily("StringNotLike", True, True, _like, no_problem),
)
