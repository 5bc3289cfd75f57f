"""The contract every GenerativeModel keeps, checked on one small instance of each class
(and of Independent on each support), as torch's distribution tests do.

A new model class is covered by one line in ``MODELS``: a name and a function
``build(seed)`` returning a small instance whose distribution is not trivial.

References are independent of the models: enumeration of every configuration
(discrete), quadrature of the two-site joint density (continuous: tanh-sinh on bounded
sites, which copes with the endpoint singularities of Beta densities, Gauss-Legendre on
the line), chi-square and Kolmogorov-Smirnov tests of samples against the exact
distribution, marginals and conditionals. A continuous model on more than two sites (a
lattice flow) is checked against importance sampling from a heavy-tailed proposal
instead: its normalization within the statistical error, its site marginals.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import scipy.stats
import torch

import tnborn
from tnborn import (CWARNN, HAN, MADE, SKARNN, BoltzmannARNN, Circle, ContinuousMADE,
                    ContinuousPixelCNN, CurieWeissARNN, Discrete, Independent, Interval,
                    MPSBornMachine, PixelCNN, PixelCNN3D, RBM, Real, TTNBornMachine)
from tnborn.diagnostics import mutual_information
from tnborn.flows import Compose, NeuralRG, RealNVP
from tnborn.physics import SherringtonKirkpatrick

from .helpers import all_configurations, chi_square_pvalue, codes

P_VALUE = 1e-3
SAMPLES = 20_000


def _fitted_independent(support, n_sites, seed):
    """An Independent model fitted to draws of a fixed, non-uniform distribution."""
    g = torch.Generator().manual_seed(100 + seed)
    shape = (400, n_sites)
    if isinstance(support, Discrete):
        weights = torch.tensor([0.6, 0.3, 0.1])[:support.k]
        data = torch.multinomial(weights, shape[0] * n_sites, True, generator=g).view(shape)
    elif isinstance(support, Circle):
        data = torch.remainder(1.0 + 0.8 * torch.randn(shape, generator=g, dtype=torch.float64)
                               + torch.arange(n_sites), 2 * math.pi)
    elif isinstance(support, Real):
        data = 0.5 + 2.0 * torch.randn(shape, generator=g, dtype=torch.float64)
    else:
        gamma_a = torch._standard_gamma(torch.full(shape, 2.5, dtype=torch.float64), generator=g)
        gamma_b = torch._standard_gamma(torch.full(shape, 4.0, dtype=torch.float64), generator=g)
        data = support.lo + (support.hi - support.lo) * gamma_a / (gamma_a + gamma_b)
    model = Independent(support, n_sites, seed=seed)
    model.fit(data)
    return model


def _skewed_pairs(seed):
    """400 draws of a correlated, skewed two-site distribution."""
    g = torch.Generator().manual_seed(300 + seed)
    a = torch.randn(400, generator=g, dtype=torch.float64)
    return torch.stack([a, 0.6 * a + 0.3 * a * a + 0.5 * torch.randn(
        400, generator=g, dtype=torch.float64)], 1)


def _fitted_realnvp(seed):
    """A RealNVP after a few epochs on correlated, skewed two-site data."""
    model = RealNVP(2, blocks=4, hidden=8, seed=seed)
    model.fit(_skewed_pairs(seed), epochs=15, lr=1e-2, batch_size=50, progress=False)
    return model


def _fitted_compose(seed):
    """Two RealNVPs in a row after a few epochs on the same two-site data."""
    model = Compose(RealNVP(2, blocks=2, hidden=8, seed=seed),
                    RealNVP(2, blocks=2, hidden=8, seed=seed + 50), seed=seed)
    model.fit(_skewed_pairs(seed), epochs=15, lr=1e-2, batch_size=50, progress=False)
    return model


def _fitted_neuralrg(seed):
    """A NeuralRG on the 2 x 2 lattice after a few epochs on correlated, skewed data."""
    g = torch.Generator().manual_seed(400 + seed)
    a = torch.randn(400, 4, generator=g, dtype=torch.float64)
    mixing = torch.tensor([[1.0, 0.6, 0.5, 0.2], [0.0, 0.8, 0.2, 0.5],
                           [0.0, 0.0, 0.8, 0.5], [0.0, 0.0, 0.0, 0.7]], dtype=torch.float64)
    model = NeuralRG(2, couplings=2, hidden=8, seed=seed)
    model.fit(a @ mixing + 0.3 * a[:, :1] ** 2, epochs=15, lr=1e-2, batch_size=50,
              progress=False)
    return model


def _sk(seed, **options):
    h = SherringtonKirkpatrick(6, seed=4, h=0.2)
    return SKARNN(h.couplings, h.fields, beta=0.9, seed=seed, **options)


def _boltzmann(seed):
    h = SherringtonKirkpatrick(6, seed=5, h=0.1)
    return BoltzmannARNN(h.couplings, h.fields, beta=1.2, seed=seed)


#: (name, build(seed)); every model class of the library appears here
MODELS = [
    ("mps", lambda seed: MPSBornMachine(6, max_bond=4, init_bond=3, seed=seed)),
    ("mps-d3-complex", lambda seed: MPSBornMachine(5, 3, init_bond=3, seed=seed,
                                                   dtype=torch.complex128)),
    ("ttn", lambda seed: TTNBornMachine(6, init_bond=3, seed=seed)),
    ("ttn-2d-d3", lambda seed: TTNBornMachine(6, 3, layout=(2, 3), init_bond=3, seed=seed)),
    ("made", lambda seed: MADE(6, hidden=8, seed=seed)),
    ("made-d3", lambda seed: MADE(5, 3, hidden=8, seed=seed)),
    ("pixelcnn", lambda seed: PixelCNN((2, 3), channels=4, layers=2, seed=seed)),
    ("pixelcnn-3d", lambda seed: PixelCNN3D((2, 2, 2), channels=4, layers=2, seed=seed)),
    ("han", lambda seed: HAN(4, exact_last_level=True, beta=0.4, hidden=6, seed=seed)),
    ("han-3d", lambda seed: HAN((2, 2, 2), dim=3, hidden=6, seed=seed)),
    ("rbm", lambda seed: RBM(6, 4, init_scale=0.5, seed=seed)),
    ("curie-weiss", lambda seed: CurieWeissARNN(6, beta=0.8, h=0.15, seed=seed)),
    ("sk", _sk),
    ("sk-1rsb-random", lambda seed: _sk(seed, structure="1rsb", init="random")),
    ("boltzmann-arnn", _boltzmann),
    ("cwarnn-random", lambda seed: CWARNN(6, beta=0.8, h=0.1, init="random", seed=seed)),
    ("cwarnn-large-n", lambda seed: CWARNN(6, beta=1.3, large_n=True, seed=seed)),
    ("independent-discrete", lambda seed: _fitted_independent(Discrete(3), 4, seed)),
    ("independent-circle", lambda seed: _fitted_independent(Circle(), 2, seed)),
    ("independent-real", lambda seed: _fitted_independent(Real(), 2, seed)),
    ("independent-interval", lambda seed: _fitted_independent(Interval(-1.0, 2.0), 2, seed)),
    ("can-made-vonmises", lambda seed: ContinuousMADE(2, components=3, hidden=6, seed=seed)),
    ("can-made-beta", lambda seed: ContinuousMADE(2, family="beta", components=2, hidden=6,
                                                  seed=seed)),
    ("can-made-gaussian", lambda seed: ContinuousMADE(2, support=Real(), family="gaussian",
                                                      components=2, hidden=6, seed=seed)),
    ("can-made-interval", lambda seed: ContinuousMADE(2, support=Interval(-1.0, 2.0),
                                                      family="beta", hidden=6, seed=seed)),
    ("can-pixelcnn", lambda seed: ContinuousPixelCNN((1, 2), components=2, channels=4,
                                                     layers=2, seed=seed)),
    ("realnvp", _fitted_realnvp),
    ("compose-realnvp", _fitted_compose),
    ("neuralrg", _fitted_neuralrg),
]
BUILDERS = dict(MODELS)
NAMES = [name for name, _ in MODELS]
DISCRETE = [name for name in NAMES if BUILDERS[name](0).support.is_discrete]
CONTINUOUS = [name for name in NAMES if name not in DISCRETE]

_cache: dict = {}


def model_named(name, seed=0):
    """A fresh deep copy of the (cached) instance ``name`` built with ``seed``."""
    key = (name, seed)
    if key not in _cache:
        _cache[key] = BUILDERS[name](seed)
    return copy.deepcopy(_cache[key])


#: continuous models whose two-site joint density the quadrature references integrate
TWO_SITE = [name for name in CONTINUOUS if model_named(name).n_sites == 2]
MANY_SITE = [name for name in CONTINUOUS if name not in TWO_SITE]


def test_every_model_class_is_covered():
    """Each concrete model class of tnborn appears in MODELS (Independent once per
    support)."""
    covered = {type(BUILDERS[name](0)).__name__ for name in NAMES}
    expected = {"MPSBornMachine", "TTNBornMachine", "MADE", "PixelCNN", "HAN",
                "CurieWeissARNN", "SKARNN", "Independent", "BoltzmannARNN", "CWARNN",
                "ContinuousMADE", "ContinuousPixelCNN", "RealNVP", "Compose", "PixelCNN3D", "RBM",
                "NeuralRG"}
    assert covered == expected
    supports = {type(BUILDERS[name](0).support).__name__ for name in NAMES
                if name.startswith("independent")}
    assert supports == {"Discrete", "Circle", "Real", "Interval"}


# ------------------------------------------------------------------- references
def exact_table(model):
    """ln p of every configuration (lexicographic), float64."""
    x = all_configurations(model.n_sites, model.local_dim)
    with torch.no_grad():
        return model.log_prob(x).double()


def _window(model, site):
    """The interval that holds (all but a negligible part of) one site's density."""
    support = model.support
    if isinstance(support, Circle):  # [0, 2 pi): the last float below 2 pi
        return 0.0, float(np.nextafter(2 * math.pi, 0))
    if isinstance(support, Interval):
        return support.lo, support.hi
    # the real line: +- 14 standard deviations around the mean of the model's samples
    draws = model.sample(4000, generator=torch.Generator().manual_seed(7))[:, site]
    mean, std = float(draws.mean()), float(draws.std())
    return mean - 14 * std, mean + 14 * std


