"""ARN operators: ArnEquals and ArnLike (the same), ArnNotEquals and ArnNotLike (the same). Values are
compared segment by segment (``arn:partition:service:region:account:resource``), case-sensitively,
with ``*`` and ``?`` wildcards that stay inside their segment. Take policy variables."""

from __future__ import annotations

from iamd.policy.conditions.base import Context, OperatorFamily, ValueMatcher, register
from iamd.policy.conditions.string import split_templates
from iamd.policy.variables import resolve, to_tokens
from iamd.policy.wildcards import compile_arn_glob, match_tokens


def check_arn(text: str) -> str | None:
    if text == "*" or "${" in text or (text.startswith("arn:") and text.count(":") >= 5):
        return None
    return f"{text!r} is not an ARN (arn:partition:service:region:account:resource)"


def _compile(values: tuple[str, ...], substitute: bool) -> ValueMatcher:
    static, templated = split_templates(values, substitute)
    matchers = [compile_arn_glob(v) for v in static]

    def match(value: str, context: Context) -> bool:
        if any(m(value) for m in matchers):
            return True
        for template in templated:
            pieces = resolve(template, context)
            if pieces is not None and match_tokens(to_tokens(pieces, arn=True), value):
                return True
        return False

    return match


register(
    OperatorFamily("ArnEquals", False, True, _compile, check_arn),
    OperatorFamily("ArnLike", False, True, _compile, check_arn),
    OperatorFamily("ArnNotEquals", True, True, _compile, check_arn),
    OperatorFamily("ArnNotLike", True, True, _compile, check_arn),
)
