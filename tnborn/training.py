"""Training budgets and budgeted training of any tnborn model.

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

import torch

from .arnn.base import AutoregressiveModel
from .base import GenerativeModel
from .born import TensorNetworkBornMachine
from .checks import check_int

# sweeps/epochs passed to fit when only seconds limit the training
UNLIMITED_STEPS = 1_000_000
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_BUDGET_TEXT = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([smh]?)\s*$")

# fit options per model family (overridden by train_model's keyword arguments); lr None:
# each Born machine's own default step size
BORN_FIT_DEFAULTS = {"lr": None, "batch_size": None}
NETWORK_FIT_DEFAULTS = {"lr": 1e-3, "batch_size": 100}


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
            check_int(self.steps, "budget steps", 1)
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
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return Budget(steps=check_int(value, "budget", 1))
    if not isinstance(value, str):
        raise ValueError(f"budget must be a number of sweeps/epochs (int) or a time such as "
                         f"'60s' or '2m', got {value!r}")
    match = _BUDGET_TEXT.match(value)
    if match is None:
        raise ValueError(f"bad budget {value!r}: give sweeps/epochs as an integer ('10') or "
                         "a time with a unit s, m or h ('60s', '2m')")
    number, unit = match.groups()
    if not unit:
        if "." in number:
            raise ValueError(f"bad budget {value!r}: a number of sweeps/epochs must be a "
                             "whole number (add a unit s, m or h for a time)")
        return Budget(steps=check_int(int(number), "budget", 1))
    seconds = float(number) * _UNITS[unit]
    if seconds <= 0:
        raise ValueError(f"bad budget {value!r}: the time must be > 0")
    return Budget(seconds=seconds)


def fit_defaults(model: GenerativeModel) -> dict:
    """The preset fit options (``lr``, ``batch_size``) of ``model``'s family."""
    if isinstance(model, TensorNetworkBornMachine):
        return dict(BORN_FIT_DEFAULTS)
    if isinstance(model, AutoregressiveModel):
        return dict(NETWORK_FIT_DEFAULTS)
    raise TypeError(f"cannot train a {type(model).__name__}: expected a tensor-network "
                    "Born machine or an autoregressive network")


def train_model(model: GenerativeModel, data, *, budget, test_data=None,
                progress: bool = True, generator: torch.Generator | None = None,
                **options) -> list[dict]:
    """Fit ``model`` to ``data`` within ``budget`` (anything :func:`parse_budget` takes).

    Born machines run ``fit(sweeps=..., max_seconds=...)``, autoregressive networks
    ``fit(epochs=..., max_seconds=...)``; with only a time budget the sweep/epoch count is
    :data:`UNLIMITED_STEPS`. ``options`` (e.g. ``lr``, ``batch_size``) override
    :func:`fit_defaults`. Returns the model's history (one dict per sweep/epoch).
    """
    budget = parse_budget(budget)
    options = {**fit_defaults(model), **options}
    steps = budget.steps if budget.steps is not None else UNLIMITED_STEPS
    count = "sweeps" if isinstance(model, TensorNetworkBornMachine) else "epochs"
    return model.fit(data, **{count: steps}, max_seconds=budget.seconds,
                     test_data=test_data, progress=progress, generator=generator, **options)