def _nodes(model, site, count):
    """Quadrature nodes and weights of one site: tanh-sinh on a bounded support (nodes
    crowd at the ends, so an integrable endpoint singularity costs no accuracy),
    Gauss-Legendre on the window of the real line."""
    lo, hi = _window(model, site)
    if isinstance(model.support, Real):
        nodes, weights = np.polynomial.legendre.leggauss(count)
        half = (hi - lo) / 2
        return lo + half * (nodes + 1), half * weights
    t = np.linspace(-3.2, 3.2, count)
    step = t[1] - t[0]
    inner = np.pi / 2 * np.sinh(t)
    u = np.tanh(inner)  # in (-1, 1)
    weights = step * np.pi / 2 * np.cosh(t) / np.cosh(inner) ** 2
    keep = (u > -1) & (u < 1)
    half = (hi - lo) / 2
    return lo + half * (u[keep] + 1), half * weights[keep]


def joint_density_grid(model, count):
    """Nodes and weights of both sites and the joint density on their product grid."""
    assert model.n_sites == 2
    (x0, w0), (x1, w1) = (_nodes(model, s, count) for s in range(2))
    grid = torch.tensor(np.stack(np.meshgrid(x0, x1, indexing="ij"), -1).reshape(-1, 2))
    with torch.no_grad():
        density = torch.exp(model.log_prob(grid)).numpy().reshape(len(x0), len(x1))
    return (x0, w0), (x1, w1), density


