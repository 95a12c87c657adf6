"""A cheaper constructor for the frozen, slotted dataclasses built per statement.

A ``@dataclass(frozen=True)`` ``__init__`` sets each field through ``object.__setattr__(self,
"name", value)``: a global lookup, an attribute lookup and a store by name per field, about twice
the cost of building a mutable slotted instance. Parsing and compiling build several such values per
statement (``Statement``, ``ConditionClause``, ``CompiledStatement``, ``StatementRef``), so these
classes write their own ``__init__`` (``dataclass`` keeps an ``__init__`` the class defines), which
stores each field through its slot's own descriptor (``Cls.name.__set__``, taken from
:func:`slot_setters`): no lookup by name, and not through the frozen ``__setattr__``.

Nothing else changes: the class is the dataclass it was (``fields``, ``replace``, ``asdict``,
equality, hashing and ``repr`` as generated), and setting or deleting an attribute afterwards still
raises ``FrozenInstanceError``. :func:`slot_setters` refuses, at import, a class whose ``__init__``
does not take exactly its fields in order (``tests/unit/policy/test_frozen.py`` holds each such
class to the ``__init__`` ``dataclass`` would have made).

Where the most instances are built (the parser's quick path, ``compile_statement``), a builder
function fills a :func:`draft_class` instead, a plain class with the same slots, and then gives it
the frozen class: cheaper still, and the same instance.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

__all__ = ["Setter", "draft_class", "slot_setters"]

Setter = Callable[[Any, Any], None]


def slot_setters(cls: type) -> tuple[Setter, ...]:
    """The ``__set__`` of each field's slot of ``cls`` (a ``@dataclass(frozen=True, slots=True)``),
    in field order, for its hand-written ``__init__``. Raises TypeError where that ``__init__``
    would not build the instance the dataclass one does: parameters other than the fields in order,
    a default that differs, or a field that is not a plain ``__init__`` parameter."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__}: slot_setters takes a frozen, slotted dataclass")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: a hand-written __init__ would not run __post_init__")
    fields = dataclasses.fields(cls)
    init = cls.__dict__.get("__init__")
    code = getattr(init, "__code__", None)
    if code is None or code.co_filename == "<string>":  # dataclass generates its own from a string
        raise TypeError(f"{cls.__name__}: no __init__ of its own (the dataclass made it)")
    names = code.co_varnames[1 : code.co_argcount]
    if code.co_kwonlyargcount or code.co_flags & 0x0C or names != tuple(f.name for f in fields):
        raise TypeError(f"{cls.__name__}.__init__ must take exactly the fields, in order")
    defaults = init.__defaults__ or ()  # type: ignore[union-attr]
    expected = tuple(f.default for f in fields if f.default is not dataclasses.MISSING)
    if defaults != expected or any(
        f.default is dataclasses.MISSING for f in fields[len(fields) - len(defaults) :]
    ):
        raise TypeError(f"{cls.__name__}.__init__ must give the fields' defaults")
    setters: list[Setter] = []
    for f in fields:
        if not f.init or f.kw_only or f.default_factory is not dataclasses.MISSING:
            raise TypeError(f"{cls.__name__}.{f.name}: a plain field only")
        slot = cls.__dict__.get(f.name)
        if slot is None or type(slot).__name__ != "member_descriptor":
            raise TypeError(f"{cls.__name__}.{f.name}: not a slot of the class itself")
        setters.append(slot.__set__)
    return tuple(setters)


def draft_class(cls: type) -> Any:
    """A plain class with exactly the slots of ``cls`` (a frozen, slotted dataclass that
    :func:`slot_setters` accepts), for the few places that build many instances: fill a draft with
    ordinary attribute stores (about half the cost of the slot setters' calls), then make it a
    ``cls`` with ``object.__setattr__(draft, "__class__", cls)``. The result is the instance
    ``cls(...)`` builds from the same values, as frozen as any. A draft must get every field
    before it changes class (``tests/unit/policy/test_frozen.py`` holds each builder to the class's
    own ``__init__``). Raises TypeError at import where the layouts would not allow the change."""
    slot_setters(cls)
    names = tuple(f.name for f in dataclasses.fields(cls))
    if tuple(cls.__dict__["__slots__"]) != names or cls.__bases__ != (object,):
        raise TypeError(f"{cls.__name__}: a draft needs the fields as the only slots, on object")
    draft = type(f"{cls.__name__}Draft", (), {"__slots__": names, "__module__": cls.__module__})
    object.__setattr__(draft(), "__class__", cls)  # TypeError here if the layouts differ
    return draft
