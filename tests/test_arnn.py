"""MADE and PixelCNN: exact normalization, the autoregressive property, exact sampling
(chi-square against enumeration), conditional sampling, Z2 symmetry, fit, save/load;
for every autoregressive family: capabilities, conditional_log_prob, seeded streams,
the z2 flag in the state_dict and tnborn 0.1 (version-1) files."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

import tnborn
from tnborn.arnn import HAN, CurieWeissARNN, SKARNN
from tnborn.arnn.base import AutoregressiveModel
from tnborn.arnn.made import MADE
from tnborn.arnn.pixelcnn import PixelCNN
from tnborn.base import load

from .helpers import all_configurations, chi_square_pvalue, codes

P_MIN = 1e-3

MADE_CASES = [
    dict(n_sites=8, local_dim=2, depth=1, residual=False),
    dict(n_sites=8, local_dim=2, depth=3, residual=True),
    dict(n_sites=8, local_dim=2, depth=3, residual=False),
    dict(n_sites=6, local_dim=3, depth=1, residual=False),
    dict(n_sites=6, local_dim=3, depth=3, residual=True),
]
PIXEL_CASES = [
    dict(shape=(3, 3), local_dim=2),
    dict(shape=(4, 3), local_dim=2, residual=False, kernel=5),
    dict(shape=(3, 3), local_dim=3, layers=2),
    dict(shape=(2, 3), local_dim=3, channels=5),
    dict(shape=(3, 4), local_dim=2, first_kernel=7),
    dict(shape=(3, 3), local_dim=3, layers=2, first_kernel=5, kernel=1),
]


def made(case, seed=0):
    case = dict(case)
    return MADE(case.pop("n_sites"), case.pop("local_dim"), hidden=16, seed=seed, **case)


def pixelcnn(case, seed=0):
    case = dict(case)
    return PixelCNN(case.pop("shape"), case.pop("local_dim"), seed=seed, **case)


def _ids(cases):
    return ["-".join(f"{k}={v}" for k, v in c.items()) for c in cases]


def all_models():
    return [made(c) for c in MADE_CASES] + [pixelcnn(c) for c in PIXEL_CASES]


ALL_IDS = [f"MADE-{i}" for i in _ids(MADE_CASES)] + [f"PixelCNN-{i}" for i in _ids(PIXEL_CASES)]


def chunked_log_prob(model, configs, chunk=4096):
    with torch.no_grad():
        return torch.cat([model.log_prob(configs[i:i + chunk])
                          for i in range(0, len(configs), chunk)])


def exact_probs(model):
    configs = all_configurations(model.n_sites, model.local_dim)
    return configs, chunked_log_prob(model, configs).exp()


def sample_pvalue(samples, probs, local_dim):
    counts = torch.bincount(codes(samples, local_dim), minlength=probs.numel())
    return chi_square_pvalue(counts.numpy(), probs.numpy())


# ------------------------------------------------------------------ normalization
@pytest.mark.parametrize("index", range(len(ALL_IDS)), ids=ALL_IDS)
def test_exactly_normalized(index):
    model = all_models()[index]
    configs = all_configurations(model.n_sites, model.local_dim)
    total = torch.logsumexp(chunked_log_prob(model, configs), 0)
    assert abs(float(total)) < 1e-10


def test_made_site_zero_is_a_bias():
    model = MADE(5, 3, hidden=12, seed=3)
    configs = all_configurations(5, 3)
    logits = model._logits(configs)
    assert torch.equal(logits[:, 0], logits[:1, 0].expand(len(configs), 3))
    assert torch.allclose(logits[0, 0], model.biases[-1][:3])


def test_log_prob_batch_shape():
    model = MADE(4, hidden=8, seed=0)
    x = torch.randint(0, 2, (3, 5, 4))
    assert model.log_prob(x).shape == (3, 5)
    pix = PixelCNN((2, 2), seed=0)
    assert pix.log_prob(x).shape == (3, 5)


# ------------------------------------------------------- autoregressive property
def _check_jacobian(model, inputs, per_site, sees_previous_site):
    """Gradient of the logits of site i w.r.t. the encoded inputs of sites >= i is 0
    (and not all zero on the past, so the check is not vacuous)."""
    n, d = model.n_sites, model.local_dim
    inputs = inputs.clone().requires_grad_(True)
    logits = model._network(inputs)
    for i in range(n):
        for v in range(d):
            (grad,) = torch.autograd.grad(logits[:, i, v].sum(), inputs, retain_graph=True)
            grad = per_site(grad)  # (B, n, features)
            assert torch.count_nonzero(grad[:, i:]) == 0, f"site {i} sees the future"
            if i > 0:
                past = grad[:, i - 1] if sees_previous_site else grad[:, :i]
                assert torch.count_nonzero(past) > 0, f"site {i} ignores its past"


def test_made_autoregressive_jacobian():
    for case in MADE_CASES:
        model = made(case)
        x = torch.randint(0, model.local_dim, (4, model.n_sites),
                          generator=torch.Generator().manual_seed(1))
        _check_jacobian(model, model._encode(x),
                        lambda g, m=model: g.view(g.shape[0], m.n_sites, -1), True)


def test_pixelcnn_autoregressive_jacobian():
    for case in PIXEL_CASES:
        model = pixelcnn(case)
        x = torch.randint(0, model.local_dim, (4, model.n_sites),
                          generator=torch.Generator().manual_seed(1))
        # (B, C, H, W) -> (B, n, C): row-major sites
        _check_jacobian(model, model._encode(x),
                        lambda g: g.flatten(2).transpose(1, 2), False)
        # the pixel to the left and the one above are always in the receptive field
        inputs = model._encode(x).requires_grad_(True)
        logits = model._network(inputs)
        height, width = model.shape
        for r in range(height):
            for c in range(width):
                (grad,) = torch.autograd.grad(logits[:, r * width + c].sum(), inputs,
                                              retain_graph=True)
                if c > 0:
                    assert torch.count_nonzero(grad[:, :, r, c - 1]) > 0
                if r > 0:
                    assert torch.count_nonzero(grad[:, :, r - 1, c]) > 0


@pytest.mark.parametrize("index", range(len(ALL_IDS)), ids=ALL_IDS)
def test_logits_ignore_the_future(index):
    model = all_models()[index]
    gen = torch.Generator().manual_seed(5)
    x = torch.randint(0, model.local_dim, (16, model.n_sites), generator=gen)
    with torch.no_grad():
        base = model._logits(x)
        for i in range(model.n_sites):
            other = x.clone()
            other[:, i:] = torch.randint(0, model.local_dim, (16, model.n_sites - i),
                                         generator=gen)
            assert torch.allclose(model._logits(other)[:, i], base[:, i], rtol=0, atol=1e-13)


def _reference_pixelcnn_logits(model, x):
    """The same network with torch's conv2d and explicit 0/1 kernel masks."""
    h = model._encode(x)
    for layer in range(model.layers):
        k = model.first_kernel if layer == 0 else model.kernel
        half = k // 2
        mask = torch.zeros(k, k, dtype=h.dtype)
        mask[:half] = 1
        mask[half, :half + (layer > 0)] = 1
        step = torch.tanh(F.conv2d(h, model.weights[layer] * mask, model.biases[layer],
                                   padding=half))
        h = h + step if (layer > 0 and model.residual) else step
    out = torch.einsum("dc,bchw->bhwd", model.out_weight, h) + model.out_bias
    return out.reshape(x.shape[0], model.n_sites, model.local_dim)