def quadrature_mass(model, count=300):
    """Integral of p over the whole (two-site) domain by a product quadrature rule."""
    (_, w0), (_, w1), density = joint_density_grid(model, count)
    return float(w0 @ density @ w1)


def _cdf_from_nodes(nodes, weights, density):
    """The CDF through quadrature nodes (each node's cell counted half at the node),
    normalized, as an interpolating function."""
    mass = weights * density
    cumulative = np.cumsum(mass) - mass / 2
    cumulative /= mass.sum()
    return lambda values: np.interp(values, nodes, cumulative)


def importance_sample(model, num=1 << 18, nu=3):
    """``(x, w)``: ``num`` draws ``(num, n_sites)`` from a proposal g that knows nothing of
    the model but the mean and covariance of its samples (a multivariate Student t with
    ``nu`` (an integer: the chi-square is a sum of squared normals) degrees of freedom, tails heavier than any flow's, centred on that mean with
    twice that covariance) and their importance weights w = p(x) / g(x) ``(num,)``."""
    draws = model.sample(4000, generator=torch.Generator().manual_seed(7))
    mean, d = draws.mean(0), model.n_sites
    chol = torch.linalg.cholesky(2 * torch.cov(draws.T))
    g = torch.Generator().manual_seed(13)
    normal = torch.randn(num, d, generator=g, dtype=torch.float64) @ chol.T
    chi2 = (torch.randn(num, int(nu), generator=g, dtype=torch.float64) ** 2).sum(1,
                                                                              keepdim=True)
    x = mean + normal / torch.sqrt(chi2 / nu)
    whitened = torch.linalg.solve_triangular(chol, (x - mean).T, upper=False)
    log_g = (math.lgamma((nu + d) / 2) - math.lgamma(nu / 2) - d / 2 * math.log(nu * math.pi)
             - torch.log(torch.diagonal(chol)).sum()
             - (nu + d) / 2 * torch.log1p((whitened * whitened).sum(0) / nu))
    with torch.no_grad():
        return x, torch.exp(model.log_prob(x) - log_g)


