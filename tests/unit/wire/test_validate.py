"""Constraint checks not covered through a protocol: maps, values, structure rendering."""

from __future__ import annotations

from datetime import UTC, datetime

from iamd.wire import validate
from iamd.wire.validate import render_value

from .helpers import CATALOG


def test_map_key_and_value_constraints_are_reported_on_the_map() -> None:
    shape = CATALOG.operation("iam", "PutAccountProperties").input_shape
    violations = validate(shape, {"Properties": {"ok": "fine", "9lives": "v" * 1025}})
    assert [(v.path, v.constraint) for v in violations] == [
        (
            "properties",
            "Map keys must satisfy constraint: [Member must satisfy regular expression pattern: "
            "^[A-Za-z][A-Za-z0-9/_-]*$]",
        ),
        (
            "properties",
            "Map value must satisfy constraint: [Member must have length less than or equal to 1024]",
        ),
    ]


def test_no_violations_for_valid_input() -> None:
    shape = CATALOG.operation("iam", "CreateUser").input_shape
    assert validate(shape, {"UserName": "bob", "Tags": [{"Key": "k", "Value": ""}]}) == []


def test_operations_without_input_have_nothing_to_validate() -> None:
    assert validate(None, {}) == []


def test_values_render_like_coral() -> None:
    assert render_value("x") == "x"
    assert render_value(True) == "true"
    assert render_value(5) == "5"
    assert render_value(2.0) == "2.0"
    assert render_value(["a", 1]) == "[a, 1]"
    assert render_value({"k": "v"}) == "{k=v}"
    assert render_value(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00Z"
    assert render_value(None) == "null"
