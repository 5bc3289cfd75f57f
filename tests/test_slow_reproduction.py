"""Slow reproductions (run with `make test-slow` or `pytest -m slow`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tnborn.datasets import mnist

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "mps_han_fig3.py"


def _fig3_module():
    spec = importlib.util.spec_from_file_location("mps_han_fig3", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("bond", [10, 20])
def test_han_fig3_nll_against_bond(bond):
    """Converged training NLL on 1,000 MNIST images at or below Han et al. Fig. 3."""
    fig3 = _fig3_module()
    data = mnist(limit=1000, seed=0)
    _, history = fig3.train_to_convergence(data, bond, lr=0.2, max_sweeps=150, tol=0.002,
                                           seed=0, max_step=0.2, cutoff=0.0)
    assert history[-1]["train_nll"] <= fig3.PAPER_NLL[bond]
