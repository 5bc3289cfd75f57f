"""Autoregressive networks on 3D boxes. HAN: the hierarchy covers the box once with
known contexts, exact normalization (2x2x4 enumeration), the heat-bath last level
against `Ising3D`'s local fields, exact sampling (chi-square on 2x2x2), the fast sampler
against the generic loop, Z2, save/load and variational training against the exact free
energy. PixelCNN3D: the raster-order cone (flipping a later site never changes an
earlier conditional), normalization by enumeration. MADE needs nothing 3D-specific (the
flattened order)."""

from __future__ import annotations

import pytest
import torch

from tnborn.arnn.base import AutoregressiveModel
from tnborn.arnn import PixelCNN3D
from tnborn.arnn.han import HAN
from tnborn.base import load
from tnborn.physics import Ising3D, exact_log_z, train_variational

from .helpers import all_configurations, chi_square_pvalue, codes


def han3d(shape, beta=None, seed=0, hidden=8):
    """A 3D HAN with random parameters everywhere (the learned last level randomized)."""
    model = HAN(shape, dim=3, exact_last_level=beta is not None, beta=beta, hidden=hidden,
                seed=seed)
    if beta is None:
        gen = torch.Generator().manual_seed(seed + 100)
        with torch.no_grad():
            model.last_weight.copy_(torch.rand(6, generator=gen, dtype=torch.float64) * 2 - 1)
            model.last_bias.copy_(torch.rand(1, generator=gen, dtype=torch.float64) * 2 - 1)
    return model


@pytest.mark.parametrize("shape, sizes", [((2, 2, 2), [7, 1]), ((2, 2, 4), [13, 1, 2]),
                                          ((4, 4, 4), [37, 19, 8]),
                                          ((8, 8, 8), [169, 127, 8 * 19, 64])])
def test_hierarchy_covers_the_box_with_known_contexts(shape, sizes):
    model = HAN(shape, dim=3, hidden=4, seed=0)
    levels = model._levels()
    assert [lv[:, c:].numel() for lv, c in zip(levels, model._contexts)] \
        + [model.last_sites.numel()] == sizes
    position = torch.empty(model.n_sites, dtype=torch.long)
    position[model.order] = torch.arange(model.n_sites)
    for lv, c in zip(levels, model._contexts):  # every context site comes earlier
        if c:
            assert int(position[lv[:, :c]].max()) < int(position[lv[:, c:]].min())
    assert int(position[model.last_neighbours].max()) < int(position[model.last_sites].min())


@pytest.mark.parametrize("beta", [0.3, None], ids=["heat-bath", "learned"])
def test_exactly_normalized_on_2x2x4(beta):
    for z2 in (False, True):
        model = han3d((2, 2, 4), beta)
        model.z2_symmetric = z2
        with torch.no_grad():
            log_p = model.log_prob(all_configurations(16, 2))
        assert abs(float(torch.logsumexp(log_p, 0))) < 1e-10


def test_heat_bath_last_level_is_the_exact_conditional():
    for shape in ((2, 2, 4), (4, 4, 4)):
        model = HAN(shape, dim=3, exact_last_level=True, beta=0.3, J=0.7, h=0.2, hidden=4,
                    seed=1)
        x = torch.randint(0, 2, (40, model.n_sites), generator=torch.Generator().manual_seed(0))
        field = Ising3D(shape, J=0.7, h=0.2).local_fields(x)[:, model.last_sites]
        got = torch.softmax(model._logits(x)[:, model.last_sites], -1)[..., 1]
        assert torch.allclose(got, torch.sigmoid(2 * 0.3 * field), atol=1e-13)
        model.check_hamiltonian(Ising3D(shape, J=0.7, h=0.2), 0.3)
        with pytest.raises(ValueError, match="other couplings"):
            model.check_hamiltonian(Ising3D(shape, J=0.7, h=0.2, periodic=False), 0.3)


def test_samples_match_the_exact_distribution_on_2x2x2():
    model = han3d((2, 2, 2), beta=None)
    with torch.no_grad():
        probs = model.log_prob(all_configurations(8, 2)).exp()
    samples = model.sample(50_000, generator=torch.Generator().manual_seed(0))
    counts = torch.bincount(codes(samples, 2), minlength=256)
    assert chi_square_pvalue(counts.numpy(), probs.numpy()) > 1e-3