def test_pixelcnn_matches_conv2d_reference_values_and_gradients():
    for case in PIXEL_CASES + [dict(shape=(2, 5), local_dim=2, kernel=1)]:
        model = pixelcnn(case)
        x = torch.randint(0, model.local_dim, (7, model.n_sites),
                          generator=torch.Generator().manual_seed(2))
        weights = torch.randn(7, model.n_sites, model.local_dim, dtype=torch.float64)
        ours = model._logits(x)
        params = list(model.parameters())
        grads = torch.autograd.grad((ours * weights).sum(), params, allow_unused=True)
        ref = _reference_pixelcnn_logits(model, x)
        ref_grads = torch.autograd.grad((ref * weights).sum(), params)
        assert torch.allclose(ours, ref, rtol=0, atol=1e-12)
        for p, mine, theirs in zip(params, grads, ref_grads):
            mine = torch.zeros_like(p) if mine is None else mine  # kernel 1: no taps
            assert torch.allclose(mine, theirs, rtol=0, atol=1e-11)


# ---------------------------------------------------------------------- sampling
SAMPLE_CASES = [
    ("made-8x2", lambda: MADE(8, 2, hidden=24, depth=2, seed=11)),
    ("made-6x3-res", lambda: MADE(6, 3, hidden=16, depth=3, residual=True, seed=12)),
    ("pixel-3x3x2", lambda: PixelCNN((3, 3), 2, seed=13)),
    ("pixel-2x3x3", lambda: PixelCNN((2, 3), 3, channels=8, seed=14)),
    ("pixel-3x3-wide", lambda: PixelCNN((3, 3), 2, first_kernel=5, seed=15)),
]


