"""The hand-written ``__init__`` of the frozen dataclasses built per statement (``iamd.policy.frozen``):
the same instance as the dataclass ``__init__`` would build, still frozen."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pytest

from iamd.authz.compiled import CompiledStatement, NamedPolicy, compile_statement
from iamd.authz.explain import StatementRef
from iamd.policy import PolicyKind, parse_policy
from iamd.policy.ast import ConditionClause, Policy, Statement, new_clause, new_policy, new_statement
from iamd.policy.frozen import draft_class, slot_setters

CLASSES: list[type[Any]] = [ConditionClause, Statement, Policy, StatementRef, NamedPolicy, CompiledStatement]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_each_field_gets_its_own_argument_positionally_or_by_name(cls: type[Any]) -> None:
    fields = dataclasses.fields(cls)
    sentinels = [object() for _ in fields]
    by_position = cls(*sentinels)
    by_name = cls(**{f.name: v for f, v in zip(fields, sentinels, strict=True)})
    for f, v in zip(fields, sentinels, strict=True):
        assert getattr(by_position, f.name) is v
        assert getattr(by_name, f.name) is v
    assert by_position == by_name and hash(by_position) == hash(by_name)
    assert dataclasses.replace(by_position) == by_position
    assert [f.name for f in fields] == list(dataclasses.asdict(by_name))


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_the_signature_is_the_dataclass_one(cls: type[Any]) -> None:
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    fields = dataclasses.fields(cls)
    assert [p.name for p in parameters] == [f.name for f in fields]
    for p, f in zip(parameters, fields, strict=True):
        assert p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        assert p.default == (inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default)
    required = [object() for f in fields if f.default is dataclasses.MISSING]
    built = cls(*required)
    for f in fields:
        if f.default is not dataclasses.MISSING:
            assert getattr(built, f.name) == f.default
    with pytest.raises(TypeError):
        cls(*required, *[None] * (len(fields) - len(required) + 1))


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_still_frozen(cls: type[Any]) -> None:
    value = cls(*[object() for _ in dataclasses.fields(cls)])
    for f in dataclasses.fields(cls):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, f.name, None)
        with pytest.raises(dataclasses.FrozenInstanceError):
            delattr(value, f.name)


def test_slot_setters_refuses_an_init_that_would_build_otherwise() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Swapped:
        a: int
        b: int

        def __init__(self, b: int, a: int) -> None:
            pass

    @dataclasses.dataclass(frozen=True, slots=True)
    class OtherDefault:
        a: int
        b: int = 1

        def __init__(self, a: int, b: int = 2) -> None:
            pass

    @dataclasses.dataclass(frozen=True, slots=True)
    class Starred:
        a: int

        def __init__(self, *a: int) -> None:
            pass

    @dataclasses.dataclass(frozen=True, slots=True)
    class Factory:
        a: list[int] = dataclasses.field(default_factory=list)

        def __init__(self, a: list[int]) -> None:
            pass

    @dataclasses.dataclass(slots=True)
    class Mutable:
        a: int

        def __init__(self, a: int) -> None:
            pass

    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Generated:
        a: int

    for cls in (Swapped, OtherDefault, Starred, Factory, Mutable, NoSlots, Generated):
        with pytest.raises(TypeError):
            slot_setters(cls)
            pytest.fail(cls.__name__)

    @dataclasses.dataclass(frozen=True, slots=True)
    class Right:
        a: int
        b: int = 1

        def __init__(self, a: int, b: int = 1) -> None:
            pass

    assert len(slot_setters(Right)) == 2


def _same_instance(built: Any, expected: Any) -> None:
    """``built`` is what the class's own ``__init__`` made as ``expected``: same class, each field
    the same object, equal, same hash, and still frozen."""
    assert type(built) is type(expected)
    for f in dataclasses.fields(expected):
        assert getattr(built, f.name) is getattr(expected, f.name)
    assert built == expected and hash(built) == hash(expected) and repr(built) == repr(expected)
    assert dataclasses.replace(built) == expected
    for f in dataclasses.fields(expected):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(built, f.name, None)
        with pytest.raises(dataclasses.FrozenInstanceError):
            delattr(built, f.name)


def test_draft_builders_build_what_the_constructors_build() -> None:
    for cls, builder in ((Statement, new_statement), (ConditionClause, new_clause), (Policy, new_policy)):
        values = [object() for _ in dataclasses.fields(cls)]
        _same_instance(builder(*values), cls(*values))


def test_compile_statement_builds_what_the_constructors_build() -> None:
    # compile_statement fills drafts of StatementRef and CompiledStatement: the same instances as
    # the constructors give from its values, for statements with and without conditions and
    # principals.
    policy = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "A",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:Get*",
                    "Resource": "arn:aws:s3:::b/*",
                },
                {
                    "Effect": "Deny",
                    "NotPrincipal": {"AWS": "arn:aws:iam::111111111111:root"},
                    "NotAction": ["iam:*", "sts:*"],
                    "NotResource": "*",
                    "Condition": {"StringEquals": {"aws:PrincipalTag/team": ["a", "b"]}},
                },
            ],
        },
        PolicyKind.RESOURCE,
    )
    for stmt in policy.statements:
        compiled = compile_statement("p", stmt, True)
        ref = StatementRef("p", stmt.index, stmt.sid, stmt.effect.value)
        _same_instance(compiled.ref, ref)
        expected = CompiledStatement(
            compiled.ref,
            stmt.effect,
            compiled.matches_action,
            compiled.matches_resource,
            compiled.resource_test,
            compiled.matches_principal,
            compiled.conditions,
            compiled.services,
            stmt.not_principal is not None,
            stmt,
        )
        _same_instance(compiled, expected)
        assert len(compiled.conditions) == len(stmt.conditions)


def test_draft_class_refuses_what_it_cannot_build() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Right:
        a: int

        def __init__(self, a: int) -> None:
            pass

    @dataclasses.dataclass(frozen=True, slots=True, weakref_slot=True)
    class Weak:
        a: int

        def __init__(self, a: int) -> None:
            pass

    @dataclasses.dataclass(frozen=True, slots=True)
    class Base:
        a: int

        def __init__(self, a: int) -> None:
            pass

    @dataclasses.dataclass(frozen=True, slots=True)
    class Derived(Base):
        b: int

        def __init__(self, a: int, b: int) -> None:
            pass

    draft = draft_class(Right)
    made = draft()
    made.a = 1
    object.__setattr__(made, "__class__", Right)
    assert type(made) is Right and made.a == 1
    for cls in (Weak, Derived):
        with pytest.raises(TypeError):
            draft_class(cls)
            pytest.fail(cls.__name__)
