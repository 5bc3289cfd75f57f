"""Two-node learning of a tree tensor network Born machine (Cheng et al., PRB 99, 155131).

An edge u-v (v the parent of u, s the sibling of u, p the parent leg of v) is updated by
merging the two nodes into a matrix over their four outer legs::

             p                               rows (c1 c2) | columns (s p)
             |
        s ---v                 M = T_u (c1 c2, e) @ T_v (e, s p)
             | e
             u          psi(x_b) = L_b M R_b,  L_b = a_c1 (x) a_c2,  R_b = a_s (x) down_v
            / \\
          c1   c2

``a`` are the per-sample up vectors of the subtrees below each leg (one-hot at sites),
``down_v`` the vector of everything outside v's subtree on v's parent leg. The root edge
merges the top nodes A and B through the root matrix, ``M = T_A @ root @ T_B^T``, with
rows (A's child legs) and columns (B's child legs); a top subtree that is a single site
contributes its physical leg. With ||M|| = 1 (canonical form, Z = 1)

    dNLL/dM* = M - conj(G),   G = sum_b w_b  L_b^T R_b / psi_b,

the step is ``M <- M - 2 lr (M - conj(G))``, capped to ``|step| <= max_step |M|``, then M
is renormalized and split by a truncated SVD, the singular values going to the node the
centre moves to. Every cached vector is normalized per sample; the logarithm of the
factor it lacks is kept beside it (``up_log``, ``down_log``), so that a full-batch
line-searched update can take its truncation check from the next update's line search
(:class:`~tnborn.local_steps.DeferredChecks`). Only vectors that point towards the
centre are kept up to date; an update changes exactly one of them per sample (the one
leaving the updated edge on the side the centre leaves), at O(B D^3) cost, so a sweep
costs O(n B D^4) with the gradient's outer products included.
"""

from __future__ import annotations

import torch

from ..local_steps import DeferredChecks, MatrixProblem, total_log
from ..sweeps import UpdateOptions, split_merged, split_toward
from .contraction import child_vector, leg_vector, normalize_rows, one_hot
from .tree import Child, Tree


