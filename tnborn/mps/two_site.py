"""DMRG-style two-site learning of an MPS Born machine (Han et al., PRX 8, 031012).

At the centre pair (k, k+1) the two tensors are merged::

        x_k  x_k+1
         |    |
    l ---M-------- r        M: (D_l, d*d, D_r),  psi(x_b) = L_b M[:, (x_k, x_k+1), :] R_b

L_b (the row vector of sites < k) and R_b (the column vector of sites > k+1) are cached
per training configuration. Their scale is irrelevant to a step (the gradient term
Psi'_b / psi_b does not depend on it), so they are only renormalized every few sites to
stay clear of under- and overflow; the logarithms of the factors divided out are kept per
row (``left_log``, ``right_log``), so that the NLL a line search sees at one pair can be
compared with another pair's: in a full-batch sweep the truncation check of a
line-searched update is the next update's phi(0)
(:class:`~tnborn.local_steps.DeferredChecks`), not one more amplitude evaluation (and,
across ranks, one more collective). With ||M|| = 1 (so Z = 1) the gradient of the
weighted mean NLL is

    dNLL/dM* = M - conj(G),   G = sum_b w_b  (L_b (x) e_{x_k x_k+1} (x) R_b) / psi_b

(w_b = weights summing to 1); the step is M <- M - 2 lr (M - conj(G)), capped to
``|step| <= max_step |M|``, then M is renormalized and split by a truncated SVD.

The configurations are grouped by their pair value p = (x_k, x_k+1), so psi_b and G[:, p, :]
take one (B_p x D) @ (D x D) product per group: B x D^2 work per gradient step, not the
B x D^2 x d^2 of contracting every p for every configuration. Moving the centre updates
one environment per configuration (B x D x d x D work), so a sweep costs O(n B D^2 d)
plus the SVDs.
"""

from __future__ import annotations

import torch

from ..backend import tiny
from ..local_steps import DeferredChecks
from ..sweeps import UpdateOptions, split_toward
from .pair_problems import DensePairProblem, GroupedPairProblem

_RENORMALIZE_EVERY = 8
#: the dense local problem up to this D_l D_r; CPU time of a line-searched sweep on 1,000
#: MNIST images, dense against grouped: D = 10 0.93x, D = 20 1.13x, D = 32 1.48x
DENSE_MAX = 128


def _normalize_rows(v: torch.Tensor, log: torch.Tensor | None):
    """``v (B, D)`` with unit rows, and ``log (B,)`` (None: zeros) plus the logarithms
    of the norms divided out."""
    norm = torch.linalg.vector_norm(v, dim=1, keepdim=True).clamp_min(tiny(v.real.dtype))
    divided = norm.log().view(-1)
    return v / norm, divided if log is None else log + divided


