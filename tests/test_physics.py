"""Hamiltonians, exact partition functions and Wolff Ising samples against references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tnborn.datasets.ising import ising_samples
from tnborn.physics import (
    CurieWeiss,
    Ising2D,
    PairwiseHamiltonian,
    SherringtonKirkpatrick,
    curie_weiss_log_z,
    curie_weiss_magnetization_distribution,
    exact_log_z,
    exact_observables,
    integrated_autocorrelation_time,
    ising2d_log_z,
)

from .helpers import all_configurations

BETAS = (0.1, 0.3, 0.44, 0.6, 1.0)


def random_configurations(num, n, seed=0):
    return torch.randint(0, 2, (num, n), generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------------- direct references
def lattice_energy_loop(x, L, J, h, periodic):
    """-J sum over bonds s_i s_j - h sum s_i with explicit loops over right/down bonds."""
    s = (2 * x - 1).tolist()
    energy = 0.0
    for r in range(L):
        for c in range(L):
            i = r * L + c
            if periodic or c + 1 < L:
                energy -= J * s[i] * s[r * L + (c + 1) % L]
            if periodic or r + 1 < L:
                energy -= J * s[i] * s[((r + 1) % L) * L + c]
            energy -= h * s[i]
    return energy


def pairwise_energy_loop(x, couplings, fields):
    s = (2 * x - 1).tolist()
    J = couplings.tolist()
    h = fields.tolist()
    n = len(s)
    energy = 0.0
    for i in range(n):
        energy -= h[i] * s[i]
        for j in range(i + 1, n):
            energy -= J[i][j] * s[i] * s[j]
    return energy


# ---------------------------------------------------------------------- energies
@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("L", [2, 3, 4])
def test_ising2d_energy_matches_bond_loop(L, periodic):
    J, h = 0.7, 0.3
    model = Ising2D(L, J=J, h=h, periodic=periodic)
    x = random_configurations(40, L * L, seed=L)
    energy = model.energy(x)
    assert energy.dtype == torch.float64 and energy.shape == (40,)
    expected = torch.tensor([lattice_energy_loop(xi, L, J, h, periodic) for xi in x],
                            dtype=torch.float64)
    torch.testing.assert_close(energy, expected, rtol=0, atol=1e-12)
    # the dense couplings/fields give the same energy through the generic pairwise code
    dense = PairwiseHamiltonian(model.couplings, model.fields)
    torch.testing.assert_close(dense.energy(x), expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(model.local_fields(x), dense.local_fields(x), rtol=0, atol=1e-12)


def test_ising2d_couplings_structure():
    periodic2 = Ising2D(2, J=1.5).couplings
    assert periodic2[0, 1] == 3.0 and periodic2[0, 2] == 3.0 and periodic2[0, 3] == 0.0
    periodic4 = Ising2D(4).couplings
    assert torch.equal(periodic4, periodic4.T) and periodic4.sum() == 2 * 2 * 16
    open4 = Ising2D(4, periodic=False).couplings
    assert open4.sum() == 2 * 2 * 4 * 3
    assert (Ising2D(3, h=0.5).fields == 0.5).all()
    # all-up ground state energy: -2 N J periodic
    assert Ising2D(5, J=2.0).energy(torch.ones(25, dtype=torch.long)).item() == -100.0


def test_pairwise_energy_matches_loop_and_batch_shapes():
    n = 7
    g = torch.Generator().manual_seed(3)
    a = torch.randn(n, n, generator=g, dtype=torch.float64)
    couplings = (a + a.T) * (1 - torch.eye(n, dtype=torch.float64))
    fields = torch.randn(n, generator=g, dtype=torch.float64)
    model = PairwiseHamiltonian(couplings, fields)
    assert model.n_sites == n and model.couplings.dtype == torch.float64
    x = random_configurations(30, n, seed=1)
    expected = torch.tensor([pairwise_energy_loop(xi, couplings, fields) for xi in x],
                            dtype=torch.float64)
    torch.testing.assert_close(model.energy(x), expected, rtol=0, atol=1e-12)
    assert model.energy(x.reshape(5, 6, n)).shape == (5, 6)
    assert model.energy(x[0]).shape == ()
    torch.testing.assert_close(model.energy(x.bool()), expected, rtol=0, atol=1e-12)
    # zero fields by default; local fields predict single-flip energy changes
    assert torch.equal(PairwiseHamiltonian(couplings).fields, torch.zeros(n, dtype=torch.float64))
    lf = model.local_fields(x)
    s = 2 * x - 1
    for i in range(n):
        flipped = x.clone()
        flipped[:, i] = 1 - flipped[:, i]
        torch.testing.assert_close(model.energy(flipped) - model.energy(x),
                                   2 * s[:, i] * lf[:, i], rtol=0, atol=1e-12)


@pytest.mark.parametrize("J,h", [(1.0, 0.0), (-0.8, 0.35)])
def test_curie_weiss_energy_matches_pairwise_form(J, h):
    n = 9
    model = CurieWeiss(n, J=J, h=h)
    couplings = torch.full((n, n), J / n, dtype=torch.float64).fill_diagonal_(0)
    fields = torch.full((n,), h, dtype=torch.float64)
    torch.testing.assert_close(model.couplings, couplings)
    x = random_configurations(50, n, seed=2)
    expected = torch.tensor([pairwise_energy_loop(xi, couplings, fields) for xi in x],
                            dtype=torch.float64)
    torch.testing.assert_close(model.energy(x), expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(PairwiseHamiltonian(model.couplings, model.fields).energy(x),
                               expected, rtol=0, atol=1e-12)


def test_sherrington_kirkpatrick_couplings_and_energy():
    a = SherringtonKirkpatrick(200, seed=7, J=1.3)
    b = SherringtonKirkpatrick(200, seed=7, J=1.3)
    c = SherringtonKirkpatrick(200, seed=8, J=1.3)
    assert torch.equal(a.couplings, b.couplings)
    assert not torch.equal(a.couplings, c.couplings)
    J = a.couplings
    assert torch.equal(J, J.T) and (J.diagonal() == 0).all()
    upper = J[torch.triu_indices(200, 200, 1).unbind()]
    # variance J^2/n = 1.69/200 estimated from 19,900 entries (relative SE ~1 %)
    assert abs(upper.var().item() / (1.69 / 200) - 1) < 0.05
    assert abs(upper.mean().item()) < 4 * math.sqrt(1.69 / 200 / upper.numel())
    small = SherringtonKirkpatrick(8, seed=0, h=0.2)
    x = random_configurations(20, 8, seed=5)
    expected = torch.tensor([pairwise_energy_loop(xi, small.couplings, small.fields)
                             for xi in x], dtype=torch.float64)
    torch.testing.assert_close(small.energy(x), expected, rtol=0, atol=1e-12)


# ---------------------------------------------------------------------- exact references
@pytest.mark.parametrize("L", [2, 3, 4])
def test_kaufman_matches_enumeration(L):
    model = Ising2D(L)
    for beta in BETAS + (0.5 * math.log(1 + math.sqrt(2)),):
        assert abs(ising2d_log_z(L, beta) - exact_log_z(model, beta)) < 1e-10
    # J enters through K = beta J
    assert abs(ising2d_log_z(3, 0.25, J=2.0) - exact_log_z(Ising2D(3, J=2.0), 0.25)) < 1e-10


@pytest.mark.parametrize("L,reference", [(4, -2.2023759288), (8, -2.1333916025),
                                         (16, -2.1163640554)])
def test_kaufman_free_energy_reference_values(L, reference):
    beta = 0.44
    assert abs(-ising2d_log_z(L, beta) / (beta * L * L) - reference) < 1e-9


def test_kaufman_large_lattice_is_finite_and_sensible():
    n = 64 * 64
    for beta in (0.01, 0.44, 1.0, 50.0):
        value = ising2d_log_z(64, beta)
        assert math.isfinite(value)
        # ln Z >= ln 2 + 2 N beta (the two ground states) and <= N ln 2 + 2 N beta
        assert math.log(2) + 2 * n * beta - 1e-9 <= value <= n * math.log(2) + 2 * n * beta
    assert abs(ising2d_log_z(64, 50.0) - (math.log(2) + 2 * n * 50.0)) < 1e-9


def test_curie_weiss_log_z_and_distribution_match_enumeration():
    n, beta, J, h = 16, 0.8, 1.2, 0.15
    model = CurieWeiss(n, J=J, h=h)
    assert abs(curie_weiss_log_z(n, beta, J=J, h=h) - exact_log_z(model, beta)) < 1e-10
    x = all_configurations(n, 2)
    log_p = -beta * model.energy(x) - exact_log_z(model, beta)
    k = x.sum(-1)
    expected = torch.zeros(n + 1, dtype=torch.float64).index_add_(0, k, log_p.exp())
    dist = curie_weiss_magnetization_distribution(n, beta, J=J, h=h)
    assert dist.dtype == torch.float64 and dist.shape == (n + 1,)
    assert abs(dist.sum().item() - 1) < 1e-12
    torch.testing.assert_close(dist, expected, rtol=0, atol=1e-12)
    # any n: finite, and a large-n mean-field check of ln Z / n at high temperature
    assert math.isfinite(curie_weiss_log_z(100_000, 0.5))
    assert abs(curie_weiss_log_z(100_000, 0.5) / 100_000 - math.log(2)) < 1e-4


def test_exact_observables_consistency():
    model = Ising2D(3, J=1.0, h=0.1)
    beta = 0.5
    obs = exact_observables(model, beta)
    assert set(obs) == {"log_z", "free_energy", "energy", "entropy", "abs_magnetization",
                        "magnetization_sq"}
    assert abs(obs["log_z"] - exact_log_z(model, beta)) < 1e-12
    assert abs(obs["free_energy"] + obs["log_z"] / beta) < 1e-12
    assert abs(obs["entropy"] - beta * (obs["energy"] - obs["free_energy"])) < 1e-12
    step = 1e-5
    derivative = (exact_log_z(model, beta + step) - exact_log_z(model, beta - step)) / (2 * step)
    assert abs(obs["energy"] + derivative) < 1e-7
    # direct Boltzmann averages over all configurations
    x = all_configurations(9, 2)
    p = torch.softmax(-beta * model.energy(x), 0)
    m = (2 * x - 1).sum(-1).double() / 9
    assert abs(obs["abs_magnetization"] - (p * m.abs()).sum().item()) < 1e-12
    assert abs(obs["magnetization_sq"] - (p * m * m).sum().item()) < 1e-12
    assert 0 < obs["entropy"] < 9 * math.log(2)
    # Curie-Weiss magnetization moments from the exact distribution
    cw = CurieWeiss(12, J=1.5)
    dist = curie_weiss_magnetization_distribution(12, 0.9, J=1.5)
    m = (2 * torch.arange(13, dtype=torch.float64) - 12) / 12
    cw_obs = exact_observables(cw, 0.9)
    assert abs(cw_obs["magnetization_sq"] - (dist * m * m).sum().item()) < 1e-12
    assert abs(cw_obs["abs_magnetization"] - (dist * m.abs()).sum().item()) < 1e-12


# ---------------------------------------------------------------------- Wolff samples
def batch_mean_error(values: np.ndarray, batches: int = 20) -> tuple[float, float]:
    means = values[: len(values) // batches * batches].reshape(batches, -1).mean(1)
    return float(values.mean()), float(means.std(ddof=1) / math.sqrt(batches))


@pytest.mark.parametrize("beta", [0.3, 0.44])
def test_wolff_samples_match_exact_observables(beta):
    L = 4
    x = ising_samples(L, beta, 20_000, seed=11)
    assert x.dtype == torch.int64 and x.shape == (20_000, 16)
    assert ((x == 0) | (x == 1)).all()
    model = Ising2D(L)
    exact = exact_observables(model, beta)
    energy, energy_se = batch_mean_error(model.energy(x).numpy())
    abs_m, abs_m_se = batch_mean_error(((2 * x - 1).sum(-1).abs() / 16.0).double().numpy())
    assert abs(energy - exact["energy"]) < 4 * energy_se
    assert abs(abs_m - exact["abs_magnetization"]) < 4 * abs_m_se
    assert energy_se < 0.05 * abs(exact["energy"])  # the check has teeth


def test_wolff_samples_are_reproducible():
    a = ising_samples(4, 0.44, 300, seed=3)
    b = ising_samples(4, 0.44, 300, seed=3)
    c = ising_samples(4, 0.44, 300, seed=4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    d = ising_samples(2, 0.3, 50, seed=0, burn_in=10, thin=2)
    assert d.shape == (50, 4) and ((d == 0) | (d == 1)).all()


def test_wolff_larger_lattice_energy_matches_kaufman():
    # L = 8 at beta = 0.44: <E> = -d ln Z / d beta from Kaufman's formula
    L, beta, step = 8, 0.44, 1e-5
    exact = -(ising2d_log_z(L, beta + step) - ising2d_log_z(L, beta - step)) / (2 * step)
    x = ising_samples(L, beta, 5_000, seed=2)
    energy, se = batch_mean_error(Ising2D(L).energy(x).numpy())
    assert abs(energy - exact) < 4 * se


# ------------------------------------------------------- autocorrelation time
def ar1_series(phi, steps, chains, seed):
    """Stationary AR(1) chains x_t = phi x_(t-1) + e_t (unit innovations), with scipy."""
    import scipy.signal

    noise = np.random.default_rng(seed).standard_normal((steps, chains))
    noise[0] /= math.sqrt(1 - phi ** 2)  # start in the stationary distribution
    return torch.from_numpy(scipy.signal.lfilter([1.0], [1.0, -phi], noise, axis=0))


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.8, 0.9])
def test_integrated_autocorrelation_time_of_ar1_series(phi):
    """tau_int = (1 + phi) / (1 - phi) for AR(1), within 4 of Sokal's standard errors
    sqrt(2 (2W + 1) / N) tau (W ~ 5 tau; 1.9 % at phi = 0 to 5.7 % at phi = 0.9)."""
    steps = 40_000 if phi == 0.9 else 20_000
    chains = 50
    exact = (1 + phi) / (1 - phi)
    tau = integrated_autocorrelation_time(ar1_series(phi, steps, chains, seed=int(10 * phi)))
    tolerance = 4 * math.sqrt(2 * (2 * 5 * exact + 1) / (steps * chains))
    assert abs(tau / exact - 1) < tolerance, (phi, tau, exact)


def test_integrated_autocorrelation_time_of_many_short_chains():
    """2,000 chains of 300 steps at tau 9: centring on the mean of all chains keeps tau
    within 4 % (measured 8.85); each chain's own mean would bias it 20 % low."""
    series = ar1_series(0.8, 300, 2000, seed=3)
    assert integrated_autocorrelation_time(series) == pytest.approx(9.0, rel=0.04)
    one_chain = ar1_series(0.5, 50_000, 1, seed=4)[:, 0]
    assert integrated_autocorrelation_time(one_chain) == pytest.approx(3.0, rel=0.06)
    assert integrated_autocorrelation_time(torch.ones(100, 3)) == 1.0
    for bad in (torch.zeros(1, 4), torch.zeros(3, 4, 5)):
        with pytest.raises(ValueError, match="steps"):
            integrated_autocorrelation_time(bad)
    with pytest.raises(TypeError, match="torch.Tensor"):
        integrated_autocorrelation_time([1.0, 2.0])


