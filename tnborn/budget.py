"""Training budgets and checkpoint intervals as numbers or text (no torch needed, so the
command line can parse them before torch is imported).

A budget is a number of sweeps (Born machines) or epochs (networks), a number of
training seconds, or both (whichever ends first). As text (the command line):

* ``"10"``: a bare integer is 10 sweeps or epochs;
* ``"60s"``, ``"2m"``, ``"1.5h"``, ``"0.5s"``: seconds, minutes or hours of training time.

Time budgets count training time only (the per-sweep/epoch evaluation of the NLLs is
excluded, as in the models' ``fit``), and stop after the update or minibatch that
reaches them.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_TEXT = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([smh]?)\s*$")


def _check_steps(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Budget:
    """At most ``steps`` sweeps/epochs and at most ``seconds`` of training time (None:
    no limit of that kind; at least one of them is set)."""

    steps: int | None = None
    seconds: float | None = None

    def __post_init__(self):
        if self.steps is None and self.seconds is None:
            raise ValueError("a budget needs a number of sweeps/epochs or of seconds")
        if self.steps is not None:
            _check_steps(self.steps, "budget steps")
        if self.seconds is not None and not (
                isinstance(self.seconds, numbers.Real) and not isinstance(self.seconds, bool)
                and math.isfinite(self.seconds) and self.seconds > 0):
            raise ValueError(f"budget seconds must be a finite number > 0, got {self.seconds!r}")

    def __str__(self) -> str:
        parts = []
        if self.steps is not None:
            parts.append(f"{self.steps} sweeps/epochs")
        if self.seconds is not None:
            parts.append(f"{self.seconds:g} s")
        return " or ".join(parts)


def parse_budget(value) -> Budget:
    """A :class:`Budget` from a Budget, a positive int (sweeps/epochs) or text such as
    ``"10"``, ``"60s"``, ``"2m"``, ``"1.5h"`` (see the module docstring).

    ValueError on anything else (a float is refused: write seconds with a unit).
    """
    if isinstance(value, Budget):
        return value
    steps, seconds = _parse(value, "budget")
    return Budget(steps=steps, seconds=seconds)


def parse_interval(value, name: str = "checkpoint_every") -> tuple[int | None, float | None]:
    """``(steps, None)`` or ``(None, seconds)`` from an int (every that many
    sweeps/epochs/steps) or a time with a unit (``"30s"``, ``"5m"``); ValueError otherwise."""
    return _parse(value, name)


def _parse(value, name: str) -> tuple[int | None, float | None]:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return _check_steps(value, name), None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a number of sweeps/epochs (int) or a time such as "
                         f"'60s' or '2m', got {value!r}")
    match = _TEXT.match(value)
    if match is None:
        raise ValueError(f"bad {name} {value!r}: give sweeps/epochs as an integer ('10') or "
                         "a time with a unit s, m or h ('60s', '2m')")
    number, unit = match.groups()
    if not unit:
        if "." in number:
            raise ValueError(f"bad {name} {value!r}: a number of sweeps/epochs must be a "
                             "whole number (add a unit s, m or h for a time)")
        return _check_steps(int(number), name), None
    seconds = float(number) * _UNITS[unit]
    if seconds <= 0:
        raise ValueError(f"bad {name} {value!r}: the time must be > 0")
    return None, seconds