def _outer(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise Kronecker product of ``(B, m)`` and ``(B, k)`` -> ``(B, m*k)``."""
    return (a[:, :, None] * b[:, None, :]).reshape(a.shape[0], -1)


class TwoNodeLearner:
    """Cached environments and two-node updates of a tree, acting in place on ``tensors``.

    ``tensors`` (a plain list) must be canonical and normalized with the centre at the
    root or at one of the two top nodes (where a sweep ends); ``data`` is a LongTensor
    ``(U, n)`` of distinct configurations. Updates must follow ``tree.sweep``
    (cyclically) from its start: each needs the centre on one of its nodes and the
    cached vectors pointing towards them.
    """

    def __init__(self, tree: Tree, tensors: list[torch.Tensor], data: torch.Tensor,
                 options: UpdateOptions, local_dim: int):
        self.tree = tree
        self.tensors = tensors
        self.options = options
        self.sites = one_hot(data, local_dim, tensors[0].dtype)
        n = tree.n_nodes
        self.up: list[torch.Tensor | None] = [None] * n
        self.down: list[torch.Tensor | None] = [None] * n
        # ln of the factor each sample's up / down vector lacks
        self.up_log: list[torch.Tensor | None] = [None] * n
        self.down_log: list[torch.Tensor | None] = [None] * n
        for v in range(n):  # children before parents
            self._refresh_up(v)
        self._checks = DeferredChecks(options)

    def _vector(self, child: Child) -> torch.Tensor:
        return child_vector(child, self.sites, self.up)

    def _log(self, child: Child) -> torch.Tensor | None:
        return None if child.is_site else self.up_log[child.index]

    def _refresh_up(self, u: int) -> None:
        first, second = self.tree.children[u]
        vector = leg_vector(self.tensors[u], 2, self._vector(first), self._vector(second))
        self.up[u], norm = normalize_rows(vector)
        self.up_log[u] = total_log([torch.log(norm), self._log(first), self._log(second)])

    def _set_down(self, u: int, vector: torch.Tensor, logs: list) -> None:
        self.down[u], norm = normalize_rows(vector)
        self.down_log[u] = total_log([torch.log(norm)] + logs)

    def settle(self) -> None:
        """Check the last update's truncated split now (the end of a sweep)."""
        self._checks.settle()

    def update(self, cut: int, toward: int, rows: torch.Tensor | None,
               weights: torch.Tensor) -> None:
        """Gradient step(s) on the edge ``cut`` (a node, or the root for the root edge),
        split, and leave the centre on node ``toward``.

        ``rows``: indices of the configurations in this batch (None: all); ``weights``:
        their weights, summing to 1.
        """
        if cut == self.tree.root:
            self._update_root(toward, rows, weights)
        else:
            self._update_edge(cut, toward, rows, weights)

    def _problem(self, left_vectors, right_vectors, rows, weights) -> MatrixProblem:
        """The local problem of the batch: its environments on both sides."""
        if rows is not None:
            left_vectors = [v.index_select(0, rows) for v in left_vectors]
            right_vectors = [v.index_select(0, rows) for v in right_vectors]
        left, right = (vs[0] if len(vs) == 1 else _outer(*vs)
                       for vs in (left_vectors, right_vectors))
        return MatrixProblem(left, right, weights)

    def _update_edge(self, u: int, toward: int, rows, weights) -> None:
        tree = self.tree
        v, i = tree.parent[u], tree.slot[u]
        sibling = tree.children[v][1 - i]
        tu, tv = self.tensors[u], self.tensors[v]
        if i == 1:
            tv = tv.permute(1, 0, 2)  # legs (e, s, p)
        (d1, d2, de), (_, ds, dp) = tu.shape, tv.shape
        merged = tu.reshape(d1 * d2, de) @ tv.reshape(de, ds * dp)
        problem = self._problem([self._vector(c) for c in tree.children[u]],
                                [self._vector(sibling), self.down[v]], rows, weights)
        side = "left" if toward == v else "right"

        def commit(factors):
            uu, vh = factors
            self.tensors[u] = uu.reshape(d1, d2, -1).contiguous()  # as loaded tensors are
            new_v = vh.reshape(-1, ds, dp)
            self.tensors[v] = (new_v.permute(1, 0, 2) if i == 1 else new_v).contiguous()
            if toward == v:
                self._refresh_up(u)
            else:
                vector = leg_vector(self.tensors[v], i, self._vector(sibling), self.down[v])
                self._set_down(u, vector, [self._log(sibling), self.down_log[v]])

        self._checks.update(merged, problem, rows, weights,
                            [self._log(c) for c in tree.children[u]]
                            + [self._log(sibling), self.down_log[v]],
                            lambda m: split_toward(m, self.options, side), commit,
                            lambda: self._update_edge(u, toward, rows, weights))

    def _update_root(self, toward: int, rows, weights) -> None:
        tree = self.tree
        root = tree.root
        tops = tree.children[root]
        merged = self.tensors[root][:, :, 0]
        legs, logs = [], []
        for side, top in enumerate(tops):
            if top.is_site:
                legs.append([self._vector(top)])
                continue
            legs.append([self._vector(c) for c in tree.children[top.index]])
            logs += [self._log(c) for c in tree.children[top.index]]
            t = self.tensors[top.index]
            matrix = t.reshape(-1, t.shape[2])
            merged = matrix @ merged if side == 0 else merged @ matrix.T
        problem = self._problem(legs[0], legs[1], rows, weights)
        self._checks.update(merged, problem, rows, weights, logs,
                            lambda m: split_merged(m, self.options),
                            lambda factors: self._commit_root(toward, *factors),
                            lambda: self._update_root(toward, rows, weights),
                            product=lambda f: (f[0] * f[1]) @ f[2])

    def _commit_root(self, toward: int, uu, s, vh) -> None:
        """The root edge's split ``uu s vh`` into the tree, the centre on ``toward``."""
        tree = self.tree
        root = tree.root
        tops = tree.children[root]
        middle = torch.ones_like(s)
        if _is_node(tops[0], toward):
            uu = uu * s
        elif _is_node(tops[1], toward):
            vh = s[:, None] * vh
        else:
            middle = s
        core = torch.diag(middle)
        for side, (top, factor) in enumerate(zip(tops, (uu, vh.T))):
            if top.is_site:  # the factor stays in the root matrix
                core = factor @ core if side == 0 else core @ factor.T
            else:
                t = self.tensors[top.index]
                self.tensors[top.index] = factor.reshape(t.shape[0], t.shape[1], -1).contiguous()
        self.tensors[root] = core[:, :, None].contiguous()
        for top in tops:
            if not top.is_site and top.index != toward:
                self._refresh_up(top.index)
        if _is_node(tops[0], toward):
            self._set_down(toward, self._vector(tops[1]) @ core.T, [self._log(tops[1])])
        elif _is_node(tops[1], toward):
            self._set_down(toward, self._vector(tops[0]) @ core, [self._log(tops[0])])


def _is_node(child: Child, node: int) -> bool:
    return not child.is_site and child.index == node