@pytest.mark.parametrize("build", [c[1] for c in SAMPLE_CASES], ids=[c[0] for c in SAMPLE_CASES])
def test_samples_match_exact_distribution(build):
    model = build()
    _, probs = exact_probs(model)
    samples = model.sample(100_000, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (100_000, model.n_sites) and samples.dtype == torch.long
    assert sample_pvalue(samples, probs, model.local_dim) > P_MIN


@pytest.mark.parametrize("build", [c[1] for c in SAMPLE_CASES], ids=[c[0] for c in SAMPLE_CASES])
def test_fast_sampler_equals_generic_sampler(build):
    """The cached samplers draw exactly what the base class's full-forward loop draws."""
    model = build()
    num = 2000
    fast = model.sample(num, generator=torch.Generator().manual_seed(3))
    x = torch.zeros(num, model.n_sites, dtype=torch.long)
    generic = AutoregressiveModel._sample_from(model, x, torch.zeros(num, dtype=torch.long),
                                               torch.Generator().manual_seed(3))
    assert (fast != generic).float().mean() < 1e-3  # ties at rounding level only


def test_same_seeds_reproduce():
    for cls, args in [(MADE, (7, 3)), (PixelCNN, ((3, 2), 3))]:
        a, b, c = cls(*args, seed=4), cls(*args, seed=4), cls(*args, seed=5)
        for pa, pb in zip(a.parameters(), b.parameters()):
            assert torch.equal(pa, pb)
        assert any(not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))
        s1 = a.sample(50, generator=torch.Generator().manual_seed(9))
        s2 = a.sample(50, generator=torch.Generator().manual_seed(9))
        s3 = a.sample(50, generator=torch.Generator().manual_seed(10))
        assert torch.equal(s1, s2) and not torch.equal(s1, s3)
    torch.manual_seed(21)
    first = MADE(5)
    torch.manual_seed(21)
    assert torch.equal(first.weights[0], MADE(5).weights[0])


# ---------------------------------------------------------- conditional sampling
def _conditional_pvalue(model, prefix_values, samples, probs):
    """Chi-square of the unknown part of rows with a given known prefix."""
    configs = all_configurations(model.n_sites, model.local_dim)
    k = len(prefix_values)
    keep = (configs[:, :k] == torch.tensor(prefix_values)).all(1)
    assert torch.equal(samples[:, :k], torch.tensor(prefix_values).expand(len(samples), k))
    cond = probs[keep] / probs[keep].sum()
    rest = samples[:, k:]
    counts = torch.bincount(codes(rest, model.local_dim),
                            minlength=model.local_dim ** (model.n_sites - k))
    return chi_square_pvalue(counts.numpy(), cond.numpy())


CONDITIONAL_CASES = [  # (name, model, one known prefix, another); made-3 has no Z2
    ("made", lambda: MADE(6, 2, hidden=16, seed=7), [1, 0], [0, 1, 1, 0]),
    ("made-3", lambda: MADE(5, 3, hidden=16, seed=7), [2], [0, 2, 1]),
    ("pixel", lambda: PixelCNN((2, 3), 2, seed=7), [0, 1, 1], [1]),
]


@pytest.mark.parametrize("build,first,second,z2",
                         [c[1:] + (z2,) for c in CONDITIONAL_CASES for z2 in (False, True)
                          if c[0] != "made-3" or not z2],
                         ids=[f"{c[0]}-{'z2' if z2 else 'plain'}" for c in CONDITIONAL_CASES
                              for z2 in (False, True) if c[0] != "made-3" or not z2])
