"""MPS Born machine: normalization, canonical form, learning, sampling, entanglement."""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pytest
import quimb.tensor as qtn
import torch

import tnborn
from tnborn import Bond, MPSBornMachine
from tnborn.datasets import bars_and_stripes, mnist
from tnborn.mps.two_site import TwoSiteLearner
from tnborn.sweeps import UpdateOptions, capped_step

from .helpers import (all_configurations, assert_conditional_samples_exact, chi_square_pvalue,
                      codes, dense_state)

REAL_AND_COMPLEX = [torch.float64, torch.complex128]


def random_tensors(n, d, bond, *, dtype=torch.float64, seed=0):
    """Random site tensors (not canonical, not normalized), bond dims capped by ``bond``."""
    g = torch.Generator().manual_seed(seed)
    dims = [1] + [bond] * (n - 1) + [1]
    out = []
    for k in range(n):
        t = torch.randn(dims[k], d, dims[k + 1], generator=g, dtype=torch.float64)
        if dtype.is_complex:
            t = torch.complex(t, torch.randn(t.shape, generator=g, dtype=torch.float64))
        out.append(t.to(dtype))
    return out


# ------------------------------------------------------------------ normalization
@pytest.mark.parametrize("dtype", REAL_AND_COMPLEX)
@pytest.mark.parametrize("n, d, bond", [(12, 2, 8), (10, 2, 1), (9, 3, 5), (7, 3, 8),
                                        (11, 2, 3), (6, 3, 2)])
def test_log_prob_is_normalized(n, d, bond, dtype):
    model = MPSBornMachine(n, d, init_bond=bond, dtype=dtype, seed=n + bond)
    logp = model.log_prob(all_configurations(n, d)).detach()
    assert abs(float(torch.logsumexp(logp, 0))) < 1e-10


@pytest.mark.parametrize("dtype", REAL_AND_COMPLEX)
def test_log_prob_matches_dense_contraction(dtype):
    tensors = random_tensors(8, 3, 4, dtype=dtype, seed=3)
    psi = dense_state(tensors)
    expected = np.log(np.abs(psi) ** 2 / np.sum(np.abs(psi) ** 2))
    model = MPSBornMachine.from_tensors(tensors)
    logp = model.log_prob(all_configurations(8, 3)).detach().numpy()
    np.testing.assert_allclose(logp, expected, rtol=0, atol=1e-10)
    assert model.log_norm() == pytest.approx(0.0, abs=1e-12)
    # log_norm of the raw tensors equals ln sum |psi|^2
    from tnborn.mps.contraction import log_norm

    assert log_norm(tensors) == pytest.approx(math.log(np.sum(np.abs(psi) ** 2)), abs=1e-10)


def test_batch_shape_is_kept():
    model = MPSBornMachine(5, seed=0)
    x = torch.randint(0, 2, (3, 4, 5))
    assert model.log_prob(x).shape == (3, 4)
    assert model.nll(x) == pytest.approx(float(-model.log_prob(x).detach().mean()))


def test_tiny_probabilities_stay_finite():
    """784 sites: p(x) far below 1e-300 is still a finite log-probability."""
    model = MPSBornMachine(784, 8, init_bond=4, seed=0)
    x = torch.randint(0, 8, (16, 784), generator=torch.Generator().manual_seed(0))
    logp = model.log_prob(x)
    assert torch.isfinite(logp).all()
    assert (logp < 2 * math.log(1e-300)).all()  # even |psi| underflows in float64
    assert float(torch.logsumexp(model.log_prob(model.sample(4)).detach(), 0)) < 0


def test_bonds_and_bond_dims():
    """Bond k joins sites k and k+1 and cuts sites 0..k from the rest; bond_dims and the
    entropies are lists / tensors aligned with the bonds."""
    model = MPSBornMachine.from_tensors(random_tensors(6, 3, 5, seed=4))
    assert model.bonds == [Bond(0, (0,)), Bond(1, (0, 1)), Bond(2, (0, 1, 2)),
                           Bond(3, (0, 1, 2, 3)), Bond(4, (0, 1, 2, 3, 4))]
    # canonical at site 0: the right-isometric sites cap bond 4 at 3 = d; bond 0 keeps
    # its given 5, though only 3 Schmidt values can be nonzero there
    assert model.bond_dims == [5, 5, 5, 5, 3]
    assert model.entanglement_entropy().shape == (5,)
    assert [s.shape for s in model.bond_spectra()] == [(3,), (5,), (5,), (5,), (3,)]
    assert model.center == 0 and model.num_parameters == 15 + 3 * 75 + 45 + 9


# ---------------------------------------------------------------- canonical form
@pytest.mark.parametrize("dtype", REAL_AND_COMPLEX)
def test_canonical_form_isometries(dtype):
    model = MPSBornMachine.from_tensors(random_tensors(9, 2, 6, dtype=dtype, seed=1))
    x = all_configurations(9, 2)
    before = model.log_prob(x)
    for center in (4, 8, 0, 6):
        assert model.canonicalize_(center) is model
        assert model.center == center
        for k, a in enumerate(t.detach() for t in model.tensors):
            dl, d, dr = a.shape
            if k < center:
                m = a.reshape(dl * d, dr)
                eye = torch.eye(dr, dtype=dtype)
                torch.testing.assert_close(m.mH @ m, eye, atol=1e-12, rtol=0)
            elif k > center:
                m = a.reshape(dl, d * dr)
                eye = torch.eye(dl, dtype=dtype)
                torch.testing.assert_close(m @ m.mH, eye, atol=1e-12, rtol=0)
        assert float(torch.linalg.norm(model.tensors[center].detach())) == \
            pytest.approx(1.0, abs=1e-12)
        torch.testing.assert_close(model.log_prob(x), before, atol=1e-11, rtol=0)


