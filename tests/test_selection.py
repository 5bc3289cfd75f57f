"""Model selection on validation data (the best-validation state is the one returned),
early stopping, CPU-time budgets, and their checkpoints."""

from __future__ import annotations

import pytest
import torch

from tnborn import MADE, MPSBornMachine
from tnborn.datasets import digits


@pytest.fixture(scope="module")
def tiny():
    """40 training digits (easy to overfit), 200 validation and 200 test digits."""
    train = digits(split="train")
    test = digits(split="test")
    return train[:40], train[40:240], test[:200]


def _best(history):
    return min(history, key=lambda record: record["val_nll"])


def test_the_returned_model_is_the_best_validation_state(tiny):
    train, val, test = tiny
    model = MADE(64, hidden=128, seed=0)
    history = model.fit(train, epochs=60, lr=1e-2, batch_size=10, val_data=val,
                        test_data=test, progress=False)
    best = _best(history)
    assert history[-1]["val_nll"] > best["val_nll"] + 1.0  # it overfits past its optimum
    assert history[-1]["train_nll"] < best["train_nll"]
    # the model now is the best-validation state, not the last one
    assert model.nll(val) == pytest.approx(best["val_nll"], abs=1e-12)
    assert model.nll(test) == pytest.approx(best["test_nll"], abs=1e-12)
    assert model.nll(test) < history[-1]["test_nll"] - 1.0
    assert history[-1]["stopped_by"] == "budget"


def test_patience_stops_early_and_the_born_machine_is_restored_canonical(tiny):
    train, val, _ = tiny
    model = MPSBornMachine(64, max_bond=12, seed=0)
    history = model.fit(train, sweeps=40, val_data=val, patience=2, progress=False)
    best = _best(history)
    assert history[-1]["stopped_by"] == "early_stop"
    assert len(history) == best["step"] + 2 < 40
    assert all(r["val_nll"] >= best["val_nll"] for r in history[best["step"]:])
    assert model.nll(val) == pytest.approx(best["val_nll"], abs=1e-10)
    assert model._is_canonical()
    with pytest.raises(ValueError, match="patience needs val_data"):
        MADE(64, hidden=8).fit(train, epochs=2, patience=2, progress=False)


def test_selection_survives_a_checkpoint(tiny, tmp_path):
    train, val, _ = tiny
    path = tmp_path / "made.pt"

    def run(epochs, **kwargs):
        model = MADE(64, hidden=32, seed=1)
        history = model.fit(train, epochs=epochs, lr=1e-2, batch_size=10, val_data=val,
                            progress=False, **kwargs)
        return model, history

    run(8, checkpoint=path)
    resumed, history = run(16, resume=path)
    straight, expected = run(16)
    assert [r["val_nll"] for r in history] == [r["val_nll"] for r in expected]
    for a, b in zip(resumed.parameters(), straight.parameters()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="val data differ"):
        MADE(64, hidden=32, seed=1).fit(train, epochs=16, lr=1e-2, batch_size=10,
                                         val_data=val[:50], resume=path, progress=False)


def test_a_cpu_time_budget_counts_cpu_seconds(tiny):
    train, _, _ = tiny
    model = MADE(64, hidden=64, seed=0)
    history = model.fit(train, epochs=100_000, batch_size=10, max_seconds=0.3, clock="cpu",
                        progress=False)
    cpu = [r["cpu_seconds"] for r in history]
    assert cpu == sorted(cpu) and cpu[-1] >= 0.3 and (len(cpu) == 1 or cpu[-2] < 0.3)
    assert history[-1]["stopped_by"] == "budget"
    with pytest.raises(ValueError, match="clock must be"):
        model.fit(train, epochs=1, clock="gpu", progress=False)
