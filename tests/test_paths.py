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


def test_the_interpolation_of_two_true_actions_is_the_true_action():
    from tnborn.physics import interpolate_action
    x = 1.4 * torch.randn(20, 64, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    actions = {b: DoubleWellPath(64, b).action for b in (20.0, 30.0, 40.0)}
    predicted = interpolate_action(actions[20.0], 20.0, actions[40.0], 40.0, 30.0)
    torch.testing.assert_close(predicted(x), actions[30.0](x), rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match="two different betas"):
        interpolate_action(actions[20.0], 20.0, actions[40.0], 20.0, 30.0)
    with pytest.raises(ValueError):
        interpolate_action(actions[20.0], 20.0, actions[40.0], 40.0, -1.0)


def test_compare_actions_reports_the_line_and_learned_action_is_minus_ln_p():
    from tnborn.flows import RealNVP
    from tnborn.physics import compare_actions, learned_action
    path = DoubleWellPath(4, 5.0)
    x = torch.randn(200, 4, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    exact = compare_actions(lambda y: 2 * path.action(y) + 3, path.action, x)
    assert exact["slope"] == pytest.approx(2, abs=1e-10)
    assert exact["offset"] == pytest.approx(3, abs=1e-8) and exact["r2"] == pytest.approx(1)
    noise = torch.randn(200, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    noisy = compare_actions(lambda y: path.action(y) + noise * path.action(y).std(),
                            path.action, x)
    assert 0.3 < noisy["r2"] < 0.7  # signal and noise of equal variance: r2 near 1/2
    standard_normal = learned_action(RealNVP(4, seed=0))  # untrained: N(0, I)
    torch.testing.assert_close(standard_normal(x), 0.5 * (x * x).sum(1)
                               + 2 * np.log(2 * np.pi), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="non-finite"):
        compare_actions(path.action, path.action, torch.full((5, 4), float("nan")))
    with pytest.raises(TypeError):
        learned_action(path)


def test_double_well_paths_are_seeded_and_follow_the_oscillator():
    from tnborn.datasets import double_well_paths
    paths = double_well_paths(16, 4.0, 2000, seed=0, lam=0.0, omega=1.0, burn_in=150)
    assert paths.shape == (2000, 16) and paths.dtype == torch.float64
    again = double_well_paths(16, 4.0, 50, seed=0, lam=0.0, omega=1.0, burn_in=150)
    x2 = (paths ** 2).mean(1)
    exact = DoubleWellPath(16, 4.0, lam=0.0, omega=1.0).exact_x2()
    assert abs(float(x2.mean()) - exact) < 4 * float(x2.std()) / 2000 ** 0.5
    torch.testing.assert_close(again, paths[:50], rtol=0, atol=0)  # the same chains


def test_action_monte_carlo_on_a_callable_reproduces_the_harmonic_oscillator():
    """ActionChains (one-site Metropolis on the full action, HMC by autograd) knows
    nothing of the path's locality: given its action as a plain callable it must still
    reproduce the exact <x^2>."""
    from tnborn.physics import action_monte_carlo
    path = DoubleWellPath(10, 4.0, lam=0.0, omega=1.0)
    result = action_monte_carlo(lambda x: path.action(x), 10, chains=32, sweeps=500,
                                burn_in=150, seed=3, step=0.6)
    x2 = result["x2"]
    assert x2.reliable, x2.warnings
    assert abs(x2.value - path.exact_x2()) < 3 * x2.stderr, (x2, path.exact_x2())
    assert 0.35 < result["acceptance_metropolis"] < 0.65
    with pytest.raises(TypeError, match="callable"):
        action_monte_carlo("S", 10, seed=0)


def test_symmetry_copies_keep_the_true_action_and_the_symmetrized_action_is_normalized():
    from tnborn import ContinuousMADE
    from tnborn.action_workflow import symmetrized_action
    from tnborn.datasets import path_symmetry_copies
    from tnborn.supports import Real
    g = torch.Generator().manual_seed(4)
    path = DoubleWellPath(12, 5.0)
    x = torch.randn(50, 12, generator=g, dtype=torch.float64)
    images = path_symmetry_copies(x, 3, generator=g)
    assert images.shape == (150, 12)
    torch.testing.assert_close(path.action(images), path.action(x).repeat(3), rtol=1e-12,
                               atol=1e-12)
    assert not torch.equal(images[:50], x)
    # the group average over both time shifts and the sign flip of a 2-site model is a
    # normalized density (quadrature) with the symmetries of the group
    model = ContinuousMADE(2, support=Real(), family="gaussian", components=2, hidden=8,
                           seed=1)
    action = symmetrized_action(model, 2)
    grid = torch.linspace(-9, 9, 601, dtype=torch.float64)
    mesh = torch.cartesian_prod(grid, grid)
    step = float(grid[1] - grid[0])
    with torch.no_grad():
        mass = float(torch.exp(-action(mesh)).sum()) * step ** 2
        assert mass == pytest.approx(1.0, abs=1e-6)
        y = torch.randn(20, 2, generator=g, dtype=torch.float64)
        torch.testing.assert_close(action(y), action(torch.roll(y, 1, -1)))
        torch.testing.assert_close(action(y), action(-y))
    with pytest.raises(ValueError, match="divide"):
        symmetrized_action(model, 3)
    with pytest.raises(ValueError, match="non-finite"):
        path_symmetry_copies(torch.full((2, 4), float("nan")), 1, generator=g)
