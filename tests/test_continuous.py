"""Continuous autoregressive networks (CAN): normalization by quadrature up to 4 angles,
maximum likelihood against an exact entropy, variational free energies of the XY ring
against its Bessel sum, and the refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tnborn import Circle, ContinuousMADE, ContinuousPixelCNN, Interval, Real, load
from tnborn.physics import XY2D, XYChain, free_energy, neural_mcmc, train_variational

TWO_PI = 2 * math.pi


def tanh_sinh(count, lo, hi):
    t = np.linspace(-3.2, 3.2, count)
    inner = np.pi / 2 * np.sinh(t)
    u = np.tanh(inner)
    w = (t[1] - t[0]) * np.pi / 2 * np.cosh(t) / np.cosh(inner) ** 2
    x = lo + (hi - lo) / 2 * (u + 1)
    keep = (x > lo) & (x < hi)  # the circle excludes 2 pi
    return x[keep], (hi - lo) / 2 * w[keep]


def product_mass(model, nodes, weights):
    """sum over the product grid of prod_i w_i * q(x), in chunks."""
    n = model.n_sites
    grid = torch.cartesian_prod(*[torch.tensor(nodes)] * n).reshape(-1, n)
    wgrid = torch.cartesian_prod(*[torch.tensor(weights)] * n).reshape(-1, n).prod(1)
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(grid), 200_000):
            chunk = slice(start, start + 200_000)
            total += float((wgrid[chunk] * torch.exp(model.log_prob(grid[chunk]))).sum())
    return total


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_von_mises_can_is_normalized(n):
    """The periodic trapezoid rule is spectrally accurate for a smooth periodic density."""
    model = ContinuousMADE(n, components=3, hidden=8, seed=n)
    count = {1: 64, 2: 64, 3: 48, 4: 28}[n]
    nodes = np.arange(count) * TWO_PI / count
    assert product_mass(model, nodes, np.full(count, TWO_PI / count)) == pytest.approx(
        1.0, abs=1e-6)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_beta_and_pixelcnn_cans_are_normalized(n):
    nodes, weights = tanh_sinh({1: 400, 2: 200, 3: 70}[n], 0.0, TWO_PI)
    model = ContinuousMADE(n, family="beta", components=2, hidden=8, seed=n)
    assert product_mass(model, nodes, weights) == pytest.approx(1.0, abs=1e-6)
    pixel = ContinuousPixelCNN((1, n), components=2, channels=3, layers=2, seed=n)
    count = {1: 64, 2: 64, 3: 48}[n]
    grid = np.arange(count) * TWO_PI / count
    assert product_mass(pixel, grid, np.full(count, TWO_PI / count)) == pytest.approx(
        1.0, abs=1e-6)


def test_gaussian_and_interval_cans_are_normalized():
    gauss = ContinuousMADE(2, support=Real(), family="gaussian", components=2, hidden=8,
                           seed=0)
    x, w = np.polynomial.legendre.leggauss(400)
    assert product_mass(gauss, 40 * x, 40 * w) == pytest.approx(1.0, abs=1e-6)
    box = ContinuousMADE(2, support=Interval(-1.0, 2.0), family="beta", hidden=8, seed=0)
    assert product_mass(box, *tanh_sinh(200, -1.0, 2.0)) == pytest.approx(1.0, abs=1e-6)


# ------------------------------------------------------------ maximum likelihood
def test_maximum_likelihood_approaches_the_exact_entropy():
    """Exact samples of the open XY chain (independent bond angles, von Mises with
    kappa = beta J) of 3 sites: the fitted CAN's test NLL approaches the entropy
    H = ln Z + beta <E> from Bessel functions."""
    beta, n = 2.0, 3
    chain = XYChain(n, periodic=False)
    entropy = chain.exact_log_z(beta) + beta * chain.exact_energy(beta)
    g = torch.Generator().manual_seed(0)
    from tnborn.circular import von_mises

    def draw(num):
        first = TWO_PI * torch.rand(num, 1, generator=g, dtype=torch.float64)
        steps = von_mises(torch.zeros(num, n - 1, dtype=torch.float64),
                          torch.full((num, n - 1), beta, dtype=torch.float64), g)
        return torch.remainder(torch.cumsum(torch.cat([first, steps], 1), 1), TWO_PI)

    train, test = draw(6000), draw(4000)
    model = ContinuousMADE(n, components=2, hidden=24, seed=0)
    history = model.fit(train, epochs=40, lr=1e-2, batch_size=200, test_data=test,
                        progress=False)
    assert history[-1]["test_nll"] < history[0]["test_nll"]
    log_p = -beta * chain.energy(test) - chain.exact_log_z(beta)  # the exact density
    stderr = float(log_p.std()) / math.sqrt(len(test))
    assert float(-log_p.mean()) == pytest.approx(entropy, abs=4 * stderr)
    # the fit's excess over p on the same test draws (KL + noise of the difference)
    assert 0 < model.nll(test) - float(-log_p.mean()) < 0.03


# --------------------------------------------------------------- variational
def test_variational_free_energy_of_the_xy_ring():
    """n = 8, beta = 1: the trained CAN's variational F lies above the exact one and
    within 5e-3 (measured 1.5e-3); importance sampling agrees within 3 standard errors;
    neural MCMC reproduces the exact energy."""
    ring, beta = XYChain(8), 1.0
    exact = -ring.exact_log_z(beta) / beta
    model = ContinuousMADE(8, components=2, hidden=32, seed=0)
    history = train_variational(model, ring, beta, steps=400, batch_size=400, lr=1e-2,
                                beta_anneal=0.97, progress=False, log_every=50)
    assert history[-1]["beta_reached"]
    result = free_energy(model, ring, beta, num=20_000, generator=torch.Generator().manual_seed(1))
    assert result["F_variational"] > exact - 3 * result["F_variational_err"]
    assert abs(result["F_variational"] - exact) / abs(exact) < 5e-3
    assert result["reliable"]
    assert abs(result["F_importance"] - exact) < 3 * result["F_importance_err"] + 1e-9
    mcmc = neural_mcmc(model, ring, beta, steps=400, chains=100,
                       generator=torch.Generator().manual_seed(2))
    assert abs(mcmc["energy"] - ring.exact_energy(beta)) < 4 * mcmc["energy_err"]


def test_a_can_trains_on_the_2d_xy_model_and_saves():
    model = ContinuousPixelCNN((3, 3), components=2, channels=4, layers=2, seed=0)
    lattice = XY2D(3)
    history = train_variational(model, lattice, 1.0, steps=60, batch_size=128, lr=1e-2,
                                progress=False)
    first, last = (np.mean([h["free_energy"] for h in part])
                   for part in (history[:10], history[-10:]))
    assert last < first - 0.5
    result = free_energy(model, lattice, 1.0, num=500)
    assert 0 <= result["magnetization"] <= 1


def test_save_and_load_keep_the_mixture(tmp_path):
    model = ContinuousMADE(4, support=Interval(-2.0, 1.0), family="beta", components=3,
                           hidden=8, seed=0)
    model.save(tmp_path / "can.pt")
    loaded = load(tmp_path / "can.pt")
    x = model.sample(10, generator=torch.Generator().manual_seed(0))
    assert loaded.support == Interval(-2.0, 1.0) and loaded.mixture.family == "beta"
    torch.testing.assert_close(loaded.log_prob(x), model.log_prob(x), rtol=0, atol=0)


def test_cans_refuse_what_they_cannot_be():
    with pytest.raises(ValueError, match="gaussian family lives on Real"):
        ContinuousMADE(3, family="gaussian")
    with pytest.raises(ValueError, match="vonmises family lives on Circle"):
        ContinuousMADE(3, support=Real())
    with pytest.raises(ValueError, match="family must be"):
        ContinuousMADE(3, family="cauchy")
    with pytest.raises(ValueError, match="components"):
        ContinuousMADE(3, components=0)
    with pytest.raises(TypeError, match="support"):
        ContinuousMADE(3, support="circle")
    model = ContinuousMADE(3, hidden=4)
    assert model.support == Circle() and not model.supports_z2
    with pytest.raises(TypeError, match="z2"):
        train_variational(model, XYChain(3), 1.0, steps=1, z2=True)
    with pytest.raises(AttributeError):
        model.local_dim
