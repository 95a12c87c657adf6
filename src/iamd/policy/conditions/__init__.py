"""Condition operators, one family a module, registered by name.

Importing this package registers every family: string, numeric, date, boolean, binary, ip, arn
and null. ``compile_clause`` applies the rules for missing keys, IfExists and set qualifiers.
"""

from iamd.policy.conditions import arn, binary, boolean, date, ip, null, numeric, string
from iamd.policy.conditions.base import Context, OperatorFamily, ValueMatcher, lookup, operators
from iamd.policy.conditions.clause import CompiledClause, ParsedOperator, compile_clause, parse_operator

__all__ = [
    "CompiledClause",
    "Context",
    "OperatorFamily",
    "ParsedOperator",
    "ValueMatcher",
    "compile_clause",
    "lookup",
    "operators",
    "parse_operator",
]

_FAMILY_MODULES = (arn, binary, boolean, date, ip, null, numeric, string)
