"""Learned Hamiltonians: sparse least squares of ln p and pseudo-likelihood from data.

References are independent of the fitting code: Boltzmann tables built here from planted
couplings on all 2^n configurations, Kaufman's ln Z with the Ising2D energy, brute-force
conditionals by flipping one spin, lattice geometry from coordinates, and the batch-means
spread of Wolff-sample fits.
"""

from __future__ import annotations

import functools
import math
import time

import pytest
import torch

import tnborn.physics.pseudolikelihood as learn_module
from tnborn.base import GenerativeModel
from tnborn.datasets import ising_samples
from tnborn.independent import Independent
from tnborn.physics import (Ising2D, fit_couplings, ising2d_log_z, learn_hamiltonian,
                            lattice_pairs, lattice_plaquettes, lattice_triples)
from tnborn.supports import Discrete

from .helpers import TableModel, all_configurations, codes


# ---------------------------------------------------------------------- references
class IsingBoltzmann(GenerativeModel):
    """ln p = -beta E - ln Z of the periodic L x L Ising model (Kaufman's ln Z)."""

    fit_unit = None

    def __init__(self, L: int, beta: float):
        super().__init__()
        self.n_sites, self.support = L * L, Discrete(2)
        self.hamiltonian, self.beta = Ising2D(L), beta
        self.log_z = ising2d_log_z(L, beta)
        self.register_buffer("anchor", torch.zeros(1, dtype=torch.float64))

    def _log_prob(self, x):
        return -self.beta * self.hamiltonian.energy(x) - self.log_z


@functools.lru_cache(maxsize=None)
def enumeration(n):
    return all_configurations(n, 2)


def spin_products(x, terms):
    s = (2 * x - 1).double()
    return s[:, terms].prod(-1)


def planted(L, seed, *, plaquettes=False, triples=False, pairs=None):
    """All configurations of an L x L lattice and ln-weights of random planted terms."""
    n = L * L
    g = torch.Generator().manual_seed(seed)
    x = enumeration(n)
    pairs = lattice_pairs(L) if pairs is None else pairs
    truth = {"fields": 0.3 * torch.randn(n, generator=g, dtype=torch.float64),
             "pairs": 0.4 * torch.randn(pairs.shape[0], generator=g, dtype=torch.float64)}
    s = (2 * x - 1).double()
    log_w = s @ truth["fields"] + spin_products(x, pairs) @ truth["pairs"]
    extra = {}
    if plaquettes:
        extra["plaquettes"] = lattice_plaquettes(L)
        truth["plaquettes"] = 0.3 * torch.randn(extra["plaquettes"].shape[0], generator=g,
                                                dtype=torch.float64)
        log_w = log_w + spin_products(x, extra["plaquettes"]) @ truth["plaquettes"]
    if triples:
        extra["triples"] = lattice_triples(L)
        truth["triples"] = 0.2 * torch.randn(extra["triples"].shape[0], generator=g,
                                             dtype=torch.float64)
        log_w = log_w + spin_products(x, extra["triples"]) @ truth["triples"]
    return x, log_w, pairs, extra, truth


def assert_recovers(result, truth, atol):
    names = {"fields": "fields", "pairs": "pair_couplings", "plaquettes": "plaquette_couplings",
             "triples": "triple_couplings"}
    for order, value in truth.items():
        torch.testing.assert_close(result[names[order]], value, atol=atol, rtol=0)


# ---------------------------------------------------------------------- lattice graphs
def periodic_distance(L, i, j):
    (ri, ci), (rj, cj) = divmod(i, L), divmod(j, L)
    dr, dc = abs(ri - rj) % L, abs(ci - cj) % L
    return min(dr, L - dr), min(dc, L - dc)


@pytest.mark.parametrize("L", [2, 3, 5])
def test_lattice_graphs_match_the_geometry(L):
    n = L * L
    every = {(i, j) for i in range(n) for j in range(i + 1, n)}
    nearest = {p for p in every if sorted(periodic_distance(L, *p)) == [0, 1]}
    diagonal = {p for p in every if periodic_distance(L, *p) == (1, 1)}
    for kinds, expected in [(("nearest",), nearest), ("next_nearest", diagonal),
                            (("nearest", "next_nearest"), nearest | diagonal)]:
        pairs = lattice_pairs(L, kinds)
        got = [tuple(sorted(p)) for p in pairs.tolist()]
        assert len(got) == len(set(got)) and set(got) == expected
    default = lattice_pairs(L)
    assert torch.equal(default[:len(nearest)], lattice_pairs(L, "nearest"))  # kinds in order
    bonds = {tuple(sorted(b)) for b in Ising2D(L).bonds().tolist()}
    assert bonds == nearest
    # squares from coordinates: {(r, c), (r, c+1), (r+1, c), (r+1, c+1)} mod L
    squares = {frozenset(((r + a) % L) * L + (c + b) % L for a in (0, 1) for b in (0, 1))
               for r in range(L) for c in range(L)}
    quads = [frozenset(q) for q in lattice_plaquettes(L).tolist()]
    assert len(quads) == len(set(quads)) and set(quads) == squares
    triples = [frozenset(t) for t in lattice_triples(L).tolist()]
    expected_triples = {frozenset(t) for q in squares for t in
                        [q - {site} for site in q] if len(t) == 3}
    assert len(triples) == len(set(triples)) and set(triples) == expected_triples


