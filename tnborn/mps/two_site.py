"""DMRG-style two-site learning of an MPS Born machine (Han et al., PRX 8, 031012).

At the centre pair (k, k+1) the two tensors are merged::

        x_k  x_k+1
         |    |
    l ---M-------- r        M: (D_l, d, d, D_r),  psi(x_b) = L_b M[:, x_k, x_k+1, :] R_b

L_b (the row vector of sites < k) and R_b (the column vector of sites > k+1) are cached
per training configuration, normalized (the gradient Psi'_b / psi_b does not depend on
their scale). With ||M|| = 1 (so Z = 1) the gradient of the mean NLL is

    dNLL/dM* = M - conj(G),   G = sum_b w_b  (L_b (x) e_{x_k} (x) e_{x_k+1} (x) R_b) / psi_b

(w_b = weights summing to 1); the step is M <- M - 2 lr (M - conj(G)), capped to
``|step| <= max_step |M|``, then M is renormalized and split by a truncated SVD. Moving
the centre updates one environment per configuration (B x D x d x D work), so a sweep
costs O(n B D^2 d^2) plus the SVDs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..backend import contract
from ..linalg import truncated_svd
from .contraction import tiny


@dataclass
class TwoSiteOptions:
    """Hyper-parameters of one two-site update."""

    lr: float
    max_step: float | None
    steps_per_bond: int
    max_bond: int
    cutoff: float


def _normalize_rows(v: torch.Tensor) -> torch.Tensor:
    norm = torch.linalg.vector_norm(v, dim=1, keepdim=True)
    return v / norm.clamp_min(tiny(v.dtype))


class TwoSiteLearner:
    """Environments and two-site updates for a list of MPS tensors, updated in place.

    ``tensors`` must be canonical with the centre at site 0 and normalized. ``data`` is a
    LongTensor ``(U, n)`` of distinct configurations.
    """

    def __init__(self, tensors: list[torch.Tensor], data: torch.Tensor, options: TwoSiteOptions):
        self.tensors = tensors
        self.data = data
        self.options = options
        n = len(tensors)
        self.n_sites = n
        self.rows = torch.arange(data.shape[0], device=data.device)
        d = tensors[0].shape[1]
        self.pairs = data[:, :-1] * d + data[:, 1:]  # (U, n-1) index of (x_k, x_k+1)
        ones = torch.ones(data.shape[0], 1, dtype=tensors[0].dtype, device=data.device)
        self.left: list[torch.Tensor | None] = [None] * (n + 1)
        self.right: list[torch.Tensor | None] = [None] * (n + 1)
        self.left[0] = ones
        self.right[n] = ones
        for k in range(n - 1, 0, -1):
            self._extend_right(k)

    # ------------------------------------------------------------ environments
    def _extend_left(self, k: int) -> None:
        """left[k+1] from left[k] and the (left-isometric) site k."""
        a = self.tensors[k]
        dl, d, dr = a.shape
        w = (self.left[k] @ a.reshape(dl, d * dr)).reshape(-1, d, dr)
        self.left[k + 1] = _normalize_rows(w[self.rows, self.data[:, k]])

    def _extend_right(self, k: int) -> None:
        """right[k] from right[k+1] and the (right-isometric) site k."""
        a = self.tensors[k]
        dl, d, dr = a.shape
        w = (self.right[k + 1] @ a.permute(2, 1, 0).reshape(dr, d * dl)).reshape(-1, d, dl)
        self.right[k] = _normalize_rows(w[self.rows, self.data[:, k]])

    # ------------------------------------------------------------------ update
    def update(self, k: int, moving_right: bool, rows: torch.Tensor | None,
               weights: torch.Tensor) -> None:
        """Gradient step(s) on the merged pair (k, k+1), split, move the centre.

        ``rows``: indices of the configurations in this batch (None: all), ``weights``:
        their weights, summing to 1.
        """
        opts = self.options
        a, b = self.tensors[k], self.tensors[k + 1]
        dl, d, _ = a.shape
        dr = b.shape[2]
        merged = contract("apb,bqc->apqc", a, b).reshape(dl, d * d, dr)
        left, right, pairs = self.left[k], self.right[k + 2], self.pairs[:, k]
        if rows is not None:
            left, right, pairs = left[rows], right[rows], pairs[rows]
        batch = pairs.shape[0]
        batch_rows = torch.arange(batch, device=pairs.device)
        one_hot = torch.nn.functional.one_hot(pairs, d * d).to(left.dtype)
        floor = tiny(left.dtype)
        for _ in range(opts.steps_per_bond):
            selected = (left @ merged.reshape(dl, d * d * dr)).reshape(batch, d * d, dr)
            psi = (selected[batch_rows, pairs] * right).sum(-1)
            psi = torch.where(psi.abs() < floor, torch.full_like(psi, floor), psi)
            coef = weights.to(psi.dtype) / psi
            weighted = (left * coef[:, None])[:, :, None] * one_hot[:, None, :]
            grad_term = (weighted.reshape(batch, dl * d * d).mT @ right).reshape(dl, d * d, dr)
            step = 2.0 * opts.lr * (merged - grad_term.conj())
            if opts.max_step is not None:
                step_norm = torch.linalg.norm(step)
                limit = opts.max_step * torch.linalg.norm(merged)
                step = step * torch.clamp(limit / step_norm.clamp_min(floor), max=1.0)
            merged = merged - step
            merged = merged / torch.linalg.norm(merged)
        u, s, vh = truncated_svd(merged.reshape(dl * d, d * dr), opts.max_bond, opts.cutoff)
        s = (s / torch.linalg.norm(s)).to(u.dtype)
        if moving_right:
            self.tensors[k] = u.reshape(dl, d, -1)
            self.tensors[k + 1] = (s[:, None] * vh).reshape(-1, d, dr)
            self.right[k + 2] = None if k + 2 < self.n_sites else self.right[k + 2]
            self._extend_left(k)
        else:
            self.tensors[k] = (u * s[None, :]).reshape(dl, d, -1)
            self.tensors[k + 1] = vh.reshape(-1, d, dr)
            self.left[k] = None if k > 0 else self.left[k]
            self._extend_right(k + 1)