def marginal_cdfs(model, count=700):
    """The exact marginal CDF of every site: for two sites, the joint density integrated
    over the other site on the quadrature grid (``count`` nodes a site); for more, the
    weighted empirical CDF of :func:`importance_sample`."""
    if model.n_sites == 2:
        (x0, w0), (x1, w1), density = joint_density_grid(model, count)
        return [_cdf_from_nodes(x0, w0, density @ w1), _cdf_from_nodes(x1, w1, w0 @ density)]
    x, w = importance_sample(model)
    cdfs = []
    for site in range(model.n_sites):
        order = torch.argsort(x[:, site])
        cumulative = torch.cumsum(w[order], 0)
        nodes, values = x[order, site].numpy(), (cumulative / cumulative[-1]).numpy()
        cdfs.append(lambda v, nodes=nodes, values=values: np.interp(v, nodes, values))
    return cdfs


def conditional_cdf(model, first, count=700, grid=None):
    """The exact CDF of site 1 given site 0 = ``first``, on the quadrature ``grid`` of
    site 1 (default ``_nodes(model, 1, count)``; pass it to reuse it)."""
    nodes, weights = _nodes(model, 1, count) if grid is None else grid
    x = torch.tensor(np.stack([np.full_like(nodes, first), nodes], -1))
    with torch.no_grad():
        density = torch.exp(model.log_prob(x)).numpy()
    return _cdf_from_nodes(nodes, weights, density)


def binned_pvalue(samples, model, probabilities, bins=64):
    """Chi-square p-value of samples against exact probabilities, over every
    configuration for small systems, else over ``bins`` ranges of consecutive
    (lexicographic) configurations of about equal probability."""
    counts = np.bincount(codes(samples, model.local_dim).numpy(),
                         minlength=probabilities.numel())
    probabilities = probabilities.numpy()
    impossible = probabilities == 0
    assert counts[impossible].sum() == 0, "samples where p = 0"
    counts, probabilities = counts[~impossible], probabilities[~impossible]
    if probabilities.size > 4096:
        edges = np.searchsorted(np.cumsum(probabilities), np.linspace(0, 1, bins + 1)[1:-1])
        counts = np.add.reduceat(counts, np.concatenate([[0], edges]))
        probabilities = np.add.reduceat(probabilities, np.concatenate([[0], edges]))
    return chi_square_pvalue(counts, probabilities)


def state_snapshot(model):
    return {k: (v.detach().clone() if isinstance(v, torch.Tensor) else copy.deepcopy(v))
            for k, v in model.state_dict().items()}


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], torch.Tensor):
            assert torch.equal(a[key], b[key]), key
        else:
            assert a[key] == b[key], key


# ------------------------------------------------------------------ the contract
@pytest.mark.parametrize("name", DISCRETE)
def test_discrete_normalization_by_enumeration(name):
    model = model_named(name)
    assert abs(float(torch.logsumexp(exact_table(model), 0))) < 1e-10


@pytest.mark.parametrize("name", TWO_SITE)
def test_continuous_normalization_by_quadrature(name):
    model = model_named(name)
    assert quadrature_mass(model) == pytest.approx(1.0, abs=1e-8)