def test_fast_sampler_equals_generic_loop_and_keeps_prefixes():
    model = han3d((4, 4, 4))
    num, n = 200, 64
    gen = torch.Generator().manual_seed(4)
    x = torch.randint(0, 2, (num, n), generator=gen)
    start = torch.randint(0, n + 1, (num,), generator=gen)
    fast = model._sample_from(x.clone(), start, torch.Generator().manual_seed(7))
    generic = AutoregressiveModel._sample_from(model, x.clone(), start,
                                               torch.Generator().manual_seed(7))
    assert torch.equal(fast, generic)


def test_save_load_and_z2(tmp_path):
    model = han3d((4, 4, 4), beta=0.25)
    model.z2_symmetric = True
    x = torch.randint(0, 2, (20, 64), generator=torch.Generator().manual_seed(2))
    assert torch.allclose(model.log_prob(x), model.log_prob(1 - x), atol=1e-12)
    model.save(tmp_path / "han3d.pt")
    again = load(tmp_path / "han3d.pt")
    assert again.dim == 3 and again.shape == (4, 4, 4)
    assert torch.equal(again.log_prob(x), model.log_prob(x))


def test_variational_training_on_2x2x4_approaches_the_exact_free_energy():
    hamiltonian, beta = Ising3D((2, 2, 4)), 0.3
    model = HAN((2, 2, 4), dim=3, hidden=8, seed=0)
    model.z2_symmetric = True
    train_variational(model, hamiltonian, beta, steps=150, batch_size=128, lr=1e-2,
                      generator=torch.Generator().manual_seed(0), progress=False)
    with torch.no_grad():
        x = all_configurations(16, 2)
        log_q = model.log_prob(x)
        variational = float((log_q.exp() * (log_q + beta * hamiltonian.energy(x))).sum())
    exact = -exact_log_z(hamiltonian, beta)
    assert 0 <= variational - exact < 2e-3 * abs(exact)  # 4.4e-4 measured


@pytest.mark.parametrize("shape, message", [((2, 3, 4), "powers of two"),
                                            ((4, 4), "3 sides"), (1, "side")])
def test_bad_boxes(shape, message):
    with pytest.raises(ValueError, match=message):
        HAN(shape, dim=3)
    with pytest.raises(ValueError, match="dim must be 2 or 3"):
        HAN(4, dim=4)


def test_pixelcnn3d_conditionals_see_only_earlier_sites():
    model = PixelCNN3D((3, 3, 3), channels=3, layers=3, kernel=3, seed=0)
    x = torch.randint(0, 2, (4, 27), generator=torch.Generator().manual_seed(0))
    base = model._logits(x)
    seen = torch.zeros(27, 27, dtype=torch.bool)  # seen[q, p]: conditional q moves with p
    for p in range(27):
        flipped = x.clone()
        flipped[:, p] = 1 - flipped[:, p]
        seen[:, p] = (model._logits(flipped) - base).abs().amax((0, 2)) > 1e-14
    assert not torch.triu(seen).any()  # never itself or a later site
    assert seen[26, 0] and seen[13, 12] and seen[9, 0]  # the cone reaches back


def test_pixelcnn3d_cached_sampler_equals_the_generic_loop():
    for local_dim, residual in ((2, True), (3, False)):
        model = PixelCNN3D((3, 2, 4), local_dim, channels=3, layers=3, residual=residual,
                           seed=2)
        num, n = 300, 24
        gen = torch.Generator().manual_seed(5)
        x = torch.randint(0, local_dim, (num, n), generator=gen)
        start = torch.randint(0, n + 1, (num,), generator=gen)
        start[:2] = 0
        fast = model._sample_from(x.clone(), start, torch.Generator().manual_seed(7))
        generic = AutoregressiveModel._sample_from(model, x.clone(), start,
                                                   torch.Generator().manual_seed(7))
        assert torch.equal(fast, generic)


def test_pixelcnn3d_is_normalized_by_enumeration():
    for shape, local_dim in (((2, 2, 3), 2), ((2, 2, 2), 3)):
        model = PixelCNN3D(shape, local_dim, channels=4, layers=2, seed=1)
        with torch.no_grad():
            log_p = model.log_prob(all_configurations(model.n_sites, local_dim))
        assert abs(float(torch.logsumexp(log_p, 0))) < 1e-10
    with pytest.raises(ValueError, match="three sides"):
        PixelCNN3D((4, 4))
    with pytest.raises(ValueError, match="kernel"):
        PixelCNN3D(4, kernel=2)