class TwoSiteLearner:
    """Environments and two-site updates for a list of MPS tensors, updated in place.

    ``tensors`` must be canonical with the centre at site ``center`` and normalized;
    environments are built for the pair (center, center+1). ``data`` is a LongTensor
    ``(U, n)`` of distinct configurations.
    """

    def __init__(self, tensors: list[torch.Tensor], data: torch.Tensor, options: UpdateOptions,
                 center: int = 0):
        self.tensors = tensors
        self.options = options
        n = len(tensors)
        self.n_sites = n
        d = tensors[0].shape[1]
        self.d = d
        rows = torch.arange(data.shape[0], device=data.device)
        # row of each configuration in a (U*d, D) view of a per-site product: (n, U)
        self.site_rows = (rows * d + data.T).contiguous()
        # value index (x_k, x_k+1) of each configuration at each pair: (n-1, U)
        self.pairs = (data[:, :-1] * d + data[:, 1:]).T.contiguous()
        # configurations sorted by pair value at each pair, and the size of each group
        self.pair_order = torch.argsort(self.pairs, dim=1, stable=True)
        counts = torch.zeros(n - 1, d * d, dtype=torch.long, device=data.device)
        self.pair_counts = counts.scatter_add_(1, self.pairs, torch.ones_like(self.pairs)).tolist()
        ones = torch.ones(data.shape[0], 1, dtype=tensors[0].dtype, device=data.device)
        self.left: list[torch.Tensor | None] = [None] * (n + 1)
        self.right: list[torch.Tensor | None] = [None] * (n + 1)
        self.left[0] = ones
        self.right[n] = ones
        # ln of the factor each row of left[k] / right[k] lacks (None: none, or unused)
        self.left_log: list[torch.Tensor | None] = [None] * (n + 1)
        self.right_log: list[torch.Tensor | None] = [None] * (n + 1)
        self._checks = DeferredChecks(options)
        for k in range(center):
            self._extend_left(k)
        for k in range(n - 1, center + 1, -1):
            self._extend_right(k)

    # ------------------------------------------------------- local problems
    def _problem(self, k: int, rows: torch.Tensor | None, weights: torch.Tensor):
        """The local problem of pair (k, k+1): dense for bonds D_l D_r up to
        :data:`DENSE_MAX`, else with the configurations sorted by pair value."""
        left, right = self.left[k], self.right[k + 2]
        if left.shape[1] * right.shape[1] <= DENSE_MAX:
            pairs = self.pairs[k]
            if rows is not None:
                left, right, pairs = (t.index_select(0, rows) for t in (left, right, pairs))
            return DensePairProblem(left, right, weights, pairs, self.d * self.d)
        if rows is None:
            order, counts = self.pair_order[k], self.pair_counts[k]
            weights = weights.index_select(0, order)
        else:
            pairs = self.pairs[k].index_select(0, rows)
            sorting = torch.argsort(pairs, stable=True)
            order = rows.index_select(0, sorting)
            weights = weights.index_select(0, sorting)
            counts = torch.bincount(pairs, minlength=self.d * self.d).tolist()
        return GroupedPairProblem(left.index_select(0, order), right.index_select(0, order),
                                  weights, counts)

    # ------------------------------------------------------------ environments
    def _extend_left(self, k: int) -> None:
        """left[k+1] from left[k] and the (left-isometric) site k."""
        a = self.tensors[k]
        dl, d, dr = a.shape
        w = (self.left[k] @ a.reshape(dl, d * dr)).view(-1, dr)
        v = w.index_select(0, self.site_rows[k])
        if k % _RENORMALIZE_EVERY == 0:
            self.left[k + 1], self.left_log[k + 1] = _normalize_rows(v, self.left_log[k])
        else:
            self.left[k + 1], self.left_log[k + 1] = v, self.left_log[k]

    def _extend_right(self, k: int) -> None:
        """right[k] from right[k+1] and the (right-isometric) site k."""
        a = self.tensors[k]
        dl, d, dr = a.shape
        w = (self.right[k + 1] @ a.permute(2, 1, 0).reshape(dr, d * dl)).view(-1, dl)
        v = w.index_select(0, self.site_rows[k])
        if k % _RENORMALIZE_EVERY == 0:
            self.right[k], self.right_log[k] = _normalize_rows(v, self.right_log[k + 1])
        else:
            self.right[k], self.right_log[k] = v, self.right_log[k + 1]

    # ------------------------------------------------------------------ update
    def update(self, k: int, moving_right: bool, rows: torch.Tensor | None,
               weights: torch.Tensor) -> None:
        """Gradient step(s) on the merged pair (k, k+1), split, move the centre.

        ``rows``: indices of the configurations in this batch (None: all), ``weights``:
        their weights, summing to 1. A full-batch line-searched update leaves the check
        of its truncated split to the next update, or to :meth:`settle`.
        """
        opts = self.options
        a, b = self.tensors[k], self.tensors[k + 1]
        (dl, d, dm), dr = a.shape, b.shape[2]
        merged = (a.reshape(dl * d, dm) @ b.reshape(dm, d * dr)).view(dl, d * d, dr)
        side = "left" if moving_right else "right"

        def split(m):
            return split_toward(m.reshape(dl * d, d * dr), opts, side)

        def commit(factors):
            self._commit(k, moving_right, factors)

        self._checks.update(merged, self._problem(k, rows, weights), rows, weights,
                            [self.left_log[k], self.right_log[k + 2]], split, commit,
                            lambda: self.update(k, moving_right, rows, weights))

    def settle(self) -> None:
        """Check the last update's truncated split now (the end of a sweep)."""
        self._checks.settle()

    def _commit(self, k: int, moving_right: bool, factors) -> None:
        """The split ``factors`` of pair k in the network; the centre moves on."""
        left, right = factors
        (dl, d, _), dr = self.tensors[k].shape, self.tensors[k + 1].shape[2]
        # the new tensors are stored contiguous, as loaded ones are, so that a run resumed
        # from a checkpoint repeats the arithmetic of the run it continues exactly
        self.tensors[k] = left.reshape(dl, d, -1).contiguous()
        self.tensors[k + 1] = right.reshape(-1, d, dr).contiguous()
        if moving_right:
            if k + 2 < self.n_sites:
                self.right[k + 2] = self.right_log[k + 2] = None
            self._extend_left(k)
        else:
            if k > 0:
                self.left[k] = self.left_log[k] = None
            self._extend_right(k + 1)