@pytest.mark.parametrize("name", MANY_SITE)
def test_continuous_normalization_by_importance_sampling(name):
    _, w = importance_sample(model_named(name))
    mass, error = float(w.mean()), float(w.std()) / math.sqrt(w.numel())
    assert error < 0.01 and abs(mass - 1) < 5 * error


@pytest.mark.parametrize("name", DISCRETE)
def test_discrete_samples_follow_the_exact_distribution(name):
    model = model_named(name)
    samples = model.sample(SAMPLES, generator=torch.Generator().manual_seed(1))
    assert samples.dtype == torch.long and samples.shape == (SAMPLES, model.n_sites)
    assert binned_pvalue(samples, model, torch.exp(exact_table(model))) > P_VALUE


@pytest.mark.parametrize("name", CONTINUOUS)
def test_continuous_samples_follow_the_exact_marginals(name):
    model = model_named(name)
    samples = model.sample(SAMPLES, generator=torch.Generator().manual_seed(1))
    assert samples.dtype == model.dtype and samples.shape == (SAMPLES, model.n_sites)
    model.validate_configurations(samples)  # inside the support
    for site, cdf in enumerate(marginal_cdfs(model)):
        result = scipy.stats.kstest(samples[:, site].numpy(), cdf)
        assert result.pvalue > P_VALUE, (site, result)


@pytest.mark.parametrize("name", DISCRETE)
def test_conditional_samples_follow_the_exact_conditional(name):
    model = model_named(name)
    n, d = model.n_sites, model.local_dim
    order = getattr(model, "order", torch.arange(n))
    candidates = [torch.zeros(n, dtype=torch.bool) for _ in range(2)]
    candidates[0][order[:2]] = True  # a prefix of the site order
    candidates[1][[0, n - 1]] = True  # the two ends
    exact_masks = [m for m in candidates if model.conditional_is_exact(m)]
    assert exact_masks, "every model samples exactly given a prefix of its site order"
    table = torch.exp(exact_table(model))
    x_all = all_configurations(n, d)
    for known in exact_masks:
        given = model.sample(1, generator=torch.Generator().manual_seed(3))[0]
        drawn = model.conditional_sample(given.expand(5000, n), known,
                                         generator=torch.Generator().manual_seed(4))
        assert torch.equal(drawn[:, known], given[known].expand(5000, -1))
        consistent = (x_all[:, known] == given[known]).all(1)
        conditional = torch.where(consistent, table, torch.zeros_like(table))
        assert binned_pvalue(drawn, model, conditional / conditional.sum()) > P_VALUE
    for known in candidates:
        if not model.conditional_is_exact(known):
            with pytest.raises(ValueError):
                model.conditional_sample(x_all[:2], known)


@pytest.mark.parametrize("name", CONTINUOUS)
def test_continuous_conditional_sampling_keeps_the_known_sites(name):
    model = model_named(name)
    known = torch.arange(model.n_sites) == 0
    given = model.sample(1, generator=torch.Generator().manual_seed(3))
    if not model.conditional_is_exact(known):  # a flow: only the joint is tractable
        with pytest.raises(ValueError):
            model.conditional_sample(given, known)
        return
    drawn = model.conditional_sample(given.expand(4000, 2), known,
                                     generator=torch.Generator().manual_seed(4))
    assert torch.equal(drawn[:, 0], given[0, 0].expand(4000))
    # the free site follows its conditional given the known one
    cdf = conditional_cdf(model, float(given[0, 0]))
    assert scipy.stats.kstest(drawn[:, 1].numpy(), cdf).pvalue > P_VALUE


@pytest.mark.parametrize("name", TWO_SITE)
def test_continuous_samples_follow_the_two_site_joint(name):
    """The Rosenblatt transform u = F(x_1 | x_0) of exact joint samples is uniform on
    [0, 1] (and independent of x_0): KS of u, and of u over the samples with x_0 below
    and above its median."""
    model = model_named(name)
    samples = model.sample(1500, generator=torch.Generator().manual_seed(12)).numpy()
    grid = _nodes(model, 1, 300)
    u = np.array([conditional_cdf(model, a, grid=grid)(b) for a, b in samples])
    assert scipy.stats.kstest(u, "uniform").pvalue > P_VALUE
    low = samples[:, 0] < np.median(samples[:, 0])
    for part in (u[low], u[~low]):
        assert scipy.stats.kstest(part, "uniform").pvalue > P_VALUE