def test_conditional_sample_matches_exact_conditional(build, first, second, z2):
    model = build()
    model.z2_symmetric = z2
    _, probs = exact_probs(model)
    n, num = model.n_sites, 40_000
    gen = torch.Generator().manual_seed(1)
    x = torch.randint(0, model.local_dim, (2 * num, n), generator=gen)
    known = torch.zeros(2 * num, n, dtype=torch.bool)
    x[:num, :len(first)] = torch.tensor(first)
    known[:num, :len(first)] = True
    x[num:, :len(second)] = torch.tensor(second)
    known[num:, :len(second)] = True
    out = model.conditional_sample(x, known, generator=gen)
    assert _conditional_pvalue(model, first, out[:num], probs) > P_MIN
    assert _conditional_pvalue(model, second, out[num:], probs) > P_MIN
    # one (n_sites,) mask for every row
    mask = torch.zeros(n, dtype=torch.bool)
    mask[:len(first)] = True
    out = model.conditional_sample(x[:num], mask, generator=gen)
    assert _conditional_pvalue(model, first, out, probs) > P_MIN


def test_conditional_sample_needs_a_prefix():
    for model in [MADE(5, seed=0), PixelCNN((2, 2), seed=0)]:
        x = torch.zeros(3, model.n_sites, dtype=torch.long)
        known = torch.zeros(model.n_sites, dtype=torch.bool)
        known[1] = True
        with pytest.raises(ValueError, match="prefix"):
            model.conditional_sample(x, known)
        full = model.conditional_sample(x, torch.ones(model.n_sites, dtype=torch.bool))
        assert torch.equal(full, x)


# ------------------------------------------------------------------------- Z2
@pytest.mark.parametrize("build", [lambda: MADE(7, hidden=16, depth=2, seed=8),
                                   lambda: PixelCNN((3, 2), seed=8)], ids=["made", "pixel"])
def test_z2_symmetric_model(build):
    model = build()
    configs, plain = exact_probs(model)
    model.z2_symmetric = True
    with torch.no_grad():
        logp = model.log_prob(configs)
        assert abs(float(torch.logsumexp(logp, 0))) < 1e-10
        assert torch.allclose(logp, model.log_prob(1 - configs), rtol=0, atol=1e-12)
        flipped = plain[codes(1 - configs, 2)]
        assert torch.allclose(logp.exp(), (plain + flipped) / 2, rtol=1e-12, atol=0)
    samples = model.sample(100_000, generator=torch.Generator().manual_seed(2))
    assert sample_pvalue(samples, logp.exp(), 2) > P_MIN


# ------------------------------------------------------------------------ fit
def test_made_learns_bars_and_stripes():
    data = tnborn.datasets.bars_and_stripes(3, 3)
    assert data.shape == (14, 9)
    model = MADE(9, seed=0)
    history = model.fit(data.repeat(4, 1), epochs=60, lr=0.02, batch_size=14,
                        test_data=data, progress=False, generator=torch.Generator().manual_seed(0))
    assert len(history) == 60
    assert set(history[0]) >= {"step", "train_nll", "test_nll", "seconds"}
    assert [h["step"] for h in history] == list(range(1, 61))
    assert history[-1]["seconds"] >= history[0]["seconds"] > 0
    assert history[-1]["train_nll"] < math.log(14) + 0.05
    assert abs(model.nll(data) - history[-1]["test_nll"]) < 1e-12
    assert model.log_prob(data).exp().sum() > 0.95


def test_pixelcnn_fit_lowers_nll():
    data = tnborn.datasets.bars_and_stripes(3, 3)
    model = PixelCNN((3, 3), seed=0)
    history = model.fit(data.repeat(4, 1), epochs=15, lr=0.02, batch_size=14,
                        progress=False, generator=torch.Generator().manual_seed(0))
    assert history[-1]["train_nll"] < history[0]["train_nll"] - 0.5


# ----------------------------------------------------------------- save / load
SAVE_CASES = [  # (name, model, z2)
    ("made", lambda: MADE(6, 3, hidden=10, depth=3, residual=True, seed=1), False),
    ("made-f32-z2", lambda: MADE(5, seed=None, dtype=torch.float32), True),
    ("made-z2", lambda: MADE(5, hidden=8, seed=3), True),
    ("pixel", lambda: PixelCNN((3, 2), 2, channels=4, kernel=5, seed=2), False),
    ("pixel-z2", lambda: PixelCNN((3, 2), 2, channels=4, seed=2), True),
    ("pixel-3", lambda: PixelCNN([2, 2], 3, layers=1, residual=False), False),
]


