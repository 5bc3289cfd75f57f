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
from ..base import GenerativeModel, _check_count
from ..born import TENSOR_DTYPES, TensorNetworkBornMachine, check_network_tensor
from ..linalg import check_alpha, spectrum_entropy
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
    seed : seed of the initial tensors (a fresh random state when None).

    Attributes: ``tensors`` (node tensors in the post-order of the tree, root last),
    ``structure`` (the tree as nested tuples), ``layout`` ("binary", (H, W) or "tree"),
    ``edges``, ``bond_dims``, ``center``. Edges are named by the sorted tuple of the
    sites below them; the root edge (between the two top subtrees) by the sites of the
    first top subtree.
    """

    default_lr = 0.05

    def __init__(self, n_sites: int, local_dim: int = 2, *, layout="binary",
                 max_bond: int = 64, cutoff: float = 0.0, init_bond: int = 4,
                 dtype=torch.float64, device=None, seed: int | None = None):
        super().__init__()
        n_sites = _check_count(n_sites, "n_sites")
        if n_sites < 2:
            raise ValueError(f"a TTN Born machine needs n_sites >= 2, got {n_sites}")
        local_dim = _check_count(local_dim, "local_dim")
        if local_dim < 2:
            raise ValueError(f"local_dim must be >= 2, got {local_dim}")
        self.max_bond = _check_count(max_bond, "max_bond")
        self.cutoff = check_cutoff(cutoff)
        self.init_bond = min(_check_count(init_bond, "init_bond"), self.max_bond)
        dtype, device = resolve(dtype, device)
        structure, self.layout = layout_tree(layout, n_sites)
        tree = Tree(structure, n_sites)
        generator = torch.Generator()
        generator.manual_seed(int(seed) if seed is not None else int(torch.seed()))

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
        self._set_tensors(tree, local_dim, tensors, tree.root)

    # ------------------------------------------------------------ construction
    @classmethod
    def from_tensors(cls, tensors, tree, *, max_bond: int | None = None,
                     cutoff: float = 0.0, center=None) -> "TTNBornMachine":
        """Build from node tensors ``(D_c1, D_c2, D_p)`` of ``tree`` (nested pairs).

        ``tensors`` are in the post-order of ``tree`` (first subtree, second subtree,
        node; the root last, with parent dimension 1). They are copied, brought into
        canonical form at ``center`` (a node's sorted site tuple; the root by default)
        and normalized; p(x) is unchanged. ``max_bond`` defaults to max(64, largest leg).
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
        model.max_bond = _check_count(max(64, largest) if max_bond is None else max_bond,
                                      "max_bond")
        model.cutoff = check_cutoff(cutoff)
        model.init_bond = largest
        node = tree.root if center is None else _node_of(tree, center)
        model._set_tensors(tree, local_dim, [t.clone() for t in tensors], node)
        model.layout = "tree"
        return model

    def _set_tensors(self, tree: Tree, local_dim: int, tensors: list[torch.Tensor],
                     center: int) -> None:
        canonical.canonicalize_from_scratch(tree, tensors, center)
        self.tree = tree
        self.n_sites = tree.n_sites
        self.local_dim = local_dim
        self.tensors = tensors
        self._center = center

    # --------------------------------------------------------------- properties
    @property
    def structure(self):
        """The tree as nested tuples of site indices."""
        return self.tree.structure

    @property
    def edges(self) -> list[tuple[int, ...]]:
        """Edge names (sorted site tuples below each edge), nodes in post-order with the
        root edge last."""
        return list(self.tree.edge_names)

    @property
    def bond_dims(self) -> dict[tuple[int, ...], int]:
        """Bond dimension of every edge (the root edge: the smaller side of the root)."""
        root = self.tree.root
        return {name: (min(self.tensors[v].shape[:2]) if v == root
                       else self.tensors[v].shape[2])
                for name, v in zip(self.tree.edge_names, self.tree.edges)}

    @property
    def center(self) -> tuple[int, ...]:
        """The centre node, named by its sorted sites (the root: all sites)."""
        return self.tree.leaves[self._center]

    def canonicalize(self, center=None) -> "TTNBornMachine":
        """Move the centre to a node given by its sites (QR); None: the root. Returns self."""
        node = self.tree.root if center is None else _node_of(self.tree, center)
        canonical.shift_center(self.tree, self.tensors, self._center, node)
        self._center = node
        return self

    def log_norm(self) -> float:
        """ln Z of the state contracted as it stands (0 up to rounding: it is kept normalized)."""
        return contraction.log_norm(self.tree, self.tensors)

    # ------------------------------------------------------------ entanglement
    def bond_spectra(self) -> dict[tuple[int, ...], torch.Tensor]:
        """Schmidt coefficients (normalized singular values) at every edge."""
        spectra = canonical.bond_spectra(self.tree, self.tensors, self._center)
        return dict(zip(self.tree.edge_names, spectra))

    def entanglement_entropy(self, alpha: float = 1.0) -> dict[tuple[int, ...], float]:
        """Entanglement entropy (nats) across every edge, ``{edge name: entropy}``.

        An edge cuts the sites below it from the rest. ``alpha=1`` is von Neumann,
        otherwise Renyi ``S_alpha = ln(sum lambda^alpha) / (1 - alpha)`` with
        ``lambda = s^2`` the Schmidt spectrum.
        """
        alpha = check_alpha(alpha)
        return {name: float(spectrum_entropy(s ** 2, alpha))
                for name, s in self.bond_spectra().items()}

    # ------------------------------------------------------------------ kernels
    def _log_prob(self, x: torch.Tensor) -> torch.Tensor:
        log_z = 2.0 * torch.log(torch.linalg.norm(self.tensors[self._center]))
        sites = contraction.one_hot(x, self.local_dim, self.dtype)
        return 2.0 * contraction.upward(self.tree, self.tensors, sites)[0] - log_z

    def _marginal_log_prob(self, x: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        self.canonicalize()
        log_z = 2.0 * torch.log(torch.linalg.norm(self.tensors[self._center]))
        return marginal_log_weight(self.tree, self.tensors, x, known, self.local_dim) - log_z

    def _sample(self, num: int, generator) -> torch.Tensor:
        self.canonicalize()
        return tree_sample(self.tree, self.tensors, num, self.local_dim, generator)

    def _conditional_sample(self, x, known, generator) -> torch.Tensor:
        self.canonicalize()
        return tree_sample(self.tree, self.tensors, x.shape[0], self.local_dim, generator,
                           x, known)

    def _fit(self, data: torch.Tensor, *, sweeps: int = 10, lr: float = 0.05,
             batch_size: int | None = None, test_data: torch.Tensor | None = None,
             progress: bool = True, max_step: float | None = 0.5, steps_per_bond: int = 1,
             normalized_steps: bool = False, generator: torch.Generator | None = None,
             max_seconds: float | None = None) -> list[dict]:
        """Two-node learning; see :meth:`fit`."""
        options = update_options(lr=lr, max_step=max_step, steps_per_bond=steps_per_bond,
                                 max_bond=self.max_bond, cutoff=self.cutoff,
                                 normalized=normalized_steps)
        self.canonicalize()

        def moved(step):
            self._center = step[1]

        return fit_by_sweeps(self, data, make_learner=lambda rows: TwoNodeLearner(
                                 self.tree, self.tensors, rows, options, self.local_dim),
                             schedule=self.tree.sweep, sweeps=sweeps, batch_size=batch_size,
                             test_data=test_data, progress=progress, generator=generator,
                             largest_bond=lambda: max(self.bond_dims.values()),
                             desc="TTN sweeps", after_update=moved, max_seconds=max_seconds)

    # ------------------------------------------------------------------ saving
    def _config(self) -> dict:
        layout = list(self.layout) if isinstance(self.layout, tuple) else self.layout
        return {"n_sites": self.n_sites, "local_dim": self.local_dim,
                "max_bond": self.max_bond, "cutoff": self.cutoff, "dtype": str(self.dtype),
                "tree": self.tree.to_lists(), "layout": layout,
                "center": list(self.center)}

    @classmethod
    def _from_saved(cls, config: dict, state: dict) -> "TTNBornMachine":
        if config.get("dtype") not in TENSOR_DTYPES:
            raise ValueError(f"unknown dtype {config.get('dtype')!r}")
        model = cls.from_tensors(state["tensors"], config["tree"],
                                 max_bond=config["max_bond"], cutoff=config["cutoff"],
                                 center=config["center"])
        if model.n_sites != config["n_sites"] or model.local_dim != config["local_dim"]:
            raise ValueError("tensors do not match the saved n_sites / local_dim")
        if str(model.dtype) != config["dtype"]:
            raise ValueError(f"tensors have dtype {model.dtype}, config says {config['dtype']}")
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