@pytest.mark.parametrize("name", NAMES)
def test_marginals_where_exact_sum_the_joint(name):
    model = model_named(name)
    if not model.support.is_discrete:
        every = list(range(model.n_sites))
        assert model.marginal_is_exact(every)
        x = model.sample(50, generator=torch.Generator().manual_seed(2))
        expected = model.log_prob(x).detach()  # every site: the marginal is the joint
        torch.testing.assert_close(model.marginal_log_prob(x, every), expected,
                                   rtol=0, atol=1e-12)
        return
    sites = [0, model.n_sites - 1]
    if not model.marginal_is_exact(sites):
        sites = model.order[:2].tolist()
    assert model.marginal_is_exact(sites)
    table = torch.exp(exact_table(model))
    x_all = all_configurations(model.n_sites, model.local_dim)
    x = model.sample(40, generator=torch.Generator().manual_seed(2))
    match = (x[:, None, sites] == x_all[None, :, sites]).all(-1)
    expected = torch.log((match * table).sum(1))
    torch.testing.assert_close(model.marginal_log_prob(x, sites).double(), expected,
                               rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", NAMES)
def test_sample_and_log_prob_agree(name):
    model = model_named(name)
    x, log_q = model.sample_and_log_prob(64, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(log_q.detach(), model.log_prob(x).detach(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_and_file_round_trips(name, tmp_path):
    model = model_named(name, seed=0)
    x = model.sample(32, generator=torch.Generator().manual_seed(6))
    expected = model.log_prob(x).detach()
    other = model_named(name, seed=1)
    other.load_state_dict(model.state_dict())
    torch.testing.assert_close(other.log_prob(x).detach(), expected, rtol=0, atol=1e-12)
    assert_same_state(state_snapshot(other), state_snapshot(model))
    torch.save(model.state_dict(), tmp_path / "state.pt")
    third = model_named(name, seed=2)
    third.load_state_dict(torch.load(tmp_path / "state.pt", weights_only=True))
    torch.testing.assert_close(third.log_prob(x).detach(), expected, rtol=0, atol=1e-12)
    model.save(tmp_path / "model.pt")
    loaded = tnborn.load(tmp_path / "model.pt")
    assert type(loaded) is type(model) and loaded.support == model.support
    torch.testing.assert_close(loaded.log_prob(x).detach(), expected, rtol=0, atol=1e-12)
    assert_same_state(state_snapshot(loaded), state_snapshot(model))


@pytest.mark.filterwarnings("ignore:Complex modules are a new feature")
@pytest.mark.parametrize("name", NAMES)
def test_deepcopy_and_float32(name):
    model = model_named(name)
    x = model.sample(32, generator=torch.Generator().manual_seed(6))
    expected = model.log_prob(x).detach()
    twin = copy.deepcopy(model)
    torch.testing.assert_close(twin.log_prob(x).detach(), expected, rtol=0, atol=1e-12)
    dtype = torch.complex64 if model.dtype.is_complex else torch.float32
    single = model.to(dtype)
    assert all(p.dtype == dtype for p in single.parameters())
    low = single.log_prob(x).detach()
    assert low.dtype == torch.float32
    torch.testing.assert_close(low.double(), expected, rtol=0, atol=2e-4)
    if model.support.is_discrete:
        assert abs(float(torch.logsumexp(exact_table(single), 0))) < 1e-4


@pytest.mark.filterwarnings("ignore:the Monte Carlo marginal rests on few")
@pytest.mark.parametrize("name", NAMES)
def test_reading_methods_leave_the_state_unchanged(name):
    model = model_named(name)
    before = state_snapshot(model)
    center = getattr(model, "center", None)
    g = torch.Generator().manual_seed(8)
    x = model.sample(16, generator=g)
    model.log_prob(x)
    model.nll(x)
    model.sample_and_log_prob(4, generator=g)
    known = torch.zeros(model.n_sites, dtype=torch.bool)
    known[model.order[0] if hasattr(model, "order") else 0] = True
    if not model.marginal_is_exact(known):  # a flow: the joint only
        known[:] = True
    model.marginal_log_prob(x, known)
    model.conditional_sample(x, known, generator=g)
    if model.has_bonds:
        model.entanglement_entropy()
        model.bond_spectra()
    if model.support.is_discrete:
        mutual_information(model, 1)
        mutual_information(model, 1, num=50, generator=g, inner=4)
    assert_same_state(state_snapshot(model), before)
    assert getattr(model, "center", None) == center


@pytest.mark.parametrize("name", NAMES)
def test_reproducible_with_a_generator(name):
    model = model_named(name)
    a = model.sample(50, generator=torch.Generator().manual_seed(9))
    b = model.sample(50, generator=torch.Generator().manual_seed(9))
    c = model.sample(50, generator=torch.Generator().manual_seed(10))
    assert torch.equal(a, b) and not torch.equal(a, c)
    # without a generator, two identically seeded models draw the same stream
    first, second = model_named(name, seed=4), model_named(name, seed=4)
    assert torch.equal(first.sample(20), second.sample(20))


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_is_rejected_with_a_clear_error(name):
    model = model_named(name)
    n = model.n_sites
    x = model.sample(3, generator=torch.Generator().manual_seed(11))
    with pytest.raises(ValueError, match="sites"):
        model.log_prob(x[:, :-1])
    with pytest.raises(ValueError, match="empty"):
        model.log_prob(x[:0])
    with pytest.raises(TypeError):
        model.log_prob("not a configuration")
    if model.support.is_discrete:
        bad = x.clone()
        bad[1, 0] = model.local_dim
        with pytest.raises(ValueError, match="outside"):
            model.log_prob(bad)
        with pytest.raises(ValueError, match="NaN"):
            model.log_prob(torch.full((2, n), float("nan")))
        with pytest.raises(ValueError, match="non-integer"):
            model.log_prob(torch.full((2, n), 0.5))
    else:
        with pytest.raises(TypeError, match="floating"):
            model.log_prob(torch.zeros(2, n, dtype=torch.long))
        with pytest.raises(ValueError, match="non-finite"):
            model.log_prob(torch.full((2, n), float("nan"), dtype=torch.float64))
        outside = {"Circle": 2 * math.pi, "Interval": 2.5, "Real": float("inf")}
        bad = x.clone()
        bad[0, 1] = outside[type(model.support).__name__]
        with pytest.raises(ValueError):
            model.log_prob(bad)
    with pytest.raises(ValueError):
        model.sample(0)
    with pytest.raises(TypeError):
        model.sample(2.5)
    with pytest.raises(TypeError):
        model.sample(2, generator=0)
    with pytest.raises(TypeError):
        model.conditional_sample(x, torch.ones(n))  # not a bool mask
    bad_state = {k: (torch.full_like(v, float("nan")) if isinstance(v, torch.Tensor)
                     and v.is_floating_point() else v) for k, v in model.state_dict().items()}
    if any(isinstance(v, torch.Tensor) and v.is_floating_point() for v in bad_state.values()):
        with pytest.raises(ValueError, match="non-finite"):
            model_named(name).load_state_dict(bad_state)


@pytest.mark.parametrize("name", NAMES)
def test_capabilities_and_repr(name):
    model = model_named(name)
    for flag in ("exact_sampling", "has_bonds", "has_rsample", "supports_z2"):
        assert isinstance(getattr(model, flag), bool), flag
    assert model.exact_sampling
    assert model.marginal_is_exact(range(model.n_sites))
    text = repr(model)
    assert text.startswith(type(model).__name__ + "(") and "parameters=" in text
    assert f"{model.num_parameters:,}" in text
    assert model.num_parameters == sum(p.numel() for p in model.parameters())
    if model.has_bonds:
        assert len(model.bonds) == len(model.bond_dims) == len(model.entanglement_entropy())
    if not model.has_rsample:
        with pytest.raises(TypeError, match="reparametrized"):
            model.rsample(2)


@pytest.mark.parametrize("name", [n for n in NAMES if BUILDERS[n](0).has_rsample])
def test_rsample_is_differentiable_and_exact(name):
    model = model_named(name)
    drawn = model.rsample(SAMPLES, generator=torch.Generator().manual_seed(12))
    drawn.mean().backward()
    assert any(p.grad is not None and float(p.grad.abs().sum()) > 0
               for p in model.parameters())
    samples = drawn.detach()
    model.validate_configurations(samples)
    for site, cdf in enumerate(marginal_cdfs(model)):
        assert scipy.stats.kstest(samples[:, site].numpy(), cdf).pvalue > P_VALUE