# ------------------------------------------------------------- two-site gradient
@pytest.mark.parametrize("d, minibatch", [(2, False), (3, False), (3, True)])
@pytest.mark.parametrize("dtype", REAL_AND_COMPLEX)
def test_two_site_step_matches_autograd(dtype, d, minibatch):
    """The closed-form gradient step equals the autograd gradient of the NLL: full batch,
    or a minibatch of rows with their own weights; at d = 3 site k never takes the value
    2, so three of the nine pair groups are empty."""
    n, k, lr = 6, 2, 0.01
    model = MPSBornMachine(n, d, init_bond=3, dtype=dtype, seed=4)
    model.canonicalize_(k)
    all_data = torch.randint(0, d, (60, n), generator=torch.Generator().manual_seed(5))
    all_data[:, k] = all_data[:, k].clamp_max(1)
    all_data = torch.unique(all_data, dim=0)
    rows = torch.arange(1, all_data.shape[0], 3) if minibatch else None
    data = all_data if rows is None else all_data[rows]
    weights = torch.arange(1, data.shape[0] + 1, dtype=torch.float64)
    weights = weights / weights.sum()
    tensors = [t.detach().clone() for t in model.tensors]  # the learner's plain list
    a, b = tensors[k], tensors[k + 1]
    merged = torch.einsum("apb,bqc->apqc", a, b).clone().requires_grad_(True)
    others = [t.clone() for t in tensors]

    def nll(m):
        left = [t[:, data[:, j], :] for j, t in enumerate(others[:k])]  # (Dl, B, Dr)
        right = [t[:, data[:, j], :] for j, t in enumerate(others) if j > k + 1]
        vec = torch.ones(data.shape[0], 1, dtype=dtype)
        for t in left:
            vec = torch.einsum("bl,lbr->br", vec, t)
        vec = torch.einsum("bl,lbr->br", vec, m[:, data[:, k], data[:, k + 1], :])
        for t in right:
            vec = torch.einsum("bl,lbr->br", vec, t)
        psi = vec[:, 0]
        z = (m.abs() ** 2).sum()
        return -(weights * torch.log(psi.abs() ** 2)).sum() + torch.log(z)

    loss = nll(merged)
    (grad,) = torch.autograd.grad(loss, merged)
    # torch returns dL/dM* scaled by 2 for complex (conjugate Wirtinger convention):
    # the steepest-descent step is -lr * grad in both cases.
    expected = merged.detach() - lr * grad
    expected = expected / torch.linalg.norm(expected)

    # one learner step on the same state, with no truncation and no step cap
    options = UpdateOptions(lr=lr, max_step=None, steps_per_bond=1, max_bond=1000, cutoff=0.0)
    learner = TwoSiteLearner(tensors, all_data, options, center=k)
    learner.update(k, True, rows, weights)
    got = torch.einsum("apb,bqc->apqc", tensors[k], tensors[k + 1])
    # the gauge of the split bond is free: compare the merged tensors
    torch.testing.assert_close(got, expected, atol=1e-12, rtol=0)


def test_normalized_step_has_the_original_codes_length():
    """normalized_steps: a step shorter than 2 lr numel^(1/4) is lengthened to that, along
    the same gradient; a longer one is the plain step."""
    g = torch.Generator().manual_seed(0)
    merged = torch.randn(3, 4, 5, generator=g, dtype=torch.float64)
    merged = merged / torch.linalg.norm(merged)
    floor, lr = merged.numel() ** 0.25, 1e-3
    plain = UpdateOptions(lr=lr, max_step=None, steps_per_bond=1, max_bond=10, cutoff=0.0)
    normalized = UpdateOptions(lr=lr, max_step=None, steps_per_bond=1, max_bond=10,
                               cutoff=0.0, normalized=True)
    for size in (1e-3 * floor, 3.0 * floor):
        direction = torch.randn(3, 4, 5, generator=g, dtype=torch.float64)
        gradient = size * direction / torch.linalg.norm(direction)
        grad_term = merged - gradient  # the step direction is M - G
        expected = merged - 2 * lr * max(size, floor) * gradient / size
        got = capped_step(merged, grad_term, normalized)
        torch.testing.assert_close(got, expected / torch.linalg.norm(expected), atol=1e-14,
                                   rtol=0)
        assert torch.allclose(got, capped_step(merged, grad_term, plain),
                              atol=1e-14) == (size > floor)


def test_normalized_steps_learn_bars_and_stripes():
    data = bars_and_stripes(4, 4)
    model = MPSBornMachine(16, seed=0)
    history = model.fit(data, sweeps=10, lr=1e-3, max_step=None, normalized_steps=True,
                        progress=False)
    assert history[-1]["train_nll"] <= math.log(30) + 1e-3
    with pytest.raises(TypeError, match="normalized_steps"):
        model.fit(data, sweeps=1, normalized_steps=1, progress=False)


@pytest.mark.parametrize("dtype", REAL_AND_COMPLEX)
def test_svd_falls_back_when_lapack_fails(dtype, monkeypatch):
    """When torch's SVD raises LinAlgError (gesdd not converging), scipy's gesvd answers:
    the same singular values, an exact reconstruction, the input's dtype."""
    import tnborn.linalg

    matrix = torch.randn(12, 9, generator=torch.Generator().manual_seed(0), dtype=dtype)
    expected = torch.linalg.svdvals(matrix)

    def failing(*args, **kwargs):
        raise torch.linalg.LinAlgError("linalg.svd: The algorithm failed to converge")

    monkeypatch.setattr(torch.linalg, "svd", failing)
    u, s, vh = tnborn.linalg.truncated_svd(matrix, max_bond=9, cutoff=0.0)
    short = tnborn.linalg.truncated_svd(matrix, max_bond=4, cutoff=0.0)
    monkeypatch.undo()
    assert u.dtype == dtype and vh.dtype == dtype
    torch.testing.assert_close(s, expected, atol=1e-12, rtol=0)
    torch.testing.assert_close((u * s.to(dtype)) @ vh, matrix, atol=1e-12, rtol=0)
    assert [t.shape for t in short] == [(12, 4), (4,), (4, 9)]


