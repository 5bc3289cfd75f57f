"""HAN: hierarchy and order, exact normalization (4x4 enumeration), the autoregressive
property, exact sampling (chi-square), the fast sampler against the generic loop,
conditional sampling, the heat-bath last level, Z2, save/load, variational training and
argument checks."""

from __future__ import annotations

import pytest
import torch

from tnborn.arnn.base import AutoregressiveModel
from tnborn.arnn.han import HAN  # importing the module registers HAN for load()
from tnborn.base import load
from tnborn.physics import (Ising2D, exact_log_z, free_energy, ising2d_log_z, neural_mcmc,
                            train_variational)

from .helpers import all_configurations, chi_square_pvalue, codes

P_MIN = 1e-3
BETA = 0.44


def han(beta=BETA, L=4, seed=0, **kwargs):
    """A HAN with random parameters everywhere (the learned last level starts at zero,
    so it is randomized too)."""
    model = HAN(L, exact_last_level=beta is not None, beta=beta,
                hidden=kwargs.pop("hidden", 12), seed=seed, **kwargs)
    if beta is None:
        gen = torch.Generator().manual_seed(seed + 100)
        with torch.no_grad():
            model.last_weight.copy_(torch.rand(4, generator=gen, dtype=torch.float64) * 2 - 1)
            model.last_bias.copy_(torch.rand(1, generator=gen, dtype=torch.float64) * 2 - 1)
    return model


@pytest.fixture(scope="module")
def configs():
    return all_configurations(16, 2)


def exact_log_probs(model, configs, chunk=16384):
    with torch.no_grad():
        return torch.cat([model.log_prob(configs[i:i + chunk])
                          for i in range(0, len(configs), chunk)])


def pvalue(samples, probs):
    counts = torch.bincount(codes(samples, 2), minlength=probs.numel())
    return chi_square_pvalue(counts.numpy(), probs.numpy())


# ------------------------------------------------------------------- structure
@pytest.mark.parametrize("L,sizes", [(4, [7, 5, 4]), (8, [15, 13, 20, 16]),
                                     (16, [31, 29, 4 * 13, 16 * 5, 64])])
