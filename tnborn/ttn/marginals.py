"""Exact marginal probabilities p(x_S) of a TTN Born machine for any set S of sites.

With the centre at the root every node is an isometry from its children towards the
root, so a subtree without sites of S sums to the identity on its parent leg and is never
contracted. Below every other node the summed weight is carried per sample as a factor
W (B, r, D) of the leg environment W^T conj(W)::

                p                      W_p[(r1, r2), p] = sum W1[r1, c1] W2[r2, c2] T[c1, c2, p]
                |
        W1 --c1-T-c2-- W2              a site of S:   W = one-hot row of its value (r = 1)
                                       a summed leg:  W = identity (r = D)

The rows multiply at every node; once they outnumber the columns, W is replaced by the R
factor of its QR decomposition (same environment, at most D rows). Every W is normalized
per sample and the log of its norm accumulated; at the root p(x_S) = ||W||^2 / Z.
"""

from __future__ import annotations

import torch

from ..backend import contract, tiny
from .tree import Tree


def marginal_log_weight(tree: Tree, tensors: list[torch.Tensor], x: torch.Tensor,
                        known: torch.Tensor, local_dim: int) -> torch.Tensor:
    """ln (Z p(x_S)), ``(B,)``, for ``known`` the bool mask ``(n,)`` of S; the centre
    must be at the root (Z is the squared norm of the root tensor)."""
    batch = x.shape[0]
    first = tensors[0]
    floor = tiny(first.dtype)
    log_scale = torch.zeros(batch, dtype=first.real.dtype, device=first.device)
    sites: list[torch.Tensor | None] = [None] * tree.n_sites
    for s in torch.nonzero(known).flatten().tolist():
        sites[s] = torch.nn.functional.one_hot(x[:, s], local_dim).to(first.dtype)[:, None, :]
    factors: list[torch.Tensor | None] = [None] * tree.n_nodes
    for v, pair in enumerate(tree.children):
        below = [sites[c.index] if c.is_site else factors[c.index] for c in pair]
        if below[0] is None and below[1] is None:
            continue
        t = tensors[v]
        d1, d2, dp = t.shape
        w1, w2 = (w if w is not None else
                  torch.eye(t.shape[i], dtype=t.dtype, device=t.device).expand(batch, -1, -1)
                  for i, w in enumerate(below))
        r1, r2 = w1.shape[1], w2.shape[1]
        u = (w1.reshape(batch * r1, d1) @ t.reshape(d1, d2 * dp)).view(batch, r1, d2, dp)
        w = contract("bsc,brcp->brsp", w2, u).reshape(batch, r1 * r2, dp)
        if r1 * r2 > dp:
            w = torch.linalg.qr(w, mode="r").R
        norm = torch.linalg.matrix_norm(w).clamp_min(floor)
        log_scale += torch.log(norm)
        factors[v] = w / norm[:, None, None]
        for c in pair:
            if not c.is_site:
                factors[c.index] = None
    return 2.0 * log_scale