# ----------------------------------------------------------------------- learning
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_bars_and_stripes_is_learned(seed):
    data = bars_and_stripes(4, 4)
    model = MPSBornMachine(16, seed=seed)
    history = model.fit(data, sweeps=10, progress=False)
    assert len(history) == 10
    assert history[-1]["train_nll"] <= math.log(30) + 1e-3
    assert history[-1]["train_nll"] == pytest.approx(model.nll(data), abs=1e-10)
    samples = model.sample(2000, generator=torch.Generator().manual_seed(seed))
    patterns = {tuple(p) for p in data.tolist()}
    assert all(tuple(s) in patterns for s in samples.tolist())


def test_complex_mps_learns_bars_and_stripes():
    data = bars_and_stripes(3, 3)
    model = MPSBornMachine(9, dtype=torch.complex128, seed=0)
    history = model.fit(data, sweeps=6, progress=False)
    assert history[-1]["train_nll"] <= math.log(len(data)) + 1e-3
    logp = model.log_prob(all_configurations(9, 2)).detach()
    assert abs(float(torch.logsumexp(logp, 0))) < 1e-10


def test_fit_records_test_nll_and_respects_max_bond():
    data = bars_and_stripes(4, 4)
    model = MPSBornMachine(16, max_bond=5, seed=0)
    history = model.fit(data[:20], sweeps=3, test_data=data[20:], progress=False)
    assert all(set(h) >= {"step", "train_nll", "test_nll", "seconds", "max_bond"}
               for h in history)
    assert max(model.bond_dims) <= 5
    assert history[-1]["test_nll"] == pytest.approx(model.nll(data[20:]), abs=1e-10)
    assert [h["step"] for h in history] == [1, 2, 3]


def test_max_bond_can_be_lowered_between_fits():
    """Annealing the bond dimension: a lower max_bond truncates every bond in one sweep,
    and the state stays normalized."""
    data = bars_and_stripes(4, 4)
    model = MPSBornMachine(16, max_bond=8, seed=0)
    model.fit(data, sweeps=3, progress=False)
    assert max(model.bond_dims) == 8
    model.max_bond = 3
    history = model.fit(data, sweeps=1, progress=False)
    assert max(model.bond_dims) == 3 and history[-1]["max_bond"] == 3
    log_p = model.log_prob(all_configurations(16, 2)).detach()
    assert float(torch.logsumexp(log_p, 0)) == pytest.approx(0.0, abs=1e-10)
    assert history[-1]["train_nll"] == pytest.approx(model.nll(data), abs=1e-10)
    for bad, error in [(0, ValueError), (2.5, TypeError)]:
        model.max_bond = bad
        with pytest.raises(error, match="max_bond"):
            model.fit(data, sweeps=1, progress=False)
    model.max_bond, model.cutoff = 3, 1.5
    with pytest.raises(ValueError, match="cutoff"):
        model.fit(data, sweeps=1, progress=False)


def test_cutoff_shrinks_bonds_for_a_product_distribution():
    """The uniform distribution is a product state: bonds grow at first, then collapse to 1."""
    data = all_configurations(10, 2)
    model = MPSBornMachine(10, init_bond=4, cutoff=1e-3, seed=0)
    history = model.fit(data, sweeps=8, lr=0.1, progress=False)
    assert model.bond_dims == [1] * 9
    assert history[-1]["train_nll"] == pytest.approx(10 * math.log(2), abs=1e-9)


def test_minibatch_mnist_784_sites_finite():
    train = mnist(limit=120, seed=1)
    model = MPSBornMachine(784, max_bond=6, seed=0)
    history = model.fit(train, sweeps=2, batch_size=40, progress=False,
                        generator=torch.Generator().manual_seed(0))
    assert all(math.isfinite(h["train_nll"]) for h in history)
    assert history[-1]["train_nll"] < history[0]["train_nll"] < 784 * math.log(2)
    assert torch.isfinite(model.log_prob(train)).all()


def test_minibatch_is_reproducible_with_generator():
    data = bars_and_stripes(3, 3)
    runs = []
    for _ in range(2):
        model = MPSBornMachine(9, seed=0)
        model.fit(data, sweeps=2, batch_size=4, progress=False,
                  generator=torch.Generator().manual_seed(7))
        runs.append(model.log_prob(data))
    torch.testing.assert_close(runs[0], runs[1], atol=0, rtol=0)


# ----------------------------------------------------------------------- sampling
@pytest.mark.parametrize("n, d, dtype", [(10, 2, torch.float64), (9, 2, torch.complex128),
                                         (7, 3, torch.float64)])
