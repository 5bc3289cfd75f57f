"""The XY model: Hamiltonians against explicit sums, the chain's Bessel partition
function against quadrature, observables against loops, and the Monte Carlo reference
against quadrature of the 2 x 2 lattice."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy import integrate

from tnborn import MADE, ContinuousMADE
from tnborn.datasets import xy_samples
from tnborn.physics import (XY2D, Ising2D, XYChain, free_energy, helicity_modulus,
                            train_variational, vortex_density, xy_monte_carlo)

TWO_PI = 2 * math.pi


def random_angles(num, n, seed=0):
    return TWO_PI * torch.rand(num, n, generator=torch.Generator().manual_seed(seed),
                               dtype=torch.float64)


def lattice_bonds(L, periodic):
    """(i, j) of every right and down bond, by loops."""
    bonds = []
    for r, c in itertools.product(range(L), range(L)):
        if periodic or c + 1 < L:
            bonds.append((r * L + c, r * L + (c + 1) % L))
        if periodic or r + 1 < L:
            bonds.append((r * L + c, ((r + 1) % L) * L + c))
    return bonds


# ---------------------------------------------------------------- Hamiltonians
@pytest.mark.parametrize("L, periodic, h", [(3, True, 0.0), (3, False, 0.4), (2, True, 0.2),
                                            (4, True, -0.3)])
def test_xy2d_energy_is_the_sum_over_bonds(L, periodic, h):
    theta = random_angles(7, L * L)
    model = XY2D(L, J=0.8, h=h, periodic=periodic)
    expected = torch.zeros(7, dtype=torch.float64)
    for i, j in lattice_bonds(L, periodic):
        expected -= 0.8 * torch.cos(theta[:, i] - theta[:, j])
    expected -= h * torch.cos(theta).sum(1)
    torch.testing.assert_close(model.energy(theta), expected, rtol=0, atol=1e-12)
    m = model.magnetization(theta)
    torch.testing.assert_close(m, torch.hypot(torch.cos(theta).mean(1),
                                              torch.sin(theta).mean(1)), rtol=0, atol=1e-15)


@pytest.mark.parametrize("n, J, periodic", [(3, 1.3, True), (3, -1.3, True), (2, 0.9, True),
                                             (3, 0.7, False)])
def test_chain_log_z_matches_quadrature(n, J, periodic):
    """Z = int exp(-beta E) over [0, 2pi)^n: by rotation symmetry theta_0 = 0 and a
    factor 2 pi, the remaining n - 1 angles by scipy's adaptive quadrature."""
    beta = 0.7
    chain = XYChain(n, J=J, periodic=periodic)

    def weight(*rest):
        theta = torch.tensor([[0.0, *rest]], dtype=torch.float64)
        return math.exp(-beta * float(chain.energy(theta)))

    ranges = [(0, TWO_PI)] * (n - 1)
    value, _ = integrate.nquad(weight, ranges, opts={"epsabs": 1e-13, "epsrel": 1e-13})
    assert chain.exact_log_z(beta) == pytest.approx(math.log(TWO_PI * value), abs=1e-10)


def test_chain_energy_is_minus_the_derivative_of_log_z():
    for chain in (XYChain(16), XYChain(5, J=-0.8), XYChain(6, periodic=False)):
        step = 1e-5
        slope = (chain.exact_log_z(1 + step) - chain.exact_log_z(1 - step)) / (2 * step)
        assert chain.exact_energy(1.0) == pytest.approx(-slope, abs=1e-7)
    # open chain: independent bond angles, <cos d> = I_1 / I_0 per bond
    from scipy.special import i0, i1
    assert XYChain(6, periodic=False).exact_energy(0.8) == pytest.approx(
        -5 * i1(0.8) / i0(0.8), abs=1e-14)


# ---------------------------------------------------------------- observables
def vortices_by_loops(theta, L, periodic=True):
    """Vortices + antivortices per site of each configuration, plaquette by plaquette."""
    def wrap(d):
        return (d + math.pi) % TWO_PI - math.pi

    out = []
    for config in theta.tolist():
        g = np.array(config).reshape(L, L)
        count = 0
        for r, c in itertools.product(range(L if periodic else L - 1), repeat=2):
            corners = [g[r, c], g[r, (c + 1) % L], g[(r + 1) % L, (c + 1) % L],
                       g[(r + 1) % L, c]]
            total = sum(wrap(corners[(k + 1) % 4] - corners[k]) for k in range(4))
            count += abs(round(total / TWO_PI))
        out.append(count / L ** 2)
    return np.array(out)