def test_open_lattice_graphs():
    L = 4
    pairs = lattice_pairs(L, periodic=False)
    assert pairs.shape == (2 * L * (L - 1) + 2 * (L - 1) ** 2, 2)
    rows, cols = pairs // L, pairs % L
    assert ((rows[:, 0] - rows[:, 1]).abs() <= 1).all()
    assert ((cols[:, 0] - cols[:, 1]).abs() <= 1).all()
    assert lattice_plaquettes(L, periodic=False).shape == ((L - 1) ** 2, 4)
    assert lattice_triples(L, periodic=False).shape == (4 * (L - 1) ** 2, 3)
    with pytest.raises(ValueError, match="unknown neighbour kind"):
        lattice_pairs(4, ("nearest", "third"))
    with pytest.raises(ValueError, match="twice"):
        lattice_pairs(4, ("nearest", "nearest"))
    with pytest.raises(ValueError, match="L must be"):
        lattice_pairs(1)


# ---------------------------------------------------------------------- least squares
def test_least_squares_recovers_a_planted_pairwise_table_exactly():
    L = 4
    x, log_w, pairs, _, truth = planted(L, 0)
    model = TableModel(log_w, L * L)
    log_z = float(torch.logsumexp(log_w, 0))
    sparse = learn_hamiltonian(model, pairs=pairs, configurations=x)
    assert_recovers(sparse, truth, 1e-10)
    assert sparse["constant"] == pytest.approx(-log_z, abs=1e-10)
    assert sparse["residual_rms"] < 1e-10
    assert sparse["residual_by_order"]["pairs"] == sparse["residual_rms"]
    assert sparse["residual_by_order"]["fields"] > 0.5
    J = sparse["couplings"]
    assert torch.equal(J, J.T) and J[pairs[:, 0], pairs[:, 1]].equal(sparse["pair_couplings"])
    # the dense all-pairs default finds the same couplings and zero off the graph
    dense = learn_hamiltonian(model, configurations=x)
    expected = torch.zeros(L * L, L * L, dtype=torch.float64)
    expected[pairs[:, 0], pairs[:, 1]] = truth["pairs"]
    torch.testing.assert_close(dense["couplings"], expected + expected.T, atol=1e-10, rtol=0)
    # divided by beta on request
    halved = learn_hamiltonian(model, pairs=pairs, configurations=x, beta=2.0)
    torch.testing.assert_close(halved["pair_couplings"], truth["pairs"] / 2, atol=1e-10,
                               rtol=0)
    assert not halved["dimensionless"] and sparse["dimensionless"]


def test_least_squares_recovers_planted_plaquettes_and_triples():
    L = 4
    x, log_w, pairs, extra, truth = planted(L, 1, plaquettes=True, triples=True)
    model = TableModel(log_w, L * L)
    full = learn_hamiltonian(model, pairs=pairs, configurations=x, **extra)
    assert_recovers(full, truth, 1e-10)
    by_order = full["residual_by_order"]
    assert list(by_order) == ["fields", "pairs", "triples", "plaquettes"]
    assert by_order["plaquettes"] < 1e-10 < 0.05 < by_order["triples"] < by_order["pairs"]
    pairwise = learn_hamiltonian(model, pairs=pairs, configurations=x)
    assert pairwise["residual_rms"] > 0.05
    # the nested fit that stops at the pairs is the pairwise-only fit
    assert pairwise["residual_rms"] == pytest.approx(by_order["pairs"], rel=1e-10)
    # a plaquette term alone: the pairwise fit misses it, the plaquette fit does not
    x, log_w, pairs, extra, truth = planted(L, 2, plaquettes=True)
    model = TableModel(log_w, L * L)
    assert_recovers(learn_hamiltonian(model, pairs=pairs, configurations=x, **extra),
                    truth, 1e-10)


