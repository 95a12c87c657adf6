"""Date operators: DateEquals, DateNotEquals, DateLessThan, DateLessThanEquals, DateGreaterThan,
DateGreaterThanEquals. Values are W3C/ISO 8601 dates or times, or epoch seconds, in the policy and
in the request alike; both stand for an instant and compare as such. No policy variables."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from iamd.policy.conditions.base import Context, OperatorFamily, ValueMatcher, register

_EPOCH = re.compile(r"-?\d+(\.\d+)?")


@lru_cache(maxsize=4096)
def parse_instant(text: str) -> Decimal | None:
    """Seconds since the epoch, exactly, or None when ``text`` is no date."""
    text = text.strip()
    if _EPOCH.fullmatch(text):
        try:
            return Decimal(text)
        except InvalidOperation:
            return None
    candidate = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / Decimal(1_000_000)


def check_date(text: str) -> str | None:
    return None if parse_instant(text) is not None else f"{text!r} is not an ISO 8601 date or epoch time"


def _family(compare: Callable[[Decimal, Decimal], bool]) -> Callable[[tuple[str, ...], bool], ValueMatcher]:
    def compile_(values: tuple[str, ...], substitute: bool) -> ValueMatcher:
        bounds = [t for t in (parse_instant(v) for v in values) if t is not None]

        def match(value: str, context: Context) -> bool | None:
            instant = parse_instant(value)
            if instant is None:
                return None
            return any(compare(instant, bound) for bound in bounds)

        return match

    return compile_


_eq = _family(operator.eq)
register(
    OperatorFamily("DateEquals", False, False, _eq, check_date),
    OperatorFamily("DateNotEquals", True, False, _eq, check_date),
    OperatorFamily("DateLessThan", False, False, _family(operator.lt), check_date),
    OperatorFamily("DateLessThanEquals", False, False, _family(operator.le), check_date),
    OperatorFamily("DateGreaterThan", False, False, _family(operator.gt), check_date),
    OperatorFamily("DateGreaterThanEquals", False, False, _family(operator.ge), check_date),
)
