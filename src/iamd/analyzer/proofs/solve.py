"""Run one query through z3 and read a satisfying model back as a concrete request.

Each query gets its own z3 context (z3's default context is not safe to share between threads,
and checks run on worker threads) and a time limit; an ``unknown`` answer (time out, or a string
constraint z3 gives up on) is never read as a proof.

z3 is imported by the first query, not with this module: the server imports the checks with
Access Analyzer's operations, and most servers never run one.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from iamd.analyzer.proofs.encode import Encoder
from iamd.policy.variables import ContextValue

if TYPE_CHECKING:
    import z3

__all__ = ["Model", "Undecided", "solve"]


class Undecided(Exception):
    """The solver could not answer within its budget (or at all): no PASS can be claimed."""


_ESCAPE = re.compile(r"\\u\{([0-9a-fA-F]+)\}")


def _text(value: z3.ExprRef) -> str:
    import z3

    raw = value.as_string() if isinstance(value, z3.SeqRef) else str(value)
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), raw)


@dataclass(frozen=True)
class Model:
    values: Mapping[str, z3.ExprRef]

    def flag(self, name: str) -> bool:
        import z3

        value = self.values.get(name)
        return value is not None and z3.is_true(value)

    def integer(self, name: str, default: int = 0) -> int:
        import z3

        value = self.values.get(name)
        return value.as_long() if isinstance(value, z3.IntNumRef) else default

    def string(self, name: str) -> str:
        value = self.values.get(name)
        return "" if value is None else _text(value)


def solve(encoder: Encoder, goal: str, timeout_ms: int, spent: list[float] | None = None) -> Model | None:
    """A model of ``goal`` (an SMT-LIB Boolean over the encoder's names), or None when none
    exists. Raises ``Undecided`` when z3 cannot tell within ``timeout_ms``. The seconds z3 spent
    are appended to ``spent`` (z3's own statistics: no clock is read here)."""
    import z3

    ctx = z3.Context()
    solver = z3.Solver(ctx=ctx)
    solver.set("timeout", max(1, int(timeout_ms)))
    solver.from_string(f"{encoder.text()}\n(assert {goal})")
    answer = solver.check()
    if spent is not None:
        stats = solver.statistics()
        keys = stats.keys()  # a z3 Statistics object, not a dict
        spent.append(float(stats.get_key_value("time")) if "time" in keys else 0.0)
    if answer == z3.unsat:
        return None
    if answer != z3.sat:
        reason = solver.reason_unknown()
        raise Undecided(
            "the solver could not decide within its time budget"
            if "timeout" in reason or "canceled" in reason
            else f"the solver could not decide ({reason})"
        )
    model = solver.model()
    return Model({d.name(): model[d] for d in model.decls() if d.arity() == 0})


def context_of(encoder: Encoder, model: Model) -> dict[str, ContextValue]:
    """The condition keys of a model, written the way a request carries them."""
    out: dict[str, ContextValue] = {}
    for key, kv in encoder.keys.items():
        kind = model.integer(kv.kind)
        if kind == 1:
            out[key] = _slot_text(encoder, kv.views.get(kv.value), kv.value, model)
        elif kind == 2:
            count = model.integer(kv.count)
            out[key] = tuple(
                _slot_text(encoder, kv.views.get(kv.element(i)), kv.element(i), model) for i in range(count)
            )
    return out


def _slot_text(encoder: Encoder, views: object, slot: str, model: Model) -> str:
    if views is None or getattr(views, "string", False):
        return model.string(slot)
    for kind in ("num", "date"):
        if getattr(views, kind, False):
            if not model.flag(f"{slot}_{kind}_ok"):
                return "not-a-number"
            # the scale is a power of ten: the quotient is exact
            return _decimal(Decimal(model.integer(f"{slot}_{kind}")) / Decimal(encoder.scale(kind)))
    if getattr(views, "ip", False):
        if not model.flag(f"{slot}_ip_ok"):
            return "not-an-address"
        number = model.integer(f"{slot}_ip")
        if model.integer(f"{slot}_ipver") == 6:
            return str(ipaddress.IPv6Address(number))
        return str(ipaddress.IPv4Address(number))
    return model.string(slot)


def _decimal(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