def test_zipper_samples_are_exact(n, d, dtype):
    model = MPSBornMachine.from_tensors(random_tensors(n, d, 4, dtype=dtype, seed=n))
    model.canonicalize_(n // 2)  # sampling must work from any centre
    probs = model.log_prob(all_configurations(n, d)).detach().exp().numpy()
    samples = model.sample(200_000, generator=torch.Generator().manual_seed(11))
    counts = np.bincount(codes(samples, d).numpy(), minlength=d ** n)
    assert chi_square_pvalue(counts, probs) > 1e-3


def test_sampling_is_reproducible_with_generator():
    model = MPSBornMachine(12, init_bond=4, seed=0)
    a = model.sample(50, generator=torch.Generator().manual_seed(3))
    b = model.sample(50, generator=torch.Generator().manual_seed(3))
    c = model.sample(50, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.dtype == torch.long and a.shape == (50, 12)


MASKS = {
    "prefix": [1, 1, 1, 0, 0, 0, 0, 0],
    "suffix": [0, 0, 0, 0, 0, 1, 1, 1],
    "scattered": [0, 1, 0, 0, 1, 0, 1, 0],
    "ends": [1, 0, 0, 0, 0, 0, 0, 1],
    "none": [0] * 8,
}


@pytest.mark.parametrize("mask_name", sorted(MASKS))
@pytest.mark.parametrize("dtype", REAL_AND_COMPLEX)
def test_conditional_sample_is_exact(mask_name, dtype):
    n, d = 8, 2
    model = MPSBornMachine.from_tensors(random_tensors(n, d, 3, dtype=dtype, seed=21))
    known = torch.tensor(MASKS[mask_name], dtype=torch.bool)
    given = torch.tensor([1, 0, 1, 1, 0, 1, 0, 1])
    assert_conditional_samples_exact(model, given, known, 200_000, seed=5)


def test_conditional_sample_with_per_row_masks():
    """Rows with different masks are each sampled from their own conditional."""
    n, d = 6, 3
    model = MPSBornMachine.from_tensors(random_tensors(n, d, 3, seed=8))
    given = torch.tensor([[2, 0, 1, 1, 0, 2], [0, 1, 2, 2, 1, 0]])
    masks = torch.tensor([[0, 0, 1, 0, 1, 0], [1, 0, 0, 0, 0, 1]], dtype=torch.bool)
    assert_conditional_samples_exact(model, given, masks, 100_000, seed=2)


def ghz_tensors(n):
    """(|0...0> + |1...1>) / sqrt(2) as site tensors."""
    first = torch.zeros(1, 2, 2, dtype=torch.float64)
    first[0, 0, 0] = first[0, 1, 1] = 1
    middle = torch.zeros(2, 2, 2, dtype=torch.float64)
    middle[0, 0, 0] = middle[1, 1, 1] = 1
    last = torch.zeros(2, 2, 1, dtype=torch.float64)
    last[0, 0, 0] = last[1, 1, 0] = 1
    return [first] + [middle.clone() for _ in range(n - 2)] + [last]


def test_conditional_sample_rejects_impossible_evidence():
    model = MPSBornMachine.from_tensors(ghz_tensors(6))
    x = torch.tensor([[0, 0, 0, 0, 0, 1], [1, 0, 0, 0, 0, 1]])
    known = torch.tensor([True, False, False, False, False, True])
    with pytest.raises(ValueError, match=r"rows \[0\] have probability zero"):
        model.conditional_sample(x, known)
    out = model.conditional_sample(x[1:], known)
    assert out.tolist() == [[1] * 6]


# ------------------------------------------------------------ entanglement, quimb
@pytest.mark.parametrize("dtype", REAL_AND_COMPLEX)
def test_entanglement_matches_quimb(dtype):
    model = MPSBornMachine.from_tensors(random_tensors(10, 2, 6, dtype=dtype, seed=2))
    ours = model.entanglement_entropy()
    qmps = model.to_quimb()
    theirs = [qmps.entropy(k + 1) * math.log(2) for k in range(9)]
    np.testing.assert_allclose(ours.numpy(), theirs, atol=1e-10, rtol=0)


@pytest.mark.parametrize("alpha", [0.5, 2.0, 3.0, float("inf")])
def test_renyi_entropy_matches_dense_svd(alpha):
    n, d = 8, 3
    tensors = random_tensors(n, d, 5, seed=6)
    psi = dense_state(tensors)
    psi = psi / np.linalg.norm(psi)
    model = MPSBornMachine.from_tensors(tensors)
    ours = model.entanglement_entropy(alpha).numpy()
    spectra = model.bond_spectra()
    assert ours.shape == (n - 1,) and len(spectra) == len(model.bonds) == n - 1
    for k in range(n - 1):
        s = np.linalg.svd(psi.reshape(d ** (k + 1), -1), compute_uv=False)
        kept = spectra[k].numel()
        assert kept <= model.bond_dims[k]
        np.testing.assert_allclose(spectra[k].numpy(), s[:kept], rtol=0, atol=1e-10)
        assert np.all(s[kept:] < 1e-10)
        lam = s ** 2
        if alpha == float("inf"):
            expected = -np.log(lam.max())
        else:
            expected = np.log(np.sum(lam ** alpha)) / (1 - alpha)
        assert ours[k] == pytest.approx(expected, abs=1e-10)


def test_entanglement_of_known_states():
    # product state: zero everywhere; GHZ state: ln 2 at every bond
    product = [torch.rand(1, 2, 1, dtype=torch.float64) + 0.1 for _ in range(6)]
    assert torch.allclose(MPSBornMachine.from_tensors(product).entanglement_entropy(),
                          torch.zeros(5, dtype=torch.float64), atol=1e-12)
    model = MPSBornMachine.from_tensors(ghz_tensors(6))
    np.testing.assert_allclose(model.entanglement_entropy().numpy(), math.log(2), atol=1e-12)
    assert model.log_prob(torch.tensor([[1] * 6, [0] * 6])).exp().tolist() == \
        pytest.approx([0.5, 0.5], abs=1e-14)


@pytest.mark.parametrize("dtype", REAL_AND_COMPLEX)
def test_quimb_round_trip(dtype):
    model = MPSBornMachine.from_tensors(random_tensors(8, 3, 4, dtype=dtype, seed=9))
    x = all_configurations(8, 3)
    qmps = model.to_quimb()
    dense = np.asarray(qmps.to_dense()).reshape(-1)
    np.testing.assert_allclose(np.log(np.abs(dense) ** 2), model.log_prob(x).detach().numpy(),
                               atol=1e-10, rtol=0)
    back = MPSBornMachine.from_quimb(qmps)
    torch.testing.assert_close(back.log_prob(x), model.log_prob(x), atol=1e-10, rtol=0)


def test_from_quimb_reads_any_leg_order():
    qmps = qtn.MPS_rand_state(7, 3, phys_dim=3, seed=1, dtype="float64")
    qmps.permute_arrays("prl")
    model = MPSBornMachine.from_quimb(qmps)
    dense = np.asarray(qmps.to_dense()).reshape(-1)
    p = np.abs(dense) ** 2 / np.sum(np.abs(dense) ** 2)
    np.testing.assert_allclose(model.log_prob(all_configurations(7, 3)).detach().numpy(),
                               np.log(p),
                               atol=1e-10, rtol=0)


# --------------------------------------------------------------------- save/load
def test_save_load_round_trip(tmp_path):
    model = MPSBornMachine(9, 3, init_bond=4, dtype=torch.complex128, seed=0, max_bond=17)
    model.canonicalize_(4)
    path = tmp_path / "mps.pt"
    model.save(path)
    x = all_configurations(9, 3)[::7]
    for loaded in (tnborn.load(path), MPSBornMachine.load(path)):
        assert isinstance(loaded, MPSBornMachine)
        assert loaded.max_bond == 17 and loaded.center == 4 and loaded.dtype == torch.complex128
        torch.testing.assert_close(loaded.log_prob(x), model.log_prob(x), atol=1e-12, rtol=0)
    assert [p.name for p in tmp_path.iterdir()] == ["mps.pt"]


def test_version_1_files_still_load(tmp_path):
    """A file as tnborn 0.1 wrote it (tensors as a list, the centre and a "torch.*" dtype
    in the config) loads to the same distribution."""
    tensors = random_tensors(7, 3, 4, dtype=torch.complex128, seed=12)
    psi = dense_state(tensors)
    expected = np.log(np.abs(psi) ** 2 / np.sum(np.abs(psi) ** 2))
    payload = {"format": "tnborn-model", "version": 1, "class": "MPSBornMachine",
               "config": {"n_sites": 7, "local_dim": 3, "max_bond": 17, "cutoff": 0.0,
                          "dtype": "torch.complex128", "center": 4},
               "state": {"tensors": tensors}}
    path = tmp_path / "old.pt"
    torch.save(payload, path)
    loaded = tnborn.load(path)
    assert isinstance(loaded, MPSBornMachine) and loaded.dtype == torch.complex128
    assert loaded.center == 4 and loaded.max_bond == 17 and loaded.bond_dims == [3, 4, 4, 4, 4, 3]
    np.testing.assert_allclose(loaded.log_prob(all_configurations(7, 3)).detach().numpy(),
                               expected, rtol=0, atol=1e-10)


def test_failed_save_leaves_nothing(tmp_path, monkeypatch):
    model = MPSBornMachine(5, seed=0)
    path = tmp_path / "model.pt"
    model.save(path)
    original = path.read_bytes()

    def broken_save(obj, handle):
        handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        MPSBornMachine(5, seed=1).save(path)
    assert path.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]
    with pytest.raises(ValueError, match="does not exist"):
        model.save(tmp_path / "missing_dir" / "m.pt")


def test_corrupt_and_foreign_files_are_rejected(tmp_path):
    model = MPSBornMachine(5, seed=0)
    good = tmp_path / "good.pt"
    model.save(good)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:100])
    text = tmp_path / "text.pt"
    text.write_text("not a model")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    for bad in (truncated, text, foreign):
        with pytest.raises(ValueError):
            tnborn.load(bad)
    broken_state = tmp_path / "broken.pt"
    payload = torch.load(good, weights_only=True)
    payload["state"]["tensors.2"] = torch.zeros(3, 2, 2, dtype=torch.float64)
    torch.save(payload, broken_state)
    with pytest.raises(ValueError, match="bond 1"):
        tnborn.load(broken_state)
    nan_state = tmp_path / "nan.pt"
    payload = torch.load(good, weights_only=True)
    payload["state"]["tensors.1"] = payload["state"]["tensors.1"] * float("nan")
    torch.save(payload, nan_state)
    with pytest.raises(ValueError, match="non-finite"):
        tnborn.load(nan_state)
    bad_centre = tmp_path / "centre.pt"
    payload = torch.load(good, weights_only=True)
    payload["state"]["_extra_state"] = {"center": 5}
    torch.save(payload, bad_centre)
    with pytest.raises(ValueError, match="centre 5 is outside 0..4"):
        tnborn.load(bad_centre)
    with pytest.raises(FileNotFoundError):
        tnborn.load(tmp_path / "absent.pt")


