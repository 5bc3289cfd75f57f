"""Budgeted training of any tnborn model (budgets themselves: :mod:`tnborn.budget`)."""

from __future__ import annotations

import torch

from .base import GenerativeModel
from .budget import Budget, parse_budget

__all__ = ["Budget", "UNLIMITED_STEPS", "parse_budget", "train_model"]

# sweeps/epochs passed to fit when only seconds limit the training
UNLIMITED_STEPS = 1_000_000


def train_model(model: GenerativeModel, data, *, budget=None, test_data=None,
                progress: bool = True, generator: torch.Generator | None = None,
                **options) -> list[dict]:
    """Fit ``model`` to ``data`` within ``budget`` (anything :func:`parse_budget` takes;
    ignored by a model fitted in closed form).

    The budget's count goes to the keyword the model names in ``fit_unit`` (``sweeps``
    for Born machines, ``epochs`` for networks; with only a time budget it is
    :data:`UNLIMITED_STEPS`), its seconds to ``max_seconds``, with ``progress`` and
    ``generator``; a model fitted in one closed-form step (``fit_unit`` None) takes none
    of these. ``options`` (e.g. ``lr``, ``batch_size``, ``checkpoint``) go to ``fit`` as
    they are; what is not given keeps the model's own defaults. Returns the model's
    history (one dict per sweep/epoch).
    """
    if not isinstance(model, GenerativeModel):
        raise TypeError(f"cannot train a {type(model).__name__}: expected a tnborn "
                        "GenerativeModel")
    if model.fit_unit is None:
        return model.fit(data, test_data=test_data, **options)
    if budget is None:
        raise ValueError(f"training a {type(model).__name__} needs a budget of "
                         f"{model.fit_unit} or seconds")
    budget = parse_budget(budget)
    options[model.fit_unit] = budget.steps if budget.steps is not None else UNLIMITED_STEPS
    return model.fit(data, test_data=test_data, progress=progress, generator=generator,
                     max_seconds=budget.seconds, **options)
