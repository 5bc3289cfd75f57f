"""Flows on density targets: the Z2-symmetric flow against quadrature, reparametrized
variational training against the exact ln Z of 2D toy densities, importance sampling and
neural MCMC on the dual Ising model against enumeration, and refusals."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from tnborn.arnn import MADE
from tnborn.flows import RealNVP
from tnborn.physics import (DoubleWellDensity, DualIsing, Ising2D, RingDensity,
                            exact_observables, free_energy, neural_mcmc, train_variational)


def perturbed(n, seed=0):
    """A RealNVP whose couplings are far from the identity."""
    model = RealNVP(n, blocks=3, hidden=8, seed=seed)
    g = torch.Generator().manual_seed(seed + 10)
    with torch.no_grad():
        for coupling in model.couplings:
            for p in coupling.net[-1].parameters():
                p.copy_(0.5 * torch.randn(p.shape, generator=g, dtype=torch.float64))
    return model


def grid(half_width=9.0, points=601):
    g = torch.linspace(-half_width, half_width, points, dtype=torch.float64)
    xs, ys = torch.meshgrid(g, g, indexing="ij")
    return torch.stack([xs, ys], -1).reshape(-1, 2), float(g[1] - g[0])


@pytest.mark.parametrize("z2", [False, True])
def test_flow_density_integrates_to_one_and_z2_makes_it_even(z2):
    model = perturbed(2)
    model.z2_symmetric = z2
    points, h = grid()
    with torch.no_grad():
        log_q = model.log_prob(points)
    assert float(torch.logsumexp(log_q, 0)) + 2 * math.log(h) == pytest.approx(0.0, abs=1e-6)
    with torch.no_grad():
        x, log_q_drawn = model.rsample_and_log_prob(64, generator=torch.Generator().manual_seed(0))
        flipped = model.log_prob(-points[::97])
    torch.testing.assert_close(log_q_drawn, model.log_prob(x), rtol=0, atol=1e-10)
    if z2:
        torch.testing.assert_close(flipped, log_q[::97], rtol=0, atol=1e-12)
    else:
        assert (flipped - log_q[::97]).abs().max() > 1e-2
    state = model.state_dict()
    other = perturbed(2)
    other.load_state_dict(state)
    assert other.z2_symmetric is z2


@pytest.mark.parametrize("target, z2", [(RingDensity(2.0, 0.4), True),
                                        (DoubleWellDensity(1.2, 1.0), True)])
def test_reparametrized_training_reaches_the_exact_log_z(target, z2):
    model = RealNVP(2, blocks=6, hidden=32, seed=1)
    history = train_variational(model, target, steps=200, batch_size=128, lr=5e-3,
                                z2=z2, progress=False, log_every=200,
                                generator=torch.Generator().manual_seed(2))
    assert history[-1]["beta_target"] == 1.0
    result = free_energy(model, target, num=20_000, generator=torch.Generator().manual_seed(3))
    exact = target.log_z()
    gap = exact - result["log_z_variational"]  # KL(q || pi) >= 0
    assert -3 * result["log_z_variational_err"] < gap < 0.1  # untrained: 2.8 and 1.3
    assert abs(result["log_z_importance"] - exact) < 3 * result["log_z_importance_err"] + 1e-3
    assert result["magnetization"] is None and result["observables"] == {}


@pytest.fixture(scope="module")
def dual_and_flow():
    """The dual of the 2x2 Ising model at beta = 0.3 and a briefly trained Z2 flow."""
    dual = DualIsing(2, 0.3)
    model = RealNVP(4, blocks=4, hidden=16, seed=0)
    train_variational(model, dual, steps=300, batch_size=256, lr=5e-3, z2=True,
                      progress=False, generator=torch.Generator().manual_seed(1))
    return dual, model


def test_the_conditional_ising_energy_is_exact_given_x():
    dual = DualIsing(2, 0.4)
    x = torch.randn(6, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    spins = torch.tensor(list(itertools.product((0, 1), repeat=4)))
    s = (2 * spins - 1).double()
    log_p = (s[None] * x[:, None]).sum(-1)  # pi(s | x) up to its normalization
    p = torch.softmax(log_p, 1)
    energies = dual.ising.energy(spins)
    observed = dual.observables(x, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(observed["ising_energy"], p @ energies, rtol=0, atol=1e-12)
    many = dual.observables(x.repeat(20_000, 1), generator=torch.Generator().manual_seed(2))
    drawn = many["ising_abs_magnetization"].reshape(20_000, 6).mean(0)
    exact = p @ s.mean(1).abs()
    assert (drawn - exact).abs().max() < 0.02  # 4.5 standard errors of 20,000 draws


def test_importance_sampling_and_neural_mcmc_on_the_dual_recover_the_ising_model(
        dual_and_flow):
    dual, model = dual_and_flow
    exact = exact_observables(dual.ising, dual.beta)
    result = free_energy(model, dual, num=40_000, generator=torch.Generator().manual_seed(4))
    assert result["reliable"], result["warnings"]
    assert abs(result["log_z_importance"] - dual.log_z()) < 3 * result["log_z_importance_err"]
    assert result["log_z_variational"] < dual.log_z()
    assert result["F_importance"] == pytest.approx(-result["log_z_importance"])
    for name, key in [("ising_energy", "energy"), ("ising_abs_magnetization",
                                                   "abs_magnetization")]:
        entry = result["observables"][name]
        assert abs(entry["mean"] - exact[key]) < 3 * entry["err"]
    chain = neural_mcmc(model, dual, steps=400, chains=64, burn_in=20,
                        generator=torch.Generator().manual_seed(5))
    assert chain["reliable"], chain["warnings"]
    assert chain["magnetization"] is None and chain["tau_int_magnetization"] is None
    energy = chain["observables"]["ising_energy"]
    assert abs(energy["mean"] - exact["energy"]) < 3 * energy["err"]


def test_bad_targets_and_estimators_are_refused(dual_and_flow):
    dual, model = dual_and_flow
    with pytest.raises(ValueError, match="without beta"):
        train_variational(model, dual, 0.3, steps=1, progress=False)
    with pytest.raises(ValueError, match="without beta"):
        free_energy(model, dual, 0.3, num=10)
    with pytest.raises(ValueError, match="beta is required"):
        free_energy(MADE(4, seed=0), Ising2D(2), num=10)
    with pytest.raises(TypeError, match="has_rsample"):
        train_variational(MADE(4, seed=0), Ising2D(2), 0.3, steps=1, progress=False,
                          estimator="reparametrized")
    with pytest.raises(ValueError, match="estimator"):
        train_variational(model, dual, steps=1, progress=False, estimator="score")
    with pytest.raises(ValueError, match="needs a model on Real"):
        train_variational(MADE(4, seed=0), dual, steps=1, progress=False)
    with pytest.raises(ValueError, match="needs a model on"):
        neural_mcmc(model, Ising2D(2), 0.3, steps=1)
    with pytest.raises(TypeError, match="neither a Hamiltonian"):
        free_energy(model, object(), num=10)


def test_gaussian_mutual_information_matches_the_exact_gaussian_value():
    from tnborn.diagnostics import gaussian_mutual_information
    g = torch.Generator().manual_seed(7)
    root = torch.randn(4, 4, generator=g, dtype=torch.float64)
    covariance = root @ root.T + 0.5 * torch.eye(4, dtype=torch.float64)
    x = torch.randn(40_000, 4, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(
        covariance).T
    part = torch.tensor([True, False, True, False])
    logdet = lambda m: float(torch.linalg.slogdet(m)[1])  # noqa: E731
    exact = 0.5 * (logdet(covariance[part][:, part]) + logdet(covariance[~part][:, ~part])
                   - logdet(covariance))
    estimate = gaussian_mutual_information(x, part)
    assert exact > 0.1 and abs(estimate.value - exact) < 3 * estimate.stderr
    assert 0 < estimate.stderr < 0.02
    # weights: duplicating every sample by a weight 2 changes nothing
    weighted = gaussian_mutual_information(x, [0, 2], weights=torch.full((40_000,), 2.0))
    assert weighted.value == pytest.approx(estimate.value, abs=1e-12)
    independent = gaussian_mutual_information(torch.randn(40_000, 4, generator=g), [0, 1])
    assert abs(independent.value) < 3 * independent.stderr + 1e-4
    with pytest.raises(ValueError, match="some but not all"):
        gaussian_mutual_information(x, [0, 1, 2, 3])
    with pytest.raises(ValueError, match="non-finite"):
        gaussian_mutual_information(torch.full((100, 4), float("nan")), [0])
    with pytest.raises(ValueError, match="weights"):
        gaussian_mutual_information(x, [0], weights=-torch.ones(40_000))
