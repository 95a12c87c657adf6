"""The BinaryEquals operator: policy values are base64; bytes compare equal. A request value that is
itself base64 text is decoded too. No policy variables."""

from __future__ import annotations

import base64
import binascii

from iamd.policy.conditions.base import Context, OperatorFamily, ValueMatcher, register


def _decode(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def check_base64(text: str) -> str | None:
    return None if _decode(text) is not None else f"{text!r} is not base64"


def _compile(values: tuple[str, ...], substitute: bool) -> ValueMatcher:
    wanted = frozenset(b for b in (_decode(v) for v in values) if b is not None)

    def match(value: str, context: Context) -> bool:
        decoded = _decode(value)
        return (decoded if decoded is not None else value.encode()) in wanted

    return match


register(OperatorFamily("BinaryEquals", False, False, _compile, check_base64))