@pytest.mark.parametrize("build,z2", [c[1:] for c in SAVE_CASES], ids=[c[0] for c in SAVE_CASES])
def test_save_load_round_trip(tmp_path, build, z2):
    model = build()
    model.z2_symmetric = z2
    with torch.no_grad():  # move off the seeded initialization
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    path = tmp_path / "model.pt"
    model.save(path)
    restored = load(path)
    assert type(restored) is type(model) and restored.z2_symmetric is z2
    assert restored.dtype == model.dtype
    assert tnborn.load(path).z2_symmetric is z2
    assert type(model).load(path).n_sites == model.n_sites
    configs = all_configurations(model.n_sites, model.local_dim)
    with torch.no_grad():
        assert torch.equal(restored.log_prob(configs), model.log_prob(configs))
    gen_a, gen_b = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    assert torch.equal(restored.sample(20, generator=gen_a), model.sample(20, generator=gen_b))


def test_load_rejects_nan_parameters(tmp_path):
    for model in [MADE(4, seed=0), PixelCNN((2, 2), seed=0)]:
        with torch.no_grad():
            next(iter(model.parameters())).view(-1)[0] = float("nan")
        path = tmp_path / f"{type(model).__name__}.pt"
        model.save(path)
        with pytest.raises(ValueError, match="non-finite"):
            load(path)


# ------------------------------------------------------------------ bad input
def test_bad_configurations():
    for model in [MADE(4, seed=0), PixelCNN((2, 2), 3, seed=0)]:
        with pytest.raises(ValueError, match="sites"):
            model.log_prob(torch.zeros(2, 5, dtype=torch.long))
        with pytest.raises(ValueError, match="outside"):
            model.log_prob(torch.full((2, 4), model.local_dim))
        with pytest.raises(ValueError, match="outside"):
            model.log_prob(torch.full((2, 4), -1))
        with pytest.raises(ValueError, match="sites"):
            model.conditional_sample(torch.zeros(2, 3, dtype=torch.long),
                                     torch.zeros(3, dtype=torch.bool))


@pytest.mark.parametrize("kwargs,match", [
    (dict(hidden=0), "hidden"), (dict(hidden=2.5), "hidden"), (dict(hidden=True), "hidden"),
    (dict(depth=0), "depth"), (dict(depth="2"), "depth"), (dict(residual=1), "residual"),
    (dict(dtype=torch.int64), "dtype"), (dict(dtype=torch.complex128), "dtype"),
    (dict(device="no-such-device"), "device"),
])
def test_made_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MADE(6, **kwargs)


