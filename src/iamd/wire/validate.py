"""Check decoded parameters against an operation's input shape, the way AWS's service framework
(Coral) does, and report every violation at once::

    2 validation errors detected: Value 'a b' at 'userName' failed to satisfy constraint: Member
    must satisfy regular expression pattern: [\\w+=,.@-]+; Value null at 'path' ...

Paths name members with a lower-case first letter; list elements are ``tags.1.member.key``.
Constraints on the scalar elements of a list or map are reported once for the whole collection
(``Member must satisfy constraint: [...]``, ``Map keys must satisfy constraint: [...]``), as Coral
does. Values of ``sensitive`` shapes are never echoed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from botocore.model import Shape

from iamd.wire.errors import ValidationError, Violation
from iamd.wire.patterns import compile_pattern
from iamd.wire.values import encode_blob, format_iso8601

__all__ = ["check", "render_value", "validate"]

_NUMERIC = ("integer", "long", "float", "double", "bigInteger", "bigDecimal")
_COMPOSITE = ("structure", "list", "map")
_ENUM = "Member must satisfy enum value set"


def check(shape: Shape | None, params: Mapping[str, Any], *, echo_values: bool = True) -> None:
    """Raise :class:`ValidationError` listing every violation, if there is any.

    ``echo_values=False`` is IAM's current form: the offending value is not quoted (``Value at
    'tags' failed to satisfy constraint: ...``) and an enum constraint does not list the allowed
    values (``Member must satisfy enum value set``), as recorded against AWS in 2026 (LocalStack's
    tests/aws/services/iam/*.snapshot.json: test_iam_roles create-role-too-many-tags,
    test_iam_managed_policies get-version-error, test_iam_mfa create-path-too-long-error, and
    ``Value at 'status' ... enum value set`` in test_iam.snapshot.json). STS still quotes the value
    (``Value 'Session1:2' at 'roleSessionName'``, test_sts.snapshot.json). A missing member stays
    ``Value null``. IAM also lists the violations in the order of their paths, not of the members
    (recorded: test_iam_oidc.snapshot.json, multiple-validation-errors: clientIDList,
    thumbprintList, url for CreateOpenIDConnectProvider, whose members are Url, ClientIDList,
    ThumbprintList)."""
    violations = validate(shape, params)
    if violations and not echo_values:
        violations = sorted((_unquoted(v) for v in violations), key=lambda v: v.path)
    if violations:
        raise ValidationError(violations=violations)


def _unquoted(violation: Violation) -> Violation:
    constraint = violation.constraint
    if constraint.startswith(_ENUM):
        constraint = _ENUM
    if violation.value is None:
        return replace(violation, constraint=constraint)
    return replace(violation, constraint=constraint, sensitive=True)


def validate(shape: Shape | None, params: Mapping[str, Any]) -> list[Violation]:
    """Every constraint ``params`` breaks, in member order."""
    out: list[Violation] = []
    if shape is not None:
        _walk(shape, params, "", out)
    return out


def _walk(shape: Shape, value: Any, path: str, out: list[Violation]) -> None:
    kind = shape.type_name
    if kind == "structure":
        if not shape.is_document_type and isinstance(value, Mapping):
            _walk_structure(shape, value, path, out)
    elif kind == "list":
        _walk_list(shape, value, path, out)
    elif kind == "map":
        _walk_map(shape, value, path, out)
    else:
        sensitive = bool(shape.metadata.get("sensitive"))
        for constraint in scalar_constraints(shape, value):
            out.append(Violation(path, render_value(value), constraint, sensitive))


def _walk_structure(shape: Shape, value: Mapping[str, Any], path: str, out: list[Violation]) -> None:
    required = set(shape.required_members)
    for name, member in shape.members.items():
        member_path = _join(path, name[:1].lower() + name[1:])
        item = value.get(name)
        if item is None:
            if name in required:
                out.append(Violation(member_path, None, "Member must not be null"))
            continue
        _walk(member, item, member_path, out)


def _walk_list(shape: Shape, value: Any, path: str, out: list[Violation]) -> None:
    if not isinstance(value, list | tuple):
        return
    sensitive = _is_sensitive(shape)
    for constraint in _size_constraints(shape, len(value)):
        out.append(Violation(path, render_value(value), constraint, sensitive))
    member = shape.member
    if member.type_name in _COMPOSITE:
        for index, item in enumerate(value, 1):
            if item is not None:
                _walk(member, item, f"{path}.{index}.member", out)
        return
    failures = _unique(c for item in value if item is not None for c in scalar_constraints(member, item))
    if failures:
        constraint = f"Member must satisfy constraint: [{', '.join(failures)}]"
        out.append(Violation(path, render_value(value), constraint, sensitive))


def _walk_map(shape: Shape, value: Any, path: str, out: list[Violation]) -> None:
    if not isinstance(value, Mapping):
        return
    sensitive = _is_sensitive(shape)
    for constraint in _size_constraints(shape, len(value)):
        out.append(Violation(path, render_value(value), constraint, sensitive))
    key_failures = _unique(c for key in value for c in scalar_constraints(shape.key, key))
    if key_failures:
        constraint = f"Map keys must satisfy constraint: [{', '.join(key_failures)}]"
        out.append(Violation(path, render_value(value), constraint, sensitive))
    if shape.value.type_name in _COMPOSITE:
        for key, item in value.items():
            if item is not None:
                _walk(shape.value, item, f"{path}.{key}", out)
        return
    value_failures = _unique(
        c for item in value.values() if item is not None for c in scalar_constraints(shape.value, item)
    )
    if value_failures:
        constraint = f"Map value must satisfy constraint: [{', '.join(value_failures)}]"
        out.append(Violation(path, render_value(value), constraint, sensitive))


def scalar_constraints(shape: Shape, value: Any) -> list[str]:
    """The constraint texts a scalar ``value`` of ``shape`` fails."""
    kind = shape.type_name
    meta = shape.metadata
    failed: list[str] = []
    if kind == "string" and isinstance(value, str):
        failed.extend(_size_constraints(shape, len(value)))
        pattern = meta.get("pattern")
        if pattern:
            compiled = compile_pattern(pattern)
            if compiled is not None and compiled.fullmatch(value) is None:
                failed.append(f"Member must satisfy regular expression pattern: {pattern}")
        enum = meta.get("enum")
        if enum and value not in enum:
            failed.append(f"{_ENUM}: [{', '.join(enum)}]")
    elif kind == "blob" and isinstance(value, bytes | bytearray):
        failed.extend(_size_constraints(shape, len(value)))
    elif kind in _NUMERIC and isinstance(value, int | float) and not isinstance(value, bool):
        low, high = meta.get("min"), meta.get("max")
        if low is not None and value < low:
            failed.append(f"Member must have value greater than or equal to {_number(low)}")
        if high is not None and value > high:
            failed.append(f"Member must have value less than or equal to {_number(high)}")
    return failed


def _size_constraints(shape: Shape, size: int) -> list[str]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    failed = []
    if low is not None and size < low:
        failed.append(f"Member must have length greater than or equal to {_number(low)}")
    if high is not None and size > high:
        failed.append(f"Member must have length less than or equal to {_number(high)}")
    return failed


def render_value(value: Any) -> str:
    """A value as Coral prints it in messages (Java ``toString`` style)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        return format_iso8601(value, fractional=True)
    if isinstance(value, bytes | bytearray):
        return encode_blob(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}={render_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    if value is None:
        return "null"
    return str(value)


def _number(value: float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _is_sensitive(shape: Shape) -> bool:
    if shape.metadata.get("sensitive"):
        return True
    if shape.type_name == "list":
        return bool(shape.member.metadata.get("sensitive"))
    if shape.type_name == "map":
        return bool(shape.key.metadata.get("sensitive") or shape.value.metadata.get("sensitive"))
    return False


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
