"""Biazzo's nets: the exact autoregressive form of pairwise Boltzmann distributions
(every conditional against enumeration), the Curie-Weiss nets (exact at their physics
initialization, learnable from a random one), the SK RS / 1RSB / k-RSB nets, and the
refusal of a Hamiltonian other than the one a model embeds."""

from __future__ import annotations

import math

import pytest
import torch

from tnborn import CWARNN, MADE, SKARNN, BoltzmannARNN, CurieWeissARNN
from tnborn.physics import (CurieWeiss, Ising2D, PairwiseHamiltonian, SherringtonKirkpatrick,
                            curie_weiss_log_z, exact_log_z, free_energy, neural_mcmc,
                            train_variational)

from .helpers import all_configurations, chi_square_pvalue, codes


def random_pairwise(n, seed, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    upper = torch.triu(torch.randn(n, n, generator=g, dtype=torch.float64), 1) * scale
    return PairwiseHamiltonian(upper + upper.T, torch.randn(n, generator=g,
                                                            dtype=torch.float64))


def exact_conditionals(hamiltonian, beta, x):
    """ln p(x_i | x_<i) for every configuration row of ``x`` (all of them) and site,
    from the enumerated Boltzmann table: ln p(x_<=i) - ln p(x_<i)."""
    n = x.shape[1]
    log_p = -beta * hamiltonian.energy(x) - exact_log_z(hamiltonian, beta)
    table = log_p.reshape((2,) * n)
    prefix = [torch.zeros(len(x), dtype=torch.float64)]
    for i in range(n):
        marginal = torch.logsumexp(table.reshape(2 ** (i + 1), -1), 1)  # p(x_0..x_i)
        index = (x[:, :i + 1] * 2 ** torch.arange(i, -1, -1)).sum(1)
        prefix.append(marginal[index])
    prefix = torch.stack(prefix, 1)
    return prefix[:, 1:] - prefix[:, :-1]


def model_conditionals(model, x):
    """ln q(x_i | x_<i), every site: the conditionals the model samples from."""
    with torch.no_grad():
        return model._site_log_conditionals(x).double()


# ------------------------------------------------------------- the exact mapping
@pytest.mark.parametrize("n, seed, beta", [(5, 0, 0.5), (9, 1, 1.1), (12, 2, 0.8)])
def test_boltzmann_arnn_is_every_exact_conditional(n, seed, beta):
    hamiltonian = random_pairwise(n, seed)
    model = BoltzmannARNN(hamiltonian.couplings, hamiltonian.fields, beta=beta)
    x = all_configurations(n, 2)
    difference = (model_conditionals(model, x) - exact_conditionals(hamiltonian, beta, x))
    assert float(difference.abs().max()) < 1e-12
    assert float((model.log_prob(x) - (-beta * hamiltonian.energy(x)
                                       - exact_log_z(hamiltonian, beta))).abs().max()) < 1e-12


def test_boltzmann_arnn_samples_and_refuses_other_models():
    hamiltonian = random_pairwise(8, seed=3, scale=0.6)
    model = BoltzmannARNN(hamiltonian.couplings, hamiltonian.fields, beta=0.9)
    samples = model.sample(50_000, generator=torch.Generator().manual_seed(0))
    x = all_configurations(8, 2)
    probabilities = torch.exp(model.log_prob(x)).numpy()
    counts = torch.bincount(codes(samples, 2), minlength=256).numpy()
    assert chi_square_pvalue(counts, probabilities) > 1e-3
    result = free_energy(model, hamiltonian, 0.9, num=2000)
    assert result["F_variational"] == pytest.approx(-exact_log_z(hamiltonian, 0.9) / 0.9,
                                                    abs=1e-10)
    other = random_pairwise(8, seed=4)
    for target, beta, message in ((other, 0.9, "other couplings"),
                                  (hamiltonian, 1.0, "not at beta=1"),
                                  (PairwiseHamiltonian(hamiltonian.couplings), 0.9,
                                   "other fields")):
        with pytest.raises(ValueError, match=message):
            free_energy(model, target, beta, num=10)
        with pytest.raises(ValueError, match=message):
            neural_mcmc(model, target, beta, steps=1, chains=2)
    with pytest.raises(ValueError, match="at most 20 sites"):
        BoltzmannARNN(SherringtonKirkpatrick(21, seed=0).couplings, beta=1.0)


# ----------------------------------------------------------------- Curie-Weiss
@pytest.mark.parametrize("n, beta, J, h", [(10, 0.7, 1.0, 0.2), (12, 1.3, 1.0, 0.0),
                                           (9, 0.4, -0.5, 0.3)])
def test_cwarnn_physics_initialization_is_exact(n, beta, J, h):
    model = CWARNN(n, beta=beta, J=J, h=h)
    x = all_configurations(n, 2)
    expected = -beta * CurieWeiss(n, J=J, h=h).energy(x) - exact_log_z(CurieWeiss(n, J=J, h=h),
                                                                        beta)
    assert float((model.log_prob(x).detach() - expected).abs().max()) < 1e-12
    assert model.num_parameters == 4 * n * n + 4 * n  # O(N^2): padded per-site tables


def test_cwarnn_learns_from_a_random_start_and_the_large_n_net_is_small():
    n, beta = 14, 1.2
    hamiltonian = CurieWeiss(n)
    exact = -curie_weiss_log_z(n, beta) / beta
    model = CWARNN(n, beta=beta, init="random", seed=0)
    start = free_energy(model, hamiltonian, beta, num=20_000)["F_variational"]
    train_variational(model, hamiltonian, beta, steps=250, batch_size=500, lr=0.05,
                      progress=False)
    end = free_energy(model, hamiltonian, beta, num=20_000)["F_variational"]
    assert (end - exact) < 0.05 * (start - exact)
    assert (end - exact) / abs(exact) < 2e-3
    large = CWARNN(n, beta=beta, large_n=True)
    assert large.num_parameters == n + 2
    x = all_configurations(n, 2)
    assert abs(float(torch.logsumexp(large.log_prob(x).detach(), 0))) < 1e-12


def test_cwarnn_refuses_what_is_not_curie_weiss():
    with pytest.raises(ValueError, match="equal couplings between all pairs"):
        CurieWeissARNN(16, beta=0.5).check_hamiltonian(Ising2D(4), 0.5)
    CurieWeissARNN(16, beta=0.5).check_hamiltonian(CurieWeiss(16, J=2.0), 0.7)
    model = CWARNN(16, beta=0.5)
    model.check_hamiltonian(CurieWeiss(16, J=0.3, h=0.2), 0.9)  # another CW: trainable
    with pytest.raises(ValueError, match="equal couplings between all pairs"):
        train_variational(model, Ising2D(4), 0.5, steps=1, batch_size=4, progress=False)
    couplings = CurieWeiss(16).couplings
    fields = torch.linspace(-1, 1, 16, dtype=torch.float64)
    with pytest.raises(ValueError, match="equal fields"):
        free_energy(model, PairwiseHamiltonian(couplings, fields), 0.5, num=10)


# ------------------------------------------------------------------------ SK nets
@pytest.mark.parametrize("structure, k, layers", [("rs", None, 0), ("1rsb", None, 1),
                                                   ("krsb", 3, 3)])
@pytest.mark.parametrize("init", ["physics", "random"])
def test_sk_nets_are_normalized_and_sample_exactly(structure, k, layers, init):
    n, beta = 8, 1.1
    hamiltonian = SherringtonKirkpatrick(n, seed=1, h=0.1)
    model = SKARNN(hamiltonian.couplings, hamiltonian.fields, beta=beta, structure=structure,
                   k=k, init=init, seed=2)
    assert model.k == layers
    # (2k + 3) weights and biases per (site, later spin) pair, two per site
    effective = int((model.weights != 0).sum() + (model.biases != 0).sum())
    assert effective <= (2 * layers + 3) * n * (n - 1)
    x = all_configurations(n, 2)
    log_q = model.log_prob(x).detach()
    assert abs(float(torch.logsumexp(log_q, 0))) < 1e-12
    samples = model.sample(40_000, generator=torch.Generator().manual_seed(3))
    counts = torch.bincount(codes(samples, 2), minlength=2 ** n).numpy()
    assert chi_square_pvalue(counts, torch.exp(log_q).numpy()) > 1e-3


def test_sk_physics_initialization_is_exact_for_non_interacting_later_spins():
    """Spin 0 couples to all, the later spins not among themselves: the independent
    later spins approximation is then exact, for every structure."""
    n, beta = 8, 0.8
    g = torch.Generator().manual_seed(0)
    couplings = torch.zeros(n, n, dtype=torch.float64)
    couplings[0, 1:] = torch.randn(n - 1, generator=g, dtype=torch.float64)
    couplings[1:, 0] = couplings[0, 1:]
    hamiltonian = PairwiseHamiltonian(couplings, 0.3 * torch.randn(n, generator=g,
                                                                   dtype=torch.float64))
    x = all_configurations(n, 2)
    exact = -beta * hamiltonian.energy(x) - exact_log_z(hamiltonian, beta)
    model = SKARNN(hamiltonian.couplings, hamiltonian.fields, beta=beta)
    assert float((model.log_prob(x).detach() - exact).abs().max()) < 1e-12


def test_trained_sk_net_beats_made_at_equal_size():
    """N = 12 SK at beta = 1.5: after the same short training the 1RSB net is closer to
    the exact free energy than a MADE with at least as many (unmasked) parameters."""
    n, beta = 12, 1.5
    hamiltonian = SherringtonKirkpatrick(n, seed=0)
    exact = -exact_log_z(hamiltonian, beta) / beta
    sk = SKARNN(hamiltonian.couplings, beta=beta, structure="1rsb", seed=0)
    made = MADE(n, hidden=40, depth=1, seed=0)
    sk_params = 5 * n * (n - 1) + 2 * n
    made_params = sum(int(getattr(made, f"mask{k}").sum()) + b.numel()
                      for k, b in enumerate(made.biases))
    assert made_params >= sk_params
    errors = {}
    for name, model, lr in (("1rsb", sk, 1e-2), ("made", made, 3e-3)):
        train_variational(model, hamiltonian, beta, steps=200, batch_size=500, lr=lr,
                          beta_anneal=0.95, progress=False,
                          generator=torch.Generator().manual_seed(1))
        result = free_energy(model, hamiltonian, beta, num=20_000,
                             generator=torch.Generator().manual_seed(2))
        errors[name] = (result["F_variational"] - exact) / abs(exact)
    assert 0 <= errors["1rsb"] < errors["made"]


def test_sk_net_refuses_other_couplings_and_bad_options():
    hamiltonian = SherringtonKirkpatrick(6, seed=0)
    model = SKARNN(hamiltonian.couplings, hamiltonian.fields, beta=1.0)
    model.check_hamiltonian(hamiltonian, 2.0)  # any beta: the layers are trained
    with pytest.raises(ValueError, match="other couplings"):
        train_variational(model, SherringtonKirkpatrick(6, seed=1), 1.0, steps=1,
                          batch_size=4, progress=False)
    with pytest.raises(ValueError, match="other fields"):
        free_energy(model, SherringtonKirkpatrick(6, seed=0, h=0.5), 1.0, num=10)
    for kwargs, message in ((dict(structure="2rsb"), "structure must be"),
                            (dict(structure="krsb"), "needs k"),
                            (dict(structure="rs", k=2), "use structure='krsb'"),
                            (dict(structure="krsb", k=0), "k must be"),
                            (dict(init="zeros"), "init must be")):
        with pytest.raises(ValueError, match=message):
            SKARNN(hamiltonian.couplings, beta=1.0, **kwargs)
    assert math.isfinite(float(model.log_prob(torch.zeros(1, 6, dtype=torch.long)).detach()))
