"""The Bool operator: ``true``/``false``, compared without regard to case. Takes policy variables."""

from __future__ import annotations

from iamd.policy.conditions.base import Context, OperatorFamily, ValueMatcher, register
from iamd.policy.conditions.string import split_templates
from iamd.policy.variables import resolve_string


def check_bool(text: str) -> str | None:
    if "${" in text or text.lower() in ("true", "false"):
        return None
    return f"{text!r} is not a Boolean (true or false)"


def _compile(values: tuple[str, ...], substitute: bool) -> ValueMatcher:
    static, templated = split_templates(values, substitute)
    wanted = frozenset(v.lower() for v in static)

    def match(value: str, context: Context) -> bool | None:
        folded = value.lower()
        if folded not in ("true", "false"):
            return None  # not a Boolean: the condition is false
        if folded in wanted:
            return True
        for template in templated:
            resolved = resolve_string(template, context)
            if resolved is not None and resolved.lower() == folded:
                return True
        return False

    return match


register(OperatorFamily("Bool", False, True, _compile, check_bool))
