"""NeuralRG and Compose: log-det-Jacobians against autograd's Jacobian (whole flows and
single layers), inverses, the change of variables, the scale structure of the latent
variables, refusals, file round trips and a short maximum-likelihood fit."""

from __future__ import annotations

import math

import pytest
import torch

import tnborn
from tnborn import Independent, Real
from tnborn.flows import AffineCoupling, Compose, NeuralRG, RealNVP


def perturbed(model, seed=0, scale=0.5):
    """``model`` with every coupling's last layer random (far from the identity)."""
    g = torch.Generator().manual_seed(seed + 10)
    with torch.no_grad():
        for coupling in (m for m in model.modules() if isinstance(m, AffineCoupling)):
            last = coupling.net[-1]
            for p in (last.weight, last.bias):
                p.copy_(scale * torch.randn(p.shape, generator=g, dtype=torch.float64))
    return model


def normal(shape, seed):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed),
                       dtype=torch.float64)


#: name -> build(): (an invertible map with ``forward`` and ``inverse``, its n_sites)
MAPS = {
    "L2": lambda: (NeuralRG(2, hidden=6, seed=0), 4),
    "L4": lambda: (NeuralRG(4, hidden=6, seed=1), 16),
    "L4-depth1": lambda: (NeuralRG(4, depth=1, hidden=6, seed=2), 16),
    "disentangler": lambda: (NeuralRG(4, hidden=6, seed=3).layers[0], 16),
    "decimator": lambda: (NeuralRG(4, hidden=6, seed=4).layers[1], 16),
    "disentangler-scale1": lambda: (NeuralRG(8, depth=2, hidden=6, seed=5).layers[2], 64),
    "compose": lambda: (Compose(RealNVP(16, blocks=2, hidden=6, seed=6),
                                NeuralRG(4, couplings=2, hidden=6, seed=7)), 16),
}


