"""Slow reproductions (run with `make test-slow` or `pytest -m slow`)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from tnborn import MPSBornMachine
from tnborn.datasets import mnist

pytestmark = pytest.mark.slow

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _script_module(filename):
    """Import a benchmark script as a module (registered in sys.modules, which its
    dataclasses need while the module runs)."""
    spec = importlib.util.spec_from_file_location(Path(filename).stem, BENCHMARKS / filename)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("bond, target, sweeps", [(10, 95.19, 30), (20, 77.10, 80)])
def test_han_fig3_nll_by_fit_alone(bond, target, sweeps):
    """``fit`` defaults other than max_bond (the line-searched steps; the stopping rule
    tol = 1e-3) reach Han et al.'s converged training NLL on 1,000 MNIST images (measured
    on 2026-12-06: D = 10 at sweep 10, D = 20 at sweep 57; benchmarks/mps_time_to_nll.py)."""
    model = MPSBornMachine(784, max_bond=bond, seed=0)
    history = model.fit(mnist(limit=1000, seed=0), sweeps=sweeps, tol=1e-3, progress=False)
    assert min(record["train_nll"] for record in history) <= target


@pytest.mark.parametrize("bond", [50, 100])
def test_han_fig3_nll_against_bond(bond):
    """Converged training NLL on 1,000 MNIST images at or below Han et al. Fig. 3, by the
    script's recipe for this bond (bond annealing and a settle at D = 100); ``fit`` alone
    has not yet been shown to get there at these bonds."""
    fig3 = _script_module("mps_han_fig3.py")
    data = mnist(limit=1000, seed=0)
    _, history = fig3.reproduce(data, bond, fig3.RECIPES[bond], seed=0)
    assert history[-1]["train_nll"] <= fig3.PAPER_NLL[bond]


@pytest.mark.parametrize("name", ["made-L4", "made-L8", "pixelcnn-L8", "han-L8"])
def test_van_ising_free_energy(name):
    """VAN at beta = 0.44: |F/N - exact| within the issue's target for each network."""
    van = _script_module("van_ising_reproduction.py")
    row = van.run(name, samples=200_000, progress=False)
    assert abs(row["variational_error"]) <= row["target"]
    assert abs(row["importance_error"]) <= row["target"]


def test_biazzo_sk_nets_n20():
    """SK, N = 20 (seed-fixed couplings), beta in {0.5, 1, 1.5, 2}: the best of the trained
    SK-RS, 1RSB and 2RSB nets is within 1e-3 (relative) of the exact free energy at every
    beta, by the recipe of benchmarks/biazzo_sk.py; the MADE of equal size is measured
    beside them (docs/results_biazzo.md)."""
    biazzo = _script_module("biazzo_sk.py")
    rows = biazzo.run("sk", 20, [0.5, 1.0, 1.5, 2.0], 1500, 1000, 0)
    for beta in (0.5, 1.0, 1.5, 2.0):
        at_beta = [r for r in rows if r["beta"] == beta]
        best = min(r["relative_error"] for r in at_beta if r["net"].startswith("SK"))
        assert best <= 1e-3, (beta, best)
        assert any(r["net"] == "MADE" for r in at_beta)


def test_learn_hamiltonian_from_wolff_samples(tmp_path):
    """A MADE trained on 20,000 Wolff samples (4x4, beta = 0.3) gives back beta J = 0.3
    within 10% on every bond, |other couplings| < 0.03 and fields near 0."""
    example_dir = BENCHMARKS.parent / "examples"
    sys.path.insert(0, str(example_dir))
    try:
        spec = importlib.util.spec_from_file_location("learn_hamiltonian",
                                                      example_dir / "learn_hamiltonian.py")
        example = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(example)
        result = example.main(["--out", str(tmp_path), "--no-progress"])
    finally:
        sys.path.remove(str(example_dir))
    assert 0.27 <= result["nearest_min"] and result["nearest_max"] <= 0.33
    assert result["others_max_abs"] < 0.03
    assert result["fields_max_abs"] < 0.01


def test_can_made_on_the_xy_ring():
    """XY ring n = 16, beta = 1, the recipe of benchmarks/xy_reproduction.py: the trained
    CAN-MADE's variational F within 1e-3 (relative) of the Bessel sum, the
    importance-sampled F within 3 standard errors (measured 3.1e-4 and +0.57 sigma)."""
    import argparse

    xy = _script_module("xy_reproduction.py")
    ring = xy.ring_point(argparse.Namespace(seed=0, ring_steps=2000))
    assert abs(ring["relative_error_variational"]) <= 1e-3
    assert abs(ring["sigmas_importance"]) <= 3


def test_rotation_symmetry_of_learned_xy_models():
    """L = 8 at T = 1 (benchmarks/xy_symmetry.py): a CAN fitted to samples without a field
    shows no broken rotation (|z| < 3 at six angles); with h = 0.1 it does (z > 5 at
    every angle but 0)."""
    sym = _script_module("xy_symmetry.py")
    table = sym.rotation_table(8, 8000, 20, [0.0, 0.1])
    assert all(abs(r["z"]) < 3 for r in table[0.0])
    assert all(r["z"] > 5 for r in table[0.1][1:])


@pytest.mark.parametrize("beta", [0.3, 0.44])
def test_realnvp_on_the_dual_ising_model(beta):
    """L = 4 (issue 19): a Z2 RealNVP trained by density distillation has its variational
    ln Z within 1 % of Kaufman's, the importance-sampled ln Z within 3 standard errors,
    and the neural MCMC Ising energy within 3 standard errors of the exact energy."""
    runs = _script_module("flow_dual_ising_runs.py")
    row = runs.run_point(4, beta, "realnvp", steps=8000, batch=512, lr=1e-3, seed=0,
                         num=100_000, mcmc_steps=4000, chains=100)
    assert abs(row["log_z_variational_rel_err"]) < 0.01
    assert abs(row["log_z_importance_sigmas"]) < 3
    assert abs(row["energy_mcmc_sigmas"]) < 3 and row["mcmc_reliable"]