def test_load_rejects_mismatched_bonds(tmp_path):
    good = tmp_path / "good.pt"
    MPSBornMachine(5, seed=0).save(good)
    payload = torch.load(good, weights_only=True)
    payload["state"]["tensors.2"] = torch.zeros(3, 2, 2, dtype=torch.float64)
    broken = tmp_path / "broken.pt"
    torch.save(payload, broken)
    with pytest.raises(ValueError, match="bond"):
        tnborn.load(broken)


# ------------------------------------------------------------------- bad input
@pytest.mark.parametrize("bad, message", [
    (torch.tensor([[0, 1, 2, 0]]), "outside 0..1"),
    (torch.tensor([[0, 1, -1, 0]]), "outside 0..1"),
    (torch.tensor([[0, 1, 0]]), "4 sites"),
    (torch.tensor([[0.0, 1.0, 0.5, 0.0]]), "non-integer"),
    (torch.tensor([[0.0, float("nan"), 1.0, 0.0]]), "NaN"),
    (torch.zeros(0, 4, dtype=torch.long), "empty"),
    (torch.tensor(1), "scalar"),
])
def test_bad_configurations_raise(bad, message):
    model = MPSBornMachine(4, seed=0)
    with pytest.raises(ValueError, match=message):
        model.log_prob(bad)
    with pytest.raises(ValueError, match=message):
        model.fit(bad, sweeps=1, progress=False)


def test_bad_arguments_raise():
    model = MPSBornMachine(4, seed=0)
    data = torch.zeros(3, 4, dtype=torch.long)
    with pytest.raises(ValueError, match="lr"):
        model.fit(data, lr=-1, progress=False)
    with pytest.raises(ValueError, match="sweeps"):
        model.fit(data, sweeps=0, progress=False)
    with pytest.raises(ValueError, match="test_data"):
        model.fit(data, sweeps=1, test_data=torch.full((2, 4), 3), progress=False)
    with pytest.raises(ValueError, match="num"):
        model.sample(0)
    with pytest.raises(TypeError, match="generator"):
        model.sample(3, generator=123)
    with pytest.raises(ValueError, match="known"):
        model.conditional_sample(data, torch.ones(3, 3, dtype=torch.bool))
    with pytest.raises(TypeError, match="bool"):
        model.conditional_sample(data, torch.ones(3, 4))
    with pytest.raises(ValueError, match="center"):
        model.canonicalize_(4)
    with pytest.raises(ValueError, match="alpha"):
        model.entanglement_entropy(alpha=0)
    with pytest.raises(ValueError, match="n_sites"):
        MPSBornMachine(1)
    with pytest.raises(ValueError, match="cutoff"):
        MPSBornMachine(4, cutoff=2.0)
    with pytest.raises(ValueError, match="dtype"):
        MPSBornMachine(4, dtype=torch.int64)