def test_the_layers_in_the_maps_are_what_they_claim():
    assert [layer.kind for layer in NeuralRG(8).layers] == [
        "disentangler", "decimator", "disentangler", "decimator", "decimator"]
    assert MAPS["disentangler"]()[0].kind == "disentangler"
    assert MAPS["decimator"]()[0].kind == "decimator"
    layer = MAPS["disentangler-scale1"]()[0]
    assert layer.kind == "disentangler" and layer.sites.shape == (4, 4)
    assert bool((layer.sites // 8 % 2 == 0).all() and (layer.sites % 8 % 2 == 0).all())


@pytest.mark.parametrize("name", MAPS)
def test_log_det_matches_the_autograd_jacobian(name):
    flow, n = MAPS[name]()
    perturbed(flow)
    z = normal((2, n), seed=1)
    with torch.no_grad():
        x, log_det = flow.forward(z)
        _, inverse_log_det = flow.inverse(x)
    for b in range(2):
        for f, point, expected in ((flow.forward, z[b], log_det[b]),
                                   (flow.inverse, x[b], inverse_log_det[b])):
            jacobian = torch.autograd.functional.jacobian(lambda v: f(v[None])[0][0], point)
            sign, value = torch.linalg.slogdet(jacobian)
            assert float(sign) > 0
            assert float(expected) == pytest.approx(float(value), abs=1e-10)


@pytest.mark.parametrize("flow", [perturbed(NeuralRG(8, hidden=6, seed=8)),
                                  perturbed(NeuralRG(8, depth=2, couplings=3, seed=9)),
                                  perturbed(MAPS["compose"]()[0])],
                         ids=["L8", "L8-depth2", "compose"])
def test_inverse_undoes_forward_and_the_density_is_the_change_of_variables(flow):
    n = flow.n_sites
    z = normal((40, n), seed=2)
    x, log_det = flow.forward(z)
    back, inverse_log_det = flow.inverse(x)
    torch.testing.assert_close(back, z, rtol=0, atol=1e-10)
    torch.testing.assert_close(inverse_log_det, -log_det, rtol=0, atol=1e-10)
    base = -0.5 * (z * z).sum(1) - 0.5 * n * math.log(2 * math.pi)
    torch.testing.assert_close(flow.log_prob(x.detach()), base - log_det, rtol=0, atol=1e-10)
    x.sum().backward()
    assert all(p.grad is not None for p in flow.parameters())


def test_an_untrained_flow_is_the_identity():
    x = normal((5, 16), seed=3)
    z, log_det = NeuralRG(4, seed=0).inverse(x)
    assert torch.equal(z, x) and torch.equal(log_det, torch.zeros(5, dtype=torch.float64))


@pytest.mark.parametrize("L, depth, counts", [(8, None, [48, 12, 3, 1]), (8, 2, [48, 12, 4]),
                                              (4, 1, [12, 4]), (2, None, [3, 1])])
def test_latents_partition_z_by_scale(L, depth, counts):
    flow = perturbed(NeuralRG(L, depth=depth, hidden=6, seed=10))
    x = normal((6, L * L), seed=4)
    latents = flow.latents(x)
    assert [t.shape for t in latents] == [(6, c) for c in counts]
    assert [int((flow.scales == k).sum()) for k in range(len(counts))] == counts
    z, _ = flow.inverse(x)
    order = torch.argsort(flow.scales, stable=True)
    assert torch.equal(torch.cat(latents, 1), z[:, order])
    if depth is None:
        assert flow.scales[0] == flow.depth and int(flow.scales.max()) == flow.depth
    with pytest.raises(ValueError, match="sites"):
        flow.latents(x[:, :-1])


def test_the_latents_of_one_scale_see_a_bounded_neighbourhood():
    """At depth 1 on 8 x 8, x at site (1, 1) enters one disentangler block, whose four
    sites lie in four decimator blocks: only z in rows and columns 0..3 depend on it.
    The top latent of a full-depth flow reaches every site of x."""
    flow = perturbed(NeuralRG(8, depth=1, hidden=6, seed=11))
    x = normal((64,), seed=5)
    jacobian = torch.autograd.functional.jacobian(lambda v: flow.inverse(v[None])[0][0], x)
    reached = (jacobian[:, 1 * 8 + 1].abs() > 0).reshape(8, 8)
    window = torch.zeros(8, 8, dtype=torch.bool)
    window[:4, :4] = True
    assert torch.equal(reached, window)
    full = perturbed(NeuralRG(4, hidden=6, seed=12))
    z = normal((16,), seed=6)
    jacobian = torch.autograd.functional.jacobian(lambda v: full.forward(v[None])[0][0], z)
    assert bool((jacobian[:, 0].abs() > 0).all())


def test_bad_arguments_are_refused():
    for L in (3, 0, 1, 12):
        with pytest.raises(ValueError, match="power of two"):
            NeuralRG(L)
    with pytest.raises(TypeError, match="power of two"):
        NeuralRG(4.0)
    with pytest.raises(ValueError, match=r"depth must be in 1\.\.2"):
        NeuralRG(4, depth=5)
    with pytest.raises(ValueError):
        NeuralRG(4, depth=0)
    with pytest.raises(ValueError):
        NeuralRG(4, couplings=0)
    with pytest.raises(ValueError):
        NeuralRG(4, scale_limit=-1.0)
    with pytest.raises(ValueError, match="at least one"):
        Compose()
    with pytest.raises(ValueError, match="n_sites"):
        Compose(RealNVP(4), RealNVP(5))
    with pytest.raises(ValueError, match="dtype"):
        Compose(RealNVP(4), NeuralRG(2, dtype=torch.float32))
    with pytest.raises(TypeError, match="component 1"):
        Compose(RealNVP(4), Independent(Real(), 4))
    with pytest.raises(TypeError):
        Compose(RealNVP(4), "a flow")


@pytest.mark.parametrize("flow", [
    perturbed(NeuralRG(4, depth=1, couplings=3, hidden=5, scale_limit=1.5, seed=13)),
    perturbed(Compose(RealNVP(16, blocks=2, hidden=6, seed=14), NeuralRG(4, seed=15),
                      seed=16)),
    perturbed(Compose(Compose(RealNVP(4, seed=17)), NeuralRG(2, seed=18)))],
    ids=["neuralrg", "compose", "nested"])
def test_save_and_load_round_trip(flow, tmp_path):
    x = flow.sample(20, generator=torch.Generator().manual_seed(7))
    flow.save(tmp_path / "flow.pt")
    loaded = tnborn.load(tmp_path / "flow.pt")
    assert type(loaded) is type(flow) and repr(loaded) == repr(flow)
    assert loaded._config() == flow._config()
    torch.testing.assert_close(loaded.log_prob(x), flow.log_prob(x), rtol=0, atol=0)
    assert isinstance(type(flow).load(tmp_path / "flow.pt"), type(flow))


def test_maximum_likelihood_learns_lattice_correlations():
    """A Gaussian on the 2 x 2 lattice with covariance 0.7^distance (Manhattan)."""
    distance = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1], [1, 2, 0, 1], [2, 1, 1, 0]])
    covariance = 0.7 ** distance.to(torch.float64)
    data = normal((2000, 4), seed=8) @ torch.linalg.cholesky(covariance).T
    test = data[1500:]
    exact = float(-torch.distributions.MultivariateNormal(
        torch.zeros(4, dtype=torch.float64), covariance).log_prob(test).mean())
    model = NeuralRG(2, hidden=8, seed=0)
    untrained = model.nll(test)
    model.fit(data[:1500], epochs=25, lr=1e-2, batch_size=100, progress=False)
    assert untrained - model.nll(test) > 0.5
    assert model.nll(test) - exact < 0.1
