"""The double-well path (issue 20, first step): the action and its K / U split against a
direct numpy loop, the gradient against autograd, the Monte Carlo against the exact
harmonic-oscillator <x^2>, the observables against direct loops, and refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tnborn.physics import DoubleWellPath, kink_count, path_correlator, path_monte_carlo


def numpy_action(x, beta, lam, v, m, omega):
    n = len(x)
    a = beta / n
    total = 0.0
    for i in range(n):
        total += m * (x[(i + 1) % n] - x[i]) ** 2 / (2 * a)
        total += a * (lam / 4 * (x[i] ** 2 - v ** 2) ** 2 + m * omega ** 2 * x[i] ** 2 / 2)
    return total


@pytest.mark.parametrize("n, beta, lam, omega", [(8, 20.0, 4.0, 0.0), (7, 3.0, 1.0, 0.5),
                                                 (64, 40.0, 4.0, 0.0)])
def test_action_and_its_split_match_a_direct_loop(n, beta, lam, omega):
    path = DoubleWellPath(n, beta, lam=lam, v=1.4, m=1.3, omega=omega)
    x = torch.randn(5, n, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    expected = [numpy_action(row, beta, lam, 1.4, 1.3, omega) for row in x.numpy()]
    np.testing.assert_allclose(path.action(x).numpy(), expected, rtol=1e-12)
    kinetic = [0.5 * n * 1.3 * np.sum((np.roll(r, -1) - r) ** 2) for r in x.numpy()]
    np.testing.assert_allclose(path.kinetic_part(x).numpy(), kinetic, rtol=1e-12)
    torch.testing.assert_close(path.kinetic_part(x) / beta + beta * path.potential_part(x),
                               path.action(x), rtol=1e-13, atol=0)
    torch.testing.assert_close(path.log_density(x), -path.action(x))
    grad = torch.autograd.functional.jacobian(lambda y: path.action(y).sum(), x)
    torch.testing.assert_close(path._gradient(x), grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n", [16, 17])
def test_monte_carlo_reproduces_the_harmonic_oscillator(n):
    path = DoubleWellPath(n, 4.0, lam=0.0, omega=1.0)
    result = path_monte_carlo(path, chains=32, sweeps=600, burn_in=150, seed=1)
    x2 = result["x2"]
    assert x2.reliable, x2.warnings
    assert abs(x2.value - path.exact_x2()) < 3 * x2.stderr
    assert 0.35 < result["acceptance_metropolis"] < 0.65
    assert 0.4 < result["acceptance_hmc"] < 0.95
    # the correlator at t = 0 is <x^2>
    assert float(result["correlator"][0]) == pytest.approx(x2.value, rel=1e-12)


def test_observables_against_direct_loops():
    x = torch.randn(3, 12, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    for row, value in zip(x.numpy(), path_correlator(x).numpy()):
        direct = [np.mean([row[i] * row[(i + t) % 12] for i in range(12)]) for t in range(12)]
        np.testing.assert_allclose(value, direct, atol=1e-12)
    step = torch.tensor([[1.0] * 6 + [-1.0] * 6, [1.0] * 12, [1.0, -1.0] * 6])
    assert kink_count(step, smooth=1).tolist() == [2.0, 0.0, 12.0]
    assert kink_count(step, smooth=3).tolist()[:2] == [2.0, 0.0]


def test_bad_paths_and_parameters_are_refused():
    path = DoubleWellPath(8, 20.0)
    with pytest.raises(ValueError, match="non-finite"):
        path.action(torch.full((2, 8), float("nan"), dtype=torch.float64))
    with pytest.raises(ValueError, match="8 sites"):
        path.action(torch.zeros(2, 9, dtype=torch.float64))
    with pytest.raises(ValueError):
        DoubleWellPath(8, 0.0)
    with pytest.raises(ValueError):
        DoubleWellPath(8, -1.0)
    with pytest.raises(ValueError, match="mass term"):
        DoubleWellPath(8, 1.0, lam=0.0)
    with pytest.raises(ValueError, match="lam = 0"):
        path.exact_x2()
    with pytest.raises(TypeError, match="DoubleWellPath"):
        path_monte_carlo(object(), seed=0)