def test_from_tensors_validates():
    good = random_tensors(4, 2, 3)
    with pytest.raises(ValueError, match="bond 1"):
        MPSBornMachine.from_tensors([good[0], good[1], torch.rand(2, 2, 3, dtype=torch.float64),
                                     good[3]])
    with pytest.raises(ValueError, match="outer bonds"):
        MPSBornMachine.from_tensors([torch.rand(2, 2, 3, dtype=torch.float64)] + good[1:])
    with pytest.raises(ValueError, match="non-finite"):
        MPSBornMachine.from_tensors([good[0] * float("inf")] + good[1:])
    with pytest.raises(ValueError, match="shape"):
        MPSBornMachine.from_tensors([torch.rand(2, 2)] + good[1:])
    with pytest.raises(ValueError, match="norm is zero"):
        MPSBornMachine.from_tensors([torch.zeros_like(t) for t in good])


# ------------------------------------------------------------ fit(method="gradient")
def test_gradient_fit_learns_bars_and_stripes_at_bond_16():
    """Adam on all tensors at D = 16 (built at init_bond=16: the gradient method keeps
    the bonds). Full batch, lr 0.02: train NLL <= ln 30 + 0.05 first at sweep 178 (seed
    0) and 165 (seed 1); 250 sweeps take about 5 s of training on one thread."""
    data = bars_and_stripes(4, 4)
    model = MPSBornMachine(16, max_bond=16, init_bond=16, seed=0)
    dims = model.bond_dims
    assert dims == [2, 4, 8] + [16] * 9 + [8, 4, 2]
    start = time.perf_counter()
    history = model.fit(data, method="gradient", sweeps=250, progress=False)
    elapsed = time.perf_counter() - start
    assert len(history) == 250 and history[-1]["step"] == 250
    assert 0 < history[-1]["seconds"] <= elapsed
    target = math.log(30) + 0.05
    assert history[0]["train_nll"] > target
    assert history[-1]["train_nll"] <= target
    assert history[-1]["train_nll"] == pytest.approx(model.nll(data), abs=1e-10)
    assert model.bond_dims == dims and model._is_canonical() and model.center == 0
    log_p = model.log_prob(all_configurations(16, 2)).detach()
    assert abs(float(torch.logsumexp(log_p, 0))) < 1e-10
    # most of the probability sits on the 30 patterns
    assert float(log_p[codes(data, 2)].exp().sum()) > 0.95


def test_middle_cut_of_bars_and_stripes_needs_bond_15():
    """Why max_bond 8 cannot reach ln 30 in row-major order: NLL = ln 30 needs p uniform
    on exactly the 30 patterns, and every state supported on exactly them has Schmidt
    rank >= 15 across the middle bond (upper two rows | lower two rows)."""
    data = bars_and_stripes(4, 4)
    assert data.shape == (30, 16) and torch.unique(data, dim=0).shape[0] == 30
    assert MPSBornMachine(16, seed=0).bonds[7].sites == tuple(range(8))  # the middle cut
    upper = [tuple(row) for row in data[:, :8].tolist()]
    lower = [tuple(row) for row in data[:, 8:].tolist()]
    rows, cols = sorted(set(upper)), sorted(set(lower))
    # 16 bar halves (column pattern c, twice) and 2 stripe halves with unequal rows
    assert len(rows) == len(cols) == 18
    amplitudes = np.zeros((18, 18))
    for u, v in zip(upper, lower):
        amplitudes[rows.index(u), cols.index(v)] = 1 / math.sqrt(30)
    assert np.count_nonzero(amplitudes) == 30
    assert np.sum(amplitudes ** 2) == pytest.approx(1.0, abs=1e-14)
    assert np.linalg.matrix_rank(amplitudes) == 15
    schmidt = np.linalg.svd(amplitudes, compute_uv=False)
    assert np.sum(schmidt > 1e-12) == 15
    # Schmidt values: 14 bars at 1/sqrt(30), and the 4x4 stripe block's one at 4/sqrt(30)
    np.testing.assert_allclose(schmidt[:15], [4 / math.sqrt(30)] + [1 / math.sqrt(30)] * 14,
                               rtol=0, atol=1e-12)

    # the support is block diagonal: connected components of the bipartite support graph
    support = amplitudes != 0
    blocks, seen = [], set()
    for start in range(18):
        if start in seen:
            continue
        block_rows, block_cols, todo = {start}, set(), [("r", start)]
        while todo:
            side, i = todo.pop()
            if side == "r":
                new = set(np.nonzero(support[i])[0]) - block_cols
                block_cols |= new
                todo += [("c", j) for j in new]
            else:
                new = set(np.nonzero(support[:, i])[0]) - block_rows
                block_rows |= new
                todo += [("r", j) for j in new]
        seen |= block_rows
        blocks.append((sorted(block_rows), sorted(block_cols)))
    shapes = sorted((len(r), len(c)) for r, c in blocks)
    assert shapes == [(1, 1)] * 14 + [(4, 4)]
    big_rows, big_cols = next(b for b in blocks if len(b[0]) == 4)
    assert support[np.ix_(big_rows, big_cols)].all()  # the stripe block is full
    # rank of a block-diagonal matrix = sum of its blocks' ranks, each >= 1 when nonzero
    # (15 blocks); any amplitudes on this support reach at least that, and a rank-1
    # stripe block exactly that
    rng = np.random.default_rng(0)
    for _ in range(20):
        other = np.where(support, rng.normal(size=support.shape), 0.0)
        other[support & (other == 0)] = 1.0
        assert np.linalg.matrix_rank(other) >= 15
    lowest = np.where(support, 1.0, 0.0)
    lowest[np.ix_(big_rows, big_cols)] = np.outer(rng.uniform(1, 2, 4), rng.uniform(1, 2, 4))
    assert np.linalg.matrix_rank(lowest) == 15


