"""The independent-sites baseline: its maximum-likelihood fits against scipy's and
against the stationarity of the likelihood, and its errors where no estimate exists."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch

from tnborn import Circle, Discrete, Independent, Interval, Real


def _gradient_of_nll(model, data):
    """d NLL / d parameters at the fitted values (zero at a maximum of the likelihood)."""
    model.zero_grad()
    loss = -model.log_prob(data).mean()
    loss.backward()
    return max(float(p.grad.abs().max()) for p in model.parameters())


def test_categorical_fit_is_the_frequencies():
    g = torch.Generator().manual_seed(0)
    data = torch.multinomial(torch.tensor([0.5, 0.3, 0.2]), 3 * 500, True, generator=g)
    data = data.view(500, 3)
    model = Independent(Discrete(3), 3)
    history = model.fit(data, test_data=data[:100])
    counts = torch.nn.functional.one_hot(data, 3).sum(0).double()
    expected = torch.log(counts / counts.sum(1, keepdim=True))
    torch.testing.assert_close(torch.log_softmax(model.logits, -1).detach(), expected,
                               rtol=0, atol=1e-12)
    assert history == [{"step": 1, "train_nll": pytest.approx(model.nll(data), abs=1e-12),
                        "seconds": history[0]["seconds"],
                        "cpu_seconds": history[0]["cpu_seconds"],
                        "test_nll": pytest.approx(model.nll(data[:100]), abs=1e-12),
                        "stopped_by": "closed_form"}]
    smoothed = Independent(Discrete(3), 3, pseudocount=0.5)
    smoothed.fit(data[:, :1].expand(-1, 3).clamp(max=1))  # value 2 never seen
    probability = torch.softmax(smoothed.logits, -1)[0].detach()
    ones = float((data[:, 0] >= 1).sum())
    torch.testing.assert_close(probability, torch.tensor(
        [500 - ones + 0.5, ones + 0.5, 0.5], dtype=torch.float64) / 501.5, rtol=0, atol=1e-12)


def test_gaussian_fit_is_the_mean_and_the_biased_variance():
    g = torch.Generator().manual_seed(1)
    data = torch.randn(300, 2, generator=g, dtype=torch.float64) * torch.tensor([1.0, 3.0]) + 2
    model = Independent(Real(), 2)
    model.fit(data)
    torch.testing.assert_close(model.loc.detach(), data.mean(0), rtol=0, atol=1e-12)
    torch.testing.assert_close(torch.exp(model.log_scale).detach(),
                               data.std(0, unbiased=False), rtol=0, atol=1e-12)
    expected = scipy.stats.norm.logpdf(data.numpy(), data.mean(0).numpy(),
                                       data.std(0, unbiased=False).numpy()).sum(1)
    np.testing.assert_allclose(model.log_prob(data).detach().numpy(), expected, atol=1e-10)
    assert _gradient_of_nll(model, data) < 1e-10


def test_von_mises_fit_matches_scipy_and_is_stationary():
    g = torch.Generator().manual_seed(2)
    raw = torch.randn(2000, 3, generator=g, dtype=torch.float64) * torch.tensor([0.3, 1.0, 2.5])
    data = torch.remainder(raw + torch.tensor([0.5, 3.0, 6.0]), 2 * math.pi)
    model = Independent(Circle(), 3)
    model.fit(data)
    kappa = torch.exp(model.log_concentration).detach().numpy()
    loc = model.loc.detach().numpy()
    for site in range(3):
        ref_kappa, ref_loc, _ = scipy.stats.vonmises.fit(data[:, site].numpy(), fscale=1)
        assert kappa[site] == pytest.approx(ref_kappa, rel=1e-6)
        assert math.remainder(loc[site] - ref_loc, 2 * math.pi) == pytest.approx(0, abs=1e-6)
        expected = scipy.stats.vonmises.logpdf(data[:, site].numpy(), kappa[site], loc[site])
        np.testing.assert_allclose(model.marginal_log_prob(data, [site]).numpy(), expected,
                                   atol=1e-10)
    assert _gradient_of_nll(model, data) < 1e-10
    uniform = Independent(Circle(), 1)
    uniform.fit(torch.tensor([[0.0], [math.pi / 2], [math.pi], [3 * math.pi / 2]],
                             dtype=torch.float64))
    assert float(torch.exp(uniform.log_concentration.detach())) < 1e-12  # kappa 0: uniform
    assert uniform.nll(torch.tensor([[1.0]], dtype=torch.float64)) == pytest.approx(
        math.log(2 * math.pi), abs=1e-12)


def test_beta_fit_matches_scipy_and_is_stationary():
    g = torch.Generator().manual_seed(3)
    a = torch._standard_gamma(torch.full((3000, 2), 2.0, dtype=torch.float64), generator=g)
    b = torch._standard_gamma(torch.full((3000, 2), 0.7, dtype=torch.float64), generator=g)
    y = a / (a + b)
    lo, hi = -2.0, 5.0
    data = lo + (hi - lo) * y
    model = Independent(Interval(lo, hi), 2)
    model.fit(data)
    shapes = torch.exp(torch.stack([model.log_alpha, model.log_beta], 1)).detach().numpy()
    for site in range(2):
        ref_a, ref_b, _, _ = scipy.stats.beta.fit(y[:, site].numpy(), floc=0, fscale=1)
        np.testing.assert_allclose(shapes[site], [ref_a, ref_b], rtol=1e-5)
        expected = scipy.stats.beta.logpdf(data[:, site].numpy(), *shapes[site], loc=lo,
                                           scale=hi - lo)
        np.testing.assert_allclose(model.marginal_log_prob(data, [site]).numpy(), expected,
                                   atol=1e-9)
    assert _gradient_of_nll(model, data) < 1e-9


@pytest.mark.parametrize("support, data, message", [
    (Real(), torch.ones(10, 2, dtype=torch.float64), "site 0 has zero variance"),
    (Circle(), torch.full((10, 2), 1.0, dtype=torch.float64), "site 0 has .*identical"),
    (Interval(0.0, 1.0), torch.tensor([[0.0, 0.5], [0.3, 0.2]], dtype=torch.float64),
     "site 0 has values on the interval's ends"),
])
def test_fits_without_a_maximum_likelihood_estimate_are_refused(support, data, message):
    with pytest.raises(ValueError, match=message):
        Independent(support, 2).fit(data)


def test_bad_arguments():
    with pytest.raises(TypeError, match="support"):
        Independent("real", 3)
    with pytest.raises(ValueError, match="pseudocount must be >= 0"):
        Independent(Discrete(2), 3, pseudocount=-1.0)
    with pytest.raises(ValueError, match="discrete support only"):
        Independent(Real(), 3, pseudocount=0.5)
    with pytest.raises(ValueError, match="Interval needs lo < hi"):
        Interval(1.0, 1.0)
    with pytest.raises(ValueError, match="k >= 2"):
        Discrete(1)
