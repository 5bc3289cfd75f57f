"""Exact marginal probabilities p(x_S) of an MPS Born machine for any set S of sites.

p(x_S) = sum over the other sites of |psi(x)|^2. In mixed-canonical form with the centre
at the first site f of S, every site left of f is left-isometric and every site right of
the last site l of S right-isometric, so both outer parts sum to identities. Only the
segment f..l is contracted, per sample, as a factor W (B, r, D) of the environment
W^H W (shown for a segment with one summed site in the middle)::

    W_f = identity (D_f rows)                         known site:   W' = W A[x_k]
      |                                               summed site:  W' = [W A[0]; W A[1]; ..]
    --A_f[x_f]--A_{f+1}[:]--A_l[x_l]--  (rows stack)  p(x_S) = ||W_l||_F^2 / Z

A summed site multiplies the rows by d; once there are more rows than columns, W is
replaced by the R factor of its QR decomposition (same W^H W, at most D rows). Each W is
normalized per sample and the log of its norm accumulated (no underflow at 784 sites).
The contraction runs from whichever end of the segment has the smaller outer bond (from
the right on the reversed chain), so prefix and suffix marginals cost O(B D^2 d) per site.
"""

from __future__ import annotations

import torch

from ..backend import tiny


def reversed_chain(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    """The same state on the mirrored chain: site k becomes n-1-k, legs (r, p, l)."""
    return [t.permute(2, 1, 0) for t in reversed(tensors)]


def segment_log_weight(tensors: list[torch.Tensor], x: torch.Tensor,
                       known: torch.Tensor) -> torch.Tensor:
    """ln ||W||_F^2 after contracting ``tensors`` (the segment, first site known) with
    the identity on its left bond, ``(B,)``. ``x``: ``(B, m)`` values on the segment;
    ``known``: bool ``(m,)``; unknown sites are summed over."""
    batch = x.shape[0]
    first = tensors[0]
    rows = torch.arange(batch, device=x.device)
    eye = torch.eye(first.shape[0], dtype=first.dtype, device=first.device)
    w = eye.expand(batch, -1, -1)
    log_scale = torch.zeros(batch, dtype=first.real.dtype, device=first.device)
    floor = tiny(first.dtype)
    for k, a in enumerate(tensors):
        dl, d, dr = a.shape
        r = w.shape[1]
        full = (w.reshape(batch * r, dl) @ a.reshape(dl, d * dr)).view(batch, r, d, dr)
        if bool(known[k]):
            w = full[rows, :, x[:, k]]
        else:
            w = full.reshape(batch, r * d, dr)
            if r * d > dr:
                w = torch.linalg.qr(w, mode="r").R
        norm = torch.linalg.matrix_norm(w)
        log_scale += torch.log(norm.clamp_min(floor))
        w = w / norm.clamp_min(floor)[:, None, None]
    return 2.0 * log_scale


def prefix_log_weights(tensors: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """ln ||A_0[x_0] .. A_{k-1}[x_{k-1}]||^2 for k = 1..n, ``(B, n)``.

    With every site right of the prefix right-isometric (centre at site 0, norm Z on
    it) these are ln (Z p(x_<k)) for every k in one pass.
    """
    batch, n = x.shape
    rows = torch.arange(batch, device=x.device)
    v = tensors[0][0, x[:, 0], :]
    out = torch.empty(batch, n, dtype=v.real.dtype, device=v.device)
    log_scale = torch.zeros(batch, dtype=v.real.dtype, device=v.device)
    floor = tiny(v.dtype)
    for k in range(n):
        if k:
            a = tensors[k]
            dl, d, dr = a.shape
            v = (v @ a.reshape(dl, d * dr)).view(batch, d, dr)[rows, x[:, k]]
        norm = torch.linalg.vector_norm(v, dim=1)
        log_scale += torch.log(norm.clamp_min(floor))
        v = v / norm.clamp_min(floor)[:, None]
        out[:, k] = 2.0 * log_scale
    return out