def test_no_site_order_lets_bond_8_hold_bars_and_stripes():
    """At every balanced cut (8 sites | 8 sites, all 12,870 of them) the 30 patterns'
    amplitude matrix, whatever the amplitudes, splits into at least 14 blocks that share
    no row or column (connected components of its support), so its rank is >= 14: an
    MPS in any site order needs bond >= 14 in the middle to hold the distribution."""
    patterns = bars_and_stripes(4, 4).tolist()
    fewest = 30
    for part in itertools.combinations(range(16), 8):
        inside = set(part)
        parent: dict = {}

        def find(node):
            while parent.setdefault(node, node) != node:
                parent[node] = parent[parent[node]]
                node = parent[node]
            return node

        for p in patterns:
            a = ("A",) + tuple(p[i] for i in part)
            b = ("B",) + tuple(p[i] for i in range(16) if i not in inside)
            parent[find(a)] = find(b)
        fewest = min(fewest, len({find(node) for node in list(parent)}))
    assert fewest == 14

# ----------------------------------------------------------------------- seeding
def test_seeded_minibatch_fits_are_identical():
    """Minibatch order comes from the model's own stream: two models built with the same
    seed train to bitwise-identical tensors with identical histories."""
    data = bars_and_stripes(4, 4)
    runs = []
    for seed in (3, 3, 4):
        model = MPSBornMachine(16, seed=seed)
        history = model.fit(data, sweeps=2, batch_size=5, progress=False)
        runs.append((model, [h["train_nll"] for h in history]))
    (a, nll_a), (b, nll_b), (c, nll_c) = runs
    assert nll_a == nll_b and nll_a != nll_c
    assert a.bond_dims == b.bond_dims and a.center == b.center
    for s, t in zip(a.tensors, b.tensors):
        assert s.dtype == t.dtype and s.shape == t.shape
        assert s.detach().contiguous().numpy().tobytes() == \
            t.detach().contiguous().numpy().tobytes()


# ------------------------------------------------------------------ step control
@pytest.mark.parametrize("network", ["mps", "ttn"])
def test_line_search_never_raises_the_nll_without_truncation(network):
    """Bars and stripes 3x3 at full bond dimension (no truncation): each line-searched
    update lowers the exact local NLL, so the train NLL falls every sweep."""
    from tnborn import TTNBornMachine

    data = bars_and_stripes(3, 3)
    model = (MPSBornMachine(9, max_bond=16, seed=0) if network == "mps"
             else TTNBornMachine(9, max_bond=16, seed=0))
    history = model.fit(data, sweeps=6, lr="line_search", progress=False)
    nll = [h["train_nll"] for h in history]
    assert all(b <= a + 1e-9 for a, b in zip(nll, nll[1:])), nll
    assert nll[-1] < math.log(14) + 0.05  # the entropy of the 14 patterns


@pytest.mark.parametrize("network", ["mps", "ttn"])
def test_default_sweeps_never_raise_the_nll_through_truncation(network):
    """Bars and stripes 4x4 at max_bond 8 (the patterns need 15): a line-searched step
    whose truncated split would raise the local NLL is dropped, so the train NLL never
    rises (before that rule the 2D tree rose by up to 0.033 per sweep)."""
    from tnborn import TTNBornMachine

    model = (MPSBornMachine(16, max_bond=8, seed=0) if network == "mps"
             else TTNBornMachine(16, max_bond=8, layout=(4, 4), seed=0))
    nll = [h["train_nll"] for h in model.fit(bars_and_stripes(4, 4), sweeps=8,
                                             progress=False)]
    assert all(b <= a + 1e-12 for a, b in zip(nll, nll[1:])), nll
    assert nll[-1] < nll[0] - 0.02


@pytest.mark.parametrize("network", ["mps", "ttn"])
def test_deferred_truncation_checks_equal_immediate_ones(network, monkeypatch):
    """A full-batch line-searched update leaves the check of its truncated split to the
    next update, whose phi(0) minus twice the environments' log-scale is the NLL of the
    network (here compared with the exact NLL at every check, through the MPS's
    renormalized sites 0 and 8 and the tree's vectors, each renormalized); the sweeps
    equal a learner's that checks every split at once (the minibatch path, given every
    row), splits undone included."""
    from tnborn import TTNBornMachine
    from tnborn.local_steps import PendingSplit
    from tnborn.sweeps import update_options
    from tnborn.ttn.two_node import TwoNodeLearner

    data = bars_and_stripes(4, 4)
    unique, counts = torch.unique(data, dim=0, return_counts=True)
    weights = counts.double() / counts.sum()
    options = update_options(lr="line_search", max_step=0.5, steps_per_bond=1, max_bond=8,
                             cutoff=0.0)
    if network == "mps":
        model = MPSBornMachine(16, max_bond=8, seed=0)
        model.canonicalize_(0)
        schedule = [(k, True) for k in range(15)] + [(k, False) for k in range(14, -1, -1)]

        def learner():
            return TwoSiteLearner([t.detach().clone() for t in model.tensors], unique, options)
    else:
        model = TTNBornMachine(16, max_bond=8, layout=(4, 4), seed=0)
        model.canonicalize_(model.tree.root)
        schedule = model.tree.sweep

        def learner():
            return TwoNodeLearner(model.tree, [t.detach().clone() for t in model.tensors],
                                  unique, options, 2)
    deferred, immediate = learner(), learner()
    outcomes = []
    fails = PendingSplit.fails

    def checked_fails(self, nll_now):
        log_abs = model._log_abs_amplitudes(deferred.tensors, unique)
        exact = -2 * float((weights * log_abs).sum())
        assert abs(nll_now - exact) < 1e-12 * abs(exact), (nll_now, exact)
        outcomes.append(fails(self, nll_now))
        return outcomes[-1]

    monkeypatch.setattr(PendingSplit, "fails", checked_fails)
    every_row = torch.arange(unique.shape[0])
    for _ in range(8):
        for step in schedule:
            deferred.update(*step, None, weights)
            immediate.update(*step, every_row, weights)
        deferred.settle()
    assert len(outcomes) > 50 and 0 < sum(outcomes) < len(outcomes), outcomes
    for s, t in zip(deferred.tensors, immediate.tensors):
        assert s.shape == t.shape
        torch.testing.assert_close(s, t, rtol=0, atol=1e-12)


