"""RealNVP: every block's log-det-Jacobian against autograd's Jacobian, the inverse
against the forward map, the density against the change of variables, and refusals."""

from __future__ import annotations

import math

import pytest
import torch

from tnborn.flows import RealNVP


def perturbed(n, blocks, seed=0):
    """A RealNVP whose blocks are far from the identity (random last layers)."""
    model = RealNVP(n, blocks=blocks, hidden=6, seed=seed)
    g = torch.Generator().manual_seed(seed + 10)
    with torch.no_grad():
        for net in (c.net for c in model.couplings):
            net[-1].weight.copy_(0.7 * torch.randn(net[-1].weight.shape, generator=g,
                                                   dtype=torch.float64))
            net[-1].bias.copy_(0.7 * torch.randn(net[-1].bias.shape, generator=g,
                                                 dtype=torch.float64))
    return model


@pytest.mark.parametrize("n, blocks", [(2, 1), (3, 1), (5, 2), (6, 4)])
def test_log_det_matches_the_autograd_jacobian(n, blocks):
    model = perturbed(n, blocks)
    z = torch.randn(4, n, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    with torch.no_grad():
        x, log_det = model.forward(z)
    for b in range(4):
        jacobian = torch.autograd.functional.jacobian(lambda v: model.forward(v[None])[0][0],
                                                      z[b])
        sign, value = torch.linalg.slogdet(jacobian)
        assert float(sign) > 0
        assert float(log_det[b]) == pytest.approx(float(value), abs=1e-10)
        inverse_jacobian = torch.autograd.functional.jacobian(
            lambda v: model.inverse(v[None])[0][0], x[b].detach())
        assert float(model.inverse(x[b:b + 1].detach())[1][0].detach()) == pytest.approx(
            float(torch.linalg.slogdet(inverse_jacobian)[1]), abs=1e-10)


def test_inverse_undoes_forward_and_the_density_is_the_change_of_variables():
    model = perturbed(6, 4)
    z = torch.randn(50, 6, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    x, log_det = model.forward(z)
    back, inverse_log_det = model.inverse(x)
    torch.testing.assert_close(back, z, rtol=0, atol=1e-10)
    torch.testing.assert_close(inverse_log_det, -log_det, rtol=0, atol=1e-10)
    base = -0.5 * (z * z).sum(1) - 3 * math.log(2 * math.pi)
    torch.testing.assert_close(model.log_prob(x.detach()), base - log_det, rtol=0,
                               atol=1e-10)


def test_the_scale_is_clamped_and_rsample_is_differentiable():
    model = perturbed(4, 2)
    with torch.no_grad():
        for net in (c.net for c in model.couplings):
            net[-1].bias.fill_(50.0)
    z = torch.zeros(1, 4, dtype=torch.float64)
    _, log_det = model.forward(z)
    assert float(log_det.detach().abs().max()) <= 2 * 2.0 * 2 + 1e-12  # 2 blocks x 2 free sites x s_max
    x = model.rsample(8, generator=torch.Generator().manual_seed(0))
    x.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert model.has_rsample and model.marginal_is_exact([0, 1, 2, 3])
    assert not model.conditional_is_exact(torch.tensor([True, False, False, False]))


def test_maximum_likelihood_learns_a_gaussian_correlation():
    g = torch.Generator().manual_seed(3)
    a = torch.randn(2000, generator=g, dtype=torch.float64)
    data = torch.stack([a, 0.8 * a + 0.6 * torch.randn(2000, generator=g,
                                                       dtype=torch.float64)], 1)
    test = data[1500:]
    # the exact density: x1 ~ N(0, 1), x2 | x1 ~ N(0.8 x1, 0.36)
    exact = float(-(-0.5 * test[:, 0] ** 2 - 0.5 * (test[:, 1] - 0.8 * test[:, 0]) ** 2 / 0.36
                    - math.log(2 * math.pi) - 0.5 * math.log(0.36)).mean())
    model = RealNVP(2, blocks=4, hidden=16, seed=0)
    untrained = model.nll(test)  # the standard normal: the last layers start at zero
    model.fit(data[:1500], epochs=40, lr=1e-2, batch_size=100, progress=False)
    assert untrained - model.nll(test) > 0.2
    assert 0 < model.nll(test) - exact < 0.06  # KL to the truth plus noise (0.022)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="at least 2 sites"):
        RealNVP(1)
    with pytest.raises(ValueError):
        RealNVP(4, blocks=0)
    with pytest.raises(ValueError):
        RealNVP(4, scale_limit=0.0)
