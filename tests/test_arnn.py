"""MADE and PixelCNN: exact normalization, the autoregressive property, exact sampling
(chi-square against enumeration), conditional sampling, Z2 symmetry, fit, save/load."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import tnborn
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
