"""Numeric operators: NumericEquals, NumericNotEquals, NumericLessThan, NumericLessThanEquals,
NumericGreaterThan, NumericGreaterThanEquals. Integers and decimals (``10`` equals ``10.0``); no
policy variables. A request value that is not a number makes the condition false."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from iamd.policy.conditions.base import Context, OperatorFamily, ValueMatcher, register

_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


@lru_cache(maxsize=4096)
def parse_number(text: str) -> Decimal | None:
    if not _NUMBER.fullmatch(text.strip()):
        return None
    try:
        number = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def check_number(text: str) -> str | None:
    return None if parse_number(text) is not None else f"{text!r} is not a number"


def _family(compare: Callable[[Decimal, Decimal], bool]) -> Callable[[tuple[str, ...], bool], ValueMatcher]:
    def compile_(values: tuple[str, ...], substitute: bool) -> ValueMatcher:
        bounds = [n for n in (parse_number(v) for v in values) if n is not None]

        def match(value: str, context: Context) -> bool | None:
            number = parse_number(value)
            if number is None:
                return None
            return any(compare(number, bound) for bound in bounds)

        return match

    return compile_


_eq = _family(operator.eq)
register(
    OperatorFamily("NumericEquals", False, False, _eq, check_number),
    OperatorFamily("NumericNotEquals", True, False, _eq, check_number),
    OperatorFamily("NumericLessThan", False, False, _family(operator.lt), check_number),
    OperatorFamily("NumericLessThanEquals", False, False, _family(operator.le), check_number),
    OperatorFamily("NumericGreaterThan", False, False, _family(operator.gt), check_number),
    OperatorFamily("NumericGreaterThanEquals", False, False, _family(operator.ge), check_number),
)