def test_vortex_density_counts_windings():
    L = 5
    r, c = np.meshgrid(np.arange(L), np.arange(L), indexing="ij")
    single = np.mod(np.arctan2(r - 1.5, c - 1.5), TWO_PI).reshape(1, -1)
    estimate = vortex_density(torch.tensor(single), L, periodic=False)
    assert estimate.value == pytest.approx(1 / 25, abs=1e-15)  # one vortex, 25 sites
    theta = random_angles(200, 36, seed=3)
    estimate = vortex_density(theta, 6)
    expected = vortices_by_loops(theta, 6)
    assert estimate.value == pytest.approx(expected.mean(), abs=1e-12)
    assert estimate.stderr == pytest.approx(expected.std(ddof=1) / math.sqrt(200), rel=1e-9)
    # on a torus the windings cancel: vortices and antivortices come in pairs
    assert np.allclose((expected * 36) % 2, 0)
    weights = torch.rand(200, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    weighted = vortex_density(theta, 6, weights=weights)
    p = weights.numpy() / weights.numpy().sum()
    assert weighted.value == pytest.approx(float(p @ expected), abs=1e-12)


def test_helicity_modulus_against_its_definition():
    L, beta, J = 4, 1.1, 0.9
    theta = random_angles(300, L * L, seed=5)
    g = theta.reshape(-1, L, L).numpy()
    d = g - np.roll(g, -1, axis=2)  # theta_i - theta_{i + x}
    values = (J * np.cos(d).sum((1, 2)) - beta * (J * np.sin(d).sum((1, 2))) ** 2) / L ** 2
    estimate = helicity_modulus(theta, L, beta, J=J)
    assert estimate.value == pytest.approx(values.mean(), abs=1e-12)
    ordered = helicity_modulus(torch.full((3, L * L), 1.2, dtype=torch.float64), L, beta, J=J)
    assert ordered.value == pytest.approx(J, abs=1e-14)  # the ground state is fully stiff


# ------------------------------------------------------------ Monte Carlo
def two_by_two_averages(beta, h, nodes=24):
    """<E>/N, <|m|> and the helicity modulus of the periodic 2 x 2 lattice (each pair
    bonded twice), by the periodic trapezoid rule on [0, 2pi)^4."""
    model = XY2D(2, h=h)
    grid = torch.arange(nodes, dtype=torch.float64) * TWO_PI / nodes
    theta = torch.cartesian_prod(grid, grid, grid, grid)
    weights = torch.exp(-beta * (model.energy(theta) - model.energy(theta).min()))
    weights = weights / weights.sum()
    from tnborn.physics.xy_observables import helicity_per_site
    return {"energy": float(weights @ model.energy(theta)) / 4,
            "magnetization": float(weights @ model.magnetization(theta)),
            "helicity": float(weights @ helicity_per_site(theta, 2, beta, 1.0))}


@pytest.mark.parametrize("beta, h", [(1.0, 0.0), (0.7, 0.5)])
def test_monte_carlo_matches_quadrature_on_the_2x2_lattice(beta, h):
    exact = two_by_two_averages(beta, h)
    mc = xy_monte_carlo(2, beta, h=h, sweeps=3000, chains=32, seed=1)
    for name, value in exact.items():
        estimate = mc[name]
        assert estimate.reliable, (name, estimate.warnings)
        assert abs(estimate.value - value) < 4 * estimate.stderr + 1e-3, (name, estimate, value)
    assert 0.2 < mc["acceptance"] < 0.9 and mc["mean_cluster_size"] >= 1


def test_monte_carlo_on_8x8_is_ordered_at_low_temperature():
    """T = 0.5: quasi-long-range order, few vortices, a stiff lattice; T = 1.5:
    disordered, many vortices, the stiffness gone."""
    cold = xy_monte_carlo(8, 2.0, sweeps=300, chains=8, seed=2)
    hot = xy_monte_carlo(8, 1 / 1.5, sweeps=300, chains=8, seed=2)
    assert cold["helicity"].value > 0.7 and hot["helicity"].value < 0.2
    assert cold["vortex_density"].value < 1e-3 < hot["vortex_density"].value
    assert cold["energy"].value < -1.7 < -1.0 < hot["energy"].value


def test_xy_samples_are_seeded_angles():
    a = xy_samples(4, 1.0, 50, seed=3, burn_in=50)
    b = xy_samples(4, 1.0, 50, seed=3, burn_in=50)
    assert a.shape == (50, 16) and a.dtype == torch.float64 and torch.equal(a, b)
    assert float(a.min()) >= 0 and float(a.max()) < TWO_PI


# ----------------------------------------------------------------- bad input
def test_bad_angles_and_mismatched_models_are_refused():
    model = XY2D(3)
    with pytest.raises(ValueError, match="outside"):
        model.energy(torch.full((2, 9), 7.0, dtype=torch.float64))
    with pytest.raises(ValueError, match="non-finite"):
        model.energy(torch.full((2, 9), float("nan"), dtype=torch.float64))
    with pytest.raises(TypeError, match="floating"):
        model.energy(torch.zeros(2, 9, dtype=torch.long))
    with pytest.raises(ValueError, match="9 sites"):
        model.energy(torch.zeros(2, 8, dtype=torch.float64))
    with pytest.raises(ValueError, match="needs a model on Circle"):
        train_variational(MADE(9, hidden=4), model, 1.0, steps=1)
    with pytest.raises(ValueError, match="needs a model on Discrete"):
        free_energy(ContinuousMADE(9, hidden=4), Ising2D(3), 1.0, num=10)
    with pytest.raises(ValueError, match="L must be"):
        XY2D(1)
    with pytest.raises(ValueError):
        XYChain(1)
    with pytest.raises(ValueError):
        XYChain(4).exact_log_z(float("nan"))
    with pytest.raises(ValueError, match="weights"):
        vortex_density(random_angles(3, 9), 3, weights=torch.tensor([1.0, -1.0, 1.0]))


# ---------------------------------------------------------- symmetry detection
def test_symmetry_test_finds_the_field_that_breaks_rotations():
    """CANs fitted by maximum likelihood (briefly) to 4x4 XY samples at T = 1: without a
    field the rotation test finds nothing (|z| < 3 at every angle); with h = 0.2 along x
    it finds the broken symmetry (z > 5)."""
    from tnborn.physics import reflection, rotation, symmetry_test

    results = {}
    for h in (0.0, 0.2):
        data = xy_samples(4, 1.0, 3000, seed=1, h=h, burn_in=100)
        model = ContinuousMADE(16, components=3, hidden=32, seed=0)
        model.fit(data[:2000], epochs=8, lr=5e-3, batch_size=100, progress=False)
        results[h] = [symmetry_test(model, data[2000:], rotation(phi))
                      for phi in (math.pi / 3, math.pi, 5 * math.pi / 3)]
        if h == 0.0:
            assert not symmetry_test(model, data[2000:], reflection(0.3))["broken"]
    assert all(abs(r["z"]) < 3 and not r["broken"] for r in results[0.0])
    assert all(r["z"] > 5 and r["broken"] for r in results[0.2])
    assert 0 <= results[0.0][0]["p_value"] <= 1
    assert results[0.0][0]["quantiles"] == sorted(results[0.0][0]["quantiles"])


def test_symmetry_test_on_ising_spins_and_its_refusals():
    from tnborn.physics import rotation, spin_flip, symmetry_test

    made = MADE(9, hidden=8, seed=0)
    made.z2_symmetric = True  # exactly symmetric: every Delta H is 0
    data = made.sample(200, generator=torch.Generator().manual_seed(0))
    result = symmetry_test(made, data, spin_flip(), temperature=2.0)
    assert result["mean"] == pytest.approx(0.0, abs=1e-12) and not result["broken"]
    with pytest.raises(ValueError, match="acts on Circle"):
        symmetry_test(made, data, rotation(1.0))
    with pytest.raises(TypeError, match="Transformation"):
        symmetry_test(made, data, lambda x: 1 - x)
    with pytest.raises(ValueError, match="at least 2"):
        symmetry_test(made, data[:1], spin_flip())
    with pytest.raises(ValueError, match="temperature"):
        symmetry_test(made, data, spin_flip(), temperature=0.0)


def test_xy_point_settles_at_the_target_beta_with_a_wide_first_layer(monkeypatch):
    """The settle phase is a second variational run at the target beta with lr / 10
    (no annealing; by default half as many steps), on the CAN-PixelCNN built with the
    requested first kernel (by default 2 L - 1); bad settle options are ValueErrors."""
    import tnborn.xy_workflow as workflow

    runs = []

    def recorded(net, lattice, beta, **options):
        runs.append((net.first_kernel, beta, options["steps"], options["lr"],
                     options.get("beta_anneal")))
        return []

    monkeypatch.setattr(workflow, "train_variational", recorded)
    point = workflow.xy_point(4, 1.25, steps=6, batch_size=50, samples=5000, mc_sweeps=20)
    assert runs == [(7, 0.8, 6, 3e-3, 0.99), (7, 0.8, 3, pytest.approx(3e-4), None)]
    assert (point["settle_steps"], point["first_kernel"]) == (3, 7)
    runs.clear()
    point = workflow.xy_point(4, 1.25, steps=3, settle_steps=2, first_kernel=5, lr=1e-2,
                              batch_size=50, samples=5000, mc_sweeps=20)
    assert runs == [(5, 0.8, 3, 1e-2, 0.99), (5, 0.8, 2, pytest.approx(1e-3), None)]
    assert (point["settle_steps"], point["first_kernel"]) == (2, 5)
    for bad in ({"settle_steps": -1}, {"settle_lr": 0.0}):
        with pytest.raises(ValueError, match="settle"):
            workflow.xy_point(4, 1.25, steps=3, batch_size=50, samples=5000, mc_sweeps=20,
                              **bad)
