"""The Null operator: ``true`` holds when the key is absent from the request, ``false`` when present.
It has no IfExists form."""

from __future__ import annotations

from iamd.policy.conditions.base import Context, OperatorFamily, ValueMatcher, register


def check_null(text: str) -> str | None:
    return None if text.lower() in ("true", "false") else f"{text!r} is not true or false"


def _compile(values: tuple[str, ...], substitute: bool) -> ValueMatcher:
    # Null is evaluated on presence (see clause.py); this matcher compares the wanted presence.
    wanted = frozenset(v.lower() for v in values)

    def match(value: str, context: Context) -> bool:
        return value in wanted

    return match


register(OperatorFamily("Null", False, False, _compile, check_null, presence=True))
