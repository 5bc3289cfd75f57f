"""TTN Born machine: normalization, dense references, canonical form, learning, sampling,
entanglement, save/load and argument checks."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

import tnborn
from tnborn import Bond
from tnborn.datasets import bars_and_stripes, mnist
from tnborn.sweeps import UpdateOptions
from tnborn.ttn import TTNBornMachine
from tnborn.ttn.contraction import log_norm
from tnborn.ttn.two_node import TwoNodeLearner

from .helpers import (all_configurations, assert_conditional_samples_exact, chi_square_pvalue,
                      codes)
from .helpers import dense_state as mps_dense_state

REAL_AND_COMPLEX = [torch.float64, torch.complex128]
TREE7 = ((0, (1, 2)), ((3, 4), (5, 6)))


# ------------------------------------------------------------ independent references
def post_order(structure):
    """The internal nodes of nested pairs in post-order, each as (first, second)."""
    nodes = []

    def visit(node):
        if isinstance(node, int):
            return
        visit(node[0])
        visit(node[1])
        nodes.append(node)

    visit(structure)
    return nodes


def site_list(node):
    return [node] if isinstance(node, int) else site_list(node[0]) + site_list(node[1])


def dense_state(structure, tensors, local_dim):
    """psi over all configurations (lexicographic order), contracting the node tensors
    (post-order of ``structure``, legs (child, child, parent)) with torch.einsum."""
    remaining = iter(tensors)

    def build(node):
        if isinstance(node, int):
            return torch.eye(local_dim, dtype=tensors[0].dtype)
        a, b = build(node[0]), build(node[1])
        t = next(remaining)
        return torch.einsum("ai,bj,ijp->abp", a, b, t).reshape(-1, t.shape[2])

    psi = build(structure)
    order = site_list(structure)
    n = len(order)
    psi = psi.reshape([local_dim] * n).permute([order.index(k) for k in range(n)])
    return psi.reshape(-1)


def random_tensors(structure, local_dim, bond, *, dtype=torch.float64, seed=0):
    """Gaussian node tensors (not canonical, not normalized), every bond equal to ``bond``."""
    g = torch.Generator().manual_seed(seed)
    nodes = post_order(structure)
    out = []
    for k, node in enumerate(nodes):
        shape = [local_dim if isinstance(c, int) else bond for c in node]
        shape.append(1 if k == len(nodes) - 1 else bond)
        t = torch.randn(shape, generator=g, dtype=torch.float64)
        if dtype.is_complex:
            t = torch.complex(t, torch.randn(shape, generator=g, dtype=torch.float64))
        out.append(t.to(dtype))
    return out


def structure_of(layout, n):
    return TTNBornMachine(n, layout=layout, seed=0).structure


def ghz_model():
    """(|0000> + |1111>) / sqrt(2) on the tree ((0, 1), (2, 3))."""
    copy = torch.zeros(2, 2, 2, dtype=torch.float64)
    copy[0, 0, 0] = copy[1, 1, 1] = 1
    structure = ((0, 1), (2, 3))
    root = torch.eye(2, dtype=torch.float64)[:, :, None]
    return TTNBornMachine.from_tensors([copy, copy.clone(), root], structure)


# ------------------------------------------------------------------ normalization
@pytest.mark.parametrize("dtype", REAL_AND_COMPLEX)
@pytest.mark.parametrize("n, d, layout, bond", [
    (12, 2, "binary", 6), (12, 2, (3, 4), 3), (11, 2, "binary", 1), (8, 3, "binary", 4),
    (7, 3, TREE7, 5), (6, 3, (2, 3), 2), (2, 3, "binary", 2), (3, 2, "binary", 6),
])
def test_log_prob_is_normalized(n, d, layout, bond, dtype):
    model = TTNBornMachine(n, d, layout=layout, init_bond=bond, dtype=dtype, seed=n + bond)
    logp = model.log_prob(all_configurations(n, d)).detach()
    assert abs(float(torch.logsumexp(logp, 0))) < 1e-10
    assert model.log_norm() == pytest.approx(0.0, abs=1e-12)
    assert max(model.bond_dims) <= bond or n <= 3


@pytest.mark.parametrize("dtype", REAL_AND_COMPLEX)
@pytest.mark.parametrize("layout, n, d", [("binary", 9, 2), ((3, 4), 12, 2), (TREE7, 7, 3)])
def test_amplitudes_match_dense_contraction(layout, n, d, dtype):
    model = TTNBornMachine(n, d, layout=layout, init_bond=4, dtype=dtype, seed=1)
    psi = dense_state(model.structure, [t.detach() for t in model.tensors], d).numpy()
    logp = model.log_prob(all_configurations(n, d)).detach().numpy()
    np.testing.assert_allclose(logp, np.log(np.abs(psi) ** 2 / np.sum(np.abs(psi) ** 2)),
                               rtol=0, atol=1e-10)
    # arbitrary (non-canonical) tensors: same distribution after canonicalization
    raw = random_tensors(model.structure, d, 3, dtype=dtype, seed=2)
    psi = dense_state(model.structure, raw, d).numpy()
    other = TTNBornMachine.from_tensors(raw, model.structure)
    np.testing.assert_allclose(other.log_prob(all_configurations(n, d)).detach().numpy(),
                               np.log(np.abs(psi) ** 2 / np.sum(np.abs(psi) ** 2)),
                               rtol=0, atol=1e-10)
    assert log_norm(other.tree, raw) == pytest.approx(math.log(np.sum(np.abs(psi) ** 2)),
                                                      abs=1e-10)


def test_layouts_build_the_documented_trees():
    assert TTNBornMachine(5, seed=0).structure == ((0, 1), (2, (3, 4)))
    assert TTNBornMachine(3, seed=0).structure == (0, (1, 2))
    assert TTNBornMachine(4, layout=(2, 2), seed=0).structure == ((0, 1), (2, 3))
    assert TTNBornMachine(8, layout=(2, 4), seed=0).structure == \
        (((0, 1), (4, 5)), ((2, 3), (6, 7)))
    assert TTNBornMachine(6, layout=[[5, 0], [(1, 2), [3, 4]]], seed=0).structure == \
        ((5, 0), ((1, 2), (3, 4)))


def test_bonds_bond_dims_and_parameters():
    model = TTNBornMachine(7, layout=TREE7, init_bond=3, seed=0)
    assert model.bonds == [Bond(0, (1, 2)), Bond(1, (3, 4)), Bond(2, (5, 6)),
                           Bond(3, (0, 1, 2))]
    assert [b.sites for b in model.bonds] == [(1, 2), (3, 4), (5, 6), (0, 1, 2)]
    assert model.bond_dims == [3, 3, 3, 3]
    assert model.num_parameters == sum(t.numel() for t in model.tensors)
    # post-order of TREE7: (1,2), (0,(1,2)), (3,4), (5,6), ((3,4),(5,6)), root
    assert model.node_sites == [(1, 2), (0, 1, 2), (3, 4), (5, 6), (3, 4, 5, 6),
                                tuple(range(7))]
    assert model.center == 5 and model.node_sites[model.center] == tuple(range(7))
    # a top subtree that is a single site: the root edge is that site's leg
    small = TTNBornMachine(3, init_bond=4, seed=0)
    assert small.bonds == [Bond(0, (0,))] and small.bond_dims == [2]
    assert not hasattr(model, "edges")


# ---------------------------------------------------------------- canonical form
def _isometric_towards(t, leg):
    m = t.permute({0: (1, 2, 0), 1: (0, 2, 1), 2: (0, 1, 2)}[leg])
    m = m.reshape(-1, m.shape[2])
    eye = torch.eye(m.shape[1], dtype=m.dtype)
    return torch.allclose(m.mH @ m, eye, atol=1e-12, rtol=0)


@pytest.mark.parametrize("dtype", REAL_AND_COMPLEX)
def test_canonical_form_isometries(dtype):
    model = TTNBornMachine.from_tensors(random_tensors(TREE7, 2, 3, dtype=dtype, seed=3),
                                        TREE7)
    x = all_configurations(7, 2)
    before = model.log_prob(x)
    nodes = post_order(TREE7)
    for step, center in enumerate([(3, 4), (1, 2), tuple(range(7)), (5, 6), (3, 4, 5, 6),
                                   (0, 1, 2)]):
        target = next(k for k, node in enumerate(nodes) if sorted(site_list(node)) == list(center))
        # by the sites below the node, or (every other step) by its index
        assert model.canonicalize_(center if step % 2 == 0 else target) is model
        assert model.center == target and model.node_sites[target] == center
        for k, node in enumerate(nodes):
            if k == target:
                continue
            below = sorted(site_list(node))
            if set(center) <= set(below):  # the centre is below: towards that child
                leg = 0 if set(center) <= set(site_list(node[0])) else 1
            else:
                leg = 2
            assert _isometric_towards(model.tensors[k].detach(), leg), (center, node)
        assert float(torch.linalg.norm(model.tensors[target].detach())) == \
            pytest.approx(1, abs=1e-12)
        torch.testing.assert_close(model.log_prob(x), before, atol=1e-11, rtol=0)


# ------------------------------------------------------------- two-node gradient
def _merged(model, cut):
    """The merged matrix of an update on ``cut`` (rows | columns), from the tensors."""
    tree, t = model.tree, model.tensors
    if cut != tree.root:
        v, i = tree.parent[cut], tree.slot[cut]
        tv = t[v] if i == 0 else t[v].permute(1, 0, 2)
        return torch.einsum("abe,esp->absp", t[cut], tv).reshape(
            t[cut].shape[0] * t[cut].shape[1], -1)
    m = t[tree.root][:, :, 0]
    first, second = tree.children[tree.root]
    if not first.is_site:
        m = t[first.index].reshape(-1, t[first.index].shape[2]) @ m
    if not second.is_site:
        m = m @ t[second.index].reshape(-1, t[second.index].shape[2]).T
    return m


def _substituted(model, cut, merged):
    """Tensors whose contraction is the state with ``merged`` on the cut: identity
    matrices on the row side, ``merged`` on the column side."""
    tree = model.tree
    tensors = [t.detach() for t in model.tensors]

    def identity(node):
        d1, d2, _ = tensors[node].shape
        return torch.eye(d1 * d2, dtype=merged.dtype).reshape(d1, d2, d1 * d2)

    if cut != tree.root:
        v, i = tree.parent[cut], tree.slot[cut]
        _, ds, dp = (tensors[v] if i == 0 else tensors[v].permute(1, 0, 2)).shape
        tensors[cut] = identity(cut)
        tv = merged.reshape(-1, ds, dp)
        tensors[v] = tv if i == 0 else tv.permute(1, 0, 2)
        return tensors
    for top in tree.children[tree.root]:
        if not top.is_site:
            tensors[top.index] = identity(top.index)
    tensors[tree.root] = merged[:, :, None]
    return tensors


@pytest.mark.parametrize("dtype", REAL_AND_COMPLEX)
@pytest.mark.parametrize("layout, n", [(TREE7, 7), ("binary", 5)])
def test_two_node_steps_match_autograd(layout, n, dtype):
    """Every update of a sweep equals a step along the autograd gradient of the NLL with
    respect to the merged tensor (cached environments stay right as the centre moves)."""
    lr = 0.01
    model = TTNBornMachine(n, layout=layout, init_bond=3, dtype=dtype, seed=4)
    data = torch.unique(torch.randint(0, 2, (40, n), generator=torch.Generator().manual_seed(5)),
                        dim=0)
    options = UpdateOptions(lr=lr, max_step=None, steps_per_bond=1, max_bond=1000, cutoff=0.0)
    learner = TwoNodeLearner(model.tree, model.tensors, data, options, 2)
    for step, (cut, toward) in enumerate(model.tree.sweep * 2):
        # full batch and a minibatch (every other configuration) in turn
        rows = None if step % 2 == 0 else torch.arange(0, data.shape[0], 2)
        index = codes(data if rows is None else data[rows], 2)
        weights = torch.full((index.shape[0],), 1.0 / index.shape[0], dtype=torch.float64)
        merged = _merged(model, cut).detach().clone().requires_grad_(True)

        def nll(m):
            psi = dense_state(model.structure, _substituted(model, cut, m), 2)
            return -(weights * torch.log(psi[index].abs() ** 2)).sum() \
                + torch.log((psi.abs() ** 2).sum())

        (grad,) = torch.autograd.grad(nll(merged), merged)
        expected = merged.detach() - lr * grad
        expected = expected / torch.linalg.norm(expected)
        learner.update(cut, toward, rows, weights)
        # the gauge of the split bond is free: compare the merged tensors
        torch.testing.assert_close(_merged(model, cut), expected, atol=1e-12, rtol=0)


# ----------------------------------------------------------------------- learning
@pytest.mark.parametrize("layout", [(4, 4), "binary"])
@pytest.mark.parametrize("seed", [0, 1])
def test_bars_and_stripes_is_learned(layout, seed):
    data = bars_and_stripes(4, 4)
    model = TTNBornMachine(16, layout=layout, seed=seed)
    history = model.fit(data, sweeps=10, progress=False)
    assert len(history) == 10
    assert history[-1]["train_nll"] <= math.log(30) + 1e-3
    assert history[-1]["train_nll"] == pytest.approx(model.nll(data), abs=1e-10)
    log_p = model.log_prob(all_configurations(16, 2)).detach()
    assert abs(float(torch.logsumexp(log_p, 0))) < 1e-10
    samples = model.sample(2000, generator=torch.Generator().manual_seed(seed))
    patterns = {tuple(p) for p in data.tolist()}
    assert all(tuple(s) in patterns for s in samples.tolist())


@pytest.mark.parametrize("n, layout", [(2, "binary"), (3, "binary"), (9, (3, 3))])
def test_complex_and_small_trees_learn(n, layout):
    data = bars_and_stripes(3, 3) if n == 9 else torch.tensor([[0] * n, [1] * n])
    model = TTNBornMachine(n, layout=layout, dtype=torch.complex128, seed=0)
    # a tree of 2 or 3 sites has one edge: one update per sweep, at the MPS's larger lr
    history = model.fit(data, sweeps=12 if n <= 3 else 6, lr=0.2 if n <= 3 else None,
                        progress=False)
    assert history[-1]["train_nll"] <= math.log(len(data)) + 1e-3
    logp = model.log_prob(all_configurations(n, 2)).detach()
    assert abs(float(torch.logsumexp(logp, 0))) < 1e-10


def test_fit_records_test_nll_and_respects_max_bond():
    data = bars_and_stripes(4, 4)
    model = TTNBornMachine(16, layout=(4, 4), max_bond=5, seed=0)
    history = model.fit(data[:20], sweeps=3, test_data=data[20:], progress=False)
    assert all(set(h) >= {"step", "train_nll", "test_nll", "seconds", "max_bond"}
               for h in history)
    assert max(model.bond_dims) <= 5 and history[-1]["max_bond"] <= 5
    assert history[-1]["test_nll"] == pytest.approx(model.nll(data[20:]), abs=1e-10)
    assert [h["step"] for h in history] == [1, 2, 3]


def test_cutoff_shrinks_bonds_for_a_product_distribution():
    data = all_configurations(8, 2)
    model = TTNBornMachine(8, init_bond=4, cutoff=1e-3, seed=0)
    history = model.fit(data, sweeps=6, lr=0.1, progress=False)
    assert len(model.bonds) == 5 and model.bond_dims == [1] * 5
    assert history[-1]["train_nll"] == pytest.approx(8 * math.log(2), abs=1e-6)


def test_minibatch_is_reproducible_with_generator():
    data = bars_and_stripes(3, 3)
    runs = []
    for _ in range(2):
        model = TTNBornMachine(9, layout=(3, 3), seed=0)
        model.fit(data, sweeps=2, batch_size=4, progress=False,
                  generator=torch.Generator().manual_seed(7))
        runs.append(model.log_prob(data))
    torch.testing.assert_close(runs[0], runs[1], atol=0, rtol=0)


def test_784_leaves_stay_finite_and_train_on_mnist():
    wide = TTNBornMachine(784, 4, layout=(28, 28), init_bond=4, seed=0)
    x = torch.randint(0, 4, (16, 784), generator=torch.Generator().manual_seed(0))
    logp = wide.log_prob(x)
    assert torch.isfinite(logp).all()
    assert (logp < math.log(1e-300)).all()  # |psi|^2 underflows in float64
    model = TTNBornMachine(784, layout=(28, 28), max_bond=6, seed=0)
    train = mnist(limit=100)
    history = model.fit(train, sweeps=1, batch_size=50, progress=False,
                        generator=torch.Generator().manual_seed(0))
    assert math.isfinite(history[0]["train_nll"]) and history[0]["train_nll"] < 784 * math.log(2)
    assert torch.isfinite(model.log_prob(train)).all()
    assert model.sample(3).shape == (3, 784)


# ----------------------------------------------------------------------- sampling
@pytest.mark.parametrize("n, d, layout, dtype", [
    (10, 2, "binary", torch.float64), (9, 2, (3, 3), torch.complex128),
    (7, 3, TREE7, torch.float64),
])
def test_samples_are_exact(n, d, layout, dtype):
    structure = structure_of(layout, n)
    model = TTNBornMachine.from_tensors(random_tensors(structure, d, 3, dtype=dtype, seed=n),
                                        structure)
    model.canonicalize_(model.bonds[0].sites)  # sampling must work from any centre
    assert model.center == 0
    probs = model.log_prob(all_configurations(n, d)).detach().exp().numpy()
    samples = model.sample(200_000, generator=torch.Generator().manual_seed(11))
    counts = np.bincount(codes(samples, d).numpy(), minlength=d ** n)
    assert chi_square_pvalue(counts, probs) > 1e-3


def test_sampling_is_reproducible_with_generator():
    model = TTNBornMachine(12, layout=(3, 4), init_bond=4, seed=0)
    a = model.sample(50, generator=torch.Generator().manual_seed(3))
    b = model.sample(50, generator=torch.Generator().manual_seed(3))
    c = model.sample(50, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.dtype == torch.long and a.shape == (50, 12)


MASKS = {
    "prefix": [1, 1, 1, 0, 0, 0, 0],
    "scattered": [0, 1, 0, 0, 1, 0, 1],
    "subtree": [0, 0, 0, 1, 1, 0, 0],
    "ends": [1, 0, 0, 0, 0, 0, 1],
    "none": [0] * 7,
}


@pytest.mark.parametrize("mask_name", sorted(MASKS))
@pytest.mark.parametrize("dtype", REAL_AND_COMPLEX)
def test_conditional_sample_is_exact(mask_name, dtype):
    model = TTNBornMachine.from_tensors(random_tensors(TREE7, 2, 3, dtype=dtype, seed=21),
                                        TREE7)
    known = torch.tensor(MASKS[mask_name], dtype=torch.bool)
    given = torch.tensor([1, 0, 1, 1, 0, 1, 0])
    assert_conditional_samples_exact(model, given, known, 100_000, seed=5)


def test_conditional_sample_with_per_row_masks():
    """Rows with different masks are each sampled from their own conditional."""
    n, d = 6, 3
    model = TTNBornMachine(n, d, layout=(2, 3), init_bond=4, seed=8)
    given = torch.tensor([[2, 0, 1, 1, 0, 2], [0, 1, 2, 2, 1, 0], [1, 1, 1, 1, 1, 1]])
    masks = torch.tensor([[0, 0, 1, 0, 1, 0], [1, 0, 0, 0, 0, 1], [0, 1, 1, 1, 1, 0]],
                         dtype=torch.bool)
    assert_conditional_samples_exact(model, given, masks, 60_000, seed=2)


def test_conditional_sample_rejects_impossible_evidence():
    model = ghz_model()
    x = torch.tensor([[0, 0, 0, 1], [1, 0, 0, 1]])
    known = torch.tensor([True, False, False, True])
    with pytest.raises(ValueError, match=r"rows \[0\] have probability zero"):
        model.conditional_sample(x, known)
    assert model.conditional_sample(x[1:], known).tolist() == [[1] * 4]
    everything = torch.ones(4, dtype=torch.bool)
    assert model.conditional_sample(torch.tensor([[1, 1, 1, 1]]), everything).tolist() == \
        [[1] * 4]


# -------------------------------------------------------------------- entanglement
@pytest.mark.parametrize("alpha", [1.0, 2.0])
@pytest.mark.parametrize("dtype", REAL_AND_COMPLEX)
@pytest.mark.parametrize("layout, n, d", [("binary", 10, 2), ((3, 4), 12, 2), (TREE7, 7, 3),
                                          ("binary", 3, 3)])
def test_entanglement_matches_dense_svd(layout, n, d, dtype, alpha):
    structure = structure_of(layout, n)
    raw = random_tensors(structure, d, 4, dtype=dtype, seed=6)
    psi = dense_state(structure, raw, d).numpy()
    psi = (psi / np.linalg.norm(psi)).reshape([d] * n)
    model = TTNBornMachine.from_tensors(raw, structure)
    ours = model.entanglement_entropy(alpha)
    assert isinstance(ours, torch.Tensor) and ours.dtype == torch.float64
    assert ours.shape == (len(model.bonds),) and len(model.bond_spectra()) == len(model.bonds)
    assert [b.index for b in model.bonds] == list(range(len(model.bonds)))
    spectra = model.bond_spectra()
    for (_, edge), value, spectrum in zip(model.bonds, ours.tolist(), spectra):
        rest = [s for s in range(n) if s not in edge]
        matrix = psi.transpose(list(edge) + rest).reshape(d ** len(edge), -1)
        schmidt = np.linalg.svd(matrix, compute_uv=False)
        kept = spectrum.numel()
        np.testing.assert_allclose(spectrum.numpy(), schmidt[:kept], rtol=0, atol=1e-10)
        assert np.all(schmidt[kept:] < 1e-10)
        lam = schmidt ** 2
        lam = lam[lam > 0]
        expected = -np.sum(lam * np.log(lam)) if alpha == 1 else \
            np.log(np.sum(lam ** alpha)) / (1 - alpha)
        assert value == pytest.approx(expected, abs=1e-10), edge


def test_entanglement_of_known_states():
    model = ghz_model()
    assert model.bonds == [Bond(0, (0, 1))]
    assert model.entanglement_entropy().tolist() == pytest.approx([math.log(2)], abs=1e-12)
    product = [torch.rand(2, 2, 1, dtype=torch.float64) + 0.1 for _ in range(2)] + \
        [torch.ones(1, 1, 1, dtype=torch.float64)]
    model = TTNBornMachine.from_tensors(product, ((0, 1), (2, 3)))
    assert model.bonds == [Bond(0, (0, 1))]
    assert model.entanglement_entropy(2).tolist() == pytest.approx([0.0], abs=1e-12)


# --------------------------------------------------------------------- save/load
def test_save_load_round_trip(tmp_path):
    model = TTNBornMachine(7, 3, layout=TREE7, init_bond=4, dtype=torch.complex128, seed=0,
                           max_bond=17)
    model.canonicalize_((3, 4))
    assert model.center == 2
    path = tmp_path / "ttn.pt"
    model.save(path)
    x = all_configurations(7, 3)[::7]
    for loaded in (tnborn.load(path), TTNBornMachine.load(path)):
        assert isinstance(loaded, TTNBornMachine)
        assert loaded.max_bond == 17 and loaded.center == 2
        assert loaded.node_sites[loaded.center] == (3, 4)
        assert loaded.dtype == torch.complex128 and loaded.structure == TREE7
        torch.testing.assert_close(loaded.log_prob(x), model.log_prob(x), atol=1e-12, rtol=0)
    grid = TTNBornMachine(6, layout=(2, 3), seed=0)
    grid.save(path)
    assert tnborn.load(path).layout == (2, 3) and tnborn.load(path).structure == grid.structure


def test_version_1_files_still_load(tmp_path):
    """A file as tnborn 0.1 wrote it (tensors as a list; tree, layout, the centre as
    sites and a "torch.*" dtype in the config) loads to the same distribution."""
    raw = random_tensors(TREE7, 3, 4, seed=13)
    psi = dense_state(TREE7, raw, 3).numpy()
    expected = np.log(np.abs(psi) ** 2 / np.sum(np.abs(psi) ** 2))
    payload = {"format": "tnborn-model", "version": 1, "class": "TTNBornMachine",
               "config": {"n_sites": 7, "local_dim": 3, "max_bond": 17, "cutoff": 0.0,
                          "dtype": "torch.float64",
                          "tree": [[0, [1, 2]], [[3, 4], [5, 6]]], "layout": "tree",
                          "center": [3, 4]},
               "state": {"tensors": raw}}
    path = tmp_path / "old.pt"
    torch.save(payload, path)
    loaded = tnborn.load(path)
    assert isinstance(loaded, TTNBornMachine) and loaded.structure == TREE7
    assert loaded.center == 2 and loaded.node_sites[2] == (3, 4) and loaded.max_bond == 17
    np.testing.assert_allclose(loaded.log_prob(all_configurations(7, 3)).detach().numpy(),
                               expected, rtol=0, atol=1e-10)


def test_corrupt_and_inconsistent_files_are_rejected(tmp_path):
    good = tmp_path / "good.pt"
    TTNBornMachine(7, layout=TREE7, init_bond=2, seed=0).save(good)
    cases = {
        "non-finite": lambda p: p["state"].__setitem__(
            "tensors.2", p["state"]["tensors.2"] * float("nan")),
        "exactly once": lambda p: p["config"].__setitem__(
            "layout", [[0, [1, 1]], [[3, 4], [5, 6]]]),
        "inconsistent TTNBornMachine": lambda p: p["state"].pop("tensors.5"),
        "centre 6 is outside 0..5": lambda p: p["state"].__setitem__(
            "_extra_state", {"center": 6}),
        "extra state": lambda p: p["state"].__setitem__("_extra_state", {"center": [0, 5]}),
    }
    for message, corrupt in cases.items():
        payload = torch.load(good, weights_only=True)
        corrupt(payload)
        bad = tmp_path / "bad.pt"
        torch.save(payload, bad)
        with pytest.raises(ValueError, match=message):
            tnborn.load(bad)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:100])
    with pytest.raises(ValueError):
        tnborn.load(truncated)


# ------------------------------------------------------------------- bad input
def test_load_rejects_mismatched_bonds(tmp_path):
    good = tmp_path / "good.pt"
    TTNBornMachine(7, layout=TREE7, init_bond=2, seed=0).save(good)
    payload = torch.load(good, weights_only=True)
    payload["state"]["tensors.1"] = torch.zeros(2, 2, 3, dtype=torch.float64)
    torch.save(payload, tmp_path / "bond.pt")
    with pytest.raises(ValueError, match="bond between tensor 1 and its parent 5"):
        tnborn.load(tmp_path / "bond.pt")


@pytest.mark.parametrize("layout, message", [
    (((0, 1), (2, 2)), r"misses sites \[3\] and repeats sites \[2\]"),
    (((0, 1), 2), r"misses sites \[3\]"),
    (((0, 1), (2, 3, 4)), "nested pairs"),
    (((0, 1), (2, 7)), "outside 0..3"),
    ((3, 2), r"\(H, W\) = \(3, 2\) holds 6 sites, but n_sites = 4"),
    ("grid", "layout must be"),
])
def test_bad_layouts_raise(layout, message):
    with pytest.raises(ValueError, match=message):
        TTNBornMachine(4, layout=layout)


@pytest.mark.parametrize("bad, message", [
    (torch.tensor([[0, 1, 2, 0]]), "outside 0..1"),
    (torch.tensor([[0, 1, 0]]), "4 sites"),
    (torch.tensor([[0.0, 1.0, 0.5, 0.0]]), "non-integer"),
])
def test_bad_configurations_raise(bad, message):
    model = TTNBornMachine(4, seed=0)
    with pytest.raises(ValueError, match=message):
        model.log_prob(bad)
    with pytest.raises(ValueError, match=message):
        model.fit(bad, sweeps=1, progress=False)
    with pytest.raises(ValueError, match=message):
        model.conditional_sample(bad, torch.ones(bad.shape[-1], dtype=torch.bool))


def test_bad_arguments_raise():
    model = TTNBornMachine(4, seed=0)
    data = torch.zeros(3, 4, dtype=torch.long)
    with pytest.raises(ValueError, match="lr"):
        model.fit(data, lr=-1, progress=False)
    with pytest.raises(ValueError, match="max_step"):
        model.fit(data, max_step=0, progress=False)
    with pytest.raises(ValueError, match="test_data"):
        model.fit(data, sweeps=1, test_data=torch.full((2, 4), 3), progress=False)
    with pytest.raises(ValueError, match="center"):
        model.canonicalize_((0, 2))
    with pytest.raises(ValueError, match="alpha"):
        model.entanglement_entropy(alpha=0)
    with pytest.raises(ValueError, match="n_sites"):
        TTNBornMachine(1)
    with pytest.raises(ValueError, match="cutoff"):
        TTNBornMachine(4, cutoff=2.0)
    with pytest.raises(ValueError, match="dtype"):
        TTNBornMachine(4, dtype=torch.int64)
    with pytest.raises(ValueError, match="norm is zero"):
        TTNBornMachine.from_tensors([torch.zeros(2, 2, 2, dtype=torch.float64)] * 2
                                    + [torch.ones(2, 2, 1, dtype=torch.float64)],
                                    ((0, 1), (2, 3)))


@pytest.mark.parametrize("make", [lambda: TTNBornMachine(16, layout=(4, 4), seed=0),
                                  lambda: tnborn.MPSBornMachine(16, seed=0)])
def test_divergence_is_reported(make):
    """An uncapped step that overflows raises a clear error, not an SVD failure."""
    with pytest.raises(FloatingPointError, match="diverged"):
        make().fit(bars_and_stripes(4, 4), sweeps=1, lr=1e308, max_step=None, progress=False)


def test_normalized_steps_learn_bars_and_stripes():
    """The original code's fixed-length steps (see MPS) drive the tree's updates too."""
    tree = TTNBornMachine(16, layout=(4, 4), seed=0)
    history = tree.fit(bars_and_stripes(4, 4), sweeps=10, lr=1e-3, max_step=None,
                       normalized_steps=True, progress=False)
    assert history[-1]["train_nll"] <= math.log(30) + 1e-3


# ================================================================================
# Both networks as torch modules: registered parameters, reads, outside changes,
# gradients, fit(method="gradient"), bad input, seeding, repr
# ================================================================================
GRID9 = (3, 3)
BARS9 = bars_and_stripes(3, 3)  # 14 patterns on 9 sites


def make_network(name, **kwargs):
    """A 9-site network: an MPS, or a TTN on the 3x3 grid."""
    if name == "mps":
        return tnborn.MPSBornMachine(9, **kwargs)
    return TTNBornMachine(9, layout=GRID9, **kwargs)


def torch_state(model, tensors):
    """psi over all configurations (lexicographic), contracted densely with torch from
    ``tensors`` (differentiable); no tnborn contraction code."""
    if isinstance(model, tnborn.MPSBornMachine):
        psi = tensors[0][0]  # (d, D)
        for a in tensors[1:]:
            psi = torch.einsum("...l,lpr->...pr", psi, a)
        return psi.reshape(-1)
    return dense_state(model.structure, tensors, model.local_dim)


def numpy_state(model, tensors):
    """psi over all configurations (lexicographic), contracted with numpy."""
    if isinstance(model, tnborn.MPSBornMachine):
        return mps_dense_state(tensors)
    remaining = iter(t.detach().cpu().resolve_conj().numpy() for t in tensors)
    d = model.local_dim

    def build(node):
        if isinstance(node, int):
            return np.eye(d)
        a, b = build(node[0]), build(node[1])
        t = next(remaining)
        return np.einsum("ai,bj,ijp->abp", a, b, t).reshape(-1, t.shape[2])

    psi = build(model.structure).reshape([d] * model.n_sites)
    order = site_list(model.structure)
    return psi.transpose([order.index(k) for k in range(model.n_sites)]).reshape(-1)


def state_bits(model) -> dict:
    """Every state_dict entry, tensors as (dtype, shape, raw bytes): equal dicts mean
    bitwise-equal states."""
    out = {}
    for key, value in model.state_dict().items():
        if isinstance(value, torch.Tensor):
            value = (str(value.dtype), tuple(value.shape),
                     value.detach().cpu().contiguous().numpy().tobytes())
        out[key] = value
    return out


def n_tensors(name):
    return 9 if name == "mps" else 8  # 9 sites; a binary tree over 9 leaves has 8 nodes


NETWORKS = pytest.mark.parametrize("name", ["mps", "ttn"])


# ------------------------------------------------------------ registered parameters
@NETWORKS
def test_tensors_are_registered_parameters(name):
    model = make_network(name, seed=0)
    count = n_tensors(name)
    assert len(list(model.parameters())) == count == len(model.tensors)
    assert isinstance(model.tensors, torch.nn.ParameterList)
    assert all(isinstance(p, torch.nn.Parameter) and p.requires_grad
               for p in model.parameters())
    assert [key for key, _ in model.named_parameters()] == [f"tensors.{k}"
                                                             for k in range(count)]
    assert set(model.state_dict()) == {f"tensors.{k}" for k in range(count)} | \
        {"_extra_state"}
    assert model.state_dict()["_extra_state"] == {"center": model.center}
    assert model.num_parameters == sum(math.prod(p.shape) for p in model.parameters())


@NETWORKS
def test_load_state_dict_takes_the_trained_shapes(name):
    trained = make_network(name, seed=0)
    trained.fit(BARS9, sweeps=2, progress=False)
    fresh = make_network(name, init_bond=1, seed=1)
    assert fresh.bond_dims != trained.bond_dims
    assert fresh.load_state_dict(trained.state_dict()) is not None
    assert fresh.bond_dims == trained.bond_dims and fresh.center == trained.center
    assert state_bits(fresh) == state_bits(trained)
    assert fresh._is_canonical()  # the loaded canonical state keeps the fast path
    x = all_configurations(9, 2)
    for grad in (True, False):
        with torch.set_grad_enabled(grad):
            difference = fresh.log_prob(x) - trained.log_prob(x)
        assert float(difference.detach().abs().max()) <= 1e-12


@NETWORKS
def test_deepcopy_and_float32(name):
    model = make_network(name, seed=2)
    model.fit(BARS9, sweeps=2, progress=False)
    x = all_configurations(9, 2)
    reference = model.log_prob(x).detach()
    before = state_bits(model)
    twin = copy.deepcopy(model)
    assert state_bits(twin) == before and twin.center == model.center
    assert all(p is not q for p, q in zip(twin.parameters(), model.parameters()))
    assert torch.equal(twin.log_prob(x).detach(), reference)
    with torch.no_grad():
        twin.tensors[1].mul_(2.0)
        twin.tensors[3][:, 0].mul_(0.5)
    assert state_bits(model) == before  # the copy shares nothing
    assert torch.equal(model.log_prob(x).detach(), reference)
    single = copy.deepcopy(model).to(torch.float32)
    assert single.dtype == torch.float32
    assert all(p.dtype == torch.float32 for p in single.parameters())
    assert state_bits(model) == before
    for grad in (True, False):
        with torch.set_grad_enabled(grad):
            log_p = single.log_prob(x).detach()
        assert log_p.dtype == torch.float32
        assert abs(float(torch.logsumexp(log_p.double(), 0))) < 1e-5
        # the learned patterns keep their probabilities to float32 precision
        rows = codes(BARS9, 2)
        assert float((log_p[rows].double() - reference[rows]).abs().max()) < 1e-4


@NETWORKS
def test_state_dict_file_round_trip(name, tmp_path):
    model = make_network(name, seed=3)
    model.fit(BARS9, sweeps=1, progress=False)
    model.canonicalize_(3)
    path = tmp_path / "state.pt"
    torch.save(model.state_dict(), path)
    state = torch.load(path, weights_only=True)
    fresh = make_network(name, init_bond=1, seed=4)
    fresh.load_state_dict(state)
    assert fresh.center == 3 and state_bits(fresh) == state_bits(model)
    assert fresh._is_canonical()
    x = all_configurations(9, 2)
    # same numbers, but the loaded tensors are contiguous copies of QR factors in
    # column-major layout: the products round differently in the last bits, so rare
    # configurations (ln p near -27) differ by ~2e-12
    np.testing.assert_allclose(fresh.log_prob(x).detach().numpy(),
                               model.log_prob(x).detach().numpy(), rtol=1e-13, atol=1e-12)


# ----------------------------------------------------------------- reads stay reads
@NETWORKS
@pytest.mark.parametrize("moved", [False, True], ids=["after-fit", "centre-moved"])
def test_reads_do_not_change_the_state(name, moved):
    from tnborn.diagnostics import mutual_information

    model = make_network(name, seed=5)
    model.fit(BARS9, sweeps=2, progress=False)
    if moved:
        model.canonicalize_(3)
    before, center = state_bits(model), model.center
    params = list(model.parameters())
    versions = [p._version for p in params]
    x = BARS9
    known = torch.tensor([1, 0, 0, 0, 1, 0, 0, 0, 1], dtype=torch.bool)
    first = model.log_prob(x).detach()
    reads = {
        "sample": lambda: model.sample(50),
        "sample with generator": lambda: model.sample(
            50, generator=torch.Generator().manual_seed(0)),
        "sample_and_log_prob": lambda: model.sample_and_log_prob(20),
        "conditional_sample": lambda: model.conditional_sample(x, known),
        "marginal_log_prob": lambda: model.marginal_log_prob(x, [1, 3, 5]),
        "marginal_log_prob suffix": lambda: model.marginal_log_prob(x, [6, 7, 8]),
        "conditional_log_prob": lambda: model.conditional_log_prob(x, [0, 1]),
        "log_prob": lambda: model.log_prob(x),
        "log_prob without grad": lambda: model.log_prob(x).detach(),
        "nll": lambda: model.nll(x),
        "log_norm": lambda: model.log_norm(),
        "entanglement_entropy": lambda: model.entanglement_entropy(),
        "renyi entropy": lambda: model.entanglement_entropy(2.0),
        "bond_spectra": lambda: model.bond_spectra(),
        "mutual_information exact": lambda: mutual_information(model, 4),
        "mutual_information sampled": lambda: mutual_information(model, 4, num=200),
    }
    if name == "mps":
        reads["chain_marginals"] = lambda: model.chain_marginals(x)
    for read_name, read in reads.items():
        if read_name == "log_prob without grad":
            with torch.no_grad():
                read()
        else:
            read()
        assert state_bits(model) == before, read_name
        assert model.center == center, read_name
        assert all(p is q for p, q in zip(model.parameters(), params)), read_name
        assert [p._version for p in params] == versions, read_name
        assert model._is_canonical(), read_name
    assert torch.equal(model.log_prob(x).detach(), first)


# ------------------------------------------------------------- outside changes
@NETWORKS
@pytest.mark.parametrize("change", ["scale", "slice", "replace"])
def test_changed_tensors_stay_exactly_normalized(name, change):
    """After a change from outside the fast path (Z = ||centre||^2) is off: log_prob
    contracts Z and matches a dense numpy contraction of the changed tensors."""
    model = make_network(name, seed=6)
    model.fit(BARS9, sweeps=2, progress=False)
    x = all_configurations(9, 2)
    original = model.log_prob(x).detach()
    with torch.no_grad():
        if change == "scale":
            model.tensors[5].mul_(3.0)
        elif change == "slice":
            model.tensors[5][:, 0].mul_(3.0)
        else:
            shape = model.tensors[5].shape
            model.tensors[5] = torch.nn.Parameter(torch.rand(
                shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    assert not model._is_canonical()
    psi = numpy_state(model, list(model.tensors))
    log_p = np.log(np.abs(psi) ** 2 / np.sum(np.abs(psi) ** 2))
    rows = codes(BARS9, 2).numpy()
    expected_nll = -float(np.mean(log_p[rows]))
    assert model.log_norm() == pytest.approx(math.log(np.sum(np.abs(psi) ** 2)), abs=1e-10)
    for grad in (True, False):
        with torch.set_grad_enabled(grad):
            got = model.log_prob(x).detach()
        assert abs(float(torch.logsumexp(got, 0))) < 1e-10
        np.testing.assert_allclose(got[rows].numpy(), log_p[rows], rtol=0, atol=1e-10)
        assert model.nll(BARS9) == pytest.approx(expected_nll, abs=1e-10)
    if change == "scale":  # a scalar factor leaves p alone: to 1e-10 in ln p where
        # p is far above rounding, and to 1e-14 in p on every configuration (training
        # drives some p below e^-100, where ln p is rounding noise)
        clear = original > -20
        assert int(clear.sum()) >= len(rows)
        np.testing.assert_allclose(got[clear].numpy(), original[clear].numpy(),
                                   rtol=0, atol=1e-10)
        np.testing.assert_allclose(got.exp().numpy(), original.exp().numpy(),
                                   rtol=0, atol=1e-14)
    else:
        assert float((got - original).abs().max()) > 1e-3
    assert model.canonicalize_() is model
    assert model._is_canonical()
    assert model.center == (0 if name == "mps" else n_tensors(name) - 1)
    after = model.log_prob(x).detach()
    np.testing.assert_allclose(after.exp().numpy(), got.exp().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(after[rows].numpy(), got[rows].numpy(), rtol=0, atol=1e-12)
    assert float(torch.linalg.norm(model.tensors[model.center].detach())) == \
        pytest.approx(1.0, abs=1e-12)


# --------------------------------------------------------------------- gradients
@NETWORKS
@pytest.mark.parametrize("dtype", REAL_AND_COMPLEX)
@pytest.mark.parametrize("state", ["canonical", "changed"])
def test_log_prob_gradient_matches_dense_reference(name, dtype, state):
    """d(mean NLL)/d(tensor) of log_prob, with ln Z contracted exactly, equals autograd
    through psi contracted densely: p = |psi|^2 / sum |psi|^2."""
    model = make_network(name, init_bond=3, dtype=dtype, seed=7)
    if state == "changed":
        with torch.no_grad():
            model.tensors[2].mul_(1.7)
            model.tensors[4][:, 1].mul_(0.5)
    x = torch.cat([BARS9, torch.randint(0, 2, (10, 9),
                                        generator=torch.Generator().manual_seed(1))])
    loss = -model.log_prob(x).mean()
    grads = torch.autograd.grad(loss, list(model.parameters()))
    leaves = [t.detach().clone().requires_grad_(True) for t in model.tensors]
    weights = torch_state(model, leaves).abs() ** 2
    reference = -torch.log(weights[codes(x, 2)] / weights.sum()).mean()
    expected = torch.autograd.grad(reference, leaves)
    assert float(loss.detach()) == pytest.approx(float(reference.detach()), abs=1e-12)
    assert len(grads) == len(expected) == n_tensors(name)
    for k, (got, want) in enumerate(zip(grads, expected)):
        assert got.dtype == dtype and got.shape == model.tensors[k].shape
        torch.testing.assert_close(got, want, atol=1e-10, rtol=0, msg=f"tensor {k}")


# -------------------------------------------------------- fit(method="gradient")
@NETWORKS
def test_gradient_fit_keeps_bonds_records_like_sweeps_and_ends_canonical(name):
    train, test = BARS9[:10], BARS9[10:]
    model = make_network(name, init_bond=3, seed=8)
    assert model.default_lr["gradient"] == 0.02
    dims, start = model.bond_dims, model.nll(train)
    history = model.fit(train, method="gradient", sweeps=3, test_data=test, batch_size=4,
                        progress=False)
    sweeps = make_network(name, init_bond=3, seed=8).fit(train, sweeps=1, test_data=test,
                                                         progress=False)
    assert [set(h) - {"stopped_by"} for h in history] == \
        [set(sweeps[0]) - {"stopped_by"}] * 3
    assert history[-1]["stopped_by"] == sweeps[-1]["stopped_by"] == "budget"
    assert [h["step"] for h in history] == [1, 2, 3]
    assert model.bond_dims == dims and [h["max_bond"] for h in history] == [max(dims)] * 3
    assert model._is_canonical()
    assert model.center == (0 if name == "mps" else n_tensors(name) - 1)
    assert history[-1]["train_nll"] == pytest.approx(model.nll(train), abs=1e-10)
    assert history[-1]["test_nll"] == pytest.approx(model.nll(test), abs=1e-10)
    assert history[-1]["train_nll"] < start
    log_p = model.log_prob(all_configurations(9, 2)).detach()
    assert abs(float(torch.logsumexp(log_p, 0))) < 1e-10


# --------------------------------------------------------------------- bad input
@NETWORKS
def test_bad_methods_tensors_and_centres_raise(name):
    model = make_network(name, seed=9)
    data = BARS9
    before = state_bits(model)
    with pytest.raises(ValueError, match="method must be one of"):
        model.fit(data, method="nope", progress=False)
    with pytest.raises(ValueError, match="steps_per_bond"):
        model.fit(data, method="gradient", steps_per_bond=2, progress=False)
    with pytest.raises(ValueError, match="normalized_steps"):
        model.fit(data, method="gradient", normalized_steps=True, progress=False)
    bad_centres = [-1, n_tensors(name), 2.5, True, "0"]
    if name == "ttn":
        bad_centres += [(0, 2), (0, 1, 2, 3)]  # site sets that are no node's
    for bad in bad_centres:
        with pytest.raises(ValueError, match="center"):
            model.canonicalize_(bad)
    assert state_bits(model) == before

    # a tensor replaced by one of the wrong shape: the bond is named
    k = 3
    shape = list(model.tensors[k].shape)
    shape[2] += 1  # the leg towards site k+1 (MPS) / the parent (TTN)
    model.tensors[k] = torch.nn.Parameter(torch.rand(shape, dtype=torch.float64))
    message = rf"bond {k}: tensor {k} has right dimension" if name == "mps" else \
        rf"bond between tensor {k} and its parent {model.tree.parent[k]}"
    for grad in (True, False):
        with torch.set_grad_enabled(grad), pytest.raises(ValueError, match=message):
            model.log_prob(data)
    for read in (lambda: model.sample(3), model.entanglement_entropy, model.canonicalize_):
        with pytest.raises(ValueError, match=message):
            read()
    model.tensors[k] = torch.nn.Parameter(torch.rand(2, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match=rf"tensor {k} must have shape"):
        model.log_prob(data)

    # a NaN or inf written in place
    for value in (float("nan"), float("inf")):
        model = make_network(name, seed=9)
        with torch.no_grad():
            model.tensors[2][0, 0, 0] = value
        for grad in (True, False):
            with torch.set_grad_enabled(grad), \
                    pytest.raises(ValueError, match="tensor 2 has non-finite"):
                model.log_prob(data)
        with pytest.raises(ValueError, match="non-finite"):
            model.canonicalize_()


# ----------------------------------------------------------------------- seeding
@NETWORKS
def test_constructor_draws_from_the_global_rng_without_reseeding_it(name):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        first = make_network(name)
        after_model = torch.rand(3)
        torch.manual_seed(0)
        torch.randint(0, 2 ** 62, (1,))  # the one seed the constructor draws
        after_draw = torch.rand(3)
        torch.manual_seed(0)
        plain = torch.rand(3)
        torch.manual_seed(0)
        second = make_network(name)
    assert torch.equal(after_model, after_draw)
    assert not torch.equal(after_model, plain)
    assert state_bits(first) == state_bits(second)
    assert first.seed is None


@NETWORKS
def test_sample_without_generator_is_reproducible(name):
    a, b = make_network(name, seed=11), make_network(name, seed=11)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        first = a.sample(100)
        global_draw = torch.rand(3)
        torch.manual_seed(0)
        untouched = torch.rand(3)
    assert torch.equal(global_draw, untouched)  # the model's own stream, not torch's
    assert torch.equal(first, b.sample(100))
    second = a.sample(100)
    assert not torch.equal(first, second)  # the stream moves on
    assert torch.equal(second, b.sample(100))
    assert not torch.equal(first, make_network(name, seed=12).sample(100))


# -------------------------------------------------------------------------- repr
@pytest.mark.parametrize("make, parts", [
    # 16 sites, bonds [2, 4, 8, 16 x 9, 8, 4, 2]: 2 (2 + 8 + 32 + 128 + 9*256 + 128 + 32
    # + 8 + 2) = 4,776 numbers
    (lambda: tnborn.MPSBornMachine(16, init_bond=16, seed=0),
     ["MPSBornMachine(", "n_sites=16", "support=Discrete(2)", "bonds=15 (largest 16)",
      "parameters=4,776)"]),
    # 4x4 tree: 8 nodes (2,2,4), 4 (4,4,8), 2 (8,8,8), root (8,8,1): 128+512+1024+64
    (lambda: TTNBornMachine(16, layout=(4, 4), init_bond=8, seed=0),
     ["TTNBornMachine(", "n_sites=16", "support=Discrete(2)", "bonds=13 (largest 8)",
      "layout=4x4", "parameters=1,728)"]),
    # 3 sites of 3 values: tensors (1,3,3), (3,3,3), (3,3,1): 9 + 27 + 9
    (lambda: tnborn.MPSBornMachine(3, 3, init_bond=5, dtype=torch.complex128, seed=0),
     ["n_sites=3", "support=Discrete(3)", "bonds=2 (largest 3)", "dtype=complex128",
      "parameters=45)"]),
], ids=["mps", "ttn", "mps-complex"])
def test_repr_shows_the_sizes(make, parts):
    text = repr(make())
    for part in parts:
        assert part in text, (part, text)