# ---------------------------------------------------------------------- bad input
def test_bad_couplings_rejected():
    with pytest.raises(ValueError, match="square"):
        PairwiseHamiltonian(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="symmetric"):
        PairwiseHamiltonian(torch.tensor([[0.0, 1.0], [2.0, 0.0]]))
    with pytest.raises(ValueError, match="diagonal"):
        PairwiseHamiltonian(torch.tensor([[1.0, 0.5], [0.5, 0.0]]))
    with pytest.raises(ValueError, match="non-finite"):
        PairwiseHamiltonian(torch.tensor([[0.0, math.nan], [math.nan, 0.0]]))
    with pytest.raises(ValueError, match="fields"):
        PairwiseHamiltonian(torch.zeros(3, 3), fields=torch.zeros(4))


def test_bad_configurations_rejected():
    model = Ising2D(3)
    with pytest.raises(ValueError, match="outside"):
        model.energy(torch.full((2, 9), 2))
    with pytest.raises(ValueError, match="outside"):
        model.energy(-torch.ones(2, 9, dtype=torch.long))
    with pytest.raises(ValueError, match="9 sites"):
        model.energy(torch.zeros(2, 8, dtype=torch.long))
    with pytest.raises(ValueError, match="non-integer"):
        model.energy(torch.full((2, 9), 0.5))
    with pytest.raises(ValueError, match="outside"):
        CurieWeiss(4).energy(torch.tensor([0, 1, 3, 0]))


