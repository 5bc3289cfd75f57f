"""Marginals, mutual information, Renyi MI, KL and entanglement against independent
references: enumeration with itertools, counting over explicit pattern lists."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import torch

from .helpers import all_configurations
from tnborn import MADE, HAN, MPSBornMachine, PixelCNN, RBM, TTNBornMachine
from tnborn.datasets import bars_and_stripes
from tnborn.diagnostics import (entanglement_entropy, kl_divergence, mutual_information,
                                mutual_information_profile, renyi_mutual_information)


def perturbed_mps(n, d=2, bond=5, dtype=torch.float64, seed=0):
    """A random MPS whose entries are not all positive (uniform init plus noise)."""
    model = MPSBornMachine(n, d, init_bond=bond, seed=seed, dtype=dtype)
    g = torch.Generator().manual_seed(seed)
    noise = [torch.randn(t.shape, generator=g, dtype=torch.float64).to(dtype)
             for t in model.tensors]
    return MPSBornMachine.from_tensors([t.detach() + 0.5 * e
                                        for t, e in zip(model.tensors, noise)],
                                       center=0, seed=seed)


def sharp_made(n, seed=0, scale=3.0):
    """A random MADE with weights scaled up, so that it has sizeable correlations."""
    torch.manual_seed(seed)
    model = MADE(n, hidden=32, depth=2)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(scale)
    return model


def enumerated_marginal(model, x, sites):
    """ln p(x_S) by summing exp(log_prob) over all configurations that agree on S."""
    allx = all_configurations(model.n_sites, model.local_dim)
    log_p = model.log_prob(allx).detach()
    match = (allx[None, :, sites] == x[:, None, sites]).all(-1)
    return torch.logsumexp(torch.where(match, log_p[None], -math.inf), 1)


def enumerated_mi(model, sites_a):
    """I(A:B) from the dense distribution with numpy (no tnborn diagnostics code)."""
    n, d = model.n_sites, model.local_dim
    p = torch.exp(model.log_prob(all_configurations(n, d)).detach()).numpy()
    sites_b = [s for s in range(n) if s not in sites_a]
    table = p.reshape((d,) * n).transpose(list(sites_a) + sites_b)
    table = table.reshape(d ** len(sites_a), d ** len(sites_b))
    pa, pb = table.sum(1, keepdims=True), table.sum(0, keepdims=True)
    mask = table > 0
    return float((table[mask] * np.log(table[mask] / (pa * pb)[mask])).sum())


SETS = [[0], [1, 2], [0, 3, 6], [6], [2, 5], [1, 3, 4, 5], [0, 6], [0, 1, 2, 3], [3, 4, 5, 6]]


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
@pytest.mark.parametrize("d", [2, 3])
def test_mps_marginals_match_enumeration(dtype, d):
    model = perturbed_mps(7, d, bond=5, dtype=dtype, seed=d)
    x = model.sample(40, generator=torch.Generator().manual_seed(0))
    for sites in SETS:
        torch.testing.assert_close(model.marginal_log_prob(x, sites),
                                   enumerated_marginal(model, x, sites), atol=1e-10, rtol=0)
    prefix, suffix = model.chain_marginals(x)
    for k in range(7):
        torch.testing.assert_close(prefix[:, k], enumerated_marginal(model, x, list(range(k + 1))),
                                   atol=1e-10, rtol=0)
        torch.testing.assert_close(suffix[:, k], enumerated_marginal(model, x, list(range(k, 7))),
                                   atol=1e-10, rtol=0)


def test_mps_marginals_do_not_underflow_at_784_sites():
    model = MPSBornMachine(784, 2, init_bond=8, seed=1)
    x = model.sample(5, generator=torch.Generator().manual_seed(0))
    full = model.log_prob(x)
    assert bool((full < -300).all())  # p(x) itself is far below 1e-300 ... (e^-300)
    half = model.marginal_log_prob(x, list(range(392)))
    rest = model.marginal_log_prob(x, list(range(392, 784)))
    scattered = model.marginal_log_prob(x, list(range(0, 784, 3)))
    for value in (half, rest, scattered):
        assert bool(torch.isfinite(value).all()) and bool((value <= 1e-12).all())
    assert bool((half >= full).all()) and bool((rest >= full).all())
    prefix, suffix = model.chain_marginals(x)
    torch.testing.assert_close(prefix[:, 391], half, atol=1e-8, rtol=0)
    torch.testing.assert_close(suffix[:, 392], rest, atol=1e-8, rtol=0)
    torch.testing.assert_close(prefix[:, -1], full, atol=1e-8, rtol=0)


@pytest.mark.parametrize("layout,d,dtype", [("binary", 2, torch.float64),
                                            ((2, 4), 2, torch.complex128),
                                            ("binary", 3, torch.complex128)])
def test_ttn_marginals_match_enumeration(layout, d, dtype):
    n = 8 if d == 2 else 7
    model = TTNBornMachine(n, d, layout=layout, init_bond=5, seed=1, dtype=dtype)
    x = model.sample(40, generator=torch.Generator().manual_seed(0))
    for sites in SETS:
        torch.testing.assert_close(model.marginal_log_prob(x, sites),
                                   enumerated_marginal(model, x, sites), atol=1e-10, rtol=0)


@pytest.mark.parametrize("make", [lambda: MADE(8, hidden=16, depth=2),
                                  lambda: PixelCNN((2, 4)), lambda: HAN(4)])
@pytest.mark.parametrize("z2", [False, True])
def test_autoregressive_marginals(make, z2):
    torch.manual_seed(0)
    model = make()
    model.z2_symmetric = z2
    x = model.sample(8, generator=torch.Generator().manual_seed(0))
    order = model.order.tolist()
    for sites in [order[:1], order[:3], order[:5], [0, model.n_sites - 1]]:
        torch.testing.assert_close(model.marginal_log_prob(x, sites),
                                   enumerated_marginal(model, x, sites), atol=1e-10, rtol=0)


def test_marginal_errors():
    model = perturbed_mps(6)
    x = torch.zeros(2, 6, dtype=torch.long)
    with pytest.raises(ValueError, match="empty"):
        model.marginal_log_prob(x, [])
    with pytest.raises(ValueError, match="outside"):
        model.marginal_log_prob(x, [0, 6])
    with pytest.raises(ValueError, match="repeated"):
        model.marginal_log_prob(x, [1, 1])
    with pytest.raises(TypeError, match="integers"):
        model.marginal_log_prob(x, [0.5])
    with pytest.raises(ValueError, match="outside 0..1"):
        model.marginal_log_prob(x + 2, [0])
    big = MADE(64, hidden=8, depth=1)
    assert big.marginal_is_exact([0, 1, 2]) and not big.marginal_is_exact([5])
    with pytest.raises(ValueError, match="by enumeration, too many.*prefix"):
        big.marginal_log_prob(torch.zeros(1, 64, dtype=torch.long), [5])


# ------------------------------------------------------------ mutual information
def uniform_pattern_mi(patterns: list[tuple[int, ...]], k: int) -> float:
    """I(x_<k : x_>=k) of the uniform distribution over distinct patterns, by counting."""
    count = len(patterns)
    left = Counter(p[:k] for p in patterns)
    right = Counter(p[k:] for p in patterns)
    return sum(math.log(count / (left[p[:k]] * right[p[k:]])) for p in patterns) / count


def test_bars_and_stripes_mi_equals_the_uniform_patterns():
    data = bars_and_stripes(4, 4)
    model = MPSBornMachine(16, seed=0)
    history = model.fit(data, sweeps=6, progress=False)
    assert history[-1]["train_nll"] <= math.log(30) + 1e-4
    profile = mutual_information_profile(model)
    patterns = [tuple(row) for row in data.tolist()]
    assert len(set(patterns)) == 30
    expected = [uniform_pattern_mi(patterns, k) for k in range(1, 16)]
    assert profile["cuts"] == list(range(1, 16))
    np.testing.assert_allclose(profile["mi"], expected, atol=1e-3, rtol=0)
    assert max(expected) > 1.5  # the check is not trivial
    entropy = entanglement_entropy(model)
    # bars and stripes reaches the Holevo bound I <= S_1 at every bond
    np.testing.assert_allclose(profile["mi"], entropy.numpy(), atol=1e-6, rtol=0)


def test_mi_bounded_by_the_entanglement():
    """Measurements of a pure state in a product basis: I(A:B) <= S_1 (Holevo)."""
    mps = [perturbed_mps(10, bond=4, seed=s) for s in range(2)]
    mps.append(MPSBornMachine(10, 3, init_bond=6, seed=5, dtype=torch.complex128))
    for model in mps:
        profile = mutual_information_profile(model)
        entropy = entanglement_entropy(model)
        for mi, s in zip(profile["mi"], entropy):
            assert mi <= float(s) + 1e-9
    trained = TTNBornMachine(12, layout=(3, 4), seed=0)
    trained.fit(bars_and_stripes(3, 4), sweeps=4, progress=False)
    for model in [TTNBornMachine(10, init_bond=4, seed=2, dtype=torch.complex128), trained]:
        entropy = entanglement_entropy(model)
        assert entropy.shape == (len(model.bonds),)
        for bond, s in zip(model.bonds, entropy):
            mi = float(mutual_information(model, set(bond.sites)))
            assert mi <= float(s) + 1e-9, (bond, mi, s)
    assert float(entanglement_entropy(trained).max()) > 1.0


@pytest.mark.parametrize("model_name", ["mps", "ttn", "made", "rbm"])
def test_sampled_mi_agrees_with_enumeration(model_name):
    n = 12
    if model_name == "mps":
        model = perturbed_mps(n, bond=6, seed=3)
    elif model_name == "ttn":
        model = TTNBornMachine(n, layout=(3, 4), seed=0)
        model.fit(bars_and_stripes(3, 4), sweeps=3, progress=False)
    elif model_name == "rbm":  # marginals by the 2^6 hidden states, exact samples
        model = RBM(n, 6, init_scale=3.0, seed=2)
    else:
        model = sharp_made(n, seed=1)
    g = torch.Generator().manual_seed(7)
    for cut in [3, 6, {0, 5, 10}]:
        exact = float(mutual_information(model, cut))
        assert exact == pytest.approx(enumerated_mi(model, sorted(cut) if isinstance(cut, set)
                                                    else list(range(cut))), abs=1e-10)
        if model_name == "made" and isinstance(cut, set):
            with pytest.raises(ValueError, match="prefix"):
                mutual_information(model, cut, num=100, generator=g)
            continue
        estimate = mutual_information(model, cut, num=1000, generator=g, inner=256)
        assert estimate.method == "sampled" and estimate.num == 1000
        value, error = estimate.value, estimate.stderr
        assert 0 < error < 0.05
        assert abs(value - exact) <= 3 * error, (cut, value, exact, error)
        assert exact > 0.05


def test_monte_carlo_marginal_bias_is_corrected():
    """Four inner draws per sample (median ESS 3.5, so flagged unreliable): the log of
    the Monte Carlo marginal is biased low by about Var(w) / (2 M mean(w)^2), which
    without the correction puts the MI 5-8 standard errors high (measured over seeds);
    with it the estimate is within 3 errors of the enumeration from 10,000 samples."""
    model = sharp_made(12, seed=1, scale=1.5)
    exact = enumerated_mi(model, [0, 1, 2])
    with pytest.warns(RuntimeWarning, match="raise inner"):
        estimate = mutual_information(model, 3, num=10_000, inner=4,
                                      generator=torch.Generator().manual_seed(0))
    assert estimate.stderr < 0.01 and exact > 0.1
    assert abs(estimate.value - exact) <= 3 * estimate.stderr, (estimate.value, exact)
    assert estimate.reliable is False and estimate.diagnostics["inner"] == 4
    assert estimate.diagnostics["inner_ess"] < 10
    assert "inner draws" in estimate.warnings[0] and "+-" not in str(estimate)


def test_sampled_mi_reliability_rules():
    """A product distribution has I = 0 exactly: its sampled MI (both marginals exact) is
    0 to rounding, with stderr 0, and reliable. The negative-value rule: more than 3
    standard errors below 0 is unreliable, within 3 is not."""
    from tnborn import Independent
    from tnborn.diagnostics.mutual_information import mi_warnings
    from tnborn.supports import Discrete

    product = Independent(Discrete(2), 8, seed=0)
    product.fit(torch.randint(0, 2, (50, 8), generator=torch.Generator().manual_seed(0)))
    estimate = mutual_information(product, 4, num=200,
                                  generator=torch.Generator().manual_seed(0))
    assert abs(estimate.value) < 1e-12 and estimate.stderr < 1e-12
    assert estimate.reliable and estimate.diagnostics == {"inner_ess": None, "inner": None}
    profile = mutual_information_profile(product, num=100,
                                         generator=torch.Generator().manual_seed(0))
    assert profile["reliable"] == [True] * 7 and profile["warnings"] == [[]] * 7
    assert mi_warnings(-0.029, 0.01, None, 32) == []
    negative = mi_warnings(-0.031, 0.01, None, 32)
    assert len(negative) == 1 and "negative" in negative[0]
    assert len(mi_warnings(-0.031, 0.01, 3.0, 32)) == 2
    assert mi_warnings(0.5, 0.01, 10.0, 32) == []


def test_profile_fast_path_matches_generic_marginals():
    model = perturbed_mps(9, bond=4, seed=4)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    fast = mutual_information_profile(model, num=500, generator=g1)
    x = model.sample(500, generator=g2)  # the same samples
    log_p = model.log_prob(x).detach()
    slow = [float((log_p - model.marginal_log_prob(x, range(k))
                   - model.marginal_log_prob(x, range(k, 9))).mean()) for k in range(1, 9)]
    np.testing.assert_allclose(fast["mi"], slow, atol=1e-10, rtol=0)
    exact = mutual_information_profile(model, cuts=[2, 4])
    assert exact["stderr"] == [0.0, 0.0]
    assert exact["mi"] == pytest.approx([enumerated_mi(model, [0, 1]),
                                         enumerated_mi(model, [0, 1, 2, 3])], abs=1e-10)


def test_mi_errors():
    model = perturbed_mps(6)
    with pytest.raises(ValueError, match="cut"):
        mutual_information(model, 0)
    with pytest.raises(ValueError, match="cut"):
        mutual_information(model, 6)
    with pytest.raises(ValueError, match="other side"):
        mutual_information(model, range(6))
    with pytest.raises(TypeError, match="cut"):
        mutual_information(model, True)
    with pytest.raises(ValueError, match="num"):
        mutual_information(model, 3, num=1)
    with pytest.raises(TypeError, match="GenerativeModel"):
        mutual_information("mps", 3)
    with pytest.raises(ValueError, match="too large"):
        mutual_information(MPSBornMachine(40, seed=0), 20)
    with pytest.raises(TypeError, match="cuts"):
        mutual_information_profile(model, cuts=[1.5])


# -------------------------------------------------------------------- Renyi MI
def numpy_split_table(model, sites_a):
    """p of every configuration as a matrix (configurations of A, of the rest), numpy."""
    n, d = model.n_sites, model.local_dim
    p = torch.exp(model.log_prob(all_configurations(n, d)).detach()).numpy()
    sites_b = [s for s in range(n) if s not in sites_a]
    table = p.reshape((d,) * n).transpose(list(sites_a) + sites_b)
    return table.reshape(d ** len(sites_a), d ** len(sites_b))


def numpy_renyi_mi(model, sites_a, alpha):
    table = numpy_split_table(model, sites_a)

    def entropy(q):
        return math.log((q ** alpha).sum()) / (1 - alpha)

    return entropy(table.sum(1)) + entropy(table.sum(0)) - entropy(table)


def numpy_renyi_ess(model, sites_a, alpha):
    """min over P(x_A), P(x_B), P(x) of (sum P^alpha)^2 / sum P^(2 alpha - 1)."""
    table = numpy_split_table(model, sites_a)
    return min((q ** alpha).sum() ** 2 / (q ** (2 * alpha - 1)).sum()
               for q in (table.sum(1), table.sum(0), table.reshape(-1)))


def test_renyi_mutual_information():
    model = perturbed_mps(10, bond=4, seed=2)
    for alpha in [0.5, 2.0, 3.0]:
        assert float(renyi_mutual_information(model, 4, alpha)) == pytest.approx(
            numpy_renyi_mi(model, [0, 1, 2, 3], alpha), abs=1e-10)
    assert float(renyi_mutual_information(model, 5, 1.0)) == pytest.approx(
        float(mutual_information(model, 5)), abs=1e-12)
    for alpha in [0.5, 2.0, 3.0]:  # alpha = 2 alone would not see a lost (alpha - 1)
        exact = numpy_renyi_mi(model, list(range(5)), alpha)
        estimate = renyi_mutual_information(model, 5, alpha, num=4000,
                                            generator=torch.Generator().manual_seed(1))
        assert estimate.method == "sampled" and estimate.num == 4000
        value, error = estimate.value, estimate.stderr
        assert 0 < error < 0.05 and abs(value - exact) <= 3.5 * error, (alpha, value, exact)
        assert estimate.reliable and estimate.warnings == ()
        # the ESS of the weights P^(alpha-1) against its limit, the smallest over
        # P(x_A), P(x_B), P(x): (sum P^alpha)^2 / sum P^(2 alpha - 1), by numpy (the
        # heavy weights P^(-1/2) make the plug-in noisy: 0.75-1.18 of it over 8 seeds)
        assert estimate.diagnostics["ess"] == pytest.approx(
            numpy_renyi_ess(model, [0, 1, 2, 3, 4], alpha), rel=0.3 if alpha < 1 else 0.06)
    with pytest.raises(ValueError, match="alpha"):
        renyi_mutual_information(model, 5, 1.0, num=100)
    with pytest.raises(ValueError, match="alpha"):
        renyi_mutual_information(model, 5, -1.0)


# --------------------------------------------------------------- KL, entanglement
def test_kl_divergence():
    p = perturbed_mps(8, bond=3, seed=1)
    q = TTNBornMachine(8, init_bond=3, seed=2)
    log_p = p.log_prob(all_configurations(8, 2)).detach()
    log_q = q.log_prob(all_configurations(8, 2)).detach()
    expected = float((torch.exp(log_p) * (log_p - log_q)).sum())
    assert kl_divergence(p, q) == pytest.approx(expected, abs=1e-12)
    assert kl_divergence(p, torch.exp(log_q)) == pytest.approx(expected, abs=1e-12)
    assert kl_divergence(p, p) == pytest.approx(0.0, abs=1e-12)
    point = torch.zeros(256, dtype=torch.float64)
    point[0] = 1.0
    assert kl_divergence(point, torch.exp(log_q)) == pytest.approx(-float(log_q[0]), abs=1e-12)
    assert kl_divergence(torch.exp(log_q), point) == math.inf
    with pytest.raises(ValueError, match="sum to 1"):
        kl_divergence(point * 2, point)
    with pytest.raises(ValueError, match="negative"):
        kl_divergence(point - 0.5 * torch.roll(point, 1) + 0.5 * torch.roll(point, 2), point)
    with pytest.raises(ValueError, match="non-finite"):
        kl_divergence(torch.full((4,), float("nan")), point)
    with pytest.raises(ValueError, match="same system"):
        kl_divergence(p, perturbed_mps(7))


def test_entanglement_entropy_dispatch():
    mps = perturbed_mps(8)
    torch.testing.assert_close(entanglement_entropy(mps, 2.0), mps.entanglement_entropy(2.0))
    ttn = TTNBornMachine(8, init_bond=3, seed=0)
    entropy = entanglement_entropy(ttn)
    assert isinstance(entropy, torch.Tensor) and entropy.shape == (len(ttn.bonds),)
    assert torch.equal(entropy, ttn.entanglement_entropy())
    with pytest.raises(TypeError, match="has_bonds"):
        entanglement_entropy(MADE(8, hidden=8, depth=1))


def test_unreliable_monte_carlo_marginal_is_reported():
    """A sharp net (trained on bars and stripes) with few inner draws gets a warning and a
    small effective sample size; with enough draws the estimate is within 3 errors."""
    data = bars_and_stripes(3, 4)
    torch.manual_seed(0)
    model = MADE(12, hidden=64, depth=2)
    model.fit(data.repeat(30, 1), epochs=60, lr=3e-3, progress=False)
    exact = float(mutual_information(model, 6))
    g = torch.Generator().manual_seed(0)
    with pytest.warns(RuntimeWarning, match="raise inner"):
        profile = mutual_information_profile(model, cuts=[6], num=200, generator=g, inner=2)
    assert profile["inner_ess"][0] < 2.0
    estimate = mutual_information(model, 6, num=500, generator=g, inner=2048)
    value, error = estimate.value, estimate.stderr
    assert abs(value - exact) <= 3 * error
    born = mutual_information_profile(perturbed_mps(8), num=50, generator=g)
    assert born["inner_ess"] == [None] * 7
    with pytest.raises(ValueError, match="exact marginals"):
        renyi_mutual_information(model, 6, num=100, generator=g)


# ----------------------------------------------------------------- Estimate
def test_exact_estimates():
    import tnborn

    model = perturbed_mps(8, bond=3, seed=5)
    for estimate in (mutual_information(model, 4), renyi_mutual_information(model, 4),
                     renyi_mutual_information(model, {0, 5}, 3.0),
                     mutual_information(MADE(6, hidden=8, seed=0), {1, 4})):
        assert isinstance(estimate, tnborn.Estimate)
        assert estimate.method == "exact" and estimate.stderr == 0.0 and estimate.num is None
        assert float(estimate) == estimate.value and isinstance(estimate.value, float)
        assert f"{estimate:.5f}" == f"{estimate.value:.5f}"
        assert str(estimate) == f"{estimate.value:.6g} (exact)" == f"{estimate}"
        assert estimate.as_dict() == {"value": estimate.value, "stderr": 0.0,
                                      "method": "exact", "num": None, "reliable": True,
                                      "warnings": [], "diagnostics": {}}
        assert estimate.reliable and estimate.warnings == ()
    assert float(mutual_information(model, 4)) == pytest.approx(enumerated_mi(model, [0, 1, 2, 3]),
                                                                abs=1e-10)


def test_sampled_standard_errors_match_the_spread_of_estimates():
    """20 independent estimates from num=500 samples each: the standard deviation of the
    values is within a factor 2 of the mean reported standard error, and their mean is
    within 4 standard errors (of the mean) of the exact value."""
    model = perturbed_mps(8, bond=3, seed=0)
    for function in (mutual_information, renyi_mutual_information):
        exact = float(function(model, 4))
        estimates = [function(model, 4, num=500, generator=torch.Generator().manual_seed(s))
                     for s in range(20)]
        for e in estimates:
            assert e.method == "sampled" and e.num == 500 and e.stderr > 0
            assert float(e) == e.value and f"{e:.4f}" == f"{e.value:.4f}"
            assert str(e) == f"{e.value:.6g} +- {e.stderr:.2g} (500 samples)"
        values = np.array([e.value for e in estimates])
        reported = float(np.mean([e.stderr for e in estimates]))
        spread = float(values.std(ddof=1))
        assert 0.5 < spread / reported < 2.0, (function.__name__, spread, reported)
        assert abs(values.mean() - exact) < 4 * reported / math.sqrt(20)
        assert len({e.value for e in estimates}) == 20  # the seeds do differ


def test_estimate_checks_its_fields():
    import tnborn

    assert tnborn.Estimate.exact(1.5) == tnborn.Estimate(1.5, 0.0, "exact", None)
    sampled = tnborn.Estimate.sampled(0.25, 0.01, 100)
    assert (sampled.value, sampled.stderr, sampled.method, sampled.num) == (0.25, 0.01,
                                                                            "sampled", 100)
    with pytest.raises(ValueError, match="exact"):
        tnborn.Estimate(1.0, 0.1, "exact")
    with pytest.raises(ValueError, match="num"):
        tnborn.Estimate(1.0, 0.1, "sampled", None)
    with pytest.raises(ValueError, match="stderr"):
        tnborn.Estimate(1.0, -0.1, "sampled", 10)
    with pytest.raises(ValueError, match="method"):
        tnborn.Estimate(1.0, 0.0, "guess")
    # reliability: warnings exactly when unreliable; exact values always reliable
    assert sampled.reliable and sampled.warnings == () and sampled.diagnostics == {}
    bad = tnborn.Estimate.sampled(0.25, 0.01, 100, warnings=["ESS fraction 1e-03 < 0.01"],
                                  diagnostics={"ess": 1e-3})
    assert not bad.reliable and bad.warnings == ("ESS fraction 1e-03 < 0.01",)
    assert bad.diagnostics == {"ess": 1e-3} and float(bad) == 0.25
    assert str(bad) == ("0.25 (UNRELIABLE: ESS fraction 1e-03 < 0.01; no error bar; "
                        "100 samples)")
    assert "+-" not in str(bad) and f"{bad:.2f}" == "0.25"
    assert bad.as_dict()["reliable"] is False and bad.as_dict()["warnings"] == [bad.warnings[0]]
    assert hash(bad) == hash(tnborn.Estimate.sampled(0.25, 0.01, 100, warnings=bad.warnings))
    with pytest.raises(ValueError, match="says why"):
        tnborn.Estimate(1.0, 0.1, "sampled", 10, reliable=False)
    with pytest.raises(ValueError, match="says why"):
        tnborn.Estimate(1.0, 0.1, "sampled", 10, warnings=("odd",))
    with pytest.raises(ValueError, match="always reliable"):
        tnborn.Estimate(1.0, reliable=False, warnings=("odd",))
    with pytest.raises(TypeError, match="reliable"):
        tnborn.Estimate(1.0, reliable=1)
    with pytest.raises(TypeError, match="warnings"):
        tnborn.Estimate(1.0, 0.1, "sampled", 10, reliable=False, warnings="odd")
    with pytest.raises(TypeError, match="diagnostics"):
        tnborn.Estimate(1.0, diagnostics=[1])


def test_format_with_error_never_shows_a_bare_error_bar():
    from tnborn.estimate import ess_warnings, format_with_error

    assert format_with_error(-2.1, 0.0078) == "-2.100000 +- 7.8e-03"
    text = format_with_error(-1.842232, 0.0078, ["ESS fraction 3.0e-04 < 0.01"])
    assert text == "-1.842232 [UNRELIABLE: ESS fraction 3.0e-04 < 0.01; no error bar]"
    assert format_with_error(1.0, 0.1, ["x"], brief=True) == \
        "1.000000 [UNRELIABLE, see the warnings; no error bar]"
    assert ess_warnings(0.5, 1000, "F") == []
    assert "ESS fraction" in ess_warnings(0.005, 10_000, "F")[0]
    assert "effective samples" in ess_warnings(0.4, 100, "F")[0]  # 40 of 100