def test_least_squares_at_L16_on_wolff_configurations():
    """ln p of the exact L = 16 Boltzmann distribution is pairwise with beta J on the
    nearest neighbours, zero on the next-nearest, and -ln Z (Kaufman) as constant."""
    L, beta = 16, 0.3
    x = ising_samples(L, beta, 1500, seed=3)
    model = IsingBoltzmann(L, beta)
    result = learn_hamiltonian(model, pairs=lattice_pairs(L), configurations=x)
    nn = 2 * L * L
    assert result["couplings"].shape == (L * L, L * L)
    torch.testing.assert_close(result["pair_couplings"][:nn],
                               torch.full((nn,), beta, dtype=torch.float64), atol=1e-9, rtol=0)
    assert result["pair_couplings"][nn:].abs().max() < 1e-9
    assert result["fields"].abs().max() < 1e-9
    assert result["constant"] == pytest.approx(-model.log_z, abs=1e-8)
    # Ising2D's bonds as the graph: the same nearest-neighbour fit
    bonds = learn_hamiltonian(model, pairs=Ising2D(L), configurations=x)
    torch.testing.assert_close(bonds["pair_couplings"], result["pair_couplings"][:nn],
                               atol=1e-9, rtol=0)


def test_least_squares_fields_of_an_independent_model_from_its_samples():
    n = 64
    model = Independent(Discrete(2), n, seed=0)
    logits = torch.randn(n, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with torch.no_grad():
        model.logits.copy_(logits)
    result = learn_hamiltonian(model, pairs=lattice_pairs(8), num=2000,
                               generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(result["fields"], (logits[:, 1] - logits[:, 0]) / 2,
                               atol=1e-10, rtol=0)
    assert result["pair_couplings"].abs().max() < 1e-10
    assert result["num"] == 2000 and result["timing"]["sample"] >= 0


def test_dense_default_refuses_too_many_columns():
    model = Independent(Discrete(2), 256, seed=0)
    with pytest.raises(ValueError, match=r"32,897 columns.*lattice_pairs"):
        learn_hamiltonian(model)
    with pytest.raises(ValueError, match=r"32,896 coefficients.*lattice_pairs"):
        fit_couplings(torch.randint(0, 2, (10, 256)))
    small = TableModel(torch.zeros(2 ** 9), 9)  # 1 + 9 + 36 columns on a 3 x 3 lattice
    with pytest.raises(ValueError, match="at least 46 configurations"):
        learn_hamiltonian(small, pairs=lattice_pairs(3), num=45)


# ---------------------------------------------------------------------- pseudo-likelihood
def brute_force_objective(x, log_w):
    """-sum_i E_p[ln p(s_i | rest)] by flipping each spin in the table."""
    p = torch.softmax(log_w, 0)
    total = 0.0
    for i in range(x.shape[1]):
        flipped = x.clone()
        flipped[:, i] = 1 - flipped[:, i]
        other = log_w[codes(flipped, 2)]
        total -= float(p @ (log_w - torch.logaddexp(log_w, other)))
    return total


def test_pseudolikelihood_is_exact_on_a_weighted_enumeration():
    """With the exact probabilities as weights the pseudo-likelihood maximum is the
    planted couplings (the conditionals are correctly specified)."""
    L = 4
    x, log_w, pairs, extra, truth = planted(L, 3, plaquettes=True)
    p = torch.softmax(log_w, 0)
    result = fit_couplings(x, pairs, weights=p, **extra)
    assert result["method"] == "pseudolikelihood" and result["converged"]
    assert_recovers(result, truth, 1e-10)
    assert result["objective"] == pytest.approx(brute_force_objective(x, log_w), abs=1e-10)
    objectives = list(result["objective_by_order"].values())
    assert objectives == sorted(objectives, reverse=True) and objectives[0] > objectives[-1] + 0.1
    scaled = fit_couplings(x, pairs, weights=3 * p, beta=0.5, **extra)
    torch.testing.assert_close(scaled["pair_couplings"], 2 * truth["pairs"], atol=1e-10, rtol=0)


def test_pseudolikelihood_streams_many_terms_and_solves_by_conjugate_gradients(monkeypatch):
    # 3 x 3 with every pair, triples and plaquettes: 25 terms per site, too many for the
    # pattern table, so the data are streamed
    x, log_w, pairs, extra, truth = planted(3, 4, plaquettes=True, triples=True)
    p = torch.softmax(log_w, 0)
    result = fit_couplings(x, pairs, weights=p, **extra)
    assert_recovers(result, truth, 1e-10)
    # the large-problem solver (conjugate gradients) on a small problem: the same
    # solution in as many Newton steps as with Cholesky (an inexact inner solve would
    # need more)
    x, log_w, pairs, extra, truth = planted(4, 5, plaquettes=True)
    weights = torch.softmax(log_w, 0)
    cholesky = fit_couplings(x, pairs, weights=weights, **extra)
    monkeypatch.setattr(learn_module, "_DENSE_NEWTON_MAX", 5)
    result = fit_couplings(x, pairs, weights=weights, **extra)
    assert_recovers(result, truth, 1e-10)
    assert result["iterations"] == cholesky["iterations"]


def test_pseudolikelihood_on_4x4_wolff_samples_within_standard_errors():
    L, beta, num, batches = 4, 0.3, 80_000, 20
    x = ising_samples(L, beta, num, seed=1)
    pairs = lattice_pairs(L)
    nn = 2 * L * L
    full = fit_couplings(x, pairs)
    assert full["converged"]
    parts = torch.stack([fit_couplings(chunk, pairs)["pair_couplings"]
                         for chunk in x.chunk(batches)])
    # batch means: the spread of the batch fits, pooled over the translation-equivalent
    # pairs of each kind, gives the standard error of a full-data coupling
    se = parts.std(0).pow(2).reshape(2, -1).mean(1).sqrt() / math.sqrt(batches)
    error = full["pair_couplings"] - torch.cat([torch.full((nn,), beta), torch.zeros(nn)])
    assert error[:nn].abs().max() < 4.5 * se[0]
    assert error[nn:].abs().max() < 4.5 * se[1]
    mean_se = parts[:, :nn].mean(1).std() / math.sqrt(batches)
    assert abs(float(error[:nn].mean())) < 4 * mean_se
    assert se[0] < 0.01  # the checks above are not vacuous
    assert full["fields"].abs().max() < 0.1


def test_pseudolikelihood_at_L32_uses_the_sparse_solver():
    L, beta = 32, 0.3
    x = ising_samples(L, beta, 1000, seed=2)
    start = time.perf_counter()
    result = fit_couplings(x, lattice_pairs(L))
    assert time.perf_counter() - start < 10
    nn = 2 * L * L
    couplings = result["pair_couplings"]
    assert result["converged"] and couplings.shape == (4 * L * L,)
    assert abs(float(couplings[:nn].mean()) - beta) < 0.01
    assert abs(float(couplings[nn:].mean())) < 0.01
    assert result["couplings"].shape == (L * L, L * L)


def test_results_share_one_layout():
    x, log_w, pairs, _, _ = planted(3, 6)
    model = TableModel(log_w, 9)
    least_squares = learn_hamiltonian(model, pairs=pairs, configurations=x)
    pseudo = fit_couplings(x, pairs, weights=torch.softmax(log_w, 0))
    assert least_squares.keys() == pseudo.keys()
    assert least_squares["objective"] is None and pseudo["residual_rms"] is None
    assert pseudo["constant"] is None and least_squares["method"] == "least_squares"
    assert pseudo["triples"].shape == (0, 3) and pseudo["plaquette_couplings"].shape == (0,)
    torch.testing.assert_close(least_squares["pair_couplings"], pseudo["pair_couplings"],
                               atol=1e-9, rtol=0)


def test_fields_only_pseudolikelihood_has_a_closed_form():
    """Without couplings each spin is independent: beta h_i = atanh(<s_i>)."""
    x = ising_samples(4, 0.3, 2000, seed=5)
    result = fit_couplings(x, torch.zeros(0, 2, dtype=torch.long))
    s = (2 * x - 1).double()
    h = torch.atanh(s.mean(0))
    torch.testing.assert_close(result["fields"], h, atol=1e-10, rtol=0)
    expected = -float((s @ h).mean() - torch.log(2 * torch.cosh(h)).sum())
    assert result["objective"] == pytest.approx(expected, abs=1e-10)
    assert list(result["objective_by_order"]) == ["fields"]
    assert result["pair_couplings"].shape == (0,) and not result["couplings"].any()


def test_fit_couplings_l2_and_non_convergence():
    x = ising_samples(3, 0.3, 500, seed=0)
    x[:, 4] = 1  # a frozen spin: no finite maximum without a penalty
    with pytest.raises(ValueError, match="site 4 takes the same value"):
        fit_couplings(x, lattice_pairs(3, "nearest"))
    ridge = fit_couplings(x, lattice_pairs(3, "nearest"), l2=0.1)
    assert ridge["converged"] and 0 < ridge["fields"][4] < 20
    with pytest.warns(RuntimeWarning, match="did not converge"):
        result = fit_couplings(ising_samples(3, 0.3, 500, seed=0), max_iter=1)
    assert not result["converged"]


# ---------------------------------------------------------------------- validation
@pytest.mark.parametrize("pairs, error, match", [
    (torch.tensor([[0, 9]]), ValueError, r"outside 0\.\.8"),
    (torch.tensor([[-1, 2]]), ValueError, r"outside 0\.\.8"),
    (torch.tensor([[3, 3]]), ValueError, "self-pair"),
    (torch.tensor([[0, 1], [2, 3], [1, 0]]), ValueError, "rows 0 and 2"),
    (torch.tensor([[0, 1, 2]]), ValueError, r"shape \(count, 2\)"),
    (torch.tensor([0, 1]), ValueError, r"shape \(count, 2\)"),
    (torch.tensor([[0.0, 1.0]]), TypeError, "integer"),
    (torch.tensor([[True, False]]), TypeError, "integer"),
    ("nearest", ValueError, "'all'"),
    (object(), TypeError, "integer tensor"),
    (Ising2D(4), ValueError, "has 16 sites"),
])
def test_bad_pairs_are_refused(pairs, error, match):
    x = ising_samples(3, 0.3, 50, seed=0)
    with pytest.raises(error, match=match):
        fit_couplings(x, pairs)
    model = TableModel(torch.zeros(2 ** 9), 9)
    with pytest.raises(error, match=match):
        learn_hamiltonian(model, pairs=pairs, num=100)


def test_bad_data_terms_and_options_are_refused():
    x = ising_samples(3, 0.3, 50, seed=0)
    pairs = lattice_pairs(3, "nearest")
    bad = x.clone()
    bad[3, 2] = 2
    cases = [
        (lambda: fit_couplings(bad, pairs), ValueError, r"outside 0\.\.1"),
        (lambda: fit_couplings(x.double() + 0.5, pairs), ValueError, "non-integer"),
        (lambda: fit_couplings(x[0], pairs), ValueError, r"shape \(N, n\)"),
        (lambda: fit_couplings(x[None], pairs), ValueError, r"shape \(N, n\)"),
        (lambda: fit_couplings(x[:1], pairs), ValueError, "at least 2"),
        (lambda: fit_couplings("data", pairs), TypeError, "0/1 configurations"),
        (lambda: fit_couplings(TableModel(torch.zeros(2 ** 9), 9), pairs), TypeError,
         "not a model"),
        (lambda: fit_couplings(x, pairs, triples=torch.tensor([[0, 1, 1]])), ValueError,
         "repeated site"),
        (lambda: fit_couplings(x, pairs, triples=torch.tensor([[0, 1, 2], [2, 0, 1]])),
         ValueError, "same sites twice"),
        (lambda: fit_couplings(x, pairs, plaquettes=torch.tensor([[0, 1, 2]])), ValueError,
         r"shape \(count, 4\)"),
        (lambda: fit_couplings(x, pairs, weights=torch.ones(49)), ValueError, r"\(50,\)"),
        (lambda: fit_couplings(x, pairs, weights=-torch.ones(50)), ValueError, ">= 0"),
        (lambda: fit_couplings(x, pairs, weights=torch.zeros(50)), ValueError, "all zero"),
        (lambda: fit_couplings(x, pairs, l2=-1.0), ValueError, "l2 must be >= 0"),
        (lambda: fit_couplings(x, pairs, max_iter=0), ValueError, "max_iter"),
        (lambda: fit_couplings(x, pairs, beta=0.0), ValueError, "beta"),
    ]
    for call, error, match in cases:
        with pytest.raises(error, match=match):
            call()
    # plain lists and bool data are accepted
    as_lists = fit_couplings(x.bool().tolist(), pairs.tolist())
    torch.testing.assert_close(as_lists["pair_couplings"],
                               fit_couplings(x, pairs)["pair_couplings"])


@pytest.mark.slow
def test_pseudolikelihood_at_L16_acceptance():
    """The acceptance run (benchmarks/learn_hamiltonian_scale.py prints the figures):
    200,000 Wolff samples of the 16 x 16 lattice at beta = 0.3, nearest + next-nearest
    graph: fit < 30 s, every nearest-neighbour beta J within 5%."""
    L, beta = 16, 0.3
    x = ising_samples(L, beta, 200_000, seed=0)
    start = time.perf_counter()
    result = fit_couplings(x, lattice_pairs(L))
    seconds = time.perf_counter() - start
    nn = 2 * L * L
    relative = (result["pair_couplings"][:nn] - beta).abs() / beta
    assert seconds < 30
    assert relative.max() < 0.05
    assert result["pair_couplings"][nn:].abs().max() < 0.015
