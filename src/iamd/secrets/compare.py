"""Constant-time comparison of secrets.

Every comparison of a secret value (signatures, tokens, codes, secret keys) goes through here, so the
time taken never depends on where the first differing byte is.
"""

from __future__ import annotations

import hmac


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def constant_time_equals(a: str | bytes, b: str | bytes) -> bool:
    """True when `a` and `b` are equal, in time independent of their content.

    Strings are compared as UTF-8 (``hmac.compare_digest`` accepts only ASCII ``str``).
    The lengths may leak, as with any such comparison.
    """
    return hmac.compare_digest(_as_bytes(a), _as_bytes(b))