def test_a_deferred_check_is_made_at_once_when_the_next_update_takes_no_step():
    """At a fixed point (H = M exactly) the line search tries no step and gives no NLL, so
    the pending split is checked from its own problem: undone and the update redone when
    it raised the NLL, kept otherwise (the NLL the next update would report, 0 here,
    would keep it in both cases)."""
    from tnborn.local_steps import DeferredChecks, MatrixProblem, PendingSplit
    from tnborn.sweeps import update_options

    options = update_options(lr="line_search", max_step=0.5, steps_per_bond=1, max_bond=2,
                             cutoff=0.0)
    e0 = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    problem = MatrixProblem(e0, e0, torch.ones(1, dtype=torch.float64))
    merged = e0.T @ e0  # psi = 1 and G = M: the fixed point, whose phi is 0
    eye = torch.eye(2, dtype=torch.float64)
    pending_split = torch.diag(torch.tensor([0.1, 1.0], dtype=torch.float64))  # phi 4.62
    for before, undone in ((1.0, True), (10.0, False)):
        events = []
        checks = DeferredChecks(options)
        checks.pending = PendingSplit(before, 0.0, problem, (pending_split, eye), (2, 2),
                                      lambda: events.append("undo"), lambda f: f[0] @ f[1])
        checks.update(merged, problem, None, problem.weights, [], lambda m: (m, eye),
                      lambda factors: events.append("commit"),
                      lambda: events.append("redo"))
        assert events == (["undo", "redo"] if undone else ["commit"])
        assert checks.pending is None


@pytest.mark.parametrize("network", ["mps", "ttn"])
def test_tol_ends_the_sweeps_at_the_first_small_gain(network):
    from tnborn import TTNBornMachine

    data = bars_and_stripes(3, 3)
    model = (MPSBornMachine(9, max_bond=4, seed=0) if network == "mps"
             else TTNBornMachine(9, max_bond=4, seed=0))
    history = model.fit(data, sweeps=200, tol=1e-4, progress=False)
    gains = [a["train_nll"] - b["train_nll"] for a, b in zip(history, history[1:])]
    assert 2 <= len(history) < 200 and history[-1]["stopped_by"] == "converged"
    assert gains[-1] < 1e-4 and all(g >= 1e-4 for g in gains[:-1]), gains
    assert "stopped_by" not in history[-2]
    with pytest.raises(ValueError, match="tol"):
        model.fit(data, sweeps=2, tol=0.0, progress=False)
    with pytest.raises(ValueError, match="tol"):
        model.fit(data, method="gradient", sweeps=2, tol=1e-3, progress=False)


def test_line_search_takes_the_shortest_of_near_ties():
    """Sums that differ by rounding alone (one process against several ranks) pick the
    same step; a flat line keeps t = 0."""
    from tnborn.local_steps import _shortest_best

    assert _shortest_best([3.0, 2.0, 1.0 + 1e-12, 1.0, 1.5]) == 2
    assert _shortest_best([3.0, 2.0, 1.0 + 1e-6, 1.0, 1.5]) == 3
    assert _shortest_best([5.0, 5.0 - 1e-11, 5.0 - 2e-11]) == 0


def test_pair_kernels_match_einsum():
    from tnborn.mps.pair_problems import DensePairProblem, GroupedPairProblem

    g = torch.Generator().manual_seed(0)
    left, right = (torch.randn(50, k, generator=g, dtype=torch.float64) for k in (3, 4))
    weights = torch.rand(50, generator=g, dtype=torch.float64)
    pairs = torch.randint(0, 4, (50,), generator=g)
    merged = torch.randn(3, 4, 4, generator=g, dtype=torch.float64)
    expected = torch.einsum("bi,bij,bj->b", left, merged[:, pairs, :].permute(1, 0, 2), right)
    grad = torch.einsum("b,bi,bp,bj->ipj", weights / expected, left,
                        torch.nn.functional.one_hot(pairs, 4).double(), right)
    order = torch.argsort(pairs, stable=True)
    grouped = GroupedPairProblem(left[order], right[order], weights[order],
                                 torch.bincount(pairs, minlength=4).tolist())
    torch.testing.assert_close(grouped.amplitudes(merged), expected[order], rtol=0, atol=1e-13)
    torch.testing.assert_close(grouped.grad_term(expected[order]), grad, rtol=0, atol=1e-12)
    dense = DensePairProblem(left, right, weights, pairs, 4)
    torch.testing.assert_close(dense.amplitudes(merged), expected, rtol=0, atol=1e-13)
    torch.testing.assert_close(dense.grad_term(expected), grad, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
@pytest.mark.parametrize("shape", [(20, 20), (8, 20), (20, 8)])
@pytest.mark.parametrize("isometry", ["left", "right"])
def test_truncated_factors_match_the_truncated_svd(dtype, shape, isometry):
    from tnborn.linalg import truncated_factors, truncated_svd

    g = torch.Generator().manual_seed(1)
    m, n = shape
    k = min(m, n)
    u = torch.linalg.qr(torch.randn(m, m, generator=g, dtype=torch.float64))[0][:, :k]
    v = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))[0][:, :k]
    matrix = ((u * torch.logspace(0, -10, k, dtype=torch.float64)) @ v.T).to(dtype)
    left, right, s = truncated_factors(matrix, k // 2, 0.0, isometry)
    uu, ss, vh = truncated_svd(matrix, k // 2, 0.0)
    assert float((left @ right - (uu * ss) @ vh).abs().max()) < 1e-11
    iso = left if isometry == "left" else right.mH
    eye = torch.eye(iso.shape[1], dtype=dtype)
    assert float((iso.mH @ iso - eye).abs().max()) < 1e-14
    torch.testing.assert_close(s, ss, rtol=1e-7, atol=0)
