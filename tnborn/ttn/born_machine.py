"""The tree tensor network Born machine: p(x) = |psi(x)|^2 / Z on a binary tree.

::

                   root            root: (D_A, D_B, 1), the matrix joining the two
                 /      \\               top subtrees (the root edge)
             T_A          T_B      node: (D_c1, D_c2, D_p) = (first child, second child,
            /   \\        /   \\            parent); a child leg is a site (dimension d)
          T      T      x_4   T           or the parent leg of a child node
         / \\    / \\          / \\
       x_0 x_1 x_2 x_3      x_5 x_6

The sites are the leaves. The state is kept in canonical form (every node an isometry
towards the centre node) and normalized (Z = 1).
"""

from __future__ import annotations

import torch

from ..backend import resolve
from ..base import GenerativeModel
from ..born import TENSOR_DTYPES, Bond, TensorNetworkBornMachine, check_network_tensor
from ..checks import check_count, check_local_dim
from ..supports import Discrete
from ..sweeps import check_cutoff, fit_by_sweeps, update_options
from . import canonical, contraction
from .marginals import marginal_log_weight
from .sampling import tree_sample
from .tree import Tree, layout_tree
from .two_node import TwoNodeLearner


class TTNBornMachine(TensorNetworkBornMachine):
    """Born machine on a binary tree tensor network, learned by two-node updates.

    Parameters
    ----------
    n_sites, local_dim : number of sites (>= 2) and values per site.
    layout : the tree. ``"binary"``: balanced over the site order (``[lo, hi)`` split at
        the middle, any n). ``(H, W)``: an image of H*W = n_sites pixels (site
        ``r * W + c``), split in halves across the longer side (rows on a tie), so
        neighbouring pixels share low subtrees. Or an explicit tree of nested pairs of
        site indices, e.g. ``((0, 1), (2, (3, 4)))`` (a pair of two integers always means
        ``(H, W)``).
    max_bond : largest bond dimension the SVD split may keep.
    cutoff : singular values below ``cutoff * s_max`` are discarded at each split.
    init_bond : bond dimension of the random initial state, at most ``max_bond``
        (entries uniform in [0, 1), real and imaginary parts alike for complex dtypes).
        Trees started at bond 2 stalled on the digits at max_bond 4 (test NLL 25.1
        after 6 sweeps against 19.5 from bond 4).
    dtype, device : float64 on the CPU by default; complex dtypes are supported.
    seed : seed of the initial tensors and of the model's own random stream; None: drawn
        from torch's global RNG.

    Attributes: ``tensors`` (node tensors in the post-order of the tree, root last),
    ``structure`` (the tree as nested tuples), ``layout`` ("binary", (H, W) or "tree"),
    ``bonds`` (one per edge, named by the sorted sites below it; the root edge, between
    the two top subtrees, by the sites of the first one), ``bond_dims``, ``center`` (the
    index of the centre node in ``tensors``), ``node_sites`` (the sites below each node).
    """

    default_lr = {"sweep": "line_search", "gradient": 0.02}

    def __init__(self, n_sites: int, local_dim: int = 2, *, layout="binary",
                 max_bond: int = 64, cutoff: float = 0.0, init_bond: int = 4,
                 dtype=torch.float64, device=None, seed: int | None = None):
        super().__init__()
        n_sites = check_count(n_sites, "n_sites")
        if n_sites < 2:
            raise ValueError(f"a TTN Born machine needs n_sites >= 2, got {n_sites}")
        self.support = Discrete(check_local_dim(local_dim))
        local_dim = self.local_dim
        self.max_bond = check_count(max_bond, "max_bond")
        self.cutoff = check_cutoff(cutoff)
        self.init_bond = min(check_count(init_bond, "init_bond"), self.max_bond)
        dtype, device = resolve(dtype, device)
        structure, self.layout = layout_tree(layout, n_sites)
        tree = Tree(structure, n_sites)
        generator = self._start_rng(seed)

        def bond(v):
            below = len(tree.leaves[v])
            return _capped_power(local_dim, min(below, n_sites - below), self.init_bond)

        tensors = []
        for v, pair in enumerate(tree.children):
            shape = tuple(local_dim if c.is_site else bond(c.index) for c in pair)
            shape += (1 if v == tree.root else bond(v),)
            t = torch.rand(shape, generator=generator, dtype=torch.float64)
            if dtype.is_complex:
                t = torch.complex(t, torch.rand(shape, generator=generator, dtype=torch.float64))
            tensors.append(t.to(dtype=dtype, device=device))
        self.tree = tree
        self.n_sites = tree.n_sites
        canonical.canonicalize_from_scratch(tree, tensors, tree.root)
        self._init_network(tensors, tree.root)

    # ------------------------------------------------------------ construction
    @classmethod
    def from_tensors(cls, tensors, tree, *, max_bond: int | None = None,
                     cutoff: float = 0.0, center=None,
                     seed: int | None = None) -> "TTNBornMachine":
        """Build from node tensors ``(D_c1, D_c2, D_p)`` of ``tree`` (nested pairs).

        ``tensors`` are in the post-order of ``tree`` (first subtree, second subtree,
        node; the root last, with parent dimension 1). They are copied, brought into
        canonical form at ``center`` (a node index, or the sites below the node; the
        root by default) and normalized; p(x) is unchanged. ``max_bond`` defaults to
        max(64, largest leg).
        """
        if isinstance(tensors, torch.Tensor) or not hasattr(tensors, "__len__"):
            raise TypeError("tensors must be a list of 3-D torch tensors")
        tensors = list(tensors)
        tree = Tree(tree)
        if len(tensors) != tree.n_nodes:
            raise ValueError(f"a tree over {tree.n_sites} sites has {tree.n_nodes} nodes, "
                             f"got {len(tensors)} tensors")
        local_dim = _validate_tensors(tensors, tree)
        model = cls.__new__(cls)
        GenerativeModel.__init__(model)
        largest = max(max(t.shape) for t in tensors)
        model.max_bond = check_count(max(64, largest) if max_bond is None else max_bond,
                                     "max_bond")
        model.cutoff = check_cutoff(cutoff)
        model.init_bond = largest
        model.support = Discrete(local_dim)
        model.tree = tree
        model.n_sites = tree.n_sites
        model.layout = "tree"
        model._start_rng(seed)
        node = model._center_index(center)
        tensors = [t.detach().clone() for t in tensors]
        canonical.canonicalize_from_scratch(tree, tensors, node)
        model._init_network(tensors, node)
        return model

    # --------------------------------------------------------------- properties
    @property
    def structure(self):
        """The tree as nested tuples of site indices."""
        return self.tree.structure

    @property
    def node_sites(self) -> list[tuple[int, ...]]:
        """The sorted sites below every node (post-order, the root last)."""
        return list(self.tree.leaves)

    @property
    def bonds(self) -> list[Bond]:
        """One bond per edge, in post-order with the root edge last; ``sites`` are those
        below the edge (for the root edge: below the first top subtree)."""
        return [Bond(i, name) for i, name in enumerate(self.tree.edge_names)]

    @property
    def bond_dims(self) -> list[int]:
        """Bond dimension of every edge, aligned with :attr:`bonds` (the root edge: the
        smaller side of the root matrix)."""
        root = self.tree.root
        tensors = list(self.tensors)
        return [min(tensors[v].shape[:2]) if v == root else tensors[v].shape[2]
                for v in self.tree.edges]

    def _center_index(self, center) -> int:
        """A node index from an index or the sites below the node (None: the root)."""
        if center is None:
            return self.tree.root
        if isinstance(center, int) and not isinstance(center, bool):
            if not 0 <= center < self.tree.n_nodes:
                raise ValueError(f"center must be a node index in 0..{self.tree.n_nodes - 1}"
                                 f" or the sites below a node, got {center}")
            return center
        return _node_of(self.tree, center)

    # ------------------------------------------------------------ entanglement
    def bond_spectra(self) -> list[torch.Tensor]:
        """Schmidt coefficients (normalized singular values) at every edge, aligned with
        :attr:`bonds`."""
        with torch.no_grad():
            root = self.tree.root
            return canonical.bond_spectra(self.tree, self._canonical_copy(root), root)

    # ------------------------------------------------------------------ kernels
    def _check_network(self, tensors) -> None:
        if len(tensors) != self.tree.n_nodes:
            raise ValueError(f"the tree has {self.tree.n_nodes} nodes, got {len(tensors)} "
                             "tensors")
        if _validate_tensors(tensors, self.tree) != self.local_dim:
            raise ValueError(f"the tensors' sites have {tensors[0].shape[0]} values, the "
                             f"model {self.local_dim}")

    def _contracted_log_z(self, tensors):
        return contraction.log_norm(self.tree, tensors)

    def _log_abs_amplitudes(self, tensors, x):
        sites = contraction.one_hot(x, self.local_dim, tensors[0].dtype)
        return contraction.log_abs_amplitudes(self.tree, tensors, sites)

    def _shift_center(self, tensors, start, stop) -> None:
        canonical.shift_center(self.tree, tensors, start, stop)

    def _canonicalize_from_scratch(self, tensors, center) -> None:
        canonical.canonicalize_from_scratch(self.tree, tensors, center)

    def _isometry_error(self, tensors, center) -> float:
        return canonical.isometry_error(self.tree, tensors, center)

    def _marginal_log_prob(self, x: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        tensors = self._canonical_copy(self.tree.root)
        return marginal_log_weight(self.tree, tensors, x, known, self.local_dim)

    def _sample(self, num: int, generator) -> torch.Tensor:
        return tree_sample(self.tree, self._canonical_copy(self.tree.root), num,
                           self.local_dim, generator)

    def _conditional_sample(self, x, known, generator) -> torch.Tensor:
        return tree_sample(self.tree, self._canonical_copy(self.tree.root), x.shape[0],
                           self.local_dim, generator, x, known)

    def _fit_sweeps(self, data: torch.Tensor, *, lr, max_step, steps_per_bond,
                    normalized_steps, broadcast_split, **loop_options) -> list[dict]:
        """Two-node learning; see :meth:`fit`. The first update of a sweep merges the
        root with both top nodes, so a centre on any of them is a valid start (a sweep
        ends on the second top node); elsewhere the centre moves to the root first."""
        options = update_options(lr=lr, max_step=max_step, steps_per_bond=steps_per_bond,
                                 max_bond=self.max_bond, cutoff=self.cutoff,
                                 normalized=normalized_steps,
                                 broadcast_split=broadcast_split)
        tree = self.tree
        starts = {tree.root} | set(tree.node_children(tree.root))
        start = self.center if self.center in starts else tree.root
        return fit_by_sweeps(
            self, data, make_learner=lambda tensors, rows: TwoNodeLearner(
                tree, tensors, rows, options, self.local_dim),
            schedule=tree.sweep, start_center=start, center_after=lambda step: step[1],
            options=options, desc="TTN sweeps", **loop_options)

    def _repr_fields(self) -> dict:
        fields = super()._repr_fields()
        layout = self.layout if isinstance(self.layout, str) else \
            f"{self.layout[0]}x{self.layout[1]}"
        return {**fields, "layout": layout}

    # ------------------------------------------------------------------ saving
    def _config(self) -> dict:
        layout = self.layout
        if layout == "tree":  # nested tuples; on 2 sites the only tree is the binary one
            layout = self.tree.structure if self.n_sites > 2 else "binary"
        return {"n_sites": self.n_sites, "local_dim": self.local_dim, "layout": layout,
                "max_bond": self.max_bond, "cutoff": self.cutoff, "init_bond": self.init_bond,
                "dtype": str(self.dtype).replace("torch.", ""), "seed": self.seed}

    @classmethod
    def _from_version_1(cls, config: dict, state: dict) -> "TTNBornMachine":
        """A model from a file of tnborn 0.1 (tensors as a list, the centre as sites)."""
        if config.get("dtype") not in TENSOR_DTYPES:
            raise ValueError(f"unknown dtype {config.get('dtype')!r}")
        model = cls.from_tensors(state["tensors"], config["tree"],
                                 max_bond=config["max_bond"], cutoff=config["cutoff"],
                                 center=config["center"])
        if model.n_sites != config["n_sites"] or model.local_dim != config["local_dim"]:
            raise ValueError("tensors do not match the saved n_sites / local_dim")
        layout = config["layout"]
        model.layout = tuple(layout) if isinstance(layout, list) else layout
        return model


def _capped_power(base: int, exponent: int, cap: int) -> int:
    """``min(base ** exponent, cap)`` without forming huge integers."""
    value = 1
    for _ in range(exponent):
        value *= base
        if value >= cap:
            return cap
    return value


def _node_of(tree: Tree, center) -> int:
    """The node whose sites are ``center`` (any order); ValueError if there is none."""
    try:
        key = tuple(sorted(int(s) for s in center))
    except (TypeError, ValueError):
        raise ValueError(f"center must be the sites of a tree node, got {center!r}") from None
    if key not in tree.node_of_name:
        raise ValueError(f"center {center!r} is not the set of sites below a tree node")
    return tree.node_of_name[key]


def _validate_tensors(tensors: list, tree: Tree) -> int:
    """Check node tensors against ``tree``; return the local dimension. ValueError."""
    first = tensors[0]
    local_dim = None
    for v, t in enumerate(tensors):
        check_network_tensor(t, v, first, "(D_c1, D_c2, D_p)")
        for i, child in enumerate(tree.children[v]):
            dim = t.shape[i]
            if child.is_site:
                local_dim = dim if local_dim is None else local_dim
                if dim != local_dim or dim < 2:
                    raise ValueError(f"tensor {v}: site {child.index} has dimension {dim}, "
                                     f"expected the local dimension {local_dim} (>= 2)")
            elif tensors[child.index].shape[2] != dim:
                raise ValueError(f"bond between tensor {child.index} and its parent {v}: "
                                 f"dimension {tensors[child.index].shape[2]} vs {dim}")
    if tensors[tree.root].shape[2] != 1:
        raise ValueError(f"the root (last tensor) must have parent dimension 1, "
                         f"got {tensors[tree.root].shape[2]}")
    return local_dim