@pytest.mark.parametrize("beta", [0.0, -1.0, math.nan, math.inf, -math.inf])
def test_bad_beta_rejected(beta):
    with pytest.raises(ValueError, match="beta"):
        exact_log_z(Ising2D(2), beta)
    with pytest.raises(ValueError, match="beta"):
        exact_observables(Ising2D(2), beta)
    with pytest.raises(ValueError, match="beta"):
        ising2d_log_z(4, beta)
    with pytest.raises(ValueError, match="beta"):
        curie_weiss_log_z(10, beta)
    with pytest.raises(ValueError, match="beta"):
        curie_weiss_magnetization_distribution(10, beta)
    with pytest.raises(ValueError, match="beta"):
        ising_samples(4, beta, 10, seed=0)


def test_bad_sizes_rejected():
    for bad in (1, 0, 2.0, "4", True):
        with pytest.raises(ValueError, match="L"):
            Ising2D(bad)
        with pytest.raises(ValueError, match="L"):
            ising2d_log_z(bad, 0.4)
        with pytest.raises(ValueError, match="L"):
            ising_samples(bad, 0.4, 10, seed=0)
    for bad in (0, -3, 2.5):
        with pytest.raises(ValueError, match="n"):
            CurieWeiss(bad)
        with pytest.raises(ValueError, match="n"):
            curie_weiss_log_z(bad, 0.5)
        with pytest.raises(ValueError, match="n"):
            SherringtonKirkpatrick(bad, seed=0)
    with pytest.raises(ValueError, match="at most 24"):
        exact_log_z(CurieWeiss(25), 0.5)
    with pytest.raises(ValueError, match="at most 24"):
        exact_observables(Ising2D(5), 0.5)
    with pytest.raises(ValueError, match="num"):
        ising_samples(4, 0.4, 0, seed=0)
    with pytest.raises(TypeError, match="seed"):
        ising_samples(4, 0.4, 10, seed=None)
    with pytest.raises(ValueError, match="J"):
        ising2d_log_z(4, 0.4, J=-1.0)
