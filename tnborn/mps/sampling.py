"""Exact sampling from an MPS in canonical form with the centre at site 0.

Zipper sampling: with sites 1..n-1 right-isometric, p(x_1) = ||A_1[x_1]||^2 and
p(x_k | x_<k) = ||v A_k[x_k]||^2 for the normalized left row vector v of the sampled
prefix. One matmul per site serves the whole batch::

    v (B, D) @ A_k (D, d*D') -> w (B, d, D'),  p(x) = sum_j |w[:, x, j]|^2

Conditional sampling for known sites anywhere adds per-sample right environments
E_k = sum_{allowed x} A_k[x] E_{k+1} A_k[x]^H (allowed: every x at unknown sites, the
given value at known ones); then p(x | past, known) is proportional to w_x E_{k+1} w_x^H.
Right of the last known site every E is the identity (right isometry), so those sites
are sampled exactly as in the zipper.
"""

from __future__ import annotations

import torch

from ..backend import contract, draw_categorical, tiny


def _squared_norms(w: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(w, dim=-1).square_()


def _site_pairs(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    """Merge sites (0,1), (2,3), ... into blocks ``(D_l, d*d, D_r)`` (a lone last site stays).

    Sampling a block of two sites at once costs the same matmul flops as two single
    sites but half the per-site kernel launches.
    """
    blocks = []
    for k in range(0, len(tensors) - 1, 2):
        a, b = tensors[k], tensors[k + 1]
        (dl, d, dm), dr = a.shape, b.shape[2]
        blocks.append((a.reshape(dl * d, dm) @ b.reshape(dm, d * dr)).view(dl, d * d, dr))
    if len(tensors) % 2:
        blocks.append(tensors[-1])
    return blocks


_RENORMALIZE_EVERY = 8


def zipper_sample(tensors: list[torch.Tensor], num: int, generator=None) -> torch.Tensor:
    """``num`` independent exact samples, LongTensor ``(num, n)``; centre must be at 0.

    Sites are drawn two at a time from p(x_k, x_k+1 | x_<k) = ||v A_k[x_k] A_k+1[x_k+1]||^2
    / ||v||^2. Each draw shrinks ||v||^2 by the probability of the drawn outcome, so v is
    renormalized every few blocks (an underflow would need a run of outcomes that are
    themselves drawn with probability below 1e-300). Every per-block result is written
    into buffers allocated once (about 20% faster than fresh tensors per block).
    """
    first = tensors[0]
    device, dtype = first.device, first.dtype
    d = first.shape[1]
    n = len(tensors)
    blocks = _site_pairs(tensors)
    uniform = torch.rand(len(blocks), num, 1, generator=generator, dtype=first.real.dtype,
                         device=device).unbind(0)
    rows = torch.arange(num, device=device)
    offsets = {m: rows * m for m in {block.shape[1] for block in blocks}}
    products = torch.empty(num * max(b.shape[1] * b.shape[2] for b in blocks), dtype=dtype,
                           device=device)
    weights = torch.empty(num * max(b.shape[1] for b in blocks), dtype=first.real.dtype,
                          device=device)
    vectors = [torch.empty(num * max(b.shape[2] for b in blocks), dtype=dtype, device=device)
               for _ in range(2)]
    outcomes = torch.empty(len(blocks), num, 1, dtype=torch.long, device=device)
    v = torch.ones(num, 1, dtype=dtype, device=device)
    for j, block in enumerate(blocks):
        dl, m, dr = block.shape
        w = torch.mm(v, block.view(dl, m * dr), out=products[:num * m * dr].view(num, m * dr))
        w = w.view(num * m, dr)
        p = torch.linalg.vector_norm(w, dim=1, out=weights[:num * m]).square_()
        cumulative = p.view(num, m).cumsum_(1)
        torch.searchsorted(cumulative, uniform[j] * cumulative[:, -1:], right=True,
                          out=outcomes[j])
        v = torch.index_select(w, 0, offsets[m] + outcomes[j].view(num),
                               out=vectors[j % 2][:num * dr].view(num, dr))
        if j % _RENORMALIZE_EVERY == _RENORMALIZE_EVERY - 1:
            v.div_(torch.linalg.vector_norm(v, dim=1, keepdim=True))
    outcomes = outcomes.view(len(blocks), num).T
    out = torch.empty(num, n, dtype=torch.long, device=device)
    pairs = n // 2
    out[:, 0:2 * pairs:2] = outcomes[:, :pairs] // d
    out[:, 1:2 * pairs:2] = outcomes[:, :pairs] % d
    if n % 2:
        out[:, -1] = outcomes[:, -1]
    return out


def _right_environments(tensors, x, known):
    """Per-sample right environments ``E[k]`` (B, D_k, D_k) of sites k..n-1.

    ``E[k]`` is None (the identity) right of the last known site. Each E is rescaled to
    unit trace: sampling only needs ratios.
    """
    n = len(tensors)
    envs: list[torch.Tensor | None] = [None] * (n + 1)
    known_sites = torch.nonzero(known.any(0)).flatten()
    if known_sites.numel() == 0:
        return envs
    rows = torch.arange(x.shape[0], device=x.device)
    env = None
    for k in range(int(known_sites[-1]), 0, -1):
        a = tensors[k]
        if env is None:
            per_value = contract("ixj,kxj->xik", a, a.conj())[None]
        else:
            per_value = contract("ixj,bjl,kxl->bxik", a, env, a.conj())
        summed = per_value.sum(1)
        chosen = per_value[rows if per_value.shape[0] > 1 else 0, x[:, k]]
        env = torch.where(known[:, k, None, None], chosen, summed.expand_as(chosen))
        trace = torch.diagonal(env, dim1=1, dim2=2).sum(-1).real
        env = env / trace.clamp_min(tiny(env.dtype))[:, None, None]
        envs[k] = env
    return envs


def conditional_sample(tensors, x, known, generator=None) -> torch.Tensor:
    """Sample the sites where ``known`` is False from p(rest | x[known]); centre at 0.

    ``x``: LongTensor ``(B, n)``; ``known``: bool ``(B, n)``. Raises ValueError when the
    known values of some row have probability zero under the model.
    """
    first = tensors[0]
    batch, n = x.shape
    device = first.device
    envs = _right_environments(tensors, x, known)
    uniform = torch.rand(n, batch, 1, generator=generator, dtype=first.real.dtype,
                         device=device)
    rows = torch.arange(batch, device=device)
    out = x.clone()
    v = torch.ones(batch, 1, dtype=first.dtype, device=device)
    impossible = torch.zeros(batch, dtype=torch.bool, device=device)
    for k, a in enumerate(tensors):
        dl, d, dr = a.shape
        w = (v @ a.reshape(dl, d * dr)).reshape(batch, d, dr)
        env = envs[k + 1]
        if env is None:
            p = _squared_norms(w)
        else:
            p = contract("bxi,bij,bxj->bx", w, env, w.conj()).real.clamp_min(0)
        xk = torch.where(known[:, k], x[:, k], draw_categorical(p, uniform[k]))
        out[:, k] = xk
        chosen = w[rows, xk]
        norm = torch.linalg.vector_norm(chosen, dim=1)
        impossible |= p[rows, xk] <= 0
        v = chosen / norm.clamp_min(tiny(norm.dtype))[:, None]
    if impossible.any():
        bad = torch.nonzero(impossible).flatten()[:5].tolist()
        raise ValueError(f"the known values of rows {bad} have probability zero under "
                         "the model; their conditional distribution is undefined")
    return out