def test_hierarchy_and_order(L, sizes):
    model = HAN(L, exact_last_level=True, beta=BETA, hidden=8, seed=0)
    assert model.n_sites == L * L
    levels = [lv.shape[0] * (lv.shape[1] - c) for lv, c in zip(model._levels(),
                                                                 model._contexts)]
    assert levels + [model.last_sites.numel()] == sizes
    assert torch.equal(torch.sort(model.order).values, torch.arange(L * L))
    # level 0 is row 0 and column 0; the last level the odd-odd sites
    first = set(model.order[:2 * L - 1].tolist())
    assert first == {c for c in range(L)} | {r * L for r in range(L)}
    last = set(model.order[-(L * L // 4):].tolist())
    assert last == {r * L + c for r in range(1, L, 2) for c in range(1, L, 2)}
    # every square's context is the 4s ring of its boundary
    for lv, c in zip(model._levels()[1:], model._contexts[1:]):
        assert lv.shape[1] == c + c // 2 - 3


@pytest.mark.parametrize("beta", [BETA, None], ids=["heat-bath", "learned"])
def test_autoregressive_property(beta):
    """The logits of order position t do not change when positions >= t change, and do
    change when earlier positions change (t >= 1)."""
    model = han(beta, L=4)
    gen = torch.Generator().manual_seed(5)
    x = torch.randint(0, 2, (64, 16), generator=gen)
    with torch.no_grad():
        base = model._logits(x)
        for t in range(16):
            site = int(model.order[t])
            later, earlier = x.clone(), x.clone()
            later[:, model.order[t:]] = torch.randint(0, 2, (64, 16 - t), generator=gen)
            assert torch.equal(model._logits(later)[:, site], base[:, site]), t
            if t > 0:
                earlier[:, model.order[:t]] = torch.randint(0, 2, (64, t), generator=gen)
                assert not torch.allclose(model._logits(earlier)[:, site], base[:, site]), t


def test_autoregressive_property_gradient_l8():
    """Autograd through the level networks on float spins: no logit sees a later spin."""
    model = han(BETA, L=8, hidden=10)
    position = torch.empty(64, dtype=torch.long)
    position[model.order] = torch.arange(64)
    spins = (2 * torch.randint(0, 2, (3, 64), generator=torch.Generator().manual_seed(2))
             - 1).double().requires_grad_(True)
    for net, index, c in zip(model.nets, model._levels(), model._contexts):
        logits = net(spins[:, index])  # (3, squares, cross)
        cross_pos = position[index[:, c:]]
        for sq in range(index.shape[0]):
            for i in range(index.shape[1] - c):
                (grad,) = torch.autograd.grad(logits[:, sq, i].sum(), spins, retain_graph=True)
                seen = grad.abs().sum(0) > 0
                assert (position[seen] < cross_pos[sq, i]).all()


def test_logits_match_log_prob():
    for beta in (BETA, None):
        model = han(beta, L=8)
        x = torch.randint(0, 2, (50, 64), generator=torch.Generator().manual_seed(1))
        logp = torch.log_softmax(model._logits(x), -1).gather(-1, x[..., None])[..., 0]
        assert torch.allclose(logp.sum(-1), model.log_prob(x), atol=1e-12)


# --------------------------------------------------------------- normalization
@pytest.mark.parametrize("beta", [BETA, None], ids=["heat-bath", "learned"])
def test_exactly_normalized(beta, configs):
    model = han(beta)
    assert abs(float(torch.logsumexp(exact_log_probs(model, configs), 0))) < 1e-10


def test_heat_bath_last_level_is_the_exact_conditional():
    model = HAN(4, exact_last_level=True, beta=0.3, J=0.7, h=0.2, hidden=8, seed=1)
    x = torch.randint(0, 2, (40, 16), generator=torch.Generator().manual_seed(0))
    field = Ising2D(4, J=0.7, h=0.2).local_fields(x)
    sites = model.last_sites
    expected = torch.sigmoid(2 * 0.3 * field[:, sites])
    got = torch.softmax(model._logits(x)[:, sites], -1)[..., 1]
    assert torch.allclose(got, expected, atol=1e-13)
    assert not any("last" in name for name, _ in model.named_parameters())


# -------------------------------------------------------------------- sampling
@pytest.mark.parametrize("beta", [BETA, None], ids=["heat-bath", "learned"])
def test_samples_match_exact_distribution(beta, configs):
    model = han(beta)
    probs = exact_log_probs(model, configs).exp()
    samples = model.sample(100_000, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (100_000, 16) and samples.dtype == torch.long
    assert pvalue(samples, probs) > P_MIN


@pytest.mark.parametrize("L", [4, 8])
def test_fast_sampler_equals_generic_loop(L):
    model = han(None, L=L)
    num = 500
    zeros = torch.zeros(num, dtype=torch.long)
    fast = model._sample_from(torch.zeros(num, L * L, dtype=torch.long), zeros,
                              torch.Generator().manual_seed(3))
    generic = AutoregressiveModel._sample_from(model, torch.zeros(num, L * L, dtype=torch.long),
                                               zeros, torch.Generator().manual_seed(3))
    assert torch.equal(fast, generic)
    # per-row starts (kept prefixes), as conditional_sample uses
    gen = torch.Generator().manual_seed(4)
    x = torch.randint(0, 2, (num, L * L), generator=gen)
    start = torch.randint(0, L * L + 1, (num,), generator=gen)
    start[:3] = torch.tensor([0, L * L, 2 * L - 1])
    fast = model._sample_from(x.clone(), start, torch.Generator().manual_seed(7))
    generic = AutoregressiveModel._sample_from(model, x.clone(), start,
                                               torch.Generator().manual_seed(7))
    assert torch.equal(fast, generic)
    kept = torch.arange(L * L)[None, :] < start[:, None]
    assert torch.equal(fast[:, model.order][kept], x[:, model.order][kept])


def test_same_seed_reproduces():
    a, b, c = HAN(4, seed=4), HAN(4, seed=4), HAN(4, seed=5)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert any(not torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))
    s1 = a.sample(50, generator=torch.Generator().manual_seed(9))
    s2 = a.sample(50, generator=torch.Generator().manual_seed(9))
    s3 = a.sample(50, generator=torch.Generator().manual_seed(10))
    assert torch.equal(s1, s2) and not torch.equal(s1, s3)


@pytest.mark.parametrize("z2", [False, True], ids=["plain", "z2"])
def test_conditional_sample_matches_exact_conditional(z2, configs):
    model = han(BETA)
    model.z2_symmetric = z2
    probs = exact_log_probs(model, configs).exp()
    num = 20_000
    gen = torch.Generator().manual_seed(1)
    for k in (3, 9):  # inside level 0; inside level 1
        known_sites = model.order[:k]
        values = torch.randint(0, 2, (k,), generator=gen)
        x = torch.randint(0, 2, (num, 16), generator=gen)
        x[:, known_sites] = values
        mask = torch.zeros(16, dtype=torch.bool)
        mask[known_sites] = True
        out = model.conditional_sample(x, mask, generator=gen)
        assert torch.equal(out[:, known_sites], x[:, known_sites])
        keep = (configs[:, known_sites] == values).all(1)
        cond = torch.where(keep, probs, torch.zeros_like(probs))
        counts = torch.bincount(codes(out, 2), minlength=probs.numel())
        assert counts[~keep].sum() == 0
        assert chi_square_pvalue(counts[keep].numpy(), cond[keep].numpy()) > P_MIN


def test_conditional_sample_needs_a_prefix():
    model = han(BETA)
    x = torch.zeros(3, 16, dtype=torch.long)
    known = torch.zeros(16, dtype=torch.bool)
    known[model.order[1]] = True
    with pytest.raises(ValueError, match="prefix"):
        model.conditional_sample(x, known)
    assert torch.equal(model.conditional_sample(x, torch.ones(16, dtype=torch.bool)), x)


# ------------------------------------------------------------------------- Z2
@pytest.mark.parametrize("beta", [BETA, None], ids=["heat-bath", "learned"])
def test_z2_symmetric(beta, configs):
    model = han(beta)
    plain = exact_log_probs(model, configs)
    model.z2_symmetric = True
    sym = exact_log_probs(model, configs)
    assert abs(float(torch.logsumexp(sym, 0))) < 1e-10
    assert torch.allclose(sym, exact_log_probs(model, 1 - configs), atol=1e-12)
    assert not torch.allclose(sym, plain)
    samples = model.sample(50_000, generator=torch.Generator().manual_seed(2))
    assert pvalue(samples, sym.exp()) > P_MIN


# ------------------------------------------------------------------ save/load
@pytest.mark.parametrize("beta,z2", [(BETA, False), (None, True)])
def test_save_load_keeps_log_prob(tmp_path, beta, z2):
    model = han(beta, L=8, depth=3)
    model.z2_symmetric = z2
    path = tmp_path / "han.pt"
    model.save(path)
    loaded = load(path)
    assert isinstance(loaded, HAN) and loaded.z2_symmetric == z2
    assert (loaded.L, loaded.beta, loaded.depth, loaded.hidden) == (8, beta, 3, 12)
    x = torch.randint(0, 2, (100, 64), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(loaded.log_prob(x), model.log_prob(x))
    assert torch.equal(loaded.sample(20, generator=torch.Generator().manual_seed(1)),
                       model.sample(20, generator=torch.Generator().manual_seed(1)))
    assert isinstance(HAN.load(path), HAN)


# --------------------------------------------------------------- variational
def test_variational_training_reaches_the_exact_free_energy():
    L = 4
    hamiltonian = Ising2D(L)
    exact = -exact_log_z(hamiltonian, BETA) / (BETA * L * L)
    assert abs(exact + ising2d_log_z(L, BETA) / (BETA * L * L)) < 1e-10
    torch.manual_seed(0)
    model = HAN(L, exact_last_level=True, beta=BETA, hidden=16, seed=0)

    def free_energy_per_site():
        with torch.no_grad():
            x = model.sample(20_000, generator=torch.Generator().manual_seed(11))
            local = hamiltonian.energy(x) + model.log_prob(x) / BETA
        return float(local.mean()) / (L * L)

    before = free_energy_per_site()
    history = train_variational(model, hamiltonian, BETA, steps=100, batch_size=500,
                                lr=0.01, progress=False,
                                generator=torch.Generator().manual_seed(0))
    assert len(history) == 100
    after = free_energy_per_site()
    assert after < before
    assert -0.002 < after - exact < 0.01


# -------------------------------------------------------------------- checks
@pytest.mark.parametrize("L", [6, 2, 0, 12, 4.0, True, "8"])
def test_bad_side(L):
    with pytest.raises(ValueError):
        HAN(L)


@pytest.mark.parametrize("kwargs", [dict(beta=-1.0), dict(beta=0.0), dict(hidden=0),
                                    dict(depth=0), dict(dtype=torch.int64),
                                    dict(beta=float("nan"))])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        HAN(4, exact_last_level=True, **{"beta": 0.4, **kwargs})


@pytest.mark.parametrize("kwargs, message", [
    (dict(beta=0.44), "pass exact_last_level=True"),
    (dict(J=0.5), "pass exact_last_level=True"),
    (dict(exact_last_level=True), "give beta"),
    (dict(exact_last_level="yes", beta=0.4), "exact_last_level must be True or False"),
])
def test_the_exact_last_level_is_explicit(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        HAN(4, **kwargs)


@pytest.mark.parametrize("hamiltonian, beta, message", [
    (Ising2D(8, periodic=False), 0.44, "other couplings"),
    (Ising2D(8, J=0.5), 0.44, "other couplings"),
    (Ising2D(8, h=0.1), 0.44, "other fields"),
    (Ising2D(8), 0.3, "not at beta=0.3"),
])
def test_an_exact_last_level_refuses_another_hamiltonian(hamiltonian, beta, message):
    model = HAN(8, exact_last_level=True, beta=0.44, hidden=4, seed=0)
    for call in (lambda: train_variational(model, hamiltonian, beta, steps=1, batch_size=4,
                                           progress=False),
                 lambda: free_energy(model, hamiltonian, beta, num=4),
                 lambda: neural_mcmc(model, hamiltonian, beta, steps=1, chains=2)):
        with pytest.raises(ValueError, match=message):
            call()
    model.check_hamiltonian(Ising2D(8), 0.44)  # its own model passes
    HAN(8, hidden=4, seed=0).check_hamiltonian(Ising2D(8, periodic=False), 0.3)  # learned


def test_bad_configurations():
    model = HAN(4, hidden=8, seed=0)
    with pytest.raises(ValueError, match="16 sites"):
        model.log_prob(torch.zeros(3, 15, dtype=torch.long))
    with pytest.raises(ValueError, match="outside"):
        model.log_prob(torch.full((2, 16), 2))
    with pytest.raises(ValueError, match="outside"):
        model.log_prob(-torch.ones(2, 16, dtype=torch.long))
    with pytest.raises(ValueError):
        model.fit(torch.zeros(4, 64, dtype=torch.long), epochs=1)
    with pytest.raises(ValueError):
        train_variational(model, Ising2D(8), BETA, steps=1, progress=False)


def test_pretraining_from_a_smaller_lattice_copies_the_shared_levels():
    small = han(None, L=8, seed=3)
    big = HAN(16, hidden=12, seed=0)
    assert big.init_from_smaller_(small) == 2  # the cells of sides 8 and 4
    x = torch.randint(0, 2, (5, 16 * 16), generator=torch.Generator().manual_seed(0))
    spins = (2 * x - 1).double()
    for mine, theirs, index in zip(big.nets[2:], small.nets[1:], big._levels()[2:]):
        inputs = spins[:, index]
        assert torch.equal(mine(inputs), theirs(inputs))
    assert torch.equal(big.last_weight, small.last_weight)
    untouched = HAN(16, hidden=12, seed=0)
    assert torch.equal(big.nets[0].weights[0], untouched.nets[0].weights[0])
    with pytest.raises(ValueError, match="not a smaller lattice"):
        big.init_from_smaller_(HAN(16, hidden=12, seed=1))
    with pytest.raises(ValueError, match="hidden width"):
        big.init_from_smaller_(HAN(8, hidden=4))
    with pytest.raises(TypeError, match="2D HAN"):
        big.init_from_smaller_(HAN(4, dim=3, hidden=12))
