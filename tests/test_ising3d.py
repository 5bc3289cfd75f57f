"""The 3D Ising model, its Wolff Monte Carlo reference and thermodynamic integration.

References: a transfer matrix along the last axis (slices built bond by bond with
Python loops, independent of the rolls in `Ising3D`), the dense couplings, exact
enumeration of small boxes, Kaufman's energy of the 2D lattice.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tnborn.datasets import ising_samples
from tnborn.estimate import Estimate
from tnborn.physics import (Ising3D, boltzmann_log_table, exact_log_z, exact_observables,
                            ising2d_energy, ising_monte_carlo, thermodynamic_integration)

from .helpers import all_configurations


def transfer_matrix_log_z(shape, beta: float, J: float, h: float) -> float:
    """ln Z of the periodic box ``shape`` = (L1, L2, L3) by the transfer matrix along the
    third axis: slices are the L1 x L2 periodic planes (bonds to the +1 neighbour along
    each axis, so a side of 2 bonds its pair twice)."""
    L1, L2, L3 = shape
    states = 2 * all_configurations(L1 * L2, 2).double() - 1
    plane = np.zeros(states.shape[0])
    for a in range(L1):
        for b in range(L2):
            site = a * L2 + b
            for other in (((a + 1) % L1) * L2 + b, a * L2 + (b + 1) % L2):
                plane += (states[:, site] * states[:, other]).numpy()
    plane = beta * (J * plane + h * states.sum(1).numpy())
    between = beta * J * (states @ states.T).numpy()
    log_t = between + plane[:, None] / 2 + plane[None, :] / 2
    shift = log_t.max()
    power = np.linalg.matrix_power(np.exp(log_t - shift), L3)
    return float(np.log(np.trace(power)) + L3 * shift)


SETTINGS = ((0.1, 1.0, 0.0), (0.2217, 1.0, 0.0), (0.5, 0.7, 0.3))


@pytest.mark.parametrize("shape, settings", [
    ((2, 2, 2), SETTINGS), ((2, 2, 4), SETTINGS),
    pytest.param((2, 3, 4), SETTINGS[1:], marks=pytest.mark.slow),  # 2^24 states: ~20 s each
])
def test_exact_log_z_matches_the_transfer_matrix(shape, settings):
    for beta, J, h in settings:
        model = Ising3D(shape, J=J, h=h)
        assert exact_log_z(model, beta) == pytest.approx(
            transfer_matrix_log_z(shape, beta, J, h), abs=1e-10, rel=0)


@pytest.mark.parametrize("periodic", [True, False])
def test_energy_and_local_fields_match_the_dense_couplings(periodic):
    model = Ising3D((2, 3, 4), J=0.7, h=-0.4, periodic=periodic)
    assert model.bonds().shape[0] == (72 if periodic else 46)
    x = torch.randint(0, 2, (50, 24), generator=torch.Generator().manual_seed(0))
    s = 2 * x.double() - 1
    dense = -0.5 * ((s @ model.couplings) * s).sum(-1) - s @ model.fields
    torch.testing.assert_close(model.energy(x), dense, rtol=0, atol=1e-12)
    torch.testing.assert_close(model.local_fields(x), s @ model.couplings + model.fields,
                               rtol=0, atol=1e-12)
    cube = Ising3D(3)
    assert cube.shape == (3, 3, 3) and cube.n_sites == 27
    assert float(cube.energy(torch.ones(27, dtype=torch.long))) == -81.0


def exact_moments(shape, beta: float) -> dict:
    """Per-site energy, <|m|>, C / n, chi / n (with |m|) and U by enumeration."""
    model = Ising3D(shape)
    n = model.n_sites
    x = all_configurations(n, 2)
    p = boltzmann_log_table(model, beta).exp()
    e, m = model.energy(x) / n, (2 * x.double() - 1).mean(-1)
    mean = lambda v: float((p * v).sum())  # noqa: E731
    return {"energy": mean(e), "abs_magnetization": mean(m.abs()),
            "specific_heat": beta ** 2 * n * (mean(e * e) - mean(e) ** 2),
            "susceptibility": beta * n * (mean(m * m) - mean(m.abs()) ** 2),
            "binder": 1 - mean(m ** 4) / (3 * mean(m * m) ** 2)}


def test_wolff_reference_matches_enumeration_within_three_sigma():
    result = ising_monte_carlo((2, 2, 4), 0.3, sweeps=4000, seed=2, chains=4)
    for name, exact in exact_moments((2, 2, 4), 0.3).items():
        estimate = result[name]
        assert estimate.reliable, (name, estimate.warnings)
        assert 0 < estimate.stderr < 0.02 * abs(exact), name
        assert abs(estimate.value - exact) < 3 * estimate.stderr, (name, estimate, exact)
    assert result["n_sites"] == 16 and result["tau_int"]["e"] >= 0.5
    again = ising_monte_carlo((2, 2, 4), 0.3, sweeps=4000, seed=2, chains=4)
    assert again["energy"].value == result["energy"].value  # seeded


def test_wolff_reference_in_2d_matches_kaufman():
    result = ising_monte_carlo(8, 0.44, dim=2, sweeps=3000, seed=0, chains=2)
    exact = ising2d_energy(8, 0.44) / 64
    assert abs(result["energy"].value - exact) < 3 * result["energy"].stderr
    assert result["energy"].stderr < 0.005


def test_ising_samples_in_3d_have_the_exact_energy():
    model = Ising3D((2, 2, 4))
    x = ising_samples((2, 2, 4), 0.25, 6000, seed=1, dim=3)
    assert x.shape == (6000, 16) and set(x.unique().tolist()) <= {0, 1}
    energy = model.energy(x) / 16
    exact = exact_observables(model, 0.25)["energy"] / 16
    blocks = energy.reshape(30, -1).mean(1)  # batch means: the samples are a chain
    assert abs(float(energy.mean()) - exact) < 3 * float(blocks.std() / math.sqrt(30))
    cube = ising_samples(3, 0.2, 5, seed=0, dim=3)
    assert cube.shape == (5, 27)


def test_thermodynamic_integration_against_enumeration():
    model = Ising3D((2, 2, 4))
    grid = [0.02 * k for k in range(1, 31)]
    energies = [Estimate.exact(exact_observables(model, b)["energy"] / 16) for b in grid]
    result = thermodynamic_integration(grid, energies)
    assert result["betas"] == grid
    for j in (4, 29):
        beta = grid[j]
        exact = exact_observables(model, beta)
        log_z, f = result["log_z_per_site"][j], result["free_energy_per_site"][j]
        s = result["entropy_per_site"][j]
        bound = log_z.diagnostics["integration_error"]
        assert abs(log_z.value - exact["log_z"] / 16) <= bound < 1e-3
        assert f.value == pytest.approx(exact["free_energy"] / 16, abs=bound / beta)
        assert s.value == pytest.approx(exact["entropy"] / 16, abs=bound)
        assert log_z.stderr == 0.0
    noisy = [Estimate.sampled(e.value, 0.01, 100) for e in energies]
    spread = thermodynamic_integration(grid, noisy)["log_z_per_site"]
    # independent errors 0.01 on a grid of step 0.02: sigma ~ 0.01 sqrt(sum of weights^2)
    assert 0.01 * 0.02 * math.sqrt(10) < spread[29].stderr < 0.01 * 0.02 * math.sqrt(60)


def test_three_dimensional_bad_input():
    with pytest.raises(ValueError, match="3 sides"):
        Ising3D((2, 3))
    with pytest.raises(ValueError, match="side"):
        Ising3D((2, 1, 4))
    with pytest.raises(TypeError, match="periodic"):
        Ising3D(4, periodic=1)
    with pytest.raises(ValueError, match="dim must be 2 or 3"):
        ising_samples(4, 0.3, 10, seed=0, dim=4)
    with pytest.raises(ValueError, match="dim must be 2 or 3"):
        ising_monte_carlo(4, 0.3, seed=0, dim=1)
    with pytest.raises(ValueError, match="beta"):
        ising_monte_carlo(4, -0.3, seed=0)
    with pytest.raises(ValueError, match="strictly increasing"):
        thermodynamic_integration([0.1, 0.3, 0.2, 0.4], [Estimate.exact(-1.0)] * 4)
    with pytest.raises(ValueError, match="one energy per beta"):
        thermodynamic_integration([0.1, 0.2, 0.3], [Estimate.exact(-1.0)] * 4)
    with pytest.raises(TypeError, match="list of Estimates"):
        thermodynamic_integration([0.1, 0.2, 0.3], [-1.0, -1.1, -1.2])
    with pytest.raises(ValueError, match="at least 4 grid points"):
        thermodynamic_integration([0.1, 0.2], [Estimate.exact(-1.0)] * 2)
    with pytest.raises(ValueError, match="finite"):
        thermodynamic_integration([0.1, 0.2, 0.3],
                                  [Estimate.exact(-1.0)] * 2 + [Estimate.exact(math.nan)])
    from tnborn.ising3d_study import ising3d_study
    with pytest.raises(ValueError, match="powers of two"):  # before any Monte Carlo
        ising3d_study(6, [0.2], progress=False)
    with pytest.raises(ValueError, match="strictly increasing"):
        ising3d_study(4, [0.25, 0.2], progress=False)
    with pytest.raises(ValueError, match="> 0"):
        ising3d_study(4, [0.0, 0.2], progress=False)


def test_ising3d_study_reference_matches_enumeration_and_resumes(tmp_path):
    from tnborn.ising3d_study import ising3d_checks, ising3d_study, ising3d_table
    betas = [0.1, 0.2, 0.3, 0.4]
    options = dict(hidden=4, steps=10, batch_size=100, samples=500, mcmc_steps=30,
                   grid_step=0.05, mc_sweeps=1000, progress=False,
                   checkpoint=tmp_path / "study.json")
    result = ising3d_study(2, betas, **options)
    model = Ising3D(2)
    for beta, ref, net in zip(betas, result["reference"]["points"], result["network"]):
        exact = exact_observables(model, beta)
        for name, value in (("energy", exact["energy"] / 8),
                            ("free_energy", exact["free_energy"] / 8)):
            estimate = ref[name]
            bound = estimate["diagnostics"].get("integration_error", 0.0)  # f only
            assert abs(estimate["value"] - value) < 3 * estimate["stderr"] + bound, name
        assert net["f_variational"] > exact["free_energy"] / 8  # a variational bound
    assert len(ising3d_table(result)) == 2 + len(betas)
    assert ising3d_checks(result, [0.2], 1e-3)[0].startswith("L = 2, beta = 0.2: E ")
    again = ising3d_study(2, betas, **options)  # from the checkpoint: the same numbers
    assert again["network"] == result["network"]
    with pytest.raises(ValueError, match="other settings"):
        ising3d_study(2, betas, **{**options, "steps": 11})
