"""Exact physics ARNNs (Curie-Weiss, pairwise) and the estimators built on them."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import tnborn
from tnborn.arnn import CurieWeissARNN, SKARNN
from tnborn.physics import (CurieWeiss, PairwiseHamiltonian, SherringtonKirkpatrick,
                            curie_weiss_log_z, curie_weiss_magnetization_distribution,
                            exact_log_z, exact_observables, free_energy, learn_hamiltonian,
                            neural_mcmc, train_variational)

from .helpers import all_configurations, chi_square_pvalue, codes


def boltzmann_log_p(hamiltonian, beta, x):
    return -beta * hamiltonian.energy(x) - exact_log_z(hamiltonian, beta)


# -------------------------------------------------------------------- Curie-Weiss
@pytest.mark.parametrize("n, beta, J, h", [(10, 0.7, 1.0, 0.2), (12, 1.3, 1.0, 0.0),
                                           (9, 0.4, -0.5, 0.3)])
def test_curie_weiss_arnn_is_the_boltzmann_distribution(n, beta, J, h):
    model = CurieWeissARNN(n, J=J, h=h, beta=beta)
    x = all_configurations(n, 2)
    logq = model.log_prob(x).detach()
    assert abs(float(torch.logsumexp(logq, 0))) < 1e-10
    expected = boltzmann_log_p(CurieWeiss(n, J=J, h=h), beta, x)
    torch.testing.assert_close(logq, expected, atol=1e-10, rtol=0)


@pytest.mark.parametrize("n, reference", [(16, "enumeration"), (200, "magnetization sum")])
def test_curie_weiss_arnn_reproduces_log_z(n, reference):
    beta, J, h = 1.1, 1.0, 0.05
    hamiltonian = CurieWeiss(n, J=J, h=h)
    model = CurieWeissARNN(n, J=J, h=h, beta=beta)
    x = model.sample(64, generator=torch.Generator().manual_seed(0))
    log_z = -beta * hamiltonian.energy(x) - model.log_prob(x).detach()  # the same for all x
    exact = exact_log_z(hamiltonian, beta) if reference == "enumeration" else \
        curie_weiss_log_z(n, beta, J=J, h=h)
    assert float((log_z - exact).abs().max()) < 1e-8


def test_curie_weiss_arnn_magnetization_histogram():
    n, beta = 60, 1.2
    model = CurieWeissARNN(n, beta=beta)
    samples = model.sample(100_000, generator=torch.Generator().manual_seed(1))
    counts = np.bincount(samples.sum(1).numpy(), minlength=n + 1)
    probs = curie_weiss_magnetization_distribution(n, beta).numpy()
    assert chi_square_pvalue(counts, probs) > 1e-3


def test_curie_weiss_arnn_estimators_are_exact():
    """With q = p: F_var = F_IS = F, ESS = 1, every MCMC proposal is accepted."""
    n, beta = 14, 0.9
    hamiltonian = CurieWeiss(n, J=1.0, h=0.1)
    model = CurieWeissARNN(n, J=1.0, h=0.1, beta=beta)
    exact = exact_observables(hamiltonian, beta)
    g = torch.Generator().manual_seed(2)
    result = free_energy(model, hamiltonian, beta, num=20_000, generator=g)
    assert result["F_importance"] == pytest.approx(exact["free_energy"], abs=1e-10)
    assert result["ess"] == pytest.approx(1.0, abs=1e-12)
    assert result["F_variational"] == pytest.approx(exact["free_energy"], abs=1e-10)
    assert abs(result["energy"] - exact["energy"]) < 4 * result["energy_err"]
    mcmc = neural_mcmc(model, hamiltonian, beta, steps=200, chains=100, generator=g)
    assert mcmc["acceptance"] == pytest.approx(1.0, abs=1e-12)
    assert mcmc["tau_int"] == pytest.approx(1.0, abs=0.3)
    assert abs(mcmc["energy"] - exact["energy"]) < 4 * mcmc["energy_err"]


def test_learn_hamiltonian_recovers_curie_weiss_couplings():
    n, beta, J, h = 10, 0.8, 1.0, 0.2
    model = CurieWeissARNN(n, J=J, h=h, beta=beta)
    learned = learn_hamiltonian(model, beta=beta, num=5000,
                                generator=torch.Generator().manual_seed(3))
    off_diagonal = learned["couplings"][~torch.eye(n, dtype=torch.bool)]
    torch.testing.assert_close(off_diagonal, torch.full_like(off_diagonal, J / n),
                               atol=1e-9, rtol=0)
    torch.testing.assert_close(learned["fields"], torch.full((n,), h, dtype=torch.float64),
                               atol=1e-9, rtol=0)
    assert learned["residual_rms"] < 1e-9
    assert learned["constant"] == pytest.approx(-exact_log_z(CurieWeiss(n, J=J, h=h), beta),
                                                abs=1e-9)


# ----------------------------------------------------------------- pairwise ARNN
def star_hamiltonian(n, seed):
    """Couplings only between spin 0 and the others: later spins never interact."""
    g = torch.Generator().manual_seed(seed)
    couplings = torch.zeros(n, n, dtype=torch.float64)
    couplings[0, 1:] = torch.randn(n - 1, generator=g, dtype=torch.float64)
    couplings[1:, 0] = couplings[0, 1:]
    return PairwiseHamiltonian(couplings, 0.3 * torch.randn(n, generator=g,
                                                             dtype=torch.float64))


def test_sk_arnn_is_exact_when_later_spins_do_not_interact():
    hamiltonian = star_hamiltonian(8, seed=0)
    model = SKARNN(hamiltonian.couplings, hamiltonian.fields, beta=0.8)
    x = all_configurations(8, 2)
    torch.testing.assert_close(model.log_prob(x), boltzmann_log_p(hamiltonian, 0.8, x),
                               atol=1e-10, rtol=0)


def test_sk_arnn_normalized_and_samples_exact():
    hamiltonian = SherringtonKirkpatrick(9, seed=4)
    model = SKARNN(hamiltonian.couplings, hamiltonian.fields, beta=1.0)
    x = all_configurations(9, 2)
    logq = model.log_prob(x).detach()
    assert abs(float(torch.logsumexp(logq, 0))) < 1e-10
    samples = model.sample(100_000, generator=torch.Generator().manual_seed(5))
    counts = np.bincount(codes(samples, 2).numpy(), minlength=2 ** 9)
    assert chi_square_pvalue(counts, logq.exp().detach().numpy()) > 1e-3


def test_variational_training_lowers_the_free_energy():
    n, beta = 12, 1.0
    hamiltonian = SherringtonKirkpatrick(n, seed=0)
    exact = -exact_log_z(hamiltonian, beta) / beta
    model = SKARNN(hamiltonian.couplings, hamiltonian.fields, beta=beta)
    g = torch.Generator().manual_seed(0)
    before = free_energy(model, hamiltonian, beta, num=20_000, generator=g)
    history = train_variational(model, hamiltonian, beta, steps=60, batch_size=500, lr=1e-2,
                                progress=False, generator=g)
    after = free_energy(model, hamiltonian, beta, num=20_000, generator=g)
    assert len(history) == 60 and {"step", "beta", "free_energy", "energy", "seconds"} <= \
        set(history[-1])
    assert after["F_variational"] - exact < 0.5 * (before["F_variational"] - exact)
    assert after["F_variational"] >= exact - 4 * after["F_variational_err"]  # upper bound
    assert abs(after["F_importance"] - exact) < 5e-3


def test_annealing_schedule_and_z2():
    n = 8
    hamiltonian = SherringtonKirkpatrick(n, seed=1)
    model = SKARNN(hamiltonian.couplings, hamiltonian.fields, beta=1.0)
    history = train_variational(model, hamiltonian, 1.0, steps=5, batch_size=50,
                                beta_anneal=0.5, z2=True, progress=False,
                                generator=torch.Generator().manual_seed(0))
    assert [round(h["beta"], 6) for h in history] == [0.5, 0.75, 0.875, 0.9375, 0.96875]
    assert model.z2_symmetric
    x = all_configurations(n, 2)
    torch.testing.assert_close(model.log_prob(x), model.log_prob(1 - x), atol=1e-12, rtol=0)
    assert abs(float(torch.logsumexp(model.log_prob(x).detach(), 0))) < 1e-10


def test_save_load_exact_models(tmp_path):
    sk = SherringtonKirkpatrick(6, seed=2)
    for model in (CurieWeissARNN(7, J=0.5, h=0.1, beta=0.9),
                  SKARNN(sk.couplings, sk.fields, beta=0.7)):
        model.z2_symmetric = True
        path = tmp_path / f"{type(model).__name__}.pt"
        model.save(path)
        loaded = tnborn.load(path)
        assert type(loaded) is type(model) and loaded.z2_symmetric
        x = all_configurations(model.n_sites, 2)
        torch.testing.assert_close(loaded.log_prob(x), model.log_prob(x), atol=0, rtol=0)


# --------------------------------------------------------------------- bad input
def test_physics_arguments_are_checked():
    hamiltonian = SherringtonKirkpatrick(6, seed=0)
    model = SKARNN(hamiltonian.couplings, hamiltonian.fields, beta=1.0)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="beta"):
            free_energy(model, hamiltonian, bad)
        with pytest.raises(ValueError, match="beta"):
            CurieWeissARNN(5, beta=bad)
    with pytest.raises(ValueError, match="sites"):
        free_energy(model, SherringtonKirkpatrick(7, seed=0), 1.0)
    with pytest.raises(ValueError, match="symmetric"):
        SKARNN(torch.tensor([[0.0, 1.0], [2.0, 0.0]]), beta=1.0)
    with pytest.raises(ValueError, match="beta_anneal"):
        train_variational(model, hamiltonian, 1.0, steps=1, beta_anneal=1.5, progress=False)
    with pytest.raises(ValueError, match="outside 0..1"):
        model.log_prob(torch.full((1, 6), 2))
    with pytest.raises(ValueError, match="prefix"):
        model.conditional_sample(torch.zeros(1, 6, dtype=torch.long),
                                 torch.tensor([False, True, False, False, False, False]))
    assert math.isfinite(free_energy(model, hamiltonian, 1.0, num=100)["F_variational"])


def test_physics_asks_the_model_for_its_capabilities():
    """z2=True needs supports_z2 (TypeError, model untouched); a model on another support
    than the spins' Discrete(2) is refused by every physics function, naming it."""
    from tnborn import Independent, Real
    from tnborn.physics import Ising2D
    from tnborn.supports import Discrete

    hamiltonian = Ising2D(4)
    binary = Independent(Discrete(2), 16, seed=0)
    assert binary.supports_z2 is False
    before = {k: v.clone() for k, v in binary.state_dict().items()}
    with pytest.raises(TypeError, match="supports_z2"):
        train_variational(binary, hamiltonian, 0.44, steps=2, batch_size=10, z2=True,
                          progress=False)
    assert not getattr(binary, "z2_symmetric", False)
    assert all(torch.equal(v, binary.state_dict()[k]) for k, v in before.items())
    real = Independent(Real(), 16, seed=0)
    calls = [lambda: train_variational(real, hamiltonian, 0.44, steps=2, batch_size=10,
                                       progress=False),
             lambda: train_variational(real, hamiltonian, 0.44, steps=2, z2=True,
                                       progress=False),
             lambda: free_energy(real, hamiltonian, 0.44, num=10),
             lambda: neural_mcmc(real, hamiltonian, 0.44, steps=2, chains=2)]
    for call in calls:
        with pytest.raises(ValueError, match=r"Real\(\)"):
            call()
    with pytest.raises(ValueError, match=r"Real\(\)"):
        learn_hamiltonian(real, num=100)
    with pytest.raises(ValueError, match=r"Discrete\(3\)"):
        free_energy(Independent(Discrete(3), 16, seed=0), hamiltonian, 0.44, num=10)


def test_neural_mcmc_with_a_trained_made_matches_enumeration():
    """L = 4 Ising at beta = 0.44: a VAN-trained MADE as proposal; E and |m| agree with
    exact enumeration within 3 standard errors."""
    from tnborn import MADE
    from tnborn.physics import Ising2D

    L, beta = 4, 0.44
    hamiltonian = Ising2D(L)
    model = MADE(L * L, hidden=32, seed=0)
    g = torch.Generator().manual_seed(0)
    train_variational(model, hamiltonian, beta, steps=300, batch_size=500, lr=3e-3,
                      beta_anneal=0.98, z2=True, progress=False, generator=g)
    exact = exact_observables(hamiltonian, beta)
    result = neural_mcmc(model, hamiltonian, beta, steps=400, chains=200, generator=g)
    assert 0.3 < result["acceptance"] <= 1.0 and result["tau_int"] >= 1.0
    assert abs(result["energy"] - exact["energy"]) < 3 * result["energy_err"]
    assert abs(result["magnetization"] - exact["abs_magnetization"]) < \
        3 * result["magnetization_err"]
