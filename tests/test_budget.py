"""fit(max_seconds=...) stops every model's training at a time budget."""

from __future__ import annotations

import pytest
import torch

from tnborn import MADE, MPSBornMachine, TTNBornMachine
from tnborn.datasets import bars_and_stripes

MODELS = {
    "mps": (lambda: MPSBornMachine(16, seed=0), "sweeps"),
    "ttn": (lambda: TTNBornMachine(16, layout=(4, 4), seed=0), "sweeps"),
    "made": (lambda: MADE(16, hidden=32, depth=2), "epochs"),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_training_stops_at_the_budget(name):
    make, count = MODELS[name]
    model = make()
    data = bars_and_stripes(4, 4).repeat(20, 1)
    history = model.fit(data, **{count: 10 ** 6}, max_seconds=0.3, progress=False,
                        batch_size=10)
    assert 1 <= len(history) < 10 ** 6
    assert history[-1]["seconds"] >= 0.3
    assert all(not record.get("partial") for record in history[:-1])
    assert [r["step"] for r in history] == list(range(1, len(history) + 1))
    assert torch.isfinite(torch.tensor(history[-1]["train_nll"]))
    assert model.nll(data) == pytest.approx(history[-1]["train_nll"], abs=1e-9)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_bad_budget(name):
    make, count = MODELS[name]
    with pytest.raises(ValueError, match="max_seconds"):
        make().fit(bars_and_stripes(4, 4), **{count: 1}, max_seconds=0, progress=False)


def test_budget_module_and_training_reexports():
    import subprocess
    import sys

    import tnborn.budget
    import tnborn.training

    assert tnborn.training.Budget is tnborn.budget.Budget
    assert tnborn.training.parse_budget is tnborn.budget.parse_budget
    assert tnborn.budget.parse_budget("60s") == tnborn.budget.Budget(seconds=60.0)
    assert tnborn.budget.parse_budget(7) == tnborn.budget.Budget(steps=7)
    parse_interval = tnborn.budget.parse_interval
    assert parse_interval(5) == (5, None)
    assert parse_interval("30s") == (None, 30.0) and parse_interval("5m") == (None, 300.0)
    for bad in (0, 1.5, True, "abc", "0s", "2.5"):
        with pytest.raises(ValueError, match="checkpoint_every"):
            parse_interval(bad)
    # the budget parser needs no torch (the command line parses before importing it)
    code = "import sys, tnborn.budget; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "False", result.stderr


def test_train_model_puts_the_budget_on_the_fit_unit():
    from tnborn.training import Budget, train_model

    data = bars_and_stripes(4, 4)
    history = train_model(MADE(16, hidden=16, depth=1, seed=0), data, budget="3",
                          progress=False, batch_size=10)
    assert [r["step"] for r in history] == [1, 2, 3]
    history = train_model(MPSBornMachine(16, seed=0), data, budget=Budget(steps=2),
                          progress=False)
    assert [r["step"] for r in history] == [1, 2]
    with pytest.raises(ValueError, match="budget"):
        train_model(MADE(16, hidden=16, depth=1, seed=0), data, progress=False)
