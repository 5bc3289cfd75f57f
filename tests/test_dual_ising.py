"""The continuous dual of the Ising model: ln Z against brute-force Ising enumeration
plus the Hubbard-Stratonovich constant, against direct quadrature of pi, and the spins
given x against the joint distribution."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy import integrate

from tnborn.physics import (DualIsing, Ising2D, PairwiseHamiltonian, exact_observables,
                            ising2d_energy)


def brute_force_log_z_ising(L, beta, periodic=True):
    """ln sum_s exp(-beta E(s)) by a loop over every configuration and bond."""
    n = L * L
    bonds = []
    for r, c in itertools.product(range(L), repeat=2):
        if periodic or c + 1 < L:
            bonds.append((r * L + c, r * L + (c + 1) % L))
        if periodic or r + 1 < L:
            bonds.append((r * L + c, ((r + 1) % L) * L + c))
    total = 0.0
    for spins in itertools.product((-1, 1), repeat=n):
        total += math.exp(beta * sum(spins[i] * spins[j] for i, j in bonds))
    return math.log(total)


@pytest.mark.parametrize("L, beta, periodic", [(2, 0.3, True), (3, 0.44, True),
                                                (4, 0.3, True), (4, 0.44, True),
                                                (3, 0.5, False)])
def test_log_z_is_the_ising_log_z_plus_the_constant(L, beta, periodic):
    dual = DualIsing(L, beta, periodic=periodic)
    n = L * L
    eigenvalues = np.linalg.eigvalsh(dual.A.numpy())
    constant = (-n * math.log(2) + n / 2 * math.log(2 * math.pi)
                + 0.5 * np.log(eigenvalues).sum() + dual.alpha * n / 2)
    if L <= 3:
        expected = brute_force_log_z_ising(L, beta, periodic) + constant
    else:  # 2^16 configurations: the enumeration of tnborn.physics.exact_log_z
        from tnborn.physics import exact_log_z
        expected = exact_log_z(Ising2D(L), beta) + constant
    assert dual.log_z() == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("beta", [0.3, 0.8])
def test_log_z_matches_a_direct_integral_of_pi_on_two_sites(beta):
    """1 x 2 (one bond): Z_x = int int exp(-x^T A^{-1} x / 2) cosh x1 cosh x2 dx."""
    dual = DualIsing.of(PairwiseHamiltonian(torch.tensor([[0.0, 1.0], [1.0, 0.0]],
                                                         dtype=torch.float64)), beta)
    (p00, p01), (_, p11) = np.linalg.inv(dual.A.numpy())  # written out, not log_density
    value, _ = integrate.dblquad(
        lambda y, x: math.exp(-0.5 * (p00 * x * x + 2 * p01 * x * y + p11 * y * y))
        * math.cosh(x) * math.cosh(y), -40, 40, -40, 40, epsabs=1e-12, epsrel=1e-12)
    assert dual.log_z() == pytest.approx(math.log(value), abs=1e-6)
    # and the Ising side: Z_Ising = 2 * 2 cosh(beta)
    assert dual.log_z() - math.log(4 * math.cosh(beta)) == pytest.approx(
        -2 * math.log(2) + math.log(2 * math.pi) + 0.5 * math.log(np.linalg.det(dual.A))
        + dual.alpha, abs=1e-12)


def test_spins_given_x_follow_the_joint():
    """pi(s | x) proportional to exp(-x^T A^{-1} x / 2 + x . s): per site a sigmoid."""
    dual = DualIsing(2, 0.4)
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    p_up = dual.spins_given(x)
    torch.testing.assert_close(p_up, torch.exp(x) / (torch.exp(x) + torch.exp(-x)),
                               rtol=0, atol=1e-15)
    spins = dual.sample_spins(x.repeat(4000, 1), generator=torch.Generator().manual_seed(1))
    assert spins.dtype == torch.long and set(spins.unique().tolist()) <= {0, 1}
    frequency = spins.double().reshape(4000, 5, 4).mean(0)
    assert (frequency - p_up).abs().max() < 0.04


def test_default_alpha_keeps_a_well_conditioned_and_bad_input_is_refused():
    dual = DualIsing(4, 0.44)
    eigenvalues = torch.linalg.eigvalsh(dual.A)
    assert float(eigenvalues.min()) == pytest.approx(1.0, abs=1e-12)
    assert float(eigenvalues.max() / eigenvalues.min()) == pytest.approx(1 + 8 * 0.44,
                                                                         abs=1e-12)
    with pytest.raises(ValueError, match="not positive definite"):
        DualIsing(4, 0.44, alpha=1.0)  # lambda_min(K) = -4 beta = -1.76
    with pytest.raises(ValueError, match="non-finite"):
        dual.log_density(torch.full((2, 16), float("nan"), dtype=torch.float64))
    with pytest.raises(ValueError, match="16 sites"):
        dual.log_density(torch.zeros(2, 9, dtype=torch.float64))
    with pytest.raises(TypeError, match="floating"):
        dual.log_density(torch.zeros(2, 16, dtype=torch.long))
    with pytest.raises(ValueError, match="zero fields"):
        DualIsing.of(Ising2D(2, h=0.1), 0.4)
    with pytest.raises(ValueError):
        DualIsing(4, -1.0)


@pytest.mark.parametrize("L", [2, 3, 4])
@pytest.mark.parametrize("beta", [0.1, 0.44, 0.7])
def test_the_kaufman_energy_matches_enumeration(L, beta):
    exact = exact_observables(Ising2D(L), beta)["energy"]
    assert ising2d_energy(L, beta) == pytest.approx(exact, abs=1e-8)
