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