@pytest.mark.parametrize("args,kwargs,match", [
    (((3,),), {}, "shape"), (((0, 3),), {}, "shape"), (((3, -1),), {}, "shape"),
    (("ab",), {}, "shape"), (((2.0, 3),), {}, "shape"), ((5,), {}, "shape"),
    (((2, 3, 4),), {}, "shape"), (((True, 3),), {}, "shape"),
    (((3, 3),), dict(kernel=2), "kernel"), (((3, 3),), dict(kernel=0), "kernel"),
    (((3, 3),), dict(kernel=-1), "kernel"), (((3, 3),), dict(kernel=3.0), "kernel"),
    (((3, 3),), dict(channels=0), "channels"), (((3, 3),), dict(layers=0), "layers"),
    (((3, 3),), dict(residual=None), "residual"), (((3, 3), 1), {}, "local_dim"),
    (((3, 3),), dict(dtype=torch.int32), "dtype"),
])
def test_pixelcnn_bad_arguments(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        PixelCNN(*args, **kwargs)


def test_made_bad_sizes():
    with pytest.raises(ValueError, match="n_sites"):
        MADE(0)
    with pytest.raises(ValueError, match="local_dim"):
        MADE(4, 1)
    with pytest.raises(TypeError, match="seed"):
        MADE(4, seed=1.5)


# ------------------------------------------------------------ v2: capabilities
def _small_sk():
    from tnborn.physics import SherringtonKirkpatrick

    hamiltonian = SherringtonKirkpatrick(6, seed=0)
    return SKARNN(hamiltonian.couplings, hamiltonian.fields, beta=1.0, seed=0)


AR_BUILDERS = [  # (name, model): every autoregressive family, small
    ("made", lambda: MADE(6, hidden=12, seed=0)),
    ("pixel", lambda: PixelCNN((2, 3), channels=4, seed=0)),
    ("han", lambda: HAN(4, exact_last_level=True, beta=0.44, hidden=8, seed=0)),
    ("curie-weiss", lambda: CurieWeissARNN(6, J=1.0, h=0.1, beta=0.8, seed=0)),
    ("sk", _small_sk),
]
AR_IDS = [name for name, _ in AR_BUILDERS]


def _is_prefix(sites, order) -> bool:
    return set(sites) == set(order[:len(set(sites))])


def _site_sets(model):
    """Site sets to classify: every non-empty subset for n <= 6; for HAN every prefix of
    its order, each prefix with one site swapped for a later one, and random subsets."""
    n, order = model.n_sites, model.order.tolist()
    if n <= 6:
        return [list(c) for k in range(1, n + 1) for c in itertools.combinations(range(n), k)]
    sets = [order[:k] for k in range(1, n + 1)]
    sets += [order[:k - 1] + [order[j]] for k in range(1, n) for j in (k, n - 1)]
    gen = torch.Generator().manual_seed(0)
    for _ in range(60):
        keep = torch.rand(n, generator=gen) < 0.5
        if keep.any():
            sets.append(torch.nonzero(keep).flatten().tolist())
    return sets


@pytest.mark.parametrize("build", [b for _, b in AR_BUILDERS], ids=AR_IDS)
def test_capabilities_of_autoregressive_nets(build):
    model = build()
    n, order = model.n_sites, model.order.tolist()
    assert model.supports_z2 is True and model.has_bonds is False
    assert model.has_rsample is False and model.exact_sampling is True
    assert model.fit_unit == "epochs" and model.support == tnborn.Discrete(2)
    with pytest.raises(TypeError, match="has_rsample"):
        model.rsample(3)
    sets = _site_sets(model)
    prefixes, others = [], []
    for sites in sets:
        expected = _is_prefix(sites, order)
        mask = torch.zeros(n, dtype=torch.bool)
        mask[sites] = True
        assert model.marginal_is_exact(sites) is expected, sites
        assert model.marginal_is_exact(mask) is expected, sites
        assert model.conditional_is_exact(mask) is expected, sites
        (prefixes if expected else others).append(mask)
    assert len(prefixes) == n and len(others) > 0
    # nothing known is the empty prefix (plain sampling)
    assert model.conditional_is_exact(torch.zeros(n, dtype=torch.bool)) is True
    # per-row masks: exact only when every row is a prefix
    rows = torch.stack(prefixes + [torch.zeros(n, dtype=torch.bool)])
    assert model.conditional_is_exact(rows) is True
    assert model.conditional_is_exact(rows.reshape(1, -1, n).expand(2, -1, n)) is True
    for bad in others[:5]:
        mixed = torch.cat([rows, bad[None]])
        assert model.conditional_is_exact(mixed) is False
        x = torch.zeros(mixed.shape[0], n, dtype=torch.long)
        with pytest.raises(ValueError, match="prefix"):
            model.conditional_sample(x, mixed, generator=torch.Generator().manual_seed(0))
        with pytest.raises(ValueError, match="prefix"):
            model.conditional_sample(x[:1], bad, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="bool mask"):
        model.conditional_is_exact(torch.zeros(n + 1, dtype=torch.bool))


def test_supports_z2_only_for_binary_alphabets():
    assert MADE(5, 3, hidden=8, seed=0).supports_z2 is False
    assert PixelCNN((2, 2), 3, seed=0).supports_z2 is False
    assert MADE(5, 2, hidden=8, seed=0).supports_z2 is True


# --------------------------------------------------- v2: conditional_log_prob
@pytest.mark.parametrize("z2", [False, True], ids=["plain", "z2"])
def test_made_conditional_log_prob_is_log_prob_minus_marginal(z2):
    model = MADE(7, hidden=16, depth=2, seed=3)
    with torch.no_grad():  # sizeable correlations
        for p in model.parameters():
            p.mul_(2.0)
    model.z2_symmetric = z2
    configs = all_configurations(7, 2)
    log_p = chunked_log_prob(model, configs)
    for k in range(1, 7):
        prefix = list(range(k))
        mask = torch.zeros(7, dtype=torch.bool)
        mask[:k] = True
        for given in (prefix, mask):
            conditional = model.conditional_log_prob(configs, given)
            expected = log_p - model.marginal_log_prob(configs, prefix)
            assert conditional.shape == (2 ** 7,)
            assert float((conditional - expected).abs().max()) < 1e-12
        # a conditional distribution: it sums to one over the other sites
        table = conditional.exp().reshape(2 ** k, 2 ** (7 - k)).sum(1)
        assert float((table - 1).abs().max()) < 1e-12
    full = model.conditional_log_prob(configs, list(range(7)))
    assert float(full.abs().max()) < 1e-12  # ln p(x | x) = 0
    assert model.conditional_log_prob(configs.reshape(4, 32, 7), [0, 1]).shape == (4, 32)
    for bad in ([1], [0, 2], [6], [3, 4, 5, 6]):
        with pytest.raises(ValueError, match="not exact"):
            model.conditional_log_prob(configs[:4], bad)


@pytest.mark.parametrize("build", [b for _, b in AR_BUILDERS], ids=AR_IDS)
def test_conditional_log_prob_of_every_family(build):
    model = build()
    order = model.order.tolist()
    x = torch.randint(0, 2, (40, model.n_sites), generator=torch.Generator().manual_seed(0))
    for z2 in (False, True):
        model.z2_symmetric = z2
        with torch.no_grad():
            log_p = model.log_prob(x)
        for k in range(1, model.n_sites + 1):
            expected = log_p - model.marginal_log_prob(x, order[:k])
            got = model.conditional_log_prob(x, order[:k])
            assert float((got - expected).abs().max()) < 1e-12, (z2, k)
    bad = order[1:2]
    with pytest.raises(ValueError, match="not exact"):
        model.conditional_log_prob(x, bad)


def test_plain_conditional_log_prob_is_one_forward_pass():
    model = MADE(6, hidden=12, seed=1)
    calls = []
    network = model._logits

    def counting(x):
        calls.append(x.shape[0])
        return network(x)

    model._logits = counting
    x = torch.randint(0, 2, (9, 6), generator=torch.Generator().manual_seed(0))
    model.conditional_log_prob(x, [0, 1, 2])
    assert calls == [9]


def test_sampled_mi_of_an_autoregressive_net_uses_conditional_log_prob():
    from tnborn.diagnostics import mutual_information

    model = MADE(6, hidden=12, seed=2)
    calls = []
    conditional = model.conditional_log_prob

    def recording(x, given, **kwargs):
        calls.append(given.clone())
        return conditional(x, given, **kwargs)

    model.conditional_log_prob = recording

    def no_enumeration(*args, **kwargs):
        raise AssertionError("the sampled MI enumerated a marginal")

    model._enumerated_marginal = no_enumeration
    estimate = mutual_information(model, 2, num=50, inner=16,
                                  generator=torch.Generator().manual_seed(0))
    assert estimate.method == "sampled" and estimate.num == 50
    assert calls and all(torch.equal(g, torch.tensor([True, True] + [False] * 4))
                         for g in calls)


# ------------------------------------------------------------------ v2: seeds
def _without_seconds(history):
    return [{k: v for k, v in record.items() if k not in ("seconds", "cpu_seconds")} for record in history]


def test_seeded_fit_is_reproducible():
    data = tnborn.datasets.bars_and_stripes(4, 4)
    runs = []
    for _ in range(2):
        model = MADE(16, seed=0)
        history = model.fit(data, epochs=3, batch_size=10, progress=False)
        runs.append((model, history))
    (a, ha), (b, hb) = runs
    assert len(ha) == 3 and _without_seconds(ha) == _without_seconds(hb)
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for name in sa:
        if isinstance(sa[name], torch.Tensor):
            assert torch.equal(sa[name], sb[name]), name
    # not vacuous: another minibatch order (an explicit generator) trains differently
    c = MADE(16, seed=0)
    hc = c.fit(data, epochs=3, batch_size=10, progress=False,
               generator=torch.Generator().manual_seed(1))
    assert hc[-1]["train_nll"] != ha[-1]["train_nll"]
    assert not torch.equal(c.weights[0], a.weights[0])


def test_model_stream_and_explicit_generators():
    a, b = MADE(16, seed=0), MADE(16, seed=0)
    first = a.sample(100)
    assert torch.equal(first, b.sample(100))
    assert not torch.equal(a.sample(100), first)  # the stream moves on
    assert not torch.equal(MADE(16, seed=1).sample(100), first)
    # a generator makes the draw independent of the model's stream ...
    c, d = MADE(16, seed=0), MADE(16, seed=0)
    d.sample(7)  # d's own stream has advanced, c's has not
    from_c = c.sample(100, generator=torch.Generator().manual_seed(5))
    assert torch.equal(from_c, d.sample(100, generator=torch.Generator().manual_seed(5)))
    assert torch.equal(from_c, a.sample(100, generator=torch.Generator().manual_seed(5)))
    # ... and leaves that stream untouched
    assert torch.equal(c.sample(100), first)
    assert c.random_stream(torch.Generator().manual_seed(5)) is not c.random_stream()


# -------------------------------------------------------- v2: module structure
def test_arnn_does_not_import_physics():
    import subprocess
    import sys

    code = ("import sys, tnborn.arnn; "
            "print([m for m in sys.modules if m.startswith('tnborn.physics')])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# ------------------------------------------------- v2: z2 in the state, files
@pytest.mark.parametrize("build", [b for _, b in AR_BUILDERS], ids=AR_IDS)
def test_z2_flag_is_in_the_state_dict(tmp_path, build):
    model = build()
    model.z2_symmetric = True
    state = model.state_dict()
    assert state["_extra_state"] == {"z2_symmetric": True}
    fresh = build()
    assert fresh.z2_symmetric is False
    fresh.load_state_dict(state)
    assert fresh.z2_symmetric is True
    model.save(tmp_path / "model.pt")
    loaded = load(tmp_path / "model.pt")
    assert loaded.z2_symmetric is True
    x = torch.randint(0, 2, (64, model.n_sites), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(loaded.log_prob(x), model.log_prob(x))
    model.z2_symmetric = False
    model.save(tmp_path / "plain.pt")
    assert load(tmp_path / "plain.pt").z2_symmetric is False


def _version_1_config(model) -> dict:
    """The constructor configuration as tnborn 0.1 wrote it (without z2_symmetric)."""
    if isinstance(model, CurieWeissARNN):  # 0.1: str(dtype), no seed
        return {"n": model.n_sites, "J": model.J, "h": model.h, "beta": model.beta,
                "dtype": "torch.float64"}
    if isinstance(model, SKARNN):
        return {"couplings": model.couplings.tolist(), "fields": model.fields.tolist(),
                "beta": model.beta, "dtype": "torch.float64"}
    if isinstance(model, HAN):
        return {"L": model.L, "beta": model.beta, "J": model.J, "h": model.h,
                "hidden": model.hidden, "depth": model.depth, "dtype": "float64",
                "seed": model.seed}
    if isinstance(model, PixelCNN):
        return {"shape": list(model.shape), "local_dim": model.local_dim,
                "channels": model.channels, "layers": model.layers, "kernel": model.kernel,
                "first_kernel": model.first_kernel, "residual": model.residual,
                "dtype": "float64", "seed": model.seed}
    return {"n_sites": model.n_sites, "local_dim": model.local_dim, "hidden": model.hidden,
            "depth": model.depth, "residual": model.residual, "dtype": "float64",
            "seed": model.seed}


@pytest.mark.parametrize("build", [b for _, b in AR_BUILDERS], ids=AR_IDS)
def test_version_1_files_still_load(tmp_path, build):
    model = build()
    with torch.no_grad():  # move off the seeded initialization
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1),
                                     dtype=p.dtype))
    parameters = {k: v for k, v in model.state_dict().items() if k != "_extra_state"}
    x = torch.randint(0, 2, (64, model.n_sites), generator=torch.Generator().manual_seed(0))
    for z2 in (True, False, None):  # None: a file without the key
        config = _version_1_config(model)
        if z2 is not None:
            config["z2_symmetric"] = z2
        path = tmp_path / f"v1-{z2}.pt"
        torch.save({"format": "tnborn-model", "version": 1, "class": type(model).__name__,
                    "config": config, "state": {"parameters": parameters}}, path)
        loaded = load(path)
        assert type(loaded) is type(model) and loaded.z2_symmetric is bool(z2)
        model.z2_symmetric = bool(z2)
        with torch.no_grad():
            assert torch.equal(loaded.log_prob(x), model.log_prob(x))
        # and it saves again as a version-2 file that keeps the flag
        loaded.save(tmp_path / "v2.pt")
        assert torch.load(tmp_path / "v2.pt", weights_only=True)["version"] == 2
        assert load(tmp_path / "v2.pt").z2_symmetric is bool(z2)
